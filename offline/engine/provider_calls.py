"""Answers to provider functions (invokes), without AWS.

Every pulumi-aws function is answered. The ones programs commonly build on have hand-written
("well-known") answers a user would expect: a hosted zone id derived from the zone's name, the
documentation account, the requested region, the Powertools layer ARN AWS's public SSM parameter
holds for a runtime and architecture, an IAM policy document rendered from its statements
to real JSON, an AMI whose name reflects the requested name filter, the default VPC's
172.31.0.0/16, one subnet per availability zone, an issued ACM certificate for the domain...
Every other pulumi-aws function gets a generic answer of its declared result type, built from the
SDK's own metadata (see function_results.py). Each answer has the shape the provider returns
(engine names, camelCase). A function of another package ends the run with an error that names
its token, as does a call without an argument the provider requires.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final, Protocol

from pulumi.output import Unknown

from ..errors import ProgramError
from .engine_shape import UNKNOWN
from .fake_outputs import (
    ACCOUNT_ID,
    PARTITION,
    autoname,
    hosted_zone_id,
    stable_hex,
    stable_token,
    stable_uuid,
)
from .function_results import (
    FIXED_TIMESTAMP,
    ArgumentTypeError,
    FunctionInfo,
    UnknownFunction,
    call_seed,
    coerce_arguments,
    find_function,
    missing_required,
    plain_arguments,
    plausible_result,
    zone_id_prefix,
)

#: The package whose functions and resources this module knows.
AWS_PACKAGE_NAME: Final[str] = "aws"
#: How a call was answered, as the reports show it.
WELL_KNOWN: Final[str] = "well-known"
GENERIC: Final[str] = "generic"
REFUSED: Final[str] = "refused"
#: How an argument that is unknown at preview shows in the reports (the provider never sees it).
UNKNOWN_SHOWN: Final[str] = "[unknown at preview]"
#: The region when neither the call, its provider nor the stack's config names one.
FALLBACK_REGION: Final[str] = "us-east-1"


class UnsupportedProviderCall(ProgramError):
    """The program called a provider function the offline preview cannot answer."""


def _requested_region(args: Mapping[str, Any], default_region: str | None) -> str:
    for key in ("region", "name"):
        value = args.get(key)
        if isinstance(value, str) and value:
            return value
    if default_region:
        return default_region
    raise ProgramError(
        "a provider function needs a region but none was given and 'aws:region' is not set; "
        "set aws:region in the stack's config"
    )


def _get_zone(args: Mapping[str, Any], _default_region: str | None) -> dict[str, Any]:
    name = args.get("name")
    zone_id = args.get("zoneId")
    if not isinstance(zone_id, str) or not zone_id:
        if not isinstance(name, str) or not name:
            raise ProgramError("aws:route53/getZone:getZone needs 'name' or 'zoneId'")
        zone_id = hosted_zone_id(name.rstrip(".").lower())
    zone_name = (
        name.rstrip(".") if isinstance(name, str) and name else f"zone-{zone_id.lower()}.example"
    )
    return {
        "id": zone_id,
        "zoneId": zone_id,
        "name": zone_name,
        "arn": f"arn:{PARTITION}:route53:::hostedzone/{zone_id}",
        "callerReference": stable_hex(zone_id, 16),
        "comment": "",
        "nameServers": [f"ns-{n}.awsdns-{n % 64:02d}.net" for n in range(201, 205)],
        "primaryNameServer": "ns-201.awsdns-09.net",
        "privateZone": bool(args.get("privateZone", False)),
        "resourceRecordSetCount": 2,
        "tags": dict(args.get("tags") or {}),
        "vpcId": args.get("vpcId") or "",
        "linkedServiceDescription": "",
        "linkedServicePrincipal": "",
        "enableAcceleratedRecovery": False,
    }


def _get_caller_identity(_args: Mapping[str, Any], _default_region: str | None) -> dict[str, Any]:
    return {
        "accountId": ACCOUNT_ID,
        "arn": f"arn:{PARTITION}:iam::{ACCOUNT_ID}:user/offline-preview",
        "id": ACCOUNT_ID,
        "userId": "AIDA" + stable_token("offline-preview", 17, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"),
    }


def _get_region(args: Mapping[str, Any], default_region: str | None) -> dict[str, Any]:
    region = _requested_region(args, default_region)
    return {
        "id": region,
        "name": region,
        "region": region,
        "description": region,
        "endpoint": f"ec2.{region}.amazonaws.com",
    }


def _get_partition(_args: Mapping[str, Any], _default_region: str | None) -> dict[str, Any]:
    return {
        "id": PARTITION,
        "partition": PARTITION,
        "dnsSuffix": "amazonaws.com",
        "reverseDnsPrefix": "com.amazonaws",
    }


def _get_availability_zones(args: Mapping[str, Any], default_region: str | None) -> dict[str, Any]:
    region = _requested_region(args, default_region)
    prefix = zone_id_prefix(region)
    excluded = set(args.get("excludeNames") or [])
    excluded_ids = set(args.get("excludeZoneIds") or [])
    zones = [
        (f"{region}{letter}", f"{prefix}-az{index}") for index, letter in enumerate("abc", start=1)
    ]
    kept = [(n, z) for n, z in zones if n not in excluded and z not in excluded_ids]
    return {
        "id": region,
        "region": region,
        "names": [name for name, _ in kept],
        "zoneIds": [zone for _, zone in kept],
        "groupNames": [region],
        "state": args.get("state") or "available",
        "allAvailabilityZones": args.get("allAvailabilityZones"),
        "excludeNames": sorted(excluded),
        "excludeZoneIds": sorted(excluded_ids),
        "filters": args.get("filters"),
    }


def _one_or_many(values: list[str]) -> str | list[str]:
    """IAM's own rendering: a single value stands alone, several form a list."""
    return values[0] if len(values) == 1 else values


