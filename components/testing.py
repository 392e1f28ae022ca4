"""Unit-test a program built from these components, with Pulumi's own mocks.

Pulumi's standard mocks answer every resource with its inputs as its outputs. The components
read outputs AWS computes (an API's `executionArn`, a function's `invokeArn`, a certificate's
`domainValidationOptions`) and call provider functions (`aws.getCallerIdentity`, the SSM
parameter that names the Powertools layer), so under those mocks they fail far from the test's
code. `Mocks` answers in the forms AWS uses::

    import pulumi
    from resilient_serverless.testing import Mocks

    pulumi.runtime.set_mocks(Mocks(), preview=False)

    import infra  # the module that builds the components, imported after set_mocks

    @pulumi.runtime.test
    def test_the_queue_outlives_six_worker_timeouts():
        def check(seconds):
            assert seconds >= 6 * 30
        return infra.worker.visibility_timeout_s.apply(check)

Every resource's outputs are its inputs plus what AWS computes for its type (ARNs with the
resource's own region, `account_id`'s account and the resource form AWS documents; ids, URLs and
generated names in AWS's forms). `Mocks.resources` keeps every registration for assertions.
"""

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import pulumi

from .powertools import (
    POWERTOOLS_LAYER_ACCOUNT,
    POWERTOOLS_PARAMETER_PREFIX,
    powertools_layer_name,
)

__all__ = ["DEFAULT_ACCOUNT_ID", "Mocks", "RegisteredResource"]

#: The account every ARN names unless a test asks for another (AWS's documentation account).
DEFAULT_ACCOUNT_ID: Final[str] = "123456789012"


@dataclass(frozen=True)
class RegisteredResource:
    """One resource the program registered, as the mocks saw it."""

    type: str
    name: str
    inputs: Mapping[str, Any]
    region: str
    outputs: Mapping[str, Any]


