"""The CI workflow: the real preview through pulumi/actions v7 with the policy pack and a pull
request comment, and the offline preview publishing its verdicts and artifacts."""

from __future__ import annotations

import shlex
from typing import Any

import pytest
import yaml
from offline_harness import REPO

from offline.cli import build_parser

WORKFLOW = REPO / ".github" / "workflows" / "policy-preview.yml"
ACTION = "pulumi/actions@v7"
#: The inputs pulumi/actions declares in its action.yml at tag v7.0.0 (commit 8e5e406f4007):
#: the ones this workflow may use.
ACTION_INPUTS = frozenset(
    {
        "command",
        "stack-name",
        "pulumi-version",
        "pulumi-version-file",
        "work-dir",
        "comment-on-pr",
        "comment-on-pr-number",
        "comment-on-summary",
        "github-token",
        "cloud-url",
        "secrets-provider",
        "parallel",
        "message",
        "config-map",
        "expect-no-changes",
        "diff",
        "replace",
        "exclude",
        "exclude-dependents",
        "target",
        "target-dependents",
        "policyPacks",
        "policyPackConfigs",
        "refresh",
        "upsert",
        "remove",
        "edit-pr-comment",
        "color",
        "exclude-protected",
        "plan",
        "suppress-outputs",
        "suppress-progress",
        "always-include-summary",
        "continue-on-error",
        "log-verbosity",
        "log-flow",
        "debug",
    }
)


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    loaded = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def _steps(workflow: dict[str, Any], job: str) -> list[dict[str, Any]]:
    return list(workflow["jobs"][job]["steps"])


def _offline_commands(script: str) -> list[list[str]]:
    """Each `python -m offline ...` command of a run script, as its argument list."""
    joined = script.replace("\\\n", " ")
    commands = []
    for line in joined.splitlines():
        words = shlex.split(line)
        for index in range(len(words) - 2):
            if words[index : index + 3] == ["python", "-m", "offline"]:
                commands.append(words[index + 3 :])
    return commands


def test_real_preview_runs_through_the_action_with_the_pack(workflow: dict[str, Any]) -> None:
    steps = [step for step in _steps(workflow, "cloud-preview") if "uses" in step]
    pulumi = [step for step in steps if step["uses"].startswith("pulumi/actions@")]
    assert [step["uses"] for step in pulumi] == [ACTION], "one step, v7, runs the preview"
    inputs = pulumi[0]["with"]
    assert set(inputs) <= ACTION_INPUTS, set(inputs) - ACTION_INPUTS
    assert inputs["command"] == "preview"
    assert inputs["stack-name"] == "${{ env.STACK }}"
    assert workflow["env"]["STACK"] == "prod" and (REPO / "Pulumi.prod.yaml").is_file()
    work_dir = REPO / inputs["work-dir"]
    assert (work_dir / "Pulumi.yaml").is_file()
    packs = inputs["policyPacks"].split()
    assert packs == ["policies"]
    assert all((work_dir / pack / "PulumiPolicy.yaml").is_file() for pack in packs)
    assert inputs["comment-on-pr"] is True
    assert inputs["comment-on-summary"] is True
    assert inputs["github-token"] == "${{ secrets.GITHUB_TOKEN }}"
    # The AWS role comes from OIDC before the preview needs it.
    uses = [step["uses"] for step in steps]
    assert uses.index("aws-actions/configure-aws-credentials@v4") < uses.index(ACTION)


def test_write_permissions_only_where_needed(workflow: dict[str, Any]) -> None:
    assert workflow["permissions"] == {"contents": "read"}
    cloud = workflow["jobs"]["cloud-preview"]
    assert cloud["permissions"] == {
        "contents": "read",
        "id-token": "write",  # OIDC
        "pull-requests": "write",  # the comment
    }
    offline = workflow["jobs"]["offline-preview"]
    assert "permissions" not in offline, "the workflow's read-only default"


def test_a_forks_pull_request_never_runs_with_the_preview_role(workflow: dict[str, Any]) -> None:
    """The cloud job runs the pull request's program with AWS credentials: only for branches of
    this repository, never for a fork's pull request (which gets the offline job only)."""
    condition = " ".join(workflow["jobs"]["cloud-preview"]["if"].split())
    assert "vars.AWS_PREVIEW_ROLE_ARN != ''" in condition
    assert (
        "github.event_name != 'pull_request' || "
        "github.event.pull_request.head.repo.full_name == github.repository" in condition
    )
    assert "if" not in workflow["jobs"]["offline-preview"]


def test_offline_job_publishes_verdicts_events_and_report(workflow: dict[str, Any]) -> None:
    steps = _steps(workflow, "offline-preview")
    scripts = [str(step.get("run", "")) for step in steps]
    commands = [command for script in scripts for command in _offline_commands(script)]
    assert len(commands) == 2
    parser = build_parser()
    written: set[str] = set()
    for command in commands:
        # Every flag the workflow passes is one the CLI accepts (it exits 2 otherwise).
        args = parser.parse_args(command)
        assert args.command == "preview"
        assert [str(p) for p in args.policy_packs] == ["policies"]
        for option in ("json_path", "events_path", "summary_md_path"):
            assert getattr(args, option) is not None, option
            written.add(str(getattr(args, option)))
    # The verdict tables reach the job summary, even when a preview failed.
    publish = [step for step in steps if "$GITHUB_STEP_SUMMARY" in str(step.get("run", ""))]
    assert publish and all(step.get("if") == "always()" for step in publish)
    tables = {str(a.summary_md_path) for a in map(parser.parse_args, commands)}
    assert all(table in publish[0]["run"] for table in tables)
    # The JSON reports and the event streams are uploaded.
    upload = next(step for step in steps if str(step.get("uses", "")).startswith("actions/upload"))
    assert upload.get("if") == "always()"
    uploaded = set(upload["with"]["path"].split())
    assert written <= uploaded, written - uploaded


def test_offline_flags_are_checked_by_the_parser() -> None:
    """The parser refuses an unknown flag, so the check above means something."""
    with pytest.raises(SystemExit):
        build_parser().parse_args(["preview", "--no-such-flag", "x"])
