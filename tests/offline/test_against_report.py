"""`--against PREVIOUS.json`: what a change creates and deletes, by URN, and which deletes are of
protected or stateful resources (the whole sequence of a region's life is in
test_region_lifecycle.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from offline_harness import REPO, run_offline

from offline.reports.changes import PreviousReport, compare

URN = "urn:pulumi:prod::resilient-serverless::"


def resource(name: str, type_: str, region: str | None = "us-east-1", **extra: Any) -> dict[str, Any]:
    return {
        "urn": f"{URN}{type_}::{name}",
        "type": type_,
        "name": name,
        "region": region,
        "custom": True,
        "inputs": extra.pop("inputs", {}),
        **extra,
    }


def previous(*resources: dict[str, Any]) -> PreviousReport:
    return PreviousReport(
        path=Path("before.json"),
        project="resilient-serverless",
        stack="prod",
        resources={item["urn"]: item for item in resources},
    )


TABLE = "aws:dynamodb/table:Table"
QUEUE = "aws:sqs/queue:Queue"
ROLE = "aws:iam/role:Role"


def test_a_gone_urn_is_a_delete_marked_by_what_it_holds_and_what_protects_it() -> None:
    table = resource("inventory", TABLE, inputs={"deletionProtectionEnabled": True})
    queue = resource("work", QUEUE)
    role = resource("worker-role", ROLE, region=None, protect=True)
    kept = resource("account", "aws:apigateway/account:Account", retainOnDelete=True)
    new = resource("new-queue", QUEUE, region="eu-west-1")
    changes = compare(previous(table, queue, role, kept), [new])

    assert changes.created == [{"urn": new["urn"], "type": QUEUE, "region": "eu-west-1"}]
    by_name = {d.urn.rsplit("::", 1)[1]: d for d in changes.deleted}
    assert by_name["inventory"].protected_by == "deletion protection"
    assert by_name["inventory"].loses == "its items"
    assert by_name["work"].protected_by == "" and by_name["work"].loses == "its messages"
    assert by_name["worker-role"].protected_by == "protect" and by_name["worker-role"].loses == ""
    assert by_name["account"].retained
    # A retained resource is only forgotten: neither a protected nor a stateful delete.
    assert {d.urn for d in changes.protected_deletes} == {table["urn"], role["urn"]}
    assert {d.urn for d in changes.stateful_deletes} == {table["urn"], queue["urn"]}


def test_a_move_to_another_region_is_a_replacement() -> None:
    before = resource("tasks", TABLE, inputs={"deletionProtectionEnabled": True})
    after = {**before, "region": "ap-southeast-2"}
    (replaced,) = compare(previous(before), [after]).deleted
    assert replaced.how == "replaced (region us-east-1 -> ap-southeast-2)"
    assert replaced.protected_by == "deletion protection"


def test_a_dropped_replica_entry_deletes_that_replica() -> None:
    def table(*replicas: tuple[str, bool]) -> dict[str, Any]:
        entries = [
            {"regionName": region, "deletionProtectionEnabled": protected}
            for region, protected in replicas
        ]
        return resource("tasks", TABLE, inputs={"replicas": entries})

    before = table(("eu-west-1", True), ("ap-southeast-2", False))
    (protected,) = compare(previous(before), [table(("ap-southeast-2", False))]).deleted
    assert (protected.region, protected.how, protected.protected_by) == (
        "eu-west-1",
        "replica removed",
        "deletion protection",
    )
    (unprotected,) = compare(previous(before), [table(("eu-west-1", True))]).deleted
    assert unprotected.region == "ap-southeast-2" and unprotected.protected_by == ""


def test_components_are_neither_created_nor_deleted() -> None:
    component = {**resource("tasks", "resilient-serverless:index:Saga"), "custom": False}
    assert compare(previous(component), []).deleted == []
    assert compare(previous(), [component]).created == []


def test_the_report_carries_each_resources_protection(tmp_path: Path) -> None:
    run = run_offline("--cwd", REPO, "--stack", "prod", "--mode", "update", out_dir=tmp_path)
    assert run.report is not None, run.describe()
    custom = [r for r in run.report["resources"] if r["custom"]]
    assert custom and all(r["protect"] is False for r in custom)
    retained = {r["name"] for r in custom if r["retainOnDelete"]}
    # API Gateway's account setting is the region's, not this API's: forgotten, not deleted; and
    # so is the logging role it points at, with the role's policy attachment (same name).
    assert retained == {
        "tasks-us-east-1-api-account-logging",
        "tasks-eu-west-1-api-account-logging",
        "tasks-apigw-logging",
    }
    assert sum(r["name"] == "tasks-apigw-logging" and r["retainOnDelete"] for r in custom) == 2
    assert "changes" not in run.report


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "--against {path}: not valid JSON"),
        (json.dumps({"violations": []}), "--against {path}: not a JSON report of this tool"),
        (
            json.dumps({"summary": {"project": "resilient-serverless", "stack": "staging"},
                        "resources": []}),
            "a report of stack 'staging' of project 'resilient-serverless', this preview is of "
            "stack 'prod'",
        ),
    ],
)
def test_a_file_that_is_not_a_report_of_this_stack_fails_fast(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "previous.json"
    path.write_text(content)
    run = run_offline(
        "--cwd", REPO, "--stack", "prod", "--against", path, out_dir=tmp_path, json_report=False
    )
    assert run.exit_code == 2, run.describe()
    assert message.format(path=path) in run.stderr
