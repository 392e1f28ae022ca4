"""The chaos drill: the task app through a dependency outage, a slowdown and its recovery.

Two regions on a moto server on 127.0.0.1, several containers of each function per region (each
a process, `containers.ProcessContainer`) behind the region's local API Gateway (IAM
authorization, `gateway.LocalGateway`), clients that sign their calls for their region and
retry, and the tasks table as the failing dependency:

    0 s .. warm-up .. fail: every table call answers 500 .. slow: every table call takes longer
    than the time left (the client's read timeout fires) .. recovered

Throughout, 2 % of table and queue replies are lost after the call was applied. Clients submit
with an Idempotency-Key, retry 503s and timeouts with the same key, and lose 3 % of the API's
replies themselves (and retry those too). Worker containers play Lambda's SQS poller: records
reported as failed come back after the visibility timeout and, after maxReceiveCount receives,
move to the DLQ; once the clients are done and the queue is drained, the DLQ is replayed
(tools.dlq_replay, FAILED tasks moved back to PENDING) and worked off.

The same scenario then runs as a control pass whose breaker never trips (a failure threshold
no drill reaches), to compare how many calls reached the broken table. Every figure is counted
from what happened: calls seen by botocore hooks, breaker events, the table at the end.
"""

from __future__ import annotations

import contextlib
import io
import json
import multiprocessing
import random
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from task_model import parse_task_id
from tools.signed_call import SignedClient

from . import local_aws
from .containers import (
    Observations,
    ProcessContainer,
    api_event,
    drill_process,
    poll_queue,
)
from .gateway import BASE_URL, DRILL_CREDENTIALS, LocalGateway
from .output import Progress

#: What a client retries (with the same Idempotency-Key).
RETRYABLE_STATUS = frozenset({429, 502, 503, 504})

KEYS = (
    "tasks_submitted",
    "tasks_done",
    "tasks_failed_visible",
    "tasks_lost",
    "tasks_stuck_pending",
    "tasks_processed_twice",
    "duplicate_tasks_from_retries",
    "containers",
    "invocation_overruns",
    "downstream_calls_while_open",
    "downstream_calls_control",
    "max_probes_per_half_open_window",
    "dlq_messages",
    "dlq_replayed",
    "seconds",
)


@dataclass(frozen=True)
class Scenario:
    tasks: int
    #: Each region has its own tables, queue, DLQ and containers; clients stay in their region
    #: (moto does not replicate global tables, so a cross-region retry would not find a task).
    regions: tuple[str, ...] = ("us-east-1", "eu-west-1")
    #: Containers per region, each a process of its own.
    api_containers: int = 3
    worker_containers: int = 2
    clients: int = 16
    warmup_s: float = 1.0
    fail_s: float = 3.0
    slow_s: float = 3.0
    lost_reply_rate: float = 0.02
    client_lost_reply_rate: float = 0.03
    api_budget_s: float = 3.0
    worker_budget_s: float = 4.0
    visibility_s: int = 2
    max_receive_count: int = 3
    breaker_threshold: int = 5
    breaker_open_s: int = 1
    #: A client gives up (and its task counts as lost) after this long.
    client_patience_s: float = 120.0
    seed: int = 7

    @property
    def fault_end_s(self) -> float:
        return self.warmup_s + self.fail_s + self.slow_s

    def phase(self, elapsed: float) -> str:
        if elapsed < self.warmup_s or elapsed >= self.fault_end_s:
            return "ok"
        return "fail" if elapsed < self.warmup_s + self.fail_s else "slow"


@dataclass
class Observed:
    """What the botocore hooks and the breaker events saw, as a timeline (monotonic seconds,
    one clock for every process on the machine), merged from every container."""

    started: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)
    table_calls: list[tuple[float, str]] = field(default_factory=list)
    breaker_events: list[tuple[float, str, str]] = field(default_factory=list)
    completions: Counter[str] = field(default_factory=Counter)

    def collect(self, observations: Observations) -> None:
        calls, events, completions = observations
        with self.lock:
            self.table_calls.extend(calls)
            self.breaker_events.extend(events)
            self.completions.update(completions)

    def breaker_timeline(self, region: str) -> tuple[list[tuple[float, float]], list[int]]:
        """When the region's table breaker was not closed, and the trials after each opening."""
        intervals: list[tuple[float, float]] = []
        probes: list[int] = []
        opened_at: float | None = None
        for at, where, event in sorted(self.breaker_events):
            if where != region:
                continue
            if event == "Opened":
                if opened_at is None:
                    opened_at = at
                probes.append(0)  # a new window: the trial after this opening
            elif event == "ProbeStarted" and probes:
                probes[-1] += 1
            elif event == "Closed" and opened_at is not None:
                intervals.append((opened_at, at))
                opened_at = None
        if opened_at is not None:
            intervals.append((opened_at, float("inf")))
        return intervals, probes

    def calls_while_open(self, regions: Sequence[str]) -> int:
        total = 0
        for region in regions:
            intervals, _ = self.breaker_timeline(region)
            total += sum(
                1
                for at, where in self.table_calls
                if where == region and any(a <= at < b for a, b in intervals)
            )
        return total

    def calls_in_fault(self, scenario: Scenario) -> int:
        return sum(1 for at, _ in self.table_calls if scenario.phase(at - self.started) != "ok")

    def probe_windows(self, regions: Sequence[str]) -> list[int]:
        return [count for region in regions for count in self.breaker_timeline(region)[1]]


