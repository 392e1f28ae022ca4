"""The booking saga's definition, as the component deploys it, executed by moto's Step Functions
interpreter against moto DynamoDB: the happy path, a failure at every step, retries.

The compensation matrix these tests establish (a definite failure, i.e. no room, at step k):

    hotel  -> nothing compensated
    flight -> hotel
    car    -> flight, hotel
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from handler_test_support import REGION
from moto import mock_aws
from moto.dynamodb.models import DynamoDBBackend
from resilient_serverless.saga_definition import (
    BOOKING_FAILED_ERROR,
    BOOKING_STEPS,
    COMPENSATION_FAILED_ERROR,
    compensation_matrix,
    saga_definition,
)
from saga_support import EXECUTE_STATE_MACHINES, FailingReleases, RetryClock, SagaWorld, Throttled

from resilience_policies import thresholds

STEP_NAMES = [step.name for step in BOOKING_STEPS]


@pytest.fixture
def world() -> Iterator[SagaWorld]:
    with mock_aws(config=EXECUTE_STATE_MACHINES):
        yield SagaWorld(REGION)


def test_happy_path_books_all_three(world: SagaWorld) -> None:
    world.stock()
    run = world.book("b-happy")
    assert run.status == "SUCCEEDED", run
    assert run.entered == ["BookHotel", "BookFlight", "BookCar", "Booked"]
    assert run.output == {
        "bookingId": "b-happy",
        "hotelId": "h-1",
        "flightId": "f-1",
        "carId": "c-1",
    }
    for step in STEP_NAMES:
        assert world.holds(step) == ["b-happy"]


@pytest.mark.parametrize("failing", range(len(BOOKING_STEPS)), ids=STEP_NAMES)
def test_a_failure_at_each_step_compensates_exactly_the_steps_before_it(
    world: SagaWorld, failing: int
) -> None:
    failed_step = STEP_NAMES[failing]
    world.stock({failed_step: 0})  # sold out: the booking's condition fails
    run = world.book(f"b-{failed_step}")

    before = STEP_NAMES[:failing]
    assert run.status == "FAILED" and run.error == BOOKING_FAILED_ERROR
    assert run.compensated == list(reversed(before))
    # The booking states ran up to the failed one, then the compensations, then the Fail state.
    assert run.entered[: failing + 1] == [f"Book{s.title()}" for s in STEP_NAMES[: failing + 1]]
    assert run.entered[-1] == "BookingFailed"
    # The Fail state records what happened, for DescribeExecution (and the status API).
    assert run.cause is not None
    assert run.cause["failedStep"] == failed_step
    assert run.cause["outcome"] == "unavailable"
    assert run.cause["compensated"] == list(reversed(before))
    assert run.cause["error"] == "DynamoDB.ConditionalCheckFailedException"
    # Nothing stays held anywhere.
    for step in STEP_NAMES:
        assert world.holds(step) == []
    print(f"\ncompensation matrix: failure at {failed_step} -> {run.compensated or 'nothing'}")


def test_the_matrix_the_definition_declares_is_the_one_it_executes(world: SagaWorld) -> None:
    observed = []
    for failing, step in enumerate(STEP_NAMES):
        world.stock({name: (0 if name == step else 2) for name in STEP_NAMES})
        observed.append((step, world.book(f"m-{failing}").compensated))
    assert observed == compensation_matrix()
    assert observed == [("hotel", []), ("flight", ["hotel"]), ("car", ["flight", "hotel"])]


def test_unknown_resource_fails_like_no_room(world: SagaWorld) -> None:
    world.stock()
    run = world.book("b-nowhere", {"hotelId": "h-1", "flightId": "f-404", "carId": "c-1"})
    assert run.status == "FAILED"
    assert run.compensated == ["hotel"]
    assert world.holds("hotel") == []


def test_capacity_is_respected_across_bookings(world: SagaWorld) -> None:
    world.stock({"car": 1})
    assert world.book("b-first").status == "SUCCEEDED"
    second = world.book("b-second")
    assert second.status == "FAILED" and second.compensated == ["flight", "hotel"]
    for step in STEP_NAMES:
        assert world.holds(step) == ["b-first"]


class _LostResponses:
    """DynamoDB applies a booking, then the caller sees a throttling error, `times` times for
    bookings of `resource`: the ambiguous failure a retry must not turn into a double booking."""

    def __init__(self, resource: str, times: int) -> None:
        self.resource = resource
        self.left = times
        self.lock = threading.Lock()
        self.original = DynamoDBBackend.update_item

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        def update_item(backend: DynamoDBBackend, *args: Any, **kwargs: Any) -> Any:
            return self(backend, *args, **kwargs)

        monkeypatch.setattr(DynamoDBBackend, "update_item", update_item)

    def __call__(self, backend: DynamoDBBackend, *args: Any, **kwargs: Any) -> Any:
        result = self.original(backend, *args, **kwargs)
        key = kwargs["key"] if "key" in kwargs else args[1]
        expression = kwargs.get("update_expression") or (args[2] if len(args) > 2 else "")
        # Only bookings (ADD) lose their answers: the compensations (DELETE) go through.
        if key.get("pk", {}).get("S") == self.resource and expression.startswith("ADD"):
            with self.lock:
                if self.left > 0:
                    self.left -= 1
                    raise Throttled()
        return result


def test_a_retried_step_does_not_double_book(
    world: SagaWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.stock({"flight": 1})
    lost = _LostResponses("flight#f-1", times=1)
    lost.install(monkeypatch)
    run = world.book("b-retried")
    assert lost.left == 0, "the fault was never injected"
    assert run.status == "SUCCEEDED", run
    # BookFlight ran twice (the retry is inside one state: entered once, two task attempts) ...
    assert run.entered == ["BookHotel", "BookFlight", "BookCar", "Booked"]
    # ... and the flight, whose only seat the first attempt already took, is held once.
    assert world.holds("flight") == ["b-retried"]


def test_retries_exhausted_compensate_the_uncertain_step_too(
    world: SagaWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.stock()
    # Every attempt on the car is applied but answered with an error: after the retries the
    # outcome is unknown, so the car is released as well as the flight and the hotel.
    lost = _LostResponses("car#c-1", times=100)
    lost.install(monkeypatch)
    run = world.book("b-uncertain")
    assert run.status == "FAILED"
    assert run.cause is not None and run.cause["outcome"] == "uncertain"
    assert run.cause["compensated"] == ["car", "flight", "hotel"]
    assert run.compensated == ["car", "flight", "hotel"]
    for step in STEP_NAMES:
        assert world.holds(step) == []


def test_every_task_state_retries_and_catches() -> None:
    definition = saga_definition("bookings")
    tasks = {name: s for name, s in definition["States"].items() if s["Type"] == "Task"}
    # A booking and a release per step, and the record of a release that gave up.
    assert len(tasks) == 2 * len(BOOKING_STEPS) + 1
    for state in tasks.values():
        assert state["Retry"] and state["Catch"]
        assert state["Resource"] == "arn:aws:states:::dynamodb:updateItem"


def test_a_release_that_fails_for_a_while_is_retried_until_it_goes_through(
    world: SagaWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    RetryClock().install(monkeypatch)
    world.stock({"car": 0})
    # Ten refusals in a row: a throttled or failing table for minutes, not for good.
    failing = FailingReleases("hotel#h-1", times=10, booking_id="b-patient")
    failing.install(monkeypatch)
    run = world.book("b-patient")
    assert (run.status, run.error) == ("FAILED", BOOKING_FAILED_ERROR), run
    assert failing.left == 0, "the fault was never injected"
    assert run.compensated == ["flight", "hotel"]
    for step in STEP_NAMES:
        assert world.holds(step) == []
    assert world.records() == []


def test_a_release_that_never_goes_through_is_recorded_for_repair(
    world: SagaWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = RetryClock()
    clock.install(monkeypatch)
    world.stock({"car": 0})
    failing = FailingReleases("hotel#h-1", times=10_000, booking_id="b-stuck")
    failing.install(monkeypatch)
    run = world.book("b-stuck")
    assert (run.status, run.error) == ("FAILED", COMPENSATION_FAILED_ERROR), run
    assert world.holds("hotel") == ["b-stuck"]  # what no compensation could undo ...
    # ... is written down where an operator (and `tools.saga_repair`) finds it.
    records = world.records()
    assert len(records) == 1, records
    (record,) = records
    assert record["pk"] == {"S": "compensation-failed#b-stuck"}
    assert record["bookingId"] == {"S": "b-stuck"}
    assert record["failedStep"] == {"S": "car"}  # the booking failed at the car ...
    assert record["releaseFailed"] == {"S": "hotel"}  # ... and the hotel would not let go
    assert record["stillHeld"] == {"SS": ["hotel#h-1"]}
    assert record["executionArn"]["S"].endswith(":b-stuck")
    assert json.loads(record["error"]["S"])["Error"] == (
        "DynamoDB.ProvisionedThroughputExceededException"
    )
    assert "failedAt" in record and "repairedAt" not in record
    # The execution's cause says the same, and that the record was written.
    assert run.cause is not None
    assert run.cause["releaseFailed"] == "hotel" and run.cause["stillHeld"] == ["hotel#h-1"]
    assert run.cause["recorded"] is True
    assert run.entered[-4:] == [
        "HotelNotReleased",
        "RecordCompensationFailure",
        "CompensationRecorded",
        "CompensationFailed",
    ]
    # Every release attempt the Retry allows was made, then the saga gave up.
    assert failing.refused == 1 + thresholds.SAGA_COMPENSATION_MAX_ATTEMPTS
    print(
        f"\nrelease refused {failing.refused} times; backoff asked for {len(clock.waits)} waits, "
        f"{sum(clock.waits):.0f} s in all (full jitter)"
    )
