"""Checks the pack cannot decide at preview are said out loud, and `--mode both` shows which
findings only the known-outputs (update) shape could see.

`deferred-until-update` builds a state machine definition and a redrive policy inside
`<output>.apply(...)`: both JSON documents are unknown at preview. Before, the preview passed
them in silence; now each is an advisory "decided at `pulumi up`" naming the resource and the
property, and the update shape reports both as mandatory violations.
"""

from __future__ import annotations

from pathlib import Path

from offline_harness import PROGRAMS, run_offline

PROGRAM = PROGRAMS / "deferred-until-update"


def _deferred(report: dict[str, object]) -> set[tuple[str, str, str]]:
    summary = report["summary"]
    assert isinstance(summary, dict)
    entries = summary["deferred"]
    assert isinstance(entries, list)
    return {(e["policy"], e["urn"].rsplit("::", 1)[-1], e["property"]) for e in entries}


def test_preview_lists_every_deferred_check(tmp_path: Path) -> None:
    run = run_offline("--cwd", PROGRAM, "--stack", "dev", "--mode", "preview", out_dir=tmp_path)
    assert run.report is not None, run.describe()
    deferred = _deferred(run.report)
    for region in ("us-east-1", "eu-west-1"):
        assert ("step-functions-retry-catch", f"trips-{region}", "definition") in deferred
        assert ("sqs-dead-letter-queue", f"jobs-{region}-queue", "redrivePolicy") in deferred
    # Deferred checks are advisory notes, not verdicts: the preview passes both defects.
    assert not {"step-functions-retry-catch", "sqs-dead-letter-queue"} & run.violated_policies
    assert run.report["summary"]["deferred_checks"] == len(run.report["summary"]["deferred"])
    assert "Decided at `pulumi up`" in run.stdout
    assert "`definition` of aws:sfn/stateMachine:StateMachine  trips-us-east-1" in run.stdout


def test_update_shape_sees_what_preview_defers(tmp_path: Path) -> None:
    run = run_offline("--cwd", PROGRAM, "--stack", "dev", "--mode", "update", out_dir=tmp_path)
    assert run.report is not None, run.describe()
    mandatory = {(v["policy"], v["urn"].rsplit("::", 1)[-1]) for v in run.mandatory}
    assert ("step-functions-retry-catch", "trips-us-east-1") in mandatory
    assert ("sqs-dead-letter-queue", "jobs-eu-west-1-queue") in mandatory
    deferred = run.report["summary"]["deferred"]
    assert not [d for d in deferred if d["policy"] == "sqs-dead-letter-queue"]


def test_mode_both_prints_one_verdict_table(tmp_path: Path) -> None:
    run = run_offline("--cwd", PROGRAM, "--stack", "dev", "--mode", "both", out_dir=tmp_path)
    assert run.report is not None, run.describe()
    assert run.exit_code == 1
    both = run.report["both"]
    rows = {(r["policy"], r["urn"].rsplit("::", 1)[-1]): r for r in both["verdicts"]}
    machine = rows[("step-functions-retry-catch", "trips-eu-west-1")]
    assert (machine["preview"], machine["update"], machine["updateOnly"]) == (False, True, True)
    queue = rows[("sqs-dead-letter-queue", "jobs-us-east-1-queue")]
    assert queue["updateOnly"] and queue["level"] == "mandatory"
    assert "maxReceiveCount is 50" in queue["message"]
    # A finding both shapes see is not "update only".
    assert any(r["preview"] and r["update"] and not r["updateOnly"] for r in both["verdicts"])
    assert both["updateOnly"] == sum(1 for r in both["verdicts"] if r["updateOnly"])
    assert "Verdicts by shape" in run.stdout
    assert "UPDATE ONLY" in run.stdout
    assert run.report["summary"]["mode"] == "both"
