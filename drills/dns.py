"""Route53 latency records with health checks, emulated: who answers the service's name.

The settings are the stack's own, read from what its program registers (`read_stack_settings`
runs the prod stack's program under the offline preview's mocks, in a process of its own, and
reads the recorded `aws:route53/healthCheck`, latency `aws:route53/record` and
`aws:apigateway/methodSettings` inputs), so a changed health path, interval, threshold, record
type or TTL is what the game day uses.

What is modelled, and only that (AWS's documented behaviour):

- each region's health check is probed every `interval` by checkers in the checker regions
  (all eight when the stack names none), which do not coordinate; an observation passes on a
  status of 200-399 that arrives within the checker's timeout (4 s to connect + 2 s to answer);
- a checker changes its view after `FailureThreshold` consecutive observations the other way,
  and a new check starts healthy;
- a region is healthy while more than 18 % of the checkers see it healthy;
- a resolver answers with the lowest-latency healthy region for the client; when none is
  healthy, all are considered healthy; an answer carries the record's TTL.

How many checkers each checker region runs is not documented: it is a parameter
(`checkers_per_region`). Time may be compressed (`Clock.compression`): intervals, TTLs and
timeouts run that many times faster, and every figure is converted back to real seconds.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

#: Route53's health checker regions; a check that names none uses all of them.
CHECKER_REGIONS: Final[tuple[str, ...]] = (
    "us-east-1",
    "us-west-1",
    "us-west-2",
    "eu-west-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "sa-east-1",
)
#: More than this share of checkers reporting healthy makes an endpoint healthy.
HEALTHY_SHARE: Final[float] = 0.18
#: A checker's limits: TCP connect within 4 s, then a 2xx/3xx status within 2 s.
CONNECT_TIMEOUT_S: Final[float] = 4.0
ANSWER_TIMEOUT_S: Final[float] = 2.0
HEALTH_CHECK_TYPE: Final[str] = "aws:route53/healthCheck:HealthCheck"
RECORD_TYPE: Final[str] = "aws:route53/record:Record"
METHOD_SETTINGS_TYPE: Final[str] = "aws:apigateway/methodSettings:MethodSettings"
#: API Gateway's stage-wide method settings key: applies to every method, each separately.
EVERY_METHOD: Final[str] = "*/*"


@dataclass(frozen=True)
class Throttle:
    """One method's token bucket, in requests per second (real world)."""

    rate: float
    burst: int


@dataclass(frozen=True)
class StackSettings:
    """What the stack declares about the name, its health checks and its stages' throttling."""

    #: Regions in the order their latency records were declared.
    regions: tuple[str, ...]
    #: Per region: the path the health check probes, with the stage ('/v1/health/...').
    health_paths: Mapping[str, str]
    interval_s: float
    failure_threshold: int
    #: 'CNAME' or 'A' (an alias record).
    record_type: str
    #: The record's TTL; None for an alias record, whose TTL is its target's.
    ttl_s: float | None
    #: None: Route53's default set (all checker regions).
    checker_regions: tuple[str, ...] | None
    #: Per region: API Gateway method path ('health/x/GET', or '*/*') -> its throttle.
    throttles: Mapping[str, Mapping[str, Throttle]]

    def record_ttl_s(self, alias_ttl_s: float) -> float:
        """The TTL resolvers cache an answer for; an alias record's comes from its target,
        which for an API Gateway domain AWS does not document (`alias_ttl_s`)."""
        return self.ttl_s if self.ttl_s is not None else alias_ttl_s

    def nominal_failover_s(self, alias_ttl_s: float) -> float:
        """interval x FailureThreshold + TTL: what the stack's own summary calls nominal."""
        return self.interval_s * self.failure_threshold + self.record_ttl_s(alias_ttl_s)

    def throttle(self, region: str, method_path: str) -> Throttle:
        """The bucket a method gets: its own settings, or the stage-wide `*/*` ones."""
        regional = self.throttles.get(region, {})
        found = regional.get(method_path) or regional.get(EVERY_METHOD)
        if found is None:
            raise KeyError(
                f"no throttling recorded for {method_path!r} in {region}: the stack registers "
                "none (expected a MethodSettings with method path '*/*')"
            )
        return found


