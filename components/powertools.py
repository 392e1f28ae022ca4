"""The Powertools for AWS Lambda (Python) v3 public layer, by region (commercial partition).

AWS publishes the layer in every commercial region from one account; referencing it by ARN keeps
the function archive down to the handler code (faster deploys, one place to upgrade).
"""

from __future__ import annotations

from typing import Final

POWERTOOLS_LAYER_ACCOUNT: Final[str] = "017000801446"
#: The layer version published for the Powertools release the handlers are tested with. Check
#: the Powertools "Lambda layer" docs page when upgrading; the same number applies to every
#: region, runtime and architecture.
POWERTOOLS_LAYER_VERSION: Final[int] = 27

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


def powertools_layer_arn(
    region: str,
    runtime: str,
    architecture: str = "arm64",
    version: int = POWERTOOLS_LAYER_VERSION,
) -> str:
    """ARN of the Powertools v3 layer for a region, Python runtime and architecture."""
    if architecture not in SUPPORTED_ARCHITECTURES:
        raise ValueError(
            f"architecture: {architecture!r} is not a Lambda architecture; use one of "
            f"{', '.join(SUPPORTED_ARCHITECTURES)}."
        )
    if runtime not in SUPPORTED_RUNTIMES:
        raise ValueError(
            f"runtime: {runtime!r} has no Powertools v3 layer; use one of {', '.join(SUPPORTED_RUNTIMES)}."
        )
    if version < 1:
        raise ValueError(f"powertools layer version: {version} must be a positive integer.")
    runtime_tag = runtime.replace(".", "")  # python3.14 -> python314
    return (
        f"arn:aws:lambda:{region}:{POWERTOOLS_LAYER_ACCOUNT}:layer:"
        f"AWSLambdaPowertoolsPythonV3-{runtime_tag}-{architecture}:{version}"
    )
