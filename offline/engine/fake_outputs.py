"""Plausible outputs for `--mode update`: what a provider would report after creating a resource.

Identifiers are derived from the resource's URN (stable from run to run), ARNs have the right
shape for their service with account 123456789012 and the resource's region, and names follow
Pulumi's auto-naming (`<logical name>-<7 hex>`) unless the program chose one. Only computed
outputs are produced: the SDK itself hands a program its own inputs back in an update.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from .engine_shape import (
    DEFAULTS_KEY,
    TypeShape,
    schema_for,
    strip_defaults_marker,
)
from .provider_defaults import defaults_for

#: The account every fake ARN belongs to (AWS's documentation account).
ACCOUNT_ID: Final[str] = "123456789012"
PARTITION: Final[str] = "aws"

#: Services whose ARNs carry no region (their resources are global).
_GLOBAL_ARN_SERVICES: Final[frozenset[str]] = frozenset(
    {"iam", "route53", "s3", "cloudfront", "organizations", "waf", "shield"}
)

#: API Gateway's published hosted-zone ids for regional custom domains (alias targets).
_API_GATEWAY_REGIONAL_ZONE_IDS: Final[dict[str, str]] = {
    "us-east-1": "Z1UJRXOUMOOFQ8",
    "us-east-2": "ZOJJZC49E0EPZ",
    "us-west-1": "Z2MUQ32089INYE",
    "us-west-2": "Z2OJLYMUO9EFXC",
    "eu-west-1": "ZLY8HYME6SFDD",
    "eu-west-2": "ZJ5UAJN8Y3Z2Q",
    "eu-central-1": "Z1U9ULNL0V5AJ3",
    "ap-southeast-1": "ZL327KTPIQFUL",
    "ap-southeast-2": "Z2RPCDW04V8134",
    "ap-northeast-1": "Z1YSHQZHG15GKL",
}

_ALPHANUMERIC: Final[str] = "abcdefghijklmnopqrstuvwxyz0123456789"
_KEY_ALPHABET: Final[str] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def stable_hex(seed: str, length: int) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:length]


def stable_token(seed: str, length: int, alphabet: str = _ALPHANUMERIC) -> str:
    digest = hashlib.sha256(seed.encode()).digest()
    return "".join(alphabet[digest[i % len(digest)] % len(alphabet)] for i in range(length))


def stable_uuid(seed: str) -> str:
    return str(uuid.UUID(hex=stable_hex(seed, 32)))


def hosted_zone_id(seed: str) -> str:
    return "Z" + stable_token(seed, 20, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


def api_gateway_regional_zone_id(region: str) -> str:
    return _API_GATEWAY_REGIONAL_ZONE_IDS.get(region) or hosted_zone_id(f"apigw:{region}")


def output_names(type_token: str) -> frozenset[str] | None:
    """The engine names of a resource type's outputs, from the SDK class the program used."""
    schema = schema_for(type_token)
    return frozenset(schema.properties) if schema is not None else None


def autoname(logical_name: str, urn: str) -> str:
    """Pulumi's auto-name for a resource: `<logical name>-<7 hex>`, stable per URN."""
    return f"{logical_name}-{stable_hex(urn, 7)}"


@dataclass(frozen=True)
class ResourceFacts:
    """What the generators need to know about one resource."""

    type: str
    name: str
    urn: str
    region: str
    inputs: Mapping[str, Any]

    @property
    def service(self) -> str:
        module = self.type.split(":")[1] if self.type.count(":") >= 2 else ""
        return module.split("/")[0]

    @property
    def kind(self) -> str:
        return self.type.rsplit(":", 1)[-1]

    def known_input(self, key: str) -> str | None:
        value = self.inputs.get(key)
        return value if isinstance(value, str) and value else None

    @property
    def physical_name(self) -> str:
        chosen = self.known_input("name") or self.known_input("bucket")
        if chosen is not None:
            return chosen
        prefix = self.known_input("namePrefix")
        if prefix is not None:
            return prefix + stable_hex(self.urn, 26)
        return autoname(self.name, self.urn)

    def arn(self, resource_part: str) -> str:
        region = "" if self.service in _GLOBAL_ARN_SERVICES else self.region
        return f"arn:{PARTITION}:{self.service}:{region}:{ACCOUNT_ID}:{resource_part}"


