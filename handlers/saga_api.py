"""REST API for bookings (API Gateway REST proxy integration): start the booking saga, read it.

    POST /bookings               validate, start the saga's execution -> 202 + bookingId
    GET  /bookings/{bookingId}   the execution's status (and what was booked or undone)

Lambda handler string: `saga_api.handler`. The saga itself (hotel -> flight -> car, with
compensations) runs in Step Functions; this function only starts and reads executions, so it
answers in a few hundred milliseconds whatever the saga does.

Starting is idempotent: the booking id is the execution's name, and a retried POST with the
same `bookingId` (or, without one, the same `Idempotency-Key`, from which the id is derived)
finds the execution it already started instead of booking twice. A POST with neither is refused
(400): a random id would turn a retry after a lost reply into a second booking.
"""

from __future__ import annotations

import json
import os
from typing import Any, Final

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler.api_gateway import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError

from api_responses import install_common_handlers, json_response
from aws_clients import CallProfile, client
from saga_model import (
    IDEMPOTENCY_HEADER,
    BookingRequest,
    BookingValidationError,
    booking_status,
    execution_arn,
    idempotency_key,
    parse_booking_request,
    same_booking,
    validate_booking_id,
)

#: Seconds a client should wait before retrying a 503.
RETRY_AFTER_S: Final[str] = "2"
DEFAULT_METRICS_NAMESPACE: Final[str] = "ResilientServerless"

logger = Logger()
tracer = Tracer(patch_modules=("botocore",))
metrics = Metrics(
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "").strip()
    or DEFAULT_METRICS_NAMESPACE
)
app = APIGatewayRestResolver()


class SagaConfigurationError(RuntimeError):
    """A required environment variable is missing; the message names it."""


class SagaUnavailable(Exception):
    """Step Functions did not answer (after the client's retries)."""

    def __init__(self, operation: str, cause: Exception) -> None:
        self.code = (
            cause.response.get("Error", {}).get("Code", "ClientError")
            if isinstance(cause, ClientError)
            else type(cause).__name__
        )
        super().__init__(f"stepfunctions {operation} failed: {self.code}")


class BookingConflict(Exception):
    """The booking id (given, or derived from the Idempotency-Key) is taken by another trip."""

    def __init__(self, request: BookingRequest) -> None:
        self.request = request
        super().__init__(request.booking_id)


def _state_machine_arn() -> str:
    arn = os.environ.get("STATE_MACHINE_ARN", "").strip()
    if not arn:
        raise SagaConfigurationError(
            "Environment variable STATE_MACHINE_ARN is required: set it to the booking saga's ARN"
        )
    return arn


def _sfn() -> Any:
    region = os.environ.get("AWS_REGION", "").strip()
    if not region:
        raise SagaConfigurationError("Environment variable AWS_REGION is required")
    return client("stepfunctions", region, CallProfile.REQUEST)


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def start_booking(sfn: Any, state_machine_arn: str, request: BookingRequest) -> dict[str, Any]:
    """Start the saga for `request`, or find the execution a previous try of it started.

    Returns the execution's description (at least `executionArn` and `status`). Raises
    BookingConflict when the id belongs to another trip.
    """
    arn = execution_arn(state_machine_arn, request.booking_id)
    try:
        started = sfn.start_execution(
            stateMachineArn=state_machine_arn,
            name=request.booking_id,
            input=json.dumps(request.saga_input(), separators=(",", ":")),
        )
        return {"executionArn": started["executionArn"], "status": "RUNNING"}
    except ClientError as error:
        if _error_code(error) != "ExecutionAlreadyExists":
            raise SagaUnavailable("StartExecution", error) from error
    except BotoCoreError as error:
        raise SagaUnavailable("StartExecution", error) from error
    described = describe_booking(sfn, arn)
    if described is None or not same_booking(described, request):
        raise BookingConflict(request)
    return described


def describe_booking(sfn: Any, arn: str) -> dict[str, Any] | None:
    """DescribeExecution, or None when there is no such execution."""
    try:
        return dict(sfn.describe_execution(executionArn=arn))
    except ClientError as error:
        if _error_code(error) == "ExecutionDoesNotExist":
            return None
        raise SagaUnavailable("DescribeExecution", error) from error
    except BotoCoreError as error:
        raise SagaUnavailable("DescribeExecution", error) from error


def _status_url(booking_id: str) -> str:
    """Where to poll, on the host and path prefix the client called."""
    event = app.current_event.raw_event
    context = event.get("requestContext") or {}
    headers = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
    host = context.get("domainName") or headers.get("host")
    requested = str(context.get("path") or "").rstrip("/")
    prefix = requested.removesuffix("/bookings") if requested.endswith("/bookings") else ""
    path = f"{prefix}/bookings/{booking_id}"
    return f"https://{host}{path}" if host else path


install_common_handlers(
    app,
    logger,
    routes="POST /bookings, GET /bookings/{bookingId}",
    configuration_error=SagaConfigurationError,
)


@app.post("/bookings")
@tracer.capture_method
def post_booking() -> Response:
    event = app.current_event
    key = idempotency_key(event.headers)
    request = parse_booking_request(event.body, bool(event.is_base64_encoded), key)
    state_machine_arn = _state_machine_arn()
    logger.append_keys(bookingId=request.booking_id)
    described = start_booking(_sfn(), state_machine_arn, request)
    metrics.add_metric(name="BookingsStarted", unit=MetricUnit.Count, value=1)
    status_url = _status_url(request.booking_id)
    return json_response(
        202,
        {
            "bookingId": request.booking_id,
            "executionArn": described["executionArn"],
            "status": described["status"],
            "statusUrl": status_url,
        },
        {"Location": status_url},
    )


@app.get("/bookings/<booking_id>")
@tracer.capture_method
def get_booking(booking_id: str) -> Response:
    booking_id = validate_booking_id(booking_id)
    arn = execution_arn(_state_machine_arn(), booking_id)
    described = describe_booking(_sfn(), arn)
    if described is None:
        return json_response(404, {"error": "NotFound", "bookingId": booking_id})
    return json_response(200, booking_status(booking_id, described))


@app.exception_handler(BookingValidationError)
def _invalid(error: BookingValidationError) -> Response:
    logger.info("Rejected booking request", extra={"field": error.field, "reason": str(error)})
    return json_response(400, error.to_dict())


@app.exception_handler(BookingConflict)
def _conflict(error: BookingConflict) -> Response:
    if error.request.id_from_idempotency_key:
        # As the task API answers a key reused for another request.
        return json_response(
            422,
            {
                "error": "IdempotencyKeyReused",
                "field": IDEMPOTENCY_HEADER,
                "bookingId": error.request.booking_id,
                "message": "This Idempotency-Key was used for another trip; send a new one.",
            },
        )
    return json_response(
        409,
        {
            "error": "BookingIdInUse",
            "bookingId": error.request.booking_id,
            "message": "This bookingId belongs to another trip; send a new one.",
        },
    )


@app.exception_handler(SagaUnavailable)
def _unavailable(error: SagaUnavailable) -> Response:
    logger.error("Step Functions failed", extra={"reason": str(error)})
    return json_response(
        503,
        {"error": "DependencyUnavailable", "dependency": "stepfunctions", "code": error.code},
        {"Retry-After": RETRY_AFTER_S},
    )


@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True
)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
