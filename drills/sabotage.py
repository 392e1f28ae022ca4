"""Copies of the project with one mechanism removed, on which a drill must miss a named goal.

A drill that cannot fail proves nothing. Each `Sabotage` names the goals it must make the drill
miss, and the textual patches that remove one mechanism from a copy of the drills, the handlers
and the tools (each patch's text must occur exactly once, so a patch that no longer fits the
code fails loudly instead of sabotaging nothing). `tests/handlers/test_drill_sabotage.py` runs
every drill on every copy and asserts it exits 1 naming the goal; a meta-test fails when a goal
has no sabotage.

    python -m drills sabotage --list
    python -m drills sabotage no-breaker      # run the drill on that copy and show its verdicts
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[1]
#: What a copy holds: what `python -m drills` imports.
COPIED: Final = ("drills", "handlers", "tools")

#: The drills' arguments on a sabotaged copy: small, and every mechanism exercised. The same
#: arguments on the unsabotaged project meet every goal (tested).
CHAOS_ARGV: Final = (
    "chaos",
    *("--tasks", "60", "--rps", "10"),
    *("--lost-reply-rate", "0.1", "--max-receive-count", "1"),
)
LOAD_ARGV: Final = (
    "load",
    *("--rps", "10", "--seconds", "1", "--grace-seconds", "15", "--max-receive-count", "1"),
)


@dataclass(frozen=True)
class Patch:
    path: str
    old: str
    new: str


@dataclass(frozen=True)
class Sabotage:
    name: str
    #: The mechanism removed, in words.
    removes: str
    #: The goals the drill must miss on this copy.
    misses: tuple[str, ...]
    patches: tuple[Patch, ...]
    argv: tuple[str, ...] = CHAOS_ARGV

    @property
    def drill(self) -> str:
        return self.argv[0]


CATALOGUE: Final[tuple[Sabotage, ...]] = (
    Sabotage(
        "closed-loop-clients",
        "open-loop arrivals: each request waits for the one before it to be accepted",
        ("fault_share",),
        (
            Patch(
                "drills/chaos.py",
                "        thread.start()\n        threads.append(thread)\n",
                "        thread.start()\n        thread.join()\n        threads.append(thread)\n",
            ),
        ),
        (*CHAOS_ARGV, "--no-control"),
    ),
    Sabotage(
        "no-breaker",
        "the circuit breakers: every table and queue call goes out, whatever failed before",
        ("breaker_cut",),
        (
            Patch(
                "handlers/task_api.py",
                'breakers = {name: downstream.breaker(name, settings) for name in ("table", "queue")}',
                "breakers: dict[str, Any] = {}",
            ),
            Patch(
                "handlers/task_worker.py",
                'breakers = {"table": downstream.breaker("table", settings)}',
                "breakers: dict[str, Any] = {}",
            ),
        ),
    ),
    Sabotage(
        "no-trial-lease",
        "the half-open trial's lease: every caller that finds the circuit half-open probes",
        ("max_probes_per_half_open_window",),
        (
            Patch(
                "handlers/circuit_breaker.py",
                "    if now < record.lease_until:\n"
                '        return "reject", record.lease_until - now\n'
                '    return "probe", 0.0',
                '    return "probe", 0.0',
            ),
            Patch(
                "handlers/circuit_breaker.py",
                "(#state = :half AND leaseUntil <= :now)",
                "(#state = :half)",
            ),
        ),
        (*CHAOS_ARGV, "--no-control"),
    ),
    Sabotage(
        "ignored-idempotency-key",
        "idempotent submits: every submit, retries included, makes a task of its own",
        ("tasks_duplicated",),
        (
            Patch(
                "handlers/task_model.py",
                '    source = f"owned-key\\0{owner}\\0{idempotency_key}"',
                "    source = str(uuid.uuid4())",
            ),
        ),
        (*CHAOS_ARGV, "--no-control"),
    ),
    Sabotage(
        "dependency-failure-as-client-error",
        "retryable answers: a failed dependency is answered 400 instead of 503 with Retry-After",
        ("tasks_unaccepted",),
        (
            Patch(
                "handlers/task_api.py",
                '"Dependency failed", extra={"dependency": error.dependency, "reason": str(error)})'
                "\n    return json_response(\n        503,",
                '"Dependency failed", extra={"dependency": error.dependency, "reason": str(error)})'
                "\n    return json_response(\n        400,",
            ),
        ),
        (*CHAOS_ARGV, "--no-control"),
    ),
    Sabotage(
        "acknowledged-without-storing",
        "a durable submit: the task is written nowhere and the failed write is answered 202",
        ("tasks_lost",),
        (
            Patch(
                "handlers/task_store.py",
                "                lambda dynamodb: dynamodb.put_item(\n"
                "                    TableName=self.settings.table_name,",
                "                lambda dynamodb: dynamodb.put_item(\n"
                '                    TableName=self.settings.table_name + "-nowhere",',
            ),
            Patch(
                "handlers/task_store.py",
                '            if old is None:\n                raise DependencyError("table", "PutItem", error)',
                "            if old is None:\n                return TaskRecord.from_item(item), True  #",
            ),
        ),
        (*CHAOS_ARGV, "--no-control"),
    ),
    Sabotage(
        "unconditional-completion",
        "conditional writes: a redelivered message of a done task computes and writes it again",
        ("tasks_duplicated",),
        (
            Patch(
                "handlers/task_store.py",
                '"attribute_exists(taskId) AND #status IN (:pending, :failed)"',
                '"attribute_exists(taskId) AND (#status IN (:pending, :failed) OR #status = :succeeded)"',
            ),
        ),
        (*CHAOS_ARGV, "--no-control"),
    ),
    Sabotage(
        "no-failed-marking",
        "FAILED marking: a task given up on is neither marked nor read FAILED once its window ends",
        ("tasks_stuck_pending",),
        (
            Patch(
                "handlers/task_worker.py",
                "    if task_id is None:\n        return False\n    try:\n        record = store.mark_failed(",
                "    if True:\n        return False\n    try:\n        record = store.mark_failed(",
            ),
            Patch(
                "handlers/task_model.py",
                "    if processing_window_ended(status, process_by_s, now_s):",
                "    if False:",
            ),
        ),
        (*CHAOS_ARGV, "--no-control"),
    ),
    Sabotage(
        "worker-swallows-failures",
        "failure reporting: a record that failed is reported as done, so it never reaches the DLQ",
        ("tasks_unrecovered",),
        (
            Patch(
                "handlers/task_worker.py",
                "                )\n            raise\n        finally:",
                '                )\n            return "swallowed"\n        finally:',
            ),
        ),
        (*CHAOS_ARGV, "--no-control"),
    ),
    Sabotage(
        "worker-drops-messages",
        "the worker's work: every message is deleted as done without running its task",
        ("tasks_lost",),
        (
            Patch(
                "handlers/task_worker.py",
                "                outcome = execute_task(message, worker_store(settings, run.deadline))",
                "                outcome = CompletionOutcome.COMPLETED",
            ),
        ),
        LOAD_ARGV,
    ),
    Sabotage(
        "every-task-fails",
        "a working computation: every task raises in the worker",
        ("tasks_failed",),
        (
            Patch(
                "handlers/task_model.py",
                "    return _TASK_KINDS[request.task_type].run(request.parameters)",
                '    raise RuntimeError("sabotaged: every task fails")',
            ),
        ),
        LOAD_ARGV,
    ),
)


#: The game day's: each runs one scenario, small, on a copy whose stack settings are read from
#: this checkout (a copy holds no Pulumi program). Kept apart from CATALOGUE, whose goals are
#: the chaos and load drills' (tests/handlers/test_gameday.py runs these).
GAMEDAY_ARGV: Final = ("gameday", "--tasks", "10", "--project", str(ROOT))
GAMEDAY_CATALOGUE: Final[tuple[Sabotage, ...]] = (
    Sabotage(
        "no-replication",
        "global table replication: each region's table keeps its own writes",
        ("region-api-down.replicas_diverged",),
        (
            Patch(
                "drills/replication.py",
                "                    self._apply(change, target)\n",
                "                    continue\n",
            ),
        ),
        (*GAMEDAY_ARGV, "--scenario", "region-api-down"),
    ),
    Sabotage(
        "clients-ignore-dns",
        "DNS failover for clients: each stays on the region it resolved first",
        ("region-api-down.rto_seconds",),
        (
            Patch(
                "drills/dns.py",
                "        if self._answer is None or time.monotonic() >= self._answer.expires:\n",
                "        if self._answer is None:\n",
            ),
        ),
        (*GAMEDAY_ARGV, "--scenario", "region-api-down"),
    ),
    Sabotage(
        "health-check-on-public-path",
        "the probe route's own bucket: Route53 probes the public, throttled health route",
        ("health-flood.false_failovers",),
        (
            Patch(
                "drills/dns.py",
                '        paths[region] = str(check_inputs["resourcePath"])\n',
                '        paths[region] = str(check_inputs["resourcePath"]).rsplit("/", 1)[0]\n',
            ),
        ),
        # A flood of 10x lets enough probes through that, with FailureThreshold 3 and the 18 %
        # rule, the region stays in DNS in some runs; at 100x the probes on the shared bucket
        # fail nearly always, which is the exposure this copy must show.
        (*GAMEDAY_ARGV, "--flood-factor", "100", "--scenario", "health-flood"),
    ),
)


def by_name(name: str) -> Sabotage:
    for sabotage in (*CATALOGUE, *GAMEDAY_CATALOGUE):
        if sabotage.name == name:
            return sabotage
    known = ", ".join(s.name for s in (*CATALOGUE, *GAMEDAY_CATALOGUE))
    raise KeyError(f"no sabotage named {name!r}; known: {known}")


def apply(patches: Sequence[Patch], root: Path) -> None:
    """Apply each patch to the copy at `root`; ValueError when a patch's text is not there once."""
    for patch in patches:
        target = root / patch.path
        text = target.read_text(encoding="utf-8")
        found = text.count(patch.old)
        if found != 1:
            raise ValueError(
                f"{patch.path}: the text to replace occurs {found} times (expected once): "
                f"{patch.old[:80]!r}"
            )
        target.write_text(text.replace(patch.old, patch.new), encoding="utf-8")


