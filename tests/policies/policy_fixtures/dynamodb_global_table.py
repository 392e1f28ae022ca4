"""dynamodb-global-table: replicas in every serving region, NEW_AND_OLD_IMAGES, PITR."""

from __future__ import annotations

from .builder import StackBuilder
from .cases import Case, Expect
from .realistic import TAGS, active_active_stack

POLICY = "dynamodb-global-table"
TABLE = "tasks-tasks-table"


def without_replicas() -> StackBuilder:
    b = active_active_stack()
    b.named(TABLE).inputs["replicas"] = []
    return b


def third_region_forgotten() -> StackBuilder:
    b = active_active_stack(("us-east-1", "eu-west-1", "ap-southeast-2"))
    b.named(TABLE).inputs["replicas"] = b.named(TABLE).inputs["replicas"][:1]
    return b


def weak_copies() -> StackBuilder:
    b = active_active_stack()
    table = b.named(TABLE)
    table.inputs["streamViewType"] = "KEYS_ONLY"
    table.inputs["replicas"][0]["pointInTimeRecovery"] = False
    return b


def with_single_region_table(opted_out: bool) -> StackBuilder:
    b = active_active_stack()
    b.add(
        "aws:dynamodb/table:Table",
        "tasks-reports-table",
        {
            "region": "us-east-1",
            "billingMode": "PAY_PER_REQUEST",
            "hashKey": "reportId",
            "attributes": [{"name": "reportId", "type": "S"}],
            "pointInTimeRecovery": {"enabled": True},
            "serverSideEncryption": {"enabled": True},
            "tags": {**TAGS, **({"resilience:single-region": "true"} if opted_out else {})},
        },
        parent=b.named("tasks"),
    )
    return b


NO_REPLICA = Expect(
    TABLE,
    (
        "Table 'tasks-tasks-table' (region us-east-1)",
        "serves from eu-west-1, us-east-1",
        "it has no replica in region eu-west-1",
        "'region_name'",
    ),
)

CASES = {
    "pass": Case(active_active_stack),
    "fail": Case(without_replicas, (NO_REPLICA,)),
    "preview": Case(without_replicas, (NO_REPLICA,), preview=True),
    "fail-third-region": Case(
        third_region_forgotten,
        (Expect(TABLE, ("it has no replica in region ap-southeast-2",)),),
        preview=True,
    ),
    "fail-stream-and-replica-recovery": Case(
        weak_copies,
        (
            Expect(
                TABLE,
                (
                    "streamViewType is KEYS_ONLY, not NEW_AND_OLD_IMAGES",
                    "point-in-time recovery is off on the replica(s) in eu-west-1",
                ),
            ),
        ),
    ),
    "fail-single-region-table": Case(
        lambda: with_single_region_table(opted_out=False),
        (
            Expect(
                "tasks-reports-table",
                (
                    "no replica in region eu-west-1",
                    "point-in-time recovery",
                    "'resilience:single-region': 'true'",
                ),
            ),
        ),
        preview=True,
    ),
    "pass-opted-out-by-tag": Case(lambda: with_single_region_table(opted_out=True)),
}