def settings_from_resources(resources: Sequence[Mapping[str, Any]]) -> StackSettings:
    """StackSettings from recorded resources ({type, region, inputs, outputs}); ValueError
    naming what is missing or inconsistent."""
    checks = {
        str(r["outputs"].get("id") or r["name"]): r
        for r in resources
        if r["type"] == HEALTH_CHECK_TYPE
    }
    records = [
        r
        for r in resources
        if r["type"] == RECORD_TYPE and r["inputs"].get("latencyRoutingPolicies")
    ]
    if not records:
        raise ValueError("the stack registers no latency records: nothing to route")
    regions: list[str] = []
    paths: dict[str, str] = {}
    intervals, thresholds, types, ttls, checker_sets = set(), set(), set(), set(), set()
    for record in records:
        inputs = record["inputs"]
        region = str(inputs["latencyRoutingPolicies"][0]["region"])
        check = checks.get(str(inputs.get("healthCheckId")))
        if check is None:
            raise ValueError(f"the latency record for {region} has no health check")
        check_inputs = check["inputs"]
        regions.append(region)
        paths[region] = str(check_inputs["resourcePath"])
        intervals.add(float(check_inputs.get("requestInterval", 30)))
        thresholds.add(int(check_inputs.get("failureThreshold", 3)))
        checker_sets.add(tuple(check_inputs.get("regions") or ()))
        types.add(str(inputs["type"]))
        ttls.add(float(inputs["ttl"]) if inputs.get("ttl") is not None else None)
    for name, values in (
        ("requestInterval", intervals),
        ("failureThreshold", thresholds),
        ("record type", types),
        ("record ttl", ttls),
        ("checker regions", checker_sets),
    ):
        if len(values) != 1:
            raise ValueError(
                f"the regions' {name} differ ({sorted(map(str, values))}): "
                "the emulator models one setting for every region"
            )
    throttles: dict[str, dict[str, Throttle]] = {}
    for resource in resources:
        if resource["type"] != METHOD_SETTINGS_TYPE:
            continue
        inputs = resource["inputs"]
        settings = inputs.get("settings") or {}
        if "throttlingRateLimit" not in settings:
            continue
        region = str(resource.get("region") or inputs.get("region"))
        throttles.setdefault(region, {})[str(inputs["methodPath"])] = Throttle(
            float(settings["throttlingRateLimit"]), int(settings["throttlingBurstLimit"])
        )
    checker_regions = checker_sets.pop()
    return StackSettings(
        regions=tuple(regions),
        health_paths=paths,
        interval_s=intervals.pop(),
        failure_threshold=thresholds.pop(),
        record_type=types.pop(),
        ttl_s=ttls.pop(),
        checker_regions=checker_regions or None,
        throttles=throttles,
    )


def _recorded_resources(project_dir: Path, stack: str) -> list[dict[str, Any]]:
    """In this (child) process: run the stack's program under the offline preview's mocks, in
    update mode (a deployed stack: the probe path's generated secret segment is known)."""
    sys.path.insert(0, str(project_dir))
    from offline.engine.project import load_stack
    from offline.engine.recording import unwrap_secret
    from offline.engine.runner import run_program
    from offline.modes import UPDATE

    run = run_program(load_stack(project_dir, stack), mode=UPDATE)
    wanted = (HEALTH_CHECK_TYPE, RECORD_TYPE, METHOD_SETTINGS_TYPE)
    return [
        {
            "type": r.type,
            "name": r.name,
            "region": r.region,
            "inputs": {key: unwrap_secret(value) for key, value in r.inputs.items()},
            "outputs": {key: unwrap_secret(value) for key, value in r.outputs.items()},
        }
        for r in run.registrations
        if r.type in wanted
    ]