def make_copy(sabotage: Sabotage | None, into: Path) -> Path:
    """A copy of what the drills run, with `sabotage`'s patches applied (none: the project)."""
    ignore = shutil.ignore_patterns("__pycache__", ".mypy_cache", "*.pyc")
    for folder in COPIED:
        shutil.copytree(ROOT / folder, into / folder, ignore=ignore)
    if sabotage is not None:
        apply(sabotage.patches, into)
    return into


def run_drill(
    copy: Path, argv: Sequence[str], json_path: Path, timeout_s: float = 600
) -> subprocess.CompletedProcess[str]:
    """`python -m drills ARGV --json FILE` in the copy, in a process of its own."""
    environment = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "drills", *argv, "--json", str(json_path)],
        cwd=copy,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )


def run(name: str) -> int:
    """Run the drill on the named sabotaged copy and print what it printed; its exit code."""
    sabotage = by_name(name)
    with tempfile.TemporaryDirectory(prefix="sabotage-") as folder:
        copy = make_copy(sabotage, Path(folder))
        done = run_drill(copy, sabotage.argv, Path(folder) / "result.json")
    print(f"sabotage {sabotage.name}: removes {sabotage.removes}")
    print(f"expected to miss: {', '.join(sabotage.misses)}")
    print(done.stdout, end="")
    print(done.stderr, end="", file=sys.stderr)
    return done.returncode
