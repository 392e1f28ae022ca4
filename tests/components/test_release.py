"""The release: one version everywhere, a changelog entry for it, the schema's package metadata,
and every public class of the package exported from `resilient_serverless`."""

import importlib
import inspect
import pkgutil
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import resilient_serverless
from resilient_serverless.hosting import schema

REPO = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]

#: Modules whose classes are not part of the package's surface: the provider's plumbing and the
#: testing kit (imported as `resilient_serverless.testing`).
NOT_EXPORTED_MODULES = {"hosting", "inputs", "outputs", "tokens", "testing"}


@pytest.fixture(scope="module")
def package() -> dict[str, Any]:
    return schema()


def test_one_version_everywhere(package: dict[str, Any]) -> None:
    assert resilient_serverless.__version__ == PROJECT["version"]
    assert package["version"] == PROJECT["version"]


def test_the_changelog_has_an_entry_for_the_version() -> None:
    changelog = (REPO / "CHANGELOG.md").read_text()
    assert re.search(
        rf"^## {re.escape(PROJECT['version'])} - \d{{4}}-\d{{2}}-\d{{2}}$", changelog, re.M
    )
    assert "## Versioning policy" in changelog


def test_the_changelog_states_the_floors_pyproject_declares() -> None:
    changelog = (REPO / "CHANGELOG.md").read_text()
    for requirement in PROJECT["dependencies"]:
        name, floor = re.match(r"^([a-z-]+)>=([0-9.]+)", requirement).groups()  # type: ignore[union-attr]
        assert f"{name} {floor}" in changelog, (name, floor)


def test_the_schema_carries_package_metadata(package: dict[str, Any]) -> None:
    assert package["description"] == PROJECT["description"]
    assert package["license"] == PROJECT["license"]["text"]
    assert package["publisher"] and "kind/component" in package["keywords"]
    languages = package["language"]
    assert languages["nodejs"]["packageName"] == "resilient-serverless"
    assert languages["python"]["packageName"] == "pulumi_resilient_serverless"
    assert languages["go"]["importBasePath"].endswith("/resilientserverless")
    assert languages["csharp"]["rootNamespace"] == "ResilientServerless"
    # The generated Python SDK must not shadow this distribution's own import name.
    assert languages["python"]["packageName"] != "resilient_serverless"


def test_every_public_class_is_exported() -> None:
    missing = []
    for module_info in pkgutil.iter_modules(resilient_serverless.__path__):
        if module_info.name in NOT_EXPORTED_MODULES:
            continue
        module = importlib.import_module(f"resilient_serverless.{module_info.name}")
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and value.__module__ == module.__name__
                and not name.startswith("_")
                and name not in resilient_serverless.__all__
            ):
                missing.append(f"{module_info.name}.{name}")
    assert missing == []
