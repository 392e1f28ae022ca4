"""LatencyRouting: one name answered by the nearest healthy region.

Each region gets a latency record for the name, withdrawn while the region's health check fails,
as either an alias A record to the region's API custom domain (queries are free; resolvers cache
it for the target's 60 s) or a CNAME to the same regional domain name with its own, shorter TTL
(queries are billed; failover is faster).

Switching between the two changes each record's type. Route53 refuses a CNAME next to another
record type at the same name, so the provider's in-place update (delete the old record and
create the new one in one change batch, one region at a time) would fail on the first region
while the other regions' A records still exist. The records are therefore replaced when their
type changes, deleting the old record first: the name has no answer from the moment the last old
record is gone until the first new one is in sync (typically well under a minute), and resolvers
may cache that empty answer for the zone's negative-caching TTL. Switch in a quiet period.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from resilience_policies import thresholds

from .inputs import as_args, schema_args
from .outputs import declared_outputs
from .tokens import component_type, keep_previous_token


@schema_args
@dataclass(frozen=True)
class RegionalEndpoint:
    """Where a region serves (its API custom domain) and how to probe it (its own endpoint)."""

    region: str
    """The region this endpoint serves from."""
    alias_name: pulumi.Input[str]
    """The API custom domain's regional domain name (`RegionalApi.regional_domain_name`): the
    alias target, or the CNAME's value."""
    alias_zone_id: pulumi.Input[str]
    """The hosted zone of that target (`RegionalApi.regional_zone_id`; alias records only)."""
    health_check_fqdn: pulumi.Input[str]
    """The region's own endpoint, probed over HTTPS (`RegionalApi.health_check_fqdn`)."""
    health_check_path: pulumi.Input[str]
    """The deep health path Route53 probes on it (`RegionalApi.health_check_path`, a path with a
    secret segment that public callers cannot reach, so cannot exhaust)."""


@schema_args
@dataclass
class LatencyRoutingArgs:
    """One latency-routed name over regional endpoints, each withdrawn while its health check
    fails."""

    zone_id: pulumi.Input[str]
    """The Route53 hosted zone of the name."""
    record_name: str
    """The name clients call, inside the zone."""
    endpoints: Sequence[RegionalEndpoint]
    """One endpoint per region."""
    health_check_interval_s: int = thresholds.HEALTH_CHECK_INTERVAL_DEFAULT_S
    """Route53's request interval: 10 or 30 seconds."""
    health_check_failure_threshold: int = thresholds.HEALTH_CHECK_FAILURE_THRESHOLD_DEFAULT
    """Failed checks before a region is withdrawn (1..10)."""
    checker_regions: Sequence[str] | None = None
    """Route53 checker regions (at least 3); unset lets Route53 use its default set."""
    record_type: str = thresholds.DNS_RECORD_TYPE_DEFAULT
    """`alias` (A alias records) or `cname` (CNAME records with `record_ttl_s`)."""
    record_ttl_s: int = thresholds.DNS_CNAME_TTL_DEFAULT_S
    """The CNAME records' TTL; alias records are cached for their target's TTL instead."""

    def validate(self) -> None:
        if not self.endpoints:
            raise ValueError("LatencyRoutingArgs.endpoints: give at least one regional endpoint.")
        regions = [endpoint.region for endpoint in self.endpoints]
        if len(set(regions)) != len(regions):
            raise ValueError(
                f"LatencyRoutingArgs.endpoints: regions {regions} repeat; a latency record set "
                "holds one record per region."
            )
        if self.health_check_interval_s not in thresholds.HEALTH_CHECK_INTERVALS_S:
            raise ValueError(
                f"LatencyRoutingArgs.health_check_interval_s: {self.health_check_interval_s} must be "
                f"one of {thresholds.HEALTH_CHECK_INTERVALS_S} (Route53's request intervals)."
            )
        low = thresholds.HEALTH_CHECK_FAILURE_THRESHOLD_MIN
        high = thresholds.HEALTH_CHECK_FAILURE_THRESHOLD_MAX
        if not low <= self.health_check_failure_threshold <= high:
            raise ValueError(
                "LatencyRoutingArgs.health_check_failure_threshold: "
                f"{self.health_check_failure_threshold} must be {low}..{high}."
            )
        if self.checker_regions is not None and len(self.checker_regions) < 3:
            raise ValueError(
                "LatencyRoutingArgs.checker_regions: Route53 needs at least 3 regions."
            )
        if self.record_type not in thresholds.DNS_RECORD_TYPES:
            raise ValueError(
                f"LatencyRoutingArgs.record_type: {self.record_type!r} must be one of "
                f"{', '.join(thresholds.DNS_RECORD_TYPES)}."
            )
        low, high = thresholds.DNS_CNAME_TTL_MIN_S, thresholds.DNS_CNAME_TTL_MAX_S
        if self.record_type == "cname" and not low <= self.record_ttl_s <= high:
            raise ValueError(
                f"LatencyRoutingArgs.record_ttl_s: {self.record_ttl_s} must be {low}..{high}."
            )

    @property
    def record_ttl_effective_s(self) -> int:
        """How long resolvers may keep answering with a withdrawn region."""
        if self.record_type == "alias":
            return thresholds.ALIAS_RECORD_TTL_S
        return self.record_ttl_s

    @property
    def estimated_failover_s(self) -> int:
        """Nominal, not a bound: see thresholds.estimated_failover_s for what it leaves out."""
        return thresholds.estimated_failover_s(
            self.health_check_interval_s,
            self.health_check_failure_threshold,
            self.record_ttl_effective_s,
        )


