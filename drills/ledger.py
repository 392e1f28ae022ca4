"""The drill's own ledger: one entry per logical request, and the keys counted from it.

Every figure about tasks is counted per logical request, never as a difference of totals (a
difference lets duplicates cancel losses). A request is one client's intent to run one task: its
body carries the request's index (`parameters.numbers[0]`), so every item the table holds can be
traced back to the request that made it, however the API keyed it.

    lost        the client was answered 202, but the table has no task for the request
    done        its task reads SUCCEEDED
    failed      its task reads FAILED or ENQUEUE_FAILED, as a client polling it would see
    pending     its task still reads PENDING once the queue is drained
    duplicated  the request made more than one task, or a task of it was computed more than once
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .schedule import Schedule

FAILED_STATUSES = frozenset({"FAILED", "ENQUEUE_FAILED"})


@dataclass
class Request:
    index: int
    key: str
    region: str
    #: When the schedule meant it to be sent, in seconds from the drill's start.
    intended_s: float
    #: When it was first and last sent (None until it was).
    first_sent_s: float | None = None
    attempts: int = 0
    #: When a 202 reached the client (None while none has).
    accepted_s: float | None = None
    #: Every task id a 202 carried, whether or not the reply reached the client.
    task_ids: set[str] = field(default_factory=set)
    last_answer: str = ""

    @property
    def body(self) -> str:
        return json.dumps({"taskType": "sum", "parameters": {"numbers": [self.index, 1]}})

    def note_send(self, at_s: float) -> None:
        if self.first_sent_s is None:
            self.first_sent_s = at_s
        self.attempts += 1


def request_index(item: Mapping[str, Any]) -> int | None:
    """The index of the drill request a task item was made for (None for other items)."""
    try:
        request = json.loads(item["request"]["S"])
        index = request["parameters"]["numbers"][0]
    except (KeyError, TypeError, ValueError, IndexError):
        return None
    return index if isinstance(index, int) else None


@dataclass(frozen=True)
class Counts:
    accepted: int
    done: int
    failed: int
    pending: int
    lost: int
    duplicate_tasks: int
    duplicate_computations: int
    duplicated: int
    #: Accepted requests whose task does not read SUCCEEDED.
    unfinished: int


def percentile_ms(values: Sequence[float], share: float) -> float | None:
    """The `share` percentile of seconds, in milliseconds (None without values)."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)] * 1000, 1)


@dataclass
class Ledger:
    requests: list[Request]
    #: The monotonic time the requests' seconds count from.
    started: float = 0.0

    @classmethod
    def from_schedule(cls, schedule: Schedule, regions: Sequence[str], label: str) -> Ledger:
        return cls(
            [
                Request(n, f"{label}-{n}", regions[n % len(regions)], at)
                for n, at in enumerate(schedule.arrivals())
            ]
        )

    def per_phase(self, schedule: Schedule) -> dict[str, int]:
        """Requests by the phase they were first *sent* in (not meant to be: a client that
        could not keep to the schedule moves its requests out of the fault windows)."""
        return schedule.per_phase(
            [r.first_sent_s for r in self.requests if r.first_sent_s is not None]
        )

    def achieved_rps(self, schedule: Schedule) -> float:
        """First sends per second inside the schedule's window: what was really offered."""
        inside = sum(
            1
            for r in self.requests
            if r.first_sent_s is not None and r.first_sent_s < schedule.seconds
        )
        return round(inside / schedule.seconds, 1)

    def send_lags(self) -> list[float]:
        return [r.first_sent_s - r.intended_s for r in self.requests if r.first_sent_s is not None]

    def accept_latencies(self) -> list[float]:
        """From the intended send time to the 202 that reached the client."""
        return [r.accepted_s - r.intended_s for r in self.requests if r.accepted_s is not None]

    def count(
        self,
        items: Sequence[Mapping[str, Any]],
        completions: Mapping[str, int],
        status_of: Callable[[Mapping[str, Any]], str] | None = None,
    ) -> Counts:
        """Classify every request from the table's items and the computations seen.

        `status_of(item)` gives the status a client polling the task would read (the raw
        `status` attribute when not given).
        """
        read = status_of or (lambda item: item["status"]["S"])
        by_request: dict[int, list[Mapping[str, Any]]] = {}
        for item in items:
            index = request_index(item)
            if index is not None:
                by_request.setdefault(index, []).append(item)
        counted: Counter[str] = Counter()
        for request in self.requests:
            tasks = by_request.get(request.index, [])
            acknowledged = bool(request.task_ids)
            if request.accepted_s is not None:
                counted["accepted"] += 1
            computed_twice = any(completions.get(item["taskId"]["S"], 0) > 1 for item in tasks)
            counted["duplicate_tasks"] += len(tasks) > 1
            counted["duplicate_computations"] += computed_twice
            counted["duplicated"] += len(tasks) > 1 or computed_twice
            statuses = {read(item) for item in tasks}
            counted["unfinished"] += request.accepted_s is not None and "SUCCEEDED" not in statuses
            if not tasks:
                counted["lost"] += acknowledged
            elif "SUCCEEDED" in statuses:
                counted["done"] += 1
            elif statuses & FAILED_STATUSES:
                counted["failed"] += 1
            elif "PENDING" in statuses:
                counted["pending"] += 1
        return Counts(
            accepted=counted["accepted"],
            done=counted["done"],
            failed=counted["failed"],
            pending=counted["pending"],
            lost=counted["lost"],
            duplicate_tasks=counted["duplicate_tasks"],
            duplicate_computations=counted["duplicate_computations"],
            duplicated=counted["duplicated"],
            unfinished=counted["unfinished"],
        )
