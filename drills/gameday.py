"""The game day: take a region away, on 127.0.0.1, and measure that the service carries on.

Every region of the stack gets its own tables, queue and containers on one moto server (as in
the chaos drill), its own local API Gateway (IAM authorization, and a token bucket per method
with the stack's own stage throttling), and the regions meet through two emulators:

- `dns`: Route53 latency records with health checks, with the stack's own recorded settings
  (health path, interval, failure threshold, record type and TTL);
- `replication`: the global table between the regions' tasks tables, eventual (MREC, last
  writer wins) or strong (MRSC: a write is in every region before it returns).

Clients behave like real ones: each resolves the name through the emulated DNS and caches the
answer for its TTL, signs for the region it calls, keeps its Idempotency-Key across retries and
regions, honours Retry-After, and polls its task until it is done. Requests arrive open loop.
Faults are set the way an operator sets them in the stack: the fault-injection parameter (SSM)
of the region, read by the handlers themselves (`fault_injection`), except the black hole, which
is the network's: the region's gateway never answers.

Each scenario is a timeline: `before` (healthy), `fault`, `after` (recovered). Time is compressed
(`--compression`, 10 by default: a 10 s health-check interval takes 1 s), and every figure is
reported in real-world seconds.
"""

from __future__ import annotations

import contextlib
import io
import json
import random
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol

import boto3

from tools.signed_call import HttpAnswer, SignedClient, Transport

from . import local_aws
from .containers import ContainerPool, Observations, ProcessContainer, drill_process, poll_queue
from .dns import CachedName, Clock, HealthChecks, Resolver, StackSettings, read_stack_settings
from .gateway import BASE_URL, DRILL_CREDENTIALS, Backend, Denial, LocalGateway
from .ledger import Ledger, Request, request_index
from .load import TokenBucket
from .output import Progress
from .replication import (
    KEY,
    WRITE_TIME,
    Replicator,
    StrongWrites,
    create_lease_table,
    enable_streams,
)
from .verdicts import Goal, zero

ROOT: Final = Path(__file__).resolve().parents[1]
CONSISTENCY: Final = ("eventual", "strong")
#: The fault-injection parameter every region's handlers read (FAULT_INJECTION_PARAMETER).
FAULT_PARAMETER: Final[str] = "/gameday/faults"
NO_FAULT: Final[str] = json.dumps({"enabled": False})
SCENARIOS: Final[tuple[str, ...]] = (
    "region-api-down",
    "fail-back",
    "health-flood",
    "replication-stalled",
    "region-black-hole",
    "region-dynamodb-errors",
)
#: A region's failover must take at most this many times the stack's nominal failover time.
RTO_FACTOR: Final[float] = 1.5
RETRYABLE_STATUS: Final = frozenset({429, 500, 502, 503, 504})
#: The scenarios whose fault is the handlers' own fault injection (the region's SSM parameter):
#: the only ones a deployed stack can be given (`live.py`); fail-back ends the same fault.
SSM_FAULTS: Final[Mapping[str, Mapping[str, Any]]] = {
    "region-api-down": {"api": {"statusCode": 503, "rate": 1.0}},
    "fail-back": {"api": {"statusCode": 503, "rate": 1.0}},
    "region-dynamodb-errors": {"dependencies": {"table": {"errorRate": 1.0}}},
}
DONE_STATUSES: Final = frozenset({"SUCCEEDED", "FAILED", "ENQUEUE_FAILED"})

KEYS: Final = (
    "name",
    "fault_region",
    "tasks_submitted",
    "tasks_accepted",
    "tasks_lost",
    "tasks_stuck_pending",
    "tasks_done",
    "duplicate_tasks_cross_region",
    "replication_conflicts",
    "replicas_diverged",
    "false_failovers",
    "rto_seconds",
    "failback_seconds",
    "nominal_failover_seconds",
    "failed_calls",
    "calls_by_region",
    "flood_requests",
    "flood_throttled",
    "health_observations",
    "health_failures",
    "seconds",
)


