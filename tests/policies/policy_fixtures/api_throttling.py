"""api-throttling: every stage throttles all its methods."""

from __future__ import annotations

from .builder import StackBuilder
from .cases import Case, Expect
from .realistic import active_active_stack

POLICY = "api-throttling"
EU_STAGE = "tasks-eu-west-1-api-stage"


def without_method_settings() -> StackBuilder:
    b = active_active_stack()
    b.remove(b.named("tasks-eu-west-1-api-throttling"))
    return b


def unlimited_burst() -> StackBuilder:
    b = active_active_stack()
    b.named("tasks-eu-west-1-api-throttling").inputs["settings"]["throttlingBurstLimit"] = -1
    return b


UNTHROTTLED = Expect(
    EU_STAGE,
    (
        "Stage 'tasks-eu-west-1-api-stage': no method settings throttle it",
        "method_path='*/*'",
        "'throttling_burst_limit': 200",
    ),
)

CASES = {
    "pass": Case(active_active_stack),
    "fail": Case(without_method_settings, (UNTHROTTLED,)),
    # MethodSettings.stageName echoes the stage's name input: known; the restApi link is not.
    "preview": Case(without_method_settings, (UNTHROTTLED,), preview=True),
    "fail-unlimited": Case(
        unlimited_burst,
        (Expect(EU_STAGE, ("sets throttlingBurstLimit to -1 (no throttling)",)),),
        preview=True,
    ),
    "fail-configured-ceiling": Case(
        active_active_stack,
        (
            Expect("tasks-us-east-1-api-stage", ("sets throttlingBurstLimit to 200, above 100",)),
            Expect(EU_STAGE, ("above 100",)),
        ),
        config={"maxBurstLimit": 100},
    ),
}
