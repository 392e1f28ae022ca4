"""A circuit breaker for every downstream call, with its state in memory or in DynamoDB.

    CLOSED --X consecutive failures--> OPEN --Y seconds--> HALF_OPEN (one trial call)
       ^                                 ^                      |
       +------------ trial succeeds -----|---- trial fails -----+

While OPEN every call fails fast (`CircuitOpenError`, with the seconds until a trial may run).
After Y seconds exactly one caller gets the trial ("probe"); the others keep failing fast until
it reports. A trial that never reports (its container died, its invocation timed out) holds a
lease that expires, after which another caller may probe.

Two stores behind one interface (`BreakerStore`):

- `MemoryBreakerStore`: per container. Needs nothing, but each container has to see X failures
  before it stops calling, and every new container calls the broken dependency again.
- `DynamoDBBreakerStore`: one item per breaker in a regional table shared by every container.
  Every transition is a conditional write, and the half-open trial is claimed by a conditional
  write of a lease, so across all containers exactly one caller probes per half-open window.
  Reads are cached for `cache_s` while CLOSED; while OPEN nothing is read until Y has passed.

What happens when the store itself fails is a setting (`StoreFailureMode`): fall back to the
container's memory breaker (default), let the call through, or refuse it.

Clocks: the stores take `now` (epoch seconds) from the breaker's clock. Across containers the
DynamoDB store compares wall-clock times written by different machines; Lambda hosts are kept
in sync by NTP, far closer than the seconds the breaker works with.
"""

from __future__ import annotations

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


class BreakerState(StrEnum):
    CLOSED = "CLOSED"
    OPEN = "OPEN"
    HALF_OPEN = "HALF_OPEN"


class StoreFailureMode(StrEnum):
    """What a breaker does when its shared store cannot be read or written."""

    #: Use this container's in-memory breaker until the store answers again.
    MEMORY = "memory"
    #: Let the call through (the breaker protects nothing while its store is down).
    ALLOW = "allow"
    #: Refuse the call (fail fast), as if the breaker were open.
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
    #: Y: seconds the circuit stays open before one trial call may run.
    open_seconds: float = 10.0
    #: How long a trial may take before another caller may try: longer than one call can last.
    probe_lease_seconds: float = 5.0
    on_store_failure: StoreFailureMode = StoreFailureMode.MEMORY

    def __post_init__(self) -> None:
        if self.failure_threshold < 1:
            raise ValueError("BreakerSettings.failure_threshold: must be at least 1.")
        if self.open_seconds <= 0 or self.probe_lease_seconds <= 0:
            raise ValueError("BreakerSettings: open_seconds and probe_lease_seconds must be > 0.")


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
    """The breaker's own store failed (wraps the cause)."""


@dataclass(frozen=True)
class Permit:
    """A call the breaker let through; `probe` marks the half-open trial, `owner` its lease."""

    name: str
    probe: bool = False
    owner: str | None = None
    #: The store that admitted it (the fallback memory store when the shared store failed).
    store: BreakerStore | None = None


@dataclass(frozen=True)
class Admission:
    allowed: bool
    probe: bool = False
    retry_after_s: float = 0.0
    events: tuple[BreakerEvent, ...] = ()


class BreakerStore(Protocol):
    def admit(self, name: str, now: float, settings: BreakerSettings, owner: str) -> Admission:
        """Decide whether a call may run; claims the trial lease as `owner` when it is due."""
        ...

    def record(
        self, name: str, now: float, settings: BreakerSettings, success: bool, permit: Permit
    ) -> tuple[BreakerEvent, ...]:
        """Learn a call's outcome; returns the transitions it caused."""
        ...

    def state(self, name: str, now: float) -> BreakerState: ...


@dataclass
class _Record:
    state: BreakerState = BreakerState.CLOSED
    failures: int = 0
    open_until: float = 0.0
    lease_owner: str | None = None
    lease_until: float = 0.0


