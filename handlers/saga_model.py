"""Booking requests and booking status, for the saga's API. Pure: no I/O, no AWS, no clock.

A booking is one execution of the booking saga (a Step Functions state machine). Bookings are
owned by the caller that created them: the execution's name is derived from the owner and the
booking id (`booking_execution_name`), so the execution ARN follows from the state machine's
ARN, the caller and the id, another caller's read of the same id names another (absent)
execution, and status reads need no table of their own. The owner is also kept in the
execution's input.

Every booking id is one the client can send again: the `bookingId` it chose, or one derived
from its `Idempotency-Key` header. A request with neither is refused rather than given a random
id, because a retry of it (the reply was lost) would book the trip a second time.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

#: A trip request is three ids; anything near this size is a mistake or abuse.
MAX_BODY_BYTES: Final[int] = 4 * 1024
#: The trip's parts, in booking order, as the saga's input names them.
TRIP_FIELDS: Final[tuple[str, ...]] = ("hotelId", "flightId", "carId")
#: Resource ids become part of a DynamoDB key ("hotel#<id>"): short, and no separators.
_RESOURCE_ID: Final = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_BOOKING_ID: Final = re.compile(
    r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
)
#: The request header that names a booking when the body has no `bookingId` (the name the task
#: API uses too); its value is what a client reuses on every retry of one booking.
IDEMPOTENCY_HEADER: Final[str] = "Idempotency-Key"
MAX_IDEMPOTENCY_KEY_CHARS: Final[int] = 255
_IDEMPOTENCY_KEY: Final = re.compile(r"^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$")
#: What the Fail states' causes say, as the status API passes it on.
FAILURE_FIELDS: Final[tuple[str, ...]] = (
    "failedStep",
    "outcome",
    "compensated",
    "releaseFailed",
    "stillHeld",
)
#: DescribeExecution statuses; PENDING_REDRIVE is a failed execution being redriven.
FINISHED_STATUSES: Final[frozenset[str]] = frozenset(
    {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
)


class BookingValidationError(ValueError):
    """Input that does not fit: names the field, what is expected and what came."""

    def __init__(
        self,
        field: str,
        expected: str,
        got: str | None = None,
        *,
        alternatives: Sequence[str] = (),
    ) -> None:
        self.field = field
        self.expected = expected
        self.got = got
        #: Other fields any one of which would do instead of `field`.
        self.alternatives = tuple(alternatives)
        names = " or ".join((field, *self.alternatives))
        detail = f"{names}: expected {expected}" + (f", got {got}" if got is not None else "")
        super().__init__(detail)

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "error": "InvalidRequest",
            "field": self.field,
            "expected": self.expected,
        }
        if self.alternatives:
            body["fields"] = [self.field, *self.alternatives]
        body["message"] = str(self)
        if self.got is not None:
            body["got"] = self.got
        return body


@dataclass(frozen=True)
class BookingRequest:
    booking_id: str
    hotel_id: str
    flight_id: str
    car_id: str
    #: True when the id was derived from the Idempotency-Key (the body had no bookingId).
    id_from_idempotency_key: bool = False

    def saga_input(self) -> dict[str, str]:
        """The execution's input, as the state machine's definition reads it."""
        return {
            "bookingId": self.booking_id,
            "hotelId": self.hotel_id,
            "flightId": self.flight_id,
            "carId": self.car_id,
        }


def _short(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def validate_booking_id(value: Any, field: str = "bookingId") -> str:
    if not isinstance(value, str) or not _BOOKING_ID.match(value):
        raise BookingValidationError(field, "a lowercase UUID4", _short(value))
    return value


def idempotency_key(headers: Mapping[str, Any] | None) -> str | None:
    """The Idempotency-Key header (any case), validated; None when the client sent none."""
    for name, value in (headers or {}).items():
        if str(name).lower() == IDEMPOTENCY_HEADER.lower():
            if (
                not isinstance(value, str)
                or len(value) > MAX_IDEMPOTENCY_KEY_CHARS
                or not _IDEMPOTENCY_KEY.match(value)
            ):
                raise BookingValidationError(
                    IDEMPOTENCY_HEADER,
                    f"1 to {MAX_IDEMPOTENCY_KEY_CHARS} printable ASCII characters without "
                    "leading or trailing spaces, e.g. a UUID the client generates once per "
                    "booking and sends again on every retry",
                    _short(value),
                )
            return value
    return None


def booking_id_from_key(key: str) -> str:
    """The booking id an Idempotency-Key stands for: the same for the same key, in the UUID4
    form (version and variant bits set) that `validate_booking_id` and the status route take."""
    digest = bytearray(hashlib.sha256(f"booking\0{key}".encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x40
    digest[8] = (digest[8] & 0x3F) | 0x80
    return str(uuid.UUID(bytes=bytes(digest)))


#: Unknown fields are named as sent when they are plain names; others are quoted and cut short.
_PLAIN_FIELD: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}\Z")


def _field_name(key: str) -> str:
    if _PLAIN_FIELD.match(key):
        return key
    return f"body[{json.dumps(key if len(key) <= 40 else key[:40] + '...')}]"


def _body_text(body: object, is_base64: bool) -> str:
    """The request body as text, size-checked (before decoding, for base64)."""
    if body is None:
        return ""
    if not isinstance(body, str):
        # API Gateway sends the body as a string (or null); anything else is a hand-built event.
        raise BookingValidationError(
            "body", "the request body as a string of JSON text", type(body).__name__
        )
    too_big = BookingValidationError("body", f"at most {MAX_BODY_BYTES} bytes of JSON")
    if is_base64:
        if len(body) > (MAX_BODY_BYTES + 2) // 3 * 4:
            raise too_big
        try:
            raw = base64.b64decode(body, validate=True).decode("utf-8")
        except ValueError:  # binascii.Error, UnicodeDecodeError, and non-ASCII characters
            raise BookingValidationError("body", "base64-encoded UTF-8 JSON") from None
    else:
        raw = body
    # surrogatepass: a lone surrogate is counted here and refused where a field holds it.
    if len(raw.encode("utf-8", errors="surrogatepass")) > MAX_BODY_BYTES:
        raise too_big
    return raw


def _uuid4_form(text: str) -> str:
    digest = bytearray(hashlib.sha256(text.encode("utf-8")).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x40
    digest[8] = (digest[8] & 0x3F) | 0x80
    return str(uuid.UUID(bytes=bytes(digest)))


def owned_booking_id(owner: str, key: str) -> str:
    """The booking id an Idempotency-Key stands for when `owner` sends it: the same for the
    same caller and key, another one for the same key from another caller (so a key one caller
    took never makes another's booking conflict). UUID4 form, as `validate_booking_id` takes."""
    return _uuid4_form(f"owned-booking\0{owner}\0{key}")


def booking_execution_name(owner: str, booking_id: str) -> str:
    """The name of the execution that is `owner`'s booking `booking_id` (and the id the saga
    holds resources under): unique per caller, so two callers' equal booking ids (chosen, or
    from equal keys) never share an execution or a hold. Execution names are at most 80
    characters; this is a UUID4 form of 36."""
    return _uuid4_form(f"booking-execution\0{owner}\0{booking_id}")


def parse_booking_request(
    body: object, is_base64: bool = False, idempotency_key: str | None = None
) -> BookingRequest:
    """A POST /bookings body (and its Idempotency-Key, if any) -> BookingRequest.

    The booking id is the body's `bookingId` (a UUID4 the client generated) or else the one
    derived from `idempotency_key`: either way a retried POST (after a timeout, a lost reply, a
    503) names the same execution and finds it instead of booking the trip twice. With neither,
    the request is refused: nothing in it tells a retry from a second booking of the same trip.
    """
    # Imported where used: the task model's patterns cost import time this module's
    # callers need not pay at cold start.
    from task_model import ValidationError, loads_strict

    raw = _body_text(body, is_base64)
    try:
        # The task API's strict loader: no NaN/Infinity, no duplicate keys (which value a
        # parser keeps would decide what is booked), nesting bounded before parsing.
        data = loads_strict(raw, "body") if raw.strip() else None
    except ValidationError as error:
        raise BookingValidationError(error.field, error.expected, error.got) from None
    if not isinstance(data, dict):
        raise BookingValidationError("body", "a JSON object", _short(data))
    unknown = sorted(set(data) - {*TRIP_FIELDS, "bookingId"})
    if unknown:
        raise BookingValidationError(
            _field_name(unknown[0]), f"only the fields bookingId, {', '.join(TRIP_FIELDS)}"
        )
    ids: dict[str, str] = {}
    for field in TRIP_FIELDS:
        value = data.get(field)
        if not isinstance(value, str) or not _RESOURCE_ID.match(value):
            raise BookingValidationError(
                field, "1-64 letters, digits, '-' or '_'", _short(value) if field in data else None
            )
        ids[field] = value
    if "bookingId" in data:
        booking_id = validate_booking_id(data["bookingId"])
    elif idempotency_key is not None:
        booking_id = booking_id_from_key(idempotency_key)
    else:
        raise BookingValidationError(
            "bookingId",
            "a bookingId in the body (a lowercase UUID4) or an Idempotency-Key header, chosen "
            "once per booking and sent again on every retry, so that a retry does not book twice",
            alternatives=(IDEMPOTENCY_HEADER,),
        )
    return BookingRequest(
        booking_id,
        ids["hotelId"],
        ids["flightId"],
        ids["carId"],
        id_from_idempotency_key="bookingId" not in data,
    )


def execution_arn(state_machine_arn: str, booking_id: str) -> str:
    """arn:aws:states:<region>:<account>:stateMachine:<name> -> ...:execution:<name>:<id>."""
    prefix, marker, name = state_machine_arn.partition(":stateMachine:")
    if not marker or not name or ":" in name:
        raise ValueError(f"{state_machine_arn!r} is not a state machine ARN")
    return f"{prefix}:execution:{name}:{booking_id}"


def booking_status(booking_id: str, described: dict[str, Any]) -> dict[str, Any]:
    """A DescribeExecution answer -> what the client sees (the saga's own words, no ARNs)."""
    status = str(described.get("status"))
    body: dict[str, Any] = {"bookingId": booking_id, "status": status}
    for source, target in (("startDate", "startedAt"), ("stopDate", "stoppedAt")):
        value = described.get(source)
        if value is not None:
            body[target] = value.isoformat() if hasattr(value, "isoformat") else str(value)
    if status == "SUCCEEDED":
        output = _json_object(described.get("output"))
        body["booked"] = {field: output.get(field) for field in TRIP_FIELDS if field in output}
    elif status in FINISHED_STATUSES:
        body["error"] = described.get("error")
        cause = _json_object(described.get("cause"))
        # The saga's Fail states record the failed step and what was undone (and, when a
        # compensation gave up, what is still held until an operator releases it).
        failure = {key: cause[key] for key in FAILURE_FIELDS if key in cause}
        if failure:
            body["failure"] = failure
    return body


def _json_object(text: Any) -> dict[str, Any]:
    if not isinstance(text, str):
        return {}
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


def same_booking(described: dict[str, Any], request: BookingRequest) -> bool:
    """Whether an existing execution is this request again (a retried POST)."""
    return _json_object(described.get("input")) == request.saga_input()
