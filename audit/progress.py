"""A progress bar for long management commands: a redrawn bar on a terminal, a line every 10 %
(and at the end) otherwise, so logs stay readable."""

from __future__ import annotations

import time
from typing import Any


class Progress:
    def __init__(self, out: Any, *, label: str, total: int, width: int = 30) -> None:
        self.out, self.label, self.total, self.width = out, label, max(total, 0), width
        self.started = time.monotonic()
        self.tty = bool(getattr(getattr(out, "_out", out), "isatty", lambda: False)())
        self._last_tenth = -1

    def __call__(self, done: int) -> None:
        self.update(done)

    def update(self, done: int) -> None:
        fraction = min(done / self.total, 1.0) if self.total else 1.0
        elapsed = time.monotonic() - self.started
        filled = int(fraction * self.width)
        bar = "#" * filled + "." * (self.width - filled)
        line = f"{self.label}: [{bar}] {fraction:4.0%} {done}/{self.total} ({elapsed:.1f}s)"
        if self.tty:
            self.out.write(f"\r{line}", ending="")
            self.out.flush()
            return
        tenth = int(fraction * 10)
        if tenth != self._last_tenth:
            self._last_tenth = tenth
            self.out.write(line)

    def finish(self, done: int) -> None:
        self.update(done)
        if self.tty:
            self.out.write("")
