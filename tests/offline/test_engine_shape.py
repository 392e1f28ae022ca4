"""The model of what the engine sends a policy pack (offline/engine/engine_shape.py), rule by rule of
engine-shape.md: checked inputs for Analyze, the planned state for AnalyzeStack at preview, the
known state after an update; every fact read from the pulumi-aws SDK's own metadata."""

from __future__ import annotations

import re
from typing import Any

import pulumi_aws
import pytest
from pulumi.runtime import rpc

from offline.engine.engine_shape import (
    DEFAULTS_KEY,
    RESOURCE_REFERENCE_SIGNATURE,
    SIGNATURE_KEY,
    UNKNOWN,
    Identity,
    checked_inputs,
    downgrade_references,
    planned_state,
    resource_class,
    schema_for,
)
from offline.engine.fake_outputs import ResourceFacts, autoname, known_state

QUEUE = "aws:sqs/queue:Queue"
MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


def identity(type_token: str, name: str = "work", region: str | None = "eu-west-1") -> Identity:
    urn = f"urn:pulumi:dev::shop::{type_token}::{name}"
    return Identity(type_token, name, urn, region, f"{name}-abc1234")


def aws_resource_types() -> list[str]:
    """Every resource type the pulumi-aws SDK registers with the Pulumi runtime."""
    assert pulumi_aws is not None  # importing it registers its modules
    return [
        token
        for key, modules in rpc._RESOURCE_MODULES.items()
        if key.startswith("aws:")
        for module in modules
        for token in getattr(module, "mod_info", {}).get("classes", {})
    ]


def test_every_pulumi_aws_resource_type_has_a_schema() -> None:
    """Derived for every type the SDK registers, not from a hand-kept list."""
    tokens = aws_resource_types()
    assert len(tokens) > 1000
    missing = [token for token in tokens if schema_for(token) is None]
    assert missing == []
    # Every computed property of every type gets a value of its type after an update.
    for token in tokens[::25]:
        facts = ResourceFacts(token, "r", f"urn:pulumi:dev::p::{token}::r", "us-east-1", {})
        _, state = known_state(facts)
        schema = schema_for(token)
        assert schema is not None
        for key, prop in schema.properties.items():
            if prop.computed and prop.type.kind in ("string", "number", "boolean"):
                assert state[key] is not None, (token, key)


def test_computed_and_optional_come_from_the_annotations() -> None:
    schema = schema_for(QUEUE)
    assert schema is not None
    assert schema.properties["redrivePolicy"].computed  # Output[str]
    assert schema.properties["sqsManagedSseEnabled"].computed
    assert not schema.properties["visibilityTimeoutSeconds"].computed  # Output[Optional[int]]
    assert schema.properties["tags"].type.kind == "map"
    assert schema.output_only("arn") and schema.output_only("url")
    assert not schema.output_only("redrivePolicy")
    assert schema.autonamed and schema.has_region
    mapping = schema_for(MAPPING)
    assert mapping is not None and mapping.properties["maximumRetryAttempts"].computed
    destination = mapping.properties["destinationConfig"].type
    assert destination.kind == "block" and "onFailure" in destination.fields
    role = schema_for("aws:iam/role:Role")
    assert role is not None and not role.has_region, "IAM is global"


def test_checked_inputs_fill_what_check_fills() -> None:
    checked = checked_inputs(
        identity(QUEUE),
        {"messageRetentionSeconds": 1209600, "kmsMasterKeyId": None, "tags": {"team": UNKNOWN}},
    )
    assert checked["name"] == "work-abc1234", "the autoname is known before the preview plans"
    assert checked["visibilityTimeoutSeconds"] == 30, "a Terraform default"
    assert "delaySeconds" not in checked, "a falsy Terraform default is not filled in"
    assert DEFAULTS_KEY not in checked, "the engine drops top-level internal keys for analyzers"
    assert "kmsMasterKeyId" not in checked, "explicit nulls are dropped"
    assert checked["tagsAll"] == UNKNOWN, "tagsAll is unknown when tags hold an unknown"
    mapping = checked_inputs(
        identity(MAPPING),
        {"destinationConfig": {"onFailure": {"destinationArn": UNKNOWN}}},
    )
    assert mapping["destinationConfig"][DEFAULTS_KEY] == []
    assert mapping["destinationConfig"]["onFailure"][DEFAULTS_KEY] == []


def test_planned_state_of_a_new_queue() -> None:
    """What engine-shape.md says arrives in AnalyzeStack for a queue with no redrive policy."""
    checked = checked_inputs(identity(QUEUE), {"messageRetentionSeconds": 1209600})
    state = planned_state(identity(QUEUE), checked)
    for computed in ("redrivePolicy", "redriveAllowPolicy", "sqsManagedSseEnabled", "arn", "url"):
        assert state[computed] == UNKNOWN, computed
    assert state["id"] == UNKNOWN
    assert state["messageRetentionSeconds"] == 1209600
    assert state["kmsMasterKeyId"] is None, "optional and unset: null"
    assert state["name"] == "work-abc1234"
    assert state["region"] == "eu-west-1", "v7 computes an unset region from the provider"


def test_maps_and_plain_lists_with_an_unknown_are_unknown_as_a_whole() -> None:
    inputs: dict[str, Any] = {
        "namespace": "AWS/SQS",
        "dimensions": {"QueueName": UNKNOWN},
        "alarmActions": [UNKNOWN],
        "okActions": ["arn:aws:sns:eu-west-1:123456789012:known"],
        "metricQueries": [
            {"id": "m1", "metric": {"metricName": "x", "dimensions": {"QueueName": UNKNOWN}}}
        ],
    }
    state = planned_state(identity(ALARM), checked_inputs(identity(ALARM), inputs))
    assert state["dimensions"] == UNKNOWN
    assert state["alarmActions"] == UNKNOWN
    assert state["okActions"] == ["arn:aws:sns:eu-west-1:123456789012:known"]
    query = state["metricQueries"][0]
    assert query["id"] == "m1", "a list of blocks keeps its blocks"
    assert query["metric"]["dimensions"] == UNKNOWN, "a map inside a block is blanked in place"
    assert DEFAULTS_KEY not in query


