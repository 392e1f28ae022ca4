"""Which Python SDK serves a provider package, from the SDKs' own metadata.

A type token names its package first (`random:index/randomString:RandomString`,
`aws-native:s3:Bucket`). Every generated Pulumi SDK registers its modules with the SDK's
resource-module registry when imported, and ships a `pulumi-plugin.json` naming the package it
serves (`{"resource": true, "name": "random", "version": "4.21.4"}`). The module is
`pulumi_<package>` with dashes as underscores by convention (`pulumi_aws_native`); an SDK whose
module is named otherwise is found by its `pulumi-plugin.json`. engine_shape.py reads the
resource classes of whatever module this names, so resources of any installed provider SDK get
the shapes pulumi-aws's get.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.resources
import importlib.util
import json
from functools import cache
from types import ModuleType
from typing import Any

PLUGIN_FILE = "pulumi-plugin.json"


def conventional_module(package: str) -> str:
    """`pulumi_<package>`, dashes and dots as underscores (`aws-native` -> `pulumi_aws_native`)."""
    return "pulumi_" + package.replace("-", "_").replace(".", "_")


def _plugin_name(files: Any) -> str | None:
    try:
        loaded = json.loads(files.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    name = loaded.get("name") if isinstance(loaded, dict) else None
    return name if isinstance(name, str) else None


@cache
def _modules_by_plugin_name() -> dict[str, str]:
    """Installed SDK modules by the package their `pulumi-plugin.json` names."""
    found: dict[str, str] = {}
    for distribution in importlib.metadata.distributions():
        for file in distribution.files or ():
            parts = file.parts
            if len(parts) == 2 and parts[1] == PLUGIN_FILE:
                name = _plugin_name(distribution.locate_file(file))
                if name is not None:
                    found.setdefault(name, parts[0])
    return found


@cache
def sdk_module_name(package: str) -> str | None:
    """The importable module of `package`'s Python SDK, or None when none is installed."""
    conventional = conventional_module(package)
    try:
        if importlib.util.find_spec(conventional) is not None:
            return conventional
    except (ImportError, ValueError):
        pass
    return _modules_by_plugin_name().get(package)


def import_sdk(package: str) -> ModuleType | None:
    """Import `package`'s SDK (which registers its resource modules), None when not installed."""
    name = sdk_module_name(package)
    if name is None:
        return None
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def sdk_version(package: str) -> str:
    """The version `package`'s SDK declares in its `pulumi-plugin.json`, "" when unknown."""
    module = import_sdk(package)
    if module is None or module.__file__ is None:
        return ""
    try:
        files = importlib.resources.files(module.__name__)
        loaded = json.loads(files.joinpath(PLUGIN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError, ModuleNotFoundError):
        return ""
    version = loaded.get("version") if isinstance(loaded, dict) else None
    return version if isinstance(version, str) else ""
