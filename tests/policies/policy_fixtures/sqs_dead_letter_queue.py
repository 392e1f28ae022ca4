"""sqs-dead-letter-queue: every work queue redrives to a DLQ with a bounded maxReceiveCount."""

from __future__ import annotations

import json

from .builder import ENGINE_PREVIEW, OUTPUTS_ONLY, JsonOf, StackBuilder
from .cases import Case, Expect
from .realistic import TAGS, active_active_stack

POLICY = "sqs-dead-letter-queue"
EU_QUEUE = "tasks-eu-west-1-worker-queue"
US_REDRIVE = "tasks-us-east-1-worker-redrive"
LEGACY = "tasks-us-east-1-legacy-queue"


def without_redrive() -> StackBuilder:
    b = active_active_stack()
    b.remove(b.named("tasks-eu-west-1-worker-redrive"))
    return b


def receive_count(count: int) -> StackBuilder:
    b = active_active_stack()
    redrive = b.named(US_REDRIVE)
    redrive.inputs["redrivePolicy"] = JsonOf(
        {
            "deadLetterTargetArn": b.named("tasks-us-east-1-worker-dlq").out("arn"),
            "maxReceiveCount": count,
        }
    )
    return b


def inline_without_count() -> StackBuilder:
    """An inline redrive to a DLQ outside the stack, written as a literal: known at preview."""
    b = active_active_stack()
    b.add(
        "aws:sqs/queue:Queue",
        LEGACY,
        {
            "region": "us-east-1",
            "redrivePolicy": json.dumps(
                {"deadLetterTargetArn": "arn:aws:sqs:us-east-1:123456789012:legacy-dlq"}
            ),
            "sqsManagedSseEnabled": True,
            "tags": TAGS,
        },
        parent=b.named("tasks"),
    )
    return b


NO_REDRIVE = Expect(
    EU_QUEUE,
    (
        "Queue 'tasks-eu-west-1-worker-queue' has no redrive policy",
        "aws.sqs.RedrivePolicy",
        "'maxReceiveCount': 5",
    ),
)
TOO_MANY = Expect(
    US_REDRIVE,
    (
        "RedrivePolicy 'tasks-us-east-1-worker-redrive'",
        "maxReceiveCount is 50, outside 3..10",
        "poison message would burn",
    ),
)

CASES = {
    "pass": Case(active_active_stack),
    "fail": Case(without_redrive, (NO_REDRIVE,)),
    # The DLQ (kept as one by its RedriveAllowPolicy) is linked through `queueUrl` only.
    "preview": Case(without_redrive, (NO_REDRIVE,), preview=True),
    "fail-receive-count": Case(lambda: receive_count(50), (TOO_MANY,)),
    "preview-receive-count-deferred": Case(
        lambda: receive_count(50),
        (),
        preview=True,
        note="maxReceiveCount sits in JSON built from the DLQ's ARN: unknown until `pulumi up`",
    ),
    "fail-receive-count-below-configured": Case(
        lambda: receive_count(3),
        (Expect(US_REDRIVE, ("maxReceiveCount is 3, outside 4..10", "healthy messages")),),
        config={"maxReceiveCountMin": 4},
    ),
    "fail-inline-literal": Case(
        inline_without_count,
        (Expect(LEGACY, ("Queue 'tasks-us-east-1-legacy-queue': it has no maxReceiveCount",)),),
        preview=True,
    ),
}

# The same stacks as the engine sends them: a new stack's preview, and outputs only.
CASES["engine-preview"] = CASES["preview"].reshaped(ENGINE_PREVIEW)
CASES["outputs-only"] = CASES["fail"].reshaped(OUTPUTS_ONLY)
