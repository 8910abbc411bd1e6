"""Builds the running pieces from a Config: clients, adapters, the store (under its lock) and the engine."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from b24sync.bitrix24.adapter import Bitrix24Adapter
from b24sync.bitrix24.client import Bitrix24Client
from b24sync.clock import SYSTEM_CLOCK, Clock
from b24sync.config import Config
from b24sync.onec.adapter import OneCAdapter
from b24sync.store.lock import ProcessLock
from b24sync.store.store import Store
from b24sync.sync.runner import Engine

BUCKET_LEFT = "bitrix24_bucket"  # the portal's request bucket as the last process left it: "<level> <unix time>"


@dataclass
class Parts:
    config: Config
    bitrix: Bitrix24Adapter
    onec: OneCAdapter
    store: Store
    engine: Engine
    lock: ProcessLock

    def close(self) -> None:
        self.onec.client.close()
        try:
            save_bucket(self.bitrix, self.store, self.engine.clock)
        finally:
            self.store.close()
            self.lock.release()


def save_bucket(bitrix: Bitrix24Adapter, store: Store, clock: Clock) -> None:
    """What this process leaves in the portal's bucket, for the next one (nothing when it sent nothing lately)."""
    left = bitrix.client.bucket.level()
    if left >= 1:
        store.set_watermark(BUCKET_LEFT, f"{left:.1f} {clock.time():.0f}")


def resume_bucket(bitrix: Bitrix24Adapter, store: Store, clock: Clock) -> None:
    """Counts what the previous process left in the portal's bucket as sent by this one (it drains meanwhile)."""
    level, _, at = (store.watermark(BUCKET_LEFT) or "").partition(" ")
    try:
        bitrix.client.bucket.resume(float(level), clock.time() - float(at))
    except ValueError:
        pass  # never written (a first run, a new state file) or unreadable: nothing is known of the portal's bucket


def lock_for(config: Config, service: bool = False) -> ProcessLock:
    return ProcessLock(Path(config.state_path + ".lock"), service=service)


def connect(config: Config, clock: Clock = SYSTEM_CLOCK, **client_options: Any) -> tuple[Bitrix24Adapter, OneCAdapter]:
    """The two protocol adapters for this config (client_options, e.g. max_retries, go to both clients)."""
    return (Bitrix24Adapter(Bitrix24Client.from_config(config.bitrix24, clock=clock, **client_options)),
            OneCAdapter.from_config(config.onec, clock=clock, **client_options))


def build(config: Config, clock: Clock = SYSTEM_CLOCK, lock: ProcessLock | None = None,
          service: bool = False) -> Parts:
    """Take the lock (LockHeldError if another b24sync holds it), or use the one held, then open everything."""
    lock = lock or lock_for(config, service=service).acquire()
    try:
        bitrix, onec = connect(config, clock)
        store = Store(config.state_path, clock=clock)
    except BaseException:
        lock.release()
        raise
    resume_bucket(bitrix, store, clock)
    return Parts(config, bitrix, onec, store, Engine(config, bitrix, onec, store, clock), lock)
