"""A Mermaid flowchart of the stack (`--diagram FILE`): one subgraph per region (plus one for
global resources) holding its resources, and an arrow from each resource to every resource an
input of it was computed from, labelled with the input's name (from property dependencies)."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

from ..engine.recording import Registration
from ..model import PreviewResult
from .resilience import GLOBAL_REGION


def _label(text: str) -> str:
    return text.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def subgraph_id(region: str) -> str:
    return "region_" + re.sub(r"[^A-Za-z0-9_]", "_", region)


def build_diagram(result: PreviewResult) -> str:
    resources: list[Registration] = sorted(
        (r for r in result.shown_resources() if r.custom),
        key=lambda r: (r.region or GLOBAL_REGION, r.type, r.name),
    )
    node_ids = {resource.urn: f"n{index}" for index, resource in enumerate(resources)}
    by_region: dict[str, list[Registration]] = defaultdict(list)
    for resource in resources:
        by_region[resource.region or GLOBAL_REGION].append(resource)

    lines = ["flowchart LR"]
    for region in sorted(by_region, key=lambda name: (name == GLOBAL_REGION, name)):
        lines.append(f'    subgraph {subgraph_id(region)}["{_label(region)}"]')
        for resource in by_region[region]:
            short_type = resource.type.rsplit(":", 1)[-1]
            label = f"{_label(short_type)}<br/>{_label(resource.name)}"
            lines.append(f'        {node_ids[resource.urn]}["{label}"]')
        lines.append("    end")

    edges: dict[tuple[str, str], set[str]] = defaultdict(set)
    for resource in resources:
        for prop, urns in resource.property_dependencies.items():
            for urn in urns:
                if urn in node_ids and urn != resource.urn:
                    edges[(node_ids[resource.urn], node_ids[urn])].add(prop)
    for (source, target), props in sorted(edges.items()):
        lines.append(f'    {source} -->|"{_label(", ".join(sorted(props)))}"| {target}')
    return "\n".join(lines) + "\n"


def write_diagram(result: PreviewResult, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(build_diagram(result), encoding="utf-8")
