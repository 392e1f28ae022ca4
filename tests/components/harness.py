"""Run Pulumi code under the SDK's mocks and record what the engine would receive."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
from google.protobuf import json_format
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime.stack import wait_for_rpcs

ACCOUNT = "123456789012"
PROJECT = "resilient-serverless"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


@dataclass
class Registered:
    """One RegisterResource request, as the engine (and the policy pack) sees it."""

    urn: str
    type: str
    name: str
    parent: str
    custom: bool
    inputs: dict[str, Any]
    dependencies: list[str]
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)

    @property
    def region(self) -> str | None:
        value = self.inputs.get("region")
        return value if isinstance(value, str) else None


def _outputs(typ: str, name: str, inputs: dict[str, Any], region: str) -> dict[str, Any]:
    """Plausible computed outputs per type, as a real `pulumi up` would return them."""
    service = typ.split(":")[1].split("/")[0]
    physical = inputs.get("name") or f"{name}-1234567"
    out: dict[str, Any] = {
        "arn": f"arn:aws:{service}:{region}:{ACCOUNT}:{physical}",
        "name": physical,
    }
    if typ == "aws:sqs/queue:Queue":
        out["url"] = f"https://sqs.{region}.amazonaws.com/{ACCOUNT}/{physical}"
        out["arn"] = f"arn:aws:sqs:{region}:{ACCOUNT}:{physical}"
    elif typ == "aws:lambda/function:Function":
        out["arn"] = f"arn:aws:lambda:{region}:{ACCOUNT}:function:{physical}"
        out["invokeArn"] = (
            f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{out['arn']}/invocations"
        )
    elif typ == "aws:apigateway/restApi:RestApi":
        out["rootResourceId"] = "root123"
        out["executionArn"] = f"arn:aws:execute-api:{region}:{ACCOUNT}:api123"
    elif typ == "aws:apigateway/domainName:DomainName":
        out["regionalDomainName"] = f"d-abc.execute-api.{region}.amazonaws.com"
        out["regionalZoneId"] = "Z1UJRXOUMOOFQ8"
    elif typ == "aws:acm/certificate:Certificate":
        out["domainValidationOptions"] = [
            {
                "domainName": inputs.get("domainName"),
                "resourceRecordName": "_x1.tasks.example.com.",
                "resourceRecordType": "CNAME",
                "resourceRecordValue": "_x2.acm-validations.aws.",
            }
        ]
    elif typ == "aws:acm/certificateValidation:CertificateValidation":
        out["certificateArn"] = inputs.get("certificateArn")
    elif typ == "aws:route53/record:Record":
        out["fqdn"] = inputs.get("name")
    elif typ == "aws:cloudwatch/logGroup:LogGroup":
        out["arn"] = f"arn:aws:logs:{region}:{ACCOUNT}:log-group:{physical}"
    return out


class RecordingMocks(pulumi_mocks.Mocks):
    def __init__(self, preview: bool) -> None:
        self.preview = preview

    def new_resource(
        self, args: pulumi_mocks.MockResourceArgs
    ) -> tuple[str | None, dict[str, Any]]:
        if self.preview:
            # A new stack's preview: nothing computed is known yet.
            return None, dict(args.inputs)
        region = args.inputs.get("region", "us-east-1")
        return f"{args.name}-id", {
            **args.inputs,
            **_outputs(args.typ, args.name, args.inputs, region),
        }

    def call(self, args: pulumi_mocks.MockCallArgs) -> dict[str, Any]:  # type: ignore[override]
        if args.token == "aws:route53/getZone:getZone":
            return {
                "zoneId": "Z0123456789ABC",
                "name": args.args.get("name"),
                "id": "Z0123456789ABC",
            }
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": ACCOUNT,
                "arn": f"arn:aws:iam::{ACCOUNT}:user/test",
                "id": ACCOUNT,
                "userId": "test",
            }
        if args.token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}
        raise NotImplementedError(f"no mock answer for {args.token}")


class RecordingMonitor(pulumi_mocks.MockMonitor):
    def __init__(self, mocks: pulumi_mocks.Mocks) -> None:
        super().__init__(mocks)
        self.registered: list[Registered] = []

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.registered.append(
                Registered(
                    urn=response.urn,
                    type=request.type,
                    name=request.name,
                    parent=request.parent,
                    custom=request.custom,
                    inputs=json_format.MessageToDict(request.object),
                    dependencies=list(request.dependencies),
                    property_dependencies={
                        key: list(deps.urns) for key, deps in request.propertyDependencies.items()
                    },
                )
            )
        return response


@dataclass
class Run:
    resources: list[Registered]
    outputs: dict[str, Any]

    def of_type(self, typ: str) -> list[Registered]:
        return [resource for resource in self.resources if resource.type == typ]

    def by_urn(self, urn: str) -> Registered:
        return next(resource for resource in self.resources if resource.urn == urn)

    def named(self, name: str) -> Registered:
        return next(resource for resource in self.resources if resource.name == name)


def run_under_mocks(
    build: Callable[[], Any],
    *,
    config: Mapping[str, Any] | None = None,
    preview: bool = False,
    stack: str = "test",
) -> Run:
    """Run `build` as a program under mocks; return every registration and `build`'s result."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    mocks = RecordingMocks(preview)
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_all_config(
        {
            key: value if isinstance(value, str) else json.dumps(value)
            for key, value in (config or {}).items()
        }
    )
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=preview, monitor=monitor)
    try:
        try:
            result = build()
        finally:
            # Let what the program registered before it returned (or raised) settle.
            loop.run_until_complete(wait_for_rpcs())
    finally:
        asyncio.set_event_loop(None)
        loop.close()
    return Run(resources=monitor.registered, outputs={"result": result})
