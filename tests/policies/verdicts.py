"""Running a fixture case through the pack and reading the verdict, shared by the tests."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

from policy_fixtures.builder import StackBuilder
from policy_fixtures.cases import Case

from offline.analyzer import Diagnostic, PolicyPackProcess

REPO = Path(__file__).resolve().parents[2]
PACK_DIR = REPO / "policies"
CANT_RUN = "can't run policy"


def rule_module(rule: str) -> ModuleType:
    return importlib.import_module(f"resilience_policies.rules.{rule}")


def diagnostics_for(
    pack: PolicyPackProcess, rule: str, stack: StackBuilder, *, preview: bool
) -> list[Diagnostic]:
    """Every diagnostic the engine would get for `stack`: Analyze for the resources the rule's
    resource policy looks at (their inputs only, as the engine sends them), then AnalyzeStack
    (inputs, plus outputs outside a preview)."""
    module = rule_module(rule)
    found: list[Diagnostic] = []
    resource_types = getattr(module, "RESOURCE_TYPES", ())
    for resource in stack.resources:
        if resource.custom and resource.type in resource_types:
            found.extend(pack.analyze(stack.snapshot(resource, preview=preview)))
    found.extend(pack.analyze_stack(stack.snapshots(preview=preview)))
    return found


def run_case(
    pack: PolicyPackProcess, rule: str, case: Case
) -> tuple[StackBuilder, list[Diagnostic], list[Diagnostic]]:
    """(the stack, this policy's diagnostics, every diagnostic)."""
    policy = rule_module(rule).NAME
    pack.configure({policy: case.config} if case.config else {})
    stack = case.build()
    everything = diagnostics_for(pack, rule, stack, preview=case.preview)
    return stack, [d for d in everything if d.policy == policy], everything
