"""Replay a dead-letter queue: move its messages back to their source queue (or any queue, in
any region), without losing one.

    python -m tools.dlq_replay --dlq-url URL --dry-run                 # counts by reason and age
    python -m tools.dlq_replay --dlq-url URL                           # back to its source queue
    python -m tools.dlq_replay --dlq-url URL --to URL --to-region us-east-1 --rate 50 --max 500
    python -m tools.dlq_replay --dlq-url URL --task-type sum --older-than 3600 --tasks-table T

Guarantees:

- a message is deleted from the DLQ only after SendMessageBatch reported *its* entry delivered;
  entries the batch reports as failed stay in the DLQ (and are counted);
- message attributes (String, Number, Binary) are kept; to a FIFO queue the message group id is
  kept and the deduplication id is the original one (or the DLQ message id), so a re-run within
  SQS's 5-minute deduplication window does not deliver twice;
- messages the run holds but does not move (dry run, filtered out, failed sends) are made
  visible again at the end; if the run is stopped, they reappear after `--hold-seconds`. A
  stopped run therefore loses nothing, and re-running it is safe: at worst a message sent just
  before the stop and not yet deleted is delivered twice, which the task worker absorbs (its
  writes are conditional);
- with `--tasks-table`, a task the worker marked FAILED (or left PENDING because that mark was
  refused) is moved to PENDING with a new processing window (`processBy` = now + the item's
  `processingWindowS`) before its message is sent, so it reads PENDING until it is processed
  (conditional: only FAILED and PENDING tasks move). If its message is then not sent (the send
  fails, or the run is stopped), the task is marked FAILED again, saying so; a task that cannot
  be marked either is listed in the report;
- the run ends by reading the DLQ's counts: messages still in flight (received by an interrupted
  or concurrent run, or another consumer, and neither deleted nor released) are reported with
  the time they become visible again, and the exit code says the replay is not done.

Exit codes: 0 done (nothing in flight in the DLQ, and nothing left visible by a run without
filters or --max); 1 an AWS call or a send failed; 2 wrong arguments; 3 not done yet: messages
are still in flight in the DLQ (or were left in it), re-run after the time printed; 130 stopped
by Ctrl-C (what was done is printed). The DLQ's counts are approximate (SQS's
ApproximateNumberOf... attributes), so a re-run is the confirmation.
- without filters, limits or a task table, and within one region, SQS's own
  StartMessageMoveTask does the move (`--no-native` to copy message by message instead).

Failure reasons: SQS does not keep why a message was dead-lettered. With `--tasks-table` the
reason is the task's `error` (written by the worker when it gave up); otherwise the message is
classified by its shape (not JSON, no taskId, task message).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

import boto3
from botocore.exceptions import BotoCoreError, ClientError

#: Age buckets of the dry-run report (upper bound in seconds, label).
AGE_BUCKETS: tuple[tuple[float, str], ...] = (
    (3600, "< 1 h"),
    (86_400, "1 h - 1 d"),
    (7 * 86_400, "1 d - 7 d"),
    (float("inf"), ">= 7 d"),
)
_REGION_IN_URL = re.compile(r"^https://sqs\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?/")


EXIT_DONE = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
#: Messages are still in flight in the DLQ (or were left in it): re-run once they return.
EXIT_INCOMPLETE = 3
EXIT_INTERRUPTED = 130


class ReplayError(Exception):
    """A problem the operator must fix (names the option)."""


@dataclass(frozen=True)
class Filters:
    task_type: str | None = None
    older_than_s: float | None = None
    newer_than_s: float | None = None
    body_contains: str | None = None

    @property
    def any(self) -> bool:
        return any(
            value is not None
            for value in (self.task_type, self.older_than_s, self.newer_than_s, self.body_contains)
        )

    def matches(self, message: dict[str, Any], now_s: float) -> bool:
        age = age_seconds(message, now_s)
        if self.older_than_s is not None and age < self.older_than_s:
            return False
        if self.newer_than_s is not None and age >= self.newer_than_s:
            return False
        if self.body_contains is not None and self.body_contains not in message.get("Body", ""):
            return False
        if self.task_type is not None:
            attribute = (message.get("MessageAttributes") or {}).get("taskType") or {}
            if attribute.get("StringValue") != self.task_type:
                return False
        return True


@dataclass(frozen=True)
class Options:
    dlq_url: str
    to_url: str
    dry_run: bool = False
    filters: Filters = field(default_factory=Filters)
    rate_per_s: float | None = None
    max_messages: int | None = None
    hold_s: int = 300
    wait_s: int = 1
    tasks_table: str | None = None
    native: bool = True

    @property
    def fifo(self) -> bool:
        return self.to_url.endswith(".fifo")


@dataclass
class Report:
    received: int = 0
    matched: int = 0
    sent: int = 0
    deleted: int = 0
    send_failed: int = 0
    tasks_reset: int = 0
    #: Reset tasks whose message was not sent, marked FAILED again.
    tasks_failed_again: int = 0
    #: message id -> task id of reset tasks whose message is not (yet) known to be sent; after
    #: the run, those that could not be marked FAILED again either.
    reset_not_sent: dict[str, str] = field(default_factory=dict)
    #: Tasks with a message delivered in this run (a duplicate copy may still have failed).
    sent_tasks: set[str] = field(default_factory=set)
    native_task: str | None = None
    by_reason: Counter[str] = field(default_factory=Counter)
    by_age: Counter[str] = field(default_factory=Counter)
    #: The DLQ after the run: visible messages, messages in flight, and the longest they can
    #: stay hidden (this run's hold or the DLQ's visibility timeout). None until read.
    dlq_visible: int | None = None
    dlq_in_flight: int | None = None
    return_within_s: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "matched": self.matched,
            "sent": self.sent,
            "deleted": self.deleted,
            "sendFailed": self.send_failed,
            "tasksReset": self.tasks_reset,
            "tasksFailedAgain": self.tasks_failed_again,
            "tasksResetNotSent": sorted(self.reset_not_sent.values()),
            "dlqVisible": self.dlq_visible,
            "dlqInFlight": self.dlq_in_flight,
            "returnWithinSeconds": self.return_within_s,
            "nativeMoveTask": self.native_task,
            "byReason": dict(self.by_reason),
            "byAge": dict(self.by_age),
        }


def age_seconds(message: dict[str, Any], now_s: float) -> float:
    sent_ms = (message.get("Attributes") or {}).get("SentTimestamp")
    try:
        return max(0.0, now_s - int(str(sent_ms)) / 1000)
    except (TypeError, ValueError):
        return 0.0


def age_bucket(age_s: float) -> str:
    return next(label for bound, label in AGE_BUCKETS if age_s < bound)


#: A task's key in the tasks table, as the worker's messages carry it (a lowercase UUID4), or
#: the id a client saw, which ends in the key: `<region>.<created ms, 13 digits>.<key>`. Any
#: other `taskId` names no task, and is never used as a table key.
_TASK_ID = re.compile(
    r"^(?:[a-z]{2}(?:-[a-z]+){1,3}-[0-9]{1,2}\.[0-9]{13}\.)?"
    r"(?P<key>[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12})\Z"
)
#: What `_message_json` returns for a body that is not JSON.
_NOT_JSON = object()


def _message_json(body: object) -> Any:
    """A DLQ message's body as JSON, or _NOT_JSON. Whatever is in the DLQ must be counted and
    moved, never stop the run: a body nested too deep to parse, or holding an integer too long
    to read (both ValueError or RecursionError), is "not JSON" like any other."""
    if not isinstance(body, str | bytes):
        return _NOT_JSON
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return _NOT_JSON


def _task_key(parsed: Any) -> str | None:
    task_id = parsed.get("taskId") if isinstance(parsed, dict) else None
    matched = _TASK_ID.match(task_id) if isinstance(task_id, str) else None
    return matched["key"] if matched else None


def task_id_of(body: str) -> str | None:
    """The table key of the task a message is for, or None when it names none."""
    return _task_key(_message_json(body))


def shape_reason(body: str) -> str:
    parsed = _message_json(body)
    if parsed is _NOT_JSON:
        return "not JSON"
    if not isinstance(parsed, dict) or not isinstance(parsed.get("taskId"), str):
        return "no taskId"
    if _task_key(parsed) is None:
        return "not a task id"
    return "task message"


def copy_attributes(message: dict[str, Any]) -> dict[str, Any]:
    """Message attributes as SendMessage takes them (every scalar type kept)."""
    copied: dict[str, Any] = {}
    for name, value in (message.get("MessageAttributes") or {}).items():
        entry = {"DataType": value["DataType"]}
        if "StringValue" in value:
            entry["StringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            entry["BinaryValue"] = value["BinaryValue"]
        copied[name] = entry
    return copied


def send_entry(message: dict[str, Any], index: int, fifo: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"Id": str(index), "MessageBody": message["Body"]}
    attributes = copy_attributes(message)
    if attributes:
        entry["MessageAttributes"] = attributes
    if fifo:
        system = message.get("Attributes") or {}
        entry["MessageGroupId"] = system.get("MessageGroupId") or "dlq-replay"
        # The original id when there is one; else the DLQ message's own id, stable across runs.
        entry["MessageDeduplicationId"] = (
            system.get("MessageDeduplicationId") or message["MessageId"]
        )
    return entry


class RateLimiter:
    """At most `rate` messages per second, measured from the start of the run."""

    def __init__(
        self,
        rate: float | None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate, self.clock, self.sleep = rate, clock, sleep
        self.started = clock()
        self.sent = 0

    def before(self, count: int) -> None:
        if self.rate:
            due = self.started + (self.sent + count) / self.rate
            wait = due - self.clock()
            if wait > 0:
                self.sleep(wait)
        self.sent += count


class ProgressBar:
    """One line on the stream: a bar when the total is known, else counts."""

    def __init__(self, total: int | None, stream: TextIO | None = None) -> None:
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())

    def update(self, report: Report, dry_run: bool) -> None:
        if not self.enabled:
            return
        done = report.received if dry_run else report.deleted
        text = f"received {report.received}  sent {report.sent}  deleted {report.deleted}"
        if report.send_failed:
            text += f"  failed {report.send_failed}"
        if self.total:
            width = 30
            filled = min(width, int(width * done / max(self.total, 1)))
            text = f"[{'#' * filled}{'.' * (width - filled)}] {done}/{self.total}  " + text
        self.stream.write("\r\033[K" + text)
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")


def _reason(message: dict[str, Any], dynamodb: Any, table: str | None) -> str:
    task_id = task_id_of(message.get("Body", ""))
    if table is None or dynamodb is None or task_id is None:
        return shape_reason(message.get("Body", ""))
    item = dynamodb.get_item(
        TableName=table,
        Key={"taskId": {"S": task_id}},
        ProjectionExpression="#e, #s",
        ExpressionAttributeNames={"#e": "error", "#s": "status"},
    ).get("Item")
    if not item:
        return "task not in table"
    error = (item.get("error") or {}).get("S")
    return (error or f"task {item['status']['S']}")[:80]


def _condition_failed(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def _reset_task(dynamodb: Any, table: str, task_id: str, now_s: float) -> bool:
    """FAILED or PENDING -> PENDING with a new processing window, so the client reads PENDING
    until the replayed message is processed. Returns whether the task moved."""
    keys = {"TableName": table, "Key": {"taskId": {"S": task_id}}}
    names = {"#s": "status", "#e": "error"}
    try:
        dynamodb.update_item(
            **keys,
            UpdateExpression="SET #s = :pending, processBy = processingWindowS + :now REMOVE #e",
            # PENDING too: the worker's FAILED mark may have been refused (the task then reads
            # FAILED once its old window ends), and the replayed message needs a window anyway.
            ConditionExpression="#s IN (:failed, :pending) AND attribute_exists(processingWindowS)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={
                ":pending": {"S": "PENDING"},
                ":failed": {"S": "FAILED"},
                ":now": {"N": str(int(now_s))},
            },
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
        return True
    except ClientError as error:
        if not _condition_failed(error):
            raise
        old = error.response.get("Item") or {}
        if (old.get("status") or {}).get("S") != "FAILED" or "processingWindowS" in old:
            return False  # done, closed (ENQUEUE_FAILED) or not in the table: nothing to move
    # An item written without a processing window: only its status moves.
    try:
        dynamodb.update_item(
            **keys,
            UpdateExpression="SET #s = :pending REMOVE #e",
            ConditionExpression="#s = :failed",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={":pending": {"S": "PENDING"}, ":failed": {"S": "FAILED"}},
        )
    except ClientError as error:
        if _condition_failed(error):
            return False
        raise
    return True


def _fail_again(dynamodb: Any, table: str, task_id: str, cause: str) -> bool:
    """PENDING -> FAILED for a reset task whose message was not sent. Returns whether the task
    no longer reads PENDING without a message on its way (a task that moved on counts)."""
    try:
        dynamodb.update_item(
            TableName=table,
            Key={"taskId": {"S": task_id}},
            UpdateExpression="SET #s = :failed, #e = :why",
            ConditionExpression="#s = :pending",
            ExpressionAttributeNames={"#s": "status", "#e": "error"},
            ExpressionAttributeValues={
                ":pending": {"S": "PENDING"},
                ":failed": {"S": "FAILED"},
                ":why": {
                    "S": f"A DLQ replay reset the task but its message was not re-sent ({cause}); "
                    "the message is still in the dead-letter queue: replay it again."
                },
            },
        )
    except ClientError as error:
        return _condition_failed(error)
    except BotoCoreError:
        return False
    return True


def _fail_unsent_again(dynamodb: Any, table: str, report: Report, cause: str) -> None:
    for message_id, task_id in list(report.reset_not_sent.items()):
        if task_id in report.sent_tasks:
            del report.reset_not_sent[message_id]
        elif _fail_again(dynamodb, table, task_id, cause):
            report.tasks_failed_again += 1
            del report.reset_not_sent[message_id]


def replay(
    source: Any,
    destination: Any,
    options: Options,
    *,
    dynamodb: Any = None,
    progress: ProgressBar | None = None,
    now: Callable[[], float] = time.time,
    limiter: RateLimiter | None = None,
    report: Report | None = None,
) -> Report:
    """Move (or, in a dry run, count) the DLQ's messages. See the module doc for guarantees.

    `report`: filled in as the run goes, so a caller still has it when the run is stopped.
    """
    report = report if report is not None else Report()
    limiter = limiter or RateLimiter(options.rate_per_s)
    held: dict[str, str] = {}  # message id -> receipt handle, released at the end
    seen: set[str] = set()
    empty_polls = 0
    cause = "the run was stopped before sending it"
    try:
        while options.max_messages is None or report.matched < options.max_messages:
            wanted = 10
            if options.max_messages is not None:
                wanted = min(10, options.max_messages - report.matched)
            response = source.receive_message(
                QueueUrl=options.dlq_url,
                MaxNumberOfMessages=wanted,
                WaitTimeSeconds=options.wait_s,
                # Held for the whole run: a message we skip must not come back to us.
                VisibilityTimeout=options.hold_s,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            messages = [m for m in response.get("Messages", []) if m["MessageId"] not in seen]
            if not messages:
                empty_polls += 1
                if empty_polls >= 2:
                    break
                continue
            empty_polls = 0
            at = now()
            batch: list[dict[str, Any]] = []
            for message in messages:
                seen.add(message["MessageId"])
                report.received += 1
                if not options.filters.matches(message, at):
                    held[message["MessageId"]] = message["ReceiptHandle"]
                    continue
                report.matched += 1
                report.by_reason[_reason(message, dynamodb, options.tasks_table)] += 1
                report.by_age[age_bucket(age_seconds(message, at))] += 1
                if options.dry_run:
                    held[message["MessageId"]] = message["ReceiptHandle"]
                else:
                    batch.append(message)
            if batch:
                _move(batch, source, destination, options, report, held, dynamodb, limiter, at)
            if progress is not None:
                progress.update(report, options.dry_run)
        # Left unsent by a run that ended normally: the destination refused those entries.
        cause = "the destination queue refused it"
    except (ClientError, BotoCoreError) as error:
        cause = f"the run failed: {error}"
        raise
    finally:
        if report.reset_not_sent and options.tasks_table is not None:
            _fail_unsent_again(dynamodb, options.tasks_table, report, cause)
        _release(source, options.dlq_url, held)
        if progress is not None:
            progress.close()
    return report


def _move(
    batch: list[dict[str, Any]],
    source: Any,
    destination: Any,
    options: Options,
    report: Report,
    held: dict[str, str],
    dynamodb: Any,
    limiter: RateLimiter,
    now_s: float,
) -> None:
    # Held (released at the end) until delivered: a run stopped before the send must not
    # leave them hidden for the whole hold.
    for message in batch:
        held[message["MessageId"]] = message["ReceiptHandle"]
    if options.tasks_table is not None:
        for message in batch:
            task_id = task_id_of(message.get("Body", ""))
            if task_id is not None and _reset_task(dynamodb, options.tasks_table, task_id, now_s):
                report.tasks_reset += 1
                report.reset_not_sent[message["MessageId"]] = task_id
    limiter.before(len(batch))
    entries = [send_entry(message, index, options.fifo) for index, message in enumerate(batch)]
    try:
        result = destination.send_message_batch(QueueUrl=options.to_url, Entries=entries)
    except (ClientError, BotoCoreError):
        # Nothing is known to be delivered: nothing is deleted.
        report.send_failed += len(batch)
        raise
    delivered = {entry["Id"] for entry in result.get("Successful", [])}
    to_delete = []
    for index, message in enumerate(batch):
        if str(index) in delivered:
            report.sent += 1
            del held[message["MessageId"]]
            report.reset_not_sent.pop(message["MessageId"], None)
            task_id = task_id_of(message.get("Body", ""))
            if task_id is not None:
                report.sent_tasks.add(task_id)
            to_delete.append({"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]})
        else:
            report.send_failed += 1
    if to_delete:
        deleted = source.delete_message_batch(QueueUrl=options.dlq_url, Entries=to_delete)
        report.deleted += len(deleted.get("Successful", []))


def _release(source: Any, dlq_url: str, held: dict[str, str]) -> None:
    """Make held messages visible again (best effort: they reappear after the hold anyway)."""
    handles = list(held.values())
    for start in range(0, len(handles), 10):
        entries = [
            {"Id": str(index), "ReceiptHandle": handle, "VisibilityTimeout": 0}
            for index, handle in enumerate(handles[start : start + 10])
        ]
        try:
            source.change_message_visibility_batch(QueueUrl=dlq_url, Entries=entries)
        except (ClientError, BotoCoreError) as error:
            print(
                f"could not release held messages (they reappear later): {error}", file=sys.stderr
            )


def native_move(source: Any, dlq_arn: str, to_arn: str | None, rate: float | None) -> str:
    """StartMessageMoveTask: SQS moves the DLQ itself. Returns the task handle."""
    arguments: dict[str, Any] = {"SourceArn": dlq_arn}
    if to_arn is not None:
        arguments["DestinationArn"] = to_arn
    if rate is not None:
        arguments["MaxNumberOfMessagesPerSecond"] = int(rate)
    return str(source.start_message_move_task(**arguments)["TaskHandle"])


def region_of(url: str, explicit: str | None, option: str) -> str:
    if explicit:
        return explicit
    match = _REGION_IN_URL.match(url)
    if match:
        return match.group(1)
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if region:
        return region
    raise ReplayError(f"{option}: cannot tell the region from {url!r}; give {option}.")


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tools.dlq_replay",
        description="Move a dead-letter queue's messages back to their source queue, or any "
        "queue in any region, deleting each only after it was delivered.",
    )
    parser.add_argument("--dlq-url", required=True, help="the dead-letter queue to replay")
    parser.add_argument("--region", help="the DLQ's region (default: from its URL)")
    parser.add_argument(
        "--to", dest="to_url", help="destination queue URL (default: the DLQ's source)"
    )
    parser.add_argument("--to-region", help="the destination's region (default: from its URL)")
    parser.add_argument(
        "--dry-run", action="store_true", help="count by reason and age; move nothing"
    )
    parser.add_argument("--task-type", help="only messages whose taskType attribute is this")
    parser.add_argument(
        "--older-than", type=float, metavar="SECONDS", help="only messages older than this"
    )
    parser.add_argument(
        "--newer-than", type=float, metavar="SECONDS", help="only messages newer than this"
    )
    parser.add_argument("--body-contains", metavar="TEXT", help="only messages whose body has TEXT")
    parser.add_argument(
        "--rate", type=float, metavar="PER_SECOND", help="at most this many sends per second"
    )
    parser.add_argument(
        "--max", type=int, dest="max_messages", metavar="N", help="move at most N messages"
    )
    parser.add_argument(
        "--hold-seconds",
        type=int,
        default=300,
        help="how long skipped messages stay hidden if the run stops (default 300)",
    )
    parser.add_argument(
        "--tasks-table",
        help="move each FAILED task back to PENDING before its message is sent; report the tasks' failure reasons",
    )
    parser.add_argument("--no-native", action="store_true", help="never use StartMessageMoveTask")
    parser.add_argument("--json", metavar="FILE", help="also write the report as JSON")
    arguments = parser.parse_args(argv)
    problems = []
    if arguments.rate is not None and not 0 < arguments.rate <= 500:
        problems.append("--rate: give a number of messages per second from 1 to 500")
    if arguments.max_messages is not None and arguments.max_messages < 1:
        problems.append("--max: give a positive number of messages")
    if not 0 < arguments.hold_seconds <= 43_200:
        problems.append("--hold-seconds: give 1 to 43200 (SQS's visibility timeout limit)")
    for name in ("older_than", "newer_than"):
        value = getattr(arguments, name)
        if value is not None and value < 0:
            problems.append(f"--{name.replace('_', '-')}: give a number of seconds >= 0")
    if problems:
        parser.error("; ".join(problems))
    return arguments


@dataclass(frozen=True)
class QueueCounts:
    visible: int
    in_flight: int
    visibility_timeout_s: int


def queue_counts(source: Any, queue_url: str) -> QueueCounts:
    """The queue's approximate visible and in-flight (received, not deleted) messages."""
    attributes = source.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "VisibilityTimeout",
        ],
    )["Attributes"]
    return QueueCounts(
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
        int(attributes.get("VisibilityTimeout", 30)),
    )


