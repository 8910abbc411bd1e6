"""The state file as an administrator meets it: damaged, full, read-only, repaired."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest

from b24sync.commands import state_repair, status
from b24sync.errors import EXIT_CONFIG, StateError, exit_code
from b24sync.store.store import Store
from tests.sync_rig import Rig


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    running = Rig.start(tmp_path)
    yield running
    running.stop()


def repair_args(force: bool = False) -> argparse.Namespace:
    return argparse.Namespace(force=force, confirm_bulk=False)


def test_a_damaged_state_file_is_repaired_from_the_deal_markers_without_a_duplicate(
        rig: Rig, capsys: pytest.CaptureFixture[str]) -> None:
    for deal_id in (1, 2, 3):
        rig.move(deal_id)
    engine = rig.engine()
    engine.push()
    engine.pull()
    rig.move(2, "NEW")  # deal 2 left its trigger stages: its document must be found again all the same
    engine.store.close()
    before = {doc["Ref_Key"] for doc in rig.documents()}
    rig.store_path.write_bytes(b"\x00" * 4096)
    with pytest.raises(StateError, match="b24sync state repair"):
        Store(rig.store_path)

    assert state_repair(rig.config, repair_args()) == 0
    out = capsys.readouterr().out
    assert "moved the state file aside" in out and "bound 3 deals again" in out
    assert {doc["Ref_Key"] for doc in rig.documents()} == before  # nothing created twice
    assert list(rig.store_path.parent.glob("state.db.damaged-*"))
    store = Store(rig.store_path)
    assert sorted(binding.deal_id for binding in store.bindings()) == [1, 2, 3]
    store.close()
    rig.reset_stats()
    assert state_repair(rig.config, repair_args()) == 0  # a sound file is left alone
    assert "is not damaged" in capsys.readouterr().out and rig.writes() == (0, 0)


def test_status_reads_without_writing_and_says_when_nothing_has_run(
        tmp_path: Path, rig: Rig, capsys: pytest.CaptureFixture[str]) -> None:
    assert status(rig.config, as_json=False) == 0
    assert "no cycle has run yet" in capsys.readouterr().out and not rig.store_path.exists()
    rig.move(1)
    rig.engine().push()
    rig.engines[-1].store.close()
    content, changed = rig.store_path.read_bytes(), rig.store_path.stat().st_mtime_ns
    assert status(rig.config, as_json=True) == 0
    assert rig.store_path.read_bytes() == content and rig.store_path.stat().st_mtime_ns == changed
    wal = Path(str(rig.store_path) + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0  # SQLite's reader files at most, never a write
    reader = Store(rig.store_path, read_only=True)
    with pytest.raises(StateError):
        reader.bind(99, "ref", "Document_ЗаказКлиента", "1", "v")  # a read-only open cannot write at all
    reader.close()


def test_a_full_disk_stops_the_cycle_in_words_and_the_next_one_goes_on_without_a_duplicate(rig: Rig) -> None:
    for deal_id in (1, 2):
        rig.move(deal_id)
    engine = rig.engine()
    pages = engine.store.db.execute_sql("PRAGMA page_count").fetchone()[0]
    engine.store.db.execute_sql(f"PRAGMA max_page_count = {pages}")  # the device holding the file fills up
    with pytest.raises(StateError) as stopped:
        engine.push()
    assert f"no space left on the device holding {rig.store_path}" in str(stopped.value)
    assert exit_code(stopped.value) == EXIT_CONFIG
    freed = rig.engine()  # space freed, the service restarted
    report = freed.push()
    assert not report.failed
    assert all(len(rig.documents_for(deal_id)) == 1 for deal_id in (1, 2))


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere, so the refusal cannot be shown")
def test_a_state_directory_b24sync_may_not_write_is_one_line_naming_it_and_the_user(tmp_path: Path) -> None:
    folder = tmp_path / "state"
    folder.mkdir()
    Store(folder / "state.db").close()
    folder.chmod(0o555)
    try:
        with pytest.raises(StateError, match=f"{folder}.*cannot be written by user"):
            Store(folder / "state.db")
        Store(folder / "state.db", read_only=True).close()  # status still reads it
    finally:
        folder.chmod(0o755)
