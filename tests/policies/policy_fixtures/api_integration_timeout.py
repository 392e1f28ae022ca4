"""api-integration-timeout: the function times out before its API Gateway integration."""

from __future__ import annotations

from .builder import StackBuilder
from .cases import Case, Expect
from .realistic import active_active_stack

POLICY = "api-integration-timeout"
US_FUNCTION = "tasks-us-east-1-api-fn"
EU_INTEGRATION = "tasks-eu-west-1-api-post-tasks-integration"


def slow_function() -> StackBuilder:
    b = active_active_stack()
    b.named(US_FUNCTION).inputs["timeout"] = 29
    return b


def long_integration() -> StackBuilder:
    b = active_active_stack()
    b.named(EU_INTEGRATION).inputs["timeoutMilliseconds"] = 60_000
    return b


SLOW = Expect(
    US_FUNCTION,
    (
        "'tasks-us-east-1-api-fn' may run for 29 s",
        "gives up after 29000 ms",
        "at least 1000 ms before API Gateway",
        "set the function's timeout to 28 s or less",
    ),
)

CASES = {
    "pass": Case(active_active_stack),
    "fail": Case(slow_function, (SLOW,)),
    # The integration's uri (the function's invokeArn) is unknown: linked by dependency.
    "preview": Case(slow_function, (SLOW,), preview=True),
    "fail-integration-above-limit": Case(
        long_integration,
        (
            Expect(
                EU_INTEGRATION,
                (
                    "waits 60000 ms, above the 29000 ms this stack allows",
                    "raise maxIntegrationTimeoutMs",
                ),
            ),
        ),
        preview=True,
    ),
    "pass-limit-raised-in-config": Case(
        long_integration, config={"maxIntegrationTimeoutMs": 60_000}
    ),
    "fail-configured-margin": Case(
        active_active_stack,
        (
            Expect(US_FUNCTION, ("may run for 10 s", "at least 20000 ms before")),
            Expect(
                "tasks-eu-west-1-api-fn", ("may run for 10 s", "set the function's timeout to 9 s")
            ),
        ),
        config={"marginMs": 20_000},
    ),
}
