"""dlq-retention: a dead-letter queue keeps messages at least as long as its source queues.

SQS keeps a dead-lettered message's original enqueue time, so a message that already aged in
the source queue arrives in the DLQ with that much less time left. A DLQ that keeps messages no
longer than its source (or only the default four days) lets failed tasks expire before anyone
has looked at them: keep them for the SQS maximum, long enough for an incident that spans a
weekend.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from .. import thresholds
from ..config import ConfigSpec, Setting
from ..model import (
    EVENT_INVOKE_CONFIG,
    EVENT_SOURCE_MAPPING,
    EVENT_TARGET,
    FUNCTION,
    QUEUE,
    REDRIVE_ALLOW_POLICY,
    REDRIVE_POLICY,
    TOPIC_SUBSCRIPTION,
    StackModel,
)
from ..props import ABSENT, Marker, number, whole
from ..rulekit import Report, stack_policy

NAME = "dlq-retention"

#: (resource type, property) this policy reads: checked by the tests against the provider
#: defaults the offline preview models.
READS = (
    (QUEUE, "messageRetentionSeconds"),
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

CONFIG = ConfigSpec(
    NAME,
    (
        Setting(
            "minRetentionSeconds",
            "integer",
            thresholds.DLQ_RETENTION_S,
            "Shortest message retention a dead-letter queue may have (s); the SQS maximum "
            "by default.",
            minimum=60,
            maximum=thresholds.MAX_MESSAGE_RETENTION_S,
        ),
    ),
)


def _retention(props: dict[str, Any]) -> float | None:
    value = number(props, "messageRetentionSeconds")
    if value is ABSENT:
        return float(thresholds.DEFAULT_MESSAGE_RETENTION_S)
    return None if isinstance(value, Marker) else value


def check(model: StackModel, settings: Mapping[str, Any], report: Report) -> None:
    floor = settings["minRetentionSeconds"]
    for dead_letter_queue in model.dead_letter_queues.values():
        queue = dead_letter_queue.queue
        retention = _retention(queue.props)
        if retention is None:
            continue  # computed retention: decided by `pulumi up`
        source_retentions = [
            (source, value)
            for source in dead_letter_queue.sources
            if (value := _retention(source.props)) is not None
        ]
        problems = []
        if retention < floor:
            problems.append(f"below the {floor} s this stack requires of a DLQ")
        problems.extend(
            f"shorter than its source '{source.name}' ({whole(value)} s)"
            for source, value in source_retentions
            if retention < value
        )
        if not problems:
            continue
        shown = (
            f"{whole(retention)} s (the SQS default)"
            if number(queue.props, "messageRetentionSeconds") is ABSENT
            else f"{whole(retention)} s"
        )
        needed = max([floor, *(value for _, value in source_retentions)])
        report(
            f"Dead-letter queue '{queue.name}' keeps messages for {shown}: "
            f"{'; '.join(problems)}. A dead-lettered message keeps its original enqueue time, "
            "so it would expire before anyone replays it. Fix: set messageRetentionSeconds to "
            f"{whole(needed)} or more (the SQS maximum is "
            f"{thresholds.MAX_MESSAGE_RETENTION_S}).",
            queue.urn,
        )


POLICY = stack_policy(
    config=CONFIG,
    description=(
        "Dead-letter queues keep messages at least as long as each of their source queues, and "
        "at least the configured minimum."
    ),
    check=check,
    level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    remediation_steps="Raise the DLQ's messageRetentionSeconds (1209600, the SQS maximum).",
)
