"""Small programs in plain pulumi_aws, each with exactly one defect on a shared compliant
skeleton (programs/_shared/baseline.py), and compliant variants written differently.

A defect program must fail with exactly its policy (and exit 1) in every mode (the engine's
shapes: preview, update, inputs, outputs-only); a compliant one
must pass with no violation at all: a false positive is a failure too.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from offline_harness import PROGRAM_CLASSES, PROGRAMS, VERDICT_CLASSES, run_offline

from offline.modes import MODES

#: Program -> the one policy it violates.
DEFECTS = {
    "queue-visibility-too-short": "sqs-visibility-timeout-ratio",
    "queue-without-dlq": "sqs-dead-letter-queue",
    "sqs-mapping-without-partial-failures": "sqs-partial-batch-response",
    "api-function-timeout-40s": "api-integration-timeout",
    "global-table-missing-replica": "dynamodb-global-table",
    "latency-record-without-health-check": "route53-latency-health-check",
    "dlq-without-alarm": "dlq-alarm",
    "kinesis-mapping-without-bisect": "stream-poison-message",
    "iam-wildcard-actions": "iam-no-wildcard-actions",
    "sns-function-without-failure-destination": "lambda-async-failure-destination",
    "kinesis-consumer-without-iterator-alarm": "kinesis-iterator-age-alarm",
    "state-machine-task-without-catch": "step-functions-retry-catch",
}

COMPLIANT = (
    "compliant-standalone-redrive",
    "compliant-inline-redrive",
    "compliant-kinesis-consumer",
    "compliant-sns-consumer",
)


def test_every_example_program_is_covered() -> None:
    on_disk = {p.name for p in PROGRAMS.iterdir() if (p / "__main__.py").is_file()}
    assert on_disk == set(DEFECTS) | set(COMPLIANT) | set(PROGRAM_CLASSES) | set(VERDICT_CLASSES)
    for name in on_disk:
        assert (PROGRAMS / name / "Pulumi.yaml").is_file()
        assert (PROGRAMS / name / "Pulumi.dev.yaml").is_file()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("program", sorted(DEFECTS))
def test_defect_fails_with_exactly_its_policy(program: str, mode: str, tmp_path: Path) -> None:
    run = run_offline(
        "--cwd", PROGRAMS / program, "--stack", "dev", "--mode", mode, out_dir=tmp_path
    )
    expected = DEFECTS[program]
    assert run.exit_code == 1, run.describe()
    assert run.violated_policies == {expected}, run.describe()
    assert all(v["level"] == "mandatory" for v in run.violations), run.describe()
    assert all(v["urn"] for v in run.violations), "every violation names its resource"
    assert f"[mandatory]  {expected}" in run.stdout


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("program", COMPLIANT)
def test_compliant_variant_passes_without_any_violation(
    program: str, mode: str, tmp_path: Path
) -> None:
    run = run_offline(
        "--cwd", PROGRAMS / program, "--stack", "dev", "--mode", mode, out_dir=tmp_path
    )
    assert run.exit_code == 0, run.describe()
    assert run.violations == [], run.describe()
    assert run.report is not None
    assert run.report["summary"]["resources"]["custom"] > 50
