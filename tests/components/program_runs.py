"""Run the repo's own program under mocks with a given stack config."""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

import yaml
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
