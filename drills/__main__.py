"""python -m drills load|chaos|gameday ... (see drills/README.md). Exit status: 0 when every goal
of the drill is met, 1 when one is missed (the verdict lines name it), 2 for bad arguments."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any, Final

from .output import table
from .verdicts import Goal, judge, lines, missed, report


def _positive(kind: type[int] | type[float], name: str) -> Any:
    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name}: expected a number, got {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{name}: must be greater than 0, got {text}")
        return value

    return parse


def _share(name: str) -> Any:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name}: expected a number, got {text!r}") from None
        if not 0 <= value <= 1:
            raise argparse.ArgumentTypeError(f"{name}: expected a share from 0 to 1, got {text}")
        return value

    return parse


def _judged(result: dict[str, Any], goals: Sequence[Goal], json_path: str | None) -> int:
    """Print the verdicts, write the figures and verdicts as JSON; the drill's exit status."""
    verdicts = judge(result, goals)
    print(lines(verdicts))
    if json_path:
        with open(json_path, "w", encoding="utf-8") as handle:
            json.dump({**result, **report(verdicts)}, handle, indent=2)
    return 1 if missed(verdicts) else 0


#: gameday options that only a live run takes, and the local ones a live run refuses.
_LIVE_ONLY: Final = ("dry_run", "i_mean_prod", "api_key_file", "outputs", "restore_file")
_LOCAL_ONLY: Final = ("consistency", "compression")


