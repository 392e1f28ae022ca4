"""Callers own their data: tasks and bookings are read only by the caller that created them,
Idempotency-Keys are scoped to their caller, and the public /health answer says up or down only.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from handler_test_support import (
    ACCOUNT_ID,
    DEFAULT_CALLER_ARN,
    ApiAnswer,
    FakeLambdaContext,
    MotoResources,
    api_event,
    as_caller,
    call_api,
    get_event,
    health_event,
    submit_event,
)
from moto import mock_aws
from saga_support import EXECUTE_STATE_MACHINES, TRIP, SagaWorld

import saga_api
import task_api
from caller_identity import Caller, CallerUnidentified, caller_from_event, normalize_principal
from saga_model import execution_arn
from task_model import parse_task_id, regional_task_id
from task_settings import ConfigurationError, load_settings

ALICE = f"arn:aws:iam::{ACCOUNT_ID}:user/alice"
BOB = f"arn:aws:iam::{ACCOUNT_ID}:user/bob"
ROLE = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/ordering-service"
SUM = {"taskType": "sum", "parameters": {"numbers": [1, 2, 3]}}
OTHER_SUM = {"taskType": "sum", "parameters": {"numbers": [4, 5]}}


def submit(
    request: dict[str, Any],
    key: str | None = None,
    user_arn: str | None = ALICE,
    api_key_id: str | None = None,
) -> ApiAnswer:
    event = as_caller(submit_event(request), user_arn, api_key_id)
    if key is not None:
        event["headers"]["Idempotency-Key"] = key
    return call_api(task_api.handler, FakeLambdaContext(), event)


def read(task_id: str, user_arn: str | None = ALICE, api_key_id: str | None = None) -> ApiAnswer:
    event = as_caller(get_event(task_id), user_arn, api_key_id)
    return call_api(task_api.handler, FakeLambdaContext(), event)


# --- Who the caller is -----------------------------------------------------------------------


def _event(user_arn: str | None, api_key_id: str | None) -> dict[str, Any]:
    return as_caller(api_event("GET", "/tasks"), user_arn, api_key_id)


def test_sessions_of_one_assumed_role_are_one_owner() -> None:
    first = caller_from_event(_event(f"{ROLE}/session-1", None))
    second = caller_from_event(_event(f"{ROLE}/chosen-by-anyone", None))
    assert first == second == Caller(principal=ROLE)
    assert first.owner == f"iam:{ROLE}"
    # Other principals are kept as they are.
    assert normalize_principal(ALICE) == ALICE
    gov = "arn:aws-us-gov:sts::123456789012:assumed-role/r/s"
    assert normalize_principal(gov) == "arn:aws-us-gov:sts::123456789012:assumed-role/r"


def test_api_key_id_and_both_kinds_of_owner() -> None:
    assert caller_from_event(_event(None, "k1a2b3")).owner == "apikey:k1a2b3"
    both = caller_from_event(_event(f"{ROLE}/s", "k1a2b3"))
    assert both.owner == f"iam:{ROLE} apikey:k1a2b3"
    # Each part on its own is another owner.
    assert both.owner != caller_from_event(_event(None, "k1a2b3")).owner
    assert both.owner != caller_from_event(_event(f"{ROLE}/s", None)).owner


@pytest.mark.parametrize(
    "identity", [None, {}, {"userArn": None, "apiKeyId": None}, {"userArn": "", "apiKeyId": ""}]
)
def test_an_event_without_identity_names_what_is_missing(identity: dict[str, Any] | None) -> None:
    event = api_event("GET", "/tasks")
    if identity is None:
        del event["requestContext"]["identity"]
    else:
        event["requestContext"]["identity"] = identity
    with pytest.raises(CallerUnidentified) as raised:
        caller_from_event(event)
    assert "requestContext.identity.userArn" in str(raised.value)
    assert "requestContext.identity.apiKeyId" in str(raised.value)


def test_a_malformed_identity_value_is_refused() -> None:
    with pytest.raises(CallerUnidentified):
        caller_from_event(_event("arn:aws:iam::1:user/a b", None))


# --- Tasks -----------------------------------------------------------------------------------


def test_another_caller_reads_a_task_as_if_it_did_not_exist(aws: MotoResources) -> None:
    submitted = submit(SUM, "order-1")
    assert submitted.status_code == 202, submitted.body
    task_id = submitted.body["taskId"]

    mine = read(task_id)
    assert mine.status_code == 200 and mine.body["taskId"] == task_id

    theirs = read(task_id, user_arn=BOB)
    unknown_id = regional_task_id(
        "eu-west-1", parse_task_id(task_id).created_ms or 0, str(uuid.uuid4())
    )
    unknown = read(unknown_id, user_arn=BOB)
    assert theirs.status_code == unknown.status_code == 404
    assert theirs.body == {**unknown.body, "taskId": task_id}
    assert json.dumps(theirs.body).replace(task_id, "") == json.dumps(unknown.body).replace(
        unknown_id, ""
    )
    assert theirs.headers.keys() == unknown.headers.keys()


def test_the_same_key_from_two_callers_makes_two_tasks(aws: MotoResources) -> None:
    alice = submit(SUM, "order-1")
    bob = submit(SUM, "order-1", user_arn=BOB)
    assert alice.status_code == bob.status_code == 202
    assert alice.body["taskId"] != bob.body["taskId"]
    assert "Idempotent-Replayed" not in bob.headers
    assert len(aws.items()) == 2
    owners = sorted(item["owner"]["S"] for item in aws.items())
    assert owners == [f"iam:{ALICE}", f"iam:{BOB}"]


def test_a_key_conflict_never_names_another_callers_task(aws: MotoResources) -> None:
    alice = submit(SUM, "order-1")
    # Bob, same key, other body: his own new task, nothing about Alice's.
    bob = submit(OTHER_SUM, "order-1", user_arn=BOB)
    assert bob.status_code == 202
    assert alice.body["taskId"] not in json.dumps(bob.body)
    # Bob's own conflict names only his own task.
    conflict = submit(SUM, "order-1", user_arn=BOB)
    assert conflict.status_code == 422
    assert conflict.body["error"] == "IdempotencyKeyReused"
    assert conflict.body["taskId"] == bob.body["taskId"]
    assert alice.body["taskId"] not in json.dumps(conflict.body)


def test_a_retry_by_the_owner_finds_its_task(aws: MotoResources) -> None:
    first = submit(SUM, "order-2")
    time.sleep(0.002)
    again = submit(SUM, "order-2")
    assert again.body["taskId"] == first.body["taskId"]
    assert again.headers["Idempotent-Replayed"] == "true"


def test_identical_bodies_without_a_key_are_separate_tasks(aws: MotoResources) -> None:
    first = submit(SUM)
    second = submit(SUM)
    assert first.status_code == second.status_code == 202
    assert first.body["taskId"] != second.body["taskId"]
    assert len(aws.items()) == 2
    assert read(second.body["taskId"], user_arn=BOB).status_code == 404


def test_sessions_of_one_role_share_their_tasks(aws: MotoResources) -> None:
    submitted = submit(SUM, "order-3", user_arn=f"{ROLE}/monday")
    task_id = submitted.body["taskId"]
    assert read(task_id, user_arn=f"{ROLE}/tuesday").status_code == 200
    assert submit(SUM, "order-3", user_arn=f"{ROLE}/tuesday").body["taskId"] == task_id
    other_role = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/billing/monday"
    assert read(task_id, user_arn=other_role).status_code == 404


def test_api_key_and_both_kinds_own_their_tasks(aws: MotoResources) -> None:
    by_key = submit(SUM, "order-4", user_arn=None, api_key_id="key-1")
    assert by_key.status_code == 202
    assert read(by_key.body["taskId"], user_arn=None, api_key_id="key-1").status_code == 200
    assert read(by_key.body["taskId"], user_arn=None, api_key_id="key-2").status_code == 404
    assert read(by_key.body["taskId"], user_arn=ALICE, api_key_id="key-1").status_code == 404

    both = submit(SUM, "order-4", user_arn=ALICE, api_key_id="key-1")
    assert both.body["taskId"] != by_key.body["taskId"]
    assert read(both.body["taskId"], user_arn=ALICE, api_key_id="key-1").status_code == 200
    assert read(both.body["taskId"], user_arn=ALICE).status_code == 404
    item = aws.item(both.body["taskId"])
    assert item is not None and item["owner"]["S"] == f"iam:{ALICE} apikey:key-1"


def test_no_identity_is_refused_before_anything_is_written(aws: MotoResources) -> None:
    answer = submit(SUM, "order-5", user_arn=None, api_key_id=None)
    assert answer.status_code == 403
    assert answer.body["error"] == "CallerUnidentified"
    assert answer.body["missing"] == [
        "requestContext.identity.userArn",
        "requestContext.identity.apiKeyId",
    ]
    assert aws.items() == [] and aws.messages_in_queue() == 0
    owned = submit(SUM, "order-5")
    assert read(owned.body["taskId"], user_arn=None).status_code == 403


def _legacy_item(aws: MotoResources) -> str:
    key = str(uuid.uuid4())
    aws.dynamodb.put_item(
        TableName=aws.table_name,
        Item={
            "taskId": {"S": key},
            "status": {"S": "SUCCEEDED"},
            "taskType": {"S": "sum"},
            "createdAt": {"S": "2026-01-01T00:00:00.000Z"},
            "region": {"S": "eu-west-1"},
            "request": {"S": json.dumps(SUM)},
            "result": {"S": json.dumps({"sum": 6, "count": 3})},
            "expiresAt": {"N": str(int(time.time()) + 3600)},
        },
    )
    return key


def test_an_unowned_legacy_task_is_read_by_nobody_by_default(aws: MotoResources) -> None:
    key = _legacy_item(aws)
    answer = read(key)
    assert answer.status_code == 404
    assert answer.body["error"] == "NotFound"


def test_the_legacy_setting_makes_unowned_tasks_readable(
    aws: MotoResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TASK_LEGACY_UNOWNED_READABLE", "true")
    key = _legacy_item(aws)
    for caller in (ALICE, BOB):
        answer = read(key, user_arn=caller)
        assert answer.status_code == 200 and answer.body["result"] == {"sum": 6, "count": 3}
    # Owned tasks stay their owner's.
    owned = submit(SUM, "order-6")
    assert read(owned.body["taskId"], user_arn=BOB).status_code == 404


def test_a_bad_legacy_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    environ = {
        "TABLE_NAME": "t",
        "AWS_REGION": "eu-west-1",
        "TASK_LEGACY_UNOWNED_READABLE": "maybe",
    }
    with pytest.raises(ConfigurationError) as raised:
        load_settings(environ)
    assert raised.value.variable == "TASK_LEGACY_UNOWNED_READABLE"
    assert "maybe" in str(raised.value)
    assert (
        load_settings({**environ, "TASK_LEGACY_UNOWNED_READABLE": "false"}).legacy_unowned_readable
        is False
    )
    assert (
        load_settings({**environ, "TASK_LEGACY_UNOWNED_READABLE": "TRUE"}).legacy_unowned_readable
        is True
    )


def test_the_owner_survives_the_workers_completion(aws: MotoResources) -> None:
    from handler_test_support import sqs_event

    import task_worker

    submitted = submit(SUM, "order-7")
    messages = aws.receive_all(1)
    task_worker.handler(sqs_event(messages, aws.queue_arn), FakeLambdaContext())
    item = aws.item(submitted.body["taskId"])
    assert item is not None
    assert item["status"]["S"] == "SUCCEEDED" and item["owner"]["S"] == f"iam:{ALICE}"
    assert read(submitted.body["taskId"]).body["result"] == {"sum": 6, "count": 3}
    assert read(submitted.body["taskId"], user_arn=BOB).status_code == 404


def test_another_callers_fresh_task_of_another_region_answers_like_an_unknown_id(
    aws: MotoResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read in another region whose replica has the item: the hint path is the same for an
    other caller's task as for an id that was never issued."""
    submitted = submit(SUM, "order-8")
    task_id = submitted.body["taskId"]
    parsed = parse_task_id(task_id)
    unknown_id = regional_task_id("eu-west-1", parsed.created_ms or 0, str(uuid.uuid4()))
    # The same table stands in for the other region's replica, after replication.
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    import boto3

    replica = boto3.client("dynamodb", region_name="us-east-1")
    replica.create_table(
        TableName=aws.table_name,
        AttributeDefinitions=[{"AttributeName": "taskId", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "taskId", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    item = aws.item(task_id)
    assert item is not None
    replica.put_item(TableName=aws.table_name, Item=item)

    assert read(task_id).status_code == 200
    theirs = read(task_id, user_arn=BOB)
    unknown = read(unknown_id, user_arn=BOB)
    assert theirs.status_code == unknown.status_code == 404
    assert theirs.body["error"] == unknown.body["error"] == "TaskNotReplicatedYet"
    assert {**theirs.body, "taskId": None, "message": None} == {
        **unknown.body,
        "taskId": None,
        "message": None,
    }
    assert theirs.headers.get("Retry-After") == unknown.headers.get("Retry-After")


# --- Bookings --------------------------------------------------------------------------------


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[SagaWorld]:
    with mock_aws(config=EXECUTE_STATE_MACHINES):
        created = SagaWorld("eu-west-1")
        created.stock()
        monkeypatch.setenv("STATE_MACHINE_ARN", created.state_machine_arn)
        yield created
        # Executions run in moto's threads: one still running when this world ends would take
        # its holds in the next test's world (the same in-process backend), so wait them out.
        listed = created.sfn.list_executions(stateMachineArn=created.state_machine_arn)
        for execution in listed["executions"]:
            created.wait(execution["executionArn"])


def book(
    body: dict[str, Any],
    key: str | None = None,
    user_arn: str | None = ALICE,
    api_key_id: str | None = None,
) -> ApiAnswer:
    event = as_caller(api_event("POST", "/bookings", json.dumps(body)), user_arn, api_key_id)
    if key is not None:
        event["headers"]["Idempotency-Key"] = key
    return call_api(saga_api.handler, FakeLambdaContext(), event)


def booking(booking_id: str, user_arn: str | None = ALICE) -> ApiAnswer:
    event = api_event(
        "GET",
        f"/bookings/{booking_id}",
        resource="/bookings/{bookingId}",
        path_parameters={"bookingId": booking_id},
    )
    return call_api(saga_api.handler, FakeLambdaContext(), as_caller(event, user_arn))


def test_a_booking_is_read_by_its_owner_only(world: SagaWorld) -> None:
    created = book(TRIP, "trip-1")
    assert created.status_code == 202, created.body
    assert "arn:" not in json.dumps(created.body) and "executionArn" not in created.body
    booking_id = str(created.body["bookingId"])
    assert str(created.body["statusUrl"]).endswith(f"/bookings/{booking_id}")

    assert booking(booking_id).status_code == 200
    theirs = booking(booking_id, user_arn=BOB)
    unknown_id = str(uuid.uuid4())
    unknown = booking(unknown_id, user_arn=BOB)
    assert theirs.status_code == unknown.status_code == 404
    assert theirs.body == {**unknown.body, "bookingId": booking_id}
    # The owner is kept in the execution's input.
    [execution] = world.sfn.list_executions(stateMachineArn=world.state_machine_arn)["executions"]
    described = world.sfn.describe_execution(executionArn=execution["executionArn"])
    assert json.loads(described["input"])["owner"] == f"iam:{ALICE}"


def test_the_same_key_from_another_caller_is_its_own_booking(world: SagaWorld) -> None:
    alice = book(TRIP, "trip-2")
    # Another trip under the same key: Bob's own booking, never a conflict with Alice's.
    bob = book({**TRIP, "carId": "c-2"}, "trip-2", user_arn=BOB)
    assert alice.status_code == bob.status_code == 202, bob.body
    assert alice.body["bookingId"] != bob.body["bookingId"]
    assert booking(str(bob.body["bookingId"]), user_arn=BOB).status_code == 200
    assert booking(str(bob.body["bookingId"])).status_code == 404
    listed = world.sfn.list_executions(stateMachineArn=world.state_machine_arn)["executions"]
    assert len(listed) == 2


def test_a_client_chosen_booking_id_is_scoped_by_owner(world: SagaWorld) -> None:
    booking_id = str(uuid.uuid4())
    alice = book({**TRIP, "bookingId": booking_id})
    # The same id from Bob (even for the same trip) is his own booking, not a 409 or a replay.
    bob = book({**TRIP, "bookingId": booking_id}, user_arn=BOB)
    assert alice.status_code == bob.status_code == 202, bob.body
    assert alice.body["bookingId"] == bob.body["bookingId"] == booking_id
    listed = world.sfn.list_executions(stateMachineArn=world.state_machine_arn)["executions"]
    assert len(listed) == 2
    deadline = time.monotonic() + 30
    while True:
        mine, theirs = booking(booking_id).body, booking(booking_id, user_arn=BOB).body
        if mine["status"] != "RUNNING" and theirs["status"] != "RUNNING":
            break
        assert time.monotonic() < deadline, (mine, theirs)
        time.sleep(0.02)
    assert mine["status"] == theirs["status"] == "SUCCEEDED"
    # Two holds: equal ids of two callers never share one.
    assert len(world.holds("car")) == 2
    # A caller's own reuse of its id for another trip is still its own conflict.
    again = book({**TRIP, "hotelId": "h-9", "bookingId": booking_id})
    assert again.status_code == 409


def test_bookings_need_an_identity(world: SagaWorld) -> None:
    answer = book(TRIP, "trip-3", user_arn=None)
    assert answer.status_code == 403 and answer.body["error"] == "CallerUnidentified"
    assert world.sfn.list_executions(stateMachineArn=world.state_machine_arn)["executions"] == []
    assert booking(str(uuid.uuid4()), user_arn=None).status_code == 403


def test_unowned_legacy_bookings_need_the_setting(
    world: SagaWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    legacy_id = str(uuid.uuid4())
    world.sfn.start_execution(
        stateMachineArn=world.state_machine_arn,
        name=legacy_id,
        input=json.dumps({"bookingId": legacy_id, **TRIP}),
    )
    assert booking(legacy_id).status_code == 404
    monkeypatch.setenv("BOOKING_LEGACY_UNOWNED_READABLE", "true")
    assert booking(legacy_id).status_code == 200
    assert booking(legacy_id, user_arn=BOB).status_code == 200
    # An owned execution under a bare id is still its owner's only.
    owned = book(TRIP, "trip-4")
    owned_name = json.loads(
        world.sfn.describe_execution(
            executionArn=world.sfn.list_executions(stateMachineArn=world.state_machine_arn)[
                "executions"
            ][0]["executionArn"]
        )["input"]
    )["bookingId"]
    assert owned.status_code == 202
    assert booking(owned_name, user_arn=BOB).status_code == 404
    monkeypatch.setenv("BOOKING_LEGACY_UNOWNED_READABLE", "perhaps")
    misconfigured = booking(legacy_id)
    assert misconfigured.status_code == 500
    assert "BOOKING_LEGACY_UNOWNED_READABLE" in misconfigured.body["message"]
    assert execution_arn(world.state_machine_arn, legacy_id).endswith(legacy_id)


# --- Health ------------------------------------------------------------------------------------


def _assert_no_details(body: dict[str, Any]) -> None:
    text = json.dumps(body)
    for leak in (
        "ResourceNotFoundException",
        "NonExistentQueue",
        "QueueDoesNotExist",
        "TABLE_NAME",
        "QUEUE_URL",
        "Environment variable",
        "error",
        "latencyMs",
    ):
        assert leak not in text, (leak, body)
    assert set(body["dependencies"].values()) <= {"up", "down"}
    assert body["status"] in {"ok", "degraded"}


def test_health_under_a_failing_dependency_names_no_error(aws: MotoResources) -> None:
    aws.dynamodb.delete_table(TableName=aws.table_name)
    answer = call_api(task_api.handler, FakeLambdaContext(), health_event())
    assert answer.status_code == 503
    assert answer.body["dependencies"] == {"table": "down", "queue": "up"}
    _assert_no_details(answer.body)


@pytest.mark.parametrize("variable", ["TABLE_NAME", "QUEUE_URL"])
def test_health_when_misconfigured_names_no_variable(
    aws: MotoResources, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.delenv(variable)
    answer = call_api(task_api.handler, FakeLambdaContext(), health_event())
    assert answer.status_code == 503
    assert answer.body["status"] == "degraded"
    _assert_no_details(answer.body)


def test_health_needs_no_identity(aws: MotoResources) -> None:
    answer = call_api(task_api.handler, FakeLambdaContext(), as_caller(health_event()))
    assert answer.status_code == 200
    assert answer.body == {
        "status": "ok",
        "region": "eu-west-1",
        "dependencies": {"table": "up", "queue": "up"},
    }
    assert DEFAULT_CALLER_ARN not in json.dumps(answer.body)
