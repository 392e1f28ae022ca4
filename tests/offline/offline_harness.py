"""Run the offline preview the way CI does: `python -m offline preview ...` in a subprocess.

Mocks are process-global (one program per process), so every run is its own interpreter. Each
run writes its JSON report (and diagram) into the test's own temporary folder, so runs do not
share files and the tests can run in any order or in parallel.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
PROGRAMS = Path(__file__).resolve().parent / "programs"
#: Programs that exercise a kind of Pulumi program rather than a policy (provider functions,
#: stack references...): test_offline_program_classes.py runs them.
PROGRAM_CLASSES = (
    "provider-functions",
    "caught-provider-failure",
    "stack-reference",
    # test_offline_deferred_and_providers.py
    "deferred-until-update",
    # test_offline_providers.py
    "other-provider-sdks",
    "own-virtualenv",
)
#: Programs of the kinds public programs are written in, each once judged wrongly (or refused):
#: test_offline_verdict_classes.py runs them.
VERDICT_CLASSES = (
    "verdict-http-api-default-timeout",
    "verdict-sqs-batch-of-one",
    "verdict-iterator-alarm-on-record-age",
    "verdict-typed-function-arguments",
    "verdict-own-resource-lookup",
)
#: A CLI run that has not ended after this long is hung, not slow (each one takes a second or two).
RUN_TIMEOUT_S = 120


@dataclass
class OfflineRun:
    args: list[str]
    exit_code: int
    stdout: str
    stderr: str
    report: dict[str, Any] | None
    diagram: str | None

    @property
    def violations(self) -> list[dict[str, Any]]:
        assert self.report is not None, self.describe()
        return list(self.report["violations"])

    @property
    def violated_policies(self) -> set[str]:
        return {violation["policy"] for violation in self.violations}

    @property
    def mandatory(self) -> list[dict[str, Any]]:
        return [v for v in self.violations if v["level"] == "mandatory"]

    def describe(self) -> str:
        return (
            f"python -m offline {' '.join(self.args)} -> exit {self.exit_code}\n"
            f"--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}"
        )


def run_offline(
    *args: str | Path,
    out_dir: Path,
    json_report: bool = True,
    diagram: bool = False,
    cwd: Path = REPO,
) -> OfflineRun:
    out_dir.mkdir(parents=True, exist_ok=True)
    command = ["preview", *map(str, args)]
    report_path = out_dir / "report.json"
    diagram_path = out_dir / "diagram.mmd"
    if json_report:
        command += ["--json", str(report_path)]
    if diagram:
        command += ["--diagram", str(diagram_path)]
    environment = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(REPO)}
    completed = subprocess.run(
        [sys.executable, "-m", "offline", *command],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    return OfflineRun(
        args=command,
        exit_code=completed.returncode,
        stdout=completed.stdout,
        stderr=completed.stderr,
        report=json.loads(report_path.read_text()) if report_path.exists() else None,
        diagram=diagram_path.read_text() if diagram_path.exists() else None,
    )


def prod_regions() -> list[str]:
    config = yaml.safe_load((REPO / "Pulumi.prod.yaml").read_text())["config"]
    project = yaml.safe_load((REPO / "Pulumi.yaml").read_text())["name"]
    return list(config[f"{project}:regions"])


def build_wheel(into: Path) -> Path:
    """This project's wheel, built in `into` (run.py's `build_wheel`, shared with the component
    tests)."""
    sys.path.insert(0, str(REPO))
    try:
        import run
    finally:
        sys.path.remove(str(REPO))
    return Path(run.build_wheel(into))
