"""Failure injection at the botocore layer, for game days and the drills: off unless the stack
allows it.

Faults, per dependency ("table", "queue", "breaker"):

    {"enabled": true,
     "dependencies": {"table": {"errorRate": 0.5, "latencyMs": 3000, "lostReplyRate": 0.1}},
     "api": {"statusCode": 503, "rate": 0.2}}

- `latencyMs`: the reply comes this much later. Longer than the client's read timeout, the
  client waits its read timeout and gets botocore's ReadTimeoutError (what a slow dependency
  looks like to the caller);
- `slowAfterApplyRate`: share of the delayed requests that are sent for real first, so the
  write is applied and only its reply is late (the case a retry must not apply twice);
- `errorRate`: share of requests answered 500 InternalServerError without reaching AWS;
- `lostReplyRate`: share of requests sent for real whose reply is then lost (the write is
  applied, the caller sees a connection error): the case idempotency must handle;
- `api.statusCode` / `api.rate`: share of API requests answered with that status at once.

Where the configuration comes from: FAULT_INJECTION (JSON) in the environment, overridden by the
SSM parameter named by FAULT_INJECTION_PARAMETER (read at most every
FAULT_INJECTION_CACHE_SECONDS, default 60). `"enabled": false` in the parameter is the kill
switch: every fault stops within the cache period, without a deployment.

Refused unless FAULT_INJECTION_ALLOWED is "true", which the components set only in a stack whose
config has `faultInjectionAllowed: true`. Without it nothing is installed: no hook, no SSM call.
The hooks are installed on clients through `aws_clients.add_client_hook`, so they see the
requests botocore really sends (serialized, signed), and retries and timeouts stay botocore's.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ConnectionClosedError, ReadTimeoutError
from botocore.httpsession import URLLib3Session

import aws_clients

DEFAULT_CACHE_S: Final[float] = 60.0
INJECTED_ERROR_BODY: Final[bytes] = (
    b'{"__type":"InternalServerError","message":"injected fault (fault_injection)"}'
)


class FaultConfigError(ValueError):
    """The fault configuration is malformed; names the field."""


@dataclass(frozen=True)
class DependencyFaults:
    error_rate: float = 0.0
    latency_ms: float = 0.0
    lost_reply_rate: float = 0.0
    slow_after_apply_rate: float = 0.0


@dataclass(frozen=True)
class FaultConfig:
    enabled: bool = False
    dependencies: Mapping[str, DependencyFaults] = field(default_factory=dict)
    api_status_code: int | None = None
    api_rate: float = 0.0


def _rate(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise FaultConfigError(f"{where}: expected a share from 0 to 1, got {value!r}")
    return float(value)


def parse_config(text: str) -> FaultConfig:
    """The JSON document -> FaultConfig; FaultConfigError names the bad field."""
    try:
        raw = json.loads(text)
    except ValueError as error:
        raise FaultConfigError(f"fault configuration: not JSON ({error})") from None
    if not isinstance(raw, dict):
        raise FaultConfigError("fault configuration: expected a JSON object")
    unknown = set(raw) - {"enabled", "dependencies", "api"}
    if unknown:
        raise FaultConfigError(f"fault configuration: unknown fields {sorted(unknown)}")
    dependencies: dict[str, DependencyFaults] = {}
    for name, faults in (raw.get("dependencies") or {}).items():
        where = f"dependencies.{name}"
        if name not in ("table", "queue", "breaker") or not isinstance(faults, dict):
            raise FaultConfigError(f"{where}: expected table, queue or breaker with an object")
        extra = set(faults) - {"errorRate", "latencyMs", "lostReplyRate", "slowAfterApplyRate"}
        if extra:
            raise FaultConfigError(f"{where}: unknown fields {sorted(extra)}")
        latency = faults.get("latencyMs", 0)
        if isinstance(latency, bool) or not isinstance(latency, int | float) or latency < 0:
            raise FaultConfigError(f"{where}.latencyMs: expected milliseconds >= 0")
        dependencies[name] = DependencyFaults(
            error_rate=_rate(faults.get("errorRate", 0), f"{where}.errorRate"),
            latency_ms=float(latency),
            lost_reply_rate=_rate(faults.get("lostReplyRate", 0), f"{where}.lostReplyRate"),
            slow_after_apply_rate=_rate(
                faults.get("slowAfterApplyRate", 0), f"{where}.slowAfterApplyRate"
            ),
        )
    api = raw.get("api") or {}
    status = api.get("statusCode")
    if status is not None and (not isinstance(status, int) or not 400 <= status <= 599):
        raise FaultConfigError("api.statusCode: expected an HTTP error status (400-599)")
    return FaultConfig(
        enabled=raw.get("enabled") is True,
        dependencies=dependencies,
        api_status_code=status,
        api_rate=_rate(api.get("rate", 0), "api.rate"),
    )


def allowed(environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return env.get("FAULT_INJECTION_ALLOWED", "").strip().lower() == "true"


class FaultSource:
    """The current configuration: the environment's, replaced by the SSM parameter's."""

    def __init__(
        self,
        environ: Mapping[str, str],
        read_parameter: Callable[[str], str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._env_text = environ.get("FAULT_INJECTION", "").strip()
        self._parameter = environ.get("FAULT_INJECTION_PARAMETER", "").strip() or None
        self._cache_s = float(environ.get("FAULT_INJECTION_CACHE_SECONDS", "") or DEFAULT_CACHE_S)
        self._read_parameter = read_parameter
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[float, FaultConfig] | None = None
        #: Why the last configuration read injected nothing, if it was unreadable or invalid.
        self.last_error: str | None = None

    def current(self) -> FaultConfig:
        now = self._clock()
        with self._lock:
            if self._cached is not None and now - self._cached[0] < self._cache_s:
                return self._cached[1]
        # A fault tool must fail safe: a configuration that cannot be read or is invalid injects
        # nothing (and says why in `last_error`) rather than failing the requests it rides on.
        config, self.last_error = FaultConfig(), None
        try:
            if self._env_text:
                config = parse_config(self._env_text)
            if self._parameter is not None and self._read_parameter is not None:
                config = parse_config(self._read_parameter(self._parameter))
        except Exception as error:
            config, self.last_error = FaultConfig(), f"{type(error).__name__}: {error}"
        with self._lock:
            self._cached = (now, config)
        return config


def _dependency(service: str, request: Any, environ: Mapping[str, str]) -> str | None:
    if service == "sqs":
        return "queue"
    if service != "dynamodb":
        return None
    try:
        table = json.loads(request.body or b"{}").get("TableName")
    except ValueError:
        return None
    if table and table == environ.get("BREAKER_TABLE_NAME"):
        return "breaker"
    return "table"


class _Raw:
    """What AWSResponse reads a body from."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, *args: Any, **kwargs: Any) -> Any:
        yield self._body


