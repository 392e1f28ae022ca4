"""What the Pulumi engine sends a policy pack for a resource, derived from the provider SDK.

This is a model of someone else's system, kept in one place and used by every mode of the
offline preview and by the policy tests. Its sources, read (no CLI could be run here) at
pulumi/pulumi 1b5949891b (2026-08-21) and pulumi/pulumi-terraform-bridge 59de6c661d
(2026-08-05):

- pulumi/pulumi `pkg/resource/deploy/step_generator.go`: after `checkInputs`,
  `inputs = resp.Properties` is what `Analyze` gets, per resource, before its step is chosen
  (remediations first, then analysis, on the same inputs).
- the same file, `AnalyzeResources` (called from `deployment_executor.go` once every step has
  run): "AnalyzeStack is called on the final outputs of each resource" (`v.Outputs`: in a
  preview, the provider's planned state from `Create(preview=true)`), with `Parent`,
  `Dependencies` and `PropertyDependencies`.
- pulumi/pulumi `pkg/resource/plugin/analyzer_plugin.go` and `sdk/go/common/resource/plugin/
  rpc.go`: both are marshalled with `KeepUnknowns` (the sentinel string), `KeepSecrets` and
  `SkipInternalKeys` (top-level `__...` keys dropped, nested ones kept), and without
  `KeepResources`: a resource reference becomes the referenced resource's id (unknown while it
  does not exist), or its URN when it has no id (a component).
- pulumi/pulumi-terraform-bridge `pkg/tfbridge/provider.go` (`Check`: inputs made again "WITH
  the TF defaults", autonaming through the schema's defaults) and `schema.go` (`applyDefaults`:
  every object gets a `__defaults` list of the properties defaulted; falsy Terraform defaults are
  not filled), and the `TestUnknowns` goldens in `provider_test.go`: `Check` drops explicit
  nulls and adds `tagsAll`; the planned state of an SDKv2 resource
  keeps a scalar unknown in place, turns a map or a list of plain values holding any unknown
  into one unknown, keeps a block with the unknown inside it, and reports every property the
  provider computes and the program did not set as unknown.
- The pulumi-aws Python SDK itself, for every resource type: each output getter's engine name
  (`@pulumi.getter(name=...)`) and return annotation. `Output[T]` is a property the provider
  always reports (computed when the program leaves it unset); `Output[Optional[T]]` is optional
  (null when unset); `Mapping`, `Sequence` and the `outputs.*` classes say which values are maps,
  lists and blocks. The resource's `*Args` class says which properties are inputs.

Known uncertainties (settled only by a real `pulumi preview` with credentials): the exact
Terraform defaults the provider fills in (only the few in `TERRAFORM_DEFAULTS` are modelled),
per-resource normalisation (Route53 names lower-cased, trailing dots), and which resources the
Plugin Framework serves (it keeps unknown map elements in place instead of blanking the map).
The `TestUnknowns` goldens settle the rest: `id` is in the outputs (unknown at preview), an
unset optional list is null, an unset list of blocks `[]`.
"""

from __future__ import annotations

import importlib
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Final, Literal

from pulumi.runtime import rpc

from .provider_schema import import_sdk

#: The engine's marker for "not known during preview" (any type; the Go engine's UnknownStringValue).
UNKNOWN: Final[str] = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
#: The serialized-property signature key, and the signature of a resource reference.
SIGNATURE_KEY: Final[str] = "4dabf18193072939515e22adb298388d"
RESOURCE_REFERENCE_SIGNATURE: Final[str] = "5cf8f73096256a8f31e491e813e4eb8e"
SECRET_SIGNATURE: Final[str] = "1b47061264138c4ac30d75fd1eb44270"
#: The bridge's marker, inside each nested block of the checked inputs, of defaults it applied.
DEFAULTS_KEY: Final[str] = "__defaults"

Kind = Literal["string", "number", "boolean", "map", "list", "block", "any"]

