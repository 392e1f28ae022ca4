"""Run a Pulumi Python program in this process, under mocks, the way the language host runs it.

The language host sets the config, configures the runtime, makes the program's folder the
working directory and the first entry of `sys.path`, and runs `__main__.py` inside
`run_in_stack`, so a root `pulumi:pulumi:Stack` exists and `pulumi.export`/`pulumi.run` outputs
land on it. This module does the same with `set_mocks` and a recording monitor instead of an
engine. Mocks are process-global: one program per process.

When Pulumi.yaml names the program's own virtualenv (`runtime.options.virtualenv`, or the one
its `uv`/`poetry` toolchain uses; see project.PythonEnvironment), the program runs with that
virtualenv's interpreter, as the language host runs it (pulumi/pulumi
sdk/python/cmd/pulumi-language-python/main.go `Run`: `tc.ValidateVenv`, then `tc.Command`), so
the provider SDKs it imports are its own: a child process of that interpreter, its environment
activated as sdk/python/toolchain/toolchain.go `ActivateVirtualEnv` does (the virtualenv's `bin`
first on PATH, `VIRTUAL_ENV` set, `PYTHONHOME` dropped), runs the program here with this package
importable, and sends back what it registered, called, logged and printed as JSON lines.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import linecache
import logging
import os
import runpy
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.stack import run_in_stack
from pulumi.runtime.sync_await import _sync_await

from ..errors import ProgramError
from ..modes import runs_as_preview
from .project import PythonEnvironment, StackConfig
from .provider_calls import ProviderCallRecord, mark_own_lookups
from .recording import OfflineMocks, ProgramLogHandler, RecordingMonitor, Registration
from .stack_references import StackReferenceRecord, StackReferences, installed

_ORGANIZATION = "organization"


@dataclass
class ProgramRun:
    """What the program registered and exported, and what it said on the way."""

    registrations: list[Registration]
    stack_urn: str
    exports: dict[str, Any]
    logs: list[tuple[str, str]] = field(default_factory=list)
    stdout: str = ""
    duration_s: float = 0.0
    #: Every provider function the program called, in call order, and how it was answered.
    provider_calls: list[ProviderCallRecord] = field(default_factory=list)
    #: Every stack the program referenced, and whether its outputs were known.
    stack_references: list[StackReferenceRecord] = field(default_factory=list)


def _is_program_frame(filename: str, program_dir: Path) -> bool:
    try:
        path = Path(filename).resolve()
    except (OSError, ValueError):
        return False
    if "site-packages" in path.parts or "dist-packages" in path.parts:
        return False
    try:
        path.relative_to(program_dir)
    except ValueError:
        return False
    return not str(path).startswith(str(Path(__file__).resolve().parents[1]))


def describe_program_error(error: BaseException, program_dir: Path) -> str:
    """`Type: message` plus the program's own innermost frame (not this tool's traceback)."""
    headline = f"{type(error).__name__}: {error}".rstrip(": ").strip()
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        frames = [
            frame
            for frame in traceback.extract_tb(current.__traceback__)
            if _is_program_frame(frame.filename, program_dir)
        ]
        if frames:
            frame = frames[-1]
            try:
                shown = Path(frame.filename).resolve().relative_to(program_dir)
            except ValueError:
                shown = Path(frame.filename)
            source = (frame.line or linecache.getline(frame.filename, frame.lineno or 0)).strip()
            location = f'  File "{shown}", line {frame.lineno}, in {frame.name}'
            return f"{headline}\n{location}" + (f"\n    {source}" if source else "")
        current = current.__cause__ or current.__context__
    return headline


def _unwrap_pulumi_error(error: BaseException) -> BaseException:
    """The SDK re-raises a failed RPC with the program's error as the cause: show that one."""
    cause = error.__cause__
    if cause is not None and type(error).__module__.startswith("grpc"):
        return cause
    return error


def run_program(
    stack: StackConfig,
    *,
    mode: str,
    on_register: Callable[[Registration], None] | None = None,
    stack_outputs: Mapping[str, Mapping[str, Any]] | None = None,
) -> ProgramRun:
    """Run the stack's program once, under mocks, in `mode` (see modes.py), and return what it
    registered: with the program's own virtualenv when it names one that is not this one."""
    environment = stack.python_environment
    if environment is not None and environment.usable and not environment.is_current():
        return _run_in_environment(
            stack, environment, mode=mode, on_register=on_register, stack_outputs=stack_outputs
        )
    return run_program_here(stack, mode=mode, on_register=on_register, stack_outputs=stack_outputs)


