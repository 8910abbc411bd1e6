"""Deals written to 1C at once (`onec.max_concurrency`), with the bookkeeping still done one deal at a time.

A worker holds the turn for everything it does to the state file, the outbox,
the report and the cycle's caches, and gives it up only while it waits on 1C
(the client calls `waiting()` around each request and each pause before a
retry). So the state sees the same sequence of intents and bindings as a
sequential run (an intent is still recorded before its write to 1C), while the
waits on 1C overlap. Each deal's steps stay with one worker, so no two writes
go to one document at once; a customer two deals share is matched or created
under its own key (`exclusive`), never twice.

What a worker writes to the state between two of its requests is one
transaction (`group`, the store's `grouped`), committed as the worker gives
up its turn, so before the request goes out: one commit where there was one
a statement, and still every intent on disk before its write to 1C.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext


class Turns:
    """One turn for the Python side of the workers; a worker waiting on 1C lets another take it."""

    def __init__(self, group: Callable[[], AbstractContextManager[None]] = nullcontext) -> None:
        self._turn = threading.Lock()
        self._local = threading.local()
        self._keys: dict[str, threading.Lock] = {}
        self._group = group

    @property
    def holding(self) -> bool:
        return getattr(self._local, "held", False)

    def _take(self) -> None:
        self._turn.acquire()
        try:
            group = self._group()
            group.__enter__()
        except BaseException:
            self._turn.release()  # no transaction could begin: the turn is not held
            raise
        self._local.group, self._local.held = group, True

    def _give(self, error: BaseException | None = None) -> None:
        """The turn's writes committed (or, for a failing state file, rolled back), then the turn let go."""
        if not self.holding:
            return  # a turn that could not be taken again (turn() ends after a failed _take)
        group, self._local.group = self._local.group, None
        self._local.held = False
        try:
            if error is None:
                group.__exit__(None, None, None)
            else:
                group.__exit__(type(error), error, error.__traceback__)
        finally:
            self._turn.release()

    @contextmanager
    def turn(self) -> Iterator[None]:
        """A worker's whole deal: its turn, given up only while it waits on 1C."""
        self._take()
        try:
            yield
        except BaseException as error:
            self._give(error)
            raise
        self._give()

    @contextmanager
    def waiting(self) -> Iterator[None]:
        """Around a request to 1C (or a pause): what the turn wrote is committed, and another worker may run
        meanwhile. Outside a turn, nothing."""
        if not self.holding:
            yield
            return
        try:
            self._give()
        except BaseException:
            self._take()  # the commit failed: the request is not sent, and the turn ends as it began
            raise
        try:
            yield
        finally:
            self._take()

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
