"""The state store on the real clock (frozen by freezegun): backoff, due retries, the run log, the lock."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest
from freezegun import freeze_time

from b24sync.errors import EXIT_CONFIG, StateError, exit_code
from b24sync.store import migrations
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
    with pytest.raises(StateError, match="newer b24sync"):
        Store(tmp_path / "state.db")
    assert exit_code(StateError("newer")) == EXIT_CONFIG  # a clean exit 2, never a traceback


def test_a_first_release_state_file_is_migrated_forward_by_the_frozen_steps(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    old = sqlite3.connect(path)
    old.executescript(migrations.V1.replace('"kind" VARCHAR(255) NOT NULL, "pushed_hash" VARCHAR(255) NOT NULL',
                                              '"kind" VARCHAR(255) NOT NULL'))  # the first release's
    old.execute("INSERT INTO schemaversion (version) VALUES (1)")
    old.execute("INSERT INTO binding (deal_id, onec_ref, entity, number, pushed_hash, pushed_projection, posted, "
                "onec_version, snapshot_hash, written_fields, is_open, closed_by_b24sync, created_at, updated_at) "
                "VALUES (7, 'ref-7', 'Document_ЗаказКлиента', 'ЭС-7', 'h', '{}', 1, 'v1', 'v2', "
                "'{\"UF_CRM_1C_ORDER_ID\": \"ref-7\"}', 1, 0, 0, 0)")
    old.execute("INSERT INTO seenversion (ref, version) VALUES ('catalog:item-1', 'c1'), ('ref-7', 'v2'), "
                "('invoice-1', 'i1')")
    old.commit()
    old.close()
    store = Store(path)
    assert store.schema_version == migrations.CURRENT_SCHEMA == 6
    binding = store.binding_for_deal(7)
    assert (binding.onec_ref, binding.written_version, binding.pulled_version, binding.posted) == \
        ("ref-7", "v1", "v2", True)
    assert binding.written_fields == {"UF_CRM_1C_ORDER_ID": "ref-7"}
    assert binding.document_state == binding.deal_state == ""
    assert store.catalog_versions() == {"item-1": "c1"}  # the catalog's versions in their own table
    assert store.seen_versions() == {"invoice-1": "i1"}  # the order's version lives on its binding only
    store.begin_intent(7, "update")  # the intents table has every column, whatever release made the file
    assert store.open_intent(7).kind == "update"
    store.save_invoice_upload("inv-1", deal_id=7, number="1", amount="10", data_version="v", content_hash="h",
                              file_id=1, link="https://x/~1")
    assert store.invoice_upload("INV-1").link == "https://x/~1"
    store.bind_counterparty("contact", 5, "cp-5")  # schema 6: contacts and companies keep their counterparty
    assert store.counterparty_binding("contact", 5) == ("cp-5", "")
    store.close()


@pytest.mark.parametrize("content", [b"\x01" * 100, b"\x00" * 4096, b"SQLite format 3\x00" + b"garbage" * 100,
                                     b"not a database at all" * 50])
def test_a_damaged_state_file_says_where_it_is_and_what_to_do(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "state.db"
    Store(path).close()
    path.write_bytes(content)
    with pytest.raises(StateError) as caught:
        Store(path)
    said = str(caught.value)
    assert str(path) in said and "damaged" in said and "b24sync state repair" in said
    assert exit_code(caught.value) == EXIT_CONFIG


def test_opening_a_current_state_file_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    Store(path).close()
    before = path.stat().st_mtime_ns, Path(str(path) + "-wal").stat().st_size if Path(str(path) + "-wal").exists() \
        else 0
    store = Store(path)
    store.failures(), store.count_bindings(), store.last_runs()  # what `status` reads
    store.close()
    after = path.stat().st_mtime_ns, Path(str(path) + "-wal").stat().st_size if Path(str(path) + "-wal").exists() \
        else 0
    assert before == after  # `status` and a current store never rewrite the file
