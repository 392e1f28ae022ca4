"""The pack's building blocks, called the way the SDK calls them: properties wrapped in the SDK's
real `unknown_checking_proxy`, stack resources built and linked as the SDK's analyzer builds them.
"""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf import json_format
from policy_fixtures.realistic import active_active_stack
from pulumi_policy import (
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

from offline.policy.analyzer import UNKNOWN_STRING, PolicyPackProcess, ResourceSnapshot
from resilience_policies import model as model_module
from resilience_policies.config import ConfigSpec, PolicyConfigError, Setting
from resilience_policies.model import (
    DEFAULT_REGION,
    OTHER_SOURCE,
    SQS,
    STREAM,
    StackModel,
    identifier_names,
    mapping_kind_from_inputs,
    model_for,
)
from resilience_policies.props import (
    ABSENT,
    UNKNOWN,
    RawBackedProps,
    at,
    flag,
    number,
    plain,
    program_view,
)
from resilience_policies.rules import (
    dlq_alarm,
    sqs_partial_batch_response,
    sqs_visibility_timeout_ratio,
)
from resilience_policies.server import decode_struct

OPTIONS = PolicyResourceOptions(False, [], None, [], None, [], None)  # type: ignore[arg-type]


def sdk_stack_args(
    snapshots: list[ResourceSnapshot], config: dict[str, Any] | None = None
) -> StackValidationArgs:
    """StackValidationArgs exactly as the SDK's stock AnalyzeStack builds them."""
    resources = {
        snapshot.urn: PolicyResource(
            snapshot.type,
            unknown_checking_proxy(deserialize_properties(snapshot.properties)),
            snapshot.urn,
            snapshot.name,
            OPTIONS,
            None,
            None,
            [],
            {},
        )
        for snapshot in snapshots
    }
    for snapshot in snapshots:
        resource = resources[snapshot.urn]
        resource.parent = resources.get(snapshot.parent)
        resource.dependencies = [resources[u] for u in snapshot.dependencies if u in resources]
        resource.property_dependencies = {
            key: [resources[u] for u in urns if u in resources]
            for key, urns in snapshot.property_dependencies.items()
        }
    return StackValidationArgs(list(resources.values()), config)


def violations(policy: Any, args: Any) -> list[tuple[str, str | None]]:
    found: list[tuple[str, str | None]] = []
    policy.validate(args, lambda message, urn=None: found.append((message, urn)))
    return found


# -- the trap, and the way around it ---------------------------------------------------------


def test_the_sdk_proxy_raises_on_unknowns_and_plain_does_not() -> None:
    props = unknown_checking_proxy(
        deserialize_properties(
            {"eventSourceArn": UNKNOWN_STRING, "scalingConfig": {"maximumConcurrency": 5.0}}
        )
    )
    with pytest.raises(UnknownValueError):
        _ = props["eventSourceArn"]
    with pytest.raises(UnknownValueError):
        _ = props.get("eventSourceArn")
    with pytest.raises(UnknownValueError):
        dict(props)
    raw = plain(props)
    assert raw == {"eventSourceArn": UNKNOWN_STRING, "scalingConfig": {"maximumConcurrency": 5.0}}
    assert at(raw, "eventSourceArn") is UNKNOWN
    assert at(raw, "eventSourceArn", "deeper") is UNKNOWN
    assert at(raw, "functionName") is ABSENT
    assert number(raw, "scalingConfig", "maximumConcurrency") == 5.0


def test_raw_backed_props_behave_like_the_sdk_proxy_for_others() -> None:
    props = RawBackedProps({"name": UNKNOWN_STRING, "timeout": 3.0})
    assert props["timeout"] == 3.0
    with pytest.raises(UnknownValueError):
        _ = props["name"]
    assert sorted(props) == ["name", "timeout"]
    assert plain(props) is props.raw


def test_readings_of_absent_unknown_and_odd_values() -> None:
    data = {"flag": "true", "count": "12", "words": "x", "none": None, "list": [UNKNOWN_STRING]}
    assert flag(data, "flag") is True
    assert number(data, "count") == 12.0
    assert number(data, "words") is UNKNOWN  # not a number: cannot be judged
    assert at(data, "none") is ABSENT
    assert at(data, "list", 0) is UNKNOWN
    assert at(data, "list", 3) is ABSENT
    with pytest.raises(TypeError):
        bool(ABSENT)


# -- policies called through the SDK's objects -----------------------------------------------


def test_stack_policy_decides_a_preview_through_the_real_proxy() -> None:
    stack = active_active_stack()
    stack.named("tasks-eu-west-1-worker-queue").inputs["visibilityTimeoutSeconds"] = 100
    args = sdk_stack_args(stack.snapshots(preview=True))
    (found,) = violations(sqs_visibility_timeout_ratio.POLICY, args)
    assert "needs at least 6 x 30 + 1 = 181 s" in found[0]
    assert found[1] == stack.named("tasks-eu-west-1-worker-queue").urn


def test_stack_policy_config_is_validated_when_run_by_the_stock_sdk() -> None:
    args = sdk_stack_args(active_active_stack().snapshots(preview=True), {"maxThreshold": -5})
    with pytest.raises(PolicyConfigError, match="'maxThreshold' must be a number from 0"):
        violations(dlq_alarm.POLICY, args)


def test_resource_policy_through_the_real_proxy() -> None:
    props = unknown_checking_proxy(
        deserialize_properties({"eventSourceArn": UNKNOWN_STRING, "functionName": UNKNOWN_STRING})
    )
    args = ResourceValidationArgs(
        "aws:lambda/eventSourceMapping:EventSourceMapping", props, "urn:m", "m", OPTIONS, None
    )
    (found,) = violations(sqs_partial_batch_response.POLICY, args)
    assert "(SQS queue) does not set functionResponseTypes" in found[0]


def test_links_fall_back_to_known_arns_and_urls() -> None:
    """Without property dependencies (e.g. values copied from another stack's outputs), known
    ARNs, URLs and names still link a mapping to its queue and function, and a redrive to both
    of its queues."""
    stack = active_active_stack()
    stack.named("tasks-eu-west-1-worker-queue").inputs["visibilityTimeoutSeconds"] = 100
    del stack.named("tasks-eu-west-1-worker-dlq-depth").inputs["alarmActions"]
    snapshots = stack.snapshots(preview=False)
    for snapshot in snapshots:
        snapshot.property_dependencies = {}
    args = sdk_stack_args(snapshots)
    (found,) = violations(sqs_visibility_timeout_ratio.POLICY, args)
    assert found[1] == stack.named("tasks-eu-west-1-worker-queue").urn
    (alarm,) = violations(dlq_alarm.POLICY, args)
    assert alarm[1] == stack.named("tasks-eu-west-1-worker-dlq").urn
    assert "has no alarmActions" in alarm[0]


def test_a_bare_name_prefers_the_namesake_in_the_referrers_region() -> None:
    alarm_type, queue_type = "aws:cloudwatch/metricAlarm:MetricAlarm", "aws:sqs/queue:Queue"
    snapshots = [
        ResourceSnapshot("urn:q-us", queue_type, "q-us", {"region": "us-east-1", "name": "jobs"}),
        ResourceSnapshot("urn:q-eu", queue_type, "q-eu", {"region": "eu-west-1", "name": "jobs"}),
        ResourceSnapshot(
            "urn:alarm",
            alarm_type,
            "alarm",
            {"region": "eu-west-1", "dimensions": {"QueueName": "jobs"}},
        ),
    ]
    stack = StackModel(sdk_stack_args(snapshots).resources)
    alarm = stack.by_urn["urn:alarm"]
    assert [q.urn for q in stack.linked(alarm, "dimensions", [queue_type], "QueueName")] == [
        "urn:q-eu"
    ]


def test_model_is_built_once_per_resource_list() -> None:
    resources = sdk_stack_args(active_active_stack().snapshots(preview=True)).resources
    assert model_for(resources) is model_for(resources)
    assert model_for(list(resources)) is not model_for(resources)


def test_region_of_a_resource_without_region_is_the_default_one() -> None:
    snapshots = [
        ResourceSnapshot("urn:q", "aws:sqs/queue:Queue", "q", {}),
        ResourceSnapshot("urn:r", "aws:sqs/queue:Queue", "r", {"region": "eu-west-1"}),
        ResourceSnapshot("urn:s", "aws:sqs/queue:Queue", "s", {"region": UNKNOWN_STRING}),
    ]
    stack = StackModel(sdk_stack_args(snapshots).resources)
    assert [resource.region for resource in stack.resources] == [
        DEFAULT_REGION,
        "eu-west-1",
        model_module.UNKNOWN_REGION,
    ]


@pytest.mark.parametrize(
    ("value", "names"),
    [
        ("arn:aws:sqs:eu-west-1:123456789012:jobs", [("jobs", "eu-west-1")]),
        ("https://sqs.eu-west-1.amazonaws.com/123456789012/jobs", [("jobs", "eu-west-1")]),
        ("arn:aws:lambda:us-east-1:123456789012:function:api:live", [("api", "us-east-1")]),
        (
            "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
            "arn:aws:lambda:us-east-1:123456789012:function:api/invocations",
            [("api", "us-east-1")],
        ),
        ("arn:aws:dynamodb:us-east-1:1:table/tasks/stream/2026", [("tasks", "us-east-1")]),
        ("arn:aws:iam::123456789012:role/service/worker-role", [("worker-role", None)]),
        (
            "arn:aws:logs:us-east-1:1:log-group:/aws/lambda/api:*",
            [("/aws/lambda/api", "us-east-1")],
        ),
        ("123456789012:function:api", [("api", None)]),
        ("plain-name", [("plain-name", None)]),
    ],
)
def test_identifier_names(value: str, names: list[tuple[str, str | None]]) -> None:
    assert identifier_names(value) == names


@pytest.mark.parametrize(
    ("props", "kind"),
    [
        ({"eventSourceArn": UNKNOWN_STRING}, SQS),
        ({"eventSourceArn": UNKNOWN_STRING, "startingPosition": "LATEST"}, STREAM),
        ({"eventSourceArn": "arn:aws:kinesis:eu-west-1:1:stream/s"}, "kinesis"),
        ({"eventSourceArn": "arn:aws:dynamodb:eu-west-1:1:table/t/stream/x"}, "dynamodb"),
        ({"eventSourceArn": "arn:aws:mq:eu-west-1:1:broker:b", "queues": ["q"]}, OTHER_SOURCE),
        (
            {"selfManagedEventSource": {}, "topics": ["t"], "startingPosition": "LATEST"},
            OTHER_SOURCE,
        ),
    ],
)
def test_source_kind_from_the_mapping_alone(props: dict[str, Any], kind: str) -> None:
    assert mapping_kind_from_inputs(props) == kind


# -- configuration ---------------------------------------------------------------------------

SPEC = ConfigSpec(
    "example",
    (
        Setting("count", "integer", 5, "how many", minimum=1, maximum=10),
        Setting("names", "string_list", ("a",), "which", choices=("a", "b")),
        Setting("enabled", "boolean", True, "on or off"),
    ),
)


def test_config_defaults_and_typed_values() -> None:
    assert SPEC.resolve(None) == {"count": 5, "names": ("a",), "enabled": True}
    resolved = SPEC.resolve({"count": 7.0, "names": ["b"], "enforcementLevel": "mandatory"})
    assert resolved == {"count": 7, "names": ("b",), "enabled": True}
    assert isinstance(resolved["count"], int)


def test_config_problems_name_policy_key_and_fix() -> None:
    problems = SPEC.problems({"count": 11, "names": ["c"], "enabled": "yes", "extra": 1})
    assert problems == [
        "policy 'example': unknown config key 'extra'; remove it or fix its spelling (this "
        "policy's keys: 'count', 'names', 'enabled').",
        "policy 'example': config key 'count' must be a whole number from 1 to 10; got 11. "
        "Fix: set 'count' to a whole number from 1 to 10, e.g. 5 (the default), or remove it.",
        "policy 'example': config key 'names' must be a list of non-empty strings (items one of "
        '"a", "b"); got "c". Fix: set \'names\' to a list of non-empty strings, e.g. ["a"] (the '
        "default), or remove it.",
        "policy 'example': config key 'enabled' must be true or false; got \"yes\" (a string). "
        "Fix: set 'enabled' to true or false, e.g. true (the default), or remove it.",
    ]


def test_config_schema_is_json_schema() -> None:
    schema = SPEC.schema()
    assert schema is not None
    assert schema.properties["count"] == {
        "type": "integer",
        "default": 5,
        "description": "how many",
        "minimum": 1,
        "maximum": 10,
    }
    assert schema.properties["names"]["items"] == {
        "type": "string",
        "minLength": 1,
        "enum": ["a", "b"],
    }
    assert ConfigSpec("nothing").schema() is None


def test_a_default_outside_its_own_bounds_is_a_programming_error() -> None:
    with pytest.raises(AssertionError, match="default got 0"):
        ConfigSpec("broken", (Setting("count", "integer", 0, "x", minimum=1),))


# -- what the program set vs what the provider plans ------------------------------------------


def test_program_view_tells_not_set_from_computed() -> None:
    """AnalyzeStack's planned state makes both unknown; Analyze's checked inputs tell them apart."""
    state = {
        "redrivePolicy": UNKNOWN_STRING,  # not set: the provider computes it
        "redriveAllowPolicy": UNKNOWN_STRING,
        "arn": UNKNOWN_STRING,
        "visibilityTimeoutSeconds": 181.0,
        "dimensions": UNKNOWN_STRING,  # a map the plan blanked
        "region": "eu-west-1",  # computed from the provider, known
        "destinationConfig": {"onFailure": {"destinationArn": UNKNOWN_STRING}},
    }
    inputs = {
        "visibilityTimeoutSeconds": 181.0,
        "dimensions": {"QueueName": UNKNOWN_STRING, "Stage": "v1"},
        "destinationConfig": {
            "onFailure": {"destinationArn": UNKNOWN_STRING, "__defaults": []},
            "__defaults": [],
        },
    }
    view = program_view(inputs, state)
    assert at(view, "redrivePolicy") is ABSENT and at(view, "redriveAllowPolicy") is ABSENT
    assert "arn" not in view
    assert view["region"] == "eu-west-1"
    assert view["dimensions"] == {"QueueName": UNKNOWN_STRING, "Stage": "v1"}
    assert at(view, "destinationConfig", "onFailure", "destinationArn") is UNKNOWN
    assert "__defaults" not in view["destinationConfig"]
    assert program_view(None, state) is state, "no Analyze call: the state as it is"


def test_program_view_prefers_what_the_provider_knows() -> None:
    view = program_view({"name": "Api.Example.com."}, {"name": "api.example.com", "ttl": 60.0})
    assert view == {"name": "api.example.com", "ttl": 60.0}


@pytest.mark.parametrize("shape", ["inputs", "engine-preview", "outputs-only"])
def test_decode_struct_matches_the_sdks_decoding(shape: str) -> None:
    """The pack's fast decoding gives what deserialize_properties(MessageToDict(...)) gives."""
    stack = active_active_stack()
    if shape == "inputs":
        snapshots = stack.snapshots(preview=True)
    else:
        analyze, snapshots = stack.engine_snapshots(shape)
        snapshots = snapshots + analyze
    request = PolicyPackProcess.stack_request(snapshots)
    for resource in request.resources:
        ours = decode_struct(resource.properties)
        sdk = deserialize_properties(json_format.MessageToDict(resource.properties))
        assert _comparable(ours) == _comparable(sdk), resource.urn


def _comparable(value: Any) -> Any:
    """Assets and archives are compared by kind (they have no equality of their own)."""
    if isinstance(value, dict):
        return {key: _comparable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_comparable(item) for item in value]
    if type(value).__module__ == "pulumi.asset":
        return type(value).__name__
    return value
