"""Who may call the API (IAM or API keys with usage plans), one certificate validation record
for every region, and an expiry alarm on each certificate: the components and the whole program
under mocks."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import harness
import pytest
from harness import UNKNOWN, Registration, Run
from program_runs import REPO, prod_config, run_program
from resilient_serverless import (
    ActiveActiveService,
    ActiveActiveServiceArgs,
    Function,
    FunctionArgs,
    RegionalApi,
    RegionalApiArgs,
    Route,
    settings_from_mapping,
)
from resilient_serverless.api_access import ApiClient

from offline.engine.recording import (
    SECRET_SIGNATURE,
    SECRET_SIGNATURE_KEY,
    OfflineMocks,
    RecordingMonitor,
)
from resilience_policies import thresholds

NS = "resilient-serverless:"
REGIONS_STAGING = ("us-east-2", "us-west-2")
METHOD = "aws:apigateway/method:Method"
USAGE_PLAN = "aws:apigateway/usagePlan:UsagePlan"
API_KEY = "aws:apigateway/apiKey:ApiKey"
PLAN_KEY = "aws:apigateway/usagePlanKey:UsagePlanKey"
RECORD = "aws:route53/record:Record"
CERTIFICATE = "aws:acm/certificate:Certificate"
VALIDATION = "aws:acm/certificateValidation:CertificateValidation"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
ROUTES = [Route("GET", "health"), Route("GET", "items/{id}"), Route("POST", "items")]
CLIENTS = (
    ApiClient("mobile-app", rate_limit=20, burst_limit=40, quota_per_day=100_000),
    ApiClient("partner", rate_limit=2.5, burst_limit=5),
)


def _shop(
    run_components: Callable[..., Run],
    invoke_resources: list[str] | None = None,
    **changes: Any,
) -> Run:
    """The API in one region; `invoke_resources` receives its resolved invoke resources."""

    def build() -> RegionalApi:
        handler = Function(
            "fn",
            FunctionArgs(handler="app.handler", code=_code(), timeout_s=20),
            region="ap-northeast-1",
        )
        api = RegionalApi(
            "shop",
            RegionalApiArgs(
                handler=handler.target(),
                routes=ROUTES,
                domain_name="shop.example.com",
                zone_id="Z1",
                **changes,
            ),
            region="ap-northeast-1",
        )
        if invoke_resources is not None:
            api.invoke_policy_resources.apply(invoke_resources.extend)
        return api

    return run_components(build)


def _code() -> Any:
    import pulumi

    return pulumi.AssetArchive({"app.py": pulumi.StringAsset("def handler(e, c):\n    return 1\n")})


def _methods(run: Run) -> dict[str, dict[str, Any]]:
    return {method.name: method.inputs for method in run.of_type(METHOD)}


def _staging_config() -> dict[str, Any]:
    import yaml

    return dict(yaml.safe_load((REPO / "Pulumi.staging.yaml").read_text())["config"])


def _is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SECRET_SIGNATURE_KEY) == SECRET_SIGNATURE


# --- Access control ------------------------------------------------------------------------------


def test_iam_signs_every_route_but_the_health_route(run_components: Callable[..., Run]) -> None:
    invoke_resources: list[str] = []
    run = _shop(run_components, invoke_resources)
    methods = _methods(run)
    assert methods["shop-get-health"]["authorization"] == "NONE"
    assert not methods["shop-get-health"].get("apiKeyRequired")
    for name in ("shop-get-items-id", "shop-post-items"):
        assert methods[name]["authorization"] == "AWS_IAM", name
        assert not methods[name].get("apiKeyRequired"), name
    assert not run.of_type(USAGE_PLAN) and not run.of_type(PLAN_KEY)
    # The one key is the Route53 probe's disabled secret (test_health_probe.py), no client's.
    assert [key.name for key in run.of_type(API_KEY)] == ["shop-health-probe-token"]
    assert len(invoke_resources) == 2  # the two protected routes


def test_invoke_policy_resources_name_each_protected_route(
    run_components: Callable[..., Run],
) -> None:
    resolved: list[str] = []
    run = _shop(run_components, resolved)
    arn = run.named("shop-api").outputs["executionArn"]
    assert arn.startswith("arn:aws:execute-api:ap-northeast-1:")
    assert sorted(resolved) == [f"{arn}/v1/GET/items/*", f"{arn}/v1/POST/items"]


def test_api_keys_with_a_usage_plan_per_client(run_components: Callable[..., Run]) -> None:
    invoke_resources: list[str] = []
    run = _shop(run_components, invoke_resources, authorization="apiKey", api_clients=CLIENTS)
    methods = _methods(run)
    assert methods["shop-get-health"]["authorization"] == "NONE"
    assert not methods["shop-get-health"].get("apiKeyRequired"), "Route53 sends no key"
    for name in ("shop-get-items-id", "shop-post-items"):
        assert methods[name]["authorization"] == "NONE", name
        assert methods[name]["apiKeyRequired"] is True, name

    rest_api = run.named("shop-api")
    stage = run.named("shop-stage")
    plans = {plan.name: plan for plan in run.of_type(USAGE_PLAN)}
    keys = {key.name: key for key in run.of_type(API_KEY)}
    plan_keys = {link.name: link for link in run.of_type(PLAN_KEY)}
    assert set(plans) == {"shop-plan-mobile-app", "shop-plan-partner"}
    assert set(keys) == {"shop-key-mobile-app", "shop-key-partner", "shop-health-probe-token"}
    assert set(plan_keys) == {"shop-plan-key-mobile-app", "shop-plan-key-partner"}
    probe_key = keys["shop-health-probe-token"]
    assert all(link.property_dependencies["keyId"] != [probe_key.urn] for link in plan_keys.values())

    mobile = plans["shop-plan-mobile-app"]
    assert mobile.inputs["region"] == "ap-northeast-1"
    assert mobile.inputs["throttleSettings"] == {"rateLimit": 20, "burstLimit": 40}
    assert mobile.inputs["quotaSettings"] == {"limit": 100_000, "period": "DAY"}
    # The plan covers this API's stage, linked by dependency, not by name.
    assert set(mobile.property_dependencies["apiStages"]) == {rest_api.urn, stage.urn}
    partner = plans["shop-plan-partner"]
    assert partner.inputs["throttleSettings"] == {"rateLimit": 2.5, "burstLimit": 5}
    assert "quotaSettings" not in partner.inputs, "no quota configured"

    for client in ("mobile-app", "partner"):
        key = keys[f"shop-key-{client}"]
        assert key.inputs["region"] == "ap-northeast-1"
        assert "value" not in key.inputs, "API Gateway generates the first value"
        link = plan_keys[f"shop-plan-key-{client}"]
        assert link.inputs["keyType"] == "API_KEY"
        assert link.property_dependencies["keyId"] == [key.urn]
        assert link.property_dependencies["usagePlanId"] == [plans[f"shop-plan-{client}"].urn]
    assert invoke_resources == [], "IAM is not checked with API keys"


def test_a_given_key_value_is_used_and_stays_secret(run_components: Callable[..., Run]) -> None:
    run = _shop(
        run_components,
        authorization="apiKey",
        api_clients=CLIENTS,
        api_key_values={"partner": "p" * 24},
    )
    partner = run.named("shop-key-partner").inputs["value"]
    assert _is_secret(partner) and partner["value"] == "p" * 24
    assert "value" not in run.named("shop-key-mobile-app").inputs


def test_changing_who_may_call_redeploys_the_stage(run_components: Callable[..., Run]) -> None:
    iam = _shop(run_components).named("shop-deployment").inputs["triggers"]["routes"]
    keys = _shop(run_components, authorization="apiKey", api_clients=CLIENTS)
    assert keys.named("shop-deployment").inputs["triggers"]["routes"] != iam


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"authorization": "none"}, "authorization"),
        ({"authorization": "apiKey"}, "at least one client"),
        ({"api_clients": CLIENTS}, "only checked with"),
        (
            {"authorization": "apiKey", "api_clients": CLIENTS, "api_key_values": {"x": "v"}},
            "not among api_clients",
        ),
        (
            {"authorization": "apiKey", "api_clients": (CLIENTS[0], CLIENTS[0])},
            "distinct name",
        ),
        (
            {"authorization": "apiKey", "api_clients": (ApiClient("Bad Name", 1, 1),)},
            "lowercase",
        ),
    ],
)
def test_access_args_are_checked(changes: dict[str, Any], message: str) -> None:
    args = RegionalApiArgs(
        handler=None,  # refused before the handler is looked at
        routes=ROUTES,
        domain_name="x.example.com",
        zone_id="Z",
        **changes,
    )
    with pytest.raises(ValueError, match=message):
        args.validate()


def test_staging_keys_have_a_value_of_their_own_in_each_region() -> None:
    run = run_program(_staging_config(), stack="staging")
    regions = ["us-east-2", "us-west-2"]
    for client in ("chaos-drills", "qa-team"):
        first, second = (run.named(f"tasks-{region}-api-key-{client}") for region in regions)
        assert first.inputs["region"] == "us-east-2" and second.inputs["region"] == "us-west-2"
        # API Gateway generates each region's value: a value read in one region (anyone with
        # apigateway:GET there can) admits nobody in the other.
        for key in (first, second):
            assert "value" not in key.inputs, key.name
            assert "value" not in key.property_dependencies, key.name
        for region in regions:
            plan = run.named(f"tasks-{region}-api-plan-{client}")
            assert plan.inputs["region"] == region
            link = run.named(f"tasks-{region}-api-plan-key-{client}")
            assert link.property_dependencies["keyId"] == [
                run.named(f"tasks-{region}-api-key-{client}").urn
            ]
    assert run.named("tasks-us-west-2-api-plan-qa-team").inputs["quotaSettings"] == {
        "limit": 5000,
        "period": "DAY",
    }


def test_staging_needs_a_signature_and_a_key_on_every_route_but_health() -> None:
    run = run_program(_staging_config(), stack="staging")
    for method in run.of_type(METHOD):
        if method.name.endswith(("-get-health", "-health-probe-method")):
            assert method.inputs["authorization"] == "NONE", method.name
            assert not method.inputs.get("apiKeyRequired"), "Route53 signs nothing, sends no key"
        else:
            assert method.inputs["authorization"] == "AWS_IAM", method.name
            assert method.inputs["apiKeyRequired"] is True, method.name
    assert len(run.of_type(METHOD)) == 12


def test_a_client_shared_across_regions_gets_the_first_regions_value_as_a_secret() -> None:
    config = _staging_config()
    clients = [dict(client) for client in config[f"{NS}apiClients"]]
    clients[1]["sharedAcrossRegions"] = True  # qa-team: one value everywhere
    run = run_program({**config, f"{NS}apiClients": clients}, stack="staging")
    first, second = (run.named(f"tasks-{region}-api-key-qa-team") for region in REGIONS_STAGING)
    assert "value" not in first.inputs, "API Gateway generates the value once"
    # The other region's key takes the first key's value: the same header works anywhere.
    assert second.property_dependencies["value"] == [first.urn]
    assert _is_secret(second.inputs["value"])
    assert second.inputs["value"]["value"] == first.outputs["value"]
    # The client that did not ask keeps a value per region.
    for region in REGIONS_STAGING:
        assert "value" not in run.named(f"tasks-{region}-api-key-chaos-drills").inputs


def test_iam_plus_api_key_needs_both_and_grants_both(run_components: Callable[..., Run]) -> None:
    invoke_resources: list[str] = []
    run = _shop(run_components, invoke_resources, authorization="iam+apiKey", api_clients=CLIENTS)
    methods = _methods(run)
    assert methods["shop-get-health"]["authorization"] == "NONE"
    assert not methods["shop-get-health"].get("apiKeyRequired")
    for name in ("shop-get-items-id", "shop-post-items"):
        assert methods[name]["authorization"] == "AWS_IAM", name
        assert methods[name]["apiKeyRequired"] is True, name
    # Callers need an IAM grant (the invoke resources) AND a client's key under its plan.
    assert len(invoke_resources) == 2
    assert {plan.name for plan in run.of_type(USAGE_PLAN)} == {
        "shop-plan-mobile-app",
        "shop-plan-partner",
    }
    # Switching from apiKey to iam+apiKey changes what the stage serves: a new deployment.
    keys_only = _shop(run_components, authorization="apiKey", api_clients=CLIENTS)
    assert (
        keys_only.named("shop-deployment").inputs["triggers"]["routes"]
        != run.named("shop-deployment").inputs["triggers"]["routes"]
    )


def test_staging_outputs_key_ids_only(run_components: Callable[..., Run]) -> None:
    config = _staging_config()
    settings = settings_from_mapping(
        {key.split(":", 1)[1]: value for key, value in config.items() if key.startswith("resil")}
    )
    key_ids: dict[str, dict[str, str]] = {}
    invoke_resources: dict[str, list[str]] = {}

    def build() -> ActiveActiveService:
        service = ActiveActiveService(
            "tasks", ActiveActiveServiceArgs(settings=settings, hosted_zone_id="Z1")
        )
        for region, ids in service.api_key_ids.items():
            ids.apply(lambda value, region=region: key_ids.__setitem__(region, value))
        for region, resources in service.invoke_policy_resources.items():
            resources.apply(lambda value, region=region: invoke_resources.__setitem__(region, value))
        return service

    run = run_components(build)
    # Signatures are checked too: callers' IAM policies need these resources in each region.
    assert set(invoke_resources) == set(REGIONS_STAGING)
    assert all(len(resources) == 4 for resources in invoke_resources.values())
    assert set(key_ids) == set(REGIONS_STAGING)
    assert all(set(clients) == {"chaos-drills", "qa-team"} for clients in key_ids.values())
    # Each client's key per region; the Route53 probes' disabled secrets are no client's.
    keys = {key.name: key for key in run.of_type(API_KEY) if "-api-key-" in key.name}
    assert len(keys) == 4
    assert len(run.of_type(API_KEY)) == 4 + 2
    for region, clients in key_ids.items():
        for client, key_id in clients.items():
            # The key's id, not its value: `aws apigateway get-api-key --include-value` reads it.
            key = keys[f"tasks-{region}-api-key-{client}"]
            assert key_id == key.resource_id
            assert key_id != key.outputs.get("value")


def test_prod_signs_every_route_but_health_in_every_region(prod_run: Run) -> None:
    for region in ("us-east-1", "eu-west-1"):
        methods = {
            m.name.removeprefix(f"tasks-{region}-api-"): m.inputs
            for m in prod_run.of_type(METHOD)
            if m.region == region
        }
        assert methods["get-health"]["authorization"] == "NONE"
        assert methods["health-probe-method"]["authorization"] == "NONE"
        protected = {"post-tasks", "get-tasks-taskid", "post-bookings", "get-bookings-bookingid"}
        assert set(methods) == protected | {"get-health", "health-probe-method"}
        for name in protected:
            assert methods[name]["authorization"] == "AWS_IAM", (region, name)
    assert not prod_run.of_type(USAGE_PLAN)
    assert all(key.name.endswith("-health-probe-token") for key in prod_run.of_type(API_KEY))
    # Route53 probes each region's open probe route, below /health (test_health_probe.py).
    checks = prod_run.of_type("aws:route53/healthCheck:HealthCheck")
    assert checks and all(
        c.inputs["resourcePath"]["value"].startswith("/v1/health/") for c in checks
    )


# --- Certificates ----------------------------------------------------------------------------------


def test_one_validation_record_for_every_region(prod_run: Run) -> None:
    validation_records = [r for r in prod_run.of_type(RECORD) if "validation" in r.name]
    # Exactly one writer, which the stack owns: no per-region copy, none kept on delete.
    (record,) = validation_records
    assert not record.read and not record.retain_on_delete
    assert record.name == "tasks-certificate-validation"
    assert record.parent.endswith("ActiveActiveService::tasks")
    assert record.inputs["allowOverwrite"] is True and record.inputs["type"] == "CNAME"
    certificates = {c.region: c for c in prod_run.of_type(CERTIFICATE)}
    assert set(certificates) == {"us-east-1", "eu-west-1"}
    # Written from the table region's certificate (any region's gives the same CNAME).
    assert set(record.property_dependencies["name"]) == {certificates["us-east-1"].urn}
    for validation in prod_run.of_type(VALIDATION):
        assert validation.property_dependencies["validationRecordFqdns"] == [record.urn]
        assert validation.property_dependencies["certificateArn"] == [
            certificates[validation.region].urn
        ]


class _AliasMonitor(RecordingMonitor):
    """Also keeps the aliases each registration asks for (the recording leaves them out)."""

    aliases: dict[str, list[Any]] = {}

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        _AliasMonitor.aliases[response.urn] = [
            (alias.spec.name, alias.spec.parentUrn) for alias in request.aliases
        ]
        return response


def test_the_validation_record_carries_no_alias(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh stack looks as if one shared record had always been there: no alias to, and no
    retained copy of, a per-region record of an earlier version."""
    monkeypatch.setattr(harness, "RecordingMonitor", _AliasMonitor)
    prod_run = run_program(prod_config())
    (record,) = [r for r in prod_run.of_type(RECORD) if "validation" in r.name]
    assert _AliasMonitor.aliases[record.urn] == []
    assert not any(r.retain_on_delete for r in prod_run.of_type(RECORD))


