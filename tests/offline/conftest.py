"""Fixtures of the offline preview tests; the helpers live in offline_harness.py."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from offline_harness import REPO, OfflineRun, run_offline

from offline.modes import MODES


@pytest.fixture(scope="session")
def prod_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, OfflineRun]:
    """The repository's prod stack in every mode, with the JSON report and the diagram."""
    runs = {}
    for mode in MODES:
        runs[mode] = run_offline(
            "--cwd",
            REPO,
            "--stack",
            "prod",
            "--mode",
            mode,
            out_dir=tmp_path_factory.mktemp(f"prod-{mode}"),
            diagram=True,
        )
    return runs
