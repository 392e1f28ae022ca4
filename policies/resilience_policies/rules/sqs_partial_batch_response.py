"""sqs-partial-batch-response: batch consumers report which records failed.

Without ReportBatchItemFailures one failed record fails the whole batch: for SQS every message
of the batch comes back (the successful ones are processed again, and their receive counts
climb towards the DLQ), and for a stream the shard retries the batch from its start. With it
the function returns the failed record ids and only those are retried.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ..config import ConfigSpec
from ..model import EVENT_SOURCE_MAPPING, OTHER_SOURCE, mapping_kind_from_inputs, source_kind_label
from ..props import ABSENT, Marker, is_unknown_sentinel, items
from ..rulekit import Report, resource_policy

NAME = "sqs-partial-batch-response"
REPORT_BATCH_ITEM_FAILURES = "ReportBatchItemFailures"

#: The resource types this policy looks at (it ignores every other).
RESOURCE_TYPES = (EVENT_SOURCE_MAPPING,)

CONFIG = ConfigSpec(NAME)


def _missing(props: dict[str, Any]) -> bool:
    """True when the mapping needs ReportBatchItemFailures and decidably lacks it."""
    if mapping_kind_from_inputs(props) == OTHER_SOURCE:
        return False
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
    kind = source_kind_label(mapping_kind_from_inputs(props))
    report(
        f"This event source mapping ({kind}) does not set functionResponseTypes "
        f"['{REPORT_BATCH_ITEM_FAILURES}']: one failed record fails the whole batch, so records "
        "that succeeded are processed again (and SQS messages move towards the DLQ without "
        "having failed). Fix: set function_response_types=['ReportBatchItemFailures'] and have "
        "the handler return {'batchItemFailures': [...]} (Powertools BatchProcessor does). "
        "This policy can add it itself at the 'remediate' enforcement level."
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
        "SQS, Kinesis and DynamoDB-stream event source mappings report batch item failures "
        "(functionResponseTypes: ReportBatchItemFailures)."
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
