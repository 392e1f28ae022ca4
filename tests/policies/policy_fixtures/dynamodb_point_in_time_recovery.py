"""dynamodb-point-in-time-recovery: every table and replica can be restored, with a window long
enough to notice the bad write; single-region tables included."""

from __future__ import annotations

from .builder import ENGINE_PREVIEW, OUTPUTS_ONLY, StackBuilder
from .cases import Case, Expect
from .realistic import active_active_stack

POLICY = "dynamodb-point-in-time-recovery"
TABLE = "tasks-tasks-table"


def table_changed(
    regions: tuple[str, ...] = ("us-east-1", "eu-west-1"), **recovery: object
) -> StackBuilder:
    b = active_active_stack(regions)
    b.named(TABLE).inputs["pointInTimeRecovery"] = recovery
    return b


def replica_without_recovery() -> StackBuilder:
    b = active_active_stack()
    b.named(TABLE).inputs["replicas"][0]["pointInTimeRecovery"] = False
    return b


def table_replica_resource(recovery: bool) -> StackBuilder:
    """A third copy declared as its own TableReplica resource."""
    b = active_active_stack()
    table = b.named(TABLE)
    b.add(
        "aws:dynamodb/tableReplica:TableReplica",
        "tasks-tasks-ap-southeast-2",
        {
            "region": "ap-southeast-2",
            "globalTableArn": table.out("arn"),
            "pointInTimeRecovery": recovery,
        },
        parent=b.named("tasks-tasks"),
    )
    return b


OFF = Expect(
    TABLE,
    (
        "This table: point-in-time recovery is off on the table",
        "reaches every replica within about a second",
        "point_in_time_recovery={'enabled': True}",
    ),
)

CASES = {
    "pass": Case(active_active_stack),
    "fail": Case(lambda: table_changed(enabled=False), (OFF,)),
    "preview": Case(lambda: table_changed(enabled=False), (OFF,), preview=True),
    # Not a multi-region concern: a single-region table needs it as much.
    "fail-single-region-table": Case(
        lambda: table_changed(("us-east-1",), enabled=False), (OFF,), preview=True
    ),
    "fail-replica": Case(
        replica_without_recovery,
        (Expect(TABLE, ("point-in-time recovery is off on the replica(s) in eu-west-1",)),),
        preview=True,
    ),
    "pass-replicas-not-checked": Case(
        replica_without_recovery, preview=True, config={"checkReplicas": False}
    ),
    "fail-short-window": Case(
        lambda: table_changed(enabled=True, recoveryPeriodInDays=3),
        (Expect(TABLE, ("recovery window (recoveryPeriodInDays) is 3 days, below the 7",)),),
    ),
    "pass-configured-window": Case(
        lambda: table_changed(enabled=True, recoveryPeriodInDays=3),
        config={"minRecoveryPeriodDays": 3},
    ),
    "fail-table-replica-resource": Case(
        lambda: table_replica_resource(False),
        (
            Expect(
                "tasks-tasks-ap-southeast-2",
                ("This table replica has point-in-time recovery off",),
            ),
        ),
        preview=True,
    ),
    "pass-table-replica-resource": Case(lambda: table_replica_resource(True), preview=True),
}

# The same stacks as the engine sends them: a new stack's preview, and outputs only.
CASES["engine-preview"] = CASES["preview"].reshaped(ENGINE_PREVIEW)
CASES["outputs-only"] = CASES["fail"].reshaped(OUTPUTS_ONLY)
