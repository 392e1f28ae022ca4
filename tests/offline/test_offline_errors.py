"""Exit code 2: the program, its config or the arguments failed, with a message that says what,
where and how to fix it, and without this tool's own stack trace."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from offline_harness import PROGRAMS, OfflineRun, run_offline

PROJECT = textwrap.dedent(
    """
    name: broken
    runtime: python
    config:
      regions:
        type: array
        items:
          type: string
      timeoutSeconds:
        type: integer
        default: 10
    """
)

STACK = textwrap.dedent(
    """
    config:
      aws:region: us-east-1
      broken:regions: [us-east-1, eu-west-1]
    """
)

QUEUE_PROGRAM = textwrap.dedent(
    """
    import pulumi
    import pulumi_aws as aws

    config = pulumi.Config()
    for region in config.require_object("regions"):
        aws.sqs.Queue(f"queue-{region}", region=region,
                      visibility_timeout_seconds=6 * config.require_int("timeoutSeconds"))
    """
)


def make_project(
    root: Path, program: str = QUEUE_PROGRAM, stack: str = STACK, project: str = PROJECT
) -> Path:
    folder = root / "project"
    folder.mkdir()
    (folder / "Pulumi.yaml").write_text(project)
    (folder / "Pulumi.dev.yaml").write_text(stack)
    (folder / "__main__.py").write_text(textwrap.dedent(program))
    return folder


def assert_failed(run: OfflineRun, *fragments: str) -> None:
    assert run.exit_code == 2, run.describe()
    for fragment in fragments:
        assert fragment in run.stderr, f"{fragment!r} not in stderr\n{run.describe()}"
    assert "Traceback" not in run.stderr, run.describe()
    assert "offline/" not in run.stderr, "this tool's own frames leaked\n" + run.describe()
    assert run.report is None, "no report is written for a failed run"


def test_the_working_project_passes(tmp_path: Path) -> None:
    """The fixture itself is sound: every failure below comes from its one change."""
    project = make_project(tmp_path)
    run = run_offline("--cwd", project, "--stack", "dev", out_dir=tmp_path / "out")
    assert run.exit_code in (0, 1), run.describe()
    assert run.report is not None
    assert {r["name"] for r in run.report["resources"]} >= {"queue-us-east-1", "queue-eu-west-1"}


def test_program_that_raises_shows_its_error_and_its_own_frame(tmp_path: Path) -> None:
    program = """
        import pulumi

        def check_regions(regions):
            if len(regions) < 3:
                raise ValueError(f"need three regions, got {len(regions)}")

        check_regions(pulumi.Config().require_object("regions"))
    """
    project = make_project(tmp_path, program=program)
    run = run_offline("--cwd", project, "--stack", "dev", out_dir=tmp_path / "out")
    assert_failed(
        run,
        "the program failed: ValueError: need three regions, got 2",
        'File "__main__.py", line 6, in check_regions',
        'raise ValueError(f"need three regions, got {len(regions)}")',
    )


def test_error_inside_an_apply_callback_points_at_the_callback(tmp_path: Path) -> None:
    program = """
        import pulumi
        import pulumi_aws as aws

        queue = aws.sqs.Queue("queue", region="us-east-1", visibility_timeout_seconds=60)

        def describe(url):
            raise KeyError("no such queue setting")

        pulumi.export("described", queue.visibility_timeout_seconds.apply(describe))
    """
    project = make_project(tmp_path, program=program)
    run = run_offline(
        "--cwd", project, "--stack", "dev", "--mode", "update", out_dir=tmp_path / "out"
    )
    assert_failed(
        run, "KeyError", "no such queue setting", 'File "__main__.py", line 8, in describe'
    )


def test_program_logging_an_error_fails_the_run(tmp_path: Path) -> None:
    program = """
        import pulumi
        pulumi.log.error("the hosted zone is not delegated yet")
    """
    project = make_project(tmp_path, program=program)
    run = run_offline("--cwd", project, "--stack", "dev", out_dir=tmp_path / "out")
    assert_failed(run, "the program logged an error: the hosted zone is not delegated yet")


def test_provider_function_of_another_package_is_named(tmp_path: Path) -> None:
    """Every pulumi-aws function is answered; another package's has no SDK here to shape it."""
    program = """
        import pulumi
        network = pulumi.runtime.invoke("gcp:compute/getNetwork:getNetwork", {"name": "default"})
    """
    project = make_project(tmp_path, program=program)
    run = run_offline("--cwd", project, "--stack", "dev", out_dir=tmp_path / "out")
    assert_failed(
        run, "cannot answer provider function 'gcp:compute/getNetwork:getNetwork'", "__main__.py"
    )


