"""Fixtures for the policy pack: stacks as the engine reports them, and per policy the cases
its verdicts are checked on (one module per policy, named like the rule module)."""

from __future__ import annotations

import importlib
from types import ModuleType

from resilience_policies.pack import RULE_MODULES

#: Every fixture module must define these cases (more are welcome): a compliant stack, a
#: defect in a known stack, the defect in the builder's preview shape, and the defect in the two
#: shapes the real engine sends (a new stack's preview; outputs only, with no links).
REQUIRED_CASES = ("pass", "fail", "preview", "engine-preview", "outputs-only")


def fixture_module(rule_module: str) -> ModuleType:
    return importlib.import_module(f"{__name__}.{rule_module}")


def all_fixture_modules() -> dict[str, ModuleType]:
    """Rule module name -> its fixture module (raises when one is missing)."""
    return {name: fixture_module(name) for name in RULE_MODULES}
