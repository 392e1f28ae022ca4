"""A component's registered outputs, read from the same declaration the schema is built from.

The package schema's outputs of a component are its class's public annotations (what
`pulumi.provider.experimental`'s analyzer reads, base classes included); `Construct` answers with
those attributes, and the state keeps what the component passes to `register_outputs`. Building
the registered outputs from the annotations keeps the three equal by construction
(tests/components/test_state_equals_schema.py checks it for every component).
"""

import dataclasses
import enum
import inspect
from collections.abc import Mapping
from typing import Any

import pulumi
from pulumi.provider.experimental.util import camel_case


def declared_output_names(component: type[pulumi.ComponentResource]) -> dict[str, str]:
    """Schema name -> attribute name of every output the schema declares for `component`."""
    annotations: dict[str, Any] = {}
    for cls in reversed(component.__mro__):
        if cls in (object, pulumi.Resource, pulumi.ComponentResource, pulumi.CustomResource):
            continue
        annotations.update(inspect.get_annotations(cls))
    return {camel_case(name): name for name in annotations if not name.startswith("_")}


def _as_output_value(value: Any) -> Any:
    """A value as the state stores it: nested args objects as maps in the schema's casing."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            camel_case(item.name): _as_output_value(getattr(value, item.name))
            for item in dataclasses.fields(value)
            if getattr(value, item.name) is not None
        }
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return {key: _as_output_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_as_output_value(item) for item in value]
    return value


def declared_outputs(component: pulumi.ComponentResource) -> dict[str, Any]:
    """The outputs to register: every declared output, under its schema name.

    An attribute left unset is a bug in the component (the state would miss an output its SDK
    declares), so it fails here rather than silently disappearing."""
    names = declared_output_names(type(component))
    missing = sorted(
        attribute for attribute in names.values() if getattr(component, attribute, None) is None
    )
    if missing:
        raise AttributeError(
            f"{type(component).__name__} declares outputs it never set: {', '.join(missing)}"
        )
    return {
        schema_name: _as_output_value(getattr(component, attribute))
        for schema_name, attribute in names.items()
    }
