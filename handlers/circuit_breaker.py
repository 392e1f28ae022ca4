"""A circuit breaker for every downstream call, with its state in memory or in DynamoDB.

    CLOSED --X consecutive failures--> OPEN --open time--> HALF_OPEN (one trial call)
       ^                                 ^                      |
       +------------ trial succeeds -----|---- trial fails -----+

While OPEN every call fails fast (`CircuitOpenError`, with the seconds until a trial may run).
After the open time exactly one caller gets the trial ("probe"); the others keep failing fast
until it reports. A trial that never reports (its container died, its invocation timed out)
holds a lease that expires, after which another caller may probe.

What counts as a failure (`counts_against_dependency`): what says the dependency itself is
failing - 5xx, timeouts, connection errors, and throttles whose reasons say the whole table,
index or account is out of capacity. One key's contention (a hot partition's throttle, another
transaction on the same item) is still retried, but it is an answer from a working dependency:
counting it would let one hot item open the breaker for every other caller of the region.

Open time adapts to how long the outage has lasted (`BreakerSettings.open_for`): the first
trial comes `min_open_seconds` after the circuit opens, later ones after a tenth of the outage
so far, never more than `open_seconds` apart. A short outage is noticed to be over within a
fraction of a second, which is what keeps a flapping dependency's healthy phases usable (a fixed
10 s would stay open through them); a long one costs one trial call every `open_seconds`. A
gradual half-open (a growing share of calls after a good trial) was not chosen: the traffic a
flapping dependency loses is lost before the first trial, not after it.

Two stores behind one interface (`BreakerStore`):

- `MemoryBreakerStore`: per container. Needs nothing, but each container has to see X failures
  before it stops calling, and every new container calls the broken dependency again.
- `DynamoDBBreakerStore`: one item per breaker in a regional table shared by every container.
  Every transition is a conditional write, and the half-open trial is claimed by a conditional
  write of a lease, so across all containers exactly one caller probes per half-open window.
  Reads are cached for `cache_s` while CLOSED; while OPEN nothing is read until a trial is due.
  Each request to the table gets a share of the time the caller has left
  (`STORE_BUDGET_SHARE`), so a slow table is waited for when the caller can afford it. With too
  little time to ask (`BreakerStoreNotAsked`), the state last read decides, and a trial that
  falls due is left to a caller with time: still one trial per half-open window.

When the store cannot answer in time (`StoreFailureMode`), the container decides alone for
`STORE_RETRY_S` from what it last knew; never from nothing as if the circuit were closed:

- `memory` (default): the container's own breaker, starting from the state last read from the
  store; a container that never read it admits one trial at a time until one succeeds.
- `allow`: let the call through (the breaker protects nothing while its store is down).
- `deny`: let calls through only while the last state known is CLOSED (and this container's own
  count has not tripped since); refuse them with no knowledge or a circuit known not closed.

Clocks: the stores take `now` (epoch seconds) from the breaker's clock. Across containers the
DynamoDB store compares wall-clock times written by different machines; Lambda hosts are kept
in sync by NTP, far closer than the times the breaker works with.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Final, Protocol

from botocore.exceptions import BotoCoreError, ClientError

#: How long a breaker item is kept after its last change (DynamoDB TTL): a breaker nobody
#: used for a day starts CLOSED again.
ITEM_TTL_S: Final[int] = 24 * 3600
#: After a failed trial the circuit stays open for this share of the outage so far: recovery
#: is noticed within a tenth of the outage's length (bounded by the settings' open times).
OUTAGE_SHARE: Final[float] = 0.1
#: The share of the time a caller has left (after its attempt's worst case) that one request to
#: the breaker table may take; the rest stays for retries and for answering.
STORE_BUDGET_SHARE: Final[float] = 0.5
#: After its store failed, a container decides alone this long before asking it again: a store
#: that is down costs one timeout per second per container, not one per call.
STORE_RETRY_S: Final[float] = 1.0

#: DynamoDB throttling reasons are ResourceType + OperationType + LimitType, e.g.
#: "TableWriteKeyRangeThroughputExceeded" (botocore's dynamodb 2012-08-10 service model, shape
#: `ThrottlingReason`: `reason` and the table or index ARN `resource`). Only this limit type is
#: one key's: the partition behind a key range is at its limit while the rest of the table
#: serves. The others say every caller is throttled: the table's or index's provisioned
#: (`ProvisionedThroughputExceeded`) or configured on-demand maximum
#: (`MaxOnDemandThroughputExceeded`) throughput, or the account's per-table quota
#: (`AccountLimitExceeded`).
HOT_KEY_LIMIT: Final[str] = "KeyRangeThroughputExceeded"
#: Where botocore puts the parsed list: the modeled error's member, at the top of the error
#: response. It is `ThrottlingReasons` on ProvisionedThroughputExceededException and
#: RequestLimitExceeded, `throttlingReasons` on ThrottlingException.
_REASON_FIELDS: Final[tuple[str, ...]] = ("ThrottlingReasons", "throttlingReasons")
#: Throttles that name no scope: without a reason that says otherwise they are taken as one
#: key's (the table answered; backoff is the remedy, and a wrong trip takes every caller down).
_THROTTLE_CODES: Final[frozenset[str]] = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "SlowDown",
    }
)
#: Another transaction, or (on a strongly consistent global table) another region, is writing
#: the same item: contention on one key, not a failing table.
_CONTENTION_CODES: Final[frozenset[str]] = frozenset(
    {"TransactionInProgressException", "ReplicatedWriteConflictException"}
)


def _throttling_reasons(error: ClientError) -> list[str]:
    for name in _REASON_FIELDS:
        listed = error.response.get(name)
        if isinstance(listed, list):
            return [str(entry.get("reason", "")) for entry in listed if isinstance(entry, dict)]
    return []


def counts_against_dependency(error: BaseException) -> bool:
    """Whether a transient failure says the dependency is failing (the breaker counts it) or
    only that one key is contended (retried, but an answer from a working dependency)."""
    if not isinstance(error, ClientError):
        return True  # timeouts, connection errors: nothing answered
    reasons = _throttling_reasons(error)
    if reasons:
        return any(not reason.endswith(HOT_KEY_LIMIT) for reason in reasons)
    code = str(error.response.get("Error", {}).get("Code") or "")
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    if code in _CONTENTION_CODES or code in _THROTTLE_CODES:
        return False
    # RequestLimitExceeded (the account's quota), 5xx: the service itself is the limit.
    return status != 429


class BreakerState(StrEnum):
    CLOSED = "CLOSED"
    OPEN = "OPEN"
    HALF_OPEN = "HALF_OPEN"


class StoreFailureMode(StrEnum):
    """What a breaker does when its shared store cannot be read or written in time."""

    #: Use this container's in-memory breaker, from the state last known, until the store
    #: answers again; with nothing known, one trial at a time until one succeeds.
    MEMORY = "memory"
    #: Let the call through (the breaker protects nothing while its store is down).
    ALLOW = "allow"
    #: Let the call through only while the last state known is CLOSED; refuse it otherwise.
    DENY = "deny"


class BreakerEvent(StrEnum):
    """Transitions and decisions, reported to `CircuitBreaker.on_event` (and so to metrics)."""

    OPENED = "Opened"
    PROBE_STARTED = "ProbeStarted"
    CLOSED = "Closed"
    REJECTED = "Rejected"
    STORE_FAILED = "StoreFailed"


@dataclass(frozen=True)
class BreakerSettings:
    #: X: consecutive failures (errors or timeouts) that open the circuit.
    failure_threshold: int = 5
    #: The longest the circuit stays open before a trial (all of it when min_open_seconds is
    #: None: a fixed open time).
    open_seconds: float = 10.0
    #: How long a trial may take before another caller may try: longer than one call can last.
    probe_lease_seconds: float = 5.0
    on_store_failure: StoreFailureMode = StoreFailureMode.MEMORY
    #: The open time after the circuit opens; later ones grow with the outage (`open_for`).
    min_open_seconds: float | None = None

    def __post_init__(self) -> None:
        if self.failure_threshold < 1:
            raise ValueError("BreakerSettings.failure_threshold: must be at least 1.")
        if self.open_seconds <= 0 or self.probe_lease_seconds <= 0:
            raise ValueError("BreakerSettings: open_seconds and probe_lease_seconds must be > 0.")
        if self.min_open_seconds is not None and not (
            0 < self.min_open_seconds <= self.open_seconds
        ):
            raise ValueError(
                "BreakerSettings.min_open_seconds: must be > 0 and at most open_seconds "
                f"({self.open_seconds}), got {self.min_open_seconds}; None for a fixed open time."
            )

    def open_for(self, outage_s: float) -> float:
        """How long the circuit stays open `outage_s` seconds after it opened."""
        if self.min_open_seconds is None:
            return self.open_seconds
        return min(self.open_seconds, max(self.min_open_seconds, OUTAGE_SHARE * outage_s))


class CircuitOpenError(Exception):
    """The circuit is open: the call was not made."""

    def __init__(self, name: str, retry_after_s: float) -> None:
        self.name = name
        self.dependency = name
        self.retry_after_s = max(retry_after_s, 0.0)
        super().__init__(
            f"circuit for {name} is open: not called; retry in {self.retry_after_s:.1f} s"
        )


class BreakerStoreError(Exception):
    """The breaker's own store failed or could not be asked in time (wraps the cause)."""


