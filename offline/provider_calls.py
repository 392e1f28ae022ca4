"""Answers to the provider functions (invokes) programs commonly call, without AWS.

Each answer has the shape the provider returns (engine names, camelCase), with values a program
can build on: a hosted zone id derived from the zone's name, the documentation account, the
requested region, and an IAM policy document rendered from its statements to real JSON.
An invoke this module does not know ends the run with an error that names its token.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Final

from .errors import ProgramError
from .fake_outputs import ACCOUNT_ID, PARTITION, hosted_zone_id, stable_hex, stable_token


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


def _zone_id_abbreviation(region: str) -> str:
    """us-east-1 -> use1, ap-southeast-2 -> apse2: the prefix of AWS's zone ids."""
    directions = {
        "north": "n",
        "south": "s",
        "east": "e",
        "west": "w",
        "central": "c",
        "northeast": "ne",
        "northwest": "nw",
        "southeast": "se",
        "southwest": "sw",
    }
    parts = region.split("-")
    if len(parts) < 3:
        return region.replace("-", "")
    country, *middle, number = parts
    return country + "".join(directions.get(part, part[:1]) for part in middle) + number


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
    prefix = _zone_id_abbreviation(region)
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


ProviderCall = Callable[[Mapping[str, Any], "str | None"], dict[str, Any]]

#: Token -> answer. Keep the tokens exactly as pulumi-aws invokes them.
PROVIDER_CALLS: Final[dict[str, ProviderCall]] = {
    "aws:route53/getZone:getZone": _get_zone,
    "aws:index/getCallerIdentity:getCallerIdentity": _get_caller_identity,
    "aws:index/getRegion:getRegion": _get_region,
    "aws:index/getPartition:getPartition": _get_partition,
    "aws:iam/getPolicyDocument:getPolicyDocument": _get_policy_document,
    "aws:index/getAvailabilityZones:getAvailabilityZones": _get_availability_zones,
}


def answer_provider_call(
    token: str, args: Mapping[str, Any], default_region: str | None
) -> dict[str, Any]:
    handler = PROVIDER_CALLS.get(token)
    if handler is None:
        supported = ", ".join(sorted(PROVIDER_CALLS))
        raise UnsupportedProviderCall(
            f"the offline preview cannot answer provider function '{token}' (no cloud to ask); "
            f"it answers: {supported}. Pass the value through config instead, or run "
            "`pulumi preview` with credentials"
        )
    return handler(args, default_region)
