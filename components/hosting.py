"""The components as one multi-language Pulumi package, `resilient-serverless`.

`provider/` hosts them (`pulumi package add <path or git URL of provider/>` gives a TypeScript,
Go, C#, Java or YAML program a local SDK); the schema is inferred from the components' args and
output annotations by `pulumi.provider.experimental`, and `provider/schema.json` is a snapshot of
it (`python -m provider.schema` regenerates it).
"""

import inspect
import json
import re
from importlib import metadata
from typing import Any, Final

import pulumi
from pulumi.errors import InputPropertiesError, InputPropertyError, InputPropertyErrorDetails
from pulumi.provider.experimental.analyzer import PropertyDefinition
from pulumi.provider.experimental.component import ComponentProvider
from pulumi.provider.experimental.util import camel_case
from pulumi.provider.provider import ConstructResult
from pulumi.provider.server import ComponentInitError

from .active_active import ActiveActiveService
from .function import Function
from .global_table import GlobalTable
from .latency_routing import LatencyRouting
from .queue_worker import QueueWorker
from .regional_api import RegionalApi
from .saga import Saga
from .settings import DEPRECATED_KEYS
from .stream_consumer import StreamConsumer
from .tokens import PACKAGE, component_type

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


#: Components that run in one region, which they take as their `region` input. Python places
#: a parent's children with the `region=` keyword, so the args field stays optional for Python;
#: for every other language the input is required and the schema says so.
REGIONAL_COMPONENTS: Final[tuple[str, ...]] = (
    "Function",
    "QueueWorker",
    "RegionalApi",
    "Saga",
    "StreamConsumer",
)

#: The package name of each generated SDK (the schema's `language` sections).
SDK_PACKAGES: Final[dict[str, dict[str, Any]]] = {
    # The Python SDK's name differs from this distribution's import name, so a Python program
    # can install both the generated SDK and the components without one shadowing the other.
    "nodejs": {"packageName": "resilient-serverless", "respectSchemaVersion": True},
    "python": {"packageName": "pulumi_resilient_serverless", "respectSchemaVersion": True},
    # A module path of its own, with no host: `pulumi package add` writes a `replace` directive
    # to the generated folder, so nothing has to be fetched from a host by this path.
    "go": {
        "importBasePath": "resilient-serverless/sdk/go/resilientserverless",
        "respectSchemaVersion": True,
    },
    "csharp": {"rootNamespace": "ResilientServerless", "respectSchemaVersion": True},
    "java": {"basePackage": "com.resilientserverless", "respectSchemaVersion": True},
}

#: A Python args path in a component's error (`QueueWorkerArgs.consumer.timeout_s`): the class,
#: then fields and list indexes or map keys.
_PYTHON_PATH: Final = re.compile(
    r"\b[A-Z][A-Za-z0-9]*(?:Args|Settings|Statement|Client|Step|Endpoint|Route)"
    r"(?P<rest>(?:\.[a-z_][A-Za-z0-9_]*|\[[^\]]*\])+)"
)


def package_version() -> str:
    """The installed project's version: the generated SDKs carry it."""
    return metadata.version(PACKAGE)


def package_metadata() -> dict[str, Any]:
    """The schema's package metadata, from the installed distribution's own metadata (pyproject
    is the one source): description, keywords, license, publisher and, when the project
    declares them, its repository and home page."""
    meta = metadata.metadata(PACKAGE)
    urls = dict(
        (label.strip().lower(), url.strip())
        for label, _, url in (entry.partition(",") for entry in meta.get_all("Project-URL") or [])
    )
    document: dict[str, Any] = {
        "description": meta["Summary"],
        "keywords": ["pulumi", "aws", "category/cloud", "kind/component", "resilience"],
        "license": next(
            iter((meta.get_all("License-Expression") or []) + (meta.get_all("License") or [])),
            "",
        ),
        "publisher": "resilient-serverless maintainers",
    }
    if "repository" in urls:
        document["repository"] = urls["repository"]
    if "homepage" in urls:
        document["homepage"] = urls["homepage"]
    return document


