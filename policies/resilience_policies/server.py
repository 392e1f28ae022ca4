"""The pack's analyzer: the SDK's gRPC servicer with the changes the SDK has no hook for.

1. Configure validates every policy's settings and refuses bad ones with INVALID_ARGUMENT and
   one message per problem (naming the policy, the key and the fix). The SDK stores any value,
   so a typo would otherwise surface later as a crash inside an analysis, or not at all. The
   engine reports a refused Configure as the error of the whole `pulumi preview`.
2. Analyze keeps each resource's checked inputs, and AnalyzeStack hands them to the stack
   model next to the state it gets (see `props.program_view` for why both are needed).
3. AnalyzeStack decodes the request once and hands the same resource list to every stack
   policy. The SDK decodes and proxies every resource again for each stack policy (about a
   second per policy for 10 000 resources); with one shared list this pack's stack policies
   also share one stack model. The model reads each resource's state merged with its kept
   inputs, decoded in one pass from the two messages (`decode_program_view`); the state's
   own properties are decoded only if someone reads them, and stay raw until read through
   the Mapping interface, which then behaves exactly like the SDK's unknown-checking proxy.
   The garbage collector is paused while the request's objects are built.
4. Without any Analyze call (a state analysed on its own), AnalyzeStack runs the resource
   policies over each resource's state too, so they still decide.
5. A finding marked exempt (exemptions.py), and a check deferred to `pulumi up` because a
   value it compares is unknown at preview (props.deferrals), leave as advisory: the SDK has
   one level per policy, none per finding.

Everything else (GetAnalyzerInfo, Analyze, Remediate, the diagnostics' shape) is the SDK's own
code. The subclass reaches into the SDK servicer's private members, so `install` first checks
that they exist and otherwise leaves the stock servicer in place (slower, and config errors
then surface when a policy runs instead of at Configure).
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from inspect import isawaitable
from typing import Any, Final

import grpc
from google.protobuf import json_format
from pulumi.runtime import proto
from pulumi_policy import (
    EnforcementLevel,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy import policy as sdk_policy
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.proxy import UnknownValueError

from .config import ConfigSpec
from .exemptions import is_exempt_message
from .model import release_model
from .props import (
    DEFAULTS_KEY,
    UNKNOWN_SENTINELS,
    RawBackedProps,
    is_deferred_message,
    merge_value,
    plain,
)

#: The key that marks a serialized envelope (secret, asset, archive) among a value's fields.
_SIGNATURE_KEY: Final[str] = "4dabf18193072939515e22adb298388d"
#: The pseudo policy name the engine's config accepts for "every policy".
ALL_POLICIES_KEY: Final[str] = "all"
#: Set to "1" to serve with the SDK's own analyzer: for comparisons and troubleshooting.
SDK_ANALYZER_ENV: Final[str] = "RESILIENCE_POLICIES_SDK_ANALYZER"

_SdkServicer: Any = getattr(sdk_policy, "_PolicyAnalyzerServicer", None)
_SdkNotApplicable: Any = getattr(sdk_policy, "_NotApplicableError", None)
_REQUIRED_SDK_MEMBERS: Final[tuple[str, ...]] = (
    "Configure",
    "AnalyzeStack",
    "_get_enforcement_level",
    "_create_report_violation",
    "_map_enforcement_level",
    "_get_policy_config",
    "_get_resource_options",
    "_get_provider_resource",
    "_configure_runtime_settings",
)


def sdk_is_compatible() -> bool:
    """True when the installed SDK has the servicer members this module builds on."""
    return (
        _SdkServicer is not None
        and _SdkNotApplicable is not None
        and all(hasattr(_SdkServicer, member) for member in _REQUIRED_SDK_MEMBERS)
    )


def config_problems(
    specs: Mapping[str, ConfigSpec], policy_configs: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """Every problem in a Configure request's per-policy properties."""
    problems: list[str] = []
    for name, properties in policy_configs.items():
        spec = specs.get(name)
        if spec is None:
            if name != ALL_POLICIES_KEY:
                problems.append(
                    f"unknown policy '{name}' in the policy pack config; remove it or fix its "
                    f"spelling (this pack's policies: {', '.join(specs)})."
                )
            continue
        problems.extend(spec.problems(properties))
    return problems


