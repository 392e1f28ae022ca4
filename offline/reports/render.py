"""Plain-text report, laid out like `pulumi preview`: resources, diagnostics, policies, outputs,
then the resilience numbers per region."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from pulumi.runtime.rpc import UNKNOWN

from resilience_policies import thresholds

from ..engine.provider_calls import describe_arguments
from ..engine.recording import SECRET_SIGNATURE, SECRET_SIGNATURE_KEY, Registration
from ..model import ADVISORY, MANDATORY, PreviewResult, Violation
from .resilience import GLOBAL_REGION, ApiThrottling, ClientLimits, Number, RegionSummary

MULTI_REGION = "multi-region"
_INDENT = "    "


def split_urn(urn: str) -> tuple[str, str]:
    """(type, name) of a URN: `urn:pulumi:<stack>::<project>::<parent$type>::<name>`."""
    parts = urn.split("::", 3)
    if len(parts) < 4:
        return "", urn
    return parts[2].split("$")[-1], parts[3]


class _Tree:
    def __init__(self, result: PreviewResult) -> None:
        self.root = result.stack_registration()
        self.nodes = {r.urn: r for r in result.shown_resources()}
        self.children: dict[str, list[Registration]] = defaultdict(list)
        for node in self.nodes.values():
            parent = node.parent if node.parent in self.nodes else self.root.urn
            self.children[parent].append(node)
        for siblings in self.children.values():
            siblings.sort(key=lambda r: (r.name, r.type))
        self._regions: dict[str, frozenset[str]] = {}

    def regions_below(self, node: Registration) -> frozenset[str]:
        cached = self._regions.get(node.urn)
        if cached is not None:
            return cached
        found: set[str] = set()
        if node.custom:
            found.add(node.region or GLOBAL_REGION)
        for child in self.children.get(node.urn, []):
            found |= self.regions_below(child)
        result = frozenset(found)
        self._regions[node.urn] = result
        return result

    def group_of(self, node: Registration) -> str:
        regions = self.regions_below(node)
        if len(regions) == 1:
            return next(iter(regions))
        return GLOBAL_REGION if not regions else MULTI_REGION

    def count_below(self, node: Registration) -> int:
        return sum(1 + self.count_below(child) for child in self.children.get(node.urn, []))


def _group_order(label: str) -> tuple[int, str]:
    return ({GLOBAL_REGION: 1, MULTI_REGION: 2}.get(label, 0), label)


def render_tree(result: PreviewResult) -> list[str]:
    tree = _Tree(result)
    rows: list[tuple[str, str, str]] = []

    def add(node: Registration, prefix: str, connector: str) -> None:
        region = (node.region or GLOBAL_REGION) if node.custom else ""
        if node.read:
            region += " (read, not managed)"
        if not node.custom and tree.children.get(node.urn):
            region = f"({tree.count_below(node)} below)"
        rows.append((prefix + connector + node.type, node.name, region))
        child_prefix = prefix + ("   " if connector in ("└─ ", "") else "│  ")
        walk(node, child_prefix)

    def walk(node: Registration, prefix: str) -> None:
        children = tree.children.get(node.urn, [])
        groups: dict[str, list[Registration]] = defaultdict(list)
        for child in children:
            groups[tree.group_of(child)].append(child)
        if len(groups) <= 1:
            for index, child in enumerate(children):
                add(child, prefix, "└─ " if index == len(children) - 1 else "├─ ")
            return
        labels = sorted(groups, key=_group_order)
        for group_index, label in enumerate(labels):
            last_group = group_index == len(labels) - 1
            members = groups[label]
            total = sum(1 + tree.count_below(m) for m in members)
            rows.append(
                (prefix + ("└─ " if last_group else "├─ ") + f"[{label}]", "", f"({total})")
            )
            inner = prefix + ("   " if last_group else "│  ")
            for index, child in enumerate(members):
                add(child, inner, "└─ " if index == len(members) - 1 else "├─ ")

    add(tree.root, "", "")
    type_width = max(len(row[0]) for row in rows) + 2
    name_width = max(len(row[1]) for row in rows) + 2
    lines = [f"{_INDENT}{'Type':<{type_width}}{'Name':<{name_width}}Region"]
    lines += [f"{_INDENT}{t:<{type_width}}{n:<{name_width}}{r}".rstrip() for t, n, r in rows]
    return lines


def _plain(value: Any) -> Any:
    """A value for display: secrets hidden, unknowns marked, whole numbers without ".0"."""
    if value == UNKNOWN:
        return "[unknown]"
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        if value.get(SECRET_SIGNATURE_KEY) == SECRET_SIGNATURE:
            return "[secret]"
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def render_outputs(exports: dict[str, Any]) -> list[str]:
    if not exports:
        return []
    width = max(len(key) for key in exports) + 2
    lines = ["Outputs:"]
    for key in sorted(exports):
        shown = _plain(exports[key])
        text = shown if isinstance(shown, str) else json.dumps(shown, indent=2, sort_keys=True)
        first, *rest = str(text).splitlines() or [""]
        lines.append(f"{_INDENT}{key + ':':<{width}}{first}")
        lines.extend(f"{_INDENT}{'':<{width}}{line}" for line in rest)
    return lines


def render_diagnostics(result: PreviewResult) -> list[str]:
    printed = result.run.stdout.strip("\n")
    logs = [(level, message) for level, message in result.run.logs if level != "debug"]
    warnings = list(result.stack.warnings)
    if not printed and not logs and not warnings:
        return []
    lines = ["Diagnostics:", f"  pulumi:pulumi:Stack ({result.stack_name}):"]
    lines += [f"{_INDENT}warning: {w}" for w in warnings]
    lines += [f"{_INDENT}{line}" for line in printed.splitlines()]
    for level, message in logs:
        first, *rest = message.strip().splitlines() or [""]
        lines.append(f"{_INDENT}{level}: {first}")
        lines += [f"{_INDENT}  {line}" for line in rest]
    return lines


def render_provider_calls(result: PreviewResult) -> list[str]:
    """Which provider functions the program called and how each was answered: an answer made up
    offline is worth knowing about when a verdict depends on it."""
    calls = result.run.provider_calls
    if not calls:
        return []
    counted: dict[tuple[str, str, str], int] = {}
    for call in calls:
        key = (call.token, call.kind, describe_arguments(call.arguments))
        counted[key] = counted.get(key, 0) + 1
    width = max(len(token) for token, _, _ in counted) + 2
    lines = ["Provider functions answered offline:"]
    for (token, kind, arguments), count in counted.items():
        times = f" (x{count})" if count > 1 else ""
        lines.append(f"{_INDENT}{token:<{width}}{kind:<12}{arguments or '(no arguments)'}{times}")
    lines += [
        f"{_INDENT}{call.token} ({describe_arguments(call.arguments)}) would not be found on a "
        f"new stack: this program creates {call.own_resource}"
        for call in calls
        if call.own_resource is not None
    ]
    return lines


def render_stack_references(result: PreviewResult) -> list[str]:
    references = result.run.stack_references
    if not references:
        return []
    lines = ["Stack references:"]
    for reference in references:
        if not reference.known:
            lines.append(f"{_INDENT}{reference.stack}: outputs unknown ({reference.reason})")
            continue
        missing = reference.unknown_outputs
        lines.append(
            f"{_INDENT}{reference.stack}: outputs from --stack-outputs"
            + (f"; unknown (not in the file): {', '.join(missing)}" if missing else "")
        )
    return lines


def _violation_lines(violation: Violation) -> list[str]:
    if violation.urn:
        kind, name = split_urn(violation.urn)
        where = f"{kind}  {name}"
    else:
        where = "(stack)"
    if violation.is_exempt:
        where += "  [exempt]"
    lines = [f"{_INDENT * 3}{where}"]
    lines += [f"{_INDENT * 3}  {line}" for line in violation.own_message.splitlines()]
    if violation.urn:
        lines.append(f"{_INDENT * 3}  {violation.urn}")
    return lines


def render_policies(result: PreviewResult) -> list[str]:
    lines = ["Policy Packs:"]
    for pack in result.packs:
        mandatory = sum(1 for v in pack.violations if v.level == MANDATORY)
        other = len(pack.violations) - mandatory
        exempt = sum(1 for v in pack.violations if v.is_exempt)
        verdict = "FAILED" if mandatory else ("passed with advisories" if other else "passed")
        lines.append(
            f"{_INDENT}{pack.name} ({len(pack.policies)} policies, {pack.directory}): {verdict}"
            + (f" - {mandatory} mandatory, {other} other" if pack.violations else "")
            + (f" ({exempt} exempt)" if exempt else "")
        )
        by_policy: dict[tuple[str, str], list[Violation]] = defaultdict(list)
        for violation in pack.violations:
            by_policy[(violation.policy, violation.level)].append(violation)
        order = sorted(by_policy, key=lambda key: (key[1] != MANDATORY, key[0]))
        for policy, level in order:
            found = by_policy[(policy, level)]
            lines.append(f"{_INDENT * 2}- [{level}]  {policy}  ({len(found)})")
            description = found[0].description.strip()
            if description:
                lines.append(f"{_INDENT * 2}  {description}")
            for violation in sorted(found, key=lambda v: (v.urn, v.message)):
                lines += _violation_lines(violation)
    return lines


def render_deferred(result: PreviewResult) -> list[str]:
    """Every check a pack could not decide at preview: it runs again at `pulumi up`, where a
    mandatory violation stops the update part-way."""
    checks = result.deferred
    if not checks:
        return []
    lines = [
        f"Decided at `pulumi up` ({len(checks)} check(s) need values unknown at preview; "
        "advisory here, enforced by the update):"
    ]
    for check in sorted(checks, key=lambda c: (c.policy, c.urn, c.prop)):
        kind, name = split_urn(check.urn) if check.urn else ("(stack)", "")
        lines.append(f"{_INDENT}- {check.policy}  `{check.prop}` of {kind}  {name}")
        lines.append(f"{_INDENT}  {check.urn}")
    return lines


def render_verdict_table(result: PreviewResult) -> list[str]:
    """--mode both: one table of every finding and which shape saw it."""
    if result.update is None:
        return []
    rows = result.verdict_table()
    only = sum(1 for row in rows if row.update_only)
    lines = [
        "Verdicts by shape (preview: a new stack's preview; update: known outputs, what "
        f"`pulumi up` checks): {len(rows)} finding(s), {only} only the update shape could see"
    ]
    header = ("level", "policy", "resource", "preview", "update", "")
    table = [header]
    for row in rows:
        kind, name = split_urn(row.urn) if row.urn else ("(stack)", "")
        table.append(
            (
                row.level,
                row.policy,
                f"{kind} {name}".strip(),
                "yes" if "preview" in row.shapes else "-",
                "yes" if "update" in row.shapes else "-",
                "UPDATE ONLY" if row.update_only else "",
            )
        )
    widths = [max(len(cells[i]) for cells in table) for i in range(len(header))]
    for cells in table:
        lines.append(
            _INDENT
            + "  ".join(
                cell.ljust(width) for cell, width in zip(cells, widths, strict=True)
            ).rstrip()
        )
    update = result.update
    lines.append(
        f"{_INDENT}update shape: {len(update.mandatory)} mandatory, "
        f"{sum(1 for v in update.violations if v.level == ADVISORY)} advisory"
    )
    return lines


def _mark(ok: bool | None) -> str:
    return {True: "ok", False: "VIOLATES", None: "unknown at preview"}[ok]


def _seconds(number: Number) -> str:
    return number.show("s")


def _count(value: float | None, unit: str = "") -> str:
    if value is None:
        return "unknown at preview"
    number = int(value) if float(value).is_integer() else value
    return f"{number}{unit}"


def _limits(rate: Number, burst: Number) -> str:
    if rate.source == "unset" and burst.source == "unset":
        return "no stage throttling"
    return f"{_count(rate.value, ' rps')} / burst {_count(burst.value)}"


def _throttling_lines(item: ApiThrottling, pad: str) -> list[str]:
    """The per-method limits, how many methods they apply to, and what the API admits in the
    region: the sum over its methods, capped by the account's limits."""
    account = (
        f"account limit {_count(thresholds.API_ACCOUNT_RATE_LIMIT_RPS, ' rps')} / burst "
        f"{_count(thresholds.API_ACCOUNT_BURST_LIMIT)}, shared by the region's APIs"
    )
    per_method = _limits(item.method_rate_limit, item.method_burst_limit)
    methods = f"{item.methods} method" + ("" if item.methods == 1 else "s")
    if item.method_overrides:
        methods += f" ({item.method_overrides} with their own limits, not added)"
    ceiling = (
        f"{_count(item.effective_rate_limit, ' rps')} / burst {_count(item.effective_burst_limit)}"
    )
    capped = {True: " (the account's)", False: "", None: ""}[item.capped_by_account]
    lines = [
        f"{pad}throttling     {item.api}: {per_method} per method x {methods} = up to "
        f"{ceiling}{capped} for the API in this region ({account})"
    ]
    lines += [f"{pad}  {_client_line(plan)}" for plan in item.usage_plans]
    return lines


