"""The offline tool's pure parts, in-process (no mocks, no packs): stack config, provider
function answers, plausible outputs, the policy config format and the resilience numbers."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest
from offline_harness import REPO

if str(REPO) not in sys.path:
    sys.path.append(str(REPO))

import pulumi_aws  # noqa: F401 - registers the aws resource modules output_names looks up
from pulumi.runtime.rpc import UNKNOWN

from offline.engine.fake_outputs import ACCOUNT_ID, ResourceFacts, plausible_outputs
from offline.engine.project import SECRET_PLACEHOLDER, load_stack
from offline.engine.provider_calls import answer_provider_call
from offline.engine.recording import Registration
from offline.errors import ProjectError, UsageError
from offline.policy.policy_runner import effective_level, parse_pack_config
from offline.reports.resilience import summarize


def write_project(folder: Path, project: str, stack: str, name: str = "dev") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Pulumi.yaml").write_text(textwrap.dedent(project))
    (folder / f"Pulumi.{name}.yaml").write_text(textwrap.dedent(stack))
    (folder / "__main__.py").write_text("")
    return folder


PROJECT = """
    name: shop
    runtime:
      name: python
      options:
        toolchain: pip
    config:
      regions:
        type: array
        items:
          type: string
      retries:
        type: integer
        default: 3
      verbose: false
      aws:region: eu-west-1
