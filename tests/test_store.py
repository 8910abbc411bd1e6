"""The state store on the real clock (frozen by freezegun): backoff, due retries, the run log, the lock."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from freezegun import freeze_time

from b24sync.store.lock import LockHeldError, ProcessLock
from b24sync.store.store import RETRY_MAX, Store


def test_failures_back_off_from_a_minute_to_six_hours(tmp_path: Path) -> None:
    with freeze_time("2026-11-26 10:00:00") as frozen:
        store = Store(tmp_path / "state.db")
        assert stat.S_IMODE(os.stat(tmp_path / "state.db").st_mode) == 0o600
        delays = []
        for _ in range(12):
            failure = store.record_failure(42, "Товар не найден", "details")
            delays.append(failure.next_retry_at - failure.last_failed_at)
            frozen.tick(1)
        assert delays[:4] == [60, 120, 240, 480] and delays[-1] == RETRY_MAX
        assert store.due_failures() == []
        frozen.tick(RETRY_MAX)
        assert store.due_failures() == [42]
        store.record_failure(7, "x", "y", kind="writeback")
        assert store.due_failures() == [42] and store.failure(7, "writeback") is not None
        store.clear_failure(42)
        assert store.failure(42) is None
        store.close()


def test_the_run_log_keeps_the_last_runs_per_job(tmp_path: Path) -> None:
    with freeze_time("2026-11-26 10:00:00"):
        store = Store(tmp_path / "state.db")
        for index in range(600):
            store.log_run("bitrix24_to_onec" if index % 2 else "onec_to_bitrix24", 0, "ok", f"run {index}")
        runs = store.last_runs()
        assert runs["bitrix24_to_onec"].summary == "run 599" and runs["onec_to_bitrix24"].summary == "run 598"
        from b24sync.store.models import RunLog

        assert RunLog.select().count() == 500
        store.close()


def test_one_writer_at_a_time(tmp_path: Path) -> None:
    lock = ProcessLock(tmp_path / "state.db.lock").acquire()
    try:
        with pytest.raises(LockHeldError) as caught:
            ProcessLock(tmp_path / "state.db.lock").acquire()
        assert caught.value.pid == os.getpid() and "systemctl stop b24sync" in str(caught.value)
    finally:
        lock.release()
    ProcessLock(tmp_path / "state.db.lock").acquire().release()


def test_a_state_file_from_a_newer_b24sync_is_refused(tmp_path: Path) -> None:
    from b24sync.store.models import SchemaVersion

    store = Store(tmp_path / "state.db")
    SchemaVersion.update(version=99).execute()
    store.close()
    with pytest.raises(RuntimeError, match="newer b24sync"):
        Store(tmp_path / "state.db")
