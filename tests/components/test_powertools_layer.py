"""The Powertools layer comes from AWS's public SSM parameter for the runtime, architecture and
release, per region, unless a layer version is pinned; a value that is not the layer fails."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import pulumi
import pytest
from harness import Run
from resilient_serverless import Function, FunctionArgs
from resilient_serverless.powertools import (
    POWERTOOLS_LAYER_ACCOUNT,
    POWERTOOLS_VERSION,
    checked_layer_arn,
    powertools_parameter_name,
)

from offline.engine import provider_calls

GET_PARAMETER = "aws:ssm/getParameter:getParameter"
CODE = pulumi.AssetArchive(
    {"app.py": pulumi.StringAsset("def handler(event, context):\n    return event\n")}
)
REGIONS = ("us-east-1", "ap-southeast-2")


def functions(**changes: Any) -> Callable[[], None]:
    def build() -> None:
        for region in REGIONS:
            Function(
                f"fn-{region}",
                FunctionArgs(handler="app.handler", code=CODE, **changes),
                region=region,
            )

    return build


def layer_calls(run: Run) -> list[Any]:
    return [call for call in run.calls if call.token == GET_PARAMETER]


def layers_by_region(run: Run) -> dict[str, list[str]]:
    return {
        fn.inputs["region"]: fn.inputs["layers"]
        for fn in run.of_type("aws:lambda/function:Function")
    }


def test_layer_arn_comes_from_the_parameter_of_each_region(
    run_components: Callable[..., Run],
) -> None:
    run = run_components(functions())
    calls = layer_calls(run)
    parameter = f"/aws/service/powertools/python/arm64/python3.14/{POWERTOOLS_VERSION}"
    # One lookup per function, in the function's own region, for the tested release.
    assert sorted((c.arguments["name"], c.arguments["region"]) for c in calls) == sorted(
        (parameter, region) for region in REGIONS
    )
    assert all(c.kind == provider_calls.WELL_KNOWN and c.failure is None for c in calls)
    for region, layers in layers_by_region(run).items():
        (layer,) = layers
        assert re.fullmatch(
            rf"arn:aws:lambda:{region}:{POWERTOOLS_LAYER_ACCOUNT}:layer:"
            r"AWSLambdaPowertoolsPythonV3-python314-arm64:\d+",
            layer,
        ), layer


def test_the_lookup_follows_runtime_architecture_and_release(
    run_components: Callable[..., Run],
) -> None:
    run = run_components(
        functions(runtime="python3.13", architecture="x86_64", powertools_version="latest")
    )
    names = {c.arguments["name"] for c in layer_calls(run)}
    assert names == {"/aws/service/powertools/python/x86_64/python3.13/latest"}
    for region, (layer,) in layers_by_region(run).items():
        assert layer.startswith(
            f"arn:aws:lambda:{region}:{POWERTOOLS_LAYER_ACCOUNT}:layer:"
            "AWSLambdaPowertoolsPythonV3-python313-x86_64:"
        )


def test_the_layer_is_known_at_preview(run_components: Callable[..., Run]) -> None:
    # Invokes run at preview, so the planned function already names its layer.
    run = run_components(functions(), preview=True)
    assert len(layer_calls(run)) == len(REGIONS)
    for region, (layer,) in layers_by_region(run).items():
        assert layer.startswith(f"arn:aws:lambda:{region}:{POWERTOOLS_LAYER_ACCOUNT}:layer:")


def test_a_pinned_layer_version_skips_the_lookup(run_components: Callable[..., Run]) -> None:
    run = run_components(functions(powertools_layer_version=38))
    assert layer_calls(run) == []
    for region, layers in layers_by_region(run).items():
        assert layers == [
            f"arn:aws:lambda:{region}:{POWERTOOLS_LAYER_ACCOUNT}:layer:"
            "AWSLambdaPowertoolsPythonV3-python314-arm64:38"
        ]


def test_no_powertools_means_no_layer_and_no_lookup(run_components: Callable[..., Run]) -> None:
    run = run_components(functions(powertools_version=None))
    assert layer_calls(run) == []
    assert all(layers == [] for layers in layers_by_region(run).values())


@pytest.mark.parametrize(
    "value",
    [
        # Another account's layer of the same name.
        "arn:aws:lambda:{region}:111122223333:layer:AWSLambdaPowertoolsPythonV3-python314-arm64:3",
        # The layer for another runtime, or another region.
        "arn:aws:lambda:{region}:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:3",
        "arn:aws:lambda:eu-north-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python314-arm64:3",
        "not-an-arn",
    ],
)
def test_a_parameter_that_is_not_the_layer_fails_naming_it(
    run_components: Callable[..., Run], monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    def answer(args: Mapping[str, Any], region: str | None) -> dict[str, Any]:
        where = args.get("region") or region
        return {"name": args["name"], "insecureValue": value.format(region=where), "value": ""}

    monkeypatch.setitem(provider_calls.SELECTIVE_CALLS, GET_PARAMETER, answer)
    with pytest.raises(ValueError) as raised:
        run_components(functions())
    message = str(raised.value)
    assert "SSM parameter /aws/service/powertools/python/arm64/python3.14/" in message
    assert "not a version of the Powertools layer" in message
    assert "powertoolsLayerVersion" in message


def test_checked_layer_arn_accepts_the_published_layer() -> None:
    arn = (
        "arn:aws:lambda:eu-west-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:27"
    )
    assert (
        checked_layer_arn(
            arn + "\n",
            parameter="/p",
            region="eu-west-1",
            runtime="python3.13",
            architecture="arm64",
        )
        == arn
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"powertools_version": "2.43.1"}, "powertools version"),
        ({"powertools_layer_version": 0}, "powertools_layer_version"),
        ({"runtime": "nodejs22.x"}, "runtime"),
    ],
)
def test_function_args_refuse_bad_powertools_settings(
    changes: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        FunctionArgs(handler="app.handler", code=CODE, **changes).validate()


def test_parameter_name() -> None:
    assert (
        powertools_parameter_name("python3.14", "arm64", "3.37.0")
        == "/aws/service/powertools/python/arm64/python3.14/3.37.0"
    )


def test_the_program_resolves_the_tested_release_in_every_region(prod_run: Run) -> None:
    calls = layer_calls(prod_run)
    functions = prod_run.of_type("aws:lambda/function:Function")
    assert len(calls) == len(functions)
    parameter = f"/aws/service/powertools/python/arm64/python3.14/{POWERTOOLS_VERSION}"
    assert {c.arguments["name"] for c in calls} == {parameter}
    assert {c.arguments["region"] for c in calls} == {f.inputs["region"] for f in functions}
    answered = {
        c.arguments["region"]: provider_calls.answer_call(GET_PARAMETER, c.arguments, None)
        for c in calls
    }
    for function in functions:
        region = function.inputs["region"]
        assert function.inputs["layers"] == [answered[region].result["insecureValue"]]
