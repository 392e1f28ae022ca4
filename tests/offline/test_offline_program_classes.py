"""Kinds of Pulumi program `pulumi preview` accepts, run offline as CI runs them (a subprocess):
one calling provider functions (well-known ones and ones answered from the SDK's result types),
one that catches a failed provider function and carries on (exit 2, not a silent pass), and one
reading another stack's outputs through a stack reference (unknown in preview, from
`--stack-outputs` in update mode).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from offline_harness import PROGRAMS, OfflineRun, run_offline

MODES = ("preview", "update")
ACCOUNT = "123456789012"
NETWORK_STACK = "acme/network/dev"


def outputs(run: OfflineRun) -> dict[str, Any]:
    assert run.report is not None, run.describe()
    return dict(run.report["summary"]["outputs"])


def unknown(run: OfflineRun) -> str:
    assert run.report is not None, run.describe()
    return str(run.report["summary"]["unknown_value"])


def calls_by_token(run: OfflineRun) -> dict[str, dict[str, Any]]:
    assert run.report is not None, run.describe()
    return {call["token"]: call for call in run.report["providerCalls"]}


def assert_clean_verdict(run: OfflineRun) -> None:
    """These programs are not about resilience: the pack has nothing to object to."""
    assert run.exit_code == 0, run.describe()
    assert run.violations == [], run.describe()


# -- provider functions ------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_provider_functions_are_answered_with_their_declared_shapes(
    mode: str, tmp_path: Path
) -> None:
    run = run_offline(
        "--cwd", PROGRAMS / "provider-functions", "--stack", "dev", "--mode", mode, out_dir=tmp_path
    )
    assert_clean_verdict(run)

    exported = outputs(run)
    assert exported["accountId"] == ACCOUNT
    assert re.fullmatch(r"ami-[0-9a-f]{17}", exported["amiId"]), exported
    # The requested name filter, its wildcard filled in.
    assert exported["amiName"].startswith("al2023-ami-2023.")
    assert exported["amiName"].endswith("-x86_64")
    assert exported["amiArchitecture"] == "x86_64"
    assert re.fullmatch(r"vpc-[0-9a-f]{17}", exported["vpcId"]), exported
    assert exported["vpcCidr"] == "172.31.0.0/16"
    # One subnet per availability zone of the stack's region.
    assert len(exported["subnetIds"]) == 3
    assert all(re.fullmatch(r"subnet-[0-9a-f]{17}", s) for s in exported["subnetIds"])
    assert exported["certificateArn"].startswith(f"arn:aws:acm:eu-west-1:{ACCOUNT}:certificate/")
    assert exported["certificateStatus"] == "ISSUED"
    # Answered generically from GetInstanceTypeResult: the argument echoed, the rest typed.
    assert exported["instanceType"] == "t3.micro"
    assert isinstance(exported["vcpus"], int | float)
    assert exported["servers"] == 3
    assert json.loads(exported["summary"]) == {"domain": "shop.example.com", "servers": 3}

    calls = calls_by_token(run)
    assert {token: call["answer"] for token, call in calls.items()} == {
        "aws:index/getCallerIdentity:getCallerIdentity": "well-known",
        "aws:ec2/getAmi:getAmi": "well-known",
        "aws:ec2/getVpc:getVpc": "well-known",
        "aws:ec2/getSubnets:getSubnets": "well-known",
        "aws:acm/getCertificate:getCertificate": "well-known",
        "aws:ec2/getInstanceType:getInstanceType": "generic",
        "aws:ssm/getParameter:getParameter": "generic",
    }
    assert calls["aws:ec2/getVpc:getVpc"]["arguments"] == {"default": True}
    assert calls["aws:ec2/getAmi:getAmi"]["arguments"]["owners"] == ["amazon"]
    assert calls["aws:ec2/getSubnets:getSubnets"]["arguments"]["filters"] == [
        {"name": "vpc-id", "values": [exported["vpcId"]]}
    ]
    assert calls["aws:ssm/getParameter:getParameter"]["arguments"] == {
        "name": "/platform/admin-cidr"
    }
    assert all(call["region"] == "eu-west-1" for call in calls.values())
    assert all("failure" not in call for call in calls.values())

    assert "Provider functions answered offline:" in run.stdout
    assert re.search(r"aws:ssm/getParameter:getParameter\s+generic\s+name=", run.stdout)

    # The answers reach the resources built on them.
    assert run.report is not None
    instances = [r for r in run.report["resources"] if r["type"] == "aws:ec2/instance:Instance"]
    assert sorted(i["inputs"]["subnetId"] for i in instances) == sorted(exported["subnetIds"])
    assert {i["inputs"]["ami"] for i in instances} == {exported["amiId"]}


# -- a failed provider function the program catches ---------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_caught_provider_failure_ends_the_run_naming_the_function(
    mode: str, tmp_path: Path
) -> None:
    run = run_offline(
        "--cwd",
        PROGRAMS / "caught-provider-failure",
        "--stack",
        "dev",
        "--mode",
        mode,
        out_dir=tmp_path,
    )
    assert run.exit_code == 2, run.describe()
    assert "provider function 'aws:ssm/getParameter:getParameter' failed" in run.stderr
    assert "missing required argument 'name'" in run.stderr
    assert "The program caught the error" in run.stderr
    assert "Traceback" not in run.stderr, run.describe()
    assert run.report is None, "no report is written for a failed run"


# -- stack references ------------------------------------------------------------------------------


def _stack_outputs(tmp_path: Path, content: object) -> Path:
    path = tmp_path / "stack-outputs.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


NETWORK_OUTPUTS = {
    NETWORK_STACK: {
        "vpcId": "vpc-0a1b2c3d4e5f60718",
        "privateSubnetIds": ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"],
    }
}


def _run_stack_reference(tmp_path: Path, mode: str, *extra: str | Path) -> OfflineRun:
    return run_offline(
        "--cwd",
        PROGRAMS / "stack-reference",
        "--stack",
        "dev",
        "--mode",
        mode,
        *extra,
        out_dir=tmp_path / "out",
    )


def test_stack_reference_outputs_are_unknown_in_preview(tmp_path: Path) -> None:
    # Even with a file: a preview of a new stack computes nothing from elsewhere.
    given = _stack_outputs(tmp_path, NETWORK_OUTPUTS)
    run = _run_stack_reference(tmp_path, "preview", "--stack-outputs", given)
    assert_clean_verdict(run)
    exported = outputs(run)
    for name in ("vpcId", "subnetCount", "firstSubnet", "flowLogBucket", "securityGroupVpc"):
        assert exported[name] == unknown(run), exported
    assert run.report is not None
    [reference] = run.report["stackReferences"]
    assert reference["stack"] == NETWORK_STACK
    assert reference["known"] is False
    assert "preview" in reference["reason"]
    assert f"{NETWORK_STACK}: outputs unknown" in run.stdout


def test_stack_reference_outputs_come_from_the_file_in_update_mode(tmp_path: Path) -> None:
    given = _stack_outputs(tmp_path, NETWORK_OUTPUTS)
    run = _run_stack_reference(tmp_path, "update", "--stack-outputs", given)
    assert_clean_verdict(run)
    exported = outputs(run)
    assert exported["vpcId"] == "vpc-0a1b2c3d4e5f60718"
    assert exported["securityGroupVpc"] == "vpc-0a1b2c3d4e5f60718"
    # Through an apply.
    assert exported["subnetCount"] == 2
    assert exported["firstSubnet"] == "subnet-0a1b2c3d4e5f60001"
    # Not in the file: unknown, not None, and listed.
    assert exported["flowLogBucket"] == unknown(run)
    assert run.report is not None
    assert run.report["stackReferences"] == [
        {
            "stack": NETWORK_STACK,
            "known": True,
            "reason": "",
            "unknownOutputs": ["flowLogBucket"],
        }
    ]
    [parameter] = [r for r in run.report["resources"] if r["type"] == "aws:ssm/parameter:Parameter"]
    assert (
        parameter["inputs"]["insecureValue"] == "subnet-0a1b2c3d4e5f60001,subnet-0a1b2c3d4e5f60002"
    )
    assert "unknown (not in the file): flowLogBucket" in run.stdout


@pytest.mark.parametrize("with_file", [False, True], ids=["no-file", "stack-not-in-file"])
def test_stack_reference_missing_in_update_mode_is_unknown(with_file: bool, tmp_path: Path) -> None:
    extra: list[str | Path] = []
    if with_file:
        extra = ["--stack-outputs", _stack_outputs(tmp_path, {"acme/other/dev": {"vpcId": "x"}})]
    run = _run_stack_reference(tmp_path, "update", *extra)
    assert_clean_verdict(run)
    exported = outputs(run)
    for name in ("vpcId", "subnetCount", "firstSubnet", "flowLogBucket"):
        assert exported[name] == unknown(run), exported
    assert run.report is not None
    [reference] = run.report["stackReferences"]
    assert reference["known"] is False
    assert ("not in the --stack-outputs file" if with_file else "no --stack-outputs") in (
        reference["reason"]
    )


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("{not json", "not valid JSON"),
        ([NETWORK_OUTPUTS], "not an object"),
        ({NETWORK_STACK: ["vpc-1"]}, f"the outputs of stack '{NETWORK_STACK}' are a JSON list"),
    ],
    ids=["not-json", "top-level-list", "stack-not-an-object"],
)
def test_malformed_stack_outputs_file_is_a_usage_error(
    content: object, fragment: str, tmp_path: Path
) -> None:
    given = _stack_outputs(tmp_path, content)
    run = _run_stack_reference(tmp_path, "update", "--stack-outputs", given)
    assert run.exit_code == 2, run.describe()
    assert f"--stack-outputs {given}" in run.stderr
    assert fragment in run.stderr
    assert "write it as a JSON object of stacks" in run.stderr
    assert "Traceback" not in run.stderr
    assert run.report is None


# -- reads, resources as inputs, explicit providers -----------------------------------------------

READS_PROGRAM = """
import pulumi
import pulumi_aws as aws

