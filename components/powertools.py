"""The Powertools for AWS Lambda (Python) v3 public layer, by region (commercial partition).

AWS publishes the layer in every commercial region from one account; referencing it by ARN keeps
the function archive down to the handler code (faster deploys, one place to upgrade).

Which layer version carries which Powertools release differs per layer (runtime and
architecture) and is not documented per release, so the functions look the layer up: AWS
publishes one public SSM parameter per release, runtime and architecture,
`/aws/service/powertools/python/<architecture>/<runtime>/<version>` (and `.../latest`), whose
value is the layer version ARN in the parameter's region.
"""

from __future__ import annotations

import re
from typing import Final

POWERTOOLS_LAYER_ACCOUNT: Final[str] = "017000801446"
#: The Powertools release the handlers are tested with: constraints.txt pins the same one (a test
#: keeps them equal), and by default the functions get the layer AWS publishes for it.
POWERTOOLS_VERSION: Final[str] = "3.37.0"
#: Where AWS publishes the layer ARN of each release, per region.
POWERTOOLS_PARAMETER_PREFIX: Final[str] = "/aws/service/powertools/python"

SUPPORTED_ARCHITECTURES: Final[tuple[str, ...]] = ("arm64", "x86_64")
#: Python runtimes the v3 layer is built for (one layer per runtime, for compiled dependencies).
SUPPORTED_RUNTIMES: Final[tuple[str, ...]] = (
    "python3.9",
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
    "python3.14",
)


#: The oldest Python the task app's handlers run on: they use `enum.StrEnum` and `datetime.UTC`.
HANDLER_MIN_PYTHON: Final[tuple[int, int]] = (3, 11)
#: Runtimes with a Powertools v3 layer that the handlers run on: what `lambdaRuntime` accepts.
HANDLER_RUNTIMES: Final[tuple[str, ...]] = tuple(
    runtime
    for runtime in SUPPORTED_RUNTIMES
    if tuple(int(part) for part in runtime.removeprefix("python").split(".")) >= HANDLER_MIN_PYTHON
)


#: A Powertools v3 release as the parameters name it, or `latest`.
_RELEASE = re.compile(r"^(latest|3\.\d+\.\d+)$")


def _check_layer_target(runtime: str, architecture: str) -> None:
    if architecture not in SUPPORTED_ARCHITECTURES:
        raise ValueError(
            f"architecture: {architecture!r} is not a Lambda architecture; use one of "
            f"{', '.join(SUPPORTED_ARCHITECTURES)}."
        )
    if runtime not in SUPPORTED_RUNTIMES:
        raise ValueError(
            f"runtime: {runtime!r} has no Powertools v3 layer; use one of {', '.join(SUPPORTED_RUNTIMES)}."
        )


def powertools_layer_name(runtime: str, architecture: str) -> str:
    """The public layer's name for a Python runtime and architecture."""
    _check_layer_target(runtime, architecture)
    runtime_tag = runtime.replace(".", "")  # python3.14 -> python314
    return f"AWSLambdaPowertoolsPythonV3-{runtime_tag}-{architecture}"


def powertools_layer_arn(region: str, runtime: str, architecture: str, version: int) -> str:
    """ARN of a fixed version of the Powertools v3 layer for a region, runtime and architecture.

    Layer version numbers are per layer: the same number may carry different releases for
    different runtimes. Prefer `powertools_parameter_name` and the SSM lookup.
    """
    name = powertools_layer_name(runtime, architecture)
    if version < 1:
        raise ValueError(f"powertools layer version: {version} must be a positive integer.")
    return f"arn:aws:lambda:{region}:{POWERTOOLS_LAYER_ACCOUNT}:layer:{name}:{version}"


def powertools_parameter_name(runtime: str, architecture: str, release: str) -> str:
    """AWS's public SSM parameter holding the layer ARN of `release` (e.g. 3.37.0, or latest)."""
    _check_layer_target(runtime, architecture)
    if not _RELEASE.match(release):
        raise ValueError(
            f"powertools version: {release!r} must be a Powertools v3 release like "
            f"{POWERTOOLS_VERSION}, or latest."
        )
    return f"{POWERTOOLS_PARAMETER_PREFIX}/{architecture}/{runtime}/{release}"


def checked_layer_arn(
    value: str, *, parameter: str, region: str, runtime: str, architecture: str
) -> str:
    """`value` if it is the ARN of the Powertools layer for this region, runtime and architecture
    published by AWS's account; otherwise ValueError naming the parameter it was read from."""
    name = powertools_layer_name(runtime, architecture)
    pattern = re.compile(
        rf"^arn:aws:lambda:{re.escape(region)}:{POWERTOOLS_LAYER_ACCOUNT}:layer:"
        rf"{re.escape(name)}:[1-9][0-9]*$"
    )
    if not isinstance(value, str) or not pattern.match(value.strip()):
        raise ValueError(
            f"SSM parameter {parameter} in {region} holds {value!r}, not a version of the "
            f"Powertools layer arn:aws:lambda:{region}:{POWERTOOLS_LAYER_ACCOUNT}:layer:{name}; "
            "check the parameter (aws ssm get-parameter --name ... --region ...), or pin a "
            "layer version with powertoolsLayerVersion."
        )
    return value.strip()
