"""Figures for the resilient-serverless policy pack, measured side by side in one run.

    .venv/bin/python benchmarks/policy_pack_bench.py [--reps N] [--sizes 1000,5000,10000]

Prints:
- the rules by enforcement level (and which can remediate);
- pack start-up (process start -> port printed, as the CLI waits for it) against an empty
  pulumi-policy pack created in a temporary folder, runs interleaved, medians and their ratio
  (goal <= 1.3), once as the environment is and once with a warm bytecode cache;
- AnalyzeStack on the realistic two-region stack (~100 resources), known and as a preview;
- AnalyzeStack on synthetic stacks of growing size (goal: 10 000 resources < 1 s), and the same
  request served by the SDK's stock analyzer for comparison;
- the engine's preview shape (Analyze for every resource, then AnalyzeStack merging the kept
  checked inputs into the planned state) against the same AnalyzeStack with no inputs kept.

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
from functools import partial
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACK_DIR = REPO / "policies"
for path in (REPO, REPO / "tests" / "policies", PACK_DIR):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from policy_fixtures.builder import ENGINE_PREVIEW  # noqa: E402
from policy_fixtures.realistic import active_active_stack  # noqa: E402
from policy_fixtures.synthetic import synthetic_stack  # noqa: E402
from pulumi_policy import ResourceValidationPolicy  # noqa: E402

from offline.analyzer import ENGINE_ADDRESS, PolicyPackProcess  # noqa: E402
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


def bench_analyze_stack(reps: int, sizes: list[int]) -> None:
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


def bench_engine_preview(pack: PolicyPackProcess, reps: int, sizes: list[int]) -> None:
    """The engine's preview shape: Analyze for every resource first (the pack keeps the checked
    inputs), then AnalyzeStack on the planned state, which the pack merges with those inputs.
    Measured against the same AnalyzeStack request with no inputs kept (after a Configure)."""
    print("AnalyzeStack in the engine's preview shape (planned state + kept checked inputs)")
    for size in sorted({sizes[0], sizes[-1]}):
        analyze, whole = synthetic_stack(size).engine_snapshots(ENGINE_PREVIEW)
        request = pack.stack_request(whole)
        pack.configure({})
        alone = timed(partial(pack.analyze_stack_request, request), reps)
        started = time.perf_counter()
        for snapshot in analyze:
            pack.analyze(snapshot)
        analyze_ms = (time.perf_counter() - started) * 1000
        merged = timed(partial(pack.analyze_stack_request, request), reps)
        found = pack.analyze_stack_request(request)
        print(
            f"  {len(whole):6d} resources: AnalyzeStack {merged:8.1f} ms with inputs vs "
            f"{alone:8.1f} ms without (ratio {merged / alone:.2f}; {len(found)} diagnostics); "
            f"the {len(analyze)} Analyze calls before it {analyze_ms:8.0f} ms in all"
        )
    pack.configure({})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=9, help="repetitions per figure (median)")
    parser.add_argument(
        "--sizes",
        default="1000,5000,10000",
        help="comma-separated synthetic stack sizes (resources)",
    )
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",") if size.strip()]
    print(f"python {sys.version.split()[0]} on {os.cpu_count()} CPU(s)\n")
    print_rules()
    bench_startup(args.reps)
    bench_analyze_stack(max(3, args.reps // 3), sizes)


if __name__ == "__main__":
    main()
