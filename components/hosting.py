"""The components as one multi-language Pulumi package, `resilient-serverless`.

`provider/` hosts them (`pulumi package add <path or git URL of provider/>` gives a TypeScript,
Go, C#, Java or YAML program a local SDK); the schema is inferred from the components' args and
output annotations by `pulumi.provider.experimental`, and `provider/schema.json` is a snapshot of
it (`python -m provider.schema` regenerates it).
"""

import inspect
import json
from importlib import metadata
from typing import Any

import pulumi
from pulumi.errors import InputPropertyError
from pulumi.provider.experimental.analyzer import PropertyDefinition
from pulumi.provider.experimental.component import ComponentProvider

from .active_active import ActiveActiveService
from .function import Function
from .global_table import GlobalTable
from .latency_routing import LatencyRouting
from .queue_worker import QueueWorker
from .regional_api import RegionalApi
from .saga import Saga
from .stream_consumer import StreamConsumer
from .tokens import PACKAGE

#: Every component of the package, in the order the schema lists them.
HOSTED_COMPONENTS: tuple[type[pulumi.ComponentResource], ...] = (
    Function,
    GlobalTable,
    LatencyRouting,
    QueueWorker,
    RegionalApi,
    ActiveActiveService,
    Saga,
    StreamConsumer,
)


def package_version() -> str:
    """The installed project's version: the generated SDKs carry it."""
    return metadata.version(PACKAGE)


def _clean_descriptions(node: Any) -> Any:
    """Descriptions without their docstrings' source indentation: the analyzer keeps a
    multi-line field docstring as written, and every generated SDK would show the spaces."""
    if isinstance(node, dict):
        return {
            key: _dedented(value)
            if key == "description" and isinstance(value, str)
            else _clean_descriptions(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_clean_descriptions(item) for item in node]
    return node


def _dedented(text: str) -> str:
    lines = inspect.cleandoc(text).splitlines()
    return "\n".join(line.rstrip() for line in lines).strip()


class ResilientServerlessProvider(ComponentProvider):
    """The SDK's component provider, with its schema's descriptions dedented and one more check
    on the inputs it maps: a property the schema marks plain (a number the policy pack reads at
    preview, a nested args object) must not arrive as an output of another resource. The SDK
    would fail on it with a bare TypeError; this names the property."""

    def __init__(
        self, components: list[type[pulumi.ComponentResource]], name: str, version: str
    ) -> None:
        super().__init__(components, name, version=version)
        if self.schema:
            self.schema = json.dumps(_clean_descriptions(json.loads(self.schema)))

    def map_input_properties(
        self,
        inputs: Any,
        properties: dict[str, PropertyDefinition],
        mapping: dict[str, str],
        component_name: str,
        property_path: str,
    ) -> Any:
        if isinstance(inputs, dict):
            for schema_name, prop in properties.items():
                value = inputs.get(schema_name)
                if prop.plain and isinstance(value, pulumi.Output):
                    path = f"{property_path}.{schema_name}" if property_path else schema_name
                    raise InputPropertyError(
                        path,
                        f"{component_name} input {path}: must be a plain value, known when the "
                        "program runs (previews and the policy pack read it), not an output of "
                        "another resource.",
                    )
        return super().map_input_properties(
            inputs, properties, mapping, component_name, property_path
        )


def component_provider() -> ComponentProvider:
    """The provider `provider/__main__.py` serves (the same object its tests construct through)."""
    return ResilientServerlessProvider(list(HOSTED_COMPONENTS), PACKAGE, version=package_version())


def schema() -> dict[str, Any]:
    """The package schema, inferred from the components as the provider serves it."""
    text = component_provider().schema
    if text is None:
        raise RuntimeError("the component provider inferred no schema")
    return dict(json.loads(text))
