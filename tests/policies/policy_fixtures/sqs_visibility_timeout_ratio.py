"""sqs-visibility-timeout-ratio: queue visibility >= ratio x consumer timeout + batching window."""

from __future__ import annotations

from .builder import ENGINE_PREVIEW, OUTPUTS_ONLY, StackBuilder
from .cases import Case, Expect
from .realistic import active_active_stack

POLICY = "sqs-visibility-timeout-ratio"
EU_QUEUE = "tasks-eu-west-1-worker-queue"
US_QUEUE = "tasks-us-east-1-worker-queue"


def short_visibility() -> StackBuilder:
    b = active_active_stack()
    b.named(EU_QUEUE).inputs["visibilityTimeoutSeconds"] = 150
    return b


def default_visibility() -> StackBuilder:
    b = active_active_stack()
    del b.named(US_QUEUE).inputs["visibilityTimeoutSeconds"]
    return b


SHORT = Expect(
    EU_QUEUE,
    (
        "visibility timeout of 150 s",
        "'tasks-eu-west-1-worker-consumer-fn' (timeout 30 s)",
        "'tasks-eu-west-1-worker-mapping' with a batching window of 1 s",
        "6 x 30 + 1 = 181 s",
        "set visibilityTimeoutSeconds on 'tasks-eu-west-1-worker-queue' to 181 or more",
    ),
)

CASES = {
    "pass": Case(active_active_stack),
    "fail": Case(short_visibility, (SHORT,)),
    # Queue, function and mapping are linked only through property dependencies here.
    "preview": Case(short_visibility, (SHORT,), preview=True),
    "fail-aws-default": Case(
        default_visibility,
        (
            Expect(
                US_QUEUE,
                (
                    "30 s (the SQS default: visibilityTimeoutSeconds is not set)",
                    "6 x 30 + 1 = 181 s",
                ),
            ),
        ),
        preview=True,
    ),
    "fail-configured-ratio": Case(
        active_active_stack,
        (
            Expect(US_QUEUE, ("8 x 30 + 1 = 241 s",)),
            Expect(EU_QUEUE, ("8 x 30 + 1 = 241 s",)),
        ),
        config={"ratio": 8},
    ),
}

# The same stacks as the engine sends them: a new stack's preview, and outputs only.
CASES["engine-preview"] = CASES["preview"].reshaped(ENGINE_PREVIEW)
CASES["outputs-only"] = CASES["fail"].reshaped(OUTPUTS_ONLY)
