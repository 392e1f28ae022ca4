"""`tableConsistency: eventual|strong`: a strongly consistent (MRSC) task table within AWS's
limits, checked at config time (and in GlobalTableArgs, named with the schema's names), and the
program under mocks in both modes."""

from __future__ import annotations

from typing import Any

import pytest
from harness import Run
from program_runs import prod_config, run_program
from resilient_serverless import GlobalTableArgs
from resilient_serverless.settings import ConfigError

NS = "resilient-serverless:"
TABLE = "tasks-tasks-table"


def strong(**extra: Any) -> dict[str, Any]:
    return (
        prod_config()
        | {f"{NS}tableConsistency": "strong"}
        | {f"{NS}{key}": value for key, value in extra.items()}
    )


@pytest.fixture(scope="module")
def runs() -> tuple[Run, Run]:
    """prod as it is (eventual), and prod strong with a witness in us-east-2."""
    return run_program(prod_config()), run_program(strong(tableWitnessRegion="us-east-2"))


def test_eventual_is_the_default_and_keeps_stream_ttl_and_no_witness(runs: tuple[Run, Run]) -> None:
    table = runs[0].named(TABLE).inputs
    assert table["streamEnabled"] is True and table["streamViewType"] == "NEW_AND_OLD_IMAGES"
    assert table["ttl"] == {"attributeName": "expiresAt", "enabled": True}
    assert "globalTableWitness" not in table
    assert all("consistencyMode" not in replica for replica in table["replicas"])


def test_strong_has_strong_replicas_a_witness_and_no_ttl_or_stream(runs: tuple[Run, Run]) -> None:
    eventual, strongly = runs
    table = strongly.named(TABLE).inputs
    assert [(r["regionName"], r["consistencyMode"]) for r in table["replicas"]] == [
        ("eu-west-1", "STRONG")
    ]
    assert table["globalTableWitness"] == {"regionName": "us-east-2"}
    assert "ttl" not in table  # MRSC does not support TTL
    assert table["streamEnabled"] is False and "streamViewType" not in table
    # Replicas keep their protection and recovery.
    assert table["deletionProtectionEnabled"] is True
    assert table["replicas"][0]["deletionProtectionEnabled"] is True
    assert table["replicas"][0]["pointInTimeRecovery"] is True
    # The witness region runs nothing of the service; everything else is as in eventual mode.
    assert not [r for r in strongly.resources if r.region == "us-east-2"]
    assert len(strongly.resources) == len(eventual.resources)
    # The handlers still stamp expiresAt and hide expired tasks on read.
    api = strongly.named("tasks-us-east-1-api-fn").inputs
    assert api["environment"]["variables"]["TASK_TTL_SECONDS"] == str(7 * 24 * 3600)


def test_strong_with_three_regions_needs_no_witness() -> None:
    run = run_program(strong(regions=["us-east-1", "eu-west-1", "us-west-2"]), preview=True)
    table = run.named(TABLE).inputs
    assert {r["regionName"]: r["consistencyMode"] for r in table["replicas"]} == {
        "eu-west-1": "STRONG",
        "us-west-2": "STRONG",
    }
    assert "globalTableWitness" not in table


@pytest.mark.parametrize(
    ("extra", "messages"),
    [
        (
            {},
            (
                f"{NS}tableWitnessRegion: a strongly consistent table spans exactly 3 regions",
                "got 2: us-east-1, eu-west-1",
                "`pulumi config set resilient-serverless:tableWitnessRegion us-east-2`",
            ),
        ),
        (
            {"tableWitnessRegion": "sa-east-1"},
            (
                f"{NS}regions: us-east-1, eu-west-1, sa-east-1 cannot form a strongly consistent",
                "the 15 MRSC regions of AWS's 2026-09-24 announcement",
                "`pulumi config set resilient-serverless:tableConsistency eventual`",
            ),
        ),
        (
            {"tableWitnessRegion": "eu-west-1"},
            (f"{NS}tableWitnessRegion: eu-west-1 also holds a replica",),
        ),
        (
            {
                "regions": ["us-east-1", "eu-west-1", "us-west-2"],
                "tableWitnessRegion": "us-east-2",
            },
            (f"{NS}regions: a strongly consistent table spans exactly 3 regions", "got 4"),
        ),
        (
            {
                "regions": ["us-east-1", "eu-west-1", "us-west-2"],
                "retiringRegions": ["us-west-2"],
            },
            (
                f"{NS}retiringRegions: us-west-2 cannot retire",
                "can neither add nor remove one replica or its witness",
                "`pulumi config rm resilient-serverless:retiringRegions`",
            ),
        ),
        (
            {"tableConsistency": "linearizable"},
            (f"{NS}tableConsistency: 'linearizable' must be one of eventual, strong",),
        ),
    ],
)
def test_what_mrsc_does_not_allow_is_refused_at_config_time(
    extra: dict[str, Any], messages: tuple[str, ...]
) -> None:
    with pytest.raises(ConfigError) as raised:
        run_program(strong(**extra))
    for message in messages:
        assert message in str(raised.value)


def test_a_witness_needs_strong_consistency() -> None:
    with pytest.raises(ConfigError, match="tableWitnessRegion: us-east-2 is a witness of a str"):
        run_program(prod_config() | {f"{NS}tableWitnessRegion": "us-east-2"})


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"consistency": "STRONG"}, "GlobalTableArgs.consistency: 'STRONG' must be one of"),
        ({"witness_region": "us-east-2"}, "GlobalTableArgs.witnessRegion: 'us-east-2' is only"),
        ({"consistency": "strong", "ttl_attribute": None}, "GlobalTableArgs.witnessRegion: a str"),
        (
            {"consistency": "strong", "witness_region": "us-east-2"},
            "GlobalTableArgs.ttlAttribute: 'expiresAt', but a strongly consistent table supports "
            "no TTL",
        ),
        (
            {
                "consistency": "strong",
                "witness_region": "us-east-2",
                "ttl_attribute": None,
                "retiring_regions": ["eu-west-1"],
            },
            "GlobalTableArgs.retiringRegions: ['eu-west-1'], but a strongly consistent table",
        ),
        (
            {"consistency": "strong", "witness_region": "af-south-1", "ttl_attribute": None},
            "GlobalTableArgs.regions: us-east-1, eu-west-1, af-south-1 cannot form",
        ),
    ],
)
def test_global_table_args_check_the_same_limits(args: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as raised:
        GlobalTableArgs(regions=["us-east-1", "eu-west-1"], **args).validate()
    assert message in str(raised.value)
    GlobalTableArgs(
        regions=["us-east-1", "eu-west-1"],
        consistency="strong",
        witness_region="us-east-2",
        ttl_attribute=None,
    ).validate()
