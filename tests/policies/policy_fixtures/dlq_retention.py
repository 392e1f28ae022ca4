"""dlq-retention: a DLQ keeps messages at least as long as its sources (and the floor)."""

from __future__ import annotations

from .builder import ENGINE_PREVIEW, OUTPUTS_ONLY, StackBuilder
from .cases import Case, Expect
from .realistic import active_active_stack
from .stream_poison_message import with_stream_consumer

POLICY = "dlq-retention"
US_DLQ = "tasks-us-east-1-worker-dlq"


def short_dlq(seconds: int | None) -> StackBuilder:
    b = active_active_stack()
    if seconds is None:
        del b.named(US_DLQ).inputs["messageRetentionSeconds"]
    else:
        b.named(US_DLQ).inputs["messageRetentionSeconds"] = seconds
    return b


def long_source() -> StackBuilder:
    b = short_dlq(None)
    b.named("tasks-us-east-1-worker-queue").inputs["messageRetentionSeconds"] = 600_000
    return b


def stream_failures_short() -> StackBuilder:
    """A stream mapping's on-failure queue is a dead-letter queue: it keeps what it holds."""
    b = with_stream_consumer()
    b.named("tasks-us-east-1-audit-failures").inputs["messageRetentionSeconds"] = 86_400
    return b


SHORT = Expect(
    US_DLQ,
    (
        "keeps messages for 86400 s",
        "below the 1209600 s this stack requires of a DLQ",
        "shorter than its source 'tasks-us-east-1-worker-queue' (345600 s)",
        "set messageRetentionSeconds to 1209600 or more",
    ),
)

CASES = {
    "pass": Case(active_active_stack),
    "fail": Case(lambda: short_dlq(86_400), (SHORT,)),
    # DLQ and source are linked through the RedrivePolicy's dependencies.
    "preview": Case(lambda: short_dlq(86_400), (SHORT,), preview=True),
    "pass-configured-floor": Case(
        lambda: short_dlq(345_600), config={"minRetentionSeconds": 345_600}
    ),
    "fail-shorter-than-source": Case(
        long_source,
        (
            Expect(
                US_DLQ,
                (
                    "345600 s (the SQS default)",
                    "shorter than its source 'tasks-us-east-1-worker-queue' (600000 s)",
                    "to 600000 or more",
                ),
            ),
        ),
        preview=True,
        config={"minRetentionSeconds": 60},
    ),
    "fail-stream-failure-queue": Case(
        stream_failures_short,
        (
            Expect(
                "tasks-us-east-1-audit-failures",
                ("keeps messages for 86400 s", "below the 1209600 s this stack requires"),
            ),
        ),
        preview=True,
    ),
    "pass-stream-failure-queue": Case(with_stream_consumer, preview=True),
}

# The same stacks as the engine sends them: a new stack's preview, and outputs only.
CASES["engine-preview"] = CASES["preview"].reshaped(ENGINE_PREVIEW)
CASES["outputs-only"] = CASES["fail"].reshaped(OUTPUTS_ONLY)
