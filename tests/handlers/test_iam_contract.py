"""The IAM the components grant covers every AWS call the handlers make, and no more.

Every botocore call the handler code makes during the whole task lifecycle (submit, enqueue
failure, work, redelivery, poll, health) is recorded as the IAM action it needs, per handler,
and compared with the role policies the ActiveActiveService component renders under Pulumi
mocks. A handler that starts calling something new fails here, not with AccessDenied in Lambda.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from botocore.client import BaseClient
from handler_test_support import (
    FakeLambdaContext,
    MotoResources,
    api_event,
    booking_execution_arn,
    call_api,
    get_event,
    sqs_event,
    submit_event,
)

import task_api
import task_worker

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "components"))

from program_runs import prod_config, run_program

#: What Lambda's SQS poller calls with the worker's role: granted, never called by the code.
POLLER_ACTIONS = {
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
}
#: Granted to every function for its own logs and traces (the runtime calls them, not boto3).
RUNTIME_ACTIONS = {
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
}


class CallRecorder:
    def __init__(self) -> None:
        self.current: str | None = None
        self.actions: dict[str, set[str]] = {"api": set(), "worker": set()}

    @contextmanager
    def as_handler(self, name: str) -> Iterator[None]:
        self.current = name
        try:
            yield
        finally:
            self.current = None


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> CallRecorder:
    recorder = CallRecorder()
    original = BaseClient._make_api_call

    def recording(client: BaseClient, operation: str, params: Any) -> Any:
        if recorder.current is not None:
            prefix = client.meta.service_model.signing_name
            recorder.actions[recorder.current].add(f"{prefix}:{operation}")
        return original(client, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", recording)
    return recorder


def granted_actions() -> dict[str, set[str]]:
    """The actions in each function role's inline policy, as the component renders them."""
    run = run_program(prod_config())
    granted: dict[str, set[str]] = {}
    for policy in run.of_type("aws:iam/rolePolicy:RolePolicy"):
        # Only the task app's two functions (the region also runs other functions).
        if not policy.name.startswith(("tasks-eu-west-1-api-", "tasks-eu-west-1-worker-")):
            continue
        role = "worker" if "-worker-" in policy.name else "api"
        statements = json.loads(policy.inputs["policy"])["Statement"]
        granted[role] = {action for statement in statements for action in statement["Action"]}
    return granted