def _principals(entries: Any) -> Any:
    rendered: dict[str, Any] = {}
    for entry in entries or []:
        kind = entry.get("type")
        identifiers = list(entry.get("identifiers") or [])
        if kind == "*" and identifiers == ["*"]:
            return "*"
        existing = rendered.get(kind)
        merged = ([existing] if isinstance(existing, str) else list(existing or [])) + identifiers
        rendered[kind] = _one_or_many(merged)
    return rendered


def _render_statement(statement: Mapping[str, Any]) -> dict[str, Any]:
    rendered: dict[str, Any] = {}
    if statement.get("sid"):
        rendered["Sid"] = statement["sid"]
    rendered["Effect"] = statement.get("effect") or "Allow"
    for source, target in (
        ("actions", "Action"),
        ("notActions", "NotAction"),
        ("resources", "Resource"),
        ("notResources", "NotResource"),
    ):
        values = statement.get(source)
        if values:
            rendered[target] = _one_or_many(list(values))
    if statement.get("principals"):
        rendered["Principal"] = _principals(statement["principals"])
    if statement.get("notPrincipals"):
        rendered["NotPrincipal"] = _principals(statement["notPrincipals"])
    conditions: dict[str, dict[str, Any]] = {}
    for condition in statement.get("conditions") or []:
        test = conditions.setdefault(condition["test"], {})
        test[condition["variable"]] = _one_or_many(list(condition.get("values") or []))
    if conditions:
        rendered["Condition"] = conditions
    return rendered


def _get_policy_document(args: Mapping[str, Any], _default_region: str | None) -> dict[str, Any]:
    statements: list[dict[str, Any]] = []
    for source in args.get("sourcePolicyDocuments") or []:
        statements.extend(json.loads(source).get("Statement", []))
    by_sid = {s.get("Sid"): i for i, s in enumerate(statements) if s.get("Sid")}
    for statement in args.get("statements") or []:
        rendered = _render_statement(statement)
        sid = rendered.get("Sid")
        if sid and sid in by_sid:
            statements[by_sid[sid]] = rendered
        else:
            statements.append(rendered)
    for override in args.get("overridePolicyDocuments") or []:
        for statement in json.loads(override).get("Statement", []):
            sid = statement.get("Sid")
            if sid and sid in by_sid:
                statements[by_sid[sid]] = statement
            else:
                statements.append(statement)
    document: dict[str, Any] = {"Version": args.get("version") or "2012-10-17"}
    if args.get("policyId"):
        document["Id"] = args["policyId"]
    document["Statement"] = statements
    pretty = json.dumps(document, indent=2)
    minified = json.dumps(document, separators=(",", ":"))
    return {
        "id": str(int(stable_hex(minified, 8), 16)),
        "json": pretty,
        "minifiedJson": minified,
        "statements": args.get("statements") or [],
        "version": document["Version"],
        "policyId": args.get("policyId"),
        "sourcePolicyDocuments": args.get("sourcePolicyDocuments"),
        "overridePolicyDocuments": args.get("overridePolicyDocuments"),
    }


# -- well-known answers built on the generic one -------------------------------------------------


def _call_region(args: Mapping[str, Any], region: str | None) -> str:
    requested = args.get("region")
    if isinstance(requested, str) and requested:
        return requested
    return region or FALLBACK_REGION


def _shaped(
    token: str, args: Mapping[str, Any], region: str | None, overrides: Mapping[str, Any]
) -> dict[str, Any]:
    """The generic answer, with the fields a user would look at set the way AWS sets them.

    Only fields the result type declares are set, so an override never invents a field.
    """
    info = find_function(token)
    result = plausible_result(info, args, _call_region(args, region))
    result.update({key: value for key, value in overrides.items() if key in result})
    return result


