"""Read-after-write across regions, through the handler against in-process moto.

The table is a global table replicated asynchronously; moto does not replicate, so a second
region's replica is a table of its own in us-east-1 and "replication" is copying the item.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from handler_test_support import (
    FakeLambdaContext,
    MotoResources,
    call_api,
    emitted_metrics,
    get_event,
    health_event,
    submit_event,
)

import aws_clients
import task_api
from task_model import (
    REPLICATION_RETRY_AFTER_S,
    idempotent_task_id,
    parse_task_id,
    parse_task_request,
    regional_task_id,
    request_fingerprint,
)

OTHER_REGION = "us-east-1"
SUM_REQUEST = {"taskType": "sum", "parameters": {"numbers": [1, 2, 3]}}


@pytest.fixture
def replica(aws: MotoResources) -> Any:
    """The tasks table's replica in us-east-1 (empty until items are copied into it)."""
    dynamodb = boto3.client("dynamodb", region_name=OTHER_REGION)
    dynamodb.create_table(
        TableName=aws.table_name,
        AttributeDefinitions=[{"AttributeName": "taskId", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "taskId", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return dynamodb


@pytest.fixture
def get_item_reads() -> Iterator[list[dict[str, Any]]]:
    """The parameters of every GetItem the handlers send to the tasks table."""
    reads: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **kwargs: Any) -> None:
        if params.get("Key", {}).get("taskId"):
            reads.append(dict(params))

    aws_clients.add_client_hook(
        lambda client, service: (
            client.meta.events.register("provide-client-params.dynamodb.GetItem", record)
            if service == "dynamodb"
            else None
        )
    )
    yield reads


def _now_ms() -> int:
    return int(time.time() * 1000)


def _get(task_id: str) -> Any:
    return call_api(task_api.handler, FakeLambdaContext(), get_event(task_id))


def _submit(headers: dict[str, str] | None = None) -> Any:
    event = submit_event(SUM_REQUEST)
    event["headers"].update(headers or {})
    return call_api(task_api.handler, FakeLambdaContext(), event)


def test_a_fresh_task_of_another_region_not_here_yet_is_a_404_with_a_retry_hint(
    aws: MotoResources, capsys: pytest.CaptureFixture[str]
) -> None:
    task_id = regional_task_id(OTHER_REGION, _now_ms() - 500, idempotent_task_id("k", "0" * 64))

    answer = _get(task_id)

    assert answer.status_code == 404
    assert answer.headers["Retry-After"] == str(REPLICATION_RETRY_AFTER_S)
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.body["error"] == "TaskNotReplicatedYet"
    assert answer.body["taskId"] == task_id
    assert answer.body["writtenInRegion"] == OTHER_REGION
    assert answer.body["region"] == "eu-west-1"
    assert answer.body["retryAfterSeconds"] == REPLICATION_RETRY_AFTER_S
    assert OTHER_REGION in answer.body["message"]
    assert "TasksNotReplicatedYet" in emitted_metrics(capsys.readouterr().out)


def test_after_the_grace_period_the_miss_is_a_plain_404(
    aws: MotoResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REPLICATION_GRACE_SECONDS", "30")
    key = idempotent_task_id("k", "0" * 64)
    within = _get(regional_task_id(OTHER_REGION, _now_ms() - 25_000, key))
    past = _get(regional_task_id(OTHER_REGION, _now_ms() - 31_000, key))

    assert within.body["error"] == "TaskNotReplicatedYet"
    assert past.status_code == 404
    assert past.body["error"] == "NotFound"
    assert "Retry-After" not in past.headers


def test_a_task_of_this_region_that_is_missing_is_a_plain_404_and_read_consistently(
    aws: MotoResources, get_item_reads: list[dict[str, Any]]
) -> None:
    task_id = regional_task_id("eu-west-1", _now_ms(), idempotent_task_id("k", "0" * 64))
    answer = _get(task_id)
    assert answer.status_code == 404
    assert answer.body["error"] == "NotFound"
    assert "Retry-After" not in answer.headers
    [read] = get_item_reads
    assert read["ConsistentRead"] is True
    assert read["Key"] == {"taskId": {"S": parse_task_id(task_id).key}}


def test_reads_are_strongly_consistent_only_where_that_sees_the_write(
    aws: MotoResources, get_item_reads: list[dict[str, Any]]
) -> None:
    key = idempotent_task_id("k", "0" * 64)
    _get(key)  # an old id names no region: read as before, strongly consistent
    _get(regional_task_id(OTHER_REGION, _now_ms(), key))  # arrives by replication only
    assert [read["ConsistentRead"] for read in get_item_reads] == [True, False]


def test_submit_in_one_region_then_get_in_another_before_and_after_replication(
    aws: MotoResources, replica: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    submitted = _submit({"Idempotency-Key": "order-7"})
    assert submitted.status_code == 202
    task_id = submitted.body["taskId"]
    assert parse_task_id(task_id).region == "eu-west-1"
    monkeypatch.setenv("AWS_REGION", OTHER_REGION)

    early = _get(task_id)
    assert early.status_code == 404
    assert early.body["error"] == "TaskNotReplicatedYet"
    assert early.body["writtenInRegion"] == "eu-west-1"

    item = aws.item(task_id)
    assert item is not None
    replica.put_item(TableName=aws.table_name, Item=item)  # replication caught up
    later = _get(task_id)
    assert later.status_code == 200
    assert later.body["taskId"] == task_id
    assert later.body["submittedRegion"] == "eu-west-1"
    assert later.body["status"] == "PENDING"


def test_a_repeated_submit_gets_the_first_id_in_any_region(
    aws: MotoResources, replica: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _submit({"Idempotency-Key": "order-8"})
    time.sleep(0.002)  # a later millisecond: a fresh id would differ
    again = _submit({"Idempotency-Key": "order-8"})
    assert first.status_code == again.status_code == 202
    assert again.body["taskId"] == first.body["taskId"]
    assert again.body["statusUrl"] == first.body["statusUrl"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(aws.items()) == 1

    # The retry lands in the other region once the item has replicated there.
    item = aws.item(first.body["taskId"])
    assert item is not None
    replica.put_item(TableName=aws.table_name, Item=item)
    monkeypatch.setenv("AWS_REGION", OTHER_REGION)
    sqs = boto3.client("sqs", region_name=OTHER_REGION)
    monkeypatch.setenv("QUEUE_URL", sqs.create_queue(QueueName="tasks-work")["QueueUrl"])
    elsewhere = _submit({"Idempotency-Key": "order-8"})
    assert elsewhere.status_code == 202
    assert elsewhere.body["taskId"] == first.body["taskId"]
    assert parse_task_id(elsewhere.body["taskId"]).region == "eu-west-1"
    assert elsewhere.headers["Idempotent-Replayed"] == "true"
    # Still PENDING, so it is sent again, to the queue of the region that answered.
    [message] = sqs.receive_message(QueueUrl=os.environ["QUEUE_URL"])["Messages"]
    assert json.loads(message["Body"])["taskId"] == parse_task_id(first.body["taskId"]).key


def test_tasks_stored_before_ids_named_their_region_keep_working(
    aws: MotoResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An item written by the previous version: keyed by a bare UUID4, no publicId (and no
    owner: readable only where the stack keeps unowned items readable)."""
    monkeypatch.setenv("TASK_LEGACY_UNOWNED_READABLE", "true")
    fingerprint = request_fingerprint(parse_task_request(json.dumps(SUM_REQUEST)))
    old_id = str(uuid.uuid4())
    aws.dynamodb.put_item(
        TableName=aws.table_name,
        Item={
            "taskId": {"S": old_id},
            "status": {"S": "SUCCEEDED"},
            "taskType": {"S": "sum"},
            "createdAt": {"S": "2026-01-01T00:00:00.000Z"},
            "updatedAt": {"S": "2026-01-01T00:00:01.000Z"},
            "region": {"S": "eu-west-1"},
            "request": {"S": json.dumps(SUM_REQUEST)},
            "result": {"S": json.dumps({"sum": 6, "count": 3})},
            "requestHash": {"S": fingerprint},
            "expiresAt": {"N": str(int(time.time()) + 3600)},
        },
    )

    polled = _get(old_id)
    assert polled.status_code == 200
    assert polled.body["taskId"] == old_id
    assert polled.body["result"] == {"sum": 6, "count": 3}

    # Idempotency-Keys are scoped to their caller now: a submit with the key the unowned
    # task was written under is the caller's own new task, and the old one is left as it was.
    again = _submit({"Idempotency-Key": "legacy-1"})
    assert again.status_code == 202
    assert parse_task_id(again.body["taskId"]).key != old_id
    assert "Idempotent-Replayed" not in again.headers
    assert len(aws.items()) == 2
    assert _get(old_id).body["result"] == {"sum": 6, "count": 3}


def test_a_conflicting_body_names_the_id_of_the_stored_task(aws: MotoResources) -> None:
    first = _submit({"Idempotency-Key": "order-9"})
    other = submit_event({"taskType": "sum", "parameters": {"numbers": [7]}})
    other["headers"]["Idempotency-Key"] = "order-9"
    conflict = call_api(task_api.handler, FakeLambdaContext(), other)
    assert conflict.status_code == 422
    assert conflict.body["taskId"] == first.body["taskId"]


def test_health_names_the_region_even_when_misconfigured(
    aws: MotoResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TABLE_NAME")
    answer = call_api(task_api.handler, FakeLambdaContext(), health_event())
    assert answer.status_code == 503
    assert answer.body["dependencies"] == {"configuration": "down"}
    assert answer.body["region"] == "eu-west-1"
