"""Time as a dependency: the product uses the system clock, tests inject a manual one.

Throttles, retries and the emulators all take a clock, so a test can run through
minutes of rate limiting in milliseconds and never needs a real `sleep`.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def time(self) -> float:
        """Seconds since the epoch (wall clock)."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards."""

    def sleep(self, seconds: float) -> None:
        """Wait for `seconds`."""


class SystemClock:
    """The real clock."""

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), UTC)


class ManualClock:
    """A clock that moves only when told to, or when someone sleeps on it.

    Sleeping advances the clock instantly, so a client throttled to 2 requests
    per second and a server that enforces the same limit agree on time without
    anyone waiting for real.
    """

    def __init__(self, start: float = 1_790_000_000.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()
        self.slept = 0.0

    def time(self) -> float:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        return self.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.advance(seconds)
            with self._lock:
                self.slept += seconds

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), UTC)


SYSTEM_CLOCK = SystemClock()
