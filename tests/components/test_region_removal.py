"""A region's life under mocks: removing one is two config changes, retire it (out of DNS, its
tables unprotected, its resources tagged), then drop it (the replica and the region's stack go);
adding one enters DNS after its replica; reordering regions moves nothing while tableRegion is
named. Each step is the program run on its config (tests/offline/test_region_lifecycle.py plays
the same sequence through the offline preview and the pack)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from harness import Run
from program_runs import prod_config, run_program
from resilient_serverless import GlobalTable, GlobalTableArgs
from resilient_serverless.settings import ConfigError

from resilience_policies.thresholds import RETIRING_TAG_KEY

NS = "resilient-serverless:"
THREE = ["us-east-1", "eu-west-1", "ap-southeast-2"]
LEAVING = "eu-west-1"


def config(regions: list[str], retiring: list[str] | None = None) -> dict[str, Any]:
    changed = prod_config() | {f"{NS}regions": regions}
    if retiring is not None:
        changed[f"{NS}retiringRegions"] = retiring
    return changed


def replicas(run: Run) -> dict[str, dict[str, Any]]:
    (table,) = [t for t in run.of_type("aws:dynamodb/table:Table") if "replicas" in t.inputs]
    return {replica["regionName"]: replica for replica in table.inputs["replicas"]}


def latency_regions(run: Run) -> set[str]:
    return {
        record.inputs["setIdentifier"]
        for record in run.of_type("aws:route53/record:Record")
        if "setIdentifier" in record.inputs
    }


def health_check_names(run: Run) -> set[str]:
    return {check.name for check in run.of_type("aws:route53/healthCheck:HealthCheck")}


def regional_urns(run: Run, region: str) -> set[str]:
    return {r.urn for r in run.resources if r.region == region}


def saga_table(run: Run, region: str) -> dict[str, Any]:
    return run.named(f"tasks-{region}-saga-table").inputs


def tagged_retiring(run: Run) -> set[str]:
    """The names of the resources that carry the retiring tag."""
    return {
        r.name
        for r in run.resources
        if isinstance(r.inputs.get("tags"), dict) and r.inputs["tags"].get(RETIRING_TAG_KEY)
    }


@pytest.fixture(scope="module")
def steps() -> tuple[Run, Run, Run]:
    """Before (three serving regions), step 1 (eu-west-1 retiring), step 2 (eu-west-1 gone)."""
    return (
        run_program(config(THREE)),
        run_program(config(THREE, [LEAVING])),
        run_program(config(["us-east-1", "ap-southeast-2"], [])),
    )


def test_before_every_replica_is_protected_and_every_region_serves(
    steps: tuple[Run, Run, Run],
) -> None:
    before, _, _ = steps
    assert set(replicas(before)) == {"eu-west-1", "ap-southeast-2"}
    assert all(r["deletionProtectionEnabled"] is True for r in replicas(before).values())
    assert all(saga_table(before, region)["deletionProtectionEnabled"] is True for region in THREE)
    assert latency_regions(before) == set(THREE)
    assert tagged_retiring(before) == set()


def test_step_one_unprotects_the_replica_and_withdraws_the_region_from_dns(
    steps: tuple[Run, Run, Run],
) -> None:
    before, retiring, _ = steps
    replica = replicas(retiring)
    assert replica[LEAVING]["deletionProtectionEnabled"] is False
    assert replica["ap-southeast-2"]["deletionProtectionEnabled"] is True
    # The table itself stays protected.
    (table,) = [t for t in retiring.of_type("aws:dynamodb/table:Table") if "replicas" in t.inputs]
    assert table.inputs["deletionProtectionEnabled"] is True
    # Its saga table loses protection too (the next change deletes it); the others keep it.
    assert saga_table(retiring, LEAVING)["deletionProtectionEnabled"] is False
    assert saga_table(retiring, "ap-southeast-2")["deletionProtectionEnabled"] is True
    # Every taggable resource of the region says it is retiring (the pack's contract), and
    # nothing elsewhere does.
    tagged = tagged_retiring(retiring)
    # The region's own resources, and the (global) IAM roles of its functions.
    assert tagged and all(name.startswith(f"tasks-{LEAVING}-") for name in tagged)
    leaving_taggable = [
        r for r in retiring.resources if r.region == LEAVING and "tags" in r.inputs
    ]
    assert leaving_taggable
    assert all(r.inputs["tags"][RETIRING_TAG_KEY] == "true" for r in leaving_taggable)
    # No latency record and no health check for the retiring region: its traffic drains.
    assert latency_regions(retiring) == {"us-east-1", "ap-southeast-2"}
    assert not any(LEAVING in name for name in health_check_names(retiring))
    # Everything else in the region keeps running (queued work finishes there): compared with
    # before, the region lost exactly its record and health check, and nothing was added.
    dropped = {r.urn for r in before.resources} - {r.urn for r in retiring.resources}
    assert {urn.rsplit("::", 1)[1] for urn in dropped} == {
        f"tasks-routing-{LEAVING}-latency",
        f"tasks-routing-{LEAVING}-health",
    }
    assert {r.urn for r in retiring.resources} <= {r.urn for r in before.resources}
    assert regional_urns(retiring, LEAVING) == regional_urns(before, LEAVING)


def test_step_two_removes_the_unprotected_replica_and_the_region(
    steps: tuple[Run, Run, Run],
) -> None:
    _, retiring, removed = steps
    assert set(replicas(removed)) == {"ap-southeast-2"}
    assert replicas(removed)["ap-southeast-2"]["deletionProtectionEnabled"] is True
    assert regional_urns(removed, LEAVING) == set()
    # What step two deletes is exactly what was left of the region (plus its table replica
    # entry, an update of the table): DNS had already let it go in step one.
    dropped = {r.urn for r in retiring.resources} - {r.urn for r in removed.resources}
    assert regional_urns(retiring, LEAVING) <= dropped
    assert not any("tasks-routing-" in urn for urn in dropped)
    assert latency_regions(removed) == latency_regions(retiring)
    # Nothing new appears in the regions that stay.
    assert {r.urn for r in removed.resources} <= {r.urn for r in retiring.resources}


def test_removing_a_protected_replica_in_one_step_is_what_the_two_steps_avoid(
    steps: tuple[Run, Run, Run],
) -> None:
    # Dropping eu-west-1 straight from `before` would delete a replica whose deletion
    # protection is still on; step one is what turns it off.
    before, retiring, _ = steps
    assert replicas(before)[LEAVING]["deletionProtectionEnabled"] is True
    assert replicas(retiring)[LEAVING]["deletionProtectionEnabled"] is False


@pytest.mark.parametrize(
    ("retiring", "message"),
    [
        (["us-east-1"], "holds the table itself"),
        (["sa-east-1"], "not in regions"),
        (["eu-west-1", "ap-southeast-2"], "serving region"),
    ],
)
def test_a_retirement_that_cannot_work_is_refused_before_anything_runs(
    retiring: list[str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        run_program(config(THREE, retiring))


def test_global_table_retires_only_replicas(run_components: Callable[..., Run]) -> None:
    with pytest.raises(ValueError, match="holds the table itself"):
        GlobalTableArgs(
            regions=["us-east-1", "eu-west-1"], retiring_regions=["us-east-1"]
        ).validate()
    with pytest.raises(ValueError, match="not in regions"):
        GlobalTableArgs(
            regions=["us-east-1", "eu-west-1"], retiring_regions=["sa-east-1"]
        ).validate()
    run = run_components(
        lambda: GlobalTable(
            "orders",
            GlobalTableArgs(
                regions=["us-east-1", "eu-west-1", "eu-central-1"],
                retiring_regions=["eu-central-1"],
            ),
        )
    )
    assert {r["regionName"]: r["deletionProtectionEnabled"] for r in replicas(run).values()} == {
        "eu-west-1": True,
        "eu-central-1": False,
    }


def test_an_added_region_enters_dns_after_its_replica() -> None:
    """A region added to `regions` is one update: its latency record waits for the global
    table's update (the new replica), so no client reaches a region without its data."""
    run = run_program(config(THREE))
    (table,) = [t for t in run.of_type("aws:dynamodb/table:Table") if "replicas" in t.inputs]
    for region in THREE:
        record = run.named(f"tasks-routing-{region}-latency")
        assert table.urn in record.dependencies, region