def read_stack_settings(project_dir: Path, stack: str, timeout_s: float = 180) -> StackSettings:
    """The stack's settings, from its program run under mocks in a process of its own (mocks
    are process-wide, and the program changes the working directory and `sys.path`)."""
    if not (project_dir / "Pulumi.yaml").is_file():
        raise ValueError(
            f"--project {project_dir}: no Pulumi.yaml there; give the folder of the Pulumi "
            "project whose stack the game day reads its settings from"
        )
    done = subprocess.run(
        [sys.executable, "-m", "drills.dns", str(project_dir), stack],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if done.returncode != 0:
        raise ValueError(
            f"reading the {stack} stack's settings from {project_dir} failed: "
            f"{(done.stderr or done.stdout).strip()[-2000:]}"
        )
    return settings_from_resources(json.loads(done.stdout))


@dataclass(frozen=True)
class Clock:
    """Real-world seconds <-> wall seconds of a drill whose time runs `compression` x faster."""

    compression: float = 10.0

    def wall(self, real_s: float) -> float:
        return real_s / self.compression

    def real(self, wall_s: float) -> float:
        return wall_s * self.compression


#: An observation of a region's health path: True when it passed.
Probe = Callable[[str, float], bool]


@dataclass
class CheckerView:
    """One checker's view of one endpoint: it changes after `threshold` consecutive
    observations the other way; a new check starts healthy."""

    threshold: int
    healthy: bool = True
    streak: int = 0

    def observe(self, passed: bool) -> bool:
        """Record an observation; True when the view changed."""
        if passed == self.healthy:
            self.streak = 0
            return False
        self.streak += 1
        if self.streak >= self.threshold:
            self.healthy, self.streak = passed, 0
            return True
        return False


def region_healthy(views: Sequence[bool]) -> bool:
    """Route53's rule: healthy while more than 18 % of the checkers report healthy."""
    return sum(views) > HEALTHY_SHARE * len(views)


@dataclass
class HealthChecks:
    """Every region's health check, probed by every checker on its own schedule."""

    settings: StackSettings
    probe: Probe
    clock: Clock
    checkers_per_region: int = 1
    seed: int = 11
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: (wall time, region, healthy) each time a region's aggregate status changed.
    transitions: list[tuple[float, str, bool]] = field(default_factory=list)
    observations: int = 0
    #: Failed observations per region.
    failures: dict[str, int] = field(default_factory=dict)
    _views: dict[str, list[CheckerView]] = field(default_factory=dict)
    _healthy: dict[str, bool] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    @property
    def checkers(self) -> int:
        regions = self.settings.checker_regions or CHECKER_REGIONS
        return len(regions) * self.checkers_per_region

    def start(self) -> None:
        rng = random.Random(self.seed)
        interval = self.clock.wall(self.settings.interval_s)
        timeout = self.clock.wall(CONNECT_TIMEOUT_S + ANSWER_TIMEOUT_S)
        for region in self.settings.regions:
            self._views[region] = [
                CheckerView(self.settings.failure_threshold) for _ in range(self.checkers)
            ]
            self._healthy[region] = True
            for n in range(self.checkers):
                # Checkers do not coordinate: each starts at its own point of the interval.
                offset = rng.random() * interval
                thread = threading.Thread(
                    target=self._run, args=(region, n, offset, interval, timeout), daemon=True
                )
                thread.start()
                self._threads.append(thread)

    def stop(self) -> None:
        """Stop probing; returns once every observation under way has ended."""
        self._stop.set()
        with self.lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout=10)

    def _run(self, region: str, n: int, offset: float, interval: float, timeout: float) -> None:
        due = time.monotonic() + offset
        while not self._stop.is_set():
            wait = due - time.monotonic()
            if wait > 0 and self._stop.wait(wait):
                return
            due += interval
            # Each observation on its own thread: a probe that hangs until its timeout does
            # not delay the checker's next one (Route53 keeps to its interval).
            observation = threading.Thread(
                target=self._observe, args=(region, n, timeout), daemon=True
            )
            observation.start()
            with self.lock:
                self._threads.append(observation)

    def _observe(self, region: str, n: int, timeout: float) -> None:
        passed = self.probe(region, timeout)
        with self.lock:
            self.observations += 1
            self.failures[region] = self.failures.get(region, 0) + (not passed)
            self._views[region][n].observe(passed)
            healthy = region_healthy([view.healthy for view in self._views[region]])
            if healthy != self._healthy[region]:
                self._healthy[region] = healthy
                self.transitions.append((time.monotonic(), region, healthy))

    def healthy(self, region: str) -> bool:
        with self.lock:
            return self._healthy.get(region, True)


@dataclass(frozen=True)
class Answer:
    region: str
    #: When the answer stops being valid in a client's cache (wall, monotonic).
    expires: float


@dataclass
class Resolver:
    """Latency routing over the health checks: the first healthy region in the client's
    latency order; when none is healthy, all are considered healthy."""

    checks: HealthChecks
    ttl_wall_s: float

    def resolve(self, latency_order: Sequence[str]) -> Answer:
        healthy = [region for region in latency_order if self.checks.healthy(region)]
        chosen = healthy[0] if healthy else latency_order[0]
        return Answer(chosen, time.monotonic() + self.ttl_wall_s)


@dataclass
class CachedName:
    """A client's cache of the name: asks the resolver only when its answer expired."""

    resolver: Resolver
    latency_order: tuple[str, ...]
    _answer: Answer | None = None

    def region(self) -> str:
        if self._answer is None or time.monotonic() >= self._answer.expires:
            self._answer = self.resolver.resolve(self.latency_order)
        return self._answer.region


if __name__ == "__main__":
    # python -m drills.dns PROJECT_DIR STACK: the recorded resources as JSON (read_stack_settings)
    print(json.dumps(_recorded_resources(Path(sys.argv[1]).resolve(), sys.argv[2])))
