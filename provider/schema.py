"""Write or check the package schema snapshot, `provider/schema.json`.

python -m provider.schema           # regenerate it from the components
python -m provider.schema --check   # exit 1 if it differs from what the components give
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from resilient_serverless.hosting import schema

SNAPSHOT = Path(__file__).resolve().parent / "schema.json"


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m provider.schema", description=__doc__)
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    options = parser.parse_args(argv)
    current = render(schema())
    if options.check:
        if not SNAPSHOT.exists() or SNAPSHOT.read_text() != current:
            print(f"{SNAPSHOT.name} is out of date: run `python -m provider.schema`.")
            return 1
        print(f"{SNAPSHOT.name} is up to date.")
        return 0
    SNAPSHOT.write_text(current)
    print(f"wrote {SNAPSHOT.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
