"""The result of one offline preview, shared by the text, JSON and diagram renderers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Final

from resilience_policies.exemptions import is_exempt_message

from .engine.project import StackConfig
from .engine.recording import STACK_TYPE, Registration
from .engine.runner import ProgramRun
from .reports.changes import Changes
from .reports.resilience import RegionSummary

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


@dataclass(frozen=True)
class DeferredCheck:
    """A check a pack could not decide at preview because a value it compares is unknown; the
    pack reports it as advisory ("Decided at `pulumi up`: ...") and decides it at `pulumi up`."""

    pack: str
    policy: str
    urn: str
    #: The property the check needs, as the pack names it (`definition`, `redrivePolicy`).
    prop: str
    message: str

    @staticmethod
    def property_of(message: str) -> str:
        found = _DEFERRED_PROPERTY.search(message)
        return found.group(1) if found else ""


#: The pack's wording: "... needs `<property>` of <kind> '<name>' ...".
_DEFERRED_PROPERTY: Final = re.compile(r"needs `([^`]+)` of ")


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
    #: Checks deferred to `pulumi up` (advisory, not verdicts), in the order the pack sent them.
    deferred: list[DeferredCheck] = field(default_factory=list)


@dataclass
class VerdictRow:
    """One finding of a --mode both run and the shapes (preview, update) that reported it."""

    pack: str
    policy: str
    urn: str
    level: str
    shapes: list[str] = field(default_factory=list)
    messages: dict[str, str] = field(default_factory=dict)

    @property
    def update_only(self) -> bool:
        """Only the known-outputs shape could see it: the preview passed it (at most with a
        deferred check), and `pulumi up` would find it."""
        return "preview" not in self.shapes

    def to_json(self) -> dict[str, Any]:
        return {
            "pack": self.pack,
            "policy": self.policy,
            "urn": self.urn,
            "level": self.level,
            "preview": "preview" in self.shapes,
            "update": "update" in self.shapes,
            "updateOnly": self.update_only,
            "message": self.messages.get("update") or self.messages.get("preview", ""),
        }


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
    #: With --mode both: the same program in the known-outputs (update) shape, run second.
    update: PreviewResult | None = None

    @property
    def violations(self) -> list[Violation]:
        return [v for pack in self.packs for v in pack.violations]

    def verdict_table(self) -> list[VerdictRow]:
        """With --mode both: every finding of either shape, keyed by pack, policy and resource,
        with the shapes that saw it (a message may differ between shapes: it names values)."""
        if self.update is None:
            return []
        rows: dict[tuple[str, str, str], VerdictRow] = {}
        for shape, result in (("preview", self), ("update", self.update)):
            for violation in result.violations:
                key = (violation.pack, violation.policy, violation.urn)
                row = rows.get(key)
                if row is None:
                    row = rows[key] = VerdictRow(
                        violation.pack, violation.policy, violation.urn, violation.level
                    )
                if violation.level == MANDATORY:
                    row.level = MANDATORY
                row.shapes.append(shape)
                row.messages.setdefault(shape, violation.own_message)
        return sorted(rows.values(), key=lambda row: (row.level != MANDATORY, row.policy, row.urn))

    @property
    def deferred(self) -> list[DeferredCheck]:
        return [check for pack in self.packs for check in pack.deferred]

    @property
    def mandatory(self) -> list[Violation]:
        return [v for v in self.violations if v.level == MANDATORY]

    @property
    def exempt(self) -> list[Violation]:
        return [v for v in self.violations if v.is_exempt]

    @property
    def exit_code(self) -> int:
        # With --mode both, `pulumi up` would stop on a mandatory finding of either shape.
        return 1 if self.mandatory or (self.update is not None and self.update.mandatory) else 0

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
