"""kinesis-iterator-age-alarm: every Kinesis consumer has an alarm on how far behind it is.

A consumer that fails or cannot keep up falls behind its stream silently: records pile up in
the shard, reach the mapping's maximum record age and are skipped, then reach the stream's
retention and are gone. The iterator age (how old the newest record the consumer read is) says
so long before either, if an alarm watches it: Lambda's `IteratorAge` for the consuming
function, or Kinesis' `GetRecords.IteratorAgeMilliseconds` for the stream. The alarm must live
in the consumer's region (CloudWatch metrics are regional), have an action, and fire within the
configured age.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from .. import thresholds
from ..config import ConfigSpec, Setting
from ..model import (
    DEFAULT_REGION,
    EVENT_SOURCE_MAPPING,
    FUNCTION,
    KINESIS,
    KINESIS_STREAM,
    METRIC_ALARM,
    UNKNOWN_REGION,
    Resource,
    StackModel,
)
from ..props import ABSENT, UNKNOWN, Marker, at, flag, items, number, text, whole
from ..rulekit import Report, stack_policy

NAME = "kinesis-iterator-age-alarm"

CONFIG = ConfigSpec(
    NAME,
    (
        Setting(
            "maxThresholdMs",
            "integer",
            thresholds.KINESIS_ITERATOR_AGE_ALARM_MS,
            "The alarm must fire once the iterator age exceeds at most this many milliseconds.",
            minimum=1_000,
            maximum=thresholds.STREAM_RECORD_AGE_LIMIT_S * 1000,
        ),
    ),
)

#: (namespace, metric, dimension, the type the dimension names).
_WATCHES = (
    ("AWS/Lambda", "IteratorAge", "FunctionName", FUNCTION),
    ("AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds", "StreamName", KINESIS_STREAM),
)


def _watched(model: StackModel, alarm: Resource) -> list[Resource]:
    """The functions or streams whose iterator age the alarm watches."""
    namespace = text(alarm.props, "namespace")
    metric = text(alarm.props, "metricName")
    for expected_namespace, expected_metric, dimension, type_ in _WATCHES:
        if namespace in (expected_namespace, UNKNOWN) and metric in (expected_metric, UNKNOWN):
            linked = model.linked(alarm, "dimensions", (type_,), dimension)
            if linked:
                return linked
    return []


def _shortcoming(alarm: Resource, consumer: Resource, settings: Mapping[str, Any]) -> str | None:
    if alarm.region != consumer.region and {alarm.region, consumer.region}.isdisjoint(
        {DEFAULT_REGION, UNKNOWN_REGION}
    ):
        return f"'{alarm.name}' is in {alarm.region}, not {consumer.region}"
    if flag(alarm.props, "actionsEnabled") is False:
        return f"'{alarm.name}' has actionsEnabled: false"
    actions = items(alarm.props, "alarmActions")
    if actions is ABSENT or (isinstance(actions, list) and not actions):
        return f"'{alarm.name}' has no alarmActions, so it notifies nobody"
    operator = text(alarm.props, "comparisonOperator")
    threshold = number(alarm.props, "threshold")
    if operator is UNKNOWN or isinstance(threshold, Marker):
        return None
    limit = settings["maxThresholdMs"]
    if operator in ("GreaterThanThreshold", "GreaterThanOrEqualToThreshold") and threshold <= limit:
        return None
    return (
        f"'{alarm.name}' fires when the age is {operator} {whole(threshold)} ms, not once it "
        f"exceeds {limit} ms"
    )


def check(model: StackModel, settings: Mapping[str, Any], report: Report) -> None:
    watchers: dict[str, list[Resource]] = {}
    for alarm in model.of_type(METRIC_ALARM):
        if at(alarm.props, "dimensions") is ABSENT:
            continue
        for watched in _watched(model, alarm):
            watchers.setdefault(watched.urn, []).append(alarm)
    for mapping in model.of_type(EVENT_SOURCE_MAPPING):
        kind, stream = model.mapping_source(mapping)
        if kind != KINESIS:
            continue
        function = model.mapping_function(mapping)
        candidates = [
            (alarm, subject)
            for subject in (function, stream)
            if subject is not None
            for alarm in watchers.get(subject.urn, [])
        ]
        shortcomings = [_shortcoming(alarm, mapping, settings) for alarm, _ in candidates]
        if any(shortcoming is None for shortcoming in shortcomings):
            continue
        found = (
            "no CloudWatch alarm watches its iterator age"
            if not candidates
            else "its iterator-age alarms do not do the job: " + "; ".join(map(str, shortcomings))
        )
        stream_text = f" '{stream.name}'" if stream is not None else ""
        report(
            f"Mapping '{mapping.name}' reads Kinesis stream{stream_text}, but {found}. A failing "
            "or slow consumer then falls behind unnoticed until its records are skipped or "
            "expire. Fix: an aws.cloudwatch.MetricAlarm in its region with namespace "
            "'AWS/Lambda', metric_name 'IteratorAge', dimensions {'FunctionName': "
            "<consumer>.name}, statistic 'Maximum', comparison_operator 'GreaterThanThreshold', "
            f"threshold {settings['maxThresholdMs']} (ms) or less and alarm_actions "
            "[<sns topic>.arn].",
            mapping.urn,
        )


POLICY = stack_policy(
    config=CONFIG,
    description=(
        "Every Lambda consumer of a Kinesis stream has an alarm on its iterator age (Lambda "
        "IteratorAge or Kinesis GetRecords.IteratorAgeMilliseconds), in its region, with an "
        "action, within the configured age."
    ),
    check=check,
    level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    remediation_steps=(
        "Add a MetricAlarm on AWS/Lambda IteratorAge (dimensions FunctionName) of the consumer, "
        "GreaterThanThreshold at most the configured age, with alarmActions."
    ),
)
