"""The DLQ replay tool against moto: dry run, filters, attributes and FIFO ids kept, a batch
that partly fails deletes only what it delivered, and a run stopped halfway loses nothing."""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tools import dlq_replay
from tools.dlq_replay import Filters, Options, RateLimiter

REGION = "eu-west-1"


@pytest.fixture
def sqs() -> Iterator[Any]:
    from moto import mock_aws

    with mock_aws():
        yield boto3.client("sqs", region_name=REGION)


def queue(sqs: Any, name: str, fifo: bool = False) -> str:
    attributes = {"FifoQueue": "true"} if fifo else {}
    return str(sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"])


def fill(sqs: Any, url: str, count: int, task_type: str = "sum", **extra: Any) -> list[str]:
    bodies = []
    for number in range(count):
        body = json.dumps({"taskId": str(uuid.uuid4()), "n": number})
        sqs.send_message(
            QueueUrl=url,
            MessageBody=body,
            MessageAttributes={
                "taskType": {"DataType": "String", "StringValue": task_type},
                "attempt": {"DataType": "Number", "StringValue": str(number)},
                "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
            },
            **extra,
        )
        bodies.append(body)
    return bodies


def drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    while True:
        got = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
            VisibilityTimeout=60,
        ).get("Messages", [])
        if not got:
            return messages
        messages.extend(got)


