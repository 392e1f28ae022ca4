"""The game day: its DNS and replication emulators on their own, the drill on the project (every
goal met), and on copies with one mechanism removed (the goal behind it missed)."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from drills import gameday, local_aws, sabotage
from drills.dns import (
    CHECKER_REGIONS,
    CachedName,
    CheckerView,
    Clock,
    HealthChecks,
    Resolver,
    StackSettings,
    Throttle,
    read_stack_settings,
    region_healthy,
    settings_from_resources,
)
from drills.replication import (
    LEASE_TABLE,
    Replicator,
    StrongWrites,
    create_lease_table,
    enable_streams,
)

REGIONS = ("us-east-1", "eu-west-1")


def _settings(**changes: Any) -> StackSettings:
    values: dict[str, Any] = {
        "regions": REGIONS,
        "health_paths": {r: "/v1/health/probe" for r in REGIONS},
        "interval_s": 10.0,
        "failure_threshold": 3,
        "record_type": "CNAME",
        "ttl_s": 30.0,
        "checker_regions": None,
        "throttles": {r: {"*/*": Throttle(100.0, 200)} for r in REGIONS},
    }
    return StackSettings(**{**values, **changes})


# --- DNS -------------------------------------------------------------------------------------


def test_a_checker_changes_its_view_after_threshold_consecutive_observations() -> None:
    view = CheckerView(threshold=3)
    assert view.healthy  # a new check starts healthy
    assert [view.observe(False) for _ in range(2)] == [False, False]
    view.observe(True)  # the streak is broken
    assert [view.observe(False) for _ in range(3)] == [False, False, True]
    assert not view.healthy
    assert [view.observe(True) for _ in range(3)] == [False, False, True]


def test_a_region_is_healthy_while_more_than_18_percent_of_checkers_say_so() -> None:
    assert region_healthy([True, True] + [False] * 6)  # 25 %
    assert not region_healthy([True] + [False] * 7)  # 12.5 %
    assert region_healthy([True] + [False] * 4)  # 20 %
    assert not region_healthy([True] + [False] * 5)  # 16.7 %
    assert not region_healthy([False] * 8)


def _checks(healthy: dict[str, bool]) -> HealthChecks:
    checks = HealthChecks(_settings(), lambda region, timeout: True, Clock(10))
    checks._healthy.update(healthy)
    return checks


def test_the_resolver_answers_the_nearest_healthy_region_and_all_when_none_is() -> None:
    order = ("us-east-1", "eu-west-1")
    assert Resolver(_checks({"us-east-1": True}), 1).resolve(order).region == "us-east-1"
    assert Resolver(_checks({"us-east-1": False}), 1).resolve(order).region == "eu-west-1"
    none = _checks({"us-east-1": False, "eu-west-1": False})
    assert Resolver(none, 1).resolve(order).region == "us-east-1"


def test_a_client_keeps_its_answer_for_the_ttl() -> None:
    checks = _checks({"us-east-1": True})
    name = CachedName(Resolver(checks, ttl_wall_s=0.3), ("us-east-1", "eu-west-1"))
    assert name.region() == "us-east-1"
    checks._healthy["us-east-1"] = False
    assert name.region() == "us-east-1"  # cached
    time.sleep(0.35)
    assert name.region() == "eu-west-1"


def test_checkers_take_a_failing_region_out_within_threshold_intervals() -> None:
    failing = threading.Event()
    checks = HealthChecks(
        _settings(),
        lambda region, timeout: not (failing.is_set() and region == "us-east-1"),
        Clock(100),  # a 10 s interval every 0.1 s
    )
    checks.start()
    try:
        time.sleep(0.3)
        assert checks.healthy("us-east-1")
        failing.set()
        started = time.monotonic()
        while checks.healthy("us-east-1") and time.monotonic() - started < 3:
            time.sleep(0.01)
        taken = Clock(100).real(time.monotonic() - started)
        assert not checks.healthy("us-east-1") and checks.healthy("eu-west-1")
        # Three failed observations 10 s apart per checker, (probe time aside).
        assert 20 <= taken <= 45, taken
        assert checks.checkers == len(CHECKER_REGIONS)
    finally:
        checks.stop()


def test_settings_come_from_the_recorded_resources() -> None:
    check: dict[str, Any] = {
        "type": "aws:route53/healthCheck:HealthCheck",
        "name": "c",
        "region": None,
        "inputs": {"resourcePath": "/v1/h/x", "requestInterval": 30.0, "failureThreshold": 2.0},
        "outputs": {"id": "hc-1"},
    }
    record: dict[str, Any] = {
        "type": "aws:route53/record:Record",
        "name": "r",
        "region": None,
        "inputs": {
            "type": "A",
            "healthCheckId": "hc-1",
            "latencyRoutingPolicies": [{"region": "eu-west-1"}],
        },
        "outputs": {},
    }
    settings = settings_from_resources([check, record])
    assert settings.health_paths == {"eu-west-1": "/v1/h/x"}
    assert (settings.interval_s, settings.failure_threshold, settings.ttl_s) == (30.0, 2, None)
    assert settings.nominal_failover_s(alias_ttl_s=60) == 30 * 2 + 60
    with pytest.raises(ValueError, match="no health check"):
        settings_from_resources([{**record, "inputs": {**record["inputs"], "healthCheckId": "x"}}])


@pytest.fixture(scope="module")
def prod_settings() -> StackSettings:
    return read_stack_settings(sabotage.ROOT, "prod")


def test_the_prod_stack_probes_a_route_with_its_own_bucket(prod_settings: StackSettings) -> None:
    assert prod_settings.regions and set(prod_settings.health_paths) == set(prod_settings.regions)
    for region, path in prod_settings.health_paths.items():
        route = path.split("/", 2)[2]  # the stage's segment dropped
        own = prod_settings.throttle(region, gameday.method_path("/" + route, "GET"))
        assert own != prod_settings.throttle(region, "*/*"), region
    assert prod_settings.nominal_failover_s(60) == (
        prod_settings.interval_s * prod_settings.failure_threshold + prod_settings.record_ttl_s(60)
    )


# --- Replication -----------------------------------------------------------------------------


@pytest.fixture
def moto() -> Iterator[str]:
    with local_aws.moto_server() as url:
        for region in REGIONS:
            local_aws.create(url, region)
        yield url


def _table(url: str, region: str) -> Any:
    return boto3.client("dynamodb", region_name=region, endpoint_url=url, **local_aws.CREDENTIALS)


def _item(key: str, status: str, written: str) -> dict[str, Any]:
    return {"taskId": {"S": key}, "status": {"S": status}, "updatedAt": {"S": written}}


def _get(url: str, region: str, key: str) -> dict[str, Any] | None:
    found = _table(url, region).get_item(
        TableName="tasks", Key={"taskId": {"S": key}}, ConsistentRead=True
    )
    return found.get("Item")


def test_eventual_replication_copies_after_the_lag_and_the_last_writer_wins(moto: str) -> None:
    enable_streams(moto, REGIONS)
    replicator = Replicator(moto, REGIONS, lag_s=0.3)
    replicator.start()
    try:
        _table(moto, "us-east-1").put_item(
            TableName="tasks", Item=_item("a", "PENDING", "2026-01-01T00:00:00.000Z")
        )
        time.sleep(0.1)
        assert _get(moto, "eu-west-1", "a") is None  # not before the lag
        assert replicator.drain(10)
        assert _get(moto, "eu-west-1", "a") == _item("a", "PENDING", "2026-01-01T00:00:00.000Z")
        # Concurrent writes of one item in both regions: the later write time wins everywhere.
        _table(moto, "eu-west-1").put_item(
            TableName="tasks", Item=_item("b", "LATER", "2026-01-01T00:00:02.000Z")
        )
        _table(moto, "us-east-1").put_item(
            TableName="tasks", Item=_item("b", "EARLIER", "2026-01-01T00:00:01.000Z")
        )
        assert replicator.drain(10)
        for region in REGIONS:
            assert _get(moto, region, "b") == _item("b", "LATER", "2026-01-01T00:00:02.000Z")
        assert replicator.conflicts == 1
        # Stalled: nothing moves; resumed: the backlog is applied.
        replicator.stall()
        _table(moto, "us-east-1").put_item(
            TableName="tasks", Item=_item("c", "PENDING", "2026-01-01T00:00:03.000Z")
        )
        assert not replicator.drain(1)
        assert _get(moto, "eu-west-1", "c") is None
        replicator.resume()
        assert replicator.drain(10)
        assert _get(moto, "eu-west-1", "c") is not None
    finally:
        replicator.stop()


def test_strong_writes_are_everywhere_before_they_return_and_conflicts_fail(moto: str) -> None:
    create_lease_table(moto, REGIONS[0])
    conflicts: list[int] = []
    writes = StrongWrites(moto, "eu-west-1", REGIONS, lambda: conflicts.append(1))
    # One attempt, as the handlers' clients make (botocore would retry the conflict itself).
    client = boto3.client(
        "dynamodb",
        region_name="eu-west-1",
        endpoint_url=moto,
        config=Config(retries={"total_max_attempts": 1}),
        **local_aws.CREDENTIALS,
    )
    writes.install(client, "dynamodb")
    client.put_item(TableName="tasks", Item=_item("a", "PENDING", "2026-01-01T00:00:00.000Z"))
    assert _get(moto, "us-east-1", "a") == _item("a", "PENDING", "2026-01-01T00:00:00.000Z")
    # Another region is writing the item: this write fails, retryable, and changes nothing.
    _table(moto, REGIONS[0]).put_item(
        TableName=LEASE_TABLE,
        Item={"taskId": {"S": "a"}, "region": {"S": "us-east-1"}, "until": {"N": "9e12"}},
    )
    with pytest.raises(ClientError) as raised:
        client.put_item(TableName="tasks", Item=_item("a", "DONE", "2026-01-01T00:00:01.000Z"))
    assert raised.value.response["Error"]["Code"] == "ReplicatedWriteConflictException"
    assert conflicts == [1]
    assert _get(moto, "eu-west-1", "a") == _item("a", "PENDING", "2026-01-01T00:00:00.000Z")


# --- The drill -------------------------------------------------------------------------------


def _run(copy: Path, argv: tuple[str, ...], out: Path) -> tuple[int, str, dict[str, Any]]:
    done = sabotage.run_drill(copy, argv, out, timeout_s=400)
    detail = f"exit {done.returncode}\n{done.stdout}\n{done.stderr[-3000:]}"
    result = json.loads(out.read_text()) if out.exists() else {}
    return done.returncode, detail, result


def test_the_game_day_and_its_sabotages(tmp_path: Path) -> None:
    """The project meets every goal of the scenarios the sabotages use; each sabotaged copy
    misses its goal. Two runs at a time (they mostly wait on the compressed timeline), the
    sabotaged flood first with no other flood beside it: a flood's senders are threads, and on
    busy cores their gaps let probes through that a real flood would not."""
    scenarios = sorted({entry.argv[-1] for entry in sabotage.GAMEDAY_CATALOGUE})
    baseline = (*sabotage.GAMEDAY_ARGV, *(a for s in scenarios for a in ("--scenario", s)))
    jobs: list[tuple[str, Path, tuple[str, ...]]] = [
        (entry.name, sabotage.make_copy(entry, tmp_path / entry.name), entry.argv)
        for entry in sorted(sabotage.GAMEDAY_CATALOGUE, key=lambda e: "health-flood" not in e.argv)
    ]
    jobs.insert(2, ("project", sabotage.make_copy(None, tmp_path / "project"), baseline))
    with ThreadPoolExecutor(2) as pool:
        runs = dict(
            zip(
                [name for name, _, _ in jobs],
                pool.map(lambda job: _run(job[1], job[2], tmp_path / f"{job[0]}.json"), jobs),
                strict=True,
            )
        )
    code, detail, result = runs["project"]
    assert code == 0, detail
    assert [entry["name"] for entry in result["scenarios"]] == scenarios
    for entry in result["scenarios"]:
        assert entry["tasks_accepted"] == entry["tasks_submitted"], detail
    flood = next(e for e in result["scenarios"] if e["name"] == "health-flood")
    assert flood["flood_throttled"] > 0, detail  # the flood did exhaust the public bucket
    down = next(e for e in result["scenarios"] if e["name"] == "region-api-down")
    assert down["calls_by_region"].get("eu-west-1", 0) > 0, detail
    for entry in sabotage.GAMEDAY_CATALOGUE:
        code, detail, result = runs[entry.name]
        assert code == 1, f"{entry.name}: {detail}"
        for key in entry.misses:
            assert key in result["missed"], f"{entry.name}: {key} not missed\n{detail}"
            assert f"MISS {key} = " in detail


def test_bad_arguments_name_the_argument() -> None:
    with pytest.raises(ValueError, match="--scenario: unknown nope"):
        gameday.Options(scenarios=("nope",))
    with pytest.raises(ValueError, match="--consistency"):
        gameday.Options(consistency="linearizable")
