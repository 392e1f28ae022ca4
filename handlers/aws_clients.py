"""boto3 clients, created once per container and reused across invocations.

Creating a client costs tens of milliseconds (endpoint and model loading), so each one is built
on first use and kept at module level. Every client gets explicit timeouts and makes exactly one
attempt per call: botocore's defaults (60 s connect, 60 s read, legacy retries) would let a
single slow call outlive API Gateway's 29 s integration timeout, and even a bounded botocore
retry budget cannot see how much time the invocation has left. Retries are made by
`deadlines.call_with_deadline`, which starts an attempt only when it can finish in time.

Timeouts shrink with the time left: a profile's timeouts are halved step by step (at most
`TIMEOUT_TIERS` clients per service, region and profile) until an attempt fits the deadline.

Timeouts bound each socket operation, not the attempt: an answer that trickles in a byte at a
time never lets a read time out and can outlive every deadline. So each attempt is also bounded
in total, by its connect + read timeouts counted from the moment botocore built the request:
past that, a watchdog shuts the attempt's socket down and the call fails with `AttemptCutOff`
(a ReadTimeoutError: transient, retried while the deadline allows).

The endpoint can be redirected with botocore's standard AWS_ENDPOINT_URL variable (local
testing); nothing here special-cases it.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import socket
import threading
import time
from contextlib import suppress
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

import boto3
from botocore.awsrequest import (
    AWSHTTPConnection,
    AWSHTTPConnectionPool,
    AWSHTTPSConnection,
    AWSHTTPSConnectionPool,
)
from botocore.config import Config
from botocore.exceptions import ReadTimeoutError
from botocore.httpsession import URLLib3Session


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


#: The one thread that cuts attempts off at their bound, shared by every client and call.
WATCHDOG_THREAD_NAME: Final[str] = "aws-attempt-watchdog"

_log = logging.getLogger(__name__)


class AttemptCutOff(ReadTimeoutError):
    """The attempt was still running at its total bound; its connection was shut down.

    A ReadTimeoutError, so botocore, the retries and the circuit breaker treat it as the
    timeout it is. The request may have been applied (only the answer was late).
    """

    fmt = (
        'Attempt on endpoint URL "{endpoint_url}" cut off after {bound_s:.3f} s (its connect '
        "+ read timeouts) with the answer still arriving"
    )


def _duplicate(sock: Any) -> socket.socket | None:
    """A second descriptor for the connection under `sock` (a TLS socket too), or None.

    Shutting the connection down through our own descriptor wakes the thread blocked on the
    original, and it stays safe however that thread closes the original: ours cannot be
    reused for another connection until we close it ourselves.
    """
    try:
        descriptor = os.dup(sock.fileno())
    except (OSError, AttributeError, ValueError):  # already closed: nothing left to wake
        return None
    try:
        return socket.socket(fileno=descriptor)
    except OSError:
        os.close(descriptor)
        return None


def _shut_down(duplicate: socket.socket) -> None:
    # shutdown() acts on the connection, not the descriptor: the blocked read (of the status
    # line, the headers or the body) sees end-of-stream and fails at once.
    with suppress(OSError):
        duplicate.shutdown(socket.SHUT_RDWR)


class _InFlight:
    """One attempt's send: the connections it used, and whether its bound passed first."""

    def __init__(self, ends_at: float) -> None:
        self.ends_at = ends_at
        self._lock = threading.Lock()
        self._duplicates: list[socket.socket] = []
        self._finished = False
        self._cut = False

    def use(self, sock: Any) -> None:
        with self._lock:
            if self._finished:
                return
            duplicate = _duplicate(sock)
            if duplicate is None:
                return
            self._duplicates.append(duplicate)
            if self._cut:
                _shut_down(duplicate)  # connected after the bound passed: fails at once

    def cut_off(self) -> None:
        with self._lock:
            if self._finished:
                return
            self._cut = True
            for duplicate in self._duplicates:
                _shut_down(duplicate)

    def finish(self) -> bool:
        """Stop watching (the connections go back to the pool); True if it was cut off."""
        with self._lock:
            self._finished = True
            for duplicate in self._duplicates:
                duplicate.close()
            self._duplicates.clear()
            return self._cut


class _Watchdog:
    """Cuts attempts off at their bound. One daemon thread for the whole container, started on
    first use, rather than a timer thread per call; Lambda freezes it with the process."""

    def __init__(self) -> None:
        self._wakeup = threading.Condition()
        self._due: list[tuple[float, int, _InFlight]] = []
        self._order = itertools.count()  # ties on ends_at never compare _InFlight objects
        self._thread: threading.Thread | None = None

    def watch(self, in_flight: _InFlight) -> None:
        with self._wakeup:
            heapq.heappush(self._due, (in_flight.ends_at, next(self._order), in_flight))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name=WATCHDOG_THREAD_NAME, daemon=True
                )
                self._thread.start()
            elif self._due[0][2] is in_flight:
                self._wakeup.notify()  # due before whatever the thread is waiting for

    def _run(self) -> None:
        while True:
            with self._wakeup:
                while not self._due:
                    self._wakeup.wait()
                wait_s = self._due[0][0] - time.monotonic()
                if wait_s > 0:
                    self._wakeup.wait(wait_s)
                    continue
                _, _, in_flight = heapq.heappop(self._due)
            # Finished attempts are dropped here, when due, rather than searched for on finish.
            in_flight.cut_off()


