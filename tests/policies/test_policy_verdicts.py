"""Every fixture case of every policy, over the real protocol: the exact verdict (which policy,
which URN, what the message says), in a known stack and in the preview shape."""

from __future__ import annotations

import pytest
from policy_fixtures import all_fixture_modules
from policy_fixtures.builder import ENGINE_PREVIEW, OUTPUTS_ONLY
from policy_fixtures.cases import Case
from verdicts import CANT_RUN, rule_module, run_case

from offline.policy.analyzer import PolicyPackProcess
from resilience_policies.pack import RULE_MODULES

CASES = [
    pytest.param(rule, name, case, id=f"{rule_module(rule).NAME}:{name}")
    for rule, module in all_fixture_modules().items()
    for name, case in module.CASES.items()
]


@pytest.mark.parametrize(("rule", "case_name", "case"), CASES)
def test_fixture_verdict(
    policy_pack: PolicyPackProcess, rule: str, case_name: str, case: Case
) -> None:
    stack, diagnostics, everything = run_case(policy_pack, rule, case)
    policy = rule_module(rule).POLICY
    default_level = policy.enforcement_level.value

    assert not [d.message for d in everything if CANT_RUN in d.message], (
        "a policy gave up instead of deciding"
    )
    got = sorted(d.urn for d in diagnostics)
    wanted = sorted(expect.urn(stack) for expect in case.expected)
    assert got == wanted, "\n".join(d.message for d in diagnostics)
    for expect in case.expected:
        (diagnostic,) = [d for d in diagnostics if d.urn == expect.urn(stack)]
        for fragment in expect.contains:
            assert fragment in diagnostic.message, diagnostic.message
        assert diagnostic.level == (expect.level or default_level)
        assert diagnostic.pack == "resilient-serverless"
        assert diagnostic.message.startswith(policy.description)


@pytest.mark.parametrize("rule", RULE_MODULES)
def test_compliant_stack_passes_in_preview_too(policy_pack: PolicyPackProcess, rule: str) -> None:
    """The pass fixture, rendered as the preview of a new stack, is still a pass: unknown
    values never turn into violations (nor into "can't run")."""
    case = all_fixture_modules()[rule].CASES["pass"]
    preview = Case(case.build, (), preview=True, config=case.config)
    _, diagnostics, everything = run_case(policy_pack, rule, preview)
    assert diagnostics == []
    assert not [d for d in everything if CANT_RUN in d.message]


ENGINE_SHAPES = (ENGINE_PREVIEW, OUTPUTS_ONLY)


@pytest.mark.parametrize("shape", ENGINE_SHAPES)
@pytest.mark.parametrize("rule", RULE_MODULES)
def test_pass_and_fail_hold_in_the_engines_shapes(
    policy_pack: PolicyPackProcess, rule: str, shape: str
) -> None:
    """The pass fixture passes and the fail fixture fails on the same resources when the stack
    arrives the way the real engine sends it: a new stack's preview (checked inputs, then the
    provider's planned state) and outputs only (known state, no Analyze, no links)."""
    cases = all_fixture_modules()[rule].CASES
    _, passing, everything = run_case(policy_pack, rule, cases["pass"].reshaped(shape))
    assert passing == [], [d.message for d in passing]
    assert not [d.message for d in everything if CANT_RUN in d.message]
    module = all_fixture_modules()[rule]
    if shape in getattr(module, "SHAPE_DEPENDENT_FAIL", {}):
        # The module says why its fail case is right to pass in this shape; its own case of
        # that shape (required by the meta-test) is the proof instead.
        return
    fail = cases["fail"]
    stack, failing, _ = run_case(policy_pack, rule, fail.reshaped(shape))
    assert sorted(d.urn for d in failing) == sorted(e.urn(stack) for e in fail.expected), [
        d.message for d in failing
    ]
