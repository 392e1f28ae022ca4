"""The circuit breaker's state machine with both stores, its store-failure modes, and the race
that matters: many containers hitting a half-open breaker at once, exactly one probes."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from local_network import atomic_moto_server, reset_moto

from circuit_breaker import (
    BreakerEvent,
    BreakerSettings,
    BreakerState,
    BreakerStore,
    CircuitBreaker,
    CircuitOpenError,
    DynamoDBBreakerStore,
    MemoryBreakerStore,
    StoreFailureMode,
)

REGION = "eu-west-1"
BREAKER_TABLE = "resilient-breakers"
SETTINGS = BreakerSettings(failure_threshold=3, open_seconds=10.0, probe_lease_seconds=5.0)


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def create_breaker_table(dynamodb: Any) -> None:
    dynamodb.create_table(
        TableName=BREAKER_TABLE,
        AttributeDefinitions=[{"AttributeName": "breakerId", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "breakerId", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )


@pytest.fixture(params=["memory", "dynamodb"])
def new_store(request: pytest.FixtureRequest) -> Iterator[Callable[[], BreakerStore]]:
    """Makes the store of one more container (memory: one store shared by the test)."""
    if request.param == "memory":
        shared = MemoryBreakerStore()
        yield lambda: shared
        return
    from moto import mock_aws

    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        create_breaker_table(dynamodb)
        # cache_s=0: every decision reads the shared item, as a container whose cache expired.
        yield lambda: DynamoDBBreakerStore(BREAKER_TABLE, lambda budget_s: dynamodb, cache_s=0.0)


def breaker(
    store: BreakerStore, clock: Clock, events: list[BreakerEvent] | None = None
) -> CircuitBreaker:
    sink = (lambda event, name: events.append(event)) if events is not None else (lambda e, n: None)
    return CircuitBreaker("table", store, SETTINGS, clock=clock, on_event=sink)


def fail(b: CircuitBreaker) -> None:
    b.failed(b.admit())


def test_trips_after_x_consecutive_failures_and_fails_fast(
    new_store: Callable[[], BreakerStore],
) -> None:
    clock, events = Clock(), list[BreakerEvent]()
    b = breaker(new_store(), clock, events)
    fail(b)
    fail(b)
    b.succeeded(b.admit())  # a success in between: the count starts again
    fail(b)
    fail(b)
    assert b.state() is BreakerState.CLOSED
    fail(b)
    assert b.state() is BreakerState.OPEN
    assert events.count(BreakerEvent.OPENED) == 1
    clock.now += 4
    with pytest.raises(CircuitOpenError) as raised:
        b.admit()
    assert raised.value.retry_after_s == pytest.approx(6.0)


def test_after_y_seconds_one_trial_then_close_on_its_success(
    new_store: Callable[[], BreakerStore],
) -> None:
    clock, events = Clock(), list[BreakerEvent]()
    b = breaker(new_store(), clock, events)
    for _ in range(3):
        fail(b)
    clock.now += 10
    trial = b.admit()
    assert trial.probe
    other = breaker(new_store(), clock)  # another container
    with pytest.raises(CircuitOpenError):
        other.admit()
    b.succeeded(trial)
    assert b.state() is BreakerState.CLOSED
    assert not other.admit().probe  # closed for everyone
    assert events == [BreakerEvent.OPENED, BreakerEvent.PROBE_STARTED, BreakerEvent.CLOSED]


def test_failed_trial_reopens_for_another_y_seconds(new_store: Callable[[], BreakerStore]) -> None:
    clock = Clock()
    b = breaker(new_store(), clock)
    for _ in range(3):
        fail(b)
    clock.now += 10
    b.failed(b.admit())
    assert b.state() is BreakerState.OPEN
    clock.now += 9
    with pytest.raises(CircuitOpenError):
        b.admit()
    clock.now += 1
    assert b.admit().probe


def test_a_trial_that_never_reports_lets_another_probe_after_its_lease(
    new_store: Callable[[], BreakerStore],
) -> None:
    clock = Clock()
    b = breaker(new_store(), clock)
    for _ in range(3):
        fail(b)
    clock.now += 10
    lost = b.admit()  # its container is frozen or gone: it never reports
    assert lost.probe
    other = breaker(new_store(), clock)
    clock.now += SETTINGS.probe_lease_seconds - 0.1
    with pytest.raises(CircuitOpenError):
        other.admit()
    clock.now += 0.2
    second = other.admit()
    assert second.probe
    b.succeeded(lost)  # late report of an expired lease: changes nothing
    assert other.state() is BreakerState.HALF_OPEN
    other.succeeded(second)
    assert other.state() is BreakerState.CLOSED


def test_outcomes_of_calls_admitted_before_the_trip_change_nothing(
    new_store: Callable[[], BreakerStore],
) -> None:
    clock = Clock()
    b = breaker(new_store(), clock)
    early = [b.admit() for _ in range(5)]
    for permit in early[:3]:
        b.failed(permit)
    assert b.state() is BreakerState.OPEN
    b.succeeded(early[3])
    b.failed(early[4])
    assert b.state() is BreakerState.OPEN


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        (StoreFailureMode.ALLOW, "allowed"),
        (StoreFailureMode.DENY, "refused"),
        (StoreFailureMode.MEMORY, "memory"),
    ],
)
def test_what_a_failing_store_does_is_a_setting(mode: StoreFailureMode, expected: str) -> None:
    from moto import mock_aws

    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)  # no table: every call fails
        store = DynamoDBBreakerStore("missing-table", lambda budget_s: dynamodb, cache_s=0.0)
        events: list[BreakerEvent] = []
        settings = BreakerSettings(failure_threshold=2, open_seconds=10, on_store_failure=mode)
        b = CircuitBreaker(
            "table", store, settings, clock=Clock(), on_event=lambda e, n: events.append(e)
        )
        if expected == "refused":
            with pytest.raises(CircuitOpenError):  # nothing known: not assumed closed
                b.admit()
        elif expected == "allowed":
            b.failed(b.admit())
            b.failed(b.admit())
            b.admit()  # nothing counted: still let through
        else:
            # The container's own breaker, which never heard from the table: one trial first,
            # whose failure keeps every other call off.
            trial = b.admit()
            assert trial.probe
            with pytest.raises(CircuitOpenError):
                b.admit()
            b.failed(trial)
            with pytest.raises(CircuitOpenError):
                b.admit()
        assert BreakerEvent.STORE_FAILED in events


# --- The race: many containers, many threads, one half-open breaker ------------------------


@pytest.fixture(scope="module")
def atomic_dynamodb() -> Iterator[Any]:
    with atomic_moto_server() as url:
        reset_moto(url)
        dynamodb = boto3.client(
            "dynamodb",
            region_name=REGION,
            endpoint_url=url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        create_breaker_table(dynamodb)
        yield dynamodb


def test_many_containers_hit_a_half_open_breaker_and_exactly_one_probes(
    atomic_dynamodb: Any,
) -> None:
    containers, threads_per_container, windows = 6, 5, 3
    clock = Clock()
    breakers = [
        breaker(
            DynamoDBBreakerStore(BREAKER_TABLE, lambda budget_s: atomic_dynamodb, cache_s=1.0),
            clock,
        )
        for _ in range(containers)
    ]
    for _ in range(3):
        fail(breakers[0])
    assert breakers[0].state() is BreakerState.OPEN
    for window in range(windows):
        clock.now += SETTINGS.open_seconds  # the circuit may now be probed
        start = threading.Barrier(containers * threads_per_container)
        probes: list[Any] = []
        rejected: list[CircuitOpenError] = []
        lock = threading.Lock()

        def hit(
            b: CircuitBreaker,
            start: threading.Barrier = start,
            probes: list[Any] = probes,
            rejected: list[CircuitOpenError] = rejected,
            lock: threading.Lock = lock,
        ) -> None:
            start.wait()
            try:
                permit = b.admit()
            except CircuitOpenError as error:
                with lock:
                    rejected.append(error)
                return
            with lock:
                probes.append((b, permit))

        workers = [
            threading.Thread(target=hit, args=(b,))
            for b in breakers
            for _ in range(threads_per_container)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=30)
        assert len(probes) == 1, f"window {window}: {len(probes)} probes"
        assert len(rejected) == containers * threads_per_container - 1
        owner, permit = probes[0]
        assert permit.probe
        owner.failed(permit)  # still broken: open for another window
    # The last window's trial succeeds: closed for every container.
    clock.now += SETTINGS.open_seconds
    trial = breakers[-1].admit()
    breakers[-1].succeeded(trial)
    clock.now += 2  # past every container's cache
    assert all(not b.admit().probe for b in breakers)
