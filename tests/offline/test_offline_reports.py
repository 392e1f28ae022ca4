"""The JSON report and the Mermaid diagram are written and well-formed."""

from __future__ import annotations

import re
from pathlib import Path

from offline_harness import PROGRAMS, OfflineRun, prod_regions, run_offline

SUBGRAPH = re.compile(r'^\s*subgraph (\S+)\["([^"]+)"\]\s*$')
NODE = re.compile(r'^\s*(n\d+)\["[^"]+"\]\s*$')
EDGE = re.compile(r'^\s*(n\d+) -->\|"[^"]+"\| (n\d+)\s*$')


def test_json_report_has_the_documented_shape(prod_runs: dict[str, OfflineRun]) -> None:
    report = prod_runs["preview"].report
    assert report is not None
    assert set(report) == {
        "resources",
        "policies",
        "violations",
        "summary",
        "providerCalls",
        "stackReferences",
        "policyPacks",
        "exemptions",
        "providerFunctions",
    }
    # The prod stack looks its hosted zone up (and nothing else it cannot know).
    assert {call["token"] for call in report["providerCalls"]} >= {"aws:route53/getZone:getZone"}
    assert all(call["answer"] == "well-known" for call in report["providerCalls"])
    assert report["stackReferences"] == []
    for resource in report["resources"]:
        assert {"urn", "type", "name", "parent", "region", "inputs"} <= set(resource)
        assert resource["urn"].startswith("urn:pulumi:prod::")
    stack = report["resources"][0]
    assert stack["type"] == "pulumi:pulumi:Stack" and stack["parent"] == ""
    urns = {r["urn"] for r in report["resources"]}
    assert all(r["parent"] in urns for r in report["resources"][1:]), "every parent is listed"
    assert report["policies"] and all(
        set(p) == {"pack", "name", "level"} for p in report["policies"]
    )
    assert report["summary"]["mode"] == "preview"
    assert report["summary"]["stack"] == "prod"
    assert report["summary"]["exit_code"] == 0
    counts = report["summary"]["resources"]
    assert counts["total"] == len(report["resources"])
    assert counts["custom"] + counts["components"] == counts["total"]


def test_json_report_lists_violations_with_their_resource(tmp_path: Path) -> None:
    run = run_offline("--cwd", PROGRAMS / "dlq-without-alarm", "--stack", "dev", out_dir=tmp_path)
    assert run.report is not None
    urns = {r["urn"] for r in run.report["resources"]}
    assert run.violations
    for violation in run.violations:
        assert set(violation) == {
            "pack",
            "policy",
            "level",
            "urn",
            "message",
            "severity",
            "policyPack",
        }
        assert violation["urn"] in urns
    assert run.report["summary"]["mandatory_violations"] == len(run.mandatory)
    assert run.report["summary"]["exit_code"] == run.exit_code == 1


def test_diagram_has_a_subgraph_per_region_and_links(prod_runs: dict[str, OfflineRun]) -> None:
    diagram = prod_runs["preview"].diagram
    assert diagram is not None
    lines = diagram.splitlines()
    assert lines[0] == "flowchart LR"
    subgraphs = {m.group(2) for line in lines if (m := SUBGRAPH.match(line))}
    assert set(prod_regions()) | {"global"} == subgraphs
    assert sum(1 for line in lines if line.strip() == "end") == len(subgraphs)
    nodes = {m.group(1) for line in lines if (m := NODE.match(line))}
    edges = [(m.group(1), m.group(2)) for line in lines if (m := EDGE.match(line))]
    assert nodes and edges
    assert all(source in nodes and target in nodes for source, target in edges)
    every_line_known = all(
        SUBGRAPH.match(line) or NODE.match(line) or EDGE.match(line) or line.strip() == "end"
        for line in lines[1:]
    )
    assert every_line_known, diagram


def test_text_report_is_plain_when_piped(prod_runs: dict[str, OfflineRun]) -> None:
    """Progress goes to a terminal only: a piped run prints no control characters."""
    run = prod_runs["preview"]
    assert "\r" not in run.stdout and "\x1b" not in run.stdout
    assert "\r" not in run.stderr and "\x1b" not in run.stderr
    for heading in ("Type", "Policy Packs:", "Outputs:", "Resources:", "Resilience summary"):
        assert heading in run.stdout