def _client_line(plan: ClientLimits) -> str:
    if plan.quota.source == "unset":
        quota = "no quota"
    else:
        quota = f"quota {_count(plan.quota.value)} per {plan.quota_period or 'period unknown'}"
    return (
        f"usage plan {plan.usage_plan}: each key {_limits(plan.rate_limit, plan.burst_limit)}, "
        f"{quota}"
    )


def render_region(summary: RegionSummary) -> list[str]:
    pad = _INDENT * 2
    lines = [f"{_INDENT}{summary.region} ({summary.resources} resources)"]
    for item in summary.throttling:
        lines += _throttling_lines(item, pad)
    for chain in summary.timeout_chains:
        ms = chain.integration_timeout_ms
        api = "unknown at preview" if ms.value is None else f"{ms.value / 1000:g} s"
        limit = f"<= {chain.max_function_timeout_s} s" if chain.max_function_timeout_s else "?"
        lines.append(
            f"{pad}timeout chain  API {chain.integration} {api} -> function "
            f"{chain.function or '(not linked)'} {_seconds(chain.function_timeout_s)} "
            f"(needs {limit}): {_mark(chain.ok)}"
        )
    for consumer in summary.queue_consumers:
        ratio = f"{consumer.ratio:g}x" if consumer.ratio is not None else "unknown at preview"
        needed = (
            f">= {consumer.required_visibility_timeout_s} s"
            if consumer.required_visibility_timeout_s is not None
            else "unknown at preview"
        )
        lines.append(
            f"{pad}queue          {consumer.queue} visibility "
            f"{_seconds(consumer.visibility_timeout_s)}"
            f" vs consumer {consumer.function or '(not linked)'} "
            f"{_seconds(consumer.function_timeout_s)} + batching window "
            f"{_seconds(consumer.batching_window_s)}: ratio {ratio} (needs {needed}): "
            f"{_mark(consumer.ok)}"
        )
    for redrive in summary.redrives:
        count = redrive.max_receive_count
        count_text = "unknown at preview" if count.value is None else f"{count.value:g}"
        lines.append(
            f"{pad}redrive        {redrive.queue or '(not linked)'} -> "
            f"{redrive.dead_letter_queue or '(not linked)'} ({redrive.style}): maxReceiveCount "
            f"{count_text}, retention {_seconds(redrive.queue_retention_s)} -> DLQ "
            f"{_seconds(redrive.dead_letter_retention_s)}: {_mark(redrive.ok)}"
        )
    for failover in summary.failovers:
        if failover.health_check is None:
            lines.append(
                f"{pad}failover       {failover.record}: no health check, Route53 keeps answering "
                "with this region when it fails"
            )
            continue
        estimate = (
            f"~{failover.estimated_failover_s} s nominal"
            if failover.estimated_failover_s is not None
            else "unknown at preview"
        )
        lines.append(
            f"{pad}failover       {failover.record}: every {_seconds(failover.interval_s)} x "
            f"{failover.failure_threshold.show('failures')} + TTL {_seconds(failover.record_ttl_s)}"
            f" = {estimate}"
        )
    return lines


