"""boto3 clients, created once per container and reused across invocations.

Creating a client costs tens of milliseconds (endpoint and model loading), so each one is built
on first use and kept at module level. Every client gets explicit timeouts and a bounded retry
budget: botocore's defaults (60 s connect, 60 s read, legacy retries) would let a single slow
call outlive API Gateway's 29 s integration timeout.

The endpoint can be redirected with botocore's standard AWS_ENDPOINT_URL variable (local
testing); nothing here special-cases it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import boto3
from botocore.config import Config


class CallProfile(StrEnum):
    """How patient a caller can afford to be."""

    #: The API answers a waiting client behind a 29 s integration timeout.
    REQUEST = "request"
    #: The worker has a longer timeout and a redelivery behind it.
    BACKGROUND = "background"
    #: A Route53 health checker waits a couple of seconds for the answer.
    HEALTH = "health"


_CONFIGS: dict[CallProfile, Config] = {
    # Worst case 3 attempts x (1 s connect + 2 s read) plus backoff: about 10 s, well inside 29 s.
    CallProfile.REQUEST: Config(
        connect_timeout=1.0,
        read_timeout=2.0,
        retries={"mode": "standard", "total_max_attempts": 3},
    ),
    # More patience per call means fewer records failed (and redelivered) by a brief throttle.
    CallProfile.BACKGROUND: Config(
        connect_timeout=2.0,
        read_timeout=5.0,
        retries={"mode": "standard", "total_max_attempts": 5},
    ),
    # A dependency that needs a retry to answer is exactly what the check should report, and
    # the checker must get its answer in time: one attempt, short waits.
    CallProfile.HEALTH: Config(
        connect_timeout=0.5,
        read_timeout=1.0,
        retries={"mode": "standard", "total_max_attempts": 1},
    ),
}


def config_for(profile: CallProfile) -> Config:
    """The botocore settings (timeouts, retries) a profile's clients use."""
    return _CONFIGS[profile]


_session: boto3.session.Session | None = None
_clients: dict[tuple[str, str, CallProfile], Any] = {}


def client(service: str, region: str, profile: CallProfile) -> Any:
    """The container's client for this service, region and call profile."""
    key = (service, region, profile)
    existing = _clients.get(key)
    if existing is not None:
        return existing
    global _session
    if _session is None:
        # One session per container: building one loads credentials and endpoint data.
        _session = boto3.session.Session()
    created = _session.client(service, region_name=region, config=_CONFIGS[profile])
    _clients[key] = created
    return created


def reset_clients() -> None:
    """Forget every cached client and the session (for tests that switch endpoints or mocks)."""
    global _session
    _clients.clear()
    _session = None