class BreakerStoreNotAsked(BreakerStoreError):
    """The caller had too little time left to ask the store: nothing says it is failing."""


class Budget(Protocol):
    """The time a caller has left (`deadlines.Deadline`)."""

    def remaining(self) -> float: ...


@dataclass(frozen=True)
class Permit:
    """A call the breaker let through; `probe` marks the half-open trial, `owner` its lease."""

    name: str
    probe: bool = False
    owner: str | None = None
    #: The store that admitted it (the fallback memory store when the shared store failed).
    store: BreakerStore | None = None
    #: The caller's time, which also bounds reporting the outcome to the store.
    budget: Budget | None = None


@dataclass(frozen=True)
class Admission:
    allowed: bool
    probe: bool = False
    retry_after_s: float = 0.0
    events: tuple[BreakerEvent, ...] = ()


@dataclass
class BreakerRecord:
    """One breaker's state as a store keeps it."""

    state: BreakerState = BreakerState.CLOSED
    failures: int = 0
    #: When the circuit last opened from CLOSED: the start of the current outage.
    opened_at: float = 0.0
    open_until: float = 0.0
    lease_owner: str | None = None
    lease_until: float = 0.0


class BreakerStore(Protocol):
    def admit(
        self,
        name: str,
        now: float,
        settings: BreakerSettings,
        owner: str,
        budget_s: float = math.inf,
    ) -> Admission:
        """Decide whether a call may run; claims the trial lease as `owner` when it is due.
        Raises BreakerStoreError when the store cannot answer within `budget_s` seconds."""
        ...

    def record(
        self,
        name: str,
        now: float,
        settings: BreakerSettings,
        success: bool,
        permit: Permit,
        budget_s: float = math.inf,
    ) -> tuple[BreakerEvent, ...]:
        """Learn a call's outcome; returns the transitions it caused."""
        ...

    def state(self, name: str, now: float) -> BreakerState: ...

    def last_known(self, name: str) -> BreakerRecord | None:
        """The state last read or written, without asking anyone; None if never seen."""
        ...