class LatencyRouting(pulumi.ComponentResource):
    """Per region: an HTTPS health check on the region's deep health route and a latency record
    (alias or CNAME) that is withdrawn while that check fails."""

    estimated_failover_s: int
    """Nominal seconds from a region failing to its withdrawal from DNS: interval x failure
    threshold + the record's TTL (not a bound: checkers report late, resolvers cache)."""
    record_name: str
    """The latency-routed name."""
    health_check_ids: dict[str, pulumi.Output[str]]
    """Each region's health check id."""

    def __init__(
        self,
        name: str,
        args: LatencyRoutingArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(
            component_type("LatencyRouting"),
            name,
            None,
            keep_previous_token("LatencyRouting", opts),
        )
        args = as_args(LatencyRoutingArgs, args)
        args.validate()
        self.estimated_failover_s = args.estimated_failover_s
        child = pulumi.ResourceOptions(parent=self)
        # A type change cannot be an in-place update (see the module docstring): replace the
        # record, deleting the old one first. The records also wait for what this component
        # depends on: a new region gets traffic only once what it serves from (e.g. its table
        # replica) is in place, not while it is still being built.
        record_options = pulumi.ResourceOptions(
            parent=self,
            replace_on_changes=["type"],
            delete_before_replace=True,
            depends_on=opts.depends_on if opts is not None else None,
        )
        self.health_checks: dict[str, aws.route53.HealthCheck] = {}
        self.records: dict[str, aws.route53.Record] = {}
        for endpoint in args.endpoints:
            region = endpoint.region
            health_check = aws.route53.HealthCheck(
                f"{name}-{region}-health",
                type="HTTPS",
                fqdn=endpoint.health_check_fqdn,
                port=443,
                resource_path=endpoint.health_check_path,
                enable_sni=True,
                request_interval=args.health_check_interval_s,
                failure_threshold=args.health_check_failure_threshold,
                measure_latency=True,
                regions=list(args.checker_regions) if args.checker_regions else None,
                tags={"Name": f"{args.record_name} {region}"},
                opts=child,
            )
            alias = args.record_type == "alias"
            record = aws.route53.Record(
                f"{name}-{region}-latency",
                zone_id=args.zone_id,
                name=args.record_name,
                type="A" if alias else "CNAME",
                set_identifier=region,
                latency_routing_policies=[
                    aws.route53.RecordLatencyRoutingPolicyArgs(region=region)
                ],
                health_check_id=health_check.id,
                aliases=[
                    aws.route53.RecordAliasArgs(
                        name=endpoint.alias_name,
                        zone_id=endpoint.alias_zone_id,
                        evaluate_target_health=True,
                    )
                ]
                if alias
                else None,
                # A CNAME has no alias target whose health could be evaluated: the health check
                # alone withdraws the region.
                ttl=None if alias else args.record_ttl_s,
                records=None if alias else [endpoint.alias_name],
                opts=record_options,
            )
            self.health_checks[region] = health_check
            self.records[region] = record
        self.record_name = args.record_name
        self.health_check_ids = {region: hc.id for region, hc in self.health_checks.items()}
        self.register_outputs(declared_outputs(self))
