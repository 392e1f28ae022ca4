"""Provider function answers, in-process (no mocks, no packs): every pulumi-aws function gets a
value its own result type accepts, the well-known ones look the way a user expects, and a call
the provider would refuse is refused."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi_aws
import pytest
from pulumi.output import Unknown
from pulumi.runtime import rpc

from offline.engine.function_results import (
    declared_kind,
    find_function,
    plausible_result,
    result_fields,
)
from offline.engine.provider_calls import (
    GENERIC,
    NOT_FOUND_ON_NEW_STACK,
    UNKNOWN_SHOWN,
    WELL_KNOWN,
    ProviderCallRecord,
    answer_call,
    mark_own_lookups,
    recorded_arguments,
)
from offline.errors import ProgramError

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


# -- arguments typed as the provider types them -----------------------------------------------

#: A string the provider reads as each declared kind, and the value it reads.
_AS_STRING: dict[type, tuple[str, Any]] = {
    bool: ("true", True),
    int: ("7", 7),
    float: ("2.5", 2.5),
}


def _echoed_arguments(token: str) -> list[tuple[str, type]]:
    """The function's arguments its result echoes (a field of the same name) that are declared
    bool, int, float or a list."""
    info = find_function(token)
    fields = result_fields(info.result_type)
    found = []
    for name in info.arguments:
        kind = declared_kind(fields.get(name))
        if kind in (bool, int, float, list):
            found.append((name, kind))
    return found


_TYPED_TOKENS = [token for token in _sdk_tokens() if _echoed_arguments(token)]


def test_functions_with_typed_echoed_arguments_are_found() -> None:
    assert len(_TYPED_TOKENS) > 100
    assert ("mostRecent", bool) in _echoed_arguments("aws:ec2/getAmi:getAmi")


@pytest.mark.parametrize("token", _TYPED_TOKENS)
def test_echoed_arguments_given_as_strings_are_typed_like_the_provider(token: str) -> None:
    info = find_function(token)
    for name, kind in _echoed_arguments(token):
        arguments = _sample_arguments(token)
        if kind is list:
            # A scalar where a list is declared: the provider refuses it, naming the argument.
            with pytest.raises(ProgramError, match=rf"'{name}': should be a list"):
                answer_call(token, {**arguments, name: "sample"}, REGION)
            continue
        given, typed = _AS_STRING[kind]
        answer = answer_call(token, {**arguments, name: given}, REGION)
        # The SDK builds its result type from the answer: its __init__ checks every field.
        built = rpc.translate_output_properties(
            _as_sent(answer.result), lambda key: key, info.result_type
        )
        assert isinstance(built, info.result_type)
        if answer.kind == GENERIC:
            assert answer.result[name] == typed and type(answer.result[name]) is kind, name


def test_strings_the_provider_cannot_read_are_refused() -> None:
    with pytest.raises(ProgramError, match=r"'mostRecent': cannot parse 'yes' as a bool"):
        answer_call("aws:ec2/getAmi:getAmi", {"mostRecent": "yes", "owners": ["amazon"]}, REGION)
    # Go's ParseBool spellings are all read.
    for spelling, value in (("1", True), ("T", True), ("FALSE", False), ("f", False)):
        result, _ = _answer("aws:ec2/getAmi:getAmi", mostRecent=spelling, owners=["amazon"])
        assert result["mostRecent"] is value


def test_unknown_arguments_are_left_out_as_the_engine_leaves_them_out() -> None:
    statements = [
        {"actions": ["sqs:SendMessage"], "resources": [Unknown(), "arn:aws:sqs:eu-west-1:1:q"]},
        {"sid": Unknown(), "actions": ["sqs:ReceiveMessage"], "resources": [Unknown()]},
    ]
    result, kind = _answer("aws:iam/getPolicyDocument:getPolicyDocument", statements=statements)
    assert kind == WELL_KNOWN
    document = json.loads(result["json"])
    assert document["Statement"] == [
        {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "arn:aws:sqs:eu-west-1:1:q"},
        {"Effect": "Allow", "Action": "sqs:ReceiveMessage"},
    ]
    shown = recorded_arguments({"statements": statements}, ())
    assert shown["statements"][0]["resources"] == [UNKNOWN_SHOWN, "arn:aws:sqs:eu-west-1:1:q"]


# -- lookups of the program's own resources -----------------------------------------------------


@dataclass
class _Registered:
    urn: str
    type: str
    inputs: dict[str, Any]
    read: bool = False


def _call(token: str, **arguments: Any) -> ProviderCallRecord:
    return ProviderCallRecord(token, arguments, GENERIC, REGION)


def test_lookups_of_resources_the_program_creates_are_marked() -> None:
    resources = [
        _Registered("urn:queue", "aws:sqs/queue:Queue", {"name": "jobs"}),
        _Registered("urn:bucket", "aws:s3/bucketV2:BucketV2", {"bucket": "assets"}),
        _Registered("urn:logs", "aws:cloudwatch/logGroup:LogGroup", {"name": "/app/api"}),
        _Registered("urn:read", "aws:sns/topic:Topic", {"name": "shared"}, read=True),
        _Registered("urn:policy", "aws:iam/rolePolicy:RolePolicy", {"name": "deploy"}),
    ]
    calls = [
        _call("aws:sqs/getQueue:getQueue", name="jobs"),
        _call("aws:s3/getBucket:getBucket", bucket="assets"),
        _call("aws:cloudwatch/getLogGroup:getLogGroup", name="/app/api"),
        _call("aws:sqs/getQueue:getQueue", name="other"),
        # Read with `Topic.get`: it exists already, a new stack finds it too.
        _call("aws:sns/getTopic:getTopic", name="shared"),
        # Another kind of the same service: not the looked-up object.
        _call("aws:iam/getRole:getRole", name="deploy"),
        _call("aws:sqs/getQueue:getQueue", name=UNKNOWN_SHOWN),
    ]
    marked = mark_own_lookups(calls, resources)
    assert [call.own_resource for call in marked] == [
        "urn:queue",
        "urn:bucket",
        "urn:logs",
        None,
        None,
        None,
        None,
    ]
    shown = marked[0].to_json()["notFoundOnNewStack"]
    assert shown == {"urn": "urn:queue", "reason": NOT_FOUND_ON_NEW_STACK}
    assert "notFoundOnNewStack" not in marked[3].to_json()
