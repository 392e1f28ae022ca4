"""sqs-visibility-timeout-ratio: a queue's visibility timeout fits the function that consumes it.

While a consumer works on a message the message is invisible; when the visibility timeout runs
out first, SQS hands the same message to another invocation, which does the work again (and the
receive count climbs towards the DLQ for a message that never failed). AWS's guidance is at
least six times the function's timeout, plus the batching window (the clock starts when the
poller receives the message, not when the function starts).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from .. import thresholds
from ..config import ConfigSpec, Setting
from ..model import EVENT_SOURCE_MAPPING, FUNCTION, QUEUE, SQS, StackModel
from ..props import ABSENT, Marker, number, whole
from ..rulekit import Report, stack_policy

NAME = "sqs-visibility-timeout-ratio"

#: (resource type, property) this policy reads: checked by the tests against the provider
#: defaults the offline preview models.
READS = (
    (QUEUE, "visibilityTimeoutSeconds"),
    (FUNCTION, "timeout"),
    (EVENT_SOURCE_MAPPING, "maximumBatchingWindowInSeconds"),
    (EVENT_SOURCE_MAPPING, "eventSourceArn"),
    (EVENT_SOURCE_MAPPING, "functionName"),
)

CONFIG = ConfigSpec(
    NAME,
    (
        Setting(
            "ratio",
            "number",
            thresholds.VISIBILITY_TIMEOUT_RATIO,
            "Minimum visibility timeout as a multiple of the consumer's timeout (AWS: 6).",
            minimum=1,
            maximum=100,
        ),
    ),
)


def _reading(value: float | Marker, default: float) -> tuple[float | None, bool]:
    """(the value in effect or None when unknown, whether it is the AWS default)."""
    if value is ABSENT:
        return default, True
    if isinstance(value, Marker):
        return None, False
    return value, False


def check(model: StackModel, settings: Mapping[str, Any], report: Report) -> None:
    ratio = settings["ratio"]
    for mapping in model.of_type(EVENT_SOURCE_MAPPING):
        kind, queue = model.mapping_source(mapping)
        function = model.mapping_function(mapping)
        if kind != SQS or queue is None or function is None:
            continue  # the queue or the consumer lives outside this stack: nothing to compare
        visibility, visibility_default = _reading(
            number(queue.props, "visibilityTimeoutSeconds"),
            thresholds.DEFAULT_QUEUE_VISIBILITY_TIMEOUT_S,
        )
        timeout, timeout_default = _reading(
            number(function.props, "timeout"), thresholds.DEFAULT_LAMBDA_TIMEOUT_S
        )
        window, _ = _reading(number(mapping.props, "maximumBatchingWindowInSeconds"), 0)
        if visibility is None or timeout is None or window is None:
            continue  # a computed number: decided by `pulumi up`, when it is known
        required = thresholds.required_visibility_timeout_s(timeout, window, ratio)
        if visibility >= required:
            continue
        visibility_note = (
            " (the SQS default: visibilityTimeoutSeconds is not set)"
            if (visibility_default)
            else ""
        )
        timeout_note = " (the Lambda default: timeout is not set)" if timeout_default else ""
        fix = f"set visibilityTimeoutSeconds on '{queue.name}' to {required} or more"
        if required > thresholds.MAX_QUEUE_VISIBILITY_TIMEOUT_S:
            fix = (
                f"shorten the timeout of '{function.name}': {required} s is above SQS's "
                f"{thresholds.MAX_QUEUE_VISIBILITY_TIMEOUT_S} s visibility limit"
            )
        report(
            f"Queue '{queue.name}' has a visibility timeout of {whole(visibility)} s"
            f"{visibility_note}, but '{function.name}' (timeout {whole(timeout)} s{timeout_note}) "
            f"consumes it through '{mapping.name}' with a batching window of {whole(window)} s, "
            f"which needs at least {whole(ratio)} x {whole(timeout)} + {whole(window)} = "
            f"{required} s. Below that a message still being processed becomes visible again and "
            f"a second invocation repeats the work. Fix: {fix}.",
            queue.urn,
        )


POLICY = stack_policy(
    config=CONFIG,
    description=(
        "SQS queues consumed by Lambda keep messages invisible for at least ratio x the "
        "function timeout + the batching window."
    ),
    check=check,
    level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    remediation_steps=(
        "Set the queue's visibilityTimeoutSeconds to the value the message names "
        "(ratio x function timeout + maximumBatchingWindowInSeconds)."
    ),
)