def render_resilience(regions: dict[str, RegionSummary]) -> list[str]:
    lines = ["Resilience summary (per region):"]
    shown = [summary for summary in regions.values() if not summary.is_empty()]
    if not shown:
        lines.append(f"{_INDENT}no APIs, queue consumers, redrives or latency records found")
    for summary in shown:
        lines += render_region(summary)
    return lines


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def render_counts(result: PreviewResult) -> list[str]:
    counts = result.counts()
    per_region = ", ".join(f"{region} {n}" for region, n in counts["by_region"].items())
    created = counts["total"] - counts["read"]
    read = f", {counts['read']} to read" if counts["read"] else ""
    return [
        "Resources:",
        f"{_INDENT}{created} to create{read} ({_plural(counts['custom'], 'resource')}, "
        f"{_plural(counts['components'], 'component')})"
        + (f"; by region: {per_region}" if per_region else ""),
    ]


def render_changes(result: PreviewResult) -> list[str]:
    """With --against: what this run creates and deletes in the earlier report's stack."""
    changes = result.changes
    if changes is None:
        return []
    protected, stateful = changes.protected_deletes, changes.stateful_deletes
    lines = [
        f"Changes against {changes.against} (by URN): {len(changes.created)} to create, "
        f"{len(changes.deleted)} to delete ({len(protected)} protected, {len(stateful)} "
        "holding data)"
    ]
    for created in changes.created:
        where = f"  {created['region']}" if created.get("region") else ""
        lines.append(f"{_INDENT}+ {created['urn']}{where}")
    for delete in changes.deleted:
        marks = []
        if delete.retained:
            marks.append("retained: forgotten, not deleted")
        elif delete.protected_by:
            marks.append(f"PROTECTED ({delete.protected_by}): the delete fails, `pulumi up` stops")
        if delete.loses and not delete.retained:
            marks.append(f"loses {delete.loses}")
        where = f"  {delete.region}" if delete.region else ""
        what = "" if delete.how == "removed" else f"  {delete.how}"
        lines.append(f"{_INDENT}- {delete.urn}{where}{what}")
        if marks:
            lines.append(f"{_INDENT * 2}{'; '.join(marks)}")
    if not changes.created and not changes.deleted:
        lines.append(f"{_INDENT}nothing created or deleted (updates in place are not compared)")
    return lines


