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


def build(
    mapping: dict[str, Any] | None = None, retention_hours: int | None = 24, **alarm: Any
) -> StackBuilder:
    """The us-east-1 consumer's alarm changed by `alarm`, its mapping by `mapping`, its stream
    keeping records `retention_hours` (None: left unset)."""
    b = active_active_stack()
    for region in ("us-east-1", "eu-west-1"):
        saga(b, region)
        us = region == "us-east-1"
        stream_consumer(
            b,
            region,
            retention_hours=retention_hours if us else 24,
            mapping_overrides=mapping if us else None,
            iterator_alarm=alarm if us else None,
        )
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
    # Records are skipped after an hour (maximumRecordAgeInSeconds 3600): an alarm at an hour
    # fires when they are already gone; the ceiling is the hour less the 30-minute margin.
    "fail-late": Case(
        lambda: build(threshold=3_600_000),
        (
            Expect(
                US_MAPPING,
                (
                    "'tasks-us-east-1-events-iterator-age' fires when the age is "
                    "GreaterThanThreshold 3600000 ms, not once it exceeds 1800000 ms",
                    "the mapping skips records older than 3600 s (maximumRecordAgeInSeconds)",
                    "threshold 1800000 (ms) or less",
                ),
            ),
        ),
    ),
    "pass-late-allowed": Case(lambda: build(threshold=3_600_000), config={"marginMs": 0}),
    # Ten minutes on records that live an hour: fires 50 minutes before any is skipped.
    "pass-ten-minutes-on-an-hour": Case(lambda: build(threshold=600_000)),
    # No record age bound (-1, AWS's default: infinite): the stream's retention decides, 24 h
    # when left unset.
    "fail-retention-decides": Case(
        lambda: build(
            mapping={"maximumRecordAgeInSeconds": -1}, retention_hours=None, threshold=86_400_000
        ),
        (
            Expect(
                US_MAPPING,
                (
                    "not once it exceeds 84600000 ms",
                    "the stream drops records after 24 h (the default) (retentionPeriod)",
                ),
            ),
        ),
    ),
    "pass-long-retention": Case(
        lambda: build(
            mapping={"maximumRecordAgeInSeconds": -1}, retention_hours=168, threshold=86_400_000
        )
    ),
    # A record age shorter than the margin: the floor is asked, never less.
    "fail-below-floor": Case(
        lambda: build(mapping={"maximumRecordAgeInSeconds": 600}, threshold=120_000),
        (Expect(US_MAPPING, ("not once it exceeds 60000 ms",)),),
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