def _missing_environment_hint(error: BaseException, stack: StackConfig) -> str:
    """When the program could not import a module and its own virtualenv is missing: which
    Pulumi.yaml setting names it and how to create it."""
    environment = stack.python_environment
    if environment is None or environment.usable or not isinstance(error, ImportError):
        return ""
    return (
        f". {environment.describe()}: {environment.problem}, so the program ran with the "
        f"offline preview's own interpreter ({sys.executable}), which lacks it (`pulumi "
        f"preview` would stop earlier, on the missing virtualenv). Create it with the "
        f"program's requirements: `{environment.setup_command()}`"
    )


def run_program_here(
    stack: StackConfig,
    *,
    mode: str,
    on_register: Callable[[Registration], None] | None = None,
    stack_outputs: Mapping[str, Mapping[str, Any]] | None = None,
    hidden_paths: tuple[str, ...] = (),
) -> ProgramRun:
    """Run the program in this interpreter (`hidden_paths`: entries of `sys.path` the program
    must not see, besides this tool's checkout)."""
    started = time.perf_counter()
    stack_references = StackReferences(preview=runs_as_preview(mode), outputs=stack_outputs)
    mocks = OfflineMocks(
        mode=mode,
        default_region=stack.default_region,
        stack_references=stack_references,
        secret_values=[stack.config[key] for key in stack.secret_keys if key in stack.config],
    )
    preview = mocks.preview
    monitor = RecordingMonitor(mocks, on_register=on_register)
    log_handler = ProgramLogHandler()
    program_logger = logging.getLogger("offline.program")
    program_logger.handlers[:] = [log_handler]
    # The SDK logs its own bookkeeping at debug level; a program speaks at info and above.
    program_logger.setLevel(logging.INFO)
    program_logger.propagate = False

    pulumi.runtime.set_all_config(dict(stack.config), list(stack.secret_keys))
    pulumi.runtime.set_mocks(
        mocks,
        project=stack.project_name,
        stack=stack.stack,
        preview=preview,
        logger=program_logger,
        monitor=monitor,
        organization=_ORGANIZATION,
    )
    runtime_settings.SETTINGS.root_directory = str(stack.project_dir)
    # set_mocks installs a root stack of its own; the language host's run_in_stack creates the
    # one the program runs under, so start from none as the host does.
    runtime_settings.ROOT.set(None)

    program_dir = stack.program_dir.resolve()
    launch_dir = Path.cwd()
    tool_root = str(Path(__file__).resolve().parents[2])
    # The program sees its own folder first and not this tool's checkout, as under the host.
    sys.path[:] = [
        entry
        for entry in sys.path
        if entry not in ("", tool_root, str(launch_dir), *hidden_paths) or entry == str(program_dir)
    ]
    sys.path.insert(0, str(program_dir))
    saved_argv = sys.argv
    sys.argv = [str(stack.program_file)]
    captured = io.StringIO()
    os.chdir(program_dir)

    def program() -> None:
        runpy.run_path(str(stack.program_file), run_name="__main__")

    try:
        with contextlib.redirect_stdout(captured), installed(stack_references):
            _sync_await(run_in_stack(program))
    except SystemExit as exit_request:
        if exit_request.code not in (None, 0):
            raise ProgramError(
                f"the program exited with status {exit_request.code} (sys.exit)"
            ) from None
    except Exception as error:  # any failure of the program ends the run with exit code 2
        shown = _unwrap_pulumi_error(error)
        raise ProgramError(
            "the program failed: "
            + describe_program_error(shown, program_dir)
            + _missing_environment_hint(shown, stack)
        ) from None
    finally:
        sys.argv = saved_argv
        os.chdir(launch_dir)

    failed = mocks.failed_calls()
    if failed:
        # The program caught the failure and went on: its resources are whatever it built
        # without the answer, and a clean verdict over them would be a silent, truncated pass.
        raise ProgramError(describe_caught_failures(failed))

    errors = [message for level, message in log_handler.records if level in ("error", "critical")]
    if errors:
        raise ProgramError("the program logged an error: " + errors[0].strip())

    return ProgramRun(
        registrations=sorted(monitor.registrations, key=lambda r: r.sequence),
        stack_urn=monitor.stack_urn,
        exports=dict(monitor.exports),
        logs=list(log_handler.records),
        stdout=captured.getvalue(),
        duration_s=time.perf_counter() - started,
        provider_calls=mark_own_lookups(list(mocks.calls), monitor.registrations),
        stack_references=stack_references.records(),
    )


