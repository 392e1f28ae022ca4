#!/usr/bin/env python3
"""Set up what the project needs, then run it. Only Python 3.11+ is required on the machine.

    python3 run.py preview [offline preview args...]   # the main job: preview prod with the policy pack
    python3 run.py test [pytest args...]               # lint, type-check and the whole test suite
                                                       # (then the component tests at the
                                                       # dependency floors)

The first run creates `.venv/` and installs the project with its pinned dependencies; later runs
reuse it until pyproject.toml or constraints.txt change.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".installed-from"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
#: A second environment with the oldest pulumi and pulumi-aws pyproject.toml allows: the
#: component tests run there too, so the declared floors stay true.
FLOORS_VENV = ROOT / ".venv-floors"
FLOORS_PYTHON = FLOORS_VENV / PYTHON.relative_to(VENV)
#: The dependencies whose lower bounds the floors environment pins.
FLOORED = ("pulumi", "pulumi-aws")
USAGE = "usage: python3 run.py {preview|test} [args...]"


def _requirements_fingerprint() -> str:
    digest = hashlib.sha256()
    for name in ("pyproject.toml", "constraints.txt"):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def dependency_floors() -> dict[str, str]:
    """The lower bound pyproject.toml declares for each of `FLOORED` (`pulumi>=3.237,<4` ->
    3.237)."""
    import re
    import tomllib

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    floors: dict[str, str] = {}
    for requirement in declared:
        match = re.match(r"^([A-Za-z0-9_.-]+)\s*>=\s*([0-9][0-9.]*)", requirement)
        if match and match[1].lower() in FLOORED:
            floors[match[1].lower()] = match[2]
    missing = sorted(set(FLOORED) - set(floors))
    if missing:
        sys.exit(f"pyproject.toml: {', '.join(missing)} needs a lower bound (name>=version).")
    return floors


def _install(venv_dir: Path, python: Path, constraints: Path, label: str) -> None:
    """Create `venv_dir` if needed and install the project (editable) with its dev extras,
    held to `constraints`; skipped while pyproject.toml and constraints.txt are unchanged."""
    stamp = venv_dir / ".installed-from"
    fingerprint = _requirements_fingerprint()
    if python.exists() and stamp.exists() and stamp.read_text() == fingerprint:
        return
    if sys.version_info < (3, 11):  # noqa: UP036 - run.py is started by any python3
        sys.exit(f"Python 3.11 or newer is needed, this is {sys.version.split()[0]}.")
    if not python.exists():
        print(f"creating {venv_dir.name}/ ...", file=sys.stderr)
        venv.EnvBuilder(with_pip=True).create(venv_dir)
    print(f"installing the project and {label} ...", file=sys.stderr)
    pip = [str(python), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "-c", str(constraints), "-e", ".[dev]"], cwd=ROOT, check=True)
    stamp.write_text(fingerprint)


def ensure_environment() -> None:
    """Create the virtualenv and install the project (editable) with its dev extras."""
    _install(VENV, PYTHON, ROOT / "constraints.txt", "its pinned dependencies")


def ensure_floor_environment() -> Path:
    """The floors environment: constraints.txt with pulumi and pulumi-aws held to the lowest
    versions pyproject.toml allows. Returns its interpreter."""
    floors = dependency_floors()
    FLOORS_VENV.mkdir(exist_ok=True)
    constraints = FLOORS_VENV / "constraints-at-floors.txt"
    lines = [
        line
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if line.split("==")[0].strip().lower() not in floors
    ]
    lines += [f"{name}=={version}" for name, version in sorted(floors.items())]
    constraints.write_text("\n".join(lines) + "\n")
    pins = ", ".join(f"{name} {version}" for name, version in sorted(floors.items()))
    _install(FLOORS_VENV, FLOORS_PYTHON, constraints, f"the floors ({pins})")
    return FLOORS_PYTHON


#: What a source build of the project reads: caches, environments, tests and outputs stay behind.
_NOT_SOURCES = shutil.ignore_patterns(
    ".venv*",
    "venv",
    ".git",
    "__pycache__",
    ".*_cache",
    "build",
    "dist",
    "*.egg-info",
    "tests",
    "benchmarks",
)


def build_wheel(into: Path) -> Path:
    """This project's wheel, built in `into` from a copy of its sources with this environment's
    build backend (no build isolation, no package index): what the tests install into fresh
    virtualenvs to use the project as another project would."""
    source = into / "source"
    shutil.copytree(ROOT, source, ignore=_NOT_SOURCES)
    dist = into / "dist"
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    command += ["--no-index", "--wheel-dir", str(dist), str(source)]
    done = subprocess.run(command, cwd=into, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"building the wheel failed:\n{done.stdout}\n{done.stderr}")
    (wheel,) = dist.glob("resilient_serverless-*.whl")
    return wheel


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
        code = subprocess.run([str(PYTHON), "-m", *command], cwd=ROOT / folder, env=env).returncode
        if code != 0:
            return code
    print(f"$ pytest {' '.join(rest)}", flush=True)
    code = run([str(PYTHON), "-m", "pytest", *rest])
    if code != 0 or rest:
        return code
    # The whole suite passed at the newest versions: the component tests once more at the floors.
    floors_python = ensure_floor_environment()
    print("$ (at the dependency floors) pytest tests/components", flush=True)
    return run(
        [str(floors_python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/components"]
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