"""


# -- stack config ---------------------------------------------------------------------------


def test_config_reaches_the_program_as_the_language_host_passes_it(tmp_path: Path) -> None:
    folder = write_project(
        tmp_path,
        PROJECT,
        """
        config:
          shop:regions: [us-east-1, eu-west-1]
          shop:apiKey:
            secure: AAABAJ1dGhpcyBpcyBjaXBoZXJ0ZXh0
          shop:limits:
            burst: 200
            token:
              secure: AAABAmore
          aws:region: us-east-1
        """,
    )
    stack = load_stack(folder, "dev")
    assert stack.project_name == "shop" and stack.stack == "dev"
    assert stack.program_file == folder.resolve() / "__main__.py"
    assert json.loads(stack.config["shop:regions"]) == ["us-east-1", "eu-west-1"]
    assert stack.config["shop:retries"] == "3"  # the default, typed integer
    assert stack.config["shop:verbose"] == "false"  # bare key: the project's namespace
    assert stack.config["aws:region"] == "us-east-1"  # the stack overrides the project value
    assert stack.default_region == "us-east-1"
    assert stack.config["shop:apiKey"] == SECRET_PLACEHOLDER
    assert json.loads(stack.config["shop:limits"]) == {"burst": 200, "token": SECRET_PLACEHOLDER}
    assert stack.secret_keys == ["shop:apiKey", "shop:limits"]


def test_the_only_stack_is_picked_when_none_is_named(tmp_path: Path) -> None:
    folder = write_project(tmp_path, PROJECT, "config:\n  shop:regions: [a, b]\n", name="qa")
    assert load_stack(folder, None).stack == "qa"


@pytest.mark.parametrize(
    ("stack", "message"),
    [
        ("config:\n  shop:regions: us-east-1\n", "'shop:regions' must be of type 'array<string>'"),
        ("config:\n  shop:regions: [us-east-1, 3]\n", "'shop:regions[1]' must be of type 'string'"),
        (
            "config:\n  shop:regions: [a]\n  shop:retries: many\n",
            "'shop:retries' must be of type 'integer'",
        ),
        (
            "config:\n  shop:regions: [a]\n  shop:verbose: maybe\n",
            "'shop:verbose' must be of type 'boolean'",
        ),
        ("config:\n  shop:retries: 2\n", "missing configuration value 'shop:regions'"),
        ("config:\n  regions: [a]\n", "write it as 'shop:regions'"),
        ("config:\n  shop:regions: [a\n", "Pulumi.dev.yaml is not valid YAML at line"),
    ],
)
def test_bad_stack_config_names_the_key_and_the_fix(
    tmp_path: Path, stack: str, message: str
) -> None:
    folder = write_project(tmp_path, PROJECT, stack)
    with pytest.raises(ProjectError) as raised:
        load_stack(folder, "dev")
    assert message in str(raised.value)


def test_secret_declared_in_the_project_must_be_encrypted(tmp_path: Path) -> None:
    project = PROJECT + "      token:\n        type: string\n        secret: true\n"
    folder = write_project(tmp_path, project, "config:\n  shop:regions: [a]\n  shop:token: plain\n")
    with pytest.raises(ProjectError, match=r"declared secret in Pulumi\.yaml"):
        load_stack(folder, "dev")


def test_non_python_projects_are_refused(tmp_path: Path) -> None:
    folder = write_project(tmp_path, "name: web\nruntime: nodejs\n", "config: {}\n")
    with pytest.raises(ProjectError, match="Python programs only"):
        load_stack(folder, "dev")


# -- provider functions ---------------------------------------------------------------------


def test_policy_document_renders_real_iam_json() -> None:
    answer = answer_provider_call(
        "aws:iam/getPolicyDocument:getPolicyDocument",
        {
            "statements": [
                {
                    "sid": "Read",
                    "actions": ["sqs:ReceiveMessage"],
                    "resources": [
                        "arn:aws:sqs:us-east-1:123456789012:work",
                        "arn:aws:sqs:us-east-1:123456789012:dlq",
                    ],
                    "conditions": [
                        {"test": "Bool", "variable": "aws:SecureTransport", "values": ["true"]}
                    ],
                },
                {
                    "effect": "Allow",
                    "actions": ["sts:AssumeRole"],
                    "principals": [{"type": "Service", "identifiers": ["lambda.amazonaws.com"]}],
                },
            ]
        },
        None,
    )
    document = json.loads(answer["json"])
    assert document == json.loads(answer["minifiedJson"])
    assert document["Version"] == "2012-10-17"
    first, second = document["Statement"]
    assert first == {
        "Sid": "Read",
        "Effect": "Allow",
        "Action": "sqs:ReceiveMessage",
        "Resource": [
            "arn:aws:sqs:us-east-1:123456789012:work",
            "arn:aws:sqs:us-east-1:123456789012:dlq",
        ],
        "Condition": {"Bool": {"aws:SecureTransport": "true"}},
    }
    assert second["Principal"] == {"Service": "lambda.amazonaws.com"}


def test_zone_region_identity_and_zones() -> None:
    zone = answer_provider_call("aws:route53/getZone:getZone", {"name": "example.com."}, None)
    again = answer_provider_call("aws:route53/getZone:getZone", {"name": "example.com"}, None)
    assert zone["zoneId"] == again["zoneId"] and zone["zoneId"].startswith("Z")
    assert zone["name"] == "example.com"
    assert (
        answer_provider_call("aws:index/getRegion:getRegion", {}, "eu-west-1")["name"]
        == "eu-west-1"
    )
    assert (
        answer_provider_call("aws:index/getRegion:getRegion", {"region": "us-west-2"}, "eu-west-1")[
            "region"
        ]
        == "us-west-2"
    )
    identity = answer_provider_call("aws:index/getCallerIdentity:getCallerIdentity", {}, None)
    assert identity["accountId"] == ACCOUNT_ID
    zones = answer_provider_call(
        "aws:index/getAvailabilityZones:getAvailabilityZones", {}, "ap-southeast-2"
    )
    assert zones["names"] == ["ap-southeast-2a", "ap-southeast-2b", "ap-southeast-2c"]
    assert zones["zoneIds"][0] == "apse2-az1"


def test_provider_function_of_another_package_names_its_token() -> None:
    with pytest.raises(Exception, match="'gcp:compute/getNetwork:getNetwork'"):
        answer_provider_call("gcp:compute/getNetwork:getNetwork", {}, "us-east-1")


# -- plausible outputs (update mode) --------------------------------------------------------


def _facts(type_token: str, logical_name: str, **inputs: object) -> ResourceFacts:
    return ResourceFacts(
        type=type_token,
        name=logical_name,
        urn=f"urn:pulumi:dev::shop::{type_token}::{logical_name}",
        region="eu-west-1",
        inputs=inputs,
    )


def test_plausible_outputs_have_the_right_shape_per_type() -> None:
    queue_id, queue = plausible_outputs(_facts("aws:sqs/queue:Queue", "work"))
    assert queue["arn"].startswith(f"arn:aws:sqs:eu-west-1:{ACCOUNT_ID}:work-")
    assert (
        queue["url"]
        == queue_id
        == f"https://sqs.eu-west-1.amazonaws.com/{ACCOUNT_ID}/{queue['name']}"
    )
    _, function = plausible_outputs(_facts("aws:lambda/function:Function", "api", name="api-fn"))
    assert "name" not in function, "a chosen name is an input, not a computed output"
    assert function["arn"] == f"arn:aws:lambda:eu-west-1:{ACCOUNT_ID}:function:api-fn"
    assert function["invokeArn"].endswith(f"functions/{function['arn']}/invocations")
    _, role = plausible_outputs(_facts("aws:iam/role:Role", "worker"))
    assert role["arn"].startswith(f"arn:aws:iam::{ACCOUNT_ID}:role/worker-")
    _, cert = plausible_outputs(
        _facts("aws:acm/certificate:Certificate", "cert", domainName="api.example.com")
    )
    assert cert["domainValidationOptions"][0]["resourceRecordName"].endswith(".api.example.com.")
    again = plausible_outputs(_facts("aws:sqs/queue:Queue", "work"))
    assert again == (queue_id, queue), "outputs are stable from run to run"


# -- --policy-pack-config -------------------------------------------------------------------


def test_policy_pack_config_accepts_the_cli_format(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(
        json.dumps(
            {
                "all": "advisory",
                "sqs-dead-letter-queue": "mandatory",
                "sqs-visibility-timeout-ratio": {"enforcementLevel": "disabled", "ratio": 8},
                "dlq-alarm": {"maxThreshold": 1},
            }
        )
    )
    config = parse_pack_config(path)
    assert effective_level("sqs-dead-letter-queue", "advisory", config) == "mandatory"
    assert effective_level("sqs-visibility-timeout-ratio", "mandatory", config) == "disabled"
    assert effective_level("dlq-alarm", "mandatory", config) == "advisory"  # from "all"
    assert effective_level("dlq-alarm", "mandatory", {}) == "mandatory"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"dlq-alarm": "loud"}', '"dlq-alarm": "loud" is not an enforcement level'),
        ('{"dlq-alarm": {"enforcementLevel": 3}}', '"dlq-alarm".enforcementLevel: 3 is not'),
        ('["dlq-alarm"]', "must be a JSON object keyed by policy name"),
        ('{"dlq-alarm": 1}', '"dlq-alarm" must be an enforcement level or an object'),
        ('{"dlq-alarm": ', "not valid JSON (line 1"),
    ],
)
def test_policy_pack_config_errors_name_the_file_and_the_entry(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "config.json"
    path.write_text(content)
    with pytest.raises(UsageError) as raised:
        parse_pack_config(path)
    assert str(path) in str(raised.value) and message in str(raised.value)


# -- resilience numbers ---------------------------------------------------------------------


def _registration(
    type_token: str,
    name: str,
    region: str | None,
    inputs: dict,
    deps: dict[str, list[str]] | None = None,
) -> Registration:
    return Registration(
        sequence=0,
        urn=f"urn:{name}",
        type=type_token,
        name=name,
        parent="",
        custom=True,
        dependencies=[],
        property_dependencies=deps or {},
        inputs=inputs,
        region=region,
    )


def test_summary_links_through_property_dependencies_not_arns() -> None:
    resources = [
        _registration("aws:lambda/function:Function", "worker", "us-east-1", {"timeout": 60.0}),
        _registration(
            "aws:sqs/queue:Queue", "work", "us-east-1", {"visibilityTimeoutSeconds": 300.0}
        ),
        _registration(
            "aws:sqs/queue:Queue", "dlq", "us-east-1", {"messageRetentionSeconds": 1209600.0}
        ),
        _registration(
            "aws:lambda/eventSourceMapping:EventSourceMapping",
            "mapping",
            "us-east-1",
            {
                "eventSourceArn": UNKNOWN,
                "functionName": UNKNOWN,
                "maximumBatchingWindowInSeconds": 5.0,
            },
            {"eventSourceArn": ["urn:work"], "functionName": ["urn:worker"]},
        ),
        _registration(
            "aws:sqs/redrivePolicy:RedrivePolicy",
            "redrive",
            "us-east-1",
            {"queueUrl": UNKNOWN, "redrivePolicy": UNKNOWN},
            {"queueUrl": ["urn:work"], "redrivePolicy": ["urn:dlq"]},
        ),
        _registration(
            "aws:route53/healthCheck:HealthCheck",
            "health",
            None,
            {"requestInterval": 10.0, "failureThreshold": 2.0},
        ),
        _registration(
            "aws:route53/record:Record",
            "latency",
            None,
            {
                "latencyRoutingPolicies": [{"region": "us-east-1"}],
                "healthCheckId": UNKNOWN,
                "aliases": [{"name": UNKNOWN, "zoneId": UNKNOWN, "evaluateTargetHealth": True}],
            },
            {"healthCheckId": ["urn:health"]},
        ),
    ]
    region = summarize(resources)["us-east-1"]
    consumer = region.queue_consumers[0]
    assert (consumer.queue, consumer.function) == ("work", "worker")
    assert consumer.required_visibility_timeout_s == 6 * 60 + 5
    assert consumer.ok is False and consumer.ratio == 5.0
    redrive = region.redrives[0]
    assert (redrive.queue, redrive.dead_letter_queue) == ("work", "dlq")
    assert redrive.max_receive_count.value is None  # unknown at preview
    assert redrive.queue_retention_s.source == "default"
    failover = region.failovers[0]
    assert failover.health_check == "health"
    assert failover.estimated_failover_s == 10 * 2 + 60
