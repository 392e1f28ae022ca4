"""The handlers' configuration, read from the environment the components set.

Read on use rather than at import: a missing variable then fails the request (or the health
check) with an error that names it, instead of an import error that hides the name in an
INIT failure.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from caller_identity import LEGACY_UNOWNED_READABLE_VARIABLE, parse_flag
from circuit_breaker import BreakerSettings, StoreFailureMode
from task_model import REGION_PATTERN

#: How long a task (and its result) stays readable when TASK_TTL_SECONDS is not set: long
#: enough for a client that polls lazily, short enough that the table does not grow forever.
DEFAULT_TASK_TTL_SECONDS: Final[int] = 24 * 3600
MIN_TASK_TTL_SECONDS: Final[int] = 60
#: DynamoDB TTL only deletes items whose expiry lies less than five years in the past or future;
#: a year is already far longer than any client polls.
MAX_TASK_TTL_SECONDS: Final[int] = 366 * 24 * 3600
#: Metrics namespace when POWERTOOLS_METRICS_NAMESPACE is unset: Powertools would otherwise fail
#: the flush at the end of an invocation that already did its work (a 502 for a served request).
DEFAULT_METRICS_NAMESPACE: Final[str] = "ResilientServerless"
#: Time kept back from every invocation's deadline for answering after a call gave up (a 503
#: with Retry-After, a record reported as failed, a task marked FAILED).
DEFAULT_DEADLINE_MARGIN_MS: Final[int] = 1000
#: How long after a task was written in another region a GET that misses it answers "not
#: replicated yet" (404 with Retry-After) instead of a plain 404. Global tables usually
#: replicate within a second or two; a minute also covers the lag spikes of a write burst or a
#: replication backlog, while an id that never arrives (made up, or lost with its region before
#: it replicated) stops being retried here soon. The client can also ask the region that
#: wrote the task, which the hint names.
DEFAULT_REPLICATION_GRACE_SECONDS: Final[int] = 60
MAX_REPLICATION_GRACE_SECONDS: Final[int] = 3600


class ConfigurationError(RuntimeError):
    """An environment variable is missing or invalid; the message names it and the fix."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"Environment variable {variable} {problem}")
        self.variable = variable


@dataclass(frozen=True)
class Settings:
    table_name: str
    region: str
    task_ttl_seconds: int
    #: Only the API sends to the queue; the worker is triggered by it and never needs its URL.
    queue_url: str | None
    #: The region's shared circuit-breaker table; without it each container keeps its own.
    breaker_table_name: str | None = None
    breaker: BreakerSettings = field(default_factory=BreakerSettings)
    #: The queue's maxReceiveCount: on a record's last receive the worker marks its task FAILED.
    max_receive_count: int | None = None
    deadline_margin_s: float = DEFAULT_DEADLINE_MARGIN_MS / 1000
    replication_grace_s: int = DEFAULT_REPLICATION_GRACE_SECONDS
    #: How long after it is queued a task can still be processed (maxReceiveCount x the queue's
    #: visibility timeout + slack, from the components); a PENDING task reads FAILED after it.
    #: None: no window is written and a PENDING task reads PENDING until it expires.
    processing_window_s: int | None = None
    #: Whether tasks written before owners existed (no `owner` attribute) are readable by any
    #: authorized caller (TASK_LEGACY_UNOWNED_READABLE=true); by default nobody reads them.
    legacy_unowned_readable: bool = False

    def require_queue_url(self) -> str:
        if not self.queue_url:
            raise ConfigurationError(
                "QUEUE_URL", "is required: set it to the URL of this region's work queue"
            )
        return self.queue_url