def render_result_line(result: PreviewResult) -> str:
    violations = result.violations
    mandatory = len(result.mandatory)
    advisory = sum(1 for v in violations if v.level == ADVISORY)
    cant_run = sum(1 for v in violations if v.is_cant_run)
    exempt = len(result.exempt)
    extra = f" ({cant_run} could not run at preview)" if cant_run else ""
    extra += f" ({exempt} of them exempt)" if exempt else ""
    deferred = len(result.deferred)
    extra += f", {deferred} check(s) decided at `pulumi up`" if deferred else ""
    if result.update is not None:
        extra += f"; update shape: {len(result.update.mandatory)} mandatory"
    return (
        f"Result: {mandatory} mandatory violation(s), {advisory} advisory{extra} -> exit "
        f"{result.exit_code}"
    )


def render_remote_components(result: PreviewResult) -> list[str]:
    """Multi-language components (`remote=True`): their provider constructs them, which no
    offline run can, so neither their children nor their outputs were seen."""
    remote = [r for r in result.run.registrations if r.remote]
    if not remote:
        return []
    lines = [
        "Remote components (constructed by their package's provider plugin, which does not run "
        "offline: their children could not be seen and no policy judged them; their outputs "
        "are unknown):"
    ]
    lines += [f"{_INDENT}{r.type}  {r.name}  {r.urn}" for r in remote]
    return lines


def render_report(result: PreviewResult) -> str:
    header = (
        f"Previewing {result.mode} of stack {result.stack.stack} "
        f"(project {result.stack.project_name}, offline under mocks"
        + (
            ", every output of a new resource unknown"
            if result.mode == "preview"
            else ", plausible outputs"
        )
        + ")"
    )
    sections: list[Iterable[str]] = [
        [header],
        render_tree(result),
        render_diagnostics(result),
        render_provider_calls(result),
        render_stack_references(result),
        render_remote_components(result),
        render_policies(result),
        render_deferred(result),
        render_verdict_table(result),
        render_outputs(result.run.exports),
        render_counts(result),
        render_resilience(result.regions),
        render_changes(result),
        [render_result_line(result)],
    ]
    return "\n\n".join("\n".join(section) for section in sections if section) + "\n"
