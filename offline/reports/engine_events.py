"""The verdicts as the Pulumi engine's JSON event stream (`--events FILE`).

`pulumi preview --json` prints a digest that leaves policy events out (`ShowPreviewDigest`,
`pkg/backend/display/json.go`); CI tooling therefore reads the engine's streaming events
instead (`pulumi preview --event-log FILE`, or the JSON display with
PULUMI_ENABLE_STREAMING_JSON_PREVIEW set). This module writes the same stream for an
offline preview, so a tool built for those events reads the offline verdicts unchanged.

Everything below was read from the source of pulumi/pulumi at commit
1b5949891b3cefcb9974752b24a5ecef0acc86c8 (no CLI was run to compare against):

- the event shapes and their JSON names: `sdk/go/common/apitype/events.go`, structs
  `EngineEvent`, `PolicyEvent`, `PolicyAnalyzeSummaryEvent`, `PolicyAnalyzeStackSummaryEvent`,
  `PreludeEvent`, `SummaryEvent`, `CancelEvent`; the levels and severities:
  `sdk/go/common/apitype/policy.go` (`EnforcementLevel`, `PolicySeverity`);
- how an engine event becomes one: `pkg/backend/display/events.go` `ConvertEngineEvent`
  (`policyPackVersionTag` is set to the pack's version);
- how the file is written: `pkg/backend/display/display.go` `stampEvents` (sequence from 0,
  Unix seconds) and `startEventLogger` / `logJSONEvent` (one `json.Encoder.Encode` per event,
  so one compact JSON object per line, HTML escaping off; with colours off, as in CI where the
  output is not a terminal, messages lose their colour directives and `color` is "never");
- what the engine emits and when: `pkg/engine/events.go` `policyViolationEvent` (only
  mandatory and advisory, the message followed by a newline), `pkg/resource/deploy/
  analyze_snapshot.go` `analyzeResource` (each Analyze's violations on the analyzed resource,
  then its summary; remediate is reported as mandatory) and `resolveStackPolicyViolationURN`,
  `pkg/resource/deploy/step_generator.go` (AnalyzeStack's violations on their resource, or on
  the root stack when they name none, then the stack summary), `pkg/resource/analyzer/
  summary.go` `newPolicySummary` (passed: the policies of that kind, not disabled, neither
  failed nor not applicable; both lists sorted), `pkg/engine/deployment.go` (the summary's
  `PolicyPacks`, keyed by `LocalPolicyPack.NameForEvents` in `pkg/engine/update.go`),
  `pkg/resource/plugin/analyzer_plugin.go` (PulumiPolicy.yaml's version wins; a diagnostic
  without a severity gets its policy's), `sdk/go/common/apitype/events.go`
  `OperationResultFromError` (the summary's `result`).

What the stream leaves out: no resource step events (`resourcePreEvent`, `resOutputsEvent`),
diagnostics or progress, and no Remediate (`policyRemediateSummaryEvent`), since the offline
preview neither plans steps nor calls Remediate.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Final, NotRequired, TypedDict, cast

from ..model import ADVISORY, MANDATORY, PackRun, PolicyCall, PreviewResult, Violation
from ..modes import runs_as_preview

#: The pulumi/pulumi commit the formats below were read from.
PULUMI_COMMIT: Final[str] = "1b5949891b3cefcb9974752b24a5ecef0acc86c8"

# -- the JSON field names, in declaration order (the order encoding/json writes them) --------

#: apitype.EngineEvent: `sequence`, `timestamp`, then exactly one of the events (omitempty).
ENGINE_EVENT_FIELDS: Final[tuple[str, ...]] = (
    "sequence",
    "timestamp",
    "cancelEvent",
    "stdoutEvent",
    "diagnosticEvent",
    "preludeEvent",
    "summaryEvent",
    "resourcePreEvent",
    "resOutputsEvent",
    "resOpFailedEvent",
    "policyEvent",
    "policyRemediationEvent",
    "policyLoadEvent",
    "policyAnalyzeSummaryEvent",
    "policyRemediateSummaryEvent",
    "policyAnalyzeStackSummaryEvent",
    "startDebuggingEvent",
    "progressEvent",
    "errorEvent",
)
#: apitype.PolicyEvent.
POLICY_EVENT_FIELDS: Final[tuple[str, ...]] = (
    "resourceUrn",
    "message",
    "color",
    "policyName",
    "policyPackName",
    "policyPackVersion",
    "policyPackVersionTag",
    "enforcementLevel",
    "severity",
)
#: apitype.PolicyAnalyzeSummaryEvent.
POLICY_ANALYZE_SUMMARY_EVENT_FIELDS: Final[tuple[str, ...]] = (
    "resourceUrn",
    "policyPackName",
    "policyPackVersion",
    "policyPackVersionTag",
    "passed",
    "failed",
)
#: apitype.PolicyAnalyzeStackSummaryEvent.
POLICY_ANALYZE_STACK_SUMMARY_EVENT_FIELDS: Final[tuple[str, ...]] = (
    "policyPackName",
    "policyPackVersion",
    "policyPackVersionTag",
    "passed",
    "failed",
)
#: apitype.PreludeEvent.
PRELUDE_EVENT_FIELDS: Final[tuple[str, ...]] = ("config",)
#: apitype.SummaryEvent (`PolicyPacks` has no json tag in Go, hence its PascalCase).
SUMMARY_EVENT_FIELDS: Final[tuple[str, ...]] = (
    "maybeCorrupt",
    "durationSeconds",
    "resourceChanges",
    "PolicyPacks",
    "isPreview",
    "result",
)
#: apitype.CancelEvent is an empty struct: `"cancelEvent": {}`.
CANCEL_EVENT_FIELDS: Final[tuple[str, ...]] = ()
#: Fields tagged `omitempty`, per event: left out when empty.
OMITTED_WHEN_EMPTY: Final[dict[str, frozenset[str]]] = {
    "policyEvent": frozenset({"resourceUrn", "severity"}),
    "policyAnalyzeSummaryEvent": frozenset({"passed", "failed"}),
    "policyAnalyzeStackSummaryEvent": frozenset({"passed", "failed"}),
}
#: Each event's fields, by its key in EngineEvent.
EVENT_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "policyEvent": POLICY_EVENT_FIELDS,
    "policyAnalyzeSummaryEvent": POLICY_ANALYZE_SUMMARY_EVENT_FIELDS,
    "policyAnalyzeStackSummaryEvent": POLICY_ANALYZE_STACK_SUMMARY_EVENT_FIELDS,
    "preludeEvent": PRELUDE_EVENT_FIELDS,
    "summaryEvent": SUMMARY_EVENT_FIELDS,
    "cancelEvent": CANCEL_EVENT_FIELDS,
}

#: apitype.EnforcementLevel values a policyEvent carries (the engine refuses any other).
EVENT_LEVELS: Final[tuple[str, ...]] = (MANDATORY, ADVISORY)
#: apitype.PolicySeverity values; "" (unspecified) is omitted.
SEVERITIES: Final[tuple[str, ...]] = ("low", "medium", "high", "critical")
#: colors.Never: what `color` holds when colours are off (CI, NO_COLOR, --color never).
COLOR_NEVER: Final[str] = "never"
#: apitype.OperationResult: a mandatory violation fails the preview ("step generator errored"
#: in `pkg/resource/deploy/deployment_executor.go`), so the summary then says "failed".
RESULT_SUCCEEDED: Final[str] = "succeeded"
RESULT_FAILED: Final[str] = "failed"
#: What the prelude shows for a secret config value (config.BlindingCrypter).
SECRET_PLACEHOLDER: Final[str] = "[secret]"
_DISABLED: Final[str] = "disabled"
_REMEDIATE: Final[str] = "remediate"
_LONG_PATH: Final[int] = 75


class PolicyEvent(TypedDict):
    resourceUrn: NotRequired[str]
    message: str
    color: str
    policyName: str
    policyPackName: str
    policyPackVersion: str
    policyPackVersionTag: str
    enforcementLevel: str
    severity: NotRequired[str]


class PolicyAnalyzeSummaryEvent(TypedDict):
    resourceUrn: str
    policyPackName: str
    policyPackVersion: str
    policyPackVersionTag: str
    passed: NotRequired[list[str]]
    failed: NotRequired[list[str]]


class PolicyAnalyzeStackSummaryEvent(TypedDict):
    policyPackName: str
    policyPackVersion: str
    policyPackVersionTag: str
    passed: NotRequired[list[str]]
    failed: NotRequired[list[str]]


class PreludeEvent(TypedDict):
    config: dict[str, str]


class SummaryEvent(TypedDict):
    maybeCorrupt: bool
    durationSeconds: int
    resourceChanges: dict[str, int]
    PolicyPacks: dict[str, str]
    isPreview: bool
    result: str


class CancelEvent(TypedDict):
    pass


class EngineEvent(TypedDict):
    sequence: int
    timestamp: int
    cancelEvent: NotRequired[CancelEvent]
    preludeEvent: NotRequired[PreludeEvent]
    summaryEvent: NotRequired[SummaryEvent]
    policyEvent: NotRequired[PolicyEvent]
    policyAnalyzeSummaryEvent: NotRequired[PolicyAnalyzeSummaryEvent]
    policyAnalyzeStackSummaryEvent: NotRequired[PolicyAnalyzeStackSummaryEvent]


# -- building the events ------------------------------------------------------------------


def event_level(level: str) -> str | None:
    """The level a verdict is shown at: remediate as mandatory (what is still reported after a
    remediation is a failure); None for a level the engine never shows (disabled)."""
    if level == _REMEDIATE:
        return MANDATORY
    return level if level in EVENT_LEVELS else None


def _omit_empty(event: str, fields: dict[str, Any]) -> dict[str, Any]:
    """The fields in declaration order, without the empty `omitempty` ones."""
    omitted = OMITTED_WHEN_EMPTY.get(event, frozenset())
    return {key: value for key, value in fields.items() if key not in omitted or value}


def _policy_event(violation: Violation, version: str, urn: str) -> PolicyEvent | None:
    level = event_level(violation.level)
    if level is None:
        return None
    fields = {
        "resourceUrn": urn,
        "message": violation.message + "\n",
        "color": COLOR_NEVER,
        "policyName": violation.policy,
        "policyPackName": violation.pack,
        "policyPackVersion": version,
        "policyPackVersionTag": version,
        "enforcementLevel": level,
        "severity": violation.severity,
    }
    return cast(PolicyEvent, _omit_empty("policyEvent", fields))


def _passed_and_failed(pack: PackRun, call: PolicyCall) -> tuple[list[str], list[str]]:
    kind = "stack" if call.is_stack else "resource"
    failed = sorted({violation.policy for violation in call.violations})
    skipped = set(failed) | set(call.not_applicable)
    passed = sorted(
        policy.name
        for policy in pack.policies
        # A policy of unknown kind (an older SDK) counts as both, as the engine counts it.
        if policy.policy_type in (kind, "")
        and policy.level != _DISABLED
        and policy.name not in skipped
    )
    return passed, failed


def _analyze_summary(pack: PackRun, call: PolicyCall) -> PolicyAnalyzeSummaryEvent:
    passed, failed = _passed_and_failed(pack, call)
    fields = {
        "resourceUrn": call.urn,
        "policyPackName": pack.name,
        "policyPackVersion": pack.version,
        "policyPackVersionTag": pack.version,
        "passed": passed,
        "failed": failed,
    }
    return cast(PolicyAnalyzeSummaryEvent, _omit_empty("policyAnalyzeSummaryEvent", fields))


def _stack_summary(pack: PackRun, call: PolicyCall) -> PolicyAnalyzeStackSummaryEvent:
    passed, failed = _passed_and_failed(pack, call)
    fields = {
        "policyPackName": pack.name,
        "policyPackVersion": pack.version,
        "policyPackVersionTag": pack.version,
        "passed": passed,
        "failed": failed,
    }
    return cast(
        PolicyAnalyzeStackSummaryEvent, _omit_empty("policyAnalyzeStackSummaryEvent", fields)
    )


def abbreviated_path(path: str) -> str:
    """How the engine shortens a pack's path in its events: a path longer than 75 characters
    with more than four parts keeps its first two and last two parts around `...`."""
    parts = path.split("/")
    if len(path) <= _LONG_PATH or len(parts) <= 4:
        return path
    return "/".join([*parts[:2], "...", *parts[-2:]])


def pack_event_name(pack: PackRun, given_path: str) -> str:
    """A local pack's key in the summary's PolicyPacks: `<name>|local|<path as given>`."""
    return f"{pack.name}|local|{abbreviated_path(given_path)}"


def prelude_config(result: PreviewResult) -> dict[str, str]:
    """The stack's config as the prelude carries it: every value a string, secrets blinded."""
    secret = set(result.stack.secret_keys)
    return {
        key: (SECRET_PLACEHOLDER if key in secret else value)
        for key, value in sorted(result.stack.config.items())
    }


