"""The pack over the Analyzer protocol, as the engine drives it: GetAnalyzerInfo, Configure
(and how a refusal surfaces), Analyze / AnalyzeStack with URNs, and Remediate."""

from __future__ import annotations

import json
from typing import Any

import grpc
import pytest
from google.protobuf import struct_pb2
from policy_fixtures.builder import ENGINE_PREVIEW, StackBuilder
from policy_fixtures.realistic import active_active_stack
from pulumi.runtime.proto import analyzer_pb2
from verdicts import CANT_RUN, rule_module

from offline.policy.analyzer import (
    UNKNOWN_NUMBER,
    UNKNOWN_SENTINELS,
    UNKNOWN_STRING,
    PackConfigError,
    PolicyPackProcess,
    ResourceSnapshot,
)
from resilience_policies import thresholds
from resilience_policies.pack import PACK_NAME, RULE_MODULES

MANDATORY = {
    "sqs-visibility-timeout-ratio",
    "api-integration-timeout",
    "sqs-dead-letter-queue",
    "dlq-retention",
    "dlq-alarm",
    "sqs-partial-batch-response",
    "stream-poison-message",
    "dynamodb-global-table",
    "route53-latency-health-check",
    "multi-region-active-active",
    "retiring-region",
    "lambda-async-failure-destination",
    "iam-no-wildcard-actions",
    "step-functions-retry-catch",
    "step-functions-logging-tracing",
    "kinesis-iterator-age-alarm",
}
ADVISORY = {
    "api-throttling",
    "sqs-consumer-max-concurrency",
    "lambda-tracing",
    "lambda-log-retention",
    "encryption-at-rest",
    "single-region-service",
    "dynamodb-point-in-time-recovery",
    "kinesis-retention",
}
SECRET_KEY, SECRET_SIGNATURE = (
    "4dabf18193072939515e22adb298388d",
    "1b47061264138c4ac30d75fd1eb44270",
)
MAPPING_TYPE = "aws:lambda/eventSourceMapping:EventSourceMapping"


# -- GetAnalyzerInfo -------------------------------------------------------------------------


def test_analyzer_info_lists_every_policy_with_its_level(pack_process: PolicyPackProcess) -> None:
    assert pack_process.pack_name == PACK_NAME
    names = [policy.name for policy in pack_process.policies]
    assert names == [rule_module(module).NAME for module in RULE_MODULES]
    levels = {policy.name: policy.level for policy in pack_process.policies}
    assert {name for name, level in levels.items() if level == "mandatory"} == MANDATORY
    assert {name for name, level in levels.items() if level == "advisory"} == ADVISORY
    assert all(policy.description for policy in pack_process.policies)


def test_config_schema_defaults_come_from_thresholds(pack_process: PolicyPackProcess) -> None:
    defaults = {
        policy.name: {
            key: schema["default"]
            for key, schema in (policy.config_schema.get("properties") or {}).items()
        }
        for policy in pack_process.policies
    }
    assert defaults["sqs-visibility-timeout-ratio"] == {
        "ratio": thresholds.VISIBILITY_TIMEOUT_RATIO
    }
    assert defaults["api-integration-timeout"] == {
        "maxIntegrationTimeoutMs": thresholds.API_GATEWAY_INTEGRATION_TIMEOUT_MS,
        "marginMs": thresholds.API_FUNCTION_TIMEOUT_MARGIN_MS,
    }
    assert defaults["sqs-dead-letter-queue"] == {
        "maxReceiveCountMin": thresholds.MAX_RECEIVE_COUNT_MIN,
        "maxReceiveCountMax": thresholds.MAX_RECEIVE_COUNT_MAX,
    }
    assert defaults["dlq-retention"] == {"minRetentionSeconds": thresholds.DLQ_RETENTION_S}
    assert defaults["dlq-alarm"]["maxThreshold"] == thresholds.DLQ_DEPTH_ALARM_THRESHOLD
    assert defaults["stream-poison-message"] == {
        "maxRetryAttempts": thresholds.STREAM_MAX_RETRY_ATTEMPTS,
        "maxRecordAgeSeconds": thresholds.STREAM_MAX_RECORD_AGE_S,
    }
    assert defaults["route53-latency-health-check"] == {
        "maxFailoverSeconds": thresholds.estimated_failover_s()
    }
    assert defaults["multi-region-active-active"] == {"minRegions": thresholds.MIN_ACTIVE_REGIONS}
    assert defaults["sqs-consumer-max-concurrency"] == {
        "maximumConcurrencyLimit": thresholds.SQS_MAX_CONCURRENCY_MAX,
        "remediationMaximumConcurrency": thresholds.SQS_MAX_CONCURRENCY_DEFAULT,
    }
    assert defaults["lambda-log-retention"] == {
        "minRetentionDays": thresholds.LOG_RETENTION_DAYS_MIN
    }
    assert defaults["api-throttling"] == {
        "maxBurstLimit": thresholds.API_ACCOUNT_BURST_LIMIT,
        "maxRateLimit": thresholds.API_ACCOUNT_RATE_LIMIT_RPS,
    }
    assert defaults["kinesis-iterator-age-alarm"] == {
        "marginMs": thresholds.KINESIS_ITERATOR_AGE_MARGIN_MS,
        "floorMs": thresholds.KINESIS_ITERATOR_AGE_FLOOR_MS,
    }
    assert defaults["kinesis-retention"] == {
        "minReplayWindowHours": thresholds.KINESIS_MIN_REPLAY_WINDOW_HOURS
    }


