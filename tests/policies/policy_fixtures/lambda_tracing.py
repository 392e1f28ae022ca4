"""lambda-tracing: functions use active X-Ray tracing."""

from __future__ import annotations

from .builder import ENGINE_PREVIEW, OUTPUTS_ONLY, StackBuilder
from .cases import Case, Expect
from .realistic import active_active_stack

POLICY = "lambda-tracing"
EU_API = "tasks-eu-west-1-api-fn"


def pass_through() -> StackBuilder:
    b = active_active_stack()
    b.named(EU_API).inputs["tracingConfig"] = {"mode": "PassThrough"}
    return b


def untraced() -> StackBuilder:
    b = active_active_stack()
    del b.named(EU_API).inputs["tracingConfig"]
    return b


PASS_THROUGH = Expect(EU_API, ("tracingConfig.mode is 'PassThrough'", "'mode': 'Active'"))

CASES = {
    "pass": Case(active_active_stack),
    "fail": Case(pass_through, (PASS_THROUGH,)),
    "preview": Case(pass_through, (PASS_THROUGH,), preview=True),
    "fail-not-set": Case(untraced, (Expect(EU_API, ("tracingConfig.mode is not set",)),)),
}

# The same stacks as the engine sends them: a new stack's preview, and outputs only.
CASES["engine-preview"] = CASES["preview"].reshaped(ENGINE_PREVIEW)
CASES["outputs-only"] = CASES["fail"].reshaped(OUTPUTS_ONLY)
