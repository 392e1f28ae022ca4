"""The small amount of glue every rule shares: turning a rule's check function into an SDK
policy that reads its configuration, its properties and its stack model the safe way."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any, Protocol, cast

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from .config import ConfigSpec
from .model import StackModel, model_for
from .props import plain


class Report(Protocol):
    def __call__(self, message: str, urn: str | None = None) -> None: ...


StackCheck = Callable[[StackModel, Mapping[str, Any], Report], None]
ResourceCheck = Callable[[str, dict[str, Any], Mapping[str, Any], Report], None]
Remediation = Callable[
    [str, dict[str, Any], dict[str, Any], Mapping[str, Any]], dict[str, Any] | None
]


def _reporter(report_violation: ReportViolation) -> Report:
    def report(message: str, urn: str | None = None) -> None:
        report_violation(message, urn)

    return report


def stack_policy(
    *,
    config: ConfigSpec,
    description: str,
    check: StackCheck,
    level: EnforcementLevel,
    severity: Severity,
    remediation_steps: str,
) -> StackValidationPolicy:
    """A stack policy that checks the shared stack model."""

    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        settings = config.resolve(args.get_config())
        check(model_for(args.resources), settings, _reporter(report_violation))

    return StackValidationPolicy(
        name=config.policy,
        description=description,
        validate=validate,
        enforcement_level=level,
        config_schema=config.schema(),
        severity=severity,
        remediation_steps=remediation_steps,
    )


def resource_policy(
    *,
    config: ConfigSpec,
    description: str,
    resource_types: Collection[str],
    check: ResourceCheck,
    level: EnforcementLevel,
    severity: Severity,
    remediation_steps: str,
    remediate: Remediation | None = None,
) -> ResourceValidationPolicy:
    """A resource policy over `resource_types`, optionally with a remediation.

    `check(type, props, settings, report)` sees plain properties with unknown sentinels kept;
    `remediate(type, view, target, settings)` gets the same view plus a copy that still holds
    any secrets, and returns the new properties (a modified `target`) or None for no change.
    """

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if args.resource_type not in resource_types:
            return
        settings = config.resolve(args.get_config())
        check(args.resource_type, plain(args.props), settings, _reporter(report_violation))

    def fix(args: ResourceValidationArgs) -> dict[str, Any] | None:
        if remediate is None or args.resource_type not in resource_types:
            return None
        settings = config.resolve(args.get_config())
        view = plain(args.props)
        target = plain(args.props, keep_secrets=True)
        return remediate(args.resource_type, view, target, settings)

    return ResourceValidationPolicy(
        name=config.policy,
        description=description,
        validate=validate,
        remediate=cast(Any, fix) if remediate is not None else None,
        enforcement_level=level,
        config_schema=config.schema(),
        severity=severity,
        remediation_steps=remediation_steps,
    )
