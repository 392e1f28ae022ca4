"""route53-latency-health-check: latency routing only fails over when it can see failure.

A latency record keeps sending the clients nearest to a region there, healthy or not. Only a
health check on the record withdraws a failing region, and only a check of the region's deep
health route (one that exercises the function, the queue and the table) notices that the
region is failing while API Gateway still answers. An alias record should also evaluate its
target's health; a CNAME record has no target to evaluate, its health check alone withdraws it.
How quickly the region is withdrawn is, nominally, interval x failure threshold plus the record's
TTL (an alias record's is its target's, 60 s for API Gateway; a CNAME's is its own `ttl`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from .. import thresholds
from ..config import ConfigSpec, Setting
from ..model import HEALTH_CHECK, RECORD, Resource, StackModel
from ..props import ABSENT, UNKNOWN, Marker, at, flag, number, text
from ..rulekit import Report, stack_policy

NAME = "route53-latency-health-check"

#: (resource type, property) this policy reads: checked by the tests against the provider
#: defaults the offline preview models.
READS = (
    (RECORD, "latencyRoutingPolicies"),
    (RECORD, "healthCheckId"),
    (RECORD, "aliases"),
    (RECORD, "ttl"),
    (HEALTH_CHECK, "type"),
    (HEALTH_CHECK, "resourcePath"),
    (HEALTH_CHECK, "requestInterval"),
    (HEALTH_CHECK, "failureThreshold"),
)

_HTTP_TYPES = ("HTTP", "HTTPS", "HTTP_STR_MATCH", "HTTPS_STR_MATCH")

CONFIG = ConfigSpec(
    NAME,
    (
        Setting(
            "maxFailoverSeconds",
            "integer",
            thresholds.estimated_failover_s(),
            "Longest nominal failover allowed: health check interval x failure threshold + "
            f"the record's TTL (an alias record's is {thresholds.ALIAS_RECORD_TTL_S} s).",
            minimum=thresholds.estimated_failover_s(
                min(thresholds.HEALTH_CHECK_INTERVALS_S),
                thresholds.HEALTH_CHECK_FAILURE_THRESHOLD_MIN,
                min(thresholds.ALIAS_RECORD_TTL_S, thresholds.DNS_CNAME_TTL_MIN_S),
            ),
            maximum=3600,
        ),
    ),
)


def _record_ttl(record: Resource) -> int | None:
    """How long resolvers keep a record: an alias's target TTL, else its own `ttl`; None when
    it is not known yet."""
    aliases = at(record.props, "aliases")
    if isinstance(aliases, list) and aliases:
        return thresholds.ALIAS_RECORD_TTL_S
    ttl = number(record.props, "ttl")
    if isinstance(ttl, Marker):
        # An alias whose block is unknown, or a TTL computed at preview: decided at `pulumi up`.
        return None if ttl is UNKNOWN or aliases is UNKNOWN else thresholds.ALIAS_RECORD_TTL_S
    return int(ttl)


def _health_check_problems(
    health_check: Resource, max_failover_s: int, record_ttl_s: int | None
) -> list[str]:
    problems = []
    props = health_check.props
    check_type = text(props, "type")
    if check_type == "TCP":
        problems.append(
            f"health check '{health_check.name}' is TCP: it only sees that a port accepts "
            "connections, not that the region works"
        )
    elif (
        isinstance(check_type, str)
        and check_type in _HTTP_TYPES
        and at(props, "resourcePath") is ABSENT
    ):
        problems.append(
            f"health check '{health_check.name}' probes '/', not the region's deep health "
            "route (set resourcePath)"
        )
    interval = number(props, "requestInterval")
    failures = number(props, "failureThreshold")
    interval_s = thresholds.HEALTH_CHECK_INTERVAL_DEFAULT_S if interval is ABSENT else interval
    failure_threshold = (
        thresholds.HEALTH_CHECK_FAILURE_THRESHOLD_DEFAULT if failures is ABSENT else failures
    )
    if (
        isinstance(interval_s, Marker)
        or isinstance(failure_threshold, Marker)
        or record_ttl_s is None
    ):
        return problems  # computed: the failover time is checked by `pulumi up`
    failover_s = thresholds.estimated_failover_s(
        int(interval_s), int(failure_threshold), record_ttl_s
    )
    if failover_s > max_failover_s:
        problems.append(
            f"health check '{health_check.name}' needs up to {failover_s} s to withdraw the region "
            f"({int(interval_s)} s x {int(failure_threshold)} failures + "
            f"{record_ttl_s} s TTL), above {max_failover_s} s"
        )
    return problems


def check(model: StackModel, settings: Mapping[str, Any], report: Report) -> None:
    for record in model.of_type(RECORD):
        policies = at(record.props, "latencyRoutingPolicies")
        if policies is ABSENT or (isinstance(policies, list) and not policies):
            continue
        problems: list[str] = []
        if at(record.props, "healthCheckId") is ABSENT:
            problems.append(
                "it has no healthCheckId, so a failing region keeps receiving its nearest clients"
            )
        else:
            ttl_s = _record_ttl(record)
            for health_check in model.linked(record, "healthCheckId", (HEALTH_CHECK,)):
                problems.extend(
                    _health_check_problems(health_check, settings["maxFailoverSeconds"], ttl_s)
                )
        aliases = at(record.props, "aliases")
        if isinstance(aliases, list):
            for alias in aliases:
                evaluate = flag(alias, "evaluateTargetHealth")
                if evaluate is not UNKNOWN and evaluate is not True:
                    problems.append("its alias does not set evaluateTargetHealth: true")
        if problems:
            report(
                f"Latency record '{record.name}': {'; '.join(problems)}. Fix: give each latency "
                "record health_check_id=<aws.route53.HealthCheck on the region's own endpoint, "
                "type HTTPS, resource_path=<deep health route>>.id, alias "
                "evaluate_target_health=True, and a TTL short enough for maxFailoverSeconds.",
                record.urn,
            )


POLICY = stack_policy(
    config=CONFIG,
    description=(
        "Every latency-routed Route53 record (alias or CNAME) has a health check on the region's "
        "deep health route that fails over fast enough, and its alias evaluates target health."
    ),
    check=check,
    level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    remediation_steps=(
        "Add an HTTPS aws.route53.HealthCheck per region on its deep /health path, set the "
        "record's healthCheckId to it and evaluateTargetHealth on its alias."
    ),
)
