"""The whole program with the prod config, under mocks: the resource graph per region."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from harness import UNKNOWN, Registration, Run
from program_runs import prod_config, run_program

from resilience_policies import thresholds

NS = "resilient-serverless:"
#: Types that exist once per serving region, and how many of each.
PER_REGION = {
    "aws:apigateway/restApi:RestApi": 1,
    "aws:apigateway/stage:Stage": 1,
    # the stage-wide `*/*` limits and the Route53 probe route's own
    "aws:apigateway/methodSettings:MethodSettings": 2,
    # POST /tasks, GET /tasks/{taskId}, GET /health; POST /bookings, GET /bookings/{bookingId};
    # GET /health/<secret>, Route53's probe
    "aws:apigateway/integration:Integration": 6,
    "aws:apigateway/method:Method": 6,
    # the probe route's generated secret (a disabled key)
    "aws:apigateway/apiKey:ApiKey": 1,
    "aws:apigateway/domainName:DomainName": 1,
    "aws:apigateway/basePathMapping:BasePathMapping": 1,
    "aws:acm/certificate:Certificate": 1,
    # task API, task worker, bookings API, booking-events consumer
    "aws:lambda/function:Function": 4,
    "aws:lambda/permission:Permission": 2,
    # the work queue (SQS) and the booking-events stream (Kinesis)
    "aws:lambda/eventSourceMapping:EventSourceMapping": 2,
    # work queue, its DLQ, the stream consumer's on-failure queue
    "aws:sqs/queue:Queue": 3,
    "aws:sqs/redrivePolicy:RedrivePolicy": 1,
    # DLQ depth, oldest message, on-failure queue depth, iterator age, certificate expiry,
    # a saga compensation that gave up (counted by the one metric filter, on its execution log)
    "aws:cloudwatch/metricAlarm:MetricAlarm": 6,
    "aws:cloudwatch/logMetricFilter:LogMetricFilter": 1,
    "aws:sns/topic:Topic": 1,
    "aws:sfn/stateMachine:StateMachine": 1,
    "aws:kinesis/stream:Stream": 1,
}
GLOBAL_TYPES = ("aws:iam/", "aws:route53/")


def regional(run: Run) -> list[Registration]:
    return [r for r in run.resources if r.custom and not r.type.startswith(GLOBAL_TYPES)]


def in_region(run: Run, typ: str, region: str) -> list[Registration]:
    return [r for r in run.of_type(typ) if r.region == region]


@pytest.mark.parametrize("mode", ["update", "preview"])
def test_every_regional_resource_names_its_region(
    mode: str, prod_run: Run, prod_preview: Run
) -> None:
    run = prod_run if mode == "update" else prod_preview
    regions = {"us-east-1", "eu-west-1"}
    assert regional(run)
    for resource in regional(run):
        assert resource.inputs.get("region") in regions, resource.urn
    for resource in run.resources:
        if resource.type.startswith(GLOBAL_TYPES):
            assert "region" not in resource.inputs, resource.urn


def test_per_region_graph(prod_run: Run) -> None:
    for region in ("us-east-1", "eu-west-1"):
        for typ, count in PER_REGION.items():
            assert len(in_region(prod_run, typ, region)) == count, (region, typ)
        api = in_region(prod_run, "aws:apigateway/restApi:RestApi", region)[0]
        assert api.inputs["endpointConfiguration"] == {"types": "REGIONAL"}
        (settings,) = [
            s
            for s in in_region(prod_run, "aws:apigateway/methodSettings:MethodSettings", region)
            if s.inputs["methodPath"] == "*/*"
        ]
        assert settings.inputs["settings"]["throttlingBurstLimit"] == 200
        assert settings.inputs["settings"]["throttlingRateLimit"] == 100
        stage = in_region(prod_run, "aws:apigateway/stage:Stage", region)[0]
        assert stage.inputs["xrayTracingEnabled"] is True
        assert "destinationArn" in stage.inputs["accessLogSettings"]
        # The worker's mapping, by name: the stream consumer's registers concurrently with it.
        (mapping,) = [
            m
            for m in in_region(prod_run, "aws:lambda/eventSourceMapping:EventSourceMapping", region)
            if m.name.endswith("-worker-mapping")
        ]
        assert mapping.inputs["functionResponseTypes"] == ["ReportBatchItemFailures"]
        assert mapping.inputs["scalingConfig"]["maximumConcurrency"] == 10


def test_visibility_timeout_is_derived(prod_run: Run) -> None:
    settings = prod_config()
    worker_timeout = int(settings[f"{NS}workerTimeoutSeconds"])
    window = int(settings[f"{NS}workerBatchingWindowSeconds"])
    expected = thresholds.VISIBILITY_TIMEOUT_RATIO * worker_timeout + window
    for region in ("us-east-1", "eu-west-1"):
        queues = in_region(prod_run, "aws:sqs/queue:Queue", region)
        work = next(q for q in queues if q.name.endswith("-queue"))
        dlq = next(q for q in queues if q.name.endswith("-dlq"))
        assert work.inputs["visibilityTimeoutSeconds"] == expected == 181
        assert dlq.inputs["messageRetentionSeconds"] == thresholds.DLQ_RETENTION_S
        assert work.inputs["messageRetentionSeconds"] < dlq.inputs["messageRetentionSeconds"]
        assert (
            work.inputs["sqsManagedSseEnabled"] is True
            and dlq.inputs["sqsManagedSseEnabled"] is True
        )


def test_redrive_links_queue_to_its_dlq(prod_run: Run, prod_preview: Run) -> None:
    for redrive in prod_run.of_type("aws:sqs/redrivePolicy:RedrivePolicy"):
        policy = json.loads(redrive.inputs["redrivePolicy"])
        assert policy["maxReceiveCount"] == 5
        dlq = prod_run.named(redrive.name.replace("-redrive", "-dlq"))
        assert policy["deadLetterTargetArn"] == dlq.outputs["arn"]
    # At preview the JSON is unknown, but the links are there for the policy pack.
    for redrive in prod_preview.of_type("aws:sqs/redrivePolicy:RedrivePolicy"):
        assert redrive.inputs["redrivePolicy"] == UNKNOWN
        assert redrive.property_dependencies["redrivePolicy"][0].endswith("-dlq")
        assert redrive.property_dependencies["queueUrl"][0].endswith("-queue")


def test_one_global_table_with_every_other_region_as_replica(prod_run: Run) -> None:
    # The other tables are regional by design, and say so with the pack's opt-out tag.
    tables = [
        t
        for t in prod_run.of_type("aws:dynamodb/table:Table")
        if "resilience:single-region" not in (t.inputs.get("tags") or {})
    ]
    assert len(tables) == 1
    table = tables[0].inputs
    assert table["region"] == "us-east-1"
    assert [replica["regionName"] for replica in table["replicas"]] == ["eu-west-1"]
    assert all(replica["pointInTimeRecovery"] is True for replica in table["replicas"])
    assert table["billingMode"] == "PAY_PER_REQUEST"
    assert table["streamEnabled"] is True and table["streamViewType"] == "NEW_AND_OLD_IMAGES"
    assert table["pointInTimeRecovery"] == {"enabled": True}
    assert table["deletionProtectionEnabled"] is True
    assert table["ttl"] == {"attributeName": "expiresAt", "enabled": True}
    assert table["hashKey"] == "taskId"


def test_health_check_and_latency_record_per_region(prod_run: Run) -> None:
    checks = prod_run.of_type("aws:route53/healthCheck:HealthCheck")
    latency = [
        r for r in prod_run.of_type("aws:route53/record:Record") if "setIdentifier" in r.inputs
    ]
    assert len(checks) == len(latency) == 2
    for check in checks:
        assert check.inputs["type"] == "HTTPS"
        # The probe route below the public /health: its last segment is a secret.
        assert check.inputs["resourcePath"]["value"].startswith("/v1/health/")
        # Pulumi.prod.yaml: 10 s checks, 3 failures, CNAME records with a 30 s TTL.
        assert check.inputs["requestInterval"] == 10 and check.inputs["failureThreshold"] == 3
        assert check.inputs["fqdn"].endswith(".amazonaws.com")
    by_region = {record.inputs["setIdentifier"]: record for record in latency}
    assert set(by_region) == {"us-east-1", "eu-west-1"}
    domains = {
        d.inputs["region"]: d for d in prod_run.of_type("aws:apigateway/domainName:DomainName")
    }
    for region, record in by_region.items():
        assert record.inputs["latencyRoutingPolicies"] == [{"region": region}]
        assert record.inputs["name"] == "tasks.example.com"
        assert record.inputs["healthCheckId"]
        assert record.inputs["type"] == "CNAME" and record.inputs["ttl"] == 30
        assert "aliases" not in record.inputs
        # The CNAME points at the region's API custom domain, as the alias did.
        assert record.inputs["records"] == [domains[region].outputs["regionalDomainName"]]
        assert region in record.inputs["records"][0]


def test_api_function_times_out_before_the_integration(prod_run: Run) -> None:
    for region in ("us-east-1", "eu-west-1"):
        integrations = in_region(prod_run, "aws:apigateway/integration:Integration", region)
        functions = {f.urn: f for f in in_region(prod_run, "aws:lambda/function:Function", region)}
        for integration in integrations:
            assert integration.inputs["type"] == "AWS_PROXY"
            (function_urn,) = integration.property_dependencies["uri"]
            timeout_ms = functions[function_urn].inputs["timeout"] * 1000
            assert (
                timeout_ms + thresholds.API_FUNCTION_TIMEOUT_MARGIN_MS
                <= integration.inputs["timeoutMilliseconds"]
            )


def _statements(run: Run, role_fragment: str, region: str) -> list[dict[str, Any]]:
    (policy,) = [
        p
        for p in run.of_type("aws:iam/rolePolicy:RolePolicy")
        if role_fragment in p.name and region in p.name
    ]
    return list(json.loads(policy.inputs["policy"])["Statement"])


def test_iam_is_scoped_to_the_regions_table_and_queue(prod_run: Run) -> None:
    table_name = prod_run.named("tasks-tasks-table").outputs["name"]
    for region in ("us-east-1", "eu-west-1"):
        table_arn = f"arn:aws:dynamodb:{region}:123456789012:table/{table_name}"
        queue_arn = prod_run.named(f"tasks-{region}-worker-queue").outputs["arn"]
        assert queue_arn.startswith(f"arn:aws:sqs:{region}:")
        api = {s["Sid"]: s for s in _statements(prod_run, f"{region}-api-policy", region)}
        worker = {s["Sid"]: s for s in _statements(prod_run, "-worker-consumer-policy", region)}
        assert api["SubmitAndReadTasks"]["Resource"] == [table_arn]
        assert api["EnqueueTasks"]["Resource"] == [queue_arn]
        assert api["EnqueueTasks"]["Action"] == ["sqs:GetQueueAttributes", "sqs:SendMessage"]
        assert worker["RecordResults"]["Resource"] == [table_arn]
        assert worker["ConsumeWorkQueue"]["Resource"] == [queue_arn]
        for statement in [*api.values(), *worker.values()]:
            for action in statement["Action"]:
                assert action != "*" and not action.endswith(":*"), action
            if statement["Sid"] != "Tracing":
                assert "*" not in statement["Resource"]


def test_functions_use_powertools_layer_tracing_and_their_own_log_group(prod_run: Run) -> None:
    functions = prod_run.of_type("aws:lambda/function:Function")
    assert {f.inputs["handler"] for f in functions} == {
        "task_api.handler",
        "task_worker.handler",
        "saga_api.handler",
        "stream_consumer.handler",
    }
    needs = {
        "task_api.handler": {"TABLE_NAME", "TASK_TTL_SECONDS"},
        "task_worker.handler": {"TABLE_NAME", "TASK_TTL_SECONDS"},
        "saga_api.handler": {"STATE_MACHINE_ARN"},
        "stream_consumer.handler": {"TABLE_NAME"},
    }
    for function in functions:
        region = function.inputs["region"]
        assert function.inputs["runtime"] == "python3.14"
        assert function.inputs["tracingConfig"] == {"mode": "Active"}
        (layer,) = function.inputs["layers"]
        assert layer.startswith(
            f"arn:aws:lambda:{region}:017000801446:layer:AWSLambdaPowertoolsPythonV3-python314-arm64:"
        )
        assert function.inputs["loggingConfig"]["logFormat"] == "JSON"
        assert function.property_dependencies["loggingConfig"][0].endswith("-logs")
        env = function.inputs["environment"]["variables"]
        assert {"POWERTOOLS_SERVICE_NAME", *needs[function.inputs["handler"]]} <= set(env)
    for log_group in prod_run.of_type("aws:cloudwatch/logGroup:LogGroup"):
        assert log_group.inputs["retentionInDays"] == 30


def test_every_child_is_parented_to_a_component(prod_run: Run) -> None:
    components = {r.urn for r in prod_run.resources if not r.custom}
    for resource in prod_run.resources:
        if resource.type == "resilient-serverless:index:ActiveActiveService":
            continue
        assert resource.parent in components, resource.urn
        parent_name = resource.parent.rsplit("::", 1)[1]
        assert resource.name.startswith(parent_name), (resource.name, parent_name)


def test_three_regions_are_symmetric() -> None:
    config = prod_config() | {f"{NS}regions": ["us-east-1", "eu-west-1", "ap-southeast-2"]}
    three = run_program(config)
    counts = {
        region: Counter(r.type for r in regional(three) if r.region == region)
        for region in ("us-east-1", "eu-west-1", "ap-southeast-2")
    }
    home = counts.pop("us-east-1")
    # The home region holds the global table besides what every region has.
    home.subtract({"aws:dynamodb/table:Table": 1})
    assert counts["eu-west-1"] == counts["ap-southeast-2"] == home
    (table,) = [t for t in three.of_type("aws:dynamodb/table:Table") if t.inputs.get("replicas")]
    assert [r["regionName"] for r in table.inputs["replicas"]] == ["eu-west-1", "ap-southeast-2"]
    assert len(three.of_type("aws:route53/healthCheck:HealthCheck")) == 3


def test_resource_counts_in_prod(prod_run: Run) -> None:
    custom = [r for r in prod_run.resources if r.custom]
    per_region = Counter(r.region for r in regional(prod_run))
    assert per_region["us-east-1"] == per_region["eu-west-1"] + 1  # + the table
    # 2 regions x per-region resources + the table + global IAM and Route53 resources.
    global_count = len([r for r in custom if r.type.startswith(GLOBAL_TYPES)])
    assert len(custom) == sum(per_region.values()) + global_count
