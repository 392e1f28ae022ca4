"""`load_settings`: reads the package's namespace whatever the caller's project is called, or the
caller's when told; a key set in the namespace that is no setting is an error naming the nearest
one; every error names the `pulumi config` command, fully qualified, that fixes it; one name per
setting in stack config, `ServiceSettings` and the schema, the old schema names still read."""

import dataclasses
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.provider.experimental.util import camel_case
from pulumi.runtime.config import set_all_config
from resilient_serverless import ConfigError, ServiceSettings, load_settings
from resilient_serverless.hosting import schema
from resilient_serverless.settings import CONFIG_KEYS, DEPRECATED_KEYS

REPO = Path(__file__).resolve().parents[2]
NS = "resilient-serverless"
BASE = {
    "regions": json.dumps(["us-east-1", "eu-west-1"]),
    "domainName": "tasks.example.com",
    "hostedZoneName": "example.com",
}


@pytest.fixture
def stack_config() -> Iterator[Any]:
    """Set the stack's whole config as the engine hands it to a program."""

    def apply(values: dict[str, str]) -> None:
        set_all_config(values)

    yield apply
    set_all_config({})


def qualified(values: dict[str, str], namespace: str = NS) -> dict[str, str]:
    return {f"{namespace}:{key}": value for key, value in values.items()}


def problems_of(error: pytest.ExceptionInfo[ConfigError]) -> list[str]:
    return error.value.problems


def test_reads_the_package_namespace_from_any_project(stack_config: Any) -> None:
    # The calling project is "my-shop"; its own keys are its business.
    stack_config({**qualified(BASE), "my-shop:owner": "team-a", "aws:region": "us-east-1"})
    settings = load_settings()
    assert settings.regions == ("us-east-1", "eu-west-1")


def test_reads_the_callers_namespace_when_told(stack_config: Any) -> None:
    stack_config(qualified(BASE, "my-shop"))
    assert load_settings(namespace="my-shop").domain_name == "tasks.example.com"
    with pytest.raises(ConfigError) as error:
        load_settings()  # nothing in the package's namespace
    assert any(
        "`pulumi config set resilient-serverless:domainName <value>`" in p
        for p in problems_of(error)
    )


def test_a_misspelled_key_names_the_nearest_setting_and_the_fix(stack_config: Any) -> None:
    stack_config(qualified({**BASE, "workerTimeoutSecond": "20"}))
    with pytest.raises(ConfigError) as error:
        load_settings()
    (problem,) = problems_of(error)
    assert problem.startswith(f"{NS}:workerTimeoutSecond: not a setting; did you mean ")
    assert "workerTimeoutSeconds?" in problem
    assert f"`pulumi config rm {NS}:workerTimeoutSecond`" in problem
    assert f"`pulumi config set {NS}:workerTimeoutSeconds 20`" in problem


def test_a_key_with_no_near_setting_is_named_with_its_removal(stack_config: Any) -> None:
    stack_config(qualified({**BASE, "colour": "blue"}))
    with pytest.raises(ConfigError) as error:
        load_settings()
    (problem,) = problems_of(error)
    assert f"`pulumi config rm {NS}:colour`" in problem


def test_every_error_names_a_fully_qualified_command(stack_config: Any) -> None:
    broken = {
        "regions": json.dumps(["us-east-1"]),
        "domainName": "tasks.elsewhere.com",
        "hostedZoneName": "example.com",
        "apiTimeoutSeconds": "40",
        "workerTimeoutSeconds": "soon",
        "tableConsistency": "eventual",
        "tableWitnessRegion": "us-west-2",
        "healthCheckIntervalSeconds": "15",
    }
    stack_config(qualified(broken, "my-shop"))
    with pytest.raises(ConfigError) as error:
        load_settings(namespace="my-shop")
    problems = problems_of(error)
    assert len(problems) >= 1
    for problem in problems:
        commands = re.findall(r"`(pulumi config [^`]+)`", problem)
        assert commands, problem
        for command in commands:
            key = re.search(r"pulumi config (?:set|rm)(?: --path)? '?([^ ']+)", command)
            assert key and key[1].startswith("my-shop:"), (command, problem)
    # The value problems come first; the rules between settings are checked once all are read.
    stack_config(qualified({**broken, "workerTimeoutSeconds": "20"}, "my-shop"))
    with pytest.raises(ConfigError) as error:
        load_settings(namespace="my-shop")
    semantic = problems_of(error)
    assert len(semantic) >= 3, semantic
    for problem in semantic:
        commands = re.findall(r"`(pulumi config [^`]+)`", problem)
        assert commands, problem
        assert all("my-shop:" in command for command in commands), problem


