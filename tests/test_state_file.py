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
    capsys.readouterr()
    assert status(rig.config, as_json=True) == 0
    import json
    import re

    shown = json.loads(capsys.readouterr().out)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", shown["jobs"]["bitrix24_to_onec"]["last_run"])
    assert rig.store_path.read_bytes() == content and rig.store_path.stat().st_mtime_ns == changed
    wal = Path(str(rig.store_path) + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0  # SQLite's reader files at most, never a write
    reader = Store(rig.store_path, read_only=True)
    with pytest.raises(StateError):
        reader.bind(99, "ref", "Document_ЗаказКлиента", "1", "v")  # a read-only open cannot write at all
    reader.close()


def test_a_full_disk_stops_the_cycle_in_words_and_the_next_one_goes_on_without_a_duplicate(rig: Rig) -> None:
    deals = [*range(1, 5), *range(6, 22)]  # more bookkeeping than the file's pages have room for (5 lacks a product)
    for deal_id in deals:
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
    assert all(len(rig.documents_for(deal_id)) == 1 for deal_id in deals)


def test_a_state_directory_b24sync_may_not_write_is_one_line_naming_it_and_the_user(tmp_path: Path) -> None:
    """Run as an ordinary user (root writes anywhere): `nobody` when the tests run as root."""
    import subprocess
    import sys
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="b24sync-ro-"))
    try:
        Store(folder / "state.db").close()
        (folder / "state.db").chmod(0o644)
        folder.chmod(0o755)  # readable by all, writable by its owner only
        script = (
            "import sys\n"
            "from b24sync.store.store import Store\n"
            "from b24sync.errors import StateError\n"
            f"path = {str(folder / 'state.db')!r}\n"
            "reader = Store(path, read_only=True)\n"
            "print('read', len(list(reader.bindings())))\n"
            "reader.close()\n"
            "try:\n"
            "    Store(path)\n"
            "except StateError as error:\n"
            "    print('refused', error)\n")
        as_other = (lambda: os.setuid(65534)) if os.geteuid() == 0 else None
        if as_other is None and os.access(folder, os.W_OK):
            folder.chmod(0o555)
        try:
            done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                                  preexec_fn=as_other, cwd="/",
                                  env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)})
        except PermissionError:
            pytest.skip("another user may not run the project's Python on this machine")
        if as_other is not None and "Permission denied" in done.stderr and "b24sync" in done.stderr:
            pytest.skip("another user may not read the project's files on this machine")
        assert done.returncode == 0, done.stderr[-2000:]
        assert "read 0" in done.stdout  # status still reads it
        assert f"refused the state file {folder / 'state.db'} cannot be written by user" in done.stdout
    finally:
        folder.chmod(0o755)
        for item in folder.iterdir():
            item.unlink()
        folder.rmdir()


def test_damage_inside_a_page_is_found_by_repair_and_said_by_every_command(tmp_path: Path) -> None:
    from b24sync.sync.repair import is_damaged

    path = tmp_path / "state.db"
    store = Store(path)
    for deal_id in range(1, 400):
        store.bind(deal_id, f"ref-{deal_id:05d}", "Document_ЗаказКлиента", f"ЭС-{deal_id}", "v1")
    store.db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    assert not is_damaged(path)
    with path.open("r+b") as raw:  # the header and the schema are sound; a page of bindings is not
        raw.seek(4096 * 3)
        raw.write(b"\xff" * 4096)
    assert is_damaged(path)
    with pytest.raises(StateError, match="damaged.*b24sync state repair"):
        reader = Store(path, read_only=True)
        try:  # a page of the table or of one of its indexes: one of these reads meets it
            list(reader.bindings())
            [reader.binding_for_ref(f"ref-{deal_id:05d}") for deal_id in range(1, 400)]
            [reader.binding_for_deal(deal_id) for deal_id in range(1, 400)]
        finally:
            reader.close()


def test_a_file_that_is_not_damaged_but_unusable_is_never_moved_aside(tmp_path: Path) -> None:
    from b24sync.store import migrations
    from b24sync.sync.repair import is_damaged

    path = tmp_path / "state.db"
    Store(path).close()
    store = Store(path)
    store.db.execute_sql(f"UPDATE schemaversion SET version = {migrations.CURRENT_SCHEMA + 1}")
    store.close()
    with pytest.raises(StateError, match="newer b24sync"):
        is_damaged(path)


def test_a_repair_keeps_documents_reported_missing_reported_and_recreates_nothing(rig: Rig) -> None:
    for deal_id in (1, 2, 3):
        rig.move(deal_id)
    engine = rig.engine()
    engine.push()
    accountant = rig.accountant()
    accountant.delete("Document_ЗаказКлиента", rig.documents_for(1)[0]["Ref_Key"])
    accountant.mark_for_deletion("Document_ЗаказКлиента", rig.documents_for(3)[0]["Ref_Key"])
    assert engine.pull().missing == 2
    engine.store.close()
    rig.store_path.write_bytes(b"garbage" * 1000)
    documents = len(rig.documents())

    assert state_repair(rig.config, repair_args()) == 0
    assert len(rig.documents()) == documents  # nothing made again behind the administrator's back
    store = Store(rig.store_path)
    assert {item.deal_id: item.document_state for item in store.missing_documents()} == {1: "deleted", 3: "marked"}
    store.close()
    recreated = rig.engine().push(deal_ids=[1], force=True, recreate=True)  # only when asked
    assert recreated.created == 1 and len(rig.documents_for(1)) == 1
