"""The pack's completeness: every policy has its fixture kinds (pass, fail, preview, and the
engine's own shapes) and its doc page, the README
lists them all, and the pack's start-up stays light."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest
from policy_fixtures import REQUIRED_CASES, fixture_module
from policy_fixtures.builder import ENGINE_PREVIEW, OUTPUTS_ONLY
from pulumi_policy import ResourceValidationPolicy
from verdicts import PACK_DIR, REPO, rule_module

from resilience_policies.pack import RULE_MODULES, all_policies, config_specs, doc_page

POLICY_NAMES = [rule_module(module).NAME for module in RULE_MODULES]


def test_policy_names_are_unique_and_match_their_modules() -> None:
    assert len(set(POLICY_NAMES)) == len(POLICY_NAMES)
    for module in RULE_MODULES:
        assert module.replace("_", "-") == rule_module(module).NAME
    assert [policy.name for policy in all_policies()] == POLICY_NAMES


@pytest.mark.parametrize("module", RULE_MODULES)
def test_every_policy_has_its_fixture_kinds(module: str) -> None:
    fixtures = fixture_module(module)
    assert fixtures.POLICY == rule_module(module).NAME
    missing = [kind for kind in REQUIRED_CASES if kind not in fixtures.CASES]
    assert not missing, f"{fixtures.POLICY} lacks fixture case(s) {missing}"
    assert fixtures.CASES["pass"].expected == ()
    assert fixtures.CASES["fail"].expected, "a fail fixture must expect a violation"
    assert not fixtures.CASES["fail"].preview
    preview = fixtures.CASES["preview"]
    assert preview.preview and preview.expected, "the preview fixture must reach a verdict"
    for shape in (ENGINE_PREVIEW, OUTPUTS_ONLY):
        case = fixtures.CASES[shape]
        assert case.shape == shape and case.expected, f"the {shape} fixture must reach a verdict"


@pytest.mark.parametrize("module", RULE_MODULES)
def test_every_policy_has_a_doc_page(module: str) -> None:
    rule = rule_module(module)
    page = doc_page(rule.NAME)
    assert page.is_file(), f"docs/{rule.NAME}.md is missing"
    text = page.read_text(encoding="utf-8")
    assert text.startswith(f"# {rule.NAME}\n")
    level = rule.POLICY.enforcement_level.value
    assert f"**Level:** {level}" in text
    for heading in ("## Why", "## What it checks", "## At preview", "## Fix", "## Configuration"):
        assert heading in text, f"{rule.NAME}: no '{heading}' section"
    for setting in config_specs()[rule.NAME].settings:
        assert f"`{setting.key}`" in text, f"{rule.NAME}: config key {setting.key} undocumented"
    remediates = isinstance(rule.POLICY, ResourceValidationPolicy) and rule.POLICY.has_remediation()
    assert ("## Remediation" in text) == remediates
    assert f"**Remediation:** {'yes' if remediates else 'none'}" in text


def test_readme_lists_every_policy_with_its_level() -> None:
    readme = (PACK_DIR / "README.md").read_text(encoding="utf-8")
    for module in RULE_MODULES:
        rule = rule_module(module)
        link = f"[`{rule.NAME}`](resilience_policies/docs/{rule.NAME}.md)"
        row = f"| {link} | {rule.POLICY.enforcement_level.value} |"
        assert row in readme, row


def test_main_only_assembles_the_pack() -> None:
    tree = ast.parse((PACK_DIR / "__main__.py").read_text(encoding="utf-8"))
    calls = []
    for statement in tree.body[1:] if ast.get_docstring(tree) else tree.body:
        if isinstance(statement, (ast.Import, ast.ImportFrom)):
            continue
        assert isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call), (
            "__main__.py should hold imports and the pack's assembly only"
        )
        calls.append(ast.unparse(statement.value.func))
    assert calls[-1] == "PolicyPack"


def test_start_up_imports_no_provider_sdk() -> None:
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from resilience_policies import pack, server;"
        "pack.all_policies(); server.install(pack.config_specs());"
        "heavy = [m for m in ('pulumi_aws', 'boto3', 'botocore') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, str(PACK_DIR)],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    assert result.stdout.strip() == ""


def test_requirements_pin_the_sdks() -> None:
    lines = [
        line.strip()
        for line in (PACK_DIR / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert sorted(line.split(">=")[0] for line in lines) == ["pulumi", "pulumi-policy"]
    assert all(">=" in line and "<" in line for line in lines)
    manifest = (PACK_DIR / "PulumiPolicy.yaml").read_text()
    assert "name: python" in manifest and "\nversion: " in manifest