def describe_caught_failures(failed: list[ProviderCallRecord]) -> str:
    """Exit-2 message for provider functions that failed and that the program caught."""
    first = failed[0]
    others = "".join(
        f"\n  also failed: provider function '{record.token}': {record.failure}"
        for record in failed[1:]
    )
    return (
        f"provider function '{first.token}' failed: {first.failure}. The program caught the "
        "error (try/except) and carried on without the answer, so what it registered is not "
        "what it would register and a policy verdict over it would be incomplete; fix the call "
        "rather than relying on the fallback" + others
    )


# -- the program's own virtualenv --------------------------------------------------------------

#: How long a program may run in its virtualenv before it counts as hung.
CHILD_TIMEOUT_S: float = 600.0


def activated_environment(environ: Mapping[str, str], virtualenv: Path) -> dict[str, str]:
    """`environ` activated for `virtualenv`, as sdk/python/toolchain/toolchain.go
    `ActivateVirtualEnv` does it: its `bin` (`Scripts`) first on PATH, `VIRTUAL_ENV` set to it,
    `PYTHONHOME` removed."""
    bin_dir = virtualenv / ("Scripts" if os.name == "nt" else "bin")
    activated: dict[str, str] = {}
    has_path = False
    for key, value in environ.items():
        upper = key.upper()
        if upper == "PATH":
            has_path = True
            activated[key] = f"{bin_dir}{os.pathsep}{value}"
        elif upper in ("PYTHONHOME", "VIRTUAL_ENV"):
            continue
        else:
            activated[key] = value
    if not has_path:
        activated["PATH"] = str(bin_dir)
    activated["VIRTUAL_ENV"] = str(virtualenv)
    return activated


def _stack_to_json(stack: StackConfig) -> dict[str, Any]:
    return {
        "project_dir": str(stack.project_dir),
        "project_name": stack.project_name,
        "stack": stack.stack,
        "stack_file": str(stack.stack_file),
        "program_file": str(stack.program_file),
        "config": stack.config,
        "secret_keys": stack.secret_keys,
        "values": stack.values,
        "warnings": stack.warnings,
    }


def _stack_from_json(data: Mapping[str, Any]) -> StackConfig:
    return StackConfig(
        project_dir=Path(data["project_dir"]),
        project_name=str(data["project_name"]),
        stack=str(data["stack"]),
        stack_file=Path(data["stack_file"]),
        program_file=Path(data["program_file"]),
        config=dict(data["config"]),
        secret_keys=list(data["secret_keys"]),
        values=dict(data["values"]),
        warnings=list(data["warnings"]),
    )


def _registration_from_json(data: Mapping[str, Any]) -> Registration:
    known = {f.name for f in fields(Registration)}
    return Registration(**{k: v for k, v in data.items() if k in known})


#: This tool's package: `offline` in a checkout, `resilient_serverless.offline` from the wheel.
_TOOL_PACKAGE = __name__.rsplit(".", 2)[0]
#: The packages the child imports from here: this tool's top-level one, and the policy pack's
#: (whose thresholds provider_defaults.py reads); pulumi and the SDKs come from the virtualenv.
_CHILD_PACKAGES: tuple[str, ...] = (_TOOL_PACKAGE.split(".")[0], "resilience_policies")


def _importable_package_dir(into: Path) -> Path:
    """A folder holding only `_CHILD_PACKAGES`, linked (copied where links are not allowed),
    so the child imports them without seeing this environment's other packages."""
    for name in _CHILD_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            continue
        package = Path(next(iter(spec.submodule_search_locations))).resolve()
        target = into / name
        try:
            target.symlink_to(package, target_is_directory=True)
        except OSError:
            shutil.copytree(package, target, ignore=shutil.ignore_patterns("__pycache__"))
    return into


