"""dynamodb-global-table: the table is a global table that covers every serving region.

Active-active means every region serves reads and writes from its own copy of the data: a
region without a replica either calls across regions (latency, and an outage of the other
region becomes its outage) or has no data at all. Global tables replicate through streams with
NEW_AND_OLD_IMAGES.

A table whose replicas are STRONG (multi-Region strong consistency, MRSC) replicates
synchronously, not through streams: it needs no stream, but AWS's own limits instead. Exactly three
regions (the table's, and two replicas or one replica and a witness), all from one group of MRSC
regions (`thresholds.MRSC_REGION_GROUPS`), every replica STRONG (AWS rejects mixed modes), and no
TTL (MRSC does not support it). A witness holds no readable copy, so it never covers a serving
region.

Replica coverage presumes a stack that serves from two or more regions (a single-region service
gets `single-region-service`'s advice instead); the stream settings apply to every table that
has replicas, since replication runs on them whatever the stack serves. Point-in-time recovery
is its own policy, `dynamodb-point-in-time-recovery`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ..config import ConfigSpec, Setting
from ..model import (
    TABLE,
    TABLE_REPLICA,
    UNKNOWN_REGION,
    Resource,
    StackModel,
    region_label,
)
from ..props import ABSENT, UNKNOWN, at, flag, text
from ..rulekit import Report, stack_policy
from ..thresholds import MRSC_REGION_COUNT, MRSC_REGION_GROUPS, mrsc_region_group

NAME = "dynamodb-global-table"

#: (resource type, property) this policy reads: checked by the tests against the provider
#: defaults the offline preview models.
READS = (
    (TABLE, "replicas"),
    (TABLE, "globalTableWitness"),
    (TABLE, "streamEnabled"),
    (TABLE, "streamViewType"),
    (TABLE, "ttl"),
    (TABLE, "tags"),
    (TABLE_REPLICA, "globalTableArn"),
)

#: A table tagged with this key (value "true") is deliberately single-region.
OPT_OUT_TAG_KEY = "resilience:single-region"

CONFIG = ConfigSpec(
    NAME,
    (
        Setting(
            "optOutTagKey",
            "string",
            OPT_OUT_TAG_KEY,
            'Tag key that exempts a table (value "true"): e.g. a table that is deliberately '
            "single-region.",
        ),
    ),
)


def _opted_out(table: Resource, tag_key: str) -> bool:
    value = text(table.props, "tags", tag_key)
    return isinstance(value, str) and value.strip().lower() == "true"


def _table_problems(
    table: Resource, regions: list[str], replica_resources: list[Resource]
) -> list[str]:
    """What keeps `table` from being a global table over `regions`. Without regions (the stack
    does not serve from several), only the stream settings of a table that has replicas."""
    problems: list[str] = []
    replicas = at(table.props, "replicas")
    covered = {table.region}
    undecided = replicas is UNKNOWN
    replica_entries = replicas if isinstance(replicas, list) else []
    for replica in replica_entries:
        region = text(replica, "regionName")
        if isinstance(region, str):
            covered.add(region)
        else:
            undecided = True
    covered.update(replica.region for replica in replica_resources)
    missing = [region for region in regions if region not in covered and region != UNKNOWN_REGION]
    if missing and not undecided:
        problems.append(
            "it has no replica in " + ", ".join(region_label(region) for region in missing)
        )

    modes = {_mode(replica) for replica in replica_entries}
    if "STRONG" in modes:
        problems.extend(_strong_problems(table, replica_entries, modes))
        return problems
    witness = text(table.props, "globalTableWitness", "regionName")
    if isinstance(witness, str):
        problems.append(
            f"it has a witness ({witness}) but no STRONG replica (a witness serves only a "
            "strongly consistent table)"
        )

    replicated = bool(replica_entries) or bool(replica_resources) or bool(regions)
    if replicated:
        if flag(table.props, "streamEnabled") in (ABSENT, False):
            problems.append("streamEnabled is not true (replication runs on the stream)")
        view = text(table.props, "streamViewType")
        if view is ABSENT or (isinstance(view, str) and view != "NEW_AND_OLD_IMAGES"):
            shown = "not set" if view is ABSENT else view
            problems.append(f"streamViewType is {shown}, not NEW_AND_OLD_IMAGES")
    return problems


def _mode(replica: Any) -> str:
    """A replica entry's consistency mode: EVENTUAL unless set (the provider's default)."""
    mode = text(replica, "consistencyMode")
    if mode is UNKNOWN:
        return "UNKNOWN"
    return mode.upper() if isinstance(mode, str) and mode else "EVENTUAL"


def _strong_problems(table: Resource, replica_entries: list[Any], modes: set[str]) -> list[str]:
    """What AWS refuses in a table with STRONG replicas (multi-Region strong consistency)."""
    problems: list[str] = []
    if modes - {"STRONG", "UNKNOWN"}:
        problems.append(
            "its replicas mix STRONG with "
            + ", ".join(sorted(modes - {"STRONG", "UNKNOWN"}))
            + " consistency (AWS rejects mixed modes: every replica STRONG, or none)"
        )
    witness = text(table.props, "globalTableWitness", "regionName")
    participants = [table.region]
    for replica in replica_entries:
        region = text(replica, "regionName")
        if isinstance(region, str):
            participants.append(region)
    if isinstance(witness, str):
        participants.append(witness)
    decided = witness is not UNKNOWN and len(participants) == 1 + len(replica_entries) + (
        1 if isinstance(witness, str) else 0
    )
    if decided and table.region != UNKNOWN_REGION:
        if len(participants) != MRSC_REGION_COUNT:
            problems.append(
                f"strong consistency spans exactly {MRSC_REGION_COUNT} regions (the table's and "
                f"two replicas, or one replica and a witness), it has {len(participants)}: "
                + ", ".join(participants)
            )
        elif mrsc_region_group(participants) is None:
            problems.append(
                f"{', '.join(participants)} cannot form a strongly consistent table: all three "
                f"must come from {' or '.join(MRSC_REGION_GROUPS)}"
            )
    ttl = flag(table.props, "ttl", "enabled")
    if ttl is True:
        problems.append("it enables TTL, which a strongly consistent table does not support")
    return problems


def _base_name(table: Resource) -> str:
    """The table's name without its region: per-region copies of one table share it."""
    return table.name.replace(table.region, "{region}") if table.region else table.name


