"""The directories Lambda puts on `sys.path`, rebuilt from this environment's packages: the
function's archive, the Powertools public layer and the Python runtime's boto3. Shared by the
packaging tests and the import-time benchmark."""

from __future__ import annotations

import importlib.util
from pathlib import Path

#: What the Powertools public layer contributes (Powertools, its runtime dependencies, X-Ray).
LAYER_PACKAGES = ("aws_lambda_powertools", "typing_extensions", "jmespath", "aws_xray_sdk", "wrapt")
#: What the Lambda Python runtime ships: boto3 and its dependency tree.
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six", "urllib3")


def link_packages(packages: tuple[str, ...], target: Path) -> None:
    """A folder `target` holding a link to each installed package of `packages`."""
    target.mkdir()
    for name in packages:
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin is not None, f"{name} is not installed"
        source = (
            Path(spec.submodule_search_locations[0])
            if spec.submodule_search_locations
            else Path(spec.origin)
        )
        (target / source.name).symlink_to(source)