def _run_in_environment(
    stack: StackConfig,
    environment: PythonEnvironment,
    *,
    mode: str,
    on_register: Callable[[Registration], None] | None,
    stack_outputs: Mapping[str, Mapping[str, Any]] | None,
) -> ProgramRun:
    """Run the program in a child process of the virtualenv's interpreter."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="offline-preview-") as scratch:
        importable = str(_importable_package_dir(Path(scratch)))
        environ = activated_environment(os.environ, environment.path)
        inherited = environ.get("PYTHONPATH")
        environ["PYTHONPATH"] = importable + (os.pathsep + inherited if inherited else "")
        request = {
            "stack": _stack_to_json(stack),
            "mode": mode,
            "stackOutputs": stack_outputs,
            "hiddenPaths": [importable],
        }
        command = [
            str(environment.python),
            "-c",
            f"from {__name__} import child_main; child_main()",
        ]
        try:
            child = subprocess.Popen(
                command,
                cwd=stack.program_dir,
                env=environ,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                encoding="utf-8",
            )
        except OSError as error:
            raise ProgramError(
                f"cannot start {environment.python} ({environment.describe()}): {error}"
            ) from None
        stdout, stderr = _exchange(child, request)
    registrations: list[Registration] = []
    result: dict[str, Any] | None = None
    failure: str | None = None
    for line in stdout.splitlines():
        if not line.startswith("{"):
            continue
        message = json.loads(line)
        if message.get("kind") == "registration":
            registration = _registration_from_json(message["registration"])
            registrations.append(registration)
            if on_register is not None:
                on_register(registration)
        elif message.get("kind") == "result":
            result = message
        elif message.get("kind") == "error":
            failure = str(message["message"])
    if failure is not None:
        raise ProgramError(failure)
    if result is None:
        raise ProgramError(_describe_child_failure(environment, child.returncode, stderr))
    if stderr:
        sys.stderr.write(stderr)
    return ProgramRun(
        registrations=sorted(registrations, key=lambda r: r.sequence),
        stack_urn=str(result["stackUrn"]),
        exports=dict(result["exports"]),
        logs=[(str(level), str(text)) for level, text in result["logs"]],
        stdout=str(result["stdout"]),
        duration_s=time.perf_counter() - started,
        provider_calls=[ProviderCallRecord(**call) for call in result["providerCalls"]],
        stack_references=[
            StackReferenceRecord(**reference) for reference in result["stackReferences"]
        ],
    )


def _exchange(child: subprocess.Popen[str], request: Mapping[str, Any]) -> tuple[str, str]:
    try:
        return child.communicate(json.dumps(request), timeout=CHILD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        raise ProgramError(
            f"the program did not end within {CHILD_TIMEOUT_S:.0f} s in its virtualenv"
        ) from None


def _describe_child_failure(environment: PythonEnvironment, code: int | None, stderr: str) -> str:
    """Why the child gave no result: its interpreter cannot run this package (no pulumi in the
    virtualenv, a Python too old) or it died."""
    last = next((line for line in reversed(stderr.splitlines()) if line.strip()), "")
    if "ModuleNotFoundError" in last or "ImportError" in last:
        return (
            f"the program's virtualenv ({environment.describe()}) cannot run it: {last.strip()}; "
            f"install the program's requirements into it: `{environment.setup_command()}`"
        )
    return (
        f"the program's interpreter {environment.python} ended with status {code} without a "
        f"result: {last.strip() or 'no message'}"
    )


def child_main() -> None:
    """The child's side: read the request from stdin, run the program here, write one JSON
    line per registration and one with the result (or the error) to stdout. Whatever else
    writes to file descriptor 1 (the program's own subprocesses) goes to stderr instead."""
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb", closefd=False), encoding="utf-8")
    request = json.loads(sys.stdin.read())
    stack = _stack_from_json(request["stack"])
    lock = threading.Lock()

    def send(message: Mapping[str, Any]) -> None:
        line = json.dumps(message, default=str) + "\n"
        with lock:  # registrations arrive on the SDK's threads
            channel.write(line)
            channel.flush()

    def registered(registration: Registration) -> None:
        send({"kind": "registration", "registration": asdict(registration)})

    try:
        run = run_program_here(
            stack,
            mode=request["mode"],
            on_register=registered,
            stack_outputs=request.get("stackOutputs"),
            hidden_paths=tuple(request.get("hiddenPaths") or ()),
        )
    except ProgramError as error:
        send({"kind": "error", "message": str(error)})
        return
    send(
        {
            "kind": "result",
            "stackUrn": run.stack_urn,
            "exports": run.exports,
            "logs": run.logs,
            "stdout": run.stdout,
            "providerCalls": [asdict(call) for call in run.provider_calls],
            "stackReferences": [asdict(reference) for reference in run.stack_references],
        }
    )