def format_config_refusal(pack_name: str, problems: list[str]) -> str:
    bullets = "\n".join(f"  - {problem}" for problem in problems)
    return (
        f"policy pack '{pack_name}': invalid configuration ({len(problems)} problem(s)):\n{bullets}"
    )


def decode_struct(struct: Any) -> dict[str, Any]:
    """`deserialize_properties(MessageToDict(struct))`, the SDK's decoding of a resource's
    properties, without json_format's generic walk (two thirds of a large AnalyzeStack's time).
    Envelopes (secrets, assets, archives) still go through the SDK's own deserializer."""
    fields = struct.fields
    # Keys then lookups: a upb map's items() goes through the slow generic Mapping mixin.
    return {key: _decode_value(fields[key]) for key in fields}


def _decode_value(value: Any) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        return value.string_value
    if kind == "number_value":
        return value.number_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "struct_value":
        fields = value.struct_value.fields
        if _SIGNATURE_KEY in fields:
            return _decode_envelope(value)
        return {key: _decode_value(fields[key]) for key in fields}
    if kind == "list_value":
        return [_decode_value(item) for item in value.list_value.values]
    return None


def _decode_envelope(value: Any) -> Any:
    # The envelope's fields as plain data (what MessageToDict gives for a Struct), then the
    # SDK's own deserializer, which knows the signatures (nested ones too).
    return deserialize_properties({"value": _plain_value(value)})["value"]


def _plain_value(value: Any) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        return value.string_value
    if kind == "number_value":
        return value.number_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "struct_value":
        fields = value.struct_value.fields
        return {key: _plain_value(fields[key]) for key in fields}
    if kind == "list_value":
        return [_plain_value(item) for item in value.list_value.values]
    return None


def decode_program_view(checked_inputs: Any, state: Any) -> dict[str, Any]:
    """`props.program_view(decode_struct(checked_inputs), decode_struct(state))`, read straight
    from the two messages: each value is decoded once, from the side the merge keeps, and the
    side it drops (an input the known planned value replaces, an unknown the input replaces) is
    never decoded at all. On a large preview this halves the decoding and skips the merge's
    second walk over both trees. Envelopes (secrets, assets, archives) are decoded first and
    merged by `props.merge_value` itself."""
    return _merge_fields(checked_inputs.fields, state.fields)


def _merge_fields(inputs: Any, state: Any) -> dict[str, Any]:
    # props.merge_block over two Struct field maps.
    merged: dict[str, Any] = {}
    for key in state:
        if key == DEFAULTS_KEY:
            continue
        planned = state[key]
        if key in inputs:
            merged[key] = _merge_values(inputs[key], planned)
            continue
        # Not among the inputs: the provider's value, kept unless unknown. Most of a planned
        # state is this (unset optional properties, computed outputs), so the scalars that
        # dominate it are read here rather than through a call.
        kind = planned.WhichOneof("kind")
        if kind == "string_value":
            text = planned.string_value
            if text not in UNKNOWN_SENTINELS:
                merged[key] = text
        elif kind is None or kind == "null_value":
            merged[key] = None
        else:
            value = _decode_value(planned)  # a secret may wrap an unknown
            if not (isinstance(value, str) and value in UNKNOWN_SENTINELS):
                merged[key] = value
    for key in inputs:
        if key != DEFAULTS_KEY and key not in state:
            merged[key] = _given_alone(inputs[key])
    return merged


def _merge_values(given: Any, planned: Any) -> Any:
    # props.merge_value over two Values: a known planned scalar wins whatever the input was; an
    # unknown or null one gives way to the input; two blocks, or two lists of one length, merge
    # element by element.
    kind = planned.WhichOneof("kind")
    if kind == "string_value":
        text = planned.string_value
        return _given_alone(given) if text in UNKNOWN_SENTINELS else text
    if kind == "number_value":
        return planned.number_value
    if kind == "bool_value":
        return planned.bool_value
    if kind is None or kind == "null_value":
        return _given_alone(given)
    given_kind = given.WhichOneof("kind")
    if kind == "struct_value":
        fields = planned.struct_value.fields
        if _SIGNATURE_KEY in fields:
            return merge_value(_decode_value(given), _decode_envelope(planned))
        if given_kind != "struct_value":
            return {key: _decode_value(fields[key]) for key in fields}
        given_fields = given.struct_value.fields
        if _SIGNATURE_KEY in given_fields:
            return merge_value(_decode_envelope(given), _decode_value(planned))
        return _merge_fields(given_fields, fields)
    # A list.
    planned_items = planned.list_value.values
    if given_kind == "list_value":
        given_items = given.list_value.values
        if len(given_items) == len(planned_items):
            return [
                _merge_values(item, planned_items[index]) for index, item in enumerate(given_items)
            ]
    elif given_kind == "struct_value" and _SIGNATURE_KEY in given.struct_value.fields:
        return merge_value(_decode_envelope(given), _decode_value(planned))
    return [_decode_value(item) for item in planned_items]


