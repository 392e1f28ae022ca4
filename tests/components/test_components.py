"""Each component on its own, as another project would use it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pulumi
import pytest
from harness import Run
from resilient_serverless import (
    Function,
    FunctionArgs,
    GlobalTable,
    GlobalTableArgs,
    LatencyRouting,
    LatencyRoutingArgs,
    PolicyStatement,
    QueueWorker,
    QueueWorkerArgs,
    RegionalApi,
    RegionalApiArgs,
    RegionalEndpoint,
    Route,
    code_archive,
    powertools_layer_arn,
    task_app_archive,
)
from resilient_serverless.task_app import API_HANDLER, WORKER_HANDLER, task_app_code_dir

from resilience_policies import thresholds

CODE = pulumi.AssetArchive(
    {"app.py": pulumi.StringAsset("def handler(event, context):\n    return event\n")}
)


def consumer(timeout_s: int = 60, **changes: object) -> FunctionArgs:
    return FunctionArgs(handler="app.handler", code=CODE, timeout_s=timeout_s, **changes)


def test_queue_worker_derives_visibility_from_its_consumer(
    run_components: Callable[..., Run],
) -> None:
    run = run_components(
        lambda: QueueWorker(
            "orders",
            QueueWorkerArgs(
                consumer=consumer(timeout_s=60), batching_window_s=20, max_receive_count=4
            ),
            region="eu-central-1",
        )
    )
    queue = run.named("orders-queue")
    assert queue.inputs["visibilityTimeoutSeconds"] == 6 * 60 + 20
    assert queue.inputs["region"] == "eu-central-1"
    redrive = json.loads(run.named("orders-redrive").inputs["redrivePolicy"])
    assert redrive["maxReceiveCount"] == 4
    allow = json.loads(run.named("orders-redrive-allow").inputs["redriveAllowPolicy"])
    assert allow["redrivePermission"] == "byQueue" and len(allow["sourceQueueArns"]) == 1
    mapping = run.named("orders-mapping")
    assert mapping.inputs["maximumBatchingWindowInSeconds"] == 20
    assert mapping.inputs["functionResponseTypes"] == ["ReportBatchItemFailures"]
    # The mapping waits for the role's queue permissions (Lambda checks them on create).
    assert run.named("orders-consumer-policy").urn in mapping.dependencies
    alarms = run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    assert {a.inputs["metricName"] for a in alarms} == {
        "ApproximateNumberOfMessagesVisible",
        "ApproximateAgeOfOldestMessage",
    }
    dlq_alarm = run.named("orders-dlq-depth")
    assert dlq_alarm.property_dependencies["dimensions"] == [run.named("orders-dlq").urn]
    assert dlq_alarm.inputs["threshold"] == thresholds.DLQ_DEPTH_ALARM_THRESHOLD


def test_queue_worker_grants_the_consumer_only_its_queue(
    run_components: Callable[..., Run],
) -> None:
    run = run_components(
        lambda: QueueWorker("jobs", QueueWorkerArgs(consumer=consumer()), region="us-west-2")
    )
    statements = json.loads(run.named("jobs-consumer-policy").inputs["policy"])["Statement"]
    consume = next(s for s in statements if s["Sid"] == "ConsumeWorkQueue")
    queue_arn = run.named("jobs-queue").outputs["arn"]
    assert queue_arn.startswith("arn:aws:sqs:us-west-2:")
    assert consume["Resource"] == [queue_arn]
    assert "sqs:SendMessage" not in consume["Action"]


def test_two_instances_never_collide(run_components: Callable[..., Run]) -> None:
    def build() -> None:
        QueueWorker("a", QueueWorkerArgs(consumer=consumer()), region="us-east-1")
        QueueWorker("b", QueueWorkerArgs(consumer=consumer()), region="us-east-1")

    run = run_components(build)
    names = [r.name for r in run.resources]
    assert len(names) == len(set(names))
    assert all(name.startswith(("a", "b")) for name in names)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (lambda: QueueWorkerArgs(consumer=consumer(), max_receive_count=1), "max_receive_count"),
        (lambda: QueueWorkerArgs(consumer=consumer(), max_concurrency=1), "max_concurrency"),
        (
            lambda: QueueWorkerArgs(consumer=consumer(), batch_size=100),
            "batching window of at least 1 s",
        ),
        (lambda: QueueWorkerArgs(consumer=consumer(), visibility_ratio=2), "visibility_ratio"),
        (
            lambda: QueueWorkerArgs(
                consumer=consumer(), message_retention_s=thresholds.DLQ_RETENTION_S
            ),
            "message_retention_s",
        ),
        (lambda: QueueWorkerArgs(consumer=consumer(timeout_s=901)), "FunctionArgs.timeout_s"),
        (
            lambda: QueueWorkerArgs(consumer=consumer(timeout_s=900), visibility_ratio=60),
            "above SQS's 43200 s",
        ),
        (lambda: QueueWorkerArgs(consumer=consumer(log_retention_days=10)), "log_retention_days"),
        (
            lambda: QueueWorkerArgs(consumer=FunctionArgs(handler="nodot", code=CODE)),
            "FunctionArgs.handler",
        ),
    ],
)
def test_queue_worker_refuses_bad_args(args: Callable[[], QueueWorkerArgs], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        args().validate()


@pytest.mark.parametrize("action", ["*", "sqs:*", "dynamodb:*"])
def test_wildcard_actions_are_refused(action: str) -> None:
    with pytest.raises(ValueError, match="grants every action"):
        PolicyStatement(actions=[action], resources=["arn:aws:sqs:us-east-1:1:q"])


def test_statement_needs_resources() -> None:
    with pytest.raises(ValueError, match="resources"):
        PolicyStatement(actions=["sqs:SendMessage"], resources=[])


def _api(run_components: Callable[..., Run], timeout_s: int, **changes: object) -> Run:
    def build() -> None:
        handler = Function("fn", consumer(timeout_s=timeout_s), region="ap-northeast-1")
        RegionalApi(
            "shop",
            RegionalApiArgs(
                handler=handler.target(),
                routes=[Route("GET", "health"), Route("GET", "items/{id}"), Route("POST", "items")],
                domain_name="shop.example.com",
                zone_id="Z1",
                **changes,
            ),
            region="ap-northeast-1",
        )

    return run_components(build)


def test_regional_api_shape(run_components: Callable[..., Run]) -> None:
    run = _api(run_components, timeout_s=20, throttle_burst_limit=50, throttle_rate_limit=25.0)
    resources = run.of_type("aws:apigateway/resource:Resource")
    paths = sorted(r.inputs["pathPart"] for r in resources if isinstance(r.inputs["pathPart"], str))
    assert paths == ["health", "items", "{id}"]  # "items" is shared by two routes
    # The fourth resource is Route53's probe, below health, with a secret segment.
    assert run.named("shop-health-probe-path").inputs["parentId"] == run.named(
        "shop-path-health"
    ).resource_id
    assert len(resources) == 4
    assert len(run.of_type("aws:apigateway/integration:Integration")) == 3 + 1
    settings = run.named("shop-throttling").inputs["settings"]
    assert settings["throttlingBurstLimit"] == 50 and settings["throttlingRateLimit"] == 25
    domain = run.named("shop-domain").inputs
    assert domain["endpointConfiguration"] == {"types": "REGIONAL"}
    assert domain["securityPolicy"] == "TLS_1_2"
    cert = run.named("shop-cert").inputs
    assert cert["region"] == "ap-northeast-1" and cert["validationMethod"] == "DNS"
    validation = run.named("shop-cert-validation")
    assert "region" not in validation.inputs and validation.inputs["allowOverwrite"] is True
    permission = run.named("shop-invoke").inputs
    assert permission["sourceArn"].endswith("/*/*")
    deployment = run.named("shop-deployment")
    assert {r.urn for r in run.of_type("aws:apigateway/integration:Integration")} <= set(
        deployment.dependencies
    )
    # A replaced function (a new invoke ARN) redeploys the stage.
    functions = {r.urn for r in run.of_type("aws:lambda/function:Function")}
    assert set(deployment.property_dependencies["triggers"]) & functions
    # The probe route's secret too: a new secret must reach the stage (test_health_probe.py).
    assert set(deployment.inputs["triggers"]) == {"routes", "integrations", "healthProbe"}
    # No account-level logging role asked for: no account setting is touched.
    assert not run.of_type("aws:apigateway/account:Account")


def test_regional_api_can_manage_the_logging_role(run_components: Callable[..., Run]) -> None:
    run = _api(run_components, timeout_s=20, cloudwatch_role_arn="arn:aws:iam::1:role/apigw")
    (account,) = run.of_type("aws:apigateway/account:Account")
    assert account.inputs["region"] == "ap-northeast-1"
    assert account.urn in run.named("shop-stage").dependencies
    # API Gateway's execution-log group is the stack's, with a retention, before logging starts.
    groups = [r for r in run.of_type("aws:cloudwatch/logGroup:LogGroup") if "execution" in r.name]
    (execution_logs,) = groups
    assert execution_logs.inputs["retentionInDays"] == 30
    assert execution_logs.inputs["region"] == "ap-northeast-1"
    assert "name" in execution_logs.property_dependencies, "named after the REST API's id"
    assert execution_logs.urn in run.named("shop-throttling").dependencies
    # Deleting the account setting would reset the logging role of every API in the region.
    assert account.retain_on_delete
    assert not run.named("shop-stage").retain_on_delete


def test_regional_api_with_own_certificate_issues_none(run_components: Callable[..., Run]) -> None:
    run = _api(
        run_components, timeout_s=20, certificate_arn="arn:aws:acm:ap-northeast-1:1:certificate/x"
    )
    assert not run.of_type("aws:acm/certificate:Certificate")
    assert run.named("shop-domain").inputs["regionalCertificateArn"].endswith("certificate/x")


def test_function_outliving_the_integration_is_refused(run_components: Callable[..., Run]) -> None:
    with pytest.raises(ValueError, match=r"at most 28 so it fails first"):
        _api(run_components, timeout_s=40)


def test_api_needs_its_health_route() -> None:
    with pytest.raises(ValueError, match="health_path"):
        RegionalApiArgs(
            handler=None,
            routes=[Route("GET", "items")],
            domain_name="x.example.com",
            zone_id="Z",
        ).validate()


@pytest.mark.parametrize("path", ["/items", "items/", "a//b"])
def test_route_paths_are_checked(path: str) -> None:
    with pytest.raises(ValueError, match=r"Route\.path"):
        Route("GET", path)


def test_global_table_replicas_and_scoped_arn(run_components: Callable[..., Run]) -> None:
    arns: dict[str, str] = {}

    def build() -> None:
        table = GlobalTable(
            "orders",
            GlobalTableArgs(regions=["eu-west-1", "eu-central-1", "us-east-1"], range_key="sk"),
        )
        for region in table.regions:
            table.arn_in(region).apply(lambda arn, region=region: arns.__setitem__(region, arn))
        with pytest.raises(ValueError, match="no replica"):
            table.arn_in("sa-east-1")

    run = run_components(build)
    (table,) = run.of_type("aws:dynamodb/table:Table")
    assert table.inputs["region"] == "eu-west-1"
    assert [r["regionName"] for r in table.inputs["replicas"]] == ["eu-central-1", "us-east-1"]
    assert {a["name"] for a in table.inputs["attributes"]} == {"pk", "sk"}
    table_name = table.outputs["name"]
    for region in ("eu-west-1", "eu-central-1", "us-east-1"):
        assert arns[region] == f"arn:aws:dynamodb:{region}:123456789012:table/{table_name}"


def test_global_table_refuses_repeated_regions() -> None:
    with pytest.raises(ValueError, match="twice"):
        GlobalTableArgs(regions=["us-east-1", "us-east-1"]).validate()


def test_latency_routing(run_components: Callable[..., Run]) -> None:
    endpoints = [
        RegionalEndpoint(region, f"d-{region}.example", "Z2", f"api.{region}.example", "/v1/health")
        for region in ("us-east-1", "eu-west-1")
    ]
    run = run_components(
        lambda: LatencyRouting(
            "www",
            LatencyRoutingArgs(
                zone_id="Z1",
                record_name="www.example.com",
                endpoints=endpoints,
                health_check_interval_s=10,
                health_check_failure_threshold=2,
            ),
        )
    )
    for region in ("us-east-1", "eu-west-1"):
        check = run.named(f"www-{region}-health")
        record = run.named(f"www-{region}-latency")
        assert check.inputs["requestInterval"] == 10 and check.inputs["failureThreshold"] == 2
        assert check.inputs["fqdn"] == f"api.{region}.example"
        assert record.property_dependencies["healthCheckId"] == [check.urn]
        assert record.inputs["setIdentifier"] == region


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"health_check_interval_s": 20}, "request intervals"),
        ({"health_check_failure_threshold": 0}, "failure_threshold"),
        ({"checker_regions": ["us-east-1"]}, "at least 3"),
    ],
)
def test_latency_routing_refuses_bad_args(changes: dict[str, object], message: str) -> None:
    endpoint = RegionalEndpoint("us-east-1", "a", "b", "c", "/health")
    args = LatencyRoutingArgs(
        zone_id="Z", record_name="x.example.com", endpoints=[endpoint], **changes
    )
    with pytest.raises(ValueError, match=message):
        args.validate()


def test_failover_estimate() -> None:
    endpoint = RegionalEndpoint("us-east-1", "a", "b", "c", "/health")
    args = LatencyRoutingArgs(zone_id="Z", record_name="x.example.com", endpoints=[endpoint])
    assert args.estimated_failover_s == 30 * 3 + thresholds.ALIAS_RECORD_TTL_S


def test_powertools_layer_arn() -> None:
    assert (
        powertools_layer_arn("eu-west-1", "python3.13", "x86_64", 27)
        == "arn:aws:lambda:eu-west-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-x86_64:27"
    )
    with pytest.raises(ValueError, match="architecture"):
        powertools_layer_arn("eu-west-1", "python3.13", "i386", 27)
    with pytest.raises(ValueError, match="runtime"):
        powertools_layer_arn("eu-west-1", "nodejs22.x", "arm64", 27)


def test_task_app_archive_holds_only_handler_modules() -> None:
    archive = task_app_archive()
    names = set(archive.assets)
    assert names, "the archive is empty"
    assert all(name.endswith(".py") and "/" not in name for name in names)
    assert {f"{API_HANDLER.split('.')[0]}.py", f"{WORKER_HANDLER.split('.')[0]}.py"} <= names
    assert names == {p.name for p in task_app_code_dir().glob("*.py")}


def test_code_archive_refuses_an_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no Python modules"):
        code_archive(tmp_path)