#: Terraform defaults of properties the resilience rules read, filled in by `Check` (so present
#: in Analyze's checked inputs, and named in its `__defaults` list) and reported in the planned
#: state. From terraform-provider-aws (`Default:` in each resource's schema). The bridge does not
#: fill a falsy default (0, false, ""): `shouldSuppressTFSchemaDefaultValue` in
#: pulumi-terraform-bridge `pkg/tfbridge/schema.go`. Everything else unset and optional arrives
#: as null.
TERRAFORM_DEFAULTS: Final[dict[str, dict[str, Any]]] = {
    "aws:sqs/queue:Queue": {
        "visibilityTimeoutSeconds": 30,
        "messageRetentionSeconds": 345600,
    },
    "aws:lambda/function:Function": {"timeout": 3, "memorySize": 128, "packageType": "Zip"},
    "aws:apigateway/integration:Integration": {"timeoutMilliseconds": 29000},
    "aws:cloudwatch/metricAlarm:MetricAlarm": {
        "actionsEnabled": True,
        "treatMissingData": "missing",
    },
    "aws:lambda/eventSourceMapping:EventSourceMapping": {"enabled": True},
}

#: What AWS reports, after creation, for a computed property the program left unset, where the
#: type's empty value ("" / 0 / false) would be wrong. Used for known (update) states only.
AWS_COMPUTED_VALUES: Final[dict[str, dict[str, Any]]] = {
    "aws:sqs/queue:Queue": {"sqsManagedSseEnabled": True, "kmsDataKeyReusePeriodSeconds": 300},
    "aws:lambda/eventSourceMapping:EventSourceMapping": {
        "maximumRetryAttempts": -1,
        "maximumRecordAgeInSeconds": -1,
        "batchSize": 10,
        "state": "Enabled",
    },
}


#: The property the bridge auto-names, where it is not `name` (pulumi-aws's resource mapping).
AUTONAMED_PROPERTY: Final[dict[str, str]] = {
    "aws:s3/bucket:Bucket": "bucket",
    "aws:s3/bucketV2:BucketV2": "bucket",
}


@dataclass(frozen=True)
class TypeShape:
    """The declared type of one value: its kind, and the element or block fields inside it."""

    kind: Kind
    element: TypeShape | None = None
    #: For blocks: the class whose getters declare the fields (resolved lazily, it may recurse).
    block_class: Any = None

    @property
    def fields(self) -> dict[str, PropertyShape]:
        return _class_properties(self.block_class) if self.block_class is not None else {}

    @property
    def is_block_list(self) -> bool:
        return self.kind == "list" and self.element is not None and self.element.kind == "block"


@dataclass(frozen=True)
class PropertyShape:
    """One property of a resource or block, as the SDK declares its output."""

    name: str
    python_name: str
    type: TypeShape
    #: `Output[T]`: the provider always reports it (computes it when the program leaves it out).
    computed: bool


@dataclass(frozen=True)
class ResourceSchema:
    """A resource type's properties, from its SDK class."""

    type_token: str
    properties: dict[str, PropertyShape]
    inputs: frozenset[str]
    #: The property the bridge fills with `<logical name>-<7 hex>` when the program leaves it
    #: unset (`name`, for most types), or None.
    autoname_property: str | None
    has_region: bool
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def autonamed(self) -> bool:
        return self.autoname_property is not None

    def output_only(self, name: str) -> bool:
        return name in self.properties and name not in self.inputs


# --- reading the SDK -------------------------------------------------------------------------


