"""api-integration-timeout: the function behind an API times out before API Gateway does.

API Gateway gives up on a REST integration after 29 s by default and answers 504. A function
that is allowed to run longer keeps working (and paying, and holding a connection to the
table) for a client that is gone, and its failure shows up nowhere but as a 504. Timeouts that
fit together: the function's own timeout fires first, with a margin, so the failure is logged,
traced and counted where it happens.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from .. import thresholds
from ..config import ConfigSpec, Setting
from ..model import FUNCTION, INTEGRATION, Resource, StackModel
from ..props import ABSENT, Marker, number, text, whole
from ..rulekit import Report, stack_policy

NAME = "api-integration-timeout"

_LAMBDA_INTEGRATION_TYPES = ("AWS_PROXY", "AWS")


def _margin_below_limit(values: Mapping[str, Any]) -> list[tuple[str, str]]:
    if values["marginMs"] >= values["maxIntegrationTimeoutMs"]:
        return [
            (
                "marginMs",
                f"({values['marginMs']}) must be smaller than maxIntegrationTimeoutMs "
                f"({values['maxIntegrationTimeoutMs']}), or no function timeout fits; lower it.",
            )
        ]
    return []


CONFIG = ConfigSpec(
    NAME,
    (
        Setting(
            "maxIntegrationTimeoutMs",
            "integer",
            thresholds.API_GATEWAY_INTEGRATION_TIMEOUT_MS,
            "Highest integration timeout allowed (ms). Raise it above 29000 only for a regional "
            "API whose account has the quota increase.",
            minimum=thresholds.API_GATEWAY_MIN_INTEGRATION_TIMEOUT_MS,
            maximum=thresholds.MAX_LAMBDA_TIMEOUT_S * 1000,
        ),
        Setting(
            "marginMs",
            "integer",
            thresholds.API_FUNCTION_TIMEOUT_MARGIN_MS,
            "How much earlier than the integration the function must time out (ms).",
            minimum=0,
            maximum=60_000,
        ),
    ),
    cross_checks=(_margin_below_limit,),
)


def check(model: StackModel, settings: Mapping[str, Any], report: Report) -> None:
    limit_ms = settings["maxIntegrationTimeoutMs"]
    margin_ms = settings["marginMs"]
    # function URN -> (function, [(integration, its timeout in ms)])
    fronted: dict[str, tuple[Resource, list[tuple[Resource, float]]]] = {}
    for integration in model.of_type(INTEGRATION):
        timeout = number(integration.props, "timeoutMilliseconds")
        timeout_ms = (
            float(thresholds.API_GATEWAY_INTEGRATION_TIMEOUT_MS) if timeout is ABSENT else timeout
        )
        if not isinstance(timeout_ms, Marker) and timeout_ms > limit_ms:
            report(
                f"Integration '{integration.name}' waits {whole(timeout_ms)} ms, above the "
                f"{limit_ms} ms this stack allows. API Gateway's default REST limit is "
                f"{thresholds.API_GATEWAY_INTEGRATION_TIMEOUT_MS} ms; a longer one needs a quota "
                f"increase for a regional API. Fix: set timeoutMilliseconds to {limit_ms} or less, "
                "or, with the quota increase granted, raise maxIntegrationTimeoutMs in this "
                "policy's config.",
                integration.urn,
            )
        integration_type = text(integration.props, "type")
        if isinstance(integration_type, str) and integration_type not in _LAMBDA_INTEGRATION_TYPES:
            continue
        if isinstance(timeout_ms, Marker):
            continue  # computed timeout: decided by `pulumi up`
        for function in model.linked(integration, "uri", (FUNCTION,)):
            fronted.setdefault(function.urn, (function, []))[1].append((integration, timeout_ms))

    for function, integrations in fronted.values():
        timeout = number(function.props, "timeout")
        if timeout is ABSENT:
            timeout_s, default_note = float(thresholds.DEFAULT_LAMBDA_TIMEOUT_S), " (the default)"
        elif isinstance(timeout, Marker):
            continue
        else:
            timeout_s, default_note = timeout, ""
        integration, integration_ms = min(integrations, key=lambda pair: pair[1])
        if timeout_s * 1000 + margin_ms <= integration_ms:
            continue
        latest = thresholds.max_api_function_timeout_s(integration_ms, margin_ms)
        fix = (
            f"set the function's timeout to {latest} s or less"
            if latest >= 1
            else f"raise the integration's timeoutMilliseconds above {margin_ms + 1000} ms"
        )
        report(
            f"Function '{function.name}' may run for {whole(timeout_s)} s{default_note}, but "
            f"integration '{integration.name}' gives up after {whole(integration_ms)} ms. The "
            f"function must time out at least {margin_ms} ms before API Gateway does, or the "
            "client gets a 504 while the function keeps working and its failure is never "
            f"logged where it happens. Fix: {fix}.",
            function.urn,
        )


POLICY = stack_policy(
    config=CONFIG,
    description=(
        "API Gateway Lambda integrations stay within the integration timeout limit, and the "
        "function behind one times out (with a margin) before the integration does."
    ),
    check=check,
    level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    remediation_steps=(
        "Lower the function's timeout to the value the message names, or the integration's "
        "timeoutMilliseconds to the allowed limit."
    ),
)
