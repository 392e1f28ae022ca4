"""The chaos drill: the task app through a dependency outage, a slowdown and its recovery.

Two regions on a moto server on 127.0.0.1, several containers of each function per region (each
a process, `containers.ProcessContainer`) behind the region's local API Gateway (IAM
authorization, `gateway.LocalGateway`), and the tasks table as the failing dependency. Requests
arrive open loop (`schedule.chaos_schedule`): a steady rate over a timeline whose fault windows
take two thirds of it, whatever the answers are doing:

    before .. fail: every table call answers 500 .. slow: every table call outlasts the time the
    caller has (half of them applied first, only the reply late) .. after (recovered)

Throughout, 2 % of table and queue replies are lost after the call was applied. Each request is
a client of its own: it sends with an Idempotency-Key, retries 429/5xx answers with the same key
(waiting what Retry-After says), and loses 3 % of the API's replies itself (and retries those).
Worker containers play Lambda's SQS poller: records reported as failed come back after the
visibility timeout and, after maxReceiveCount receives, move to the DLQ.

Counting, per logical request, from the drill's own ledger and the table, before anything is
replayed; then the DLQ is replayed (tools.dlq_replay) and what that recovered is reported apart.
The same timeline then runs as a control pass whose breaker never trips, and the table calls made
inside the fault windows are compared like for like. Each key has a goal (`GOALS`); the drill
exits 1 when one is missed.
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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from tools.signed_call import SignedClient

from . import local_aws
from .containers import (
    ContainerPool,
    Observations,
    ProcessContainer,
    api_event,
    drill_process,
    poll_queue,
)
from .gateway import BASE_URL, DRILL_CREDENTIALS, LocalGateway
from .ledger import Ledger, Request, percentile_ms
from .output import Progress
from .schedule import MIN_FAULT_SHARE, Schedule, chaos_schedule, fault_share
from .verdicts import Goal, at_least, at_most, zero

#: What a client retries (with the same Idempotency-Key).
RETRYABLE_STATUS: Final = frozenset({429, 500, 502, 503, 504})
#: The fault windows of the timeline, in order.
FAULTS: Final = ("fail", "slow")
#: The breaker must keep at least this share of the control's table calls off the broken table.
BREAKER_MIN_CUT: Final = 0.5
#: What the drill adds to maxReceiveCount x visibility for a task's processing window.
PROCESSING_SLACK_S: Final = 4

KEYS: Final = (
    "tasks_submitted",
    "tasks_per_phase",
    "fault_share",
    "intended_rps",
    "achieved_rps",
    "send_lag_p99_ms",
    "tasks_accepted",
    "tasks_unaccepted",
    "accept_latency_p50_ms",
    "accept_latency_p99_ms",
    "tasks_done",
    "tasks_failed_visible",
    "tasks_stuck_pending",
    "tasks_lost",
    "tasks_duplicated",
    "duplicate_tasks",
    "duplicate_computations",
    "dlq_messages",
    "dlq_replayed",
    "tasks_done_after_replay",
    "tasks_unrecovered",
    "calls_during_faults",
    "calls_during_faults_control",
    "breaker_cut",
    "breaker_opened",
    "max_probes_per_half_open_window",
    "containers",
    "invocation_overruns",
    "seconds",
)

GOALS: Final[tuple[Goal, ...]] = (
    at_least(
        "fault_share",
        round(MIN_FAULT_SHARE, 3),
        "too few requests were first sent inside a fault window: the faults met no work",
    ),
    zero("tasks_unaccepted", "requests never accepted although the system recovered"),
    zero("tasks_lost", "requests acknowledged (202) whose task the table does not have"),
    zero("tasks_stuck_pending", "tasks the system gave up on that still read PENDING"),
    zero(
        "tasks_duplicated",
        "requests that made more than one task or were computed more than once",
    ),
    zero("tasks_unrecovered", "accepted tasks not SUCCEEDED after the DLQ was replayed"),
    at_least(
        "breaker_cut",
        BREAKER_MIN_CUT,
        "the breaker did not keep calls off the broken table (vs the control pass)",
    ),
    at_most(
        "max_probes_per_half_open_window",
        1,
        "more than one trial call per half-open window across the region's containers",
    ),
    # `invocation_overruns` is reported but not judged: with the deadline removed from the
    # handlers (every check told it has all the time in the world), the per-attempt bound and
    # the timeline's faults still kept every invocation inside its timeout, so no copy makes it
    # move here, and a goal that cannot be missed proves nothing.
)


@dataclass(frozen=True)
class Scenario:
    tasks: int
    #: Arrivals per second over the whole timeline (both regions together).
    rps: float = 40.0
    #: Each region has its own tables, queue, DLQ and containers; a request goes to one region
    #: (moto does not replicate global tables: the game day is where regions meet).
    regions: tuple[str, ...] = ("us-east-1", "eu-west-1")
    #: Containers per region, each a process of its own.
    api_containers: int = 3
    worker_containers: int = 2
    lost_reply_rate: float = 0.02
    #: In the slow window, the share of table calls applied before their reply is late.
    slow_after_apply_rate: float = 0.5
    client_lost_reply_rate: float = 0.03
    api_budget_s: float = 3.0
    worker_budget_s: float = 4.0
    visibility_s: int = 2
    max_receive_count: int = 3
    breaker_threshold: int = 5
    breaker_open_s: int = 1
    #: A client gives up (its request counts as unaccepted) after this long.
    client_patience_s: float = 120.0
    #: Longest a client waits on a Retry-After before trying again.
    max_retry_after_s: float = 5.0
    #: Run the control pass (no tripping breaker) for the like-for-like breaker comparison.
    control: bool = True
    seed: int = 7

    @property
    def schedule(self) -> Schedule:
        return chaos_schedule(self.tasks, self.rps, FAULTS)


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

    def probe_windows(self, regions: Sequence[str]) -> list[int]:
        """Trial calls after each opening of a region's table breaker, over its containers."""
        windows: list[int] = []
        for region in regions:
            for _, where, event in sorted(self.breaker_events):
                if where != region:
                    continue
                if event == "Opened":
                    windows.append(0)
                elif event == "ProbeStarted" and windows:
                    windows[-1] += 1
        return windows

    def calls_in_faults(self, schedule: Schedule) -> int:
        faults = schedule.fault_phases()
        return sum(
            1 for at, _ in self.table_calls if schedule.phase_at(at - self.started) in faults
        )


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

    schedule = scenario.schedule
    lost = DependencyFaults(lost_reply_rate=scenario.lost_reply_rate)
    by_phase = {
        "fail": DependencyFaults(error_rate=1.0),
        # Longer than any read timeout: the caller's timeout fires, after the write was
        # applied for some of them.
        "slow": DependencyFaults(
            latency_ms=600_000, slow_after_apply_rate=scenario.slow_after_apply_rate
        ),
    }

    class PhaseSource(FaultSource):
        def __init__(self) -> None:
            super().__init__({})

        def current(self) -> FaultConfig:
            phase = schedule.phase_at(time.monotonic() - started())
            table = by_phase.get(phase, lost)
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


