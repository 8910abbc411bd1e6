"""Client-side pacing so that normal operation never meets the portal's limits.

The portal keeps a leaky bucket per portal and source address: each HTTP request
adds one, the bucket drains `rate` per second, and a request that would overflow
`burst` gets 503 QUERY_LIMIT_EXCEEDED. We keep the same bucket on our side and
wait before sending instead. One bucket per portal host is shared by everything
in the process, since the portal counts them all together.

Separately, each method has a time budget (`time.operating`, seconds of server
time over ten minutes); we watch it per method and slow that method down before
the portal blocks it with 429 OPERATION_TIME_LIMIT.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from b24sync.clock import SYSTEM_CLOCK, Clock


class LeakyBucket:
    """The portal's request bucket, mirrored on the client: `acquire()` waits until a request fits."""

    def __init__(self, rate: float, burst: int, clock: Clock = SYSTEM_CLOCK) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = float(rate)
        self.burst = int(burst)
        self.clock = clock
        self._level = 0.0
        self._stamp = clock.monotonic()
        self._lock = threading.Lock()
        self.waits = 0
        self.waited_seconds = 0.0

    def _drain(self, now: float) -> None:
        self._level = max(0.0, self._level - (now - self._stamp) * self.rate)
        self._stamp = now

    def acquire(self) -> float:
        """Take one slot, sleeping first if the bucket is full; return the seconds waited."""
        waited = 0.0
        with self._lock:
            while True:
                self._drain(self.clock.monotonic())
                overflow = self._level + 1 - self.burst
                if overflow <= 0:
                    self._level += 1
                    break
                pause = overflow / self.rate
                self.clock.sleep(pause)
                waited += pause
            if waited:
                self.waits += 1
                self.waited_seconds += waited
        return waited

    def penalise(self) -> None:
        """The portal said the bucket is full: believe it and treat ours as full too."""
        with self._lock:
            self._drain(self.clock.monotonic())
            self._level = float(self.burst)

    def level(self) -> float:
        """How full the bucket is now: what this process sent, less what has drained since."""
        with self._lock:
            self._drain(self.clock.monotonic())
            return self._level

    def resume(self, level: float, seconds_ago: float) -> None:
        """What an earlier process left in the portal's bucket `seconds_ago`, still draining, counts as sent by
        this one: a run that follows a busy one does not take the whole burst the portal no longer has."""
        with self._lock:
            self._drain(self.clock.monotonic())
            left = max(0.0, level - max(0.0, seconds_ago) * self.rate)
            self._level = min(float(self.burst), max(self._level, left))


class _Unlimited:
    """Stands in for a bucket when the throttle is switched off (tests of the retry path)."""

    waits = 0
    waited_seconds = 0.0

    def acquire(self) -> float:
        return 0.0

    def penalise(self) -> None:
        return None

    def level(self) -> float:
        return 0.0

    def resume(self, level: float, seconds_ago: float) -> None:
        return None


UNLIMITED = _Unlimited()

_buckets: dict[str, LeakyBucket] = {}
_buckets_lock = threading.Lock()


def shared_bucket(host: str, rate: float, burst: int, clock: Clock = SYSTEM_CLOCK) -> LeakyBucket:
    """The process-wide bucket for one portal host (created on first use)."""
    with _buckets_lock:
        bucket = _buckets.get(host)
        if bucket is None or bucket.rate != rate or bucket.burst != burst or bucket.clock is not clock:
            bucket = LeakyBucket(rate, burst, clock)
            _buckets[host] = bucket
        return bucket


@dataclass
class _MethodUsage:
    operating: float = 0.0
    reset_at: float | None = None
    blocked_until: float = 0.0
    last_processing: float = 0.0


class OperatingBudget:
    """Tracks `time.operating` per method and says how long to hold a method back.

    The cloud budget is 480 s of server time per method over ten minutes. Above
    `slow_ratio` of it we space calls of that method out; above `stop_ratio`, or
    after a 429, we hold the method until the portal's `operating_reset_at`.
    """

    def __init__(self, limit: float = 480.0, slow_ratio: float = 0.6, stop_ratio: float = 0.9,
                 clock: Clock = SYSTEM_CLOCK) -> None:
        self.limit = limit
        self.slow_ratio = slow_ratio
        self.stop_ratio = stop_ratio
        self.clock = clock
        self._usage: dict[str, _MethodUsage] = {}
        self._lock = threading.Lock()

    def record(self, method: str, time_info: dict | None) -> None:
        """Remember what the portal said about this method's budget in a `time` object."""
        if not isinstance(time_info, dict):
            return
        with self._lock:
            usage = self._usage.setdefault(method.lower(), _MethodUsage())
            if isinstance(time_info.get("operating"), int | float):
                usage.operating = float(time_info["operating"])
            if isinstance(time_info.get("operating_reset_at"), int | float):
                usage.reset_at = float(time_info["operating_reset_at"])
            if isinstance(time_info.get("processing"), int | float):
                usage.last_processing = float(time_info["processing"])
            if usage.operating >= self.stop_ratio * self.limit:
                usage.blocked_until = max(usage.blocked_until, usage.reset_at or self.clock.time() + 60)

    def blocked(self, method: str, reset_at: float | None = None) -> float:
        """The portal refused the method (429): hold it until the reset time; return that time."""
        with self._lock:
            usage = self._usage.setdefault(method.lower(), _MethodUsage())
            until = reset_at or usage.reset_at
            if until is None or until <= self.clock.time():
                until = self.clock.time() + 60.0  # no reset time known: the oldest bucket is at most a minute
            usage.blocked_until = until
            usage.operating = self.limit
            return until

    def delay_for(self, method: str) -> float:
        """Seconds to wait before calling `method` now."""
        with self._lock:
            usage = self._usage.get(method.lower())
            if usage is None:
                return 0.0
            now = self.clock.time()
            if usage.blocked_until > now:
                return usage.blocked_until - now
            if usage.blocked_until and usage.blocked_until <= now:
                usage.blocked_until = 0.0
                usage.operating = 0.0
            if usage.operating >= self.slow_ratio * self.limit:
                # spend at most half of wall time in this method from here on
                return max(usage.last_processing, 0.5)
            return 0.0
