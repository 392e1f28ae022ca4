from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "components"))
sys.path.insert(0, str(REPO))

from offline.policy.analyzer import PolicyPackProcess  # noqa: E402 - needs the repo root on sys.path


@pytest.fixture(scope="session")
def pack() -> Iterator[PolicyPackProcess]:
    """The real pack, started the way the CLI starts it, once for the whole session."""
    with PolicyPackProcess(REPO / "policies") as process:
        yield process
