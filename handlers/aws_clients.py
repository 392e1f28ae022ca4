"""boto3 clients, created once per container and reused across invocations.

Creating a client costs tens of milliseconds (endpoint and model loading), so each one is built
on first use and kept at module level. Every client gets explicit timeouts and makes exactly one
attempt per call: botocore's defaults (60 s connect, 60 s read, legacy retries) would let a
single slow call outlive API Gateway's 29 s integration timeout, and even a bounded botocore
retry budget cannot see how much time the invocation has left. Retries are made by
`deadlines.call_with_deadline`, which starts an attempt only when it can finish in time.

Timeouts shrink with the time left: a profile's timeouts are halved step by step (at most
`TIMEOUT_TIERS` clients per service, region and profile) until an attempt fits the deadline.

The endpoint can be redirected with botocore's standard AWS_ENDPOINT_URL variable (local
testing); nothing here special-cases it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

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


@dataclass(frozen=True)
class Timeouts:
    """The socket timeouts of one attempt; connect + read is the attempt's worst case."""

    connect_s: float
    read_s: float

    @property
    def worst_case_s(self) -> float:
        return self.connect_s + self.read_s


@dataclass(frozen=True)
class CallPolicy:
    """How many attempts a profile may make and how long each may take at most."""

    timeouts: Timeouts
    max_attempts: int
    #: Full-jitter exponential backoff between attempts: base * 2**n, capped.
    backoff_base_s: float = 0.05
    backoff_cap_s: float = 1.0


#: How many times a profile's timeouts may be halved to fit a short deadline. Below the last
#: tier an attempt has too little time to be worth starting (a TLS handshake alone takes tens
#: of milliseconds).
TIMEOUT_TIERS: Final[int] = 4

_POLICIES: dict[CallProfile, CallPolicy] = {
    # Worst case 3 attempts x (1 s connect + 2 s read) plus backoff: about 10 s, and the
    # deadline cuts it shorter whenever the invocation has less time left.
    CallProfile.REQUEST: CallPolicy(Timeouts(1.0, 2.0), max_attempts=3),
    # More patience per call means fewer records failed (and redelivered) by a brief throttle.
    CallProfile.BACKGROUND: CallPolicy(Timeouts(2.0, 5.0), max_attempts=5),
    # A dependency that needs a retry to answer is exactly what the check should report, and
    # the checker must get its answer in time: one attempt, short waits.
    CallProfile.HEALTH: CallPolicy(Timeouts(0.5, 1.0), max_attempts=1),
}


def policy_for(profile: CallProfile) -> CallPolicy:
    """The attempt budget and the largest timeouts of a profile."""
    return _POLICIES[profile]


def timeout_tiers(profile: CallProfile) -> tuple[Timeouts, ...]:
    """The profile's timeouts, then halved TIMEOUT_TIERS - 1 times: the only ones clients use."""
    full = _POLICIES[profile].timeouts
    return tuple(
        Timeouts(full.connect_s / 2**step, full.read_s / 2**step) for step in range(TIMEOUT_TIERS)
    )


def _config(timeouts: Timeouts) -> Config:
    # One attempt per botocore call: retries are made by deadlines.call_with_deadline, which
    # knows the time left. The standard mode is kept explicit for its error classification.
    return Config(
        connect_timeout=timeouts.connect_s,
        read_timeout=timeouts.read_s,
        retries={"mode": "standard", "total_max_attempts": 1},
    )


def config_for(profile: CallProfile) -> Config:
    """The botocore settings a profile's clients use when the deadline leaves room for them."""
    return _config(_POLICIES[profile].timeouts)


_session: boto3.session.Session | None = None
_clients: dict[tuple[str, str, CallProfile, Timeouts], Any] = {}
# Building a session or a client is not thread-safe, and the health check asks for clients
# from two threads at once.
_lock = threading.Lock()
#: Called with every client built (failure injection registers its botocore hooks here).
_client_hooks: list[Any] = []


def add_client_hook(hook: Any) -> None:
    """Call `hook(client, service)` on every client built from now on."""
    with _lock:
        _client_hooks.append(hook)


def client(
    service: str, region: str, profile: CallProfile, timeouts: Timeouts | None = None
) -> Any:
    """The container's client for this service, region, profile and timeout tier."""
    chosen = timeouts or _POLICIES[profile].timeouts
    key = (service, region, profile, chosen)
    existing = _clients.get(key)
    if existing is not None:
        return existing
    with _lock:
        existing = _clients.get(key)
        if existing is not None:
            return existing
        global _session
        if _session is None:
            # One session per container: building one loads credentials and endpoint data.
            _session = boto3.session.Session()
        created = _session.client(service, region_name=region, config=_config(chosen))
        for hook in _client_hooks:
            hook(created, service)
        _clients[key] = created
        return created


def reset_clients() -> None:
    """Forget every cached client and the session (for tests that switch endpoints or mocks)."""
    global _session
    with _lock:
        _clients.clear()
        _client_hooks.clear()
        _session = None
