"""kinesis-retention: a stream keeps records long enough to re-read what its consumers skip.

When a stream mapping gives up on a record (retries or record age used up), its on-failure
destination receives a pointer (shard, sequence range), not the record: the payload is only in
the stream, until the stream's retention (24 hours unless set) drops it. What is left for
someone to notice the alarm and re-read the records is the retention minus the mapping's
maximum record age. This advisory asks for at least `minReplayWindowHours` of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from .. import thresholds
from ..config import ConfigSpec, Setting
from ..model import EVENT_SOURCE_MAPPING, KINESIS, KINESIS_STREAM, StackModel
from ..props import ABSENT, Marker, number, whole
from ..rulekit import Report, stack_policy

NAME = "kinesis-retention"

#: (resource type, property) this policy reads: checked by the tests against the provider
#: defaults the offline preview models.
READS = (
    (EVENT_SOURCE_MAPPING, "eventSourceArn"),
    (EVENT_SOURCE_MAPPING, "maximumRecordAgeInSeconds"),
    (KINESIS_STREAM, "retentionPeriod"),
)

CONFIG = ConfigSpec(
    NAME,
    (
        Setting(
            "minReplayWindowHours",
            "integer",
            thresholds.KINESIS_MIN_REPLAY_WINDOW_HOURS,
            "Hours a skipped record must stay in the stream after its consumer gives up on it.",
            minimum=1,
            maximum=thresholds.KINESIS_RETENTION_HOURS_MAX,
        ),
    ),
)


def check(model: StackModel, settings: Mapping[str, Any], report: Report) -> None:
    minimum = settings["minReplayWindowHours"]
    consumers: dict[str, list[Any]] = {}
    for mapping in model.of_type(EVENT_SOURCE_MAPPING):
        kind, stream = model.mapping_source(mapping)
        if kind == KINESIS and stream is not None:
            consumers.setdefault(stream.urn, []).append(mapping)
    for stream_urn, mappings in consumers.items():
        stream = model.by_urn[stream_urn]
        retention = number(stream.props, "retentionPeriod")
        if retention is ABSENT:
            retention_h, defaulted = float(thresholds.KINESIS_RETENTION_HOURS_DEFAULT), True
        elif isinstance(retention, Marker):
            continue  # computed: decided by `pulumi up`
        else:
            retention_h, defaulted = retention, False
        problems = []
        for mapping in mappings:
            age = number(mapping.props, "maximumRecordAgeInSeconds")
            if age is ABSENT or (isinstance(age, float) and age < 0):
                problems.append(
                    f"'{mapping.name}' retries its records until the stream drops them (no "
                    "maximumRecordAgeInSeconds), so nothing it gives up on can be re-read"
                )
                continue
            if isinstance(age, Marker):
                continue  # computed: decided by `pulumi up`
            window_h = retention_h - age / 3600
            if window_h < minimum:
                problems.append(
                    f"'{mapping.name}' gives up on a record at {whole(age)} s, leaving "
                    f"{whole(round(window_h, 2))} h to re-read it"
                )
        if not problems:
            continue
        shown = f"{whole(retention_h)} h" + (" (the default)" if defaulted else "")
        report(
            f"Stream '{stream.name}' keeps records {shown}: {'; '.join(problems)}. Its "
            "consumers' on-failure destinations hold pointers, not records, so what is skipped "
            f"must stay readable for at least {minimum} h. Fix: retention_period=<hours> of at "
            f"least {minimum} + the mappings' maximum record age, or a shorter "
            "maximum_record_age_in_seconds.",
            stream.urn,
        )


POLICY = stack_policy(
    config=CONFIG,
    description=(
        "Kinesis streams read by Lambda keep records long enough after a mapping gives up on "
        "them (retention minus maximum record age) to re-read them from their pointers."
    ),
    check=check,
    level=EnforcementLevel.ADVISORY,
    severity=Severity.MEDIUM,
    remediation_steps=(
        "Raise the stream's retentionPeriod, or lower the mappings' "
        "maximumRecordAgeInSeconds, so that the difference is at least the replay window."
    ),
)
