"""POST /tasks and GET /tasks/{taskId} against in-process moto."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import boto3
import pytest
from handler_test_support import (
    EXECUTE_API_HOST,
    FakeLambdaContext,
    MotoResources,
    api_event,
    call_api,
    emitted_metrics,
    get_event,
    submit_event,
)

import task_api
import task_store
from task_model import MAX_BODY_BYTES, MAX_PRIME_LIMIT, TaskStatus, parse_task_id

SUM_REQUEST = {"taskType": "sum", "parameters": {"numbers": [1, 2, 3]}}


def test_submit_writes_pending_item_and_sends_one_message(
    aws: MotoResources, lambda_context: FakeLambdaContext, capsys: pytest.CaptureFixture[str]
) -> None:
    before = int(time.time())
    answer = call_api(task_api.handler, lambda_context, submit_event(SUM_REQUEST))

    assert answer.status_code == 202
    task_id = answer.body["taskId"]
    id_match = re.fullmatch(
        r"eu-west-1\.([0-9]{13})\.([0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12})",
        task_id,
    )
    assert id_match is not None
    created_ms, key = int(id_match[1]), id_match[2]
    assert before * 1000 <= created_ms <= time.time() * 1000
    assert answer.body["status"] == "PENDING"
    expected_url = f"https://{EXECUTE_API_HOST}/prod/tasks/{task_id}"
    assert answer.body["statusUrl"] == expected_url
    assert answer.headers["Location"] == expected_url
    assert answer.headers["Cache-Control"] == "no-store"

    item = aws.item(task_id)
    assert item is not None
    assert item["taskId"]["S"] == key
    assert item["publicId"]["S"] == task_id
    assert item["status"]["S"] == "PENDING"
    assert item["region"]["S"] == "eu-west-1"
    assert item["taskType"]["S"] == "sum"
    assert json.loads(item["request"]["S"]) == SUM_REQUEST
    assert item["createdAt"]["S"] == answer.body["createdAt"]
    # The id's creation time is the item's createdAt, to the millisecond.
    assert datetime.fromisoformat(answer.body["createdAt"]).timestamp() * 1000 == created_ms
    assert before + 3600 <= int(item["expiresAt"]["N"]) <= int(time.time()) + 3600

    [message] = aws.receive_all(1)
    body = json.loads(message["Body"])
    # The queue carries the key: the worker and the DLQ replay address the item by it.
    assert body == {
        "taskId": key,
        "createdAt": answer.body["createdAt"],
        "request": SUM_REQUEST,
    }
    assert message["MessageAttributes"]["taskType"]["StringValue"] == "sum"
    assert aws.messages_in_queue() == 1

    assert "TasksSubmitted" in emitted_metrics(capsys.readouterr().out)


def test_status_url_on_a_custom_domain_keeps_the_base_path(
    aws: MotoResources, lambda_context: FakeLambdaContext
) -> None:
    event = api_event(
        "POST",
        "/tasks",
        json.dumps(SUM_REQUEST),
        domain_name="api.example.com",
        request_path="/v1/tasks",
    )
    answer = call_api(task_api.handler, lambda_context, event)
    assert answer.status_code == 202
    assert answer.body["statusUrl"] == f"https://api.example.com/v1/tasks/{answer.body['taskId']}"


@pytest.mark.parametrize(
    ("context", "headers", "expected"),
    [
        (
            {"domainName": EXECUTE_API_HOST, "path": "/prod/tasks", "stage": "prod"},
            {},
            f"https://{EXECUTE_API_HOST}/prod/tasks/ID",
        ),
        (
            {"domainName": "api.example.com", "path": "/tasks/", "stage": "prod"},
            {},
            "https://api.example.com/tasks/ID",
        ),
        # No requestContext.path (older or hand-built events): the stage shows only on the
        # execute-api host, never on a custom domain.
        (
            {"domainName": EXECUTE_API_HOST, "stage": "prod"},
            {},
            f"https://{EXECUTE_API_HOST}/prod/tasks/ID",
        ),
        (
            {"domainName": "api.example.com", "stage": "prod"},
            {},
            "https://api.example.com/tasks/ID",
        ),
        ({"stage": "prod"}, {"host": "api.example.com"}, "https://api.example.com/tasks/ID"),
        ({}, {}, "/tasks/ID"),
    ],
)
def test_build_status_url(context: dict[str, Any], headers: dict[str, str], expected: str) -> None:
    event = {"requestContext": context, "headers": headers}
    assert task_api.build_status_url(event, "ID") == expected


def test_get_returns_pending_then_shows_the_item(
    aws: MotoResources, lambda_context: FakeLambdaContext
) -> None:
    submitted = call_api(task_api.handler, lambda_context, submit_event(SUM_REQUEST))
    task_id = submitted.body["taskId"]

    answer = call_api(task_api.handler, lambda_context, get_event(task_id))

    item = aws.item(task_id)
    assert item is not None
    assert answer.status_code == 200
    assert answer.body == {
        "taskId": task_id,
        "status": "PENDING",
        "taskType": "sum",
        "createdAt": submitted.body["createdAt"],
        "submittedRegion": "eu-west-1",
        "expiresAt": int(item["expiresAt"]["N"]),
    }
    assert answer.headers["Cache-Control"] == "no-store"


def test_get_unknown_id_is_404(aws: MotoResources, lambda_context: FakeLambdaContext) -> None:
    unknown = "0f8fad5b-d9cb-469f-a165-70867728950e"
    answer = call_api(task_api.handler, lambda_context, get_event(unknown))
    assert answer.status_code == 404
    assert answer.body["error"] == "NotFound"
    assert answer.body["taskId"] == unknown


@pytest.mark.parametrize(
    "bad_id",
    [
        "not-a-uuid",
        "0F8FAD5B-D9CB-469F-A165-70867728950E",
        "health-check",
        "1" * 36,
        "eu-west-1.123.0f8fad5b-d9cb-469f-a165-70867728950e",
        "eu-west-1.1767225600000.0f8fad5b-d9cb-469f-a165-70867728950",
        "Europe.1767225600000.0f8fad5b-d9cb-469f-a165-70867728950e",
    ],
)
def test_get_malformed_id_is_400_naming_task_id(
    aws: MotoResources, lambda_context: FakeLambdaContext, bad_id: str
) -> None:
    answer = call_api(task_api.handler, lambda_context, get_event(bad_id))
    assert answer.status_code == 400
    assert answer.body["field"] == "taskId"
    assert "UUID" in answer.body["expected"]
    assert "<region>.<creation time" in answer.body["expected"]


def test_get_expired_item_is_404_before_dynamodb_deletes_it(
    aws: MotoResources, lambda_context: FakeLambdaContext
) -> None:
    task_id = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
    aws.dynamodb.put_item(
        TableName=aws.table_name,
        Item={
            "taskId": {"S": task_id},
            "status": {"S": "SUCCEEDED"},
            "taskType": {"S": "sum"},
            "createdAt": {"S": "2020-01-01T00:00:00.000Z"},
            "region": {"S": "eu-west-1"},
            "request": {"S": json.dumps(SUM_REQUEST)},
            "result": {"S": json.dumps({"sum": 6, "count": 3})},
            "expiresAt": {"N": str(int(time.time()) - 10)},
        },
    )
    answer = call_api(task_api.handler, lambda_context, get_event(task_id))
    assert answer.status_code == 404


def test_unknown_route_is_json_404(aws: MotoResources, lambda_context: FakeLambdaContext) -> None:
    answer = call_api(task_api.handler, lambda_context, api_event("DELETE", "/tasks"))
    assert answer.status_code == 404
    assert "POST /tasks" in answer.body["message"]


# --- Invalid requests: 400 naming the field, nothing written, nothing sent ----------------------

_TOO_LARGE = json.dumps({"taskType": "sha256", "parameters": {"text": "x" * (MAX_BODY_BYTES + 1)}})

INVALID_REQUESTS: list[tuple[str, str | None, str]] = [
    ("not JSON", "{taskType: sum", "body"),
    ("empty body", None, "body"),
    ("JSON but not an object", "[1, 2, 3]", "body"),
    ("NaN is not JSON", '{"taskType": "sum", "parameters": {"numbers": [NaN]}}', "body"),
    ("duplicate key", '{"taskType": "sum", "taskType": "sha256", "parameters": {}}', "body"),
    ("too large", _TOO_LARGE, "body"),
    ("missing taskType", '{"parameters": {"numbers": [1]}}', "taskType"),
    ("missing parameters", '{"taskType": "sum"}', "parameters"),
    ("unknown task type", '{"taskType": "mine_bitcoin", "parameters": {}}', "taskType"),
    ("task type not a string", '{"taskType": 7, "parameters": {}}', "taskType"),
    ("unknown top-level field", '{"taskType": "sum", "parameters": {"numbers": [1]}, "x": 1}', "x"),
    (
        "unknown parameter",
        '{"taskType": "sha256", "parameters": {"text": "a", "salt": "b"}}',
        "parameters.salt",
    ),
    ("parameters not an object", '{"taskType": "sum", "parameters": [1]}', "parameters"),
    (
        "numbers wrong type",
        '{"taskType": "sum", "parameters": {"numbers": "1,2"}}',
        "parameters.numbers",
    ),
    ("numbers empty", '{"taskType": "sum", "parameters": {"numbers": []}}', "parameters.numbers"),
    (
        "boolean is not a number",
        '{"taskType": "sum", "parameters": {"numbers": [1, true]}}',
        "parameters.numbers[1]",
    ),
    (
        "number out of bounds",
        '{"taskType": "sum", "parameters": {"numbers": [1e13]}}',
        "parameters.numbers[0]",
    ),
    (
        "overflow to infinity",
        '{"taskType": "sum", "parameters": {"numbers": [1e999]}}',
        "parameters.numbers[0]",
    ),
    (
        "primes above the bound",
        json.dumps({"taskType": "count_primes", "parameters": {"below": MAX_PRIME_LIMIT + 1}}),
        "parameters.below",
    ),
    (
        "primes negative",
        '{"taskType": "count_primes", "parameters": {"below": -1}}',
        "parameters.below",
    ),
    (
        "primes not integer",
        '{"taskType": "count_primes", "parameters": {"below": 10.5}}',
        "parameters.below",
    ),
    (
        "text wrong type",
        '{"taskType": "word_count", "parameters": {"text": 42}}',
        "parameters.text",
    ),
    (
        "lone surrogate",
        '{"taskType": "sha256", "parameters": {"text": "\\ud800"}}',
        "parameters.text",
    ),
]


@pytest.mark.parametrize(
    ("body", "field"),
    [pytest.param(body, field, id=name) for name, body, field in INVALID_REQUESTS],
)
def test_invalid_request_is_400_naming_the_field_and_nothing_is_written_or_sent(
    aws: MotoResources,
    lambda_context: FakeLambdaContext,
    capsys: pytest.CaptureFixture[str],
    body: str | None,
    field: str,
) -> None:
    answer = call_api(task_api.handler, lambda_context, api_event("POST", "/tasks", body))

    assert answer.status_code == 400
    assert answer.body["error"] == "InvalidRequest"
    assert answer.body["field"] == field
    assert answer.body["expected"]
    assert answer.body["message"].startswith(f"{field}: expected ")
    assert aws.items() == []
    assert aws.messages_in_queue() == 0
    metrics = emitted_metrics(capsys.readouterr().out)
    assert "TasksRejected" in metrics
    assert "TasksSubmitted" not in metrics


def test_base64_body_is_decoded_and_bounded(
    aws: MotoResources, lambda_context: FakeLambdaContext
) -> None:
    encoded = base64.b64encode(json.dumps(SUM_REQUEST).encode()).decode()
    ok = call_api(
        task_api.handler,
        lambda_context,
        api_event("POST", "/tasks", encoded, is_base64_encoded=True),
    )
    assert ok.status_code == 202

    huge = base64.b64encode(b" " * (MAX_BODY_BYTES * 2)).decode()
    rejected = call_api(
        task_api.handler, lambda_context, api_event("POST", "/tasks", huge, is_base64_encoded=True)
    )
    garbage = call_api(
        task_api.handler, lambda_context, api_event("POST", "/tasks", "%%%", is_base64_encoded=True)
    )
    assert (rejected.status_code, rejected.body["field"]) == (400, "body")
    assert (garbage.status_code, garbage.body["field"]) == (400, "body")
    assert len(aws.items()) == 1


# --- Configuration and dependency failures ---------------------------------------------------


@pytest.mark.parametrize("variable", ["TABLE_NAME", "QUEUE_URL"])
def test_missing_configuration_names_the_variable_and_writes_nothing(
    aws: MotoResources,
    lambda_context: FakeLambdaContext,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
) -> None:
    monkeypatch.delenv(variable)
    answer = call_api(task_api.handler, lambda_context, submit_event(SUM_REQUEST))
    assert answer.status_code == 500
    assert answer.body["error"] == "ConfigurationError"
    assert variable in answer.body["message"]
    assert aws.items() == []
    assert aws.messages_in_queue() == 0


def test_invalid_ttl_setting_is_named(
    aws: MotoResources, lambda_context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TASK_TTL_SECONDS", "one day")
    answer = call_api(task_api.handler, lambda_context, submit_event(SUM_REQUEST))
    assert answer.status_code == 500
    assert "TASK_TTL_SECONDS" in answer.body["message"]


def test_table_unavailable_on_submit_is_503_and_nothing_is_sent(
    aws: MotoResources, lambda_context: FakeLambdaContext
) -> None:
    aws.dynamodb.delete_table(TableName=aws.table_name)
    answer = call_api(task_api.handler, lambda_context, submit_event(SUM_REQUEST))
    assert answer.status_code == 503
    assert answer.body["dependency"] == "table"
    assert "ResourceNotFoundException" in answer.body["message"]
    assert answer.headers["Retry-After"] == task_api.RETRY_AFTER_S
    assert aws.messages_in_queue() == 0


# --- Enqueue failure: the written task must not stay PENDING ------------------------------------


def test_enqueue_failure_against_a_missing_queue_marks_the_task_enqueue_failed(
    aws: MotoResources,
    lambda_context: FakeLambdaContext,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("QUEUE_URL", aws.queue_url.replace("resilient-tasks-work", "no-such-queue"))

    answer = call_api(task_api.handler, lambda_context, submit_event(SUM_REQUEST))

    assert answer.status_code == 503
    assert answer.body["error"] == "EnqueueFailed"
    assert answer.body["status"] == "ENQUEUE_FAILED"
    assert answer.headers["Retry-After"] == task_api.RETRY_AFTER_S
    [item] = aws.items()
    assert item["publicId"]["S"] == answer.body["taskId"]
    assert item["taskId"]["S"] == parse_task_id(answer.body["taskId"]).key
    assert item["status"]["S"] == "ENQUEUE_FAILED"
    assert "QueueDoesNotExist" in item["error"]["S"] or "NonExistentQueue" in item["error"]["S"]
    assert aws.messages_in_queue() == 0
    assert "EnqueueFailures" in emitted_metrics(capsys.readouterr().out)

    polled = call_api(task_api.handler, lambda_context, get_event(answer.body["taskId"]))
    assert polled.body["status"] == "ENQUEUE_FAILED"
    assert polled.body["error"] == item["error"]["S"]


def test_enqueue_failure_of_any_kind_is_handled(
    aws: MotoResources, lambda_context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_send(self: task_store.TaskStore, message: Any) -> str:
        raise RuntimeError("connection reset by peer")

    monkeypatch.setattr(task_store.TaskStore, "enqueue_task", broken_send)
    answer = call_api(task_api.handler, lambda_context, submit_event(SUM_REQUEST))

    assert answer.status_code == 503
    [item] = aws.items()
    assert item["status"]["S"] == "ENQUEUE_FAILED"
    assert item["error"]["S"] == "connection reset by peer"


def test_ambiguous_send_that_reached_the_queue_keeps_the_worker_result(
    aws: MotoResources, lambda_context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SendMessage timed out after SQS stored the message and a worker already finished it."""
    real_send = task_store.TaskStore.enqueue_task

    def send_then_time_out(self: task_store.TaskStore, message: Any) -> str:
        real_send(self, message)
        self.complete_task(message.task_id, {"sum": 6, "count": 3}, "2030-01-01T00:00:00.000Z")
        raise TimeoutError("read timeout")

    monkeypatch.setattr(task_store.TaskStore, "enqueue_task", send_then_time_out)
    answer = call_api(task_api.handler, lambda_context, submit_event(SUM_REQUEST))

    assert answer.status_code == 202
    assert answer.body["status"] == "SUCCEEDED"
    [item] = aws.items()
    assert item["status"]["S"] == "SUCCEEDED"
    assert json.loads(item["result"]["S"]) == {"sum": 6, "count": 3}


