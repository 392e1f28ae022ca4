"""Figures for the resilient-serverless policy pack, measured side by side in one run.

    .venv/bin/python benchmarks/policy_pack_bench.py [--reps N] [--sizes 1000,5000,10000]
        [--linearity-sizes 1000,5000,10000,20000]

Prints:
- the rules by enforcement level (and which can remediate);
- pack start-up (process start -> port printed, as the CLI waits for it) against an empty
  pulumi-policy pack created in a temporary folder, runs interleaved, medians and their ratio
  (goal <= 1.3), once as the environment is and once with a warm bytecode cache;
- AnalyzeStack on the realistic two-region stack (~100 resources), known and as a preview;
- AnalyzeStack on synthetic stacks of growing size (goal: 10 000 resources < 1 s), and the same
  request served by the SDK's stock analyzer for comparison;
- the engine's preview shape (Analyze for every resource, then AnalyzeStack merging the kept
  checked inputs into the planned state) against the same AnalyzeStack with no inputs kept;
- the goal figure: AnalyzeStack in the engine's preview shape with kept inputs at 10 000
  resources (goal < 1 s), its ratio to the builder's inputs shape (the program's inputs at
  preview, no Analyze) on the same stack in the same run, and a linearity check: the time per
  resource from 1 000 to 20 000 resources and the ratio 20k / 1k of it (1.0 is linear).

Times are wall-clock on this machine; nothing here asserts on them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACK_DIR = REPO / "policies"
for path in (REPO, REPO / "tests" / "policies", PACK_DIR):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from policy_fixtures.builder import ENGINE_PREVIEW  # noqa: E402
from policy_fixtures.realistic import active_active_stack  # noqa: E402
from policy_fixtures.synthetic import synthetic_stack  # noqa: E402
from pulumi.runtime.proto import analyzer_pb2  # noqa: E402
from pulumi_policy import ResourceValidationPolicy  # noqa: E402

from offline.policy.analyzer import ENGINE_ADDRESS, PolicyPackProcess, ResourceSnapshot  # noqa: E402
from resilience_policies.pack import all_policies  # noqa: E402
from resilience_policies.server import SDK_ANALYZER_ENV  # noqa: E402

EMPTY_PACK = textwrap.dedent(
    """
    from pulumi_policy import EnforcementLevel, PolicyPack, ResourceValidationPolicy

    PolicyPack(
        name="empty",
        policies=[
            ResourceValidationPolicy(
                name="noop",
                description="Does nothing.",
                validate=lambda args, report_violation: None,
                enforcement_level=EnforcementLevel.ADVISORY,
            )
        ],
    )
    """
)


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def print_rules() -> None:
    print("Rules by level")
    by_level: dict[str, list[str]] = {}
    for policy in all_policies():
        level = policy.enforcement_level.value if policy.enforcement_level else "advisory"
        kind = "resource" if isinstance(policy, ResourceValidationPolicy) else "stack"
        remediates = isinstance(policy, ResourceValidationPolicy) and policy.has_remediation()
        by_level.setdefault(level, []).append(
            f"{policy.name} ({kind}{', remediates' if remediates else ''})"
        )
    for level, names in by_level.items():
        print(f"  {level} ({len(names)}):")
        for name in names:
            print(f"    - {name}")
    print()


def time_to_port(pack_dir: Path, env: dict[str, str]) -> float:
    """Seconds from process start to the port on its first stdout line."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "pulumi.policy", ENGINE_ADDRESS, str(pack_dir)],
        cwd=pack_dir,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    elapsed = time.perf_counter() - started
    process.terminate()
    process.wait()
    if not line.strip().isdigit():
        raise RuntimeError(f"{pack_dir} printed {line!r} instead of a port")
    return elapsed


