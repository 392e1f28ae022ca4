"""api-throttling: every API stage throttles what it lets through.

Throttling everywhere: an unthrottled stage lets one client (or one retry storm) take the
account's Lambda concurrency and the table's capacity from everyone else, and the account-level
API Gateway limit is shared by every API in the region. A stage-wide method setting (`*/*`) with
a burst and a rate limit sheds load at the edge, cheaply, with a 429 the client can back off on.
API Gateway applies it to each method separately: a stage with N methods admits up to N times
the limits, which is what the offline preview's summary prints as the region's ceiling.

REST API stages are throttled by MethodSettings resources; HTTP (and WebSocket) API stages,
`aws:apigatewayv2/stage:Stage`, carry their limits themselves: `defaultRouteSettings` for every
route, `routeSettings` per route.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from .. import thresholds
from ..config import ConfigSpec, Setting
from ..model import HTTP_API, HTTP_STAGE, METHOD_SETTINGS, REST_API, STAGE, Resource, StackModel
from ..props import ABSENT, Marker, at, number, text, whole
from ..rulekit import Report, stack_policy

NAME = "api-throttling"

#: (resource type, property) this policy reads: checked by the tests against the provider
#: defaults the offline preview models.
READS = (
    (METHOD_SETTINGS, "methodPath"),
    (METHOD_SETTINGS, "settings"),
    (METHOD_SETTINGS, "stageName"),
    (METHOD_SETTINGS, "restApi"),
    (STAGE, "restApi"),
    (STAGE, "stageName"),
    (HTTP_STAGE, "defaultRouteSettings"),
    (HTTP_STAGE, "routeSettings"),
    (HTTP_STAGE, "apiId"),
)

CONFIG = ConfigSpec(
    NAME,
    (
        Setting(
            "maxBurstLimit",
            "integer",
            thresholds.API_ACCOUNT_BURST_LIMIT,
            "Highest stage throttling burst limit; above the account's it protects nothing.",
            minimum=1,
            maximum=1_000_000,
        ),
        Setting(
            "maxRateLimit",
            "number",
            thresholds.API_ACCOUNT_RATE_LIMIT_RPS,
            "Highest stage throttling rate limit (requests per second).",
            minimum=1,
            maximum=1_000_000,
        ),
    ),
)


def _settings_problem(settings_resource: Resource, limits: Mapping[str, Any]) -> str | None:
    props = settings_resource.props
    path = text(props, "methodPath")
    if isinstance(path, str) and path != "*/*":
        return f"'{settings_resource.name}' covers only {path}, not every method (*/*)"
    for key, limit in (
        ("throttlingBurstLimit", limits["maxBurstLimit"]),
        ("throttlingRateLimit", limits["maxRateLimit"]),
    ):
        value = number(props, "settings", key)
        if value is ABSENT:
            return f"'{settings_resource.name}' does not set {key}"
        if isinstance(value, Marker):
            continue
        if value <= 0:
            return f"'{settings_resource.name}' sets {key} to {whole(value)} (no throttling)"
        if value > limit:
            return f"'{settings_resource.name}' sets {key} to {whole(value)}, above {whole(limit)}"
    return None


_THROTTLING_KEYS = (
    ("throttlingBurstLimit", "maxBurstLimit"),
    ("throttlingRateLimit", "maxRateLimit"),
)


def _limit_problem(route: Any, where: str, limits: Mapping[str, Any], *, required: bool) -> str:
    """What is wrong with one route settings block's limits ("" when nothing is)."""
    for key, limit_key in _THROTTLING_KEYS:
        value = number(route, key)
        if value is ABSENT:
            if required:
                return f"{where} does not set {key}"
            continue
        if isinstance(value, Marker):
            continue
        # Required limits: zero is how an unset number in the block arrives, and a negative one
        # throttles nothing. A route's own settings are judged only when they loosen the default.
        if required and value <= 0:
            return f"{where} sets {key} to {whole(value)} (no throttling)"
        if value > limits[limit_key]:
            return f"{where} sets {key} to {whole(value)}, above {whole(limits[limit_key])}"
    return ""


