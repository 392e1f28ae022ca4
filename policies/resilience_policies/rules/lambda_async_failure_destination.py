"""lambda-async-failure-destination: asynchronously invoked functions keep what fails.

SNS, EventBridge, S3 and other services invoke a function asynchronously: Lambda queues the
event, retries it twice and then drops it, and nobody finds out. An on-failure destination
(FunctionEventInvokeConfig) or a dead-letter queue on the function keeps the event so it can
be inspected and replayed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ..config import ConfigSpec, Setting
from ..model import (
    BUCKET_NOTIFICATION,
    EVENT_INVOKE_CONFIG,
    EVENT_TARGET,
    FUNCTION,
    PERMISSION,
    TOPIC_SUBSCRIPTION,
    StackModel,
)
from ..props import ABSENT, at, text
from ..rulekit import Report, stack_policy

NAME = "lambda-async-failure-destination"

#: (resource type, property) this policy reads: checked by the tests against the provider
#: defaults the offline preview models.
READS = (
    (PERMISSION, "principal"),
    (PERMISSION, "function"),
    (TOPIC_SUBSCRIPTION, "protocol"),
    (TOPIC_SUBSCRIPTION, "endpoint"),
    (EVENT_TARGET, "arn"),
    (BUCKET_NOTIFICATION, "lambdaFunctions"),
    (FUNCTION, "deadLetterConfig"),
    (EVENT_INVOKE_CONFIG, "destinationConfig"),
    (EVENT_INVOKE_CONFIG, "functionName"),
)

#: Services that invoke Lambda asynchronously (event invocation).
ASYNC_PRINCIPALS = (
    "sns.amazonaws.com",
    "events.amazonaws.com",
    "s3.amazonaws.com",
    "logs.amazonaws.com",
    "ses.amazonaws.com",
    "iot.amazonaws.com",
    "config.amazonaws.com",
    "codecommit.amazonaws.com",
    "cloudformation.amazonaws.com",
    "scheduler.amazonaws.com",
)

CONFIG = ConfigSpec(
    NAME,
    (
        Setting(
            "asyncPrincipals",
            "string_list",
            ASYNC_PRINCIPALS,
            "Service principals whose invoke permission means the function is invoked "
            "asynchronously.",
        ),
    ),
)


def check(model: StackModel, settings: Mapping[str, Any], report: Report) -> None:
    principals = set(settings["asyncPrincipals"])
    triggers: dict[str, list[str]] = {}

    def add(function_urns: list[Any], trigger: str) -> None:
        for function in function_urns:
            entries = triggers.setdefault(function.urn, [])
            if trigger not in entries:
                entries.append(trigger)

    for permission in model.of_type(PERMISSION):
        principal = text(permission.props, "principal")
        if isinstance(principal, str) and principal in principals:
            add(
                model.linked(permission, "function", (FUNCTION,)),
                f"{principal} (permission '{permission.name}')",
            )
    for subscription in model.of_type(TOPIC_SUBSCRIPTION):
        if text(subscription.props, "protocol") == "lambda":
            add(
                model.linked(subscription, "endpoint", (FUNCTION,)),
                f"SNS subscription '{subscription.name}'",
            )
    for target in model.of_type(EVENT_TARGET):
        add(model.linked(target, "arn", (FUNCTION,)), f"EventBridge target '{target.name}'")
    for notification in model.of_type(BUCKET_NOTIFICATION):
        add(
            model.linked(notification, "lambdaFunctions", (FUNCTION,)),
            f"S3 notification '{notification.name}'",
        )

    for function_urn, sources in triggers.items():
        function = model.by_urn[function_urn]
        if at(function.props, "deadLetterConfig", "targetArn") is not ABSENT:
            continue
        configs = model.function_invoke_configs.get(function_urn, [])
        if any(
            at(config.props, "destinationConfig", "onFailure", "destination") is not ABSENT
            for config in configs
        ):
            continue
        report(
            f"Function '{function.name}' is invoked asynchronously by {', '.join(sources)} but "
            "has neither an on-failure destination nor a dead-letter queue: after two retries "
            "Lambda drops the event and nobody finds out. Fix: add an "
            "aws.lambda_.FunctionEventInvokeConfig(function_name=<fn>.name, destination_config="
            "{'on_failure': {'destination': <SQS queue or SNS topic>.arn}}) or set "
            "dead_letter_config={'target_arn': <queue>.arn} on the function.",
            function.urn,
        )


POLICY = stack_policy(
    config=CONFIG,
    description=(
        "Functions invoked asynchronously (SNS, EventBridge, S3, ...) have an on-failure "
        "destination or a dead-letter queue."
    ),
    check=check,
    level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    remediation_steps=(
        "Add a FunctionEventInvokeConfig with destinationConfig.onFailure.destination, or a "
        "deadLetterConfig on the function."
    ),
)
