"""One hot key must not take a region's API down: a key's throttling is retried, but only what
says the dependency itself is failing (5xx, timeouts, connection errors, capacity throttles of
the whole table, index or account) opens its breaker."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError, ReadTimeoutError

from aws_clients import CallProfile, Timeouts
from circuit_breaker import (
    BreakerState,
    CircuitBreaker,
    CircuitOpenError,
    MemoryBreakerStore,
    counts_against_dependency,
)
from deadlines import Deadline, call_with_deadline
from task_settings import load_settings

TABLE_ARN = "arn:aws:dynamodb:eu-west-1:123456789012:table/tasks"
#: The stack's breaker settings (threshold 5, open 10 s): what the deployed handlers use.
STACK_BREAKER = load_settings({"TABLE_NAME": "tasks", "AWS_REGION": "eu-west-1"}).breaker


def throttle(code: str, reasons: list[str], *, field: str = "ThrottlingReasons") -> ClientError:
    """A throttle as botocore parses it: the modeled reasons sit at the top of the response."""
    response: dict[str, Any] = {
        "Error": {"Code": code, "Message": "throttled"},
        "ResponseMetadata": {"HTTPStatusCode": 400},
    }
    if reasons:
        response[field] = [{"reason": reason, "resource": TABLE_ARN} for reason in reasons]
    return ClientError(response, "UpdateItem")


def server_error() -> ClientError:
    return ClientError(
        {
            "Error": {"Code": "InternalServerError", "Message": "boom"},
            "ResponseMetadata": {"HTTPStatusCode": 500},
        },
        "PutItem",
    )


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def call(
    b: CircuitBreaker, outcome: Callable[[], None], profile: CallProfile, attempts: list[int]
) -> None:
    def attempt(timeouts: Timeouts) -> None:
        attempts.append(1)
        outcome()

    call_with_deadline(
        "table",
        "UpdateItem",
        attempt,
        profile=profile,
        deadline=Deadline.unbounded(),
        guard=b,
        sleep=lambda seconds: None,
        rng=lambda: 0.0,
    )


def test_one_hot_item_throttled_on_every_redelivery_leaves_other_work_running() -> None:
    b = CircuitBreaker("table", MemoryBreakerStore(), STACK_BREAKER, clock=Clock())
    hot_attempts: list[int] = []

    def hot_item() -> None:
        raise throttle(
            "ProvisionedThroughputExceededException", ["TableWriteKeyRangeThroughputExceeded"]
        )

    for _redelivery in range(3):
        with pytest.raises(ClientError):
            call(b, hot_item, CallProfile.BACKGROUND, hot_attempts)
    # Still retried with backoff on every delivery: a throttle is transient.
    assert len(hot_attempts) == 3 * 5

    accepted = 0
    for _submit in range(20):
        call(b, lambda: None, CallProfile.REQUEST, [])
        accepted += 1
    assert accepted == 20
    assert b.state() is BreakerState.CLOSED


@pytest.mark.parametrize(
    "reason",
    [
        "TableReadKeyRangeThroughputExceeded",
        "TableWriteKeyRangeThroughputExceeded",
        "IndexReadKeyRangeThroughputExceeded",
        "IndexWriteKeyRangeThroughputExceeded",
    ],
)
def test_a_hot_key_throttle_does_not_count(reason: str) -> None:
    assert not counts_against_dependency(
        throttle("ProvisionedThroughputExceededException", [reason])
    )
    # ThrottlingException names its list in lower camel case (the service model's member name).
    assert not counts_against_dependency(
        throttle("ThrottlingException", [reason], field="throttlingReasons")
    )


@pytest.mark.parametrize(
    "reason",
    [
        "TableReadProvisionedThroughputExceeded",
        "TableWriteProvisionedThroughputExceeded",
        "IndexWriteProvisionedThroughputExceeded",
        "TableWriteAccountLimitExceeded",
        "IndexReadAccountLimitExceeded",
        "TableReadMaxOnDemandThroughputExceeded",
        "TableWriteMaxOnDemandThroughputExceeded",
        "IndexWriteMaxOnDemandThroughputExceeded",
    ],
)
def test_a_table_index_or_account_out_of_capacity_counts(reason: str) -> None:
    assert counts_against_dependency(throttle("ProvisionedThroughputExceededException", [reason]))
    # One capacity reason among key-range ones: every caller is throttled, not one key.
    assert counts_against_dependency(
        throttle(
            "ThrottlingException",
            ["TableWriteKeyRangeThroughputExceeded", reason],
            field="throttlingReasons",
        )
    )


def test_what_signals_a_failing_dependency_counts_and_contention_does_not() -> None:
    assert counts_against_dependency(server_error())
    assert counts_against_dependency(ReadTimeoutError(endpoint_url="https://dynamodb"))
    assert counts_against_dependency(throttle("RequestLimitExceeded", []))  # the account's quota
    # No reason given: the table answered, and an unexplained throttle must not be what takes
    # every caller down; retries with backoff deal with it.
    assert not counts_against_dependency(throttle("ProvisionedThroughputExceededException", []))
    # Another transaction holds the same item: contention on a key, not a failing table.
    assert not counts_against_dependency(throttle("TransactionInProgressException", []))


def test_capacity_throttles_still_open_the_breaker() -> None:
    b = CircuitBreaker("table", MemoryBreakerStore(), STACK_BREAKER, clock=Clock())

    def out_of_capacity() -> None:
        raise throttle(
            "ProvisionedThroughputExceededException", ["TableWriteMaxOnDemandThroughputExceeded"]
        )

    with pytest.raises(ClientError):
        call(b, out_of_capacity, CallProfile.BACKGROUND, [])
    assert b.state() is BreakerState.OPEN
    with pytest.raises(CircuitOpenError):
        call(b, lambda: None, CallProfile.REQUEST, [])


def test_the_reasons_are_read_where_botocore_puts_them() -> None:
    """Parsed by botocore from DynamoDB's wire format, not built by hand."""
    dynamodb = boto3.client(
        "dynamodb", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    body = json.dumps(
        {
            "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
            "message": "The level of configured provisioned throughput for the table was exceeded",
            "ThrottlingReasons": [
                {"reason": "TableWriteKeyRangeThroughputExceeded", "resource": TABLE_ARN}
            ],
        }
    ).encode()

    class Raw:
        def stream(self, **kwargs: Any) -> Any:
            yield body

    def reply(request: Any, **kwargs: Any) -> AWSResponse:
        return AWSResponse(request.url, 400, {"content-type": "application/x-amz-json-1.0"}, Raw())

    dynamodb.meta.events.register("before-send.dynamodb.PutItem", reply)
    with pytest.raises(ClientError) as raised:
        dynamodb.put_item(TableName="tasks", Item={"pk": {"S": "hot"}})
    assert not counts_against_dependency(raised.value)
