"""LatencyRouting: one name answered by the nearest healthy region."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from resilience_policies import thresholds


@dataclass(frozen=True)
class RegionalEndpoint:
    """Where a region serves (its API custom domain) and how to probe it (its own endpoint)."""

    region: str
    alias_name: pulumi.Input[str]
    alias_zone_id: pulumi.Input[str]
    health_check_fqdn: pulumi.Input[str]
    health_check_path: str


@dataclass
class LatencyRoutingArgs:
    zone_id: pulumi.Input[str]
    record_name: str
    endpoints: Sequence[RegionalEndpoint]
    health_check_interval_s: int = thresholds.HEALTH_CHECK_INTERVAL_DEFAULT_S
    health_check_failure_threshold: int = thresholds.HEALTH_CHECK_FAILURE_THRESHOLD_DEFAULT
    #: Route53 checker regions (at least 3); None lets Route53 use its default set.
    checker_regions: Sequence[str] | None = None

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

    health_checks: dict[str, aws.route53.HealthCheck]
    records: dict[str, aws.route53.Record]
    estimated_failover_s: int

    def __init__(
        self,
        name: str,
        args: LatencyRoutingArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("resilient-serverless:dns:LatencyRouting", name, None, opts)
        args.validate()
        self.estimated_failover_s = args.estimated_failover_s
        child = pulumi.ResourceOptions(parent=self)
        self.health_checks = {}
        self.records = {}
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
        self.register_outputs(
            {
                "recordName": args.record_name,
                "healthCheckIds": {region: hc.id for region, hc in self.health_checks.items()},
                "estimatedFailoverSeconds": self.estimated_failover_s,
            }
        )
