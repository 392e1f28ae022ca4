"""Task requests, their validation, and the computations the worker runs.

Pure: no I/O, no AWS, no clock. The API validates a request with these functions before it
writes or sends anything, and the worker validates the queued message again with the same
functions, because a queue delivers whatever was put on it (an older or newer API version, a
hand-sent message, a replay from the DLQ).

Every parameter has bounds, so the worker's computation stays small and predictable no matter
what a client sends.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

#: Largest accepted request body. A task description is a few hundred bytes; anything bigger is
#: a mistake or abuse, and small bodies keep the queue message and the table item small.
MAX_BODY_BYTES: Final[int] = 16 * 1024
#: Longest text the text tasks accept (characters).
MAX_TEXT_CHARS: Final[int] = 10_000
#: Most numbers one `sum` task adds.
MAX_NUMBERS: Final[int] = 1_000
#: Largest magnitude of each number: sums of up to MAX_NUMBERS of them stay below 2**53, so an
#: integer sum is exact even for clients that read JSON numbers as doubles.
MAX_ABS_NUMBER: Final[int] = 10**12
#: Largest `below` for prime counting: a sieve this size takes a few milliseconds and 1 MB.
MAX_PRIME_LIMIT: Final[int] = 1_000_000
#: Deepest nesting of arrays and objects in any JSON these handlers parse (request bodies, queue
#: messages, stream records). A valid queue message nests 4 levels; the limit is far above
#: that and far below the depth at which the parser runs out of stack (RecursionError near
#: 1,000 levels, which a 16 KB body of brackets exceeds sixteen times over). Deeper JSON is
#: refused before it is parsed, naming this limit.
MAX_JSON_DEPTH: Final[int] = 64

_UUID4: Final[str] = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
#: AWS region names: two letters, one to three words, a number (eu-west-1, us-gov-west-1).
_REGION: Final[str] = r"[a-z]{2}(?:-[a-z]+){1,3}-[0-9]{1,2}"
REGION_PATTERN: Final = re.compile(rf"^{_REGION}\Z")
#: A task's key in the table (and in queue messages): a lowercase UUID4. (\Z, not $: $ also
#: matches before a trailing newline.)
_TASK_ID_PATTERN: Final = re.compile(rf"^{_UUID4}\Z")
_TASK_ID_EXPECTED: Final[str] = "a task key (a lowercase UUID4, the last part of a task id)"
#: The creation time in a task id: Unix time in milliseconds, always 13 digits (until 2286), so
#: the ids one region issues sort by time.
CREATED_MS_DIGITS: Final[int] = 13
_REGIONAL_TASK_ID_PATTERN: Final = re.compile(
    rf"^(?P<region>{_REGION})\.(?P<created_ms>[0-9]{{{CREATED_MS_DIGITS}}})\.(?P<key>{_UUID4})\Z"
)
_PUBLIC_TASK_ID_EXPECTED: Final[str] = (
    "a task id as returned by POST /tasks: <region>.<creation time in Unix milliseconds, "
    "13 digits>.<lowercase UUID4>, e.g. eu-west-1.1767225600000."
    "0f8fad5b-d9cb-469f-a165-70867728950e (tasks submitted before ids named their region have "
    "a bare lowercase UUID4)"
)
#: Seconds a client is told to wait before asking again for a task that has not replicated to
#: this region yet: global tables usually replicate within a second or two.
REPLICATION_RETRY_AFTER_S: Final[int] = 2
#: How far in the future a task id's creation time may lie and still be trusted: the regions'
#: clocks agree to well under a second (Lambda hosts use the Amazon Time Sync Service), so an id
#: from further ahead was not issued by this service.
MAX_CLOCK_SKEW_MS: Final[int] = 5_000


#: The `error` prefix of a PENDING task whose processing window ended: it reads FAILED.
NOT_PROCESSED_IN_TIME: Final[str] = "NotProcessedInTime"


class TaskStatus(StrEnum):
    """The lifecycle of a task item (see handlers/README.md)."""

    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    ENQUEUE_FAILED = "ENQUEUE_FAILED"
    #: The worker gave up on the task's message (its last receive failed); a DLQ replay or a
    #: repeated submit moves it back to PENDING.
    FAILED = "FAILED"


class TaskType(StrEnum):
    SUM = "sum"
    SHA256 = "sha256"
    WORD_COUNT = "word_count"
    COUNT_PRIMES = "count_primes"


class ValidationError(ValueError):
    """Input that does not fit the schema. Names the field, what is expected, and what came."""

    def __init__(self, field: str, expected: str, got: str | None = None) -> None:
        self.field = field
        self.expected = expected
        self.got = got
        detail = f"{field}: expected {expected}"
        if got is not None:
            detail += f", got {got}"
        super().__init__(detail)

    def to_dict(self) -> dict[str, str]:
        body = {
            "error": "InvalidRequest",
            "field": self.field,
            "expected": self.expected,
            "message": str(self),
        }
        if self.got is not None:
            body["got"] = self.got
        return body


@dataclass(frozen=True)
class TaskRequest:
    """A validated request: a known task type with parameters that are within bounds."""

    task_type: TaskType
    parameters: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"taskType": self.task_type.value, "parameters": dict(self.parameters)}


@dataclass(frozen=True)
class TaskMessage:
    """What the API puts on the queue for the worker."""

    task_id: str
    request: TaskRequest
    created_at: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "taskId": self.task_id,
            "createdAt": self.created_at,
            "request": self.request.to_dict(),
        }


# --- JSON ------------------------------------------------------------------------------------


def _describe(value: object) -> str:
    """A short description of a value for an error message (never the whole value)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int) and value.bit_length() > 128:
        # repr() of a huge int is slow, and refused beyond sys.get_int_max_str_digits().
        return "a number of more than 38 digits"
    if isinstance(value, int | float):
        text = repr(value)
        return text if len(text) <= 40 else f"a number of {len(text)} digits"
    if isinstance(value, str):
        return f"a string of {len(value)} characters"
    if isinstance(value, list):
        return f"a list of {len(value)} item{'' if len(value) == 1 else 's'}"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _shown_key(key: str) -> str:
    """A key as an error message quotes it: JSON-escaped (so a lone surrogate stays printable)
    and cut short."""
    return json.dumps(key if len(key) <= 40 else key[:40] + "...")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            # Two values for one key: which one wins depends on the parser, so refuse both.
            raise ValueError(f"duplicate key {_shown_key(key)}")
        result[key] = value
    return result


