"""Run a Pulumi Python program in this process, under mocks, the way the language host runs it.

The language host sets the config, configures the runtime, makes the program's folder the
working directory and the first entry of `sys.path`, and runs `__main__.py` inside
`run_in_stack`, so a root `pulumi:pulumi:Stack` exists and `pulumi.export`/`pulumi.run` outputs
land on it. This module does the same with `set_mocks` and a recording monitor instead of an
engine. Mocks are process-global: one program per process.
"""

from __future__ import annotations

import contextlib
import io
import linecache
import logging
import os
import runpy
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.stack import run_in_stack
from pulumi.runtime.sync_await import _sync_await

from .errors import ProgramError
from .modes import runs_as_preview
from .project import StackConfig
from .provider_calls import ProviderCallRecord
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
    return not str(path).startswith(str(Path(__file__).resolve().parent))


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
    registered."""
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
    tool_root = str(Path(__file__).resolve().parent.parent)
    # The program sees its own folder first and not this tool's checkout, as under the host.
    sys.path[:] = [
        entry
        for entry in sys.path
        if entry not in ("", tool_root, str(launch_dir)) or entry == str(program_dir)
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
            "the program failed: " + describe_program_error(shown, program_dir)
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
        provider_calls=list(mocks.calls),
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
