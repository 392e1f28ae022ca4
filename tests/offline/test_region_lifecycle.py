"""A region's whole life, played through the offline preview in update mode as a deployed stack
would go through it, each step compared with the one before by URN (`--against`, what the
engine would create and delete):

    two regions -> add ap-southeast-2 -> retire eu-west-1 -> remove it -> put ap-southeast-2 first

Each step passes the pack; no step deletes a protected resource (deletion protection on, or
`protect`): such a delete fails and `pulumi up` stops halfway; a region's latency record and
health check are gone a step before anything else of it is deleted. The shortcuts the README
warns about (dropping a region without retiring it, reordering regions without a named table
region) are shown to delete protected resources, so the checks would catch them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from offline_harness import REPO, OfflineRun, run_offline

NS = "resilient-serverless:"
STACK = "lifecycle"
ADDED, LEAVING = "ap-southeast-2", "eu-west-1"
ROUTE53_TYPES = ("aws:route53/record:Record", "aws:route53/healthCheck:HealthCheck")


def prod_stack_config() -> dict[str, Any]:
    return dict(yaml.safe_load((REPO / "Pulumi.prod.yaml").read_text())["config"])


#: Each step's changes to the prod stack file.
STEPS: dict[str, dict[str, Any]] = {
    "two regions": {},
    "add a region": {f"{NS}regions": ["us-east-1", LEAVING, ADDED]},
    "retire one": {f"{NS}regions": ["us-east-1", LEAVING, ADDED], f"{NS}retiringRegions": [LEAVING]},
    "remove it": {f"{NS}regions": ["us-east-1", ADDED], f"{NS}retiringRegions": []},
    "put another first": {f"{NS}regions": [ADDED, "us-east-1"]},
}


class Project:
    """A project folder whose program is this repository's, with one stack file per step."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        project = yaml.safe_load((REPO / "Pulumi.yaml").read_text())
        project["main"] = str(REPO)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "Pulumi.yaml").write_text(yaml.safe_dump(project, sort_keys=False))

    def preview(
        self, changes: dict[str, Any], out_dir: Path, against: Path | None = None
    ) -> OfflineRun:
        config = prod_stack_config() | changes
        (self.folder / f"Pulumi.{STACK}.yaml").write_text(yaml.safe_dump({"config": config}))
        extra = ["--against", str(against)] if against is not None else []
        return run_offline(
            "--cwd", self.folder, "--stack", STACK, "--mode", "update", *extra, out_dir=out_dir
        )


def report_path(run: OfflineRun) -> Path:
    return Path(run.args[run.args.index("--json") + 1])


def deleted(run: OfflineRun) -> list[dict[str, Any]]:
    assert run.report is not None, run.describe()
    return list(run.report["changes"]["deleted"])


def created(run: OfflineRun) -> list[dict[str, Any]]:
    assert run.report is not None, run.describe()
    return list(run.report["changes"]["created"])


def dns_of(report: dict[str, Any], region: str) -> list[str]:
    """The URNs of `region`'s latency records and health checks in a report."""
    found = []
    for resource in report["resources"]:
        inputs = resource.get("inputs") or {}
        if resource["type"] == ROUTE53_TYPES[0] and inputs.get("setIdentifier") == region:
            found.append(resource["urn"])
        name_tag = (inputs.get("tags") or {}).get("Name", "")
        if resource["type"] == ROUTE53_TYPES[1] and name_tag.endswith(f" {region}"):
            found.append(resource["urn"])
    return found


@pytest.fixture(scope="module")
def lifecycle(tmp_path_factory: pytest.TempPathFactory) -> dict[str, OfflineRun]:
    project = Project(tmp_path_factory.mktemp("project"))
    runs: dict[str, OfflineRun] = {}
    previous: Path | None = None
    for step, changes in STEPS.items():
        run = project.preview(changes, tmp_path_factory.mktemp("step"), previous)
        runs[step] = run
        previous = report_path(run)
    return runs


@pytest.mark.parametrize("step", list(STEPS))
def test_every_step_passes_the_pack(lifecycle: dict[str, OfflineRun], step: str) -> None:
    run = lifecycle[step]
    assert run.exit_code == 0, run.describe()
    assert run.mandatory == [], run.describe()


@pytest.mark.parametrize("step", list(STEPS)[1:])
def test_no_step_deletes_a_protected_resource(lifecycle: dict[str, OfflineRun], step: str) -> None:
    run = lifecycle[step]
    protected = [d["urn"] for d in deleted(run) if d["protected"] and not d["retained"]]
    assert protected == [], run.describe()
    assert run.report is not None
    assert run.report["changes"]["counts"]["protectedDeletes"] == 0


