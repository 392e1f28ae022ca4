"""multi-region-active-active: a stack that serves from several regions is complete in each.

Active-active only survives a regional outage if every region can carry the traffic alone:
the same API, the same function, the same queue with its DLQ, and a latency record that
routes clients to it. A region that forgot one piece (often a resource that silently landed in
the provider's default region because it was not given `region=`) fails the moment traffic
fails over to it.

The rule's premise is a stack that serves from two or more regions. A service that serves from
one region is a different design, not a broken active-active one: `single-region-service`
says so (advisory), with what active-active would need.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from .. import thresholds
from ..config import ConfigSpec, Setting
from ..model import (
    DEFAULT_REGION,
    FUNCTION,
    QUEUE,
    RECORD,
    REDRIVE_POLICY,
    SERVING_TYPES,
    UNKNOWN_REGION,
    Resource,
    StackModel,
    region_label,
)
from ..props import ABSENT, at, text
from ..rulekit import Report, stack_policy

NAME = "multi-region-active-active"

#: (resource type, property) this policy reads: checked by the tests against the provider
#: defaults the offline preview models.
READS = (
    (RECORD, "latencyRoutingPolicies"),
    # through the stack model's redrives: which queues have a dead-letter queue
    (QUEUE, "redrivePolicy"),
    (REDRIVE_POLICY, "redrivePolicy"),
    (REDRIVE_POLICY, "queueUrl"),
)

CONFIG = ConfigSpec(
    NAME,
    (
        Setting(
            "minRegions",
            "integer",
            thresholds.MIN_ACTIVE_REGIONS,
            "Fewest regions a stack that serves from several regions must serve its API from.",
            minimum=1,
            maximum=30,
        ),
    ),
)


def check(model: StackModel, settings: Mapping[str, Any], report: Report) -> None:
    # The premise: two or more known serving regions. No API (nothing serves), one region
    # (single-region-service's advisory) or a count only `pulumi up` can settle (a computed
    # region next to one known one) is not this rule's finding.
    if not model.serves_from_several_regions:
        return
    regions = model.serving_regions
    minimum = settings["minRegions"]
    if len(regions) < minimum and UNKNOWN_REGION not in regions:
        report(
            f"The stack serves its API from {len(regions)} region(s) ({', '.join(regions)}); "
            f"this stack requires at least {minimum} (minRegions), so that losing one region "
            "still leaves enough to carry all traffic. Fix: deploy the regional stack (API, "
            "function, queue with DLQ, latency record) to another region.",
            None,
        )

    latency_regions: set[str] = set()
    for record in model.of_type(RECORD):
        policies = at(record.props, "latencyRoutingPolicies")
        for policy in policies if isinstance(policies, list) else []:
            region = text(policy, "region")
            if isinstance(region, str):
                latency_regions.add(region)
    pieces = {
        "Lambda function": {function.region for function in model.of_type(FUNCTION)},
        "SQS queue with a dead-letter queue": {
            redrive.source.region
            for redrive in model.redrives
            if redrive.source is not None
            and (redrive.dead_letter_queue is not None or redrive.document is not ABSENT)
        },
        "latency-routed Route53 record": latency_regions,
    }
    placed = [region for region in regions if region != UNKNOWN_REGION]
    if len(placed) >= 2 and not latency_regions:
        report(
            f"The stack serves its API from {', '.join(placed)} but no latency-routed Route53 "
            "record sends clients to them: nothing spreads the traffic or fails over. Fix: one "
            "aws.route53.Record per region with set_identifier=<region>, "
            "latency_routing_policies=[{'region': <region>}] and a health check.",
            None,
        )
        del pieces["latency-routed Route53 record"]
    anchors: dict[str, Resource] = {}
    for api in model.of_type(*SERVING_TYPES):
        anchors.setdefault(api.region, api)

    # Symmetry: what one serving region has, every serving region needs. (A piece no region
    # has is another rule's finding, e.g. sqs-dead-letter-queue, not an asymmetry.)
    for region in placed:
        missing = [
            (piece, sorted(other for other in present if other in placed))
            for piece, present in pieces.items()
            if region not in present and any(other in placed for other in present)
        ]
        if not missing:
            continue
        anchor = anchors[region]
        found = "; ".join(f"no {piece} ({', '.join(others)} has one)" for piece, others in missing)
        placement = (
            "give the API and its pieces an explicit region="
            if region == DEFAULT_REGION
            else f"give the missing pieces region='{region}' (a resource without `region` "
            "lands in the provider's default region)"
        )
        report(
            f"{region_label(region).capitalize()} serves an API ('{anchor.name}') but has "
            f"{found}. Every serving region must be able to carry all traffic alone. Fix: "
            f"{placement}.",
            anchor.urn,
        )


POLICY = stack_policy(
    config=CONFIG,
    description=(
        "A stack that serves its API from several regions serves from at least minRegions "
        "regions behind latency routing, and every serving region has the same pieces: "
        "function, queue with a DLQ, latency record."
    ),
    check=check,
    level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    remediation_steps=(
        "Deploy the regional pieces to every serving region, each with an explicit region=."
    ),
)
