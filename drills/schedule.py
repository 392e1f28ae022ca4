"""Open-loop arrivals: when each logical request is due, fixed before the drill starts.

A closed-loop client (a thread that submits its next task only when the last one was accepted)
stops submitting while the system is failing, so the faults meet almost no new work and a larger
drill exposes *fewer* tasks, not more. Here every request has an intended send time taken from a
schedule of phases, each with its own rate; a request still being retried never delays the next
arrival. Latency is measured from the intended send time, so time spent waiting for a free
client or container counts (no coordinated omission).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

#: Names of the phases that are not fault windows.
BEFORE: Final[str] = "before"
AFTER: Final[str] = "after"
#: At least this share of a chaos drill's requests must first be sent inside a fault window,
#: or the drill has not tested what it claims to.
MIN_FAULT_SHARE: Final[float] = 1 / 3


@dataclass(frozen=True)
class Phase:
    """A window of the drill: its name, how long it lasts and how many requests arrive per second."""

    name: str
    seconds: float
    rps: float

    def __post_init__(self) -> None:
        if self.seconds <= 0:
            raise ValueError(f"phase {self.name}: seconds must be > 0, got {self.seconds}")
        if self.rps < 0:
            raise ValueError(f"phase {self.name}: rps must be >= 0, got {self.rps}")


@dataclass(frozen=True)
class Schedule:
    phases: tuple[Phase, ...]

    @property
    def seconds(self) -> float:
        return sum(phase.seconds for phase in self.phases)

    def phase_at(self, elapsed: float) -> str:
        """The phase at `elapsed` seconds from the start (`after` once the schedule ended)."""
        start = 0.0
        for phase in self.phases:
            if start <= elapsed < start + phase.seconds:
                return phase.name
            start += phase.seconds
        return AFTER if elapsed >= start else BEFORE

    def window(self, name: str) -> tuple[float, float]:
        """The phase's (start, end) in seconds from the start of the schedule."""
        start = 0.0
        for phase in self.phases:
            if phase.name == name:
                return start, start + phase.seconds
            start += phase.seconds
        raise KeyError(name)

    def fault_phases(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.phases if p.name not in (BEFORE, AFTER))

    def arrivals(self) -> list[float]:
        """Intended send times (seconds from the start), evenly spaced within each phase."""
        times: list[float] = []
        start = 0.0
        sent = 0.0  # requests due so far, unrounded: rounding per phase would drift
        for phase in self.phases:
            due = sent + phase.seconds * phase.rps
            count = round(due) - round(sent)
            times.extend(start + (n + 0.5) * phase.seconds / count for n in range(count))
            start, sent = start + phase.seconds, due
        return times

    def per_phase(self, arrivals: Sequence[float]) -> dict[str, int]:
        """Requests first sent in each phase (every phase named, zeros included)."""
        counted = Counter(self.phase_at(at) for at in arrivals)
        return {phase.name: counted.get(phase.name, 0) for phase in self.phases}


def fault_share(per_phase: dict[str, int], schedule: Schedule) -> float:
    total = sum(per_phase.values())
    faulty = sum(per_phase.get(name, 0) for name in schedule.fault_phases())
    return faulty / total if total else 0.0


def chaos_schedule(tasks: int, rps: float, faults: Sequence[str]) -> Schedule:
    """`tasks` requests at a steady `rps`, in a window split into a healthy start, one window per
    fault, and a healthy end, where the fault windows take two thirds of the time (and so of the
    requests): before 1/6, each fault (2/3)/len(faults), after 1/6."""
    if tasks < 1 or rps <= 0:
        raise ValueError(f"chaos_schedule: tasks >= 1 and rps > 0, got tasks={tasks}, rps={rps}")
    total_s = tasks / rps
    fault_s = total_s * (2 / 3) / len(faults)
    phases = (
        Phase(BEFORE, total_s / 6, rps),
        *(Phase(name, fault_s, rps) for name in faults),
        Phase(AFTER, total_s / 6, rps),
    )
    return Schedule(phases)
