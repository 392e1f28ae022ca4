"""Deadlines: every downstream call fits in the time the invocation has left.

Lambda stops an invocation at its timeout without running any more of our code, and API Gateway
answers 504 at its integration timeout: a call that is still running then leaves no trace of
what it did (a worker record neither reported nor failed, a client told nothing). So the time
left, minus a margin kept for answering, is the budget every call shares:

- an attempt starts only with timeouts that fit the time left (the profile's timeouts halved
  until they do, see `aws_clients.timeout_tiers`); when even the smallest does not fit, the call
  is not started and `DeadlineExceeded` says so;
- a retry starts only when its backoff plus a whole attempt still fit;
- each attempt is bounded in total by its connect + read timeouts, however the answer arrives
  (`aws_clients.AttemptCutOff`), so an attempt started in time also ends in time;
- `DeadlineExceeded` is what callers turn into a 503 with Retry-After (API) or a failed record
  (worker), while there is still time to say it.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Protocol, TypeVar

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    ConnectTimeoutError,
    HTTPClientError,
    ReadTimeoutError,
)

from aws_clients import (
    AttemptCutOff,
    CallPolicy,
    CallProfile,
    Timeouts,
    policy_for,
    timeout_tiers,
)
from circuit_breaker import CircuitOpenError

T = TypeVar("T")

#: Error codes that say the service is overloaded or failing, not that the request is wrong:
#: worth a retry, and what a circuit breaker counts.
RETRYABLE_CODES: Final[frozenset[str]] = frozenset(
    {
        "InternalServerError",
        "InternalFailure",
        "InternalError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "TransactionInProgressException",
        # A strongly consistent (MRSC) table refuses a write to an item another region is
        # modifying; AWS documents it as retryable, so it is ridden out like a throttle.
        "ReplicatedWriteConflictException",
        "SlowDown",
        "RequestTimeout",
        "RequestTimeoutException",
        "LimitExceededException",
        "KMSThrottlingException",
        "AWS.SimpleQueueService.InternalError",
    }
)


#: The longest pause between two rounds of `call_until_deadline`: what a recovered dependency
#: may wait before it is used again (the breaker's default open time).
ROUND_PAUSE_CAP_S: Final[float] = 10.0


class DeadlineExceeded(Exception):
    """Not enough time left to start (or retry) a call; nothing more was attempted.

    `cut_off` says the last attempt ran out its whole bound (an answer still arriving) before
    the time left became too short for another: it may have been applied.
    """

    def __init__(
        self, dependency: str, operation: str, remaining_s: float, *, cut_off: bool = False
    ) -> None:
        self.dependency = dependency
        self.operation = operation
        self.remaining_s = remaining_s
        self.cut_off = cut_off
        left = f"{max(remaining_s, 0.0):.3f} s left before the invocation's deadline"
        super().__init__(
            f"{dependency} {operation}: its attempt was cut off at its time bound, and {left} "
            "leaves no room for another"
            if cut_off
            else f"{dependency} {operation} not attempted: {left}"
        )


class RemainingTime(Protocol):
    """What the Lambda context offers (and a test's fake context imitates)."""

    def get_remaining_time_in_millis(self) -> int: ...


@dataclass(frozen=True)
class Deadline:
    """The moment by which the invocation must have answered, as a source of time left.

    Backed by the Lambda context, so the time left is Lambda's own count (a fake context in
    tests runs it down as it likes); `margin_s` is kept back for answering after a call gives up.
    """

    remaining_fn: Callable[[], float]
    margin_s: float = 0.0

    @classmethod
    def from_context(cls, context: RemainingTime | None, margin_s: float) -> Deadline:
        if context is None or not hasattr(context, "get_remaining_time_in_millis"):
            # Outside Lambda (scripts, the drills' direct calls): no deadline but the margin's.
            return cls.unbounded()
        return cls(lambda: context.get_remaining_time_in_millis() / 1000.0, margin_s)

    @classmethod
    def after(cls, seconds: float, clock: Callable[[], float] = time.monotonic) -> Deadline:
        end = clock() + seconds
        return cls(lambda: end - clock())

    @classmethod
    def unbounded(cls) -> Deadline:
        return cls(lambda: float("inf"))

    def remaining(self) -> float:
        """Seconds left for calls (the margin already taken off)."""
        return self.remaining_fn() - self.margin_s

    def reserve(self, seconds: float) -> Deadline:
        """A deadline `seconds` earlier: what a step may use while leaving room for the next."""
        return Deadline(self.remaining_fn, self.margin_s + seconds)

    def expired(self) -> bool:
        return self.remaining() <= 0


def fitting_timeouts(profile: CallProfile, remaining_s: float) -> Timeouts | None:
    """The largest timeout tier whose worst case fits in `remaining_s`, or None."""
    for timeouts in timeout_tiers(profile):
        if timeouts.worst_case_s <= remaining_s:
            return timeouts
    return None


def error_code(error: BaseException) -> str:
    """The AWS error code of a ClientError, else the exception's class name."""
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code") or "ClientError")
    return type(error).__name__


def is_transient(error: BaseException) -> bool:
    """A failure of the dependency (timeout, connection, 5xx, throttle), not of the request.

    These are retried and counted by the circuit breaker; a ConditionalCheckFailed or a
    validation error is an answer from a working dependency.
    """
    if isinstance(error, ReadTimeoutError | ConnectTimeoutError | ConnectionError):
        return True
    if isinstance(error, HTTPClientError):
        return True
    if isinstance(error, ClientError):
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        return error_code(error) in RETRYABLE_CODES or status >= 500 or status == 429
    return isinstance(error, TimeoutError | OSError)


def backoff_s(attempt: int, policy: CallPolicy, rng: Callable[[], float] = random.random) -> float:
    """Full-jitter exponential backoff before attempt `attempt + 1` (attempt counts from 0)."""
    return rng() * min(policy.backoff_cap_s, policy.backoff_base_s * 2**attempt)


class Guard(Protocol):
    """What a circuit breaker offers a call: admit it, then learn how it went."""

    def admit(self, deadline: Deadline) -> Any:
        """Admit one attempt or raise; its own bookkeeping must fit in `deadline`."""
        ...

    def succeeded(self, permit: Any) -> None: ...

    def failed(self, permit: Any, error: BaseException) -> None: ...

    def released(self, permit: Any) -> None: ...


def call_with_deadline(
    dependency: str,
    operation: str,
    attempt: Callable[[Timeouts], T],
    *,
    profile: CallProfile,
    deadline: Deadline,
    guard: Guard | None = None,
    sleep: Callable[[float], None] = time.sleep,
    rng: Callable[[], float] = random.random,
) -> T:
    """Run `attempt(timeouts)` until it succeeds, fails for good, or time runs out.

    Each attempt passes through `guard` (a circuit breaker), which may refuse it (its exception
    propagates: fail fast) and learns whether it succeeded. Only transient failures are retried,
    and only when the backoff plus a whole attempt still fit before the deadline.
    Raises the last error, or DeadlineExceeded when not even the first attempt could start.
    """
    policy = policy_for(profile)
    for number in range(policy.max_attempts):
        timeouts = fitting_timeouts(profile, deadline.remaining())
        if timeouts is None:
            raise DeadlineExceeded(dependency, operation, deadline.remaining())
        permit = None
        if guard is not None:
            # The guard decides first, within what leaves the smallest attempt its time; the
            # attempt then gets the largest timeouts that fit what the decision left.
            smallest_attempt = timeout_tiers(profile)[-1]
            permit = guard.admit(deadline.reserve(smallest_attempt.worst_case_s))
            timeouts = fitting_timeouts(profile, deadline.remaining()) or smallest_attempt
        try:
            result = attempt(timeouts)
        except (ClientError, BotoCoreError, OSError) as error:
            transient = is_transient(error)
            if guard is not None:
                if transient:
                    guard.failed(permit, error)
                else:
                    guard.succeeded(permit)
            if not transient or number + 1 >= policy.max_attempts:
                raise
            delay = backoff_s(number, policy, rng)
            smallest = timeout_tiers(profile)[-1].worst_case_s
            if deadline.remaining() < delay + smallest:
                # The retry could not finish: give up now, while there is time to answer.
                if isinstance(error, AttemptCutOff):
                    # What ran out is the invocation's time, not the dependency's answer.
                    raise DeadlineExceeded(
                        dependency, operation, deadline.remaining(), cut_off=True
                    ) from error
                raise
            sleep(delay)
            continue
        except BaseException:
            if guard is not None:
                guard.released(permit)
            raise
        if guard is not None:
            guard.succeeded(permit)
        return result
    raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover


def call_until_deadline(
    dependency: str,
    operation: str,
    attempt: Callable[[Timeouts], T],
    *,
    profile: CallProfile,
    deadline: Deadline,
    guard: Guard | None = None,
    sleep: Callable[[float], None] = time.sleep,
    rng: Callable[[], float] = random.random,
) -> T:
    """`call_with_deadline` again and again, until it succeeds, fails for good, or the time
    left cannot fit a pause and another attempt.

    For a caller nobody is waiting on, whose failure costs more than its waiting: a stream
    consumer's failed record is retried by Lambda within seconds, so a short outage would
    use up the mapping's retries and skip the record. An open circuit is waited out (until
    its trial may run) instead of failed fast, so the breaker still spares the dependency.
    After each round of transient failures the pause doubles, from the profile's longest
    backoff up to ROUND_PAUSE_CAP_S, with jitter: a throttle does not open the breaker, and
    backing off is what relieves it. Raises the last error when time runs out (or, with no
    deadline at all, after one round: without a bound there is no time to ride out in).
    """
    policy = policy_for(profile)
    smallest = timeout_tiers(profile)[-1].worst_case_s
    rounds = 0
    last: Exception
    while True:
        try:
            return call_with_deadline(
                dependency,
                operation,
                attempt,
                profile=profile,
                deadline=deadline,
                guard=guard,
                sleep=sleep,
                rng=rng,
            )
        except CircuitOpenError as error:
            # At least the shortest backoff: a trial held by another caller reports 0 s.
            pause_s, last = max(error.retry_after_s, policy.backoff_base_s), error
        except (ClientError, BotoCoreError, OSError) as error:
            if not is_transient(error):
                raise
            ceiling = min(policy.backoff_cap_s * 2**rounds, ROUND_PAUSE_CAP_S)
            # Half of it at least, so a round never follows at once; the rest jittered, so
            # shards and containers throttled together do not come back in step.
            pause_s, last = ceiling * (0.5 + rng() / 2), error
            rounds += 1
        remaining = deadline.remaining()
        if math.isinf(remaining) or remaining < pause_s + smallest:
            raise last
        sleep(pause_s)
