"""The Kinesis consumer against moto Kinesis and DynamoDB, with events built from real
GetRecords results; and the re-hydration tool reading the records the on-failure queue points
to back from the stream."""

from __future__ import annotations

import base64
import io
import json
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from botocore.awsrequest import AWSResponse
from handler_test_support import ACCOUNT_ID, REGION, FakeLambdaContext
from local_network import reset_moto
from moto import mock_aws

import aws_clients
import stream_consumer
from stream_events import PoisonRecordError, event_ttl_seconds, parse_stream_event

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tools import stream_rehydrate

STREAM = "booking-events"
TABLE = "bookings"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:events-consumer"


@dataclass
class StreamWorld:
    kinesis: Any
    dynamodb: Any
    sqs: Any
    stream_arn: str
    shard_id: str
    failures_url: str

    def put(self, *payloads: bytes) -> list[str]:
        return [
            self.kinesis.put_record(StreamARN=self.stream_arn, Data=data, PartitionKey="p")[
                "SequenceNumber"
            ]
            for data in payloads
        ]

    def read_all(self) -> list[dict[str, Any]]:
        iterator = self.kinesis.get_shard_iterator(
            StreamARN=self.stream_arn, ShardId=self.shard_id, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        answer = self.kinesis.get_records(
            StreamARN=self.stream_arn, ShardIterator=iterator, Limit=1000
        )
        return list(answer["Records"])

    def event(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        """The event Lambda's Kinesis poller builds from a GetRecords result."""
        return {
            "Records": [
                {
                    "kinesis": {
                        "kinesisSchemaVersion": "1.0",
                        "partitionKey": record["PartitionKey"],
                        "sequenceNumber": record["SequenceNumber"],
                        "data": base64.b64encode(record["Data"]).decode("ascii"),
                        "approximateArrivalTimestamp": record[
                            "ApproximateArrivalTimestamp"
                        ].timestamp(),
                    },
                    "eventSource": "aws:kinesis",
                    "eventVersion": "1.0",
                    "eventID": f"{self.shard_id}:{record['SequenceNumber']}",
                    "eventName": "aws:kinesis:record",
                    "invokeIdentityArn": f"arn:aws:iam::{ACCOUNT_ID}:role/events-consumer",
                    "awsRegion": REGION,
                    "eventSourceARN": self.stream_arn,
                }
                for record in records
            ]
        }

    def pointer(self, first: str, last: str, count: int) -> str:
        """What Lambda sends the on-failure destination when it gives up on a batch."""
        return json.dumps(
            {
                "requestContext": {
                    "requestId": "c9b8fa9f-5a7f-4e3c-8b29-7c1a8a2a3e11",
                    "functionArn": FUNCTION_ARN,
                    "condition": "RetryAttemptsExhausted",
                    "approximateInvokeCount": 4,
                },
                "responseContext": {
                    "statusCode": 200,
                    "executedVersion": "$LATEST",
                    "functionError": "Unhandled",
                },
                "version": "1.0",
                "timestamp": "2026-01-01T00:00:05.000Z",
                "KinesisBatchInfo": {
                    "shardId": self.shard_id,
                    "startSequenceNumber": first,
                    "endSequenceNumber": last,
                    "approximateArrivalOfFirstRecord": "2026-01-01T00:00:00.000Z",
                    "approximateArrivalOfLastRecord": "2026-01-01T00:00:01.000Z",
                    "batchSize": count,
                    "streamArn": self.stream_arn,
                },
            }
        )

    def recorded(self) -> dict[str, dict[str, Any]]:
        items = self.dynamodb.scan(TableName=TABLE)["Items"]
        return {item["pk"]["S"]: item for item in items}


def _create_world(monkeypatch: pytest.MonkeyPatch) -> StreamWorld:
    """The stream, the saga table and the on-failure queue, wherever boto3 points now."""
    kinesis = boto3.client("kinesis", region_name=REGION)
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    kinesis.create_stream(StreamName=STREAM, ShardCount=1)
    described = kinesis.describe_stream(StreamName=STREAM)["StreamDescription"]
    dynamodb.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    failures_url = sqs.create_queue(QueueName="events-failures")["QueueUrl"]
    monkeypatch.setenv("TABLE_NAME", TABLE)
    return StreamWorld(
        kinesis,
        dynamodb,
        sqs,
        described["StreamARN"],
        described["Shards"][0]["ShardId"],
        failures_url,
    )


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[StreamWorld]:
    with mock_aws():
        yield _create_world(monkeypatch)


def event_data(event_id: str, event_type: str = "booking.confirmed") -> bytes:
    return json.dumps({"eventId": event_id, "type": event_type, "detail": {"n": 1}}).encode()


POISON = b'{"eventId": "e-2", "type": '  # cut off mid-write: never valid


def test_a_poison_record_fails_alone(world: StreamWorld) -> None:
    sequences = world.put(event_data("e-1"), POISON, event_data("e-3"))
    response = stream_consumer.handler(world.event(world.read_all()), FakeLambdaContext())
    assert response["batchItemFailures"] == [{"itemIdentifier": sequences[1]}]
    recorded = world.recorded()
    assert set(recorded) == {"event#e-1", "event#e-3"}
    assert recorded["event#e-3"]["sequenceNumber"]["S"] == sequences[2]
    assert recorded["event#e-1"]["shardId"]["S"] == world.shard_id


def test_a_retried_batch_counts_each_event_once(world: StreamWorld) -> None:
    world.put(event_data("e-1"), event_data("e-2"))
    event = world.event(world.read_all())
    first = stream_consumer.handler(event, FakeLambdaContext())
    # Lambda retries the same batch (or a bisected half of it): every record is a repeat.
    again = stream_consumer.handler(event, FakeLambdaContext())
    assert first["batchItemFailures"] == again["batchItemFailures"] == []
    assert set(world.recorded()) == {"event#e-1", "event#e-2"}
    # A second record with an id already seen (a producer's retry) is a repeat too.
    world.put(event_data("e-1"))
    latest = world.read_all()[-1:]
    assert stream_consumer.handler(world.event(latest), FakeLambdaContext()) == {
        "batchItemFailures": []
    }
    assert len(world.recorded()) == 2


def test_a_whole_failed_batch_raises_so_lambda_retries_it(world: StreamWorld) -> None:
    world.put(POISON)
    with pytest.raises(Exception, match="All records failed"):
        stream_consumer.handler(world.event(world.read_all()), FakeLambdaContext())


def test_a_table_failure_fails_the_record_for_a_retry(
    world: StreamWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    sequences = world.put(event_data("e-1"), event_data("e-2"))
    monkeypatch.setenv("TABLE_NAME", "no-such-table")
    with pytest.raises(Exception, match="All records failed"):
        stream_consumer.handler(world.event(world.read_all()), FakeLambdaContext())
    monkeypatch.setenv("TABLE_NAME", TABLE)
    response = stream_consumer.handler(world.event(world.read_all()), FakeLambdaContext())
    assert response["batchItemFailures"] == [] and len(sequences) == len(world.recorded())


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\xff\xfe", "not UTF-8 JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"eventId": "e 1", "type": "a"}', "eventId must be"),
        (b'{"eventId": "e-1", "type": "1x"}', "type must be"),
        (b'{"eventId": "e-1", "type": "a", "extra": 1}', "unknown field(s) extra"),
        (b'{"eventId": "e-1", "type": "a", "detail": []}', "detail must be"),
        (b"{" + b" " * 20_000 + b"}", "above 16384"),
    ],
)
def test_poison_records_name_their_problem(data: bytes, reason: str) -> None:
    with pytest.raises(PoisonRecordError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        parse_stream_event(data)


def test_event_ttl_is_checked() -> None:
    assert event_ttl_seconds(None) == 7 * 24 * 3600
    assert event_ttl_seconds("86400") == 86_400
    for bad in ("60", "soon", str(400 * 86_400)):
        with pytest.raises(ValueError, match="EVENT_TTL_SECONDS"):
            event_ttl_seconds(bad)


# --- a throttle of the table: ridden out within the invocation, or reported ---------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class ClockContext(FakeLambdaContext):
    """A Lambda context whose time runs out `budget_s` after it was made, on `clock`."""

    budget_s: float = 60.0  # the consumer's timeout (STREAM_CONSUMER_TIMEOUT_S)
    clock: Callable[[], float] = time.monotonic
    started: float = 0.0

    def __post_init__(self) -> None:
        self.started = self.clock()

    def get_remaining_time_in_millis(self) -> int:
        return int((self.budget_s - (self.clock() - self.started)) * 1000)


class _Body:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, *args: Any, **kwargs: Any) -> Iterator[bytes]:
        yield self._body


