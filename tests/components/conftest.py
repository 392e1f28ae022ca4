from __future__ import annotations

import runpy
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))

from harness import Run, run_under_mocks

REPO = Path(__file__).resolve().parents[2]


def prod_config() -> dict[str, Any]:
    return dict(yaml.safe_load((REPO / "Pulumi.prod.yaml").read_text())["config"])


def run_program(config: dict[str, Any], *, preview: bool = False, stack: str = "prod") -> Run:
    """The repo's own __main__.py, as `pulumi up` (or a new stack's preview) would run it."""
    return run_under_mocks(
        lambda: runpy.run_path(str(REPO / "__main__.py")),
        config=config,
        preview=preview,
        stack=stack,
    )


@pytest.fixture(scope="session")
def prod_run() -> Run:
    return run_program(prod_config())


@pytest.fixture(scope="session")
def prod_preview() -> Run:
    return run_program(prod_config(), preview=True)


@pytest.fixture
def run_components() -> Callable[..., Run]:
    return run_under_mocks
