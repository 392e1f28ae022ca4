"""AWS's public Powertools parameters are answered the way SSM answers them: the layer ARN of the
runtime and architecture in the call's region; other parameters keep the generic answer."""

from __future__ import annotations

import re

import pytest

from offline.engine.provider_calls import GENERIC, WELL_KNOWN, answer_call
from offline.errors import ProgramError

TOKEN = "aws:ssm/getParameter:getParameter"
LAYER = re.compile(
    r"arn:aws:lambda:(?P<region>[a-z0-9-]+):017000801446:layer:"
    r"AWSLambdaPowertoolsPythonV3-(?P<runtime>python3\d+)-(?P<arch>arm64|x86_64):(?P<version>\d+)"
)


@pytest.mark.parametrize(
    ("arch", "runtime", "release"),
    [
        ("arm64", "python3.14", "3.37.0"),
        ("x86_64", "python3.13", "3.23.0"),
        ("arm64", "python3.12", "latest"),
    ],
)
def test_a_powertools_parameter_holds_the_layer_arn_of_its_region(
    arch: str, runtime: str, release: str
) -> None:
    name = f"/aws/service/powertools/python/{arch}/{runtime}/{release}"
    answer = answer_call(TOKEN, {"name": name, "region": "ap-southeast-2"}, "us-east-1")
    assert answer.kind == WELL_KNOWN
    result = answer.result
    found = LAYER.fullmatch(result["value"])
    assert found is not None, result["value"]
    assert found["region"] == "ap-southeast-2"
    assert found["runtime"] == runtime.replace(".", "") and found["arch"] == arch
    assert int(found["version"]) >= 1
    # Not secret in SSM, and the same in both fields.
    assert result["insecureValue"] == result["value"]
    assert result["type"] == "String" and result["name"] == name
    assert result["arn"] == f"arn:aws:ssm:ap-southeast-2::parameter{name}"


def test_the_provider_region_is_used_when_the_call_names_none() -> None:
    name = "/aws/service/powertools/python/arm64/python3.14/3.37.0"
    result = answer_call(TOKEN, {"name": name}, "eu-central-1").result
    assert result["value"].startswith("arn:aws:lambda:eu-central-1:017000801446:layer:")


def test_a_release_always_gets_the_same_layer_version() -> None:
    def version(region: str) -> str:
        name = "/aws/service/powertools/python/arm64/python3.14/3.37.0"
        return (
            answer_call(TOKEN, {"name": name, "region": region}, None)
            .result["value"]
            .rsplit(":", 1)[1]
        )

    assert version("us-east-1") == version("eu-west-1")


@pytest.mark.parametrize(
    "name",
    [
        "/aws/service/powertools/python/i386/python3.14/3.37.0",
        "/aws/service/powertools/python/arm64/nodejs22.x/3.37.0",
        "/aws/service/powertools/python/arm64/python3.14/2.43.1",
    ],
)
def test_an_unpublished_powertools_parameter_is_not_found(name: str) -> None:
    with pytest.raises(ProgramError, match="ParameterNotFound"):
        answer_call(TOKEN, {"name": name, "region": "us-east-1"}, None)


def test_other_parameters_keep_the_generic_answer() -> None:
    answer = answer_call(TOKEN, {"name": "/platform/admin-cidr"}, "eu-west-1")
    assert answer.kind == GENERIC
    assert answer.result["name"] == "/platform/admin-cidr"
