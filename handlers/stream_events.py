"""Booking events read from the Kinesis stream: their schema and what is stored of them. Pure:
no I/O, no AWS, no clock.

A stream delivers whatever producers wrote, in order, per shard. A record that can never be
processed (not JSON, not an event) is a poison record: the consumer reports it as failed alone,
Lambda bisects the batch and, once the mapping's retries or record age are used up, sends a
pointer to it to the on-failure queue, from where `stream_rehydrate` re-reads it.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from typing import Any, Final

#: An event is a small notification (a booking's state changed), never a document.
MAX_EVENT_BYTES: Final[int] = 16 * 1024
#: Event ids become part of a DynamoDB key ("event#<id>").
_EVENT_ID: Final = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_EVENT_TYPE: Final = re.compile(r"^[A-Za-z][A-Za-z0-9.]{0,63}$")
#: How long a recorded event is kept when EVENT_TTL_SECONDS is not set: longer than any replay
#: from the stream (whose retention is at most a few days here), so a replayed record is still
#: recognised as a duplicate.
DEFAULT_EVENT_TTL_SECONDS: Final[int] = 7 * 24 * 3600


class PoisonRecordError(ValueError):
    """The record can never be processed as it is; the message says why."""


@dataclass(frozen=True)
class StreamEvent:
    event_id: str
    event_type: str
    detail: dict[str, Any]

    @property
    def key(self) -> str:
        return f"event#{self.event_id}"


def record_data(data: object) -> bytes:
    """A Kinesis record's `data` (base64, as Lambda delivers it) -> its bytes, or
    PoisonRecordError: data that is missing or not base64 can never be processed either."""
    if not isinstance(data, str):
        raise PoisonRecordError("record data is missing (expected base64 text)")
    # Base64 is 4/3 the size: refused before decoding, so a huge record costs nothing.
    if len(data) > (MAX_EVENT_BYTES + 2) // 3 * 4:
        raise PoisonRecordError(f"record is above {MAX_EVENT_BYTES} bytes")
    try:
        return base64.b64decode(data, validate=True)
    except ValueError:  # binascii.Error, and non-ASCII characters
        raise PoisonRecordError("record data is not valid base64") from None


def parse_stream_event(data: bytes) -> StreamEvent:
    """A record's data -> StreamEvent; PoisonRecordError (with the reason) if it is not one."""
    if len(data) > MAX_EVENT_BYTES:
        raise PoisonRecordError(f"record is {len(data)} bytes, above {MAX_EVENT_BYTES}")
    # Imported where used: the task model's patterns cost import time this module's
    # callers need not pay at cold start.
    from task_model import ValidationError, loads_strict

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise PoisonRecordError("record data is not UTF-8 JSON") from None
    try:
        # Strict: no NaN/Infinity, no duplicate keys, nesting bounded before parsing.
        value = loads_strict(text, "record")
    except ValidationError as error:
        raise PoisonRecordError(f"record data is not UTF-8 JSON: {error}") from None
    if not isinstance(value, dict):
        raise PoisonRecordError("record is not a JSON object")
    unknown = sorted(set(value) - {"eventId", "type", "detail"})
    if unknown:
        raise PoisonRecordError(f"unknown field(s) {', '.join(unknown)}")
    event_id, event_type = value.get("eventId"), value.get("type")
    if not isinstance(event_id, str) or not _EVENT_ID.match(event_id):
        raise PoisonRecordError("eventId must be 1-128 characters of [A-Za-z0-9._:-]")
    if not isinstance(event_type, str) or not _EVENT_TYPE.match(event_type):
        raise PoisonRecordError("type must be a name like 'booking.confirmed'")
    detail = value.get("detail", {})
    if not isinstance(detail, dict):
        raise PoisonRecordError("detail must be a JSON object")
    try:
        # What event_item stores: a number JSON has no form for (1e400 reads as infinity)
        # would be written as a non-JSON literal.
        json.dumps(detail, allow_nan=False)
    except ValueError:
        raise PoisonRecordError("detail holds a number out of JSON's range") from None
    return StreamEvent(event_id, event_type, detail)


def event_item(
    event: StreamEvent, shard_id: str, sequence_number: str, now_epoch_s: int, ttl_s: int
) -> dict[str, dict[str, str]]:
    """The table item recording `event` (low-level attribute values). The position it was read
    at is kept, so a duplicate can be traced to the record that came first."""
    return {
        "pk": {"S": event.key},
        "eventType": {"S": event.event_type},
        "detail": {"S": json.dumps(event.detail, separators=(",", ":"), sort_keys=True)},
        "shardId": {"S": shard_id},
        "sequenceNumber": {"S": sequence_number},
        "recordedAt": {"N": str(now_epoch_s)},
        "expiresAt": {"N": str(now_epoch_s + ttl_s)},
    }


def event_ttl_seconds(raw: str | None) -> int:
    """EVENT_TTL_SECONDS: a day to a year; the default when unset."""
    if raw is None or not raw.strip():
        return DEFAULT_EVENT_TTL_SECONDS
    try:
        seconds = int(raw)
    except ValueError:
        seconds = -1
    if not 86_400 <= seconds <= 366 * 86_400:
        raise ValueError(
            f"Environment variable EVENT_TTL_SECONDS must be whole seconds from 86400 to "
            f"{366 * 86_400}, got {raw!r}"
        )
    return seconds


def shard_of(event_id: str) -> str:
    """Lambda's Kinesis eventID is '<shardId>:<sequenceNumber>'."""
    return event_id.split(":", 1)[0]
