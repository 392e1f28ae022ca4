"""A drill that cannot fail proves nothing: every goal of every drill is missed on a copy of the
project with the mechanism behind it removed (`drills.sabotage.CATALOGUE`).

Each copy runs in a process of its own with the drill's small arguments; the unsabotaged project
meets every goal with the same arguments (tests/handlers/test_drills.py).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from drills import chaos, load, sabotage


def test_every_goal_has_a_sabotage_that_misses_it() -> None:
    goals = {"chaos": {g.key for g in chaos.GOALS}, "load": {g.key for g in load.GOALS}}
    covered: dict[str, set[str]] = {"chaos": set(), "load": set()}
    for entry in sabotage.CATALOGUE:
        unknown = set(entry.misses) - goals[entry.drill]
        assert not unknown, f"{entry.name} names goals its drill does not have: {unknown}"
        covered[entry.drill] |= set(entry.misses)
    for drill, keys in goals.items():
        assert keys <= covered[drill], f"{drill} goals with no sabotage: {keys - covered[drill]}"


@pytest.mark.parametrize("entry", sabotage.CATALOGUE, ids=lambda entry: entry.name)
def test_each_patch_fits_the_code_exactly_once(entry: sabotage.Sabotage) -> None:
    for patch in entry.patches:
        text = (sabotage.ROOT / patch.path).read_text(encoding="utf-8")
        assert text.count(patch.old) == 1, f"{entry.name}: {patch.path} no longer has {patch.old!r}"


def test_a_patch_that_does_not_fit_is_refused(tmp_path: Path) -> None:
    (tmp_path / "handlers").mkdir()
    (tmp_path / "handlers" / "x.py").write_text("a = 1\na = 1\n")
    with pytest.raises(ValueError, match="occurs 2 times"):
        sabotage.apply([sabotage.Patch("handlers/x.py", "a = 1", "a = 2")], tmp_path)
    with pytest.raises(ValueError, match="occurs 0 times"):
        sabotage.apply([sabotage.Patch("handlers/x.py", "b = 1", "b = 2")], tmp_path)


@pytest.mark.parametrize("entry", sabotage.CATALOGUE, ids=lambda entry: entry.name)
def test_the_drill_misses_the_goal_on_the_sabotaged_copy(
    entry: sabotage.Sabotage, tmp_path: Path
) -> None:
    copy = sabotage.make_copy(entry, tmp_path / "copy")
    out = tmp_path / "result.json"
    done = sabotage.run_drill(copy, entry.argv, out)
    assert done.returncode == 1, f"exit {done.returncode}\n{done.stdout}\n{done.stderr[-3000:]}"
    result = json.loads(out.read_text())
    for key in entry.misses:
        assert key in result["missed"], f"{key} not missed: {result['verdicts']}"
        assert f"MISS {key} = " in done.stdout
