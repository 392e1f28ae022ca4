"""Each region's circuit-breaker table: regional by design, reachable only by the task
functions of that region, and wired into their environment with the stack's breaker settings."""

from __future__ import annotations

import json
from typing import Any

import pytest
from harness import Run
from program_runs import prod_config, run_program
from resilient_serverless import ConfigError, settings_from_mapping

REGIONS = ("us-east-1", "eu-west-1")
NS = "resilient-serverless:"


def _task_statements(run: Run, region: str, role: str) -> dict[str, dict[str, Any]]:
    fragment = {"api": f"tasks-{region}-api-", "worker": f"tasks-{region}-worker-consumer-"}[role]
    (policy,) = [
        p for p in run.of_type("aws:iam/rolePolicy:RolePolicy") if p.name.startswith(fragment)
    ]
    return {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}


def test_one_breaker_table_per_region_with_ttl_pitr_and_encryption(prod_run: Run) -> None:
    for region in REGIONS:
        table = prod_run.named(f"tasks-{region}-breakers")
        assert table.inputs["region"] == region
        assert table.inputs["hashKey"] == "breakerId"
        assert table.inputs["billingMode"] == "PAY_PER_REQUEST"
        assert table.inputs["ttl"] == {"attributeName": "expiresAt", "enabled": True}
        assert table.inputs["pointInTimeRecovery"] == {"enabled": True}
        assert table.inputs["serverSideEncryption"] == {"enabled": True}
        assert table.inputs["tags"]["resilience:single-region"] == "true"
        assert "replicas" not in table.inputs or not table.inputs["replicas"]


def test_task_functions_may_only_read_and_update_their_regions_breakers(prod_run: Run) -> None:
    for region in REGIONS:
        arn = prod_run.named(f"tasks-{region}-breakers").outputs["arn"]
        assert f":{region}:" in arn
        for role in ("api", "worker"):
            statement = _task_statements(prod_run, region, role)["CircuitBreakerState"]
            assert statement["Action"] == ["dynamodb:GetItem", "dynamodb:UpdateItem"]
            assert statement["Resource"] == [arn]


def test_functions_get_the_breaker_settings_and_the_worker_its_receive_count(
    prod_run: Run,
) -> None:
    functions = {
        f.inputs["handler"]: f.inputs["environment"]["variables"]
        for f in prod_run.of_type("aws:lambda/function:Function")
        if f.inputs["region"] == "eu-west-1"
    }
    breakers = prod_run.named("tasks-eu-west-1-breakers").outputs["name"]
    for handler in ("task_api.handler", "task_worker.handler"):
        env = functions[handler]
        assert env["BREAKER_TABLE_NAME"] == breakers
        assert env["BREAKER_FAILURE_THRESHOLD"] == "5"
        assert env["BREAKER_OPEN_SECONDS"] == "10"
        assert env["BREAKER_STORE_FAILURE"] == "memory"
    assert functions["task_worker.handler"]["MAX_RECEIVE_COUNT"] == "5"


def test_breaker_config_reaches_the_functions() -> None:
    run = run_program(
        prod_config()
        | {f"{NS}circuitBreakerFailureThreshold": "3", f"{NS}circuitBreakerStoreFailure": "deny"}
    )
    env = next(
        f.inputs["environment"]["variables"]
        for f in run.of_type("aws:lambda/function:Function")
        if f.inputs["handler"] == "task_api.handler"
    )
    assert env["BREAKER_FAILURE_THRESHOLD"] == "3"
    assert env["BREAKER_STORE_FAILURE"] == "deny"


@pytest.mark.parametrize(
    ("key", "value", "fix"),
    [
        ("circuitBreakerFailureThreshold", 0, "between 1 and 1000"),
        ("circuitBreakerOpenSeconds", 7200, "between 1 and 3600"),
        ("circuitBreakerStoreFailure", "ignore", "memory, allow, deny"),
    ],
)
def test_bad_breaker_settings_name_the_key_and_the_fix(key: str, value: Any, fix: str) -> None:
    raw = {
        "regions": ["us-east-1", "eu-west-1"],
        "domainName": "tasks.example.com",
        "hostedZoneName": "example.com",
        key: value,
    }
    with pytest.raises(ConfigError) as raised:
        settings_from_mapping(raw)
    [problem] = raised.value.problems
    assert problem.startswith(f"resilient-serverless:{key}:") and fix in problem


def test_fault_injection_is_absent_unless_the_stack_allows_it(prod_run: Run) -> None:
    assert prod_run.of_type("aws:ssm/parameter:Parameter") == []
    for function in prod_run.of_type("aws:lambda/function:Function"):
        assert "FAULT_INJECTION_ALLOWED" not in function.inputs["environment"]["variables"]


def test_allowed_fault_injection_reads_only_its_regions_parameter() -> None:
    run = run_program(prod_config() | {f"{NS}faultInjectionAllowed": "true"})
    for region in REGIONS:
        parameter = run.named(f"tasks-{region}-faults")
        assert parameter.inputs["region"] == region
        assert parameter.inputs["name"] == f"/tasks/{region}/fault-injection"
        value = parameter.inputs["value"]
        if isinstance(value, dict):  # pulumi-aws marks a parameter's value secret
            value = value["value"]
        assert json.loads(value) == {"enabled": False}
        for role in ("api", "worker"):
            statement = _task_statements(run, region, role)["ReadFaultInjection"]
            assert statement["Action"] == ["ssm:GetParameter"]
            assert statement["Resource"] == [parameter.outputs["arn"]]
        env = next(
            f.inputs["environment"]["variables"]
            for f in run.of_type("aws:lambda/function:Function")
            if f.inputs["region"] == region and f.inputs["handler"] == "task_api.handler"
        )
        assert env["FAULT_INJECTION_ALLOWED"] == "true"
        assert env["FAULT_INJECTION_PARAMETER"] == f"/tasks/{region}/fault-injection"
