"""What a container decides while its breaker table cannot answer, how much of the caller's time
the table may take, and how the open time follows the outage."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from aws_clients import CallProfile, timeout_tiers
from circuit_breaker import (
    STORE_BUDGET_SHARE,
    STORE_RETRY_S,
    BreakerSettings,
    BreakerState,
    BreakerStoreError,
    CircuitBreaker,
    CircuitOpenError,
    DynamoDBBreakerStore,
    StoreFailureMode,
)
from deadlines import Deadline, call_with_deadline

REGION = "eu-west-1"
BREAKER_TABLE = "fallback-breakers"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class Table:
    """The breaker table's client source: can be taken down, and records each request's budget."""

    def __init__(self, dynamodb: Any) -> None:
        self.dynamodb = dynamodb
        self.down = False
        self.budgets: list[float] = []

    def __call__(self, budget_s: float) -> Any:
        self.budgets.append(budget_s)
        if self.down:
            raise BreakerStoreError("breaker table unreachable")
        return self.dynamodb


@pytest.fixture
def table() -> Iterator[Table]:
    from moto import mock_aws

    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(
            TableName=BREAKER_TABLE,
            AttributeDefinitions=[{"AttributeName": "breakerId", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "breakerId", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield Table(dynamodb)


def container(table: Table, clock: Clock, mode: StoreFailureMode) -> CircuitBreaker:
    settings = BreakerSettings(
        failure_threshold=2, open_seconds=10.0, min_open_seconds=0.5, on_store_failure=mode
    )
    store = DynamoDBBreakerStore(BREAKER_TABLE, table, cache_s=1.0)
    return CircuitBreaker("table", store, settings, clock=clock)


def trip(b: CircuitBreaker) -> None:
    b.failed(b.admit())
    b.failed(b.admit())
    assert b.state() is BreakerState.OPEN


@pytest.mark.parametrize("mode", [StoreFailureMode.MEMORY, StoreFailureMode.DENY])
def test_a_circuit_known_open_stays_open_while_the_table_is_down(
    table: Table, mode: StoreFailureMode
) -> None:
    clock = Clock()
    b = container(table, clock, mode)
    trip(b)
    table.down = True
    clock.now += 0.25
    with pytest.raises(CircuitOpenError):
        b.admit()
    clock.now += STORE_RETRY_S
    if mode is StoreFailureMode.MEMORY:
        assert b.admit().probe  # its own trial, once the known open time has passed
    else:
        with pytest.raises(CircuitOpenError):
            b.admit()


def test_deny_stops_letting_calls_through_once_its_own_count_trips(table: Table) -> None:
    clock = Clock()
    b = container(table, clock, StoreFailureMode.DENY)
    b.succeeded(b.admit())  # read CLOSED
    table.down = True
    clock.now += 2
    b.failed(b.admit())
    b.failed(b.admit())
    with pytest.raises(CircuitOpenError):
        b.admit()


def test_the_table_is_asked_again_after_a_second_and_its_answer_wins(table: Table) -> None:
    clock = Clock()
    b = container(table, clock, StoreFailureMode.MEMORY)
    table.down = True
    trial = b.admit()  # nothing known: the container's own trial
    assert trial.probe
    asked = len(table.budgets)
    with pytest.raises(CircuitOpenError):
        b.admit()
    assert len(table.budgets) == asked  # resting: not asked on every call
    table.down = False
    clock.now += STORE_RETRY_S
    assert not b.admit().probe  # the table says CLOSED


def test_the_table_gets_a_share_of_what_the_smallest_attempt_leaves(table: Table) -> None:
    b = container(table, Clock(), StoreFailureMode.MEMORY)
    remaining = 10.0
    call_with_deadline(
        "table",
        "PutItem",
        lambda timeouts: None,
        profile=CallProfile.REQUEST,
        deadline=Deadline(lambda: remaining),
        guard=b,
    )
    smallest_attempt = timeout_tiers(CallProfile.REQUEST)[-1].worst_case_s
    assert table.budgets[0] == pytest.approx(STORE_BUDGET_SHARE * (remaining - smallest_attempt))


def test_open_time_starts_short_and_grows_with_the_outage(table: Table) -> None:
    clock = Clock()
    b = container(table, clock, StoreFailureMode.MEMORY)
    trip(b)
    opened_at = clock.now
    with pytest.raises(CircuitOpenError) as raised:
        b.admit()
    assert raised.value.retry_after_s == pytest.approx(0.5)  # min_open_seconds
    clock.now = opened_at + 20  # the trial of an outage 20 s old fails
    b.failed(b.admit())
    with pytest.raises(CircuitOpenError) as raised:
        b.admit()
    assert raised.value.retry_after_s == pytest.approx(2.0)  # a tenth of the outage
    clock.now = opened_at + 500
    b.failed(b.admit())
    with pytest.raises(CircuitOpenError) as raised:
        b.admit()
    assert raised.value.retry_after_s == pytest.approx(10.0)  # never longer than open_seconds
    clock.now += 10
    b.succeeded(b.admit())
    trip(b)  # a new outage starts short again
    with pytest.raises(CircuitOpenError) as raised:
        b.admit()
    assert raised.value.retry_after_s == pytest.approx(0.5)


def test_min_open_seconds_must_fit_under_open_seconds() -> None:
    with pytest.raises(ValueError, match="min_open_seconds"):
        BreakerSettings(open_seconds=1.0, min_open_seconds=2.0)