def test_every_numeric_setting_declares_type_bounds_and_default(
    pack_process: PolicyPackProcess,
) -> None:
    for policy in pack_process.policies:
        for key, schema in (policy.config_schema.get("properties") or {}).items():
            assert schema.get("description"), f"{policy.name}.{key}"
            assert "default" in schema, f"{policy.name}.{key}"
            if schema["type"] in ("integer", "number"):
                assert schema["minimum"] <= schema["default"] <= schema["maximum"], key


# -- Configure -------------------------------------------------------------------------------

BAD_CONFIGS: list[Any] = [
    pytest.param(
        {"sqs-visibility-timeout-ratio": {"ratio": "six"}},
        [
            "policy 'sqs-visibility-timeout-ratio'",
            "'ratio' must be a number from 1 to 100",
            'got "six" (a string)',
            "e.g. 6 (the default)",
        ],
        id="string-for-number",
    ),
    pytest.param(
        {"sqs-dead-letter-queue": {"maxReceiveCountMax": 7.5}},
        [
            "'maxReceiveCountMax' must be a whole number from 1 to 1000",
            "got 7.5, which is not whole",
        ],
        id="fraction-for-integer",
    ),
    pytest.param(
        {"dlq-retention": {"minRetentionSeconds": True}},
        ["'minRetentionSeconds' must be a whole number", "got true (a boolean)"],
        id="boolean-for-integer",
    ),
    pytest.param(
        {"api-integration-timeout": {"maxIntegrationTimeoutMs": 10}},
        ["'maxIntegrationTimeoutMs' must be a whole number from 50 to 900000", "got 10"],
        id="below-minimum",
    ),
    pytest.param(
        {"stream-poison-message": {"maxRecordAgeSeconds": 10_000_000}},
        ["'maxRecordAgeSeconds' must be a whole number from 60 to 604800", "got 10000000"],
        id="above-maximum",
    ),
    pytest.param(
        {"dlq-alarm": {"metricNames": ["QueueDepth"]}},
        [
            "'metricNames' must be a list of non-empty strings",
            'got "QueueDepth"',
            "ApproximateNumberOfMessagesVisible",
        ],
        id="list-item-not-allowed",
    ),
    pytest.param(
        {"lambda-tracing": {"mode": "Active"}},
        [
            "policy 'lambda-tracing': unknown config key 'mode'",
            "this policy takes no settings besides enforcementLevel",
        ],
        id="key-of-policy-without-settings",
    ),
    pytest.param(
        {"multi-region-active-active": {"minRegion": 3}},
        ["unknown config key 'minRegion'", "fix its spelling (this policy's keys: 'minRegions')"],
        id="misspelt-key",
    ),
    pytest.param(
        {"sqs-dead-letter-queue": {"maxReceiveCountMin": 8, "maxReceiveCountMax": 4}},
        ["config key 'maxReceiveCountMin' (8) is above maxReceiveCountMax (4)"],
        id="bounds-out-of-order",
    ),
    pytest.param(
        {"api-integration-timeout": {"marginMs": 29_000}},
        ["'marginMs' (29000) must be smaller than maxIntegrationTimeoutMs (29000)"],
        id="margin-swallows-limit",
    ),
    pytest.param(
        {"sqs-visibility-timout-ratio": {"ratio": 6}},
        [
            "unknown policy 'sqs-visibility-timout-ratio' in the policy pack config",
            "sqs-visibility-timeout-ratio",
        ],
        id="misspelt-policy",
    ),
]


@pytest.mark.parametrize(("config", "fragments"), BAD_CONFIGS)
def test_bad_config_is_refused_with_a_clear_message(
    policy_pack: PolicyPackProcess, config: dict[str, Any], fragments: list[str]
) -> None:
    with pytest.raises(PackConfigError) as refused:
        policy_pack.configure(config)
    message = str(refused.value)
    assert message.startswith("policy pack 'resilient-serverless': invalid configuration")
    for fragment in fragments:
        assert fragment in message