_watchdog = _Watchdog()
#: The attempt running on this thread: when botocore built its request, and its send.
_attempt = threading.local()


def _stamp_attempt_start(**kwargs: Any) -> None:
    # "request-created" comes once per attempt, before signing and the before-send hooks, so
    # the time they take (failure injection's latency) counts against the attempt's bound.
    _attempt.started = time.monotonic()


def _use_socket(sock: Any) -> None:
    in_flight: _InFlight | None = getattr(_attempt, "in_flight", None)
    if in_flight is not None and sock is not None:
        in_flight.use(sock)


class _WatchedConnection:
    """Hands every socket it sends on to the attempt running on this thread (urllib3 runs a
    request on its caller's thread), whether freshly connected or reused from the pool.

    Connecting needs no watch: the TCP connect is one wait of at most the connect timeout,
    and Python bounds a whole TLS handshake by the socket's timeout (not each read of it).
    """

    sock: Any

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        _use_socket(self.sock)

    def request(self, *args: Any, **kwargs: Any) -> Any:
        _use_socket(self.sock)
        return super().request(*args, **kwargs)  # type: ignore[misc]


class _WatchedHTTPConnection(_WatchedConnection, AWSHTTPConnection):
    pass


class _WatchedHTTPSConnection(_WatchedConnection, AWSHTTPSConnection):
    pass


class _WatchedHTTPConnectionPool(AWSHTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSConnectionPool(AWSHTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class _BoundedSession:
    """The endpoint's own HTTP session (its TLS, proxy and pool settings kept), each send cut
    off at the attempt's bound. The whole answer is read inside send() for these services
    (no streamed bodies), so the bound covers connect, request, headers and body."""

    def __init__(self, inner: URLLib3Session, bound_s: float) -> None:
        self._inner = inner
        self._bound_s = bound_s

    def send(self, request: Any) -> Any:
        started = getattr(_attempt, "started", None)
        _attempt.started = None
        in_flight = _InFlight((time.monotonic() if started is None else started) + self._bound_s)
        if in_flight.ends_at <= time.monotonic():
            # The hooks before the send used the attempt's time up: nothing is sent.
            raise AttemptCutOff(endpoint_url=request.url, bound_s=self._bound_s)
        _watchdog.watch(in_flight)
        _attempt.in_flight = in_flight
        try:
            response = self._inner.send(request)
        except Exception as error:
            if in_flight.finish():
                raise AttemptCutOff(endpoint_url=request.url, bound_s=self._bound_s) from error
            raise
        finally:
            _attempt.in_flight = None
        if in_flight.finish():
            # Read to the end, but possibly the end the shutdown made: not an answer to trust.
            raise AttemptCutOff(endpoint_url=request.url, bound_s=self._bound_s)
        return response

    def close(self) -> None:
        self._inner.close()


def _bound_attempts(created: Any, service: str, timeouts: Timeouts) -> None:
    """Bound every attempt of `created` in total by `timeouts.worst_case_s`.

    Done below botocore's hooks, at the HTTP session, because a before-send hook that sent the
    request itself could not see an earlier hook's answer (botocore calls every before-send
    handler): failure injection's injected error would be sent for real as well. botocore
    offers no public way to give a client its own session, hence its endpoint's attribute.
    """
    endpoint = getattr(created, "_endpoint", None)
    inner = getattr(endpoint, "http_session", None)
    pools = getattr(inner, "_pool_classes_by_scheme", None)
    if endpoint is None or not isinstance(inner, URLLib3Session) or not isinstance(pools, dict):
        # A botocore whose internals moved: keep the per-read timeouts rather than fail every
        # call of the function; the tests of this module pin the bound on the version we ship.
        _log.warning(
            "%s client: botocore has no endpoint HTTP session to wrap here, so its attempts "
            "are bounded by per-read timeouts only",
            service,
        )
        return
    # The pool manager shares this dict and builds its pools on first use: set it before that.
    pools["http"] = _WatchedHTTPConnectionPool
    pools["https"] = _WatchedHTTPSConnectionPool
    endpoint.http_session = _BoundedSession(inner, timeouts.worst_case_s)
    service_id = created.meta.service_model.service_id.hyphenize()
    created.meta.events.register_first(f"request-created.{service_id}", _stamp_attempt_start)


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
        _bound_attempts(created, service, chosen)
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
