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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from google.protobuf import json_format, struct_pb2
from pulumi.runtime import Mocks
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.rpc import UNKNOWN

from ..errors import ProgramError
from ..modes import INPUTS, runs_as_preview
from .engine_shape import (
    SECRET_SIGNATURE,
    SIGNATURE_KEY,
    Identity,
    checked_inputs,
    downgrade_references,
    planned_state,
    schema_for,
)
from .fake_outputs import ResourceFacts, autoname, known_state, output_names, plausible_outputs
from .provider_calls import (
    GENERIC,
    PROVIDER_CALLS,
    REFUSED,
    WELL_KNOWN,
    ProviderCallRecord,
    UnsupportedProviderCall,
    answer_call,
    recorded_arguments,
)
from .stack_references import STACK_REFERENCE_TYPE, StackReferences

STACK_TYPE: Final[str] = "pulumi:pulumi:Stack"
PROVIDER_TYPE_PREFIX: Final[str] = "pulumi:providers:"

#: The engine's marker for a secret value inside serialized properties (see engine_shape.py).
SECRET_SIGNATURE_KEY: Final[str] = SIGNATURE_KEY


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
    #: `retain_on_delete`: the engine forgets the resource on delete, leaving it in the cloud.
    retain_on_delete: bool = False
    #: `protect`: the engine refuses to delete the resource (an update that would fails).
    protect: bool = False
    #: The state the engine reports (planned at preview, known after an update): what
    #: `AnalyzeStack` gets. Empty for components and for the `inputs` mode.
    outputs: dict[str, Any] = field(default_factory=dict)
    #: What the provider's `Check` returns and `Analyze` gets (see engine_shape.py).
    checked_inputs: dict[str, Any] = field(default_factory=dict)
    #: The `aliases` option as sent (alias specs or URNs, as `MessageToDict` renders them).
    aliases: list[dict[str, Any]] = field(default_factory=list)
    #: A remote component (`remote=True`): a multi-language package's component (awsx, ...)
    #: that its provider plugin constructs. Offline nothing constructs it: its children are not
    #: seen and its outputs are unknown.
    remote: bool = False
    #: The plugin version the SDK asks for (`version`), "" when it names none.
    version: str = ""

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
    """Outputs per mode, reads (`.get()`, stack references) and every provider function
    (invoke) the program calls, each call recorded for the report."""

    def __init__(
        self,
        *,
        mode: str,
        default_region: str | None,
        stack_references: StackReferences | None = None,
        secret_values: Sequence[str] = (),
    ) -> None:
        self.mode = mode
        self.preview = runs_as_preview(mode)
        self.default_region = default_region
        self.stack_references = stack_references or StackReferences(
            preview=self.preview, outputs=None
        )
        #: Secret config values in plain text: masked wherever a call's arguments are shown.
        self.secret_values = tuple(secret_values)
        #: Every provider function the program called, answered or failed, in call order.
        self.calls: list[ProviderCallRecord] = []
        self._calls_lock = threading.Lock()
        #: The region of an explicit provider, from its reference (the monitor knows them).
        self.provider_region: Callable[[str], str | None] = lambda _reference: None

    def _region_of_call(self, args: MockCallArgs) -> str | None:
        requested = args.args.get("region")
        if isinstance(requested, str) and requested:
            return requested
        return self.provider_region(args.provider or "") or self.default_region

    def call(self, args: MockCallArgs) -> tuple[dict, list[tuple[str, str]] | None]:
        region = self._region_of_call(args)
        arguments = recorded_arguments(args.args, self.secret_values)
        try:
            answer = answer_call(args.token, args.args, region)
        except Exception as error:  # every failure reaches the program, as the provider's would
            reason = (
                str(error)
                if isinstance(error, ProgramError)
                else f"{type(error).__name__}: {error}"
            )
            if isinstance(error, UnsupportedProviderCall):
                kind = REFUSED
            else:
                kind = WELL_KNOWN if args.token in PROVIDER_CALLS else GENERIC
            self._record_call(ProviderCallRecord(args.token, arguments, kind, region, reason))
            # A check failure, as a provider reports one: the SDK raises it in the program, at
            # the call, where the program's own frame shows which call it was.
            return {}, [("offline preview", reason)]
        self._record_call(ProviderCallRecord(args.token, arguments, answer.kind, region))
        return answer.result, []

    def _record_call(self, record: ProviderCallRecord) -> None:
        with self._calls_lock:
            self.calls.append(record)

    def failed_calls(self) -> list[ProviderCallRecord]:
        with self._calls_lock:
            return [record for record in self.calls if record.failure is not None]

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict]:
        # Reached for reads only (`Resource.get(...)`, stack references): registrations go
        # through outputs_for.
        if args.typ == STACK_REFERENCE_TYPE:
            stack = args.inputs.get("name") or args.resource_id or args.name
            return self.stack_references.read(str(stack))
        if self.preview:
            return args.resource_id or None, dict(args.inputs)
        return args.resource_id or args.name, self._read_state(args)

    def _read_state(self, args: MockResourceArgs) -> dict[str, Any]:
        """What reading an existing resource reports in update mode: its computed outputs too,
        so `Queue.get(...).arn` is a plausible ARN rather than nothing."""
        if not args.typ.startswith("aws:"):
            return dict(args.inputs)
        region = args.inputs.get("region")
        if not isinstance(region, str) or not region:
            region = self.provider_region(args.provider or "") or self.default_region
        facts = ResourceFacts(
            type=args.typ,
            name=args.name,
            urn=f"read:{args.typ}:{args.name}:{args.resource_id}",
            region=region or "us-east-1",
            inputs={k: unwrap_secret(v) for k, v in args.inputs.items()},
        )
        _resource_id, outputs = plausible_outputs(facts)
        # The program's own id and state win: it named an existing resource.
        return {**outputs, **dict(args.inputs)}

    def outputs_for(self, registration: Registration) -> tuple[str, dict[str, Any]]:
        """The id and the state the engine would report for the resource, in this mode's shape;
        also sets the registration's checked inputs (what `Analyze` gets)."""
        resource_id, checked, state = engine_view(registration, self.mode, self.default_region)
        registration.checked_inputs = checked
        return resource_id, state