def resource_changes(result: PreviewResult) -> dict[str, int]:
    """The summary's counts by step: a new stack creates every resource it does not read; a
    deployed, unchanged one keeps them the same (reads that change nothing are not counted)."""
    counts = result.counts()
    total = counts["total"] - counts["read"]
    return {("create" if runs_as_preview(result.mode) else "same"): total}


def _stack_urn_for(violation: Violation, result: PreviewResult, known: set[str]) -> str:
    """AnalyzeStack's verdict on its own resource, or on the root stack when it names none."""
    return violation.urn if violation.urn in known else result.run.stack_urn


def _events_in_order(
    result: PreviewResult, pack_paths: Sequence[str]
) -> Iterator[tuple[str, object]]:
    yield "preludeEvent", PreludeEvent(config=prelude_config(result))
    # Analyze per resource (every pack on one resource, then the next), then AnalyzeStack.
    per_pack = [[call for call in pack.calls if not call.is_stack] for pack in result.packs]
    longest = max((len(calls) for calls in per_pack), default=0)
    for index in range(longest):
        for pack, calls in zip(result.packs, per_pack, strict=True):
            if index >= len(calls):
                continue
            call = calls[index]
            for violation in call.violations:
                event = _policy_event(violation, pack.version, call.urn)
                if event is not None:
                    yield "policyEvent", event
            yield "policyAnalyzeSummaryEvent", _analyze_summary(pack, call)
    known = {registration.urn for registration in result.run.registrations}
    known.add(result.run.stack_urn)
    for pack in result.packs:
        for call in pack.calls:
            if not call.is_stack:
                continue
            for violation in call.violations:
                urn = _stack_urn_for(violation, result, known)
                event = _policy_event(violation, pack.version, urn)
                if event is not None:
                    yield "policyEvent", event
            yield "policyAnalyzeStackSummaryEvent", _stack_summary(pack, call)
    packs = {
        pack_event_name(pack, path): pack.version
        for pack, path in zip(result.packs, pack_paths, strict=True)
    }
    failed = any(event_level(v.level) == MANDATORY for v in result.violations)
    summary: SummaryEvent = {
        "maybeCorrupt": False,
        "durationSeconds": math.ceil(result.timings.get("total_s", 0.0)),
        "resourceChanges": resource_changes(result),
        "PolicyPacks": dict(sorted(packs.items())),
        "isPreview": True,
        "result": RESULT_FAILED if failed else RESULT_SUCCEEDED,
    }
    yield "summaryEvent", summary
    yield "cancelEvent", CancelEvent()


