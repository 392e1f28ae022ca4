"""The resilience summary's throttling: per-method limits, the methods they apply to, what the
API admits in a region, and each API-key client's usage plan."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from offline_harness import REPO, OfflineRun, prod_regions, run_offline

from offline.engine.recording import Registration
from offline.reports.render import render_region
from offline.reports.resilience import Number, summarize
from resilience_policies import thresholds

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
API = "urn:pulumi:s::p::aws:apigateway/restApi:RestApi::api"
STAGE = "urn:pulumi:s::p::aws:apigateway/stage:Stage::stage"


def _resource(
    type_token: str,
    name: str,
    inputs: dict[str, Any] | None = None,
    links: dict[str, list[str]] | None = None,
    *,
    region: str = "eu-west-1",
    read: bool = False,
) -> Registration:
    return Registration(
        sequence=0,
        urn=f"urn:pulumi:s::p::{type_token}::{name}",
        type=type_token,
        name=name,
        parent="",
        custom=True,
        dependencies=[],
        property_dependencies=links or {},
        inputs={"region": region, **(inputs or {})},
        region=region,
        read=read,
    )


def _api(
    methods: int,
    settings: dict[str, Any] | str | None,
    *,
    method_path: str = "*/*",
    plans: Sequence[dict[str, Any]] = (),
) -> list[Registration]:
    found = [_resource("aws:apigateway/restApi:RestApi", "api")]
    found += [
        _resource(
            "aws:apigateway/method:Method",
            f"method-{index}",
            {"restApi": UNKNOWN, "httpMethod": "GET"},
            {"restApi": [API]},
        )
        for index in range(methods)
    ]
    if settings is not None:
        found.append(
            _resource(
                "aws:apigateway/methodSettings:MethodSettings",
                "throttling",
                {"restApi": UNKNOWN, "methodPath": method_path, "settings": settings},
                {"restApi": [API]},
            )
        )
    for index, plan in enumerate(plans):
        found.append(
            _resource(
                "aws:apigateway/usagePlan:UsagePlan",
                f"plan-{index}",
                {"apiStages": [{"apiId": UNKNOWN, "stage": UNKNOWN}], **plan},
                {"apiStages": [API, STAGE]},
            )
        )
    return found


def test_per_method_limits_add_up_over_the_methods() -> None:
    (throttling,) = summarize(
        _api(5, {"throttlingRateLimit": 100.0, "throttlingBurstLimit": 200.0})
    )["eu-west-1"].throttling
    assert throttling.methods == 5
    assert throttling.method_rate_limit == Number(100.0, "set")
    assert throttling.method_burst_limit == Number(200.0, "set")
    assert throttling.effective_rate_limit == 500
    assert throttling.effective_burst_limit == 1000
    assert throttling.capped_by_account is False
    assert throttling.method_settings == "throttling"


def test_the_account_limits_cap_the_ceiling() -> None:
    (throttling,) = summarize(
        _api(3, {"throttlingRateLimit": 5000.0, "throttlingBurstLimit": 1000.0})
    )["eu-west-1"].throttling
    assert throttling.effective_rate_limit == thresholds.API_ACCOUNT_RATE_LIMIT_RPS
    assert throttling.effective_burst_limit == 3000
    assert throttling.capped_by_account is True


def test_a_stage_without_method_settings_has_only_the_account_limits() -> None:
    (throttling,) = summarize(_api(2, None))["eu-west-1"].throttling
    assert throttling.method_settings is None
    assert throttling.method_rate_limit.source == "unset"
    assert throttling.effective_rate_limit == thresholds.API_ACCOUNT_RATE_LIMIT_RPS
    assert throttling.effective_burst_limit == thresholds.API_ACCOUNT_BURST_LIMIT
    assert throttling.capped_by_account is True


def test_limits_computed_from_outputs_are_unknown_at_preview() -> None:
    (throttling,) = summarize(
        _api(4, {"throttlingRateLimit": UNKNOWN, "throttlingBurstLimit": 50.0})
    )["eu-west-1"].throttling
    assert throttling.method_rate_limit == Number(None, "unknown")
    assert throttling.effective_rate_limit is None
    assert throttling.effective_burst_limit == 200
    assert throttling.capped_by_account is None
    (whole_block,) = summarize(_api(4, UNKNOWN))["eu-west-1"].throttling
    assert whole_block.effective_rate_limit is None and whole_block.effective_burst_limit is None


def test_methods_of_another_api_or_read_ones_do_not_count() -> None:
    registrations = _api(2, {"throttlingRateLimit": 10.0, "throttlingBurstLimit": 20.0})
    other = "urn:pulumi:s::p::aws:apigateway/restApi:RestApi::other"
    registrations.append(
        _resource("aws:apigateway/method:Method", "elsewhere", {}, {"restApi": [other]})
    )
    registrations.append(
        _resource("aws:apigateway/method:Method", "read", {}, {"restApi": [API]}, read=True)
    )
    (throttling,) = summarize(registrations)["eu-west-1"].throttling
    assert throttling.methods == 2 and throttling.effective_rate_limit == 20


def test_method_specific_settings_are_not_added_up() -> None:
    registrations = _api(3, {"throttlingRateLimit": 10.0, "throttlingBurstLimit": 20.0})
    registrations += [
        r
        for r in _api(0, {"throttlingRateLimit": 1.0}, method_path="tasks/POST")
        if r.type.endswith("MethodSettings")
    ]
    registrations[-1].name = "tasks-post"
    registrations[-1].urn += "-post"
    (throttling,) = summarize(registrations)["eu-west-1"].throttling
    assert throttling.methods == 3 and throttling.method_overrides == 1
    assert throttling.effective_rate_limit == 20  # the two methods on the default


def test_usage_plans_give_each_client_its_limits() -> None:
    plans: list[dict[str, Any]] = [
        {
            "throttleSettings": {"rateLimit": 5.0, "burstLimit": 10.0},
            "quotaSettings": {"limit": 50_000.0, "period": "DAY"},
        },
        {"throttleSettings": {"rateLimit": 2.5, "burstLimit": 5.0}},
    ]
    (throttling,) = summarize(
        _api(5, {"throttlingRateLimit": 10.0, "throttlingBurstLimit": 20.0}, plans=plans)
    )["eu-west-1"].throttling
    first, second = throttling.usage_plans
    assert first.usage_plan == "plan-0"
    assert (first.rate_limit.value, first.burst_limit.value) == (5.0, 10.0)
    assert first.quota == Number(50_000.0, "set") and first.quota_period == "DAY"
    assert second.rate_limit.value == 2.5 and second.quota.source == "unset"
    assert second.quota_period is None


def test_rendering_names_per_method_and_per_region_figures() -> None:
    plans: list[dict[str, Any]] = [
        {
            "throttleSettings": {"rateLimit": 5.0, "burstLimit": 10.0},
            "quotaSettings": {"limit": 50_000.0, "period": "DAY"},
        },
        {"throttleSettings": {"rateLimit": 2.5, "burstLimit": 5.0}},
    ]
    summary = summarize(
        _api(5, {"throttlingRateLimit": 10.0, "throttlingBurstLimit": 20.0}, plans=plans)
    )["eu-west-1"]
    text = "\n".join(render_region(summary))
    assert (
        "throttling     api: 10 rps / burst 20 per method x 5 methods = up to 50 rps / burst "
        "100 for the API in this region (account limit 10000 rps / burst 5000, shared by the "
        "region's APIs)"
    ) in text
    assert "usage plan plan-0: each key 5 rps / burst 10, quota 50000 per DAY" in text
    assert "usage plan plan-1: each key 2.5 rps / burst 5, no quota" in text


def test_rendering_unknown_and_account_capped_figures() -> None:
    unknown = summarize(_api(2, {"throttlingRateLimit": UNKNOWN, "throttlingBurstLimit": 1.0}))
    text = "\n".join(render_region(unknown["eu-west-1"]))
    assert "unknown at preview rps / burst 1 per method x 2 methods" not in text
    assert "unknown at preview / burst 1 per method x 2 methods = up to unknown at preview" in text
    capped = summarize(_api(1, None))
    text = "\n".join(render_region(capped["eu-west-1"]))
    assert "no stage throttling per method x 1 method = up to 10000 rps / burst 5000 (the " in text


@pytest.fixture(scope="module")
def staging_preview(tmp_path_factory: pytest.TempPathFactory) -> OfflineRun:
    return run_offline(
        "--cwd",
        REPO,
        "--stack",
        "staging",
        "--mode",
        "preview",
        out_dir=Path(tmp_path_factory.mktemp("staging-preview")),
    )


def test_prod_summary_prints_the_effective_limits(prod_runs: dict[str, OfflineRun]) -> None:
    for mode in ("preview", "update"):
        run = prod_runs[mode]
        assert run.report is not None, run.describe()
        for region in prod_regions():
            (throttling,) = run.report["summary"]["regions"][region]["throttling"]
            # POST tasks, GET tasks/{taskId}, GET health, POST bookings, GET bookings/{bookingId},
            # and Route53's probe, whose own limits are not the stage-wide ones
            assert throttling["methods"] == 6
            assert throttling["method_overrides"] == 1
            assert throttling["method_rate_limit"] == {"value": 100.0, "source": "set"}
            assert throttling["method_burst_limit"] == {"value": 200.0, "source": "set"}
            assert throttling["effective_rate_limit"] == 500
            assert throttling["effective_burst_limit"] == 1000
            assert throttling["capped_by_account"] is False
            assert throttling["usage_plans"] == []  # IAM callers: no API keys
        assert (
            "100 rps / burst 200 per method x 6 methods (1 with their own limits, not added) = "
            "up to 500 rps / burst 1000"
        ) in (
            run.stdout
        )


def test_staging_summary_prints_each_clients_plan(staging_preview: OfflineRun) -> None:
    run = staging_preview
    assert run.exit_code == 0 and not run.mandatory, run.describe()
    assert run.report is not None
    for region in ("us-east-2", "us-west-2"):
        (throttling,) = run.report["summary"]["regions"][region]["throttling"]
        assert throttling["effective_rate_limit"] == 50
        assert throttling["effective_burst_limit"] == 100
        plans = {plan["usage_plan"]: plan for plan in throttling["usage_plans"]}
        drills = plans[f"tasks-{region}-api-plan-chaos-drills"]
        assert drills["rate_limit"]["value"] == 5 and drills["burst_limit"]["value"] == 10
        assert drills["quota"]["value"] == 50_000 and drills["quota_period"] == "DAY"
        qa = plans[f"tasks-{region}-api-plan-qa-team"]
        assert qa["rate_limit"]["value"] == 2 and qa["quota"]["value"] == 5000
    assert (
        "usage plan tasks-us-west-2-api-plan-qa-team: each key 2 rps / burst 5, quota 5000 "
        "per DAY" in run.stdout
    )
