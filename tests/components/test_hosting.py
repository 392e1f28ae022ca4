"""The components as a multi-language package: the inferred schema, its snapshot, the plugin, and
each component constructed through the provider with inputs as another language sends them.

Another language's SDK serializes a component's inputs by their schema names (camelCase), with
every number a float, nested types as plain objects and assets as assets; the engine hands them
to the provider's `Construct`. These tests call the provider's `construct` with exactly such a
dict, under Pulumi's mocks, and check what the component registers.
"""

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pulumi
import pytest
from harness import Run
from pulumi.errors import InputPropertiesError
from pulumi.provider.experimental.component import ComponentProvider
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc
from resilient_serverless import (
    ActiveActiveService,
    ActiveActiveServiceArgs,
    settings_from_mapping,
)
from resilient_serverless.hosting import HOSTED_COMPONENTS, component_provider, schema

REPO = Path(__file__).resolve().parents[2]
PROVIDER_DIR = REPO / "provider"
SNAPSHOT = PROVIDER_DIR / "schema.json"
TOKEN = "resilient-serverless:index:{}"

CODE = pulumi.AssetArchive(
    {"app.py": pulumi.StringAsset("def handler(event, context):\n    return event\n")}
)


@pytest.fixture(scope="module")
def provider() -> ComponentProvider:
    return component_provider()


@pytest.fixture(scope="module")
def package() -> dict[str, Any]:
    return schema()


# -- the schema --------------------------------------------------------------------------------


def test_snapshot_is_what_the_components_give(package: dict[str, Any]) -> None:
    regenerated = json.dumps(package, indent=2, sort_keys=True) + "\n"
    assert SNAPSHOT.read_text() == regenerated, (
        "provider/schema.json is out of date: run `python -m provider.schema`"
    )


def test_schema_lists_every_component_with_described_inputs_and_outputs(
    package: dict[str, Any],
) -> None:
    assert package["name"] == "resilient-serverless"
    expected = {TOKEN.format(component.__name__) for component in HOSTED_COMPONENTS}
    assert set(package["resources"]) == expected and len(expected) == 8
    for token, resource in package["resources"].items():
        assert resource["isComponent"] is True, token
        assert resource.get("description"), token
        assert resource["inputProperties"] and resource["properties"], token
        for kind in ("inputProperties", "properties"):
            for name, prop in resource[kind].items():
                assert prop.get("description"), f"{token} {kind}.{name} has no description"
    for token, typ in package["types"].items():
        for name, prop in typ["properties"].items():
            assert prop.get("description"), f"{token}.{name} has no description"


def test_descriptions_carry_no_source_indentation(package: dict[str, Any]) -> None:
    """Every generated SDK shows the descriptions as they are: a multi-line field docstring must
    not bring its source indentation along."""
    found: list[str] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "description" and isinstance(value, str):
                    found.extend(path for line in value.splitlines() if line.startswith(" "))
                walk(value, f"{path}/{key}")
        elif isinstance(node, list):
            for index, item in enumerate(node):
                walk(item, f"{path}[{index}]")

    walk(package, "")
    multi_line = [
        value for value in json.dumps(package).split('"description": ')[1:] if "\\n" in value
    ]
    assert multi_line, "some descriptions span lines (the check below has something to check)"
    assert found == []


def test_regional_components_take_their_region_as_an_input(package: dict[str, Any]) -> None:
    for name in ("Function", "QueueWorker", "RegionalApi", "Saga", "StreamConsumer"):
        region = package["resources"][TOKEN.format(name)]["inputProperties"]["region"]
        assert region["type"] == "string" and region["plain"] is True