@dataclass
class Injector:
    source: FaultSource
    environ: Mapping[str, str]
    rng: Callable[[], float] = random.random
    sleep: Callable[[float], None] = time.sleep
    #: dependency -> number of faults injected, by kind (for drills and tests)
    counts: dict[str, int] = field(default_factory=dict)

    def _count(self, key: str) -> None:
        with _counts_lock:
            self.counts[key] = self.counts.get(key, 0) + 1

    def install(self, client: Any, service: str) -> None:
        if service not in ("dynamodb", "sqs"):
            return
        read_timeout = float(client.meta.config.read_timeout or 60)

        def before_send(request: Any, **kwargs: Any) -> AWSResponse | None:
            config = self.source.current()
            if not config.enabled:
                return None
            dependency = _dependency(service, request, self.environ)
            faults = config.dependencies.get(dependency or "")
            if faults is None:
                return None
            if faults.latency_ms:
                delay = faults.latency_ms / 1000
                if faults.slow_after_apply_rate and self.rng() < faults.slow_after_apply_rate:
                    self._count(f"{dependency}:slow-applied")
                    reply = URLLib3Session(timeout=read_timeout).send(request)  # applied ...
                    self.sleep(min(delay, read_timeout))  # ... and answered late
                    if delay >= read_timeout:
                        raise ReadTimeoutError(endpoint_url=request.url)
                    return reply
                if delay >= read_timeout:
                    self._count(f"{dependency}:timeout")
                    self.sleep(read_timeout)
                    raise ReadTimeoutError(endpoint_url=request.url)
                self.sleep(delay)
            if faults.error_rate and self.rng() < faults.error_rate:
                self._count(f"{dependency}:error")
                return AWSResponse(
                    request.url,
                    500,
                    {"Content-Type": "application/x-amz-json-1.0"},
                    _Raw(INJECTED_ERROR_BODY),
                )
            if faults.lost_reply_rate and self.rng() < faults.lost_reply_rate:
                self._count(f"{dependency}:lost")
                URLLib3Session(timeout=read_timeout).send(request)  # applied for real ...
                raise ConnectionClosedError(endpoint_url=request.url)  # ... reply lost
            return None

        service_id = client.meta.service_model.service_id.hyphenize()
        client.meta.events.register(f"before-send.{service_id}", before_send)

    def api_fault(self) -> int | None:
        """The status the API should answer with now, if an API fault is due."""
        config = self.source.current()
        if config.enabled and config.api_status_code and self.rng() < config.api_rate:
            self._count("api:status")
            return config.api_status_code
        return None


_injector: Injector | None = None
_counts_lock = threading.Lock()


def _ssm_reader(region: str) -> Callable[[str], str]:
    def read(name: str) -> str:
        ssm = aws_clients.client("ssm", region, aws_clients.CallProfile.HEALTH)
        return str(ssm.get_parameter(Name=name)["Parameter"]["Value"])

    return read


def activate(environ: Mapping[str, str] | None = None) -> Injector | None:
    """Install the hooks when the stack allows it (FAULT_INJECTION_ALLOWED); else nothing."""
    global _injector
    env = os.environ if environ is None else environ
    if not allowed(env):
        _injector = None
        return None
    region = env.get("AWS_REGION", "")
    injector = Injector(FaultSource(env, _ssm_reader(region)), env)
    aws_clients.add_client_hook(injector.install)
    _injector = injector
    return injector


def api_fault() -> int | None:
    return _injector.api_fault() if _injector is not None else None
