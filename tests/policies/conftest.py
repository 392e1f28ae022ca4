"""Play the engine for the policy pack: one pack process per test session, started the way the
Pulumi CLI starts it, spoken to over the real Analyzer gRPC protocol.

Configure replaces the pack's whole configuration, so every test that changes it gets the
defaults back afterwards (`policy_pack`).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# The repository root (for `offline`) and this folder (for the fixtures), before importing them.
for path in (Path(__file__).resolve().parents[2], Path(__file__).resolve().parent):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from verdicts import PACK_DIR  # noqa: E402

from offline.policy.analyzer import PolicyPackProcess  # noqa: E402


@pytest.fixture(scope="session")
def pack_process() -> Iterator[PolicyPackProcess]:
    with PolicyPackProcess(PACK_DIR) as process:
        yield process


@pytest.fixture
def policy_pack(pack_process: PolicyPackProcess) -> Iterator[PolicyPackProcess]:
    """The session's pack with its default configuration, restored after the test."""
    pack_process.configure({})
    try:
        yield pack_process
    finally:
        pack_process.configure({})
