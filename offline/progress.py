"""One status line on stderr while the preview runs, only when stderr is a terminal."""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO


class Progress:
    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self._lock = threading.Lock()
        self._started = time.perf_counter()
        self._last = ""

    def update(self, message: str) -> None:
        if not self.enabled:
            return
        with self._lock:
            elapsed = time.perf_counter() - self._started
            line = f"[{elapsed:5.1f}s] {message}"
            if line == self._last:
                return
            self._last = line
            self.stream.write("\r\033[K" + line)
            self.stream.flush()

    def clear(self) -> None:
        if not self.enabled:
            return
        with self._lock:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self._last = ""
