"""Deadlines: calls sized to the time left, retries only when they can finish, a worker that
stops taking records in time, an API that answers 503 before it is cut off, and tasks whose
message is given up on end FAILED (and come back through a replay)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from botocore.exceptions import ClientError, ReadTimeoutError
from handler_test_support import (
    FakeLambdaContext,
    MotoResources,
    call_api,
    get_event,
    sqs_event,
    submit_event,
)

import aws_clients
import task_api
import task_worker
from aws_clients import AttemptCutOff, CallProfile, Timeouts, timeout_tiers
from circuit_breaker import BreakerSettings, CircuitBreaker, CircuitOpenError, MemoryBreakerStore
from deadlines import (
    ROUND_PAUSE_CAP_S,
    Deadline,
    DeadlineExceeded,
    call_until_deadline,
    call_with_deadline,
    fitting_timeouts,
)
from task_model import parse_task_id


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class RunningDownContext(FakeLambdaContext):
    """A Lambda context whose remaining time runs down with a fake clock."""

    budget_s: float = 10.0
    clock: FakeClock = field(default_factory=FakeClock)

    def get_remaining_time_in_millis(self) -> int:
        return int((self.budget_s - self.clock.now) * 1000)


def throttled() -> ClientError:
    return ClientError(
        {"Error": {"Code": "ThrottlingException"}, "ResponseMetadata": {"HTTPStatusCode": 400}},
        "PutItem",
    )


def test_timeouts_shrink_to_fit_the_time_left() -> None:
    tiers = timeout_tiers(CallProfile.REQUEST)
    assert tiers[0] == Timeouts(1.0, 2.0)
    assert fitting_timeouts(CallProfile.REQUEST, 10.0) == tiers[0]
    assert fitting_timeouts(CallProfile.REQUEST, 2.0) == Timeouts(0.5, 1.0)
    assert fitting_timeouts(CallProfile.REQUEST, 0.3) is None


def test_no_retry_starts_that_cannot_finish() -> None:
    clock = FakeClock()
    context = RunningDownContext(budget_s=3.2, clock=clock)
    deadline = Deadline.from_context(context, margin_s=0.2)
    used: list[Timeouts] = []

    def attempt(timeouts: Timeouts) -> None:
        used.append(timeouts)
        clock.now += timeouts.worst_case_s  # every attempt times out
        raise ReadTimeoutError(endpoint_url="http://127.0.0.1")

    with pytest.raises(ReadTimeoutError):
        call_with_deadline(
            "table",
            "PutItem",
            attempt,
            profile=CallProfile.REQUEST,
            deadline=deadline,
            sleep=clock.sleep,
            rng=lambda: 1.0,
        )
    # 3 s left: one full attempt (3 s), then nothing fits; never past the deadline.
    assert used == [Timeouts(1.0, 2.0)]
    assert deadline.remaining() >= 0


def test_retries_use_smaller_timeouts_as_time_runs_out() -> None:
    clock = FakeClock()
    deadline = Deadline.from_context(RunningDownContext(budget_s=5.0, clock=clock), 0.0)
    used: list[Timeouts] = []

    def attempt(timeouts: Timeouts) -> str:
        used.append(timeouts)
        clock.now += timeouts.worst_case_s
        if len(used) < 3:
            raise throttled()
        return "ok"

    result = call_with_deadline(
        "table",
        "PutItem",
        attempt,
        profile=CallProfile.REQUEST,
        deadline=deadline,
        sleep=clock.sleep,
        rng=lambda: 0.0,
    )
    assert result == "ok"
    # 5 s: a full attempt (3 s), then the halved one (1.5 s), then the smallest that fits 0.5 s.
    assert used == [Timeouts(1.0, 2.0), Timeouts(0.5, 1.0), Timeouts(0.125, 0.25)]
    assert clock.now <= 5.0


def test_a_call_that_cannot_start_says_so() -> None:
    deadline = Deadline(lambda: 0.2)
    with pytest.raises(DeadlineExceeded) as raised:
        call_with_deadline(
            "queue", "SendMessage", lambda t: None, profile=CallProfile.REQUEST, deadline=deadline
        )
    assert raised.value.dependency == "queue"
    assert "not attempted" in str(raised.value)


def test_api_answers_503_with_retry_after_before_it_is_cut_off(aws: MotoResources) -> None:
    context = RunningDownContext(budget_s=1.2)  # 1 s margin: 0.2 s left for calls
    answer = call_api(
        task_api.handler, context, submit_event({"taskType": "sum", "parameters": {"numbers": [1]}})
    )
    assert answer.status_code == 503
    assert answer.body["error"] == "DeadlineExceeded"
    assert answer.headers["Retry-After"] == task_api.RETRY_AFTER_S
    assert aws.items() == [] and aws.messages_in_queue() == 0


def submit_many(count: int) -> list[str]:
    ids = []
    for number in range(count):
        answer = call_api(
            task_api.handler,
            FakeLambdaContext(),
            submit_event({"taskType": "sum", "parameters": {"numbers": [number, 1]}}),
        )
        assert answer.status_code == 202
        ids.append(answer.body["taskId"])
    return ids


def test_worker_stops_taking_records_when_the_rest_cannot_fit(
    aws: MotoResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = submit_many(5)
    messages = aws.receive_all(5)
    clock = FakeClock()
    monkeypatch.setattr(task_worker, "_clock", clock)
    monkeypatch.setenv("DEADLINE_MARGIN_MS", "100")

    def slow_table(**kwargs: Any) -> None:
        clock.now += 0.6  # every DynamoDB request takes 0.6 s of the invocation's time

    aws_clients.add_client_hook(
        lambda client, service: client.meta.events.register("before-send.dynamodb", slow_table)
    )
    # 3 s: four records take 0.6 s each; the fifth would not fit the smallest timeouts.
    context = RunningDownContext(budget_s=3.0, clock=clock)
    response = task_worker.handler(sqs_event(messages, aws.queue_arn), context)

    failed = [failure["itemIdentifier"] for failure in response["batchItemFailures"]]
    assert failed == [messages[4]["MessageId"]]  # untouched: retried, not lost
    assert context.get_remaining_time_in_millis() > 0  # finished before Lambda's timeout
    body = json.loads(messages[4]["Body"])
    # Keyed by the task key, which the queue message carries.
    statuses = {
        parse_task_id(task_id).key: aws.item(task_id)["status"]["S"]  # type: ignore[index]
        for task_id in ids
    }
    assert statuses[body["taskId"]] == "PENDING"
    assert sorted(statuses.values()) == ["PENDING"] + ["SUCCEEDED"] * 4


def test_last_receive_marks_the_task_failed_and_a_replayed_message_completes_it(
    aws: MotoResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    [task_id] = submit_many(1)
    [message] = aws.receive_all(1)
    monkeypatch.setenv("MAX_RECEIVE_COUNT", "5")
    broken = dict(message, Body=json.dumps({"taskId": task_id, "request": "not a request"}))
    broken["Attributes"] = {**message["Attributes"], "ApproximateReceiveCount": "4"}
    with pytest.raises(BatchProcessingError):
        task_worker.handler(sqs_event([broken], aws.queue_arn), FakeLambdaContext())
    assert aws.item(task_id)["status"]["S"] == "PENDING"  # type: ignore[index]

    broken["Attributes"] = {**message["Attributes"], "ApproximateReceiveCount": "5"}
    with pytest.raises(BatchProcessingError):
        task_worker.handler(sqs_event([broken], aws.queue_arn), FakeLambdaContext())
    polled = call_api(task_api.handler, FakeLambdaContext(), get_event(task_id))
    assert polled.body["status"] == "FAILED"
    assert "createdAt" in polled.body["error"]  # the reason the worker gave up

    # The good copy of the message, replayed from the DLQ, completes the FAILED task.
    response = task_worker.handler(sqs_event([message], aws.queue_arn), FakeLambdaContext())
    assert response["batchItemFailures"] == []
    polled = call_api(task_api.handler, FakeLambdaContext(), get_event(task_id))
    assert polled.body["status"] == "SUCCEEDED" and "error" not in polled.body


def test_an_attempt_cut_off_with_no_time_for_another_is_deadline_exceeded() -> None:
    clock = FakeClock()
    deadline = Deadline.from_context(RunningDownContext(budget_s=3.2, clock=clock), 0.0)

    def attempt(timeouts: Timeouts) -> None:
        clock.now += timeouts.worst_case_s  # the answer was still arriving at the bound
        raise AttemptCutOff(endpoint_url="http://127.0.0.1", bound_s=timeouts.worst_case_s)

    with pytest.raises(DeadlineExceeded, match="cut off at its time bound") as raised:
        call_with_deadline(
            "queue",
            "SendMessage",
            attempt,
            profile=CallProfile.REQUEST,
            deadline=deadline,
            sleep=clock.sleep,
            rng=lambda: 1.0,
        )
    assert raised.value.cut_off and raised.value.dependency == "queue"
    assert isinstance(raised.value.__cause__, AttemptCutOff)
    assert deadline.remaining() >= 0


@dataclass
class FailingTable:
    """Fails every write with `error` until `until` on the fake clock (for ever when None)."""

    clock: FakeClock
    until: float | None
    error: ClientError = field(default_factory=throttled)
    attempts: int = 0

    def write(self, timeouts: Timeouts) -> str:
        self.attempts += 1
        if self.until is None or self.clock.now < self.until:
            raise self.error
        return "written"


def breaker_on(clock: FakeClock) -> CircuitBreaker:
    return CircuitBreaker("events_table", MemoryBreakerStore(), BreakerSettings(), clock=clock)


def ride_out(table: FailingTable, clock: FakeClock, deadline: Deadline) -> str:
    return call_until_deadline(
        "events_table",
        "PutItem",
        table.write,
        profile=CallProfile.BACKGROUND,
        deadline=deadline,
        guard=breaker_on(clock),
        sleep=clock.sleep,
        rng=lambda: 1.0,
    )


def sixty_seconds(clock: FakeClock) -> Deadline:
    return Deadline.from_context(RunningDownContext(budget_s=60.0, clock=clock), 1.0)


def test_a_short_throttle_is_ridden_out() -> None:
    clock = FakeClock()
    table = FailingTable(clock, until=1.5)
    assert ride_out(table, clock, sixty_seconds(clock)) == "written"
    # A round of five attempts (0.75 s of backoff), a 1 s pause, and the next attempt works.
    assert table.attempts == aws_clients.policy_for(CallProfile.BACKGROUND).max_attempts + 1
    assert clock.now < 2.0


def test_a_sustained_throttle_is_retried_ever_more_slowly_until_the_deadline() -> None:
    clock = FakeClock()
    deadline = sixty_seconds(clock)
    table = FailingTable(clock, until=None)
    with pytest.raises(ClientError, match="ThrottlingException"):
        ride_out(table, clock, deadline)
    # Close to the deadline, never past it: the margin is left for reporting the failure.
    smallest = timeout_tiers(CallProfile.BACKGROUND)[-1].worst_case_s
    assert 0 <= deadline.remaining() < ROUND_PAUSE_CAP_S + smallest
    # Rounds of 5 attempts (0.75 s) with pauses of 1, 2, 4, 8, 10, 10, 10 s between them: 8
    # rounds in the 59 s, where a fixed 1 s pause would have made 34.
    assert table.attempts == 8 * aws_clients.policy_for(CallProfile.BACKGROUND).max_attempts


def test_an_outage_opens_the_circuit_and_only_its_trials_reach_the_table() -> None:
    clock = FakeClock()
    deadline = sixty_seconds(clock)
    failing = ClientError(
        {"Error": {"Code": "InternalServerError"}, "ResponseMetadata": {"HTTPStatusCode": 500}},
        "PutItem",
    )
    table = FailingTable(clock, until=None, error=failing)
    with pytest.raises((CircuitOpenError, ClientError)):
        ride_out(table, clock, deadline)
    assert deadline.remaining() >= 0
    # The failures that open it, then one trial per open period (10 s) while it stays open.
    settings = BreakerSettings()
    assert table.attempts <= settings.failure_threshold + 60 / settings.open_seconds


def test_without_a_deadline_one_round_is_all_and_a_refusal_is_not_retried() -> None:
    clock = FakeClock()
    table = FailingTable(clock, until=None)
    with pytest.raises(ClientError, match="ThrottlingException"):
        call_until_deadline(
            "events_table",
            "PutItem",
            table.write,
            profile=CallProfile.BACKGROUND,
            deadline=Deadline.unbounded(),
            sleep=clock.sleep,
        )
    assert table.attempts == aws_clients.policy_for(CallProfile.BACKGROUND).max_attempts

    refused = ClientError(
        {"Error": {"Code": "ValidationException"}, "ResponseMetadata": {"HTTPStatusCode": 400}},
        "PutItem",
    )
    calls: list[Timeouts] = []

    def invalid(timeouts: Timeouts) -> None:
        calls.append(timeouts)
        raise refused

    deadline = Deadline.from_context(RunningDownContext(budget_s=60.0, clock=clock), 1.0)
    with pytest.raises(ClientError, match="ValidationException"):
        call_until_deadline(
            "events_table",
            "PutItem",
            invalid,
            profile=CallProfile.BACKGROUND,
            deadline=deadline,
            sleep=clock.sleep,
        )
    assert len(calls) == 1
