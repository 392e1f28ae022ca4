"""dynamodb-global-table: the table is a global table that covers every serving region.

Active-active means every region serves reads and writes from its own copy of the data: a
region without a replica either calls across regions (latency, and an outage of the other
region becomes its outage) or has no data at all. Global tables replicate through streams with
NEW_AND_OLD_IMAGES, and point-in-time recovery on the table and every replica is what undoes a
bad write that has already replicated everywhere.
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

NAME = "dynamodb-global-table"

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

    replicated = bool(replica_entries) or bool(replica_resources) or len(regions) > 1
    if replicated:
        if flag(table.props, "streamEnabled") in (ABSENT, False):
            problems.append("streamEnabled is not true (replication runs on the stream)")
        view = text(table.props, "streamViewType")
        if view is ABSENT or (isinstance(view, str) and view != "NEW_AND_OLD_IMAGES"):
            shown = "not set" if view is ABSENT else view
            problems.append(f"streamViewType is {shown}, not NEW_AND_OLD_IMAGES")
    if flag(table.props, "pointInTimeRecovery", "enabled") in (ABSENT, False):
        problems.append("point-in-time recovery is off on the table")
    without_recovery = [
        str(text(replica, "regionName"))
        for replica in replica_entries
        if flag(replica, "pointInTimeRecovery") in (ABSENT, False)
    ] + [
        replica.region
        for replica in replica_resources
        if flag(replica.props, "pointInTimeRecovery") in (ABSENT, False)
    ]
    if without_recovery:
        problems.append(
            "point-in-time recovery is off on the replica(s) in " + ", ".join(without_recovery)
        )
    return problems


def check(model: StackModel, settings: Mapping[str, Any], report: Report) -> None:
    regions = model.serving_regions
    if not regions:
        return  # the stack serves no API: nothing to cover
    replicas_by_table: dict[str, list[Resource]] = {}
    for replica in model.of_type(TABLE_REPLICA):
        for table in model.linked(replica, "globalTableArn", (TABLE,)):
            replicas_by_table.setdefault(table.urn, []).append(replica)
    for table in model.of_type(TABLE):
        if _opted_out(table, settings["optOutTagKey"]):
            continue
        problems = _table_problems(table, regions, replicas_by_table.get(table.urn, []))
        if not problems:
            continue
        report(
            f"Table '{table.name}' ({region_label(table.region)}) in a stack that serves from "
            f"{', '.join(regions)}: {'; '.join(problems)}. Every serving region needs its own "
            "writable copy, replicated through a NEW_AND_OLD_IMAGES stream, and point-in-time "
            "recovery everywhere undoes a bad write that already replicated. Fix: replicas=[{"
            "'region_name': <each other serving region>, 'point_in_time_recovery': True}], "
            "stream_enabled=True, stream_view_type='NEW_AND_OLD_IMAGES', "
            "point_in_time_recovery={'enabled': True}; or tag the table "
            f"'{settings['optOutTagKey']}': 'true' if it is deliberately single-region.",
            table.urn,
        )


POLICY = stack_policy(
    config=CONFIG,
    description=(
        "In a stack that serves from several regions, every DynamoDB table has a replica in each "
        "of them, a NEW_AND_OLD_IMAGES stream and point-in-time recovery on every copy."
    ),
    check=check,
    level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    remediation_steps=(
        "Add the missing regions to the table's replicas (with point_in_time_recovery=True), "
        "enable the NEW_AND_OLD_IMAGES stream and point-in-time recovery."
    ),
)
