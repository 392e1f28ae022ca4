"""REST API for tasks (API Gateway REST proxy integration): submit, poll, deep health.

    POST /tasks            validate, write PENDING, queue it -> 202 + taskId + status URL
                           (idempotent per caller: the caller and its Idempotency-Key name the
                           task; without a key every submit is a new task)
    GET  /tasks/{taskId}   status (and result once done), from this region's table replica,
                           for the caller that submitted it; 404 with Retry-After for a task
                           another region wrote moments ago
    GET  /health           reads the table and the queue in this region -> 200 or 503, and
                           names the region (signing clients learn it here)

Task ids are `<region>.<created_ms>.<key>` (see task_model.TaskId): the table and the queue use
the key, clients the whole id.

Callers own their tasks. The caller is the IAM principal (SigV4) and/or the API key id that
API Gateway authorized (caller_identity); a request that names neither is refused with 403.
The owner is stored on the task and only the owner reads it: anyone else's GET gets exactly
the answer an id that does not exist gets. An Idempotency-Key is the caller's own: the same key
from two callers makes two tasks, and a key reused with another body names only the caller's
own task. A submit without an Idempotency-Key gets a random key, so identical bodies no longer
share a task (they used to, keyed by the body) and a retry of such a submit is a new task.
Tasks written before owners existed are read by nobody unless TASK_LEGACY_UNOWNED_READABLE is
true.

Lambda handler string: `task_api.handler`.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler.api_gateway import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

import downstream
import fault_injection
from api_responses import install_common_handlers, json_response, malformed_event
from aws_clients import CallProfile
from caller_identity import CallerUnidentified, caller_from_event, owns
from circuit_breaker import BreakerEvent, CircuitOpenError
from deadlines import Deadline, DeadlineExceeded
from task_model import (
    IDEMPOTENCY_HEADER,
    REGION_PATTERN,
    TaskId,
    TaskMessage,
    TaskRequest,
    TaskStatus,
    ValidationError,
    format_timestamp,
    idempotent_task_id,
    parse_task_id,
    parse_task_request,
    regional_task_id,
    replication_hint,
    request_fingerprint,
    validate_idempotency_key,
)
from task_settings import ConfigurationError, Settings, load_settings, metrics_namespace
from task_store import (
    DependencyError,
    IdempotencyConflict,
    ProbeResult,
    TaskRecord,
    TaskStore,
)

#: Seconds a client should wait before retrying a 503: long enough for a throttle to pass, and
#: for Route53 to start sending it to another region if this one is unhealthy.
RETRY_AFTER_S: Final[str] = "2"
#: Seconds a send leaves before the deadline, so a failed send can still mark its task.
MARK_RESERVE_S: Final[float] = 0.5
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

logger = Logger()
# Only botocore is patched: auto-patching every supported library costs cold-start time for
# modules this function never uses.
tracer = Tracer(patch_modules=("botocore",))
metrics = Metrics(namespace=metrics_namespace())
app = APIGatewayRestResolver()
install_common_handlers(
    app,
    logger,
    routes="POST /tasks, GET /tasks/{taskId}, GET /health",
    configuration_error=ConfigurationError,
)


def _count(name: str) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)


def _breaker_metric(event: BreakerEvent, dependency: str) -> None:
    # One metric per event and dependency (e.g. BreakerOpened_table): no dimension, so the
    # other metrics of the invocation keep theirs.
    _count(f"Breaker{event.value}_{dependency}")


downstream.add_event_sink(_breaker_metric)
# A no-op unless the stack allows failure injection (FAULT_INJECTION_ALLOWED).
fault_injection.activate()


def request_store(settings: Settings) -> TaskStore:
    """A store for this request: its calls fit the invocation's deadline and pass the
    container's circuit breakers."""
    deadline = Deadline.from_context(app.lambda_context, settings.deadline_margin_s)
    breakers = {name: downstream.breaker(name, settings) for name in ("table", "queue")}
    return TaskStore(settings, CallProfile.REQUEST, deadline, breakers)


def idempotency_key(headers: Mapping[str, Any] | None) -> str | None:
    """The Idempotency-Key header (any case), validated; None when the client sent none."""
    for name, value in (headers or {}).items():
        if str(name).lower() == IDEMPOTENCY_HEADER.lower():
            return validate_idempotency_key(value)
    return None


def _utc_now() -> tuple[str, int]:
    now = datetime.now(UTC)
    return format_timestamp(now), int(now.timestamp())


def _created_now() -> tuple[str, int, int]:
    """Now as the item's timestamp, in Unix seconds, and in Unix milliseconds (the task id's
    creation time, the same millisecond as the timestamp)."""
    now = datetime.now(UTC)
    epoch_ms = (now - _EPOCH) // timedelta(milliseconds=1)  # exact: no float rounding
    return format_timestamp(now), epoch_ms // 1000, epoch_ms


