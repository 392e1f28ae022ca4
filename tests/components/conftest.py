from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from harness import Run, run_under_mocks
from program_runs import prod_config, run_program


@pytest.fixture(scope="session")
def prod_run() -> Run:
    return run_program(prod_config())


@pytest.fixture(scope="session")
def prod_preview() -> Run:
    return run_program(prod_config(), preview=True)


@pytest.fixture
def run_components() -> Callable[..., Run]:
    return run_under_mocks
