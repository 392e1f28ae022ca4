"""The small amount of glue every rule shares: turning a rule's check function into an SDK
policy that reads its configuration, its properties and its stack model the safe way, and
applies exemptions (exemptions.py) to whatever any rule reports."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
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

from . import server
from .config import ConfigSpec
from .exemptions import TAG_PROPERTIES, Exemption, config_reason, exempt_message, tag_key
from .model import StackModel, model_for
from .props import deferrals, deferred_message, plain, text


class Report(Protocol):
    def __call__(self, message: str, urn: str | None = None) -> None: ...


StackCheck = Callable[[StackModel, Mapping[str, Any], Report], None]
ResourceCheck = Callable[[str, dict[str, Any], Mapping[str, Any], Report], None]
Remediation = Callable[
    [str, dict[str, Any], dict[str, Any], Mapping[str, Any]], dict[str, Any] | None
]


@dataclass(frozen=True)
class _Subject:
    """The resource a finding is about, as far as exemptions need it."""

    urn: str
    name: str
    #: Read the stack model's way (props.program_view): the tags the program set stay readable
    #: where the planned state blanked the whole map to an unknown.
    props: Any


SubjectOf = Callable[[str | None], _Subject | None]


@dataclass(frozen=True)
class _Analysed:
    """The resource a resource policy is analysing, as a deferral names it."""

    urn: str
    name: str
    type: str


def _report_deferred(policy: str, found: list[Any], report: Report) -> None:
    """Say out loud each check the rule could not decide because a value it compares is unknown
    at preview (props.deferrals). The analyzer sends these as advisory (server.py): they never
    fail a preview, and the same rule decides them at `pulumi up`, where a mandatory violation
    stops the update part-way through. Only when the pack's own analyzer serves (server.py):
    the SDK's would send them at the policy's level."""
    if not found or not server.serving():
        return
    for deferral in found:
        report(deferred_message(policy, deferral), deferral.urn)


def exemption_reason(
    policy: str, exemptions: tuple[Exemption, ...], subject: _Subject
) -> str | None:
    """Why `subject` is exempt from `policy` (its config entry first, then its tag), or None."""
    reason = config_reason(exemptions, subject.urn, subject.name)
    if reason is not None:
        return reason
    key = tag_key(policy)
    for prop in TAG_PROPERTIES:
        # An unknown tag map (or value) is no exemption: the finding stands until it is known.
        value = text(subject.props, prop, key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _reporter(
    report_violation: ReportViolation,
    policy: str,
    exemptions: tuple[Exemption, ...],
    subject_of: SubjectOf,
) -> Report:
    def report(message: str, urn: str | None = None) -> None:
        subject = subject_of(urn)
        reason = None if subject is None else exemption_reason(policy, exemptions, subject)
        # The analyzer (server.py) lowers a marked finding to advisory on its way out: the SDK
        # fixes a policy's level when it creates report_violation.
        report_violation(message if reason is None else exempt_message(reason, message), urn)

    return report


def _stack_subjects(model: StackModel) -> SubjectOf:
    def subject_of(urn: str | None) -> _Subject | None:
        # A finding about the whole stack (no URN) belongs to no resource: not exemptible.
        resource = model.by_urn.get(urn) if urn else None
        if resource is None:
            return None
        return _Subject(resource.urn, resource.name, resource.props)

    return subject_of


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
        raw = args.get_config()
        settings = config.resolve(raw)
        model = model_for(args.resources)
        report = _reporter(
            report_violation, config.policy, config.exemptions(raw), _stack_subjects(model)
        )
        with deferrals(model.owner_of) as ledger:
            check(model, settings, report)
        _report_deferred(config.policy, ledger.found, report)

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
    An exempt resource is never remediated: its exemption says the finding is deliberate.
    """

    def subjects(args: ResourceValidationArgs, props: dict[str, Any]) -> SubjectOf:
        def subject_of(urn: str | None) -> _Subject | None:
            # The SDK attaches a finding without a URN to the resource being analyzed.
            if urn and urn != args.urn:
                return None
            return _Subject(args.urn, args.name, props)

        return subject_of

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if args.resource_type not in resource_types:
            return
        raw = args.get_config()
        settings = config.resolve(raw)
        props = plain(args.props)
        report = _reporter(
            report_violation, config.policy, config.exemptions(raw), subjects(args, props)
        )
        analysed = _Analysed(args.urn, args.name, args.resource_type)
        with deferrals(lambda container: analysed if container is props else None) as ledger:
            check(args.resource_type, props, settings, report)
        _report_deferred(config.policy, ledger.found, report)

    def fix(args: ResourceValidationArgs) -> dict[str, Any] | None:
        if remediate is None or args.resource_type not in resource_types:
            return None
        raw = args.get_config()
        settings = config.resolve(raw)
        view = plain(args.props)
        subject = _Subject(args.urn, args.name, view)
        if exemption_reason(config.policy, config.exemptions(raw), subject) is not None:
            return None
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