def test_components_grant_exactly_what_the_handlers_call(
    aws: MotoResources, recorder: CallRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    context = FakeLambdaContext()
    request = {"taskType": "sum", "parameters": {"numbers": [1, 2]}}
    with recorder.as_handler("api"):
        submitted = call_api(task_api.handler, context, submit_event(request))
        assert submitted.status_code == 202
        assert (
            call_api(task_api.handler, context, get_event(submitted.body["taskId"])).status_code
            == 200
        )
        health = call_api(task_api.handler, context, api_event("GET", "/health"))
        assert health.status_code == 200, health.body
    messages = aws.receive_all(1)
    with recorder.as_handler("worker"):
        for _ in range(2):  # the second delivery takes the redelivery path
            response = task_worker.handler(sqs_event(messages, aws.queue_arn), context)
            assert response["batchItemFailures"] == []
    # The enqueue-failure path: the send fails, the API marks the task. (Another request: the
    # same one again would be an idempotent repeat of the task already done.)
    monkeypatch.setenv("QUEUE_URL", aws.queue_url + "-missing")
    other = {"taskType": "sum", "parameters": {"numbers": [3, 4]}}
    with recorder.as_handler("api"):
        assert call_api(task_api.handler, context, submit_event(other)).status_code == 503

    granted = granted_actions()
    called = recorder.actions
    assert called["api"] == {
        "dynamodb:PutItem",
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "sqs:SendMessage",
        "sqs:GetQueueAttributes",
    }
    assert called["worker"] == {"dynamodb:UpdateItem"}
    # Everything called is granted ...
    assert called["api"] <= granted["api"]
    assert called["worker"] <= granted["worker"]
    # ... and nothing is granted that neither the code, the runtime nor the poller uses (the
    # worker keeps GetItem: its conditional update returns the old item on a failed check).
    assert granted["api"] - called["api"] == RUNTIME_ACTIONS
    assert granted["worker"] - called["worker"] == RUNTIME_ACTIONS | POLLER_ACTIONS | {
        "dynamodb:GetItem"
    }



def test_breaker_table_calls_are_granted_on_the_breaker_table_only(
    aws: MotoResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the shared breaker store, every breaker step (state read, failure counted, trip,
    trial claimed, trial closed) is a call on the breaker table, granted by its own statement."""
    import time

    from botocore.exceptions import EndpointConnectionError

    import aws_clients

    aws.dynamodb.create_table(
        TableName="tasks-breakers",
        AttributeDefinitions=[{"AttributeName": "breakerId", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "breakerId", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    monkeypatch.setenv("BREAKER_TABLE_NAME", "tasks-breakers")
    monkeypatch.setenv("BREAKER_FAILURE_THRESHOLD", "1")
    monkeypatch.setenv("BREAKER_OPEN_SECONDS", "1")
    on_breakers: set[str] = set()
    original = BaseClient._make_api_call

    def recording(client: BaseClient, operation: str, params: Any) -> Any:
        if params.get("TableName") == "tasks-breakers":
            on_breakers.add(f"dynamodb:{operation}")
        return original(client, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", recording)

    def unreachable_queue(**kwargs: Any) -> None:
        raise EndpointConnectionError(endpoint_url="https://sqs.eu-west-1.amazonaws.com")

    def submit(number: int) -> int:
        request = {"taskType": "sum", "parameters": {"numbers": [number]}}
        return call_api(task_api.handler, FakeLambdaContext(), submit_event(request)).status_code

    assert submit(1) == 202  # reads the breakers' state
    aws_clients.reset_clients()  # new clients, with the hook
    aws_clients.add_client_hook(
        lambda client, service: client.meta.events.register(
            "before-send.sqs.SendMessage", unreachable_queue
        )
    )
    assert submit(2) == 503  # the send fails: counted, and with a threshold of 1, tripped
    aws_clients.reset_clients()  # the queue is back
    time.sleep(1.1)  # past the open window: the next send is the trial, and it closes it
    assert submit(3) == 202

    assert on_breakers == {"dynamodb:GetItem", "dynamodb:UpdateItem"}
    statements = {
        (policy.name.split("-")[4], statement["Sid"]): set(statement["Action"])
        for policy in run_program(prod_config()).of_type("aws:iam/rolePolicy:RolePolicy")
        if policy.name.startswith(("tasks-eu-west-1-api-", "tasks-eu-west-1-worker-"))
        for statement in json.loads(policy.inputs["policy"])["Statement"]
    }
    assert statements[("api", "CircuitBreakerState")] == on_breakers
    assert statements[("worker", "CircuitBreakerState")] == on_breakers


def _granted_to(policy_name: str) -> set[str]:
    (policy,) = [
        p
        for p in run_program(prod_config()).of_type("aws:iam/rolePolicy:RolePolicy")
        if p.name == policy_name
    ]
    statements = json.loads(policy.inputs["policy"])["Statement"]
    return {action for statement in statements for action in statement["Action"]}


def test_saga_and_stream_roles_grant_exactly_what_their_callers_call(
    recorder: CallRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bookings API, the booking saga's state machine (its DynamoDB steps, run by moto's
    interpreter) and the booking-events consumer: every call granted, nothing more."""
    import base64
    import uuid

    from moto import mock_aws
    from resilient_serverless.saga import LOG_DELIVERY_ACTIONS, TRACING_ACTIONS
    from resilient_serverless.stream_consumer import CONSUMER_STREAM_ACTIONS
    from saga_support import EXECUTE_STATE_MACHINES, TRIP, SagaWorld

    import saga_api
    import stream_consumer

    recorder.actions.update({"bookings": set(), "saga": set(), "events": set()})
    context = FakeLambdaContext()
    with mock_aws(config=EXECUTE_STATE_MACHINES):
        world = SagaWorld("eu-west-1")
        world.stock({"car": 1})
        monkeypatch.setenv("STATE_MACHINE_ARN", world.state_machine_arn)
        booking_id = str(uuid.uuid4())
        body = json.dumps({**TRIP, "bookingId": booking_id})
        with recorder.as_handler("bookings"):
            first = call_api(saga_api.handler, context, api_event("POST", "/bookings", body))
            assert first.status_code == 202
        # The saga runs in the background: its calls are the state machine role's. A second
        # booking fails at the car (sold out), so the compensations run too.
        with recorder.as_handler("saga"):
            world.wait(booking_execution_arn(world.state_machine_arn, booking_id))
            assert world.book("b-second").compensated == ["flight", "hotel"]
        with recorder.as_handler("bookings"):
            again = call_api(saga_api.handler, context, api_event("POST", "/bookings", body))
            assert again.status_code == 202  # the retried POST reads the existing execution
            status = call_api(
                saga_api.handler,
                context,
                api_event(
                    "GET",
                    f"/bookings/{booking_id}",
                    resource="/bookings/{bookingId}",
                    path_parameters={"bookingId": booking_id},
                ),
            )
            assert status.body["status"] == "SUCCEEDED"

        world.dynamodb.create_table(
            TableName="booking-events",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        monkeypatch.setenv("TABLE_NAME", "booking-events")
        data = base64.b64encode(b'{"eventId": "e-1", "type": "booking.confirmed"}').decode()
        record = {
            "kinesis": {"partitionKey": "p", "sequenceNumber": "1", "data": data,
                        "kinesisSchemaVersion": "1.0", "approximateArrivalTimestamp": 1.0},
            "eventSource": "aws:kinesis",
            "eventID": "shardId-000000000000:1",
            "eventSourceARN": "arn:aws:kinesis:eu-west-1:123456789012:stream/events",
            "awsRegion": "eu-west-1",
        }
        with recorder.as_handler("events"):
            for _ in range(2):  # the second delivery is a repeat
                assert stream_consumer.handler({"Records": [record]}, context) == {
                    "batchItemFailures": []
                }

    called = recorder.actions
    assert called["bookings"] == {"states:StartExecution", "states:DescribeExecution"}
    saga_calls = {action for action in called["saga"] if action.startswith("dynamodb:")}
    assert saga_calls == {"dynamodb:UpdateItem"}
    assert called["events"] == {"dynamodb:PutItem"}

    bookings = _granted_to("tasks-eu-west-1-bookings-api-policy")
    assert bookings - called["bookings"] == RUNTIME_ACTIONS
    machine = _granted_to("tasks-eu-west-1-saga-policy")
    assert machine - saga_calls == set(LOG_DELIVERY_ACTIONS) | set(TRACING_ACTIONS)
    events = _granted_to("tasks-eu-west-1-events-consumer-policy")
    # The Kinesis poller reads the stream and Lambda sends the on-failure pointers, both with
    # the function's role.
    assert events - called["events"] == RUNTIME_ACTIONS | set(CONSUMER_STREAM_ACTIONS) | {
        "sqs:SendMessage"
    }