def engine_view(
    registration: Registration, mode: str, default_region: str | None
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(id, checked inputs, state) of a registration as the engine would see it in `mode`: a
    pure function of the registration, so a test may change its inputs and ask again."""
    if not registration.custom or mode == INPUTS:
        # Components carry their inputs; the `inputs` mode is the shape this tool sent before it
        # modelled the engine: raw inputs everywhere, nothing computed known, not even the id.
        return "", downgrade_references(registration.inputs), {}
    known_region = registration.region if registration.region != "unknown" else None
    identity = Identity(
        type=registration.type,
        name=registration.name,
        urn=registration.urn,
        region=known_region,
        autoname=autoname(registration.name, registration.urn),
    )
    checked = checked_inputs(identity, registration.inputs)
    if runs_as_preview(mode):
        # A new stack's preview: the provider's planned state; the id is not known yet.
        return "", checked, planned_state(identity, checked)
    facts = ResourceFacts(
        type=registration.type,
        name=registration.name,
        urn=registration.urn,
        region=known_region or default_region or "us-east-1",
        inputs={k: unwrap_secret(v) for k, v in checked.items()},
    )
    resource_id, state = known_state(facts)
    return resource_id, checked, state


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
        mocks.provider_region = self.provider_region

    # -- helpers -------------------------------------------------------------------------

    def provider_region(self, provider_ref: str) -> str | None:
        """The region of an explicit provider (`<urn>::<id>`), None for the default one."""
        with self._lock:
            return self._provider_regions.get(provider_ref) if provider_ref else None

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
            retain_on_delete=bool(request.retainOnDelete),
            protect=bool(request.protect),
            aliases=[json_format.MessageToDict(alias) for alias in request.aliases],
            remote=bool(request.remote),
            version=str(request.version),
        )
        resource_id, outputs = self.mocks.outputs_for(registration)
        registration.resource_id = resource_id
        registration.outputs = outputs
        self._record(registration)

        state = struct_pb2.Struct()
        if registration.remote:
            # The engine would ask the package's provider to `Construct` it; offline there is
            # none, so no child is invented and every property the program may read is unknown
            # (in both modes: the SDK keeps unknowns in a component's outputs).
            schema = schema_for(request.type)
            names = set(request.object.fields) | set(schema.properties if schema else ())
            state.update({key: UNKNOWN for key in sorted(names)})
        elif outputs:
            # The id travels in its own field; the rest is what the program's outputs resolve to.
            state.update({key: value for key, value in outputs.items() if key != "id"})
        self.resources[urn] = MockMonitor.ResourceRegistration(urn, resource_id, outputs)
        return resource_pb2.RegisterResourceResponse(urn=urn, id=resource_id, object=state)

    def ReadResource(self, request: Any) -> Any:
        response = super().ReadResource(request)
        read = self.resources.get(response.urn)
        if read is not None and read.id and read.id != UNKNOWN:
            # The engine reports the id it read (a read happens at preview too); the base mock
            # leaves it out, which the SDK takes for an unknown id in a preview.
            response.id = read.id
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
