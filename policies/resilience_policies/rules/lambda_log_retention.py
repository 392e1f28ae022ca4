"""lambda-log-retention: every function's log group is declared, with a retention.

Lambda creates `/aws/lambda/<name>` on first use with no retention: logs are kept (and paid
for) forever, and the group is not managed by the stack. Declaring the group with a retention
keeps incident evidence for a known time, and long enough to look at it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from .. import thresholds
from ..config import ConfigSpec, Setting
from ..model import FUNCTION, LOG_GROUP, StackModel
from ..props import ABSENT, Marker, at, number, text, whole
from ..rulekit import Report, stack_policy

NAME = "lambda-log-retention"

#: (resource type, property) this policy reads: checked by the tests against the provider
#: defaults the offline preview models.
READS = (
    (FUNCTION, "loggingConfig"),
    (FUNCTION, "name"),
    (LOG_GROUP, "retentionInDays"),
)

CONFIG = ConfigSpec(
    NAME,
    (
        Setting(
            "minRetentionDays",
            "integer",
            thresholds.LOG_RETENTION_DAYS_MIN,
            "Shortest retention (days) a function's log group may have.",
            minimum=1,
            maximum=max(thresholds.LOG_RETENTION_DAYS_ALLOWED),
        ),
    ),
)


def check(model: StackModel, settings: Mapping[str, Any], report: Report) -> None:
    minimum = settings["minRetentionDays"]
    for function in model.of_type(FUNCTION):
        groups = model.function_log_groups.get(function.urn, [])
        if not groups:
            chosen = at(function.props, "loggingConfig", "logGroup")
            name = text(function.props, "name")
            # A deployed function reports the group it logs to even when the program chose
            # none: Lambda's own default group is not one "declared elsewhere".
            default = isinstance(name, str) and chosen == f"/aws/lambda/{name}"
            if chosen is not ABSENT and not default:
                continue  # logs to a group declared elsewhere: its retention is managed there
            report(
                f"Function '{function.name}' has no log group in this stack: Lambda creates "
                "/aws/lambda/<name> on first use with no retention, so its logs are kept and "
                "paid for forever. Fix: declare an aws.cloudwatch.LogGroup with "
                f"retention_in_days={thresholds.LOG_RETENTION_DAYS_DEFAULT} and set the "
                "function's logging_config={'log_group': <group>.name}.",
                function.urn,
            )
            continue
        for group in groups:
            retention = number(group.props, "retentionInDays")
            problem = None
            if retention is ABSENT or retention == 0:
                problem = "has no retention (logs never expire)"
            elif isinstance(retention, Marker):
                continue  # computed: checked by `pulumi up`
            elif retention < minimum:
                problem = f"keeps logs {whole(retention)} days, under {minimum}"
            elif retention not in thresholds.LOG_RETENTION_DAYS_ALLOWED:
                problem = f"has retention {whole(retention)}, which CloudWatch Logs refuses"
            if problem is not None:
                report(
                    f"Log group '{group.name}' of function '{function.name}' {problem}. Fix: "
                    "set retention_in_days to one of CloudWatch's values of at least "
                    f"{minimum} (e.g. {thresholds.LOG_RETENTION_DAYS_DEFAULT}).",
                    group.urn,
                )


POLICY = stack_policy(
    config=CONFIG,
    description=(
        "Every Lambda function's log group is declared in the stack with a retention of at "
        "least minRetentionDays."
    ),
    check=check,
    level=EnforcementLevel.ADVISORY,
    severity=Severity.LOW,
    remediation_steps=(
        "Declare the function's log group with retention_in_days and point logging_config at it."
    ),
)