def build_status_url(event: Mapping[str, Any], task_id: str) -> str:
    """Where the client polls for this task, as seen from the client's side of API Gateway.

    requestContext.path is the path the client requested: it carries the stage on the
    execute-api host ("/prod/tasks") and the base path on a custom domain ("/v1/tasks" or
    "/tasks"), so whatever precedes "/tasks" is the prefix to keep.
    """
    context = event.get("requestContext") or {}
    headers = {str(key).lower(): value for key, value in (event.get("headers") or {}).items()}
    host = context.get("domainName") or headers.get("host")
    requested = str(context.get("path") or "").rstrip("/")
    if requested.endswith("/tasks"):
        prefix = requested.removesuffix("/tasks")
    else:
        stage = context.get("stage")
        on_default_host = bool(host) and ".execute-api." in str(host)
        prefix = f"/{stage}" if stage and on_default_host else ""
    path = f"{prefix}/tasks/{task_id}"
    return f"https://{host}{path}" if host else path


def public_health(up: Mapping[str, bool], region: str | None) -> dict[str, Any]:
    """What the public /health route shows: up or down per dependency, nothing more.

    No error codes, exception text or variable names: the route needs no authorization, and
    those tell a stranger how the stack is built. The details go to the logs."""
    body: dict[str, Any] = {"status": "ok" if all(up.values()) else "degraded"}
    if region is not None:
        body["region"] = region
    body["dependencies"] = {name: "up" if ok else "down" for name, ok in up.items()}
    return body


def probe_dependencies(store: TaskStore) -> list[ProbeResult]:
    """Probe the table and the queue at the same time."""
    # In parallel, so the answer takes as long as the slower probe, not the sum: Route53's
    # checkers give an endpoint only a few seconds.
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="health") as pool:
        table_probe = pool.submit(store.probe_table)
        queue_probe = pool.submit(store.probe_queue)
        return [table_probe.result(), queue_probe.result()]


def health_report(store: TaskStore) -> tuple[int, dict[str, Any]]:
    """200 if the table and the queue both answer, else 503, with the public body; the probes'
    details (latencies, error codes) are logged, never answered."""
    probes = probe_dependencies(store)
    failed = [probe.dependency for probe in probes if not probe.ok]
    if failed:
        _count("HealthCheckFailures")
        logger.warning(
            "Health check failed",
            extra={
                "failed": failed,
                "dependencies": {probe.dependency: probe.to_dict() for probe in probes},
            },
        )
    body = public_health({probe.dependency: probe.ok for probe in probes}, store.settings.region)
    return (503 if failed else 200), body


def _accepted(record: TaskRecord, status_url: str, replayed: bool = False) -> Response:
    headers = {"Location": status_url}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return json_response(
        202,
        {
            "taskId": record.client_task_id,
            "status": record.status,
            "statusUrl": status_url,
            "createdAt": record.created_at,
        },
        headers=headers,
    )


def _repeated_submit(
    store: TaskStore, record: TaskRecord, request: TaskRequest, status_url: str
) -> Response:
    """The task was already written (a retry, a duplicate, or our own write whose reply was
    lost). A PENDING task is sent again: whoever wrote it may have failed to send it, and the
    worker ignores a second message for a task it completed."""
    _count("IdempotentReplays")
    if record.status == TaskStatus.PENDING:
        message = TaskMessage(task_id=record.task_id, request=request, created_at=record.created_at)
        try:
            store.enqueue_task(message)
        except (DependencyError, CircuitOpenError, DeadlineExceeded) as error:
            # Not marked ENQUEUE_FAILED: the first submit may have queued it. The task stays
            # PENDING and the client's next retry (same key) sends it again.
            logger.warning(
                "Repeated submit could not re-send the task", extra={"reason": str(error)}
            )
            return json_response(
                503,
                {
                    "error": "EnqueueFailed",
                    "taskId": record.client_task_id,
                    "dependency": "queue",
                    "status": record.status,
                    "message": "The task is stored but could not be queued now. Retry with "
                    "the same Idempotency-Key.",
                },
                {"Retry-After": RETRY_AFTER_S},
            )
    return _accepted(record, status_url, replayed=True)


