#!/usr/bin/env python3
"""Set up what the project needs, then run it. Only Python 3.11+ is required on the machine.

    python3 run.py preview [offline preview args...]   # the main job: preview prod with the policy pack
    python3 run.py test [pytest args...]               # lint, type-check and the whole test suite

The first run creates `.venv/` and installs the project with its pinned dependencies; later runs
reuse it until pyproject.toml or constraints.txt change.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".installed-from"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
USAGE = "usage: python3 run.py {preview|test} [args...]"


def _requirements_fingerprint() -> str:
    digest = hashlib.sha256()
    for name in ("pyproject.toml", "constraints.txt"):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def ensure_environment() -> None:
    """Create the virtualenv and install the project (editable) with its dev extras."""
    fingerprint = _requirements_fingerprint()
    if PYTHON.exists() and STAMP.exists() and STAMP.read_text() == fingerprint:
        return
    if sys.version_info < (3, 11):  # noqa: UP036 - run.py is started by any python3
        sys.exit(f"Python 3.11 or newer is needed, this is {sys.version.split()[0]}.")
    if not PYTHON.exists():
        print(f"creating {VENV.name}/ ...", file=sys.stderr)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("installing the project and its pinned dependencies ...", file=sys.stderr)
    pip = [str(PYTHON), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "-c", "constraints.txt", "-e", ".[dev]"], cwd=ROOT, check=True)
    STAMP.write_text(fingerprint)


#: Lint and type checks before the tests: (folder, command, extra MYPYPATH entries). mypy runs
#: per folder because the Lambda handlers, the policy pack and each test folder are separate
#: import roots (as they are at run time), each with its own `__main__`/`conftest` modules.
_MYPY = ["mypy", "--config-file", str(ROOT / "pyproject.toml")]
CHECKS: list[tuple[str, list[str], list[str]]] = [
    (".", ["ruff", "check", "."], []),
    (
        ".",
        [
            *_MYPY,
            "components",
            "provider",
            "offline",
            "benchmarks",
            "tools",
            "__main__.py",
            "run.py",
        ],
        ["policies"],
    ),
    ("policies", [*_MYPY, "__main__.py", "resilience_policies"], []),
    ("handlers", [*_MYPY, "."], []),
    # The drills import the handler modules as Lambda's archive root does.
    (".", [*_MYPY, "drills"], ["handlers"]),
    *[
        (f"tests/{suite}", [*_MYPY, "."], ["handlers", "policies", "tests/components"])
        for suite in ("components", "integration", "policies", "handlers")
    ],
    ("tests/offline", [*_MYPY, "--exclude", "programs", "."], ["policies"]),
]


def run(command: list[str]) -> int:
    return subprocess.run(command, cwd=ROOT).returncode


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("preview", "test"):
        print(USAGE, file=sys.stderr)
        return 2
    ensure_environment()
    action, rest = argv[0], argv[1:]
    if action == "preview":
        return run([str(PYTHON), "-m", "offline", "preview", "--stack", "prod", *rest])
    for folder, command, extra_path in CHECKS:
        env = dict(os.environ)
        if extra_path:
            env["MYPYPATH"] = os.pathsep.join(str(ROOT / part) for part in extra_path)
        print(f"$ (cd {folder}) {' '.join(command)}", flush=True)
        code = subprocess.run(
            [str(PYTHON), "-m", *command], cwd=ROOT / folder, env=env
        ).returncode
        if code != 0:
            return code
    print(f"$ pytest {' '.join(rest)}", flush=True)
    return run([str(PYTHON), "-m", "pytest", *rest])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