def test_a_deprecated_name_still_reads_with_a_message(
    stack_config: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    warnings: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *_, **__: warnings.append(message))
    stack_config(qualified({**BASE, "workerTimeoutS": "20"}))
    assert load_settings().worker_timeout_seconds == 20
    (warning,) = warnings
    assert f"{NS}:workerTimeoutS is deprecated" in warning
    assert f"`pulumi config set {NS}:workerTimeoutSeconds 20`" in warning
    stack_config(qualified({**BASE, "workerTimeoutS": "20", "workerTimeoutSeconds": "25"}))
    with pytest.raises(ConfigError, match="workerTimeoutS: the deprecated name of"):
        load_settings()


def test_one_name_per_setting_in_config_args_and_schema() -> None:
    fields = [item.name for item in dataclasses.fields(ServiceSettings)]
    assert sorted(camel_case(name) for name in fields) == sorted(CONFIG_KEYS)
    declared = schema()["types"]["resilient-serverless:index:ServiceSettings"]["properties"]
    assert sorted(declared) == sorted(CONFIG_KEYS)
    assert not set(DEPRECATED_KEYS) & set(CONFIG_KEYS)
    assert set(DEPRECATED_KEYS.values()) <= set(CONFIG_KEYS)


def test_the_project_declares_every_setting_it_reads() -> None:
    """Pulumi.yaml's `config:` section declares the settings (the CLI checks their types), under
    the same names."""
    text = (REPO / "Pulumi.yaml").read_text().split("\nconfig:\n", 1)[1]
    declared = set(re.findall(r"^  ([A-Za-z]+):", text, re.M))
    assert declared == set(CONFIG_KEYS), sorted(declared ^ set(CONFIG_KEYS))


def test_a_misspelled_key_in_a_stack_file_fails_the_preview_with_exit_2(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(
        REPO,
        project,
        ignore=shutil.ignore_patterns(
            ".venv*", ".git", "tests", "benchmarks", "__pycache__", ".*_cache", "*.egg-info"
        ),
    )
    stack_file = project / "Pulumi.prod.yaml"
    text = stack_file.read_text()
    assert f"  {NS}:workerTimeoutSeconds:" in text
    stack_file.write_text(
        text.replace(f"  {NS}:workerTimeoutSeconds:", f"  {NS}:workerTimeoutSecs:")
    )
    done = subprocess.run(
        [sys.executable, "-m", "offline", "preview", "--cwd", str(project), "--stack", "prod"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    output = done.stdout + done.stderr
    assert f"{NS}:workerTimeoutSecs: not a setting; did you mean workerTimeoutSeconds?" in output


def test_a_python_caller_using_an_old_field_name_gets_a_warning_and_the_value() -> None:
    with pytest.warns(DeprecationWarning, match="worker_timeout_s is deprecated; name it"):
        settings = ServiceSettings(
            regions=("us-east-1", "eu-west-1"),
            domain_name="tasks.example.com",
            hosted_zone_name="example.com",
            worker_timeout_s=20,
        )
    assert settings.worker_timeout_seconds == 20
    with pytest.raises(TypeError, match="give one"):
        ServiceSettings(
            regions=("us-east-1", "eu-west-1"),
            domain_name="tasks.example.com",
            hosted_zone_name="example.com",
            worker_timeout_s=20,
            worker_timeout_seconds=25,
        )
