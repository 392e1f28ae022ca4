"""dlq-alarm: every DLQ has a depth alarm in its region, firing on the first message, with an
action."""

from __future__ import annotations

from .builder import ENGINE_PREVIEW, OUTPUTS_ONLY, StackBuilder
from .cases import Case, Expect
from .realistic import TAGS, active_active_stack
from .stream_poison_message import with_stream_consumer

POLICY = "dlq-alarm"
EU_DLQ = "tasks-eu-west-1-worker-dlq"
EU_ALARM = "tasks-eu-west-1-worker-dlq-depth"


def without_alarm() -> StackBuilder:
    b = active_active_stack()
    b.remove(b.named(EU_ALARM))
    return b


def alarm_changed(**inputs: object) -> StackBuilder:
    b = active_active_stack()
    b.named(EU_ALARM).inputs.update(inputs)
    return b


AUDIT_FAILURES = "tasks-us-east-1-audit-failures"
EXEMPT_REASON = "drained hourly by the ops job"


def stream_failures_unwatched() -> StackBuilder:
    """A stream mapping's on-failure queue is a dead-letter queue: it needs the alarm too."""
    b = with_stream_consumer()
    b.remove(b.named(f"{AUDIT_FAILURES}-depth"))
    return b


def without_alarm_tagged(reason: str) -> StackBuilder:
    b = without_alarm()
    b.named(EU_DLQ).inputs["tags"] = {**TAGS, "resilience:exempt:dlq-alarm": reason}
    return b


def without_alarm_tagged_with_a_computed_tag(reason: str) -> StackBuilder:
    """The tag map also holds a value computed from another resource: the planned state blanks
    the whole map, the checked inputs still hold the exemption literally."""
    b = without_alarm_tagged(reason)
    b.named(EU_DLQ).inputs["tags"]["source"] = b.named("tasks-eu-west-1-worker-queue").out("arn")
    return b


MISSING = Expect(
    EU_DLQ,
    (
        "Dead-letter queue 'tasks-eu-west-1-worker-dlq'",
        "dead-letter queue of tasks-eu-west-1-worker-queue",
        "no CloudWatch alarm watches its depth",
        "ApproximateNumberOfMessagesVisible",
    ),
)

CASES = {
    "pass": Case(active_active_stack),
    "fail": Case(without_alarm, (MISSING,)),
    # The alarm's dimensions.QueueName is the DLQ's (unknown) name: linked by dependency.
    "preview": Case(without_alarm, (MISSING,), preview=True),
    "fail-no-action": Case(
        lambda: alarm_changed(alarmActions=[]),
        (Expect(EU_DLQ, ("'tasks-eu-west-1-worker-dlq-depth' has no alarmActions",)),),
        preview=True,
    ),
    "fail-wrong-region": Case(
        lambda: alarm_changed(region="us-east-1"),
        (Expect(EU_DLQ, ("is in us-east-1 but the queue is in eu-west-1",)),),
        preview=True,
    ),
    "fail-late-threshold": Case(
        lambda: alarm_changed(threshold=10),
        (Expect(EU_DLQ, ("fires when the depth is GreaterThanThreshold 10",)),),
    ),
    "pass-configured-threshold": Case(
        lambda: alarm_changed(threshold=10), config={"maxThreshold": 10}
    ),
    "pass-stream-failure-queue": Case(with_stream_consumer, preview=True),
    "fail-stream-failure-queue": Case(
        stream_failures_unwatched,
        (
            Expect(
                AUDIT_FAILURES,
                (
                    "Dead-letter queue 'tasks-us-east-1-audit-failures' (on-failure destination "
                    "of mapping tasks-us-east-1-audit-mapping)",
                    "no CloudWatch alarm watches its depth",
                ),
            ),
        ),
        preview=True,
    ),
    # Exemptions: still reported, as advisory, marked with the reason.
    "exempt-by-tag": Case(
        lambda: without_alarm_tagged(EXEMPT_REASON),
        (
            Expect(
                EU_DLQ,
                (f"Exempt ({EXEMPT_REASON}): Dead-letter queue 'tasks-eu-west-1-worker-dlq'",),
                level="advisory",
            ),
        ),
    ),
    "exempt-by-tag-preview": Case(
        lambda: without_alarm_tagged(EXEMPT_REASON),
        (Expect(EU_DLQ, (f"Exempt ({EXEMPT_REASON}): ",), level="advisory"),),
        preview=True,
    ),
    # A tag without a reason exempts nothing.
    "fail-empty-exemption-tag": Case(lambda: without_alarm_tagged(""), (MISSING,), preview=True),
    "exempt-by-config": Case(
        without_alarm,
        (
            Expect(
                EU_DLQ,
                ("Exempt (legacy DLQ, replaced in Q3): Dead-letter queue",),
                level="advisory",
            ),
        ),
        preview=True,
        config={"exemptions": [{"name": EU_DLQ, "reason": "legacy DLQ, replaced in Q3"}]},
    ),
    # An exemption names one resource: the other region's DLQ is still reported.
    "exempt-only-the-named-resource": Case(
        lambda: _both_alarms_missing(),
        (
            Expect(EU_DLQ, ("Exempt (legacy): ",), level="advisory"),
            Expect("tasks-us-east-1-worker-dlq", ("no CloudWatch alarm watches its depth",)),
        ),
        config={"exemptions": [{"name": EU_DLQ, "reason": "legacy"}]},
    ),
}


def _both_alarms_missing() -> StackBuilder:
    b = without_alarm()
    b.remove(b.named("tasks-us-east-1-worker-dlq-depth"))
    return b


# The same stacks as the engine sends them: a new stack's preview, and outputs only.
CASES["engine-preview"] = CASES["preview"].reshaped(ENGINE_PREVIEW)
CASES["outputs-only"] = CASES["fail"].reshaped(OUTPUTS_ONLY)
CASES["exempt-by-tag-engine-preview"] = Case(
    lambda: without_alarm_tagged_with_a_computed_tag(EXEMPT_REASON),
    (Expect(EU_DLQ, (f"Exempt ({EXEMPT_REASON}): ",), level="advisory"),),
    engine_shape=ENGINE_PREVIEW,
)