@dataclass(frozen=True)
class Options:
    #: Requests per scenario, arriving at a steady rate over its whole timeline.
    tasks: int = 40
    consistency: str = "eventual"
    scenarios: tuple[str, ...] = SCENARIOS
    #: How many times faster than real time the drill runs.
    compression: float = 10.0
    project: Path = ROOT
    stack: str = "prod"
    #: Checkers per checker region: Route53 does not document it.
    checkers_per_region: int = 1
    #: An alias record to an API Gateway domain: its TTL is the target's, not documented.
    alias_ttl_s: float = 60.0
    #: Global tables replicate "typically within a second or less"; no SLA.
    replication_lag_s: float = 1.0
    #: The handlers' REPLICATION_GRACE_SECONDS (the components' default).
    replication_grace_s: float = 60.0
    #: Timeline, in real seconds; None: from the stack's nominal failover time N: `before`
    #: N/2; `fault` 2N, so a failover slower than the 1.5 N goal shows; `after` N/2, and 2N
    #: for fail-back, so a region that takes longer than 1.5 N to take its clients back shows.
    before_s: float | None = None
    fault_s: float | None = None
    after_s: float | None = None
    #: How long after the timeline a client keeps polling for its task (real seconds).
    drain_s: float = 60.0
    #: A client gives up on a call after this long (real seconds); only a black hole takes it.
    client_timeout_s: float = 10.0
    #: Clients poll their task this often (real seconds).
    poll_s: float = 5.0
    #: Share of 202 replies a client loses (it retries with the same key).
    client_lost_reply_rate: float = 0.03
    #: The flood: this many times the public health route's per-method rate ...
    flood_factor: float = 10.0
    #: ... with that route's bucket and the flood both scaled by this (the ratio is what is
    #: tested; the stack's 100 rps x 10 compressed would be 10,000 requests a second here).
    flood_scale: float = 0.01
    api_containers: int = 2
    worker_containers: int = 1
    visibility_s: int = 2
    max_receive_count: int = 30
    seed: int = 5

    def __post_init__(self) -> None:
        if self.consistency not in CONSISTENCY:
            raise ValueError(
                f"--consistency: expected one of {', '.join(CONSISTENCY)}, got {self.consistency!r}"
            )
        unknown = [name for name in self.scenarios if name not in SCENARIOS]
        if unknown:
            raise ValueError(
                f"--scenario: unknown {', '.join(unknown)}; known: {', '.join(SCENARIOS)}"
            )
        if self.tasks < 1 or self.compression <= 0:
            raise ValueError("--tasks and --compression must be greater than 0")

    @property
    def clock(self) -> Clock:
        return Clock(self.compression)


def _within_rto(scenario: str, key: str, why: str) -> Goal:
    """`<scenario>.<key>` is known (None: never happened) and at most RTO_FACTOR x the
    scenario's nominal failover time."""
    judged, nominal = f"{scenario}.{key}", f"{scenario}.nominal_failover_seconds"

    def test(result: Mapping[str, Any]) -> bool:
        value = result[judged]
        return value is not None and bool(value <= RTO_FACTOR * result[nominal])

    return Goal(judged, f"<= {RTO_FACTOR:g} x nominal_failover_seconds", test, why)


def goals(options: Options) -> tuple[Goal, ...]:
    """Per scenario: its keys are `<scenario>.<key>` in the flat result the verdicts read."""
    judged: list[Goal] = []
    for name in options.scenarios:
        judged += [
            zero(f"{name}.tasks_lost", "accepted tasks that no replica holds"),
            zero(f"{name}.tasks_stuck_pending", "accepted tasks still PENDING once drained"),
            zero(f"{name}.replicas_diverged", "replicas that disagree once replication drained"),
            _within_rto(
                name,
                "rto_seconds",
                "clients were not all served again within 1.5 x the nominal failover time",
            ),
        ]
        if name == "fail-back":
            judged.append(
                _within_rto(
                    name,
                    "failback_seconds",
                    "the recovered region did not take its clients back in time",
                )
            )
        if name == "health-flood":
            judged.append(
                zero(f"{name}.false_failovers", "a healthy region left DNS under a flood")
            )
        if options.consistency == "strong":
            judged.append(
                zero(
                    f"{name}.duplicate_tasks_cross_region",
                    "a request made or computed a task in two regions despite strong writes",
                )
            )
    return tuple(judged)


# --- Containers ------------------------------------------------------------------------------


class _Recorder:
    """One container's observations: SUCCEEDED writes (computations) and strong-mode
    conflicts, taken by the drill with each answer (`containers.Observations`)."""

    def __init__(self, region: str) -> None:
        self.region = region
        self.lock = threading.Lock()
        self.conflicts: list[tuple[float, str]] = []
        self.completions: list[str] = []

    def take(self) -> Observations:
        with self.lock:
            taken: Observations = (self.conflicts, [], self.completions)
            self.conflicts, self.completions = [], []
        return taken