def test_reordering_regions_moves_nothing_while_the_table_region_is_named() -> None:
    before = run_program(config(["us-east-1", "ap-southeast-2"]) | {f"{NS}tableRegion": "us-east-1"})
    after = run_program(config(["ap-southeast-2", "us-east-1"]) | {f"{NS}tableRegion": "us-east-1"})
    assert {r.urn for r in after.resources} == {r.urn for r in before.resources}
    assert {r.urn: r.region for r in after.resources} == {r.urn: r.region for r in before.resources}
    (table,) = [t for t in after.of_type("aws:dynamodb/table:Table") if "replicas" in t.inputs]
    assert table.region == "us-east-1"
    assert set(replicas(after)) == {"ap-southeast-2"}
    # The shared validation record is still written from the table region's certificate.
    record = after.named("tasks-certificate-validation")
    (certificate,) = [
        c for c in after.of_type("aws:acm/certificate:Certificate") if c.region == "us-east-1"
    ]
    assert record.property_dependencies["name"] == [certificate.urn]


def test_without_a_named_table_region_the_first_region_holds_the_table() -> None:
    unnamed = config(["ap-southeast-2", "us-east-1"])
    del unnamed[f"{NS}tableRegion"]
    run = run_program(unnamed)
    (table,) = [t for t in run.of_type("aws:dynamodb/table:Table") if "replicas" in t.inputs]
    assert table.region == "ap-southeast-2"


def test_a_table_region_outside_regions_is_refused() -> None:
    with pytest.raises(ConfigError, match="tableRegion: sa-east-1 is not in regions"):
        run_program(config(THREE) | {f"{NS}tableRegion": "sa-east-1"})
    with pytest.raises(ConfigError, match="holds the table itself"):
        run_program(config(THREE, ["eu-west-1"]) | {f"{NS}tableRegion": "eu-west-1"})
