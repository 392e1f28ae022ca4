"""The repository's own prod stack passes its own policy pack, in every shape the engine can
send it (offline/modes.py)."""

from __future__ import annotations

import pytest
from offline_harness import OfflineRun, prod_regions

from offline.modes import MODES


@pytest.mark.parametrize("mode", MODES)
def test_prod_stack_passes_with_no_mandatory_violation(
    prod_runs: dict[str, OfflineRun], mode: str
) -> None:
    run = prod_runs[mode]
    assert run.exit_code == 0, run.describe()
    assert run.mandatory == [], run.describe()
    assert f"Previewing {mode} of stack prod" in run.stdout
    assert "Result: 0 mandatory violation(s)" in run.stdout


@pytest.mark.parametrize("mode", MODES)
def test_every_policy_gives_a_verdict_at_preview(
    prod_runs: dict[str, OfflineRun], mode: str
) -> None:
    """No policy of the pack fell back to "can't run policy ... during preview"."""
    run = prod_runs[mode]
    cant_run = [v for v in run.violations if "can't run policy" in v["message"]]
    assert cant_run == [], run.describe()
    assert "can't run policy" not in run.stdout
    assert run.report is not None
    assert run.report["summary"]["cant_run_at_preview"] == 0
    assert len(run.report["policies"]) > 0


@pytest.mark.parametrize("mode", MODES)
def test_every_region_appears_in_the_tree_and_the_report(
    prod_runs: dict[str, OfflineRun], mode: str
) -> None:
    run = prod_runs[mode]
    assert run.report is not None
    regions = prod_regions()
    assert len(regions) >= 2
    for region in regions:
        assert f"[{region}]" in run.stdout, f"no group for {region} in the tree\n{run.stdout}"
        assert run.report["summary"]["resources"]["by_region"].get(region, 0) > 0
        assert region in run.report["summary"]["regions"]
    regional = {r["region"] for r in run.report["resources"] if r["region"]}
    assert set(regions) <= regional


def test_preview_mode_leaves_computed_values_unknown(prod_runs: dict[str, OfflineRun]) -> None:
    """A new stack's preview: a queue URL computed by AWS is unknown, a literal timeout is not."""
    preview, update = prod_runs["preview"].report, prod_runs["update"].report
    assert preview is not None and update is not None
    sentinel = preview["summary"]["unknown_value"]

    def inputs_of(report: dict, type_token: str) -> list[dict]:
        return [r["inputs"] for r in report["resources"] if r["type"] == type_token]

    preview_mappings = inputs_of(preview, "aws:lambda/eventSourceMapping:EventSourceMapping")
    update_mappings = inputs_of(update, "aws:lambda/eventSourceMapping:EventSourceMapping")
    assert preview_mappings and all(m["eventSourceArn"] == sentinel for m in preview_mappings)
    # The task queue's worker and the booking-events stream's consumer, in every region.
    sources = sorted(m["eventSourceArn"].split(":")[2] for m in update_mappings)
    assert sources == sorted(["kinesis", "sqs"] * len(prod_regions()))
    assert all(":123456789012:" in m["eventSourceArn"] for m in update_mappings)
    queues = inputs_of(preview, "aws:sqs/queue:Queue")
    assert queues and all(isinstance(q["messageRetentionSeconds"], float) for q in queues)


def test_resilience_summary_reports_each_region(prod_runs: dict[str, OfflineRun]) -> None:
    run = prod_runs["preview"]
    assert run.report is not None
    summary = run.report["summary"]["regions"]
    for region in prod_regions():
        numbers = summary[region]
        assert numbers["timeout_chains"], region
        assert all(chain["ok"] is True for chain in numbers["timeout_chains"])
        assert numbers["queue_consumers"] and all(
            c["ok"] is True for c in numbers["queue_consumers"]
        )
        assert numbers["failovers"] and all(
            f["estimated_failover_s"] is not None and f["health_check"]
            for f in numbers["failovers"]
        )
    assert "Resilience summary (per region):" in run.stdout
    assert "timeout chain" in run.stdout and "failover" in run.stdout
