"""How long a real 1C base takes to answer: the emulator's latency profile (`emulate onec --latency realistic`).

These figures are estimates, not measurements of one base: public accounts of
integrations against УТ 11 / БП 3.0 publications describe reads of tens to a few
hundred milliseconds and postings of a fraction of a second to about two seconds
(a posting writes registers and runs the configuration's handlers), a first
request after idling of seconds (ODATA.md §1: ~11 s, emulated apart as
`cold_start_ms`), and one request at a time per session (a 1C session is single
threaded; ODATA.md §1, sessions). A publication without an explicit session
serves requests from a pool of sessions (`poolSize` in default.vrd; the size
here is believed).

| request | median | grows with |
|---|---|---|
| read (GET) | 80 ms | + 0.3 ms a KB of the answer (a page of 500 documents: ~150 ms more) |
| write (POST, PATCH) | 250 ms | |
| posting (/Post, /Unpost) | 700 ms | |
| every request | × a log-normal factor (σ 0.35), 2 % of them 6 × slower | |

Delays are drawn from a seeded generator, so a run can be repeated. A YAML file
with any of the keys below (`read_ms`, `read_per_kb_ms`, `write_ms`, `post_ms`,
`spread`, `slow_share`, `slow_factor`, `pool_size`, `seed`) sets other figures.
"""

from __future__ import annotations

import math
import random
import threading
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class LatencyProfile:
    read_ms: float = 80.0
    read_per_kb_ms: float = 0.3
    write_ms: float = 250.0
    post_ms: float = 700.0
    spread: float = 0.35  # σ of the log-normal factor around each median
    slow_share: float = 0.02  # the occasional slow request (a lock wait, a cold cache)
    slow_factor: float = 6.0
    pool_size: int = 8  # sessions serving requests that bring no session cookie
    seed: int = 1


REALISTIC = LatencyProfile()


def load_profile(spec: str) -> LatencyProfile | None:
    """`off` (None), `realistic`, or a YAML file of figures over the realistic ones."""
    if spec in ("", "off"):
        return None
    if spec == "realistic":
        return REALISTIC
    path = Path(spec)
    if not path.is_file():
        raise ValueError(f"--latency must be off, realistic or a YAML file of figures; {spec!r} is none of them")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    known = {item.name for item in fields(LatencyProfile)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{spec}: unknown latency keys {unknown}; known: {sorted(known)}")
    return replace(REALISTIC, **data)


class Latency:
    """Draws each request's delay and keeps one request at a time per session."""

    def __init__(self, profile: LatencyProfile) -> None:
        self.profile = profile
        self._rng = random.Random(profile.seed)
        self._lock = threading.Lock()
        self._sessions: dict[str, threading.Lock] = {}
        self._pool = threading.BoundedSemaphore(profile.pool_size)
        self.busy_s = 0.0  # the delays drawn so far: what 1C's pace alone cost, summed over its sessions

    def delay(self, method: str, action: str, size: int = 0) -> float:
        """Seconds for one request: by its kind (a read by its size), with the spread and the odd slow one. The
        emulator waits this much before it serves the request, so a write is seen only when it answers."""
        profile = self.profile
        if action in ("Post", "Unpost"):
            median = profile.post_ms
        elif method == "GET":
            median = profile.read_ms + profile.read_per_kb_ms * size / 1024
        else:
            median = profile.write_ms
        with self._lock:
            factor = math.exp(self._rng.gauss(0.0, profile.spread))
            slow = self._rng.random() < profile.slow_share
            seconds = median * factor * (profile.slow_factor if slow else 1.0) / 1000.0
            self.busy_s += seconds
        return seconds

    def size_delay(self, size: int) -> float:
        """The part of a read that grows with its answer (seconds)."""
        seconds = self.profile.read_per_kb_ms * size / 1024 / 1000.0
        with self._lock:
            self.busy_s += seconds
        return seconds

    def session(self, cookie: str | None) -> Any:
        """What serves the request: its own session (one request at a time), or one of the pool's."""
        if cookie is None:
            return self._pool
        with self._lock:
            return self._sessions.setdefault(cookie, threading.Lock())