def _per_region_copies(tables: list[Resource]) -> dict[str, list[Resource]]:
    """Table URN -> the group of unreplicated tables, one per region, that it belongs to: the
    same name but for the region (`tasks-us-east-1-table`, `tasks-eu-west-1-table`)."""
    groups: dict[str, list[Resource]] = {}
    for table in tables:
        if table.region not in (None, UNKNOWN_REGION) and not _entries(table):
            groups.setdefault(_base_name(table), []).append(table)
    copies: dict[str, list[Resource]] = {}
    for members in groups.values():
        if len({member.region for member in members}) > 1:
            for member in members:
                copies[member.urn] = members
    return copies


def _one_table_fix(table: Resource, copies: list[Resource], opt_out: str) -> str:
    """The fix for per-region copies: replicas on one table, the others removed; replicas on
    each would make as many separate global tables, none sharing its items with the others."""
    keep = copies[0]
    others = ", ".join(f"'{c.name}' ({region_label(c.region)})" for c in copies[1:])
    head = (
        f"this is one of {len(copies)} per-region copies of the same table that never share "
        "their items. Fix: keep one table and replicate it; do not add replicas to each copy "
        f"(that makes {len(copies)} separate global tables). Keep '{keep.name}' "
        f"({region_label(keep.region)}) with replicas=[{{'region_name': <each other serving "
        "region>}], stream_enabled=True, stream_view_type='NEW_AND_OLD_IMAGES', "
        f"and remove {others}"
    )
    if table.urn != keep.urn:
        head += f" (this table among them), pointing its region's code at '{keep.name}'"
    return head + f"{opt_out}."


def _entries(table: Resource) -> list[Any]:
    replicas = at(table.props, "replicas")
    return replicas if isinstance(replicas, list) else []


def check(model: StackModel, settings: Mapping[str, Any], report: Report) -> None:
    # Coverage only where the premise holds: two or more known serving regions.
    regions = model.serving_regions if model.serves_from_several_regions else []
    replicas_by_table: dict[str, list[Resource]] = {}
    for replica in model.of_type(TABLE_REPLICA):
        for table in model.linked(replica, "globalTableArn", (TABLE,)):
            replicas_by_table.setdefault(table.urn, []).append(replica)
    tables = [t for t in model.of_type(TABLE) if not _opted_out(t, settings["optOutTagKey"])]
    copies = _per_region_copies(tables) if regions else {}
    for table in tables:
        problems = _table_problems(table, regions, replicas_by_table.get(table.urn, []))
        if not problems:
            continue
        if regions:
            where = f"in a stack that serves from {', '.join(regions)}"
            opt_out = (
                f"; or tag the table '{settings['optOutTagKey']}': 'true' if it is deliberately "
                "single-region"
            )
        else:
            where, opt_out = "with replicas", ""
        if any(_mode(entry) == "STRONG" for entry in _entries(table)):
            report(
                f"Table '{table.name}' ({region_label(table.region)}) with STRONG replicas "
                f"(multi-Region strong consistency): {'; '.join(problems)}. Fix: "
                "replicas=[{'region_name': ..., 'consistency_mode': 'STRONG'}] for two other "
                "regions, or one and global_table_witness={'region_name': ...}, from one MRSC "
                f"region group; no ttl{opt_out}.",
                table.urn,
            )
            continue
        if table.urn in copies:
            report(
                f"Table '{table.name}' ({region_label(table.region)}) {where}: "
                f"{'; '.join(problems)}. Every serving region needs a writable copy of the same "
                f"data, replicated through a NEW_AND_OLD_IMAGES stream, but "
                + _one_table_fix(table, copies[table.urn], opt_out),
                table.urn,
            )
            continue
        report(
            f"Table '{table.name}' ({region_label(table.region)}) {where}: "
            f"{'; '.join(problems)}. Every serving region needs its own writable copy, "
            "replicated through a NEW_AND_OLD_IMAGES stream. Fix: replicas=[{'region_name': "
            "<each other serving region>}], stream_enabled=True, "
            f"stream_view_type='NEW_AND_OLD_IMAGES'{opt_out}.",
            table.urn,
        )


POLICY = stack_policy(
    config=CONFIG,
    description=(
        "In a stack that serves from several regions, every DynamoDB table has a replica in each "
        "of them; every replicated table streams NEW_AND_OLD_IMAGES, or is strongly consistent "
        "within AWS's limits (three regions of one MRSC group, no mixed modes, no TTL)."
    ),
    check=check,
    level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    remediation_steps=(
        "Add the missing regions to the table's replicas and enable the NEW_AND_OLD_IMAGES stream."
    ),
)
