"""Request statistics and fault injection, shared by both emulators' admin endpoints.

`GET /_emulator/stats` reads the Stats; `POST /_emulator/faults` installs Faults
for chosen methods: an error status and body, added latency, a dropped
connection, or an HTML error page instead of JSON.
"""

from __future__ import annotations

import json
import random
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


class Stats:
    """Counts what the emulator served; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.http_requests: Counter[str] = Counter()
            self.commands: Counter[str] = Counter()
            self.writes: Counter[str] = Counter()
            self.statuses: Counter[str] = Counter()
            self.in_flight = getattr(self, "in_flight", 0)  # requests being served right now (a reset keeps them)
            self.in_flight_peak = self.in_flight  # the most served at once since the reset
            self.emulator_errors: Counter[str] = Counter()  # requests that failed on the emulator's own bug
            self.batches = 0
            self.sessions: Counter[str] = Counter()  # explicit 1C sessions started and finished (IBSession)

    def count(self, name: str, key: str, amount: int = 1) -> None:
        with self._lock:
            getattr(self, name)[key] += amount

    def enter(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.in_flight_peak = max(self.in_flight_peak, self.in_flight)

    def leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def add_batch(self) -> None:
        with self._lock:
            self.batches += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "http_requests": sum(self.http_requests.values()),
                "http_requests_by_method": dict(self.http_requests),
                "commands_by_method": dict(self.commands),
                "writes": sum(self.writes.values()),
                "writes_by_method": dict(self.writes),
                "batches": self.batches,
                "responses_by_status": dict(self.statuses),
                "emulator_errors": dict(self.emulator_errors),
                "in_flight_peak": self.in_flight_peak,
                "sessions": dict(self.sessions),
            }


@dataclass
class Fault:
    """What to do to requests of one method (or "*" for all)."""

    method: str = "*"
    rate: float = 1.0  # share of matching requests affected
    count: int | None = None  # affect at most this many, then retire
    status: int = 500
    error: str | None = None  # error code for a JSON error body
    description: str = ""
    latency_ms: int = 0
    drop: bool = False
    html: bool = False
    when: str = "before"  # before the method runs, or after it (the write happens, the answer is lost)
    verb: str = "*"  # only requests with this HTTP method (POST: a create, not a read of the same entity set)
    contains: str = ""  # only requests whose decoded query has this text (a filter's form: "cast(")
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fault:
        known = {name for name in cls.__dataclass_fields__ if name != "extra"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault keys: {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}")
        if data.get("when", "before") not in ("before", "after"):
            raise ValueError("'when' must be before or after")
        return cls(**data)


class Faults:
    """The faults in force; `pick(method)` says which one (if any) hits this request."""

    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._rng = random.Random(seed)

    def set(self, faults: list[Fault]) -> None:
        with self._lock:
            self._faults = list(faults)

    def clear(self) -> None:
        self.set([])

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [fault.__dict__.copy() for fault in self._faults]

    def pick(self, method: str, verb: str = "POST", query: str = "") -> Fault | None:
        name = method.lower()
        with self._lock:
            for fault in self._faults:
                if fault.method != "*" and fault.method.lower() != name:
                    continue
                if fault.verb != "*" and fault.verb.upper() != verb.upper():
                    continue
                if fault.contains and fault.contains not in query:
                    continue
                if fault.count is not None and fault.count <= 0:
                    continue
                if fault.rate < 1.0 and self._rng.random() >= fault.rate:
                    continue
                if fault.count is not None:
                    fault.count -= 1
                return fault
        return None


def admin_request(path: str, method: str, body: bytes, stats: Stats, faults: Faults) -> tuple[int, Any] | None:
    """The admin endpoints both emulators share: /_emulator/stats and /_emulator/faults.

    Returns (status, JSON payload), or None for a path the emulator handles itself.
    """
    try:
        payload = json.loads(body.decode("utf-8")) if body else {}
    except ValueError:
        return 400, {"error": "body must be JSON"}
    if path == "stats":
        if method == "DELETE":
            stats.reset()
        snapshot = stats.snapshot()
        snapshot["query_limit_exceeded"] = snapshot["responses_by_status"].get("503", 0)
        snapshot["operation_time_limit"] = snapshot["responses_by_status"].get("429", 0)
        return 200, snapshot
    if path == "faults":
        if method == "DELETE":
            faults.clear()
        elif method == "POST":
            items = payload.get("faults", payload) if isinstance(payload, dict) else payload
            try:
                faults.set([Fault.from_json(dict(item)) for item in (items if isinstance(items, list) else [items])])
            except (TypeError, ValueError) as error:
                return 400, {"error": str(error)}
        return 200, {"faults": faults.describe()}
    return None


HTML_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n"
    "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
