"""encryption-at-rest: queues, tables and streams say how their data is encrypted.

Tasks in queues, DLQs and tables carry user data, and DLQs keep it for two weeks. Asking for
server-side encryption explicitly makes the intent visible in code and in review, instead of
depending on each service's (changing) defaults; for tables it switches to a KMS key whose use
is logged in CloudTrail.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ..config import ConfigSpec
from ..model import KINESIS_STREAM, QUEUE, TABLE
from ..props import ABSENT, UNKNOWN, at, flag, text
from ..rulekit import Report, resource_policy

NAME = "encryption-at-rest"

#: (resource type, property) this policy reads: checked by the tests against the provider
#: defaults the offline preview models.
READS = (
    (QUEUE, "kmsMasterKeyId"),
    (QUEUE, "sqsManagedSseEnabled"),
    (TABLE, "serverSideEncryption"),
    (KINESIS_STREAM, "encryptionType"),
)

#: The resource types this policy looks at (it ignores every other).
RESOURCE_TYPES = (QUEUE, TABLE, KINESIS_STREAM)

CONFIG = ConfigSpec(NAME)


def _queue_unencrypted(props: dict[str, Any]) -> bool:
    return at(props, "kmsMasterKeyId") is ABSENT and flag(props, "sqsManagedSseEnabled") in (
        ABSENT,
        False,
    )


def check(type_: str, props: dict[str, Any], settings: Mapping[str, Any], report: Report) -> None:
    if type_ == QUEUE and _queue_unencrypted(props):
        report(
            "This queue sets neither sqsManagedSseEnabled nor kmsMasterKeyId. Fix: "
            "sqs_managed_sse_enabled=True (or kms_master_key_id=<key>); the 'remediate' level "
            "sets the former."
        )
    elif type_ == TABLE and flag(props, "serverSideEncryption", "enabled") in (ABSENT, False):
        report(
            "This table does not enable serverSideEncryption (KMS). Fix: "
            "server_side_encryption={'enabled': True} (optionally with kms_key_arn)."
        )
    elif type_ == KINESIS_STREAM:
        encryption = text(props, "encryptionType")
        if encryption is not UNKNOWN and encryption != "KMS":
            report(
                "This stream is not encrypted with KMS. Fix: encryption_type='KMS', "
                "kms_key_id='alias/aws/kinesis'."
            )


def remediate(
    type_: str, view: dict[str, Any], target: dict[str, Any], settings: Mapping[str, Any]
) -> dict[str, Any] | None:
    # Only the queue has a fix with no choice in it; a table or stream key is a decision.
    if type_ != QUEUE or not _queue_unencrypted(view):
        return None
    target["sqsManagedSseEnabled"] = True
    return target


POLICY = resource_policy(
    config=CONFIG,
    description=(
        "SQS queues, DynamoDB tables and Kinesis streams enable server-side encryption explicitly."
    ),
    resource_types=RESOURCE_TYPES,
    check=check,
    remediate=remediate,
    level=EnforcementLevel.ADVISORY,
    severity=Severity.LOW,
    remediation_steps=(
        "SQS: sqsManagedSseEnabled true (the 'remediate' level sets it). DynamoDB: "
        "serverSideEncryption.enabled true. Kinesis: encryptionType KMS."
    ),
)