def _retry_after_s(headers: Mapping[str, str]) -> float:
    try:
        return max(0.0, float(headers.get("retry-after", "0")))
    except ValueError:
        return 0.0


def _send_until_accepted(
    scenario: Scenario,
    request: Request,
    signer: SignedClient,
    transport: Any,
    rng: random.Random,
    rng_lock: threading.Lock,
    started: float,
) -> None:
    """One client: send, and retry with the same key until a 202 reaches it (or patience ends)."""
    attempt = 0
    while time.monotonic() - started - request.intended_s < scenario.client_patience_s:
        request.note_send(time.monotonic() - started)
        answer = signer.call(
            "POST",
            f"{BASE_URL}/tasks",
            request.body,
            {"Idempotency-Key": request.key},
            transport=transport,
        )
        attempt += 1
        text = answer.body.decode("utf-8", errors="replace")
        request.last_answer = f"{answer.status} {text[:200]}"
        if answer.status == 202:
            # Recorded as the API answered; the client sees it unless its reply is lost on the
            # way, and then it retries with the same key.
            request.task_ids.add(json.loads(text)["taskId"])
            with rng_lock:
                reply_lost = rng.random() < scenario.client_lost_reply_rate
            if not reply_lost:
                request.accepted_s = time.monotonic() - started
                return
        elif answer.status not in RETRYABLE_STATUS:
            return  # a client error or a bug: retrying would not help
        with rng_lock:
            jitter = 0.5 + rng.random() / 2
        backoff = min(1.0, 0.05 * 2**attempt) * jitter
        time.sleep(min(scenario.max_retry_after_s, max(backoff, _retry_after_s(answer.headers))))


