"""A strongly consistent (MRSC) global table refuses a write to an item that another region is
modifying with `ReplicatedWriteConflictException`, which AWS documents as retryable. It is
contention on one key, answered by a working table: retried like a throttle, answered 503 with
Retry-After when the retries run out, and never counted by the circuit breaker (one contended
item must not open the table's circuit for every other caller of the region)."""

from __future__ import annotations

import json
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from handler_test_support import FakeLambdaContext, MotoResources, call_api, submit_event

import aws_clients
import downstream
import task_api
from circuit_breaker import BreakerState, counts_against_dependency
from deadlines import is_transient
from task_settings import load_settings

REQUEST = {"taskType": "sum", "parameters": {"numbers": [1, 2]}}
CONFLICT_BODY = json.dumps(
    {
        "__type": "com.amazonaws.dynamodb.v20120810#ReplicatedWriteConflictException",
        "message": "The item is being modified by another request in a different Region.",
    }
).encode()


class _Body:
    def stream(self, **kwargs: Any) -> Any:
        yield CONFLICT_BODY


def _conflict_reply(request: Any, **kwargs: Any) -> AWSResponse:
    # DynamoDB's wire format for the error, parsed by botocore as a real reply would be.
    return AWSResponse(request.url, 400, {"content-type": "application/x-amz-json-1.0"}, _Body())


class _Refused:
    status_code = 400


def conflicting_puts(times: int | None) -> list[int]:
    """The next `times` PutItem calls (every one when None) meet another region's write;
    returns the list that counts every PutItem made."""
    sent: list[int] = []

    def answer(**kwargs: Any) -> tuple[Any, dict[str, Any]] | None:
        sent.append(1)
        if times is None or len(sent) <= times:
            return _Refused(), {
                "Error": {
                    "Code": "ReplicatedWriteConflictException",
                    "Message": "The item is being modified by a request in another Region.",
                },
                "ResponseMetadata": {"HTTPStatusCode": 400},
            }
        return None  # on to the table

    def hook(client: Any, service: str) -> None:
        if service == "dynamodb":
            client.meta.events.register("before-call.dynamodb.PutItem", answer)

    aws_clients.add_client_hook(hook)
    return sent


def table_breaker_state() -> BreakerState:
    return downstream.breaker("table", load_settings()).state()


def test_the_conflict_is_parsed_as_retryable_contention() -> None:
    dynamodb = boto3.client(
        "dynamodb", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    dynamodb.meta.events.register("before-send.dynamodb.PutItem", _conflict_reply)
    try:
        dynamodb.put_item(TableName="tasks", Item={"taskId": {"S": "contended"}})
    except ClientError as error:
        conflict = error
    assert conflict.response["Error"]["Code"] == "ReplicatedWriteConflictException"
    assert is_transient(conflict)
    assert not counts_against_dependency(conflict)


def test_a_conflict_is_ridden_out_and_the_submit_is_accepted(aws: MotoResources) -> None:
    sent = conflicting_puts(times=2)
    answer = call_api(task_api.handler, FakeLambdaContext(), submit_event(REQUEST))
    assert answer.status_code == 202, answer.body
    assert len(sent) == 3  # two refused, the third written
    assert len(aws.items()) == 1
    assert table_breaker_state() is BreakerState.CLOSED


def test_conflicts_that_outlast_the_retries_answer_503_and_leave_the_circuit_closed(
    aws: MotoResources,
) -> None:
    sent = conflicting_puts(times=None)
    threshold = load_settings().breaker.failure_threshold
    for _submit in range(threshold + 1):
        answer = call_api(task_api.handler, FakeLambdaContext(), submit_event(REQUEST))
        assert answer.status_code == 503, answer.body
        assert answer.headers["Retry-After"] == task_api.RETRY_AFTER_S
        assert answer.body["error"] == "DependencyUnavailable"
        assert answer.body["dependency"] == "table"
    # Every submit retried; none was refused by an open circuit.
    assert len(sent) > threshold + 1
    assert table_breaker_state() is BreakerState.CLOSED
    assert aws.items() == []