def bench_startup(reps: int) -> None:
    print(f"Start-up: process start -> port printed (median of {reps}, interleaved)")
    with tempfile.TemporaryDirectory() as scratch:
        empty = Path(scratch) / "empty-pack"
        empty.mkdir()
        (empty / "__main__.py").write_text(EMPTY_PACK)
        cached = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        cached["PYTHONPYCACHEPREFIX"] = str(Path(scratch) / "pycache")
        for label, env in (("environment as is", dict(os.environ)), ("bytecode cached", cached)):
            time_to_port(empty, env)  # warm the OS caches (and the bytecode cache)
            time_to_port(PACK_DIR, env)
            empty_times, pack_times = [], []
            for _ in range(reps):
                empty_times.append(time_to_port(empty, env))
                pack_times.append(time_to_port(PACK_DIR, env))
            ratio = statistics.median(pack_times) / statistics.median(empty_times)
            print(
                f"  {label:18s} empty pack {median_ms(empty_times):6.0f} ms | "
                f"resilient-serverless {median_ms(pack_times):6.0f} ms | "
                f"ratio {ratio:.2f} (goal <= 1.3)"
            )
    print()


def timed(call: Callable[[], object], reps: int) -> float:
    samples = []
    for _ in range(reps):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return median_ms(samples)


def bench_analyze_stack(reps: int, sizes: list[int], linearity_sizes: list[int]) -> None:
    with PolicyPackProcess(PACK_DIR) as pack:
        pack.configure({})
        realistic = active_active_stack()
        print(f"AnalyzeStack, realistic 2-region stack ({len(realistic.resources)} resources)")
        for preview in (False, True):
            request = pack.stack_request(realistic.snapshots(preview=preview))
            found = pack.analyze_stack_request(request)
            elapsed = timed(partial(pack.analyze_stack_request, request), reps)
            label = "preview" if preview else "known"
            print(f"  {label:8s} {elapsed:7.1f} ms  ({len(found)} diagnostics)")
        print()

        print("AnalyzeStack, synthetic stacks (preview shape; the RPC only, request prebuilt)")
        stock_sizes = {sizes[0]}
        with PolicyPackProcess(PACK_DIR, env={SDK_ANALYZER_ENV: "1"}) as stock:
            stock.configure({})
            for size in sizes:
                stack = synthetic_stack(size)
                request = pack.stack_request(stack.snapshots(preview=True))
                found = pack.analyze_stack_request(request)
                elapsed = timed(partial(pack.analyze_stack_request, request), reps)
                per_thousand = elapsed / len(stack.resources) * 1000
                line = (
                    f"  {len(stack.resources):6d} resources {elapsed:8.1f} ms "
                    f"({per_thousand:5.1f} ms per 1000; {len(found)} diagnostics, "
                    f"{request.ByteSize() / 1e6:.1f} MB request)"
                )
                if size in stock_sizes:
                    stock_ms = timed(partial(stock.analyze_stack_request, request), 1)
                    line += f" | SDK stock analyzer {stock_ms:.0f} ms"
                print(line)
            largest = sizes[-1]
            for label, stack in (
                ("known (inputs + outputs)", synthetic_stack(largest)),
                ("every 10th worker faulty", synthetic_stack(largest, faulty_every=10)),
            ):
                preview = label.startswith("every")
                request = pack.stack_request(stack.snapshots(preview=preview))
                found = pack.analyze_stack_request(request)
                elapsed = timed(partial(pack.analyze_stack_request, request), reps)
                print(
                    f"  {len(stack.resources):6d} resources {elapsed:8.1f} ms "
                    f"({label}; {len(found)} diagnostics)"
                )
        print("  goal: 10 000 resources in < 1000 ms")
        print()
        bench_engine_preview(pack, reps, sizes)
        bench_preview_with_inputs(pack, max(5, reps), linearity_sizes)


@dataclass(frozen=True)
class PreviewStack:
    """One synthetic stack rendered in the engine's preview shape and in the builder's inputs
    shape, with its requests built once (building is slow; it is not what is measured)."""

    resources: int
    analyze: list[ResourceSnapshot]
    request: analyzer_pb2.AnalyzeStackRequest
    inputs_request: analyzer_pb2.AnalyzeStackRequest


@cache
def preview_stack(size: int) -> PreviewStack:
    stack = synthetic_stack(size)
    analyze, whole = stack.engine_snapshots(ENGINE_PREVIEW)
    return PreviewStack(
        len(whole),
        analyze,
        PolicyPackProcess.stack_request(whole),
        PolicyPackProcess.stack_request(stack.snapshots(preview=True)),
    )


