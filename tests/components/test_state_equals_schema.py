"""What a component registers as its outputs is what the schema declares, for every component.

Another language reads a component's outputs through its generated SDK, built from the schema;
the engine stores what the component registers (`register_outputs`) in the state, and
`Construct` answers with what the provider reads off the component's attributes. The three must
name the same outputs: an output registered but not declared is invisible to every other
language; one declared but not registered is missing from the state (`pulumi stack output`
of a component's outputs, stack references, the console).
"""

from collections.abc import Callable
from typing import Any

import pulumi
import pytest
from harness import Run
from pulumi.provider.experimental.component import ComponentProvider
from resilient_serverless.hosting import HOSTED_COMPONENTS, component_provider, schema

TOKEN = "resilient-serverless:index:{}"
CODE = pulumi.AssetArchive(
    {"app.py": pulumi.StringAsset("def handler(event, context):\n    return event\n")}
)


def consumer() -> dict[str, Any]:
    return {"handler": "app.handler", "code": CODE, "timeoutS": 30.0}


#: The smallest valid inputs of each component, as another language sends them.
INPUTS: dict[str, dict[str, Any]] = {
    "Function": {"region": "eu-west-1", "handler": "app.handler", "code": CODE},
    "GlobalTable": {"regions": ["us-east-1", "eu-west-1"], "hashKey": "id"},
    "LatencyRouting": {
        "zoneId": "Z123",
        "recordName": "api.example.com",
        "endpoints": [
            {
                "region": region,
                "aliasName": f"d-{region}.execute-api.{region}.amazonaws.com",
                "aliasZoneId": "ZALIAS",
                "healthCheckFqdn": f"abc.execute-api.{region}.amazonaws.com",
                "healthCheckPath": "/v1/health",
            }
            for region in ("us-east-1", "eu-west-1")
        ],
    },
    "QueueWorker": {"region": "eu-west-1", "consumer": consumer()},
    "RegionalApi": {
        "region": "eu-west-1",
        "handler": {"functionName": "shop", "invokeArn": "arn:invoke", "timeoutS": 10.0},
        "routes": [{"method": "GET", "path": "health"}],
        "domainName": "shop.example.com",
        "zoneId": "Z123",
    },
    "ActiveActiveService": {
        "settings": {
            "regions": ["us-east-1", "eu-west-1"],
            "domainName": "tasks.example.com",
            "hostedZoneName": "example.com",
        },
        "hostedZoneId": "Z123",
        "code": CODE,
    },
    "Saga": {"region": "eu-west-1"},
    "StreamConsumer": {"region": "eu-west-1", "consumer": consumer()},
}


@pytest.fixture(scope="module")
def provider() -> ComponentProvider:
    return component_provider()


@pytest.fixture(scope="module")
def package() -> dict[str, Any]:
    return schema()


def test_every_hosted_component_is_covered() -> None:
    assert sorted(INPUTS) == sorted(component.__name__ for component in HOSTED_COMPONENTS)


@pytest.mark.parametrize("component", sorted(INPUTS))
def test_registered_outputs_are_the_declared_outputs(
    component: str,
    run_components: Callable[..., Run],
    provider: ComponentProvider,
    package: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registered: dict[str, set[str]] = {}
    register_outputs = pulumi.ComponentResource.register_outputs

    def recording(self: pulumi.ComponentResource, outputs: Any) -> None:
        registered.setdefault(type(self).__name__, set()).update(outputs or {})
        register_outputs(self, outputs)

    monkeypatch.setattr(pulumi.ComponentResource, "register_outputs", recording)
    answered: dict[str, Any] = {}

    def build() -> None:
        result = provider.construct("x", TOKEN.format(component), INPUTS[component], None)
        answered.update(result.state)

    run_components(build)
    declared = set(package["resources"][TOKEN.format(component)]["properties"])
    assert declared, f"{component} declares no outputs"
    assert registered.get(component) == declared, (
        f"{component}: registered but not declared: "
        f"{sorted(registered.get(component, set()) - declared)}; declared but not registered: "
        f"{sorted(declared - registered.get(component, set()))}"
    )
    assert set(answered) == declared
