"""RegionalApi: a REGIONAL REST API in front of one Lambda, with a custom domain for latency
routing, throttling, access logs and X-Ray."""

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from resilience_policies import thresholds

from .function import FunctionTarget
from .inputs import as_args, placed_in, schema_args
from .tokens import component_type, keep_previous_token

ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "extendedRequestId": "$context.extendedRequestId",
        "ip": "$context.identity.sourceIp",
        "method": "$context.httpMethod",
        "path": "$context.path",
        "status": "$context.status",
        "latencyMs": "$context.responseLatency",
        "integrationLatencyMs": "$context.integration.latency",
        "integrationStatus": "$context.integration.status",
        "integrationError": "$context.integration.error",
        "xrayTraceId": "$context.xrayTraceId",
    },
    separators=(",", ":"),
)


@schema_args
@dataclass(frozen=True)
class Route:
    """One method on one path, e.g. Route("GET", "tasks/{taskId}")."""

    method: str
    """GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS or ANY."""
    path: str
    """The path below the stage, without leading or trailing slash, e.g. 'tasks/{taskId}'."""

    def __post_init__(self) -> None:
        if self.method not in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"):
            raise ValueError(f"Route.method: {self.method!r} is not an HTTP method.")
        if self.path.startswith("/") or self.path.endswith("/") or "//" in self.path:
            raise ValueError(
                f"Route.path: {self.path!r} must be relative without leading, trailing or double "
                "slashes, e.g. 'tasks/{taskId}'."
            )


@schema_args
@dataclass(frozen=True)
class HandledRoutes:
    """Routes served by a function other than the API's main handler (e.g. the bookings API
    next to the tasks API), each with its own integration and invoke permission."""

    name: str
    """A short name, unique per API: it names the invoke permission."""
    handler: FunctionTarget
    """The function that serves these routes (`Function.target()`)."""
    routes: Sequence[Route]
    """The routes it serves."""


@schema_args
@dataclass
class RegionalApiArgs:
    """The API's routes, limits and custom domain. The handler is a function's target (its
    timeout must end before the integration's)."""

    handler: FunctionTarget
    """The function that serves `routes` (`Function.target()`); its timeout must end before
    the integration's."""
    routes: Sequence[Route]
    """The main handler's routes; they must include the health route."""
    domain_name: str
    """The custom domain the API answers on (the latency-routed name)."""
    zone_id: pulumi.Input[str]
    """The Route53 hosted zone that validates the certificate."""
    health_path: str = "health"
    """The deep health route's path, probed by Route53."""
    stage_name: str = "v1"
    """The stage's name."""
    throttle_burst_limit: int = thresholds.API_THROTTLE_BURST_LIMIT_DEFAULT
    """Stage-wide burst limit."""
    throttle_rate_limit: float = thresholds.API_THROTTLE_RATE_LIMIT_DEFAULT
    """Stage-wide rate limit, requests per second."""
    integration_timeout_ms: int = thresholds.API_GATEWAY_INTEGRATION_TIMEOUT_MS
    """Lambda integration timeout in milliseconds (50..29000). Plain: the timeout chain is
    checked against it at preview."""
    timeout_margin_ms: int = thresholds.API_FUNCTION_TIMEOUT_MARGIN_MS
    """How much earlier than the integration a function must time out, in milliseconds."""
    certificate_arn: pulumi.Input[str] | None = None
    """Bring your own regional ACM certificate; otherwise one is issued and DNS-validated."""
    access_log_retention_days: int = thresholds.LOG_RETENTION_DAYS_DEFAULT
    """Retention of the access and execution logs, a CloudWatch Logs retention value."""
    cloudwatch_role_arn: pulumi.Input[str] | None = None
    """The role API Gateway writes logs with, set for the account in this region; unset when
    the account's API Gateway settings are managed elsewhere (they are account-wide)."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags of the API, its stage, logs, certificate and domain."""
    more_handlers: Sequence[HandledRoutes] = ()
    """More functions, each serving its own routes on the same API, stage and domain."""
    region: str | None = None
    """The AWS region of the API."""

    def handled_routes(self) -> list[tuple[FunctionTarget, Route]]:
        """Every route with the function that serves it, the main handler's first."""
        pairs = [(self.handler, route) for route in self.routes]
        for extra in self.more_handlers:
            pairs.extend((extra.handler, route) for route in extra.routes)
        return pairs

    def validate(self) -> None:
        if not self.routes:
            raise ValueError("RegionalApiArgs.routes: give at least one route.")
        seen = [(route.method, route.path) for _, route in self.handled_routes()]
        repeated = sorted({f"{m} {p}" for m, p in seen if seen.count((m, p)) > 1})
        if repeated:
            raise ValueError(
                f"RegionalApiArgs.more_handlers: {', '.join(repeated)} is served twice; give "
                "each method and path one handler."
            )
        names = [extra.name for extra in self.more_handlers]
        if len(set(names)) != len(names) or not all(names):
            raise ValueError("RegionalApiArgs.more_handlers: give each a distinct, non-empty name.")
        if not any(route.path == self.health_path for route in self.routes):
            raise ValueError(
                f"RegionalApiArgs.health_path: {self.health_path!r} is not among the routes; Route53 "
                "health checks need a deep health route served by the function."
            )
        if self.throttle_burst_limit < 1 or self.throttle_rate_limit <= 0:
            raise ValueError(
                "RegionalApiArgs.throttle_burst_limit/throttle_rate_limit: must be positive; an "
                "unthrottled stage lets one client exhaust the account's Lambda concurrency."
            )
        if not self.integration_timeout_ms >= 50:
            raise ValueError("RegionalApiArgs.integration_timeout_ms: must be at least 50 ms.")
        latest_s = thresholds.max_api_function_timeout_s(
            self.integration_timeout_ms, self.timeout_margin_ms
        )
        for label, function in [
            ("handler", self.handler),
            *((f"more_handlers[{extra.name!r}]", extra.handler) for extra in self.more_handlers),
        ]:
            if function.timeout_s > latest_s:
                raise ValueError(
                    f"RegionalApiArgs.{label}: the function times out after {function.timeout_s} "
                    f"s but API Gateway gives up after {self.integration_timeout_ms} ms; set its "
                    f"timeout_s to at most {latest_s} so it fails first (and visibly)."
                )
        if self.access_log_retention_days not in thresholds.LOG_RETENTION_DAYS_ALLOWED:
            raise ValueError(
                f"RegionalApiArgs.access_log_retention_days: {self.access_log_retention_days} is not "
                f"a CloudWatch Logs retention; use one of {thresholds.LOG_RETENTION_DAYS_ALLOWED}."
            )