def _rest_api_id(facts: ResourceFacts) -> str:
    return facts.known_input("restApi") or stable_token(f"restapi:{facts.urn}", 10)


# Per type: the physical id and the ARN (when the service's ARN shape is not the generic one).
_IdRule = Callable[[ResourceFacts], str]
_ID_RULES: Final[dict[str, _IdRule]] = {
    "aws:sqs/queue:Queue": lambda f: (
        f"https://sqs.{f.region}.amazonaws.com/{ACCOUNT_ID}/{f.physical_name}"
    ),
    "aws:sns/topic:Topic": lambda f: f.arn(f.physical_name),
    "aws:sns/topicSubscription:TopicSubscription": lambda f: (
        f"{f.known_input('topic') or f.arn('topic')}:{stable_uuid(f.urn)}"
    ),
    "aws:iam/policy:Policy": lambda f: f.arn(f"policy/{f.physical_name}"),
    "aws:iam/rolePolicy:RolePolicy": lambda f: (
        f"{f.known_input('role') or 'role'}:{f.physical_name}"
    ),
    "aws:apigateway/restApi:RestApi": lambda f: stable_token(f"restapi:{f.urn}", 10),
    "aws:apigateway/resource:Resource": lambda f: stable_token(f.urn, 6),
    "aws:apigateway/deployment:Deployment": lambda f: stable_token(f.urn, 6),
    "aws:apigateway/stage:Stage": lambda f: (
        f"ags-{_rest_api_id(f)}-{f.known_input('stageName') or 'stage'}"
    ),
    "aws:apigateway/method:Method": lambda f: f"agm-{_rest_api_id(f)}-{stable_token(f.urn, 6)}",
    "aws:apigateway/integration:Integration": lambda f: (
        f"agi-{_rest_api_id(f)}-{stable_token(f.urn, 6)}"
    ),
    "aws:apigateway/domainName:DomainName": lambda f: f.known_input("domainName") or f.name,
    "aws:acm/certificate:Certificate": lambda f: f.arn(f"certificate/{stable_uuid(f.urn)}"),
    "aws:route53/healthCheck:HealthCheck": lambda f: stable_uuid(f.urn),
    "aws:route53/zone:Zone": lambda f: hosted_zone_id(f.urn),
    "aws:route53/record:Record": lambda f: "_".join(
        part
        for part in (
            f.known_input("zoneId") or "Z",
            f.known_input("name") or f.name,
            f.known_input("type") or "A",
            f.known_input("setIdentifier") or "",
        )
        if part
    ),
    "aws:lambda/eventSourceMapping:EventSourceMapping": lambda f: stable_uuid(f.urn),
    "aws:lambda/permission:Permission": lambda f: f.known_input("statementId") or f.physical_name,
    "aws:kms/key:Key": lambda f: stable_uuid(f.urn),
}

#: EC2-style ids: `<prefix>-<17 hex>`, the form AWS gives these resources.
_EC2_ID_PREFIXES: Final[dict[str, str]] = {
    "aws:ec2/instance:Instance": "i",
    "aws:ec2/vpc:Vpc": "vpc",
    "aws:ec2/subnet:Subnet": "subnet",
    "aws:ec2/securityGroup:SecurityGroup": "sg",
    "aws:ec2/internetGateway:InternetGateway": "igw",
    "aws:ec2/routeTable:RouteTable": "rtb",
    "aws:ec2/natGateway:NatGateway": "nat",
    "aws:ec2/eip:Eip": "eipalloc",
    "aws:ec2/networkInterface:NetworkInterface": "eni",
    "aws:ec2/launchTemplate:LaunchTemplate": "lt",
    "aws:ec2/volume:Volume": "vol",
    "aws:ec2/vpcEndpoint:VpcEndpoint": "vpce",
    "aws:ec2/networkAcl:NetworkAcl": "acl",
    "aws:ec2/ami:Ami": "ami",
    "aws:ec2/keyPair:KeyPair": "key",
    "aws:ec2/transitGateway:TransitGateway": "tgw",
}


def _ec2_id(prefix: str) -> _IdRule:
    def make(facts: ResourceFacts) -> str:
        return f"{prefix}-{stable_hex(facts.urn, 17)}"

    return make


