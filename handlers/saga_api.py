"""REST API for bookings (API Gateway REST proxy integration): start the booking saga, read it.

    POST /bookings               validate, start the saga's execution -> 202 + bookingId
                                 and status URL (never the execution ARN)
    GET  /bookings/{bookingId}   the execution's status (and what was booked or undone), for
                                 the caller that created the booking

Lambda handler string: `saga_api.handler`. The saga itself (hotel -> flight -> car, with
compensations) runs in Step Functions; this function only starts and reads executions, so it
answers in a few hundred milliseconds whatever the saga does.

Starting is idempotent: a retried POST with the same `bookingId` (or, without one, the same
`Idempotency-Key`, from which the id is derived) finds the execution it already started instead
of booking twice. A POST with neither is refused (400): a random id would turn a retry after a
lost reply into a second booking.

Callers own their bookings (caller_identity: the IAM principal and/or API key id API Gateway
authorized; a request naming neither is refused with 403). The execution's name is derived from
the caller and the booking id, and the caller is kept in the execution's input: the same
Idempotency-Key or client-chosen `bookingId` from two callers makes two bookings (never a 409
or 422 for a key or id someone else took), and another caller's GET of an id answers 404
exactly as an unknown id does. Executions started before owners existed (named by the bare
booking id, no owner in the input) are read by nobody unless BOOKING_LEGACY_UNOWNED_READABLE is
true. The execution ARN names the account and the state machine: it is logged, never answered.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from typing import Any, Final

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler.api_gateway import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError

from api_responses import install_common_handlers, json_response, malformed_event
from aws_clients import CallProfile, client
from caller_identity import CallerUnidentified, caller_from_event, parse_flag
from saga_model import (
    IDEMPOTENCY_HEADER,
    BookingRequest,
    BookingValidationError,
    booking_execution_name,
    booking_status,
    execution_arn,
    idempotency_key,
    owned_booking_id,
    parse_booking_request,
    validate_booking_id,
)

#: Seconds a client should wait before retrying a 503.
RETRY_AFTER_S: Final[str] = "2"
DEFAULT_METRICS_NAMESPACE: Final[str] = "ResilientServerless"
#: true: executions started before owners existed stay readable by every authorized caller.
LEGACY_BOOKINGS_READABLE_VARIABLE: Final[str] = "BOOKING_LEGACY_UNOWNED_READABLE"
#: The execution input field that names the booking's owner.
OWNER_FIELD: Final[str] = "owner"

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


def _legacy_readable() -> bool:
    try:
        return parse_flag(os.environ.get(LEGACY_BOOKINGS_READABLE_VARIABLE))
    except ValueError as error:
        raise SagaConfigurationError(
            f"Environment variable {LEGACY_BOOKINGS_READABLE_VARIABLE} {error}"
        ) from None


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def saga_input(request: BookingRequest, owner: str) -> dict[str, str]:
    """The execution's input for `owner`'s booking: the saga's `bookingId` is the execution
    name (unique per caller, so holds never mix callers), plus the owner."""
    scoped = replace(request, booking_id=booking_execution_name(owner, request.booking_id))
    return {**scoped.saga_input(), OWNER_FIELD: owner}


def _input_of(described: dict[str, Any]) -> dict[str, Any]:
    try:
        value = json.loads(str(described.get("input") or ""))
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def start_booking(
    sfn: Any, state_machine_arn: str, request: BookingRequest, owner: str
) -> dict[str, Any]:
    """Start the saga for `owner`'s `request`, or find the execution a previous try of it
    started.

    Returns the execution's description (at least `executionArn` and `status`). Raises
    BookingConflict when the caller's booking id belongs to another of its trips.
    """
    execution_input = saga_input(request, owner)
    name = execution_input["bookingId"]
    arn = execution_arn(state_machine_arn, name)
    try:
        started = sfn.start_execution(
            stateMachineArn=state_machine_arn,
            name=name,
            input=json.dumps(execution_input, separators=(",", ":")),
        )
        return {"executionArn": started["executionArn"], "status": "RUNNING"}
    except ClientError as error:
        if _error_code(error) != "ExecutionAlreadyExists":
            raise SagaUnavailable("StartExecution", error) from error
    except BotoCoreError as error:
        raise SagaUnavailable("StartExecution", error) from error
    described = describe_booking(sfn, arn)
    if described is None or _input_of(described) != execution_input:
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
    # Before anything else: nothing is started for a caller API Gateway did not identify.
    owner = caller_from_event(event.raw_event).owner
    key = idempotency_key(event.headers)
    request = parse_booking_request(event.body, bool(event.is_base64_encoded), key)
    if request.id_from_idempotency_key and key is not None:
        # The caller's own key: the same key from another caller is another booking.
        request = replace(request, booking_id=owned_booking_id(owner, key))
    state_machine_arn = _state_machine_arn()
    logger.append_keys(bookingId=request.booking_id)
    described = start_booking(_sfn(), state_machine_arn, request, owner)
    # The ARN names the account and the state machine: for the logs only.
    logger.info("Booking started", extra={"executionArn": described["executionArn"]})
    metrics.add_metric(name="BookingsStarted", unit=MetricUnit.Count, value=1)
    status_url = _status_url(request.booking_id)
    return json_response(
        202,
        {
            "bookingId": request.booking_id,
            "status": described["status"],
            "statusUrl": status_url,
        },
        {"Location": status_url},
    )


def _owned_execution(
    sfn: Any, state_machine_arn: str, booking_id: str, owner: str
) -> dict[str, Any] | None:
    """The caller's booking `booking_id`, or None when the caller has no such booking (whether
    or not someone else has one under that id)."""
    name = booking_execution_name(owner, booking_id)
    described = describe_booking(sfn, execution_arn(state_machine_arn, name))
    if described is not None:
        stored_owner = _input_of(described).get(OWNER_FIELD)
        return described if stored_owner == owner else None
    if not _legacy_readable():
        return None
    # Started before owners existed: named by the bare id, no owner in its input.
    legacy = describe_booking(sfn, execution_arn(state_machine_arn, booking_id))
    if legacy is None or OWNER_FIELD in _input_of(legacy):
        return None
    return legacy


@app.get("/bookings/<booking_id>")
@tracer.capture_method
def get_booking(booking_id: str) -> Response:
    owner = caller_from_event(app.current_event.raw_event).owner
    booking_id = validate_booking_id(booking_id)
    described = _owned_execution(_sfn(), _state_machine_arn(), booking_id, owner)
    if described is None:
        # The same answer whether the id is unknown or another caller's.
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


@app.exception_handler(CallerUnidentified)
def _unidentified(error: CallerUnidentified) -> Response:
    logger.error("Request without a caller identity: is the route authorized?")
    return json_response(403, error.to_dict())


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
    malformed = malformed_event(event)
    if malformed is not None:
        return malformed
    return app.resolve(event, context)
