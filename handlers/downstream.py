"""The container's circuit breakers, one per dependency, shared by every invocation.

A breaker must outlive the invocation that saw the failures, so it lives at module level like
the boto3 clients. With BREAKER_TABLE_NAME set its state is the region's shared item (every
container decides together); without it, each container keeps its own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from aws_clients import CallProfile, client
from circuit_breaker import (
    BreakerEvent,
    BreakerStore,
    BreakerStoreNotAsked,
    CircuitBreaker,
    DynamoDBBreakerStore,
    MemoryBreakerStore,
)
from deadlines import fitting_timeouts
from task_settings import Settings

EventSink = Callable[[BreakerEvent, str], None]

_lock = threading.Lock()
_breakers: dict[tuple[str, str, str | None, str], CircuitBreaker] = {}
_stores: dict[tuple[str, str, str | None], BreakerStore] = {}
_sinks: list[EventSink] = []
# In Lambda a process is one container. The drills run several simulated containers in one
# process, each on its own threads; this names the one the current thread belongs to.
_local = threading.local()


def current_container() -> str:
    return str(getattr(_local, "container", ""))


@contextmanager
def container(name: str) -> Iterator[None]:
    """Run the enclosed calls as container `name` (its own breakers and breaker caches)."""
    previous = current_container()
    _local.container = name
    try:
        yield
    finally:
        _local.container = previous


def add_event_sink(sink: EventSink) -> None:
    """Report every breaker event to `sink` (the handlers turn them into metrics)."""
    with _lock:
        if sink not in _sinks:
            _sinks.append(sink)


def _emit(event: BreakerEvent, name: str) -> None:
    for sink in list(_sinks):
        sink(event, name)


def _store_client(region: str) -> Callable[[float], Any]:
    """The breaker table's client for a request that may take `budget_s` seconds.

    One attempt, with the health profile's timeouts (at most 0.5 s connect + 1 s read) cut to
    the budget: a slow table is waited for while the caller can afford it, and when not even
    the smallest timeouts fit, the table is not asked and BREAKER_STORE_FAILURE decides.
    """

    def store_client(budget_s: float) -> Any:
        timeouts = fitting_timeouts(CallProfile.HEALTH, budget_s)
        if timeouts is None:
            raise BreakerStoreNotAsked(
                f"breaker table not asked: {budget_s:.3f} s of the caller's time left for it"
            )
        return client("dynamodb", region, CallProfile.HEALTH, timeouts)

    return store_client


def _store(settings: Settings) -> BreakerStore:
    key = (current_container(), settings.region, settings.breaker_table_name)
    store = _stores.get(key)
    if store is None:
        if settings.breaker_table_name:
            store = DynamoDBBreakerStore(
                settings.breaker_table_name, _store_client(settings.region)
            )
        else:
            store = MemoryBreakerStore()
        _stores[key] = store
    return store


def breaker(dependency: str, settings: Settings) -> CircuitBreaker:
    """This container's breaker for `dependency` ("table", "queue") in the settings' region."""
    key = (current_container(), settings.region, settings.breaker_table_name, dependency)
    with _lock:
        existing = _breakers.get(key)
        if existing is not None and existing.settings == settings.breaker:
            return existing
        created = CircuitBreaker(
            dependency, _store(settings), settings=settings.breaker, on_event=_emit
        )
        _breakers[key] = created
        return created


def reset() -> None:
    """Forget every breaker and store (as a new container would); the sinks stay."""
    with _lock:
        _breakers.clear()
        _stores.clear()
