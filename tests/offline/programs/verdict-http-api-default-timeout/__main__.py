"""Compliant: an HTTP API in front of each region's API function, its integration's timeout
left unset. AWS then waits 30 000 ms (HTTP APIs' default and limit), well after the function's
own 10 s timeout; a deployed stack reports that value, not 0."""

import sys
from pathlib import Path

import pulumi_aws as aws

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "_shared"))

import baseline  # the shared skeleton, beside the examples

service = baseline.build()
for region, deployment in service.regions.items():
    api = aws.apigatewayv2.Api(f"http-{region}", region=region, protocol_type="HTTP")
    integration = aws.apigatewayv2.Integration(
        f"http-{region}-integration",
        region=region,
        api_id=api.id,
        integration_type="AWS_PROXY",
        integration_uri=deployment.api_function.function.arn,
        payload_format_version="2.0",
    )
    aws.apigatewayv2.Route(
        f"http-{region}-route",
        region=region,
        api_id=api.id,
        route_key="GET /tasks",
        target=integration.id.apply(lambda id_: f"integrations/{id_}"),
    )
    aws.apigatewayv2.Stage(
        f"http-{region}-stage",
        region=region,
        api_id=api.id,
        name="$default",
        auto_deploy=True,
        default_route_settings=aws.apigatewayv2.StageDefaultRouteSettingsArgs(
            throttling_burst_limit=100, throttling_rate_limit=50
        ),
    )