class _DomainValidationMocks(OfflineMocks):
    """ACM's real behaviour, which the generic offline outputs do not have: the validation
    CNAME of a domain is the same in every region of an account."""

    def outputs_for(self, registration: Registration) -> tuple[str, dict[str, Any]]:
        resource_id, state = super().outputs_for(registration)
        if registration.type == CERTIFICATE and isinstance(
            state.get("domainValidationOptions"), list
        ):
            domain = registration.inputs["domainName"]
            token = hashlib.sha256(f"123456789012:{domain}".encode()).hexdigest()[:32]
            state["domainValidationOptions"] = [
                {
                    "domainName": domain,
                    "resourceRecordName": f"_{token}.{domain}.",
                    "resourceRecordType": "CNAME",
                    "resourceRecordValue": f"_{token[::-1]}.acm-validations.aws.",
                }
            ]
        return resource_id, state


def test_removing_any_region_leaves_the_validation_record_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(harness, "OfflineMocks", _DomainValidationMocks)

    def record_in(regions: list[str]) -> Registration:
        # The table stays in the first region left (removing the table region itself is
        # not a region removal: it replaces the table).
        table_region = {f"{NS}regions": regions, f"{NS}tableRegion": regions[0]}
        run = run_program(prod_config() | table_region)
        (record,) = [r for r in run.of_type(RECORD) if r.name == "tasks-certificate-validation"]
        return record

    three = record_in(["us-east-1", "eu-west-1", "ap-southeast-2"])
    for fewer in (["eu-west-1", "ap-southeast-2"], ["us-east-1", "ap-southeast-2"]):
        record = record_in(fewer)
        assert record.urn == three.urn, fewer
        assert record.inputs == three.inputs, fewer
        assert record.resource_id == three.resource_id, fewer
    assert UNKNOWN not in str(three.inputs)


