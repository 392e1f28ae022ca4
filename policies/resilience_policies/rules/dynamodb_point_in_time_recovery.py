"""dynamodb-point-in-time-recovery: every copy of a table can be restored to before a bad write.

Replication protects against losing a region, not against a bad write: a bug, a bad deploy or
an operator's mistake is copied to every replica within about a second. Point-in-time recovery
restores a table as it was at any second of its recovery window. It applies to every table,
single-region or global, and to every replica (each copy keeps its own backups). Continuous
backups cost money per GB stored, so the policy is advisory by default; a team that requires
it raises the level.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from .. import thresholds
from ..config import ConfigSpec, Setting
from ..model import TABLE, TABLE_REPLICA
from ..props import ABSENT, Marker, at, flag, number, text, whole
from ..rulekit import Report, resource_policy

NAME = "dynamodb-point-in-time-recovery"

#: (resource type, property) this policy reads: checked by the tests against the provider
#: defaults the offline preview models.
READS = (
    (TABLE, "pointInTimeRecovery"),
    (TABLE, "replicas"),
    (TABLE_REPLICA, "pointInTimeRecovery"),
)

#: The resource types this policy looks at (it ignores every other).
RESOURCE_TYPES = (TABLE, TABLE_REPLICA)

CONFIG = ConfigSpec(
    NAME,
    (
        Setting(
            "checkReplicas",
            "boolean",
            True,
            "Require point-in-time recovery on every replica too (replicas[] entries and "
            "TableReplica resources), not only on the table.",
        ),
        Setting(
            "minRecoveryPeriodDays",
            "integer",
            thresholds.PITR_RECOVERY_PERIOD_MIN_DAYS,
            "Shortest recovery window (pointInTimeRecovery.recoveryPeriodInDays) a table may "
            f"have; unset means DynamoDB's {thresholds.PITR_RECOVERY_PERIOD_MAX_DAYS} days.",
            minimum=1,
            maximum=thresholds.PITR_RECOVERY_PERIOD_MAX_DAYS,
        ),
    ),
)

_WHY = (
    "A bad write (a bug, a bad deploy, an operator's mistake) reaches every replica within about "
    "a second; point-in-time recovery restores a copy as it was before, to the second, within "
    "its recovery window."
)


def _off(value: bool | Marker) -> bool:
    return value is ABSENT or value is False


def _table_problems(props: dict[str, Any], settings: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    enabled = flag(props, "pointInTimeRecovery", "enabled")
    if _off(enabled):
        problems.append("point-in-time recovery is off on the table")
    elif enabled is True:
        period = number(props, "pointInTimeRecovery", "recoveryPeriodInDays")
        # Unset (or the zero an unset number can arrive as) is DynamoDB's default window.
        minimum = settings["minRecoveryPeriodDays"]
        if not isinstance(period, Marker) and 0 < period < minimum:
            problems.append(
                f"its recovery window (recoveryPeriodInDays) is {whole(period)} days, below the "
                f"{minimum} this stack requires"
            )
    if settings["checkReplicas"]:
        replicas = at(props, "replicas")
        without = [
            str(text(replica, "regionName"))
            for replica in (replicas if isinstance(replicas, list) else [])
            if _off(flag(replica, "pointInTimeRecovery"))
        ]
        if without:
            problems.append(
                "point-in-time recovery is off on the replica(s) in " + ", ".join(without)
            )
    return problems


def check(type_: str, props: dict[str, Any], settings: Mapping[str, Any], report: Report) -> None:
    if type_ == TABLE:
        problems = _table_problems(props, settings)
        if problems:
            report(
                f"This table: {'; '.join(problems)}. {_WHY} Fix: "
                "point_in_time_recovery={'enabled': True} on the table and "
                "'point_in_time_recovery': True in each replicas[] entry."
            )
    elif settings["checkReplicas"] and _off(flag(props, "pointInTimeRecovery")):
        report(
            f"This table replica has point-in-time recovery off. {_WHY} Fix: "
            "point_in_time_recovery=True on the aws.dynamodb.TableReplica."
        )


POLICY = resource_policy(
    config=CONFIG,
    description=(
        "DynamoDB tables and their replicas enable point-in-time recovery, with a recovery "
        "window of at least minRecoveryPeriodDays."
    ),
    resource_types=RESOURCE_TYPES,
    check=check,
    level=EnforcementLevel.ADVISORY,
    severity=Severity.MEDIUM,
    remediation_steps=(
        "Set pointInTimeRecovery.enabled on the table and pointInTimeRecovery on every replica "
        "(replicas[] or TableReplica)."
    ),
)