def record_dlq_state(
    report: Report, counts: QueueCounts, hold_s: int, count_visible: bool = True
) -> None:
    """`count_visible`: False when SQS's own move task is about to take the visible ones."""
    report.dlq_visible = counts.visible if count_visible else None
    report.dlq_in_flight = counts.in_flight
    # Whoever holds them hid them for at most this run's hold (another replay run with the same
    # --hold-seconds) or the DLQ's own visibility timeout (a receive that named none).
    report.return_within_s = max(hold_s, counts.visibility_timeout_s)


def exit_code(report: Report, options: Options, native: bool) -> int:
    if report.send_failed or report.reset_not_sent:
        return EXIT_FAILED
    if report.dlq_in_flight:
        return EXIT_INCOMPLETE
    moves_everything = not (native or options.dry_run or options.filters.any) and (
        options.max_messages is None
    )
    if moves_everything and report.dlq_visible:
        return EXIT_INCOMPLETE
    return EXIT_DONE


def main(argv: Sequence[str] | None = None) -> int:
    arguments = _arguments(argv)
    report = Report()
    options: Options | None = None
    source: Any = None
    native = False
    code = EXIT_DONE
    try:
        region = region_of(arguments.dlq_url, arguments.region, "--region")
        source = boto3.client("sqs", region_name=region)
        to_url = arguments.to_url
        if to_url is None:
            sources = source.list_dead_letter_source_queues(QueueUrl=arguments.dlq_url).get(
                "queueUrls", []
            )
            if len(sources) != 1:
                raise ReplayError(
                    f"--to: the DLQ is the dead-letter queue of {len(sources)} queues "
                    f"({', '.join(sources) or 'none'}); name the destination with --to URL."
                )
            to_url = sources[0]
        to_region = region_of(
            to_url, arguments.to_region or (None if arguments.to_url else region), "--to-region"
        )
        destination = source if to_region == region else boto3.client("sqs", region_name=to_region)
        filters = Filters(
            arguments.task_type, arguments.older_than, arguments.newer_than, arguments.body_contains
        )
        options = Options(
            dlq_url=arguments.dlq_url,
            to_url=to_url,
            dry_run=arguments.dry_run,
            filters=filters,
            rate_per_s=arguments.rate,
            max_messages=arguments.max_messages,
            hold_s=arguments.hold_seconds,
            tasks_table=arguments.tasks_table,
            native=not arguments.no_native,
        )
        native = (
            options.native
            and not options.dry_run
            and not filters.any
            and options.max_messages is None
            and options.tasks_table is None
            and to_region == region
        )
        if native:

            def arn_of(url: str) -> str:
                attributes = source.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
                return str(attributes["Attributes"]["QueueArn"])

            # Read first: the move task's own receives count as in flight once it runs.
            record_dlq_state(
                report, queue_counts(source, options.dlq_url), options.hold_s, count_visible=False
            )
            report.native_task = native_move(
                source, arn_of(options.dlq_url), arn_of(to_url), options.rate_per_s
            )
        else:
            total = queue_counts(source, options.dlq_url).visible
            dynamodb = boto3.client("dynamodb", region_name=region) if options.tasks_table else None
            replay(
                source,
                destination,
                options,
                dynamodb=dynamodb,
                progress=ProgressBar(options.max_messages or total),
                report=report,
            )
            record_dlq_state(report, queue_counts(source, options.dlq_url), options.hold_s)
    except ReplayError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (ClientError, BotoCoreError) as error:
        print(f"error: AWS call failed: {error}", file=sys.stderr)
        code = EXIT_FAILED
    except KeyboardInterrupt:
        print("stopped: what was done before the stop follows", file=sys.stderr)
        code = EXIT_INTERRUPTED
    if options is None:
        return code
    if code == EXIT_DONE:
        code = exit_code(report, options, native)
    print(render(report, options))
    if arguments.json:
        with open(arguments.json, "w", encoding="utf-8") as out:
            json.dump(report.to_dict(), out, indent=2)
    return code