def _required(environ: Mapping[str, str], name: str, what: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise ConfigurationError(name, f"is required: set it to {what}")
    return value


def _region(environ: Mapping[str, str]) -> str:
    # Lambda sets AWS_REGION itself; it decides which replica and which queue we talk to, and
    # it is written into every task id this region issues.
    region = _required(environ, "AWS_REGION", "the region this function runs in")
    if not REGION_PATTERN.match(region):
        raise ConfigurationError(
            "AWS_REGION", f"must be an AWS region name such as eu-west-1, got {region!r}"
        )
    return region


def _ttl_seconds(environ: Mapping[str, str]) -> int:
    raw = environ.get("TASK_TTL_SECONDS", "").strip()
    if not raw:
        return DEFAULT_TASK_TTL_SECONDS
    expected = (
        f"must be a whole number of seconds from {MIN_TASK_TTL_SECONDS} "
        f"to {MAX_TASK_TTL_SECONDS}, got {raw!r}"
    )
    try:
        seconds = int(raw)
    except ValueError:
        raise ConfigurationError("TASK_TTL_SECONDS", expected) from None
    if not MIN_TASK_TTL_SECONDS <= seconds <= MAX_TASK_TTL_SECONDS:
        raise ConfigurationError("TASK_TTL_SECONDS", expected)
    return seconds


def _whole(environ: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise ConfigurationError(
            name, f"must be a whole number from {low} to {high}, got {raw!r}; unset it for {default}"
        )
    return value


def legacy_unowned_readable(environ: Mapping[str, str] | None = None) -> bool:
    """TASK_LEGACY_UNOWNED_READABLE: true lets every authorized caller read the items written
    before owners existed; unset or false (the default) lets nobody read them."""
    env = os.environ if environ is None else environ
    try:
        return parse_flag(env.get(LEGACY_UNOWNED_READABLE_VARIABLE))
    except ValueError as error:
        raise ConfigurationError(LEGACY_UNOWNED_READABLE_VARIABLE, str(error)) from None


def _breaker(environ: Mapping[str, str]) -> BreakerSettings:
    raw_mode = environ.get("BREAKER_STORE_FAILURE", "").strip() or StoreFailureMode.MEMORY.value
    try:
        mode = StoreFailureMode(raw_mode)
    except ValueError:
        raise ConfigurationError(
            "BREAKER_STORE_FAILURE",
            f"must be one of {', '.join(mode.value for mode in StoreFailureMode)}, got {raw_mode!r}",
        ) from None
    open_seconds = _whole(environ, "BREAKER_OPEN_SECONDS", 10, 1, 3600)
    # The first trial of an outage comes after 1/32 of the longest open time (about 0.3 s at
    # the default 10 s), so a dependency that recovers within seconds is back in use quickly.
    min_open_ms = _whole(
        environ, "BREAKER_MIN_OPEN_MS", open_seconds * 1000 // 32, 10, open_seconds * 1000
    )
    return BreakerSettings(
        failure_threshold=_whole(environ, "BREAKER_FAILURE_THRESHOLD", 5, 1, 1000),
        open_seconds=float(open_seconds),
        probe_lease_seconds=float(_whole(environ, "BREAKER_PROBE_LEASE_SECONDS", 5, 1, 900)),
        on_store_failure=mode,
        min_open_seconds=min_open_ms / 1000,
    )


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and check the configuration (os.environ unless a mapping is given)."""
    env = os.environ if environ is None else environ
    return Settings(
        table_name=_required(env, "TABLE_NAME", "the name of the tasks DynamoDB table"),
        # Lambda sets AWS_REGION itself; it decides which replica and which queue we talk to.
        region=_region(env),
        task_ttl_seconds=_ttl_seconds(env),
        queue_url=env.get("QUEUE_URL", "").strip() or None,
        breaker_table_name=env.get("BREAKER_TABLE_NAME", "").strip() or None,
        breaker=_breaker(env),
        max_receive_count=_whole(env, "MAX_RECEIVE_COUNT", 0, 0, 1000) or None,
        deadline_margin_s=_whole(
            env, "DEADLINE_MARGIN_MS", DEFAULT_DEADLINE_MARGIN_MS, 50, 10_000
        )
        / 1000,
        replication_grace_s=_whole(
            env,
            "REPLICATION_GRACE_SECONDS",
            DEFAULT_REPLICATION_GRACE_SECONDS,
            1,
            MAX_REPLICATION_GRACE_SECONDS,
        ),
        processing_window_s=_whole(
            env, "TASK_PROCESSING_WINDOW_SECONDS", 0, 0, MAX_TASK_TTL_SECONDS
        )
        or None,
        legacy_unowned_readable=legacy_unowned_readable(env),
    )


def metrics_namespace(environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    return env.get("POWERTOOLS_METRICS_NAMESPACE", "").strip() or DEFAULT_METRICS_NAMESPACE
