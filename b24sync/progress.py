"""A progress bar for `b24sync sync` on a terminal, when a cycle has more than a screenful of work."""

from __future__ import annotations

import shutil
from typing import TextIO


class Progress:
    """Call it with (done, total) after each deal; it draws only on a TTY and only for long runs."""

    def __init__(self, stream: TextIO, label: str = "deals") -> None:
        self.stream = stream
        self.label = label
        self.enabled = bool(getattr(stream, "isatty", lambda: False)())
        self.threshold = shutil.get_terminal_size((80, 24)).lines
        self.drawn = False

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total <= self.threshold:
            return
        width = 30
        filled = width * done // max(total, 1)
        self.stream.write(f"\r{self.label} {done}/{total} [{'#' * filled}{'.' * (width - filled)}]")
        self.stream.flush()
        self.drawn = True
        if done >= total:
            self.finish()

    def finish(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False
