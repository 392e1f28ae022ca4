"""LatencyRouting: one name answered by the nearest healthy region."""

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from resilience_policies import thresholds

from .inputs import as_args, schema_args
from .tokens import component_type, keep_previous_token


@schema_args
@dataclass(frozen=True)
class RegionalEndpoint:
    """Where a region serves (its API custom domain) and how to probe it (its own endpoint)."""

    region: str
    """The region this endpoint serves from."""
    alias_name: pulumi.Input[str]
    """The custom domain's regional target (`RegionalApi.regional_domain_name`)."""
    alias_zone_id: pulumi.Input[str]
    """The hosted zone of that target (`RegionalApi.regional_zone_id`)."""
    health_check_fqdn: pulumi.Input[str]
    """The region's own endpoint, probed over HTTPS (`RegionalApi.health_check_fqdn`)."""
    health_check_path: str
    """The deep health path on it, e.g. '/v1/health'."""


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

    @property
    def estimated_failover_s(self) -> int:
        return thresholds.estimated_failover_s(
            self.health_check_interval_s, self.health_check_failure_threshold
        )


class LatencyRouting(pulumi.ComponentResource):
    """Per region: an HTTPS health check on the region's deep health route and a latency alias
    record that is withdrawn while that check fails."""

    estimated_failover_s: int
    """Nominal seconds from a region failing to its withdrawal from DNS: interval x failure
    threshold + the alias record's TTL (not a bound: checkers report late, resolvers cache)."""
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
            record = aws.route53.Record(
                f"{name}-{region}-latency",
                zone_id=args.zone_id,
                name=args.record_name,
                type="A",
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
                ],
                opts=child,
            )
            self.health_checks[region] = health_check
            self.records[region] = record
        self.record_name = args.record_name
        self.health_check_ids = {region: hc.id for region, hc in self.health_checks.items()}
        self.register_outputs(
            {
                "recordName": args.record_name,
                "healthCheckIds": {region: hc.id for region, hc in self.health_checks.items()},
                "estimatedFailoverSeconds": self.estimated_failover_s,
            }
        )