def test_config_refusal_is_invalid_argument_and_lists_every_problem(
    policy_pack: PolicyPackProcess,
) -> None:
    """What the engine receives: one INVALID_ARGUMENT status whose details are the message
    `pulumi preview` prints (the CLI returns the RPC error as the command's error)."""
    request = analyzer_pb2.ConfigureAnalyzerRequest()
    for name, properties in (
        ("sqs-visibility-timeout-ratio", {"ratio": 0.5}),
        ("dlq-alarm", {"maxThreshold": "none"}),
    ):
        struct = struct_pb2.Struct()
        struct.update(properties)
        request.policyConfig[name].CopyFrom(
            analyzer_pb2.PolicyConfig(enforcementLevel=analyzer_pb2.MANDATORY, properties=struct)
        )
    with pytest.raises(grpc.RpcError) as refused:
        policy_pack._client().Configure(request)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = refused.value.details()
    assert "(2 problem(s))" in details
    assert "'ratio'" in details and "'maxThreshold'" in details


def test_refused_config_leaves_the_previous_one_in_force(policy_pack: PolicyPackProcess) -> None:
    policy_pack.configure({"sqs-visibility-timeout-ratio": {"ratio": 8}})
    with pytest.raises(PackConfigError):
        policy_pack.configure({"sqs-visibility-timeout-ratio": {"ratio": -1}})
    diagnostics = policy_pack.analyze_stack(active_active_stack().snapshots(preview=True))
    assert {d.policy for d in diagnostics} == {"sqs-visibility-timeout-ratio"}
    assert all("8 x 30 + 1 = 241 s" in d.message for d in diagnostics)


def test_enforcement_levels_from_config(policy_pack: PolicyPackProcess) -> None:
    # Two serving regions where three are required: multi-region-active-active's premise holds
    # (a single-region stack is single-region-service's, advisory, instead).
    stack = active_active_stack()
    policy_pack.configure(
        {"multi-region-active-active": {"enforcementLevel": "advisory", "minRegions": 3}}
    )
    (diagnostic,) = policy_pack.analyze_stack(stack.snapshots(preview=True))
    assert (diagnostic.policy, diagnostic.level) == ("multi-region-active-active", "advisory")
    policy_pack.configure({"all": "disabled"})
    assert policy_pack.analyze_stack(stack.snapshots(preview=True)) == []


# -- Analyze / AnalyzeStack ------------------------------------------------------------------


@pytest.mark.parametrize("preview", [False, True], ids=["known", "preview"])
def test_realistic_stack_is_clean_the_way_the_engine_runs_it(
    policy_pack: PolicyPackProcess, preview: bool
) -> None:
    """Analyze for every custom resource (inputs), then AnalyzeStack: nothing to report."""
    stack = active_active_stack()
    diagnostics = [
        d
        for resource in stack.resources
        if resource.custom and resource.type != "pulumi:pulumi:Stack"
        for d in policy_pack.analyze(stack.snapshot(resource, preview=preview))
    ]
    diagnostics += policy_pack.analyze_stack(stack.snapshots(preview=preview))
    assert diagnostics == []


