"""The portal's two limits, enforced on the server side.

A leaky bucket per portal: each HTTP request adds one (a batch counts once),
the bucket drains `rate` per second, and a request that would overflow `burst`
is answered 503 QUERY_LIMIT_EXCEEDED. A time budget per method: the seconds of
server time spent in that method over ten one-minute buckets; the call that
crosses `limit` completes, the next one is answered 429 OPERATION_TIME_LIMIT
until the oldest bucket drops out.
"""

from __future__ import annotations

import threading
from collections import defaultdict

from b24sync.clock import Clock

WINDOW = 600.0
BUCKET = 60.0


class PortalBucket:
    def __init__(self, rate: float, burst: int, clock: Clock, enabled: bool = True) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.enabled = enabled
        self._level = 0.0
        self._stamp = clock.monotonic()
        self._lock = threading.Lock()

    def admit(self) -> bool:
        """Count one request; False when it overflows (the request is refused and not counted)."""
        if not self.enabled:
            return True
        with self._lock:
            now = self.clock.monotonic()
            self._level = max(0.0, self._level - (now - self._stamp) * self.rate)
            self._stamp = now
            if self._level + 1 > self.burst + 1e-9:
                return False
            self._level += 1
            return True


class MethodBudget:
    def __init__(self, limit: float, clock: Clock, enabled: bool = True) -> None:
        self.limit = limit
        self.clock = clock
        self.enabled = enabled
        self._spent: dict[str, dict[int, float]] = defaultdict(dict)  # method -> minute -> seconds
        self._first: dict[str, dict[int, float]] = defaultdict(dict)  # method -> minute -> its first call
        self._lock = threading.Lock()

    def _prune(self, method: str, now: float) -> dict[int, float]:
        buckets = self._spent[method]
        oldest_allowed = int((now - WINDOW) // BUCKET) + 1
        for minute in [minute for minute in buckets if minute < oldest_allowed]:
            del buckets[minute]
            self._first[method].pop(minute, None)
        return buckets

    def operating(self, method: str) -> float:
        with self._lock:
            return sum(self._prune(method, self.clock.time()).values())

    def reset_at(self, method: str) -> int:
        """When the oldest bucket of this method drops out of the window."""
        with self._lock:
            now = self.clock.time()
            buckets = self._prune(method, now)
            if not buckets:
                return int(now + WINDOW)
            return int(self._first[method][min(buckets)] + WINDOW)

    def blocked(self, method: str) -> bool:
        return self.enabled and self.operating(method) >= self.limit

    def spend(self, method: str, seconds: float) -> None:
        with self._lock:
            now = self.clock.time()
            buckets = self._prune(method, now)
            minute = int(now // BUCKET)
            buckets[minute] = buckets.get(minute, 0.0) + seconds
            self._first[method].setdefault(minute, now)
