"""dynamodb-global-table: in a stack that serves from several regions, replicas in every
serving region; replicated tables stream NEW_AND_OLD_IMAGES. (Point-in-time recovery is
dynamodb-point-in-time-recovery's.)"""

from __future__ import annotations

from .apis import api_function, http_api
from .builder import ENGINE_PREVIEW, OUTPUTS_ONLY, StackBuilder
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


def per_region_tables() -> StackBuilder:
    """One table per region, the same but for the region, none replicated."""
    b = active_active_stack()
    for region in ("us-east-1", "eu-west-1"):
        b.add(
            "aws:dynamodb/table:Table",
            f"tasks-{region}-cache-table",
            {
                "region": region,
                "billingMode": "PAY_PER_REQUEST",
                "hashKey": "key",
                "attributes": [{"name": "key", "type": "S"}],
                "pointInTimeRecovery": {"enabled": True},
                "serverSideEncryption": {"enabled": True},
                "tags": TAGS,
            },
            parent=b.named("tasks"),
        )
    return b


def single_region(**table_inputs: object) -> StackBuilder:
    b = active_active_stack(("us-east-1",))
    b.named(TABLE).inputs.update(table_inputs)
    return b


def without_recovery() -> StackBuilder:
    b = active_active_stack()
    b.named(TABLE).inputs["pointInTimeRecovery"] = {"enabled": False}
    b.named(TABLE).inputs["replicas"][0]["pointInTimeRecovery"] = False
    return b


def http_api_second_region() -> StackBuilder:
    """REST in us-east-1, an HTTP API in eu-west-1: two serving regions alike."""
    b = active_active_stack(("us-east-1",))
    reports = api_function(b, "tasks-eu-west-1-reports", "eu-west-1", 10)
    http_api(b, "tasks-eu-west-1-reports-http", "eu-west-1", reports)
    return b


def strong(
    regions: tuple[str, ...] = ("us-east-1", "eu-west-1"),
    witness: str | None = "us-east-2",
    modes: tuple[str, ...] = ("STRONG",),
    ttl: bool = False,
) -> StackBuilder:
    """The service with a strongly consistent (MRSC) table: STRONG replicas (each entry's mode
    from `modes`, the last repeated), a witness unless None, no stream and no TTL unless `ttl`."""
    b = active_active_stack(regions)
    table = b.named(TABLE).inputs
    for index, replica in enumerate(table["replicas"]):
        mode = modes[min(index, len(modes) - 1)]
        if mode:  # "": not set
            replica["consistencyMode"] = mode
    if witness is not None:
        table["globalTableWitness"] = {"regionName": witness}
    table["streamEnabled"] = False
    del table["streamViewType"]
    if not ttl:
        del table["ttl"]
    return b


def witness_in_a_serving_region() -> StackBuilder:
    """Serving from three regions, with a replica in two and the witness in the third."""
    b = strong(("us-east-1", "eu-west-1", "ap-northeast-1"), witness="ap-northeast-1")
    replicas = b.named(TABLE).inputs["replicas"]
    replicas[:] = [entry for entry in replicas if entry["regionName"] != "ap-northeast-1"]
    return b


