"""What CI reads from an offline preview: the engine-event stream (`--events`), the JSON
report's pack, severity, exemption and provider-function fields, and the Markdown verdict table
(`--summary-md`)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import yaml
from offline_harness import PROGRAMS, REPO, OfflineRun, run_offline

from offline.engine.project import StackConfig
from offline.engine.recording import Registration
from offline.engine.runner import ProgramRun
from offline.model import PackPolicy, PackRun, PolicyCall, PreviewResult, Violation
from offline.reports.engine_events import (
    CANCEL_EVENT_FIELDS,
    COLOR_NEVER,
    ENGINE_EVENT_FIELDS,
    EVENT_FIELDS,
    EVENT_LEVELS,
    OMITTED_WHEN_EMPTY,
    POLICY_ANALYZE_STACK_SUMMARY_EVENT_FIELDS,
    POLICY_ANALYZE_SUMMARY_EVENT_FIELDS,
    POLICY_EVENT_FIELDS,
    PRELUDE_EVENT_FIELDS,
    PULUMI_COMMIT,
    SECRET_PLACEHOLDER,
    SEVERITIES,
    SUMMARY_EVENT_FIELDS,
    EngineEvent,
    abbreviated_path,
    encode_event,
    engine_events,
    read_events,
)
from offline.reports.job_summary import TABLE_HEADER, render_summary_markdown

PACK = "resilient-serverless"
PACK_VERSION = str(yaml.safe_load((REPO / "policies" / "PulumiPolicy.yaml").read_text())["version"])
DLQ_PROGRAM = PROGRAMS / "dlq-without-alarm"
EXEMPT_DLQ = "svc-us-east-1-dlq"
EXEMPT_REASON = "drained by the nightly replay job"


# -- a consumer, written the way CI tooling reads `pulumi preview --event-log` ----------------


def mandatory_policy_events(lines: Iterable[str]) -> list[dict[str, Any]]:
    """Collect the policyEvent lines and keep the mandatory ones (what fails a CI gate)."""
    found = []
    for line in lines:
        event = json.loads(line)
        policy = event.get("policyEvent")
        if policy is not None and policy["enforcementLevel"] == "mandatory":
            found.append(policy)
    return found


def _check_event_shape(event: dict[str, Any]) -> str:
    """The one event's key, after checking the envelope and the payload against the struct
    field names (declaration order, omitempty)."""
    keys = list(event)
    assert keys[:2] == ["sequence", "timestamp"], keys
    assert len(keys) == 3, f"exactly one event per line: {keys}"
    kind = keys[2]
    assert kind in ENGINE_EVENT_FIELDS, kind
    payload = event[kind]
    fields = EVENT_FIELDS[kind]
    omitted = OMITTED_WHEN_EMPTY.get(kind, frozenset())
    assert set(fields) - omitted <= set(payload), (kind, payload)
    assert [key for key in fields if key in payload] == list(payload), "declaration order"
    for key in omitted & set(payload):
        assert payload[key], f"{kind}.{key} is omitempty: never written empty"
    return kind


@pytest.fixture(scope="module")
def dlq_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[OfflineRun, Path, Path]:
    out = tmp_path_factory.mktemp("dlq-events")
    events, summary = out / "events.jsonl", out / "summary.md"
    run = run_offline(
        "--cwd",
        DLQ_PROGRAM,
        "--stack",
        "dev",
        "--events",
        events,
        "--summary-md",
        summary,
        out_dir=out,
    )
    return run, events, summary


def test_the_events_file_is_the_engines_stream(dlq_run: tuple[OfflineRun, Path, Path]) -> None:
    run, events_path, _ = dlq_run
    assert run.exit_code == 1, run.describe()
    assert run.report is not None
    lines = events_path.read_text(encoding="utf-8").splitlines(keepends=True)
    assert lines and all(line.endswith("\n") for line in lines)
    events = [json.loads(line) for line in lines]
    # Written the way Go's json.Encoder writes: compact, one object per line.
    assert [encode_event(event) for event in events] == lines
    kinds = [_check_event_shape(event) for event in events]
    assert [event["sequence"] for event in events] == list(range(len(events)))
    assert kinds[0] == "preludeEvent"
    assert kinds[-2:] == ["summaryEvent", "cancelEvent"]
    assert events[-1]["cancelEvent"] == {}
    # Per resource, its verdicts come before its Analyze summary; AnalyzeStack's summary closes
    # the policy part.
    assert kinds.count("policyAnalyzeStackSummaryEvent") == 1
    assert kinds[-3] == "policyAnalyzeStackSummaryEvent"

    policy = [event["policyEvent"] for event in events if "policyEvent" in event]
    assert len(policy) == len(run.violations)
    stack_urn = run.report["resources"][0]["urn"]
    urns = {resource["urn"] for resource in run.report["resources"]}
    for event in policy:
        assert event["enforcementLevel"] in EVENT_LEVELS
        assert event["severity"] in SEVERITIES
        assert event["color"] == COLOR_NEVER
        assert event["message"].endswith("\n")
        assert event["policyPackName"] == PACK
        assert event["policyPackVersion"] == event["policyPackVersionTag"] == PACK_VERSION
        assert event["resourceUrn"] in urns | {stack_urn}

    # What a CI gate reads agrees with the report and the exit code.
    gate = mandatory_policy_events(lines)
    assert len(gate) == len(run.mandatory) == 2
    assert {event["policyName"] for event in gate} == {"dlq-alarm"}
    assert sorted(event["resourceUrn"] for event in gate) == sorted(v["urn"] for v in run.mandatory)

    summary = events[-2]["summaryEvent"]
    assert summary["isPreview"] is True and summary["maybeCorrupt"] is False
    assert summary["result"] == "failed", "a mandatory violation fails the preview"
    assert summary["resourceChanges"] == {"create": run.report["summary"]["resources"]["total"]}
    assert list(summary["PolicyPacks"].values()) == [PACK_VERSION]
    (key,) = summary["PolicyPacks"]
    assert key.startswith(f"{PACK}|local|")

    stack_summary = events[-3]["policyAnalyzeStackSummaryEvent"]
    assert stack_summary["failed"] == ["dlq-alarm"]
    assert "dlq-alarm" not in stack_summary["passed"]
    assert stack_summary["passed"] == sorted(stack_summary["passed"])

    prelude = events[0]["preludeEvent"]["config"]
    assert prelude["aws:region"] == "us-east-1"
    assert all(isinstance(value, str) for value in prelude.values())


def test_the_shared_reader_reads_what_the_writer_wrote(
    dlq_run: tuple[OfflineRun, Path, Path],
) -> None:
    _, events_path, _ = dlq_run
    with events_path.open(encoding="utf-8") as lines:
        events = read_events(lines)
    assert [next(iter(set(e) - {"sequence", "timestamp"})) for e in events][-1] == "cancelEvent"


# -- the writer on a hand-made result: levels, URNs, summaries, omitempty -------------------

STACK_URN = "urn:pulumi:dev::p::pulumi:pulumi:Stack::p-dev"
QUEUE_URN = "urn:pulumi:dev::p::aws:sqs/queue:Queue::jobs"


def _violation(policy: str, level: str, urn: str, message: str, severity: str = "") -> Violation:
    return Violation(PACK, policy, level, urn, f"Description of {policy}.\n{message}",
                     f"Description of {policy}.", severity)  # fmt: skip


def _result(calls: list[PolicyCall], policies: list[PackPolicy]) -> PreviewResult:
    stack = StackConfig(
        project_dir=Path("."),
        project_name="p",
        stack="dev",
        stack_file=Path("Pulumi.dev.yaml"),
        program_file=Path("__main__.py"),
        config={"aws:region": "us-east-1", "p:apiToken": "ciphertext"},
        secret_keys=["p:apiToken"],
    )
    queue = Registration(0, QUEUE_URN, "aws:sqs/queue:Queue", "jobs", STACK_URN, True, [], {}, {})
    run = ProgramRun(registrations=[queue], stack_urn=STACK_URN, exports={})
    pack = PackRun(
        PACK,
        "policies",
        policies=policies,
        violations=[v for call in calls for v in call.violations],
        version="1.2.3",
        calls=calls,
    )
    return PreviewResult(stack, "preview", run, [pack], {})


def _policy(name: str, kind: str, level: str = "advisory") -> PackPolicy:
    return PackPolicy(PACK, name, level, f"Description of {name}.", "", kind)


def test_levels_urns_and_summaries_follow_the_engine() -> None:
    policies = [
        _policy("queue-dlq", "resource", "mandatory"),
        _policy("queue-tags", "resource"),
        _policy("queue-off", "resource", "disabled"),
        _policy("queue-na", "resource"),
        _policy("regions", "stack"),
        _policy("alarms", "stack", "remediate"),
    ]
    calls = [
        PolicyCall(
            QUEUE_URN,
            (_violation("queue-dlq", "mandatory", QUEUE_URN, "no DLQ", "high"),),
            ("queue-na",),
        ),
        PolicyCall(
            "",
            (
                # A stack verdict that names no resource, and one that names none of the stack's.
                _violation("regions", "advisory", "", "one region only"),
                _violation("regions", "advisory", "urn:pulumi:dev::p::x:y:Z::gone", "odd"),
                _violation("alarms", "remediate", QUEUE_URN, "no alarm", "low"),
                _violation("alarms", "disabled", QUEUE_URN, "never shown"),
            ),
        ),
    ]
    events = engine_events(_result(calls, policies), ["policies"], timestamp=1_700_000_000)
    for event in events:
        _check_event_shape(dict(event))
    assert {event["timestamp"] for event in events} == {1_700_000_000}
    assert events[0].get("preludeEvent") == {
        "config": {"aws:region": "us-east-1", "p:apiToken": SECRET_PLACEHOLDER}
    }
    policy = [event["policyEvent"] for event in events if "policyEvent" in event]
    assert [(p.get("resourceUrn"), p["enforcementLevel"], p.get("severity")) for p in policy] == [
        (QUEUE_URN, "mandatory", "high"),
        (STACK_URN, "advisory", None),  # no severity: omitted, as omitempty does
        (STACK_URN, "advisory", None),
        (QUEUE_URN, "mandatory", "low"),  # remediate is reported as mandatory
    ]
    assert policy[0]["message"] == "Description of queue-dlq.\nno DLQ\n"
    resource_summary = next(e for e in events if "policyAnalyzeSummaryEvent" in e)
    assert resource_summary["policyAnalyzeSummaryEvent"] == {
        "resourceUrn": QUEUE_URN,
        "policyPackName": PACK,
        "policyPackVersion": "1.2.3",
        "policyPackVersionTag": "1.2.3",
        "passed": ["queue-tags"],  # not the disabled one, nor the one not applicable
        "failed": ["queue-dlq"],
    }
    stack_summary = next(e for e in events if "policyAnalyzeStackSummaryEvent" in e)
    assert stack_summary["policyAnalyzeStackSummaryEvent"] == {
        "policyPackName": PACK,
        "policyPackVersion": "1.2.3",
        "policyPackVersionTag": "1.2.3",
        "failed": ["alarms", "regions"],  # nothing passed: `passed` is left out
    }
    summary = events[-2].get("summaryEvent")
    assert summary is not None
    assert summary["PolicyPacks"] == {f"{PACK}|local|policies": "1.2.3"}
    assert summary["resourceChanges"] == {"create": 2}  # the queue and the stack
    assert summary["result"] == "failed"
    assert "cancelEvent" in events[-1]


def test_a_clean_preview_succeeds_and_long_pack_paths_are_shortened() -> None:
    calls = [PolicyCall(QUEUE_URN), PolicyCall("")]
    long_path = "/builds/ci/" + "x" * 60 + "/repository/policies"
    events = engine_events(
        _result(calls, [_policy("queue-dlq", "resource")]), [long_path], timestamp=0
    )
    assert not [e for e in events if "policyEvent" in e]
    summary = events[-2].get("summaryEvent")
    assert summary is not None and summary["result"] == "succeeded"
    assert summary["PolicyPacks"] == {f"{PACK}|local|/builds/.../repository/policies": "1.2.3"}
    assert abbreviated_path("policies") == "policies"
    stack_summary = next(e for e in events if "policyAnalyzeStackSummaryEvent" in e)
    assert "passed" not in stack_summary["policyAnalyzeStackSummaryEvent"]  # no stack policy


def test_encoding_matches_go_json_encoder() -> None:
    event: EngineEvent = {"sequence": 0, "timestamp": 0, "preludeEvent": {"config": {}}}
    assert encode_event(event) == '{"sequence":0,"timestamp":0,"preludeEvent":{"config":{}}}\n'
    prelude: EngineEvent = {
        "sequence": 1,
        "timestamp": 0,
        "preludeEvent": {"config": {"p:k": "<a&b> é \u2028"}},
    }
    # SetEscapeHTML(false): <, > and & stay; UTF-8 stays; U+2028 is always escaped.
    assert '"p:k":"<a&b> é \\u2028"' in encode_event(prelude)


_GO_TAG = re.compile(r'^\s*\w+\s+[^`]+`json:"([^",]+)(,omitempty)?"`', re.MULTILINE)
_STRUCTS = {
    "EngineEvent": ENGINE_EVENT_FIELDS,
    "PolicyEvent": POLICY_EVENT_FIELDS,
    "PolicyAnalyzeSummaryEvent": POLICY_ANALYZE_SUMMARY_EVENT_FIELDS,
    "PolicyAnalyzeStackSummaryEvent": POLICY_ANALYZE_STACK_SUMMARY_EVENT_FIELDS,
    "PreludeEvent": PRELUDE_EVENT_FIELDS,
    "SummaryEvent": SUMMARY_EVENT_FIELDS,
    "CancelEvent": CANCEL_EVENT_FIELDS,
}


@pytest.mark.skipif(
    not os.environ.get("PULUMI_GIT_DIR"),
    reason="set PULUMI_GIT_DIR to a pulumi/pulumi git directory to compare with its source",
)
def test_field_names_match_the_engine_source() -> None:
    """The committed field names against the Go struct tags at the cited commit."""
    source = subprocess.run(
        [
            "git",
            f"--git-dir={os.environ['PULUMI_GIT_DIR']}",
            "show",
            f"{PULUMI_COMMIT}:sdk/go/common/apitype/events.go",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for struct, fields in _STRUCTS.items():
        body = re.search(rf"^type {struct} struct \{{(.*?)^\}}", source, re.MULTILINE | re.DOTALL)
        if body is None:  # an empty struct is declared on one line
            assert re.search(rf"^type {struct} struct{{}}", source, re.MULTILINE), struct
            assert fields == ()
            continue
        tags = _GO_TAG.findall(body.group(1))
        assert tuple(name for name, _ in tags) == fields, struct
        omitted = {name for name, omitempty in tags if omitempty}
        kind = struct[0].lower() + struct[1:]
        if kind in OMITTED_WHEN_EMPTY:
            assert omitted == OMITTED_WHEN_EMPTY[kind], struct


# -- the JSON report's new fields -------------------------------------------------------------


def test_violations_carry_severity_and_their_pack_version(
    dlq_run: tuple[OfflineRun, Path, Path],
) -> None:
    run, _, _ = dlq_run
    assert run.report is not None
    assert run.report["policyPacks"] == [
        {"name": PACK, "version": PACK_VERSION, "directory": str(REPO / "policies")}
    ]
    assert run.report["summary"]["packs"][0]["version"] == PACK_VERSION
    for violation in run.violations:
        assert violation["severity"] == "high"  # dlq-alarm's severity in the pack
        assert violation["policyPack"] == {"name": PACK, "version": PACK_VERSION}
    assert run.report["exemptions"] == []
    assert run.report["providerFunctions"] == [
        {"token": "aws:route53/getZone:getZone", "answer": "well-known", "calls": 1}
    ]


def test_exemptions_are_listed_with_their_reason(tmp_path: Path) -> None:
    config = tmp_path / "policy-config.json"
    config.write_text(
        json.dumps({"dlq-alarm": {"exemptions": [{"name": EXEMPT_DLQ, "reason": EXEMPT_REASON}]}})
    )
    run = run_offline(
        "--cwd",
        DLQ_PROGRAM,
        "--stack",
        "dev",
        "--policy-pack",
        REPO / "policies",
        "--policy-pack-config",
        config,
        "--events",
        tmp_path / "events.jsonl",
        out_dir=tmp_path,
    )
    assert run.report is not None, run.describe()
    assert run.exit_code == 1  # the other region's DLQ is still unwatched
    (exemption,) = run.report["exemptions"]
    assert exemption["policy"] == "dlq-alarm"
    assert exemption["reason"] == EXEMPT_REASON
    assert exemption["level"] == "advisory"
    assert exemption["urn"].endswith(f"::{EXEMPT_DLQ}")
    exempt = [v for v in run.violations if v.get("exempt")]
    assert [v["urn"] for v in exempt] == [exemption["urn"]]
    assert run.report["summary"]["exempt_violations"] == 1
    # In the event stream the exemption is an advisory verdict, and no gate counts it.
    lines = (tmp_path / "events.jsonl").read_text(encoding="utf-8").splitlines()
    gate = mandatory_policy_events(lines)
    assert [event["resourceUrn"] for event in gate] == [v["urn"] for v in run.mandatory]
    advisory = [
        json.loads(line)["policyEvent"] for line in lines if '"enforcementLevel":"advisory"' in line
    ]
    assert [event["resourceUrn"] for event in advisory] == [exemption["urn"]]
    assert f"Exempt ({EXEMPT_REASON}): " in advisory[0]["message"]


# -- the Markdown verdict table -------------------------------------------------------------


def test_summary_table_lists_every_verdict_mandatory_first() -> None:
    calls = [
        PolicyCall(
            "",
            (
                _violation("regions", "advisory", "", "one region | only\nsecond line", "medium"),
                _violation("queue-dlq", "mandatory", QUEUE_URN, "no DLQ", "high"),
                _violation("queue-tags", "advisory", QUEUE_URN, "Exempt (a cache): no tags"),
            ),
        )
    ]
    policies = [_policy("queue-dlq", "resource"), _policy("regions", "stack")]
    text = render_summary_markdown(_result(calls, policies))
    lines = text.splitlines()
    assert lines[0] == "### Offline policy preview: p / dev (preview): failed"
    assert f"`{PACK}` 1.2.3 (2 policies)" in text
    header = lines.index("| " + " | ".join(TABLE_HEADER) + " |")
    assert lines[header + 1] == "| --- | --- | --- | --- | --- |"
    rows = lines[header + 2 : header + 5]
    assert rows == [
        "| mandatory | high | `queue-dlq` | `jobs` (aws:sqs/queue:Queue) | no DLQ |",
        "| advisory | medium | `regions` | (stack) | one region \\| only<br>second line |",
        "| advisory (exempt) | - | `queue-tags` | `jobs` (aws:sqs/queue:Queue) "
        "| Exempt (a cache): no tags |",
    ]
    assert lines[header + 5] == ""
    assert lines[-1] == "**1 mandatory, 2 advisory** (1 exempt); exit code 1"


def test_summary_file_matches_the_run(dlq_run: tuple[OfflineRun, Path, Path]) -> None:
    run, _, summary_path = dlq_run
    text = summary_path.read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if line.startswith("| mandatory |")]
    assert len(rows) == len(run.mandatory) == 2
    assert all("| high | `dlq-alarm` |" in row for row in rows)
    assert text.splitlines()[-1] == "**2 mandatory, 0 advisory** (0 exempt); exit code 1"
