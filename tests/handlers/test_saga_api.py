"""The bookings API against moto Step Functions running the real saga on moto DynamoDB: start a
booking (202 with the execution), read its status, retried POSTs, bad input, failures."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ReadTimeoutError
from handler_test_support import (
    DEFAULT_OWNER,
    FakeLambdaContext,
    api_event,
    booking_execution_arn,
    call_api,
)
from moto import mock_aws
from saga_support import EXECUTE_STATE_MACHINES, TRIP, SagaWorld

import saga_api
from saga_model import (
    BookingValidationError,
    booking_execution_name,
    booking_status,
    execution_arn,
    parse_booking_request,
    validate_booking_id,
)

REGION = "eu-west-1"


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[SagaWorld]:
    with mock_aws(config=EXECUTE_STATE_MACHINES):
        created = SagaWorld(REGION)
        monkeypatch.setenv("STATE_MACHINE_ARN", created.state_machine_arn)
        yield created


def post(body: object, idempotency_key: str | None = None) -> tuple[int, dict[str, object]]:
    event = api_event("POST", "/bookings", json.dumps(body) if not isinstance(body, str) else body)
    if idempotency_key is not None:
        event["headers"]["Idempotency-Key"] = idempotency_key
        event["multiValueHeaders"]["Idempotency-Key"] = [idempotency_key]
    answer = call_api(saga_api.handler, FakeLambdaContext(), event)
    return answer.status_code, answer.body


def executions(world: SagaWorld) -> list[dict[str, object]]:
    listed = world.sfn.list_executions(stateMachineArn=world.state_machine_arn)["executions"]
    return list(listed)


def get(booking_id: str) -> tuple[int, dict[str, object]]:
    event = api_event(
        "GET",
        f"/bookings/{booking_id}",
        resource="/bookings/{bookingId}",
        path_parameters={"bookingId": booking_id},
    )
    answer = call_api(saga_api.handler, FakeLambdaContext(), event)
    return answer.status_code, answer.body


def settled(booking_id: str) -> dict[str, object]:
    deadline = time.monotonic() + 30
    while True:
        status, body = get(booking_id)
        assert status == 200, body
        if body["status"] != "RUNNING" or time.monotonic() > deadline:
            return body
        time.sleep(0.02)


def test_post_answers_202_with_the_booking_and_get_reads_it(world: SagaWorld) -> None:
    world.stock()
    status, body = post(TRIP, str(uuid.uuid4()))
    assert status == 202, body
    booking_id = str(body["bookingId"])
    # The execution ARN (account, state machine) stays server-side.
    assert "executionArn" not in body and "arn:" not in json.dumps(body)
    [started] = executions(world)
    assert started["executionArn"] == booking_execution_arn(world.state_machine_arn, booking_id)
    assert body["status"] == "RUNNING"
    assert str(body["statusUrl"]).endswith(f"/prod/bookings/{booking_id}")
    final = settled(booking_id)
    assert final["status"] == "SUCCEEDED"
    assert final["booked"] == TRIP
    assert "startedAt" in final and "stoppedAt" in final
    # Held under the caller's own execution name, so equal ids of two callers never mix.
    assert world.holds("car") == [booking_execution_name(DEFAULT_OWNER, booking_id)]


def test_a_failed_booking_reports_what_was_undone(world: SagaWorld) -> None:
    world.stock({"car": 0})
    _, body = post(TRIP, str(uuid.uuid4()))
    final = settled(str(body["bookingId"]))
    assert final["status"] == "FAILED"
    assert final["error"] == "BookingFailed"
    assert final["failure"] == {
        "failedStep": "car",
        "outcome": "unavailable",
        "compensated": ["flight", "hotel"],
    }


def test_a_retried_post_finds_the_same_booking(world: SagaWorld) -> None:
    world.stock({"hotel": 1})
    booking_id = str(uuid.uuid4())
    first_status, first = post({**TRIP, "bookingId": booking_id})
    assert settled(booking_id)["status"] == "SUCCEEDED"
    again_status, again = post({**TRIP, "bookingId": booking_id})
    assert first_status == again_status == 202
    assert again["bookingId"] == first["bookingId"] == booking_id
    assert again["status"] == "SUCCEEDED"
    # One execution, one hold: the only room was not taken twice.
    assert world.holds("hotel") == [booking_execution_name(DEFAULT_OWNER, booking_id)]
    executions = world.sfn.list_executions(stateMachineArn=world.state_machine_arn)["executions"]
    assert len(executions) == 1


def test_a_booking_id_of_another_trip_is_a_conflict(world: SagaWorld) -> None:
    world.stock()
    booking_id = str(uuid.uuid4())
    post({**TRIP, "bookingId": booking_id})
    status, body = post({**TRIP, "carId": "c-2", "bookingId": booking_id})
    assert status == 409 and body["error"] == "BookingIdInUse"


def test_unknown_booking_is_404_and_bad_id_is_400(world: SagaWorld) -> None:
    assert get(str(uuid.uuid4()))[0] == 404
    status, body = get("not-a-uuid")
    assert status == 400 and body["field"] == "bookingId"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("{", "body"),
        ([], "body"),
        ({"hotelId": "h-1", "flightId": "f-1"}, "carId"),
        ({**TRIP, "hotelId": "h#1"}, "hotelId"),
        ({**TRIP, "price": 3}, "price"),
        ({**TRIP, "bookingId": "ABC"}, "bookingId"),
    ],
)
def test_invalid_requests_start_nothing(world: SagaWorld, body: object, field: str) -> None:
    status, answer = post(body)
    assert status == 400 and answer["field"] == field, answer
    assert world.sfn.list_executions(stateMachineArn=world.state_machine_arn)["executions"] == []


def test_step_functions_failing_is_503(world: SagaWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = world.state_machine_arn.replace("booking-saga", "gone")
    monkeypatch.setenv("STATE_MACHINE_ARN", missing)
    status, body = post(TRIP, str(uuid.uuid4()))
    assert status == 503 and body["dependency"] == "stepfunctions"
    assert body["code"] == "StateMachineDoesNotExist"


def test_missing_configuration_is_500(world: SagaWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STATE_MACHINE_ARN")
    status, body = post(TRIP, str(uuid.uuid4()))
    assert status == 500 and "STATE_MACHINE_ARN" in str(body["message"])


def test_an_unexpected_error_is_a_json_500(
    world: SagaWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object) -> None:
        raise KeyError("executionArn")

    monkeypatch.setattr(saga_api, "start_booking", broken)
    status, body = post(TRIP, str(uuid.uuid4()))
    assert status == 500 and body["error"] == "InternalError" and body["requestId"]


def test_unknown_route_is_404(world: SagaWorld) -> None:
    answer = call_api(saga_api.handler, FakeLambdaContext(), api_event("DELETE", "/bookings"))
    assert answer.status_code == 404


def test_request_parsing_and_status_shaping() -> None:
    request = parse_booking_request(json.dumps(TRIP), idempotency_key="order-17")
    # Derived from the key alone, in the UUID4 form GET /bookings/{bookingId} accepts.
    assert request == parse_booking_request(json.dumps(TRIP), idempotency_key="order-17")
    assert (
        request.booking_id
        != parse_booking_request(json.dumps(TRIP), idempotency_key="order-18").booking_id
    )
    assert validate_booking_id(request.booking_id) == request.booking_id
    assert request.saga_input() == {"bookingId": request.booking_id, **TRIP}
    explicit = str(uuid.uuid4())
    with_both = json.dumps({**TRIP, "bookingId": explicit})
    assert parse_booking_request(with_both, idempotency_key="order-17").booking_id == explicit
    with pytest.raises(BookingValidationError, match="body: expected base64"):
        parse_booking_request("%%%", is_base64=True)
    assert booking_status("b", {"status": "RUNNING"}) == {"bookingId": "b", "status": "RUNNING"}
    assert booking_status("b", {"status": "ABORTED", "error": None, "cause": "not json"}) == {
        "bookingId": "b",
        "status": "ABORTED",
        "error": None,
    }
    with pytest.raises(ValueError, match="not a state machine ARN"):
        execution_arn("arn:aws:states:eu-west-1:123456789012:activity:x", "b")


def test_a_lost_reply_retried_with_the_same_idempotency_key_books_once(world: SagaWorld) -> None:
    world.stock({"hotel": 1})
    key = str(uuid.uuid4())
    # The first answer never reaches the client (a timeout, a dropped connection) ...
    first_status, first = post(TRIP, key)
    # ... so it sends the same request again, with the same key.
    again_status, again = post(TRIP, key)
    assert first_status == again_status == 202, (first, again)
    assert again["bookingId"] == first["bookingId"]
    assert len(executions(world)) == 1
    assert settled(str(first["bookingId"]))["status"] == "SUCCEEDED"
    assert world.holds("hotel") == [booking_execution_name(DEFAULT_OWNER, str(first["bookingId"]))]


class _StartReplyLost:
    """StartExecution reaches Step Functions, which starts the execution, but its answer is
    lost on the way back (`times` times): what a read timeout after the send looks like."""

    def __init__(self, sfn: Any, times: int) -> None:
        self._sfn = sfn
        self.left = times

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sfn, name)

    def start_execution(self, **kwargs: Any) -> Any:
        answer = self._sfn.start_execution(**kwargs)
        if self.left > 0:
            self.left -= 1
            raise ReadTimeoutError(endpoint_url="https://states.eu-west-1.amazonaws.com")
        return answer


def test_a_start_whose_reply_was_lost_is_found_by_the_retry(
    world: SagaWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.stock()
    lossy = _StartReplyLost(world.sfn, times=1)
    monkeypatch.setattr(saga_api, "_sfn", lambda: lossy)
    key = str(uuid.uuid4())
    first_status, first = post(TRIP, key)
    assert first_status == 503 and first["dependency"] == "stepfunctions"
    assert lossy.left == 0, "the reply was never lost"
    again_status, again = post(TRIP, key)
    assert again_status == 202, again
    (only,) = executions(world)
    assert booking_execution_arn(world.state_machine_arn, str(again["bookingId"])) == (
        only["executionArn"]
    )


def test_neither_booking_id_nor_idempotency_key_is_400_naming_both(world: SagaWorld) -> None:
    status, body = post(TRIP)
    assert status == 400, body
    assert body["field"] == "bookingId"
    assert body["fields"] == ["bookingId", "Idempotency-Key"]
    assert "Idempotency-Key" in str(body["message"]) and "bookingId" in str(body["message"])
    assert executions(world) == []


def test_an_idempotency_key_reused_for_another_trip_is_422(world: SagaWorld) -> None:
    world.stock()
    key = str(uuid.uuid4())
    first_status, first = post(TRIP, key)
    status, body = post({**TRIP, "carId": "c-2"}, key)
    assert first_status == 202 and status == 422, body
    assert body["error"] == "IdempotencyKeyReused" and body["field"] == "Idempotency-Key"
    assert body["bookingId"] == first["bookingId"]
    assert len(executions(world)) == 1


@pytest.mark.parametrize("key", ["", " padded", "x" * 256, "caf\u00e9"])
def test_a_malformed_idempotency_key_is_400(world: SagaWorld, key: str) -> None:
    status, body = post(TRIP, key)
    assert status == 400 and body["field"] == "Idempotency-Key", body
    assert executions(world) == []
