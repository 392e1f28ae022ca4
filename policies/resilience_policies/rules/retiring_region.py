"""retiring-region: a region on its way out can be removed by the next change.

A region leaves a multi-region stack in two changes: it retires (it stops serving, and whatever
would stop its removal is turned off), then it is dropped. The pack tells a retiring region by
the tag the components put on its resources (`thresholds.RETIRING_TAG_KEY` = "true" on every API
and stage there). It no longer serves, so the serving rules (`multi-region-active-active`,
`dynamodb-global-table`'s coverage) leave it alone; this rule checks what its removal needs:

- no latency-routed record sends clients to it: DNS lets go of the region first, so clients
  drain to the others instead of meeting a region whose resources are being deleted;
- no DynamoDB table in it, and no replica of a global table in it, keeps deletion protection:
  the provider deletes a table or replica without turning protection off, so the change that
  drops the region would stop halfway, after the region's other resources are gone;
- no resource in it is `protect`ed: the engine refuses to delete it, with the same result.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from .. import thresholds
from ..config import ConfigSpec
from ..model import (
    HTTP_API,
    HTTP_STAGE,
    RECORD,
    REST_API,
    STAGE,
    TABLE,
    TABLE_REPLICA,
    Resource,
    StackModel,
)
from ..props import at, flag, text
from ..rulekit import Report, stack_policy

NAME = "retiring-region"

#: (resource type, property) this policy reads: checked by the tests against the provider
#: defaults the offline preview models.
READS = (
    (RECORD, "latencyRoutingPolicies"),
    (TABLE, "deletionProtectionEnabled"),
    (TABLE, "replicas"),
    (TABLE_REPLICA, "deletionProtectionEnabled"),
    # through the stack model's retiring regions: the tag on every API and stage there
    (REST_API, "tags"),
    (HTTP_API, "tags"),
    (STAGE, "tags"),
    (HTTP_STAGE, "tags"),
)

CONFIG = ConfigSpec(NAME)


def _latency_regions(record: Resource) -> set[str]:
    policies = at(record.props, "latencyRoutingPolicies")
    return {
        region
        for policy in (policies if isinstance(policies, list) else [])
        if isinstance(region := text(policy, "region"), str)
    }


def _protected_copies(model: StackModel, retiring: set[str]) -> list[tuple[str, Resource, str]]:
    """(region, resource to report on, what keeps protection) for every table or replica in a
    retiring region whose deletion protection is on."""
    found: list[tuple[str, Resource, str]] = []
    for table in model.of_type(TABLE):
        if table.region in retiring and flag(table.props, "deletionProtectionEnabled") is True:
            found.append((table.region, table, f"table '{table.name}'"))
        replicas = at(table.props, "replicas")
        for replica in replicas if isinstance(replicas, list) else []:
            region = text(replica, "regionName")
            # Unset is off (replicas start unprotected); computed is decided by `pulumi up`.
            if region in retiring and flag(replica, "deletionProtectionEnabled") is True:
                found.append((str(region), table, f"the {region} replica of table '{table.name}'"))
    for replica_resource in model.of_type(TABLE_REPLICA):
        if (
            replica_resource.region in retiring
            and flag(replica_resource.props, "deletionProtectionEnabled") is True
        ):
            found.append(
                (replica_resource.region, replica_resource, f"replica '{replica_resource.name}'")
            )
    return found


def check(model: StackModel, settings: Mapping[str, Any], report: Report) -> None:
    retiring = set(model.retiring_regions)
    if not retiring:
        return
    tag = thresholds.RETIRING_TAG_KEY
    for record in model.of_type(RECORD):
        for region in sorted(_latency_regions(record) & retiring):
            report(
                f"Latency record '{record.name}' still sends clients to region {region}, which "
                f"is retiring (its APIs carry '{tag}'). DNS must let go of a region before "
                "anything of it is deleted, so its traffic drains to the other regions. Fix: "
                "drop the region's latency record and health check in the change that retires "
                "it (the components do when the region is in retiringRegions).",
                record.urn,
            )
    for region, resource, what in _protected_copies(model, retiring):
        report(
            f"{what[0].upper()}{what[1:]} in retiring region {region} keeps deletion protection "
            "on: the provider deletes a table or replica without turning it off, so the change "
            "that removes the region would stop halfway, after the region's other resources "
            "are gone. Fix: deletion_protection_enabled=False on it while the region retires "
            "(export or move its items first if they are not replicated elsewhere).",
            resource.urn,
        )
    for resource in model.resources:
        if resource.protect and resource.region in retiring:
            report(
                f"'{resource.name}' in retiring region {resource.region} is protected "
                "(`protect`): the engine refuses to delete it, so the change that removes the "
                "region would stop halfway. Fix: drop `protect` in the change that retires the "
                "region (or `pulumi state unprotect <urn>`), after saving what it holds.",
                resource.urn,
            )


POLICY = stack_policy(
    config=CONFIG,
    description=(
        "A retiring region (its APIs tagged resilience:retiring) gets no latency-routed "
        "traffic and keeps nothing that would stop its removal: no deletion protection on its "
        "tables or replicas, no protected resource."
    ),
    check=check,
    level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    remediation_steps=(
        "Withdraw the retiring region's latency records, turn off deletion protection of its "
        "tables and replicas and drop `protect` from its resources, in the change that retires it."
    ),
)
