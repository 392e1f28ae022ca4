"""`python -m tools.saga_repair` against what the real saga leaves behind: moto's Step Functions
interpreter runs the deployed definition, a hotel release keeps failing until the compensation
gives up, and the tool lists the booking, fails cleanly while the fault lasts, then releases the
hold once, however often it is run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from handler_test_support import REGION
from moto import mock_aws
from resilient_serverless.saga_definition import (
    COMPENSATION_FAILED_ERROR,
    FAILED_COMPENSATION_KEY_PREFIX,
    RESOURCE_KEY,
)
from saga_support import EXECUTE_STATE_MACHINES, FailingReleases, RetryClock, SagaWorld

from tools import saga_repair


@pytest.fixture
def world() -> Iterator[SagaWorld]:
    with mock_aws(config=EXECUTE_STATE_MACHINES):
        yield SagaWorld(REGION)


def repair(
    capsys: pytest.CaptureFixture[str], world: SagaWorld, *extra: str
) -> tuple[int, dict[str, Any], str]:
    """Run the tool with a JSON report: (exit code, report, stderr)."""
    code = saga_repair.main(["--table", world.table_name, "--region", REGION, "--json", *extra])
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if captured.out else {}, captured.err


def stuck_booking(
    world: SagaWorld, monkeypatch: pytest.MonkeyPatch, booking_id: str
) -> FailingReleases:
    """A booking that failed at the car whose hotel release never goes through."""
    RetryClock().install(monkeypatch)
    world.stock({"car": 0})
    failing = FailingReleases("hotel#h-1", times=10_000, booking_id=booking_id)
    failing.install(monkeypatch)
    run = world.book(booking_id)
    assert (run.status, run.error) == ("FAILED", COMPENSATION_FAILED_ERROR), run
    assert world.holds("hotel") == [booking_id]
    return failing


def test_the_tool_releases_what_a_failed_compensation_left_once(
    world: SagaWorld, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    failing = stuck_booking(world, monkeypatch, "b-stuck")

    # Dry run (the default): lists the booking and what it holds, changes nothing.
    code, report, _ = repair(capsys, world)
    assert code == saga_repair.EXIT_DONE
    assert report["applied"] is False
    (booking,) = report["bookings"]
    assert booking["bookingId"] == "b-stuck"
    assert booking["failedStep"] == "car" and booking["releaseFailed"] == "hotel"
    assert booking["holds"] == {"hotel#h-1": "held"}
    assert world.holds("hotel") == ["b-stuck"]

    # While the table still refuses the release, --apply fails and marks nothing repaired.
    refused_before = failing.refused
    code, report, error = repair(capsys, world, "--apply")
    assert code == saga_repair.EXIT_FAILED
    assert failing.refused == refused_before + saga_repair.CALL_ATTEMPTS
    assert "hotel#h-1" in error and "ProvisionedThroughputExceededException" in error
    assert world.holds("hotel") == ["b-stuck"]
    (record,) = world.records()
    assert "repairedAt" not in record

    # The fault is over: --apply releases the hold and marks the record repaired.
    failing.left = 0
    code, report, _ = repair(capsys, world, "--apply")
    assert code == saga_repair.EXIT_DONE
    (booking,) = report["bookings"]
    assert booking["holds"] == {"hotel#h-1": "released"}
    assert booking["repaired"] is True
    assert world.holds("hotel") == []
    (record,) = world.records()
    assert "repairedAt" in record

    # Nothing is left to list, and running again changes nothing.
    code, report, _ = repair(capsys, world, "--apply")
    assert (code, report["bookings"]) == (saga_repair.EXIT_DONE, [])
    assert world.holds("hotel") == []


def test_a_repaired_record_can_still_be_shown_by_booking_id(
    world: SagaWorld, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    failing = stuck_booking(world, monkeypatch, "b-again")
    failing.left = 0
    assert repair(capsys, world, "--apply")[0] == saga_repair.EXIT_DONE
    # Released already: --apply by id releases nothing more (the hold is gone) and says so.
    code, report, _ = repair(capsys, world, "--booking-id", "b-again", "--apply")
    assert code == saga_repair.EXIT_DONE
    (booking,) = report["bookings"]
    assert booking["holds"] == {"hotel#h-1": "not held"}
    assert booking["repairedAt"]


def test_text_report_says_what_a_dry_run_would_do(
    world: SagaWorld, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stuck_booking(world, monkeypatch, "b-text")
    code = saga_repair.main(["--table", world.table_name, "--region", REGION])
    out = capsys.readouterr().out
    assert code == saga_repair.EXIT_DONE
    assert "b-text" in out and "hotel#h-1" in out and "held" in out
    assert "--apply" in out  # how to act on it
    assert world.holds("hotel") == ["b-text"]


def test_the_state_machine_arn_names_the_table_and_the_region(
    world: SagaWorld, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """What the alarm leads to: the stack output bookingStateMachineArns, not a table name."""
    stuck_booking(world, monkeypatch, "b-arn").left = 0
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    argv = ["--state-machine-arn", world.state_machine_arn, "--apply", "--json"]
    assert saga_repair.main(argv) == saga_repair.EXIT_DONE
    (booking,) = json.loads(capsys.readouterr().out)["bookings"]
    assert booking["bookingId"] == "b-arn" and booking["holds"] == {"hotel#h-1": "released"}
    assert world.holds("hotel") == []


def test_a_missing_table_option_exits_2_naming_it(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        saga_repair.main(["--region", REGION])
    assert stopped.value.code == saga_repair.EXIT_USAGE
    assert "--table" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--table", "bookings", "--region", "mars-1"], "--region"),
        (["--table", "no-such-table", "--region", REGION], "--table"),
        (["--table", "bookings", "--region", REGION, "--booking-id", "b-404"], "--booking-id"),
        (["--table", "bookings", "--region", REGION, "--booking-id", ""], "--booking-id"),
        (["--state-machine-arn", "booking-saga"], "--state-machine-arn"),
        (
            ["--state-machine-arn", f"arn:aws:states:{REGION}:123456789012:stateMachine:gone"],
            "--state-machine-arn",
        ),
    ],
)
def test_bad_arguments_exit_2_naming_the_option(
    world: SagaWorld, capsys: pytest.CaptureFixture[str], argv: list[str], named: str
) -> None:
    assert saga_repair.main(argv) == saga_repair.EXIT_USAGE
    error = capsys.readouterr().err
    assert error.startswith(f"error: {named}"), error


def test_the_record_key_is_the_definitions() -> None:
    assert saga_repair.RECORD_KEY_PREFIX == FAILED_COMPENSATION_KEY_PREFIX
    assert saga_repair.RESOURCE_KEY == RESOURCE_KEY