def _given_alone(given: Any) -> Any:
    # props.merge_value(decoded, None): the input, without the bridge's bookkeeping keys.
    kind = given.WhichOneof("kind")
    if kind == "struct_value":
        fields = given.struct_value.fields
        if _SIGNATURE_KEY in fields:
            return merge_value(_decode_envelope(given), None)
        return {key: _given_alone(fields[key]) for key in fields if key != DEFAULTS_KEY}
    if kind == "list_value":
        return [_given_alone(item) for item in given.list_value.values]
    return _decode_value(given)


class _StackResource(PolicyResource):
    """A PolicyResource decoded once per AnalyzeStack and shared by every stack policy.

    Everything is decoded on first use: properties stay raw (RawBackedProps) and are decoded
    only if read, and the stack model reads `program_properties()` instead, which decodes the
    state and the kept checked inputs in one merged pass (`decode_program_view`). Options,
    provider, parent and dependencies are decoded only if asked for, since this pack's rules
    read only properties and dependency URNs.
    """

    def __init__(self, servicer: Any, source: Any, stack: dict[str, _StackResource]) -> None:
        # PolicyResource.__init__ is deliberately not called: it wants every field decoded now.
        self.resource_type = source.type
        self.urn = source.urn
        self.name = source.name
        dependencies = source.propertyDependencies
        # Keys then lookups: a upb map's items() goes through the slow generic Mapping mixin.
        self.property_dependency_urns: dict[str, list[str]] = {
            key: list(dependencies[key].urns) for key in dependencies
        }
        # What Analyze received for this resource earlier in the same deployment, if anything.
        self._checked = servicer.checked_inputs.get(source.urn)
        self._servicer = servicer
        self._source = source
        self._stack = stack
        self._props: RawBackedProps | None = None
        self._checked_decoded: dict[str, Any] | None = None
        self._opts: PolicyResourceOptions | None = None
        self._provider: PolicyProviderResource | None = None
        self._provider_decoded = False

    @property
    def props(self) -> Mapping[str, Any]:
        return self._raw_props()

    @props.setter
    def props(self, value: Mapping[str, Any]) -> None:
        self._props = value if isinstance(value, RawBackedProps) else RawBackedProps(plain(value))

    def _raw_props(self) -> RawBackedProps:
        if self._props is None:
            self._props = RawBackedProps(decode_struct(self._source.properties))
        return self._props

    @property
    def checked_inputs(self) -> dict[str, Any] | None:
        """The checked inputs Analyze got for this resource, decoded; None without that call."""
        if self._checked is None:
            return None
        if self._checked_decoded is None:
            self._checked_decoded = decode_struct(self._checked)
        return self._checked_decoded

    def program_properties(self) -> dict[str, Any]:
        """`props.program_view(self.checked_inputs, plain(self.props))`, decoded in one pass."""
        if self._checked is None:
            return self._raw_props().raw
        return decode_program_view(self._checked, self._source.properties)

    @property
    def opts(self) -> PolicyResourceOptions:
        if self._opts is None:
            self._opts = self._servicer._get_resource_options(self._source)
        return self._opts

    @opts.setter
    def opts(self, value: PolicyResourceOptions) -> None:
        self._opts = value

    @property
    def provider(self) -> PolicyProviderResource | None:
        if not self._provider_decoded:
            self._provider = self._servicer._get_provider_resource(self._source)
            self._provider_decoded = True
        return self._provider

    @provider.setter
    def provider(self, value: PolicyProviderResource | None) -> None:
        self._provider, self._provider_decoded = value, True

    @property
    def parent(self) -> PolicyResource | None:
        return self._stack.get(self._source.parent) if self._source.parent else None

    @parent.setter
    def parent(self, value: PolicyResource | None) -> None:
        raise AttributeError("the parent of a stack resource is fixed by the request")

    @property
    def dependencies(self) -> list[PolicyResource]:
        return [self._stack[urn] for urn in self._source.dependencies if urn in self._stack]

    @dependencies.setter
    def dependencies(self, value: list[PolicyResource]) -> None:
        raise AttributeError("the dependencies of a stack resource are fixed by the request")

    @property
    def property_dependencies(self) -> dict[str, list[PolicyResource]]:
        return {
            key: [self._stack[urn] for urn in urns if urn in self._stack]
            for key, urns in self.property_dependency_urns.items()
        }

    @property_dependencies.setter
    def property_dependencies(self, value: dict[str, list[PolicyResource]]) -> None:
        raise AttributeError("the property dependencies of a stack resource are fixed")


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while an AnalyzeStack builds its objects.

    Decoding a large stack allocates a few hundred thousand dicts and lists in one go, and each
    few hundred allocations trigger a collection that walks the young objects again (on 10 000
    resources, about a sixth of the request's time). They are all alive until the request ends,
    so those collections find nothing. Reference counting still frees everything; the collector
    resumes afterwards (whoever paused it first resumes it, so overlapping calls are safe).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _run(result: Any) -> None:
    if isawaitable(result):
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(asyncio.ensure_future(result, loop=loop))
        finally:
            loop.close()


def _exempt_as_advisory(response: Any) -> Any:
    """An exempted finding (exemptions.py) and a check deferred to `pulumi up` (props.py,
    `deferrals`) are reported, never enforced: advisory, whatever the policy's level. Done here
    because the SDK gives one level per policy, not per finding."""
    for diagnostic in response.diagnostics:
        if is_exempt_message(diagnostic.message, diagnostic.description) or is_deferred_message(
            diagnostic.message, diagnostic.description
        ):
            diagnostic.enforcementLevel = proto.ADVISORY
    return response


def _validate_each(
    policy: ResourceValidationPolicy,
    resources: list[PolicyResource],
    config: Any,
    stack_tags: Any,
    report_violation: Any,
) -> None:
    """A resource policy over every resource of a stack, each violation on its resource."""
    for resource in resources:

        def report(message: str, urn: str | None = None, _at: str = resource.urn) -> None:
            report_violation(message, urn or _at)

        args = ResourceValidationArgs(
            resource.resource_type,
            resource.props,
            resource.urn,
            resource.name,
            resource.opts,
            resource.provider,
            config,
            stack_tags,
        )
        _run(policy.validate(args, report))


if sdk_is_compatible():

    class ResilienceAnalyzerServicer(_SdkServicer):
        """The SDK servicer with validating Configure and single-decode AnalyzeStack."""

        config_specs: Mapping[str, ConfigSpec] = {}

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            #: URN -> the checked inputs Analyze got (the raw message, decoded only if asked
            #: for). The engine runs one analyzer process per deployment and calls Analyze for
            #: every resource before AnalyzeStack, so the stack policies can tell what the
            #: program set from what the provider will compute (see props.program_view).
            self.checked_inputs: dict[str, Any] = {}

        def Analyze(self, request: Any, context: Any) -> Any:
            self.checked_inputs[request.urn] = request.properties
            return _exempt_as_advisory(super().Analyze(request, context))

        def Configure(self, request: Any, context: Any) -> Any:
            configs = {
                name: json_format.MessageToDict(request.policyConfig[name].properties)
                for name in request.policyConfig
            }
            # Configure opens a deployment's analysis (the engine sends it once, right after it
            # starts the pack): what an earlier one analysed is not this one's.
            self.checked_inputs.clear()
            problems = config_problems(self.config_specs, configs)
            if problems:
                pack_name = getattr(self, "_PolicyAnalyzerServicer__policy_pack_name", "pack")
                context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT, format_config_refusal(pack_name, problems)
                )
            return super().Configure(request, context)

        def AnalyzeStack(self, request: Any, context: Any) -> Any:
            with _collector_paused():
                return self._analyze_stack(request, context)

        def _analyze_stack(self, request: Any, context: Any) -> Any:
            try:
                pack_name = self._PolicyAnalyzerServicer__policy_pack_name
                pack_version = self._PolicyAnalyzerServicer__policy_pack_version
                stack_tags = self._PolicyAnalyzerServicer__stack_tags
                policies = self._PolicyAnalyzerServicer__policies
            except AttributeError:
                # A servicer whose private state differs from the one this was written for:
                # its own AnalyzeStack is slower but right.
                return super().AnalyzeStack(request, context)
            self._configure_runtime_settings()
            response = proto.AnalyzeResponse()
            # With no Analyze call at all in this deployment (the outputs-only shape, e.g. a
            # state analysed with no inputs), resource policies would never run: run them here
            # over each resource's state instead, so that they still decide what they can.
            # When Analyze was called, a resource without its call is a read, not the program's.
            run_resource_policies = not self.checked_inputs
            active = []
            for policy in policies:
                level = self._get_enforcement_level(policy)
                if level == EnforcementLevel.DISABLED:
                    continue
                if not isinstance(policy, StackValidationPolicy) and not (
                    run_resource_policies and isinstance(policy, ResourceValidationPolicy)
                ):
                    continue
                # Stack policies cannot remediate: the SDK reports REMEDIATE as MANDATORY.
                if level == EnforcementLevel.REMEDIATE:
                    level = EnforcementLevel.MANDATORY
                active.append((policy, level))
            if not active:
                return response

            stack: dict[str, _StackResource] = {}
            resources: list[PolicyResource] = []
            for source in request.resources:
                resource = _StackResource(self, source, stack)
                stack[resource.urn] = resource
                resources.append(resource)

            try:
                for policy, level in active:
                    report_violation = self._create_report_violation(
                        response, policy.name, policy.description, level, policy.severity
                    )
                    config = self._get_policy_config(policy.name)
                    try:
                        if isinstance(policy, ResourceValidationPolicy):
                            _validate_each(policy, resources, config, stack_tags, report_violation)
                        else:
                            args = StackValidationArgs(resources, config, stack_tags)
                            _run(policy.validate(args, report_violation))
                    except UnknownValueError as error:
                        response.diagnostics.append(
                            proto.AnalyzeDiagnostic(
                                policyName=policy.name,
                                policyPackName=pack_name,
                                policyPackVersion=pack_version,
                                message=(
                                    f"can't run policy '{policy.name}' from policy pack "
                                    f"'{pack_name}@v{pack_version}' during preview: {error.message}"
                                ),
                                urn="",
                                description=policy.description,
                                enforcementLevel=self._map_enforcement_level(
                                    EnforcementLevel.ADVISORY
                                ),
                            )
                        )
                    except _SdkNotApplicable as error:
                        response.not_applicable.append(
                            proto.PolicyNotApplicable(
                                policy_name=policy.name, reason=error.reason or ""
                            )
                        )
            finally:
                # Nothing outlives the request: drop the shared model and the resources'
                # links to one another, so that reference counting frees them all now (a
                # cycle would wait for the collector, and a large stack's is large).
                release_model(resources)
                stack.clear()
            return _exempt_as_advisory(response)


