"""single-region-service: a stack that serves from one region is told what active-active needs.

The multi-region rules (multi-region-active-active, and dynamodb-global-table's replica
coverage) presume a stack that serves from two or more regions; a single-region service is a
design choice they do not judge. It is still the one choice that turns a regional outage into a
full outage, so it is said out loud, as advice, with what this stack would need to become
active-active.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ..config import ConfigSpec
from ..exemptions import tag_key
from ..model import (
    FUNCTION,
    HTTP_API,
    HTTP_STAGE,
    QUEUE,
    REDRIVE_POLICY,
    REST_API,
    STAGE,
    TABLE,
    TABLE_REPLICA,
    UNKNOWN_REGION,
    StackModel,
    region_label,
)
from ..props import ABSENT, at
from ..rulekit import Report, stack_policy

NAME = "single-region-service"

#: (resource type, property) this policy reads: checked by the tests against the provider
#: defaults the offline preview models.
READS = (
    (TABLE, "replicas"),
    (TABLE_REPLICA, "globalTableArn"),
    # through the stack model's redrives: which queues have a dead-letter queue
    (QUEUE, "redrivePolicy"),
    (REDRIVE_POLICY, "redrivePolicy"),
    (REDRIVE_POLICY, "queueUrl"),
)

CONFIG = ConfigSpec(NAME)


def _quoted(names: list[str]) -> str:
    return ", ".join(f"'{name}'" for name in names)


def check(model: StackModel, settings: Mapping[str, Any], report: Report) -> None:
    regions = model.serving_regions
    # One region, and a known one: a computed region may be a second one.
    if len(regions) != 1 or regions[0] == UNKNOWN_REGION:
        return
    (region,) = regions
    apis = model.of_type(REST_API, HTTP_API) or model.of_type(STAGE, HTTP_STAGE)
    anchor = apis[0]
    needs = [
        f"the API ({_quoted([api.name for api in apis])}) and its stage in a second region, "
        "every resource there with an explicit region="
    ]
    functions = model.of_type(FUNCTION)
    if functions:
        needs.append(f"the {len(functions)} Lambda function(s) behind it, in that region too")
    if model.redrives:
        needs.append("its queues with their dead-letter queues and DLQ alarms, per region")
    replicated_tables = {
        table.urn
        for replica in model.of_type(TABLE_REPLICA)
        for table in model.linked(replica, "globalTableArn", (TABLE,))
    }
    regional_tables = [
        table.name
        for table in model.of_type(TABLE)
        if at(table.props, "replicas") in (ABSENT, []) and table.urn not in replicated_tables
    ]
    if regional_tables:
        needs.append(
            f"a replica of table(s) {_quoted(regional_tables)} in the new region (a global "
            "table: replicas=[{'region_name': ...}], stream_view_type='NEW_AND_OLD_IMAGES')"
        )
    needs.append(
        "one latency-routed Route53 record per region (set_identifier=<region>, "
        "latency_routing_policies=[{'region': <region>}]) with a health check"
    )
    report(
        f"The stack serves its API only from {region_label(region)}: an outage of that region "
        "takes the whole service down. The multi-region rules (multi-region-active-active, and "
        "dynamodb-global-table's replica coverage) apply once it serves from two regions. "
        f"Active-active would need: {'; '.join(needs)}. If one region is the intended design, "
        f"tag '{anchor.name}' with '{tag_key(NAME)}': '<the reason>'.",
        anchor.urn,
    )


POLICY = stack_policy(
    config=CONFIG,
    description=(
        "A stack that serves its API (REST or HTTP) from a single region is told that one "
        "regional outage takes it down, and what active-active would need."
    ),
    check=check,
    level=EnforcementLevel.ADVISORY,
    severity=Severity.MEDIUM,
    remediation_steps=(
        "Deploy the API, its functions, queues with DLQs and table replicas to a second region "
        "and route between the regions with latency records and health checks."
    ),
)
