"""Kinesis consumer: records each booking event once, and fails a poison record alone.

Lambda handler string: `stream_consumer.handler`. The event source mapping must report batch
item failures, bisect on error, bound retries and record age, and send what it gives up on to
an on-failure SQS queue (the StreamConsumer component sets all of that).

Kinesis delivers at least once, and a failed batch is retried from its first failed record, so
the same record can arrive several times (a retry, a bisected half, a replay by
`stream_rehydrate`). The write is conditional on the event id: a repeat changes nothing and
succeeds, so retries never count an event twice.

A failed record costs more here than a wait: Lambda retries it within seconds, and after the
mapping's few retries the record is skipped to the on-failure queue, where only an operator
brings it back (within the stream's retention). So a write is retried for as long as the
invocation's time allows (`deadlines.call_until_deadline`: attempts sized to the time left,
an open circuit waited out rather than failed fast), and a brief throttle costs latency, not
records. When the time left cannot fit another attempt, that record and the rest of the batch
are reported failed, the rest untouched, while there is still time to answer: Lambda retries
from the first failed record (or bisects a batch that failed whole), instead of timing the
invocation out and losing what it did.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import (
    KinesisStreamRecord,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from aws_clients import CallProfile, Timeouts, client
from stream_events import (
    PoisonRecordError,
    StreamEvent,
    event_item,
    event_ttl_seconds,
    parse_stream_event,
    record_data,
    shard_of,
)

if TYPE_CHECKING:  # imported where used: the deadline and breaker modules cost import time
    from circuit_breaker import BreakerEvent
    from deadlines import Deadline

logger = Logger()
tracer = Tracer(patch_modules=("botocore",))
metrics = Metrics(
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "").strip() or "ResilientServerless"
)
processor = BatchProcessor(event_type=EventType.KinesisDataStreams)

#: The breaker of the events table: its own name, so a shared breaker table never mixes it
#: with the task app's "table".
EVENTS_TABLE: Final[str] = "events_table"
#: How the consumer waits between attempts (a test runs it on a fake clock).
_sleep: Callable[[float], None] = time.sleep


@dataclass
class BatchRun:
    """One invocation's time. Once a write runs out of it, the rest of the batch is failed
    untouched: Lambda re-delivers from the first failed record anyway."""

    deadline: Deadline
    stopped: bool = False
    not_started: int = 0


#: The current invocation's run (Lambda runs one invocation at a time per container).
_run: BatchRun | None = None


class RecordNotStarted(Exception):
    """An earlier record of the batch ran out of time: this one was not touched."""


def _table() -> tuple[str, str]:
    table_name = os.environ.get("TABLE_NAME", "").strip()
    region = os.environ.get("AWS_REGION", "").strip()
    if not table_name or not region:
        raise RuntimeError("Environment variables TABLE_NAME and AWS_REGION are required")
    return table_name, region


def _breaker_metric(event: BreakerEvent, dependency: str) -> None:
    metrics.add_metric(name=f"Breaker{event.value}_{dependency}", unit=MetricUnit.Count, value=1)


def store_event(
    event: StreamEvent, shard_id: str, sequence_number: str, deadline: Deadline
) -> bool:
    """`record_event` with retries for as long as `deadline` allows, through the events
    table's circuit breaker. True: stored now; False: a repeat."""
    import downstream
    from deadlines import call_until_deadline
    from task_settings import load_settings

    table_name, region = _table()
    settings = load_settings()
    downstream.add_event_sink(_breaker_metric)

    def attempt(timeouts: Timeouts) -> bool:
        dynamodb = client("dynamodb", region, CallProfile.BACKGROUND, timeouts)
        return record_event(dynamodb, table_name, event, shard_id, sequence_number)

    return call_until_deadline(
        EVENTS_TABLE,
        "PutItem",
        attempt,
        profile=CallProfile.BACKGROUND,
        deadline=deadline,
        guard=downstream.breaker(EVENTS_TABLE, settings),
        sleep=_sleep,
    )


def _out_of_time(error: Exception) -> bool:
    """The write gave up because the time left could not fit another attempt."""
    from circuit_breaker import CircuitOpenError
    from deadlines import DeadlineExceeded, is_transient

    return isinstance(error, DeadlineExceeded | CircuitOpenError) or is_transient(error)


def record_event(
    dynamodb: Any, table_name: str, event: StreamEvent, shard_id: str, sequence_number: str
) -> bool:
    """Store the event unless it is already stored. True: stored now; False: a repeat."""
    item = event_item(
        event,
        shard_id,
        sequence_number,
        int(time.time()),
        event_ttl_seconds(os.environ.get("EVENT_TTL_SECONDS")),
    )
    try:
        dynamodb.put_item(
            TableName=table_name, Item=item, ConditionExpression="attribute_not_exists(pk)"
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True


@tracer.capture_method(capture_response=False)
def record_handler(record: KinesisStreamRecord) -> str:
    """One Kinesis record. Raising marks only this record failed in the batch response."""
    sequence_number = record.kinesis.sequence_number
    shard_id = shard_of(record.event_id)
    if _run is None:
        raise RuntimeError("record_handler runs inside handler(), which gives it its deadline")
    run = _run
    with logger.append_context_keys(shardId=shard_id, sequenceNumber=sequence_number):
        try:
            # Read leniently: data that is missing or not base64 is a poison record too.
            event = parse_stream_event(record_data(record.kinesis.raw_event.get("data")))
            if run.stopped:
                run.not_started += 1
                raise RecordNotStarted("an earlier record of this batch ran out of time")
            stored = store_event(event, shard_id, sequence_number, run.deadline)
        except PoisonRecordError as error:
            metrics.add_metric(name="PoisonRecords", unit=MetricUnit.Count, value=1)
            logger.error("Poison record", extra={"reason": str(error)})
            raise
        except RecordNotStarted:
            raise  # counted once per invocation (RecordsNotStarted)
        except Exception as error:
            # Out of time: stop here, the rest come back with this record. Any other failure
            # (a missing table, a refused request) is this record's alone.
            run.stopped = _out_of_time(error)
            metrics.add_metric(name="EventsFailed", unit=MetricUnit.Count, value=1)
            logger.exception("Record failed", extra={"outOfTime": run.stopped})
            raise
        name = "EventsRecorded" if stored else "DuplicateEvents"
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
        return "recorded" if stored else "duplicate"


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    global _run
    from deadlines import Deadline
    from task_settings import DEFAULT_DEADLINE_MARGIN_MS, load_settings

    try:
        margin_s = load_settings().deadline_margin_s
    except Exception:  # reported per record, with the variable's name
        margin_s = DEFAULT_DEADLINE_MARGIN_MS / 1000
    _run = BatchRun(Deadline.from_context(context, margin_s))
    try:
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    finally:
        if _run.not_started:
            metrics.add_metric(
                name="RecordsNotStarted", unit=MetricUnit.Count, value=_run.not_started
            )
        _run = None
