"""`python -m offline preview`: run a Pulumi Python program under mocks and the policy packs over
its resources, without a cloud account or the Pulumi CLI.

Exit codes: 0 no mandatory violation, 1 mandatory violations, 2 the program, its config or the
arguments failed (the message says what and where).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import EXIT_FAILURE, OfflinePreviewError, UsageError
from .model import PackRun, PreviewResult
from .modes import BOTH, MODES, PREVIEW, UPDATE
from .progress import Progress


#: This repository's policy pack, the default for --policy-pack.
def _default_policy_pack() -> Path:
    """This project's pack: the checkout's `policies/`, or the copy installed with the package
    (`resilient_serverless.policy_pack`, the same files) when this tool runs from the wheel."""
    checkout = Path(__file__).resolve().parent.parent / "policies"
    if (checkout / "PulumiPolicy.yaml").is_file():
        return checkout
    spec = importlib.util.find_spec("resilient_serverless.policy_pack")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return checkout


DEFAULT_POLICY_PACK = _default_policy_pack()


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_FAILURE, f"error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m offline",
        description="Preview a Pulumi Python program offline, under mocks, with policy packs.",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    preview = commands.add_parser(
        "preview",
        help="run the program under mocks and the policy packs over its resources",
        description=(
            "Run a Pulumi Python program in-process under Pulumi mocks, then run policy packs "
            "over its resources through the Analyzer gRPC protocol, as `pulumi preview "
            "--policy-pack` would. Exit 0: no mandatory violation; 1: mandatory violations; "
            "2: the program, its config or the arguments failed."
        ),
    )
    preview.add_argument(
        "--cwd",
        type=Path,
        default=Path("."),
        help="the Pulumi project folder (holds Pulumi.yaml); default: .",
    )
    preview.add_argument("--stack", help="the stack whose Pulumi.<stack>.yaml config to use")
    preview.add_argument(
        "--policy-pack",
        dest="policy_packs",
        action="append",
        type=Path,
        metavar="DIR",
        help=f"a policy pack folder (repeatable); default: {DEFAULT_POLICY_PACK}",
    )
    preview.add_argument(
        "--policy-pack-config",
        dest="policy_pack_configs",
        action="append",
        type=Path,
        metavar="FILE",
        help="the CLI's JSON policy config for the pack at the same position (repeatable)",
    )
    preview.add_argument(
        "--mode",
        choices=(*MODES, BOTH),
        default="preview",
        help="what the packs receive. preview: what a real preview of a new stack sends "
        "(checked inputs to Analyze, the provider's planned state, computed values unknown, to "
        "AnalyzeStack); update: known outputs of every property (a deployed stack); inputs: the "
        "raw inputs to both calls (the older, simpler shape, for comparison); outputs-only: "
        "known outputs, no Analyze call and no dependency links (the worst case); both: preview, "
        "then update, in one run, with one verdict table saying which findings only the "
        "update shape could see",
    )
    preview.add_argument(
        "--stack-outputs",
        dest="stack_outputs_path",
        type=Path,
        metavar="FILE",
        help="outputs of the stacks the program references (pulumi.StackReference), read in "
        'update mode: JSON {"<stack name as the program gives it>": {"<output>": value}}; '
        "a stack or output it lacks is unknown, as in preview",
    )
    preview.add_argument(
        "--json", dest="json_path", type=Path, metavar="FILE", help="also write the report as JSON"
    )
    preview.add_argument(
        "--against",
        dest="against_path",
        type=Path,
        metavar="PREVIOUS.json",
        help="the JSON report (--json) of an earlier run of the same stack: list what this run "
        "would create and delete, by URN, marking deletes of protected resources (which fail "
        "`pulumi up` halfway) and of resources that hold data",
    )
    preview.add_argument(
        "--events",
        dest="events_path",
        type=Path,
        metavar="FILE",
        help="also write the verdicts as the engine's newline-delimited JSON events (what "
        "`pulumi preview --event-log FILE` writes: preludeEvent, policyEvent, policy summaries, "
        "summaryEvent, cancelEvent)",
    )
    preview.add_argument(
        "--summary-md",
        dest="summary_md_path",
        type=Path,
        metavar="FILE",
        help="also write the verdicts as a Markdown table, e.g. for $GITHUB_STEP_SUMMARY",
    )
    preview.add_argument(
        "--diagram",
        dest="diagram_path",
        type=Path,
        metavar="FILE",
        help="also write a Mermaid diagram (one subgraph per region)",
    )
    return parser


def _pack_configs(args: argparse.Namespace, pack_dirs: list[Path]) -> list[Path | None]:
    configs: list[Path] = [p.resolve() for p in (args.policy_pack_configs or [])]
    if not configs:
        return [None] * len(pack_dirs)
    if len(configs) != len(pack_dirs):
        raise UsageError(
            f"{len(configs)} --policy-pack-config for {len(pack_dirs)} --policy-pack: give one "
            "config per pack, in the same order (as the Pulumi CLI does)"
        )
    return list(configs)


def _timing_key(key: str, mode: str, requested: str) -> str:
    """`program_s`, or `program_s_update` for the second shape of --mode both."""
    return key if mode in (requested, PREVIEW) else f"{key}_{mode}"


def run_preview(args: argparse.Namespace, progress: Progress) -> PreviewResult:
    # Imported here so that `--help` and argument errors answer before the SDK loads.
    from .engine.project import load_stack
    from .engine.runner import run_program
    from .policy.policy_runner import (
        PackLauncher,
        build_snapshots,
        parse_pack_config,
        run_pack,
        validate_pack_dir,
    )
    from .reports.resilience import summarize

    timings: dict[str, float] = {}
    started = time.perf_counter()
    pack_dirs = [validate_pack_dir(p) for p in (args.policy_packs or [DEFAULT_POLICY_PACK])]
    config_paths = _pack_configs(args, pack_dirs)
    pack_configs: list[dict[str, Any]] = [
        parse_pack_config(path) if path is not None else {} for path in config_paths
    ]
    json_path = args.json_path.resolve() if args.json_path else None
    stack_outputs = None
    if args.stack_outputs_path is not None:
        from .engine.stack_references import load_stack_outputs

        # Read before the program runs, so a malformed file fails fast with exit code 2.
        stack_outputs = load_stack_outputs(args.stack_outputs_path.resolve())
    previous = None
    if args.against_path is not None:
        from .reports.changes import load_previous

        # Read before the program runs, so a file that is not a report fails fast (exit 2).
        previous = load_previous(args.against_path.resolve())
    diagram_path = args.diagram_path.resolve() if args.diagram_path else None
    events_path = args.events_path.resolve() if args.events_path else None
    summary_md_path = args.summary_md_path.resolve() if args.summary_md_path else None
    # The engine names a local pack by its path as given on the command line.
    given_pack_paths = [str(p) for p in (args.policy_packs or [DEFAULT_POLICY_PACK])]

    progress.update("reading the project and stack config")
    stack = load_stack(args.cwd, args.stack)
    if previous is not None:
        from .reports.changes import check_same_stack

        check_same_stack(previous, stack.project_name, stack.stack)

    launcher = PackLauncher(pack_dirs)
    try:
        shapes = [PREVIEW, UPDATE] if args.mode == BOTH else [args.mode]
        shaped: list[tuple[Any, list[PackRun]]] = []
        processes: list[Any] | None = None
        for mode in shapes:
            progress.update(f"running {stack.program_file.name} of {stack.project_name} ({mode})")
            count = 0

            def registered(_registration: object) -> None:
                nonlocal count
                count += 1
                if count % 10 == 0:
                    progress.update(f"running the program: {count} resources registered")

            program_started = time.perf_counter()
            run = run_program(stack, mode=mode, on_register=registered, stack_outputs=stack_outputs)
            timings[_timing_key("program_s", mode, args.mode)] = (
                time.perf_counter() - program_started
            )

            if processes is None:
                progress.update("waiting for the policy packs to start")
                waited = time.perf_counter()
                processes = launcher.wait()
                timings["pack_start_wait_s"] = time.perf_counter() - waited

            partial = PreviewResult(stack=stack, mode=mode, run=run, packs=[], regions={})
            snapshots = build_snapshots(
                run.registrations, partial.stack_registration(), stack, mode=mode
            )
            analyzing = time.perf_counter()
            # Each shape is a deployment of its own to the packs: run_pack sends Configure
            # first, which opens a fresh analysis in the same process.
            packs: list[PackRun] = [
                run_pack(process, directory, snapshots, config, config_path, progress.update)
                for process, directory, config, config_path in zip(
                    processes, pack_dirs, pack_configs, config_paths, strict=True
                )
            ]
            timings[_timing_key("analyze_s", mode, args.mode)] = time.perf_counter() - analyzing
            shaped.append((run, packs))
    finally:
        launcher.close()

    results = [
        PreviewResult(
            stack=stack, mode=mode, run=run, packs=packs, regions=summarize(run.registrations)
        )
        for mode, (run, packs) in zip(shapes, shaped, strict=True)
    ]
    result = results[0]
    if len(results) > 1:
        result.mode = BOTH
        result.update = results[1]

    if previous is not None:
        from .reports.changes import compare
        from .reports.json_report import report_resources

        result.changes = compare(previous, report_resources(result))
    timings["total_s"] = time.perf_counter() - started
    result.timings = timings

    if json_path is not None:
        from .reports.json_report import write_report

        write_report(result, json_path)
    if events_path is not None:
        from .reports.engine_events import write_events

        write_events(result, events_path, given_pack_paths)
    if summary_md_path is not None:
        from .reports.job_summary import write_summary_markdown

        write_summary_markdown(result, summary_md_path)
    if diagram_path is not None:
        from .reports.diagram import write_diagram

        write_diagram(result, diagram_path)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    progress = Progress()
    try:
        result = run_preview(args, progress)
    except OfflinePreviewError as error:
        progress.clear()
        sys.stdout.flush()
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        progress.clear()
        print("error: interrupted", file=sys.stderr)
        return EXIT_FAILURE
    progress.clear()
    from .reports.render import render_report

    sys.stdout.write(render_report(result))
    sys.stdout.flush()
    return result.exit_code
