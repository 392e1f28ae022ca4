"""Errors that end an offline preview with exit code 2 (the program, its config or the arguments).

Each carries a message meant for the person who runs the command: what failed, where, and how to
fix it. The command prints the message alone, never this tool's own stack trace.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

#: Exit codes, as documented for CI: no mandatory violation, mandatory violations, failure.
EXIT_OK: Final[int] = 0
EXIT_MANDATORY_VIOLATIONS: Final[int] = 1
EXIT_FAILURE: Final[int] = 2


class OfflinePreviewError(Exception):
    """Base class: the preview could not produce a verdict."""


class UsageError(OfflinePreviewError):
    """A command-line argument is wrong (a folder that does not exist, an unreadable file...)."""


class ProjectError(OfflinePreviewError):
    """Pulumi.yaml or the stack's config file is missing, malformed or fails its declared types."""


class ProgramError(OfflinePreviewError):
    """The Pulumi program raised (or logged an error) while it ran under mocks."""


class PolicyRunError(OfflinePreviewError):
    """A policy pack could not be started, configured or asked for a verdict."""


def read_json_option(option: str, path: Path, hint: str = "", *, empty: Any = None) -> Any:
    """The JSON in the file a command-line option names; a UsageError naming the option, the file
    and what is wrong when it cannot be read or parsed. `empty` (when not None) stands for a
    file with nothing in it."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise UsageError(f"{option} {path}: cannot read it ({error.strerror or error})") from None
    if empty is not None and not text.strip():
        return empty
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageError(
            f"{option} {path}: not valid JSON (line {error.lineno}, column {error.colno}: "
            f"{error.msg})" + (f"; {hint}" if hint else "")
        ) from None
