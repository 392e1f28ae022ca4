"""Hostile input in every message consumer: the task worker's SQS records, the booking-events
consumer's Kinesis records, and the DLQ replay tool's reading of dead-lettered messages.

The properties: a hostile record never crashes a batch or logs a traceback; it is parked with
its reason, never retried forever and never lost. For SQS that means reported as a batch item
failure on every receive (so the queue's redrive policy moves it to the DLQ after
maxReceiveCount) and, on its last receive, its task marked FAILED with the reason when the
message names one; for Kinesis, reported as a batch item failure with the reason logged (the
event source mapping's bounded retries then send it to the on-failure destination), while the
batch's other records are processed; for the DLQ replay, counted and moved like any message.
"""

from __future__ import annotations

import base64
import json
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from handler_test_support import (
    FakeLambdaContext,
    MotoResources,
    api_event,
    call_api,
    create_resources,
)
from hostile_strategies import (
    UUID4,
    captured_logs,
    deep_json,
    hostile_json,
    huge_numbers,
    invalid_base64,
    invalid_utf8_base64,
    nested,
    non_finite_literals,
    non_objects,
    not_json,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import stream_consumer
import task_api
import task_model
import task_worker
from stream_events import PoisonRecordError, parse_stream_event, record_data
from task_model import TaskMessage, lenient_task_id, parse_task_id, parse_task_request

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tools import dlq_replay

HOSTILE = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
PURE = settings(HOSTILE, max_examples=300)
MAX_RECEIVE_COUNT = 3
CALLER = {"userArn": "arn:aws:iam::123456789012:user/alice", "apiKeyId": "k1"}
CREATED_AT = "2030-01-01T00:00:00.000Z"
#: Queue messages with a hostile part; KEY is replaced by the task's key.
MESSAGE_TEMPLATES = [
    '{"taskId":"KEY","createdAt":"' + CREATED_AT + '","request":%s}',
    '{"taskId":"KEY","createdAt":"'
    + CREATED_AT
    + '","request":{"taskType":"sum","parameters":{"numbers":[%s]}}}',
    '{"taskId":"KEY","createdAt":%s,"request":{"taskType":"sha256","parameters":{"text":"x"}}}',
]
MESSAGE_PAIRS = [
    ("taskId", '"KEY"'),
    ("createdAt", json.dumps(CREATED_AT)),
    ("request", '{"taskType":"sha256","parameters":{"text":"x"}}'),
]
hostile_messages = hostile_json(MESSAGE_TEMPLATES, MESSAGE_PAIRS)
#: Kinesis record data no event can be read from. (A lone surrogate escaped inside `detail` is
#: valid JSON and a valid event, so surrogates appear here only where no string may hold them.)
EVENT_TEMPLATES = [
    '{"eventId":%s,"type":"booking.confirmed"}',
    '{"eventId":"e-1","type":"booking.confirmed","detail":{"n":[%s]}}',
]
hostile_event_texts = st.one_of(
    deep_json,
    st.builds(
        lambda depth: '{"eventId":"e-1","type":"a.b","detail":' + nested(depth, "object") + "}",
        st.integers(64, 9_000),
    ),
    st.sampled_from(EVENT_TEMPLATES).flatmap(
        lambda template: st.one_of(huge_numbers, non_finite_literals).map(
            lambda scalar: template.replace("%s", scalar)
        )
    ),
    huge_numbers,
    non_finite_literals,
    non_objects,
    not_json,
    st.sampled_from(
        [
            '{"eventId":"e-1","eventId":"e-2","type":"a.b"}',
            '{"eventId":"e-1","type":"a.b","detail":{"n":1,"n":2}}',
            '{"eventId":"\\ud800","type":"a.b"}',
            '{"eventId":"e-1","type":"a.b","\\udfff":1}',
            '{"eventId":"e-1","type":"a.b","detail":{"n":"\ud800"}}',
        ]
    ),
)
hostile_event_data = st.one_of(
    hostile_event_texts.map(
        lambda text: base64.b64encode(text.encode("utf-8", "surrogatepass")).decode("ascii")
    ),
    invalid_base64,
    invalid_utf8_base64,
)


@pytest.fixture(scope="module")
def world() -> Iterator[MotoResources]:
    """One moto account for the module: the tasks table and queue, the events table."""
    from moto import mock_aws

    with mock_aws(), pytest.MonkeyPatch.context() as patch:
        resources = create_resources(endpoint_url=None)
        boto3.client("dynamodb", region_name="eu-west-1").create_table(
            TableName="booking-events",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        patch.setenv("QUEUE_URL", resources.queue_url)
        patch.setenv("TASK_TTL_SECONDS", "3600")
        patch.setenv("MAX_RECEIVE_COUNT", str(MAX_RECEIVE_COUNT))
        patch.setenv("TABLE_NAME", resources.table_name)
        yield resources


def pending_task(text: str) -> str:
    """The key of a new PENDING task (submitted through the API, as a client would)."""
    body = json.dumps({"taskType": "sha256", "parameters": {"text": text}})
    event = api_event("POST", "/tasks", body)
    event["requestContext"]["identity"] = {"sourceIp": "203.0.113.7", **CALLER}
    event["headers"]["Idempotency-Key"] = str(uuid.uuid4())
    event["multiValueHeaders"]["Idempotency-Key"] = [event["headers"]["Idempotency-Key"]]
    answered = call_api(task_api.handler, FakeLambdaContext(), event)
    assert answered.status_code == 202, answered.body
    return parse_task_id(answered.body["taskId"]).key


def sqs_record(body: str, receive_count: int) -> dict[str, Any]:
    """An SQS record as Lambda's poller delivers it."""
    return {
        "messageId": str(uuid.uuid4()),
        "receiptHandle": "handle-" + str(uuid.uuid4()),
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": "1767225600000",
        },
        "messageAttributes": {},
        "md5OfBody": "0" * 32,
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:resilient-tasks-work",
        "awsRegion": "eu-west-1",
    }


def status_of(world: MotoResources, key: str) -> dict[str, Any]:
    item = world.item(key)
    assert item is not None
    return item


@HOSTILE
@given(template=hostile_messages, receive_count=st.integers(1, MAX_RECEIVE_COUNT))
def test_a_hostile_queue_message_is_parked_with_its_reason(
    world: MotoResources, template: str, receive_count: int
) -> None:
    """Property: a hostile queue message (deep nesting, huge numbers, NaN, surrogates,
    duplicate keys, not an object, not JSON) fails alone: it is reported as a batch item
    failure on every receive (SQS's redrive moves it to the DLQ after maxReceiveCount, so it is
    retried a bounded number of times and never deleted unprocessed), its reason is logged
    without a traceback, the rest of the batch completes, and on its last receive the task it
    names (when one can be read from it) is marked FAILED with the reason naming the field."""
    key, good_key = pending_task(str(uuid.uuid4())), pending_task(str(uuid.uuid4()))
    body = template.replace("KEY", key)
    hostile = sqs_record(body, receive_count)
    request = parse_task_request(json.dumps({"taskType": "sum", "parameters": {"numbers": [2]}}))
    good = sqs_record(json.dumps(TaskMessage(good_key, request, CREATED_AT).to_dict()), 1)

    with captured_logs(task_worker.logger.registered_handler) as logs:
        response = task_worker.handler({"Records": [hostile, good]}, FakeLambdaContext())

    logs.assert_no_traceback()
    assert response["batchItemFailures"] == [{"itemIdentifier": hostile["messageId"]}]
    assert status_of(world, good_key)["status"]["S"] == "SUCCEEDED"
    failures = [record for record in logs.records() if record.get("message") == "Message failed"]
    assert len(failures) == 1 and failures[0]["reason"], logs.records()
    reason = failures[0]["reason"]
    assert ": expected " in reason  # the ValidationError's "<field>: expected ..."
    item = status_of(world, key)
    if receive_count == MAX_RECEIVE_COUNT and lenient_task_id(body) == key:
        assert item["status"]["S"] == "FAILED"
        assert item["error"]["S"] == reason[:1000]
    else:
        # Not given up yet (or the message names no task it can be tied to): the task stays
        # PENDING (and reads FAILED once a processing window, where one is set, ends).
        assert item["status"]["S"] == "PENDING"


def test_the_known_deep_message_fails_without_a_traceback(world: MotoResources) -> None:
    """The reported input on the queue: a message nested 8,000 deep (RecursionError before)."""
    key, good_key = pending_task("deep"), pending_task("shallow")
    body = MESSAGE_TEMPLATES[0].replace("KEY", key).replace("%s", nested(8_000, "array"))
    hostile = sqs_record(body, MAX_RECEIVE_COUNT)
    request = parse_task_request(json.dumps({"taskType": "sum", "parameters": {"numbers": [2]}}))
    good = sqs_record(json.dumps(TaskMessage(good_key, request, CREATED_AT).to_dict()), 1)
    with captured_logs(task_worker.logger.registered_handler) as logs:
        response = task_worker.handler({"Records": [good, hostile]}, FakeLambdaContext())
    logs.assert_no_traceback()
    assert response["batchItemFailures"] == [{"itemIdentifier": hostile["messageId"]}]
    assert status_of(world, good_key)["status"]["S"] == "SUCCEEDED"
    (failure,) = [record for record in logs.records() if record.get("message") == "Message failed"]
    assert failure["reason"].startswith("body: expected JSON nested at most 64 levels deep")


def kinesis_record(data: str, sequence_number: str) -> dict[str, Any]:
    """A Kinesis record as Lambda's poller delivers it (`data` is base64, or whatever came)."""
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": "p",
            "sequenceNumber": sequence_number,
            "data": data,
            "approximateArrivalTimestamp": 1767225600.0,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"shardId-000000000000:{sequence_number}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": "arn:aws:iam::123456789012:role/events-consumer",
        "awsRegion": "eu-west-1",
        "eventSourceARN": "arn:aws:kinesis:eu-west-1:123456789012:stream/booking-events",
    }


