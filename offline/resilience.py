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

from .recording import Registration, unwrap_secret

FUNCTION_TYPE: Final[str] = "aws:lambda/function:Function"
QUEUE_TYPE: Final[str] = "aws:sqs/queue:Queue"
INTEGRATION_TYPE: Final[str] = "aws:apigateway/integration:Integration"
MAPPING_TYPE: Final[str] = "aws:lambda/eventSourceMapping:EventSourceMapping"
REDRIVE_TYPE: Final[str] = "aws:sqs/redrivePolicy:RedrivePolicy"
HEALTH_CHECK_TYPE: Final[str] = "aws:route53/healthCheck:HealthCheck"
RECORD_TYPE: Final[str] = "aws:route53/record:Record"

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
class RegionSummary:
    region: str
    resources: int = 0
    timeout_chains: list[TimeoutChain] = field(default_factory=list)
    queue_consumers: list[QueueConsumer] = field(default_factory=list)
    redrives: list[Redrive] = field(default_factory=list)
    failovers: list[Failover] = field(default_factory=list)

    def is_empty(self) -> bool:
        return not (self.timeout_chains or self.queue_consumers or self.redrives or self.failovers)

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

    for summary in regions.values():
        summary.timeout_chains.sort(key=lambda item: item.integration)
        summary.queue_consumers.sort(key=lambda item: item.mapping)
        summary.redrives.sort(key=lambda item: item.queue or "")
        summary.failovers.sort(key=lambda item: item.record)
    return dict(sorted(regions.items(), key=lambda item: (item[0] == GLOBAL_REGION, item[0])))
