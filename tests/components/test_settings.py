"""Stack config is validated before any resource exists, with one message per bad key."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
import yaml
from program_runs import REPO, prod_config, run_program
from resilient_serverless import ConfigError, ServiceSettings, settings_from_mapping
from resilient_serverless.settings import CONFIG_KEYS, CONFIG_NAMESPACE

NS = f"{CONFIG_NAMESPACE}:"


def raw_prod() -> dict[str, Any]:
    return {
        key.removeprefix(NS): value for key, value in prod_config().items() if key.startswith(NS)
    }


def problems_for(**changes: Any) -> list[str]:
    raw = raw_prod()
    for key, value in changes.items():
        if value is None:
            raw.pop(key, None)
        else:
            raw[key] = value
    with pytest.raises(ConfigError) as caught:
        settings_from_mapping(raw)
    return caught.value.problems


def test_prod_config_is_valid() -> None:
    settings = settings_from_mapping(raw_prod())
    assert settings.regions == ("us-east-1", "eu-west-1")
    assert settings.worker_timeout_seconds == 30
    assert settings.alarm_email == "oncall@example.com"


@pytest.mark.parametrize(
    ("changes", "key", "fix"),
    [
        ({"regions": ["us-east-1"]}, "regions", "at least 2 distinct regions"),
        ({"regions": ["us-east-1", "us-east-1"]}, "regions", "more than once"),
        ({"regions": ["us-east-1", "eu-west-9"]}, "regions", "eu-west-9 is not a known AWS"),
        ({"regions": None}, "regions", "required"),
        ({"regions": "not json ["}, "regions", "not a known AWS"),
        ({"apiTimeoutSeconds": 40}, "apiTimeoutSeconds", "set it to 28 or less"),
        ({"apiTimeoutSeconds": "ten"}, "apiTimeoutSeconds", "whole number"),
        ({"workerTimeoutSeconds": 0}, "workerTimeoutSeconds", "between 1 and 900"),
        ({"apiThrottleBurstLimit": 0}, "apiThrottleBurstLimit", "must be positive"),
        ({"apiThrottleRateLimit": -1}, "apiThrottleRateLimit", "must be positive"),
        ({"maxReceiveCount": 1}, "maxReceiveCount", "between 3 and 10"),
        ({"workerMaxConcurrency": 1}, "workerMaxConcurrency", "between 2 and 1000"),
        ({"healthCheckIntervalSeconds": 20}, "healthCheckIntervalSeconds", "one of (10, 30)"),
        ({"logRetentionDays": 31}, "logRetentionDays", "not a CloudWatch Logs retention"),
        ({"domainName": "api.other.org"}, "domainName", "inside the hosted zone"),
        ({"alarmEmail": "nobody"}, "alarmEmail", "not an e-mail"),
        ({"integrationTimeoutMs": 30000}, "integrationTimeoutMs", "quota increase"),
        (
            {"workerBatchSize": 50, "workerBatchingWindowSeconds": 0},
            "workerBatchingWindowSeconds",
            "at least 1 s",
        ),
        ({"lambdaArchitecture": "x86"}, "lambdaArchitecture", "arm64, x86_64"),
        ({"manageApiGatewayAccount": "yes"}, "manageApiGatewayAccount", "true or false"),
        ({"regionz": ["us-east-1"]}, "regionz", "did you mean regions?"),
    ],
)
def test_bad_value_names_key_and_fix(changes: dict[str, Any], key: str, fix: str) -> None:
    problems = problems_for(**changes)
    assert any(problem.startswith(f"{NS}{key}:") and fix in problem for problem in problems), (
        problems
    )


def test_all_problems_are_reported_at_once() -> None:
    problems = problems_for(regions=["us-east-1"], apiTimeoutSeconds=60, maxReceiveCount=50)
    keys = {problem.split(":")[1] for problem in problems}
    assert {"regions", "apiTimeoutSeconds", "maxReceiveCount"} <= keys


def test_third_region_is_one_line() -> None:
    raw = raw_prod()
    raw["regions"] = [*raw["regions"], "ap-southeast-2"]
    assert settings_from_mapping(raw).regions[-1] == "ap-southeast-2"


def test_zero_reserved_concurrency_means_none() -> None:
    raw = raw_prod() | {"apiReservedConcurrency": "0"}
    assert settings_from_mapping(raw).api_reserved_concurrency is None
    assert "positive" in problems_for(apiReservedConcurrency=-2)[0]


def test_program_fails_before_creating_anything() -> None:
    config = prod_config() | {f"{NS}regions": ["us-east-1"]}
    with pytest.raises(ConfigError, match="regions"):
        run_program(config)


def test_pulumi_yaml_declares_every_key_with_the_code_defaults() -> None:
    """The CLI applies Pulumi.yaml's defaults; they must say what the code says."""
    declared = yaml.safe_load((REPO / "Pulumi.yaml").read_text())["config"]
    assert set(declared) == set(CONFIG_KEYS)
    fields = {field.name: field for field in dataclasses.fields(ServiceSettings)}
    from resilient_serverless.settings import _KEYS

    for key in _KEYS:
        spec = declared[key.name]
        assert spec["description"], key.name
        if key.required:
            assert "default" not in spec, key.name
            continue
        code_default = fields[key.field].default
        file_default = spec["default"]
        if code_default is None:  # "none" is spelled 0 or "" in the config file
            assert file_default in (0, ""), key.name
        elif isinstance(code_default, tuple):  # lists in the file, tuples in the settings
            assert file_default == list(code_default), key.name
        else:
            assert file_default == code_default, key.name