def _container_setup(url: str, region: str, regions: tuple[str, ...], strong: bool) -> _Recorder:
    """Run in each container's process before its handler module is loaded."""
    import aws_clients

    recorder = _Recorder(region)

    def completed(parsed: dict[str, Any], **kwargs: Any) -> None:
        attributes = parsed.get("Attributes") or {}
        if (attributes.get("status") or {}).get("S") == "SUCCEEDED":
            with recorder.lock:
                recorder.completions.append(f"{attributes[KEY]['S']}@{region}")

    def conflict() -> None:
        with recorder.lock:
            recorder.conflicts.append((time.monotonic(), region))

    writes = StrongWrites(url, region, regions, conflict) if strong else None

    def hooks(client: Any, service: str) -> None:
        if service == "dynamodb":
            client.meta.events.register("after-call.dynamodb.UpdateItem", completed)
        if writes is not None:
            writes.install(client, service)

    aws_clients.reset_clients()
    aws_clients.add_client_hook(hooks)
    return recorder


@dataclass
class Observed:
    lock: threading.Lock = field(default_factory=threading.Lock)
    conflicts: int = 0
    #: task key -> regions that computed it.
    computed_in: dict[str, set[str]] = field(default_factory=dict)

    def collect(self, observations: Observations) -> None:
        conflicts, _, completions = observations
        with self.lock:
            self.conflicts += len(conflicts)
            for entry in completions:
                key, _, region = entry.rpartition("@")
                self.computed_in.setdefault(key, set()).add(region)

    def reset(self) -> None:
        with self.lock:
            self.conflicts = 0
            self.computed_in = {}


def _environment(
    url: str, region: str, options: Options, resources: local_aws.Resources
) -> dict[str, str]:
    return {
        **local_aws.function_environment(url, resources),
        "BREAKER_OPEN_SECONDS": "1",
        "BREAKER_PROBE_LEASE_SECONDS": "3",
        "MAX_RECEIVE_COUNT": str(options.max_receive_count),
        "DEADLINE_MARGIN_MS": "300",
        "REPLICATION_GRACE_SECONDS": str(
            max(1, round(options.clock.wall(options.replication_grace_s)))
        ),
        # The operator's fault switch, as the stack wires it when fault injection is allowed:
        # read at most every 0.1 s here, so a fault starts when the drill sets it.
        "FAULT_INJECTION_ALLOWED": "true",
        "FAULT_INJECTION_PARAMETER": FAULT_PARAMETER,
        "FAULT_INJECTION_CACHE_SECONDS": "0.1",
    }


# --- The local API Gateway with the stack's throttling and the probe route ------------------


class ClientTimeout(Exception):
    """The client gave up waiting for an answer."""


@dataclass(frozen=True)
class CallRecord:
    #: Wall time (monotonic) the call ended, the region called, whether it was served.
    ended: float
    region: str
    served: bool
    #: The region whose latency order puts first (the client's home).
    home: str


def method_path(route: str, method: str) -> str:
    """API Gateway's method path for MethodSettings: the resource path without its leading
    slash, path parameters as the resource names them."""
    parts = route.strip("/").split("/")
    if parts[0] == "tasks" and len(parts) == 2:
        parts[1] = "{taskId}"
    return "/".join([*parts, method])