#: What the depth scan looks at: a string (skipped whole: brackets inside it do not count; an
#: unterminated one runs to the end, so every match succeeds at once and the scan stays linear)
#: or one bracket.
_STR_TOKENS: Final = re.compile(r'"(?:[^"\\]|\\[\s\S])*"?|[\[\]{}]')
_BYTES_TOKENS: Final = re.compile(rb'"(?:[^"\\]|\\[\s\S])*"?|[\[\]{}]')
_OPENERS: Final[frozenset[str | bytes]] = frozenset({"[", "{", b"[", b"{"})
_CLOSERS: Final[frozenset[str | bytes]] = frozenset({"]", "}", b"]", b"}"})


def json_nesting_depth(text: str | bytes) -> int:
    """How deep arrays and objects nest in a JSON text, by a scan that parses nothing (so it
    cannot run out of stack), in time linear in the text's length. Brackets inside strings do
    not count. For malformed text the count may be off, but never below the depth a parser
    reaches before it finds the text malformed."""
    matches = (
        _BYTES_TOKENS.finditer(text) if isinstance(text, bytes) else _STR_TOKENS.finditer(text)
    )
    depth = deepest = 0
    for match in matches:
        token = match.group()
        if token in _OPENERS:
            depth += 1
            deepest = max(deepest, depth)
        elif token in _CLOSERS:
            depth = max(depth - 1, 0)
    return deepest