def test_numbers_the_pack_reads_at_preview_stay_plain(package: dict[str, Any]) -> None:
    resources, types = package["resources"], package["types"]
    plain_numbers = [
        types[TOKEN.format("FunctionArgs")]["properties"]["timeoutS"],
        types[TOKEN.format("FunctionTarget")]["properties"]["timeoutS"],
        resources[TOKEN.format("Function")]["inputProperties"]["timeoutS"],
        resources[TOKEN.format("QueueWorker")]["inputProperties"]["batchingWindowS"],
        resources[TOKEN.format("QueueWorker")]["inputProperties"]["maxReceiveCount"],
        resources[TOKEN.format("QueueWorker")]["inputProperties"]["visibilityRatio"],
        resources[TOKEN.format("RegionalApi")]["inputProperties"]["integrationTimeoutMs"],
        resources[TOKEN.format("StreamConsumer")]["inputProperties"]["maxRetryAttempts"],
        resources[TOKEN.format("StreamConsumer")]["inputProperties"]["batchingWindowS"],
        types[TOKEN.format("ServiceSettings")]["properties"]["workerTimeoutSeconds"],
        types[TOKEN.format("ServiceSettings")]["properties"]["maxReceiveCount"],
    ]
    for prop in plain_numbers:
        assert prop["type"] == "integer" and prop.get("plain") is True, prop
    # ARNs that come from other resources stay inputs (outputs of other resources allowed).
    alarm = resources[TOKEN.format("QueueWorker")]["inputProperties"]["alarmActionArn"]
    assert alarm["type"] == "string" and "plain" not in alarm


def test_defaults_are_optional_and_the_rest_required(package: dict[str, Any]) -> None:
    queue_worker = package["resources"][TOKEN.format("QueueWorker")]
    # `region` has a default for Python's `region=` keyword; every other language must send it.
    assert queue_worker["requiredInputs"] == ["consumer", "region"]
    function_args = package["types"][TOKEN.format("FunctionArgs")]
    assert sorted(function_args["required"]) == ["code", "handler"]
    assert function_args["properties"]["code"] == {
        "$ref": "pulumi.json#/Archive",
        "description": function_args["properties"]["code"]["description"],
    }
    statement = package["types"][TOKEN.format("PolicyStatement")]["properties"]["conditions"]
    assert statement["additionalProperties"]["additionalProperties"]["$ref"] == "pulumi.json#/Any"


