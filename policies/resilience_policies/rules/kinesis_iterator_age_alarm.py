"""kinesis-iterator-age-alarm: every Kinesis consumer has an alarm on how far behind it is.

A consumer that fails or cannot keep up falls behind its stream silently: records pile up in
the shard, reach the mapping's maximum record age and are skipped, then reach the stream's
retention and are gone. The iterator age (how old the newest record the consumer read is) says
so long before either, if an alarm watches it: Lambda's `IteratorAge` for the consuming
function, or Kinesis' `GetRecords.IteratorAgeMilliseconds` for the stream. The alarm must live
in the consumer's region (CloudWatch metrics are regional), have an action, and fire before any
record is lost: its threshold at most the mapping's maximum record age (-1, AWS's default, is
infinite: the retention decides) or the stream's retention period (24 h by default), whichever
is shorter, less a configurable margin (time to react), and never asked below a configurable
floor.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
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
            "marginMs",
            "integer",
            thresholds.KINESIS_ITERATOR_AGE_MARGIN_MS,
            "How long before a record is lost (skipped at the mapping's maximum record age, or "
            "expired at the stream's retention) the alarm must fire (ms).",
            minimum=0,
            maximum=thresholds.STREAM_RECORD_AGE_LIMIT_S * 1000,
        ),
        Setting(
            "floorMs",
            "integer",
            thresholds.KINESIS_ITERATOR_AGE_FLOOR_MS,
            "The lowest threshold ever asked for, however short the record age (ms).",
            minimum=1_000,
            maximum=thresholds.STREAM_RECORD_AGE_LIMIT_S * 1000,
        ),
    ),
)

#: (resource type, property) this policy reads: checked by the tests against the provider
#: defaults the offline preview models.
READS = (
    (METRIC_ALARM, "namespace"),
    (METRIC_ALARM, "metricName"),
    (METRIC_ALARM, "dimensions"),
    (METRIC_ALARM, "actionsEnabled"),
    (METRIC_ALARM, "alarmActions"),
    (METRIC_ALARM, "comparisonOperator"),
    (METRIC_ALARM, "threshold"),
    (EVENT_SOURCE_MAPPING, "eventSourceArn"),
    (EVENT_SOURCE_MAPPING, "functionName"),
    (EVENT_SOURCE_MAPPING, "maximumRecordAgeInSeconds"),
    (KINESIS_STREAM, "retentionPeriod"),
)


@dataclass(frozen=True)
class _Ceiling:
    """The highest threshold that fires in time for one mapping, and why."""

    ms: int
    #: What loses the records first, for the message.
    basis: str
    #: False when the record age or the retention is not known yet: `ms` is then only what the
    #: known values allow, and a threshold above it is left to `pulumi up`.
    exact: bool


def _ceiling(mapping: Resource, stream: Resource | None, settings: Mapping[str, Any]) -> _Ceiling:
    age = number(mapping.props, "maximumRecordAgeInSeconds")
    retention: float | Marker = (
        ABSENT if stream is None else number(stream.props, "retentionPeriod")
    )
    exact = not (age is UNKNOWN or retention is UNKNOWN or stream is None)
    hours = (
        float(thresholds.KINESIS_RETENTION_HOURS_DEFAULT)
        if isinstance(retention, Marker)
        else retention
    )
    age_s = None if isinstance(age, Marker) else age
    ms = thresholds.kinesis_iterator_age_ceiling_ms(
        age_s, hours, settings["marginMs"], settings["floorMs"]
    )
    if age_s is not None and 0 <= age_s < hours * 3600:
        basis = f"the mapping skips records older than {whole(age_s)} s (maximumRecordAgeInSeconds)"
    else:
        default = " (the default)" if retention is ABSENT else ""
        basis = f"the stream drops records after {whole(hours)} h{default} (retentionPeriod)"
    return _Ceiling(ms, basis, exact)


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


def _shortcoming(alarm: Resource, consumer: Resource, ceiling: _Ceiling) -> str | None:
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
    rising = operator in ("GreaterThanThreshold", "GreaterThanOrEqualToThreshold")
    if rising and (threshold <= ceiling.ms or not ceiling.exact):
        return None
    return (
        f"'{alarm.name}' fires when the age is {operator} {whole(threshold)} ms, not once it "
        f"exceeds {ceiling.ms} ms ({ceiling.basis}; the alarm must fire at least "
        "marginMs before)"
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
        ceiling = _ceiling(mapping, stream, settings)
        shortcomings = [_shortcoming(alarm, mapping, ceiling) for alarm, _ in candidates]
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
            f"threshold {ceiling.ms} (ms) or less ({ceiling.basis}) and alarm_actions "
            "[<sns topic>.arn].",
            mapping.urn,
        )


POLICY = stack_policy(
    config=CONFIG,
    description=(
        "Every Lambda consumer of a Kinesis stream has an alarm on its iterator age (Lambda "
        "IteratorAge or Kinesis GetRecords.IteratorAgeMilliseconds), in its region, with an "
        "action, firing (by a configurable margin) before the mapping's maximum record age or "
        "the stream's retention loses a record."
    ),
    check=check,
    level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    remediation_steps=(
        "Add a MetricAlarm on AWS/Lambda IteratorAge (dimensions FunctionName) of the consumer, "
        "GreaterThanThreshold at most the mapping's maximum record age (or the stream's "
        "retention) less the margin, with alarmActions."
    ),
)
