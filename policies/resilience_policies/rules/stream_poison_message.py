"""stream-poison-message: a stream mapping cannot be blocked forever by one bad record.

A Kinesis shard or DynamoDB stream is processed in order: a record that always fails (a poison
message) is retried until it succeeds or expires (a day for DynamoDB, up to a year for
Kinesis), and nothing behind it in the shard moves. Bisect on error isolates the bad record, a
finite retry count and a record age bound let the shard move on, and an on-failure destination
keeps what was skipped. SQS mappings are never asked for this: their DLQ belongs on the queue
(see sqs-dead-letter-queue), and Lambda refuses an on-failure destination for them.

What blocks a shard for good is an unbounded value (unset or -1); the numeric ceilings a bound
must stay under are configuration (`maxRetryAttempts`, `maxRecordAgeSeconds`), with defaults
that accept the usual choices (5 retries, an hour).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from .. import thresholds
from ..config import ConfigSpec, Setting
from ..model import EVENT_SOURCE_MAPPING, STREAM_KINDS, StackModel, source_kind_label
from ..props import ABSENT, Marker, at, flag, number, whole
from ..rulekit import Report, stack_policy

NAME = "stream-poison-message"

#: (resource type, property) this policy reads: checked by the tests against the provider
#: defaults the offline preview models.
READS = (
    (EVENT_SOURCE_MAPPING, "bisectBatchOnFunctionError"),
    (EVENT_SOURCE_MAPPING, "maximumRetryAttempts"),
    (EVENT_SOURCE_MAPPING, "maximumRecordAgeInSeconds"),
    (EVENT_SOURCE_MAPPING, "destinationConfig"),
    (EVENT_SOURCE_MAPPING, "eventSourceArn"),
)

CONFIG = ConfigSpec(
    NAME,
    (
        Setting(
            "maxRetryAttempts",
            "integer",
            thresholds.STREAM_MAX_RETRY_ATTEMPTS,
            "Highest maximumRetryAttempts a stream mapping may have.",
            minimum=0,
            maximum=thresholds.STREAM_RETRY_ATTEMPTS_LIMIT,
        ),
        Setting(
            "maxRecordAgeSeconds",
            "integer",
            thresholds.STREAM_MAX_RECORD_AGE_S,
            "Highest maximumRecordAgeInSeconds a stream mapping may have (s).",
            minimum=60,
            maximum=thresholds.STREAM_RECORD_AGE_LIMIT_S,
        ),
    ),
)


def _bounded(props: dict[str, Any], key: str, limit: int, unit: str, setting: str) -> str | None:
    value = number(props, key)
    if value is ABSENT:
        return f"{key} is not set (infinite: set it to {limit}{unit} or less)"
    if isinstance(value, Marker):
        return None  # computed: checked by `pulumi up`
    if value < 0:
        return f"{key} is {whole(value)} (infinite: set it to {limit}{unit} or less)"
    if value > limit:
        return f"{key} is {whole(value)}, above {limit}{unit} (this stack's {setting})"
    return None


def check(model: StackModel, settings: Mapping[str, Any], report: Report) -> None:
    for mapping in model.of_type(EVENT_SOURCE_MAPPING):
        kind, source = model.mapping_source(mapping)
        if kind not in STREAM_KINDS:
            continue
        props = mapping.props
        problems = []
        if flag(props, "bisectBatchOnFunctionError") in (ABSENT, False):
            problems.append("bisectBatchOnFunctionError is not true")
        for key, setting, unit in (
            ("maximumRetryAttempts", "maxRetryAttempts", ""),
            ("maximumRecordAgeInSeconds", "maxRecordAgeSeconds", " s"),
        ):
            problem = _bounded(props, key, settings[setting], unit, setting)
            if problem is not None:
                problems.append(problem)
        if at(props, "destinationConfig", "onFailure", "destinationArn") is ABSENT:
            problems.append("it has no destinationConfig.onFailure.destinationArn")
        if not problems:
            continue
        source_text = f" '{source.name}'" if source is not None else ""
        report(
            f"Mapping '{mapping.name}' reads {source_kind_label(kind)}{source_text}, but "
            f"{'; '.join(problems)}. One record that always fails would block its shard until "
            "it expires. Fix: bisect_batch_on_function_error=True, maximum_retry_attempts<="
            f"{settings['maxRetryAttempts']}, maximum_record_age_in_seconds<="
            f"{settings['maxRecordAgeSeconds']} and destination_config={{'on_failure': "
            "{'destination_arn': <SQS queue or SNS topic>.arn}}.",
            mapping.urn,
        )


POLICY = stack_policy(
    config=CONFIG,
    description=(
        "Kinesis and DynamoDB-stream mappings bisect on error, bound their retries and record "
        "age (within the configured ceilings) and send what they skip to an on-failure "
        "destination."
    ),
    check=check,
    level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    remediation_steps=(
        "Set bisectBatchOnFunctionError, maximumRetryAttempts, maximumRecordAgeInSeconds and "
        "destinationConfig.onFailure.destinationArn on the stream mapping."
    ),
)
