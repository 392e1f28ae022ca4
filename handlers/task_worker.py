"""SQS worker: runs each queued task and records its result.

Lambda handler string: `task_worker.handler`. The event source mapping must enable
ReportBatchItemFailures: a record that fails is reported alone, so only it is redelivered
(and, after maxReceiveCount, parked in the DLQ) while the rest of the batch is deleted.

SQS delivers at least once, so the result is written with a conditional update that only
moves a PENDING task: a redelivered message for a completed task changes nothing.

Deadlines: every call fits the time the invocation has left, and a record is started only when
the time left covers the longest record so far (at least `MIN_RECORD_S`). Once that no longer
holds, the remaining records are reported as failed without being touched: SQS redelivers them
after the visibility timeout, nothing is lost, and the invocation ends before Lambda cuts it
off (which would have failed the whole batch, including the records already done).

Visible failure: when a record fails on its last receive (ApproximateReceiveCount reaches
MAX_RECEIVE_COUNT, after which SQS moves it to the DLQ), its task is marked FAILED with the
reason, so a polling client learns it instead of seeing PENDING until the task expires. If
that write is refused too (the table is down, or its breaker open), the task still reads FAILED
once its processing window (`processBy`, written at submit) ends: see TaskRecord.as_seen_at.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

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

import downstream
import fault_injection
from aws_clients import CallProfile, timeout_tiers
from circuit_breaker import BreakerEvent
from deadlines import Deadline, DeadlineExceeded
from task_model import (
    TaskMessage,
    ValidationError,
    format_timestamp,
    lenient_task_id,
    parse_task_message,
    run_task,
)
from task_settings import Settings, load_settings, metrics_namespace
from task_store import CompletionOutcome, TaskStore

#: The least time a record is started with: one conditional write at the smallest timeouts.
MIN_RECORD_S: Final[float] = timeout_tiers(CallProfile.BACKGROUND)[-1].worst_case_s

logger = Logger()
tracer = Tracer(patch_modules=("botocore",))
metrics = Metrics(namespace=metrics_namespace())
processor = BatchProcessor(event_type=EventType.SQS)


def _breaker_metric(event: BreakerEvent, dependency: str) -> None:
    metrics.add_metric(name=f"Breaker{event.value}_{dependency}", unit=MetricUnit.Count, value=1)


downstream.add_event_sink(_breaker_metric)
# A no-op unless the stack allows failure injection (FAULT_INJECTION_ALLOWED).
fault_injection.activate()


class RecordNotStarted(DeadlineExceeded):
    """The rest of the batch cannot fit before the deadline: this record was not touched."""


@dataclass
class BatchRun:
    """One invocation's time: records are started only while they can still finish."""

    deadline: Deadline
    clock: Callable[[], float] = time.monotonic
    longest_record_s: float = 0.0
    stopped: bool = False
    not_started: int = 0

    def may_start(self) -> bool:
        if not self.stopped and self.deadline.remaining() < max(
            MIN_RECORD_S, self.longest_record_s
        ):
            self.stopped = True  # once stopped, later records are not started either
        return not self.stopped

    def finished(self, seconds: float) -> None:
        self.longest_record_s = max(self.longest_record_s, seconds)


#: The current invocation's run (Lambda runs one invocation at a time per container).
_run: BatchRun | None = None
#: The clock records are timed with (a test runs it with its fake context's clock).
_clock: Callable[[], float] = time.monotonic


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
        exc_info=not isinstance(error, PoisonMessageError | UnknownTaskError | DeadlineExceeded),
    )


def is_last_receive(receive_count: object, max_receive_count: int | None) -> bool:
    """Whether SQS moves the message to the DLQ instead of delivering it again."""
    if max_receive_count is None:
        return False
    try:
        return int(str(receive_count)) >= max_receive_count
    except ValueError:
        return False


def give_up(store: TaskStore, task_id: str | None, reason: str, deadline: Deadline) -> bool:
    """Mark the task FAILED (only from PENDING) before its message goes to the DLQ.

    Best effort: if the table cannot be written either, the task reads FAILED anyway once its
    processing window ends (NotProcessedInTime), and the DLQ alarm fires. Returns whether the
    task is now marked FAILED.
    """
    if task_id is None:
        return False
    try:
        record = store.mark_failed(task_id, reason, format_timestamp(datetime.now(UTC)), deadline)
    except Exception as error:  # the record already failed; this must not mask that
        metrics.add_metric(name="TasksFailedUnmarked", unit=MetricUnit.Count, value=1)
        logger.error("Could not mark the task FAILED", extra={"reason": str(error)})
        return False
    metrics.add_metric(name="TasksGivenUp", unit=MetricUnit.Count, value=1)
    return record.status == "FAILED"


def worker_store(settings: Settings, deadline: Deadline) -> TaskStore:
    breakers = {"table": downstream.breaker("table", settings)}
    return TaskStore(settings, CallProfile.BACKGROUND, deadline, breakers)


@tracer.capture_method(capture_response=False)
def record_handler(record: SQSRecord) -> str:
    """One SQS record. Raising marks only this record as failed in the batch response."""
    keys: dict[str, Any] = {
        "messageId": record.message_id,
        # Read leniently: a hand-built event without it must still get a logged failure.
        "receiveCount": (record.raw_event.get("attributes") or {}).get("ApproximateReceiveCount"),
    }
    run = _run or BatchRun(Deadline.unbounded())
    with logger.append_context_keys(**keys):
        settings: Settings | None = None
        started = run.clock()
        try:
            settings = load_settings()
            if not run.may_start():
                run.not_started += 1
                raise RecordNotStarted("batch", "record", run.deadline.remaining())
            message = decode_message(record.body)
            with logger.append_context_keys(taskId=message.task_id):
                outcome = execute_task(message, worker_store(settings, run.deadline))
                _report(outcome)
        except Exception as error:
            reason = str(error) or type(error).__name__
            _fail(error, reason)
            if settings is not None and is_last_receive(
                keys["receiveCount"], settings.max_receive_count
            ):
                # The margin kept back from the deadline is what this write may use.
                margin = Deadline(run.deadline.remaining_fn, settings.deadline_margin_s / 2)
                give_up(
                    worker_store(settings, margin), lenient_task_id(record.body), reason, margin
                )
            raise
        finally:
            run.finished(run.clock() - started)
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
    global _run
    try:
        margin = load_settings().deadline_margin_s
    except Exception:  # reported per record, with the variable's name
        margin = 0.0
    _run = BatchRun(Deadline.from_context(context, margin), clock=_clock)
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
