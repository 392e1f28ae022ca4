"""The second stack file previews like the first: `pulumi up` per stack, each with its own
config, each passing the pack on its own."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from offline_harness import REPO, run_offline

STAGING_MODES = ("preview", "update")


def staging_regions() -> list[str]:
    config = yaml.safe_load((REPO / "Pulumi.staging.yaml").read_text())["config"]
    return list(config["resilient-serverless:regions"])


@pytest.mark.parametrize("mode", STAGING_MODES)
def test_staging_stack_passes_with_no_mandatory_violation(mode: str, tmp_path: Path) -> None:
    run = run_offline("--cwd", REPO, "--stack", "staging", "--mode", mode, out_dir=tmp_path)
    assert run.exit_code == 0, run.describe()
    assert run.mandatory == [], run.describe()
    assert f"Previewing {mode} of stack staging" in run.stdout
    assert run.report is not None
    reported = set(run.report["summary"]["regions"]) - {"global"}
    assert reported == set(staging_regions()), run.describe()
    # Staging's regions are its own: nothing of prod's leaks in through shared defaults.
    assert "eu-west-1" not in run.stdout


def test_staging_previews_with_both_kinds_of_authentication(tmp_path: Path) -> None:
    """iam+apiKey: every method but the health check's needs a SigV4 signature (AWS_IAM) AND a
    client's key (apiKeyRequired); the health routes need neither (Route53 does neither)."""
    run = run_offline("--cwd", REPO, "--stack", "staging", "--mode", "preview", out_dir=tmp_path)
    assert run.exit_code == 0 and run.report is not None, run.describe()
    methods = [r for r in run.report["resources"] if r["type"] == "aws:apigateway/method:Method"]
    assert len(methods) == 6 * len(staging_regions())
    for method in methods:
        inputs = method["inputs"]
        if method["name"].endswith(("-get-health", "-health-probe-method")):
            assert inputs["authorization"] == "NONE", method["name"]
            assert not inputs.get("apiKeyRequired"), method["name"]
        else:
            assert inputs["authorization"] == "AWS_IAM", method["name"]
            assert inputs["apiKeyRequired"] is True, method["name"]