def _run_clients(
    scenario: Scenario,
    api: dict[str, ContainerPool],
    ledger: Ledger,
    progress: Callable[[int], None],
) -> float:
    """Start each request at its intended time, whatever the earlier ones are doing; returns
    the start (monotonic) the requests' times count from."""
    rng, rng_lock = random.Random(scenario.seed), threading.Lock()
    gateways = {region: LocalGateway(region) for region in api}
    transports = {region: gateways[region].transport(pool.invoke) for region, pool in api.items()}
    # A client signs for its request's region, whose endpoint it calls (a regional endpoint:
    # the region is known, not learned).
    signers = {region: SignedClient(region=region, credentials=DRILL_CREDENTIALS) for region in api}
    done = [0]
    done_lock = threading.Lock()
    started = time.monotonic()

    def client(request: Request) -> None:
        try:
            _send_until_accepted(
                scenario,
                request,
                signers[request.region],
                transports[request.region],
                rng,
                rng_lock,
                started,
            )
        finally:
            with done_lock:
                done[0] += 1
                progress(done[0])

    threads: list[threading.Thread] = []
    for request in ledger.requests:
        wait = started + request.intended_s - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        thread = threading.Thread(target=client, args=(request,), daemon=True)
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()
    return started


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
        **local_aws.function_environment(url, resources),
        "BREAKER_FAILURE_THRESHOLD": str(threshold),
        "BREAKER_OPEN_SECONDS": str(scenario.breaker_open_s),
        "BREAKER_PROBE_LEASE_SECONDS": "3",
        "MAX_RECEIVE_COUNT": str(scenario.max_receive_count),
        "DEADLINE_MARGIN_MS": "300",
        # As the components derive it (maxReceiveCount x visibility + slack); the drill's queue
        # never backs up for long, so its slack is short.
        "TASK_PROCESSING_WINDOW_SECONDS": str(processing_window_s(scenario)),
    }


def processing_window_s(scenario: Scenario) -> int:
    return scenario.max_receive_count * scenario.visibility_s + PROCESSING_SLACK_S


def _items(resources: dict[str, local_aws.Resources]) -> list[dict[str, Any]]:
    return [item for regional in resources.values() for item in local_aws.task_items(regional)]


def _settled_items(
    resources: dict[str, local_aws.Resources], scenario: Scenario
) -> list[dict[str, Any]]:
    """The tables' items once no PENDING task is inside its processing window any more: until
    then a task given up on may still rightly read PENDING, and counting it as stuck would be
    wrong (waits at most one window)."""
    give_up_at = time.time() + processing_window_s(scenario)
    while True:
        items = _items(resources)
        open_until = max(
            (
                int(item["processBy"]["N"])
                for item in items
                if item["status"]["S"] == "PENDING" and "processBy" in item
            ),
            default=0,
        )
        if open_until < time.time() or time.time() >= give_up_at:
            return items
        time.sleep(min(open_until + 0.5, give_up_at) - time.time())


def _client_view(item: Mapping[str, Any]) -> str:
    """What a client polling the task reads now."""
    from task_model import visible_status

    return visible_status(item, time.time())


