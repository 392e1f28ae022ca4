"""Provider function answers, in-process (no mocks, no packs): every pulumi-aws function gets a
value its own result type accepts, the well-known ones look the way a user expects, and a call
the provider would refuse is refused."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pulumi_aws
import pytest
from pulumi.runtime import rpc

from offline.errors import ProgramError
from offline.function_results import find_function, plausible_result
from offline.provider_calls import GENERIC, WELL_KNOWN, answer_call, recorded_arguments

REGION = "eu-west-1"
ACCOUNT = "123456789012"
INVOKE = re.compile(r"runtime\.invoke\('([^']+)'")

#: Functions whose well-known answer needs one of two arguments the SDK cannot mark required.
LOOKUP_ARGUMENTS: dict[str, dict[str, Any]] = {
    "aws:acm/getCertificate:getCertificate": {"domain": "example.com"},
    "aws:iam/getPolicy:getPolicy": {"name": "deploy"},
    "aws:route53/getZone:getZone": {"name": "example.com"},
}


def _sdk_tokens() -> list[str]:
    root = Path(pulumi_aws.__file__).parent
    found: set[str] = set()
    for path in root.rglob("*.py"):
        found.update(INVOKE.findall(path.read_text(encoding="utf-8")))
    return sorted(found)


def _as_sent(value: Any) -> Any:
    """What the engine hands the SDK back: numbers travel as floats."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, dict):
        return {key: _as_sent(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_sent(item) for item in value]
    return value


def _sample_arguments(token: str) -> dict[str, Any]:
    """The arguments the provider requires, of the types the result type declares for them."""
    info = find_function(token)
    sample = plausible_result(info, {}, REGION)
    arguments = {
        name: "sample" if sample.get(name) is None else sample[name] for name in info.required
    }
    return {**arguments, **LOOKUP_ARGUMENTS.get(token, {})}


def test_every_pulumi_aws_function_is_answered_with_its_result_type() -> None:
    tokens = _sdk_tokens()
    assert len(tokens) > 500, "the SDK's functions were found"
    refused: dict[str, str] = {}
    for token in tokens:
        try:
            answer = answer_call(token, _sample_arguments(token), REGION)
            result_type = find_function(token).result_type
            # What the SDK does with the answer: instantiate the result type, whose __init__
            # checks every field's type.
            built = rpc.translate_output_properties(
                _as_sent(answer.result), lambda name: name, result_type
            )
            assert isinstance(built, result_type)
        except Exception as error:  # collect them all, one assertion below
            refused[token] = f"{type(error).__name__}: {error}"
    assert refused == {}


def _answer(token: str, **args: Any) -> tuple[dict[str, Any], str]:
    answer = answer_call(token, args, REGION)
    return answer.result, answer.kind


def test_ami_reflects_the_name_filter() -> None:
    ami, kind = _answer(
        "aws:ec2/getAmi:getAmi",
        most_recent=True,
        owners=["amazon"],
        filters=[{"name": "name", "values": ["al2023-ami-2023.*-arm64"]}],
    )
    assert kind == WELL_KNOWN
    assert re.fullmatch(r"ami-[0-9a-f]{17}", ami["id"])
    assert ami["imageId"] == ami["id"]
    assert ami["arn"] == f"arn:aws:ec2:{REGION}::image/{ami['id']}"
    assert ami["name"].startswith("al2023-ami-2023.") and ami["name"].endswith("-arm64")
    assert "*" not in ami["name"]
    assert ami["architecture"] == "arm64"
    assert ami["imageOwnerAlias"] == "amazon"
    assert ami["rootDeviceName"] == "/dev/xvda" and ami["virtualizationType"] == "hvm"
    again, _ = _answer(
        "aws:ec2/getAmi:getAmi",
        most_recent=True,
        owners=["amazon"],
        filters=[{"name": "name", "values": ["al2023-ami-2023.*-arm64"]}],
    )
    assert again["id"] == ami["id"], "stable from run to run"


def test_default_vpc_its_subnets_and_security_group_agree() -> None:
    vpc, _ = _answer("aws:ec2/getVpc:getVpc", default=True)
    assert re.fullmatch(r"vpc-[0-9a-f]{17}", vpc["id"])
    assert vpc["cidrBlock"] == "172.31.0.0/16"
    assert vpc["default"] is True
    assert vpc["arn"] == f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/{vpc['id']}"
    other, _ = _answer("aws:ec2/getVpc:getVpc", tags={"Name": "shared"})
    assert other["cidrBlock"] == "10.0.0.0/16" and other["default"] is False
    assert other["tags"] == {"Name": "shared"}, "arguments are echoed"

    subnets, kind = _answer(
        "aws:ec2/getSubnets:getSubnets", filters=[{"name": "vpc-id", "values": [vpc["id"]]}]
    )
    assert kind == WELL_KNOWN
    assert len(subnets["ids"]) == 3 == len(set(subnets["ids"]))
    assert all(re.fullmatch(r"subnet-[0-9a-f]{17}", s) for s in subnets["ids"])
    assert subnets["filters"] == [{"name": "vpc-id", "values": [vpc["id"]]}]
    two, _ = _answer(
        "aws:ec2/getSubnets:getSubnets",
        filters=[{"name": "availability-zone", "values": ["eu-west-1a", "eu-west-1b"]}],
    )
    assert len(two["ids"]) == 2

    subnet, _ = _answer("aws:ec2/getSubnet:getSubnet", id=subnets["ids"][0])
    assert subnet["id"] == subnets["ids"][0]
    assert subnet["vpcId"] == vpc["id"], "the default VPC, whichever function names it"
    assert subnet["availabilityZone"] == f"{REGION}a"

    group, _ = _answer("aws:ec2/getSecurityGroup:getSecurityGroup", name="default")
    assert re.fullmatch(r"sg-[0-9a-f]{17}", group["id"])
    assert group["vpcId"] == vpc["id"]
    assert group["arn"] == f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/{group['id']}"


def test_certificate_role_and_policy() -> None:
    certificate, _ = _answer("aws:acm/getCertificate:getCertificate", domain="api.example.com")
    assert certificate["domain"] == "api.example.com"
    assert certificate["status"] == "ISSUED"
    assert certificate["arn"].startswith(f"arn:aws:acm:{REGION}:{ACCOUNT}:certificate/")
    # The region of the call's provider (a CloudFront certificate's us-east-1 provider).
    in_us = answer_call(
        "aws:acm/getCertificate:getCertificate", {"domain": "api.example.com"}, "us-east-1"
    ).result
    assert in_us["arn"].startswith(f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/")

    role, _ = _answer("aws:iam/getRole:getRole", name="deployer")
    assert role["arn"] == f"arn:aws:iam::{ACCOUNT}:role/deployer"
    assert role["uniqueId"].startswith("AROA")
    managed, _ = _answer(
        "aws:iam/getPolicy:getPolicy",
        arn="arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    )
    assert managed["name"] == "AWSLambdaBasicExecutionRole"
    assert managed["path"] == "/service-role/"


def test_generic_answers_are_shaped_by_field_name() -> None:
    queue, kind = _answer("aws:sqs/getQueue:getQueue", name="orders")
    assert kind == GENERIC
    assert queue["name"] == "orders"
    assert queue["arn"] == f"arn:aws:sqs:{REGION}:{ACCOUNT}:orders"
    function, _ = _answer("aws:lambda/getFunction:getFunction", functionName="api")
    assert function["arn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:api"
    gateway, _ = _answer("aws:ec2/getInternetGateway:getInternetGateway", tags={"Env": "dev"})
    assert re.fullmatch(r"igw-[0-9a-f]{17}", gateway["id"])
    assert gateway["internetGatewayId"] == gateway["id"], "one object, one id"
    assert gateway["ownerId"] == ACCOUNT
    assert gateway["tags"] == {"Env": "dev"}
    bucket, _ = _answer("aws:s3/getBucket:getBucket", bucket="assets")
    assert bucket["arn"] == "arn:aws:s3:::assets"


def test_a_call_without_a_required_argument_is_refused() -> None:
    with pytest.raises(ProgramError, match="missing required argument 'name'"):
        answer_call("aws:ssm/getParameter:getParameter", {"name": None}, REGION)
    with pytest.raises(ProgramError, match="missing required argument 'functionName'"):
        answer_call("aws:lambda/getFunction:getFunction", {}, REGION)


def test_recorded_arguments_leave_out_unset_ones_and_mask_secrets() -> None:
    recorded = recorded_arguments(
        {"name": "/app/token", "withDecryption": None, "tags": {"Key": "s3cr3t"}}, ["s3cr3t"]
    )
    assert recorded == {"name": "/app/token", "tags": {"Key": "[secret]"}}
