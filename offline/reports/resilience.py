"""The resilience numbers of a stack, per region, computed from its registered inputs.

Resources are linked through property dependencies (the URNs an input was computed from), never
by comparing ARNs: in a preview of a new stack every ARN is unknown, but the links are not.
Numbers the program left unset take the AWS default; numbers computed from another resource's
output are reported as unknown at preview. The limits come from `resilience_policies.thresholds`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Final

from pulumi.runtime.rpc import UNKNOWN

from resilience_policies import thresholds

from ..engine.recording import Registration, unwrap_secret

FUNCTION_TYPE: Final[str] = "aws:lambda/function:Function"
QUEUE_TYPE: Final[str] = "aws:sqs/queue:Queue"
INTEGRATION_TYPE: Final[str] = "aws:apigateway/integration:Integration"
MAPPING_TYPE: Final[str] = "aws:lambda/eventSourceMapping:EventSourceMapping"
REDRIVE_TYPE: Final[str] = "aws:sqs/redrivePolicy:RedrivePolicy"
HEALTH_CHECK_TYPE: Final[str] = "aws:route53/healthCheck:HealthCheck"
RECORD_TYPE: Final[str] = "aws:route53/record:Record"
REST_API_TYPE: Final[str] = "aws:apigateway/restApi:RestApi"
METHOD_TYPE: Final[str] = "aws:apigateway/method:Method"
METHOD_SETTINGS_TYPE: Final[str] = "aws:apigateway/methodSettings:MethodSettings"
USAGE_PLAN_TYPE: Final[str] = "aws:apigateway/usagePlan:UsagePlan"
#: The method path of a stage's default method settings: applied to every method SEPARATELY.
ALL_METHODS: Final[str] = "*/*"

GLOBAL_REGION: Final[str] = "global"


@dataclass(frozen=True)
class Number:
    """A setting as the program gave it: its value, or None when unknown at preview."""

    value: float | None
    #: "set" (a literal input), "default" (AWS's default applies), "unknown" (from an output).
    source: str

    @property
    def known(self) -> bool:
        return self.value is not None

    def show(self, unit: str = "s") -> str:
        if self.value is None:
            return "unknown at preview"
        number = int(self.value) if float(self.value).is_integer() else self.value
        suffix = " (default)" if self.source == "default" else ""
        if unit == "s" and self.value >= 2 * 86400 and self.value % 3600 == 0:
            # Retention periods read better in days.
            return f"{self.value / 86400:g} d{suffix}"
        return f"{number} {unit}{suffix}".strip()


def number_input(inputs: Mapping[str, Any], key: str, default: float | None) -> Number:
    raw = unwrap_secret(inputs.get(key))
    if raw is None:
        return Number(default, "default") if default is not None else Number(None, "unset")
    if raw == UNKNOWN:
        return Number(None, "unknown")
    if isinstance(raw, bool):
        return Number(None, "unknown")
    if isinstance(raw, (int, float)):
        return Number(float(raw), "set")
    if isinstance(raw, str):
        try:
            return Number(float(raw), "set")
        except ValueError:
            return Number(None, "unknown")
    return Number(None, "unknown")


@dataclass
class TimeoutChain:
    integration: str
    function: str | None
    integration_timeout_ms: Number
    function_timeout_s: Number
    max_function_timeout_s: int | None
    ok: bool | None


@dataclass
class QueueConsumer:
    mapping: str
    queue: str | None
    function: str | None
    visibility_timeout_s: Number
    function_timeout_s: Number
    batching_window_s: Number
    required_visibility_timeout_s: int | None
    ratio: float | None
    ok: bool | None


@dataclass
class Redrive:
    queue: str | None
    dead_letter_queue: str | None
    max_receive_count: Number
    queue_retention_s: Number
    dead_letter_retention_s: Number
    ok: bool | None
    #: "resource" (aws:sqs/redrivePolicy) or "inline" (the queue's redrivePolicy JSON).
    style: str = "resource"


@dataclass
class Failover:
    record: str
    health_check: str | None
    interval_s: Number
    failure_threshold: Number
    record_ttl_s: Number
    estimated_failover_s: int | None


@dataclass
class ClientLimits:
    """One usage plan on the API: what each of its API keys may send to this region."""

    usage_plan: str
    rate_limit: Number
    burst_limit: Number
    #: Requests per `quota_period`; unset when the plan has no quota.
    quota: Number
    quota_period: str | None


@dataclass
class ApiThrottling:
    """A REST API's throttling in one region, as API Gateway applies it.

    The stage's `*/*` method settings limit each method separately, so the API as a whole
    admits the per-method limits times its number of methods (each method-specific setting
    replaces the default for its method), and never more than the account's limits in the
    region (shared by all its APIs). Usage plans add per-key limits below that.
    """

    api: str
    #: The `*/*` MethodSettings resource, None when the stage has none (only the account
    #: limits apply).
    method_settings: str | None
    method_rate_limit: Number
    method_burst_limit: Number
    #: Methods the per-method limits apply to: every Method of the API.
    methods: int
    #: Method-specific MethodSettings (not `*/*`): their methods have their own limits, which
    #: the effective ceiling below does not add up.
    method_overrides: int
    #: The ceiling for the whole API in the region: sum over methods, capped by the account.
    effective_rate_limit: float | None
    effective_burst_limit: float | None
    #: Whether the account's limits, not the stage's, set the ceiling.
    capped_by_account: bool | None
    usage_plans: list[ClientLimits] = field(default_factory=list)


@dataclass
class RegionSummary:
    region: str
    resources: int = 0
    timeout_chains: list[TimeoutChain] = field(default_factory=list)
    queue_consumers: list[QueueConsumer] = field(default_factory=list)
    redrives: list[Redrive] = field(default_factory=list)
    failovers: list[Failover] = field(default_factory=list)
    throttling: list[ApiThrottling] = field(default_factory=list)

    def is_empty(self) -> bool:
        return not (
            self.timeout_chains
            or self.queue_consumers
            or self.redrives
            or self.failovers
            or self.throttling
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class _Index:
    def __init__(self, registrations: Iterable[Registration]) -> None:
        self.by_urn = {r.urn: r for r in registrations}

    def linked(self, resource: Registration, prop: str, type_token: str) -> Registration | None:
        for urn in resource.property_dependencies.get(prop, []):
            target = self.by_urn.get(urn)
            if target is not None and target.type == type_token:
                return target
        return None

    def of_type(self, type_token: str) -> list[Registration]:
        return [r for r in self.by_urn.values() if r.type == type_token]

    def managed(self, type_token: str) -> list[Registration]:
        """The resources of `type_token` the program manages (not those it only reads)."""
        return [r for r in self.of_type(type_token) if not r.read]

    def linking_to(self, target: Registration, type_token: str, prop: str) -> list[Registration]:
        """The resources of `type_token` whose `prop` input was computed from `target`."""
        return [
            r
            for r in self.managed(type_token)
            if target.urn in r.property_dependencies.get(prop, [])
        ]


def region_key(resource: Registration) -> str:
    return resource.region or GLOBAL_REGION


def _function_timeout(function: Registration | None) -> Number:
    if function is None:
        return Number(None, "unknown")
    return number_input(function.inputs, "timeout", thresholds.DEFAULT_LAMBDA_TIMEOUT_S)


def _timeout_chain(index: _Index, integration: Registration) -> TimeoutChain:
    function = index.linked(integration, "uri", FUNCTION_TYPE)
    integration_ms = number_input(
        integration.inputs, "timeoutMilliseconds", thresholds.API_GATEWAY_INTEGRATION_TIMEOUT_MS
    )
    function_s = _function_timeout(function)
    limit = (
        thresholds.max_api_function_timeout_s(integration_ms.value)
        if integration_ms.value is not None
        else None
    )
    ok = None
    if limit is not None and function_s.value is not None:
        ok = function_s.value <= limit
    return TimeoutChain(
        integration=integration.name,
        function=function.name if function else None,
        integration_timeout_ms=integration_ms,
        function_timeout_s=function_s,
        max_function_timeout_s=limit,
        ok=ok,
    )


def _queue_consumer(index: _Index, mapping: Registration) -> QueueConsumer | None:
    queue = index.linked(mapping, "eventSourceArn", QUEUE_TYPE)
    if queue is None:
        return None
    function = index.linked(mapping, "functionName", FUNCTION_TYPE)
    visibility = number_input(
        queue.inputs, "visibilityTimeoutSeconds", thresholds.DEFAULT_QUEUE_VISIBILITY_TIMEOUT_S
    )
    timeout = _function_timeout(function)
    window = number_input(mapping.inputs, "maximumBatchingWindowInSeconds", 0)
    required = None
    ratio = None
    ok = None
    if timeout.value is not None and window.value is not None:
        required = thresholds.required_visibility_timeout_s(timeout.value, window.value)
        if visibility.value is not None:
            ok = visibility.value >= required
            if timeout.value > 0:
                ratio = round(visibility.value / timeout.value, 2)
    return QueueConsumer(
        mapping=mapping.name,
        queue=queue.name,
        function=function.name if function else None,
        visibility_timeout_s=visibility,
        function_timeout_s=timeout,
        batching_window_s=window,
        required_visibility_timeout_s=required,
        ratio=ratio,
        ok=ok,
    )


def _max_receive_count(document: Any) -> Number:
    raw = unwrap_secret(document)
    if raw is None:
        return Number(None, "unset")
    if raw == UNKNOWN or not isinstance(raw, str):
        return Number(None, "unknown")
    try:
        parsed = json.loads(raw)
    except ValueError:
        return Number(None, "unknown")
    return number_input(parsed if isinstance(parsed, dict) else {}, "maxReceiveCount", None)


def _retention(queue: Registration | None) -> Number:
    if queue is None:
        return Number(None, "unknown")
    return number_input(
        queue.inputs, "messageRetentionSeconds", thresholds.DEFAULT_MESSAGE_RETENTION_S
    )


def _redrive(
    queue: Registration | None, dlq: Registration | None, count: Number, style: str
) -> Redrive:
    queue_retention = _retention(queue)
    dlq_retention = _retention(dlq)
    checks: list[bool] = []
    if count.value is not None:
        checks.append(
            thresholds.MAX_RECEIVE_COUNT_MIN <= count.value <= thresholds.MAX_RECEIVE_COUNT_MAX
        )
    if queue_retention.value is not None and dlq_retention.value is not None:
        checks.append(dlq_retention.value > queue_retention.value)
    known_all = count.known and queue_retention.known and dlq_retention.known
    ok: bool | None = None
    if not all(checks):
        ok = False
    elif known_all:
        ok = True
    return Redrive(
        queue=queue.name if queue else None,
        dead_letter_queue=dlq.name if dlq else None,
        max_receive_count=count,
        queue_retention_s=queue_retention,
        dead_letter_retention_s=dlq_retention,
        ok=ok,
        style=style,
    )


def _failover(index: _Index, record: Registration) -> tuple[str, Failover] | None:
    policies = unwrap_secret(record.inputs.get("latencyRoutingPolicies"))
    if not isinstance(policies, list) or not policies:
        return None
    first = policies[0] if isinstance(policies[0], dict) else {}
    region = first.get("region")
    region_name = region if isinstance(region, str) and region != UNKNOWN else "unknown"
    check = index.linked(record, "healthCheckId", HEALTH_CHECK_TYPE)
    interval = (
        number_input(check.inputs, "requestInterval", thresholds.HEALTH_CHECK_INTERVAL_DEFAULT_S)
        if check
        else Number(None, "unset")
    )
    failures = (
        number_input(
            check.inputs, "failureThreshold", thresholds.HEALTH_CHECK_FAILURE_THRESHOLD_DEFAULT
        )
        if check
        else Number(None, "unset")
    )
    if record.inputs.get("aliases"):
        ttl = Number(float(thresholds.ALIAS_RECORD_TTL_S), "default")
    else:
        ttl = number_input(record.inputs, "ttl", None)
    estimate = None
    if interval.value is not None and failures.value is not None and ttl.value is not None:
        estimate = thresholds.estimated_failover_s(
            int(interval.value), int(failures.value), int(ttl.value)
        )
    return region_name, Failover(
        record=record.name,
        health_check=check.name if check else None,
        interval_s=interval,
        failure_threshold=failures,
        record_ttl_s=ttl,
        estimated_failover_s=estimate,
    )


def _method_path(settings: Registration) -> str | None:
    path = unwrap_secret(settings.inputs.get("methodPath"))
    return path if isinstance(path, str) and path != UNKNOWN else None


def _settings_limit(settings: Registration, key: str) -> Number:
    block = unwrap_secret(settings.inputs.get("settings"))
    if block == UNKNOWN:
        return Number(None, "unknown")
    if not isinstance(block, dict):
        # No settings block: API Gateway leaves the method unthrottled below the account.
        return Number(None, "unset")
    return number_input(block, key, None)


def _client_limits(plan: Registration) -> ClientLimits:
    throttle = unwrap_secret(plan.inputs.get("throttleSettings"))
    quota = unwrap_secret(plan.inputs.get("quotaSettings"))
    if throttle == UNKNOWN:
        rate, burst = Number(None, "unknown"), Number(None, "unknown")
    else:
        block = throttle if isinstance(throttle, dict) else {}
        rate = number_input(block, "rateLimit", None)
        burst = number_input(block, "burstLimit", None)
    period: str | None = None
    if quota == UNKNOWN:
        limit = Number(None, "unknown")
    elif isinstance(quota, dict):
        limit = number_input(quota, "limit", None)
        raw_period = unwrap_secret(quota.get("period"))
        period = raw_period if isinstance(raw_period, str) and raw_period != UNKNOWN else None
    else:
        limit = Number(None, "unset")
    return ClientLimits(
        usage_plan=plan.name, rate_limit=rate, burst_limit=burst, quota=limit, quota_period=period
    )


def _ceiling(per_method: Number, methods: int, account: float) -> tuple[float | None, bool | None]:
    """(the API's ceiling in the region, whether the account's limit sets it)."""
    if per_method.source == "unset":
        return account, True
    if per_method.value is None:
        return None, None
    total = per_method.value * methods
    return min(total, account), total > account


def _api_throttling(index: _Index, api: Registration) -> ApiThrottling:
    methods = index.linking_to(api, METHOD_TYPE, "restApi")
    all_settings = index.linking_to(api, METHOD_SETTINGS_TYPE, "restApi")
    defaults = [s for s in all_settings if _method_path(s) == ALL_METHODS]
    overrides = [s for s in all_settings if _method_path(s) != ALL_METHODS]
    default = defaults[0] if defaults else None
    if default is None:
        rate, burst = Number(None, "unset"), Number(None, "unset")
    else:
        rate = _settings_limit(default, "throttlingRateLimit")
        burst = _settings_limit(default, "throttlingBurstLimit")
    counted = max(len(methods) - len(overrides), 0)
    rate_ceiling, rate_capped = _ceiling(rate, counted, thresholds.API_ACCOUNT_RATE_LIMIT_RPS)
    burst_ceiling, burst_capped = _ceiling(burst, counted, thresholds.API_ACCOUNT_BURST_LIMIT)
    capped = None if rate_capped is None or burst_capped is None else rate_capped or burst_capped
    plans = [_client_limits(plan) for plan in index.linking_to(api, USAGE_PLAN_TYPE, "apiStages")]
    return ApiThrottling(
        api=api.name,
        method_settings=default.name if default else None,
        method_rate_limit=rate,
        method_burst_limit=burst,
        methods=len(methods),
        method_overrides=len(overrides),
        effective_rate_limit=rate_ceiling,
        effective_burst_limit=burst_ceiling,
        capped_by_account=capped,
        usage_plans=sorted(plans, key=lambda item: item.usage_plan),
    )


def summarize(registrations: list[Registration]) -> dict[str, RegionSummary]:
    """Region -> its resilience numbers. Global resources count under "global"."""
    custom = [r for r in registrations if r.custom and not r.type.startswith("pulumi:providers:")]
    index = _Index(custom)
    regions: dict[str, RegionSummary] = {}

    def region(name: str) -> RegionSummary:
        return regions.setdefault(name, RegionSummary(region=name))

    for resource in custom:
        region(region_key(resource)).resources += 1

    for integration in index.of_type(INTEGRATION_TYPE):
        region(region_key(integration)).timeout_chains.append(_timeout_chain(index, integration))

    for mapping in index.of_type(MAPPING_TYPE):
        consumer = _queue_consumer(index, mapping)
        if consumer is not None:
            region(region_key(mapping)).queue_consumers.append(consumer)

    for redrive in index.of_type(REDRIVE_TYPE):
        queue = index.linked(redrive, "queueUrl", QUEUE_TYPE)
        dlq = index.linked(redrive, "redrivePolicy", QUEUE_TYPE)
        count = _max_receive_count(redrive.inputs.get("redrivePolicy"))
        region(region_key(redrive)).redrives.append(_redrive(queue, dlq, count, "resource"))

    for queue in index.of_type(QUEUE_TYPE):
        if queue.inputs.get("redrivePolicy") is None:
            continue
        dlq = index.linked(queue, "redrivePolicy", QUEUE_TYPE)
        count = _max_receive_count(queue.inputs.get("redrivePolicy"))
        region(region_key(queue)).redrives.append(_redrive(queue, dlq, count, "inline"))

    for record in index.of_type(RECORD_TYPE):
        found = _failover(index, record)
        if found is not None:
            region_name, failover = found
            region(region_name).failovers.append(failover)

    for api in index.managed(REST_API_TYPE):
        region(region_key(api)).throttling.append(_api_throttling(index, api))

    for summary in regions.values():
        summary.throttling.sort(key=lambda item: item.api)
        summary.timeout_chains.sort(key=lambda item: item.integration)
        summary.queue_consumers.sort(key=lambda item: item.mapping)
        summary.redrives.sort(key=lambda item: item.queue or "")
        summary.failovers.sort(key=lambda item: item.record)
    return dict(sorted(regions.items(), key=lambda item: (item[0] == GLOBAL_REGION, item[0])))