def run_pass(url: str, scenario: Scenario, *, breaker: bool, label: str) -> dict[str, Any]:
    """One pass of the scenario on a fresh set of resources in every region."""
    from tools import dlq_replay

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
    api: dict[str, ContainerPool] = {}
    workers: dict[str, list[ProcessContainer]] = {}
    every: list[ProcessContainer] = []
    seed = scenario.seed
    for region in regions:
        environment = _environment(url, scenario, resources[region], threshold)
        made: dict[str, list[ProcessContainer]] = {}
        for kind, module, count, budget in (
            ("api", "task_api", scenario.api_containers, scenario.api_budget_s),
            ("worker", "task_worker", scenario.worker_containers, scenario.worker_budget_s),
        ):
            made[kind] = []
            for n in range(count):
                seed += 1
                made[kind].append(
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
        api[region], workers[region] = ContainerPool(made["api"]), made["worker"]
        every += made["api"] + made["worker"]
    for pool in api.values():
        # Wait until the processes are up, so the phases start together for all of them.
        for container in pool.containers:
            container.invoke(api_event("GET", "/warm-up", None, {}))
    schedule = scenario.schedule
    ledger = Ledger.from_schedule(schedule, regions, label)
    stop = threading.Event()
    pollers = [
        thread
        for region in regions
        for thread in poll_queue(resources[region], workers[region], stop)
    ]
    bar = Progress(f"chaos {label}", scenario.tasks)
    observed.started = time.monotonic()
    started.value = observed.started
    ledger.started = _run_clients(scenario, api, ledger, bar.update)
    bar.close()
    for region in regions:
        _wait_until_drained(resources[region], 60)
    before_replay = ledger.count(
        _settled_items(resources, scenario), observed.completions, _client_view
    )

    dlq_messages = dlq_replayed = 0
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
    after_replay = ledger.count(_items(resources), observed.completions, _client_view)
    stop.set()
    for thread in pollers:
        thread.join(timeout=10)
    for container in every:
        container.close()

    per_phase = ledger.per_phase(schedule)
    probe_windows = observed.probe_windows(regions)
    return {
        "tasks_submitted": len(ledger.requests),
        "tasks_per_phase": per_phase,
        "fault_share": round(fault_share(per_phase, schedule), 3),
        "intended_rps": scenario.rps,
        "achieved_rps": ledger.achieved_rps(schedule),
        "send_lag_p99_ms": percentile_ms(ledger.send_lags(), 0.99),
        "tasks_accepted": before_replay.accepted,
        "tasks_unaccepted": len(ledger.requests) - before_replay.accepted,
        "accept_latency_p50_ms": percentile_ms(ledger.accept_latencies(), 0.50),
        "accept_latency_p99_ms": percentile_ms(ledger.accept_latencies(), 0.99),
        "tasks_done": before_replay.done,
        "tasks_failed_visible": before_replay.failed,
        "tasks_stuck_pending": before_replay.pending,
        "tasks_lost": before_replay.lost,
        "tasks_duplicated": after_replay.duplicated,
        "duplicate_tasks": after_replay.duplicate_tasks,
        "duplicate_computations": after_replay.duplicate_computations,
        "dlq_messages": dlq_messages,
        "dlq_replayed": dlq_replayed,
        "tasks_done_after_replay": after_replay.done,
        "tasks_unrecovered": after_replay.unfinished,
        "calls_in_faults": observed.calls_in_faults(schedule),
        "breaker_opened": len(probe_windows),
        "max_probes_per_half_open_window": max(probe_windows, default=0),
        "containers": len(every),
        "invocation_overruns": sum(c.overruns for c in every),
        #: The last answer of each request never accepted (empty when all were).
        "unaccepted_answers": dict(
            Counter(r.last_answer for r in ledger.requests if r.accepted_s is None)
        ),
    }


def breaker_cut(calls: int, control_calls: int) -> float:
    """The share of the control pass's table calls in the fault windows the breaker kept off."""
    return round(1 - calls / control_calls, 3) if control_calls else 0.0


def run(scenario: Scenario) -> dict[str, Any]:
    """The breaker pass and (unless turned off) the control pass on one local moto server."""
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    started = time.monotonic()
    # The handlers print their EMF metrics to stdout, as in Lambda; the drill's own output is
    # the table at the end.
    with (
        drill_process(),
        local_aws.moto_server() as url,
        contextlib.redirect_stdout(io.StringIO()),
    ):
        drilled = run_pass(url, scenario, breaker=True, label="breaker")
        control = (
            run_pass(url, scenario, breaker=False, label="control") if scenario.control else None
        )
    if control is not None and control["breaker_opened"]:
        raise RuntimeError("the control pass's breaker opened: the comparison would be unfair")
    result = dict(drilled)
    result["calls_during_faults"] = drilled["calls_in_faults"]
    if control is None:
        result["calls_during_faults_control"] = None
        result["breaker_cut"] = None
    else:
        result["calls_during_faults_control"] = control["calls_in_faults"]
        result["breaker_cut"] = breaker_cut(drilled["calls_in_faults"], control["calls_in_faults"])
        result["invocation_overruns"] += control["invocation_overruns"]
    result["seconds"] = round(time.monotonic() - started, 1)
    extra = (
        {"unaccepted_answers": result["unaccepted_answers"]} if result["tasks_unaccepted"] else {}
    )
    return {**{key: result[key] for key in KEYS}, **extra}


def goals(scenario: Scenario) -> tuple[Goal, ...]:
    """The goals a run of `scenario` is judged on (the breaker's needs the control pass)."""
    return tuple(g for g in GOALS if scenario.control or g.key != "breaker_cut")
