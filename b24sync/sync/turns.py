"""Deals written to 1C at once (`onec.max_concurrency`), with the bookkeeping still done one deal at a time.

A worker holds the turn for everything it does to the state file, the outbox,
the report and the cycle's caches, and gives it up only while it waits on 1C
(the client calls `waiting()` around each request and each pause before a
retry). So the state sees the same sequence of intents and bindings as a
sequential run (an intent is still recorded before its write to 1C), while the
waits on 1C overlap. Each deal's steps stay with one worker, so no two writes
go to one document at once; a customer two deals share is matched or created
under its own key (`exclusive`), never twice.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Turns:
    """One turn for the Python side of the workers; a worker waiting on 1C lets another take it."""

    def __init__(self) -> None:
        self._turn = threading.Lock()
        self._local = threading.local()
        self._keys: dict[str, threading.Lock] = {}

    @property
    def holding(self) -> bool:
        return getattr(self._local, "held", False)

    @contextmanager
    def turn(self) -> Iterator[None]:
        """A worker's whole deal: its turn, given up only while it waits on 1C."""
        self._turn.acquire()
        self._local.held = True
        try:
            yield
        finally:
            self._local.held = False
            self._turn.release()

    @contextmanager
    def waiting(self) -> Iterator[None]:
        """Around a request to 1C (or a pause): another worker may run meanwhile. Outside a turn, nothing."""
        if not self.holding:
            yield
            return
        self._local.held = False
        self._turn.release()
        try:
            yield
        finally:
            self._turn.acquire()
            self._local.held = True

    @contextmanager
    def exclusive(self, key: str) -> Iterator[None]:
        """One worker at a time for this key (a customer being matched or created), waited for outside the turn."""
        lock = self._keys.setdefault(key, threading.Lock())
        with self.waiting():
            lock.acquire()
        try:
            yield
        finally:
            lock.release()
