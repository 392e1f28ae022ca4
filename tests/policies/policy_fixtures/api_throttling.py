"""api-throttling: every stage throttles all its methods."""

from __future__ import annotations

from typing import Any

from .apis import api_function, http_api
from .builder import ENGINE_PREVIEW, OUTPUTS_ONLY, StackBuilder
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


HTTP_STAGE = "tasks-us-east-1-reports-http-stage"


def with_http_api(**stage: Any) -> StackBuilder:
    b = active_active_stack()
    reports = api_function(b, "tasks-us-east-1-reports", "us-east-1", 10)
    http_api(b, "tasks-us-east-1-reports-http", "us-east-1", reports, **stage)
    return b


HTTP_UNTHROTTLED = Expect(
    HTTP_STAGE,
    (
        "Stage 'tasks-us-east-1-reports-http-stage' of API 'tasks-us-east-1-reports-http-api': "
        "it has no defaultRouteSettings with throttling limits",
        "default_route_settings={'throttling_burst_limit': 200",
    ),
)

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
    "pass-http-stage": Case(with_http_api),
    "fail-http-stage": Case(
        lambda: with_http_api(default_route_settings=None), (HTTP_UNTHROTTLED,)
    ),
    "preview-http-stage": Case(
        lambda: with_http_api(default_route_settings=None), (HTTP_UNTHROTTLED,), preview=True
    ),
    "fail-http-stage-no-burst-limit": Case(
        lambda: with_http_api(default_route_settings={"throttlingRateLimit": 100}),
        (Expect(HTTP_STAGE, ("defaultRouteSettings does not set throttlingBurstLimit",)),),
        preview=True,
    ),
    "fail-http-route-above-ceiling": Case(
        lambda: with_http_api(
            route_settings=[{"routeKey": "POST /reports", "throttlingBurstLimit": 10_000}]
        ),
        (
            Expect(
                HTTP_STAGE,
                (
                    "routeSettings for 'POST /reports' sets throttlingBurstLimit to 10000, above 5000",
                ),
            ),
        ),
        preview=True,
    ),
}

# The same stacks as the engine sends them: a new stack's preview, and outputs only.
CASES["engine-preview"] = CASES["preview"].reshaped(ENGINE_PREVIEW)
CASES["outputs-only"] = CASES["fail"].reshaped(OUTPUTS_ONLY)
