"""Release the inventory holds of booking sagas whose compensation gave up.

    python -m tools.saga_repair --state-machine-arn ARN                         # dry run: list
    python -m tools.saga_repair --state-machine-arn ARN --apply                 # release
    python -m tools.saga_repair --state-machine-arn ARN --booking-id ID --apply
    python -m tools.saga_repair --table TABLE --region REGION --json            # report as JSON

ARN is the saga's state machine in the region whose CompensationFailed alarm fired (the stack
output `bookingStateMachineArns`); the tool reads its inventory table's name from the
definition, and the region from the ARN. `--table` names the table directly instead.

When a release still fails after the compensation's retries (about an hour), the execution
writes what the booking may still hold to that table, key "compensation-failed#<bookingId>",
and ends in CompensationFailed, which raises the saga's alarm. This tool reads those records
and, for each, which resources still hold the booking (consistent reads). With --apply it
releases them as the compensation would have (the booking id is deleted from the resource's
`holds`, on condition that the resource exists), then marks the record repaired (`repairedAt`).

Safe to re-run: a release of a booking no longer held changes nothing, and a record is marked
repaired only once all its releases went through; one that failed stays listed for the next run.
Records already repaired are listed only when asked for by --booking-id.

Exit codes: 0 done (a dry run listed what it found; --apply released all it listed);
1 an AWS call failed (the message names the resource; what was done before is reported; re-run);
2 bad arguments, or a table or region that cannot be used (the message names the option).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

#: The saga's record keys and the inventory's key attribute, as `saga_definition` writes them.
RECORD_KEY_PREFIX = "compensation-failed#"
RESOURCE_KEY = "pk"

#: Attempts per DynamoDB call (botocore's standard retries, with backoff): a throttle that
#: outlasts them fails the run, which leaves the record listed for the next one.
CALL_ATTEMPTS = 5

EXIT_DONE = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

#: What a resource's check or release found, per resource key.
HELD, NOT_HELD, NO_RESOURCE, RELEASED = "held", "not held", "no such resource", "released"


class RepairError(Exception):
    """A problem the operator must fix; the message starts with the option to change."""


class ReleaseFailed(Exception):
    """An AWS call of the repair failed; the message names the resource or record."""


@dataclass(frozen=True)
class FailedCompensation:
    """One record a compensation that gave up wrote."""

    booking_id: str
    execution_arn: str
    failed_step: str
    release_failed: str
    still_held: tuple[str, ...]
    failed_at: str
    error: str
    repaired_at: str | None

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> FailedCompensation:
        def text(name: str) -> str:
            return str(item.get(name, {}).get("S", ""))

        return cls(
            booking_id=text("bookingId"),
            execution_arn=text("executionArn"),
            failed_step=text("failedStep"),
            release_failed=text("releaseFailed"),
            still_held=tuple(sorted(item.get("stillHeld", {}).get("SS", []))),
            failed_at=text("failedAt"),
            error=text("error"),
            repaired_at=text("repairedAt") or None,
        )


@dataclass
class BookingReport:
    record: FailedCompensation
    holds: dict[str, str] = field(default_factory=dict)
    repaired: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "bookingId": self.record.booking_id,
            "executionArn": self.record.execution_arn,
            "failedStep": self.record.failed_step,
            "releaseFailed": self.record.release_failed,
            "failedAt": self.record.failed_at,
            "error": self.record.error,
            "repairedAt": self.record.repaired_at,
            "holds": self.holds,
            "repaired": self.repaired,
        }


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _scan_records(dynamodb: Any, table: str) -> Iterator[dict[str, Any]]:
    """Every record not yet repaired. A Scan: records are rare, and the inventory has no index
    to query them by (its only key is the resource's)."""
    request: dict[str, Any] = {
        "TableName": table,
        "ConsistentRead": True,
        "FilterExpression": "begins_with(#pk, :prefix) AND attribute_not_exists(repairedAt)",
        "ExpressionAttributeNames": {"#pk": RESOURCE_KEY},
        "ExpressionAttributeValues": {":prefix": {"S": RECORD_KEY_PREFIX}},
    }
    while True:
        page = dynamodb.scan(**request)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def failed_compensations(
    dynamodb: Any, table: str, booking_ids: Sequence[str] = ()
) -> list[FailedCompensation]:
    """The records to act on: those of `booking_ids` (repaired or not), else every unrepaired
    one, oldest first."""
    try:
        if not booking_ids:
            items = list(_scan_records(dynamodb, table))
        else:
            items = []
            for booking_id in booking_ids:
                item = dynamodb.get_item(
                    TableName=table,
                    Key={RESOURCE_KEY: {"S": RECORD_KEY_PREFIX + booking_id}},
                    ConsistentRead=True,
                ).get("Item")
                if item is None:
                    raise RepairError(
                        f"--booking-id {booking_id}: no failed compensation is recorded for it "
                        f"in {table}; check the id and the table's region."
                    )
                items.append(item)
    except ClientError as error:
        if _code(error) == "ResourceNotFoundException":
            raise RepairError(
                f"--table {table}: no such table in this region; give the saga's inventory "
                "table and its --region, or --state-machine-arn."
            ) from error
        raise
    records = [FailedCompensation.from_item(item) for item in items]
    return sorted(records, key=lambda record: (record.failed_at, record.booking_id))


def hold_state(dynamodb: Any, table: str, resource_key: str, booking_id: str) -> str:
    item = dynamodb.get_item(
        TableName=table,
        Key={RESOURCE_KEY: {"S": resource_key}},
        ConsistentRead=True,
        ProjectionExpression="#holds",
        ExpressionAttributeNames={"#holds": "holds"},
    ).get("Item")
    if item is None:
        return NO_RESOURCE
    return HELD if booking_id in item.get("holds", {}).get("SS", []) else NOT_HELD


def release(dynamodb: Any, table: str, resource_key: str, booking_id: str) -> None:
    """The compensation's own write: idempotent, and never creates a resource."""
    try:
        dynamodb.update_item(
            TableName=table,
            Key={RESOURCE_KEY: {"S": resource_key}},
            UpdateExpression="DELETE #holds :booking",
            ConditionExpression=f"attribute_exists({RESOURCE_KEY})",
            ExpressionAttributeNames={"#holds": "holds"},
            ExpressionAttributeValues={":booking": {"SS": [booking_id]}},
        )
    except ClientError as error:
        if _code(error) != "ConditionalCheckFailedException":  # no resource: nothing held
            raise


def mark_repaired(dynamodb: Any, table: str, booking_id: str, now: str) -> None:
    dynamodb.update_item(
        TableName=table,
        Key={RESOURCE_KEY: {"S": RECORD_KEY_PREFIX + booking_id}},
        UpdateExpression="SET repairedAt = :now",
        ConditionExpression=f"attribute_exists({RESOURCE_KEY})",
        ExpressionAttributeValues={":now": {"S": now}},
    )


def repair_one(
    dynamodb: Any, table: str, record: FailedCompensation, apply: bool, now: str
) -> BookingReport:
    report = BookingReport(record)
    for resource_key in record.still_held:
        where = f"{resource_key} (booking {record.booking_id})"
        try:
            state = hold_state(dynamodb, table, resource_key, record.booking_id)
            if apply and state == HELD:
                release(dynamodb, table, resource_key, record.booking_id)
                state = RELEASED
        except (ClientError, BotoCoreError) as error:
            raise ReleaseFailed(f"{where}: {error}") from error
        report.holds[resource_key] = state
    if apply:
        try:
            mark_repaired(dynamodb, table, record.booking_id, now)
        except (ClientError, BotoCoreError) as error:
            raise ReleaseFailed(f"record of booking {record.booking_id}: {error}") from error
        report.repaired = True
    return report


def table_of_state_machine(sfn: Any, state_machine_arn: str) -> str:
    """The table the saga's DynamoDB tasks write (every one writes the same table)."""
    try:
        definition = json.loads(
            sfn.describe_state_machine(stateMachineArn=state_machine_arn)["definition"]
        )
    except ClientError as error:
        if _code(error) in {"StateMachineDoesNotExist", "InvalidArn"}:
            raise RepairError(
                f"--state-machine-arn {state_machine_arn}: {_code(error)}; give an ARN of the "
                "stack output bookingStateMachineArns."
            ) from error
        raise
    for state in definition.get("States", {}).values():
        table = state.get("Parameters", {}).get("TableName")
        if state.get("Type") == "Task" and isinstance(table, str):
            return table
    raise RepairError(
        f"--state-machine-arn {state_machine_arn}: its definition writes no DynamoDB table; "
        "is it the booking saga?"
    )


def _region_of_arn(arn: str | None) -> str | None:
    parts = (arn or "").split(":")
    return parts[3] if len(parts) > 6 and parts[0] == "arn" and parts[2] == "states" else None


def _region(value: str | None) -> str:
    session = boto3.session.Session()
    region = value or session.region_name
    if not region:
        raise RepairError("--region: not given and no default region is configured.")
    known = {
        name
        for partition in session.get_available_partitions()
        for name in session.get_available_regions("dynamodb", partition_name=partition)
    }
    if region not in known:
        raise RepairError(f"--region {region}: not a region with DynamoDB, e.g. us-east-1.")
    return region


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tools.saga_repair",
        description="List the booking sagas whose compensation gave up, and release what they "
        "still hold (dry run unless --apply).",
    )
    saga = parser.add_mutually_exclusive_group(required=True)
    saga.add_argument(
        "--state-machine-arn", help="the saga's state machine (its table and region are read)"
    )
    saga.add_argument("--table", help="the saga's inventory table")
    parser.add_argument(
        "--region", help="the table's region (default: the ARN's, else the configured one)"
    )
    parser.add_argument(
        "--booking-id",
        action="append",
        default=[],
        help="only this booking (repeatable); also shows it once repaired",
    )
    parser.add_argument("--apply", action="store_true", help="release the holds (default: list)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser.parse_args(argv)


def _print_text(reports: list[BookingReport], table: str, apply: bool) -> None:
    print(f"{len(reports)} booking(s) with a failed compensation in {table}")
    for report in reports:
        record = report.record
        print(
            f"  {record.booking_id}: failed at {record.failed_step or '?'}, release of "
            f"{record.release_failed or '?'} gave up at {record.failed_at or '?'}"
            + (f", repaired at {record.repaired_at}" if record.repaired_at else "")
        )
        print(f"    execution {record.execution_arn}")
        for resource_key, state in report.holds.items():
            print(f"    {resource_key}: {state}")
    held = sum(state == HELD for report in reports for state in report.holds.values())
    if not apply and held:
        print(f"dry run: nothing changed; {held} hold(s) to release: re-run with --apply")


def main(argv: Sequence[str] | None = None) -> int:
    arguments = _arguments(argv)
    reports: list[BookingReport] = []
    code = EXIT_DONE
    try:
        if any(not booking_id for booking_id in arguments.booking_id):
            raise RepairError("--booking-id: give a booking id, e.g. the one the alarm's saga ran.")
        if arguments.state_machine_arn is not None and arguments.region is None:
            arguments.region = _region_of_arn(arguments.state_machine_arn)
            if arguments.region is None:
                raise RepairError(
                    f"--state-machine-arn {arguments.state_machine_arn}: not a state machine "
                    "ARN (arn:aws:states:<region>:<account>:stateMachine:<name>)."
                )
        region = _region(arguments.region)
        config = Config(retries={"mode": "standard", "total_max_attempts": CALL_ATTEMPTS})
        dynamodb = boto3.client("dynamodb", region_name=region, config=config)
        table = arguments.table or table_of_state_machine(
            boto3.client("stepfunctions", region_name=region, config=config),
            arguments.state_machine_arn,
        )
        now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        for record in failed_compensations(dynamodb, table, arguments.booking_id):
            reports.append(repair_one(dynamodb, table, record, arguments.apply, now))
    except RepairError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except ReleaseFailed as error:
        print(f"error: {error}; nothing more was done, re-run to continue.", file=sys.stderr)
        code = EXIT_FAILED
    except (ClientError, BotoCoreError) as error:
        print(f"error: AWS call failed: {error}", file=sys.stderr)
        code = EXIT_FAILED
    if arguments.json:
        bookings = [report.to_dict() for report in reports]
        print(json.dumps({"applied": arguments.apply, "bookings": bookings}, indent=2))
    else:
        _print_text(reports, arguments.table or arguments.state_machine_arn, arguments.apply)
    return code


if __name__ == "__main__":
    sys.exit(main())
