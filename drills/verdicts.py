"""Each drill judges itself: a goal per key, a verdict line per key, exit 1 when any key misses.

A goal is data: the key it judges, the goal as a person reads it, and the test. The drills keep
their goals beside their keys (`chaos.GOALS`, `load.GOALS`), the README of drills/ lists them,
and `tests/handlers/test_drill_sabotage.py` proves each one can fail: for every goal there is a
copy of the project with the mechanism behind it removed, on which the drill misses that goal.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Result = Mapping[str, Any]


@dataclass(frozen=True)
class Goal:
    key: str
    #: The goal in words, as the verdict line shows it ("0", "<= 1", ">= 0.9").
    wanted: str
    test: Callable[[Result], bool]
    #: What the goal protects, for the README and the verdict line of a miss.
    why: str


@dataclass(frozen=True)
class Verdict:
    goal: Goal
    value: Any
    met: bool

    def line(self) -> str:
        mark = "ok  " if self.met else "MISS"
        shown = f"{self.value:.3f}" if isinstance(self.value, float) else str(self.value)
        text = f"{mark} {self.goal.key} = {shown} (goal: {self.goal.wanted})"
        return text if self.met else f"{text}: {self.goal.why}"


def zero(key: str, why: str) -> Goal:
    return Goal(key, "0", lambda result: result[key] == 0, why)


def at_most(key: str, limit: float, why: str) -> Goal:
    return Goal(key, f"<= {limit:g}", lambda result: result[key] <= limit, why)


def at_least(key: str, limit: float, why: str) -> Goal:
    return Goal(key, f">= {limit:g}", lambda result: result[key] >= limit, why)


def judge(result: Result, goals: Sequence[Goal]) -> list[Verdict]:
    return [Verdict(goal, result.get(goal.key), goal.test(result)) for goal in goals]


def missed(verdicts: Sequence[Verdict]) -> list[str]:
    """The keys whose goal was missed."""
    return [verdict.goal.key for verdict in verdicts if not verdict.met]


def report(verdicts: Sequence[Verdict]) -> dict[str, Any]:
    """The verdicts as the JSON report holds them."""
    return {
        "verdicts": {
            v.goal.key: {"goal": v.goal.wanted, "met": v.met, "value": v.value} for v in verdicts
        },
        "missed": missed(verdicts),
    }


def lines(verdicts: Sequence[Verdict]) -> str:
    head = "verdicts: every goal met" if not missed(verdicts) else "verdicts: goals MISSED"
    return "\n".join([head, *(verdict.line() for verdict in verdicts)])