def render(report: Report, options: Options) -> str:
    lines: list[str] = []
    if report.native_task is not None:
        lines.append(f"StartMessageMoveTask started: {report.native_task}")
    else:
        verb = "would move" if options.dry_run else "moved"
        lines += [
            f"received {report.received}, matched {report.matched}, {verb} "
            f"{report.matched if options.dry_run else report.sent}, deleted {report.deleted}, "
            f"send failures {report.send_failed}, tasks reset {report.tasks_reset}",
            "by failure reason:",
            *(f"  {count:6d}  {reason}" for reason, count in report.by_reason.most_common()),
            "by age:",
            *(f"  {report.by_age.get(label, 0):6d}  {label}" for _, label in AGE_BUCKETS),
        ]
    if report.tasks_failed_again:
        lines.append(
            f"{report.tasks_failed_again} tasks moved back to FAILED: they were reset but their "
            "messages were not re-sent and are still in the DLQ"
        )
    if report.reset_not_sent:
        lines.append(
            f"{len(report.reset_not_sent)} tasks reset to PENDING whose messages were not "
            "re-sent, and could not be marked FAILED again (they read FAILED once their "
            f"processing window ends): {', '.join(sorted(report.reset_not_sent.values()))}"
        )
    if report.dlq_in_flight:
        returns_by = time.strftime(
            "%H:%M:%SZ", time.gmtime(time.time() + (report.return_within_s or 0))
        )
        lines.append(
            f"not done: {report.dlq_in_flight} in flight in the DLQ (received by an "
            "interrupted or concurrent run, or another consumer, and neither deleted nor "
            f"released); they become visible again within {report.return_within_s} s (by "
            f"{returns_by}, if held with --hold-seconds {options.hold_s} or the DLQ's "
            "visibility timeout): re-run then"
        )
    if report.dlq_visible:
        lines.append(f"left in the DLQ: {report.dlq_visible} visible")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
