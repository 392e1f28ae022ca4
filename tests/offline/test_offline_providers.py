"""Programs built on provider SDKs besides pulumi-aws, and programs with a virtualenv of their
own: pulumi-random and pulumi-archive resources get the engine's shapes from their SDKs, a
multi-language (remote) component is reported with unknown outputs and unseen children, and
a program whose Pulumi.yaml names its virtualenv runs with that virtualenv's interpreter."""

from __future__ import annotations

import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest
from offline_harness import PROGRAMS, OfflineRun, run_offline

from offline.engine.engine_shape import UNKNOWN, Identity, checked_inputs, planned_state, schema_for
from offline.engine.fake_outputs import ResourceFacts, known_state
from offline.engine.provider_schema import conventional_module, sdk_module_name

MODES = ("preview", "update")
OTHER_SDKS = PROGRAMS / "other-provider-sdks"
CLUSTER = "acme:index:Cluster"
RANDOM_STRING = "random:index/randomString:RandomString"


def _run(program: Path, mode: str, out_dir: Path) -> OfflineRun:
    run = run_offline("--cwd", program, "--stack", "dev", "--mode", mode, out_dir=out_dir)
    assert run.exit_code in (0, 1), run.describe()
    assert run.report is not None, run.describe()
    return run


@pytest.mark.parametrize("mode", MODES)
def test_remote_component_has_unknown_outputs_and_is_reported(mode: str, tmp_path: Path) -> None:
    run = _run(OTHER_SDKS, mode, tmp_path)
    assert run.report is not None
    exports = run.report["resources"][0]
    del exports  # the stack itself; the exports are in the text report
    # The program reads the component's output: unknown in both shapes, never an invented value.
    assert "clusterEndpointKnown: false" in run.stdout, run.describe()
    assert "clusterEndpoint:      [unknown]" in run.stdout, run.describe()
    remote = run.report["remoteComponents"]
    assert [(r["type"], r["name"], r["childrenSeen"], r["outputs"]) for r in remote] == [
        (CLUSTER, "jobs", False, "unknown")
    ]
    # No child of the component was registered: the mock constructs nothing.
    urn = remote[0]["urn"]
    assert not [r for r in run.report["resources"] if r["parent"] == urn]
    assert "Remote components" in run.stdout and "children could not be seen" in run.stdout
    assert urn in run.stdout.split("Remote components", 1)[1]


@pytest.mark.parametrize("mode", MODES)
def test_random_and_archive_resources_are_shaped_from_their_sdks(mode: str, tmp_path: Path) -> None:
    run = _run(OTHER_SDKS, mode, tmp_path)
    types = {r["type"] for r in run.report["resources"]} if run.report else set()
    assert {RANDOM_STRING, "archive:index/file:File", "random:index/randomPet:RandomPet"} <= types
    if mode == "preview":
        assert "suffix:               [unknown]" in run.stdout, run.describe()
        assert "codeSha:              [unknown]" in run.stdout
    else:
        # Computed outputs are known after an update: `result` and `outputSha` are output-only
        # properties of their SDK classes, and the queue named from the suffix uses it.
        line = next(x for x in run.stdout.splitlines() if x.strip().startswith("suffix:"))
        suffix = line.split(":", 1)[1].strip()
        assert suffix and suffix != "[unknown]"
        assert f"queueName:            orders-{suffix}" in run.stdout
        assert "[unknown]" not in next(
            x for x in run.stdout.splitlines() if x.strip().startswith("codeSha:")
        )


def test_provider_sdks_are_found_from_their_own_metadata() -> None:
    assert conventional_module("aws-native") == "pulumi_aws_native"
    assert sdk_module_name("random") == "pulumi_random"
    assert sdk_module_name("archive") == "pulumi_archive"
    assert sdk_module_name("no-such-provider-package") is None
    schema = schema_for(RANDOM_STRING)
    assert schema is not None
    # `result` is output-only and always reported; `length` is an input.
    assert schema.output_only("result") and schema.properties["result"].computed
    assert "length" in schema.inputs
    identity = Identity(RANDOM_STRING, "suffix", "urn:x::suffix", None, "suffix-1234567")
    checked = checked_inputs(identity, {"length": 6})
    planned = planned_state(identity, checked)
    assert planned["result"] == UNKNOWN and planned["id"] == UNKNOWN and planned["length"] == 6
    facts = ResourceFacts(RANDOM_STRING, "suffix", "urn:x::suffix", "us-east-1", checked)
    _id, state = known_state(facts)
    assert isinstance(state["result"], str) and state["result"] != UNKNOWN


def _program_with_virtualenv(tmp_path: Path) -> tuple[Path, Path]:
    """The own-virtualenv program copied into tmp_path with its `venv` next to it: a virtualenv
    of this interpreter's base Python that sees this environment's packages (pulumi and the
    provider SDKs) through a path file, as a program's own virtualenv would hold them."""
    program = tmp_path / "program"
    shutil.copytree(PROGRAMS / "own-virtualenv", program)
    venv = program / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)],
        check=True,
        timeout=120,
    )
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.strip()
    (Path(purelib) / "zz_program_sdks.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return program, venv


@pytest.mark.parametrize("mode", MODES)
def test_program_runs_with_the_virtualenv_its_pulumi_yaml_names(mode: str, tmp_path: Path) -> None:
    program, venv = _program_with_virtualenv(tmp_path)
    run = _run(program, mode, tmp_path / "out")
    lines = {
        line.split(":", 1)[0].strip(): line.split(":", 1)[1].strip()
        for line in run.stdout.split("Outputs:", 1)[1].split("\n\n", 1)[0].splitlines()
        if ":" in line
    }
    assert lines["interpreter"] == str(venv / "bin" / "python"), run.describe()
    assert lines["virtualenv"] == str(venv), run.describe()
    assert lines["interpreter"] != sys.executable
    assert (lines["token"] == "[unknown]") == (mode == "preview")
    types = [r["type"] for r in run.report["resources"]] if run.report else []
    assert "random:index/randomId:RandomId" in types


@pytest.mark.parametrize("mode", MODES)
def test_a_missing_virtualenv_the_program_needs_ends_the_run_naming_the_fix(
    mode: str, tmp_path: Path
) -> None:
    program = tmp_path / "program"
    shutil.copytree(PROGRAMS / "own-virtualenv", program)
    main = program / "__main__.py"
    # An SDK this interpreter does not have: only the missing virtualenv would hold it.
    main.write_text("import pulumi_offline_absent_sdk  # noqa: F401\n" + main.read_text())
    run = run_offline("--cwd", program, "--stack", "dev", "--mode", mode, out_dir=tmp_path / "out")
    assert run.exit_code == 2, run.describe()
    message = run.stderr + run.stdout
    assert "runtime.options.virtualenv 'venv'" in message, run.describe()
    assert "doesn't exist" in message
    assert "python -m venv venv && venv/bin/pip install -r requirements.txt" in message
    assert "pulumi_offline_absent_sdk" in message
