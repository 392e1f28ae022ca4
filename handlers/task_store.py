"""DynamoDB and SQS access for tasks: every AWS call the handlers make lives here.

Items use the low-level client's attribute values. `request` and `result` are stored as JSON
text rather than DynamoDB maps: numbers then round-trip exactly as the client sent them (a map
would turn every number into a Decimal and drop the int/float distinction).

Status transitions are conditional writes, so concurrent or repeated writers (SQS delivers at
least once; the API and a worker can race on an ambiguous send) never overwrite a task that
has already moved on. The allowed transitions:

    PENDING -> SUCCEEDED                 the worker, once, with the result
    FAILED -> SUCCEEDED                  the worker, for a replayed message
    PENDING -> ENQUEUE_FAILED            the API, when sending to the queue failed
    PENDING -> FAILED                    the worker, when a message's last receive failed
    ENQUEUE_FAILED | FAILED -> PENDING   a repeated submit of the same request (same id)
    FAILED -> PENDING                    a DLQ replay (dlq_replay --tasks-table)

A PENDING task whose processing window (`processBy`) has passed reads FAILED
(`TaskRecord.as_seen_at`), so a FAILED mark the worker could not write is not needed for the
client to learn it; a repeated submit or a DLQ replay starts a new window.

Every call goes through `deadlines.call_with_deadline`: it fits the time the invocation has
left, is retried only when the retry can finish, and passes the dependency's circuit breaker.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Final, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from aws_clients import CallProfile, Timeouts, client
from deadlines import Deadline, DeadlineExceeded, Guard, call_with_deadline
from deadlines import error_code as error_code
from task_model import (
    TaskMessage,
    TaskRequest,
    TaskStatus,
    dumps_compact,
    not_processed_in_time,
    processing_window_ended,
)
from task_settings import ConfigurationError, Settings

T = TypeVar("T")

#: The key the health check reads. Never written, and never a valid task key (keys are UUIDs),
#: so GetItem on it exercises the table's read path without touching a real task.
HEALTH_PROBE_KEY: Final[str] = "health-check"

_STATUS_NAMES: Final[dict[str, str]] = {"#status": "status"}


class DependencyError(Exception):
    """An AWS call failed after the client's own retries. Names the dependency and the error."""

    def __init__(self, dependency: str, operation: str, cause: Exception) -> None:
        self.dependency = dependency
        self.operation = operation
        self.code = error_code(cause)
        super().__init__(f"{dependency} {operation} failed: {self.code}")


class IdempotencyConflict(Exception):
    """The task id (from the caller and its Idempotency-Key) is taken by a different request.

    `task_id` is the caller's own task that holds the key; None when the item under the key is
    not the caller's (never its id: that would tell one caller about another's task)."""

    def __init__(self, task_id: str | None) -> None:
        self.task_id = task_id
        subject = f"task {task_id}" if task_id is not None else "a task"
        super().__init__(f"{subject} was submitted with this Idempotency-Key and a different body")