def _filter_value(args: Mapping[str, Any], name: str) -> str | None:
    """The first value of the EC2 filter `name` (`filters=[{"name": ..., "values": [...]}]`)."""
    for entry in args.get("filters") or []:
        if isinstance(entry, Mapping) and entry.get("name") == name:
            values = [v for v in entry.get("values") or [] if isinstance(v, str)]
            if values:
                return values[0]
    return None


def _ec2_id(prefix: str, seed: str) -> str:
    return f"{prefix}-{stable_hex(seed, 17)}"


def _default_vpc_id(region: str) -> str:
    """One default VPC per region, the same whichever function asks for it."""
    return _ec2_id("vpc", f"default-vpc:{region}")


def _ec2_arn(region: str, resource: str) -> str:
    return f"arn:{PARTITION}:ec2:{region}:{ACCOUNT_ID}:{resource}"


def _from_pattern(pattern: str) -> str:
    """An AMI name the filter matches: wildcards filled with a release-like stamp."""
    return pattern.replace("*", "20250101.0").replace("?", "0")


#: Amazon's own AMI owner account, which `owners=["amazon"]` stands for.
_AMAZON_OWNER_ID: Final[str] = "137112412989"


def _get_ami(args: Mapping[str, Any], region: str | None) -> dict[str, Any]:
    token = "aws:ec2/getAmi:getAmi"
    where = _call_region(args, region)
    ami_id = _ec2_id("ami", f"{where}|{call_seed(token, args)}")
    pattern = _filter_value(args, "name")
    name = _from_pattern(pattern) if pattern else f"image-{stable_hex(ami_id, 8)}"
    architecture = _filter_value(args, "architecture") or (
        "arm64" if "arm64" in name or "aarch64" in name else "x86_64"
    )
    owners = [o for o in args.get("owners") or [] if isinstance(o, str)]
    owner = owners[0] if owners else "amazon"
    owner_id = {"amazon": _AMAZON_OWNER_ID, "self": ACCOUNT_ID}.get(
        owner, owner if owner.isdigit() else ACCOUNT_ID
    )
    alias = "amazon" if owner == "amazon" else ""
    snapshot = _ec2_id("snap", ami_id)
    return _shaped(
        token,
        args,
        region,
        {
            "id": ami_id,
            "imageId": ami_id,
            # AMI ARNs carry no account.
            "arn": f"arn:{PARTITION}:ec2:{where}::image/{ami_id}",
            "name": name,
            "description": name,
            "architecture": architecture,
            "ownerId": owner_id,
            "imageOwnerAlias": alias,
            "imageLocation": f"{alias or owner_id}/{name}",
            "imageType": "machine",
            "hypervisor": "xen",
            "platform": "",
            "platformDetails": "Linux/UNIX",
            "usageOperation": "RunInstances",
            "rootDeviceName": "/dev/xvda",
            "rootDeviceType": "ebs",
            "rootSnapshotId": snapshot,
            "virtualizationType": "hvm",
            "bootMode": "uefi-preferred",
            "imdsSupport": "v2.0",
            "tpmSupport": "",
            "uefiData": "",
            "kernelId": "",
            "ramdiskId": "",
            "enaSupport": True,
            "sriovNetSupport": "simple",
            "state": "available",
            "stateReason": {"code": "UNSET", "message": "UNSET"},
            "public": owner == "amazon",
            "productCodes": [],
            "deprecationTime": "2027-01-01T00:00:00Z",
            "lastLaunchedTime": "",
            "blockDeviceMappings": [
                {
                    "deviceName": "/dev/xvda",
                    "ebs": {
                        "delete_on_termination": "true",
                        "encrypted": "false",
                        "iops": "3000",
                        "snapshot_id": snapshot,
                        "throughput": "125",
                        "volume_size": "8",
                        "volume_type": "gp3",
                    },
                    "noDevice": "",
                    "virtualName": "",
                }
            ],
        },
    )


