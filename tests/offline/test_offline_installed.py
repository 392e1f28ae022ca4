"""The offline preview from the wheel, in a user's own environment: `pip install
"resilient-serverless[offline]"`, then `python -m resilient_serverless.offline preview` on a
program of theirs, with this project's policy pack as installed.

The user's environment holds a newer protobuf than the policy SDK allows (pulumi-policy pins
`protobuf~=5.29`): the pack runs in an environment of its own, as the Pulumi CLI runs a pack,
and the user's packages stay as they were.

pip takes pulumi and protobuf from its cache or the index (small); pulumi-aws, 270 MB installed,
is lent from this environment through a folder that holds only it, so the test stays fast.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from importlib import metadata
from pathlib import Path

from offline_harness import build_wheel

#: Newer than pulumi-policy's `protobuf~=5.29` allows, within what pulumi allows (<7).
USERS_PROTOBUF = "6.33.6"


def _run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _site(python: Path) -> Path:
    return Path(
        _run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], Path(".")
        ).strip()
    )


def _versions(python: Path) -> dict[str, str]:
    listed = _run([str(python), "-m", "pip", "list", "--format", "json"], Path("."))
    return {
        entry["name"].lower().replace("_", "-"): entry["version"] for entry in json.loads(listed)
    }


def test_the_offline_preview_runs_from_the_wheel_without_touching_the_users_packages(
    tmp_path: Path,
) -> None:
    wheel = build_wheel(tmp_path)

    user = tmp_path / "user"
    _run([sys.executable, "-m", "venv", str(user)], cwd=tmp_path)
    user_python = user / "bin" / "python"
    lent = tmp_path / "lent"
    lent.mkdir()
    aws = metadata.distribution("pulumi-aws")
    aws_site = Path(str(aws.locate_file("")))
    for entry in ("pulumi_aws", f"pulumi_aws-{aws.version}.dist-info"):
        (lent / entry).symlink_to(aws_site / entry, target_is_directory=True)
    (_site(user_python) / "zz_lent_pulumi_aws.pth").write_text(f"{lent}\n")
    _run(
        [
            str(user_python),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            f"{wheel}[offline]",
            f"pulumi=={metadata.version('pulumi')}",
            f"protobuf=={USERS_PROTOBUF}",
        ],
        cwd=tmp_path,
    )
    before = _versions(user_python)
    assert before["protobuf"] == USERS_PROTOBUF and "pulumi-policy" not in before

    program = tmp_path / "program"
    program.mkdir()
    (program / "Pulumi.yaml").write_text("name: orders\nruntime: python\n")
    (program / "Pulumi.dev.yaml").write_text("config:\n  aws:region: eu-west-1\n")
    (program / "__main__.py").write_text(
        textwrap.dedent(
            """
            import pulumi_aws as aws

            aws.sqs.Queue("orders", visibility_timeout_seconds=30)
            """
        )
    )
    cache = tmp_path / "cache"
    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith("PYTHON")},
        "RESILIENT_SERVERLESS_CACHE": str(cache),
    }
    done = subprocess.run(
        [
            str(user_python),
            "-m",
            "resilient_serverless.offline",
            "preview",
            "--cwd",
            str(program),
            "--stack",
            "dev",
            "--json",
            str(tmp_path / "report.json"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    # A queue without a dead-letter queue: a mandatory violation of the installed pack.
    assert done.returncode == 1, done.stdout + done.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    violated = {(v["pack"], v["policy"]) for v in report["violations"]}
    assert ("resilient-serverless", "sqs-dead-letter-queue") in violated, violated
    assert "preparing the policy pack's own environment" in done.stderr

    # The user's environment is as it was; the pack's has the policy SDK and its protobuf.
    assert _versions(user_python) == before
    (pack_env,) = cache.glob("policy-env-*")
    pack = _versions(pack_env / "bin" / "python")
    assert "pulumi-policy" in pack and pack["protobuf"].startswith("5.29.")
