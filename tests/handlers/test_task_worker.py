"""The SQS worker, driven with events built from real ReceiveMessage results.

moto's own Lambda event source mappings ignore batchItemFailures, so the tests play the poller:
receive from the queue, build the event Lambda would build, call the handler, read the answer.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from handler_test_support import (
    FakeLambdaContext,
    MotoResources,
    call_api,
    emitted_metrics,
    get_event,
    sqs_event,
    submit_event,
)

import task_api
import task_worker
from task_model import TaskStatus, parse_task_id

TEXT = "The quick brown fox\njumps over the lazy dog"

TASK_CASES: list[tuple[dict[str, Any], dict[str, Any]]] = [
    (
        {"taskType": "sum", "parameters": {"numbers": [1, 2, 3, 1_000_000_000_000]}},
        {"sum": 1_000_000_000_006, "count": 4},
    ),
    # fsum: ten 0.1s add up to exactly 1.0 (naive addition gives 0.9999999999999999).
    ({"taskType": "sum", "parameters": {"numbers": [0.1] * 10}}, {"sum": 1.0, "count": 10}),
    (
        {"taskType": "sha256", "parameters": {"text": TEXT}},
        {"sha256": hashlib.sha256(TEXT.encode()).hexdigest(), "bytes": len(TEXT)},
    ),
    (
        {"taskType": "word_count", "parameters": {"text": TEXT}},
        {"words": 9, "characters": len(TEXT)},
    ),
    ({"taskType": "count_primes", "parameters": {"below": 100}}, {"primes": 25, "below": 100}),
]


def submit(context: FakeLambdaContext, request: dict[str, Any]) -> str:
    answer = call_api(task_api.handler, context, submit_event(request))
    assert answer.status_code == 202, answer.body
    return str(answer.body["taskId"])


def run_worker(aws: MotoResources, messages: list[dict[str, Any]]) -> list[str]:
    """Invoke the worker on a batch; returns the message ids it reported as failed."""
    response = task_worker.handler(sqs_event(messages, aws.queue_arn), FakeLambdaContext())
    return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]


def poll(context: FakeLambdaContext, task_id: str) -> dict[str, Any]:
    answer = call_api(task_api.handler, context, get_event(task_id))
    assert answer.status_code == 200
    return answer.body


def test_submit_work_poll_for_every_task_type(
    aws: MotoResources, lambda_context: FakeLambdaContext, capsys: pytest.CaptureFixture[str]
) -> None:
    task_ids = [submit(lambda_context, request) for request, _ in TASK_CASES]
    messages = aws.receive_all(len(task_ids))
    assert len(messages) == len(task_ids)

    assert run_worker(aws, messages) == []

    for task_id, (request, expected) in zip(task_ids, TASK_CASES, strict=True):
        status = poll(lambda_context, task_id)
        assert status["status"] == "SUCCEEDED"
        assert status["taskType"] == request["taskType"]
        assert status["result"] == expected
        assert status["completedRegion"] == "eu-west-1"
        assert status["completedAt"] >= status["createdAt"]
    assert "TasksCompleted" in emitted_metrics(capsys.readouterr().out)


BAD_BODIES: dict[str, str] = {
    "malformed JSON": '{"taskId": "oops',
    "not an object": '"just a string"',
    "unknown task type": json.dumps(
        {
            "taskId": "0f8fad5b-d9cb-469f-a165-70867728950e",
            "createdAt": "2030-01-01T00:00:00.000Z",
            "request": {"taskType": "teleport", "parameters": {}},
        }
    ),
    "parameters out of bounds": json.dumps(
        {
            "taskId": "0f8fad5b-d9cb-469f-a165-70867728950e",
            "createdAt": "2030-01-01T00:00:00.000Z",
            "request": {"taskType": "count_primes", "parameters": {"below": 10**9}},
        }
    ),
    "malformed task id": json.dumps(
        {
            "taskId": "../../etc/passwd",
            "createdAt": "2030-01-01T00:00:00.000Z",
            "request": {"taskType": "sum", "parameters": {"numbers": [1]}},
        }
    ),
    "unknown task id": json.dumps(
        {
            "taskId": "0f8fad5b-d9cb-469f-a165-70867728950e",
            "createdAt": "2030-01-01T00:00:00.000Z",
            "request": {"taskType": "sum", "parameters": {"numbers": [1]}},
        }
    ),
}


@pytest.mark.parametrize("kind", list(BAD_BODIES))
def test_one_bad_record_fails_alone(
    aws: MotoResources,
    lambda_context: FakeLambdaContext,
    capsys: pytest.CaptureFixture[str],
    structured_logs: Callable[[], list[dict[str, Any]]],
    kind: str,
) -> None:
    good_ids = [submit(lambda_context, request) for request, _ in TASK_CASES[:2]]
    bad_message_id = aws.send_raw(BAD_BODIES[kind])
    messages = aws.receive_all(3)
    assert bad_message_id in {message["MessageId"] for message in messages}

    failed = run_worker(aws, messages)

    assert failed == [bad_message_id]
    for task_id, (_, expected) in zip(good_ids, TASK_CASES[:2], strict=True):
        assert poll(lambda_context, task_id)["result"] == expected
    assert "TasksFailed" in emitted_metrics(capsys.readouterr().out)
    # The reason is logged with the message id, so the DLQ entry can be traced to its cause.
    failure_logs = [log for log in structured_logs() if log["message"] == "Message failed"]
    assert [log["messageId"] for log in failure_logs] == [bad_message_id]
    assert failure_logs[0]["level"] == "ERROR"
    assert failure_logs[0]["reason"]
    assert failure_logs[0]["failure"] in {"PoisonMessageError", "UnknownTaskError"}


def test_whole_batch_failing_raises_so_lambda_retries_it(aws: MotoResources) -> None:
    aws.send_raw("not json")
    aws.send_raw("{}")
    messages = aws.receive_all(2)
    with pytest.raises(BatchProcessingError):
        run_worker(aws, messages)


def test_redelivery_of_a_completed_task_changes_nothing(
    aws: MotoResources, lambda_context: FakeLambdaContext, capsys: pytest.CaptureFixture[str]
) -> None:
    request, expected = TASK_CASES[0]
    task_id = submit(lambda_context, request)
    [message] = aws.receive_all(1)
    assert run_worker(aws, [message]) == []
    first = aws.item(task_id)
    assert first is not None

    # The same message again (at-least-once delivery), then a forged duplicate for the same
    # task carrying different parameters: neither may touch the stored result.
    assert run_worker(aws, [message]) == []
    forged = json.loads(message["Body"])
    forged["request"]["parameters"]["numbers"] = [41, 1]
    aws.send_raw(json.dumps(forged))
    assert run_worker(aws, aws.receive_all(1)) == []

    assert aws.item(task_id) == first
    assert poll(lambda_context, task_id)["result"] == expected
    assert "DuplicateDeliveries" in emitted_metrics(capsys.readouterr().out)


def test_message_for_an_enqueue_failed_task_is_dropped_without_writing(
    aws: MotoResources, lambda_context: FakeLambdaContext, capsys: pytest.CaptureFixture[str]
) -> None:
    """A send reported as failed that did arrive: the client was told to resubmit."""
    task_id = submit(lambda_context, TASK_CASES[0][0])
    [message] = aws.receive_all(1)
    aws.dynamodb.update_item(
        TableName=aws.table_name,
        Key={"taskId": {"S": parse_task_id(task_id).key}},
        UpdateExpression="SET #s = :failed",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":failed": {"S": TaskStatus.ENQUEUE_FAILED.value}},
    )

    assert run_worker(aws, [message]) == []
    item = aws.item(task_id)
    assert item is not None
    assert item["status"]["S"] == "ENQUEUE_FAILED"
    assert "result" not in item
    assert "MessagesForClosedTasks" in emitted_metrics(capsys.readouterr().out)


def test_table_failure_fails_the_record_for_redelivery(
    aws: MotoResources, lambda_context: FakeLambdaContext
) -> None:
    submit(lambda_context, TASK_CASES[0][0])
    submit(lambda_context, TASK_CASES[1][0])
    messages = aws.receive_all(2)
    aws.dynamodb.delete_table(TableName=aws.table_name)
    with pytest.raises(BatchProcessingError) as raised:
        run_worker(aws, messages)
    assert "ResourceNotFoundException" in str(raised.value)


def test_worker_needs_no_queue_url(
    aws: MotoResources, lambda_context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    task_id = submit(lambda_context, TASK_CASES[4][0])
    messages = aws.receive_all(1)
    monkeypatch.delenv("QUEUE_URL")
    assert run_worker(aws, messages) == []
    assert poll(lambda_context, task_id)["status"] == "SUCCEEDED"