@dataclass(frozen=True)
class TaskRecord:
    #: The table key (a UUID4): the last part of the id clients see.
    task_id: str
    status: str
    task_type: str
    created_at: str
    region: str
    request: dict[str, Any]
    expires_at: int
    result: dict[str, Any] | None = None
    completed_at: str | None = None
    completed_region: str | None = None
    updated_at: str | None = None
    error: str | None = None
    request_hash: str | None = None
    #: The id the submit that wrote the item handed out (`<region>.<created_ms>.<key>`); None
    #: for items written before ids named their region, whose id is the key itself.
    public_id: str | None = None
    #: Unix seconds after which a PENDING task reads FAILED; None when no window was configured.
    process_by: int | None = None
    #: The window's length, kept on the item so a DLQ replay can start a new one.
    processing_window_s: int | None = None
    #: Who submitted the task (caller_identity.Caller.owner); None for items written before
    #: owners existed. Only the owner reads the task.
    owner: str | None = None

    @property
    def client_task_id(self) -> str:
        """The id clients know this task by."""
        return self.public_id or self.task_id

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> TaskRecord:
        def text(name: str) -> str | None:
            value = item.get(name)
            return None if value is None else str(value["S"])

        def number(name: str) -> int | None:
            value = item.get(name)
            return None if value is None else int(value["N"])

        result_json = text("result")
        return cls(
            task_id=str(item["taskId"]["S"]),
            status=str(item["status"]["S"]),
            task_type=text("taskType") or "",
            created_at=text("createdAt") or "",
            region=text("region") or "",
            request=json.loads(text("request") or "{}"),
            expires_at=int(item["expiresAt"]["N"]) if "expiresAt" in item else 0,
            result=None if result_json is None else json.loads(result_json),
            completed_at=text("completedAt"),
            completed_region=text("completedRegion"),
            updated_at=text("updatedAt"),
            error=text("error"),
            request_hash=text("requestHash"),
            public_id=text("publicId"),
            process_by=number("processBy"),
            processing_window_s=number("processingWindowS"),
            owner=text("owner"),
        )

    def is_expired(self, now_epoch_s: float) -> bool:
        """DynamoDB deletes expired items lazily (within days), so reads must check the TTL."""
        return 0 < self.expires_at <= now_epoch_s

    def as_seen_at(self, now_epoch_s: float) -> TaskRecord:
        """The task as a client reads it: FAILED once its processing window ended while it
        was still PENDING (the worker gave up, whether or not its FAILED mark landed)."""
        if self.process_by is None or not processing_window_ended(
            self.status, self.process_by, now_epoch_s
        ):
            return self
        return replace(
            self, status=TaskStatus.FAILED.value, error=not_processed_in_time(self.process_by)
        )

    def to_public_dict(self, task_id: str | None = None) -> dict[str, Any]:
        """What GET /tasks/{taskId} shows the client (`task_id`: the id it asked for)."""
        body: dict[str, Any] = {
            "taskId": task_id or self.client_task_id,
            "status": self.status,
            "taskType": self.task_type,
            "createdAt": self.created_at,
            "submittedRegion": self.region,
            "expiresAt": self.expires_at,
        }
        if self.result is not None:
            body["result"] = self.result
        if self.completed_at is not None:
            body["completedAt"] = self.completed_at
            body["completedRegion"] = self.completed_region
        if self.error is not None:
            body["error"] = self.error
        return body


class CompletionOutcome(StrEnum):
    COMPLETED = "COMPLETED"
    #: A redelivery of a task that already has its result: nothing was written.
    ALREADY_COMPLETED = "ALREADY_COMPLETED"
    #: The task exists but is in a state the worker must not move (ENQUEUE_FAILED).
    NOT_PENDING = "NOT_PENDING"
    #: No such task in this region's replica.
    UNKNOWN_TASK = "UNKNOWN_TASK"


@dataclass(frozen=True)
class ProbeResult:
    dependency: str
    ok: bool
    latency_ms: float
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": self.ok, "latencyMs": round(self.latency_ms, 1)}
        if self.error is not None:
            body["error"] = self.error
        return body


def _old_item(error: ClientError) -> dict[str, Any] | None:
    """The item as it was when a condition failed (ReturnValuesOnConditionCheckFailure)."""
    item = error.response.get("Item")
    return item if isinstance(item, dict) and item else None


def _is_condition_failure(error: ClientError) -> bool:
    return error_code(error) == "ConditionalCheckFailedException"


