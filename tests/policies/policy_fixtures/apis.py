"""APIs the realistic service does not use, for the rules that read them: an HTTP API
(`apigatewayv2`: Api, Integration, Route, Stage) and a REST API defined by an OpenAPI body."""

from __future__ import annotations

from typing import Any

from .builder import Concat, JsonOf, Resource, StackBuilder, concat
from .realistic import TAGS, function

#: Throttling the components deploy (the same numbers as the REST stages' method settings).
THROTTLED = {"throttlingBurstLimit": 200, "throttlingRateLimit": 100}


def api_function(b: StackBuilder, name: str, region: str, timeout: int) -> Resource:
    """A function behind one of these APIs, in the service component."""
    return function(
        b,
        name,
        region,
        parent=b.named("tasks"),
        handler="reports.handler",
        timeout=timeout,
        memory=256,
        environment={"POWERTOOLS_SERVICE_NAME": "reports"},
        statements=[],
    )


def http_api(
    b: StackBuilder,
    name: str,
    region: str,
    target: Resource,
    *,
    default_route_settings: dict[str, Any] | None = THROTTLED,
    route_settings: list[dict[str, Any]] | None = None,
    timeout_ms: int | None = None,
    parent: Resource | None = None,
) -> Resource:
    """An HTTP API with one Lambda proxy route to `target`; returns its `$default` stage."""
    parent = parent or b.named("tasks")
    api = b.add(
        "aws:apigatewayv2/api:Api",
        f"{name}-api",
        {"region": region, "name": name, "protocolType": "HTTP", "tags": TAGS},
        parent=parent,
    )
    integration = b.add(
        "aws:apigatewayv2/integration:Integration",
        f"{name}-integration",
        {
            "region": region,
            "apiId": api.out("id"),
            "integrationType": "AWS_PROXY",
            "integrationUri": target.out("invokeArn"),
            "payloadFormatVersion": "2.0",
            "timeoutMilliseconds": timeout_ms,
        },
        parent=parent,
    )
    b.add(
        "aws:apigatewayv2/route:Route",
        f"{name}-route",
        {
            "region": region,
            "apiId": api.out("id"),
            "routeKey": "POST /reports",
            "target": concat("integrations/", integration.out("id")),
        },
        parent=parent,
    )
    b.add(
        "aws:lambda/permission:Permission",
        f"{name}-invoke",
        {
            "region": region,
            "action": "lambda:InvokeFunction",
            "function": target.out("name"),
            "principal": "apigateway.amazonaws.com",
        },
        parent=parent,
    )
    return b.add(
        "aws:apigatewayv2/stage:Stage",
        f"{name}-stage",
        {
            "region": region,
            "apiId": api.out("id"),
            "name": "$default",
            "autoDeploy": True,
            "defaultRouteSettings": default_route_settings,
            "routeSettings": route_settings,
            "tags": TAGS,
        },
        parent=parent,
    )


def _integration(target: Resource, timeout_ms: int | None) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "type": "aws_proxy",
        "httpMethod": "POST",
        "uri": target.out("invokeArn"),
    }
    if timeout_ms is not None:
        settings["timeoutInMillis"] = timeout_ms
    return settings


def json_body(target: Resource, timeout_ms: int | None = None) -> JsonOf:
    """An OpenAPI document as `pulumi.Output.json_dumps` renders it."""
    return JsonOf(
        {
            "openapi": "3.0.1",
            "info": {"title": "reports", "version": "1"},
            "paths": {
                "/reports": {
                    "post": {
                        "responses": {"200": {"description": "ok"}},
                        "x-amazon-apigateway-integration": _integration(target, timeout_ms),
                    }
                },
                "/health": {
                    "get": {
                        "x-amazon-apigateway-integration": {
                            "type": "mock",
                            "requestTemplates": {"application/json": '{"statusCode": 200}'},
                        }
                    }
                },
            },
        }
    )


def yaml_body(target: Resource, timeout_ms: int) -> Concat:
    """The same document in YAML, as `pulumi.Output.format` renders a template."""
    return concat(
        "openapi: 3.0.1\n",
        "info:\n  title: reports\n  version: '1'\n",
        "paths:\n",
        "  /reports:\n",
        "    post:\n",
        "      responses:\n",
        "        '200':\n",
        "          description: ok\n",
        "      x-amazon-apigateway-integration:\n",
        "        type: aws_proxy\n",
        "        httpMethod: POST\n",
        '        uri: "',
        target.out("invokeArn"),
        '"\n',
        f"        timeoutInMillis: {timeout_ms}\n",
    )


def openapi_rest_api(b: StackBuilder, name: str, region: str, body: JsonOf | Concat) -> Resource:
    """A regional REST API defined by its OpenAPI `body` (no Integration resources)."""
    return b.add(
        "aws:apigateway/restApi:RestApi",
        f"{name}-api",
        {
            "region": region,
            "body": body,
            "endpointConfiguration": {"types": "REGIONAL"},
            "tags": TAGS,
        },
        parent=b.named("tasks"),
    )
