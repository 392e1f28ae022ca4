"""The pack's analyzer: the SDK's gRPC servicer with two changes the SDK has no hook for.

1. Configure validates every policy's settings and refuses bad ones with INVALID_ARGUMENT and
   one message per problem (naming the policy, the key and the fix). The SDK stores any value,
   so a typo would otherwise surface later as a crash inside an analysis, or not at all. The
   engine reports a refused Configure as the error of the whole `pulumi preview`.
2. AnalyzeStack decodes the request once and hands the same resource list to every stack
   policy. The SDK decodes and proxies every resource again for each stack policy (about a
   second per policy for 10 000 resources); with one shared list this pack's twelve stack
   policies also share one stack model. Properties stay raw until someone reads them through
   the Mapping interface, which then behaves exactly like the SDK's unknown-checking proxy.

Everything else (GetAnalyzerInfo, Analyze, Remediate, the diagnostics' shape) is the SDK's own
code. The subclass reaches into the SDK servicer's private members, so `install` first checks
that they exist and otherwise leaves the stock servicer in place (slower, and config errors
then surface when a policy runs instead of at Configure).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Mapping
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
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy import policy as sdk_policy
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.proxy import UnknownValueError

from .config import ConfigSpec
from .props import RawBackedProps

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


class _StackResource(PolicyResource):
    """A PolicyResource decoded once per AnalyzeStack and shared by every stack policy.

    Properties are raw (RawBackedProps); options, provider, parent and dependencies are decoded
    on first use, since this pack's rules read only properties and dependency URNs.
    """

    def __init__(self, servicer: Any, source: Any, stack: dict[str, _StackResource]) -> None:
        # PolicyResource.__init__ is deliberately not called: it wants every field decoded now.
        self.resource_type = source.type
        self.urn = source.urn
        self.name = source.name
        self.props = RawBackedProps(
            deserialize_properties(json_format.MessageToDict(source.properties))
        )
        self.property_dependency_urns: dict[str, list[str]] = {
            key: list(value.urns) for key, value in source.propertyDependencies.items()
        }
        self._servicer = servicer
        self._source = source
        self._stack = stack
        self._opts: PolicyResourceOptions | None = None
        self._provider: PolicyProviderResource | None = None
        self._provider_decoded = False

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


def _run(result: Any) -> None:
    if isawaitable(result):
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(asyncio.ensure_future(result, loop=loop))
        finally:
            loop.close()


if sdk_is_compatible():

    class ResilienceAnalyzerServicer(_SdkServicer):
        """The SDK servicer with validating Configure and single-decode AnalyzeStack."""

        config_specs: Mapping[str, ConfigSpec] = {}

        def Configure(self, request: Any, context: Any) -> Any:
            configs = {
                name: json_format.MessageToDict(request.policyConfig[name].properties)
                for name in request.policyConfig
            }
            problems = config_problems(self.config_specs, configs)
            if problems:
                pack_name = getattr(self, "_PolicyAnalyzerServicer__policy_pack_name", "pack")
                context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT, format_config_refusal(pack_name, problems)
                )
            return super().Configure(request, context)

        def AnalyzeStack(self, request: Any, context: Any) -> Any:
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
            active = []
            for policy in policies:
                level = self._get_enforcement_level(policy)
                if level == EnforcementLevel.DISABLED or not isinstance(
                    policy, StackValidationPolicy
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

            for policy, level in active:
                report_violation = self._create_report_violation(
                    response, policy.name, policy.description, level, policy.severity
                )
                args = StackValidationArgs(
                    resources, self._get_policy_config(policy.name), stack_tags
                )
                try:
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
                            enforcementLevel=self._map_enforcement_level(EnforcementLevel.ADVISORY),
                        )
                    )
                except _SdkNotApplicable as error:
                    response.not_applicable.append(
                        proto.PolicyNotApplicable(
                            policy_name=policy.name, reason=error.reason or ""
                        )
                    )
            return response


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
