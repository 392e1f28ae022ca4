"""A small DSL for writing stacks as the engine reports them to a policy pack.

A fixture declares resources with their inputs; a value that comes from another resource's
output is written `other.out("arn")`. The same declaration then renders two ways:

- known (`pulumi up` of an existing stack): every reference resolves to a plausible output
  value, and AnalyzeStack sees inputs merged with outputs;
- preview (a new stack): every reference to a computed output is the engine's unknown
  sentinel (an output that echoes an input, like a stage's name, stays known), and a string
  built from an unknown (`Concat`, `JsonOf`) is unknown as a whole.

Both carry the property dependencies the engine would send (the URNs each input came from).
`engine_snapshots` renders the same declaration in the shapes the real engine sends, through
the offline preview's model of the engine: a new stack's preview (checked inputs to Analyze,
planned state to AnalyzeStack) and outputs only (known state, no Analyze, no links).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from offline.engine.engine_shape import (
    Identity,
    checked_inputs,
    holds_unknown,
    planned_state,
    schema_for,
)
from offline.engine.fake_outputs import ResourceFacts, known_state
from offline.policy.analyzer import UNKNOWN_STRING, ResourceSnapshot

#: The engine's shapes a fixture can be rendered in (see `StackBuilder.engine_snapshots`), next
#: to the builder's own two: known ("update") and inputs at preview ("inputs").
UPDATE = "update"
INPUTS = "inputs"
ENGINE_PREVIEW = "engine-preview"
OUTPUTS_ONLY = "outputs-only"
SHAPES = (UPDATE, INPUTS, ENGINE_PREVIEW, OUTPUTS_ONLY)

ACCOUNT = "123456789012"
PROJECT = "resilient-serverless"
STACK_TYPE = "pulumi:pulumi:Stack"


@dataclass(frozen=True)
class Out:
    """An output of another resource (`path` walks into a structured output)."""

    resource: Resource
    attribute: str
    path: tuple[str | int, ...] = ()


@dataclass(frozen=True)
class Concat:
    """A string interpolated from literals and outputs (`pulumi.Output.concat`)."""

    parts: tuple[Any, ...]


@dataclass(frozen=True)
class JsonOf:
    """A JSON string rendered from a structure holding outputs (`pulumi.Output.json_dumps`)."""

    value: Any


def concat(*parts: Any) -> Concat:
    return Concat(parts)


@dataclass(eq=False)
class Resource:
    urn: str
    type: str
    name: str
    inputs: dict[str, Any]
    parent: str = ""
    custom: bool = True
    outputs: dict[str, Any] = field(default_factory=dict)
    #: The `protect` resource option, which the engine sends with the resource's options.
    protect: bool = False

    def out(self, attribute: str, *path: str | int) -> Out:
        return Out(self, attribute, path)

    @property
    def region(self) -> str:
        region = self.inputs.get("region")
        return region if isinstance(region, str) else "us-east-1"


def _physical(resource: Resource) -> str:
    name = resource.inputs.get("name")
    return name if isinstance(name, str) else f"{resource.name}-a1b2c3d"


def _default_outputs(resource: Resource) -> dict[str, Any]:
    region, physical = resource.region, _physical(resource)
    kind = resource.type
    arn_prefix = f"arn:aws:{kind.split(':')[1].split('/')[0]}:{region}:{ACCOUNT}"
    makers: dict[str, Callable[[], dict[str, Any]]] = {
        "aws:sqs/queue:Queue": lambda: {
            "arn": f"arn:aws:sqs:{region}:{ACCOUNT}:{physical}",
            "url": f"https://sqs.{region}.amazonaws.com/{ACCOUNT}/{physical}",
            "id": f"https://sqs.{region}.amazonaws.com/{ACCOUNT}/{physical}",
        },
        "aws:lambda/function:Function": lambda: {
            "arn": f"arn:aws:lambda:{region}:{ACCOUNT}:function:{physical}",
            "invokeArn": (
                f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/"
                f"arn:aws:lambda:{region}:{ACCOUNT}:function:{physical}/invocations"
            ),
            "id": physical,
        },
        "aws:iam/role:Role": lambda: {
            "arn": f"arn:aws:iam::{ACCOUNT}:role/{physical}",
            "id": physical,
        },
        "aws:iam/policy:Policy": lambda: {
            "arn": f"arn:aws:iam::{ACCOUNT}:policy/{physical}",
            "id": f"arn:aws:iam::{ACCOUNT}:policy/{physical}",
        },
        "aws:cloudwatch/logGroup:LogGroup": lambda: {
            "arn": f"arn:aws:logs:{region}:{ACCOUNT}:log-group:{physical}",
            "id": physical,
        },
        "aws:apigateway/restApi:RestApi": lambda: {
            "id": f"{resource.name[:4]}api01",
            "rootResourceId": "root01",
            "executionArn": f"arn:aws:execute-api:{region}:{ACCOUNT}:{resource.name[:4]}api01",
        },
        "aws:apigateway/stage:Stage": lambda: {"id": f"stage-{physical}"},
        "aws:apigateway/domainName:DomainName": lambda: {
            "regionalDomainName": f"d-{region}.execute-api.{region}.amazonaws.com",
            "regionalZoneId": "Z1UJRXOUMOOFQ8",
            "id": f"domain-{region}",
        },
        "aws:dynamodb/table:Table": lambda: {
            "arn": f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{physical}",
            "streamArn": (
                f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{physical}/stream/2026-01-01T00:00:00"
            ),
            "id": physical,
        },
        "aws:kinesis/stream:Stream": lambda: {
            "arn": f"arn:aws:kinesis:{region}:{ACCOUNT}:stream/{physical}",
            "id": physical,
        },
        "aws:acm/certificate:Certificate": lambda: {
            "arn": f"arn:aws:acm:{region}:{ACCOUNT}:certificate/{physical}",
            "domainValidationOptions": [
                {
                    "domainName": resource.inputs.get("domainName"),
                    "resourceRecordName": "_x1.tasks.example.com.",
                    "resourceRecordType": "CNAME",
                    "resourceRecordValue": "_x2.acm-validations.aws.",
                }
            ],
        },
        "aws:route53/record:Record": lambda: {"fqdn": resource.inputs.get("name")},
    }
    made = {"id": f"{physical}-id", "arn": f"{arn_prefix}:{physical}", "name": physical}
    made.update(makers.get(kind, dict)())
    return made


class StackBuilder:
    """Collects resources; renders them as ResourceSnapshots, known or as a preview."""

    def __init__(self, stack: str = "test", project: str = PROJECT) -> None:
        self.stack = stack
        self.project = project
        self.resources: list[Resource] = []
        self._qualified_types: dict[str, str] = {}

    def add(
        self,
        type_: str,
        name: str,
        inputs: dict[str, Any] | None = None,
        *,
        parent: Resource | None = None,
        custom: bool = True,
        outputs: dict[str, Any] | None = None,
    ) -> Resource:
        qualified = type_
        if parent is not None and parent.type != STACK_TYPE:
            # Children carry their ancestors' types in the URN; the stack's own type is omitted.
            qualified = f"{self._qualified_types[parent.urn]}${type_}"
        urn = f"urn:pulumi:{self.stack}::{self.project}::{qualified}::{name}"
        if any(existing.urn == urn for existing in self.resources):
            raise ValueError(f"fixture declares {urn} twice")
        resource = Resource(
            urn=urn,
            type=type_,
            name=name,
            inputs=dict(inputs or {}),
            parent=parent.urn if parent is not None else "",
            custom=custom,
        )
        if custom:
            resource.outputs = {**_default_outputs(resource), **(outputs or {})}
        self._qualified_types[urn] = qualified
        self.resources.append(resource)
        return resource

    def component(self, type_: str, name: str, parent: Resource | None = None) -> Resource:
        return self.add(type_, name, parent=parent, custom=False)

    def named(self, name: str) -> Resource:
        matches = [resource for resource in self.resources if resource.name == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} fixture resources are named {name!r}")
        return matches[0]

    def remove(self, resource: Resource) -> None:
        self.resources.remove(resource)

    def engine_snapshots(self, shape: str) -> tuple[list[ResourceSnapshot], list[ResourceSnapshot]]:
        """(what Analyze gets, what AnalyzeStack gets) in one of the engine's shapes, computed by
        the offline preview's model of the engine (`offline.engine.engine_shape`):

        - ENGINE_PREVIEW: a new stack's preview. Analyze: the checked inputs (autonames,
          Terraform defaults, `tagsAll`, `__defaults`); AnalyzeStack: the provider's planned
          state (computed properties unknown even when unset, maps and plain lists holding an
          unknown blanked as a whole), with dependencies.
        - OUTPUTS_ONLY: no Analyze; AnalyzeStack: the known state of every property and no
          dependency links at all.
        """
        analyze: list[ResourceSnapshot] = []
        stack: list[ResourceSnapshot] = []
        preview = shape == ENGINE_PREVIEW
        for resource in self.resources:
            snapshot = self.snapshot(resource, preview=preview, autonames=preview)
            if not resource.custom:
                stack.append(snapshot if preview else _unlinked(snapshot))
                continue
            identity = Identity(
                resource.type, resource.name, resource.urn, resource.region, _physical(resource)
            )
            checked = checked_inputs(identity, snapshot.properties)
            if preview:
                analyze.append(_with_properties(snapshot, checked))
                stack.append(_with_properties(snapshot, planned_state(identity, checked)))
                continue
            facts = ResourceFacts(
                resource.type, resource.name, resource.urn, resource.region, checked
            )
            _, state = known_state(facts)
            # The fixture's own outputs are what its references resolve to: they win.
            state.update(resource.outputs)
            state.update({k: v for k, v in snapshot.properties.items() if k != "id"})
            stack.append(_unlinked(_with_properties(snapshot, state)))
        return analyze, stack

    def snapshots(
        self, *, preview: bool, with_outputs: bool | None = None
    ) -> list[ResourceSnapshot]:
        """The stack as AnalyzeStack gets it (inputs, plus outputs when not a preview)."""
        include_outputs = (not preview) if with_outputs is None else with_outputs
        return [
            self.snapshot(resource, preview=preview, with_outputs=include_outputs)
            for resource in self.resources
        ]

    def snapshot(
        self,
        resource: Resource,
        *,
        preview: bool,
        with_outputs: bool = False,
        autonames: bool = False,
    ) -> ResourceSnapshot:
        properties: dict[str, Any] = {}
        property_dependencies: dict[str, list[str]] = {}
        for key, value in resource.inputs.items():
            if value is None:
                continue
            properties[key] = _render(value, preview, autonames)
            sources = _sources(value)
            if sources:
                property_dependencies[key] = sources
        if with_outputs:
            properties = {**resource.outputs, **properties}
        dependencies = sorted({urn for urns in property_dependencies.values() for urn in urns})
        return ResourceSnapshot(
            urn=resource.urn,
            type=resource.type,
            name=resource.name,
            properties=properties,
            parent=resource.parent,
            dependencies=dependencies,
            property_dependencies=property_dependencies,
            custom=resource.custom,
            protect=resource.protect,
        )


def _with_properties(snapshot: ResourceSnapshot, properties: dict[str, Any]) -> ResourceSnapshot:
    return replace(snapshot, properties=properties)


def _unlinked(snapshot: ResourceSnapshot) -> ResourceSnapshot:
    return replace(snapshot, dependencies=[], property_dependencies={})


def _sources(value: Any) -> list[str]:
    found: list[str] = []

    def walk(item: Any) -> None:
        if isinstance(item, Out):
            if item.resource.urn not in found:
                found.append(item.resource.urn)
        elif isinstance(item, Concat):
            for part in item.parts:
                walk(part)
        elif isinstance(item, JsonOf):
            walk(item.value)
        elif isinstance(item, dict):
            for nested in item.values():
                walk(nested)
        elif isinstance(item, (list, tuple)):
            for nested in item:
                walk(nested)

    walk(value)
    return found


def _render(value: Any, preview: bool, autonames: bool = False) -> Any:
    if isinstance(value, Out):
        if preview:
            # A new resource's planned outputs echo its inputs: those are known in a preview.
            echoed = value.resource.inputs.get(value.attribute)
            if not value.path and echoed is not None:
                return _render(echoed, preview, autonames)
            if autonames and not value.path and value.attribute == "name":
                # The provider's Check names the resource before the preview plans it.
                schema = schema_for(value.resource.type)
                if schema is not None and schema.autonamed:
                    return _physical(value.resource)
            return UNKNOWN_STRING
        if value.attribute not in value.resource.outputs:
            raise KeyError(
                f"{value.resource.name} has no output {value.attribute!r} in the fixture"
            )
        found = value.resource.outputs[value.attribute]
        for step in value.path:
            found = found[step]
        return found
    if isinstance(value, Concat):
        parts = [_render(part, preview, autonames) for part in value.parts]
        if preview and UNKNOWN_STRING in parts:
            return UNKNOWN_STRING
        return "".join(str(part) for part in parts)
    if isinstance(value, JsonOf):
        rendered = _render(value.value, preview, autonames)
        if preview and holds_unknown(rendered):
            return UNKNOWN_STRING
        return json.dumps(rendered)
    if isinstance(value, dict):
        return {
            key: _render(item, preview, autonames)
            for key, item in value.items()
            if item is not None
        }
    if isinstance(value, (list, tuple)):
        return [_render(item, preview, autonames) for item in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return float(value)  # the engine sends every number as a float
    return value
