"""Wall time of the offline preview: the prod stack in every mode, then 2, 4, 8 and 16 regions.

Each measurement is one `python -m offline preview` process (mocks are process-global), timed
from the outside, so it includes interpreter start-up, the SDK imports, the program run, the
policy pack's start-up and every Analyze call. The region sweep writes a stack config into a
temporary copy of the project's Pulumi.yaml whose `main` points at this repository's program.

Prints a table and the growth per region; asserts nothing about time.

    .venv/bin/python benchmarks/offline_bench.py [--repeat N]
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from offline.modes import MODES  # noqa: E402

REGION_COUNTS = (2, 4, 8, 16)
#: Commercial regions with the Powertools public layer, in the order a stack would add them.
REGIONS = (
    "us-east-1",
    "eu-west-1",
    "us-west-2",
    "eu-central-1",
    "ap-southeast-1",
    "ap-northeast-1",
    "us-east-2",
    "eu-west-2",
    "ap-southeast-2",
    "ca-central-1",
    "sa-east-1",
    "eu-north-1",
    "ap-south-1",
    "eu-west-3",
    "us-west-1",
    "ap-northeast-2",
)


@dataclass
class Measurement:
    label: str
    mode: str
    regions: int
    resources: int
    wall_s: float
    program_s: float
    analyze_s: float
    exit_code: int


def run_preview(
    cwd: Path, stack: str, mode: str, repeat: int, label: str, regions: int
) -> Measurement:
    walls: list[float] = []
    programs: list[float] = []
    analyses: list[float] = []
    resources = 0
    exit_code = 0
    with tempfile.TemporaryDirectory(prefix="offline-bench-") as scratch:
        report_path = Path(scratch) / "report.json"
        for _ in range(repeat):
            started = time.perf_counter()
            completed = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "offline",
                    "preview",
                    "--cwd",
                    str(cwd),
                    "--stack",
                    stack,
                    "--mode",
                    mode,
                    "--json",
                    str(report_path),
                ],
                cwd=REPO,
                capture_output=True,
                text=True,
                check=False,
            )
            walls.append(time.perf_counter() - started)
            exit_code = completed.returncode
            if exit_code == 2:
                raise SystemExit(
                    f"offline preview failed for {label} ({mode}):\n{completed.stderr}"
                )
            summary = json.loads(report_path.read_text())["summary"]
            resources = summary["resources"]["total"]
            programs.append(summary["timings"].get("program_s", 0.0))
            analyses.append(summary["timings"].get("analyze_s", 0.0))
    return Measurement(
        label=label,
        mode=mode,
        regions=regions,
        resources=resources,
        wall_s=statistics.median(walls),
        program_s=statistics.median(programs),
        analyze_s=statistics.median(analyses),
        exit_code=exit_code,
    )


def region_project(scratch: Path, count: int) -> Path:
    """A copy of the project config with `count` regions, running the repository's program."""
    project = yaml.safe_load((REPO / "Pulumi.yaml").read_text())
    project["main"] = str(REPO)
    stack = yaml.safe_load((REPO / "Pulumi.prod.yaml").read_text())
    stack["config"][f"{project['name']}:regions"] = list(REGIONS[:count])
    folder = scratch / f"regions-{count}"
    folder.mkdir()
    (folder / "Pulumi.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
    (folder / "Pulumi.bench.yaml").write_text(yaml.safe_dump(stack, sort_keys=False))
    return folder


def print_table(rows: list[Measurement]) -> None:
    header = (
        f"{'run':<14}{'mode':<13}{'regions':>8}{'resources':>11}{'wall s':>9}"
        f"{'program s':>11}{'analyze s':>11}{'exit':>6}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row.label:<14}{row.mode:<13}{row.regions:>8}{row.resources:>11}{row.wall_s:>9.2f}"
            f"{row.program_s:>11.2f}{row.analyze_s:>11.2f}{row.exit_code:>6}"
        )


def print_growth(rows: list[Measurement]) -> None:
    print(
        "\nGrowth with regions (each step doubles the regions; linear growth doubles the "
        "per-region work, not the fixed start-up):"
    )
    print(
        f"{'mode':<13}{'regions':>8}{'resources x':>13}{'wall x':>9}{'program x':>11}"
        f"{'analyze x':>11}{'wall s / region':>17}"
    )
    for mode in ("preview", "update"):
        sweep = [r for r in rows if r.mode == mode and r.label.startswith("regions")]
        for previous, current in itertools.pairwise(sweep):

            def ratio(a: float, b: float) -> str:
                return f"{b / a:.2f}" if a > 0 else "n/a"

            per_region = (current.wall_s - previous.wall_s) / (current.regions - previous.regions)
            print(
                f"{mode:<13}{current.regions:>8}"
                f"{ratio(previous.resources, current.resources):>13}"
                f"{ratio(previous.wall_s, current.wall_s):>9}"
                f"{ratio(previous.program_s, current.program_s):>11}"
                f"{ratio(previous.analyze_s, current.analyze_s):>11}"
                f"{per_region:>17.3f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    args = parser.parse_args()

    # Every shape for prod (see offline/modes.py); the region sweep in the two common ones.
    rows = [run_preview(REPO, "prod", mode, args.repeat, "prod", 0) for mode in MODES]
    prod_regions = len(
        yaml.safe_load((REPO / "Pulumi.prod.yaml").read_text())["config"].get(
            "resilient-serverless:regions", []
        )
    )
    for row in rows:
        row.regions = prod_regions
    with tempfile.TemporaryDirectory(prefix="offline-bench-regions-") as scratch:
        for count in REGION_COUNTS:
            folder = region_project(Path(scratch), count)
            for mode in ("preview", "update"):
                rows.append(
                    run_preview(folder, "bench", mode, args.repeat, f"regions-{count}", count)
                )
    print_table(rows)
    print_growth(rows)
    prod = [r for r in rows if r.label == "prod"]
    print(
        "\nprod: "
        + ", ".join(f"{r.mode} {r.wall_s:.2f} s for {r.resources} resources" for r in prod)
        + " (goal: under 5 s)"
    )


if __name__ == "__main__":
    main()