_ID_RULES.update({token: _ec2_id(prefix) for token, prefix in _EC2_ID_PREFIXES.items()})
_ID_RULES.update(
    {
        "aws:apigatewayv2/api:Api": lambda f: stable_token(f"httpapi:{f.urn}", 10),
        "aws:cloudfront/distribution:Distribution": lambda f: (
            "E" + stable_token(f.urn, 13, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        ),
        "aws:s3/bucket:Bucket": lambda f: f.physical_name,
        "aws:s3/bucketV2:BucketV2": lambda f: f.physical_name,
    }
)

_ArnRule = Callable[[ResourceFacts, str], str]
_ARN_RULES: Final[dict[str, _ArnRule]] = {
    "aws:sqs/queue:Queue": lambda f, _id: f.arn(f.physical_name),
    "aws:sns/topic:Topic": lambda f, _id: f.arn(f.physical_name),
    "aws:lambda/function:Function": lambda f, _id: f.arn(f"function:{f.physical_name}"),
    "aws:dynamodb/table:Table": lambda f, _id: f.arn(f"table/{f.physical_name}"),
    "aws:iam/role:Role": lambda f, _id: f.arn(f"role/{f.physical_name}"),
    "aws:iam/policy:Policy": lambda f, _id: f.arn(f"policy/{f.physical_name}"),
    "aws:iam/user:User": lambda f, _id: f.arn(f"user/{f.physical_name}"),
    "aws:cloudwatch/logGroup:LogGroup": lambda f, _id: (
        f"arn:{PARTITION}:logs:{f.region}:{ACCOUNT_ID}:log-group:{f.physical_name}"
    ),
    "aws:cloudwatch/metricAlarm:MetricAlarm": lambda f, _id: f.arn(f"alarm:{f.physical_name}"),
    "aws:apigateway/restApi:RestApi": lambda f, id_: (
        f"arn:{PARTITION}:apigateway:{f.region}::/restapis/{id_}"
    ),
    "aws:apigateway/stage:Stage": lambda f, _id: (
        f"arn:{PARTITION}:apigateway:{f.region}::/restapis/{_rest_api_id(f)}/stages/"
        f"{f.known_input('stageName') or 'stage'}"
    ),
    "aws:apigateway/domainName:DomainName": lambda f, id_: (
        f"arn:{PARTITION}:apigateway:{f.region}::/domainnames/{id_}"
    ),
    "aws:acm/certificate:Certificate": lambda f, id_: id_,
    "aws:route53/healthCheck:HealthCheck": lambda f, id_: f.arn(f"healthcheck/{id_}"),
    "aws:route53/zone:Zone": lambda f, id_: f.arn(f"hostedzone/{id_}"),
    "aws:kinesis/stream:Stream": lambda f, _id: f.arn(f"stream/{f.physical_name}"),
    "aws:sfn/stateMachine:StateMachine": lambda f, _id: (
        f"arn:{PARTITION}:states:{f.region}:{ACCOUNT_ID}:stateMachine:{f.physical_name}"
    ),
    "aws:s3/bucket:Bucket": lambda f, _id: f"arn:{PARTITION}:s3:::{f.physical_name}",
    "aws:s3/bucketV2:BucketV2": lambda f, _id: f"arn:{PARTITION}:s3:::{f.physical_name}",
    "aws:kms/key:Key": lambda f, id_: f.arn(f"key/{id_}"),
    "aws:lambda/eventSourceMapping:EventSourceMapping": lambda f, id_: f.arn(
        f"event-source-mapping:{id_}"
    ),
}


def _generic_arn(facts: ResourceFacts, _id: str) -> str:
    kind = facts.kind
    kebab = "".join(f"-{c.lower()}" if c.isupper() else c for c in kind).lstrip("-")
    return facts.arn(f"{kebab}/{facts.physical_name}")


def _certificate_validation_options(facts: ResourceFacts) -> list[dict[str, str]]:
    domains = []
    primary = facts.known_input("domainName")
    if primary:
        domains.append(primary)
    alternatives = facts.inputs.get("subjectAlternativeNames")
    if isinstance(alternatives, list):
        domains.extend(d for d in alternatives if isinstance(d, str) and d not in domains)
    options = []
    for domain in domains:
        token = stable_hex(f"{facts.urn}:{domain}", 32)
        options.append(
            {
                "domainName": domain,
                "resourceRecordName": f"_{token}.{domain}.",
                "resourceRecordType": "CNAME",
                "resourceRecordValue": (
                    f"_{stable_hex(token, 32)}.{stable_token(token, 10)}.acm-validations.aws."
                ),
            }
        )
    return options


def _function_arn(facts: ResourceFacts) -> str:
    named = facts.known_input("functionName") or facts.known_input("function") or facts.name
    if named.startswith("arn:"):
        return named
    return f"arn:{PARTITION}:lambda:{facts.region}:{ACCOUNT_ID}:function:{named}"


def plausible_outputs(facts: ResourceFacts) -> tuple[str, dict[str, Any]]:
    """The id and computed outputs a provider would report for a freshly created resource."""
    id_rule = _ID_RULES.get(facts.type)
    resource_id = id_rule(facts) if id_rule else facts.physical_name
    names = output_names(facts.type)
    if names is None:
        return resource_id, {}

    outputs: dict[str, Any] = {}

    def offer(key: str, make: Callable[[], Any]) -> None:
        if key in names and key not in facts.inputs:
            outputs[key] = make()

    arn_rule = _ARN_RULES.get(facts.type, _generic_arn)
    arn = arn_rule(facts, resource_id)
    offer("arn", lambda: arn)
    offer("name", lambda: facts.physical_name)
    offer("tagsAll", lambda: dict(facts.inputs.get("tags") or {}))

    if facts.type == "aws:sqs/queue:Queue":
        offer("url", lambda: resource_id)
    elif facts.type == "aws:lambda/function:Function":
        offer(
            "invokeArn",
            lambda: (
                f"arn:{PARTITION}:apigateway:{facts.region}:lambda:path/2015-03-31/functions/"
                f"{arn}/invocations"
            ),
        )
        offer("qualifiedArn", lambda: f"{arn}:$LATEST")
        offer(
            "qualifiedInvokeArn",
            lambda: (
                f"arn:{PARTITION}:apigateway:{facts.region}:lambda:path/2015-03-31/functions/"
                f"{arn}:$LATEST/invocations"
            ),
        )
        offer("version", lambda: "$LATEST")
    elif facts.type == "aws:dynamodb/table:Table":
        offer("streamArn", lambda: f"{arn}/stream/2025-01-01T00:00:00.000")
        offer("streamLabel", lambda: "2025-01-01T00:00:00.000")
    elif facts.type == "aws:iam/role:Role":
        offer(
            "uniqueId",
            lambda: "AROA" + stable_token(facts.urn, 17, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"),
        )
    elif facts.type == "aws:apigateway/restApi:RestApi":
        offer("rootResourceId", lambda: stable_token(f"root:{facts.urn}", 10))
        offer(
            "executionArn",
            lambda: f"arn:{PARTITION}:execute-api:{facts.region}:{ACCOUNT_ID}:{resource_id}",
        )
    elif facts.type == "aws:apigateway/stage:Stage":
        stage = facts.known_input("stageName") or "stage"
        offer(
            "invokeUrl",
            lambda: (
                f"https://{_rest_api_id(facts)}.execute-api.{facts.region}.amazonaws.com/{stage}"
            ),
        )
        offer(
            "executionArn",
            lambda: (
                f"arn:{PARTITION}:execute-api:{facts.region}:{ACCOUNT_ID}:{_rest_api_id(facts)}/{stage}"
            ),
        )
    elif facts.type == "aws:apigateway/deployment:Deployment":
        offer(
            "invokeUrl",
            lambda: f"https://{_rest_api_id(facts)}.execute-api.{facts.region}.amazonaws.com/",
        )
        offer(
            "executionArn",
            lambda: (
                f"arn:{PARTITION}:execute-api:{facts.region}:{ACCOUNT_ID}:{_rest_api_id(facts)}/"
            ),
        )
    elif facts.type == "aws:apigateway/apiKey:ApiKey":
        # A key created without a value gets one from API Gateway: 40 letters and digits.
        offer("value", lambda: stable_token(f"api-key:{facts.urn}", 40, _KEY_ALPHABET))
    elif facts.type == "aws:apigateway/resource:Resource":
        offer("path", lambda: "/" + (facts.known_input("pathPart") or ""))
    elif facts.type == "aws:apigateway/domainName:DomainName":
        offer(
            "regionalDomainName",
            lambda: f"d-{stable_token(facts.urn, 10)}.execute-api.{facts.region}.amazonaws.com",
        )
        offer("regionalZoneId", lambda: api_gateway_regional_zone_id(facts.region))
        offer("domainNameId", lambda: stable_token(f"domain:{facts.urn}", 10))
    elif facts.type == "aws:acm/certificate:Certificate":
        offer("domainValidationOptions", lambda: _certificate_validation_options(facts))
        offer("status", lambda: "ISSUED")
    elif facts.type == "aws:route53/zone:Zone":
        offer("zoneId", lambda: resource_id)
        offer(
            "nameServers",
            lambda: [
                f"ns-{n}.awsdns-{n % 64:02d}.{tld}"
                for n, tld in zip(range(101, 105), ("com", "net", "org", "co.uk"), strict=True)
            ],
        )
    elif facts.type == "aws:route53/record:Record":
        offer("fqdn", lambda: facts.known_input("name") or facts.name)
    elif facts.type == "aws:lambda/eventSourceMapping:EventSourceMapping":
        offer("uuid", lambda: resource_id)
        offer("functionArn", lambda: _function_arn(facts))
        offer("state", lambda: "Enabled")
    elif facts.type == "aws:cloudwatch/logGroup:LogGroup":
        offer("logGroupClass", lambda: "STANDARD")
    elif facts.type == "aws:apigatewayv2/api:Api":
        offer(
            "apiEndpoint",
            lambda: (
                f"wss://{resource_id}.execute-api.{facts.region}.amazonaws.com"
                if facts.known_input("protocolType") == "WEBSOCKET"
                else f"https://{resource_id}.execute-api.{facts.region}.amazonaws.com"
            ),
        )
        offer(
            "executionArn",
            lambda: f"arn:{PARTITION}:execute-api:{facts.region}:{ACCOUNT_ID}:{resource_id}",
        )
    elif facts.type == "aws:cloudfront/distribution:Distribution":
        offer("domainName", lambda: f"d{stable_token(facts.urn, 13)}.cloudfront.net")
        # CloudFront's one hosted zone, the alias target of every distribution.
        offer("hostedZoneId", lambda: "Z2FDTNDATAQYW2")
        offer("arn", lambda: f"arn:{PARTITION}:cloudfront::{ACCOUNT_ID}:distribution/{resource_id}")
    elif facts.type in ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"):
        bucket = facts.physical_name
        offer("bucketDomainName", lambda: f"{bucket}.s3.amazonaws.com")
        offer("bucketRegionalDomainName", lambda: f"{bucket}.s3.{facts.region}.amazonaws.com")
        offer("websiteEndpoint", lambda: f"{bucket}.s3-website-{facts.region}.amazonaws.com")
        offer("websiteDomain", lambda: f"s3-website-{facts.region}.amazonaws.com")
    elif facts.type == "aws:s3/bucketWebsiteConfiguration:BucketWebsiteConfiguration":
        bucket = facts.known_input("bucket") or facts.physical_name
        offer("websiteEndpoint", lambda: f"{bucket}.s3-website-{facts.region}.amazonaws.com")
        offer("websiteDomain", lambda: f"s3-website-{facts.region}.amazonaws.com")
    elif facts.type == "aws:ec2/instance:Instance":
        octets = [int(stable_hex(f"{facts.urn}:{n}", 2), 16) for n in range(4)]
        public_ip = f"54.{octets[0]}.{octets[1]}.{octets[2]}"
        private_ip = f"172.31.{octets[2]}.{octets[3]}"
        offer("publicIp", lambda: public_ip)
        offer("privateIp", lambda: private_ip)
        offer(
            "publicDns",
            lambda: f"ec2-{public_ip.replace('.', '-')}.{facts.region}.compute.amazonaws.com",
        )
        offer(
            "privateDns",
            lambda: f"ip-{private_ip.replace('.', '-')}.{facts.region}.compute.internal",
        )
    elif facts.type == "aws:eks/cluster:Cluster":
        offer(
            "endpoint",
            lambda: (
                f"https://{stable_hex(facts.urn, 32).upper()}.gr7.{facts.region}.eks.amazonaws.com"
            ),
        )
    if facts.type == "aws:lambda/function:Function":
        offer(
            "loggingConfig",
            lambda: {
                "logFormat": "Text",
                "logGroup": f"/aws/lambda/{facts.physical_name}",
                "applicationLogLevel": None,
                "systemLogLevel": None,
            },
        )
    offer("region", lambda: facts.region)
    _offer_the_rest(facts, outputs)
    return resource_id, outputs


def _offer_the_rest(facts: ResourceFacts, outputs: dict[str, Any]) -> None:
    """Every other property the provider reports: AWS's value for an unset property where
    provider_defaults.py has one (computed or not: a deployed resource's state is what the
    provider reads back from AWS), the empty value for a computed input the program left unset
    without such a row, a plausible value for an output-only property."""
    schema = schema_for(facts.type)
    if schema is None:
        return
    aws_values = defaults_for(facts.type, facts.inputs)
    for key, prop in schema.properties.items():
        if key in outputs or key in facts.inputs:
            continue
        if key in aws_values:
            outputs[key] = aws_values[key]
        elif not prop.computed:
            continue
        elif key in schema.inputs:
            outputs[key] = _empty(prop.type)
        else:
            outputs[key] = _plausible(facts, key, prop.type, 0)


def _empty(shape: TypeShape) -> Any:
    return {
        "string": "",
        "number": 0,
        "boolean": False,
        "map": {},
        "list": [],
    }.get(shape.kind)


#: Nested blocks are built this deep at most (some SDK types refer to themselves).
_MAX_BLOCK_DEPTH: Final[int] = 4


def _plausible(facts: ResourceFacts, key: str, shape: TypeShape, depth: int) -> Any:
    """A value of `shape` that reads like what AWS reports for a property called `key`."""
    if shape.kind == "string":
        return _plausible_text(facts, key)
    if shape.kind == "number":
        return 1
    if shape.kind == "boolean":
        return False
    if shape.kind == "map":
        return {}
    if shape.kind == "list":
        if shape.element is None or depth >= _MAX_BLOCK_DEPTH:
            return []
        return [_plausible(facts, key.removesuffix("s"), shape.element, depth + 1)]
    if shape.kind == "block":
        if depth >= _MAX_BLOCK_DEPTH:
            return None
        return {
            name: _plausible(facts, name, prop.type, depth + 1)
            for name, prop in shape.fields.items()
        }
    return None


def _plausible_text(facts: ResourceFacts, key: str) -> str:
    seed = f"{facts.urn}:{key}"
    lowered = key.lower()
    if lowered.endswith("arn"):
        kebab = "".join(f"-{c.lower()}" if c.isupper() else c for c in key[: -len("arn")])
        return facts.arn(f"{kebab.strip('-') or facts.kind.lower()}/{facts.physical_name}")
    if lowered.endswith(("url", "endpoint")):
        return f"https://{stable_token(seed, 10)}.{facts.service}.{facts.region}.amazonaws.com"
    if lowered.endswith(("domainname", "dnsname", "hostname", "fqdn")):
        return f"{stable_token(seed, 10)}.{facts.service}.{facts.region}.amazonaws.com"
    if lowered.endswith("name"):
        return facts.physical_name
    if lowered in ("data", "content", "body") or lowered.endswith(("data", "certificate")):
        return base64.b64encode(f"offline:{seed}".encode()).decode()
    if lowered.endswith(("id", "ids")):
        return f"{facts.service[:3] or 'id'}-{stable_hex(seed, 17)}"
    if lowered.endswith(("date", "time", "timestamp")):
        return "2025-01-01T00:00:00Z"
    if lowered.endswith(("status", "state")):
        return "ACTIVE"
    return stable_token(seed, 12)


def known_state(facts: ResourceFacts) -> tuple[str, dict[str, Any]]:
    """The whole state a provider reports after creating the resource (update mode): the
    checked inputs, every computed output, and null for optional properties left unset."""
    resource_id, outputs = plausible_outputs(facts)
    schema = schema_for(facts.type)
    state: dict[str, Any] = {}
    if schema is not None:
        for key, prop in schema.properties.items():
            state[key] = [] if prop.type.is_block_list else None
    state.update({k: v for k, v in facts.inputs.items() if k != DEFAULTS_KEY})
    state.update(outputs)
    if schema is not None:
        state["id"] = resource_id
    return resource_id, strip_defaults_marker(state)