@pytest.mark.parametrize("step", list(STEPS)[1:])
def test_dns_lets_go_of_a_region_before_anything_else_of_it_is_deleted(
    lifecycle: dict[str, OfflineRun], step: str
) -> None:
    steps = list(STEPS)
    before = lifecycle[steps[steps.index(step) - 1]].report
    assert before is not None
    for delete in deleted(lifecycle[step]):
        region = delete["region"]
        if region is None or delete["type"] in ROUTE53_TYPES:
            continue
        assert dns_of(before, region) == [], f"{delete['urn']} goes while {region} is in DNS"


def test_adding_a_region_creates_and_deletes_nothing_else(
    lifecycle: dict[str, OfflineRun],
) -> None:
    run = lifecycle["add a region"]
    assert deleted(run) == []
    regions = {item["region"] for item in created(run)}
    # The new region's resources, their (global) IAM roles and its DNS.
    assert regions == {ADDED, None}
    assert run.report is not None
    assert len(dns_of(run.report, ADDED)) == 2


def test_retiring_only_withdraws_the_region_from_dns(lifecycle: dict[str, OfflineRun]) -> None:
    run = lifecycle["retire one"]
    before = lifecycle["add a region"].report
    assert before is not None
    assert created(run) == []
    assert sorted(d["urn"] for d in deleted(run)) == sorted(dns_of(before, LEAVING))
    # Everything else of the region stays: its queues and stream finish their work.
    assert run.report is not None
    assert run.report["summary"]["resources"]["by_region"][LEAVING] == (
        before["summary"]["resources"]["by_region"][LEAVING]
    )


def test_removing_deletes_the_region_and_says_what_data_goes(
    lifecycle: dict[str, OfflineRun],
) -> None:
    run = lifecycle["remove it"]
    assert created(run) == []
    gone = deleted(run)
    assert {d["region"] for d in gone} <= {LEAVING, None}
    # What adding a region created, less its DNS (gone in the step before), plus its table
    # replica (an entry of the global table, deleted with its items).
    assert len(gone) == len(created(lifecycle["add a region"])) - 2 + 1
    (replica,) = [d for d in gone if d["how"] == "replica removed"]
    assert replica["region"] == LEAVING and not replica["protected"]
    losing = {d["type"] for d in gone if d["stateful"]}
    assert {
        "aws:dynamodb/table:Table",
        "aws:sqs/queue:Queue",
        "aws:kinesis/stream:Stream",
        "aws:cloudwatch/logGroup:LogGroup",
    } <= losing


def test_putting_another_region_first_changes_nothing(lifecycle: dict[str, OfflineRun]) -> None:
    run = lifecycle["put another first"]
    assert created(run) == [] and deleted(run) == []
    assert "nothing created or deleted" in run.stdout


def test_the_text_report_lists_the_changes(lifecycle: dict[str, OfflineRun]) -> None:
    run = lifecycle["remove it"]
    assert "Changes against " in run.stdout
    assert "replica removed" in run.stdout
    assert "loses its messages" in run.stdout


# --- the shortcuts the README warns about --------------------------------------------------------


@pytest.fixture(scope="module")
def three_regions(tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, Path]:
    project = Project(tmp_path_factory.mktemp("shortcuts"))
    run = project.preview(STEPS["add a region"], tmp_path_factory.mktemp("three"))
    assert run.exit_code == 0, run.describe()
    return project, report_path(run)


def test_dropping_a_region_without_retiring_it_deletes_protected_data(
    three_regions: tuple[Project, Path], tmp_path: Path
) -> None:
    project, previous = three_regions
    run = project.preview(STEPS["remove it"], tmp_path, previous)
    protected = {(d["urn"].rsplit("::", 1)[1], d["how"]) for d in deleted(run) if d["protected"]}
    assert protected == {
        (f"tasks-{LEAVING}-saga-table", "removed"),
        ("tasks-tasks-table", "replica removed"),
    }
    assert "PROTECTED (deletion protection)" in run.stdout
    # DNS and everything else of the region would go in the same update.
    assert any(d["type"] in ROUTE53_TYPES for d in deleted(run))


def test_reordering_without_a_named_table_region_replaces_the_table(
    three_regions: tuple[Project, Path], tmp_path: Path
) -> None:
    project, previous = three_regions
    changes = {f"{NS}regions": [ADDED, "us-east-1", LEAVING], f"{NS}tableRegion": ""}
    run = project.preview(changes, tmp_path, previous)
    (replaced,) = [d for d in deleted(run) if d["how"].startswith("replaced")]
    assert replaced["urn"].endswith("::tasks-tasks-table")
    assert replaced["how"] == f"replaced (region us-east-1 -> {ADDED})"
    assert replaced["protected"] and replaced["stateful"]
