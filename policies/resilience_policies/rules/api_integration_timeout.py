"""api-integration-timeout: the function behind an API times out before API Gateway does.

API Gateway gives up on a REST integration after 29 s by default (an HTTP API after 30 s, its
hard limit) and answers 504. A function that is allowed to run longer keeps working (and paying,
and holding a connection to the table) for a client that is gone, and its failure shows up
nowhere but as a 504. Timeouts that fit together: the function's own timeout fires first, with a
margin, so the failure is logged, traced and counted where it happens.

Integrations come in three shapes, read alike: `aws:apigateway/integration:Integration`
resources, the `x-amazon-apigateway-integration` objects of a RestApi's OpenAPI `body`, and HTTP
(or WebSocket) API integrations, `aws:apigatewayv2/integration:Integration`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from .. import thresholds
from ..config import ConfigSpec, Setting
from ..model import (
    FUNCTION,
    HTTP_API,
    HTTP_INTEGRATION,
    INTEGRATION,
    REST_API,
    Resource,
    StackModel,
)
from ..openapi import parse_body
from ..props import (
    ABSENT,
    UNKNOWN,
    UNKNOWN_SENTINELS,
    Marker,
    at,
    is_unknown_sentinel,
    number,
    text,
    whole,
)
from ..rulekit import Report, stack_policy

NAME = "api-integration-timeout"

_LAMBDA_INTEGRATION_TYPES = ("AWS_PROXY", "AWS")

#: (resource type, property) this policy reads: checked by the tests against the provider
#: defaults the offline preview models (an unset HTTP API timeout is AWS's 30 000 ms).
READS = (
    (INTEGRATION, "timeoutMilliseconds"),
    (INTEGRATION, "type"),
    (INTEGRATION, "uri"),
    (REST_API, "body"),
    (HTTP_INTEGRATION, "timeoutMilliseconds"),
    (HTTP_INTEGRATION, "integrationType"),
    (HTTP_INTEGRATION, "integrationUri"),
    (HTTP_INTEGRATION, "apiId"),
    (HTTP_API, "protocolType"),
    (FUNCTION, "timeout"),
)
_FUNCTIONS = frozenset({FUNCTION})


@dataclass(frozen=True)
class _Front:
    """One integration in front of a function."""

    #: How the message names it: "integration 'x'", "the integration at POST /tasks in ...".
    label: str
    timeout_ms: float
    #: False when only an upper bound is known (the integration's own value is not).
    exact: bool
    #: The property that sets its timeout, for the fix.
    timeout_key: str
    note: str = ""


Front = Callable[[Resource, _Front], None]


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


def _rest_integrations(model: StackModel, limit_ms: int, report: Report, front: Front) -> None:
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
        for function in model.linked(integration, "uri", _FUNCTIONS):
            front(
                function,
                _Front(
                    f"integration '{integration.name}'", timeout_ms, True, "timeoutMilliseconds"
                ),
            )


def _functions_named_by(model: StackModel, api: Resource, uri: Any) -> list[Resource]:
    """The stack's functions a known integration `uri` names (the API's region first)."""
    if not isinstance(uri, str) or is_unknown_sentinel(uri):
        return []
    found = model.by_value(uri, _FUNCTIONS)
    nearby = [function for function in found if function.region == api.region]
    return nearby if len(found) > 1 and nearby else found


def _body_integrations(model: StackModel, limit_ms: int, report: Report, front: Front) -> None:
    """The integrations of every RestApi defined by an OpenAPI `body`."""
    for api in model.of_type(REST_API):
        body = at(api.props, "body")
        if body is ABSENT:
            continue
        # The functions the body was built from (their invoke ARNs in its uris): the link that
        # holds at preview, when a body built from them is unknown as a whole.
        embedded = [
            model.by_urn[urn]
            for urn in api.deps.get("body", ())
            if urn in model.by_urn and model.by_urn[urn].type == FUNCTION
        ]
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        if body is UNKNOWN or not isinstance(body, str) or is_unknown_sentinel(body):
            _bound_embedded(api, embedded, limit_ms, front, "is not known yet")
            continue
        integrations, complete = parse_body(body)
        linked: set[str] = set()
        for integration in integrations:
            where = f"the integration at {integration.where} in RestApi '{api.name}''s OpenAPI body"
            uri = integration.settings.get("uri")
            if not isinstance(uri, str) or any(sentinel in uri for sentinel in UNKNOWN_SENTINELS):
                complete = False  # its function is known by the body's dependencies only
            timeout = number(integration.settings, "timeoutInMillis")
            note = " (the default)" if timeout is ABSENT else ""
            exact = timeout is not UNKNOWN
            if timeout is ABSENT:
                timeout_ms = float(thresholds.API_GATEWAY_INTEGRATION_TIMEOUT_MS)
            elif isinstance(timeout, Marker):
                # Computed: not known, but waiting longer than allowed is reported at `pulumi up`.
                timeout_ms = float(limit_ms)
            else:
                timeout_ms = timeout
            if exact and timeout_ms > limit_ms:
                report(
                    f"RestApi '{api.name}': {where} waits {whole(timeout_ms)} ms, above the "
                    f"{limit_ms} ms this stack allows. API Gateway's default REST limit is "
                    f"{thresholds.API_GATEWAY_INTEGRATION_TIMEOUT_MS} ms; a longer one needs a "
                    f"quota increase for a regional API. Fix: set its timeoutInMillis to "
                    f"{limit_ms} or less, or, with the quota increase granted, raise "
                    "maxIntegrationTimeoutMs in this policy's config.",
                    api.urn,
                )
            kind = integration.settings.get("type")
            if isinstance(kind, str) and kind.upper() not in _LAMBDA_INTEGRATION_TYPES:
                continue
            for function in _functions_named_by(model, api, uri):
                linked.add(function.urn)
                front(function, _Front(where, timeout_ms, exact, "timeoutInMillis", note))
        if not complete:
            # Partly read (by the scanner only, or with a computed uri): a function the body
            # embeds that no integration it could read names is still behind this API, and
            # waited for at most the allowed timeout.
            rest = [function for function in embedded if function.urn not in linked]
            _bound_embedded(api, rest, limit_ms, front, "could only be partly read")


def _bound_embedded(
    api: Resource, functions: list[Resource], limit_ms: int, front: Front, why: str
) -> None:
    label = f"RestApi '{api.name}' (whose OpenAPI body {why}) integrates it, and an integration"
    for function in functions:
        front(function, _Front(label, float(limit_ms), False, "timeoutInMillis"))


def _http_integrations(model: StackModel, report: Report, front: Front) -> None:
    for integration in model.of_type(HTTP_INTEGRATION):
        apis = model.linked(integration, "apiId", (HTTP_API,))
        websocket = bool(apis) and text(apis[0].props, "protocolType") == "WEBSOCKET"
        kind = "WebSocket API" if websocket else "HTTP API"
        api_limit = (
            thresholds.WEBSOCKET_API_INTEGRATION_TIMEOUT_MS
            if websocket
            else thresholds.HTTP_API_INTEGRATION_TIMEOUT_MS
        )
        timeout = number(integration.props, "timeoutMilliseconds")
        if isinstance(timeout, float) and timeout > api_limit:
            report(
                f"{kind} integration '{integration.name}' waits {whole(timeout)} ms, above the "
                f"{api_limit} ms {kind}s allow (a hard limit: AWS refuses it). Fix: set "
                f"timeoutMilliseconds to {api_limit} or less.",
                integration.urn,
            )
        integration_type = text(integration.props, "integrationType")
        if isinstance(integration_type, str) and integration_type not in _LAMBDA_INTEGRATION_TYPES:
            continue
        label = f"{kind} integration '{integration.name}'"
        if timeout is ABSENT:
            entry = _Front(label, float(api_limit), True, "timeoutMilliseconds", " (the default)")
        elif isinstance(timeout, Marker):
            # Not known yet, but an HTTP API cannot wait longer than its hard limit.
            entry = _Front(label, float(api_limit), False, "timeoutMilliseconds")
        else:
            entry = _Front(label, min(timeout, float(api_limit)), True, "timeoutMilliseconds")
        for function in model.linked(integration, "integrationUri", _FUNCTIONS):
            front(function, entry)


def check(model: StackModel, settings: Mapping[str, Any], report: Report) -> None:
    limit_ms = settings["maxIntegrationTimeoutMs"]
    margin_ms = settings["marginMs"]
    # function URN -> (function, the integrations in front of it)
    fronted: dict[str, tuple[Resource, list[_Front]]] = {}

    def front(function: Resource, entry: _Front) -> None:
        fronted.setdefault(function.urn, (function, []))[1].append(entry)

    _rest_integrations(model, limit_ms, report, front)
    _body_integrations(model, limit_ms, report, front)
    _http_integrations(model, report, front)

    for function, entries in fronted.values():
        timeout = number(function.props, "timeout")
        if timeout is ABSENT:
            timeout_s, default_note = float(thresholds.DEFAULT_LAMBDA_TIMEOUT_S), " (the default)"
        elif isinstance(timeout, Marker):
            continue
        else:
            timeout_s, default_note = timeout, ""
        # The tightest integration counts; an exact value before a bound of the same size.
        entry = min(entries, key=lambda item: (item.timeout_ms, not item.exact))
        if timeout_s * 1000 + margin_ms <= entry.timeout_ms:
            continue
        latest = thresholds.max_api_function_timeout_s(entry.timeout_ms, margin_ms)
        fix = (
            f"set the function's timeout to {latest} s or less"
            if latest >= 1
            else f"raise the integration's {entry.timeout_key} above {margin_ms + 1000} ms"
        )
        gives_up = "gives up after" if entry.exact else "gives up after at most"
        report(
            f"Function '{function.name}' may run for {whole(timeout_s)} s{default_note}, but "
            f"{entry.label} {gives_up} {whole(entry.timeout_ms)} ms{entry.note}. The function "
            f"must time out at least {margin_ms} ms before API Gateway does, or the client gets "
            "a 504 while the function keeps working and its failure is never logged where it "
            f"happens. Fix: {fix}.",
            function.urn,
        )


POLICY = stack_policy(
    config=CONFIG,
    description=(
        "API Gateway Lambda integrations (REST integrations, OpenAPI bodies, HTTP APIs) stay "
        "within the integration timeout limit, and the function behind one times out (with a "
        "margin) before the integration does."
    ),
    check=check,
    level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    remediation_steps=(
        "Lower the function's timeout to the value the message names, or the integration's "
        "timeoutMilliseconds to the allowed limit."
    ),
)