def _shape_of(annotation: Any) -> tuple[TypeShape, bool]:
    """(the shape, whether None is allowed) of a getter's annotation (`Output[...]` unwrapped)."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is not None and getattr(origin, "__name__", "") == "Output" and args:
        return _shape_of(args[0])
    if origin is typing.Union:
        rest = [arg for arg in args if arg is not type(None)]
        shape, _ = _shape_of(rest[0]) if len(rest) == 1 else (TypeShape("any"), True)
        return shape, True
    if origin in (Mapping, dict, typing.Mapping) or annotation in (dict, Mapping):
        element = _shape_of(args[1])[0] if len(args) == 2 else TypeShape("any")
        return TypeShape("map", element), False
    if origin in (Sequence, list, typing.Sequence) or annotation in (list, Sequence):
        element = _shape_of(args[0])[0] if args else TypeShape("any")
        return TypeShape("list", element), False
    if annotation is str:
        return TypeShape("string"), False
    if annotation is bool:
        return TypeShape("boolean"), False
    if annotation in (int, float):
        return TypeShape("number"), False
    if isinstance(annotation, type) and _class_has_getters(annotation):
        return TypeShape("block", block_class=annotation), False
    return TypeShape("any"), False


def _class_has_getters(cls: type) -> bool:
    return any(
        isinstance(value, property) and hasattr(value.fget, "_pulumi_name")
        for value in vars(cls).values()
    )


@cache
def _class_properties(cls: type) -> dict[str, PropertyShape]:
    found: dict[str, PropertyShape] = {}
    for python_name, value in vars(cls).items():
        if not isinstance(value, property) or not hasattr(value.fget, "_pulumi_name"):
            continue
        try:
            annotation = typing.get_type_hints(value.fget).get("return", Any)
        except Exception:  # an annotation the SDK itself cannot resolve: treat as "any"
            annotation = Any
        shape, optional = _shape_of(annotation)
        name = value.fget._pulumi_name  # type: ignore[union-attr]
        found[name] = PropertyShape(name, python_name, shape, computed=not optional)
    return found


def resource_class(type_token: str) -> type | None:
    """The SDK class a program uses for `type_token` (through the SDK's own module registry)."""
    package, _, rest = type_token.partition(":")
    module_name, _, _ = rest.partition(":")
    module = rpc.get_resource_module(package, module_name, "")
    if module is None:
        # The SDK registers a package's modules when it is imported (a program always has);
        # provider_schema.py finds any package's SDK (`aws-native` -> pulumi_aws_native).
        if import_sdk(package) is None:
            return None
        module = rpc.get_resource_module(package, module_name, "")
    mod_info = getattr(module, "mod_info", None)
    if not isinstance(mod_info, Mapping):
        return None
    class_name = mod_info.get("classes", {}).get(type_token)
    fqn = mod_info.get("fqn")
    if not class_name or not fqn:
        return None
    try:
        found = getattr(importlib.import_module(fqn), class_name)
    except (ImportError, AttributeError):
        return None
    return found if isinstance(found, type) else None


@cache
def schema_for(type_token: str) -> ResourceSchema | None:
    """The schema of `type_token`, or None when no SDK class for it is loaded."""
    cls = resource_class(type_token)
    if cls is None:
        return None
    properties = _class_properties(cls)
    args_class = getattr(importlib.import_module(cls.__module__), f"{cls.__name__}Args", None)
    if isinstance(args_class, type):
        inputs = frozenset(
            value.fget._pulumi_name  # type: ignore[union-attr]
            for value in vars(args_class).values()
            if isinstance(value, property) and hasattr(value.fget, "_pulumi_name")
        )
    else:
        inputs = frozenset(properties)
    # The bridge auto-names a string input called `name` that the provider reports back.
    autoname_key = AUTONAMED_PROPERTY.get(type_token, "name")
    named = properties.get(autoname_key)
    autonamed = (
        named is not None
        and named.type.kind == "string"
        and named.computed
        and autoname_key in inputs
    )
    return ResourceSchema(
        type_token=type_token,
        properties=properties,
        inputs=inputs,
        autoname_property=autoname_key if autonamed else None,
        has_region="region" in properties,
    )


# --- values ----------------------------------------------------------------------------------


def is_unknown(value: Any) -> bool:
    return isinstance(value, str) and value == UNKNOWN


def holds_unknown(value: Any) -> bool:
    """True when `value` is unknown or holds an unknown anywhere inside it."""
    if is_unknown(value):
        return True
    if isinstance(value, dict):
        return any(holds_unknown(item) for item in value.values())
    if isinstance(value, list):
        return any(holds_unknown(item) for item in value)
    return False


def downgrade_references(value: Any) -> Any:
    """Resource references as the engine sends them to analyzers: the referenced resource's id
    (unknown while it does not exist), or the URN of a component."""
    if isinstance(value, dict):
        if value.get(SIGNATURE_KEY) == RESOURCE_REFERENCE_SIGNATURE:
            if "id" in value:
                resource_id = value.get("id")
                return resource_id if isinstance(resource_id, str) and resource_id else UNKNOWN
            return value.get("urn", UNKNOWN)
        return {key: downgrade_references(item) for key, item in value.items()}
    if isinstance(value, list):
        return [downgrade_references(item) for item in value]
    return value


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value


def _mark_blocks(value: Any, shape: TypeShape) -> Any:
    """Add the bridge's `__defaults` key inside every nested block of a checked input."""
    if shape.kind == "block" and isinstance(value, dict) and SIGNATURE_KEY not in value:
        fields = shape.fields
        marked = {
            key: _mark_blocks(item, fields[key].type) if key in fields else item
            for key, item in value.items()
        }
        marked[DEFAULTS_KEY] = []
        return marked
    if shape.kind == "list" and shape.element is not None and isinstance(value, list):
        return [_mark_blocks(item, shape.element) for item in value]
    return value


@dataclass(frozen=True)
class Identity:
    """What the engine knows of a resource besides its inputs."""

    type: str
    name: str
    urn: str
    #: Where it lives (its `region` input, its provider's, the stack's), when known.
    region: str | None
    #: The autoname `Check` gives it: `<name>-<7 hex>`, stable per URN.
    autoname: str


def checked_inputs(identity: Identity, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """What `Check` returns and `Analyze` receives: nulls dropped, references downgraded,
    autoname, Terraform defaults, `tagsAll`, and `__defaults` inside nested blocks."""
    checked = _without_nulls(downgrade_references(dict(inputs)))
    schema = schema_for(identity.type)
    if schema is None:
        return checked
    named = schema.autoname_property
    if named is not None and named not in checked and f"{named}Prefix" not in checked:
        checked[named] = identity.autoname.lower() if named == "bucket" else identity.autoname
    for key, default in TERRAFORM_DEFAULTS.get(identity.type, {}).items():
        if key in schema.properties:
            checked.setdefault(key, default)
    if "tagsAll" in schema.properties and "tags" in checked:
        tags = checked["tags"]
        checked["tagsAll"] = UNKNOWN if holds_unknown(tags) else dict(tags)
    for key, value in list(checked.items()):
        prop = schema.properties.get(key)
        if prop is not None and prop.type.kind in ("block", "list"):
            checked[key] = _mark_blocks(value, prop.type)
    # Check also returns a top-level `__defaults` list, but the engine marshals properties for
    # analyzers with SkipInternalKeys, which drops internal keys at the top level only.
    return checked


def strip_defaults_marker(value: Any) -> Any:
    """`value` without the bridge's `__defaults` bookkeeping (it is not part of any state)."""
    if isinstance(value, dict):
        return {k: strip_defaults_marker(v) for k, v in value.items() if k != DEFAULTS_KEY}
    if isinstance(value, list):
        return [strip_defaults_marker(item) for item in value]
    return value


def planned_value(value: Any, shape: TypeShape) -> Any:
    """A set value as the bridge plans it: maps and plain lists holding an unknown become one
    unknown, blocks keep it in place, a list of blocks with a wholly unknown element is
    unknown as a whole."""
    if is_unknown(value) or value is None:
        return value
    if shape.kind == "map" or (shape.kind == "list" and not shape.is_block_list):
        return UNKNOWN if holds_unknown(value) else value
    if shape.kind == "list" and isinstance(value, list):
        assert shape.element is not None
        if any(is_unknown(item) for item in value):
            return UNKNOWN
        return [planned_value(item, shape.element) for item in value]
    if shape.kind == "block" and isinstance(value, dict):
        return planned_block(value, shape.fields)
    return value


def planned_block(value: Mapping[str, Any], fields: Mapping[str, PropertyShape]) -> dict[str, Any]:
    """A block's planned state: what was set, planned; the rest computed (unknown) or null."""
    planned: dict[str, Any] = {}
    for key, prop in fields.items():
        if key in value and value[key] is not None:
            planned[key] = planned_value(value[key], prop.type)
        elif prop.computed:
            planned[key] = UNKNOWN
        else:
            planned[key] = [] if prop.type.is_block_list else None
    for key, item in value.items():
        if key not in fields and key != DEFAULTS_KEY:
            planned[key] = item
    return planned


def planned_state(identity: Identity, checked: Mapping[str, Any]) -> dict[str, Any]:
    """`AnalyzeStack`'s properties for a resource a new stack's preview would create: the
    provider's planned state. Without an SDK class for the type: the checked inputs."""
    schema = schema_for(identity.type)
    clean = strip_defaults_marker(dict(checked))
    if schema is None:
        return clean
    state = planned_block(clean, schema.properties)
    state["id"] = UNKNOWN
    if schema.has_region and "region" not in clean and identity.region:
        # v7's `region` is computed from the provider's configuration when left unset.
        state["region"] = identity.region
    return state
