"""Running a fixture case through the pack and reading the verdict, shared by the tests."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

from policy_fixtures.builder import ENGINE_PREVIEW, INPUTS, OUTPUTS_ONLY, StackBuilder
from policy_fixtures.cases import Case

from offline.policy.analyzer import Diagnostic, PolicyPackProcess

REPO = Path(__file__).resolve().parents[2]
PACK_DIR = REPO / "policies"
CANT_RUN = "can't run policy"


def rule_module(rule: str) -> ModuleType:
    return importlib.import_module(f"resilience_policies.rules.{rule}")


def diagnostics_for(
    pack: PolicyPackProcess, rule: str, stack: StackBuilder, *, shape: str
) -> list[Diagnostic]:
    """Every diagnostic the engine would get for `stack` in `shape`.

    The builder's own shapes: Analyze for the resources the rule's resource policy looks at
    (their inputs only), then AnalyzeStack (inputs, plus outputs when known). The engine's
    shapes: Analyze for every custom resource (checked inputs) and AnalyzeStack (planned state)
    for a new stack's preview; AnalyzeStack alone, unlinked known state, for outputs only.
    """
    found: list[Diagnostic] = []
    if shape in (ENGINE_PREVIEW, OUTPUTS_ONLY):
        analyze, whole = stack.engine_snapshots(shape)
        for snapshot in analyze:
            found.extend(pack.analyze(snapshot))
        found.extend(pack.analyze_stack(whole))
        return found
    preview = shape == INPUTS
    module = rule_module(rule)
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
    everything = diagnostics_for(pack, rule, stack, shape=case.shape)
    return stack, [d for d in everything if d.policy == policy], everything