def serving() -> bool:
    """Whether this module's analyzer serves the pack (install succeeded). Only it sends an
    exempt or deferred finding as advisory; rulekit reports deferred checks only then, since
    under the SDK's own analyzer they would leave at their policy's level and a check that
    cannot be decided yet would fail the preview."""
    return sdk_is_compatible() and sdk_policy._PolicyAnalyzerServicer is ResilienceAnalyzerServicer


def install(specs: Mapping[str, ConfigSpec]) -> bool:
    """Make the next `PolicyPack(...)` serve through ResilienceAnalyzerServicer.

    Returns False when SDK_ANALYZER_ENV asks for the SDK's own analyzer, or (saying so on
    stderr) when the installed SDK is not one this module knows.
    """
    if os.environ.get(SDK_ANALYZER_ENV) == "1":
        return False
    if not sdk_is_compatible():
        print(
            "resilience_policies: this pulumi-policy version is not supported by the pack's "
            "analyzer extensions; using the SDK's own (slower AnalyzeStack, config checked "
            "when policies run).",
            file=sys.stderr,
        )
        return False
    ResilienceAnalyzerServicer.config_specs = dict(specs)
    sdk_policy._PolicyAnalyzerServicer = ResilienceAnalyzerServicer  # type: ignore[misc]
    return True
