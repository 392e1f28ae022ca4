"""Property-based tests of the parsers every untrusted input goes through: API request bodies,
the Idempotency-Key header, and queue messages (which may come from anywhere, DLQ replays
included). Whatever arrives, the answer is a value or a ValidationError naming a field."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from task_model import (
    MAX_IDEMPOTENCY_KEY_CHARS,
    TaskMessage,
    ValidationError,
    idempotent_task_id,
    lenient_task_id,
    parse_task_message,
    parse_task_request,
    request_fingerprint,
    validate_idempotency_key,
    validate_task_id,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=20,
)
numbers = st.lists(
    st.integers(min_value=-(10**12), max_value=10**12) | st.floats(-1e12, 1e12, allow_nan=False),
    min_size=1,
    max_size=50,
)
valid_requests = st.one_of(
    st.builds(lambda n: {"taskType": "sum", "parameters": {"numbers": n}}, numbers),
    st.builds(
        lambda t, kind: {"taskType": kind, "parameters": {"text": t}},
        st.text(max_size=200),
        st.sampled_from(["sha256", "word_count"]),
    ),
    st.builds(
        lambda b: {"taskType": "count_primes", "parameters": {"below": b}},
        st.integers(min_value=0, max_value=10_000),
    ),
)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(max_size=300),
        st.binary(max_size=300).map(lambda b: b.decode("latin-1")),
        json_values.map(json.dumps),
    )
)
def test_any_body_is_a_request_or_an_error_naming_a_field(body: str) -> None:
    try:
        parse_task_request(body)
    except ValidationError as error:
        assert error.field
        assert error.to_dict()["error"] == "InvalidRequest"


@settings(max_examples=200, deadline=None)
@given(valid_requests, st.randoms())
def test_valid_requests_parse_and_their_fingerprint_ignores_key_order(
    request: dict[str, Any], rng: Any
) -> None:
    parsed = parse_task_request(json.dumps(request))
    shuffled = dict(sorted(request.items(), key=lambda _: rng.random()))
    assert request_fingerprint(parse_task_request(json.dumps(shuffled, indent=2))) == (
        request_fingerprint(parsed)
    )


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_idempotency_keys_are_accepted_or_named(key: str) -> None:
    try:
        accepted = validate_idempotency_key(key)
    except ValidationError as error:
        assert error.field == "Idempotency-Key"
        return
    assert 1 <= len(accepted) <= MAX_IDEMPOTENCY_KEY_CHARS
    # Every key names a valid task id, the same one each time for one caller, another one for
    # another caller.
    task_id = idempotent_task_id("iam:arn:aws:iam::123456789012:user/a", accepted)
    assert validate_task_id(task_id) == task_id
    assert idempotent_task_id("iam:arn:aws:iam::123456789012:user/a", accepted) == task_id
    assert idempotent_task_id("apikey:k1", accepted) != task_id


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=300), json_values.map(json.dumps)))
def test_any_message_is_a_task_or_an_error_naming_a_field(body: str) -> None:
    try:
        parse_task_message(body)
    except ValidationError as error:
        assert error.field
    task_id = lenient_task_id(body)
    assert task_id is None or validate_task_id(task_id) == task_id


@settings(max_examples=200, deadline=None)
@given(valid_requests, st.uuids(version=4))
def test_messages_round_trip(request: dict[str, Any], task_id: Any) -> None:
    message = TaskMessage(
        str(task_id), parse_task_request(json.dumps(request)), "2030-01-01T00:00:00.000Z"
    )
    body = json.dumps(message.to_dict())
    assert parse_task_message(body) == message
    assert lenient_task_id(body) == str(task_id)