def test_prod_stack_file_sets_only_known_keys() -> None:
    keys = {key.removeprefix(NS) for key in prod_config() if key.startswith(NS)}
    assert keys <= set(CONFIG_KEYS)


def test_runtime_is_configurable_and_checked() -> None:
    assert (
        settings_from_mapping(raw_prod() | {"lambdaRuntime": "python3.13"}).lambda_runtime
        == "python3.13"
    )
    (problem,) = problems_for(lambdaRuntime="nodejs22.x")
    assert problem.startswith(f"{NS}lambdaRuntime: 'nodejs22.x' must be one of python3.11")


@pytest.mark.parametrize("runtime", ["python3.9", "python3.10"])
def test_runtimes_older_than_the_handlers_need_are_refused(runtime: str) -> None:
    """A Powertools layer exists for these, but the handlers use StrEnum and datetime.UTC."""
    (problem,) = problems_for(lambdaRuntime=runtime)
    assert problem.startswith(f"{NS}lambdaRuntime: '{runtime}' must be one of python3.11, ")
    assert "they need Python 3.11 or newer" in problem


@pytest.mark.parametrize(
    ("changes", "key", "fix"),
    [
        ({"apiAuthorization": "cognito"}, "apiAuthorization", "must be one of iam, apiKey"),
        ({"apiAuthorization": "apiKey"}, "apiClients", "needs at least one client"),
        (
            {"apiAuthorization": "iam+apiKey"},
            "apiClients",
            "apiAuthorization iam+apiKey needs at least one client",
        ),
        (
            {
                "apiAuthorization": "iam+apiKey",
                "apiClients": [
                    {"name": "app", "rateLimit": 1, "burstLimit": 1, "sharedAcrossRegions": "yes"}
                ],
            },
            "apiClients",
            "entry 0: sharedAcrossRegions must be true or false",
        ),
        (
            {"apiClients": [{"name": "app", "rateLimit": 1, "burstLimit": 1}]},
            "apiClients",
            "only with `apiAuthorization: apiKey`",
        ),
        (
            {
                "apiAuthorization": "apiKey",
                "apiClients": [{"name": "app", "rateLimit": 1, "burstLimit": 1, "quota": 5}],
            },
            "apiClients",
            "unknown field(s) quota",
        ),
        (
            {"apiAuthorization": "apiKey", "apiClients": [{"name": "app", "rateLimit": 1}]},
            "apiClients",
            "entry 0 needs burstLimit",
        ),
        (
            {
                "apiAuthorization": "apiKey",
                "apiClients": [{"name": "App!", "rateLimit": 0, "burstLimit": 1}],
            },
            "apiClients[0].name",
            "lowercase letters",
        ),
        (
            {
                "apiAuthorization": "apiKey",
                "apiClients": [{"name": "app", "rateLimit": 0, "burstLimit": 1}],
            },
            "apiClients[0].rateLimit",
            "must be positive",
        ),
        (
            {
                "apiAuthorization": "apiKey",
                "apiClients": [
                    {"name": "app", "rateLimit": 1, "burstLimit": 1},
                    {"name": "app", "rateLimit": 2, "burstLimit": 2},
                ],
            },
            "apiClients",
            "listed twice",
        ),
        ({"dnsRecordType": "aaaa"}, "dnsRecordType", "must be one of alias, cname"),
        ({"dnsTtlSeconds": 1}, "dnsTtlSeconds", "between 10 and 3600"),
        ({"retiringRegions": ["ap-south-1"]}, "retiringRegions", "is not in regions"),
        ({"retiringRegions": ["us-east-1"]}, "retiringRegions", "holds the table itself"),
        ({"retiringRegions": ["eu-west-1"]}, "retiringRegions", "add the new region"),
        ({"powertoolsVersion": "2.43.1"}, "powertoolsVersion", "or `latest`"),
        ({"powertoolsLayerVersion": -3}, "powertoolsLayerVersion", "or 0 to resolve"),
    ],
)
def test_access_dns_region_and_layer_keys_name_key_and_fix(
    changes: dict[str, Any], key: str, fix: str
) -> None:
    problems = problems_for(**changes)
    assert any(problem.startswith(f"{NS}{key}:") and fix in problem for problem in problems), (
        problems
    )


