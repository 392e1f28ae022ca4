"""The drills, small and bounded, on a moto server on 127.0.0.1.

The chaos drill runs with the same small arguments the sabotaged copies get
(`drills.sabotage.CHAOS_ARGV`): on the project as it is, every goal is met; on each copy with a
mechanism removed, the goal behind it is missed (test_drill_sabotage.py).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from drills import chaos, load, sabotage
from drills.__main__ import main
from drills.ledger import Ledger, Request, percentile_ms
from drills.schedule import AFTER, BEFORE, MIN_FAULT_SHARE, Phase, Schedule, chaos_schedule
from drills.verdicts import judge, missed, zero


def test_chaos_drill_meets_every_goal_open_loop(tmp_path: Path) -> None:
    out = tmp_path / "chaos.json"
    assert main([*sabotage.CHAOS_ARGV, "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["missed"] == []
    assert set(chaos.KEYS) <= set(result)
    per_phase = result["tasks_per_phase"]
    assert list(per_phase) == ["before", "fail", "slow", "after"]
    assert sum(per_phase.values()) == result["tasks_submitted"] == 60
    # Open loop: the faults meet work as the schedule meant (two thirds of the timeline).
    assert per_phase["fail"] + per_phase["slow"] >= 0.6 * 60
    assert result["tasks_accepted"] == 60
    assert result["tasks_done"] + result["tasks_failed_visible"] == 60
    assert result["tasks_done_after_replay"] == 60
    assert result["calls_during_faults"] < result["calls_during_faults_control"]
    assert result["containers"] == 10  # two regions, three API and two worker containers each


def test_load_drill_counts_done_apart_from_failed(tmp_path: Path) -> None:
    out = tmp_path / "load.json"
    assert main([*sabotage.LOAD_ARGV, "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["submits"] == 10
    assert result["status_codes"] == {"202": 10}
    assert result["tasks_lost"] == 0 and result["done"] == 10 and result["tasks_failed"] == 0
    assert result["achieved_rps"] >= 9.0  # sent on schedule, whatever the answers did
    assert result["latency_p50_ms"] <= result["latency_p99_ms"] <= result["latency_max_ms"]
    assert result["missed"] == []


def test_schedule_sends_every_task_and_splits_them_by_phase() -> None:
    schedule = chaos_schedule(1000, 40, ("fail", "slow"))
    arrivals = schedule.arrivals()
    assert len(arrivals) == 1000
    assert arrivals == sorted(arrivals) and arrivals[-1] < schedule.seconds == 25.0
    per_phase = schedule.per_phase(arrivals)
    assert per_phase == {BEFORE: 167, "fail": 333, "slow": 333, AFTER: 167}
    assert (per_phase["fail"] + per_phase["slow"]) / 1000 >= MIN_FAULT_SHARE
    uneven = Schedule((Phase(BEFORE, 1.0, 3.3), Phase("fail", 1.0, 3.3), Phase(AFTER, 1.0, 3.4)))
    assert len(uneven.arrivals()) == 10  # rounding per phase would give 9
    assert schedule.phase_at(-1) == BEFORE and schedule.phase_at(99) == AFTER


def _item(index: int, task_id: str, status: str) -> dict[str, dict[str, str]]:
    request = {"taskType": "sum", "parameters": {"numbers": [index, 1]}}
    return {
        "taskId": {"S": task_id},
        "status": {"S": status},
        "request": {"S": json.dumps(request)},
    }


def test_ledger_counts_per_request_so_duplicates_never_cancel_losses() -> None:
    requests = [Request(n, f"k{n}", "eu-west-1", n * 0.1) for n in range(4)]
    for request in requests:
        request.accepted_s = 1.0
        request.task_ids.add(f"t{request.index}")
    items = [
        _item(0, "t0", "SUCCEEDED"),
        _item(1, "t1", "SUCCEEDED"),
        _item(1, "t1-again", "PENDING"),  # request 1 made two tasks
        # request 2 acknowledged, nothing stored: lost
        _item(3, "t3", "FAILED"),
        {"taskId": {"S": "health"}, "status": {"S": "OK"}},  # not a drill request
    ]
    counts = Ledger(requests).count(items, {"t0": 2})
    assert counts.lost == 1
    assert counts.duplicate_tasks == 1 and counts.duplicate_computations == 1
    assert counts.duplicated == 2
    assert counts.done == 2 and counts.failed == 1 and counts.pending == 0
    assert counts.unfinished == 2  # the lost one and the failed one
    # A totals difference would read submitted - done - failed - pending = 1 here only by luck.
    assert percentile_ms([0.1, 0.2, 0.3, 0.4], 0.5) == 200.0
    assert percentile_ms([], 0.5) is None


def test_verdicts_name_the_missed_key() -> None:
    goals = (zero("a", "why a"), zero("b", "why b"))
    verdicts = judge({"a": 0, "b": 2}, goals)
    assert missed(verdicts) == ["b"]
    assert verdicts[1].line() == "MISS b = 2 (goal: 0): why b"


def test_chaos_goals_without_control_leave_out_the_breaker_comparison() -> None:
    keys = {g.key for g in chaos.goals(chaos.Scenario(tasks=10, control=False))}
    assert "breaker_cut" not in keys and "tasks_lost" in keys
    assert chaos.breaker_cut(25, 100) == 0.75 and chaos.breaker_cut(0, 0) == 0.0
    assert {g.key for g in load.GOALS} == {"tasks_lost", "tasks_failed"}


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["load", "--rps", "0", "--seconds", "1"], "--rps"),
        (["chaos", "--tasks", "x"], "--tasks"),
        (["chaos", "--tasks", "5", "--lost-reply-rate", "2"], "--lost-reply-rate"),
        (["sabotage", "no-such-thing"], "no sabotage named"),
    ],
)
def test_bad_arguments_name_the_option(
    argv: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as raised:
        main(argv)
    assert raised.value.code == 2
    assert named in capsys.readouterr().err