def _handle_enqueue_failure(
    store: TaskStore, record: TaskRecord, send_error: Exception, status_url: str
) -> Response:
    """The item is written but the message is not: never leave the task PENDING."""
    _count("EnqueueFailures")
    reason = str(send_error) or type(send_error).__name__
    logger.error(
        "Task written but not queued; marking it ENQUEUE_FAILED",
        extra={"taskId": record.task_id, "reason": reason},
    )
    not_queued = {
        "error": "EnqueueFailed",
        "taskId": record.client_task_id,
        "dependency": "queue",
        "message": "The task could not be queued and will not run. Submit it again.",
    }
    updated_at, _ = _utc_now()
    try:
        current = store.mark_enqueue_failed(record.task_id, reason, updated_at)
    except (DependencyError, CircuitOpenError, DeadlineExceeded) as mark_error:
        # Both writes failed: the item stays PENDING until its TTL (expiresAt), after which
        # GET answers 404. The client still learns, here, that the task was not accepted.
        _count("EnqueueFailuresUnmarked")
        logger.error(
            "Could not mark the task ENQUEUE_FAILED; it stays PENDING until it expires",
            extra={"taskId": record.task_id, "reason": str(mark_error)},
        )
        return json_response(
            503, {**not_queued, "expiresAt": record.expires_at}, {"Retry-After": RETRY_AFTER_S}
        )
    if current.status != TaskStatus.ENQUEUE_FAILED:
        # The send only looked failed (e.g. a timeout after SQS stored it) and a worker has
        # already moved the task on: it was accepted after all.
        logger.warning(
            "Send reported a failure but the task already progressed",
            extra={"taskId": record.task_id, "status": current.status},
        )
        _count("TasksSubmitted")
        return _accepted(current, status_url)
    return json_response(
        503, {**not_queued, "status": current.status}, {"Retry-After": RETRY_AFTER_S}
    )


@app.post("/tasks")
@tracer.capture_method
def submit_task() -> Response:
    event = app.current_event
    # Before anything else: nothing is written for a caller API Gateway did not identify.
    owner = caller_from_event(event.raw_event).owner
    settings = load_settings()
    # Checked before anything is written: without a queue no task can be accepted.
    settings.require_queue_url()
    key = idempotency_key(event.headers)
    request = parse_task_request(event.body, bool(event.is_base64_encoded))

    fingerprint = request_fingerprint(request)
    task_key = idempotent_task_id(owner, key)
    created_at, now_epoch_s, now_ms = _created_now()
    task_id = regional_task_id(settings.region, now_ms, task_key)
    store = request_store(settings)
    logger.append_keys(taskId=task_id)
    record, created = store.put_pending_task(
        task_key,
        request,
        created_at,
        now_epoch_s,
        request_hash=fingerprint,
        public_id=task_id,
        owner=owner,
    )
    # A repeat gets the id of the submit that wrote the task (maybe in another region).
    logger.append_keys(taskId=record.client_task_id)
    status_url = build_status_url(event.raw_event, record.client_task_id)
    if not created:
        return _repeated_submit(store, record, request, status_url)
    # The send leaves time for marking the task ENQUEUE_FAILED if it fails.
    sender = store.with_deadline(store.deadline.reserve(MARK_RESERVE_S))
    try:
        sender.enqueue_task(TaskMessage(task_id=task_key, request=request, created_at=created_at))
    except Exception as send_error:  # whatever went wrong, the PENDING item must not be left
        return _handle_enqueue_failure(store, record, send_error, status_url)
    _count("TasksSubmitted")
    logger.info("Task accepted", extra={"taskType": request.task_type.value})
    return _accepted(record, status_url)


def _not_here(task_id: TaskId, this_region: str, now_s: float, grace_s: int) -> Response:
    """The answer for a task this region's replica does not have (or has only expired)."""
    hint = replication_hint(task_id, this_region, int(now_s * 1000), grace_s * 1000)
    if hint is None:
        return json_response(
            404,
            {
                "error": "NotFound",
                "taskId": str(task_id),
                "message": "No task with this id: it was never submitted, or it expired.",
            },
        )
    _count("TasksNotReplicatedYet")
    return json_response(
        404,
        {
            "error": "TaskNotReplicatedYet",
            "taskId": str(task_id),
            "writtenInRegion": hint.written_region,
            "region": this_region,
            "retryAfterSeconds": hint.retry_after_s,
            "message": f"The task was written in {hint.written_region} moments ago and has not "
            f"reached {this_region} yet. Retry after {hint.retry_after_s} s, or ask "
            f"{hint.written_region}'s own endpoint.",
        },
        {"Retry-After": str(hint.retry_after_s)},
    )