def _http_stage_problems(stage: Resource, limits: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    defaults = at(stage.props, "defaultRouteSettings")
    if defaults is ABSENT:
        problems.append("it has no defaultRouteSettings with throttling limits")
    elif not isinstance(defaults, Marker):
        problem = _limit_problem(defaults, "defaultRouteSettings", limits, required=True)
        if problem:
            problems.append(problem)
    routes = at(stage.props, "routeSettings")
    for route in routes if isinstance(routes, list) else []:
        route_key = text(route, "routeKey")
        where = f"routeSettings for '{route_key}'" if isinstance(route_key, str) else "a route"
        problem = _limit_problem(route, where, limits, required=False)
        if problem:
            problems.append(problem)
    return problems


def _check_http_stages(model: StackModel, settings: Mapping[str, Any], report: Report) -> None:
    for stage in model.of_type(HTTP_STAGE):
        problems = _http_stage_problems(stage, settings)
        if not problems:
            continue
        apis = model.linked(stage, "apiId", (HTTP_API,))
        api = f" of API '{apis[0].name}'" if apis else ""
        report(
            f"Stage '{stage.name}'{api}: {'; '.join(problems)}. Without a stage-wide limit one "
            "client or retry storm takes the account's API and Lambda capacity from everyone. "
            "Fix: aws.apigatewayv2.Stage(..., default_route_settings={'throttling_burst_limit': "
            f"{thresholds.API_THROTTLE_BURST_LIMIT_DEFAULT}, 'throttling_rate_limit': "
            f"{whole(thresholds.API_THROTTLE_RATE_LIMIT_DEFAULT)}}}).",
            stage.urn,
        )


def check(model: StackModel, settings: Mapping[str, Any], report: Report) -> None:
    _check_http_stages(model, settings, report)
    by_stage: dict[str, list[Resource]] = {}
    stages_by_api: dict[str, list[Resource]] = {}
    for stage in model.of_type(STAGE):
        for api in model.linked(stage, "restApi", (REST_API,)):
            stages_by_api.setdefault(api.urn, []).append(stage)
    for method_settings in model.of_type(METHOD_SETTINGS):
        stages = model.linked(method_settings, "stageName", (STAGE,))
        if not stages:
            # A literal stage name: the stage of that name on the same API.
            name = text(method_settings.props, "stageName")
            for api in model.linked(method_settings, "restApi", (REST_API,)):
                stages.extend(
                    stage
                    for stage in stages_by_api.get(api.urn, [])
                    if text(stage.props, "stageName") == name
                )
        for stage in stages:
            by_stage.setdefault(stage.urn, []).append(method_settings)

    for stage in model.of_type(STAGE):
        candidates = by_stage.get(stage.urn, [])
        problems = [_settings_problem(candidate, settings) for candidate in candidates]
        if any(problem is None for problem in problems):
            continue
        found = (
            "no method settings throttle it"
            if not candidates
            else "; ".join(str(problem) for problem in problems)
        )
        report(
            f"Stage '{stage.name}': {found}. Without a stage-wide limit one client or retry storm "
            "takes the account's API and Lambda capacity from everyone. Fix: add "
            "aws.apigateway.MethodSettings(rest_api=<api>.id, stage_name=<stage>.stage_name, "
            "method_path='*/*', settings={'throttling_burst_limit': "
            f"{thresholds.API_THROTTLE_BURST_LIMIT_DEFAULT}, 'throttling_rate_limit': "
            f"{whole(thresholds.API_THROTTLE_RATE_LIMIT_DEFAULT)}}}).",
            stage.urn,
        )


POLICY = stack_policy(
    config=CONFIG,
    description=(
        "Every API Gateway stage has stage-wide throttling with burst and rate limits: */* "
        "method settings for a REST API stage, default route settings for an HTTP API stage."
    ),
    check=check,
    level=EnforcementLevel.ADVISORY,
    severity=Severity.MEDIUM,
    remediation_steps=(
        "Add MethodSettings with method_path '*/*' and throttling_burst_limit / "
        "throttling_rate_limit for a REST stage; default_route_settings with both limits on an "
        "HTTP API stage."
    ),
)