class RegionGateway(LocalGateway):
    """A region's API Gateway stage: IAM authorization (LocalGateway), the Route53 probe route
    open as the stack declares it, a token bucket per method with the stack's recorded
    throttling, and a black-hole switch."""

    def __init__(
        self,
        region: str,
        settings: StackSettings,
        options: Options,
        backend: Backend,
        public_health: str,
    ) -> None:
        super().__init__(region)
        self.backend = backend
        self.probe_route = settings.health_paths[region].removeprefix(self.base_path)
        self.public_health = public_health
        self.black_hole = threading.Event()
        self._settings = settings
        self._options = options
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()
        self.throttled: Counter[str] = Counter()

    def authorize(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> Denial | None:
        if method == "GET" and self.route(url) == self.probe_route:
            return None  # Route53 cannot sign: the probe route is open, its path the secret
        return super().authorize(method, url, headers, body)

    def _bucket(self, key: str) -> TokenBucket:
        with self._lock:
            if key not in self._buckets:
                throttle = self._settings.throttle(self.region, key)
                rate = self._options.clock.compression * throttle.rate
                burst = float(throttle.burst)
                if key == self.public_health:
                    rate, burst = (
                        rate * self._options.flood_scale,
                        burst * self._options.flood_scale,
                    )
                self._buckets[key] = TokenBucket(rate, max(1, round(burst)))
            return self._buckets[key]

    def call(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: float
    ) -> HttpAnswer:
        if self.black_hole.is_set():
            time.sleep(timeout)
            raise ClientTimeout(f"{self.region}: no answer within {timeout:.2f} s")
        route = self.route(url)
        if route is not None:
            key = method_path(route, method)
            if not self._bucket(key).take():
                self.throttled[key] += 1
                return Denial("ThrottlingException", "Too Many Requests", 429).answer()
        return self.handle(self._invoke, method, url, headers, body)

    def _invoke(self, event: dict[str, Any]) -> Any:
        # API Gateway names the resource the request matched; containers.api_event guesses it
        # from the path's depth, which takes the probe route for a task id.
        if event["path"] == self.probe_route:
            event = {**event, "resource": self.probe_route, "pathParameters": None}
        return self.backend(event)

    def transport(self, backend: Backend | None = None, timeout: float = 60.0) -> Transport:
        def send(
            method: str, url: str, headers: Mapping[str, str], body: bytes | None
        ) -> HttpAnswer:
            return self.call(method, url, headers, body, timeout)

        return send


# --- Clients ---------------------------------------------------------------------------------


class Name(Protocol):
    """The service's name as one client sees it: the region it resolves to now."""

    latency_order: tuple[str, ...]

    def region(self) -> str: ...


class Network(Protocol):
    """What clients reach the service through: the seam between the world a game day drives
    (the local one here, a deployed stack's in `live.py`) and the clients that measure it."""

    def name(self, latency_order: tuple[str, ...]) -> Name:
        """A client's view of the service's name (`latency_order`: its nearest regions)."""
        ...

    def send(
        self,
        region: str,
        method: str,
        route: str,
        body: str | None,
        headers: Mapping[str, str],
        timeout_s: float,
    ) -> HttpAnswer:
        """One authorized request to `route` ('/tasks') of `region`'s API; ClientTimeout when
        no answer came within `timeout_s` (wall)."""
        ...


@dataclass
class LocalNetwork:
    """The emulated DNS, and each region's local API Gateway behind SigV4."""

    resolver: Resolver
    gateways: Mapping[str, RegionGateway]
    signers: dict[str, SignedClient] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.signers = {
            region: SignedClient(region=region, credentials=DRILL_CREDENTIALS)
            for region in self.gateways
        }

    def name(self, latency_order: tuple[str, ...]) -> Name:
        return CachedName(self.resolver, latency_order)

    def send(
        self,
        region: str,
        method: str,
        route: str,
        body: str | None,
        headers: Mapping[str, str],
        timeout_s: float,
    ) -> HttpAnswer:
        transport = self.gateways[region].transport(timeout=timeout_s)
        return self.signers[region].call(
            method, f"{BASE_URL}{route}", body, headers, transport=transport
        )


@dataclass
class Clients:
    """Every client of a scenario, sharing the network (names and regions' APIs)."""

    options: Options
    network: Network
    started: float
    deadline: float
    rng: random.Random
    lock: threading.Lock = field(default_factory=threading.Lock)
    calls: list[CallRecord] = field(default_factory=list)
    #: Request index -> the status its client last read once the task was done.
    finished: dict[int, str] = field(default_factory=dict)
    #: Set to make every client give up at once (the run was interrupted).
    stopped: threading.Event = field(default_factory=threading.Event)

    def _wall(self, real_s: float) -> float:
        return self.options.clock.wall(real_s)

    def _going(self) -> bool:
        return time.monotonic() < self.deadline and not self.stopped.is_set()

    def _call(
        self, name: Name, method: str, route: str, body: str | None, headers: dict[str, str]
    ) -> tuple[str, HttpAnswer | None]:
        region = name.region()
        try:
            answer: HttpAnswer | None = self.network.send(
                region, method, route, body, headers, self._wall(self.options.client_timeout_s)
            )
        except ClientTimeout:
            answer = None
        served = answer is not None and answer.status not in RETRYABLE_STATUS
        with self.lock:
            self.calls.append(CallRecord(time.monotonic(), region, served, name.latency_order[0]))
        return region, answer

    def _wait(self, attempt: int, answer: HttpAnswer | None) -> None:
        with self.lock:
            jitter = 0.5 + self.rng.random() / 2
        backoff = min(4.0, 0.5 * 2**attempt) * jitter  # real seconds
        retry_after = 0.0
        if answer is not None:
            with contextlib.suppress(ValueError):
                retry_after = max(0.0, float(answer.headers.get("retry-after", "0")))
        self.stopped.wait(self._wall(max(backoff, retry_after)))

    def run(self, request: Request, order: tuple[str, ...]) -> None:
        """Submit until a 202 reaches the client, then poll the task until it is done."""
        name = self.network.name(order)
        task_id: str | None = None
        attempt = 0
        while self._going():
            request.note_send(time.monotonic() - self.started)
            _, answer = self._call(
                name, "POST", "/tasks", request.body, {"Idempotency-Key": request.key}
            )
            attempt += 1
            if answer is not None:
                request.last_answer = f"{answer.status} {answer.body[:200]!r}"
                if answer.status == 202:
                    task_id = str(answer.json()["taskId"])
                    request.task_ids.add(task_id)
                    with self.lock:
                        lost = self.rng.random() < self.options.client_lost_reply_rate
                    if not lost:
                        request.accepted_s = time.monotonic() - self.started
                        break
                elif answer.status not in RETRYABLE_STATUS:
                    return
            self._wait(attempt, answer)
        if request.accepted_s is None or task_id is None:
            return
        attempt = 0
        while self._going():
            if self.stopped.wait(self._wall(self.options.poll_s)):
                return
            _, answer = self._call(name, "GET", f"/tasks/{task_id}", None, {})
            if answer is not None and answer.status == 200:
                status = answer.json().get("status")
                if status in DONE_STATUSES:
                    with self.lock:
                        self.finished[request.index] = str(status)
                    return
                continue
            if answer is not None and answer.status == 404:
                continue  # not replicated yet (Retry-After) or not there: ask again
            attempt += 1
            self._wait(attempt, answer)


# --- One scenario ----------------------------------------------------------------------------


@dataclass
class Region:
    resources: local_aws.Resources
    api: ContainerPool
    workers: list[ProcessContainer]
    ssm: Any


@dataclass
class World:
    """What every scenario of a run shares: the moto server and the regions' containers."""

    url: str
    options: Options
    settings: StackSettings
    regions: dict[str, Region]
    observed: Observed
    containers: list[ProcessContainer]

    def set_fault(self, region: str, fault: Mapping[str, Any] | None) -> None:
        value = json.dumps({"enabled": True, **fault}) if fault else NO_FAULT
        self.regions[region].ssm.put_parameter(
            Name=FAULT_PARAMETER, Value=value, Type="String", Overwrite=True
        )


def _fresh_resources(world: World) -> dict[str, local_aws.Resources]:
    """Empty tables and queues in every region (the same names and URLs the containers use)."""
    local_aws.reset(world.url)
    options = world.options
    made = {
        region: local_aws.create(
            world.url,
            region,
            max_receive_count=options.max_receive_count,
            visibility_s=options.visibility_s,
        )
        for region in world.settings.regions
    }
    if options.consistency == "strong":
        create_lease_table(world.url, world.settings.regions[0])
    else:
        enable_streams(world.url, world.settings.regions)
    for region in world.settings.regions:
        world.set_fault(region, None)
    return made


def _latest(items: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """One item per key: the latest write (what every replica converges to)."""
    merged: dict[str, Mapping[str, Any]] = {}
    for item in items:
        key = item[KEY]["S"]
        held = merged.get(key)
        if held is None or item.get(WRITE_TIME, {}).get("S", "") > held.get(WRITE_TIME, {}).get(
            "S", ""
        ):
            merged[key] = item
    return merged


def _drain_queues(world: World, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    quiet = 0
    while time.monotonic() < deadline and quiet < 3:
        depth = sum(
            local_aws.queue_depth(r.resources.sqs, r.resources.queue_url)
            for r in world.regions.values()
        )
        quiet = quiet + 1 if depth == 0 else 0
        time.sleep(0.3)


def run_scenario(world: World, name: str) -> dict[str, Any]:
    options, settings, clock = world.options, world.settings, world.options.clock
    regions = settings.regions
    fault_region = regions[0]
    _fresh_resources(world)
    world.observed.reset()
    replicator = (
        Replicator(world.url, regions, clock.wall(options.replication_lag_s))
        if options.consistency == "eventual"
        else None
    )
    if replicator is not None:
        replicator.start()
    stop_pollers = threading.Event()
    pollers = [
        thread
        for region in world.regions.values()
        for thread in poll_queue(region.resources, region.workers, stop_pollers)
    ]
    public_health = "health/GET"
    probe_paths = dict(settings.health_paths)
    gateways = {
        region: RegionGateway(
            region, settings, options, world.regions[region].api.invoke, public_health
        )
        for region in regions
    }

    def probe(region: str, timeout: float) -> bool:
        gateway = gateways[region]
        try:
            answer = gateway.call(
                "GET",
                f"https://{region}.execute-api.example.com{probe_paths[region]}",
                {},
                None,
                timeout,
            )
        except ClientTimeout:
            return False
        return 200 <= answer.status < 400

    checks = HealthChecks(settings, probe, clock, options.checkers_per_region, seed=options.seed)
    ttl_wall = clock.wall(settings.record_ttl_s(options.alias_ttl_s))
    resolver = Resolver(checks, ttl_wall)
    # Let the checks see every region healthy before the first client asks.
    checks.start()
    time.sleep(clock.wall(settings.interval_s))

    nominal = settings.nominal_failover_s(options.alias_ttl_s)
    timeline = Timeline.of(options, name, nominal)
    ledger = scenario_ledger(options, name, regions, timeline)
    flood = _Flood(gateways[fault_region], options, settings, fault_region)
    driven = drive(
        options,
        name,
        ledger,
        LocalNetwork(resolver, gateways),
        regions,
        timeline,
        lambda: _start_fault(world, name, fault_region, gateways, replicator, flood),
        lambda: _end_fault(world, name, fault_region, gateways, replicator, flood),
    )
    checks.stop()
    _drain_queues(world, 60)
    if replicator is not None:
        replicator.drain(60)
        _drain_queues(world, 30)
        replicator.drain(60)
        replicator.stop()
    stop_pollers.set()
    for poller in pollers:
        poller.join(timeout=10)

    per_region = {
        region: {
            item[KEY]["S"]: item for item in local_aws.task_items(world.regions[region].resources)
        }
        for region in regions
    }
    every_item = [item for items in per_region.values() for item in items.values()]
    merged = _latest(every_item)
    keys = set().union(*(set(items) for items in per_region.values()))
    diverged = sum(
        1
        for key in keys
        if len({json.dumps(per_region[r].get(key), sort_keys=True) for r in regions}) > 1
    )
    counted = ledger.count(list(merged.values()), Counter())
    by_index: dict[int, str] = {}
    for key, item in merged.items():
        index = request_index(item)
        if index is not None:
            by_index[index] = key
    duplicates = 0
    for request in ledger.requests:
        named = {task_id.split(".", 1)[0] for task_id in request.task_ids if "." in task_id}
        task_key = by_index.get(request.index)
        computed = world.observed.computed_in.get(task_key or "", set())
        duplicates += len(named) > 1 or len(computed) > 1
    figures = client_figures(name, fault_region, ledger, driven, nominal, clock)
    return {
        **figures,
        "tasks_accepted": counted.accepted,
        "tasks_lost": counted.lost,
        "tasks_stuck_pending": counted.pending,
        "tasks_done": counted.done,
        "duplicate_tasks_cross_region": duplicates,
        "replication_conflicts": (
            replicator.conflicts if replicator is not None else world.observed.conflicts
        ),
        "replicas_diverged": diverged,
        "false_failovers": _false_failovers(checks.transitions, driven.faulted),
        "flood_requests": flood.sent,
        "flood_throttled": sum(gateways[fault_region].throttled.values()),
        "health_observations": checks.observations,
        "health_failures": dict(checks.failures),
        "seconds": round(time.monotonic() - driven.started, 1),
    }


# --- What every world shares: the timeline, the clients, the figures ------------------------

#: The scenarios that take a region away (its clients must fail over).
REGION_FAULTS: Final = frozenset(
    {"region-api-down", "fail-back", "region-black-hole", "region-dynamodb-errors"}
)


@dataclass(frozen=True)
class Timeline:
    """A scenario's phases, in wall seconds."""

    before: float
    fault: float
    after: float

    @classmethod
    def of(cls, options: Options, name: str, nominal_s: float) -> Timeline:
        """`before` N/2, `fault` 2N, `after` N/2 (2N for fail-back), unless the options set
        them; N the stack's nominal failover time."""
        clock = options.clock
        return cls(
            clock.wall(options.before_s or nominal_s / 2),
            clock.wall(options.fault_s or 2 * nominal_s),
            clock.wall(
                options.after_s or (2 * nominal_s if name == "fail-back" else nominal_s / 2)
            ),
        )

    @property
    def total(self) -> float:
        return self.before + self.fault + self.after


def scenario_ledger(
    options: Options, name: str, regions: Sequence[str], timeline: Timeline
) -> Ledger:
    """`options.tasks` requests at a steady rate over the timeline, homes taken in turn."""
    rps = options.tasks / timeline.total
    return Ledger(
        [
            Request(
                n, f"{name}-{options.consistency}-{n}", regions[n % len(regions)], (n + 0.5) / rps
            )
            for n in range(options.tasks)
        ]
    )


@dataclass(frozen=True)
class Driven:
    """A scenario's clients once they are all done, and when its fault was on (monotonic)."""

    clients: Clients
    started: float
    fault_start: float
    fault_end: float
    #: (start, end, region) of each region taken away.
    faulted: tuple[tuple[float, float, str], ...]


def drive(
    options: Options,
    name: str,
    ledger: Ledger,
    network: Network,
    regions: Sequence[str],
    timeline: Timeline,
    start_fault: Callable[[], None],
    end_fault: Callable[[], None],
) -> Driven:
    """Send the ledger's requests open loop through `network`, the fault on from `before` for
    `fault` seconds. Interrupted (KeyboardInterrupt), the clients stop, and the fault is ended
    before this returns, so whoever restores the world afterwards has the last word."""
    started = time.monotonic()
    clients = Clients(
        options,
        network,
        started,
        started + timeline.total + options.clock.wall(options.drain_s),
        random.Random(options.seed),
    )
    fault_start = started + timeline.before
    fault_end = fault_start + timeline.fault
    stop = threading.Event()

    def run_timeline() -> None:
        if stop.wait(max(0.0, fault_start - time.monotonic())):
            return
        try:
            start_fault()
            stop.wait(max(0.0, fault_end - time.monotonic()))
        finally:
            end_fault()

    driver = threading.Thread(target=run_timeline, daemon=True)
    threads: list[threading.Thread] = []
    bar = Progress(f"gameday {name} ({options.consistency})", options.tasks)
    try:
        driver.start()
        for request in ledger.requests:
            wait = started + request.intended_s - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            home = request.region
            order = (home, *(r for r in regions if r != home))
            thread = threading.Thread(target=clients.run, args=(request, order), daemon=True)
            thread.start()
            threads.append(thread)
            bar.update(len(threads))
        for thread in threads:
            thread.join()
    finally:
        stop.set()
        clients.stopped.set()
        driver.join()
        bar.close()
    faulted = ((fault_start, fault_end, regions[0]),) if name in REGION_FAULTS else ()
    return Driven(clients, started, fault_start, fault_end, faulted)


def client_figures(
    name: str,
    fault_region: str,
    ledger: Ledger,
    driven: Driven,
    nominal_s: float,
    clock: Clock,
) -> dict[str, Any]:
    """The keys measured at the clients, the same in every world."""
    calls = driven.clients.calls
    return {
        "name": name,
        "fault_region": fault_region,
        "tasks_submitted": len(ledger.requests),
        "tasks_accepted": sum(1 for r in ledger.requests if r.accepted_s is not None),
        "rto_seconds": round(clock.real(_rto(calls, driven.fault_start)), 1),
        "failback_seconds": _failback(calls, driven.fault_end, fault_region, driven.faulted, clock),
        "nominal_failover_seconds": nominal_s,
        "failed_calls": sum(1 for call in calls if not call.served),
        "calls_by_region": dict(Counter(call.region for call in calls)),
        "seconds": round(time.monotonic() - driven.started, 1),
    }


def _start_fault(
    world: World,
    name: str,
    region: str,
    gateways: Mapping[str, RegionGateway],
    replicator: Replicator | None,
    flood: _Flood,
) -> None:
    if name in SSM_FAULTS:
        world.set_fault(region, SSM_FAULTS[name])
    elif name == "region-black-hole":
        gateways[region].black_hole.set()
    elif name == "replication-stalled" and replicator is not None:
        replicator.stall()
    elif name == "health-flood":
        flood.start()


def _end_fault(
    world: World,
    name: str,
    region: str,
    gateways: Mapping[str, RegionGateway],
    replicator: Replicator | None,
    flood: _Flood,
) -> None:
    world.set_fault(region, None)
    gateways[region].black_hole.clear()
    if replicator is not None:
        replicator.resume()
    flood.stop()


class _Flood:
    """`flood_factor` x the public health route's per-method rate, at that route."""

    def __init__(
        self, gateway: RegionGateway, options: Options, settings: StackSettings, region: str
    ) -> None:
        throttle = settings.throttle(region, "health/GET")
        self.rate = (
            options.flood_factor * throttle.rate * options.clock.compression * options.flood_scale
        )
        self.gateway = gateway
        self.sent = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        # Many senders, each at its share of the rate, so the few requests admitted (which
        # wait for a container) do not slow the flood: it is open loop too.
        senders = 16
        for n in range(senders):
            thread = threading.Thread(target=self._send, args=(senders, n), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _send(self, senders: int, n: int) -> None:
        interval = senders / self.rate
        due = time.monotonic() + n * interval / senders
        while not self._stop.is_set():
            wait = due - time.monotonic()
            if wait > 0 and self._stop.wait(wait):
                return
            due += interval
            self.gateway.call("GET", f"{BASE_URL}/health", {}, None, 1.0)
            self.sent += 1

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)


def _false_failovers(
    transitions: Sequence[tuple[float, str, bool]], faulted: Sequence[tuple[float, float, str]]
) -> int:
    """Regions that left DNS (went unhealthy) while no fault was set on them."""
    return sum(
        1
        for at, region, healthy in transitions
        if not healthy
        and not any(start <= at <= end + 1e-9 for start, end, where in faulted if where == region)
    )


def _rto(calls: Sequence[CallRecord], fault_start: float) -> float:
    """From the fault's start to the end of the last call that was not served (0: none)."""
    failed = [call.ended for call in calls if not call.served and call.ended >= fault_start]
    return max(failed) - fault_start if failed else 0.0


def _failback(
    calls: Sequence[CallRecord],
    fault_end: float,
    region: str,
    faulted: Sequence[tuple[float, float, str]],
    clock: Clock,
) -> float | None:
    """From the fault's end to the first call the recovered region served for a client whose
    nearest region it is (None: no region was taken away, or it never took them back)."""
    if not faulted:
        return None
    back = [c.ended for c in calls if c.ended >= fault_end and c.region == region and c.served]
    return round(clock.real(min(back) - fault_end), 1) if back else None


# --- The run ---------------------------------------------------------------------------------


def _start_world(url: str, options: Options, settings: StackSettings) -> World:
    observed = Observed()
    regions: dict[str, Region] = {}
    every: list[ProcessContainer] = []
    strong = options.consistency == "strong"
    world = World(url, options, settings, regions, observed, every)
    resources = _fresh_resources_initial(url, options, settings)
    for region in settings.regions:
        environment = _environment(url, region, options, resources[region])
        made: dict[str, list[ProcessContainer]] = {"api": [], "worker": []}
        for kind, module, count, budget in (
            ("api", "task_api", options.api_containers, 3.0),
            ("worker", "task_worker", options.worker_containers, 4.0),
        ):
            for n in range(count):
                made[kind].append(
                    ProcessContainer(
                        f"gameday-{region}-{kind}-{n}",
                        module,
                        budget,
                        environment,
                        _container_setup,
                        (url, region, settings.regions, strong),
                        observed.collect,
                    )
                )
        ssm = boto3.client("ssm", region_name=region, endpoint_url=url, **local_aws.CREDENTIALS)
        regions[region] = Region(resources[region], ContainerPool(made["api"]), made["worker"], ssm)
        every += made["api"] + made["worker"]
    return world


def _fresh_resources_initial(
    url: str, options: Options, settings: StackSettings
) -> dict[str, local_aws.Resources]:
    return {
        region: local_aws.create(
            url,
            region,
            max_receive_count=options.max_receive_count,
            visibility_s=options.visibility_s,
        )
        for region in settings.regions
    }


def run(options: Options, settings: StackSettings | None = None) -> dict[str, Any]:
    """Every scenario of `options` on one moto server; the flat result the verdicts judge,
    with the per-scenario entries in `scenarios`."""
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    settings = settings or read_stack_settings(options.project, options.stack)
    started = time.monotonic()
    with (
        drill_process(),
        local_aws.moto_server() as url,
        contextlib.redirect_stdout(io.StringIO()),
    ):
        world = _start_world(url, options, settings)
        try:
            entries = [run_scenario(world, name) for name in options.scenarios]
        finally:
            for container in world.containers:
                container.close()
    result: dict[str, Any] = {
        "consistency": options.consistency,
        "compression": options.compression,
        "regions": list(settings.regions),
        "health_check": {
            "interval_s": settings.interval_s,
            "failure_threshold": settings.failure_threshold,
            "record_type": settings.record_type,
            "ttl_s": settings.record_ttl_s(options.alias_ttl_s),
            "checkers": len(settings.checker_regions or ()) or None,
        },
        "scenarios": entries,
        "seconds": round(time.monotonic() - started, 1),
    }
    for entry in entries:
        for key, value in entry.items():
            if key != "name":
                result[f"{entry['name']}.{key}"] = value
    return result
