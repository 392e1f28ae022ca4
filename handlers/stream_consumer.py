"""Kinesis consumer: records each booking event once, and fails a poison record alone.

Lambda handler string: `stream_consumer.handler`. The event source mapping must report batch
item failures, bisect on error, bound retries and record age, and send what it gives up on to
an on-failure SQS queue (the StreamConsumer component sets all of that).

Kinesis delivers at least once, and a failed batch is retried from its first failed record, so
the same record can arrive several times (a retry, a bisected half, a replay by
`stream_rehydrate`). The write is conditional on the event id: a repeat changes nothing and
succeeds, so retries never count an event twice.
"""

from __future__ import annotations

import os
import time
from typing import Any

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

from aws_clients import CallProfile, client
from stream_events import (
    PoisonRecordError,
    StreamEvent,
    event_item,
    event_ttl_seconds,
    parse_stream_event,
    shard_of,
)

logger = Logger()
tracer = Tracer(patch_modules=("botocore",))
metrics = Metrics(
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "").strip() or "ResilientServerless"
)
processor = BatchProcessor(event_type=EventType.KinesisDataStreams)


def _table() -> tuple[Any, str]:
    table_name = os.environ.get("TABLE_NAME", "").strip()
    region = os.environ.get("AWS_REGION", "").strip()
    if not table_name or not region:
        raise RuntimeError("Environment variables TABLE_NAME and AWS_REGION are required")
    return client("dynamodb", region, CallProfile.BACKGROUND), table_name


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
    with logger.append_context_keys(shardId=shard_id, sequenceNumber=sequence_number):
        try:
            event = parse_stream_event(record.kinesis.data_as_bytes())
            dynamodb, table_name = _table()
            stored = record_event(dynamodb, table_name, event, shard_id, sequence_number)
        except PoisonRecordError as error:
            metrics.add_metric(name="PoisonRecords", unit=MetricUnit.Count, value=1)
            logger.error("Poison record", extra={"reason": str(error)})
            raise
        except Exception:
            metrics.add_metric(name="EventsFailed", unit=MetricUnit.Count, value=1)
            logger.exception("Record failed")
            raise
        name = "EventsRecorded" if stored else "DuplicateEvents"
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
        return "recorded" if stored else "duplicate"


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