def test_missing_stack_file(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    run = run_offline("--cwd", project, "--stack", "qa", out_dir=tmp_path / "out")
    assert_failed(run, "stack 'qa' has no config file Pulumi.qa.yaml", "stack files found: dev")


def test_config_value_of_the_wrong_type_names_the_key(tmp_path: Path) -> None:
    stack = STACK + "  broken:timeoutSeconds: ten\n"
    project = make_project(tmp_path, stack=stack)
    run = run_offline("--cwd", project, "--stack", "dev", out_dir=tmp_path / "out")
    assert_failed(
        run,
        "configuration key 'broken:timeoutSeconds' must be of type 'integer'",
        "Pulumi.dev.yaml",
    )


def test_list_config_given_as_a_string_names_the_key(tmp_path: Path) -> None:
    stack = "config:\n  aws:region: us-east-1\n  broken:regions: us-east-1\n"
    project = make_project(tmp_path, stack=stack)
    run = run_offline("--cwd", project, "--stack", "dev", out_dir=tmp_path / "out")
    assert_failed(run, "configuration key 'broken:regions' must be of type 'array<string>'")


def test_missing_required_config_value(tmp_path: Path) -> None:
    stack = "config:\n  aws:region: us-east-1\n"
    project = make_project(tmp_path, stack=stack)
    run = run_offline("--cwd", project, "--stack", "dev", out_dir=tmp_path / "out")
    assert_failed(run, "stack 'dev' is missing configuration value 'broken:regions'")


def test_bare_key_in_the_stack_file_asks_for_a_namespace(tmp_path: Path) -> None:
    stack = STACK + "  timeoutSeconds: 12\n"
    project = make_project(tmp_path, stack=stack)
    run = run_offline("--cwd", project, "--stack", "dev", out_dir=tmp_path / "out")
    assert_failed(run, "config key 'timeoutSeconds'", "write it as 'broken:timeoutSeconds'")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--mode", "destroy"], "argument --mode: invalid choice: 'destroy'"),
        (["--cwd", "/nonexistent/project"], "--cwd /nonexistent/project is not a folder"),
        (["--policy-pack", "/nonexistent/pack"], "--policy-pack /nonexistent/pack: no such folder"),
        (["--unknown-flag"], "unrecognized arguments: --unknown-flag"),
    ],
)
def test_bad_arguments(arguments: list[str], message: str, tmp_path: Path) -> None:
    run = run_offline(
        "--cwd",
        PROGRAMS / "compliant-standalone-redrive",
        "--stack",
        "dev",
        *arguments,
        out_dir=tmp_path,
    )
    assert_failed(run, message)


def run_with_policy_config(tmp_path: Path, program: str, policy_config: object) -> OfflineRun:
    """The example program with a policy pack config file in the CLI's JSON format."""
    config = tmp_path / "policy-config.json"
    config.write_text(json.dumps(policy_config))
    return run_offline(
        "--cwd",
        PROGRAMS / program,
        "--stack",
        "dev",
        "--policy-pack-config",
        config,
        out_dir=tmp_path / "out",
    )


@pytest.mark.parametrize(
    ("policy_config", "message"),
    [
        (
            {"sqs-dead-letter-queue": "strict"},
            '"sqs-dead-letter-queue": "strict" is not an enforcement level',
        ),
        ({"sqs-dead-letter-queues": "advisory"}, "has no policy named sqs-dead-letter-queues"),
    ],
    ids=["unknown-level", "unknown-policy"],
)
def test_bad_policy_pack_config(
    tmp_path: Path, policy_config: dict[str, str], message: str
) -> None:
    run = run_with_policy_config(tmp_path, "compliant-standalone-redrive", policy_config)
    assert_failed(run, message)


def test_policy_pack_config_downgrades_a_policy_to_advisory(tmp_path: Path) -> None:
    """The CLI's format works end to end: the violation stays, the run no longer fails."""
    run = run_with_policy_config(
        tmp_path, "queue-visibility-too-short", {"sqs-visibility-timeout-ratio": "advisory"}
    )
    assert run.exit_code == 0, run.describe()
    assert run.violated_policies == {"sqs-visibility-timeout-ratio"}
    assert {v["level"] for v in run.violations} == {"advisory"}


def test_policy_pack_config_all_and_settings(tmp_path: Path) -> None:
    """`all` sets every policy's level; an object carries a policy's own settings (a stricter
    ratio: 7 x 30 + 1 = 211 s, which the skeleton's 181 s queues miss)."""
    run = run_with_policy_config(
        tmp_path,
        "compliant-standalone-redrive",
        {"all": "advisory", "sqs-visibility-timeout-ratio": {"ratio": 7}},
    )
    assert run.exit_code == 0, run.describe()
    assert run.violated_policies == {"sqs-visibility-timeout-ratio"}, run.describe()
    assert all("211" in v["message"] and v["level"] == "advisory" for v in run.violations)
    assert run.report is not None
    assert {p["level"] for p in run.report["policies"]} == {"advisory"}


def test_policy_pack_config_refused_by_the_pack(tmp_path: Path) -> None:
    run = run_with_policy_config(
        tmp_path, "compliant-standalone-redrive", {"sqs-visibility-timeout-ratio": {"ratio": 0.4}}
    )
    assert_failed(run, "refused its config", "'ratio'", str(tmp_path / "policy-config.json"))


def test_policy_pack_that_fails_to_start(tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "PulumiPolicy.yaml").write_text("runtime: python\n")
    (pack / "__main__.py").write_text("raise ImportError('resilience_rules is not installed')\n")
    run = run_offline(
        "--cwd",
        PROGRAMS / "compliant-standalone-redrive",
        "--stack",
        "dev",
        "--policy-pack",
        pack,
        out_dir=tmp_path / "out",
    )
    assert run.exit_code == 2, run.describe()
    assert "failed to start" in run.stderr and "resilience_rules is not installed" in run.stderr
    assert run.report is None
