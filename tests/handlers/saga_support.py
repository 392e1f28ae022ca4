"""Running the booking saga's real definition in moto's Step Functions interpreter, against moto
DynamoDB: the inventory table, a state machine, executions and what they left behind."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto.core.config import DefaultConfig
from moto.dynamodb.exceptions import ERROR_TYPE_PREFIX, DynamodbException
from moto.dynamodb.models import DynamoDBBackend
from resilient_serverless.saga_definition import BOOKING_STEPS, RESOURCE_KEY, saga_definition

#: moto's interpreter needs this flag to run executions at all (otherwise they stay RUNNING).
EXECUTE_STATE_MACHINES: DefaultConfig = {"stepfunctions": {"execute_state_machine": True}}
ROLE_ARN = "arn:aws:iam::123456789012:role/saga-tests"
TRIP = {"hotelId": "h-1", "flightId": "f-1", "carId": "c-1"}


@dataclass
class SagaRun:
    status: str
    error: str | None
    cause: dict[str, Any] | None
    output: dict[str, Any] | None
    #: The states entered, in order (the execution history).
    entered: list[str]

    @property
    def compensated(self) -> list[str]:
        """The steps whose Cancel state ran, in the order they ran."""
        return [
            name.removeprefix("Cancel").lower()
            for name in self.entered
            if name.startswith("Cancel")
        ]


class SagaWorld:
    """A table with inventory and the saga's state machine, in the current moto account."""

    def __init__(self, region: str) -> None:
        self.dynamodb = boto3.client("dynamodb", region_name=region)
        self.sfn = boto3.client("stepfunctions", region_name=region)
        self.table_name = "bookings"
        self.dynamodb.create_table(
            TableName=self.table_name,
            KeySchema=[{"AttributeName": RESOURCE_KEY, "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": RESOURCE_KEY, "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        self.state_machine_arn = self.sfn.create_state_machine(
            name="booking-saga",
            definition=json.dumps(saga_definition(self.table_name)),
            roleArn=ROLE_ARN,
        )["stateMachineArn"]

    def stock(self, capacity: dict[str, int] | None = None) -> None:
        """One resource of each step with the given capacity (default 2), or 0 for sold out."""
        capacity = capacity or {}
        for step in BOOKING_STEPS:
            self.dynamodb.put_item(
                TableName=self.table_name,
                Item={
                    RESOURCE_KEY: {"S": f"{step.name}#{TRIP[step.input_field]}"},
                    "capacity": {"N": str(capacity.get(step.name, 2))},
                },
            )

    def holds(self, step: str) -> list[str]:
        field = next(s.input_field for s in BOOKING_STEPS if s.name == step)
        item = self.dynamodb.get_item(
            TableName=self.table_name, Key={RESOURCE_KEY: {"S": f"{step}#{TRIP[field]}"}}
        ).get("Item", {})
        return sorted(item.get("holds", {}).get("SS", []))

    def records(self) -> list[dict[str, Any]]:
        """Every item of the table that is not a resource's inventory, in key order."""
        inventory = {f"{step.name}#{TRIP[step.input_field]}" for step in BOOKING_STEPS}
        items = self.dynamodb.scan(TableName=self.table_name, ConsistentRead=True)["Items"]
        return sorted(
            (item for item in items if item[RESOURCE_KEY]["S"] not in inventory),
            key=lambda item: str(item[RESOURCE_KEY]["S"]),
        )

    def book(self, booking_id: str, trip: dict[str, str] | None = None) -> SagaRun:
        arn = self.sfn.start_execution(
            stateMachineArn=self.state_machine_arn,
            name=booking_id,
            input=json.dumps({"bookingId": booking_id, **(trip or TRIP)}),
        )["executionArn"]
        return self.wait(arn)

    def wait(self, execution_arn: str, timeout_s: float = 30.0) -> SagaRun:
        deadline = time.monotonic() + timeout_s
        while True:
            described = self.sfn.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{execution_arn} still RUNNING after {timeout_s} s")
            time.sleep(0.02)
        events = self.sfn.get_execution_history(executionArn=execution_arn)["events"]
        entered = [
            event["stateEnteredEventDetails"]["name"]
            for event in events
            if event["type"].endswith("StateEntered")
        ]
        cause = described.get("cause")
        output = described.get("output")
        return SagaRun(
            status=described["status"],
            error=described.get("error"),
            cause=json.loads(cause) if cause else None,
            output=json.loads(output) if output else None,
            entered=entered,
        )


class Throttled(DynamodbException):
    """What DynamoDB answers when a partition is over its throughput (a transient error)."""

    def __init__(self) -> None:
        super().__init__(
            ERROR_TYPE_PREFIX + "ProvisionedThroughputExceededException",
            message="The level of configured provisioned throughput for the table was exceeded.",
        )


class FailingReleases:
    """The next `times` releases (DELETE from `holds`) of `booking_id`'s hold on `resource` are
    refused with a throttling error before DynamoDB applies them: a compensation that keeps
    failing, then recovers.

    Only that booking's: executions an earlier test started run on moto's threads of their
    own and may still be releasing holds of their bookings (moto resets an account in place),
    and those releases must neither be refused nor counted here."""

    def __init__(self, resource: str, times: int, booking_id: str) -> None:
        self.resource = resource
        self.booking_id = booking_id
        self.left = times
        self.refused = 0
        self.lock = threading.Lock()
        self.original = DynamoDBBackend.update_item

    def _is_ours(self, key: dict[str, Any], expression: str, values: dict[str, Any]) -> bool:
        released = [booking for value in values.values() for booking in value.get("SS", [])]
        return (
            key.get(RESOURCE_KEY, {}).get("S") == self.resource
            and expression.startswith("DELETE")
            and self.booking_id in released
        )

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        def update_item(backend: DynamoDBBackend, *args: Any, **kwargs: Any) -> Any:
            key = kwargs["key"] if "key" in kwargs else args[1]
            expression = kwargs.get("update_expression") or (args[2] if len(args) > 2 else "")
            values = kwargs.get("expression_attribute_values") or {}
            if self._is_ours(key, expression, values):
                with self.lock:
                    if self.left > 0:
                        self.left -= 1
                        self.refused += 1
                        raise Throttled()
            return self.original(backend, *args, **kwargs)

        monkeypatch.setattr(DynamoDBBackend, "update_item", update_item)


class RetryClock:
    """Stands in for the clock of moto's Step Functions retriers: it records each wait a Retry
    asks for and returns at once, so hours of backoff run in milliseconds and can be summed."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

        monkeypatch.setattr(retrier_decl, "time", self)