def test_a_block_keeps_its_unknown_in_place_and_a_wholly_unknown_element_blanks_its_list() -> None:
    inputs = {"destinationConfig": {"onFailure": {"destinationArn": UNKNOWN}}}
    state = planned_state(identity(MAPPING), checked_inputs(identity(MAPPING), inputs))
    assert state["destinationConfig"]["onFailure"]["destinationArn"] == UNKNOWN
    assert state["maximumRetryAttempts"] == UNKNOWN, "computed when unset"
    assert state["bisectBatchOnFunctionError"] is None
    alarm = planned_state(identity(ALARM), {"metricQueries": [UNKNOWN]})
    assert alarm["metricQueries"] == UNKNOWN


def test_resource_references_are_downgraded_to_ids() -> None:
    reference = {SIGNATURE_KEY: RESOURCE_REFERENCE_SIGNATURE, "urn": "urn:x", "id": "role-1"}
    pending = {SIGNATURE_KEY: RESOURCE_REFERENCE_SIGNATURE, "urn": "urn:x", "id": ""}
    component = {SIGNATURE_KEY: RESOURCE_REFERENCE_SIGNATURE, "urn": "urn:c"}
    assert downgrade_references({"role": reference, "list": [pending, component]}) == {
        "role": "role-1",
        "list": [UNKNOWN, "urn:c"],
    }


def test_known_state_reports_every_property() -> None:
    facts = ResourceFacts(
        QUEUE,
        "work",
        "urn:pulumi:dev::shop::aws:sqs/queue:Queue::work",
        "eu-west-1",
        checked_inputs(identity(QUEUE), {}),
    )
    resource_id, state = known_state(facts)
    schema = schema_for(QUEUE)
    assert schema is not None
    assert set(schema.properties) <= set(state)
    assert state["redrivePolicy"] == "", "a queue without a redrive policy reports it empty"
    assert state["sqsManagedSseEnabled"] is True, "AWS encrypts new queues"
    assert state["arn"] == "arn:aws:sqs:eu-west-1:123456789012:work-abc1234"
    assert state["id"] == resource_id == state["url"]
    assert UNKNOWN not in str(state)


@pytest.mark.parametrize(
    ("type_token", "attribute"),
    [
        ("aws:s3/bucket:Bucket", "bucket"),
        ("aws:apigatewayv2/api:Api", "executionArn"),
        ("aws:apigatewayv2/api:Api", "apiEndpoint"),
        ("aws:eks/cluster:Cluster", "certificateAuthority"),
    ],
)
def test_known_state_never_leaves_an_always_set_output_null(
    type_token: str, attribute: str
) -> None:
    """Outputs the SDK declares always set (`Output[T]`) get a value of their type: programs
    read them in `apply` (a bucket's name, an HTTP API's endpoint, a cluster's CA data)."""
    assert resource_class(type_token) is not None
    urn = f"urn:pulumi:dev::p::{type_token}::thing"
    checked = checked_inputs(Identity(type_token, "thing", urn, "us-east-1", "thing-abc1234"), {})
    _, state = known_state(ResourceFacts(type_token, "thing", urn, "us-east-1", checked))
    assert state[attribute] not in (None, "", {}), state[attribute]
    if attribute == "certificateAuthority":
        assert isinstance(state[attribute]["data"], str) and state[attribute]["data"]


@pytest.mark.parametrize(
    ("type_token", "attribute", "pattern"),
    [
        ("aws:ec2/instance:Instance", "id", r"i-[0-9a-f]{17}"),
        (
            "aws:ec2/instance:Instance",
            "publicDns",
            r"ec2-54(-\d+){3}\.us-east-1\.compute\.amazonaws\.com",
        ),
        ("aws:ec2/vpc:Vpc", "id", r"vpc-[0-9a-f]{17}"),
        (
            "aws:apigatewayv2/api:Api",
            "apiEndpoint",
            r"https://[a-z0-9]{10}\.execute-api\.us-east-1\.amazonaws\.com",
        ),
        (
            "aws:apigatewayv2/api:Api",
            "executionArn",
            r"arn:aws:execute-api:us-east-1:123456789012:[a-z0-9]{10}",
        ),
        (
            "aws:cloudfront/distribution:Distribution",
            "domainName",
            r"d[a-z0-9]{13}\.cloudfront\.net",
        ),
        (
            "aws:s3/bucket:Bucket",
            "websiteEndpoint",
            r"thing-[0-9a-f]{7}\.s3-website-us-east-1\.amazonaws\.com",
        ),
        ("aws:sqs/queue:Queue", "arn", r"arn:aws:sqs:us-east-1:123456789012:thing-[0-9a-f]{7}"),
    ],
)
def test_known_state_uses_the_forms_aws_uses(type_token: str, attribute: str, pattern: str) -> None:
    urn = f"urn:pulumi:dev::p::{type_token}::thing"
    identity = Identity(type_token, "thing", urn, "us-east-1", autoname("thing", urn))
    facts = ResourceFacts(type_token, "thing", urn, "us-east-1", checked_inputs(identity, {}))
    _, state = known_state(facts)
    assert re.fullmatch(pattern, state[attribute]), state[attribute]