def test_api_clients_are_read_from_yaml_objects_and_json_text() -> None:
    clients = [{"name": "mobile-app", "rateLimit": 20, "burstLimit": 40, "quotaPerDay": 100000}]
    for given in (clients, json.dumps(clients)):
        settings = settings_from_mapping(
            raw_prod() | {"apiAuthorization": "apiKey", "apiClients": given}
        )
        (client,) = settings.api_clients
        assert (client.name, client.rate_limit, client.burst_limit, client.quota_per_day) == (
            "mobile-app",
            20.0,
            40,
            100000,
        )


def test_iam_plus_api_key_reads_clients_and_their_sharing() -> None:
    clients = [
        {"name": "mobile-app", "rateLimit": 20, "burstLimit": 40},
        {"name": "kiosk", "rateLimit": 1, "burstLimit": 2, "sharedAcrossRegions": True},
        {"name": "batch", "rateLimit": 1, "burstLimit": 2, "sharedAcrossRegions": "false"},
    ]
    settings = settings_from_mapping(
        raw_prod() | {"apiAuthorization": "iam+apiKey", "apiClients": clients}
    )
    assert settings.api_authorization == "iam+apiKey"
    # A value of its own in each region unless the entry asks for one shared value.
    assert {client.name: client.shared_across_regions for client in settings.api_clients} == {
        "mobile-app": False,
        "kiosk": True,
        "batch": False,
    }


def test_a_retiring_region_stops_serving_but_stays_listed() -> None:
    settings = settings_from_mapping(
        raw_prod()
        | {"regions": ["us-east-1", "eu-west-1", "ap-southeast-2"], "retiringRegions": ["eu-west-1"]}
    )
    assert settings.regions == ("us-east-1", "eu-west-1", "ap-southeast-2")
    assert settings.serving_regions == ("us-east-1", "ap-southeast-2")


def test_powertools_layer_is_resolved_through_ssm_unless_pinned() -> None:
    assert settings_from_mapping(raw_prod()).powertools_layer_version is None
    pinned = settings_from_mapping(raw_prod() | {"powertoolsLayerVersion": 38})
    assert pinned.powertools_layer_version == 38


def test_tested_powertools_release_is_the_default_layer_release() -> None:
    """The handlers' tests run against the constraints.txt pin; the layer must carry the same."""
    from resilient_serverless.powertools import POWERTOOLS_VERSION

    pins = dict(
        line.split("==", 1)
        for line in (REPO / "constraints.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    assert pins["aws-lambda-powertools"].strip() == POWERTOOLS_VERSION
    assert settings_from_mapping(raw_prod()).powertools_version == POWERTOOLS_VERSION


def test_staging_stack_differs_where_a_user_expects() -> None:
    def settings_of(stack: str) -> ServiceSettings:
        config = yaml.safe_load((REPO / f"Pulumi.{stack}.yaml").read_text())["config"]
        return settings_from_mapping(
            {key.removeprefix(NS): value for key, value in config.items() if key.startswith(NS)}
        )

    prod, staging = settings_of("prod"), settings_of("staging")
    assert staging.domain_name != prod.domain_name
    assert not set(staging.regions) & set(prod.regions)
    assert staging.api_throttle_rate_limit < prod.api_throttle_rate_limit
    assert staging.worker_max_concurrency < prod.worker_max_concurrency
    assert staging.fault_injection_allowed and not prod.fault_injection_allowed
    # Staging: a signature AND a client's key; prod: signatures.
    assert (staging.api_authorization, prod.api_authorization) == ("iam+apiKey", "iam")
    assert [client.name for client in staging.api_clients] == ["chaos-drills", "qa-team"]
