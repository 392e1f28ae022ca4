"""lambda-async-failure-destination: asynchronously invoked functions keep failed events."""

from __future__ import annotations

from .builder import ENGINE_PREVIEW, OUTPUTS_ONLY, StackBuilder
from .cases import Case, Expect, audit_queue
from .realistic import TAGS, active_active_stack, function

POLICY = "lambda-async-failure-destination"
NOTIFIER = "tasks-us-east-1-notifier-fn"


def with_sns_notifier(failure_handling: str | None) -> StackBuilder:
    """A function subscribed to the alarm topic (invoked asynchronously by SNS)."""
    b = active_active_stack()
    service = b.named("tasks")
    topic = b.named("tasks-us-east-1-alarms")
    failures = audit_queue(b, "us-east-1")
    notifier = function(
        b,
        "tasks-us-east-1-notifier",
        "us-east-1",
        parent=service,
        handler="notify.handler",
        timeout=10,
        memory=128,
        environment={},
        statements=[],
    )
    b.add(
        "aws:lambda/permission:Permission",
        "tasks-us-east-1-notifier-invoke",
        {
            "region": "us-east-1",
            "action": "lambda:InvokeFunction",
            "function": notifier.out("name"),
            "principal": "sns.amazonaws.com",
            "sourceArn": topic.out("arn"),
        },
        parent=service,
    )
    b.add(
        "aws:sns/topicSubscription:TopicSubscription",
        "tasks-us-east-1-notifier-subscription",
        {
            "region": "us-east-1",
            "topic": topic.out("arn"),
            "protocol": "lambda",
            "endpoint": notifier.out("arn"),
        },
        parent=service,
    )
    if failure_handling == "destination":
        b.add(
            "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig",
            "tasks-us-east-1-notifier-failures",
            {
                "region": "us-east-1",
                "functionName": notifier.out("name"),
                "maximumRetryAttempts": 2,
                "destinationConfig": {"onFailure": {"destination": failures.out("arn")}},
            },
            parent=service,
        )
    elif failure_handling == "dead-letter-queue":
        notifier.inputs["deadLetterConfig"] = {"targetArn": failures.out("arn")}
    return b


def with_eventbridge_target() -> StackBuilder:
    b = active_active_stack()
    service = b.named("tasks")
    sweeper = function(
        b,
        "tasks-us-east-1-sweeper",
        "us-east-1",
        parent=service,
        handler="sweep.handler",
        timeout=60,
        memory=128,
        environment={},
        statements=[],
    )
    rule = b.add(
        "aws:cloudwatch/eventRule:EventRule",
        "tasks-us-east-1-sweep-schedule",
        {"region": "us-east-1", "scheduleExpression": "rate(1 hour)", "tags": TAGS},
        parent=service,
    )
    b.add(
        "aws:cloudwatch/eventTarget:EventTarget",
        "tasks-us-east-1-sweep-target",
        {"region": "us-east-1", "rule": rule.out("name"), "arn": sweeper.out("arn")},
        parent=service,
    )
    return b


DROPPED = Expect(
    NOTIFIER,
    (
        "'tasks-us-east-1-notifier-fn' is invoked asynchronously by sns.amazonaws.com "
        "(permission 'tasks-us-east-1-notifier-invoke'), SNS subscription "
        "'tasks-us-east-1-notifier-subscription'",
        "neither an on-failure destination nor a dead-letter queue",
        "FunctionEventInvokeConfig",
    ),
)

CASES = {
    "pass": Case(lambda: with_sns_notifier("destination")),
    "fail": Case(lambda: with_sns_notifier(None), (DROPPED,)),
    # Permission, subscription and invoke config name the function by (unknown) name or ARN.
    "preview": Case(lambda: with_sns_notifier(None), (DROPPED,), preview=True),
    "pass-dead-letter-queue": Case(lambda: with_sns_notifier("dead-letter-queue"), preview=True),
    "pass-sync-invocations-only": Case(active_active_stack, preview=True),
    "fail-eventbridge": Case(
        with_eventbridge_target,
        (
            Expect(
                "tasks-us-east-1-sweeper-fn", ("EventBridge target 'tasks-us-east-1-sweep-target'",)
            ),
        ),
        preview=True,
    ),
}

# The same stacks as the engine sends them: a new stack's preview, and outputs only.
CASES["engine-preview"] = CASES["preview"].reshaped(ENGINE_PREVIEW)
CASES["outputs-only"] = CASES["fail"].reshaped(OUTPUTS_ONLY)
