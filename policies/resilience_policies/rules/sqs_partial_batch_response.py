"""sqs-partial-batch-response: batch consumers report which records failed.

Without ReportBatchItemFailures one failed record fails the whole batch: for SQS every message
of the batch comes back (the successful ones are processed again, and their receive counts
climb towards the DLQ), and for a stream the shard retries the batch from its start. With it
the function returns the failed record ids and only those are retried.

A mapping whose batches hold one record (`batch_size=1`) has nothing to gain: its one record is
the batch, and failing it retries exactly it. Left unset, the batch size is AWS's default (10
for SQS, 100 for streams), so the finding stands.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from .. import thresholds
from ..config import ConfigSpec
from ..model import (
    EVENT_SOURCE_MAPPING,
    OTHER_SOURCE,
    SQS,
    mapping_kind_from_inputs,
    source_kind_label,
)
from ..props import ABSENT, Marker, is_unknown_sentinel, items, number, whole
from ..rulekit import Report, resource_policy

NAME = "sqs-partial-batch-response"
REPORT_BATCH_ITEM_FAILURES = "ReportBatchItemFailures"

#: The resource types this policy looks at (it ignores every other).
RESOURCE_TYPES = (EVENT_SOURCE_MAPPING,)

CONFIG = ConfigSpec(NAME)

#: (resource type, property) this policy reads: checked by the tests against the provider
#: defaults the offline preview models.
READS = (
    (EVENT_SOURCE_MAPPING, "functionResponseTypes"),
    (EVENT_SOURCE_MAPPING, "batchSize"),
    (EVENT_SOURCE_MAPPING, "eventSourceArn"),
)


def batch_size(props: dict[str, Any], kind: str) -> float | None:
    """Records per batch: the mapping's own, AWS's default when unset, None when unknown."""
    size = number(props, "batchSize")
    if size is ABSENT:
        return float(
            thresholds.SQS_DEFAULT_BATCH_SIZE
            if kind == SQS
            else thresholds.STREAM_DEFAULT_BATCH_SIZE
        )
    return None if isinstance(size, Marker) else size


def _missing(props: dict[str, Any]) -> bool:
    """True when the mapping needs ReportBatchItemFailures and decidably lacks it."""
    kind = mapping_kind_from_inputs(props)
    if kind == OTHER_SOURCE:
        return False
    size = batch_size(props, kind)
    if size is not None and size <= 1:
        return False  # one record per batch: failing the batch retries exactly that record
    response_types = items(props, "functionResponseTypes")
    if isinstance(response_types, Marker):
        # Absent: missing. Unknown: asked for, computed, so present (`pulumi up` checks it).
        return response_types is ABSENT
    return not any(
        entry == REPORT_BATCH_ITEM_FAILURES or is_unknown_sentinel(entry)
        for entry in response_types
    )


def check(type_: str, props: dict[str, Any], settings: Mapping[str, Any], report: Report) -> None:
    if not _missing(props):
        return
    kind = mapping_kind_from_inputs(props)
    size = batch_size(props, kind)
    holds = (
        "a batch size not known yet"
        if size is None
        else f"batches of up to {whole(size)} records"
        + (" (AWS's default)" if number(props, "batchSize") is ABSENT else "")
    )
    report(
        f"This event source mapping ({source_kind_label(kind)}) does not set "
        f"functionResponseTypes ['{REPORT_BATCH_ITEM_FAILURES}'] and reads {holds}: one failed "
        "record fails the whole batch, so records that succeeded are processed again (and SQS "
        "messages move towards the DLQ without having failed). Fix: set "
        "function_response_types=['ReportBatchItemFailures'] and have the handler return "
        "{'batchItemFailures': [...]} (Powertools BatchProcessor does), or batch_size=1 when "
        "records must be handled one at a time. This policy can add it itself at the "
        "'remediate' enforcement level."
    )


def remediate(
    type_: str, view: dict[str, Any], target: dict[str, Any], settings: Mapping[str, Any]
) -> dict[str, Any] | None:
    if not _missing(view):
        return None
    existing = items(view, "functionResponseTypes")
    target["functionResponseTypes"] = [
        *(existing if isinstance(existing, list) else []),
        REPORT_BATCH_ITEM_FAILURES,
    ]
    return target


POLICY = resource_policy(
    config=CONFIG,
    description=(
        "SQS, Kinesis and DynamoDB-stream event source mappings whose batches can hold more "
        "than one record report batch item failures (functionResponseTypes: "
        "ReportBatchItemFailures)."
    ),
    resource_types=RESOURCE_TYPES,
    check=check,
    remediate=remediate,
    level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    remediation_steps=(
        "Add 'ReportBatchItemFailures' to the mapping's functionResponseTypes (the 'remediate' "
        "level does it) and return batchItemFailures from the handler."
    ),
)