def _option(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def _gameday_live(
    parser: argparse.ArgumentParser, arguments: argparse.Namespace, options: Any
) -> int:
    import os
    from pathlib import Path

    from . import gameday as drill
    from . import live

    try:
        stack = live.load_stack(
            options.project, options.stack, Path(arguments.outputs) if arguments.outputs else None
        )
        live.check_allowed(stack, arguments.i_mean_prod or 0)
        key = live.api_key(
            stack, Path(arguments.api_key_file) if arguments.api_key_file else None, os.environ
        )
        settings = drill.read_stack_settings(options.project, options.stack)
        network = live.LiveNetwork(stack, api_key=key)
        restore_path = Path(arguments.restore_file or f"gameday-{stack.name}-restore.json")
        result = live.run(
            options,
            stack,
            settings,
            network,
            live.FaultParameters(stack),
            restore_path,
            dry_run=bool(arguments.dry_run),
        )
    except ValueError as error:
        parser.error(f"gameday --live: {error}")
    except KeyboardInterrupt:
        print("gameday --live: interrupted; the fault parameters were put back", file=sys.stderr)
        return 130
    if result is None:
        return 0
    for entry in result["scenarios"]:
        print(table(f"gameday {entry['name']} (live, {stack.name})", entry))
        print()
    return _judged(result, live.goals([e["name"] for e in result["scenarios"]]), arguments.json)


def _gameday(parser: argparse.ArgumentParser, arguments: argparse.Namespace) -> int:
    from pathlib import Path

    from . import gameday as drill

    if arguments.restore:
        from . import live

        if arguments.live:
            parser.error("gameday --restore: restores only; run it without --live")
        try:
            restored = live.restore_from_file(Path(arguments.restore))
        except ValueError as error:
            parser.error(f"gameday: {error}")
        print(f"restored: {', '.join(restored)}")
        return 0
    mode, wrong = ("--live", _LOCAL_ONLY) if arguments.live else ("the local game day", _LIVE_ONLY)
    for dest in wrong:
        if getattr(arguments, dest) is not None:
            needs = "--live" if not arguments.live else "the local game day (without --live)"
            parser.error(f"gameday: {_option(dest)} is for {needs}, not {mode}")
    try:
        options = drill.Options(
            tasks=arguments.tasks,
            consistency=arguments.consistency or "eventual",
            scenarios=tuple(arguments.scenario or drill.SCENARIOS),
            # A deployed stack's time is real time.
            compression=1.0 if arguments.live else (arguments.compression or 10.0),
            flood_factor=arguments.flood_factor,
            project=Path(arguments.project).resolve() if arguments.project else drill.ROOT,
            stack=arguments.stack,
        )
        if arguments.live:
            return _gameday_live(parser, arguments, options)
        settings = drill.read_stack_settings(options.project, options.stack)
    except ValueError as error:
        parser.error(f"gameday: {error}")
    result = drill.run(options, settings)
    for entry in result["scenarios"]:
        print(table(f"gameday {entry['name']} ({options.consistency})", entry))
        print()
    return _judged(result, drill.goals(options), arguments.json)


def main(argv: Sequence[str] | None = None) -> int:
    """Run a drill, print its figures and verdicts; 0 when every goal is met, 1 when not."""
    parser = argparse.ArgumentParser(prog="python -m drills", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    load = commands.add_parser("load", help="steady load: latency submit-to-done, status codes")
    load.add_argument("--rps", type=_positive(float, "--rps"), required=True)
    load.add_argument("--seconds", type=_positive(float, "--seconds"), required=True)
    load.add_argument("--url", help="a deployed stack's URL (default: moto on 127.0.0.1)")
    load.add_argument(
        "--grace-seconds",
        type=_positive(float, "--grace-seconds"),
        default=30.0,
        help="how long after its due time (or the last submit) a task may take (default 30)",
    )
    load.add_argument(
        "--max-receive-count",
        type=_positive(int, "--max-receive-count"),
        default=3,
        help="locally: receives before a failing task's message moves to the DLQ (default 3)",
    )
    load.add_argument(
        "--api-key-file",
        metavar="FILE",
        help="the client's API key, sent in x-api-key with every signed call (a stack with "
        "apiAuthorization iam+apiKey); locally the gateway then requires it. Default "
        "$RESILIENT_API_KEY if set; never the value itself on the command line",
    )
    load.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    chaos = commands.add_parser("chaos", help="outage, slowdown, recovery; with a control pass")
    chaos.add_argument("--tasks", type=_positive(int, "--tasks"), required=True)
    chaos.add_argument(
        "--rps",
        type=_positive(float, "--rps"),
        default=40.0,
        help="arrivals per second, open loop (default 40); the timeline lasts tasks/rps seconds",
    )
    chaos.add_argument(
        "--lost-reply-rate",
        type=_share("--lost-reply-rate"),
        default=0.02,
        help="share of table and queue replies lost after the call was applied (default 0.02)",
    )
    chaos.add_argument(
        "--max-receive-count",
        type=_positive(int, "--max-receive-count"),
        default=3,
        help="receives before a message moves to the DLQ (default 3)",
    )
    chaos.add_argument(
        "--no-control",
        action="store_true",
        help="skip the control pass (the breaker's goal is then not judged)",
    )
    chaos.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    gameday = commands.add_parser(
        "gameday", help="take a region away: DNS failover, replication, fail-back"
    )
    gameday.add_argument(
        "--tasks",
        type=_positive(int, "--tasks"),
        default=40,
        help="requests per scenario, open loop over its timeline (default 40)",
    )
    gameday.add_argument(
        "--consistency",
        choices=("eventual", "strong"),
        default=None,
        help="the global table's mode: eventual (MREC, default) or strong (MRSC); local only",
    )
    gameday.add_argument(
        "--scenario",
        action="append",
        metavar="NAME",
        help="run only this scenario (repeatable; default: all of them)",
    )
    gameday.add_argument(
        "--flood-factor",
        type=_positive(float, "--flood-factor"),
        default=10.0,
        help="health-flood: the flood is this many times the public health route's rate "
        "(default 10)",
    )
    gameday.add_argument(
        "--compression",
        type=_positive(float, "--compression"),
        default=None,
        help="time runs this many times faster; figures stay in real seconds (default 10); "
        "local only",
    )
    gameday.add_argument(
        "--project",
        default=None,
        help="the Pulumi project whose stack settings are used (default: this checkout)",
    )
    gameday.add_argument("--stack", default="prod", help="the stack to read (default prod)")
    gameday.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    gameday.add_argument(
        "--live",
        action="store_true",
        help="run against the deployed stack (--stack): only the scenarios its fault "
        "parameters can express; see drills/README.md",
    )
    gameday.add_argument(
        "--dry-run",
        action="store_true",
        default=None,
        help="--live: print the plan (parameters, values, scenarios, duration) and change nothing",
    )
    gameday.add_argument(
        "--i-mean-prod",
        action="count",
        help="--live: give it twice to run against a protected stack (prod, or one whose config "
        "does not set faultInjectionAllowed)",
    )
    gameday.add_argument(
        "--api-key-file",
        metavar="FILE",
        help="--live on an apiKey stack: the file holding the key's value (or $GAMEDAY_API_KEY)",
    )
    gameday.add_argument(
        "--outputs",
        metavar="FILE",
        help="--live: the stack's outputs (`pulumi stack output --json`); by default that "
        "command is run",
    )
    gameday.add_argument(
        "--restore-file",
        metavar="FILE",
        help="--live: where the old parameter values are written before any change (default "
        "gameday-<stack>-restore.json; removed once they are put back)",
    )
    gameday.add_argument(
        "--restore",
        metavar="FILE",
        help="put back the parameter values a restore file holds (after a crashed --live run)",
    )
    sabotage = commands.add_parser(
        "sabotage", help="run a drill on a copy of the project with one mechanism removed"
    )
    sabotage.add_argument("name", nargs="?", help="the sabotage to run (see --list)")
    sabotage.add_argument("--list", action="store_true", help="list the sabotages")
    arguments = parser.parse_args(argv)

    if arguments.command == "sabotage":
        from . import sabotage as catalogue

        if arguments.list or not arguments.name:
            for entry in (*catalogue.CATALOGUE, *catalogue.GAMEDAY_CATALOGUE):
                print(f"{entry.name:28} misses {', '.join(entry.misses)}: removes {entry.removes}")
            return 0 if arguments.list else 2
        try:
            return catalogue.run(arguments.name)
        except KeyError as error:
            parser.error(f"sabotage: {error.args[0]}")
    if arguments.command == "gameday":
        return _gameday(parser, arguments)
    if arguments.command == "load":
        import os
        from pathlib import Path

        from tools.signed_call import SignedCallError, read_api_keys

        from . import load as drill_load

        try:
            keys = read_api_keys(
                Path(arguments.api_key_file) if arguments.api_key_file else None, os.environ
            )
        except SignedCallError as error:
            parser.error(f"load: {error}")
        if arguments.url is None and keys is not None and keys.shared is None:
            parser.error(
                "load: --api-key-file: the local gateway is one region; give one key value, "
                "not a JSON object of regions"
            )
        result = drill_load.run(
            arguments.rps,
            arguments.seconds,
            arguments.url,
            grace_s=arguments.grace_seconds,
            max_receive_count=arguments.max_receive_count,
            api_keys=keys,
        )
        goals = drill_load.goals(keys is not None)
        title = f"load drill: {arguments.rps} rps for {arguments.seconds} s"
    else:
        from . import chaos as drill_chaos

        scenario = drill_chaos.Scenario(
            tasks=arguments.tasks,
            rps=arguments.rps,
            lost_reply_rate=arguments.lost_reply_rate,
            max_receive_count=arguments.max_receive_count,
            control=not arguments.no_control,
        )
        result = drill_chaos.run(scenario)
        goals = drill_chaos.goals(scenario)
        title = f"chaos drill: {arguments.tasks} tasks at {arguments.rps} rps"
    print(table(title, result))
    return _judged(result, goals, arguments.json)


if __name__ == "__main__":
    sys.exit(main())
