"""Hypothesis strategies for hostile input, shared by the API and the record consumer suites,
and the checks every answer to hostile input must pass.

Each strategy draws input no parser of the app can accept: JSON nested far beyond the depth
limit (up to beyond the body size limit), numbers no parser reads (10**5000, 1e400), NaN and
Infinity literals, lone surrogates, duplicate keys, JSON that is not an object, bodies that are
empty, not text, not UTF-8 or not base64. Its answer must be a refusal naming the field, never
an internal error.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import logging
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

import task_model

#: Nesting depths: just past the limit, around the parser's own stack limit, and deep enough
#: that the brackets alone exceed the body size limits (4 KB bookings, 16 KB tasks).
DEPTHS = st.one_of(
    st.integers(task_model.MAX_JSON_DEPTH + 1, task_model.MAX_JSON_DEPTH + 40),
    st.integers(900, 2_100),
    st.sampled_from([8_000, 8_192, 9_000]),
)
UUID4 = "0f8fad5b-d9cb-469f-a165-70867728950e"
TRIP = {"hotelId": "h-1", "flightId": "f-1", "carId": "c-1"}


def nested(depth: int, kind: str, core: str = "1") -> str:
    """`core` inside `depth` levels of arrays, objects, or both in turn."""
    if kind == "array":
        return "[" * depth + core + "]" * depth
    if kind == "object":
        return '{"a":' * depth + core + "}" * depth
    middle = f"[{core}]" if depth % 2 else core
    return '[{"a":' * (depth // 2) + middle + "}]" * (depth // 2)


deep_json = st.builds(nested, DEPTHS, st.sampled_from(["array", "object", "mixed"]))


@st.composite
def deep_inside(draw: st.DrawFn, template: str) -> str:
    """`template` (JSON text with one `%s`) with deep nesting where the `%s` is."""
    return template.replace("%s", draw(deep_json))


#: Numbers JSON can spell that no parser here may accept as a value.
huge_numbers = st.one_of(
    st.sampled_from(["1e400", "-1e400", "1E999", "2e308", "-0.5e99999"]),
    st.integers(4_301, 6_000).map(lambda digits: "9" * digits),
    st.integers(5_000, 5_100).map(lambda digits: "-1" + "0" * digits),
)
non_finite_literals = st.sampled_from(["NaN", "Infinity", "-Infinity"])
#: JSON escapes of surrogates that are not part of a pair.
lone_surrogate_escapes = st.sampled_from(["\\ud800", "\\udfff", "\\udc00x", "a\\ud83d"])
#: JSON texts that are valid but not objects.
non_objects = st.one_of(
    st.sampled_from(["[]", "[1]", '"a string"', "0", "-1.5", "null", "true", "false", '""']),
    st.lists(st.integers(), max_size=5).map(json.dumps),
    st.text(max_size=30).map(json.dumps),
)
#: Empty, blank, or not JSON at all.
not_json = st.one_of(
    st.sampled_from(["", " ", "\n\t", "{", "}", "[", '{"a"', "{'a': 1}", "\x00", "\ufeff{}"]),
    st.text(max_size=200).filter(lambda text: not _is_json(text)),
)


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return False
    return True


def with_value(template: str) -> st.SearchStrategy[str]:
    """`template` (JSON text with one `%s`) with a hostile scalar in the `%s`."""
    scalars = st.one_of(
        huge_numbers,
        non_finite_literals,
        lone_surrogate_escapes.map(lambda escape: f'"{escape}"'),
    )
    return scalars.map(lambda scalar: template.replace("%s", scalar))


#: Texts a duplicate key makes ambiguous.
def duplicated(template_pairs: list[tuple[str, str]]) -> st.SearchStrategy[str]:
    """An object of `template_pairs` (key, JSON value) with one of the keys repeated."""

    def build(index: int, value: str) -> str:
        pairs = [*template_pairs, (template_pairs[index][0], value)]
        return "{" + ",".join(f"{json.dumps(key)}:{text}" for key, text in pairs) + "}"

    return st.builds(
        build, st.integers(0, len(template_pairs) - 1), st.sampled_from(['"x"', "1", "null"])
    )


def hostile_json(templates: list[str], pairs: list[tuple[str, str]]) -> st.SearchStrategy[str]:
    """Every kind of hostile JSON text, built around valid-looking `templates` (each with one
    `%s`) and the fields of a valid object (`pairs`)."""
    return st.one_of(
        deep_json,
        st.sampled_from(templates).flatmap(deep_inside),
        st.sampled_from(templates).flatmap(with_value),
        huge_numbers,
        non_finite_literals,
        duplicated(pairs),
        non_objects,
        not_json,
        # A lone surrogate in a key, and as a raw character (not escaped) in a value.
        lone_surrogate_escapes.map(lambda escape: '{"' + escape + '": 1}'),
        st.sampled_from(templates).map(lambda template: template.replace("%s", '"\ud800"')),
    )


#: Bodies that are not a string, as a hand-built event may carry them.
non_string_bodies = st.one_of(
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
    st.lists(st.integers(), max_size=3),
    st.integers(),
    st.floats(allow_nan=True),
    st.booleans(),
    st.binary(max_size=20),
)

#: base64 text that does not decode.
invalid_base64 = st.one_of(
    st.sampled_from(["!!!!", "abc", "a===", "====", "é", "YWJj\n", "YW Jj", "\ud800"]),
    st.text(min_size=1, max_size=40).filter(lambda text: not _is_base64(text)),
)


def _is_base64(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
    except ValueError:
        return False
    return True


#: Bytes that are not UTF-8, base64-encoded.
invalid_utf8_base64 = st.one_of(
    st.sampled_from([b"\xff", b"\xc3\x28", b'{"a": "\xed\xa0\x80"}', b"\xfe\xff\x00{", b"\x80"]),
    st.binary(min_size=1, max_size=60).filter(lambda data: not _is_utf8(data)),
).map(lambda data: base64.b64encode(data).decode("ascii"))


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


#: Content-Type header values (None: the header is left out).
content_types = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "application/json",
            "text/plain",
            "application/xml",
            "",
            "application/json; charset=utf-16",
            "multipart/form-data; boundary=x",
            "application/x-www-form-urlencoded",
            "*/*",
        ]
    ),
    st.text(max_size=60),
    st.just("x" * 10_000),
)
#: Idempotency-Key header values that are not a key: control characters, non-ASCII, blank,
#: edge spaces, or far too long.
bad_idempotency_keys = st.one_of(
    st.sampled_from(["", " ", " a", "a ", "\x00", "\t", "é", "\ud800", "k" * 256, "k" * 10_000]),
    st.text(min_size=1, max_size=300).filter(
        lambda key: (
            len(key) > 255 or not key.isascii() or not key.isprintable() or key != key.strip()
        )
    ),
)
#: Path parameter values that are not an id.
bad_ids = st.one_of(
    st.sampled_from(["", " ", "..", "%00", "\ud800", "x" * 10_000, UUID4.upper(), UUID4 + "\n"]),
    st.text(max_size=120).filter(lambda text: text != UUID4),
    st.text(alphabet="0123456789abcdef-.", min_size=1, max_size=80),
    st.integers(10_000, 20_000).map(lambda size: "a" * size),
)
#: HTTP methods, real and made up.
methods = st.one_of(
    st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE"]),
    st.sampled_from(["CONNECT", "get", "post", "", " ", "GET ", "PROPFIND", "M" * 10_000]),
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=12),
)
#: requestContext fields an event may lack (the caller identity stays: it is how API Gateway
#: names the caller, and a request without one is another test's subject).
OPTIONAL_CONTEXT_FIELDS = ("requestId", "path", "stage", "domainName", "resourcePath", "apiId")


# --- Checks -----------------------------------------------------------------------------------


@dataclass
class CapturedLogs:
    """What the handlers logged (the Powertools JSON lines) and wrote to stderr."""

    stream: io.StringIO = field(default_factory=io.StringIO)
    stderr: io.StringIO = field(default_factory=io.StringIO)
    #: Every record that reached the root logger, where Lambda's runtime writes what other
    #: loggers propagate. (Powertools' own library loggers do not propagate: what its tracer
    #: logs about an exception leaving a traced function goes nowhere unless debugging.)
    propagated: list[logging.LogRecord] = field(default_factory=list)

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines() if line.strip()]

    def assert_no_traceback(self) -> None:
        """No record carries an exception, and nothing (a logging error, a warning with a
        stack) printed a traceback."""
        for record in self.records():
            assert "exception" not in record and "exception_name" not in record, record
        assert "Traceback" not in self.stream.getvalue()
        assert "Traceback" not in self.stderr.getvalue(), self.stderr.getvalue()[-2000:]
        for logged in self.propagated:
            assert not logged.exc_info, (logged.name, logged.getMessage())


class _Collect(logging.Handler):
    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__(logging.DEBUG)
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def captured_logs(handler: logging.Handler | None) -> Iterator[CapturedLogs]:
    """Swap the Powertools logger's stream (it holds the stdout of import time, which pytest
    does not see) and sys.stderr (where logging reports its own errors) for buffers."""
    assert isinstance(handler, logging.StreamHandler)
    captured = CapturedLogs()
    previous = handler.setStream(captured.stream)
    saved_stderr = sys.stderr
    sys.stderr = captured.stderr
    collector = _Collect(captured.propagated)
    logging.getLogger().addHandler(collector)
    try:
        yield captured
    finally:
        logging.getLogger().removeHandler(collector)
        sys.stderr = saved_stderr
        if previous is not None:
            handler.setStream(previous)


def assert_json_refusal(
    status: int, body: dict[str, Any], fields: Callable[[str], bool] | None = None
) -> None:
    """A 4xx with a JSON body saying what was wrong; a 400 names the field as ValidationError
    does (error, field, expected, message)."""
    assert 400 <= status < 500, (status, body)
    assert isinstance(body, dict) and isinstance(body.get("error"), str), body
    if status == 400:
        assert body["error"] == "InvalidRequest", body
        assert isinstance(body.get("field"), str) and body["field"], body
        assert isinstance(body.get("expected"), str) and body["expected"], body
        assert body["field"] in body["message"], body
        if fields is not None:
            assert fields(body["field"]), body


def fresh_uuid() -> str:
    return str(uuid.uuid4())