class Recorder:
    """Collects one container's observations until the drill takes them."""

    def __init__(self, region: str) -> None:
        self.region = region
        self.lock = threading.Lock()
        self.calls: list[tuple[float, str]] = []
        self.events: list[tuple[float, str, str]] = []
        self.completions: list[str] = []

    def take(self) -> Observations:
        with self.lock:
            taken = (self.calls, self.events, self.completions)
            self.calls, self.events, self.completions = [], [], []
        return taken


def install_hooks(
    scenario: Scenario, started: Callable[[], float], recorder: Recorder, seed: int
) -> None:
    """Faults and counters on every client the handlers of this process build (botocore event
    hooks), and the breaker's events. `started()` is the pass's start (monotonic)."""
    import aws_clients
    import circuit_breaker
    import downstream
    from fault_injection import DependencyFaults, FaultConfig, FaultSource, Injector

    class PhaseSource(FaultSource):
        def __init__(self) -> None:
            super().__init__({})

        def current(self) -> FaultConfig:
            lost = DependencyFaults(lost_reply_rate=scenario.lost_reply_rate)
            table = {
                "ok": lost,
                "fail": DependencyFaults(error_rate=1.0),
                # Longer than any read timeout: the caller's timeout fires.
                "slow": DependencyFaults(latency_ms=600_000),
            }[scenario.phase(time.monotonic() - started())]
            return FaultConfig(enabled=True, dependencies={"table": table, "queue": lost})

    environ = {"BREAKER_TABLE_NAME": "tasks-breakers"}
    injector = Injector(PhaseSource(), environ, rng=random.Random(seed).random)

    def count(request: Any, **kwargs: Any) -> None:
        if json.loads(request.body or b"{}").get("TableName") == "tasks":
            with recorder.lock:
                recorder.calls.append((time.monotonic(), recorder.region))

    def completed(parsed: dict[str, Any], **kwargs: Any) -> None:
        attributes = parsed.get("Attributes") or {}
        if (attributes.get("status") or {}).get("S") == "SUCCEEDED":
            with recorder.lock:
                recorder.completions.append(attributes["taskId"]["S"])

    def hooks(client: Any, service: str) -> None:
        if service == "dynamodb":
            # Registered first, so a call counts even when the injector fails it.
            client.meta.events.register_first("before-send.dynamodb", count)
            client.meta.events.register("after-call.dynamodb.UpdateItem", completed)
        injector.install(client, service)

    def on_breaker(event: circuit_breaker.BreakerEvent, name: str) -> None:
        if name == "table":
            with recorder.lock:
                recorder.events.append((time.monotonic(), recorder.region, event.value))

    aws_clients.reset_clients()
    aws_clients.add_client_hook(hooks)
    downstream.reset()
    downstream.add_event_sink(on_breaker)


def _container_setup(scenario: Scenario, started: Any, seed: int, region: str) -> Recorder:
    """Run in each container's process: its hooks, reporting to its own recorder."""
    recorder = Recorder(region)
    install_hooks(scenario, lambda: started.value, recorder, seed)
    return recorder


@dataclass
class ClientRecord:
    key: str
    region: str
    task_ids: set[str] = field(default_factory=set)
    accepted: bool = False
    last_answer: str = ""


