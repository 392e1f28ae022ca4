"""SQS worker: runs each queued task and records its result.

Lambda handler string: `task_worker.handler`. The event source mapping must enable
ReportBatchItemFailures: a record that fails is reported alone, so only it is redelivered
(and, after maxReceiveCount, parked in the DLQ) while the rest of the batch is deleted.

SQS delivers at least once, so the result is written with a conditional update that only
moves a PENDING task: a redelivered message for a completed task changes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from aws_clients import CallProfile
from task_model import (
    TaskMessage,
    ValidationError,
    format_timestamp,
    parse_task_message,
    run_task,
)
from task_settings import load_settings, metrics_namespace
from task_store import CompletionOutcome, TaskStore

logger = Logger()
tracer = Tracer(patch_modules=("botocore",))
metrics = Metrics(namespace=metrics_namespace())
processor = BatchProcessor(event_type=EventType.SQS)


class PoisonMessageError(Exception):
    """The message can never succeed as it is: it goes to the DLQ after its retries."""


class UnknownTaskError(Exception):
    """The message names a task that is not in the table (never written, or expired)."""


def decode_message(body: str) -> TaskMessage:
    """A queue message body -> TaskMessage; PoisonMessageError (with the reason) if it is not one."""
    try:
        return parse_task_message(body)
    except ValidationError as error:
        raise PoisonMessageError(str(error)) from error


def execute_task(message: TaskMessage, store: TaskStore) -> CompletionOutcome:
    """Run the task and record its result, unless the task has already moved on.

    Raises UnknownTaskError for a task id the table does not hold.
    """
    # The computation is small and bounded, so it runs before the write instead of after an
    # extra read: one conditional update both records the result and detects redeliveries.
    result = run_task(message.request)
    completed_at = format_timestamp(datetime.now(UTC))
    outcome, record = store.complete_task(message.task_id, result, completed_at)
    if outcome is CompletionOutcome.UNKNOWN_TASK:
        raise UnknownTaskError(
            f"task {message.task_id} is not in table {store.settings.table_name}"
        )
    if outcome is CompletionOutcome.NOT_PENDING and record is not None:
        # The API marked it ENQUEUE_FAILED and told the client to submit again, although the
        # message did arrive: running it now would create a second, unexpected result.
        logger.warning(
            "Task is not PENDING; message dropped without writing",
            extra={"status": record.status},
        )
    return outcome


def _fail(error: Exception, reason: str) -> None:
    metrics.add_metric(name="TasksFailed", unit=MetricUnit.Count, value=1)
    logger.error(
        "Message failed",
        extra={"reason": reason, "failure": type(error).__name__},
        exc_info=not isinstance(error, PoisonMessageError | UnknownTaskError),
    )


@tracer.capture_method(capture_response=False)
def record_handler(record: SQSRecord) -> str:
    """One SQS record. Raising marks only this record as failed in the batch response."""
    keys: dict[str, Any] = {
        "messageId": record.message_id,
        # Read leniently: a hand-built event without it must still get a logged failure.
        "receiveCount": (record.raw_event.get("attributes") or {}).get("ApproximateReceiveCount"),
    }
    with logger.append_context_keys(**keys):
        try:
            message = decode_message(record.body)
            with logger.append_context_keys(taskId=message.task_id):
                outcome = execute_task(message, TaskStore(load_settings(), CallProfile.BACKGROUND))
                _report(outcome)
        except Exception as error:
            _fail(error, str(error) or type(error).__name__)
            raise
        return outcome.value


def _report(outcome: CompletionOutcome) -> None:
    if outcome is CompletionOutcome.COMPLETED:
        metrics.add_metric(name="TasksCompleted", unit=MetricUnit.Count, value=1)
        logger.info("Task completed")
    elif outcome is CompletionOutcome.ALREADY_COMPLETED:
        metrics.add_metric(name="DuplicateDeliveries", unit=MetricUnit.Count, value=1)
        logger.info("Redelivered message for a completed task; result left unchanged")
    elif outcome is CompletionOutcome.NOT_PENDING:
        metrics.add_metric(name="MessagesForClosedTasks", unit=MetricUnit.Count, value=1)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