def visible(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def release(sqs: Any, url: str, messages: list[dict[str, Any]]) -> None:
    for message in messages:
        sqs.change_message_visibility(
            QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )


def options(dlq: str, to: str, **kwargs: Any) -> Options:
    return Options(dlq_url=dlq, to_url=to, wait_s=0, **kwargs)


def test_dry_run_counts_by_reason_and_age_and_moves_nothing(sqs: Any) -> None:
    dlq, work = queue(sqs, "dlq"), queue(sqs, "work")
    fill(sqs, dlq, 3)
    sqs.send_message(QueueUrl=dlq, MessageBody="not json at all")
    report = dlq_replay.replay(sqs, sqs, options(dlq, work, dry_run=True))
    assert report.matched == 4 and report.sent == 0 and report.deleted == 0
    assert report.by_reason == {"task message": 3, "not JSON": 1}
    assert report.by_age == {"< 1 h": 4}
    assert drain(sqs, work) == []
    assert visible(sqs, dlq) == 4  # released: visible again at once


def test_replay_keeps_attributes_and_deletes_what_it_delivered(sqs: Any) -> None:
    dlq, work = queue(sqs, "dlq"), queue(sqs, "work")
    bodies = fill(sqs, dlq, 25)
    report = dlq_replay.replay(sqs, sqs, options(dlq, work))
    assert (report.sent, report.deleted, report.send_failed) == (25, 25, 0)
    moved = drain(sqs, work)
    assert sorted(m["Body"] for m in moved) == sorted(bodies)
    attributes = moved[0]["MessageAttributes"]
    assert attributes["taskType"]["StringValue"] == "sum"
    assert attributes["attempt"]["DataType"] == "Number"
    assert attributes["blob"]["BinaryValue"] == b"\x00\x01"
    assert drain(sqs, dlq) == []


def test_filters_and_max_move_only_what_was_asked(sqs: Any) -> None:
    dlq, work = queue(sqs, "dlq"), queue(sqs, "work")
    fill(sqs, dlq, 4, task_type="sum")
    fill(sqs, dlq, 3, task_type="sha256")
    report = dlq_replay.replay(sqs, sqs, options(dlq, work, filters=Filters(task_type="sha256")))
    assert report.sent == 3
    assert {m["MessageAttributes"]["taskType"]["StringValue"] for m in drain(sqs, work)} == {
        "sha256"
    }
    assert visible(sqs, dlq) == 4  # the others were released at the end of the run
    report = dlq_replay.replay(sqs, sqs, options(dlq, work, max_messages=2))
    assert report.sent == 2


def test_a_batch_that_partly_fails_deletes_nothing_it_did_not_deliver(sqs: Any) -> None:
    dlq, work = queue(sqs, "dlq"), queue(sqs, "work")
    bodies = fill(sqs, dlq, 5)
    destination = boto3.client("sqs", region_name=REGION)
    refused: list[str] = []

    def one_entry_fails(parsed: dict[str, Any], **kwargs: Any) -> None:
        # SQS answers 200 with per-entry results; here it reports entry "0" of each batch failed.
        if parsed.get("Successful"):
            entry = parsed["Successful"].pop(0)
            refused.append(entry["Id"])
            parsed.setdefault("Failed", []).append(
                {"Id": entry["Id"], "SenderFault": False, "Code": "InternalError"}
            )

    destination.meta.events.register("after-call.sqs.SendMessageBatch", one_entry_fails)
    report = dlq_replay.replay(sqs, destination, options(dlq, work))
    assert report.send_failed == len(refused) >= 1
    assert report.deleted == report.sent == 5 - len(refused)
    assert visible(sqs, dlq) == len(refused)  # still in the DLQ, visible again
    # A re-run (with a healthy destination) delivers the rest: nothing lost.
    again = dlq_replay.replay(sqs, sqs, options(dlq, work))
    assert again.deleted == len(refused)
    assert set(bodies) <= {m["Body"] for m in drain(sqs, work)}
    assert drain(sqs, dlq) == []


def test_fifo_group_and_deduplication_ids_survive(sqs: Any) -> None:
    dlq, work = queue(sqs, "dlq.fifo", fifo=True), queue(sqs, "work.fifo", fifo=True)
    for group in ("a", "b"):
        for number in range(2):
            sqs.send_message(
                QueueUrl=dlq,
                MessageBody=json.dumps({"taskId": str(uuid.uuid4()), "n": number}),
                MessageGroupId=group,
                MessageDeduplicationId=f"dedup-{group}-{number}",
            )
    received = drain(sqs, dlq)
    originals = {m["Body"]: m["Attributes"] for m in received}
    release(sqs, dlq, received)
    report = dlq_replay.replay(sqs, sqs, options(dlq, work))
    assert report.sent == 4
    for message in drain(sqs, work):
        original = originals[message["Body"]]
        assert message["Attributes"]["MessageGroupId"] == original["MessageGroupId"]
        assert message["Attributes"]["MessageDeduplicationId"] == original["MessageDeduplicationId"]


def test_a_run_stopped_between_send_and_delete_loses_nothing(sqs: Any) -> None:
    dlq, work = queue(sqs, "dlq"), queue(sqs, "work")
    bodies = fill(sqs, dlq, 12)
    source = boto3.client("sqs", region_name=REGION)

    def stop(**kwargs: Any) -> None:
        raise KeyboardInterrupt  # the operator presses Ctrl-C after the first batch was sent

    source.meta.events.register("before-call.sqs.DeleteMessageBatch", stop)
    with pytest.raises(KeyboardInterrupt):
        dlq_replay.replay(source, sqs, options(dlq, work, hold_s=1))
    time.sleep(1.2)  # the held messages reappear
    report = dlq_replay.replay(sqs, sqs, options(dlq, work))
    assert drain(sqs, dlq) == []
    delivered = [m["Body"] for m in drain(sqs, work)]
    assert set(delivered) == set(bodies)  # every message delivered, the first batch twice
    assert report.deleted == 12


def test_tasks_table_moves_failed_tasks_back_to_pending(sqs: Any) -> None:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.create_table(
        TableName="tasks",
        AttributeDefinitions=[{"AttributeName": "taskId", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "taskId", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dlq, work = queue(sqs, "dlq"), queue(sqs, "work")
    [body] = fill(sqs, dlq, 1)
    task_id = json.loads(body)["taskId"]
    dynamodb.put_item(
        TableName="tasks",
        Item={"taskId": {"S": task_id}, "status": {"S": "FAILED"}, "error": {"S": "table down"}},
    )
    report = dlq_replay.replay(sqs, sqs, options(dlq, work, tasks_table="tasks"), dynamodb=dynamodb)
    assert report.by_reason == {"table down": 1}
    assert report.tasks_reset == 1 and report.sent == 1
    item = dynamodb.get_item(TableName="tasks", Key={"taskId": {"S": task_id}})["Item"]
    assert item["status"]["S"] == "PENDING" and "error" not in item


def test_native_move_passes_arns_and_rate() -> None:
    client = boto3.client("sqs", region_name=REGION)
    with Stubber(client) as stub:
        stub.add_response(
            "start_message_move_task",
            {"TaskHandle": "handle-1"},
            {
                "SourceArn": "arn:dlq",
                "DestinationArn": "arn:work",
                "MaxNumberOfMessagesPerSecond": 50,
            },
        )
        assert dlq_replay.native_move(client, "arn:dlq", "arn:work", 50.0) == "handle-1"


def test_rate_limit_spaces_the_sends() -> None:
    now = [0.0]
    limiter = RateLimiter(
        10.0, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s)
    )
    for _ in range(5):
        limiter.before(10)
    assert now[0] == pytest.approx(5.0)  # 50 messages at 10 per second


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--dlq-url", "u", "--rate", "0"], "--rate"),
        (["--dlq-url", "u", "--max", "0"], "--max"),
        (["--dlq-url", "u", "--older-than", "-1"], "--older-than"),
        (["--dlq-url", "u", "--hold-seconds", "0"], "--hold-seconds"),
    ],
)
def test_bad_arguments_name_the_option(
    argv: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as raised:
        dlq_replay.main(argv)
    assert raised.value.code == 2
    assert named in capsys.readouterr().err


def test_unknown_region_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    with pytest.raises(dlq_replay.ReplayError, match="--region"):
        dlq_replay.region_of("http://127.0.0.1:5000/1/dlq", None, "--region")
    assert dlq_replay.region_of("https://sqs.us-east-2.amazonaws.com/1/q", None, "--region") == (
        "us-east-2"
    )


def tasks_table(dynamodb: Any, bodies: list[str], status: str = "FAILED") -> list[str]:
    """The tasks table holding one task per message body, each in `status`."""
    dynamodb.create_table(
        TableName="tasks",
        AttributeDefinitions=[{"AttributeName": "taskId", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "taskId", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    task_ids = [json.loads(body)["taskId"] for body in bodies]
    for task_id in task_ids:
        dynamodb.put_item(
            TableName="tasks",
            Item={
                "taskId": {"S": task_id},
                "status": {"S": status},
                "error": {"S": "table down"},
                "processingWindowS": {"N": "900"},
            },
        )
    return task_ids


def statuses(dynamodb: Any, task_ids: list[str]) -> list[str]:
    return [
        dynamodb.get_item(TableName="tasks", Key={"taskId": {"S": task_id}})["Item"]["status"]["S"]
        for task_id in task_ids
    ]


def test_a_rerun_while_an_interrupted_run_still_holds_messages_says_so_and_exits_3(
    sqs: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dlq, work = queue(sqs, "dlq"), queue(sqs, "work")
    fill(sqs, dlq, 15)
    # The interrupted run received 10 and was killed before it sent or released them.
    held = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, VisibilityTimeout=300)
    assert len(held["Messages"]) == 10
    report_file = tmp_path / "report.json"
    argv = ["--dlq-url", dlq, "--to", work, "--no-native", "--json", str(report_file)]

    code = dlq_replay.main(argv)
    out = capsys.readouterr().out
    assert code == 3, out  # incomplete: the documented code for "messages still in flight"
    assert "10 in flight" in out and "300 s" in out
    written = json.loads(report_file.read_text())
    assert (written["sent"], written["dlqInFlight"], written["returnWithinSeconds"]) == (5, 10, 300)

    release(sqs, dlq, held["Messages"])  # their hold ends
    assert dlq_replay.main(argv) == 0
    assert drain(sqs, dlq) == [] and len(drain(sqs, work)) == 15


def test_reset_tasks_whose_messages_were_not_sent_are_failed_again_and_reported(
    sqs: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dlq = queue(sqs, "dlq")
    task_ids = tasks_table(dynamodb, fill(sqs, dlq, 2))
    gone = dlq.replace("/dlq", "/deleted-work-queue")  # every send fails: no such queue

    code = dlq_replay.main(["--dlq-url", dlq, "--to", gone, "--tasks-table", "tasks"])
    output = capsys.readouterr()
    assert code == 1
    # Not left PENDING with no message on its way: FAILED again, saying why.
    assert statuses(dynamodb, task_ids) == ["FAILED", "FAILED"]
    item = dynamodb.get_item(TableName="tasks", Key={"taskId": {"S": task_ids[0]}})["Item"]
    assert "not re-sent" in item["error"]["S"]
    assert "2 tasks moved back to FAILED" in output.out + output.err
    assert visible(sqs, dlq) == 2  # the messages are still there, visible again


def test_a_run_stopped_between_reset_and_send_fails_the_tasks_again_and_releases_them(
    sqs: Any,
) -> None:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dlq, work = queue(sqs, "dlq"), queue(sqs, "work")
    task_ids = tasks_table(dynamodb, fill(sqs, dlq, 3))
    source = boto3.client("sqs", region_name=REGION)

    def stop(**kwargs: Any) -> None:
        raise KeyboardInterrupt

    source.meta.events.register("before-call.sqs.SendMessageBatch", stop)
    with pytest.raises(KeyboardInterrupt):
        dlq_replay.replay(sqs, source, options(dlq, work, tasks_table="tasks"), dynamodb=dynamodb)
    assert statuses(dynamodb, task_ids) == ["FAILED"] * 3
    assert visible(sqs, dlq) == 3  # released at once, not held for --hold-seconds