def _hex(*parts: str, length: int = 10) -> str:
    """Stable pseudo-random hex from the resource's identity: the same program gives the same
    ids run after run, so tests can compare them."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:length]


@dataclass(frozen=True)
class _Context:
    name: str
    region: str
    account: str
    inputs: Mapping[str, Any]

    def physical_name(self, key: str = "name") -> str:
        """The name the resource is created with: the program's, or Pulumi's auto-name
        (`<logical name>-<7 hex>`)."""
        given = self.inputs.get(key)
        return given if isinstance(given, str) and given else f"{self.name}-{_hex(self.name)[:7]}"

    def arn(self, service: str, resource: str, *, regional: bool = True) -> str:
        region = self.region if regional else ""
        return f"arn:aws:{service}:{region}:{self.account}:{resource}"


def _rest_api(c: _Context) -> dict[str, Any]:
    api_id = _hex("restapi", c.name)
    return {
        "id": api_id,
        "rootResourceId": _hex("root", c.name, length=10),
        "executionArn": c.arn("execute-api", api_id),
        "arn": f"arn:aws:apigateway:{c.region}::/restapis/{api_id}",
        "createdDate": "2026-01-01T00:00:00Z",
    }


def _stage(c: _Context) -> dict[str, Any]:
    api_id = str(c.inputs.get("restApi", _hex("restapi", c.name)))
    stage = str(c.inputs.get("stageName", c.name))
    return {
        "invokeUrl": f"https://{api_id}.execute-api.{c.region}.amazonaws.com/{stage}",
        "executionArn": c.arn("execute-api", f"{api_id}/{stage}"),
        "arn": f"arn:aws:apigateway:{c.region}::/restapis/{api_id}/stages/{stage}",
    }


def _domain_name(c: _Context) -> dict[str, Any]:
    return {
        "regionalDomainName": f"d-{_hex('domain', c.name)}.execute-api.{c.region}.amazonaws.com",
        # API Gateway's own hosted zone for regional endpoints differs per region.
        "regionalZoneId": f"Z{_hex('zone', c.region, length=12).upper()}",
        "arn": f"arn:aws:apigateway:{c.region}::/domainnames/{c.inputs.get('domainName', c.name)}",
    }


def _certificate(c: _Context) -> dict[str, Any]:
    domain = str(c.inputs.get("domainName", f"{c.name}.example.com"))
    names = [domain, *(c.inputs.get("subjectAlternativeNames") or [])]
    return {
        "arn": c.arn("acm", f"certificate/{_hex('cert', c.name, length=32)}"),
        "domainValidationOptions": [
            {
                "domainName": name,
                "resourceRecordName": f"_{_hex('rr', name, length=32)}.{name}.",
                "resourceRecordType": "CNAME",
                "resourceRecordValue": f"_{_hex('rv', name, length=32)}.acm-validations.aws.",
            }
            for name in names
        ],
        "status": "ISSUED",
    }


def _function(c: _Context) -> dict[str, Any]:
    name = c.physical_name()
    arn = c.arn("lambda", f"function:{name}")
    return {
        "name": name,
        "arn": arn,
        "qualifiedArn": f"{arn}:$LATEST",
        "invokeArn": (
            f"arn:aws:apigateway:{c.region}:lambda:path/2015-03-31/functions/{arn}/invocations"
        ),
        "version": "$LATEST",
    }


def _queue(c: _Context) -> dict[str, Any]:
    name = c.physical_name()
    if c.inputs.get("fifoQueue") and not name.endswith(".fifo"):
        name += ".fifo"
    url = f"https://sqs.{c.region}.amazonaws.com/{c.account}/{name}"
    return {"id": url, "name": name, "url": url, "arn": c.arn("sqs", name)}


def _table(c: _Context) -> dict[str, Any]:
    name = c.physical_name()
    arn = c.arn("dynamodb", f"table/{name}")
    outputs: dict[str, Any] = {"id": name, "name": name, "arn": arn}
    if c.inputs.get("streamEnabled"):
        label = "2026-01-01T00:00:00.000"
        outputs |= {"streamArn": f"{arn}/stream/{label}", "streamLabel": label}
    return outputs


def _named(service: str, form: str) -> Callable[[_Context], dict[str, Any]]:
    """Resources whose ARN is `<form>/<name>` or `<form>:<name>` and whose id is the name."""

    def outputs(c: _Context) -> dict[str, Any]:
        name = c.physical_name()
        return {"id": name, "name": name, "arn": c.arn(service, form.format(name=name))}

    return outputs


def _role(c: _Context) -> dict[str, Any]:
    name = c.physical_name()
    return {
        "id": name,
        "name": name,
        "arn": f"arn:aws:iam::{c.account}:role/{name}",
        "uniqueId": f"AROA{_hex('role', name, length=16).upper()}",
    }


def _api_key(c: _Context) -> dict[str, Any]:
    key_id = _hex("apikey", c.name)
    return {
        "id": key_id,
        "value": _hex("apikey-value", c.name, length=40),
        "arn": f"arn:aws:apigateway:{c.region}::/apikeys/{key_id}",
    }


def _health_check(c: _Context) -> dict[str, Any]:
    check_id = f"{_hex('hc', c.name, length=8)}-0000-4000-8000-{_hex('hc2', c.name, length=12)}"
    return {"id": check_id, "arn": f"arn:aws:route53:::healthcheck/{check_id}"}


def _record(c: _Context) -> dict[str, Any]:
    zone = c.inputs.get("zoneId", "Z")
    return {
        "id": f"{zone}_{c.inputs.get('name', c.name)}_{c.inputs.get('type', 'A')}",
        "fqdn": str(c.inputs.get("name", c.name)).rstrip("."),
    }


def _stream(c: _Context) -> dict[str, Any]:
    name = c.physical_name()
    arn = c.arn("kinesis", f"stream/{name}")
    return {"id": arn, "name": name, "arn": arn}


def _event_source_mapping(c: _Context) -> dict[str, Any]:
    uuid = f"{_hex('esm', c.name, length=8)}-0000-4000-8000-{_hex('esm2', c.name, length=12)}"
    return {
        "id": uuid,
        "uuid": uuid,
        "functionArn": c.inputs.get("functionName"),
        "state": "Enabled",
    }


#: What AWS computes, by resource type token (what the components and typical programs read).
_COMPUTED: Final[dict[str, Callable[[_Context], dict[str, Any]]]] = {
    "aws:apigateway/restApi:RestApi": _rest_api,
    "aws:apigateway/stage:Stage": _stage,
    "aws:apigateway/domainName:DomainName": _domain_name,
    "aws:apigateway/apiKey:ApiKey": _api_key,
    "aws:acm/certificate:Certificate": _certificate,
    "aws:lambda/function:Function": _function,
    "aws:lambda/eventSourceMapping:EventSourceMapping": _event_source_mapping,
    "aws:sqs/queue:Queue": _queue,
    "aws:dynamodb/table:Table": _table,
    "aws:iam/role:Role": _role,
    "aws:sns/topic:Topic": _named("sns", "{name}"),
    "aws:sfn/stateMachine:StateMachine": _named("states", "stateMachine:{name}"),
    "aws:cloudwatch/logGroup:LogGroup": _named("logs", "log-group:{name}"),
    "aws:cloudwatch/metricAlarm:MetricAlarm": _named("cloudwatch", "alarm:{name}"),
    "aws:ssm/parameter:Parameter": _named("ssm", "parameter{name}"),
    "aws:route53/healthCheck:HealthCheck": _health_check,
    "aws:route53/record:Record": _record,
    "aws:kinesis/stream:Stream": _stream,
}


@dataclass
class Mocks(pulumi.runtime.Mocks):
    """Pulumi mocks that answer the way AWS does for the resources and lookups these components
    use. Pass an instance to `pulumi.runtime.set_mocks(Mocks(), preview=False)`.

    `region` is where resources without a `region` input live (the stack's `aws:region`);
    `parameters` answers SSM parameter lookups by name (the Powertools layer's parameters are
    answered with a layer ARN of AWS's form for the parameter's region and runtime)."""

    region: str = "us-east-1"
    account_id: str = DEFAULT_ACCOUNT_ID
    parameters: Mapping[str, str] = field(default_factory=dict)
    resources: list[RegisteredResource] = field(default_factory=list)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        inputs = dict(args.inputs)
        region = str(inputs.get("region") or self.region)
        context = _Context(args.name, region, self.account_id, inputs)
        computed = _COMPUTED.get(args.typ, _generic)(context)
        outputs = {**inputs, **computed}
        if "region" not in outputs and args.typ.startswith("aws:"):
            outputs["region"] = region  # pulumi-aws v7 reports every resource's region
        resource_id = str(computed.get("id") or _generic(context)["id"])
        self.resources.append(RegisteredResource(args.typ, args.name, inputs, region, outputs))
        return resource_id, outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list[tuple[str, str]] | None]:
        # A (result, check failures) pair: the SDK's mocks iterate the failures.
        return self.answer(args), []

    def answer(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        """A provider function's result; override to answer more functions."""
        arguments = dict(args.args)
        region = str(arguments.get("region") or self.region)
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": self.account_id,
                "arn": f"arn:aws:iam::{self.account_id}:user/unit-test",
                "userId": "AIDAUNITTEST",
                "id": self.account_id,
            }
        if args.token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}
        if args.token == "aws:index/getRegion:getRegion":
            return {"name": region, "region": region, "id": region}
        if args.token == "aws:ssm/getParameter:getParameter":
            name = str(arguments.get("name", ""))
            value = self.parameters.get(name) or _powertools_layer(name, region)
            if value is None:
                raise KeyError(
                    f"Mocks: no answer for SSM parameter {name!r}; pass "
                    f"Mocks(parameters={{{name!r}: '...'}})"
                )
            return {
                "name": name,
                "value": value,
                "insecureValue": value,
                "type": "String",
                "arn": f"arn:aws:ssm:{region}:{self.account_id}:parameter{name}",
                "id": name,
                "version": 1,
            }
        raise NotImplementedError(
            f"Mocks: no answer for {args.token}; subclass Mocks and answer it in answer()"
        )


def _generic(c: _Context) -> dict[str, Any]:
    """Types without an entry: an id of AWS's plain form; the inputs stay the outputs."""
    return {"id": f"{c.name}-{_hex('id', c.name, length=8)}"}


def _powertools_layer(parameter: str, region: str) -> str | None:
    """The layer ARN AWS's public parameter `/aws/service/powertools/python/<arch>/<runtime>/
    <release>` holds, in AWS's layer naming (AWSLambdaPowertoolsPythonV3-python313-x86_64)."""
    prefix = f"{POWERTOOLS_PARAMETER_PREFIX}/"
    if not parameter.startswith(prefix):
        return None
    parts = parameter[len(prefix) :].split("/")
    if len(parts) != 3:
        return None
    architecture, runtime, _release = parts
    try:
        layer = powertools_layer_name(runtime, architecture)
    except ValueError:
        return None
    return f"arn:aws:lambda:{region}:{POWERTOOLS_LAYER_ACCOUNT}:layer:{layer}:1"