@app.get("/tasks/<task_id>")
@tracer.capture_method
def get_task(task_id: str) -> Response:
    owner = caller_from_event(app.current_event.raw_event).owner
    parsed = parse_task_id(task_id)
    settings = load_settings()
    # Strongly consistent for a task written here (or an older id, which names no region).
    own_region = parsed.region in (None, settings.region)
    record = request_store(settings).get_task(parsed.key, consistent=own_region)
    now_s = time.time()
    if (
        record is None
        or record.is_expired(now_s)
        # Another caller's task is answered as one that does not exist, word for word
        # (including the "not replicated yet" hint an unknown id of another region gets), so
        # an answer never tells whether someone else's task exists.
        or not owns(record.owner, owner, settings.legacy_unowned_readable)
    ):
        return _not_here(parsed, settings.region, now_s, settings.replication_grace_s)
    return json_response(200, record.as_seen_at(now_s).to_public_dict(str(parsed)))


@app.get("/health")
@tracer.capture_method
def health() -> Response:
    try:
        settings = load_settings()
    except ConfigurationError as error:
        # Which variable is wrong is for the logs: the public answer only says "down".
        logger.error("Health check: configuration invalid", extra={"reason": str(error)})
        _count("HealthCheckFailures")
        # Still named when it is valid: signing clients learn the region from this route.
        region = os.environ.get("AWS_REGION", "").strip()
        body = public_health(
            {"configuration": False}, region if REGION_PATTERN.match(region) else None
        )
        return json_response(503, body)
    # No breaker: the check must see the dependencies themselves (a breaker still open after
    # they recovered would keep the region out of DNS). The deadline still applies.
    deadline = Deadline.from_context(app.lambda_context, settings.deadline_margin_s)
    status_code, body = health_report(TaskStore(settings, CallProfile.HEALTH, deadline))
    return json_response(status_code, body)


@app.get("/health/<probe_token>")
def route53_health(probe_token: str) -> Response:
    """Route53's probe: the same deep check, on a route of its own whose last segment is a
    secret. API Gateway routes only the stack's secret here (a wrong one matches no resource),
    so the segment needs no check in code; the route has its own throttling, which floods of
    the public routes do not share."""
    return health()


@app.exception_handler(ValidationError)
def _invalid_request(error: ValidationError) -> Response:
    _count("TasksRejected")
    logger.info("Rejected request", extra={"field": error.field, "reason": str(error)})
    return json_response(400, error.to_dict())


@app.exception_handler(DependencyError)
def _dependency_failed(error: DependencyError) -> Response:
    logger.error("Dependency failed", extra={"dependency": error.dependency, "reason": str(error)})
    return json_response(
        503,
        {"error": "DependencyUnavailable", "dependency": error.dependency, "message": str(error)},
        {"Retry-After": RETRY_AFTER_S},
    )


@app.exception_handler(IdempotencyConflict)
def _key_reused(error: IdempotencyConflict) -> Response:
    _count("IdempotencyConflicts")
    body: dict[str, Any] = {"error": "IdempotencyKeyReused", "field": IDEMPOTENCY_HEADER}
    # Only ever the caller's own task: the key is derived from the caller.
    if error.task_id is not None:
        body["taskId"] = error.task_id
    body["message"] = f"{error}. Use a new key for a new request, or resend the original body."
    return json_response(422, body)


@app.exception_handler(CallerUnidentified)
def _unidentified(error: CallerUnidentified) -> Response:
    _count("CallersUnidentified")
    logger.error("Request without a caller identity: is the route authorized?")
    return json_response(403, error.to_dict())


@app.exception_handler(CircuitOpenError)
def _circuit_open(error: CircuitOpenError) -> Response:
    # Failing fast: the dependency failed repeatedly and is given time to recover.
    return json_response(
        503,
        {"error": "DependencyUnavailable", "dependency": error.dependency, "message": str(error)},
        {"Retry-After": str(max(1, math.ceil(error.retry_after_s)))},
    )


@app.exception_handler(DeadlineExceeded)
def _out_of_time(error: DeadlineExceeded) -> Response:
    # Answered while there is time, instead of a 504 from API Gateway or a Lambda timeout.
    _count("DeadlineExceeded")
    logger.warning("Out of time for a downstream call", extra={"reason": str(error)})
    return json_response(
        503,
        {"error": "DeadlineExceeded", "dependency": error.dependency, "message": str(error)},
        {"Retry-After": RETRY_AFTER_S},
    )


# clear_state: keys appended during one request (the taskId) must not leak into the next.
@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True
)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    malformed = malformed_event(event)
    if malformed is not None:
        return malformed
    injected = fault_injection.api_fault()
    if injected is not None:
        _count("InjectedFaults")
        return {
            "statusCode": injected,
            "headers": {"Content-Type": "application/json", "Cache-Control": "no-store"},
            "body": json.dumps({"error": "InjectedFault", "statusCode": injected}),
            "isBase64Encoded": False,
        }
    return app.resolve(event, context)
