"""Kinds of program public projects write that the pack once judged wrongly, or that the offline
preview refused, each run in every shape where its class can be decided:

- an HTTP API integration left at AWS's default timeout (30 000 ms, not 0 in a known state);
- an SQS consumer taking one message per batch (a partial batch response changes nothing);
- a Kinesis consumer alarmed at ten minutes on records that live an hour;
- provider functions given a boolean as a string, and a plain policy document holding an ARN
  that is unknown at preview;
- a lookup of a resource the program itself creates (not found on a new stack).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from offline_harness import PROGRAMS, OfflineRun, run_offline

from offline.engine.engine_shape import schema_for
from offline.engine.fake_outputs import ResourceFacts, known_state
from offline.engine.provider_defaults import (
    DERIVED_OUTPUTS,
    PROVIDER_DEFAULTS,
    REQUIRED_INPUTS,
    has_row,
)
from resilience_policies import thresholds
from resilience_policies.pack import RULE_MODULES

#: Every mode whose state the rules judge: a new stack's preview, a deployed stack, the raw
#: inputs and the known state alone.
ALL_MODES = ("preview", "update", "inputs", "outputs-only")


def run(program: str, mode: str, tmp_path: Path) -> OfflineRun:
    return run_offline(
        "--cwd", PROGRAMS / program, "--stack", "dev", "--mode", mode, out_dir=tmp_path
    )


def violations_of(result: OfflineRun, policy: str) -> list[dict[str, Any]]:
    return [v for v in result.violations if v["policy"] == policy]


@pytest.mark.parametrize("mode", ALL_MODES)
def test_http_api_integration_at_the_default_timeout_passes(mode: str, tmp_path: Path) -> None:
    result = run("verdict-http-api-default-timeout", mode, tmp_path)
    assert result.exit_code == 0, result.describe()
    assert violations_of(result, "api-integration-timeout") == [], result.describe()
    assert "gives up after 0 ms" not in result.stdout
    assert result.report is not None
    integrations = [
        r
        for r in result.report["resources"]
        if r["type"] == "aws:apigatewayv2/integration:Integration"
    ]
    assert len(integrations) == 2
    assert all("timeoutMilliseconds" not in r["inputs"] for r in integrations)


@pytest.mark.parametrize("mode", ALL_MODES)
def test_sqs_consumer_with_batches_of_one_needs_no_partial_batch_response(
    mode: str, tmp_path: Path
) -> None:
    result = run("verdict-sqs-batch-of-one", mode, tmp_path)
    assert result.exit_code == 0, result.describe()
    assert violations_of(result, "sqs-partial-batch-response") == [], result.describe()


@pytest.mark.parametrize("mode", ALL_MODES)
def test_iterator_alarm_within_the_record_age_passes(mode: str, tmp_path: Path) -> None:
    result = run("verdict-iterator-alarm-on-record-age", mode, tmp_path)
    assert result.exit_code == 0, result.describe()
    assert violations_of(result, "kinesis-iterator-age-alarm") == [], result.describe()


@pytest.mark.parametrize("mode", ALL_MODES)
def test_function_arguments_are_typed_and_unknowns_left_out(mode: str, tmp_path: Path) -> None:
    result = run("verdict-typed-function-arguments", mode, tmp_path)
    assert result.exit_code == 0, result.describe()
    assert result.report is not None
    outputs = result.report["summary"]["outputs"]
    # "true" read as the provider reads it, and answered as a bool.
    assert outputs["mostRecent"] is True
    assert outputs["amiArchitecture"] == "arm64"
    statement = outputs["statement"]
    assert statement["Sid"] == "Publish"
    assert statement["Action"] == "sns:Publish"
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    calls = {call["token"]: call for call in result.report["providerCalls"]}
    arguments = calls["aws:iam/getPolicyDocument:getPolicyDocument"]["arguments"]
    (resource,) = arguments["statements"][0]["resources"]
    if mode in ("preview", "inputs"):
        # The topic's ARN is unknown: the engine leaves it out, the provider renders the rest.
        assert "Resource" not in statement
        assert resource == "[unknown at preview]"
    else:
        assert statement["Resource"].startswith("arn:aws:sns:eu-west-1:123456789012:alerts-")
        assert resource == statement["Resource"]


@pytest.mark.parametrize("mode", ALL_MODES)
def test_lookup_of_the_programs_own_resource_is_reported(mode: str, tmp_path: Path) -> None:
    result = run("verdict-own-resource-lookup", mode, tmp_path)
    assert result.exit_code == 0, result.describe()
    assert result.report is not None
    by_name = {call["arguments"]["name"]: call for call in result.report["providerCalls"]}
    own = by_name["ops-alerts"]["notFoundOnNewStack"]
    assert own["urn"].endswith("aws:sns/topic:Topic::alerts")
    assert own["reason"].startswith("would not be found on a new stack")
    assert "notFoundOnNewStack" not in by_name["billing-alerts"]
    assert 'aws:sns/getTopic:getTopic (name="ops-alerts") would not be found on a new stack' in (
        result.stdout
    )
    json.dumps(result.report)  # the report stays plain JSON
    # The auto-named topic, looked up by its name (`<logical name>-<7 hex>`): the provider's
    # Check gives the name, known at preview; only the pre-model `inputs` shape leaves it unknown.
    jobs_lookups = [name for name in by_name if name.startswith("jobs-")]
    if mode == "inputs":
        assert jobs_lookups == []
        return
    (jobs,) = jobs_lookups
    assert by_name[jobs]["notFoundOnNewStack"]["urn"].endswith("aws:sns/topic:Topic::jobs")


# -- the properties rules read have AWS's defaults in the known states -------------------------

#: The props helpers a rule reads a resource's property through.
_READERS = frozenset({"at", "number", "flag", "text", "items", "json_document"})
#: Rules that do not declare READS yet: none, every rule does (never grows: see the test).
UNDECLARED: frozenset[str] = frozenset()


def _rule(module: str) -> ModuleType:
    return importlib.import_module(f"resilience_policies.rules.{module}")


def _properties_read(module: str) -> set[str]:
    """The top-level properties the rule's source reads from a resource's `props`."""
    source = inspect.getsource(_rule(module))
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in _READERS
            and len(node.args) >= 2
        ):
            continue
        container, key = node.args[0], node.args[1]
        from_props = (isinstance(container, ast.Attribute) and container.attr == "props") or (
            isinstance(container, ast.Name) and container.id == "props"
        )
        if from_props and isinstance(key, ast.Constant) and isinstance(key.value, str):
            found.add(key.value)
    return found


@pytest.mark.parametrize("module", sorted(set(RULE_MODULES) - UNDECLARED))
def test_a_rule_declares_every_property_it_reads(module: str) -> None:
    declared = {prop for _type, prop in _rule(module).READS}
    assert _properties_read(module) <= declared


@pytest.mark.parametrize("module", sorted(set(RULE_MODULES) - UNDECLARED))
def test_every_computed_property_a_rule_reads_has_aws_default(module: str) -> None:
    missing = []
    for type_token, prop in _rule(module).READS:
        schema = schema_for(type_token)
        assert schema is not None and prop in schema.properties, (type_token, prop)
        computed_input = schema.properties[prop].computed and prop in schema.inputs
        explained = (
            has_row(type_token, prop)
            or (type_token, prop) in REQUIRED_INPUTS
            or (type_token, prop) in DERIVED_OUTPUTS
        )
        if computed_input and not explained:
            missing.append((type_token, prop))
    assert missing == [], "add a row to offline/engine/provider_defaults.py (with its source)"


def test_undeclared_rules_really_lack_reads() -> None:
    assert all(not hasattr(_rule(module), "READS") for module in UNDECLARED)


def test_every_row_names_a_real_property_and_cites_its_source() -> None:
    for row in PROVIDER_DEFAULTS:
        schema = schema_for(row.type)
        assert schema is not None and row.path in schema.properties, row
        assert row.source.startswith("https://") or "terraform-provider-aws" in row.source, row


def test_known_state_takes_aws_defaults_not_empty_values() -> None:
    integration = ResourceFacts(
        type="aws:apigatewayv2/integration:Integration",
        name="api-integration",
        urn="urn:pulumi:dev::p::aws:apigatewayv2/integration:Integration::api-integration",
        region="eu-west-1",
        inputs={"apiId": "a1b2c3d4e5", "integrationType": "AWS_PROXY"},
    )
    _id, state = known_state(integration)
    assert state["timeoutMilliseconds"] == thresholds.HTTP_API_INTEGRATION_TIMEOUT_MS
    mapping = ResourceFacts(
        type="aws:lambda/eventSourceMapping:EventSourceMapping",
        name="worker",
        urn="urn:pulumi:dev::p::aws:lambda/eventSourceMapping:EventSourceMapping::worker",
        region="eu-west-1",
        inputs={"eventSourceArn": "arn:aws:kinesis:eu-west-1:123456789012:stream/events"},
    )
    _id, state = known_state(mapping)
    assert state["batchSize"] == thresholds.STREAM_DEFAULT_BATCH_SIZE
    assert state["maximumRecordAgeInSeconds"] == -1
    queue_mapping = ResourceFacts(
        **{**mapping.__dict__, "inputs": {"eventSourceArn": "arn:aws:sqs:eu-west-1:1:jobs"}}
    )
    assert known_state(queue_mapping)[1]["batchSize"] == thresholds.SQS_DEFAULT_BATCH_SIZE
    # Given by the program: its value, never the default.
    given = ResourceFacts(**{**integration.__dict__, "inputs": {"timeoutMilliseconds": 5000}})
    assert known_state(given)[1]["timeoutMilliseconds"] == 5000