def test_each_certificate_alarms_before_it_expires(prod_run: Run) -> None:
    topics = {t.region: t for t in prod_run.of_type("aws:sns/topic:Topic")}
    certificates = {c.region: c for c in prod_run.of_type(CERTIFICATE)}
    alarms = [a for a in prod_run.of_type(ALARM) if a.inputs["metricName"] == "DaysToExpiry"]
    assert {a.region for a in alarms} == {"us-east-1", "eu-west-1"} and len(alarms) == 2
    for alarm in alarms:
        inputs = alarm.inputs
        assert inputs["namespace"] == "AWS/CertificateManager"
        assert inputs["statistic"] == "Minimum" and inputs["period"] == 86_400
        assert inputs["comparisonOperator"] == "LessThanThreshold"
        assert inputs["threshold"] == thresholds.CERTIFICATE_EXPIRY_ALARM_DAYS
        assert inputs["treatMissingData"] == "ignore"
        assert alarm.property_dependencies["dimensions"] == [certificates[alarm.region].urn]
        assert alarm.property_dependencies["alarmActions"] == [topics[alarm.region].urn]


def test_a_certificate_brought_along_is_alarmed_on_too(run_components: Callable[..., Run]) -> None:
    arn = "arn:aws:acm:ap-northeast-1:1:certificate/x"
    run = _shop(run_components, certificate_arn=arn, alarm_action_arn="arn:aws:sns:x:1:t")
    (alarm,) = run.of_type(ALARM)
    assert alarm.inputs["region"] == "ap-northeast-1"
    assert alarm.inputs["dimensions"] == {"CertificateArn": arn}
    assert alarm.inputs["alarmActions"] == ["arn:aws:sns:x:1:t"]
    assert not run.of_type(RECORD) and not run.of_type(CERTIFICATE)


def test_a_standalone_api_validates_with_its_own_record(run_components: Callable[..., Run]) -> None:
    run = _shop(run_components)
    (record,) = run.of_type(RECORD)
    assert record.name == "shop-cert-validation" and not record.read
    (alarm,) = run.of_type(ALARM)
    assert alarm.property_dependencies["dimensions"] == [run.named("shop-cert").urn]
    assert alarm.inputs["alarmActions"] == []