def _everything_unknown(value: Any) -> Any:
    if isinstance(value, dict) and SECRET_KEY in value:
        return value  # an asset, archive or secret: its envelope is not a value
    if isinstance(value, dict):
        return {key: _everything_unknown(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_everything_unknown(item) for item in value]
    if isinstance(value, bool):
        return UNKNOWN_STRING
    if isinstance(value, (int, float)):
        return UNKNOWN_NUMBER
    return UNKNOWN_STRING


def test_all_values_unknown_never_means_cant_run(policy_pack: PolicyPackProcess) -> None:
    """Even with every single value unknown (only the shape and the links left), every policy
    decides something, and no unrelated unknown aborts a stack policy."""
    snapshots = active_active_stack().snapshots(preview=True)
    for snapshot in snapshots:
        snapshot.properties = {
            key: _everything_unknown(value) for key, value in snapshot.properties.items()
        }
    diagnostics = [d for s in snapshots if s.custom for d in policy_pack.analyze(s)]
    diagnostics += policy_pack.analyze_stack(snapshots)
    assert not [d.message for d in diagnostics if CANT_RUN in d.message]
    # Unknown counts as present: nothing the program asked for is reported missing.
    assert diagnostics == []


def test_every_sentinel_kind_counts_as_unknown(policy_pack: PolicyPackProcess) -> None:
    stack = active_active_stack()
    queue = stack.named("tasks-us-east-1-worker-queue")
    for sentinel in sorted(UNKNOWN_SENTINELS):
        queue.inputs["visibilityTimeoutSeconds"] = sentinel
        diagnostics = policy_pack.analyze_stack(stack.snapshots(preview=True))
        assert diagnostics == [], sentinel


def test_stack_diagnostics_carry_urns_and_resource_ones_the_analyzed_urn(
    policy_pack: PolicyPackProcess,
) -> None:
    stack = active_active_stack()
    mapping = stack.named("tasks-us-east-1-worker-mapping")
    del mapping.inputs["functionResponseTypes"]
    stack.named("tasks-us-east-1-worker-queue").inputs["visibilityTimeoutSeconds"] = 60
    (resource_diagnostic,) = policy_pack.analyze(stack.snapshot(mapping, preview=True))
    assert resource_diagnostic.urn == mapping.urn
    (stack_diagnostic,) = policy_pack.analyze_stack(stack.snapshots(preview=True))
    assert stack_diagnostic.urn == stack.named("tasks-us-east-1-worker-queue").urn


def test_region_comes_from_the_provider_when_not_set(policy_pack: PolicyPackProcess) -> None:
    """Resources without `region` are placed by their provider's `region` when the engine sends
    the provider; here the whole eu-west-1 half uses an explicit eu-west-1 provider."""
    stack = active_active_stack()
    provider = stack.add(
        "pulumi:providers:aws", "eu-west-1", {"region": "eu-west-1"}, outputs={"id": "prov-eu"}
    )
    reference = f"{provider.urn}::prov-eu"
    snapshots = stack.snapshots(preview=True)
    for snapshot in snapshots:
        if snapshot.properties.get("region") == "eu-west-1" and snapshot.urn != provider.urn:
            del snapshot.properties["region"]
            snapshot.provider = reference
    assert policy_pack.analyze_stack(snapshots) == []
    # Without the provider those resources fall into "the provider's default region".
    for snapshot in snapshots:
        snapshot.provider = ""
    diagnostics = policy_pack.analyze_stack(snapshots)
    assert {d.policy for d in diagnostics} >= {"multi-region-active-active"}
    assert any("the provider's default region" in d.message for d in diagnostics)


# -- Remediate -------------------------------------------------------------------------------


def _mapping(properties: dict[str, Any]) -> ResourceSnapshot:
    return ResourceSnapshot(
        urn=f"urn:pulumi:test::resilient-serverless::{MAPPING_TYPE}::worker-mapping",
        type=MAPPING_TYPE,
        name="worker-mapping",
        properties=properties,
    )


def test_no_remediation_below_the_remediate_level(policy_pack: PolicyPackProcess) -> None:
    assert policy_pack.remediate(_mapping({"eventSourceArn": UNKNOWN_STRING})) == []


def test_remediate_adds_report_batch_item_failures(policy_pack: PolicyPackProcess) -> None:
    policy_pack.configure({"sqs-partial-batch-response": "remediate"})
    secret = {SECRET_KEY: SECRET_SIGNATURE, "value": "s3cr3t"}
    mapping = _mapping(
        {
            "eventSourceArn": UNKNOWN_STRING,
            "functionName": UNKNOWN_STRING,
            "batchSize": 10.0,
            "tags": {"owner": secret},
            "functionResponseTypes": [],
        }
    )
    (remediation,) = policy_pack.remediate(mapping)
    assert remediation.policy == "sqs-partial-batch-response"
    assert remediation.diagnostic == ""
    assert remediation.properties == {
        "eventSourceArn": UNKNOWN_STRING,  # unknowns flow back unchanged
        "functionName": UNKNOWN_STRING,
        "batchSize": 10.0,
        "tags": {"owner": secret},  # still a secret
        "functionResponseTypes": ["ReportBatchItemFailures"],
    }
    # The fixed mapping passes; a remediate-level policy that still finds a violation would
    # report it as mandatory (the SDK downgrades REMEDIATE for reporting).
    fixed = _mapping(remediation.properties or {})
    assert policy_pack.analyze(fixed) == [
        d for d in policy_pack.analyze(fixed) if d.policy != "sqs-partial-batch-response"
    ]
    unfixed = [d for d in policy_pack.analyze(mapping) if d.policy == "sqs-partial-batch-response"]
    assert [d.level for d in unfixed] == ["mandatory"]


@pytest.mark.parametrize(
    "properties",
    [
        {"eventSourceArn": UNKNOWN_STRING, "functionResponseTypes": ["ReportBatchItemFailures"]},
        {"eventSourceArn": UNKNOWN_STRING, "functionResponseTypes": UNKNOWN_STRING},
        {
            "topics": ["orders"],
            "selfManagedEventSource": {"endpoints": {"KAFKA_BOOTSTRAP_SERVERS": "broker:9092"}},
        },
    ],
    ids=["already-set", "computed", "kafka-cannot"],
)
def test_remediation_leaves_what_it_must_not_touch(
    policy_pack: PolicyPackProcess, properties: dict[str, Any]
) -> None:
    policy_pack.configure({"sqs-partial-batch-response": "remediate"})
    assert policy_pack.remediate(_mapping(properties)) == []


def test_remediations_chain_in_pack_order(policy_pack: PolicyPackProcess) -> None:
    """Several remediate-level policies on one resource: each sees the previous one's output."""
    policy_pack.configure(
        {
            "sqs-partial-batch-response": "remediate",
            "sqs-consumer-max-concurrency": {
                "enforcementLevel": "remediate",
                "remediationMaximumConcurrency": 25,
            },
        }
    )
    first, second = policy_pack.remediate(
        _mapping({"eventSourceArn": "arn:aws:sqs:eu-west-1:123456789012:jobs", "scalingConfig": {}})
    )
    assert (first.policy, second.policy) == (
        "sqs-partial-batch-response",
        "sqs-consumer-max-concurrency",
    )
    assert second.properties == {
        "eventSourceArn": "arn:aws:sqs:eu-west-1:123456789012:jobs",
        "functionResponseTypes": ["ReportBatchItemFailures"],
        "scalingConfig": {"maximumConcurrency": 25.0},
    }


def test_remediate_encrypts_an_unencrypted_queue(policy_pack: PolicyPackProcess) -> None:
    policy_pack.configure({"encryption-at-rest": "remediate"})
    queue_type = "aws:sqs/queue:Queue"
    queue = ResourceSnapshot(
        f"urn:pulumi:test::resilient-serverless::{queue_type}::q",
        queue_type,
        "q",
        {"region": "eu-west-1", "visibilityTimeoutSeconds": 181.0},
    )
    (remediation,) = policy_pack.remediate(queue)
    assert remediation.properties == {
        "region": "eu-west-1",
        "visibilityTimeoutSeconds": 181.0,
        "sqsManagedSseEnabled": True,
    }
    table_type = "aws:dynamodb/table:Table"
    table = ResourceSnapshot(f"urn:pulumi:test::p::{table_type}::t", table_type, "t", {})
    assert policy_pack.remediate(table) == []  # a table's key is a decision, not a fix


def test_stack_policies_at_remediate_report_as_mandatory(policy_pack: PolicyPackProcess) -> None:
    """Stack policies cannot remediate (the SDK's Remediate sees one resource): at the
    'remediate' level they still report, as mandatory."""
    policy_pack.configure(
        {"multi-region-active-active": {"enforcementLevel": "remediate", "minRegions": 3}}
    )
    (diagnostic,) = policy_pack.analyze_stack(active_active_stack().snapshots(preview=True))
    assert diagnostic.level == "mandatory"


def test_large_request_within_message_limits(policy_pack: PolicyPackProcess) -> None:
    """A stack whose request exceeds gRPC's 4 MB default still goes through."""
    stack = StackBuilder()
    blob = "x" * 1024
    for index in range(6000):
        stack.add(
            "aws:sns/topic:Topic",
            f"topic-{index}",
            {"region": "eu-west-1", "policy": json.dumps({"pad": blob})},
        )
    assert policy_pack.analyze_stack(stack.snapshots(preview=True)) == []


def test_checked_inputs_belong_to_one_deployment(policy_pack: PolicyPackProcess) -> None:
    """Analyze's inputs are kept for the AnalyzeStack of the same deployment only: a new
    Configure (the engine's first call to a freshly started pack) forgets them."""
    builder = StackBuilder()
    builder.add("aws:sqs/queue:Queue", "orders", {"region": "eu-west-1"})
    analyze, stack = builder.engine_snapshots(ENGINE_PREVIEW)
    for snapshot in analyze:
        policy_pack.analyze(snapshot)
    found = policy_pack.analyze_stack(stack)
    assert {d.policy for d in found} == {"sqs-dead-letter-queue"}, [d.message for d in found]
    policy_pack.configure({})
    # Without the inputs the planned redrivePolicy is unknown: set from an output or computed,
    # the pack cannot tell, and says nothing rather than something wrong.
    after = policy_pack.analyze_stack(stack)
    assert [d for d in after if d.policy == "sqs-dead-letter-queue"] == []
