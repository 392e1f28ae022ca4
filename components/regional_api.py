"""RegionalApi: a REGIONAL REST API in front of one Lambda, with a custom domain for latency
routing, access control, per-method throttling, access logs, X-Ray and a certificate expiry
alarm."""

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from resilience_policies import thresholds

from .api_access import (
    AUTHORIZATION_MODES,
    DEFAULT_AUTHORIZATION,
    ApiClient,
    uses_api_keys,
    uses_signatures,
)
from .function import FunctionTarget
from .inputs import PYTHON_ONLY, as_args, placed_in, schema_args
from .outputs import declared_outputs
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
    """The API's routes, callers, limits and custom domain. The handler is a function's target
    (its timeout must end before the integration's).

    Throttling is per method: API Gateway applies the stage's default method settings (`*/*`)
    to every method separately, so with N routes the stage admits up to N x the rate and burst
    below (capped by the account's limits in the region, shared by all its APIs). API-key
    clients get their own rate, burst and quota on top, per region, from their usage plans.
    """

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
    """The deep health route's path: open to anyone (people, signing clients learning the
    region). Route53 probes `<health_path>/<secret>` instead (see `health_check_path`)."""
    health_probe_rate_limit: float = thresholds.HEALTH_PROBE_RATE_LIMIT_RPS
    """Steady-state requests per second of the Route53 probe route, its own limit: a flood of
    the public routes, the public health route included, never empties its bucket."""
    health_probe_burst_limit: int = thresholds.HEALTH_PROBE_BURST_LIMIT
    """Burst limit of the Route53 probe route."""
    stage_name: str = "v1"
    """The stage's name."""
    throttle_burst_limit: int = thresholds.API_THROTTLE_BURST_LIMIT_DEFAULT
    """Burst limit of EACH method of the stage (not of the whole API)."""
    throttle_rate_limit: float = thresholds.API_THROTTLE_RATE_LIMIT_DEFAULT
    """Steady-state requests per second of EACH method of the stage (not of the whole API)."""
    integration_timeout_ms: int = thresholds.API_GATEWAY_INTEGRATION_TIMEOUT_MS
    """Lambda integration timeout in milliseconds (50..29000). Plain: the timeout chain is
    checked against it at preview."""
    timeout_margin_ms: int = thresholds.API_FUNCTION_TIMEOUT_MARGIN_MS
    """How much earlier than the integration a function must time out, in milliseconds."""
    certificate_arn: pulumi.Input[str] | None = None
    """Bring your own regional ACM certificate; otherwise one is issued and DNS-validated. Either
    way its days to expiry are alarmed on."""
    certificate_validation: "SharedCertificateValidation | None" = field(
        default=None, metadata=PYTHON_ONLY
    )
    """Python only: the validation record shared by the domain's certificates in every region
    (see SharedCertificateValidation); unset writes a record of this API's own."""
    alarm_action_arn: pulumi.Input[str] | None = None
    """Where the certificate expiry alarm notifies (e.g. the region's alarm topic)."""
    authorization: str = DEFAULT_AUTHORIZATION
    """Who may call every route but the health route: `iam` (a SigV4 signature allowed
    `execute-api:Invoke`), `apiKey` (an `x-api-key` of one of `api_clients`) or `iam+apiKey`
    (both). The health route stays open: Route53's health checkers cannot sign or send a key."""
    api_clients: Sequence[ApiClient] = ()
    """With `apiKey` or `iam+apiKey`: one key and one usage plan per client in this region."""
    api_key_values: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """With `apiKey` or `iam+apiKey`: client name -> the value this region's key must have (a
    secret; ActiveActiveService gives the table region's value to clients
    `shared_across_regions`). A client left out gets a value of its own from API Gateway."""
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
        self._validate_access()
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
        if self.health_probe_burst_limit < 1 or self.health_probe_rate_limit <= 0:
            raise ValueError(
                "RegionalApiArgs.health_probe_burst_limit/health_probe_rate_limit: must be "
                f"positive (defaults {thresholds.HEALTH_PROBE_BURST_LIMIT} / "
                f"{thresholds.HEALTH_PROBE_RATE_LIMIT_RPS:g}); a zero limit refuses Route53's "
                "checkers and withdraws the region."
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

    def _validate_access(self) -> None:
        if self.authorization not in AUTHORIZATION_MODES:
            raise ValueError(
                f"RegionalApiArgs.authorization: {self.authorization!r} must be one of "
                f"{', '.join(AUTHORIZATION_MODES)}."
            )
        names = [client.name for client in self.api_clients]
        keyed = uses_api_keys(self.authorization)
        if keyed and not names:
            raise ValueError(
                f"RegionalApiArgs.api_clients: authorization {self.authorization!r} needs at "
                "least one client, or every protected route refuses every caller."
            )
        if not keyed and (names or self.api_key_values):
            raise ValueError(
                "RegionalApiArgs.api_clients/api_key_values: API keys are only checked with "
                "authorization 'apiKey' or 'iam+apiKey'; drop them or switch the authorization."
            )
        if len(set(names)) != len(names):
            raise ValueError("RegionalApiArgs.api_clients: give each client a distinct name.")
        strangers = sorted(set(self.api_key_values) - set(names))
        if strangers:
            raise ValueError(
                f"RegionalApiArgs.api_key_values: {', '.join(strangers)} is not among api_clients."
            )
        problems = [
            problem
            for index, client in enumerate(self.api_clients)
            for problem in client.problems(f"RegionalApiArgs.api_clients[{index}]")
        ]
        if problems:
            raise ValueError(" ".join(problems))

    def uses_signatures(self) -> bool:
        """Whether protected routes need a SigV4 signature (`iam`, `iam+apiKey`)."""
        return uses_signatures(self.authorization)

    def uses_api_keys(self) -> bool:
        """Whether protected routes need a client's `x-api-key` (`apiKey`, `iam+apiKey`)."""
        return uses_api_keys(self.authorization)

    def protects(self, route: Route) -> bool:
        """Whether callers of `route` need a signature or a key: every route but the health
        check's (a GET, or HEAD, of the health path)."""
        return not (route.path == self.health_path and route.method in ("GET", "HEAD"))


class RegionalApi(pulumi.ComponentResource):
    """REST API (REGIONAL endpoint) -> Lambda proxy integration, one stage, one custom domain."""

    region: str
    """The API's region."""
    stage_name: str
    """The stage's name."""
    health_check_fqdn: pulumi.Output[str]
    """The API's own regional endpoint (what Route53 probes)."""
    health_check_path: pulumi.Output[str]
    """The path Route53 probes on the endpoint, '/<stage>/<health path>/<secret>' (a secret):
    the deep health check on a route of its own, with its own throttling, that no caller who
    does not know the secret can reach."""
    invoke_url: pulumi.Output[str]
    """The stage's URL on the regional endpoint."""
    rest_api_id: pulumi.Output[str]
    """The REST API's id."""
    regional_domain_name: pulumi.Output[str]
    """The custom domain's regional target (what a latency record points to)."""
    regional_zone_id: pulumi.Output[str]
    """The hosted zone of the custom domain's regional target."""
    invoke_policy_resources: pulumi.Output[list[str]]
    """With `iam`: the `execute-api:Invoke` resources of the protected routes, one per route,
    `arn:aws:execute-api:<region>:<account>:<api id>/<stage>/<METHOD>/<path>` (path parameters
    as `*`), for the callers' IAM policies."""
    api_key_ids: pulumi.Output[dict[str, str]]
    """With `apiKey` or `iam+apiKey`: each client's key id in this region, by client name (never
    the value, a secret: read it with `aws apigateway get-api-key --api-key <id> --include-value`)."""
    certificate_arn: pulumi.Output[str]
    """The ARN of the certificate the custom domain serves."""

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
                **_method_access(args, route),
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
        self.health_probe_token = self._health_probe_token(name, region, args, child)
        route_resources.extend(
            self._health_probe_route(
                name, region, args, resource_ids[args.health_path], self.health_probe_token, child
            )
        )

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
                # The routes' access settings too: a stage keeps serving the snapshot it was
                # deployed with, so a method that now needs a signature would stay open.
                "routes": _routes_fingerprint(
                    [route for _, route in handled],
                    args.integration_timeout_ms,
                    [_method_access(args, route) for _, route in handled],
                ),
                "integrations": _targets_fingerprint(
                    [handler.invoke_arn for handler, _ in handled]
                ),
                # A new probe secret is a new route: Route53 would probe a path the old
                # snapshot does not have.
                "healthProbe": self.health_probe_token.apply(_fingerprint),
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
        # The probe route's own bucket: the stage-wide `*/*` limits above are per method too,
        # but sized for the public routes; this one is sized for Route53's checkers.
        self.health_probe_throttling = aws.apigateway.MethodSettings(
            f"{name}-health-probe-throttling",
            region=region,
            rest_api=self.rest_api.id,
            stage_name=self.stage.stage_name,
            method_path=pulumi.Output.concat(
                args.health_path, "/", self.health_probe_token, "/GET"
            ),
            settings=aws.apigateway.MethodSettingsSettingsArgs(
                throttling_burst_limit=args.health_probe_burst_limit,
                throttling_rate_limit=args.health_probe_rate_limit,
                metrics_enabled=True,
                logging_level="ERROR",
            ),
            # API Gateway updates a stage's method settings one call at a time.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.method_settings]),
        )

        self._access(name, region, args, child)

        if args.certificate_arn is not None:
            self.certificate_arn = pulumi.Output.from_input(args.certificate_arn)
            alarmed_arn = self.certificate_arn
        else:
            self.certificate_arn, alarmed_arn = self._certificate(name, region, args, child)
        self.certificate_expiry_alarm: aws.cloudwatch.MetricAlarm = _certificate_expiry_alarm(
            f"{name}-cert-expiry", region, alarmed_arn, args, child
        )
        self.domain = aws.apigateway.DomainName(
            f"{name}-domain",
            region=region,
            domain_name=args.domain_name,
            regional_certificate_arn=self.certificate_arn,
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
        self.health_check_path = pulumi.Output.secret(
            pulumi.Output.concat(
                "/", args.stage_name, "/", args.health_path, "/", self.health_probe_token
            )
        )
        self.invoke_url = pulumi.Output.concat(
            "https://", self.health_check_fqdn, "/", args.stage_name
        )
        self.rest_api_id = self.rest_api.id
        self.regional_domain_name = self.domain.regional_domain_name
        self.regional_zone_id = self.domain.regional_zone_id
        self.register_outputs(declared_outputs(self))

    def _health_probe_token(
        self, name: str, region: str, args: RegionalApiArgs, child: pulumi.ResourceOptions
    ) -> pulumi.Output[str]:
        """The secret path segment of the Route53 probe route: a value API Gateway generates.

        Route53's HTTPS checks send no header but Host, so the secret has to be in the path. A
        disabled API key is where API Gateway generates one (40 letters and digits): nobody
        types it, no stack file holds it, the state keeps it as a secret, and a disabled key in
        no usage plan admits no request. `pulumi up --replace <its URN>` rotates it.
        """
        token = aws.apigateway.ApiKey(
            f"{name}-health-probe-token",
            region=region,
            description=(
                f"Secret path segment of the Route53 health probe of {args.domain_name} in "
                f"{region} (disabled: admits no request)"
            ),
            enabled=False,
            tags=args.tags,
            opts=child,
        )
        return pulumi.Output.secret(token.value)

    def _health_probe_route(
        self,
        name: str,
        region: str,
        args: RegionalApiArgs,
        health_resource_id: pulumi.Input[str],
        token: pulumi.Output[str],
        child: pulumi.ResourceOptions,
    ) -> list[pulumi.Resource]:
        """GET <health_path>/<token>: the deep health check, served by the main handler, open
        (Route53 cannot sign) but reachable only by who knows the token. A literal path segment,
        not a path parameter: every value of a parameter would reach this method and share its
        bucket; a wrong segment matches no resource at all."""
        probe = aws.apigateway.Resource(
            f"{name}-health-probe-path",
            region=region,
            rest_api=self.rest_api.id,
            parent_id=health_resource_id,
            path_part=token,
            opts=child,
        )
        method = aws.apigateway.Method(
            f"{name}-health-probe-method",
            region=region,
            rest_api=self.rest_api.id,
            resource_id=probe.id,
            http_method="GET",
            authorization="NONE",
            opts=child,
        )
        integration = aws.apigateway.Integration(
            f"{name}-health-probe-integration",
            region=region,
            rest_api=self.rest_api.id,
            resource_id=probe.id,
            http_method=method.http_method,
            type="AWS_PROXY",
            integration_http_method="POST",
            uri=args.handler.invoke_arn,
            timeout_milliseconds=args.integration_timeout_ms,
            opts=child,
        )
        return [probe, method, integration]

    def _access(
        self, name: str, region: str, args: RegionalApiArgs, child: pulumi.ResourceOptions
    ) -> None:
        """The callers' side of access control: the IAM resources to grant (iam, iam+apiKey),
        and each client's key and usage plan in this region (apiKey, iam+apiKey)."""
        resources = [
            pulumi.Output.concat(
                self.rest_api.execution_arn,
                f"/{args.stage_name}/{route.method.replace('ANY', '*')}/{_arn_path(route.path)}",
            )
            for _, route in args.handled_routes()
            if args.uses_signatures() and args.protects(route)
        ]
        self.invoke_policy_resources = (
            pulumi.Output.all(*resources).apply(list) if resources else pulumi.Output.from_input([])
        )
        #: With API keys: each client's key and usage plan in this region, by client name. Never
        #: export a key's `value` (a secret): its id is enough to read it with the AWS CLI.
        self.api_keys: dict[str, aws.apigateway.ApiKey] = {}
        self.usage_plans: dict[str, aws.apigateway.UsagePlan] = {}
        for client in args.api_clients:
            slug = _slug_text(client.name)
            plan = aws.apigateway.UsagePlan(
                f"{name}-plan-{slug}",
                region=region,
                description=f"API client {client.name}: its limits in {region}",
                # The stage's name comes from the stage resource: the plan needs the stage.
                api_stages=[
                    aws.apigateway.UsagePlanApiStageArgs(
                        api_id=self.rest_api.id, stage=self.stage.stage_name
                    )
                ],
                throttle_settings=aws.apigateway.UsagePlanThrottleSettingsArgs(
                    rate_limit=client.rate_limit, burst_limit=client.burst_limit
                ),
                quota_settings=(
                    aws.apigateway.UsagePlanQuotaSettingsArgs(
                        limit=client.quota_per_day, period="DAY"
                    )
                    if client.quota_per_day is not None
                    else None
                ),
                tags={**args.tags, "api-client": client.name},
                opts=child,
            )
            # No value: API Gateway generates one, this region's own. Given one (another
            # region's key value, for a client shared across regions), this key accepts the same
            # header as that region's. pulumi-aws marks `value` secret, as input and as output
            # (additional_secret_outputs), so the state and previews never show it.
            key = aws.apigateway.ApiKey(
                f"{name}-key-{slug}",
                region=region,
                description=f"API client {client.name}",
                enabled=True,
                value=args.api_key_values.get(client.name),
                tags={**args.tags, "api-client": client.name},
                opts=child,
            )
            aws.apigateway.UsagePlanKey(
                f"{name}-plan-key-{slug}",
                region=region,
                key_id=key.id,
                key_type="API_KEY",
                usage_plan_id=plan.id,
                opts=child,
            )
            self.api_keys[client.name] = key
            self.usage_plans[client.name] = plan
        key_ids = {client: key.id for client, key in self.api_keys.items()}
        self.api_key_ids = (
            pulumi.Output.all(**key_ids).apply(dict) if key_ids else pulumi.Output.from_input({})
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
        self, name: str, region: str, args: RegionalApiArgs, child: pulumi.ResourceOptions
    ) -> tuple[pulumi.Output[str], pulumi.Output[str]]:
        """A certificate issued in this region (regional endpoints need a same-region cert),
        validated through the shared record when there is one. Returns the validated ARN (for
        the domain, which must wait for issuance) and the certificate's own ARN (for the
        expiry alarm, which need not)."""
        certificate = aws.acm.Certificate(
            f"{name}-cert",
            region=region,
            domain_name=args.domain_name,
            validation_method="DNS",
            tags=args.tags,
            opts=child,
        )
        if args.certificate_validation is not None:
            fqdn = args.certificate_validation.fqdn_for(certificate)
        else:
            fqdn = _validation_record(f"{name}-cert-validation", args.zone_id, certificate, child).fqdn
        validation = aws.acm.CertificateValidation(
            f"{name}-cert-issued",
            region=region,
            certificate_arn=certificate.arn,
            validation_record_fqdns=[fqdn],
            opts=child,
        )
        return validation.certificate_arn, certificate.arn


class SharedCertificateValidation:
    """The one DNS record that validates (and keeps renewing) a domain's ACM certificates in
    every region of an account.

    ACM asks for the same CNAME (name and value) for a domain in every region of one account. A
    record per region would be one DNS record with several owners: removing any region deletes
    it for all (the provider deletes a record by reading the record set of that name and type
    and deleting it, whoever wrote it), and the other certificates silently stop renewing. Here
    the record has one owner (the resource named `name`, parented by `opts`), written from the
    first certificate that asks for it, and every other certificate only waits for it. Since
    every region's certificate gives the same name and value, removing any region leaves its
    inputs unchanged: it is neither replaced nor deleted.
    """

    def __init__(
        self, name: str, zone_id: pulumi.Input[str], *, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        self.name = name
        self.zone_id = zone_id
        self.opts = opts or pulumi.ResourceOptions()
        self.record: aws.route53.Record | None = None

    def fqdn_for(self, certificate: aws.acm.Certificate) -> pulumi.Output[str]:
        """The record's name, for `certificate`'s validation; the first call writes the record
        from `certificate`'s validation options."""
        if self.record is None:
            self.record = _validation_record(self.name, self.zone_id, certificate, self.opts)
        return self.record.fqdn


def _validation_record(
    resource_name: str,
    zone_id: pulumi.Input[str],
    certificate: aws.acm.Certificate,
    opts: pulumi.ResourceOptions,
) -> aws.route53.Record:
    """The CNAME ACM asks for to validate `certificate` (a single-domain certificate)."""
    option = certificate.domain_validation_options[0]
    return aws.route53.Record(
        resource_name,
        zone_id=zone_id,
        name=option.resource_record_name,
        type=option.resource_record_type,
        records=[option.resource_record_value],
        ttl=300,
        # Adopts the record when another stack of this domain in the account wrote it first
        # (ACM asks every stack of the account for the same one) instead of failing on it.
        allow_overwrite=True,
        opts=opts,
    )


def _certificate_expiry_alarm(
    resource_name: str,
    region: str,
    certificate_arn: pulumi.Input[str],
    args: RegionalApiArgs,
    child: pulumi.ResourceOptions,
) -> aws.cloudwatch.MetricAlarm:
    """Alarm when the certificate has fewer than CERTIFICATE_EXPIRY_ALARM_DAYS left: renewal has
    not happened (a validation record gone, a certificate someone else manages)."""
    actions = [args.alarm_action_arn] if args.alarm_action_arn is not None else []
    days = thresholds.CERTIFICATE_EXPIRY_ALARM_DAYS
    return aws.cloudwatch.MetricAlarm(
        resource_name,
        region=region,
        alarm_description=(
            f"The certificate of {args.domain_name} in {region} expires in fewer than {days} "
            "days: ACM has not renewed it. Check its DNS validation record "
            "(README: Certificates)."
        ),
        namespace="AWS/CertificateManager",
        metric_name="DaysToExpiry",
        dimensions={"CertificateArn": certificate_arn},
        statistic="Minimum",
        period=86_400,
        evaluation_periods=1,
        threshold=days,
        comparison_operator="LessThanThreshold",
        # ACM publishes one datapoint a day, and not at once for a new certificate: a late or
        # missing datapoint keeps the alarm's state rather than raising it (a false alarm on
        # every new certificate) or clearing it (an alarm that goes quiet while the certificate
        # is still about to expire).
        treat_missing_data="ignore",
        alarm_actions=actions,
        ok_actions=actions,
        tags=args.tags,
        opts=child,
    )


def _method_access(args: RegionalApiArgs, route: Route) -> dict[str, Any]:
    """The Method arguments that decide who may call `route`."""
    if not args.protects(route):
        return {"authorization": "NONE"}
    if args.authorization == "apiKey":
        return {"authorization": "NONE", "api_key_required": True}
    if args.authorization == "iam+apiKey":
        # API Gateway checks the signature first, then the key (and the key's usage plan).
        return {"authorization": "AWS_IAM", "api_key_required": True}
    return {"authorization": "AWS_IAM"}


def _arn_path(path: str) -> str:
    """A route path as execute-api resource ARNs spell it: path parameters match any value."""
    return "/".join(
        "*" if part.startswith("{") and part.endswith("}") else part for part in path.split("/")
    )


def _slug_text(text: str) -> str:
    cleaned = "".join(ch if ch.isalnum() else "-" for ch in text.lower()).strip("-")
    return "-".join(part for part in cleaned.split("-") if part) or "root"


def _slug(route: Route) -> str:
    return f"{route.method.lower()}-{_slug_text(route.path)}"


def _fingerprint(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _targets_fingerprint(invoke_arns: Sequence[pulumi.Input[str]]) -> pulumi.Output[str]:
    return pulumi.Output.all(*invoke_arns).apply(
        lambda arns: hashlib.sha256(json.dumps(sorted(set(arns))).encode()).hexdigest()
    )


def _routes_fingerprint(
    routes: Sequence[Route],
    integration_timeout_ms: int,
    access: Sequence[Mapping[str, Any]] = (),
) -> str:
    text = json.dumps(
        [[route.method, route.path] for route in routes]
        + [integration_timeout_ms]
        + [sorted(item.items()) for item in access]
    )
    return hashlib.sha256(text.encode()).hexdigest()