def bench_engine_preview(pack: PolicyPackProcess, reps: int, sizes: list[int]) -> None:
    """The engine's preview shape: Analyze for every resource first (the pack keeps the checked
    inputs), then AnalyzeStack on the planned state, which the pack merges with those inputs.
    Measured against the same AnalyzeStack request with no inputs kept (after a Configure)."""
    print("AnalyzeStack in the engine's preview shape (planned state + kept checked inputs)")
    for size in sorted({sizes[0], sizes[-1]}):
        prepared = preview_stack(size)
        analyze, request = prepared.analyze, prepared.request
        pack.configure({})
        alone = timed(partial(pack.analyze_stack_request, request), reps)
        started = time.perf_counter()
        for snapshot in analyze:
            pack.analyze(snapshot)
        analyze_ms = (time.perf_counter() - started) * 1000
        merged = timed(partial(pack.analyze_stack_request, request), reps)
        found = pack.analyze_stack_request(request)
        print(
            f"  {prepared.resources:6d} resources: AnalyzeStack {merged:8.1f} ms with inputs vs "
            f"{alone:8.1f} ms without (ratio {merged / alone:.2f}; {len(found)} diagnostics); "
            f"the {len(analyze)} Analyze calls before it {analyze_ms:8.0f} ms in all"
        )
    pack.configure({})
    print()


def bench_preview_with_inputs(
    pack: PolicyPackProcess, reps: int, sizes: list[int], goal_size: int = 10_000
) -> None:
    """The goal figure and its linearity: for each size, AnalyzeStack on the builder's inputs
    shape with nothing kept (after a Configure), then the stack's Analyze calls, then
    AnalyzeStack in the engine's preview shape merging the kept inputs; medians of `reps`."""
    print(
        "AnalyzeStack, engine preview shape with kept inputs vs the inputs shape "
        f"(median of {reps}; goal: {goal_size:_} resources < 1 s)".replace("_", " ")
    )
    print(
        f"  {'resources':>9s}  {'with inputs':>11s}  {'inputs shape':>12s}  {'ratio':>5s}  "
        f"{'us/resource':>11s}  {'(inputs shape)':>14s}"
    )
    per_resource: dict[int, float] = {}
    headline: tuple[int, float, float] | None = None
    for size in sizes:
        prepared = preview_stack(size)
        pack.configure({})  # a new deployment: nothing kept
        pack.analyze_stack_request(prepared.inputs_request)
        alone = timed(partial(pack.analyze_stack_request, prepared.inputs_request), reps)
        for snapshot in prepared.analyze:
            pack.analyze(snapshot)
        pack.analyze_stack_request(prepared.request)
        merged = timed(partial(pack.analyze_stack_request, prepared.request), reps)
        per_resource[size] = merged * 1000 / prepared.resources
        print(
            f"  {prepared.resources:9d}  {merged / 1000:9.3f} s  {alone / 1000:10.3f} s  "
            f"{merged / alone:5.2f}  {per_resource[size]:11.1f}  "
            f"{alone * 1000 / prepared.resources:14.1f}"
        )
        if size == goal_size:
            headline = (prepared.resources, merged, alone)
    pack.configure({})
    if headline is not None:
        resources, merged, alone = headline
        verdict = "met" if merged < 1000 else "NOT met"
        print(
            f"  goal figure: {resources} resources, engine preview shape with kept inputs "
            f"{merged / 1000:.3f} s (goal < 1 s: {verdict}); {merged / alone:.2f} x the inputs "
            "shape in this run"
        )
    smallest, largest = min(per_resource), max(per_resource)
    if largest > smallest:
        print(
            f"  linearity: time per resource at {largest} / at {smallest} resources = "
            f"{per_resource[largest] / per_resource[smallest]:.2f} (1.00 is linear)"
        )
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=9, help="repetitions per figure (median)")
    parser.add_argument(
        "--sizes",
        default="1000,5000,10000",
        help="comma-separated synthetic stack sizes (resources)",
    )
    parser.add_argument(
        "--linearity-sizes",
        default="1000,5000,10000,20000",
        help="comma-separated sizes for the preview-with-inputs figures (the goal is at 10000)",
    )
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",") if size.strip()]
    linearity_sizes = [int(size) for size in args.linearity_sizes.split(",") if size.strip()]
    print(f"python {sys.version.split()[0]} on {os.cpu_count()} CPU(s)\n")
    print_rules()
    bench_startup(args.reps)
    bench_analyze_stack(max(3, args.reps // 3), sizes, linearity_sizes)


if __name__ == "__main__":
    main()