def event_record(event_id: str, sequence_number: str) -> dict[str, Any]:
    data = json.dumps({"eventId": event_id, "type": "booking.confirmed", "detail": {"n": 1}})
    return kinesis_record(base64.b64encode(data.encode()).decode("ascii"), sequence_number)


@HOSTILE
@given(data=hostile_event_data)
def test_a_hostile_stream_record_is_parked_with_its_reason(
    world: MotoResources, data: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Property: a Kinesis record whose data is not base64, not UTF-8, not JSON, nested too
    deep, holds numbers JSON cannot carry, duplicate keys or a field no event has, is a poison
    record: reported as the batch's only item failure, with "Poison record" and its reason
    logged (no traceback), while the valid records before and after it are recorded. (The
    mapping's bounded retries then send it to the on-failure destination.)"""
    monkeypatch.setenv("TABLE_NAME", "booking-events")
    tag = uuid.uuid4().hex
    records = [
        event_record(f"before-{tag}", "100"),
        kinesis_record(data, "200"),
        event_record(f"after-{tag}", "300"),
    ]
    with captured_logs(stream_consumer.logger.registered_handler) as logs:
        response = stream_consumer.handler({"Records": records}, FakeLambdaContext())

    logs.assert_no_traceback()
    assert response["batchItemFailures"] == [{"itemIdentifier": "200"}]
    poison = [record for record in logs.records() if record.get("message") == "Poison record"]
    assert len(poison) == 1 and poison[0]["reason"], logs.records()
    dynamodb = boto3.client("dynamodb", region_name="eu-west-1")
    for event_id in (f"before-{tag}", f"after-{tag}"):
        item = dynamodb.get_item(TableName="booking-events", Key={"pk": {"S": f"event#{event_id}"}})
        assert "Item" in item, event_id


@settings(PURE, max_examples=200)
@given(data=st.one_of(hostile_event_data, st.none(), st.integers(), st.binary(max_size=30)))
def test_stream_record_parsing_names_its_reason(data: object) -> None:
    """Property: the consumer's parse of a hostile record's data always ends in
    PoisonRecordError with a reason (never another exception)."""
    with pytest.raises(PoisonRecordError) as error:
        parse_stream_event(record_data(data))
    assert str(error.value)


# --- DLQ replay ---------------------------------------------------------------------------------

SHAPES = {"not JSON", "no taskId", "not a task id", "task message"}


@PURE
@given(
    body=st.one_of(
        hostile_messages.map(lambda text: text.replace("KEY", UUID4)),
        hostile_messages.map(lambda text: text.replace("KEY", "x" * 10_000)),
        st.sampled_from(
            ['{"taskId":"\\ud800"}', '{"taskId":7}', '{"taskId":"' + "a" * 9000 + '"}']
        ),
        st.text(max_size=100),
    )
)
def test_dlq_replay_reads_any_body(body: str) -> None:
    """Property: the replay tool classifies any dead-lettered body (nested too deep for the
    parser, huge numbers, surrogates, a taskId of 10,000 characters) without raising, and only
    ever takes a task key (a UUID4) from it, so no body can make it look up a bad table key."""
    assert dlq_replay.shape_reason(body) in SHAPES
    task_id = dlq_replay.task_id_of(body)
    assert task_id is None or task_id == UUID4


def test_dlq_replay_moves_hostile_messages_and_counts_them(world: MotoResources) -> None:
    """A DLQ holding hostile messages (8,000 deep, 10**5000, an overlong or non-UUID taskId)
    is replayed with the tasks table: every message is moved and counted by its reason; none is
    lost, none stops the run."""
    sqs = boto3.client("sqs", region_name="eu-west-1")
    dynamodb = boto3.client("dynamodb", region_name="eu-west-1")
    dlq = sqs.create_queue(QueueName="hostile-dlq")["QueueUrl"]
    target = sqs.create_queue(QueueName="hostile-target")["QueueUrl"]
    bodies = [
        nested(8_000, "array"),
        '{"taskId":"' + UUID4 + '","request":' + nested(8_000, "object") + "}",
        '{"taskId":' + "9" * 5_000 + "}",
        '{"taskId":"' + "x" * 10_000 + '"}',
        '{"taskId":"eu-west-1.1767225600000.' + UUID4 + '"}',
        '{"taskId":"../../etc/passwd"}',
    ]
    for body in bodies:
        sqs.send_message(QueueUrl=dlq, MessageBody=body)
    options = dlq_replay.Options(dlq_url=dlq, to_url=target, wait_s=0, tasks_table=world.table_name)
    report = dlq_replay.replay(sqs, sqs, options, dynamodb=dynamodb)
    assert report.received == report.sent == report.deleted == len(bodies)
    assert sum(report.by_reason.values()) == len(bodies)
    assert report.by_reason["not JSON"] == 3
    moved: list[str] = []
    while True:
        got = sqs.receive_message(QueueUrl=target, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        if not got.get("Messages"):
            break
        moved.extend(message["Body"] for message in got["Messages"])
    assert sorted(moved) == sorted(bodies)


def test_a_message_too_deep_to_parse_still_names_its_task() -> None:
    """A message nested beyond the parser's reach can still mark its task FAILED: its id is
    read from the text when exactly one `taskId` member is there (two: none is trusted)."""
    key = "0d3f1a2b-1c2d-4e5f-8a9b-0c1d2e3f4a5b"
    deep = "[" * 5000 + "]" * 5000
    assert task_model.lenient_task_id(f'{{"taskId": "{key}", "request": {deep}}}') == key
    assert task_model.lenient_task_id(f'{{"request": {deep}, "taskId": "eu-west-1.{"0" * 13}.{key}"}}') == key
    two = f'{{"taskId": "{key}", "request": {{"taskId": "{key[:-1]}0"}}, "x": {deep}}}'
    assert task_model.lenient_task_id(two) is None
