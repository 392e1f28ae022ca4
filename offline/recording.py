"""The mock engine side: a MockMonitor that records every registration, and the Mocks it uses.

The monitor sees each `RegisterResourceRequest` whole, which is exactly what a policy pack needs:
type, name, parent, dependencies, property dependencies and the serialized inputs (`object`),
with the engine's unknown sentinel wherever a value derives from another resource's output in a
preview. It answers with no outputs in preview (so everything computed stays unknown, as for a
new stack) and with plausible outputs in update mode.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from google.protobuf import json_format, struct_pb2
from pulumi.runtime import Mocks
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.rpc import UNKNOWN

from .errors import ProgramError
from .fake_outputs import ResourceFacts, output_names, plausible_outputs
from .provider_calls import answer_provider_call

STACK_TYPE: Final[str] = "pulumi:pulumi:Stack"
PROVIDER_TYPE_PREFIX: Final[str] = "pulumi:providers:"

#: The engine's marker for a secret value inside serialized properties.
SECRET_SIGNATURE_KEY: Final[str] = "4dabf18193072939515e22adb298388d"
SECRET_SIGNATURE: Final[str] = "1b47061264138c4ac30d75fd1eb44270"


@dataclass
class Registration:
    """One RegisterResource (or ReadResource) request as the engine received it."""

    sequence: int
    urn: str
    type: str
    name: str
    parent: str
    custom: bool
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    #: The serialized inputs (`object`), engine names, unknown sentinels kept.
    inputs: dict[str, Any]
    #: The provider reference (`<provider urn>::<provider id>`), empty for the default provider.
    provider: str = ""
    #: Where the resource lives: its `region` input, its provider's, or the default; None when
    #: the type has no region (IAM, Route53, components).
    region: str | None = None
    resource_id: str = ""
    read: bool = False
    outputs: dict[str, Any] = field(default_factory=dict)

    @property
    def package(self) -> str:
        return self.type.split(":", 1)[0]


def unwrap_secret(value: Any) -> Any:
    if isinstance(value, dict) and value.get(SECRET_SIGNATURE_KEY) == SECRET_SIGNATURE:
        return value.get("value")
    return value


def _has_region_input(type_token: str) -> bool:
    names = output_names(type_token)
    return names is not None and "region" in names


class OfflineMocks(Mocks):
    """Outputs per mode, and the provider functions (invokes) a program commonly calls."""

    def __init__(self, *, preview: bool, default_region: str | None) -> None:
        self.preview = preview
        self.default_region = default_region

    def call(self, args: MockCallArgs) -> tuple[dict, list[tuple[str, str]] | None]:
        try:
            return answer_provider_call(args.token, args.args, self.default_region), []
        except ProgramError as error:
            # A check failure, as a provider reports one: the SDK raises it in the program, at
            # the call, where the program's own frame shows which call it was.
            return {}, [("offline preview", str(error))]

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict]:
        # Reached for `Resource.get(...)` reads only: registrations go through outputs_for.
        if self.preview:
            return args.resource_id or None, dict(args.inputs)
        return args.resource_id or args.name, dict(args.inputs)

    def outputs_for(self, registration: Registration) -> tuple[str, dict[str, Any]]:
        """The id and outputs the engine would report back to the program."""
        if self.preview or not registration.custom:
            # A new stack's preview: nothing computed is known yet, not even the id.
            return "", {}
        region = registration.region or self.default_region or "us-east-1"
        facts = ResourceFacts(
            type=registration.type,
            name=registration.name,
            urn=registration.urn,
            region=region,
            inputs={k: unwrap_secret(v) for k, v in registration.inputs.items()},
        )
        return plausible_outputs(facts)


class RecordingMonitor(MockMonitor):
    """A MockMonitor that keeps every request, in arrival order, for the policy packs."""

    mocks: OfflineMocks

    def __init__(self, mocks: OfflineMocks, *, on_register: Any = None) -> None:
        super().__init__(mocks)
        self._lock = threading.Lock()
        self.registrations: list[Registration] = []
        self.stack_urn = ""
        self.exports: dict[str, Any] = {}
        self._provider_regions: dict[str, str | None] = {}
        self._on_register = on_register

    # -- helpers -------------------------------------------------------------------------

    def _region_for(
        self, type_token: str, inputs: Mapping[str, Any], provider_ref: str
    ) -> str | None:
        if type_token.startswith(PROVIDER_TYPE_PREFIX):
            region = unwrap_secret(inputs.get("region"))
            return region if isinstance(region, str) and region else self.mocks.default_region
        if not type_token.startswith("aws:") or not _has_region_input(type_token):
            return None
        region = unwrap_secret(inputs.get("region"))
        if isinstance(region, str) and region:
            return "unknown" if region == UNKNOWN else region
        if provider_ref:
            with self._lock:
                if provider_ref in self._provider_regions:
                    return self._provider_regions[provider_ref]
        return self.mocks.default_region

    def _record(self, registration: Registration) -> None:
        with self._lock:
            registration.sequence = len(self.registrations)
            self.registrations.append(registration)
            if registration.type.startswith(PROVIDER_TYPE_PREFIX):
                ref = f"{registration.urn}::{registration.resource_id or UNKNOWN}"
                self._provider_regions[ref] = registration.region
        if self._on_register is not None:
            self._on_register(registration)

    # -- the ResourceMonitor service -------------------------------------------------------

    def RegisterResource(self, request: Any) -> Any:
        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type == STACK_TYPE:
            self.stack_urn = urn
            return resource_pb2.RegisterResourceResponse(urn=urn)

        inputs = json_format.MessageToDict(request.object)
        property_dependencies = {
            key: list(deps.urns)
            for key, deps in request.propertyDependencies.items()
            if len(deps.urns) > 0
        }
        registration = Registration(
            sequence=-1,
            urn=urn,
            type=request.type,
            name=request.name,
            parent=request.parent,
            custom=bool(request.custom),
            dependencies=list(request.dependencies),
            property_dependencies=property_dependencies,
            inputs=inputs,
            provider=request.provider,
            region=self._region_for(request.type, inputs, request.provider),
        )
        resource_id, outputs = self.mocks.outputs_for(registration)
        registration.resource_id = resource_id
        registration.outputs = outputs
        self._record(registration)

        state = struct_pb2.Struct()
        if outputs:
            state.update(outputs)
        self.resources[urn] = MockMonitor.ResourceRegistration(urn, resource_id, outputs)
        return resource_pb2.RegisterResourceResponse(urn=urn, id=resource_id, object=state)

    def ReadResource(self, request: Any) -> Any:
        response = super().ReadResource(request)
        inputs = json_format.MessageToDict(request.properties)
        self._record(
            Registration(
                sequence=-1,
                urn=response.urn,
                type=request.type,
                name=request.name,
                parent=request.parent,
                custom=True,
                dependencies=list(request.dependencies),
                property_dependencies={},
                inputs=inputs,
                provider=request.provider,
                region=self._region_for(request.type, inputs, request.provider),
                resource_id=request.id,
                read=True,
            )
        )
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:
        if request.urn and request.urn == self.stack_urn:
            exported = json_format.MessageToDict(request.outputs)
            with self._lock:
                # The set_mocks root registers no outputs, the program's root registers its
                # exports: merging keeps the exports whatever order the two arrive in.
                self.exports.update(exported)
        return super().RegisterResourceOutputs(request)


class ProgramLogHandler(logging.Handler):
    """Collects what the program logs through `pulumi.log` (the engine's Log RPC)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.levelname.lower(), record.getMessage()))