def _decide(record: BreakerRecord, now: float) -> tuple[str, float]:
    """What the state allows at `now`: ("call"|"probe"|"reject", retry_after_s)."""
    if record.state is BreakerState.CLOSED:
        return "call", 0.0
    if record.state is BreakerState.OPEN:
        if now < record.open_until:
            return "reject", record.open_until - now
        return "probe", 0.0
    # HALF_OPEN: a trial is running unless its lease ran out.
    if now < record.lease_until:
        return "reject", record.lease_until - now
    return "probe", 0.0


class MemoryBreakerStore:
    """Breaker state in this container's memory, safe across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: dict[str, BreakerRecord] = {}

    def seed(self, name: str, record: BreakerRecord) -> None:
        """Start from `record` (a copy; a lease held elsewhere is not this store's)."""
        with self._lock:
            self._records[name] = replace(record, lease_owner=None)

    def admit(
        self,
        name: str,
        now: float,
        settings: BreakerSettings,
        owner: str,
        budget_s: float = math.inf,
    ) -> Admission:
        with self._lock:
            record = self._records.setdefault(name, BreakerRecord())
            verdict, retry_after = _decide(record, now)
            if verdict == "call":
                return Admission(True)
            if verdict == "reject":
                return Admission(False, retry_after_s=retry_after, events=(BreakerEvent.REJECTED,))
            record.state = BreakerState.HALF_OPEN
            record.lease_owner = owner
            record.lease_until = now + settings.probe_lease_seconds
            return Admission(True, probe=True, events=(BreakerEvent.PROBE_STARTED,))

    def record(
        self,
        name: str,
        now: float,
        settings: BreakerSettings,
        success: bool,
        permit: Permit,
        budget_s: float = math.inf,
    ) -> tuple[BreakerEvent, ...]:
        with self._lock:
            record = self._records.setdefault(name, BreakerRecord())
            if permit.probe:
                if record.state is not BreakerState.HALF_OPEN or record.lease_owner != permit.owner:
                    return ()  # the lease expired and someone else owns the trial now
                record.lease_owner, record.lease_until = None, 0.0
                if success:
                    record.state, record.failures = BreakerState.CLOSED, 0
                    return (BreakerEvent.CLOSED,)
                record.state = BreakerState.OPEN
                record.open_until = now + settings.open_for(now - record.opened_at)
                return (BreakerEvent.OPENED,)
            if record.state is not BreakerState.CLOSED:
                return ()  # admitted before the circuit opened: the outcome changes nothing
            if success:
                record.failures = 0
                return ()
            record.failures += 1
            if record.failures >= settings.failure_threshold:
                record.state, record.failures = BreakerState.OPEN, 0
                record.opened_at = now
                record.open_until = now + settings.open_for(0.0)
                return (BreakerEvent.OPENED,)
            return ()

    def state(self, name: str, now: float) -> BreakerState:
        with self._lock:
            return self._records.get(name, BreakerRecord()).state

    def last_known(self, name: str) -> BreakerRecord | None:
        with self._lock:
            record = self._records.get(name)
            return None if record is None else replace(record)


def _number(item: dict[str, Any], name: str) -> float:
    value = item.get(name)
    return float(value["N"]) if value else 0.0


def _from_item(item: dict[str, Any] | None) -> BreakerRecord:
    if not item:
        return BreakerRecord()
    owner = item.get("leaseOwner")
    return BreakerRecord(
        state=BreakerState(item.get("state", {}).get("S", BreakerState.CLOSED.value)),
        failures=int(_number(item, "failures")),
        # An item written before openedAt existed reads as a long outage: the longest open time.
        opened_at=_number(item, "openedAt"),
        open_until=_number(item, "openUntil"),
        lease_owner=None if owner is None else str(owner["S"]),
        lease_until=_number(item, "leaseUntil"),
    )


def _is_condition_failure(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


@dataclass
class _Cached:
    record: BreakerRecord
    fetched_at: float


class DynamoDBBreakerStore:
    """Breaker state shared by every container of a region: one item per breaker.

    `client_fn(budget_s)` returns a DynamoDB client whose worst case (connect + read timeout,
    one attempt) fits `budget_s` seconds, or raises BreakerStoreError when none does: the
    breaker must never take more of the caller's time than the caller can spare.
    Key attribute: `breakerId`; TTL: `expiresAt`.
    """

    def __init__(
        self, table_name: str, client_fn: Callable[[float], Any], cache_s: float = 1.0
    ) -> None:
        self.table_name = table_name
        self._client_fn = client_fn
        self.cache_s = cache_s
        self._lock = threading.Lock()
        self._cache: dict[str, _Cached] = {}

    # --- reads ----------------------------------------------------------------------------

    def _read(self, name: str, now: float, budget_s: float) -> BreakerRecord:
        with self._lock:
            cached = self._cache.get(name)
        if cached is not None:
            record = cached.record
            # While OPEN the item cannot change before open_until (only the trial moves it on).
            if record.state is BreakerState.OPEN and now < record.open_until:
                return record
            if now - cached.fetched_at < self.cache_s and record.state is BreakerState.CLOSED:
                return record
        try:
            response = self._client_fn(budget_s).get_item(
                TableName=self.table_name, Key={"breakerId": {"S": name}}, ConsistentRead=True
            )
        except (ClientError, BotoCoreError) as error:
            raise BreakerStoreError(f"breaker table GetItem failed: {error}") from error
        record = _from_item(response.get("Item"))
        self._remember(name, record, now)
        return record

    def _remember(self, name: str, record: BreakerRecord, now: float) -> None:
        with self._lock:
            self._cache[name] = _Cached(record, now)

    def state(self, name: str, now: float) -> BreakerState:
        return self._read(name, now, math.inf).state

    def last_known(self, name: str) -> BreakerRecord | None:
        with self._lock:
            cached = self._cache.get(name)
        return None if cached is None else replace(cached.record)

    # --- writes ---------------------------------------------------------------------------

    def _update(
        self, name: str, now: float, budget_s: float, **kwargs: Any
    ) -> dict[str, Any] | None:
        """A conditional UpdateItem; None when its condition failed (old item remembered)."""
        names = {"#state": "state", **kwargs.pop("names", {})}
        values = {":ttl": {"N": str(int(now) + ITEM_TTL_S)}, **kwargs.pop("values", {})}
        try:
            response = self._client_fn(budget_s).update_item(
                TableName=self.table_name,
                Key={"breakerId": {"S": name}},
                UpdateExpression=kwargs.pop("update").replace("SET ", "SET expiresAt = :ttl, ", 1),
                ConditionExpression=kwargs.pop("condition"),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if _is_condition_failure(error):
                self._remember(name, _from_item(error.response.get("Item")), now)
                return None
            raise BreakerStoreError(f"breaker table UpdateItem failed: {error}") from error
        except BotoCoreError as error:
            raise BreakerStoreError(f"breaker table UpdateItem failed: {error}") from error
        item: dict[str, Any] = response.get("Attributes") or {}
        self._remember(name, _from_item(item), now)
        return item

    def admit(
        self,
        name: str,
        now: float,
        settings: BreakerSettings,
        owner: str,
        budget_s: float = math.inf,
    ) -> Admission:
        record = self._read(name, now, budget_s)
        verdict, retry_after = _decide(record, now)
        if verdict == "call":
            return Admission(True)
        if verdict == "reject":
            return Admission(False, retry_after_s=retry_after, events=(BreakerEvent.REJECTED,))
        # Claim the trial: only one conditional write can win it per half-open window.
        claimed = self._update(
            name,
            now,
            budget_s,
            update="SET #state = :half, leaseOwner = :owner, leaseUntil = :lease",
            condition=(
                "(#state = :open AND openUntil <= :now) OR (#state = :half AND leaseUntil <= :now)"
            ),
            values={
                ":half": {"S": BreakerState.HALF_OPEN.value},
                ":open": {"S": BreakerState.OPEN.value},
                ":owner": {"S": owner},
                ":now": {"N": repr(now)},
                ":lease": {"N": repr(now + settings.probe_lease_seconds)},
            },
        )
        if claimed is not None:
            return Admission(True, probe=True, events=(BreakerEvent.PROBE_STARTED,))
        # Someone else holds the trial, or it already closed the circuit: decide on what is there.
        with self._lock:
            latest = self._cache[name].record
        verdict, retry_after = _decide(latest, now)
        if verdict == "call":
            return Admission(True)
        return Admission(
            False, retry_after_s=max(retry_after, 0.05), events=(BreakerEvent.REJECTED,)
        )

    def record(
        self,
        name: str,
        now: float,
        settings: BreakerSettings,
        success: bool,
        permit: Permit,
        budget_s: float = math.inf,
    ) -> tuple[BreakerEvent, ...]:
        owner_values = {":owner": {"S": permit.owner or ""}}
        with self._lock:
            cached = self._cache.get(name)
        known = cached.record if cached is not None else BreakerRecord()
        if permit.probe:
            if success:
                done = self._update(
                    name,
                    now,
                    budget_s,
                    update="SET #state = :closed, failures = :zero REMOVE leaseOwner, leaseUntil",
                    condition="leaseOwner = :owner",
                    values={
                        **owner_values,
                        ":closed": {"S": BreakerState.CLOSED.value},
                        ":zero": {"N": "0"},
                    },
                )
                return (BreakerEvent.CLOSED,) if done is not None else ()
            # `known` is the item as this trial's claim returned it: its outage's start.
            done = self._update(
                name,
                now,
                budget_s,
                update="SET #state = :open, openUntil = :until REMOVE leaseOwner, leaseUntil",
                condition="leaseOwner = :owner",
                values={
                    **owner_values,
                    ":open": {"S": BreakerState.OPEN.value},
                    ":until": {"N": repr(now + settings.open_for(now - known.opened_at))},
                },
            )
            return (BreakerEvent.OPENED,) if done is not None else ()
        if success:
            # Writes only when failures are known to be counted: a healthy dependency costs reads.
            if known.state is BreakerState.CLOSED and known.failures > 0:
                self._update(
                    name,
                    now,
                    budget_s,
                    update="SET failures = :zero",
                    condition="#state = :closed AND failures > :zero",
                    values={":closed": {"S": BreakerState.CLOSED.value}, ":zero": {"N": "0"}},
                )
            return ()
        counted = self._update(
            name,
            now,
            budget_s,
            update="SET #state = if_not_exists(#state, :closed) ADD failures :one",
            condition="attribute_not_exists(#state) OR #state = :closed",
            values={":closed": {"S": BreakerState.CLOSED.value}, ":one": {"N": "1"}},
        )
        if counted is None or _from_item(counted).failures < settings.failure_threshold:
            return ()
        tripped = self._update(
            name,
            now,
            budget_s,
            update="SET #state = :open, openedAt = :now, openUntil = :until, failures = :zero",
            condition="#state = :closed AND failures >= :threshold",
            values={
                ":closed": {"S": BreakerState.CLOSED.value},
                ":open": {"S": BreakerState.OPEN.value},
                ":now": {"N": repr(now)},
                ":until": {"N": repr(now + settings.open_for(0.0))},
                ":zero": {"N": "0"},
                ":threshold": {"N": str(settings.failure_threshold)},
            },
        )
        return (BreakerEvent.OPENED,) if tripped is not None else ()


def _store_budget_s(budget: Budget | None, share: float = STORE_BUDGET_SHARE) -> float:
    if budget is None:
        return math.inf
    return max(share * budget.remaining(), 0.0)


@dataclass
class CircuitBreaker:
    """One dependency's breaker: `admit` before a call, then `succeeded` or `failed`.

    Implements `deadlines.Guard`, so `call_with_deadline` drives it once per attempt.
    """

    name: str
    store: BreakerStore
    settings: BreakerSettings = field(default_factory=BreakerSettings)
    clock: Callable[[], float] = time.time
    on_event: Callable[[BreakerEvent, str], None] = lambda event, name: None
    #: Decides while the shared store cannot (MEMORY and DENY modes).
    fallback: MemoryBreakerStore = field(default_factory=MemoryBreakerStore)
    _lock: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )
    #: Whether `fallback` holds this breaker's state (seeded when the store last failed).
    _on_fallback: bool = field(default=False, init=False, repr=False, compare=False)
    #: Until when the store is not asked again after it failed.
    _store_retry_at: float = field(default=-math.inf, init=False, repr=False, compare=False)

    def _emit(self, events: tuple[BreakerEvent, ...]) -> None:
        for event in events:
            self.on_event(event, self.name)

    def _store_failed(self, now: float) -> None:
        """Hand the decisions to the fallback, starting from what the store last said."""
        self._emit((BreakerEvent.STORE_FAILED,))
        with self._lock:
            self._store_retry_at = now + STORE_RETRY_S
            if self._on_fallback:
                return  # already deciding alone: its own count is newer than the store's
            self._on_fallback = True
        known = self.store.last_known(self.name)
        # Nothing known: not assumed closed. One trial at a time until one succeeds.
        self.fallback.seed(
            self.name, known or BreakerRecord(state=BreakerState.HALF_OPEN, opened_at=now)
        )

    def _from_last_known(self, now: float) -> Admission | None:
        """Decide on the store's state as last seen, when there is no time to ask it: a trial
        is not claimed (that takes the store), so it stays for a caller with time. None when
        nothing was ever seen."""
        known = self.store.last_known(self.name)
        if known is None:
            return None
        verdict, retry_after = _decide(known, now)
        if verdict == "call":
            return Admission(True)
        return Admission(False, retry_after_s=retry_after, events=(BreakerEvent.REJECTED,))

    def _store_answered(self) -> None:
        with self._lock:
            self._on_fallback = False

    def _store_resting(self, now: float) -> bool:
        with self._lock:
            return now < self._store_retry_at

    def admit(self, deadline: Budget | None = None) -> Permit:
        """Let one call through or raise CircuitOpenError; asking the shared store takes at
        most a share of the time `deadline` leaves."""
        now = self.clock()
        owner = uuid.uuid4().hex
        admission: Admission | None = None
        if not self._store_resting(now):
            try:
                admission = self.store.admit(
                    self.name, now, self.settings, owner, _store_budget_s(deadline)
                )
            except BreakerStoreNotAsked:
                admission = self._from_last_known(now)
                if admission is None:
                    self._store_failed(now)
            except BreakerStoreError:
                self._store_failed(now)
            else:
                self._store_answered()
        if admission is not None:
            store: BreakerStore = self.store
        else:
            mode = self.settings.on_store_failure
            if mode is StoreFailureMode.ALLOW:
                return Permit(self.name, store=None)
            if mode is StoreFailureMode.DENY and (
                self.fallback.state(self.name, now) is not BreakerState.CLOSED
            ):
                self._emit((BreakerEvent.REJECTED,))
                raise CircuitOpenError(self.name, self.settings.open_for(0.0))
            admission = self.fallback.admit(self.name, now, self.settings, owner)
            store = self.fallback
        self._emit(admission.events)
        if not admission.allowed:
            raise CircuitOpenError(self.name, admission.retry_after_s)
        return Permit(self.name, probe=admission.probe, owner=owner, store=store, budget=deadline)

    def _record(self, permit: Permit | None, success: bool) -> None:
        if permit is None or permit.store is None:
            return
        now = self.clock()
        try:
            # Reporting is what the attempt does last: it may use all the time its permit left
            # (the permit's deadline already keeps back a retry's smallest attempt).
            events = permit.store.record(
                self.name, now, self.settings, success, permit, _store_budget_s(permit.budget, 1.0)
            )
        except BreakerStoreNotAsked:
            return  # the caller's time is up; callers with time keep the count
        except BreakerStoreError:
            self._store_failed(now)
            if self.settings.on_store_failure is StoreFailureMode.ALLOW:
                return
            # Keep counting here, so a store outage and a dependency outage together still trip.
            events = self.fallback.record(
                self.name, now, self.settings, success, replace(permit, probe=False)
            )
        self._emit(events)

    def succeeded(self, permit: Permit | None) -> None:
        self._record(permit, True)

    def failed(self, permit: Permit | None, error: BaseException | None = None) -> None:
        """The call failed transiently. A failure that does not say the dependency is failing
        (`counts_against_dependency`: a hot key's throttle) is an answer from a working one."""
        self._record(permit, error is not None and not counts_against_dependency(error))

    def released(self, permit: Permit | None) -> None:
        """The call ended without a verdict on the dependency (e.g. a bug in our code): a trial
        counts as failed so the circuit does not stay half-open until the lease runs out."""
        if permit is not None and permit.probe:
            self._record(permit, False)

    def state(self) -> BreakerState:
        return self.store.state(self.name, self.clock())