def _decide(record: _Record, now: float) -> tuple[str, float]:
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
        self._records: dict[str, _Record] = {}

    def admit(self, name: str, now: float, settings: BreakerSettings, owner: str) -> Admission:
        with self._lock:
            record = self._records.setdefault(name, _Record())
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
        self, name: str, now: float, settings: BreakerSettings, success: bool, permit: Permit
    ) -> tuple[BreakerEvent, ...]:
        with self._lock:
            record = self._records.setdefault(name, _Record())
            if permit.probe:
                if record.state is not BreakerState.HALF_OPEN or record.lease_owner != permit.owner:
                    return ()  # the lease expired and someone else owns the trial now
                record.lease_owner, record.lease_until = None, 0.0
                if success:
                    record.state, record.failures = BreakerState.CLOSED, 0
                    return (BreakerEvent.CLOSED,)
                record.state, record.open_until = BreakerState.OPEN, now + settings.open_seconds
                return (BreakerEvent.OPENED,)
            if record.state is not BreakerState.CLOSED:
                return ()  # admitted before the circuit opened: the outcome changes nothing
            if success:
                record.failures = 0
                return ()
            record.failures += 1
            if record.failures >= settings.failure_threshold:
                record.state, record.failures = BreakerState.OPEN, 0
                record.open_until = now + settings.open_seconds
                return (BreakerEvent.OPENED,)
            return ()

    def state(self, name: str, now: float) -> BreakerState:
        with self._lock:
            return self._records.get(name, _Record()).state


def _number(item: dict[str, Any], name: str) -> float:
    value = item.get(name)
    return float(value["N"]) if value else 0.0


def _from_item(item: dict[str, Any] | None) -> _Record:
    if not item:
        return _Record()
    owner = item.get("leaseOwner")
    return _Record(
        state=BreakerState(item.get("state", {}).get("S", BreakerState.CLOSED.value)),
        failures=int(_number(item, "failures")),
        open_until=_number(item, "openUntil"),
        lease_owner=None if owner is None else str(owner["S"]),
        lease_until=_number(item, "leaseUntil"),
    )


