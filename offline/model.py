"""The result of one offline preview, shared by the text, JSON and diagram renderers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from resilience_policies.exemptions import is_exempt_message

from .changes import Changes
from .project import StackConfig
from .recording import STACK_TYPE, Registration
from .resilience import RegionSummary
from .runner import ProgramRun

MANDATORY: Final[str] = "mandatory"
ADVISORY: Final[str] = "advisory"
#: The pack SDK's message when a policy met an unknown value and gave no verdict.
CANT_RUN_MARKER: Final[str] = "can't run policy"


@dataclass(frozen=True)
class PackPolicy:
    pack: str
    name: str
    level: str
    description: str = ""
    #: low | medium | high | critical, or "" (unspecified).
    severity: str = ""
    #: resource | stack, or "" when the pack's SDK does not report it.
    policy_type: str = ""


@dataclass(frozen=True)
class Violation:
    pack: str
    policy: str
    level: str
    urn: str
    message: str
    description: str = ""
    #: The diagnostic's severity, else its policy's (as the engine fills it in); "" if neither.
    severity: str = ""

    @property
    def is_cant_run(self) -> bool:
        return CANT_RUN_MARKER in self.message

    @property
    def own_message(self) -> str:
        """The verdict without the policy's description, which the SDK puts in front of every
        message (reports show the description once, apart)."""
        message = self.message.strip()
        description = self.description.strip()
        if description and message.startswith(description):
            message = message[len(description) :].strip() or message
        return message

    @property
    def is_exempt(self) -> bool:
        """An exempted finding: reported (at the advisory level) with the `Exempt (<reason>): `
        marker in front of the rule's message, so the exemption stays visible."""
        return is_exempt_message(self.message, self.description)


@dataclass(frozen=True)
class PolicyCall:
    """One Analyze (`urn`: the analyzed resource) or AnalyzeStack (`urn` empty) and its answer."""

    urn: str
    violations: tuple[Violation, ...] = ()
    not_applicable: tuple[str, ...] = ()

    @property
    def is_stack(self) -> bool:
        return not self.urn


@dataclass
class PackRun:
    """One policy pack's part of the preview."""

    name: str
    directory: str
    policies: list[PackPolicy] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    duration_s: float = 0.0
    #: The version the engine reports: PulumiPolicy.yaml's, else the pack's own answer.
    version: str = ""
    #: Every call in order, Analyze per resource then AnalyzeStack (`violations` flattens them).
    calls: list[PolicyCall] = field(default_factory=list)


@dataclass
class PreviewResult:
    stack: StackConfig
    mode: str
    run: ProgramRun
    packs: list[PackRun]
    regions: dict[str, RegionSummary]
    timings: dict[str, float] = field(default_factory=dict)
    #: With --against: what this run would create and delete in the earlier report's stack.
    changes: Changes | None = None

    @property
    def violations(self) -> list[Violation]:
        return [v for pack in self.packs for v in pack.violations]

    @property
    def mandatory(self) -> list[Violation]:
        return [v for v in self.violations if v.level == MANDATORY]

    @property
    def exempt(self) -> list[Violation]:
        return [v for v in self.violations if v.is_exempt]

    @property
    def exit_code(self) -> int:
        return 1 if self.mandatory else 0

    @property
    def stack_name(self) -> str:
        return f"{self.stack.project_name}-{self.stack.stack}"

    def stack_registration(self) -> Registration:
        """The root `pulumi:pulumi:Stack`, whose outputs are the program's exports."""
        return Registration(
            sequence=-1,
            urn=self.run.stack_urn,
            type=STACK_TYPE,
            name=self.stack_name,
            parent="",
            custom=False,
            dependencies=[],
            property_dependencies={},
            inputs={},
            outputs=dict(self.run.exports),
        )

    def shown_resources(self) -> list[Registration]:
        """What `pulumi preview` lists: the program's resources (default providers are hidden)."""
        return list(self.run.registrations)

    def counts(self) -> dict[str, Any]:
        resources = self.shown_resources()
        by_region: dict[str, int] = {}
        for resource in resources:
            if resource.custom:
                key = resource.region or "global"
                by_region[key] = by_region.get(key, 0) + 1
        return {
            "total": len(resources) + 1,
            "custom": sum(1 for r in resources if r.custom),
            "components": sum(1 for r in resources if not r.custom) + 1,
            "read": sum(1 for r in resources if r.read),
            "by_region": dict(sorted(by_region.items(), key=lambda kv: (kv[0] == "global", kv[0]))),
        }
