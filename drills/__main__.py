"""python -m drills load|chaos ... (see drills/README.md)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from .output import table


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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m drills", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    load = commands.add_parser("load", help="steady load: latency submit-to-done, status codes")
    load.add_argument("--rps", type=_positive(float, "--rps"), required=True)
    load.add_argument("--seconds", type=_positive(float, "--seconds"), required=True)
    load.add_argument("--url", help="a deployed stack's URL (default: moto on 127.0.0.1)")
    load.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    chaos = commands.add_parser("chaos", help="outage, slowdown, recovery; with a control pass")
    chaos.add_argument("--tasks", type=_positive(int, "--tasks"), required=True)
    chaos.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    arguments = parser.parse_args(argv)

    if arguments.command == "load":
        from . import load as drill

        result = drill.run(arguments.rps, arguments.seconds, arguments.url)
        print(table(f"load drill: {arguments.rps} rps for {arguments.seconds} s", result))
    else:
        from . import chaos as drill_chaos

        result = drill_chaos.run(arguments.tasks)
        print(table(f"chaos drill: {arguments.tasks} tasks", result))
    if arguments.json:
        with open(arguments.json, "w", encoding="utf-8") as handle:
            json.dump(result, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
