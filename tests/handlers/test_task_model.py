"""Pure logic: computations, validation, messages, ids. No AWS."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest

import task_model
from task_model import (
    MAX_ABS_NUMBER,
    MAX_BODY_BYTES,
    MAX_NUMBERS,
    MAX_PRIME_LIMIT,
    MAX_TEXT_CHARS,
    TaskMessage,
    TaskType,
    ValidationError,
    count_primes_below,
    count_words,
    parse_task_message,
    parse_task_request,
    run_task,
    sha256_hex,
    sum_numbers,
    validate_task_id,
    validate_task_request,
)


def _primes_by_trial_division(limit: int) -> int:
    return sum(
        1 for n in range(2, limit) if all(n % divisor for divisor in range(2, int(n**0.5) + 1))
    )


# --- Computations ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limit", "expected"),
    [(0, 0), (1, 0), (2, 0), (3, 1), (4, 2), (10, 4), (11, 4), (12, 5), (100, 25), (1000, 168)],
)
def test_count_primes_below_known_values(limit: int, expected: int) -> None:
    assert count_primes_below(limit) == expected


def test_count_primes_agrees_with_trial_division() -> None:
    for limit in range(0, 400):
        assert count_primes_below(limit) == _primes_by_trial_division(limit), limit


def test_count_primes_at_the_bound() -> None:
    assert count_primes_below(MAX_PRIME_LIMIT) == 78_498  # pi(10**6)


def test_sum_is_exact_for_integers_and_compensated_for_floats() -> None:
    assert sum_numbers([MAX_ABS_NUMBER] * MAX_NUMBERS) == MAX_ABS_NUMBER * MAX_NUMBERS
    assert isinstance(sum_numbers([1, 2]), int)
    assert sum_numbers([0.1] * 10) == 1.0
    assert sum_numbers([1e12, 1e-3, -1e12]) == 1e-3
    assert sum_numbers([1, 0.5]) == 1.5


def test_sha256_known_vectors() -> None:
    assert sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    # UTF-8 bytes (C3 A9), whatever the platform encoding.
    assert sha256_hex("é") == hashlib.sha256(b"\xc3\xa9").hexdigest()


@pytest.mark.parametrize(
    ("text", "words"),
    [("", 0), ("   ", 0), ("one", 1), ("  two  words ", 2), ("a\tb\nc\r\nd", 4), ("naïve café", 2)],
)
def test_count_words(text: str, words: int) -> None:
    assert count_words(text) == words


@pytest.mark.parametrize(
    ("request_body", "expected"),
    [
        ({"taskType": "sum", "parameters": {"numbers": [2, 3]}}, {"sum": 5, "count": 2}),
        (
            {"taskType": "sha256", "parameters": {"text": "abc"}},
            {
                "sha256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
                "bytes": 3,
            },
        ),
        (
            {"taskType": "sha256", "parameters": {"text": "é"}},
            {"sha256": sha256_hex("é"), "bytes": 2},
        ),
        (
            {"taskType": "word_count", "parameters": {"text": "a b  c"}},
            {"words": 3, "characters": 6},
        ),
        ({"taskType": "count_primes", "parameters": {"below": 30}}, {"primes": 10, "below": 30}),
    ],
)
def test_run_task(request_body: dict[str, Any], expected: dict[str, Any]) -> None:
    assert run_task(validate_task_request(request_body)) == expected


def test_every_task_type_can_run() -> None:
    samples = {
        TaskType.SUM: {"numbers": [1]},
        TaskType.SHA256: {"text": "x"},
        TaskType.WORD_COUNT: {"text": "x"},
        TaskType.COUNT_PRIMES: {"below": 5},
    }
    assert set(samples) == set(TaskType)
    for task_type, parameters in samples.items():
        result = run_task(
            validate_task_request({"taskType": task_type.value, "parameters": parameters})
        )
        assert json.loads(json.dumps(result)) == result  # JSON-ready


# --- Validation boundaries ---------------------------------------------------------------------


def _request(task_type: str, **parameters: Any) -> str:
    return json.dumps({"taskType": task_type, "parameters": parameters})


def _field_of(body: str) -> str:
    with pytest.raises(ValidationError) as raised:
        parse_task_request(body)
    return raised.value.field


def test_bounds_are_inclusive() -> None:
    parse_task_request(_request("sum", numbers=[MAX_ABS_NUMBER, -MAX_ABS_NUMBER]))
    parse_task_request(_request("sum", numbers=[0] * MAX_NUMBERS))
    parse_task_request(_request("count_primes", below=MAX_PRIME_LIMIT))
    parse_task_request(_request("count_primes", below=0))
    parse_task_request(_request("word_count", text="x" * MAX_TEXT_CHARS))
    parse_task_request(_request("sha256", text=""))


def test_just_past_each_bound_names_the_field() -> None:
    assert _field_of(_request("sum", numbers=[MAX_ABS_NUMBER + 1])) == "parameters.numbers[0]"
    assert _field_of(_request("sum", numbers=[1, -MAX_ABS_NUMBER - 1])) == "parameters.numbers[1]"
    assert _field_of(_request("sum", numbers=[0] * (MAX_NUMBERS + 1))) == "parameters.numbers"
    assert _field_of(_request("count_primes", below=MAX_PRIME_LIMIT + 1)) == "parameters.below"
    assert _field_of(_request("word_count", text="x" * (MAX_TEXT_CHARS + 1))) == "parameters.text"
    assert _field_of(_request("count_primes", below=True)) == "parameters.below"
    assert _field_of(_request("sum", numbers=[None])) == "parameters.numbers[0]"


def test_body_size_limit_counts_bytes_not_characters() -> None:
    body = _request("sum", numbers=[1])
    at_limit = body + " " * (MAX_BODY_BYTES - len(body))
    assert len(at_limit.encode()) == MAX_BODY_BYTES
    parse_task_request(at_limit)
    with pytest.raises(ValidationError) as raised:
        parse_task_request(at_limit + " ")
    assert raised.value.field == "body"
    assert raised.value.got == f"{MAX_BODY_BYTES + 1} bytes"

    multibyte = json.dumps(
        {"taskType": "sha256", "parameters": {"text": "é" * (MAX_BODY_BYTES // 2)}},
        ensure_ascii=False,
    )
    assert len(multibyte) < MAX_BODY_BYTES < len(multibyte.encode())
    assert _field_of(multibyte) == "body"


def test_base64_bodies() -> None:
    body = _request("sum", numbers=[4])
    encoded = base64.b64encode(body.encode()).decode()
    assert parse_task_request(encoded, is_base64_encoded=True).parameters == {"numbers": [4]}
    with pytest.raises(ValidationError) as raised:
        parse_task_request("@@@", is_base64_encoded=True)
    assert raised.value.field == "body"


def test_json_ambiguities_are_refused() -> None:
    assert _field_of('{"taskType": "sum", "parameters": {"numbers": [Infinity]}}') == "body"
    assert _field_of('{"taskType": "sum", "parameters": {"numbers": [-Infinity]}}') == "body"
    assert (
        _field_of('{"taskType": "sum", "parameters": {"numbers": [1], "numbers": [2]}}') == "body"
    )
    # Python caps int parsing at 4300 digits; the error stays a 400, never a crash.
    assert (
        _field_of('{"taskType": "sum", "parameters": {"numbers": [' + "9" * 5000 + "]}}") == "body"
    )


def test_validation_error_payload_names_field_expected_and_got() -> None:
    with pytest.raises(ValidationError) as raised:
        parse_task_request(_request("count_primes", below="ten"))
    assert raised.value.to_dict() == {
        "error": "InvalidRequest",
        "field": "parameters.below",
        "expected": f"an integer from 0 to {MAX_PRIME_LIMIT}",
        "got": "a string of 3 characters",
        "message": f"parameters.below: expected an integer from 0 to {MAX_PRIME_LIMIT}, "
        "got a string of 3 characters",
    }


def test_error_never_echoes_a_long_value() -> None:
    with pytest.raises(ValidationError) as raised:
        parse_task_request(json.dumps({"taskType": "x" * 5000, "parameters": {}}))
    assert len(str(raised.value)) < 200


def test_request_round_trips_through_to_dict() -> None:
    request = parse_task_request(_request("sum", numbers=[1, 2.5]))
    assert validate_task_request(request.to_dict()) == request


# --- Messages and ids --------------------------------------------------------------------------


def test_message_round_trip() -> None:
    message = TaskMessage(
        task_id=task_model.new_task_id(),
        request=validate_task_request({"taskType": "sha256", "parameters": {"text": "hi"}}),
        created_at="2030-01-01T00:00:00.000Z",
    )
    assert parse_task_message(task_model.dumps_compact(message.to_dict())) == message


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("", "body"),
        ("[]", "body"),
        ('{"taskId": "x", "createdAt": "t", "request": {}}', "taskId"),
        (
            '{"taskId": "0f8fad5b-d9cb-469f-a165-70867728950e", "createdAt": "t", '
            '"request": {"taskType": "sum", "parameters": {"numbers": []}}}',
            "request.parameters.numbers",
        ),
        (
            '{"taskId": "0f8fad5b-d9cb-469f-a165-70867728950e", "createdAt": 5, '
            '"request": {"taskType": "sum", "parameters": {"numbers": [1]}}}',
            "createdAt",
        ),
        (
            '{"taskId": "0f8fad5b-d9cb-469f-a165-70867728950e", "createdAt": "t", "extra": 1, '
            '"request": {"taskType": "sum", "parameters": {"numbers": [1]}}}',
            "extra",
        ),
    ],
)
def test_bad_messages_name_the_field(body: str, field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        parse_task_message(body)
    assert raised.value.field == field


def test_task_ids() -> None:
    ids = {task_model.new_task_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(validate_task_id(task_id) == task_id for task_id in ids)
    for bad in [
        "",
        "health-check",
        "0F8FAD5B-D9CB-469F-A165-70867728950E",
        "0f8fad5b-d9cb-169f-a165-70867728950e",
    ]:
        with pytest.raises(ValidationError):
            validate_task_id(bad)
    with pytest.raises(ValidationError):
        validate_task_id(42)


def test_timestamps_are_utc_with_milliseconds() -> None:
    moment = datetime(2030, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    assert task_model.format_timestamp(moment) == "2030-05-06T07:08:09.123Z"


def test_stored_json_is_ascii_only() -> None:
    text = task_model.dumps_compact({"text": "é\u2028😀"})
    assert text.isascii()
    assert json.loads(text) == {"text": "é\u2028😀"}


def _item(status: str, process_by: int | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"taskId": {"S": "k"}, "status": {"S": status}}
    if process_by is not None:
        item["processBy"] = {"N": str(process_by)}
    return item


@pytest.mark.parametrize(
    ("item", "now_s", "reads"),
    [
        (_item("PENDING", 1000), 999.9, "PENDING"),  # still within its window
        (_item("PENDING", 1000), 1000, "FAILED"),  # the window ended: given up on
        (_item("PENDING"), 10**10, "PENDING"),  # written without a window
        (_item("SUCCEEDED", 1000), 5000, "SUCCEEDED"),
        (_item("FAILED", 1000), 10, "FAILED"),
        (_item("ENQUEUE_FAILED", 1000), 5000, "ENQUEUE_FAILED"),
    ],
)
def test_visible_status_fails_only_a_pending_task_past_its_window(
    item: dict[str, Any], now_s: float, reads: str
) -> None:
    assert task_model.visible_status(item, now_s) == reads


def test_the_not_processed_reason_names_when_and_what_to_do() -> None:
    reason = task_model.not_processed_in_time(1_767_225_600)
    assert reason.startswith(task_model.NOT_PROCESSED_IN_TIME + ":")
    assert "2026-01-01T00:00:00.000Z" in reason and "Idempotency-Key" in reason
