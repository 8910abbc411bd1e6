"""A progress bar for `b24sync sync` on a terminal, when a phase has more than a screenful of work.

A log line written while the bar is drawn would land after the bar's text on the same line; the log handler
(see `b24sync.logs`) asks the drawn bar to step aside (`around_output`): the bar is wiped, the line is written,
the bar is drawn again below it.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

_LOCK = threading.RLock()
_ACTIVE: list[Progress] = []  # the bar drawn now, if any (one terminal, one bar)


class Progress:
    """Call it with (done, total, label) after each item; it draws only on a TTY and only for long runs."""

    def __init__(self, stream: TextIO, label: str = "deals") -> None:
        self.stream = stream
        self.label = label
        self.enabled = bool(getattr(stream, "isatty", lambda: False)())
        self.threshold = shutil.get_terminal_size((80, 24)).lines
        self.drawn = False
        self._text = ""

    def __call__(self, done: int, total: int, label: str | None = None) -> None:
        if not self.enabled or total <= self.threshold:
            return
        if label and label != self.label:
            self.finish()  # a new phase (deals, then 1C documents) starts a new line
            self.label = label
        width = 30
        filled = width * done // max(total, 1)
        with _LOCK:
            self._text = f"{self.label} {done}/{total} [{'#' * filled}{'.' * (width - filled)}]"
            self.stream.write(f"\r{self._text}")
            self.stream.flush()
            self.drawn = True
            if self not in _ACTIVE:
                _ACTIVE.append(self)
        if done >= total:
            self.finish()

    def finish(self) -> None:
        with _LOCK:
            if self.drawn:
                self.stream.write("\n")
                self.stream.flush()
                self.drawn = False
            if self in _ACTIVE:
                _ACTIVE.remove(self)

    def _wipe(self) -> None:
        self.stream.write("\r" + " " * len(self._text) + "\r")

    def _redraw(self) -> None:
        self.stream.write(f"\r{self._text}")
        self.stream.flush()


@contextmanager
def around_output(stream: TextIO) -> Iterator[None]:
    """Write to `stream` inside this block: a bar drawn on it is wiped first and drawn again after."""
    with _LOCK:
        bars = [bar for bar in _ACTIVE if bar.stream is stream and bar.drawn]
        for bar in bars:
            bar._wipe()
        try:
            yield
        finally:
            for bar in bars:
                bar._redraw()