def _is_condition_failure(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


@dataclass
class _Cached:
    record: _Record
    fetched_at: float


class DynamoDBBreakerStore:
    """Breaker state shared by every container of a region: one item per breaker.

    `client_fn` returns the DynamoDB client to use (short timeouts, one attempt: the breaker
    must never be slower than the call it guards). Key attribute: `breakerId`; TTL: `expiresAt`.
    """

    def __init__(self, table_name: str, client_fn: Callable[[], Any], cache_s: float = 1.0):
        self.table_name = table_name
        self._client_fn = client_fn
        self.cache_s = cache_s
        self._lock = threading.Lock()
        self._cache: dict[str, _Cached] = {}

    # --- reads ----------------------------------------------------------------------------

    def _read(self, name: str, now: float) -> _Record:
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
            response = self._client_fn().get_item(
                TableName=self.table_name, Key={"breakerId": {"S": name}}, ConsistentRead=True
            )
        except (ClientError, BotoCoreError) as error:
            raise BreakerStoreError(f"breaker table GetItem failed: {error}") from error
        record = _from_item(response.get("Item"))
        self._remember(name, record, now)
        return record

    def _remember(self, name: str, record: _Record, now: float) -> None:
        with self._lock:
            self._cache[name] = _Cached(record, now)

    def state(self, name: str, now: float) -> BreakerState:
        return self._read(name, now).state

    # --- writes ---------------------------------------------------------------------------

    def _update(self, name: str, now: float, **kwargs: Any) -> dict[str, Any] | None:
        """A conditional UpdateItem; None when its condition failed (old item remembered)."""
        names = {"#state": "state", **kwargs.pop("names", {})}
        values = {":ttl": {"N": str(int(now) + ITEM_TTL_S)}, **kwargs.pop("values", {})}
        try:
            response = self._client_fn().update_item(
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

    def admit(self, name: str, now: float, settings: BreakerSettings, owner: str) -> Admission:
        record = self._read(name, now)
        verdict, retry_after = _decide(record, now)
        if verdict == "call":
            return Admission(True)
        if verdict == "reject":
            return Admission(False, retry_after_s=retry_after, events=(BreakerEvent.REJECTED,))
        # Claim the trial: only one conditional write can win it per half-open window.
        claimed = self._update(
            name,
            now,
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
        self, name: str, now: float, settings: BreakerSettings, success: bool, permit: Permit
    ) -> tuple[BreakerEvent, ...]:
        owner_values = {":owner": {"S": permit.owner or ""}}
        if permit.probe:
            if success:
                done = self._update(
                    name,
                    now,
                    update="SET #state = :closed, failures = :zero REMOVE leaseOwner, leaseUntil",
                    condition="leaseOwner = :owner",
                    values={
                        **owner_values,
                        ":closed": {"S": BreakerState.CLOSED.value},
                        ":zero": {"N": "0"},
                    },
                )
                return (BreakerEvent.CLOSED,) if done is not None else ()
            done = self._update(
                name,
                now,
                update="SET #state = :open, openUntil = :until REMOVE leaseOwner, leaseUntil",
                condition="leaseOwner = :owner",
                values={
                    **owner_values,
                    ":open": {"S": BreakerState.OPEN.value},
                    ":until": {"N": repr(now + settings.open_seconds)},
                },
            )
            return (BreakerEvent.OPENED,) if done is not None else ()
        with self._lock:
            cached = self._cache.get(name)
        known = cached.record if cached is not None else _Record()
        if success:
            # Writes only when failures are known to be counted: a healthy dependency costs reads.
            if known.state is BreakerState.CLOSED and known.failures > 0:
                self._update(
                    name,
                    now,
                    update="SET failures = :zero",
                    condition="#state = :closed AND failures > :zero",
                    values={":closed": {"S": BreakerState.CLOSED.value}, ":zero": {"N": "0"}},
                )
            return ()
        counted = self._update(
            name,
            now,
            update="SET #state = if_not_exists(#state, :closed) ADD failures :one",
            condition="attribute_not_exists(#state) OR #state = :closed",
            values={":closed": {"S": BreakerState.CLOSED.value}, ":one": {"N": "1"}},
        )
        if counted is None or _from_item(counted).failures < settings.failure_threshold:
            return ()
        tripped = self._update(
            name,
            now,
            update="SET #state = :open, openUntil = :until, failures = :zero",
            condition="#state = :closed AND failures >= :threshold",
            values={
                ":closed": {"S": BreakerState.CLOSED.value},
                ":open": {"S": BreakerState.OPEN.value},
                ":until": {"N": repr(now + settings.open_seconds)},
                ":zero": {"N": "0"},
                ":threshold": {"N": str(settings.failure_threshold)},
            },
        )
        return (BreakerEvent.OPENED,) if tripped is not None else ()


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
    #: Used when the shared store fails and the mode is MEMORY.
    fallback: MemoryBreakerStore = field(default_factory=MemoryBreakerStore)

    def _emit(self, events: tuple[BreakerEvent, ...]) -> None:
        for event in events:
            self.on_event(event, self.name)

    def admit(self) -> Permit:
        now = self.clock()
        owner = uuid.uuid4().hex
        try:
            admission = self.store.admit(self.name, now, self.settings, owner)
            store: BreakerStore = self.store
        except BreakerStoreError:
            self._emit((BreakerEvent.STORE_FAILED,))
            mode = self.settings.on_store_failure
            if mode is StoreFailureMode.ALLOW:
                return Permit(self.name, store=None)
            if mode is StoreFailureMode.DENY:
                self._emit((BreakerEvent.REJECTED,))
                raise CircuitOpenError(self.name, self.settings.open_seconds) from None
            admission = self.fallback.admit(self.name, now, self.settings, owner)
            store = self.fallback
        self._emit(admission.events)
        if not admission.allowed:
            raise CircuitOpenError(self.name, admission.retry_after_s)
        return Permit(self.name, probe=admission.probe, owner=owner, store=store)

    def _record(self, permit: Permit | None, success: bool) -> None:
        if permit is None or permit.store is None:
            return
        now = self.clock()
        try:
            events = permit.store.record(self.name, now, self.settings, success, permit)
        except BreakerStoreError:
            self._emit((BreakerEvent.STORE_FAILED,))
            if self.settings.on_store_failure is not StoreFailureMode.MEMORY:
                return
            # Keep counting here, so a store outage and a dependency outage together still trip.
            events = self.fallback.record(
                self.name, now, self.settings, success, replace(permit, probe=False)
            )
        self._emit(events)

    def succeeded(self, permit: Permit | None) -> None:
        self._record(permit, True)

    def failed(self, permit: Permit | None) -> None:
        self._record(permit, False)

    def released(self, permit: Permit | None) -> None:
        """The call ended without a verdict on the dependency (e.g. a bug in our code): a trial
        counts as failed so the circuit does not stay half-open until the lease runs out."""
        if permit is not None and permit.probe:
            self._record(permit, False)

    def state(self) -> BreakerState:
        return self.store.state(self.name, self.clock())