class RegionalApi(pulumi.ComponentResource):
    """REST API (REGIONAL endpoint) -> Lambda proxy integration, one stage, one custom domain."""

    region: str
    """The API's region."""
    stage_name: str
    """The stage's name."""
    health_check_fqdn: pulumi.Output[str]
    """The API's own regional endpoint (what Route53 probes)."""
    health_check_path: str
    """The deep health route below the endpoint, e.g. '/v1/health'."""
    invoke_url: pulumi.Output[str]
    """The stage's URL on the regional endpoint."""
    rest_api_id: pulumi.Output[str]
    """The REST API's id."""
    regional_domain_name: pulumi.Output[str]
    """The custom domain's regional target (what a latency record points to)."""
    regional_zone_id: pulumi.Output[str]
    """The hosted zone of the custom domain's regional target."""

    def __init__(
        self,
        name: str,
        args: RegionalApiArgs,
        opts: pulumi.ResourceOptions | None = None,
        *,
        region: str | None = None,
    ) -> None:
        super().__init__(
            component_type("RegionalApi"), name, None, keep_previous_token("RegionalApi", opts)
        )
        args = as_args(RegionalApiArgs, args)
        region = placed_in("RegionalApiArgs", args.region, region)
        args.validate()
        self.region = region
        self.stage_name = args.stage_name
        child = pulumi.ResourceOptions(parent=self)
        function = args.handler

        self.rest_api = aws.apigateway.RestApi(
            f"{name}-api",
            region=region,
            description=f"{name} ({region})",
            endpoint_configuration=aws.apigateway.RestApiEndpointConfigurationArgs(
                types="REGIONAL"
            ),
            tags=args.tags,
            opts=child,
        )

        handled = args.handled_routes()
        resource_ids = self._path_resources(name, region, [r for _, r in handled], child)
        route_resources: list[pulumi.Resource] = []
        for handler, route in handled:
            slug = _slug(route)
            method = aws.apigateway.Method(
                f"{name}-{slug}",
                region=region,
                rest_api=self.rest_api.id,
                resource_id=resource_ids[route.path],
                http_method=route.method,
                authorization="NONE",
                opts=child,
            )
            integration = aws.apigateway.Integration(
                f"{name}-{slug}-integration",
                region=region,
                rest_api=self.rest_api.id,
                resource_id=resource_ids[route.path],
                http_method=method.http_method,
                type="AWS_PROXY",
                integration_http_method="POST",
                uri=handler.invoke_arn,
                timeout_milliseconds=args.integration_timeout_ms,
                opts=child,
            )
            route_resources.extend([method, integration])

        self.permission = aws.lambda_.Permission(
            f"{name}-invoke",
            region=region,
            action="lambda:InvokeFunction",
            function=function.function_name,
            principal="apigateway.amazonaws.com",
            # Only this API (any stage, method and path) may invoke the function.
            source_arn=pulumi.Output.concat(self.rest_api.execution_arn, "/*/*"),
            opts=child,
        )
        for extra in args.more_handlers:
            aws.lambda_.Permission(
                f"{name}-invoke-{_slug_text(extra.name)}",
                region=region,
                action="lambda:InvokeFunction",
                function=extra.handler.function_name,
                principal="apigateway.amazonaws.com",
                source_arn=pulumi.Output.concat(self.rest_api.execution_arn, "/*/*"),
                opts=child,
            )

        deployment = aws.apigateway.Deployment(
            f"{name}-deployment",
            region=region,
            rest_api=self.rest_api.id,
            # A new deployment whenever the route table changes or a function behind it is
            # replaced (a new invoke ARN); otherwise the stage keeps serving the old snapshot
            # of the API, whose integrations point at the function that is gone.
            triggers={
                "routes": _routes_fingerprint(
                    [route for _, route in handled], args.integration_timeout_ms
                ),
                "integrations": _targets_fingerprint(
                    [handler.invoke_arn for handler, _ in handled]
                ),
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=route_resources),
        )
        self.access_logs = aws.cloudwatch.LogGroup(
            f"{name}-access-logs",
            region=region,
            retention_in_days=args.access_log_retention_days,
            tags=args.tags,
            opts=child,
        )
        stage_depends_on: list[pulumi.Resource] = []
        if args.cloudwatch_role_arn is not None:
            stage_depends_on.append(
                aws.apigateway.Account(
                    f"{name}-account-logging",
                    region=region,
                    cloudwatch_role_arn=args.cloudwatch_role_arn,
                    # The setting belongs to the account's region, not to this API: deleting it
                    # (destroy, a region removed, the option turned off) would reset the logging
                    # role of every other API there. Pulumi forgets it and leaves it in place.
                    opts=pulumi.ResourceOptions.merge(
                        child, pulumi.ResourceOptions(retain_on_delete=True)
                    ),
                )
            )
        self.stage = aws.apigateway.Stage(
            f"{name}-stage",
            region=region,
            rest_api=self.rest_api.id,
            deployment=deployment.id,
            stage_name=args.stage_name,
            xray_tracing_enabled=True,
            access_log_settings=aws.apigateway.StageAccessLogSettingsArgs(
                destination_arn=self.access_logs.arn, format=ACCESS_LOG_FORMAT
            ),
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=stage_depends_on),
        )
        # API Gateway writes execution logs (logging_level below) to this group, and creates it
        # itself, with no retention, when the stack has not: declare it first.
        self.execution_logs = aws.cloudwatch.LogGroup(
            f"{name}-execution-logs",
            region=region,
            name=pulumi.Output.concat(
                "API-Gateway-Execution-Logs_", self.rest_api.id, "/", args.stage_name
            ),
            retention_in_days=args.access_log_retention_days,
            tags=args.tags,
            opts=child,
        )
        self.method_settings = aws.apigateway.MethodSettings(
            f"{name}-throttling",
            region=region,
            rest_api=self.rest_api.id,
            stage_name=self.stage.stage_name,
            method_path="*/*",
            settings=aws.apigateway.MethodSettingsSettingsArgs(
                throttling_burst_limit=args.throttle_burst_limit,
                throttling_rate_limit=args.throttle_rate_limit,
                metrics_enabled=True,
                logging_level="ERROR",
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.execution_logs]),
        )

        certificate_arn = args.certificate_arn or self._certificate(
            name, region, args.domain_name, args.zone_id, args.tags, child
        )
        self.domain = aws.apigateway.DomainName(
            f"{name}-domain",
            region=region,
            domain_name=args.domain_name,
            regional_certificate_arn=certificate_arn,
            endpoint_configuration=aws.apigateway.DomainNameEndpointConfigurationArgs(
                types="REGIONAL"
            ),
            security_policy="TLS_1_2",
            tags=args.tags,
            opts=child,
        )
        self.base_path_mapping = aws.apigateway.BasePathMapping(
            f"{name}-mapping",
            region=region,
            domain_name=self.domain.domain_name,
            rest_api=self.rest_api.id,
            stage_name=self.stage.stage_name,
            opts=child,
        )

        # Route53 probes the region's own endpoint, not the shared name: a health check through
        # latency routing would test whichever region the checker happens to be closest to.
        self.health_check_fqdn = pulumi.Output.concat(
            self.rest_api.id, ".execute-api.", region, ".amazonaws.com"
        )
        self.health_check_path = f"/{args.stage_name}/{args.health_path}"
        self.invoke_url = pulumi.Output.concat(
            "https://", self.health_check_fqdn, "/", args.stage_name
        )
        self.rest_api_id = self.rest_api.id
        self.regional_domain_name = self.domain.regional_domain_name
        self.regional_zone_id = self.domain.regional_zone_id
        self.register_outputs(
            {
                "restApiId": self.rest_api.id,
                "invokeUrl": self.invoke_url,
                "regionalDomainName": self.domain.regional_domain_name,
                "regionalZoneId": self.domain.regional_zone_id,
            }
        )

    def _path_resources(
        self,
        name: str,
        region: str,
        routes: Sequence[Route],
        child: pulumi.ResourceOptions,
    ) -> dict[str, pulumi.Input[str]]:
        """One API resource per path prefix, shared by every route below it."""
        ids: dict[str, pulumi.Input[str]] = {"": self.rest_api.root_resource_id}
        for route in routes:
            parts = route.path.split("/")
            for depth in range(1, len(parts) + 1):
                prefix = "/".join(parts[:depth])
                if prefix in ids:
                    continue
                resource = aws.apigateway.Resource(
                    f"{name}-path-{_slug_text(prefix)}",
                    region=region,
                    rest_api=self.rest_api.id,
                    parent_id=ids["/".join(parts[: depth - 1])],
                    path_part=parts[depth - 1],
                    opts=child,
                )
                ids[prefix] = resource.id
        return ids

    def _certificate(
        self,
        name: str,
        region: str,
        domain_name: str,
        zone_id: pulumi.Input[str],
        tags: dict[str, str],
        child: pulumi.ResourceOptions,
    ) -> pulumi.Output[str]:
        """A certificate issued in this region (regional endpoints need a same-region cert)."""
        certificate = aws.acm.Certificate(
            f"{name}-cert",
            region=region,
            domain_name=domain_name,
            validation_method="DNS",
            tags=tags,
            opts=child,
        )
        option = certificate.domain_validation_options[0]
        # ACM gives the same validation record for a domain in every region of an account, so
        # each region's record overwrites the same CNAME instead of failing on it.
        validation_record = aws.route53.Record(
            f"{name}-cert-validation",
            zone_id=zone_id,
            name=option.resource_record_name,
            type=option.resource_record_type,
            records=[option.resource_record_value],
            ttl=300,
            allow_overwrite=True,
            opts=child,
        )
        validation = aws.acm.CertificateValidation(
            f"{name}-cert-issued",
            region=region,
            certificate_arn=certificate.arn,
            validation_record_fqdns=[validation_record.fqdn],
            opts=child,
        )
        return validation.certificate_arn


def _slug_text(text: str) -> str:
    cleaned = "".join(ch if ch.isalnum() else "-" for ch in text.lower()).strip("-")
    return "-".join(part for part in cleaned.split("-") if part) or "root"


def _slug(route: Route) -> str:
    return f"{route.method.lower()}-{_slug_text(route.path)}"


def _targets_fingerprint(invoke_arns: Sequence[pulumi.Input[str]]) -> pulumi.Output[str]:
    return pulumi.Output.all(*invoke_arns).apply(
        lambda arns: hashlib.sha256(json.dumps(sorted(set(arns))).encode()).hexdigest()
    )


def _routes_fingerprint(routes: Sequence[Route], integration_timeout_ms: int) -> str:
    text = json.dumps([[route.method, route.path] for route in routes] + [integration_timeout_ms])
    return hashlib.sha256(text.encode()).hexdigest()