def schema_path(python_path: str) -> str:
    """A Python args path's tail (`.consumer.timeout_s[0]`) in the schema's casing
    (`consumer.timeoutS[0]`), as another language's program wrote the input."""
    parts = re.findall(r"\.([a-z_][A-Za-z0-9_]*)|(\[[^\]]*\])", python_path)
    path = ""
    for field, index in parts:
        if field:
            path += ("." if path else "") + camel_case(field)
        else:
            path += index.replace("'", '"')
    return path


def input_errors(component: str, error: ValueError) -> InputPropertiesError:
    """A component's validation error as the engine reports bad inputs: one property error per
    problem, each with its schema property path, and no Python traceback."""
    problems = getattr(error, "problems", None) or [str(error)]
    details: list[InputPropertyErrorDetails] = []
    for problem in problems:
        # A nested args class names its own path after its parent's (`FunctionArgs.policy_
        # statements[0]: PolicyStatement.actions: ...`): the paths join into one.
        path, rest = "", problem.strip()
        while (match := _PYTHON_PATH.match(rest)) and rest[match.end() :].startswith(": "):
            tail = schema_path(match["rest"])
            path = f"{path}.{tail}" if path and not tail.startswith("[") else path + tail
            rest = rest[match.end() + 2 :]
        reason = _PYTHON_PATH.sub(lambda found: schema_path(found["rest"]), rest)
        details.append({"property_path": path, "reason": reason})
    lines = "\n".join(
        f"  - {detail['property_path']}: {detail['reason']}"
        if detail["property_path"]
        else f"  - {detail['reason']}"
        for detail in details
    )
    return InputPropertiesError(f"{component} has invalid inputs:\n{lines}", details)


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
            document = _clean_descriptions(json.loads(self.schema))
            document.update(package_metadata())
            document["language"] = {
                **document.get("language", {}),
                **{language: dict(sdk) for language, sdk in SDK_PACKAGES.items()},
            }
            for component in REGIONAL_COMPONENTS:
                resource = document["resources"][component_type(component)]
                resource["requiredInputs"] = sorted({*resource.get("requiredInputs", []), "region"})
            self.schema = json.dumps(document)

    def construct(
        self,
        name: str,
        resource_type: str,
        inputs: Any,
        options: Any = None,
    ) -> ConstructResult:
        try:
            return super().construct(name, resource_type, inputs, options)
        except ComponentInitError as error:
            inner = error.inner
            if isinstance(inner, ValueError):
                component = resource_type.rsplit(":", maxsplit=1)[-1]
                raise input_errors(component, inner) from None
            raise

    def map_input_properties(
        self,
        inputs: Any,
        properties: dict[str, PropertyDefinition],
        mapping: dict[str, str],
        component_name: str,
        property_path: str,
    ) -> Any:
        if isinstance(inputs, dict):
            inputs = _renamed_deprecated(inputs, properties, component_name, property_path)
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


def _renamed_deprecated(
    inputs: dict[str, Any],
    properties: dict[str, PropertyDefinition],
    component_name: str,
    property_path: str,
) -> dict[str, Any]:
    """Inputs under a setting's old schema name, read as its new one (with a warning); both
    names at once is an error naming the path."""
    renamed = dict(inputs)
    for old, new in DEPRECATED_KEYS.items():
        if old not in renamed or new not in properties:
            continue
        path = f"{property_path}.{old}" if property_path else old
        if new in renamed:
            raise InputPropertyError(
                path, f"the deprecated name of {new}, which is set too; remove {old}."
            )
        renamed[new] = renamed.pop(old)
        pulumi.log.warn(f"{component_name} input {path} is deprecated; name it {new}.")
    return renamed


def component_provider() -> ComponentProvider:
    """The provider `provider/__main__.py` serves (the same object its tests construct through)."""
    return ResilientServerlessProvider(list(HOSTED_COMPONENTS), PACKAGE, version=package_version())


def schema() -> dict[str, Any]:
    """The package schema, inferred from the components as the provider serves it."""
    text = component_provider().schema
    if text is None:
        raise RuntimeError("the component provider inferred no schema")
    return dict(json.loads(text))
