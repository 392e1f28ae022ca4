"""kinesis-iterator-age-alarm: every Kinesis consumer has an iterator-age alarm that does the
job."""

from __future__ import annotations

from typing import Any

from .builder import ENGINE_PREVIEW, OUTPUTS_ONLY, StackBuilder
from .cases import Case, Expect
from .realistic import active_active_stack
from .sagas_streams import saga, stream_consumer, with_sagas_and_streams

POLICY = "kinesis-iterator-age-alarm"
US_MAPPING = "tasks-us-east-1-events-mapping"


def build(**alarm: Any) -> StackBuilder:
    b = active_active_stack()
    for region in ("us-east-1", "eu-west-1"):
        saga(b, region)
        stream_consumer(b, region, iterator_alarm=alarm if region == "us-east-1" else None)
    return b


UNWATCHED = Expect(
    US_MAPPING,
    (
        "reads Kinesis stream 'tasks-us-east-1-events-stream'",
        "no CloudWatch alarm watches its iterator age",
        "'IteratorAge'",
    ),
)

CASES = {
    "pass": Case(with_sagas_and_streams),
    "fail": Case(lambda: build(remove=True), (UNWATCHED,)),
    # The alarm's dimensions are computed (the function's name): linked by dependency.
    "preview": Case(lambda: build(remove=True), (UNWATCHED,), preview=True),
    "pass-stream-metric": Case(
        lambda: build(
            namespace="AWS/Kinesis",
            metricName="GetRecords.IteratorAgeMilliseconds",
            dimensions="STREAM_NAME",
        ),
        preview=True,
    ),
    "fail-late": Case(
        lambda: build(threshold=3_600_000),
        (
            Expect(
                US_MAPPING,
                (
                    "'tasks-us-east-1-events-iterator-age' fires when the age is "
                    "GreaterThanThreshold 3600000 ms, not once it exceeds 300000 ms",
                ),
            ),
        ),
    ),
    "pass-late-allowed": Case(
        lambda: build(threshold=3_600_000), config={"maxThresholdMs": 3_600_000}
    ),
    "fail-wrong-region": Case(
        lambda: build(region="eu-west-1"),
        (Expect(US_MAPPING, ("is in eu-west-1, not us-east-1",)),),
        preview=True,
    ),
    "fail-no-action": Case(
        lambda: build(alarmActions=None, okActions=None),
        (Expect(US_MAPPING, ("has no alarmActions, so it notifies nobody",)),),
    ),
}

# The same stacks as the engine sends them: a new stack's preview (the dimensions map blanked
# as a whole, linked by dependency), and outputs only (linked by the known function name).
CASES["engine-preview"] = CASES["preview"].reshaped(ENGINE_PREVIEW)
CASES["outputs-only"] = CASES["fail"].reshaped(OUTPUTS_ONLY)
CASES["outputs-only-pass"] = CASES["pass"].reshaped(OUTPUTS_ONLY)