def engine_events(
    result: PreviewResult, pack_paths: Sequence[str], *, timestamp: int | None = None
) -> list[EngineEvent]:
    """The stream, stamped as the CLI stamps it: sequence from 0, Unix seconds.

    `pack_paths` are the `--policy-pack` folders as given, one per pack (the engine names local
    packs by them in the summary)."""
    if len(pack_paths) != len(result.packs):
        raise ValueError(f"{len(pack_paths)} pack paths for {len(result.packs)} packs")
    stamp = int(time.time()) if timestamp is None else timestamp
    return [
        cast(EngineEvent, {"sequence": sequence, "timestamp": stamp, key: payload})
        for sequence, (key, payload) in enumerate(_events_in_order(result, pack_paths))
    ]


def encode_event(event: EngineEvent) -> str:
    """One line as Go's json.Encoder writes it with HTML escaping off: compact, UTF-8, and
    U+2028 / U+2029 escaped (encoding/json always escapes those two)."""
    text = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029") + "\n"


def write_events(
    result: PreviewResult, path: Path, pack_paths: Sequence[str], *, timestamp: int | None = None
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = (
        encode_event(event) for event in engine_events(result, pack_paths, timestamp=timestamp)
    )
    path.write_text("".join(lines), encoding="utf-8")


# -- reading them back, the way CI tooling does -------------------------------------------


def read_events(lines: Iterable[str]) -> list[EngineEvent]:
    """Newline-delimited events (blank lines skipped), in file order."""
    return [json.loads(line) for line in lines if line.strip()]


def policy_events(events: Iterable[EngineEvent]) -> list[PolicyEvent]:
    return [event["policyEvent"] for event in events if "policyEvent" in event]
