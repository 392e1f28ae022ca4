"""A task the system gave up on never reads PENDING.

The worker marks a task FAILED on its message's last receive, but that write can be refused:
by the table (the outage that made the task fail in the first place) or by the open circuit
breaker. The task must still read FAILED once its processing window (written on the item at
submit) has ended, read PENDING again once a DLQ replay sends its message back, and complete
when that message is processed.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from handler_test_support import (
    FakeLambdaContext,
    MotoResources,
    call_api,
    get_event,
    sqs_event,
    submit_event,
)

import aws_clients
import downstream
import task_api
import task_worker
from task_model import NOT_PROCESSED_IN_TIME, parse_task_id, visible_status
from task_settings import ConfigurationError, load_settings

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tools import dlq_replay

WINDOW_S = 60
MAX_RECEIVE_COUNT = 3
REQUEST = {"taskType": "sum", "parameters": {"numbers": [1, 2, 3]}}


@pytest.fixture
def windowed(aws: MotoResources, monkeypatch: pytest.MonkeyPatch) -> MotoResources:
    monkeypatch.setenv("MAX_RECEIVE_COUNT", str(MAX_RECEIVE_COUNT))
    monkeypatch.setenv("TASK_PROCESSING_WINDOW_SECONDS", str(WINDOW_S))
    return aws


def submit(key: str = "client-key-1") -> str:
    event = submit_event(REQUEST)
    event["headers"]["Idempotency-Key"] = key
    answer = call_api(task_api.handler, FakeLambdaContext(), event)
    assert answer.status_code == 202, answer.body
    return str(answer.body["taskId"])


def poll_at(monkeypatch: pytest.MonkeyPatch, task_id: str, now_s: float) -> dict[str, Any]:
    """GET /tasks/{id} as answered at `now_s` (only the API's clock moves; AWS calls do not)."""
    with monkeypatch.context() as patched:
        patched.setattr(task_api, "time", SimpleNamespace(time=lambda: now_s))
        answer = call_api(task_api.handler, FakeLambdaContext(), get_event(task_id))
    assert answer.status_code == 200, answer.body
    return answer.body


def last_receive_of_poison(message: dict[str, Any], task_id: str) -> dict[str, Any]:
    """The message on its last receive, with a body the worker cannot run (its task id kept)."""
    key = parse_task_id(task_id).key
    broken = dict(message, Body=json.dumps({"taskId": key, "request": "not a request"}))
    broken["Attributes"] = {
        **message["Attributes"],
        "ApproximateReceiveCount": str(MAX_RECEIVE_COUNT),
    }
    return broken


class _Refused:
    status_code = 500


def _refuse_updates(client: Any, service: str) -> None:
    if service != "dynamodb":
        return

    def answer_500(**kwargs: Any) -> tuple[Any, dict[str, Any]]:
        return _Refused(), {
            "Error": {"Code": "InternalServerError", "Message": "table refused the write"},
            "ResponseMetadata": {"HTTPStatusCode": 500},
        }

    client.meta.events.register("before-call.dynamodb.UpdateItem", answer_500)


def table_refuses_updates() -> None:
    aws_clients.add_client_hook(_refuse_updates)


def breaker_open() -> None:
    table = downstream.breaker("table", load_settings())
    for _ in range(load_settings().breaker.failure_threshold):
        table.failed(table.admit())


@pytest.fixture(params=[table_refuses_updates, breaker_open], ids=["table", "breaker"])
def mark_refused(request: pytest.FixtureRequest) -> Iterator[Callable[[], None]]:
    yield request.param
    # The fault ends: later calls (the client's GETs) reach a healthy table again.
    aws_clients.reset_clients()
    downstream.reset()


def give_up_with_the_mark_refused(
    aws: MotoResources, task_id: str, refuse: Callable[[], None]
) -> dict[str, Any]:
    """The worker's last receive of the task's message fails, and so does its FAILED mark."""
    [message] = aws.receive_all(1)
    refuse()
    with pytest.raises(BatchProcessingError):
        task_worker.handler(
            sqs_event([last_receive_of_poison(message, task_id)], aws.queue_arn),
            FakeLambdaContext(),
        )
    aws_clients.reset_clients()
    downstream.reset()
    item = aws.item(task_id)
    assert item is not None and item["status"]["S"] == "PENDING"  # the mark did not land
    return message


def test_a_task_whose_failed_mark_is_refused_reads_failed_once_its_window_ends(
    windowed: MotoResources,
    monkeypatch: pytest.MonkeyPatch,
    mark_refused: Callable[[], None],
) -> None:
    submitted_at = time.time()
    task_id = submit()
    give_up_with_the_mark_refused(windowed, task_id, mark_refused)

    assert poll_at(monkeypatch, task_id, submitted_at)["status"] == "PENDING"  # still in time
    polled = poll_at(monkeypatch, task_id, submitted_at + WINDOW_S + 1)
    assert polled["status"] == "FAILED", polled
    assert polled["error"].startswith(NOT_PROCESSED_IN_TIME)
    assert "Idempotency-Key" in polled["error"]  # names the fix


def test_a_replayed_task_reads_pending_until_processed_then_succeeds(
    windowed: MotoResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    submitted_at = time.time()
    task_id = submit()
    message = give_up_with_the_mark_refused(windowed, task_id, table_refuses_updates)
    # SQS parks the message in the DLQ; here it is put there directly.
    dlq = windowed.sqs.create_queue(QueueName="resilient-tasks-dlq")["QueueUrl"]
    windowed.sqs.send_message(QueueUrl=dlq, MessageBody=message["Body"])
    replayed_at = submitted_at + WINDOW_S + 5
    assert poll_at(monkeypatch, task_id, replayed_at)["status"] == "FAILED"

    report = dlq_replay.replay(
        windowed.sqs,
        windowed.sqs,
        dlq_replay.Options(
            dlq_url=dlq, to_url=windowed.queue_url, wait_s=0, tasks_table=windowed.table_name
        ),
        dynamodb=windowed.dynamodb,
        now=lambda: replayed_at,
    )
    assert (report.tasks_reset, report.sent) == (1, 1)
    # A fresh window from the replay: PENDING again, while its message waits to be processed.
    assert poll_at(monkeypatch, task_id, replayed_at + WINDOW_S - 1)["status"] == "PENDING"

    [again] = windowed.receive_all(1)
    assert task_worker.handler(sqs_event([again], windowed.queue_arn), FakeLambdaContext()) == {
        "batchItemFailures": []
    }
    done = poll_at(monkeypatch, task_id, replayed_at + 10 * WINDOW_S)
    assert done["status"] == "SUCCEEDED" and done["result"] == {"sum": 6, "count": 3}


def test_the_same_submit_again_runs_a_task_whose_window_ended(
    windowed: MotoResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    task_id = submit()
    give_up_with_the_mark_refused(windowed, task_id, table_refuses_updates)
    key = parse_task_id(task_id).key
    # Its window ended a while ago (the API's own clock is read for the submit).
    windowed.dynamodb.update_item(
        TableName=windowed.table_name,
        Key={"taskId": {"S": key}},
        UpdateExpression="SET processBy = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}},
    )
    again = submit()  # the client's resubmit, same Idempotency-Key
    assert parse_task_id(again).key == key
    item = windowed.item(again)
    assert item is not None and visible_status(item, time.time()) == "PENDING"
    assert int(item["processBy"]["N"]) >= int(time.time()) + WINDOW_S - 2
    [message] = windowed.receive_all(1)  # sent again
    assert json.loads(message["Body"])["taskId"] == key


def test_without_a_configured_window_nothing_is_derived(
    aws: MotoResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    task_id = submit()
    item = aws.item(task_id)
    assert item is not None and "processBy" not in item
    assert poll_at(monkeypatch, task_id, time.time() + 3000)["status"] == "PENDING"


@pytest.mark.parametrize("raw", ["-1", "ten", str(400 * 24 * 3600)])
def test_a_bad_window_setting_names_the_variable(raw: str) -> None:
    environ = {"TABLE_NAME": "t", "AWS_REGION": "eu-west-1", "TASK_TTL_SECONDS": "3600"}
    with pytest.raises(ConfigurationError, match="TASK_PROCESSING_WINDOW_SECONDS"):
        load_settings({**environ, "TASK_PROCESSING_WINDOW_SECONDS": raw})
    assert load_settings(environ).processing_window_s is None
