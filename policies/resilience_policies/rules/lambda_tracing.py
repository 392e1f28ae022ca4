"""lambda-tracing: functions trace their calls with X-Ray (active tracing).

In a chain of API Gateway -> Lambda -> SQS -> Lambda -> DynamoDB across regions, a timeout or a
retry storm is only explainable with the whole trace: which hop was slow, which call retried.
Active tracing samples requests even when the caller sent no trace header.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ..config import ConfigSpec
from ..model import FUNCTION
from ..props import UNKNOWN, text
from ..rulekit import Report, resource_policy

NAME = "lambda-tracing"

#: (resource type, property) this policy reads: checked by the tests against the provider
#: defaults the offline preview models.
READS = ((FUNCTION, "tracingConfig"),)

#: The resource types this policy looks at (it ignores every other).
RESOURCE_TYPES = (FUNCTION,)

CONFIG = ConfigSpec(NAME)


def check(type_: str, props: dict[str, Any], settings: Mapping[str, Any], report: Report) -> None:
    mode = text(props, "tracingConfig", "mode")
    if mode == "Active" or mode is UNKNOWN:
        return
    shown = "not set" if not isinstance(mode, str) else f"'{mode}'"
    report(
        f"This function's tracingConfig.mode is {shown}: its calls are invisible in X-Ray, so a "
        "slow hop or a retry storm cannot be traced across the chain. Fix: "
        "tracing_config={'mode': 'Active'} and allow xray:PutTraceSegments and "
        "xray:PutTelemetryRecords in its role."
    )


POLICY = resource_policy(
    config=CONFIG,
    description="Lambda functions use active X-Ray tracing (tracingConfig.mode: Active).",
    resource_types=RESOURCE_TYPES,
    check=check,
    level=EnforcementLevel.ADVISORY,
    severity=Severity.LOW,
    remediation_steps=(
        "Set tracingConfig.mode to Active and grant xray:PutTraceSegments and "
        "xray:PutTelemetryRecords to the role."
    ),
)