STRONG_TABLE = "Table 'tasks-tasks-table' (region us-east-1) with STRONG replicas"

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
    # Per-region copies: the fix replicates one of them, never each.
    "fail-per-region-tables": Case(
        per_region_tables,
        (
            Expect(
                "tasks-us-east-1-cache-table",
                (
                    "one of 2 per-region copies of the same table",
                    "do not add replicas to each copy",
                    "Keep 'tasks-us-east-1-cache-table' (region us-east-1) with replicas=",
                    "remove 'tasks-eu-west-1-cache-table' (region eu-west-1)",
                ),
            ),
            Expect(
                "tasks-eu-west-1-cache-table",
                (
                    "Keep 'tasks-us-east-1-cache-table' (region us-east-1)",
                    "(this table among them)",
                ),
            ),
        ),
    ),
    "pass": Case(active_active_stack),
    "fail": Case(without_replicas, (NO_REPLICA,)),
    "preview": Case(without_replicas, (NO_REPLICA,), preview=True),
    "fail-third-region": Case(
        third_region_forgotten,
        (Expect(TABLE, ("it has no replica in region ap-southeast-2",)),),
        preview=True,
    ),
    # The replica's recovery is off too: that is dynamodb-point-in-time-recovery's finding.
    "fail-stream-not-recovery": Case(
        weak_copies,
        (Expect(TABLE, ("streamViewType is KEYS_ONLY, not NEW_AND_OLD_IMAGES",)),),
    ),
    "fail-single-region-table": Case(
        lambda: with_single_region_table(opted_out=False),
        (
            Expect(
                "tasks-reports-table",
                (
                    "no replica in region eu-west-1",
                    "streamEnabled is not true",
                    "'resilience:single-region': 'true'",
                ),
            ),
        ),
        preview=True,
    ),
    "pass-opted-out-by-tag": Case(lambda: with_single_region_table(opted_out=True)),
    # The premise: coverage only where the stack serves from two or more regions.
    "pass-single-region-stack": Case(
        lambda: single_region(streamEnabled=None, streamViewType=None), preview=True
    ),
    "pass-without-recovery": Case(without_recovery, preview=True),
    # Replicas need the stream whatever the stack serves from.
    "fail-replicated-in-single-region-stack": Case(
        lambda: single_region(
            streamEnabled=False, replicas=[{"regionName": "eu-west-1", "pointInTimeRecovery": True}]
        ),
        (
            Expect(
                TABLE,
                (
                    "Table 'tasks-tasks-table' (region us-east-1) with replicas",
                    "streamEnabled is not true",
                ),
            ),
        ),
        preview=True,
    ),
    "fail-http-api-second-region": Case(
        http_api_second_region,
        (Expect(TABLE, ("serves from eu-west-1, us-east-1", "no replica in region eu-west-1")),),
        preview=True,
    ),
    # Multi-Region strong consistency: two replicas and a witness, or three replicas, without a
    # stream, are valid multi-region tables; AWS's limits are findings.
    "pass-strong-with-witness": Case(strong, preview=True),
    "pass-strong-three-replicas": Case(
        lambda: strong(("us-east-1", "eu-west-1", "us-west-2"), witness=None), preview=True
    ),
    "fail-strong-mixed-modes": Case(
        lambda: strong(("us-east-1", "eu-west-1", "us-west-2"), None, ("STRONG", "EVENTUAL")),
        (Expect(TABLE, (STRONG_TABLE, "mix STRONG with EVENTUAL", "AWS rejects mixed modes")),),
    ),
    # No consistencyMode on an entry is the provider's default, EVENTUAL.
    "fail-strong-mode-unset-on-one-replica": Case(
        lambda: strong(("us-east-1", "eu-west-1", "us-west-2"), None, ("STRONG", "")),
        (Expect(TABLE, ("mix STRONG with EVENTUAL",)),),
        preview=True,
    ),
    "fail-strong-ttl": Case(
        lambda: strong(ttl=True),
        (Expect(TABLE, (STRONG_TABLE, "enables TTL", "no ttl")),),
        preview=True,
    ),
    "fail-strong-two-regions-no-witness": Case(
        lambda: strong(witness=None),
        (Expect(TABLE, ("exactly 3 regions", "it has 2: us-east-1, eu-west-1")),),
    ),
    "fail-strong-four-regions": Case(
        lambda: strong(("us-east-1", "eu-west-1", "us-west-2")),
        (Expect(TABLE, ("it has 4: us-east-1, eu-west-1, us-west-2, us-east-2",)),),
    ),
    "fail-strong-region-outside-mrsc": Case(
        lambda: strong(witness="sa-east-1"),
        (Expect(TABLE, ("us-east-1, eu-west-1, sa-east-1 cannot form a strongly consistent",)),),
        preview=True,
    ),
    # The witness holds no readable copy: a serving region it names still lacks a replica.
    "fail-strong-witness-is-no-replica": Case(
        witness_in_a_serving_region,
        (Expect(TABLE, ("it has no replica in region ap-northeast-1",)),),
    ),
    "fail-witness-without-strong-replicas": Case(
        lambda: strong(modes=("EVENTUAL",)),
        (Expect(TABLE, ("witness (us-east-2) but no STRONG replica",)),),
    ),
}

# The same stacks as the engine sends them: a new stack's preview, and outputs only.
CASES["engine-preview"] = CASES["preview"].reshaped(ENGINE_PREVIEW)
CASES["outputs-only"] = CASES["fail"].reshaped(OUTPUTS_ONLY)
