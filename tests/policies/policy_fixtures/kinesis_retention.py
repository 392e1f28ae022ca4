"""kinesis-retention: skipped records stay in the stream long enough to be re-read."""

from __future__ import annotations

from typing import Any

from .builder import ENGINE_PREVIEW, OUTPUTS_ONLY, StackBuilder
from .cases import Case, Expect
from .realistic import active_active_stack
from .sagas_streams import saga, stream_consumer, with_sagas_and_streams

POLICY = "kinesis-retention"
US_STREAM = "tasks-us-east-1-events-stream"


def build(retention_hours: int | None = 24, **mapping: Any) -> StackBuilder:
    b = active_active_stack()
    for region in ("us-east-1", "eu-west-1"):
        saga(b, region)
        if region == "us-east-1":
            stream_consumer(b, region, retention_hours=retention_hours, mapping_overrides=mapping)
        else:
            stream_consumer(b, region)
    return b


UNBOUNDED = Expect(
    US_STREAM,
    (
        "keeps records 24 h",
        "'tasks-us-east-1-events-mapping' retries its records until the stream drops them",
    ),
)

CASES = {
    "pass": Case(with_sagas_and_streams),
    "pass-default-retention": Case(lambda: build(retention_hours=None)),
    "fail": Case(lambda: build(maximumRecordAgeInSeconds=None), (UNBOUNDED,)),
    "preview": Case(lambda: build(maximumRecordAgeInSeconds=None), (UNBOUNDED,), preview=True),
    "fail-short-window": Case(
        lambda: build(maximumRecordAgeInSeconds=86_400 - 3_600 * 6),
        (
            Expect(
                US_STREAM,
                ("gives up on a record at 64800 s, leaving 6 h to re-read it", "at least 12 h"),
            ),
        ),
        preview=True,
    ),
    "pass-longer-retention": Case(
        lambda: build(retention_hours=48, maximumRecordAgeInSeconds=86_400 - 3_600 * 6)
    ),
    "fail-configured-window": Case(
        with_sagas_and_streams,
        (
            Expect(US_STREAM, ("leaving 23 h", "at least 24 h")),
            Expect("tasks-eu-west-1-events-stream", ("leaving 23 h", "at least 24 h")),
        ),
        config={"minReplayWindowHours": 24},
    ),
}

# The same stacks as the engine sends them. In a deployed mapping an unset record age reads
# -1 (infinite): the same verdict.
CASES["engine-preview"] = CASES["preview"].reshaped(ENGINE_PREVIEW)
CASES["outputs-only"] = CASES["fail"].reshaped(OUTPUTS_ONLY)
