"""The drills, small and bounded, on a moto server on 127.0.0.1.

The chaos drill's scenario is shortened (windows of 2 s, 2 receives before the DLQ) so that it
takes seconds; what it must show is the same as at N >= 1000: no task lost, none stuck PENDING,
none done twice, one identity per idempotency key, one probe per half-open window, and the
breaker keeping calls off the broken table compared with the control pass.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from drills import chaos, load
from drills.__main__ import main


def test_chaos_drill_loses_nothing_and_probes_once_per_window() -> None:
    scenario = chaos.Scenario(
        tasks=40,
        fail_s=2.0,
        slow_s=2.0,
        max_receive_count=2,
        clients=8,
        api_containers=2,
        worker_containers=1,
    )
    result = chaos.run(scenario.tasks, scenario)
    assert list(result) == list(chaos.KEYS)
    assert result["tasks_submitted"] == 40
    assert result["containers"] == 6  # two regions, two API and one worker container each
    assert result["tasks_lost"] == 0
    assert result["tasks_stuck_pending"] == 0
    assert result["tasks_done"] + result["tasks_failed_visible"] == 40
    assert result["tasks_processed_twice"] == 0
    assert result["duplicate_tasks_from_retries"] == 0
    assert result["max_probes_per_half_open_window"] == 1
    assert result["invocation_overruns"] == 0
    assert result["dlq_replayed"] == result["dlq_messages"]
    assert result["downstream_calls_while_open"] < result["downstream_calls_control"]


def test_load_drill_reports_latency_and_status_codes(tmp_path: Path) -> None:
    out = tmp_path / "load.json"
    assert main(["load", "--rps", "10", "--seconds", "1", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["submits"] == 10
    assert result["status_codes"] == {"202": 10}
    assert result["tasks_lost"] == 0 and result["done"] == 10
    assert result["latency_p50_ms"] <= result["latency_p99_ms"] <= result["latency_max_ms"]
    assert load.percentile([1.0, 2.0, 3.0], 0.5) == 2.0


@pytest.mark.parametrize(
    ("argv", "named"),
    [(["load", "--rps", "0", "--seconds", "1"], "--rps"), (["chaos", "--tasks", "x"], "--tasks")],
)
def test_bad_arguments_name_the_option(
    argv: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as raised:
        main(argv)
    assert raised.value.code == 2
    assert named in capsys.readouterr().err
