"""A flapping dependency: down 3 s, up 3 s, over and over. The breaker must keep nearly all the
calls a breakerless control gets through while the dependency is up, and still keep calls off
it while it is down. A fake clock drives every container through the same windows."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from aws_clients import CallProfile, Timeouts
from circuit_breaker import (
    BreakerStore,
    CircuitBreaker,
    CircuitOpenError,
    DynamoDBBreakerStore,
    MemoryBreakerStore,
)
from deadlines import Deadline, call_with_deadline
from task_settings import load_settings

REGION = "eu-west-1"
BREAKER_TABLE = "flapping-breakers"
#: The stack's breaker settings (threshold 5, open at most 10 s): what the drill ran with.
STACK_BREAKER = load_settings({"TABLE_NAME": "tasks", "AWS_REGION": REGION}).breaker
DOWN_S, UP_S, CYCLES = 3.0, 3.0, 10
STEP_S = 0.05
CONTAINERS = 10


class Clock:
    def __init__(self) -> None:
        self.start = 1_800_000_000.0
        self.now = self.start

    def __call__(self) -> float:
        return self.now

    def healthy(self) -> bool:
        """Up first, then down, repeatedly."""
        return (self.now - self.start) % (DOWN_S + UP_S) < UP_S


@dataclass
class Tally:
    accepted_while_up: int = 0
    offered_while_up: int = 0
    calls_while_down: int = 0


def server_error() -> ClientError:
    return ClientError(
        {
            "Error": {"Code": "InternalServerError", "Message": "table down"},
            "ResponseMetadata": {"HTTPStatusCode": 500},
        },
        "PutItem",
    )


def run(guards: list[CircuitBreaker | None], clock: Clock) -> Tally:
    tally = Tally()

    def attempt(timeouts: Timeouts) -> None:
        if clock.healthy():
            return
        tally.calls_while_down += 1
        raise server_error()

    end = clock.now + CYCLES * (DOWN_S + UP_S)
    while clock.now < end:
        for guard in guards:
            healthy = clock.healthy()
            tally.offered_while_up += healthy
            try:
                call_with_deadline(
                    "table",
                    "PutItem",
                    attempt,
                    profile=CallProfile.REQUEST,
                    deadline=Deadline.unbounded(),
                    guard=guard,
                    sleep=lambda seconds: None,
                    rng=lambda: 0.0,
                )
            except (ClientError, CircuitOpenError):
                continue
            tally.accepted_while_up += healthy
        clock.now += STEP_S
    return tally


@pytest.fixture(params=["memory", "dynamodb"])
def container_store(request: pytest.FixtureRequest) -> Iterator[Callable[[], BreakerStore]]:
    """A store per container: its own memory, or its own view of the region's shared table."""
    if request.param == "memory":
        yield MemoryBreakerStore
        return
    from moto import mock_aws

    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(
            TableName=BREAKER_TABLE,
            AttributeDefinitions=[{"AttributeName": "breakerId", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "breakerId", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        client: Any = dynamodb
        yield lambda: DynamoDBBreakerStore(BREAKER_TABLE, lambda *budget: client)


def test_a_flapping_table_keeps_its_healthy_traffic_and_is_still_spared_while_down(
    container_store: Callable[[], BreakerStore],
) -> None:
    control = run([None] * CONTAINERS, Clock())
    clock = Clock()
    breakers: list[CircuitBreaker | None] = [
        CircuitBreaker("table", container_store(), STACK_BREAKER, clock=clock)
        for _ in range(CONTAINERS)
    ]
    guarded = run(breakers, clock)

    assert control.accepted_while_up == control.offered_while_up
    kept = guarded.accepted_while_up / control.accepted_while_up
    spared = control.calls_while_down / max(guarded.calls_while_down, 1)
    print(
        f"healthy kept {guarded.accepted_while_up}/{control.accepted_while_up} ({kept:.1%}); "
        f"calls while down {guarded.calls_while_down} vs {control.calls_while_down} ({spared:.0f}x)"
    )
    assert kept >= 0.90
    assert spared >= 10