def loads_strict(text: str | bytes, field: str) -> Any:
    """json.loads that refuses NaN/Infinity and duplicate keys (both are ambiguous), and JSON
    nested deeper than MAX_JSON_DEPTH (checked before parsing, so no input can exhaust the
    stack). Every refusal is a ValidationError naming `field`."""
    depth = json_nesting_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise ValidationError(
            field,
            f"JSON nested at most {MAX_JSON_DEPTH} levels deep",
            got=f"{depth} levels of arrays and objects",
        )
    try:
        return json.loads(
            text,
            parse_constant=_reject_constant,
            object_pairs_hook=_object_without_duplicates,
        )
    except RecursionError:  # only if the stack is nearly used up already: same answer
        raise ValidationError(
            field, f"JSON nested at most {MAX_JSON_DEPTH} levels deep", got="deeper nesting"
        ) from None
    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        reason = str(error)
        if "integer string conversion" in reason:
            # Python refuses to read integers of more than sys.get_int_max_str_digits() digits.
            reason = "an integer with too many digits"
        raise ValidationError(
            field, "a valid JSON document", got=f"invalid JSON ({reason})"
        ) from None


def dumps_compact(value: Any) -> str:
    """JSON text as stored and sent: compact and ASCII-only (safe for any SQS body)."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


# --- Field checks ------------------------------------------------------------------------------


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


_PLAIN_KEY: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def _unknown_key_path(prefix: str, key: str) -> str:
    """The path of a key the client sent: dotted when it is a plain name, else quoted (an empty
    or odd key must still be named, and a huge one is cut short)."""
    if _PLAIN_KEY.match(key):
        return _join(prefix, key)
    return f"{prefix or 'body'}[{_shown_key(key)}]"


def _require_object(
    value: object, field: str, required: tuple[str, ...], optional: tuple[str, ...] = ()
) -> dict[str, Any]:
    expected_keys = ", ".join(required + optional)
    if not isinstance(value, dict):
        raise ValidationError(
            field or "body", f"a JSON object with {expected_keys}", got=_describe(value)
        )
    allowed = set(required) | set(optional)
    for key in value:
        if key not in allowed:
            raise ValidationError(
                _unknown_key_path(field, key),
                f"only the fields {expected_keys} (unknown fields are rejected)",
                got="an unknown field",
            )
    for key in required:
        if key not in value:
            raise ValidationError(_join(field, key), "a value: this field is required", got="none")
    return value


def _require_text(value: object, field: str) -> str:
    expected = f"a string of at most {MAX_TEXT_CHARS} characters"
    if not isinstance(value, str):
        raise ValidationError(field, expected, got=_describe(value))
    if len(value) > MAX_TEXT_CHARS:
        raise ValidationError(field, expected, got=_describe(value))
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        # JSON can carry a lone surrogate ("\ud800"); it has no UTF-8 form to hash or store.
        raise ValidationError(
            field, "valid Unicode text", got="an unpaired surrogate character"
        ) from None
    return value


def _require_number(value: object, field: str) -> int | float:
    expected = f"a finite number from -{MAX_ABS_NUMBER} to {MAX_ABS_NUMBER}"
    # bool is an int subclass in Python; JSON true is not a number.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(field, expected, got=_describe(value))
    # 1e999 parses to inf without passing parse_constant, so check finiteness here.
    if isinstance(value, float) and not math.isfinite(value):
        raise ValidationError(field, expected, got="a non-finite number")
    if abs(value) > MAX_ABS_NUMBER:
        raise ValidationError(field, expected, got=_describe(value))
    return value


def _require_int(value: object, field: str, low: int, high: int) -> int:
    expected = f"an integer from {low} to {high}"
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(field, expected, got=_describe(value))
    if not low <= value <= high:
        raise ValidationError(field, expected, got=_describe(value))
    return value


# --- Task types ----------------------------------------------------------------------------


def _sum_parameters(parameters: dict[str, Any], field: str) -> dict[str, Any]:
    _require_object(parameters, field, ("numbers",))
    numbers_field = _join(field, "numbers")
    numbers = parameters["numbers"]
    expected = f"a list of 1 to {MAX_NUMBERS} numbers"
    if not isinstance(numbers, list) or not 1 <= len(numbers) <= MAX_NUMBERS:
        raise ValidationError(numbers_field, expected, got=_describe(numbers))
    return {
        "numbers": [
            _require_number(item, f"{numbers_field}[{index}]") for index, item in enumerate(numbers)
        ]
    }


def _text_parameters(parameters: dict[str, Any], field: str) -> dict[str, Any]:
    _require_object(parameters, field, ("text",))
    return {"text": _require_text(parameters["text"], _join(field, "text"))}


def _prime_parameters(parameters: dict[str, Any], field: str) -> dict[str, Any]:
    _require_object(parameters, field, ("below",))
    return {"below": _require_int(parameters["below"], _join(field, "below"), 0, MAX_PRIME_LIMIT)}


def sum_numbers(numbers: list[int | float]) -> int | float:
    """Exact for integers; for floats math.fsum avoids the rounding drift of repeated +."""
    if all(isinstance(number, int) for number in numbers):
        return sum(numbers)
    return math.fsum(numbers)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def count_words(text: str) -> int:
    """Whitespace-separated words, the way `wc -w` counts them."""
    return len(text.split())


def count_primes_below(limit: int) -> int:
    """How many primes are smaller than `limit` (sieve of Eratosthenes)."""
    if limit < 3:
        return 0
    is_prime = bytearray([1]) * limit
    is_prime[0] = is_prime[1] = 0
    for candidate in range(2, math.isqrt(limit - 1) + 1):
        if is_prime[candidate]:
            first = candidate * candidate
            is_prime[first::candidate] = bytes(len(range(first, limit, candidate)))
    return sum(is_prime)


@dataclass(frozen=True)
class _TaskKind:
    validate: Callable[[dict[str, Any], str], dict[str, Any]]
    run: Callable[[Mapping[str, Any]], dict[str, Any]]


_TASK_KINDS: Final[dict[TaskType, _TaskKind]] = {
    TaskType.SUM: _TaskKind(
        _sum_parameters,
        lambda p: {"sum": sum_numbers(p["numbers"]), "count": len(p["numbers"])},
    ),
    TaskType.SHA256: _TaskKind(
        _text_parameters,
        lambda p: {"sha256": sha256_hex(p["text"]), "bytes": len(p["text"].encode("utf-8"))},
    ),
    TaskType.WORD_COUNT: _TaskKind(
        _text_parameters,
        lambda p: {"words": count_words(p["text"]), "characters": len(p["text"])},
    ),
    TaskType.COUNT_PRIMES: _TaskKind(
        _prime_parameters,
        lambda p: {"primes": count_primes_below(p["below"]), "below": p["below"]},
    ),
}


# --- Requests, messages, ids -------------------------------------------------------------------


def validate_task_request(value: object, field: str = "") -> TaskRequest:
    """Check a decoded request object; `field` prefixes error field names (e.g. "request")."""
    obj = _require_object(value, field, ("taskType", "parameters"))
    type_field = _join(field, "taskType")
    raw_type = obj["taskType"]
    known = ", ".join(kind.value for kind in TaskType)
    if not isinstance(raw_type, str) or raw_type not in {kind.value for kind in TaskType}:
        got = f"{raw_type!r}" if isinstance(raw_type, str) and len(raw_type) <= 40 else None
        raise ValidationError(type_field, f"one of {known}", got=got or _describe(raw_type))
    task_type = TaskType(raw_type)
    parameters = _TASK_KINDS[task_type].validate(obj["parameters"], _join(field, "parameters"))
    return TaskRequest(task_type=task_type, parameters=parameters)


def request_body_bytes(body: object, is_base64_encoded: bool) -> bytes:
    """The raw request body, size-checked before anything decodes it."""
    if body is None or body == "":
        raise ValidationError(
            "body", "a JSON object with taskType and parameters", got="an empty body"
        )
    if not isinstance(body, str):
        # API Gateway sends the body as a string (or null); anything else is a hand-built event.
        raise ValidationError(
            "body", "the request body as a string of JSON text", got=_describe(body)
        )
    if is_base64_encoded:
        # Base64 is 4/3 the size; reject before decoding so a huge body costs nothing.
        if len(body) > (MAX_BODY_BYTES + 2) // 3 * 4:
            raise ValidationError(
                "body", f"at most {MAX_BODY_BYTES} bytes", got="a larger base64 body"
            )
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise ValidationError("body", "valid base64 (isBase64Encoded is true)") from None
        try:
            # Strict: JSON is UTF-8. (json.loads would guess UTF-16 or UTF-32 from the bytes,
            # and pass surrogates encoded in UTF-8.)
            raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ValidationError(
                "body", "UTF-8 text once base64-decoded", got=f"an invalid byte at {error.start}"
            ) from None
    else:
        raw = body.encode("utf-8", errors="surrogatepass")
    if len(raw) > MAX_BODY_BYTES:
        raise ValidationError("body", f"at most {MAX_BODY_BYTES} bytes", got=f"{len(raw)} bytes")
    return raw


def parse_task_request(body: object, is_base64_encoded: bool = False) -> TaskRequest:
    """An API request body -> a validated TaskRequest, or ValidationError naming the field."""
    raw = request_body_bytes(body, is_base64_encoded)
    # Parsed as text: bytes would have json.loads guess their encoding. surrogatepass keeps a
    # lone surrogate of a text body, for the field that holds it to be named.
    return validate_task_request(loads_strict(raw.decode("utf-8", "surrogatepass"), "body"))


def format_timestamp(moment: datetime) -> str:
    """ISO-8601 in UTC with milliseconds and a Z, the form every timestamp in an item takes."""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_task_id() -> str:
    """A fresh task id: random, so ids reveal nothing and never collide across regions."""
    return str(uuid.uuid4())


#: The request header a client sets to make a submit idempotent (IETF httpapi draft name).
IDEMPOTENCY_HEADER: Final[str] = "Idempotency-Key"
MAX_IDEMPOTENCY_KEY_CHARS: Final[int] = 255
_IDEMPOTENCY_KEY_PATTERN: Final = re.compile(r"^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$")


def validate_idempotency_key(value: object) -> str:
    """The Idempotency-Key header: 1-255 printable ASCII characters, no edge spaces."""
    if (
        not isinstance(value, str)
        or len(value) > MAX_IDEMPOTENCY_KEY_CHARS
        or not _IDEMPOTENCY_KEY_PATTERN.match(value)
    ):
        got = f"{len(value)} characters" if isinstance(value, str) else _describe(value)
        if isinstance(value, str) and len(value) <= 60:
            got = repr(value)
        raise ValidationError(
            IDEMPOTENCY_HEADER,
            f"1 to {MAX_IDEMPOTENCY_KEY_CHARS} printable ASCII characters, e.g. a UUID the "
            "client generates once per task and reuses on every retry",
            got=got,
        )
    return value


def request_fingerprint(request: TaskRequest) -> str:
    """SHA-256 of the request in canonical JSON: equal for equal requests, whatever the key
    order or spacing the client sent."""
    canonical = json.dumps(
        request.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode("utf-8", errors="surrogatepass")).hexdigest()


def idempotent_task_id(owner: str, idempotency_key: str | None) -> str:
    """The task key a submit resolves to, so the caller's repeats find the task it wrote.

    With an Idempotency-Key the key is derived from the caller (`owner`, see caller_identity)
    and the Idempotency-Key together: a retry by the same caller, in any region and at any
    time, finds the same item, while the same Idempotency-Key from another caller names
    another task. Without an Idempotency-Key the key is random (uuid4): two submits of an
    identical body are two tasks, and a retry after a lost reply is a second task too (send an
    Idempotency-Key to make retries safe). Either key has the UUID4 form (the version and
    variant bits are set), so every key passes `validate_task_id` and cannot be guessed
    without the caller's key; the id a client gets adds the region and the time
    (`regional_task_id`).
    """
    if idempotency_key is None:
        return new_task_id()
    # NUL separates the parts: neither an owner nor a validated key contains one.
    source = f"owned-key\0{owner}\0{idempotency_key}"
    digest = bytearray(hashlib.sha256(source.encode("utf-8", errors="surrogatepass")).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x40
    digest[8] = (digest[8] & 0x3F) | 0x80
    return str(uuid.UUID(bytes=bytes(digest)))


#: A `"taskId": "<text>"` member anywhere in a JSON text (short strings without escapes only).
_TASK_ID_MEMBER: Final = re.compile(r'"taskId"\s*:\s*"([^"\\]{1,120})"')


def lenient_task_id(body: str) -> str | None:
    """The task key of a message that failed validation, if one can be read at all: so even a
    message the worker cannot run can mark its task FAILED instead of leaving it PENDING. A
    hand-written message may carry the task id a client saw; its key is taken from it."""
    try:
        obj = json.loads(body) if json_nesting_depth(body) <= MAX_JSON_DEPTH else None
    except (ValueError, RecursionError):
        return None
    if obj is None:
        # Too deep to parse safely: the id is still read when the text names exactly one.
        named = _TASK_ID_MEMBER.findall(body)
        obj = {"taskId": named[0]} if len(named) == 1 else None
    task_id = obj.get("taskId") if isinstance(obj, dict) else None
    if isinstance(task_id, str) and _TASK_ID_PATTERN.match(task_id):
        return task_id
    if isinstance(task_id, str) and (regional := _REGIONAL_TASK_ID_PATTERN.match(task_id)):
        return regional["key"]
    return None


def _got(value: object) -> str:
    return f"{value!r}" if isinstance(value, str) and len(value) <= 60 else _describe(value)


def validate_task_id(value: object, field: str = "taskId") -> str:
    """A task key (a queue message's `taskId`, the table's key): a lowercase UUID4."""
    if not isinstance(value, str) or not _TASK_ID_PATTERN.match(value):
        raise ValidationError(field, _TASK_ID_EXPECTED, got=_got(value))
    return value


@dataclass(frozen=True)
class TaskId:
    """A task id as clients see it: `<region>.<created_ms>.<key>`.

    The region and the creation time say where and when the task was written, so a region
    that does not have the task yet can tell "not replicated yet" from "no such task". The key
    (a UUID4, derived from the caller and its Idempotency-Key, or random without one) is what
    the table and the queue use: a repeated submit by the same caller with the same
    Idempotency-Key, in any region and at any time, finds the same item. Ids issued
    before ids named their region are the bare key (region and time None) and stay valid.
    """

    key: str
    region: str | None = None
    created_ms: int | None = None

    def __str__(self) -> str:
        if self.region is None or self.created_ms is None:
            return self.key
        return f"{self.region}.{self.created_ms:0{CREATED_MS_DIGITS}d}.{self.key}"


def regional_task_id(region: str, created_ms: int, key: str) -> str:
    """The id a submit hands out for the task stored under `key`, written in `region` at
    `created_ms` (Unix milliseconds)."""
    if not REGION_PATTERN.match(region):
        raise ValueError(f"not an AWS region name: {region!r}")
    if not 0 <= created_ms < 10**CREATED_MS_DIGITS:
        raise ValueError(f"creation time out of range: {created_ms}")
    return str(TaskId(validate_task_id(key, "key"), region, created_ms))


def parse_task_id(value: object, field: str = "taskId") -> TaskId:
    """A task id from a client: the regional form, or the bare key of an older task."""
    if isinstance(value, str):
        if _TASK_ID_PATTERN.match(value):
            return TaskId(value)
        regional = _REGIONAL_TASK_ID_PATTERN.match(value)
        if regional:
            return TaskId(regional["key"], regional["region"], int(regional["created_ms"]))
    raise ValidationError(field, _PUBLIC_TASK_ID_EXPECTED, got=_got(value))


@dataclass(frozen=True)
class ReplicationHint:
    """A task this region does not have, that another region wrote moments ago."""

    written_region: str
    retry_after_s: int


def replication_hint(
    task_id: TaskId, this_region: str, now_ms: int, grace_ms: int
) -> ReplicationHint | None:
    """Whether a GET that found no task should say "not replicated yet" rather than "no such task".

    Only for an id written in another region less than `grace_ms` ago: the global table
    replicates asynchronously, so such a task may simply not be here yet. An id of this region
    is read strongly consistently, so a miss is final; an older id had time to arrive; an old
    bare-key id names no region. Retry-After is REPLICATION_RETRY_AFTER_S, cut to the whole
    seconds left of the grace period (at least 1 s).
    """
    if task_id.region is None or task_id.created_ms is None or task_id.region == this_region:
        return None
    age_ms = now_ms - task_id.created_ms
    if age_ms >= grace_ms or age_ms < -MAX_CLOCK_SKEW_MS:
        return None
    left_ms = grace_ms - max(age_ms, 0)
    # Whole seconds, rounded down: the retry still falls within the grace period.
    retry_after_s = max(1, min(REPLICATION_RETRY_AFTER_S, left_ms // 1000))
    return ReplicationHint(task_id.region, retry_after_s)


def parse_task_message(body: str) -> TaskMessage:
    """A queue message body -> TaskMessage, or ValidationError naming the bad field."""
    obj = _require_object(loads_strict(body, "body"), "", ("taskId", "createdAt", "request"))
    created_at = obj["createdAt"]
    if not isinstance(created_at, str) or not created_at:
        raise ValidationError(
            "createdAt", "an ISO-8601 timestamp string", got=_describe(created_at)
        )
    message = TaskMessage(
        task_id=validate_task_id(obj["taskId"]),
        request=validate_task_request(obj["request"], "request"),
        created_at=created_at,
    )
    # Checked last, so the task id and the request are named first when they are wrong too.
    if len(created_at) > MAX_TIMESTAMP_CHARS or not _is_iso_timestamp(created_at):
        raise ValidationError("createdAt", "an ISO-8601 timestamp string", got=_got(created_at))
    return message


#: Longest `createdAt` a message may carry: format_timestamp writes 24 characters.
MAX_TIMESTAMP_CHARS: Final[int] = 40


def _is_iso_timestamp(text: str) -> bool:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def run_task(request: TaskRequest) -> dict[str, Any]:
    """Do the computation the request names and return its JSON-ready result."""
    return _TASK_KINDS[request.task_type].run(request.parameters)


# --- What a client reads -----------------------------------------------------------------------


def processing_window_ended(status: str, process_by_s: int | None, now_s: float) -> bool:
    """Whether a task reads FAILED although its item says PENDING.

    `process_by_s` (the item's `processBy`, Unix seconds) is when the task's message has
    certainly left the work queue: maxReceiveCount receives of one visibility timeout each,
    plus slack for the wait before the first receive. A task still PENDING then was given up
    on (its message is in the DLQ) even when the worker's FAILED mark never landed. Items
    written without a window never end one.
    """
    return status == TaskStatus.PENDING and process_by_s is not None and now_s >= process_by_s


def not_processed_in_time(process_by_s: int) -> str:
    """The `error` a client reads for a task whose processing window ended."""
    ended = format_timestamp(datetime.fromtimestamp(process_by_s, UTC))
    return (
        f"{NOT_PROCESSED_IN_TIME}: no worker completed the task by {ended}, when its processing "
        "window ended; its message is in the dead-letter queue. Submit it again (same "
        "Idempotency-Key and body) to run it."
    )


def visible_status(item: Mapping[str, Any], now_s: float) -> str:
    """The status a client reads at `now_s` for a tasks-table item (low-level attribute values,
    as GetItem and Scan return them): the stored `status`, except that a PENDING task whose
    `processBy` has passed reads FAILED. A FAILED or ENQUEUE_FAILED result is a failure the
    client sees."""
    status = str(item["status"]["S"])
    process_by = item.get("processBy")
    process_by_s = int(process_by["N"]) if process_by else None
    if processing_window_ended(status, process_by_s, now_s):
        return TaskStatus.FAILED.value
    return status