west = aws.Provider("west", region="us-west-2")
alerts = aws.sns.Topic.get("alerts", "arn:aws:sns:us-east-1:123456789012:alerts")
legacy = aws.lambda_.Function.get("legacy", "legacy-handler")
shared = aws.ec2.Vpc.get("shared", "vpc-0123456789abcdef0", opts=pulumi.ResourceOptions(provider=west))
inbox = aws.sqs.Queue("inbox", visibility_timeout_seconds=60)
# Resources themselves as inputs, where the SDK takes their id or ARN.
aws.sns.TopicSubscription("inbox", topic=alerts, protocol="sqs", endpoint=inbox.arn)
aws.lambda_.Permission(
    "from-alerts", function=legacy, action="lambda:InvokeFunction",
    principal="sns.amazonaws.com", source_arn=alerts.arn,
)
zones = aws.get_availability_zones(opts=pulumi.InvokeOptions(provider=west))
subnets = aws.ec2.get_subnets_output(
    filters=[{"name": "vpc-id", "values": [shared.id]}],
    opts=pulumi.InvokeOutputOptions(provider=west),
)
pulumi.export("zones", zones.names)
pulumi.export("sharedVpc", shared.id)
pulumi.export("alertsArn", alerts.arn)
pulumi.export("subnetCount", subnets.ids.apply(len))
"""


@pytest.mark.parametrize("mode", MODES)
def test_reads_resources_as_inputs_and_explicit_providers(mode: str, tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "Pulumi.yaml").write_text("name: reads\nruntime: python\n")
    (project / "Pulumi.dev.yaml").write_text("config:\n  aws:region: us-east-1\n")
    (project / "__main__.py").write_text(READS_PROGRAM)
    config = tmp_path / "advisory.json"
    config.write_text(json.dumps({"all": "advisory"}))
    run = run_offline(
        "--cwd",
        project,
        "--stack",
        "dev",
        "--mode",
        mode,
        "--policy-pack-config",
        config,
        out_dir=tmp_path / "out",
    )
    assert run.exit_code == 0, run.describe()
    assert run.mandatory == [], "every policy runs as advisory here"
    exported = outputs(run)
    # An invoke through an explicit provider is answered in that provider's region.
    assert exported["zones"] == ["us-west-2a", "us-west-2b", "us-west-2c"]
    # The id a read names is known at preview too: the engine reads the resource then.
    assert exported["sharedVpc"] == "vpc-0123456789abcdef0"
    assert exported["subnetCount"] == 3
    if mode == "update":
        assert exported["alertsArn"].startswith(f"arn:aws:sns:us-east-1:{ACCOUNT}:")
    calls = calls_by_token(run)
    assert calls["aws:ec2/getSubnets:getSubnets"]["region"] == "us-west-2"
    assert run.report is not None
    read = {r["name"] for r in run.report["resources"] if r["name"] in ("alerts", "legacy")}
    assert read == {"alerts", "legacy"}