THROTTLED = (
    b'{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException",'
    b'"message":"Rate of requests exceeds the allowed throughput."}'
)


@dataclass
class Throttle:
    """DynamoDB answers every PutItem with ThrottlingException (nothing is written) for
    `seconds` after the first one; for ever when `seconds` is None."""

    seconds: float | None
    clock: Callable[[], float] = time.monotonic
    started: float | None = None
    throttled: int = 0

    def install(self, client: Any, service: str) -> None:
        if service == "dynamodb":
            client.meta.events.register("before-send.dynamodb.PutItem", self._answer)

    def _answer(self, request: Any, **kwargs: Any) -> AWSResponse | None:
        now = self.clock()
        self.started = now if self.started is None else self.started
        if self.seconds is not None and now - self.started >= self.seconds:
            return None
        self.throttled += 1
        headers = {"Content-Type": "application/x-amz-json-1.0"}
        return AWSResponse(request.url, 400, headers, _Body(THROTTLED))


@dataclass
class MappingRun:
    invocations: int = 0
    #: Invocations still running at their deadline: Lambda would have timed them out.
    late: int = 0
    #: Sequence numbers the mapping gave up on (sent to the on-failure queue).
    skipped: list[str] = field(default_factory=list)


def drive_mapping(
    world: StreamWorld,
    records: list[dict[str, Any]],
    make_context: Callable[[], ClockContext],
    pause: Callable[[], None],
    max_retry_attempts: int = 3,
) -> MappingRun:
    """A model of the event source mapping the StreamConsumer component configures
    (ReportBatchItemFailures, BisectBatchOnFunctionError, MaximumRetryAttempts, an on-failure
    queue), for one shard: a batch with failed items is retried from its first failed record
    (records before it are done); a batch whose invocation failed as a whole is split in two
    (a single record is retried as it is); every retry counts against the records it carries,
    and records out of retries go to the on-failure queue as a pointer while the shard moves
    on. `pause` is the time Lambda takes before the next invocation."""
    run = MappingRun()
    pending: deque[tuple[list[dict[str, Any]], int]] = deque([(records, 0)])
    while pending:
        batch, retries = pending.popleft()
        context = make_context()
        run.invocations += 1
        try:
            response = stream_consumer.handler(world.event(batch), context)
            failed: set[str] | None = {i["itemIdentifier"] for i in response["batchItemFailures"]}
        except BatchProcessingError:  # every record failed: a function error
            failed = None
        if context.get_remaining_time_in_millis() <= 0:
            run.late += 1
        if failed == set():
            continue
        if failed is not None:
            first = min(i for i, r in enumerate(batch) if r["SequenceNumber"] in failed)
            retry = [batch[first:]]
        elif len(batch) > 1:
            retry = [batch[: len(batch) // 2], batch[len(batch) // 2 :]]
        else:
            retry = [batch]
        if retries >= max_retry_attempts:
            given_up = [r for part in retry for r in part]
            first_seq, last_seq = given_up[0]["SequenceNumber"], given_up[-1]["SequenceNumber"]
            world.sqs.send_message(
                QueueUrl=world.failures_url,
                MessageBody=world.pointer(first_seq, last_seq, len(given_up)),
            )
            run.skipped.extend(r["SequenceNumber"] for r in given_up)
            continue
        pending.extendleft((part, retries + 1) for part in reversed(retry))
        pause()
    return run


def records_pointed_to(world: StreamWorld) -> int:
    """How many records the on-failure queue's pointers cover (what an operator must replay)."""
    count = 0
    while True:
        messages = world.sqs.receive_message(
            QueueUrl=world.failures_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        ).get("Messages", [])
        if not messages:
            return count
        for message in messages:
            count += json.loads(message["Body"])["KinesisBatchInfo"]["batchSize"]
            world.sqs.delete_message(
                QueueUrl=world.failures_url, ReceiptHandle=message["ReceiptHandle"]
            )


@pytest.fixture
def served_world(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> StreamWorld:
    """The world on a moto server: a throttled request is then answered without being applied
    (in-process moto would apply it behind the throttle's answer)."""
    reset_moto(moto_url)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    return _create_world(monkeypatch)


EVENTS = 20


def test_a_short_throttle_sends_no_event_to_the_on_failure_queue(
    served_world: StreamWorld,
) -> None:
    world = served_world
    throttle = Throttle(seconds=1.5)
    aws_clients.add_client_hook(throttle.install)
    world.put(*(event_data(f"e-{number}") for number in range(EVENTS)))
    run = drive_mapping(
        world, world.read_all(), make_context=ClockContext, pause=lambda: time.sleep(0.1)
    )
    assert throttle.throttled > 0
    assert records_pointed_to(world) == 0, f"{len(run.skipped)} of {EVENTS} events skipped"
    assert set(world.recorded()) == {f"event#e-{number}" for number in range(EVENTS)}
    assert run.late == 0


def test_a_sustained_outage_fails_the_records_in_time_and_loses_none(
    served_world: StreamWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = served_world
    clock = FakeClock()  # an hour of outage in no time: every wait runs on this clock
    monkeypatch.setattr(stream_consumer, "_sleep", clock.sleep)
    throttle = Throttle(seconds=None)
    aws_clients.add_client_hook(throttle.install)
    sequences = world.put(*(event_data(f"e-{number}") for number in range(EVENTS)))
    run = drive_mapping(
        world,
        world.read_all(),
        make_context=lambda: ClockContext(clock=clock),
        pause=lambda: clock.sleep(0.1),
    )
    assert run.late == 0  # every invocation reported its failures instead of timing out
    assert world.recorded() == {}
    # Nothing silently dropped: every record is pointed to, once, for the operator to replay.
    assert sorted(run.skipped) == sorted(sequences)
    assert records_pointed_to(world) == EVENTS


# --- re-hydration -------------------------------------------------------------------------


def _fail_and_point(world: StreamWorld) -> list[str]:
    """Two poison records among good ones; the consumer fails them, and Lambda (after its
    retries) sends pointers: one for a bisected single record, one for a two-record range."""
    sequences = world.put(
        event_data("e-1"), POISON, event_data("e-3"), b"not json", event_data("e-5")
    )
    response = stream_consumer.handler(world.event(world.read_all()), FakeLambdaContext())
    failed = [item["itemIdentifier"] for item in response["batchItemFailures"]]
    assert failed == [sequences[1], sequences[3]]
    world.sqs.send_message(
        QueueUrl=world.failures_url, MessageBody=world.pointer(sequences[1], sequences[1], 1)
    )
    world.sqs.send_message(
        QueueUrl=world.failures_url, MessageBody=world.pointer(sequences[3], sequences[4], 2)
    )
    return sequences


def _queue_depth(world: StreamWorld) -> int:
    attributes = world.sqs.get_queue_attributes(
        QueueUrl=world.failures_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def test_rehydration_recovers_the_failed_payloads_by_their_pointers(world: StreamWorld) -> None:
    sequences = _fail_and_point(world)
    parked = io.StringIO()
    report = stream_rehydrate.rehydrate(
        world.sqs,
        world.kinesis,
        world.failures_url,
        lambda recovery: stream_rehydrate.park(parked, recovery),
    )
    lines = [json.loads(line) for line in parked.getvalue().splitlines()]
    assert [line["sequenceNumber"] for line in lines] == [sequences[1], sequences[3], sequences[4]]
    assert [base64.b64decode(line["data"]) for line in lines] == [
        POISON,
        b"not json",
        event_data("e-5"),
    ]
    assert {line["shardId"] for line in lines} == {world.shard_id}
    assert {line["streamArn"] for line in lines} == {world.stream_arn}
    assert report.to_json() == {
        "pointers": 2,
        "records": 3,
        "actedOn": 3,
        "pointersDeleted": 2,
        "incomplete": [],
        "unreadableMessages": [],
    }
    assert _queue_depth(world) == 0


def test_replay_puts_the_records_back_for_the_consumer(world: StreamWorld) -> None:
    sequences = _fail_and_point(world)
    before = len(world.read_all())
    report = stream_rehydrate.rehydrate(
        world.sqs,
        world.kinesis,
        world.failures_url,
        lambda recovery: stream_rehydrate.replay(world.kinesis, recovery),
    )
    assert report.acted_on == 3 and report.deleted == 2
    replayed = world.read_all()[before:]
    assert [record["Data"] for record in replayed] == [POISON, b"not json", event_data("e-5")]
    assert all(int(r["SequenceNumber"]) > int(sequences[-1]) for r in replayed)
    # The consumer reads them again: e-5 is a repeat, the poison records fail again, alone.
    response = stream_consumer.handler(world.event(replayed), FakeLambdaContext())
    assert [item["itemIdentifier"] for item in response["batchItemFailures"]] == [
        replayed[0]["SequenceNumber"],
        replayed[1]["SequenceNumber"],
    ]
    assert set(world.recorded()) == {"event#e-1", "event#e-3", "event#e-5"}


def test_a_range_that_is_gone_stays_in_the_queue(world: StreamWorld) -> None:
    world.put(event_data("e-1"))
    sequence = world.read_all()[0]["SequenceNumber"]
    gone = world.pointer(sequence, sequence, 1).replace(world.shard_id, "shardId-000000000009")
    world.sqs.send_message(QueueUrl=world.failures_url, MessageBody=gone)
    world.sqs.send_message(QueueUrl=world.failures_url, MessageBody="{}")
    parked = io.StringIO()
    report = stream_rehydrate.rehydrate(
        world.sqs,
        world.kinesis,
        world.failures_url,
        lambda recovery: stream_rehydrate.park(parked, recovery),
    )
    assert report.pointers == 1 and report.acted_on == 0 and report.deleted == 0
    (incomplete,) = report.incomplete
    assert incomplete["shardId"] == "shardId-000000000009"
    assert "cannot read from the range's start" in incomplete["reason"]
    assert len(report.unreadable) == 1
    assert parked.getvalue() == ""
    assert _queue_depth(world) == 2


def test_dry_run_changes_nothing(world: StreamWorld) -> None:
    _fail_and_point(world)
    report = stream_rehydrate.rehydrate(world.sqs, world.kinesis, world.failures_url, None)
    assert report.pointers == 2 and report.records == 3
    assert report.acted_on == report.deleted == 0
    assert _queue_depth(world) == 2


def test_the_command_parks_into_a_file(
    world: StreamWorld, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _fail_and_point(world)
    capsys.readouterr()  # the consumer's own log and metric lines
    target = tmp_path / "parked.jsonl"
    code = stream_rehydrate.main(
        ["--queue-url", world.failures_url, "--region", REGION, "--park", str(target)]
    )
    assert code == 0
    assert json.loads(capsys.readouterr().out)["actedOn"] == 3
    assert len(target.read_text().splitlines()) == 3
