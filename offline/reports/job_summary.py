"""The verdicts as a GitHub-flavoured Markdown table (`--summary-md FILE`), for a CI job summary
(`cat FILE >> "$GITHUB_STEP_SUMMARY"`): one row per verdict (enforcement level, severity,
policy, resource, message), mandatory ones first, then the counts and the exit code."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from ..model import ADVISORY, MANDATORY, PreviewResult, Violation
from .render import split_urn

TABLE_HEADER: Final[tuple[str, ...]] = ("Enforcement", "Severity", "Policy", "Resource", "Message")
_LEVEL_ORDER: Final[dict[str, int]] = {MANDATORY: 0, "remediate": 1, ADVISORY: 2}
_SEVERITY_ORDER: Final[dict[str, int]] = {"critical": 0, "high": 1, "medium": 2, "low": 3}


def cell(text: str) -> str:
    """Text made safe for one table cell: pipes escaped, lines joined with <br>."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return "<br>".join(lines).replace("|", "\\|") or " "


def _resource(violation: Violation) -> str:
    if not violation.urn:
        return "(stack)"
    kind, name = split_urn(violation.urn)
    return f"`{name}` ({kind})" if kind else f"`{name}`"


def _row(violation: Violation) -> tuple[str, ...]:
    level = violation.level + (" (exempt)" if violation.is_exempt else "")
    return (
        level,
        violation.severity or "-",
        f"`{violation.policy}`",
        _resource(violation),
        violation.own_message,
    )


def _sort_key(violation: Violation) -> tuple[int, int, str, str, str]:
    return (
        _LEVEL_ORDER.get(violation.level, 3),
        _SEVERITY_ORDER.get(violation.severity, 4),
        violation.policy,
        violation.urn,
        violation.message,
    )


def render_summary_markdown(result: PreviewResult) -> str:
    mandatory = len(result.mandatory)
    advisory = sum(1 for v in result.violations if v.level == ADVISORY)
    exempt = len(result.exempt)
    verdict = "failed" if result.exit_code else "passed"
    lines = [
        f"### Offline policy preview: {result.stack.project_name} / {result.stack.stack} "
        f"({result.mode}): {verdict}",
        "",
        "Policy packs: "
        + (
            ", ".join(
                f"`{pack.name}` {pack.version or '(no version)'} ({len(pack.policies)} policies)"
                for pack in result.packs
            )
            or "none"
        ),
        "",
    ]
    violations = sorted(result.violations, key=_sort_key)
    if violations:
        lines.append("| " + " | ".join(TABLE_HEADER) + " |")
        lines.append("|" + "|".join(" --- " for _ in TABLE_HEADER) + "|")
        for violation in violations:
            lines.append("| " + " | ".join(cell(text) for text in _row(violation)) + " |")
    else:
        lines.append("No policy violations.")
    lines += [
        "",
        f"**{mandatory} mandatory, {advisory} advisory** ({exempt} exempt); "
        f"exit code {result.exit_code}",
    ]
    return "\n".join(lines) + "\n"


def write_summary_markdown(result: PreviewResult, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_summary_markdown(result), encoding="utf-8")