class TaskStore:
    """The tasks table and (for the API) this region's work queue."""

    def __init__(
        self,
        settings: Settings,
        profile: CallProfile,
        deadline: Deadline | None = None,
        breakers: Mapping[str, Guard] | None = None,
    ) -> None:
        self.settings = settings
        self.profile = profile
        self.deadline = deadline or Deadline.unbounded()
        #: dependency ("table", "queue") -> its circuit breaker; none for health probes.
        self.breakers: Mapping[str, Guard] = breakers or {}

    def with_deadline(self, deadline: Deadline) -> TaskStore:
        """The same store whose calls end by `deadline`."""
        return TaskStore(self.settings, self.profile, deadline, self.breakers)

    def _call(
        self,
        dependency: str,
        operation: str,
        invoke: Callable[[Any], T],
        deadline: Deadline | None = None,
    ) -> T:
        """One logical call: attempts sized to the deadline, retried, through the breaker.

        ClientError and BotoCoreError propagate as raised (callers read condition failures);
        CircuitOpenError and DeadlineExceeded propagate for the handlers to answer.
        """
        service = "dynamodb" if dependency == "table" else "sqs"
        region, profile = self.settings.region, self.profile

        def attempt(timeouts: Timeouts) -> T:
            return invoke(client(service, region, profile, timeouts))

        return call_with_deadline(
            dependency,
            operation,
            attempt,
            profile=profile,
            deadline=deadline or self.deadline,
            guard=self.breakers.get(dependency),
        )

    def _queue_url(self) -> str:
        """This region's queue URL; ConfigurationError names QUEUE_URL if unset."""
        return self.settings.require_queue_url()

    def put_pending_task(
        self,
        task_id: str,
        request: TaskRequest,
        created_at: str,
        now_epoch_s: int,
        request_hash: str | None = None,
        public_id: str | None = None,
        owner: str | None = None,
    ) -> tuple[TaskRecord, bool]:
        """Write the PENDING task under its key; returns (record, created).

        `public_id` is the id the client is given, `owner` the caller who submits it (kept on
        the item: every status write is an UpdateItem, which keeps it). The key is derived
        from the owner and its Idempotency-Key, so the owner's repeat finds the task already
        there:
        `created` is False and the record is the stored one. That includes our own write whose
        reply was lost (the retry fails the condition and reads back what the first attempt
        wrote). A task that failed (ENQUEUE_FAILED, FAILED, or PENDING past its processing
        window, which reads FAILED) or expired is written afresh, with a new window.
        Raises IdempotencyConflict when the stored task has a different request, or belongs to
        another owner (then nothing about it is named, and it is never overwritten).
        """
        expires_at = now_epoch_s + self.settings.task_ttl_seconds
        item = {
            "taskId": {"S": task_id},
            "status": {"S": TaskStatus.PENDING.value},
            "taskType": {"S": request.task_type.value},
            "createdAt": {"S": created_at},
            "updatedAt": {"S": created_at},
            "region": {"S": self.settings.region},
            "request": {"S": dumps_compact(request.to_dict())},
            "expiresAt": {"N": str(expires_at)},
        }
        if request_hash is not None:
            item["requestHash"] = {"S": request_hash}
        if public_id is not None:
            item["publicId"] = {"S": public_id}
        if owner is not None:
            item["owner"] = {"S": owner}
        window_s = self.settings.processing_window_s
        if window_s is not None:
            item["processBy"] = {"N": str(now_epoch_s + window_s)}
            item["processingWindowS"] = {"N": str(window_s)}
        try:
            self._call(
                "table",
                "PutItem",
                lambda dynamodb: dynamodb.put_item(
                    TableName=self.settings.table_name,
                    Item=item,
                    ConditionExpression=(
                        "attribute_not_exists(taskId) OR expiresAt <= :now OR "
                        "(#status IN (:enqueue_failed, :failed) AND requestHash = :hash "
                        "AND #owner = :owner) OR "
                        "(#status = :pending AND processBy <= :now AND requestHash = :hash "
                        "AND #owner = :owner)"
                    ),
                    ExpressionAttributeNames={**_STATUS_NAMES, "#owner": "owner"},
                    ExpressionAttributeValues={
                        ":now": {"N": str(now_epoch_s)},
                        ":enqueue_failed": {"S": TaskStatus.ENQUEUE_FAILED.value},
                        ":failed": {"S": TaskStatus.FAILED.value},
                        ":pending": {"S": TaskStatus.PENDING.value},
                        ":hash": {"S": request_hash or ""},
                        ":owner": {"S": owner or ""},
                    },
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                ),
            )
        except ClientError as error:
            old = _old_item(error) if _is_condition_failure(error) else None
            if old is None:
                raise DependencyError("table", "PutItem", error) from error
            existing = TaskRecord.from_item(old)
            if existing.owner != owner:
                # Not this caller's task (keys are derived from the owner, so only a key
                # written before owners existed could be here): it is neither shown nor taken.
                raise IdempotencyConflict(None) from None
            if existing.request_hash != request_hash:
                raise IdempotencyConflict(existing.client_task_id) from None
            return existing, False
        except BotoCoreError as error:
            raise DependencyError("table", "PutItem", error) from error
        return TaskRecord.from_item(item), True

    def enqueue_task(self, message: TaskMessage) -> str:
        """Send the task to this region's work queue; returns the SQS message id."""
        queue_url = self._queue_url()
        try:
            response = self._call(
                "queue",
                "SendMessage",
                lambda sqs: sqs.send_message(
                    QueueUrl=queue_url,
                    MessageBody=dumps_compact(message.to_dict()),
                    MessageAttributes={
                        "taskType": {
                            "DataType": "String",
                            "StringValue": message.request.task_type.value,
                        }
                    },
                ),
            )
        except (ClientError, BotoCoreError) as error:
            raise DependencyError("queue", "SendMessage", error) from error
        return str(response["MessageId"])

    def _transition(
        self,
        task_id: str,
        target: TaskStatus,
        reason: str,
        updated_at: str,
        deadline: Deadline | None = None,
    ) -> TaskRecord:
        """PENDING -> target with the reason; returns the record as it now stands (the stored
        one, unchanged, when the task was no longer PENDING)."""
        try:
            response = self._call(
                "table",
                "UpdateItem",
                lambda dynamodb: dynamodb.update_item(
                    TableName=self.settings.table_name,
                    Key={"taskId": {"S": task_id}},
                    UpdateExpression="SET #status = :target, #error = :reason, updatedAt = :now",
                    ConditionExpression="#status = :pending",
                    ExpressionAttributeNames={**_STATUS_NAMES, "#error": "error"},
                    ExpressionAttributeValues={
                        ":target": {"S": target.value},
                        ":pending": {"S": TaskStatus.PENDING.value},
                        ":reason": {"S": reason[:1000]},
                        ":now": {"S": updated_at},
                    },
                    ReturnValues="ALL_NEW",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                ),
                deadline,
            )
        except ClientError as error:
            old = _old_item(error) if _is_condition_failure(error) else None
            if old is not None:
                return TaskRecord.from_item(old)
            raise DependencyError("table", "UpdateItem", error) from error
        except BotoCoreError as error:
            raise DependencyError("table", "UpdateItem", error) from error
        return TaskRecord.from_item(response["Attributes"])

    def mark_enqueue_failed(self, task_id: str, reason: str, updated_at: str) -> TaskRecord:
        """PENDING -> ENQUEUE_FAILED; returns the record as it now stands.

        If the task is no longer PENDING, the send that "failed" did reach the queue (an
        ambiguous timeout) and a worker already moved it on: that state is kept and returned.
        """
        return self._transition(task_id, TaskStatus.ENQUEUE_FAILED, reason, updated_at)

    def mark_failed(
        self, task_id: str, reason: str, updated_at: str, deadline: Deadline | None = None
    ) -> TaskRecord:
        """PENDING -> FAILED: the worker gives up on the task's message (its last receive)."""
        return self._transition(task_id, TaskStatus.FAILED, reason, updated_at, deadline)

    def get_task(self, task_id: str, consistent: bool = True) -> TaskRecord | None:
        """The task stored under key `task_id` in this region's replica.

        `consistent`: a strongly consistent read, which sees every write made in this region
        (a client polling the region it submitted to sees its own write at once). It cannot
        see further: a write made in another region arrives by replication, whatever the read,
        so for such a task an eventually consistent read (half the cost) is as good.
        """
        try:
            response = self._call(
                "table",
                "GetItem",
                lambda dynamodb: dynamodb.get_item(
                    TableName=self.settings.table_name,
                    Key={"taskId": {"S": task_id}},
                    ConsistentRead=consistent,
                ),
            )
        except (ClientError, BotoCoreError) as error:
            raise DependencyError("table", "GetItem", error) from error
        item = response.get("Item")
        return TaskRecord.from_item(item) if item else None

    def complete_task(
        self, task_id: str, result: dict[str, Any], completed_at: str
    ) -> tuple[CompletionOutcome, TaskRecord | None]:
        """PENDING (or FAILED, on a replay) -> SUCCEEDED with the result; redeliveries of a
        completed task change nothing."""
        try:
            response = self._call(
                "table",
                "UpdateItem",
                lambda dynamodb: dynamodb.update_item(
                    TableName=self.settings.table_name,
                    Key={"taskId": {"S": task_id}},
                    UpdateExpression=(
                        "SET #status = :succeeded, #result = :result, completedAt = :now, "
                        "completedRegion = :region, updatedAt = :now REMOVE #error"
                    ),
                    ConditionExpression=(
                        "attribute_exists(taskId) AND #status IN (:pending, :failed)"
                    ),
                    ExpressionAttributeNames={
                        **_STATUS_NAMES,
                        "#result": "result",
                        "#error": "error",
                    },
                    ExpressionAttributeValues={
                        ":succeeded": {"S": TaskStatus.SUCCEEDED.value},
                        ":pending": {"S": TaskStatus.PENDING.value},
                        ":failed": {"S": TaskStatus.FAILED.value},
                        ":result": {"S": dumps_compact(result)},
                        ":now": {"S": completed_at},
                        ":region": {"S": self.settings.region},
                    },
                    ReturnValues="ALL_NEW",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                ),
            )
        except ClientError as error:
            if not _is_condition_failure(error):
                raise DependencyError("table", "UpdateItem", error) from error
            old = _old_item(error)
            if old is None:
                return CompletionOutcome.UNKNOWN_TASK, None
            record = TaskRecord.from_item(old)
            if record.status == TaskStatus.SUCCEEDED:
                return CompletionOutcome.ALREADY_COMPLETED, record
            return CompletionOutcome.NOT_PENDING, record
        except BotoCoreError as error:
            raise DependencyError("table", "UpdateItem", error) from error
        return CompletionOutcome.COMPLETED, TaskRecord.from_item(response["Attributes"])

    # --- Health probes: never raise, always answer -----------------------------------------------

    def probe_table(self) -> ProbeResult:
        started = time.perf_counter()
        try:
            self._call(
                "table",
                "GetItem",
                lambda dynamodb: dynamodb.get_item(
                    TableName=self.settings.table_name,
                    Key={"taskId": {"S": HEALTH_PROBE_KEY}},
                    ProjectionExpression="taskId",
                    # A region of a strongly consistent (MRSC) table that cannot reach a second
                    # replica or the witness serves only eventually consistent reads: a strong
                    # read fails there, so Route53 takes the region out before its writes fail.
                    # On an eventually consistent table it reads the local replica, as before.
                    ConsistentRead=True,
                ),
            )
        except (ClientError, BotoCoreError, DeadlineExceeded) as error:
            return ProbeResult("table", False, _elapsed_ms(started), error_code(error))
        return ProbeResult("table", True, _elapsed_ms(started))

    def probe_queue(self) -> ProbeResult:
        started = time.perf_counter()
        try:
            queue_url = self._queue_url()
            self._call(
                "queue",
                "GetQueueAttributes",
                lambda sqs: sqs.get_queue_attributes(
                    QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"]
                ),
            )
        except (ClientError, BotoCoreError, DeadlineExceeded) as error:
            return ProbeResult("queue", False, _elapsed_ms(started), error_code(error))
        except ConfigurationError as error:
            return ProbeResult("queue", False, _elapsed_ms(started), str(error))
        return ProbeResult("queue", True, _elapsed_ms(started))


def _elapsed_ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0
