"""api-integration-timeout: the function times out before its API Gateway integration."""

from __future__ import annotations

from .apis import api_function, http_api, json_body, openapi_rest_api, yaml_body
from .builder import ENGINE_PREVIEW, OUTPUTS_ONLY, StackBuilder
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


REPORTS_FN = "tasks-us-east-1-reports-fn"
REPORTS_API = "tasks-us-east-1-reports-api"


def openapi_in_front_of(timeout_s: int, timeout_ms: int | None = None) -> StackBuilder:
    """A REST API defined by an OpenAPI JSON body whose POST /reports integrates a function."""
    b = active_active_stack()
    reports = api_function(b, "tasks-us-east-1-reports", "us-east-1", timeout_s)
    openapi_rest_api(b, "tasks-us-east-1-reports", "us-east-1", json_body(reports, timeout_ms))
    return b


def yaml_openapi_in_front_of(timeout_s: int, timeout_ms: int) -> StackBuilder:
    b = active_active_stack()
    reports = api_function(b, "tasks-us-east-1-reports", "us-east-1", timeout_s)
    openapi_rest_api(b, "tasks-us-east-1-reports", "us-east-1", yaml_body(reports, timeout_ms))
    return b


def http_api_in_front_of(timeout_s: int, timeout_ms: int | None = None) -> StackBuilder:
    b = active_active_stack()
    reports = api_function(b, "tasks-us-east-1-reports", "us-east-1", timeout_s)
    http_api(b, "tasks-us-east-1-reports-http", "us-east-1", reports, timeout_ms=timeout_ms)
    return b


OPENAPI_SLOW = Expect(
    REPORTS_FN,
    (
        "Function 'tasks-us-east-1-reports-fn' may run for 300 s",
        "the integration at POST /reports in RestApi 'tasks-us-east-1-reports-api''s OpenAPI "
        "body gives up after 29000 ms (the default)",
        "set the function's timeout to 28 s or less",
    ),
)
HTTP_SLOW = Expect(
    REPORTS_FN,
    (
        "may run for 300 s",
        "HTTP API integration 'tasks-us-east-1-reports-http-integration' gives up after "
        "30000 ms (the default)",
        "set the function's timeout to 29 s or less",
    ),
)

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
    "fail-openapi-body": Case(lambda: openapi_in_front_of(300), (OPENAPI_SLOW,)),
    # The body embeds the function's (unknown) invoke ARN: unknown as a whole. The body's
    # dependency still puts the function behind the API, and no integration may wait longer
    # than the allowed 29 s: a 300 s function is reported at preview.
    "preview-openapi-body": Case(
        lambda: openapi_in_front_of(300),
        (
            Expect(
                REPORTS_FN,
                (
                    "may run for 300 s",
                    "RestApi 'tasks-us-east-1-reports-api' (whose OpenAPI body is not known "
                    "yet) integrates it, and an integration gives up after at most 29000 ms",
                ),
            ),
        ),
        preview=True,
    ),
    "pass-openapi-body": Case(lambda: openapi_in_front_of(10)),
    "pass-openapi-body-preview": Case(lambda: openapi_in_front_of(10), preview=True),
    "fail-openapi-yaml-body": Case(
        lambda: yaml_openapi_in_front_of(25, 20_000),
        (
            Expect(
                REPORTS_FN,
                (
                    "may run for 25 s",
                    "OpenAPI body gives up after 20000 ms.",
                    "set the function's timeout to 19 s or less",
                ),
            ),
        ),
    ),
    "fail-openapi-integration-above-limit": Case(
        lambda: openapi_in_front_of(10, 60_000),
        (
            Expect(
                REPORTS_API,
                (
                    "RestApi 'tasks-us-east-1-reports-api': the integration at POST /reports",
                    "waits 60000 ms, above the 29000 ms this stack allows",
                    "set its timeoutInMillis to 29000 or less",
                ),
            ),
        ),
    ),
    "fail-http-api-integration": Case(lambda: http_api_in_front_of(300), (HTTP_SLOW,)),
    "preview-http-api-integration": Case(
        lambda: http_api_in_front_of(300), (HTTP_SLOW,), preview=True
    ),
    "fail-http-api-integration-above-limit": Case(
        lambda: http_api_in_front_of(10, 40_000),
        (
            Expect(
                "tasks-us-east-1-reports-http-integration",
                ("waits 40000 ms, above the 30000 ms HTTP APIs allow",),
            ),
        ),
        preview=True,
    ),
    # 30 s is the HTTP API default and limit: a 25 s function fits it (not REST's 29 s).
    "pass-http-api": Case(lambda: http_api_in_front_of(25)),
}

# The same stacks as the engine sends them: a new stack's preview, and outputs only.
CASES["engine-preview"] = CASES["preview"].reshaped(ENGINE_PREVIEW)
CASES["outputs-only"] = CASES["fail"].reshaped(OUTPUTS_ONLY)