def _get_vpc(args: Mapping[str, Any], region: str | None) -> dict[str, Any]:
    token = "aws:ec2/getVpc:getVpc"
    where = _call_region(args, region)
    default = bool(args.get("default"))
    vpc_id = (
        args.get("id")
        or _filter_value(args, "vpc-id")
        or (_default_vpc_id(where) if default else _ec2_id("vpc", call_seed(token, args)))
    )
    cidr = (
        args.get("cidrBlock")
        or _filter_value(args, "cidr")
        or ("172.31.0.0/16" if default else "10.0.0.0/16")
    )
    return _shaped(
        token,
        args,
        region,
        {
            "id": vpc_id,
            "arn": _ec2_arn(where, f"vpc/{vpc_id}"),
            "cidrBlock": cidr,
            "default": default,
            "state": "available",
            "ownerId": ACCOUNT_ID,
            "enableDnsSupport": True,
            "enableDnsHostnames": default,
            "enableNetworkAddressUsageMetrics": False,
            "instanceTenancy": "default",
            "dhcpOptionsId": _ec2_id("dopt", vpc_id),
            "mainRouteTableId": _ec2_id("rtb", vpc_id),
            "ipv6AssociationId": "",
            "ipv6CidrBlock": "",
            "cidrBlockAssociations": [
                {
                    "associationId": _ec2_id("vpc-cidr-assoc", vpc_id),
                    "cidrBlock": cidr,
                    "state": "associated",
                }
            ],
        },
    )


def _zone_letters(region: str, args: Mapping[str, Any]) -> list[str]:
    """The availability zones subnets are spread over: the filter's, else three per region."""
    for entry in args.get("filters") or []:
        if isinstance(entry, Mapping) and entry.get("name") == "availability-zone":
            zones = [v for v in entry.get("values") or [] if isinstance(v, str)]
            if zones:
                return zones
    return [f"{region}{letter}" for letter in "abc"]


def _get_subnets(args: Mapping[str, Any], region: str | None) -> dict[str, Any]:
    token = "aws:ec2/getSubnets:getSubnets"
    where = _call_region(args, region)
    seed = call_seed(token, args)
    ids = [_ec2_id("subnet", f"{seed}|{zone}") for zone in _zone_letters(where, args)]
    return _shaped(token, args, region, {"id": where, "ids": ids})


def _zone_number(zone: str) -> int:
    """eu-west-1b -> 2: the zone's letter as the number in its zone id."""
    letter = zone[-1:].lower()
    return ord(letter) - ord("a") + 1 if letter.isalpha() else 1


def _get_subnet(args: Mapping[str, Any], region: str | None) -> dict[str, Any]:
    token = "aws:ec2/getSubnet:getSubnet"
    where = _call_region(args, region)
    subnet_id = (
        args.get("id")
        or _filter_value(args, "subnet-id")
        or _ec2_id("subnet", f"{where}|{call_seed(token, args)}")
    )
    default_for_az = bool(args.get("defaultForAz") or _filter_value(args, "default-for-az"))
    zone = args.get("availabilityZone") or _filter_value(args, "availability-zone") or f"{where}a"
    cidr = (
        args.get("cidrBlock")
        or _filter_value(args, "cidr-block")
        or ("172.31.0.0/20" if default_for_az else "10.0.1.0/24")
    )
    vpc_id = args.get("vpcId") or _filter_value(args, "vpc-id") or _default_vpc_id(where)
    return _shaped(
        token,
        args,
        region,
        {
            "id": subnet_id,
            "arn": _ec2_arn(where, f"subnet/{subnet_id}"),
            "vpcId": vpc_id,
            "availabilityZone": zone,
            "availabilityZoneId": f"{zone_id_prefix(where)}-az{_zone_number(zone)}",
            "cidrBlock": cidr,
            "defaultForAz": default_for_az,
            "mapPublicIpOnLaunch": default_for_az,
            "availableIpAddressCount": 4091 if default_for_az else 251,
            "state": "available",
            "ownerId": ACCOUNT_ID,
            "ipv6CidrBlock": "",
            "ipv6CidrBlockAssociationId": "",
            "customerOwnedIpv4Pool": "",
            "outpostArn": "",
        },
    )


def _get_security_group(args: Mapping[str, Any], region: str | None) -> dict[str, Any]:
    token = "aws:ec2/getSecurityGroup:getSecurityGroup"
    where = _call_region(args, region)
    group_id = (
        args.get("id")
        or _filter_value(args, "group-id")
        or _ec2_id("sg", f"{where}|{call_seed(token, args)}")
    )
    name = args.get("name") or _filter_value(args, "group-name") or "default"
    vpc_id = args.get("vpcId") or _filter_value(args, "vpc-id") or _default_vpc_id(where)
    return _shaped(
        token,
        args,
        region,
        {
            "id": group_id,
            "arn": _ec2_arn(where, f"security-group/{group_id}"),
            "name": name,
            "vpcId": vpc_id,
            "description": (
                "default VPC security group" if name == "default" else f"{name} security group"
            ),
        },
    )


