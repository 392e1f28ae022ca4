"""sqs-dead-letter-queue: every work queue parks poison messages in a DLQ, after a bounded
number of receives.

A message that always fails (a poison message) is otherwise received, fails and returns until
it expires: it burns invocations, delays the messages behind it and is silently lost at the end.
A redrive policy moves it aside after maxReceiveCount receives. Too few receives and a briefly
throttled consumer dead-letters healthy messages; too many and the poison message keeps burning
invocations.
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
    Redrive,
    StackModel,
)
from ..props import ABSENT, UNKNOWN, at, number, whole
from ..rulekit import Report, stack_policy

NAME = "sqs-dead-letter-queue"

#: (resource type, property) this policy reads: checked by the tests against the provider
#: defaults the offline preview models.
READS = (
    (QUEUE, "redrivePolicy"),
    (REDRIVE_POLICY, "redrivePolicy"),
    (REDRIVE_POLICY, "queueUrl"),
    # through the stack model's dead-letter queues: every queue failures are sent to
    (QUEUE, "redriveAllowPolicy"),
    (REDRIVE_ALLOW_POLICY, "queueUrl"),
    (FUNCTION, "deadLetterConfig"),
    (EVENT_INVOKE_CONFIG, "destinationConfig"),
    (EVENT_INVOKE_CONFIG, "functionName"),
    (EVENT_SOURCE_MAPPING, "destinationConfig"),
    (EVENT_TARGET, "deadLetterConfig"),
    (TOPIC_SUBSCRIPTION, "redrivePolicy"),
)


def _bounds_in_order(values: Mapping[str, Any]) -> list[tuple[str, str]]:
    if values["maxReceiveCountMin"] > values["maxReceiveCountMax"]:
        return [
            (
                "maxReceiveCountMin",
                f"({values['maxReceiveCountMin']}) is above maxReceiveCountMax "
                f"({values['maxReceiveCountMax']}); make the minimum the smaller one.",
            )
        ]
    return []


CONFIG = ConfigSpec(
    NAME,
    (
        Setting(
            "maxReceiveCountMin",
            "integer",
            thresholds.MAX_RECEIVE_COUNT_MIN,
            "Fewest receives before a message is dead-lettered.",
            minimum=1,
            maximum=1000,
        ),
        Setting(
            "maxReceiveCountMax",
            "integer",
            thresholds.MAX_RECEIVE_COUNT_MAX,
            "Most receives before a message is dead-lettered.",
            minimum=1,
            maximum=1000,
        ),
    ),
    cross_checks=(_bounds_in_order,),
)

_FIX = (
    "add an aws.sqs.RedrivePolicy(queue_url=<queue>.url, redrive_policy=pulumi.Output.json_dumps("
    "{{'deadLetterTargetArn': <dlq>.arn, 'maxReceiveCount': {count}}}))"
)


def _check_redrive(redrive: Redrive, low: int, high: int, report: Report) -> None:
    document = redrive.document
    where = (
        f"Queue '{redrive.carrier.name}'"
        if redrive.carrier is redrive.source
        else f"RedrivePolicy '{redrive.carrier.name}'"
    )
    if document is UNKNOWN:
        return  # computed JSON (it names the DLQ's ARN): the count is checked by `pulumi up`
    if not isinstance(document, dict):
        report(
            f"{where}: redrivePolicy is not a JSON object. Fix: give it "
            f'{{"deadLetterTargetArn": <dlq arn>, "maxReceiveCount": {low}..{high}}}.',
            redrive.carrier.urn,
        )
        return
    problems = []
    if at(document, "deadLetterTargetArn") is ABSENT:
        problems.append("it names no deadLetterTargetArn")
    count = number(document, "maxReceiveCount")
    if count is ABSENT:
        problems.append("it has no maxReceiveCount")
    elif count is not UNKNOWN and isinstance(count, float) and not low <= count <= high:
        problems.append(
            f"maxReceiveCount is {whole(count)}, outside {low}..{high}: "
            + (
                "a briefly throttled consumer would dead-letter healthy messages"
                if count < low
                else "a poison message would burn that many invocations before it is parked"
            )
        )
    if problems:
        report(
            f"{where}: {'; '.join(problems)}. Fix: set maxReceiveCount between {low} and "
            f"{high} (default {thresholds.MAX_RECEIVE_COUNT_DEFAULT}) and deadLetterTargetArn to "
            "the DLQ's ARN.",
            redrive.carrier.urn,
        )


def check(model: StackModel, settings: Mapping[str, Any], report: Report) -> None:
    low, high = settings["maxReceiveCountMin"], settings["maxReceiveCountMax"]
    dead_letter_queues = model.dead_letter_queues
    for queue in model.of_type(QUEUE):
        if queue.urn in dead_letter_queues:
            continue
        redrives = model.redrives_by_source.get(queue.urn, [])
        if not redrives:
            report(
                f"Queue '{queue.name}' has no redrive policy: a message that always fails is "
                "received, fails and returns until it expires, burning invocations and delaying "
                "the messages behind it, then vanishes. Fix: "
                + _FIX.format(count=thresholds.MAX_RECEIVE_COUNT_DEFAULT)
                + " (or set redrivePolicy on the queue itself).",
                queue.urn,
            )
            continue
        for redrive in redrives:
            _check_redrive(redrive, low, high, report)


POLICY = stack_policy(
    config=CONFIG,
    description=(
        "Every SQS queue that is not itself a dead-letter queue has a redrive policy with a "
        "bounded maxReceiveCount."
    ),
    check=check,
    level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    remediation_steps=(
        "Create a DLQ and an aws.sqs.RedrivePolicy for the queue with deadLetterTargetArn = the "
        "DLQ's ARN and maxReceiveCount within the configured bounds."
    ),
)