def _run_clients(
    scenario: Scenario,
    api: dict[str, list[ProcessContainer]],
    rng: random.Random,
    records: list[ClientRecord],
    progress: Callable[[int], None],
) -> None:
    """Submit every task at a steady pace over the warm-up and fault windows, retrying with
    the same key until accepted (or out of patience)."""
    pace_s = (scenario.fault_end_s + 1.0) / max(len(records), 1)
    # Each region's API behind its gateway; a client signs for its task's region, whose
    # endpoint it calls (a regional endpoint: the region is known, not learned).
    gateways = {region: LocalGateway(region) for region in api}
    signers = {region: SignedClient(region=region, credentials=DRILL_CREDENTIALS) for region in api}
    start = time.monotonic()
    lock = threading.Lock()
    pending = list(enumerate(records))
    accepted = [0]

    def client() -> None:
        while True:
            with lock:
                if not pending:
                    return
                index, record = pending.pop(0)
            wait = start + index * pace_s - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            body = json.dumps({"taskType": "sum", "parameters": {"numbers": [index, 1]}})
            attempt = 0
            regional = api[record.region]
            while time.monotonic() - start < scenario.client_patience_s:
                container = regional[(index + attempt) % len(regional)]
                # A function error is API Gateway's 502.
                answer = signers[record.region].call(
                    "POST",
                    f"{BASE_URL}/tasks",
                    body,
                    {"Idempotency-Key": record.key},
                    transport=gateways[record.region].transport(container.invoke),
                )
                attempt += 1
                text = answer.body.decode("utf-8", errors="replace")
                record.last_answer = f"{answer.status} {text[:300]}"
                if answer.status == 202:
                    # Recorded as the API answered; the client sees it unless its reply is
                    # lost on the way, and then retries with the same key.
                    record.task_ids.add(json.loads(text)["taskId"])
                    with lock:
                        reply_lost = rng.random() < scenario.client_lost_reply_rate
                    if not reply_lost:
                        record.accepted = True
                        break
                elif answer.status not in RETRYABLE_STATUS:
                    break  # a client error or a bug: retrying would not help
                time.sleep(min(1.0, 0.05 * 2**attempt) * (0.5 + rng.random() / 2))
            with lock:
                accepted[0] += 1
                progress(accepted[0])

    threads = [threading.Thread(target=client) for _ in range(scenario.clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _wait_until_drained(resources: local_aws.Resources, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    quiet = 0
    while time.monotonic() < deadline:
        quiet = quiet + 1 if local_aws.queue_depth(resources.sqs, resources.queue_url) == 0 else 0
        if quiet >= 3:
            return
        time.sleep(0.5)


def _environment(
    url: str, scenario: Scenario, resources: local_aws.Resources, threshold: int
) -> dict[str, str]:
    """What a region's functions get (the components set the same variables)."""
    return {
        "AWS_ENDPOINT_URL": url,
        "AWS_REGION": resources.region,
        "AWS_DEFAULT_REGION": resources.region,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "TABLE_NAME": resources.table_name,
        "QUEUE_URL": resources.queue_url,
        "BREAKER_TABLE_NAME": resources.breaker_table_name,
        "BREAKER_FAILURE_THRESHOLD": str(threshold),
        "BREAKER_OPEN_SECONDS": str(scenario.breaker_open_s),
        "BREAKER_PROBE_LEASE_SECONDS": "3",
        "MAX_RECEIVE_COUNT": str(scenario.max_receive_count),
        "DEADLINE_MARGIN_MS": "300",
    }


def run_pass(url: str, scenario: Scenario, *, breaker: bool, label: str) -> dict[str, Any]:
    """One pass of the scenario on a fresh set of resources in every region."""
    from tools import dlq_replay

    rng = random.Random(scenario.seed)
    local_aws.reset(url)
    regions = scenario.regions
    resources = {
        region: local_aws.create(
            url,
            region,
            max_receive_count=scenario.max_receive_count,
            visibility_s=scenario.visibility_s,
        )
        for region in regions
    }
    # The control pass keeps the breaker code path but with the largest threshold the
    # setting allows; run() checks that it never opened.
    threshold = scenario.breaker_threshold if breaker else 1000
    observed = Observed()
    started = multiprocessing.get_context("spawn").Value("d", 0.0)
    api: dict[str, list[ProcessContainer]] = {}
    workers: dict[str, list[ProcessContainer]] = {}
    seed = scenario.seed
    for region in regions:
        environment = _environment(url, scenario, resources[region], threshold)
        for kind, count, budget, into in (
            ("api", scenario.api_containers, scenario.api_budget_s, api),
            ("worker", scenario.worker_containers, scenario.worker_budget_s, workers),
        ):
            module = "task_api" if kind == "api" else "task_worker"
            into[region] = []
            for n in range(count):
                seed += 1
                into[region].append(
                    ProcessContainer(
                        f"{label}-{region}-{kind}-{n}",
                        module,
                        budget,
                        environment,
                        _container_setup,
                        (scenario, started, seed, region),
                        observed.collect,
                    )
                )
    every = [c for group in (api, workers) for containers in group.values() for c in containers]
    for container in [c for region in regions for c in api[region]]:
        # Wait until the processes are up, so the phases start together for all of them.
        container.invoke(api_event("GET", "/warm-up", None, {}))
    observed.started = time.monotonic()
    started.value = observed.started
    stop = threading.Event()
    pollers = [
        thread
        for region in regions
        for thread in poll_queue(resources[region], workers[region], stop)
    ]
    records = [
        ClientRecord(f"{label}-{n}", regions[n % len(regions)]) for n in range(scenario.tasks)
    ]
    bar = Progress(f"chaos {label}", scenario.tasks)
    _run_clients(scenario, api, rng, records, bar.update)
    bar.close()
    dlq_messages = dlq_replayed = 0
    for region in regions:
        _wait_until_drained(resources[region], 60)
    for region in regions:
        regional = resources[region]
        dlq_messages += local_aws.queue_depth(regional.sqs, regional.dlq_url)
        dlq_replayed += dlq_replay.replay(
            regional.sqs,
            regional.sqs,
            dlq_replay.Options(
                dlq_url=regional.dlq_url, to_url=regional.queue_url, wait_s=0, tasks_table="tasks"
            ),
            dynamodb=regional.dynamodb,
        ).sent
    for region in regions:
        _wait_until_drained(resources[region], 60)
    stop.set()
    for thread in pollers:
        thread.join(timeout=10)
    for container in every:
        container.close()

    found: dict[str, str] = {}
    for region in regions:
        found.update(local_aws.statuses(resources[region]))
    # The table and the queue know a task by its key, the last part of the id a client got.
    keys = {record.key: {parse_task_id(t).key for t in record.task_ids} for record in records}
    expected_keys = {key for task_keys in keys.values() for key in task_keys}
    by_status = Counter(found.get(key, "MISSING") for key in expected_keys)
    probe_windows = observed.probe_windows(regions)
    done = by_status["SUCCEEDED"]
    failed = by_status["FAILED"] + by_status["ENQUEUE_FAILED"]
    pending = by_status["PENDING"]
    return {
        "tasks_submitted": len(records),
        "tasks_done": done,
        "tasks_failed_visible": failed,
        "tasks_lost": len(records) - done - failed - pending,
        "tasks_stuck_pending": pending,
        "tasks_processed_twice": sum(1 for n in observed.completions.values() if n > 1),
        "duplicate_tasks_from_retries": sum(1 for task_keys in keys.values() if len(task_keys) > 1),
        "containers": len(every),
        "invocation_overruns": sum(c.overruns for c in every),
        "table_calls_in_fault": observed.calls_in_fault(scenario),
        "table_calls_while_open": observed.calls_while_open(regions),
        "max_probes_per_half_open_window": max(probe_windows, default=0),
        "breaker_opened": len(probe_windows),
        #: The last answer of each client that gave up, by answer (empty when all accepted).
        "unaccepted_answers": Counter(r.last_answer for r in records if not r.accepted),
        "dlq_messages": dlq_messages,
        "dlq_replayed": dlq_replayed,
    }


def run(tasks: int, scenario: Scenario | None = None) -> dict[str, Any]:
    """Both passes on one local moto server; the drill's keys."""
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    scenario = scenario or Scenario(tasks=tasks)
    started = time.monotonic()
    # The handlers print their EMF metrics to stdout, as in Lambda; the drill's own output is
    # the table at the end.
    with (
        drill_process(),
        local_aws.moto_server() as url,
        contextlib.redirect_stdout(io.StringIO()),
    ):
        drilled = run_pass(url, scenario, breaker=True, label="breaker")
        control = run_pass(url, scenario, breaker=False, label="control")
    if control["breaker_opened"]:
        raise RuntimeError("the control pass's breaker opened: the comparison would be unfair")
    result = {key: drilled[key] for key in KEYS if key in drilled}
    result["downstream_calls_while_open"] = drilled["table_calls_while_open"]
    result["downstream_calls_control"] = control["table_calls_in_fault"]
    result["invocation_overruns"] = drilled["invocation_overruns"] + control["invocation_overruns"]
    result["containers"] = drilled["containers"]
    result["seconds"] = round(time.monotonic() - started, 1)
    return {key: result[key] for key in KEYS}
