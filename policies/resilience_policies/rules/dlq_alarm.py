"""dlq-alarm: every dead-letter queue has a depth alarm that notifies someone.

A DLQ nobody watches is where failures go to be forgotten: every message there is a task that
failed repeatedly. An alarm on its depth, firing on the first message and wired to an action
(an SNS topic that pages or mails), turns a silent failure into an incident. The alarm must
live in the queue's region: CloudWatch metrics are regional.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from .. import thresholds
from ..config import ConfigSpec, Setting
from ..model import (
    DEFAULT_REGION,
    EVENT_INVOKE_CONFIG,
    EVENT_SOURCE_MAPPING,
    EVENT_TARGET,
    FUNCTION,
    METRIC_ALARM,
    QUEUE,
    REDRIVE_ALLOW_POLICY,
    REDRIVE_POLICY,
    TOPIC_SUBSCRIPTION,
    UNKNOWN_REGION,
    Resource,
    StackModel,
)
from ..props import ABSENT, UNKNOWN, Marker, at, flag, items, number, text, whole
from ..rulekit import Report, stack_policy

NAME = "dlq-alarm"

#: (resource type, property) this policy reads: checked by the tests against the provider
#: defaults the offline preview models.
READS = (
    (METRIC_ALARM, "namespace"),
    (METRIC_ALARM, "metricName"),
    (METRIC_ALARM, "dimensions"),
    (METRIC_ALARM, "metricQueries"),
    (METRIC_ALARM, "actionsEnabled"),
    (METRIC_ALARM, "alarmActions"),
    (METRIC_ALARM, "comparisonOperator"),
    (METRIC_ALARM, "threshold"),
    # through the stack model's dead-letter queues: every queue failures are sent to
    (QUEUE, "redrivePolicy"),
    (QUEUE, "redriveAllowPolicy"),
    (REDRIVE_POLICY, "redrivePolicy"),
    (REDRIVE_POLICY, "queueUrl"),
    (REDRIVE_ALLOW_POLICY, "queueUrl"),
    (FUNCTION, "deadLetterConfig"),
    (EVENT_INVOKE_CONFIG, "destinationConfig"),
    (EVENT_INVOKE_CONFIG, "functionName"),
    (EVENT_SOURCE_MAPPING, "destinationConfig"),
    (EVENT_TARGET, "deadLetterConfig"),
    (TOPIC_SUBSCRIPTION, "redrivePolicy"),
)

_SQS_METRICS = (
    "ApproximateNumberOfMessagesVisible",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
    "ApproximateAgeOfOldestMessage",
    "NumberOfMessagesSent",
    "NumberOfMessagesReceived",
)

CONFIG = ConfigSpec(
    NAME,
    (
        Setting(
            "maxThreshold",
            "number",
            thresholds.DLQ_DEPTH_ALARM_THRESHOLD,
            "The alarm must fire once the depth exceeds this many messages (0: the first one).",
            minimum=0,
            maximum=1_000_000,
        ),
        Setting(
            "metricNames",
            "string_list",
            ("ApproximateNumberOfMessagesVisible",),
            "SQS metrics that count as watching the DLQ's depth.",
            choices=_SQS_METRICS,
        ),
    ),
)


def _shortcoming(
    alarm: Resource, metric: Mapping[str, Any], queue: Resource, settings: Mapping[str, Any]
) -> str | None:
    """Why this alarm does not do the job, or None when it does."""
    namespace, metric_name = metric["namespace"], metric["metricName"]
    if isinstance(namespace, str) and namespace != "AWS/SQS":
        return f"'{alarm.name}' watches namespace {namespace}, not AWS/SQS"
    if isinstance(metric_name, str) and metric_name not in settings["metricNames"]:
        return (
            f"'{alarm.name}' watches {metric_name}, not the depth "
            f"({', '.join(settings['metricNames'])})"
        )
    if alarm.region != queue.region and {alarm.region, queue.region}.isdisjoint(
        {DEFAULT_REGION, UNKNOWN_REGION}
    ):
        return (
            f"'{alarm.name}' is in {alarm.region} but the queue is in {queue.region}; "
            "CloudWatch metrics are regional, so it never sees the queue"
        )
    if flag(alarm.props, "actionsEnabled") is False:
        return f"'{alarm.name}' has actionsEnabled: false"
    actions = items(alarm.props, "alarmActions")
    if actions is ABSENT or (isinstance(actions, list) and not actions):
        return f"'{alarm.name}' has no alarmActions, so it notifies nobody"
    if at(alarm.props, "metricQueries") is not ABSENT:
        return None  # metric math: the threshold applies to the expression, not the depth
    operator = text(alarm.props, "comparisonOperator")
    threshold = number(alarm.props, "threshold")
    if operator is UNKNOWN or isinstance(threshold, Marker):
        return None
    limit = settings["maxThreshold"]
    if operator == "GreaterThanThreshold" and threshold <= limit:
        return None
    if operator == "GreaterThanOrEqualToThreshold" and threshold <= limit + 1:
        return None
    return (
        f"'{alarm.name}' fires when the depth is {operator} {whole(threshold)}, not as soon as "
        f"it exceeds {whole(limit)}"
    )


def check(model: StackModel, settings: Mapping[str, Any], report: Report) -> None:
    for dead_letter_queue in model.dead_letter_queues.values():
        queue = dead_letter_queue.queue
        alarms = model.queue_alarms.get(queue.urn, [])
        shortcomings = [_shortcoming(alarm, metric, queue, settings) for alarm, metric in alarms]
        if any(shortcoming is None for shortcoming in shortcomings):
            continue
        role = dead_letter_queue.roles[0] if dead_letter_queue.roles else "a dead-letter queue"
        found = (
            "no CloudWatch alarm watches its depth"
            if not alarms
            else "its alarms do not do the job: " + "; ".join(str(s) for s in shortcomings)
        )
        report(
            f"Dead-letter queue '{queue.name}' ({role}): {found}. Every message in a DLQ is a "
            "task that failed repeatedly; unwatched, it expires unnoticed. Fix: add an "
            "aws.cloudwatch.MetricAlarm in the queue's region with namespace 'AWS/SQS', "
            "metric_name 'ApproximateNumberOfMessagesVisible', dimensions {'QueueName': "
            f"<dlq>.name}}, comparison_operator 'GreaterThanThreshold', threshold "
            f"{whole(settings['maxThreshold'])} and alarm_actions [<sns topic>.arn].",
            queue.urn,
        )


POLICY = stack_policy(
    config=CONFIG,
    description=(
        "Every dead-letter queue has a CloudWatch alarm on its depth, in its region, that fires "
        "on the first message and has an alarm action."
    ),
    check=check,
    level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    remediation_steps=(
        "Add a MetricAlarm on AWS/SQS ApproximateNumberOfMessagesVisible for the DLQ "
        "(dimensions QueueName), GreaterThanThreshold 0, with alarmActions."
    ),
)
