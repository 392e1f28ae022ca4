"""Latency records as alias A records or as CNAMEs with their own TTL, the nominal failover each
gives, and how a change of record type is carried out."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from harness import Run
from program_runs import prod_config, run_program
from resilient_serverless import LatencyRouting, LatencyRoutingArgs, RegionalEndpoint

from offline.engine.recording import RecordingMonitor
from resilience_policies import thresholds

REPO = Path(__file__).resolve().parents[2]
NS = "resilient-serverless:"
REGIONS = ("us-east-1", "eu-west-1")


def endpoints() -> list[RegionalEndpoint]:
    return [
        RegionalEndpoint(
            region,
            f"d-{region}.execute-api.{region}.amazonaws.com",
            "Z2",
            f"api.{region}.example",
            "/v1/health",
        )
        for region in REGIONS
    ]


def routing(**changes: Any) -> Callable[[], LatencyRouting]:
    return lambda: LatencyRouting(
        "www",
        LatencyRoutingArgs(
            zone_id="Z1", record_name="www.example.com", endpoints=endpoints(), **changes
        ),
    )


@pytest.fixture
def record_options(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, dict[str, Any]]]:
    """The resource options each registration carried (name -> options), as the engine gets
    them."""
    seen: dict[str, dict[str, Any]] = {}
    register = RecordingMonitor.RegisterResource

    def recording(self: RecordingMonitor, request: Any) -> Any:
        seen[request.name] = {
            "deleteBeforeReplace": bool(request.deleteBeforeReplace),
            "deleteBeforeReplaceDefined": bool(request.deleteBeforeReplaceDefined),
            "replaceOnChanges": list(request.replaceOnChanges),
        }
        return register(self, request)

    monkeypatch.setattr(RecordingMonitor, "RegisterResource", recording)
    yield seen


def test_cname_records_point_at_each_regions_api_domain_with_their_ttl(
    run_components: Callable[..., Run],
) -> None:
    run = run_components(routing(record_type="cname", record_ttl_s=30))
    for region in REGIONS:
        record = run.named(f"www-{region}-latency")
        check = run.named(f"www-{region}-health")
        assert record.inputs["type"] == "CNAME"
        assert record.inputs["ttl"] == 30
        assert record.inputs["records"] == [f"d-{region}.execute-api.{region}.amazonaws.com"]
        assert "aliases" not in record.inputs
        assert record.inputs["setIdentifier"] == region
        assert record.inputs["latencyRoutingPolicies"] == [{"region": region}]
        # Only the health check withdraws a CNAME's region.
        assert record.property_dependencies["healthCheckId"] == [check.urn]


def test_alias_records_are_unchanged(run_components: Callable[..., Run]) -> None:
    run = run_components(routing())
    for region in REGIONS:
        record = run.named(f"www-{region}-latency")
        assert record.inputs["type"] == "A"
        assert "ttl" not in record.inputs and "records" not in record.inputs
        assert record.inputs["aliases"] == [
            {
                "name": f"d-{region}.execute-api.{region}.amazonaws.com",
                "zoneId": "Z2",
                "evaluateTargetHealth": True,
            }
        ]


@pytest.mark.parametrize("record_type", ["alias", "cname"])
def test_a_type_change_replaces_the_record_deleting_the_old_one_first(
    run_components: Callable[..., Run],
    record_options: dict[str, dict[str, Any]],
    record_type: str,
) -> None:
    # Route53 refuses a CNAME beside another region's A record at the same name, so an in-place
    # update (one region at a time) cannot switch types: the record is replaced, old one first.
    run_components(routing(record_type=record_type))
    for region in REGIONS:
        options = record_options[f"www-{region}-latency"]
        assert options["replaceOnChanges"] == ["type"]
        assert options["deleteBeforeReplace"] and options["deleteBeforeReplaceDefined"]
        # Health checks keep the default: a replacement check is created before the old goes.
        assert not record_options[f"www-{region}-health"]["deleteBeforeReplace"]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, 30 * 3 + thresholds.ALIAS_RECORD_TTL_S),
        # The TTL of a CNAME counts, an alias's own setting cannot be shortened.
        ({"record_type": "cname", "record_ttl_s": 30}, 30 * 3 + 30),
        (
            {
                "record_type": "cname",
                "record_ttl_s": 30,
                "health_check_interval_s": 10,
                "health_check_failure_threshold": 3,
            },
            60,
        ),
        ({"record_type": "alias", "record_ttl_s": 10}, 30 * 3 + thresholds.ALIAS_RECORD_TTL_S),
    ],
)
def test_nominal_failover_uses_the_records_ttl(changes: dict[str, Any], expected: int) -> None:
    args = LatencyRoutingArgs(
        zone_id="Z", record_name="x.example.com", endpoints=endpoints(), **changes
    )
    assert args.estimated_failover_s == expected


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"record_type": "AAAA"}, "record_type"),
        ({"record_type": "cname", "record_ttl_s": 5}, "record_ttl_s"),
        ({"record_type": "cname", "record_ttl_s": 7200}, "record_ttl_s"),
    ],
)
def test_bad_record_settings_are_refused(changes: dict[str, Any], message: str) -> None:
    args = LatencyRoutingArgs(
        zone_id="Z", record_name="x.example.com", endpoints=endpoints(), **changes
    )
    with pytest.raises(ValueError, match=message):
        args.validate()


def test_prod_fails_over_within_the_nominal_target(prod_run: Run) -> None:
    service = prod_run.result["service"]
    assert service.routing.estimated_failover_s == 10 * 3 + 30
    assert service.routing.estimated_failover_s <= thresholds.NOMINAL_FAILOVER_TARGET_S
    records = [
        r for r in prod_run.of_type("aws:route53/record:Record") if "setIdentifier" in r.inputs
    ]
    assert {r.inputs["type"] for r in records} == {"CNAME"}
    checks = prod_run.of_type("aws:route53/healthCheck:HealthCheck")
    for record in records:
        (check_urn,) = record.property_dependencies["healthCheckId"]
        check = next(c for c in checks if c.urn == check_urn)
        nominal = thresholds.estimated_failover_s(
            int(check.inputs["requestInterval"]),
            int(check.inputs["failureThreshold"]),
            int(record.inputs["ttl"]),
        )
        assert nominal <= thresholds.NOMINAL_FAILOVER_TARGET_S


def test_staging_keeps_alias_records() -> None:
    staging = yaml.safe_load((REPO / "Pulumi.staging.yaml").read_text())["config"]
    run = run_program(dict(staging), stack="staging")
    records = [r for r in run.of_type("aws:route53/record:Record") if "setIdentifier" in r.inputs]
    assert records and {r.inputs["type"] for r in records} == {"A"}
    assert all(r.inputs["aliases"][0]["evaluateTargetHealth"] is True for r in records)
    assert run.result["service"].routing.estimated_failover_s == (
        30 * 3 + thresholds.ALIAS_RECORD_TTL_S
    )


def test_switching_prod_to_alias_keeps_the_same_record_resources() -> None:
    # Same names, so the engine sees a change of type (a replacement), not new records beside
    # the old ones, which Route53 would refuse as conflicting.
    alias = run_program(prod_config() | {f"{NS}dnsRecordType": "alias"})
    cname = run_program(prod_config())

    def latency(run: Run) -> dict[str, str]:
        return {
            r.urn: r.inputs["type"]
            for r in run.of_type("aws:route53/record:Record")
            if "setIdentifier" in r.inputs
        }

    assert latency(alias).keys() == latency(cname).keys()
    assert set(latency(alias).values()) == {"A"} and set(latency(cname).values()) == {"CNAME"}
