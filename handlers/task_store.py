"""DynamoDB and SQS access for tasks: every AWS call the handlers make lives here.

Items use the low-level client's attribute values. `request` and `result` are stored as JSON
text rather than DynamoDB maps: numbers then round-trip exactly as the client sent them (a map
would turn every number into a Decimal and drop the int/float distinction).

Status transitions are conditional writes, so concurrent or repeated writers (SQS delivers at
least once; the API and a worker can race on an ambiguous send) never overwrite a task that
has already moved on. The allowed transitions:

    PENDING -> SUCCEEDED        the worker, once, with the result
    PENDING -> ENQUEUE_FAILED   the API, when sending to the queue failed
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from aws_clients import CallProfile, client
from task_model import TaskMessage, TaskRequest, TaskStatus, dumps_compact
from task_settings import ConfigurationError, Settings

#: The key the health check reads. Never written, and never a valid task id (ids are UUIDs),
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


def error_code(error: Exception) -> str:
    """The AWS error code of a ClientError, else the exception's class name."""
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code") or "ClientError")
    return type(error).__name__


@dataclass(frozen=True)
class TaskRecord:
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

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> TaskRecord:
        def text(name: str) -> str | None:
            value = item.get(name)
            return None if value is None else str(value["S"])

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
        )

    def is_expired(self, now_epoch_s: float) -> bool:
        """DynamoDB deletes expired items lazily (within days), so reads must check the TTL."""
        return 0 < self.expires_at <= now_epoch_s

    def to_public_dict(self) -> dict[str, Any]:
        """What GET /tasks/{taskId} shows the client."""
        body: dict[str, Any] = {
            "taskId": self.task_id,
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
    #: The task exists but is in a state the worker must not move (e.g. ENQUEUE_FAILED).
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

    def __init__(self, settings: Settings, profile: CallProfile) -> None:
        self.settings = settings
        # Both clients are built here, on the calling thread: building a client is not
        # thread-safe, and the health check then uses them from two threads at once.
        self._dynamodb = client("dynamodb", settings.region, profile)
        self._sqs: Any = client("sqs", settings.region, profile) if settings.queue_url else None

    def _queue(self) -> tuple[Any, str]:
        """This region's queue client and URL; ConfigurationError names QUEUE_URL if unset."""
        queue_url = self.settings.require_queue_url()
        return self._sqs, queue_url

    def put_pending_task(
        self, task_id: str, request: TaskRequest, created_at: str, now_epoch_s: int
    ) -> TaskRecord:
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
        try:
            self._dynamodb.put_item(
                TableName=self.settings.table_name,
                Item=item,
                # A fresh UUID never collides; the condition makes that a guarantee, not a hope.
                ConditionExpression="attribute_not_exists(taskId)",
            )
        except (ClientError, BotoCoreError) as error:
            raise DependencyError("table", "PutItem", error) from error
        return TaskRecord.from_item(item)

    def enqueue_task(self, message: TaskMessage) -> str:
        """Send the task to this region's work queue; returns the SQS message id."""
        sqs, queue_url = self._queue()
        try:
            response = sqs.send_message(
                QueueUrl=queue_url,
                MessageBody=dumps_compact(message.to_dict()),
                MessageAttributes={
                    "taskType": {
                        "DataType": "String",
                        "StringValue": message.request.task_type.value,
                    }
                },
            )
        except (ClientError, BotoCoreError) as error:
            raise DependencyError("queue", "SendMessage", error) from error
        return str(response["MessageId"])

    def mark_enqueue_failed(self, task_id: str, reason: str, updated_at: str) -> TaskRecord:
        """PENDING -> ENQUEUE_FAILED; returns the record as it now stands.

        If the task is no longer PENDING, the send that "failed" did reach the queue (an
        ambiguous timeout) and a worker already moved it on: that state is kept and returned.
        """
        try:
            response = self._dynamodb.update_item(
                TableName=self.settings.table_name,
                Key={"taskId": {"S": task_id}},
                UpdateExpression="SET #status = :failed, #error = :reason, updatedAt = :now",
                ConditionExpression="#status = :pending",
                ExpressionAttributeNames={**_STATUS_NAMES, "#error": "error"},
                ExpressionAttributeValues={
                    ":failed": {"S": TaskStatus.ENQUEUE_FAILED.value},
                    ":pending": {"S": TaskStatus.PENDING.value},
                    ":reason": {"S": reason},
                    ":now": {"S": updated_at},
                },
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            old = _old_item(error) if _is_condition_failure(error) else None
            if old is not None:
                return TaskRecord.from_item(old)
            raise DependencyError("table", "UpdateItem", error) from error
        except BotoCoreError as error:
            raise DependencyError("table", "UpdateItem", error) from error
        return TaskRecord.from_item(response["Attributes"])

    def get_task(self, task_id: str) -> TaskRecord | None:
        try:
            response = self._dynamodb.get_item(
                TableName=self.settings.table_name,
                Key={"taskId": {"S": task_id}},
                # Strongly consistent within this region's replica: a client polling the region
                # it submitted to sees its own write at once.
                ConsistentRead=True,
            )
        except (ClientError, BotoCoreError) as error:
            raise DependencyError("table", "GetItem", error) from error
        item = response.get("Item")
        return TaskRecord.from_item(item) if item else None

    def complete_task(
        self, task_id: str, result: dict[str, Any], completed_at: str
    ) -> tuple[CompletionOutcome, TaskRecord | None]:
        """PENDING -> SUCCEEDED with the result, only if still PENDING (redeliveries are no-ops)."""
        try:
            response = self._dynamodb.update_item(
                TableName=self.settings.table_name,
                Key={"taskId": {"S": task_id}},
                UpdateExpression=(
                    "SET #status = :succeeded, #result = :result, completedAt = :now, "
                    "completedRegion = :region, updatedAt = :now"
                ),
                ConditionExpression="attribute_exists(taskId) AND #status = :pending",
                ExpressionAttributeNames={**_STATUS_NAMES, "#result": "result"},
                ExpressionAttributeValues={
                    ":succeeded": {"S": TaskStatus.SUCCEEDED.value},
                    ":pending": {"S": TaskStatus.PENDING.value},
                    ":result": {"S": dumps_compact(result)},
                    ":now": {"S": completed_at},
                    ":region": {"S": self.settings.region},
                },
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
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
            self._dynamodb.get_item(
                TableName=self.settings.table_name,
                Key={"taskId": {"S": HEALTH_PROBE_KEY}},
                ProjectionExpression="taskId",
            )
        except (ClientError, BotoCoreError) as error:
            return ProbeResult("table", False, _elapsed_ms(started), error_code(error))
        return ProbeResult("table", True, _elapsed_ms(started))

    def probe_queue(self) -> ProbeResult:
        started = time.perf_counter()
        try:
            sqs, queue_url = self._queue()
            sqs.get_queue_attributes(
                QueueUrl=queue_url,
                AttributeNames=["ApproximateNumberOfMessages"],
            )
        except (ClientError, BotoCoreError) as error:
            return ProbeResult("queue", False, _elapsed_ms(started), error_code(error))
        except ConfigurationError as error:
            return ProbeResult("queue", False, _elapsed_ms(started), str(error))
        return ProbeResult("queue", True, _elapsed_ms(started))


def _elapsed_ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0
