"""The handlers' configuration, read from the environment the components set.

Read on use rather than at import: a missing variable then fails the request (or the health
check) with an error that names it, instead of an import error that hides the name in an
INIT failure.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

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


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and check the configuration (os.environ unless a mapping is given)."""
    env = os.environ if environ is None else environ
    return Settings(
        table_name=_required(env, "TABLE_NAME", "the name of the tasks DynamoDB table"),
        # Lambda sets AWS_REGION itself; it decides which replica and which queue we talk to.
        region=_required(env, "AWS_REGION", "the region this function runs in"),
        task_ttl_seconds=_ttl_seconds(env),
        queue_url=env.get("QUEUE_URL", "").strip() or None,
    )


def metrics_namespace(environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    return env.get("POWERTOOLS_METRICS_NAMESPACE", "").strip() or DEFAULT_METRICS_NAMESPACE