def test_when_marking_also_fails_the_client_is_told_and_the_item_expires(
    aws: MotoResources,
    lambda_context: FakeLambdaContext,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def broken_send(self: task_store.TaskStore, message: Any) -> str:
        raise RuntimeError("queue down")

    def broken_mark(self: task_store.TaskStore, *args: Any) -> Any:
        raise task_store.DependencyError("table", "UpdateItem", RuntimeError("table down"))

    monkeypatch.setattr(task_store.TaskStore, "enqueue_task", broken_send)
    monkeypatch.setattr(task_store.TaskStore, "mark_enqueue_failed", broken_mark)
    answer = call_api(task_api.handler, lambda_context, submit_event(SUM_REQUEST))

    assert answer.status_code == 503
    assert answer.body["error"] == "EnqueueFailed"
    [item] = aws.items()
    # The one case left PENDING: bounded by the TTL, after which GET answers 404.
    assert item["status"]["S"] == TaskStatus.PENDING
    assert answer.body["expiresAt"] == int(item["expiresAt"]["N"])
    assert "EnqueueFailuresUnmarked" in emitted_metrics(capsys.readouterr().out)


def test_unexpected_error_is_a_json_500_with_the_request_id(
    aws: MotoResources, lambda_context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(self: task_store.TaskStore, task_id: str) -> Any:
        raise KeyError("bug")

    monkeypatch.setattr(task_store.TaskStore, "get_task", crash)
    answer = call_api(
        task_api.handler, lambda_context, get_event("0f8fad5b-d9cb-469f-a165-70867728950e")
    )
    assert answer.status_code == 500
    assert answer.body == {"error": "InternalError", "requestId": lambda_context.aws_request_id}


def test_logs_carry_the_api_request_id_and_do_not_leak_task_ids_between_requests(
    aws: MotoResources,
    lambda_context: FakeLambdaContext,
    structured_logs: Callable[[], list[dict[str, Any]]],
) -> None:
    submit = submit_event(SUM_REQUEST)
    answer = call_api(task_api.handler, lambda_context, submit)
    invalid = api_event("POST", "/tasks", "{")
    call_api(task_api.handler, FakeLambdaContext(), invalid)

    accepted, rejected = (
        next(log for log in structured_logs() if log["message"] == message)
        for message in ("Task accepted", "Rejected request")
    )
    assert accepted["correlation_id"] == submit["requestContext"]["requestId"]
    assert accepted["taskId"] == answer.body["taskId"]
    assert rejected["correlation_id"] == invalid["requestContext"]["requestId"]
    assert rejected["field"] == "body"
    assert "taskId" not in rejected


def test_get_in_another_region_reads_that_regions_replica(
    aws: MotoResources, lambda_context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The table is global: a poll routed to another region answers from the local replica.

    moto does not replicate global tables, so the replication is played by copying the item.
    """
    submitted = call_api(task_api.handler, lambda_context, submit_event(SUM_REQUEST))
    item = aws.item(submitted.body["taskId"])
    assert item is not None
    replica = boto3.client("dynamodb", region_name="us-east-1")
    replica.create_table(
        TableName=aws.table_name,
        AttributeDefinitions=[{"AttributeName": "taskId", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "taskId", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    replica.put_item(TableName=aws.table_name, Item=item)
    monkeypatch.setenv("AWS_REGION", "us-east-1")

    answer = call_api(task_api.handler, lambda_context, get_event(submitted.body["taskId"]))

    assert answer.status_code == 200
    assert answer.body["submittedRegion"] == "eu-west-1"
    assert answer.body["status"] == "PENDING"
