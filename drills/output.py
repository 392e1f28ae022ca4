"""A progress bar while a drill runs and a table at its end."""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from typing import Any, TextIO


class Progress:
    def __init__(self, label: str, total: int, stream: TextIO | None = None) -> None:
        self.label, self.total = label, max(total, 1)
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.started = time.monotonic()

    def update(self, done: int, note: str = "") -> None:
        if not self.enabled:
            return
        width = 30
        filled = min(width, width * done // self.total)
        elapsed = time.monotonic() - self.started
        self.stream.write(
            f"\r\033[K{self.label} [{'#' * filled}{'.' * (width - filled)}] "
            f"{done}/{self.total} {elapsed:5.1f}s {note}"
        )
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r\033[K")
            self.stream.flush()


def table(title: str, rows: Mapping[str, Any]) -> str:
    width = max(len(key) for key in rows)
    lines = [title, "-" * len(title)]
    for key, value in rows.items():
        shown = f"{value:.3f}" if isinstance(value, float) else str(value)
        lines.append(f"{key.ljust(width)}  {shown}")
    return "\n".join(lines)