def test_the_plugin_serves_the_snapshot() -> None:
    """`python provider/` (what the engine runs) starts and answers GetSchema."""
    process = subprocess.Popen(
        [sys.executable, str(PROVIDER_DIR), "127.0.0.1:1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        port = process.stdout.readline().strip()
        assert port.isdigit(), process.stderr.read() if process.stderr else port
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = provider_pb2_grpc.ResourceProviderStub(channel)
            response = stub.GetSchema(provider_pb2.GetSchemaRequest(version=0), timeout=60)
        assert json.loads(response.schema) == json.loads(SNAPSHOT.read_text())
    finally:
        process.kill()
        process.wait(timeout=30)


# -- construct, as another language calls it -----------------------------------------------


#: Stands for an output of another resource in the inputs: made inside the run, as an Output
#: belongs to the event loop of the program that makes it.
OUTPUT = "<output of another resource>"


def _sent(inputs: dict[str, Any], output_value: Any) -> dict[str, Any]:
    return {
        key: pulumi.Output.from_input(output_value) if value == OUTPUT else value
        for key, value in inputs.items()
    }


def construct(
    run_components: Callable[..., Run],
    provider: ComponentProvider,
    component: str,
    inputs: dict[str, Any],
    name: str = "x",
    output_value: Any = None,
) -> tuple[Run, dict[str, Any]]:
    results: dict[str, Any] = {}

    def build() -> None:
        sent = _sent(inputs, output_value)
        result = provider.construct(name, TOKEN.format(component), sent, None)
        results.update(result.state)

    return run_components(build), results


def construct_error(
    run_components: Callable[..., Run],
    provider: ComponentProvider,
    component: str,
    inputs: dict[str, Any],
    output_value: Any = None,
) -> str:
    errors: list[str] = []

    def build() -> None:
        try:
            provider.construct("bad", TOKEN.format(component), _sent(inputs, output_value), None)
        except Exception as error:  # the provider wraps the component's error
            errors.append(str(error))

    run_components(build)
    assert len(errors) == 1, errors
    return errors[0]


def consumer_inputs(timeout_s: float = 30.0) -> dict[str, Any]:
    return {"handler": "app.handler", "code": CODE, "timeoutS": timeout_s}


def test_construct_function(
    run_components: Callable[..., Run], provider: ComponentProvider
) -> None:
    run, state = construct(
        run_components,
        provider,
        "Function",
        {
            "region": "eu-west-1",
            "handler": "app.handler",
            "code": CODE,
            "timeoutS": 20.0,
            "memoryMb": 512.0,
            "environment": {"BUCKET": "invoices"},
            "policyStatements": [
                {
                    "actions": ["s3:PutObject"],
                    "resources": ["arn:aws:s3:::invoices/*"],
                    "conditions": {"StringEquals": {"aws:SourceAccount": "123456789012"}},
                }
            ],
        },
        name="invoices",
    )
    assert [r.type for r in run.resources] == [
        "resilient-serverless:index:Function",
        "aws:cloudwatch/logGroup:LogGroup",
        "aws:iam/role:Role",
        "aws:iam/rolePolicy:RolePolicy",
        "aws:lambda/function:Function",
    ]
    function = run.named("invoices-fn").inputs
    assert function["region"] == "eu-west-1"
    assert function["timeout"] == 20 and function["memorySize"] == 512
    assert function["environment"] == {"variables": {"BUCKET": "invoices"}}
    assert function["layers"][0].startswith("arn:aws:lambda:eu-west-1:")
    policy = json.loads(run.named("invoices-policy").inputs["policy"])
    granted = policy["Statement"][-1]
    assert granted["Action"] == ["s3:PutObject"]
    assert granted["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    assert state["region"] == "eu-west-1" and state["timeoutS"] == 20
    assert {"functionName", "functionArn", "invokeArn", "roleArn", "logGroupName"} <= set(state)


def test_construct_queue_worker(
    run_components: Callable[..., Run], provider: ComponentProvider
) -> None:
    alarm_topic = "arn:aws:sns:eu-west-1:123456789012:alarms"
    run, state = construct(
        run_components,
        provider,
        "QueueWorker",
        {
            "region": "eu-west-1",
            "consumer": consumer_inputs(timeout_s=30.0),
            "batchingWindowS": 5.0,
            "maxReceiveCount": 4.0,
            "alarmActionArn": OUTPUT,
        },
        name="orders",
        output_value=alarm_topic,
    )
    queue = run.named("orders-queue").inputs
    assert queue["region"] == "eu-west-1"
    assert queue["visibilityTimeoutSeconds"] == 6 * 30 + 5
    assert json.loads(run.named("orders-redrive").inputs["redrivePolicy"])["maxReceiveCount"] == 4
    consumer = run.named("orders-consumer-fn").inputs
    assert consumer["region"] == "eu-west-1" and consumer["timeout"] == 30
    mapping = run.named("orders-mapping").inputs
    assert mapping["maximumBatchingWindowInSeconds"] == 5
    assert mapping["functionResponseTypes"] == ["ReportBatchItemFailures"]
    assert run.named("orders-dlq-depth").inputs["alarmActions"] == [alarm_topic]
    assert state["visibilityTimeoutS"] == 185
    assert {"queueUrl", "queueArn", "deadLetterQueueUrl", "deadLetterQueueArn"} <= set(state)


def test_construct_regional_api(
    run_components: Callable[..., Run], provider: ComponentProvider
) -> None:
    invoke_arn = (
        "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/"
        "arn:aws:lambda:eu-west-1:123456789012:function:shop/invocations"
    )
    run, state = construct(
        run_components,
        provider,
        "RegionalApi",
        {
            "region": "eu-west-1",
            "handler": {"functionName": "shop", "invokeArn": invoke_arn, "timeoutS": 10.0},
            "routes": [{"method": "GET", "path": "health"}, {"method": "POST", "path": "orders"}],
            "domainName": "shop.example.com",
            "zoneId": "Z123",
            "integrationTimeoutMs": 20000.0,
        },
        name="shop",
    )
    integrations = run.of_type("aws:apigateway/integration:Integration")
    # GET /health, POST /orders and Route53's probe route, all on the one handler.
    assert len(integrations) == 3
    for integration in integrations:
        assert integration.inputs["uri"] == invoke_arn
        assert integration.inputs["timeoutMilliseconds"] == 20000
        assert integration.region == "eu-west-1"
    assert run.named("shop-invoke").inputs["function"] == "shop"
    assert run.named("shop-domain").inputs["domainName"] == "shop.example.com"
    assert state["region"] == "eu-west-1"
    # Route53's path, computed from the secret API Gateway generates: below the health route.
    assert isinstance(state["healthCheckPath"], pulumi.Output)
    probe = run.named("shop-health-probe-path")
    assert probe.inputs["parentId"] == run.named("shop-path-health").resource_id
    assert {"invokeUrl", "restApiId", "regionalDomainName", "regionalZoneId"} <= set(state)


def test_construct_regional_api_with_api_key_clients(
    run_components: Callable[..., Run], provider: ComponentProvider
) -> None:
    """Access control from another language: the clients arrive as a list of plain objects."""
    run, state = construct(
        run_components,
        provider,
        "RegionalApi",
        {
            "region": "eu-west-1",
            "handler": {"functionName": "shop", "invokeArn": "arn:invoke", "timeoutS": 10.0},
            "routes": [{"method": "GET", "path": "health"}, {"method": "POST", "path": "orders"}],
            "domainName": "shop.example.com",
            "zoneId": "Z123",
            "authorization": "apiKey",
            "apiClients": [
                {"name": "mobile-app", "rateLimit": 20.0, "burstLimit": 40.0, "quotaPerDay": 1e5},
            ],
        },
        name="shop",
    )
    methods = {m.name: m.inputs for m in run.of_type("aws:apigateway/method:Method")}
    assert methods["shop-post-orders"]["apiKeyRequired"] is True
    assert not methods["shop-get-health"].get("apiKeyRequired")
    (plan,) = run.of_type("aws:apigateway/usagePlan:UsagePlan")
    assert plan.inputs["throttleSettings"] == {"rateLimit": 20, "burstLimit": 40}
    assert plan.inputs["quotaSettings"] == {"limit": 100000, "period": "DAY"}
    # The client's key, and the disabled one that holds the Route53 probe's secret.
    keys = sorted(key.name for key in run.of_type("aws:apigateway/apiKey:ApiKey"))
    assert keys == ["shop-health-probe-token", "shop-key-mobile-app"]
    assert {"apiKeyIds", "invokePolicyResources"} <= set(state)


def test_construct_regional_api_names_a_bad_client_field(
    run_components: Callable[..., Run], provider: ComponentProvider
) -> None:
    message = construct_error(
        run_components,
        provider,
        "RegionalApi",
        {
            "region": "eu-west-1",
            "handler": {"functionName": "shop", "invokeArn": "arn:invoke", "timeoutS": 10.0},
            "routes": [{"method": "GET", "path": "health"}],
            "domainName": "shop.example.com",
            "zoneId": "Z123",
            "authorization": "apiKey",
            "apiClients": [{"name": "mobile-app", "rateLimit": 0.0, "burstLimit": 40.0}],
        },
    )
    assert "- apiClients[0].rateLimit: 0.0 must be positive." in message


def test_construct_global_table(
    run_components: Callable[..., Run], provider: ComponentProvider
) -> None:
    run, state = construct(
        run_components,
        provider,
        "GlobalTable",
        {"regions": ["us-east-1", "eu-west-1", "ap-southeast-2"], "hashKey": "orderId"},
        name="orders",
    )
    table = run.named("orders-table").inputs
    assert table["region"] == "us-east-1" and table["hashKey"] == "orderId"
    assert [replica["regionName"] for replica in table["replicas"]] == [
        "eu-west-1",
        "ap-southeast-2",
    ]
    assert {"tableName", "tableArn"} <= set(state)


def test_construct_latency_routing(
    run_components: Callable[..., Run], provider: ComponentProvider
) -> None:
    endpoints = [
        {
            "region": region,
            "aliasName": f"d-{region}.execute-api.{region}.amazonaws.com",
            "aliasZoneId": "ZALIAS",
            "healthCheckFqdn": f"abc.execute-api.{region}.amazonaws.com",
            "healthCheckPath": "/v1/health",
        }
        for region in ("us-east-1", "eu-west-1")
    ]
    run, state = construct(
        run_components,
        provider,
        "LatencyRouting",
        {
            "zoneId": "Z123",
            "recordName": "api.example.com",
            "endpoints": endpoints,
            "healthCheckIntervalS": 10.0,
            "healthCheckFailureThreshold": 2.0,
        },
        name="routing",
    )
    checks = run.of_type("aws:route53/healthCheck:HealthCheck")
    assert [check.inputs["requestInterval"] for check in checks] == [10, 10]
    records = run.of_type("aws:route53/record:Record")
    assert sorted(r.inputs["setIdentifier"] for r in records) == ["eu-west-1", "us-east-1"]
    assert state["recordName"] == "api.example.com"
    assert state["estimatedFailoverS"] == 10 * 2 + 60
    assert set(state["healthCheckIds"]) == {"us-east-1", "eu-west-1"}


def test_construct_saga(run_components: Callable[..., Run], provider: ComponentProvider) -> None:
    run, state = construct(
        run_components,
        provider,
        "Saga",
        {
            "region": "eu-west-1",
            "steps": [
                {"name": "hotel", "inputField": "hotelId"},
                {"name": "car", "inputField": "carId"},
            ],
            "retry": {"maxAttempts": 2.0},
        },
        name="trips",
    )
    machine = run.named("trips-state-machine").inputs
    assert machine["region"] == "eu-west-1"
    definition = json.loads(machine["definition"])
    assert {"BookHotel", "BookCar"} <= set(definition["States"])
    assert "BookFlight" not in definition["States"]
    assert definition["States"]["BookHotel"]["Retry"][0]["MaxAttempts"] == 2
    assert run.named("trips-table").region == "eu-west-1"
    assert {"stateMachineArn", "tableName", "executionArns"} <= set(state)


def test_construct_stream_consumer(
    run_components: Callable[..., Run], provider: ComponentProvider
) -> None:
    run, state = construct(
        run_components,
        provider,
        "StreamConsumer",
        {
            "region": "eu-west-1",
            "consumer": consumer_inputs(timeout_s=60.0),
            "retentionHours": 48.0,
            "maxRetryAttempts": 2.0,
        },
        name="events",
    )
    stream = run.named("events-stream").inputs
    assert stream["region"] == "eu-west-1" and stream["retentionPeriod"] == 48
    mapping = run.named("events-mapping").inputs
    assert mapping["maximumRetryAttempts"] == 2 and mapping["bisectBatchOnFunctionError"] is True
    assert run.named("events-consumer-fn").inputs["region"] == "eu-west-1"
    assert {"streamArn", "streamName", "failuresQueueUrl"} <= set(state)


SERVICE_SETTINGS = {
    "regions": ["us-east-1", "eu-west-1"],
    "domainName": "tasks.example.com",
    "hostedZoneName": "example.com",
    "workerTimeoutSeconds": 20,
}


def _shape(run: Run) -> list[tuple[str, str, str, str]]:
    """Every registration's type, name, parent's name and inputs (in a stable order: children
    register concurrently)."""

    def parent_name(urn: str) -> str:
        return urn.rsplit("::", 1)[-1]

    return sorted(
        (r.type, r.name, parent_name(r.parent), json.dumps(r.inputs, sort_keys=True))
        for r in run.resources
    )


def test_construct_active_active_service_registers_what_python_does(
    run_components: Callable[..., Run], provider: ComponentProvider
) -> None:
    """The same service from another language and from Python: the same resources, names,
    parents and inputs."""
    settings = settings_from_mapping(SERVICE_SETTINGS)
    as_sent = {
        "settings": {
            "regions": ["us-east-1", "eu-west-1"],
            "domainName": "tasks.example.com",
            "hostedZoneName": "example.com",
            "workerTimeoutSeconds": 20.0,
        },
        "hostedZoneId": "Z123",
        "code": CODE,
    }
    run, state = construct(run_components, provider, "ActiveActiveService", as_sent, name="tasks")
    python_run = run_components(
        lambda: ActiveActiveService(
            "tasks", ActiveActiveServiceArgs(settings=settings, hosted_zone_id="Z123", code=CODE)
        )
    )
    assert _shape(run) == _shape(python_run)
    assert len(run.resources) > 100
    queue = run.named("tasks-eu-west-1-worker-queue").inputs
    assert queue["visibilityTimeoutSeconds"] == 6 * 20 + 1
    assert state["url"] == "https://tasks.example.com"
    assert set(state["queueUrls"]) == {"us-east-1", "eu-west-1"}
    assert state["estimatedFailoverSeconds"] == 30 * 3 + 60


# -- one clear error per bad input ----------------------------------------------------------

BAD_INPUTS: list[tuple[str, dict[str, Any], str]] = [
    (
        "Function",
        {"region": "eu-west-1", "handler": "app.handler", "code": CODE, "timeoutS": 0.0},
        r"- timeoutS: 0 must be between 1 and 900 seconds",
    ),
    (
        "GlobalTable",
        {"regions": ["us-east-1", "us-east-1"]},
        r"- regions: .* lists a region twice",
    ),
    (
        "LatencyRouting",
        {
            "zoneId": "Z1",
            "recordName": "api.example.com",
            "endpoints": [
                {
                    "region": "us-east-1",
                    "aliasName": "a",
                    "aliasZoneId": "Z2",
                    "healthCheckFqdn": "h",
                    "healthCheckPath": "/v1/health",
                }
            ],
            "healthCheckIntervalS": 15.0,
        },
        r"- healthCheckIntervalS: 15 must be one of",
    ),
    (
        "QueueWorker",
        {"region": "eu-west-1", "consumer": consumer_inputs(), "maxReceiveCount": 0.0},
        r"- maxReceiveCount: 0 must be 3\.\.10",
    ),
    (
        "RegionalApi",
        {
            "region": "eu-west-1",
            "handler": {"functionName": "f", "invokeArn": "arn", "timeoutS": 40.0},
            "routes": [{"method": "GET", "path": "health"}],
            "domainName": "api.example.com",
            "zoneId": "Z1",
        },
        r"- handler: the function times out after 40 s",
    ),
    (
        "Saga",
        {"region": "eu-west-1", "logLevel": "OFF"},
        r"- logLevel: 'OFF' must be ALL, ERROR or FATAL",
    ),
    (
        "StreamConsumer",
        {"region": "eu-west-1", "consumer": consumer_inputs(), "startingPosition": "AT_TIMESTAMP"},
        r"- startingPosition: 'AT_TIMESTAMP' must be TRIM_HORIZON or LATEST",
    ),
    (
        "ActiveActiveService",
        {
            "settings": {
                "regions": ["us-east-1", "eu-west-1"],
                "domainName": "tasks.example.com",
                "hostedZoneName": "example.com",
                "apiTimeoutSeconds": 40.0,
            },
            "hostedZoneId": "Z1",
        },
        r"- settings\.apiTimeoutSeconds: 40 s outlives",
    ),
]


@pytest.mark.parametrize(
    ("component", "inputs", "message"), BAD_INPUTS, ids=[case[0] for case in BAD_INPUTS]
)
def test_a_bad_input_fails_with_one_error_naming_its_field(
    run_components: Callable[..., Run],
    provider: ComponentProvider,
    component: str,
    inputs: dict[str, Any],
    message: str,
) -> None:
    error = construct_error(run_components, provider, component, inputs)
    assert re.search(message, error), error


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        (
            {"handler": "app.handler", "code": CODE},
            r"- region: required",
        ),
        (
            {"region": "eu-west-1", "handler": "app.handler", "code": CODE, "memoryMb": "big"},
            r"memoryMb",
        ),
        (
            {
                "region": "eu-west-1",
                "handler": "app.handler",
                "code": CODE,
                "tags": {"team": 7},
            },
            r"- tags\[\"team\"\]: expected a string, got 7",
        ),
        (
            {
                "region": "eu-west-1",
                "handler": "app.handler",
                "code": CODE,
                "policyStatements": [{"actions": ["sqs:*"], "resources": ["*"]}],
            },
            r"- policyStatements\[0\]\.actions: 'sqs:\*' grants",
        ),
        (
            {"region": "eu-west-1", "handler": "app.handler", "code": CODE, "timeoutS": OUTPUT},
            r"Function input timeoutS: must be a plain value",
        ),
    ],
    ids=["missing-region", "not-a-number", "tag-not-a-string", "wildcard", "output-for-plain"],
)
def test_function_input_errors_name_the_field(
    run_components: Callable[..., Run],
    provider: ComponentProvider,
    inputs: dict[str, Any],
    message: str,
) -> None:
    error = construct_error(run_components, provider, "Function", inputs, output_value=30)
    assert re.search(message, error), error


def test_construct_errors_reach_other_languages_as_property_errors(
    run_components: Callable[..., Run], provider: ComponentProvider
) -> None:
    """The SDK's provider server turns an `InputPropertiesError` into an INVALID_ARGUMENT status
    with one PropertyError per problem (pulumi/provider/server.py, `Construct`); any other
    exception reaches the engine as its text plus a Python traceback. So the error must be of
    that type, with schema paths, and carry no Python frames."""
    errors: list[Exception] = []

    def build() -> None:
        try:
            provider.construct(
                "bad",
                TOKEN.format("QueueWorker"),
                {"region": "eu-west-1", "consumer": consumer_inputs(timeout_s=0.0)},
                None,
            )
        except Exception as error:
            errors.append(error)

    run_components(build)
    (error,) = errors
    assert isinstance(error, InputPropertiesError), type(error)
    assert error.errors == [
        {"property_path": "consumer.timeoutS", "reason": "0 must be between 1 and 900 seconds."}
    ]
    assert "Traceback" not in str(error) and 'File "' not in str(error)
    assert "_s" not in str(error) and "Args" not in str(error)


def test_regional_components_require_their_region_in_the_schema(package: dict[str, Any]) -> None:
    for name in ("Function", "QueueWorker", "RegionalApi", "Saga", "StreamConsumer"):
        assert "region" in package["resources"][TOKEN.format(name)]["requiredInputs"], name
    # As a nested consumer, a function runs in its component's region: optional there.
    assert "region" not in package["types"][TOKEN.format("FunctionArgs")].get("required", [])


def test_a_settings_input_under_its_old_schema_name_still_constructs(
    run_components: Callable[..., Run],
    provider: ComponentProvider,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    warnings: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *_, **__: warnings.append(message))
    settings = {
        "regions": ["us-east-1", "eu-west-1"],
        "domainName": "tasks.example.com",
        "hostedZoneName": "example.com",
        "workerTimeoutS": 20.0,
    }
    run, _ = construct(
        run_components,
        provider,
        "ActiveActiveService",
        {"settings": settings, "hostedZoneId": "Z123", "code": CODE},
        name="tasks",
    )
    assert (
        run.named("tasks-eu-west-1-worker-queue").inputs["visibilityTimeoutSeconds"] == 6 * 20 + 1
    )
    assert any(
        "settings.workerTimeoutS is deprecated; name it workerTimeoutSeconds" in w for w in warnings
    )
