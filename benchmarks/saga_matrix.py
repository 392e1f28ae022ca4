"""Print the booking saga's compensation matrix, as executed: the deployed definition run by
moto's Step Functions interpreter against moto DynamoDB, once per failing step and kind of
failure.

    .venv/bin/python benchmarks/saga_matrix.py

A definite failure (no room: the conditional write failed, nothing was written) compensates the
steps before the failed one; an uncertain one (an error left after the retries, when the write
may have been applied) compensates the failed step too. Each row comes from the execution's
history (the Cancel states entered, in order), not from the definition.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any
from unittest.mock import patch

import boto3
from moto import mock_aws
from moto.dynamodb.exceptions import ERROR_TYPE_PREFIX, DynamodbException
from moto.dynamodb.models import DynamoDBBackend
from resilient_serverless.saga_definition import (
    BOOKING_STEPS,
    RESOURCE_KEY,
    saga_definition,
)

REGION = "eu-west-1"
TRIP = {step.input_field: f"{step.name}-1" for step in BOOKING_STEPS}


class _Throttled(DynamodbException):
    def __init__(self) -> None:
        super().__init__(ERROR_TYPE_PREFIX + "ProvisionedThroughputExceededException", "throttled")


def _run(sfn: Any, machine: str, booking_id: str) -> tuple[str, list[str], float]:
    started = time.monotonic()
    arn = sfn.start_execution(
        stateMachineArn=machine,
        name=booking_id,
        input=json.dumps({"bookingId": booking_id, **TRIP}),
    )["executionArn"]
    while sfn.describe_execution(executionArn=arn)["status"] == "RUNNING":
        time.sleep(0.02)
    status = sfn.describe_execution(executionArn=arn)["status"]
    events = sfn.get_execution_history(executionArn=arn)["events"]
    cancelled = [
        event["stateEnteredEventDetails"]["name"].removeprefix("Cancel").lower()
        for event in events
        if event["type"] == "TaskStateEntered"
        and event["stateEnteredEventDetails"]["name"].startswith("Cancel")
    ]
    return status, cancelled, time.monotonic() - started


def main() -> None:
    # Fake credentials: nothing here may reach a real account (moto intercepts every call).
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ[variable] = "testing"
    rows: list[tuple[str, str, str, list[str], float]] = []
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        sfn = boto3.client("stepfunctions", region_name=REGION)
        dynamodb.create_table(
            TableName="bookings",
            KeySchema=[{"AttributeName": RESOURCE_KEY, "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": RESOURCE_KEY, "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        machine = sfn.create_state_machine(
            name="booking-saga",
            definition=json.dumps(saga_definition("bookings")),
            roleArn="arn:aws:iam::123456789012:role/saga",
        )["stateMachineArn"]

        def stock(sold_out: str | None) -> None:
            for step in BOOKING_STEPS:
                dynamodb.put_item(
                    TableName="bookings",
                    Item={
                        RESOURCE_KEY: {"S": f"{step.name}#{TRIP[step.input_field]}"},
                        "capacity": {"N": "0" if step.name == sold_out else "100"},
                    },
                )

        for step in BOOKING_STEPS:
            stock(step.name)
            status, cancelled, took = _run(sfn, machine, f"definite-{step.name}")
            rows.append((step.name, "definite (no room)", status, cancelled, took))

        original = DynamoDBBackend.update_item
        for step in BOOKING_STEPS:
            stock(None)
            key = f"{step.name}#{TRIP[step.input_field]}"

            def lossy(backend: DynamoDBBackend, *args: Any, _key: str = key, **kwargs: Any) -> Any:
                """Apply the booking, then lose the answer (a throttling error)."""
                result = original(backend, *args, **kwargs)
                named = kwargs.get("key") or args[1]
                expression = kwargs.get("update_expression") or (args[2] if len(args) > 2 else "")
                if named[RESOURCE_KEY]["S"] == _key and expression.startswith("ADD"):
                    raise _Throttled()
                return result

            with patch.object(DynamoDBBackend, "update_item", lossy):
                status, cancelled, took = _run(sfn, machine, f"uncertain-{step.name}")
            rows.append((step.name, "uncertain (retries exhausted)", status, cancelled, took))

    print("Booking saga: failure at step k -> steps compensated (in order), as executed")
    print(f"{'failed step':12s} {'failure':30s} {'status':8s} {'compensated':24s} {'time':>6s}")
    for step_name, kind, status, cancelled, took in rows:
        shown = " -> ".join(cancelled) if cancelled else "(nothing)"
        print(f"{step_name:12s} {kind:30s} {status:8s} {shown:24s} {took:5.1f}s")


if __name__ == "__main__":
    main()