def _pem(label: str, seed: str) -> str:
    body = stable_token(seed, 64, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----"


def _get_certificate(args: Mapping[str, Any], region: str | None) -> dict[str, Any]:
    token = "aws:acm/getCertificate:getCertificate"
    where = _call_region(args, region)
    domain = args.get("domain")
    if not isinstance(domain, str) or not domain:
        if not args.get("tags"):
            raise ProgramError(f"{token} needs 'domain' or 'tags' to find a certificate")
        domain = f"cert-{stable_hex(call_seed(token, args), 6)}.example.com"
    arn = f"arn:{PARTITION}:acm:{where}:{ACCOUNT_ID}:certificate/{stable_uuid(where + domain)}"
    return _shaped(
        token,
        args,
        region,
        {
            "id": arn,
            "arn": arn,
            "domain": domain,
            "status": "ISSUED",
            "types": list(args.get("types") or ["AMAZON_ISSUED"]),
            "keyTypes": list(args.get("keyTypes") or ["RSA_2048"]),
            "certificate": _pem("CERTIFICATE", arn),
            "certificateChain": _pem("CERTIFICATE", "chain:" + arn),
        },
    )


#: What a Lambda function's role trusts: a real trust policy, so programs can parse it.
_LAMBDA_TRUST_POLICY: Final[str] = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def _get_role(args: Mapping[str, Any], region: str | None) -> dict[str, Any]:
    token = "aws:iam/getRole:getRole"
    name = str(args.get("name"))
    return _shaped(
        token,
        args,
        region,
        {
            "id": name,
            "name": name,
            "arn": f"arn:{PARTITION}:iam::{ACCOUNT_ID}:role/{name}",
            "path": "/",
            "uniqueId": "AROA" + stable_token(name, 17, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"),
            "assumeRolePolicy": _LAMBDA_TRUST_POLICY,
            "createDate": FIXED_TIMESTAMP,
            "description": "",
            "maxSessionDuration": 3600,
            "permissionsBoundary": "",
        },
    )


def _get_policy(args: Mapping[str, Any], region: str | None) -> dict[str, Any]:
    token = "aws:iam/getPolicy:getPolicy"
    arn = args.get("arn")
    path = args.get("pathPrefix") or "/"
    if isinstance(arn, str) and arn:
        name = arn.rsplit("/", 1)[-1]
        path = "/" + arn.split(":policy/", 1)[-1].rpartition(name)[0].lstrip("/")
    else:
        given = args.get("name")
        if not isinstance(given, str) or not given:
            raise ProgramError(f"{token} needs 'arn' or 'name'")
        name = given
        arn = f"arn:{PARTITION}:iam::{ACCOUNT_ID}:policy{path}{name}"
    return _shaped(
        token,
        args,
        region,
        {
            "id": arn,
            "arn": arn,
            "name": name,
            "path": path,
            "policyId": "ANPA" + stable_token(arn, 17, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"),
            "policy": json.dumps({"Version": "2012-10-17", "Statement": []}),
            "description": "",
            "attachmentCount": 1,
        },
    )


#: The Powertools for AWS Lambda (Python) public parameters: AWS publishes one per architecture,
#: runtime and release (or `latest`) in every commercial region; the value is the layer version
#: ARN in that region, from the Powertools account.
_POWERTOOLS_PARAMETER: Final[re.Pattern[str]] = re.compile(
    r"^/aws/service/powertools/python/(?P<arch>[^/]+)/(?P<runtime>[^/]+)/(?P<release>[^/:]+)$"
)
_POWERTOOLS_ACCOUNT: Final[str] = "017000801446"
_POWERTOOLS_ARCHITECTURES: Final[tuple[str, ...]] = ("arm64", "x86_64")
_POWERTOOLS_RUNTIME: Final[re.Pattern[str]] = re.compile(r"^python3\.(9|1[0-9])$")
_POWERTOOLS_RELEASE: Final[re.Pattern[str]] = re.compile(r"^3\.(\d+)\.(\d+)$")
#: What `latest` stands for offline: a recent release (no cloud to ask which is newest).
_POWERTOOLS_LATEST_OFFLINE: Final[str] = "3.37.0"


def _powertools_layer_version(release: str) -> int:
    """A plausible layer version for a release. Layers get one version per published release
    and the numbers differ per layer; 3.23.0 was version 27 of the python3.13 layers, so
    minor + 4 (+ patch) lands near the real number without claiming to be it."""
    match = _POWERTOOLS_RELEASE.match(release)
    assert match is not None
    return int(match.group(1)) + 4 + int(match.group(2))


def _powertools_parameter(name: str, where: str) -> dict[str, Any] | None:
    """The value and version of a Powertools public parameter; None for any other name."""
    found = _POWERTOOLS_PARAMETER.match(name)
    if found is None:
        return None
    arch, runtime, release = found.group("arch", "runtime", "release")
    published = (
        arch in _POWERTOOLS_ARCHITECTURES
        and _POWERTOOLS_RUNTIME.match(runtime) is not None
        and (release == "latest" or _POWERTOOLS_RELEASE.match(release) is not None)
    )
    if not published:
        # What SSM answers for a name nobody published.
        raise ProgramError(
            f"ParameterNotFound: {name} does not exist in {where} (Powertools publishes "
            "/aws/service/powertools/python/<arm64|x86_64>/<python3.x>/<3.x.y|latest>)"
        )
    concrete = _POWERTOOLS_LATEST_OFFLINE if release == "latest" else release
    layer = f"AWSLambdaPowertoolsPythonV3-{runtime.replace('.', '')}-{arch}"
    version = _powertools_layer_version(concrete)
    return {
        "value": f"arn:{PARTITION}:lambda:{where}:{_POWERTOOLS_ACCOUNT}:layer:{layer}:{version}",
        # `latest` is rewritten on every release; a release's own parameter is written once.
        "version": version if release == "latest" else 1,
    }


def _get_parameter(args: Mapping[str, Any], region: str | None) -> dict[str, Any] | None:
    """AWS's public parameters the answer is known for (the Powertools layer ARNs); None leaves
    any other parameter to the generic answer."""
    token = "aws:ssm/getParameter:getParameter"
    name = args.get("name")
    if not isinstance(name, str):
        return None
    where = _call_region(args, region)
    # `name:3` (a version) and `name:label` select the same parameter.
    bare = name.split(":", 1)[0]
    published = _powertools_parameter(bare, where)
    if published is None:
        return None
    # Public parameters belong to no account: their ARNs leave it out.
    return _shaped(
        token,
        args,
        region,
        {
            "id": bare,
            "name": bare,
            "arn": f"arn:{PARTITION}:ssm:{where}::parameter{bare}",
            "type": "String",
            "value": published["value"],
            "insecureValue": published["value"],
            "version": published["version"],
            "withDecryption": args.get("withDecryption") is not False,
        },
    )


ProviderCall = Callable[[Mapping[str, Any], "str | None"], dict[str, Any]]
#: Token -> answer for some arguments only (None: answer generically), e.g. AWS's public SSM
#: parameters among a program's own.
SelectiveCall = Callable[[Mapping[str, Any], "str | None"], "dict[str, Any] | None"]

#: Token -> answer. Keep the tokens exactly as pulumi-aws invokes them.
PROVIDER_CALLS: Final[dict[str, ProviderCall]] = {
    "aws:route53/getZone:getZone": _get_zone,
    "aws:index/getCallerIdentity:getCallerIdentity": _get_caller_identity,
    "aws:index/getRegion:getRegion": _get_region,
    "aws:index/getPartition:getPartition": _get_partition,
    "aws:iam/getPolicyDocument:getPolicyDocument": _get_policy_document,
    "aws:index/getAvailabilityZones:getAvailabilityZones": _get_availability_zones,
    "aws:ec2/getAmi:getAmi": _get_ami,
    "aws:ec2/getVpc:getVpc": _get_vpc,
    "aws:ec2/getSubnets:getSubnets": _get_subnets,
    "aws:ec2/getSubnet:getSubnet": _get_subnet,
    "aws:ec2/getSecurityGroup:getSecurityGroup": _get_security_group,
    "aws:acm/getCertificate:getCertificate": _get_certificate,
    "aws:iam/getRole:getRole": _get_role,
    "aws:iam/getPolicy:getPolicy": _get_policy,
}


#: Token -> an answer for the arguments it knows (the rest are answered generically).
SELECTIVE_CALLS: Final[dict[str, SelectiveCall]] = {
    "aws:ssm/getParameter:getParameter": _get_parameter,
}


@dataclass(frozen=True)
class CallAnswer:
    """A provider function's answer and how it was made."""

    result: dict[str, Any]
    #: WELL_KNOWN (hand-written) or GENERIC (built from the result type).
    kind: str


@dataclass(frozen=True)
class ProviderCallRecord:
    """One provider function the program called, as the reports list it."""

    token: str
    #: The arguments the program gave (unset ones left out, secrets masked).
    arguments: dict[str, Any]
    #: WELL_KNOWN, GENERIC, or REFUSED (not a pulumi-aws function).
    kind: str
    region: str | None = None
    #: Why the call failed, as the program was told; None when it was answered.
    failure: str | None = None
    #: The URN of the resource this program itself registers that the call looks up: on a new
    #: stack it does not exist yet when the lookup runs, so a real preview would not find it.
    own_resource: str | None = None

    def to_json(self) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "token": self.token,
            "arguments": self.arguments,
            "answer": self.kind,
            "region": self.region,
        }
        if self.failure is not None:
            shown["failure"] = self.failure
        if self.own_resource is not None:
            shown["notFoundOnNewStack"] = {
                "urn": self.own_resource,
                "reason": NOT_FOUND_ON_NEW_STACK,
            }
        return shown


#: Why a lookup of the program's own resource is flagged, as the reports say it.
NOT_FOUND_ON_NEW_STACK: Final[str] = (
    "would not be found on a new stack: it looks up a resource this program creates, which a "
    "real preview (or the first `pulumi up`) runs before the resource exists; use the "
    "resource's own outputs instead"
)


def _identity_keys(kind: str) -> frozenset[str]:
    """Inputs that name a resource of `kind` (`queue`): `name`, `bucket`, `queueName`."""
    return frozenset({"name", "bucket", f"{kind}Name"})


def _last_segment(value: str) -> str:
    """An ARN's or URL's trailing name: `arn:aws:sqs:...:jobs` and `https://.../jobs` -> jobs."""
    if value.startswith(("arn:", "https://")):
        return re.split(r"[:/]", value.rstrip("/"))[-1]
    return value


def _lookup_names(arguments: Mapping[str, Any], kind: str) -> set[str]:
    """The names a lookup asks for: by name, or by ARN / URL / id ending in the name."""
    keys = _identity_keys(kind) | {"arn", "id", "url", f"{kind}Arn", f"{kind}Url", f"{kind}Id"}
    return {
        _last_segment(value)
        for key, value in arguments.items()
        if key in keys and isinstance(value, str) and value and value != UNKNOWN_SHOWN
    }


def _resource_names(resource: RegisteredResource, kind: str) -> set[str]:
    """The names a resource of the program goes by: its literal name inputs, and the auto-name
    the provider's Check gives it when it has none (`<logical name>-<7 hex>`, known at preview:
    a lookup by `queue.name` asks for exactly that)."""
    literal = {
        value
        for key, value in resource.inputs.items()
        if key in _identity_keys(kind) and isinstance(value, str) and value and value != UNKNOWN
    }
    return literal or {autoname(resource.name, resource.urn)}


def _family(type_token: str) -> tuple[str, str] | None:
    """`aws:sqs/getQueue:getQueue` and `aws:sqs/queue:Queue` -> ("sqs", "queue");
    `aws:cloudwatch/getLogGroup:getLogGroup` -> ("cloudwatch", "logGroup")."""
    parts = type_token.split(":")
    if len(parts) != 3 or parts[0] != AWS_PACKAGE_NAME:
        return None
    module = parts[1].split("/")[0]
    kind = parts[2]
    if kind.startswith("get") and kind[3:4].isupper():
        kind = kind[3:]
    return module, kind[:1].lower() + kind[1:]


def _same_family(function: tuple[str, str], resource: tuple[str, str]) -> bool:
    """A lookup and a resource of one kind: getQueue/Queue, getBucket/BucketV2,
    getFunction/Function (getQueues, a list, is not)."""
    wanted, kind = function[1].lower(), resource[1].lower()
    return function[0] == resource[0] and (kind == wanted or kind.startswith(wanted + "v"))


class RegisteredResource(Protocol):
    """What matching a lookup needs of one resource the program registers (a Registration)."""

    @property
    def urn(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def inputs(self) -> dict[str, Any]: ...
    #: Read (`Resource.get`), not created: an existing resource, found on a new stack too.
    @property
    def read(self) -> bool: ...


def mark_own_lookups(
    calls: Sequence[ProviderCallRecord], resources: Sequence[RegisteredResource]
) -> list[ProviderCallRecord]:
    """The calls, each lookup of a resource the program itself registers (same service and
    kind, an argument naming it by name/ARN/id/URL equal to one of its literal inputs) marked
    with that resource's URN."""
    by_family: dict[tuple[str, str], list[RegisteredResource]] = {}
    for resource in resources:
        family = None if resource.read else _family(resource.type)
        if family is not None:
            by_family.setdefault(family, []).append(resource)
    marked: list[ProviderCallRecord] = []
    for call in calls:
        family = _family(call.token)
        own = None
        if family is not None and call.failure is None:
            named = _lookup_names(call.arguments, family[1])
            for resource_family, candidates in by_family.items():
                if not named or not _same_family(family, resource_family):
                    continue
                own = next(
                    (r.urn for r in candidates if named & _resource_names(r, family[1])),
                    None,
                )
                if own is not None:
                    break
        marked.append(call if own is None else replace(call, own_resource=own))
    return marked


def _refuse(token: str) -> UnsupportedProviderCall:
    package = token.split(":", 1)[0]
    return UnsupportedProviderCall(
        f"the offline preview cannot answer provider function '{token}': it answers every "
        f"function of the installed pulumi-aws, and '{package}' functions are not among them "
        "(no cloud to ask). Pass the value through config instead, or run `pulumi preview` "
        "with credentials"
    )


def _check_required(info: FunctionInfo, args: Mapping[str, Any]) -> None:
    missing = missing_required(info, args)
    if missing:
        names = ", ".join(f"'{name}'" for name in missing)
        raise ProgramError(f"missing required argument {names} (the provider refuses the call)")


def _is_unknown(value: Any) -> bool:
    return isinstance(value, Unknown) or value == UNKNOWN


def provider_view(value: Any) -> Any:
    """The arguments as the provider receives them at preview: every unknown value left out.

    A plain invoke whose arguments hold an unknown at the top level (or inside a nested object)
    never reaches the engine: the Python SDK answers it unknown itself (pulumi
    `sdk/python/lib/pulumi/runtime/invoke.py`, `_invoke`: `if rpc.struct_contains_unknowns(inputs):
    return InvokeResult(None, is_known=False)`), and the same SDK runs here. But
    `struct_contains_unknowns` (`runtime/rpc.py`) looks into nested objects only, not into lists
    of plain values, so `statements=[{"resources": [queue.arn]}]` is sent. The engine keeps the
    unknown (`pkg/resource/deploy/source_eval.go`, `resmon.Invoke`, KeepUnknowns), then marshals
    the arguments for the provider without KeepUnknowns
    (`sdk/go/common/resource/plugin/provider_plugin.go` `provider.Invoke`, line 2237), and
    `MarshalPropertyValue` (`sdk/go/common/resource/plugin/rpc.go` line 202) returns nil for an
    unknown, which `MarshalProperties` (line 115) and arrays (line 165) leave out. The provider
    answers what is left, and its answer is known (pulumi/pulumi 1b5949891b).
    """
    if isinstance(value, Mapping):
        return {key: provider_view(item) for key, item in value.items() if not _is_unknown(item)}
    if isinstance(value, list | tuple):
        return [provider_view(item) for item in value if not _is_unknown(item)]
    return value


def holds_unknown(value: Any) -> bool:
    if _is_unknown(value):
        return True
    if isinstance(value, Mapping):
        return any(holds_unknown(item) for item in value.values())
    if isinstance(value, list | tuple):
        return any(holds_unknown(item) for item in value)
    return False


def answer_call(token: str, args: Mapping[str, Any], region: str | None) -> CallAnswer:
    """Answer `token` as the provider would; ProgramError when the provider would refuse.

    `region` is the call's provider's region (or the stack's); an explicit `region` argument
    wins over it, as in the provider. Unknown values are left out of the arguments, as the engine
    leaves them out (see provider_view), and every argument the answer echoes is typed as the
    SDK declares it (function_results.coerce_value), as the provider types it.
    """
    try:
        info: FunctionInfo | None = find_function(token)
    except UnknownFunction:
        info = None
    handler = PROVIDER_CALLS.get(token)
    if info is None and handler is None:
        raise _refuse(token)
    args = provider_view(args)
    if info is not None:
        try:
            args = coerce_arguments(info, args)
        except ArgumentTypeError as error:
            raise ProgramError(
                f"invalid argument {error} (the provider refuses the call)"
            ) from None
        _check_required(info, args)
    if handler is not None:
        return CallAnswer(result=handler(args, region), kind=WELL_KNOWN)
    assert info is not None
    selective = SELECTIVE_CALLS.get(token)
    known = selective(args, region) if selective is not None else None
    if known is not None:
        return CallAnswer(result=known, kind=WELL_KNOWN)
    return CallAnswer(result=plausible_result(info, args, _call_region(args, region)), kind=GENERIC)


def answer_provider_call(
    token: str, args: Mapping[str, Any], default_region: str | None
) -> dict[str, Any]:
    """The answer alone (the well-known ones and the generic ones alike)."""
    return answer_call(token, args, default_region).result


def recorded_arguments(args: Mapping[str, Any], secrets: Sequence[str]) -> dict[str, Any]:
    """The arguments for the report: unset ones left out, secret config values masked.

    The SDK unwraps secrets before it invokes, so a secret config value reaches the mocks in
    plain text: recognise it by value and never write it into a report.
    """
    hidden = {value for value in secrets if value}

    def mask(value: Any) -> Any:
        if _is_unknown(value):
            return UNKNOWN_SHOWN
        if isinstance(value, str) and value in hidden:
            return "[secret]"
        if isinstance(value, Mapping):
            return {key: mask(item) for key, item in value.items()}
        if isinstance(value, list):
            return [mask(item) for item in value]
        return value

    given = plain_arguments(args)
    return {key: mask(given[key]) for key in sorted(given)}


def describe_arguments(arguments: Mapping[str, Any], width: int = 80) -> str:
    """`name=example.com, privateZone=false`, shortened for one report line."""
    text = ", ".join(
        f"{key}={json.dumps(value, sort_keys=True, default=str)}"
        for key, value in arguments.items()
    )
    text = re.sub(r"\s+", " ", text)
    return text if len(text) <= width else text[: width - 3] + "..."
