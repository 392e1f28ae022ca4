"""dlq-alarm: every DLQ has a depth alarm in its region, firing on the first message, with an
action."""

from __future__ import annotations

from .builder import StackBuilder
from .cases import Case, Expect
from .realistic import active_active_stack

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
}
