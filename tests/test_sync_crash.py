"""Crash safety: stopped at any write step, b24sync restarts without a duplicate document or a lost update."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from b24sync.clock import SYSTEM_CLOCK
from tests.onec_support import PASSWORD, USER
from tests.sync_rig import Rig

DEALS = (1, 2, 3, 4, 6, 7)


class Crash(BaseException):
    """Stands for the process dying: not an Exception, so nothing in b24sync catches it."""


def crash_at(target: Any, name: str, when: str) -> None:
    original = getattr(target, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        setattr(target, name, original)  # crash once
        if when == "before":
            raise Crash(name)
        original(*args, **kwargs)
        raise Crash(name)

    setattr(target, name, wrapper)


STEPS = [
    ("intent recorded, create not sent", lambda engine: (engine.onec.client, "post", "before")),
    ("document created, answer lost", lambda engine: (engine.onec.client, "post", "after")),
    ("binding stored, not posted", lambda engine: (engine.store, "bind", "after")),
    ("posted, binding not updated", lambda engine: (engine.onec.client, "action", "after")),
    ("deal written, not remembered", lambda engine: (engine.bitrix, "update_deals", "after")),
    ("remembered, comments not sent", lambda engine: (engine.sender, "_send_comments", "before")),
]


def assert_converged(rig: Rig) -> None:
    engine = rig.engines[-1]
    for deal_id in DEALS:
        documents = rig.documents_for(deal_id)
        assert len(documents) == 1, (deal_id, len(documents))
        binding = engine.store.binding_for_deal(deal_id)
        assert binding is not None and binding.onec_ref == documents[0]["Ref_Key"]
        assert documents[0]["Posted"] is True
        assert rig.deal(deal_id)["UF_CRM_1C_ORDER_ID"] == documents[0]["Ref_Key"]


CASES = [(label, step, victim) for label, step in STEPS for victim in (0, 2)
         if victim == 0 or label not in ("deal written, not remembered", "remembered, comments not sent")]


@pytest.mark.parametrize("label, step, victim", CASES,
                         ids=[f"{label} (deal {victim + 1})" for label, _, victim in CASES])
def test_an_injected_crash_at_each_write_step(tmp_path: Path, label: str, step: Any, victim: int) -> None:
    rig = Rig.start(tmp_path)
    try:
        for deal_id in DEALS:
            rig.move(deal_id)
        engine = rig.engine()
        for _ in range(victim):  # crash at the first, or the third, deal of the cycle
            target, name, _when = step(engine)
            original = getattr(target, name)

            def passthrough(*args: Any, _original: Any = original, _target: Any = target, _name: str = name,
                            **kwargs: Any) -> Any:
                setattr(_target, _name, _original)
                return _original(*args, **kwargs)

            setattr(target, name, passthrough)
        target, name, when = step(engine)
        if victim:
            # arm the crash after the passthroughs have consumed the earlier calls
            armed = getattr(target, name)

            def arm(*args: Any, **kwargs: Any) -> Any:
                result = armed(*args, **kwargs)
                crash_at(target, name, when)
                return result

            setattr(target, name, arm)
        else:
            crash_at(target, name, when)
        with pytest.raises(Crash):
            engine.push()
        rig.clock.advance(3600)
        restarted = rig.engine()
        restarted.push()
        restarted.pull()
        assert_converged(rig)
        second = rig.engine().push()
        assert second.created == 0 and second.recovered == 0
    finally:
        rig.stop()


def write_config(rig: Rig, path: Path) -> Path:
    config = {
        "bitrix24": {"webhook_url": rig.portal.webhook_url, "rate_per_second": 20, "burst": 100},
        "onec": {"url": rig.base.odata_root, "user": USER, "password": PASSWORD, "read_timeout": 15,
                 "defaults": {"organisation": "ООО «Электросбыт»", "warehouse": "Основной склад",
                              "agreement": "Основное соглашение (розница и опт)"}},
        "sync": {"pipelines": [{"category_id": 0, "trigger_stages": ["EXECUTING", "FINAL_INVOICE", "WON"]},
                               {"category_id": 1, "trigger_stages": ["C1:EXECUTING", "C1:WON"]}]},
        "state": {"path": str(path.parent / "state.db")},
        "logging": {"level": "WARNING", "format": "json"},
    }
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    path.chmod(0o600)
    return path


def test_kill_9_during_sync_never_duplicates(tmp_path: Path) -> None:
    rig = Rig.start(tmp_path, clock=SYSTEM_CLOCK)
    try:
        for deal_id in DEALS:
            rig.move(deal_id)
        config = write_config(rig, tmp_path / "config.yaml")
        command = [sys.executable, "-m", "b24sync", "sync", "--config", str(config)]
        killed = 0
        for kill_at in (1, 3, 4):  # kill after the Nth write to 1C: mid-create, mid-post, and so on
            writes = []
            reached = threading.Event()

            def on_write(what: str, _writes: list = writes, _at: int = kill_at, _event: threading.Event = reached) \
                    -> None:
                _writes.append(what)
                if len(_writes) >= _at:
                    _event.set()

            rig.base.app.on_write = on_write
            rig.base.app.settings["cold_start_ms"] = 0
            process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            try:
                if reached.wait(timeout=30) and process.poll() is None:
                    os.kill(process.pid, signal.SIGKILL)
                    killed += process.wait(timeout=30) == -signal.SIGKILL
            finally:
                if process.poll() is None:
                    process.kill()
        rig.base.app.on_write = None
        assert killed >= 2  # the process really died mid-cycle
        final = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert final.returncode == 0, final.stdout + final.stderr
        rig.engines.append(rig_engine := rig.engine())
        assert_converged(rig)
        assert rig_engine.store.count_bindings()["total"] == len(DEALS)
    finally:
        rig.stop()


def test_a_deal_edited_after_an_interrupted_create_reaches_1c(tmp_path: Path) -> None:
    rig = Rig.start(tmp_path)
    try:
        rig.move(1)
        engine = rig.engine()
        crash_at(engine.onec, "create_document", "after")  # the order exists in 1C, the binding does not
        with pytest.raises(Crash):
            engine.push()
        rig.call("crm.deal.update", {"id": 1, "fields": {"TITLE": "Переименована после сбоя"}})
        rig.clock.advance(60)
        report = rig.engine().push()
        assert report.recovered == 1 and report.updated == 1
        documents = rig.documents_for(1)
        assert len(documents) == 1 and "Переименована после сбоя" in documents[0]["Комментарий"]
        assert documents[0]["Posted"] is True and rig.engines[-1].push().updated == 0
    finally:
        rig.stop()


def test_a_retried_deal_keeps_its_failure_until_the_order_reaches_it(tmp_path: Path) -> None:
    rig = Rig.start(tmp_path)
    try:
        rig.move(5)  # its product is missing in 1C
        engine = rig.engine()
        assert 5 in engine.push().failed
        gap = rig.dataset.products[-1]
        rig.accountant().create("Catalog_Номенклатура", {"Ref_Key": gap.ref_key, "Description": gap.name,
                                                         "Артикул": gap.article}, post=False)
        rig.clock.advance(3600)
        retrying = rig.engine()
        crash_at(retrying.bitrix, "update_deals", "before")
        with pytest.raises(Crash):
            retrying.push()
        assert retrying.store.failure(5) is not None  # not cleared: the deal has not heard of its order yet
        rig.clock.advance(3600)
        rig.engine().push()
        assert rig.deal(5)["UF_CRM_1C_ORDER_ID"] == rig.documents_for(5)[0]["Ref_Key"]
        assert rig.engines[-1].store.failure(5) is None
    finally:
        rig.stop()


def test_an_interrupted_update_is_finished_not_reported_as_a_conflict(tmp_path: Path) -> None:
    rig = Rig.start(tmp_path, on_locked_document="unpost_and_update")
    try:
        rig.move(1)
        rig.engine().push()
        rig.call("crm.deal.update", {"id": 1, "fields": {"TITLE": "Новое название"}})
        engine = rig.engine()
        crash_at(engine.onec.client, "action", "after")  # the Unpost went through, then the process died
        with pytest.raises(Crash):
            engine.push()
        report = rig.engine().push()
        assert report.conflicts == 0 and report.updated == 1
        document = rig.documents_for(1)[0]
        assert "Новое название" in document["Комментарий"] and document["Posted"] is True
        assert not rig.engines[-1].store.open_conflicts()
    finally:
        rig.stop()


def test_what_b24sync_wrote_before_a_request_to_1c_is_on_disk_when_the_request_goes_out(tmp_path: Path) -> None:
    """A deal's bookkeeping is one commit between two requests to 1C, never one that waits past a request: a
    kill -9 during any request finds every intent and binding written before it in the file."""
    import sqlite3
    from contextlib import contextmanager
    from dataclasses import replace

    rig = Rig.start(tmp_path)
    try:
        for deal_id in DEALS:
            rig.move(deal_id)
        engine = rig.engine(onec=replace(rig.config.onec, max_concurrency=1))  # nobody else writes meanwhile
        queries = ("SELECT deal_id, kind FROM intent ORDER BY id", "SELECT deal_id, onec_ref FROM binding ORDER BY id")
        seen: list[tuple[list[Any], list[Any]]] = []
        gate = engine.onec.client.gate

        @contextmanager
        def request_going_out() -> Any:
            with gate():
                disk = sqlite3.connect(rig.store_path)  # what a restart after a kill -9 would read
                try:
                    on_disk = [disk.execute(query).fetchall() for query in queries]
                finally:
                    disk.close()
                in_process = [[tuple(row) for row in engine.store.db.execute_sql(query).fetchall()]
                              for query in queries]
                seen.append((on_disk, in_process))
                yield

        engine.onec.client.gate = request_going_out
        report = engine.push()
        assert report.created == len(DEALS)
        assert any(intents for (intents, _), _ in seen), "no request went out with its intent recorded"
        assert all(on_disk == in_process for on_disk, in_process in seen)
    finally:
        rig.stop()


def test_an_update_b24sync_unposted_for_is_posted_after_a_crash_before_its_posting(tmp_path: Path) -> None:
    """on_locked_document: unpost_and_update. Unposted, updated, and the process dies as the posting goes out:
    the next cycle finds 1C holding the deal as it is, and posts the document again instead of leaving it."""
    rig = Rig.start(tmp_path, on_locked_document="unpost_and_update")
    try:
        rig.move(1)
        assert rig.engine().push().created == 1
        rig.call("crm.deal.update", {"id": 1, "fields": {"TITLE": "Новое название"}})
        engine = rig.engine()
        action = engine.onec.client.action
        sent: list[str] = []

        def dies_at_the_posting(resource: str, *args: Any, **kwargs: Any) -> Any:
            sent.append(resource)
            if resource.endswith("/Post"):
                raise Crash(resource)
            return action(resource, *args, **kwargs)

        engine.onec.client.action = dies_at_the_posting
        with pytest.raises(Crash):
            engine.push()
        assert sent[0].endswith("/Unpost") and rig.documents_for(1)[0]["Posted"] is False
        rig.clock.advance(120)
        rig.engine().push()
        document = rig.documents_for(1)[0]
        assert document["Posted"] is True and "Новое название" in document["Комментарий"]
    finally:
        rig.stop()


def test_ctrl_c_during_sync_stops_the_deals_not_begun_and_the_next_run_finishes_them(tmp_path: Path) -> None:
    """`b24sync sync` with 4 workers: Ctrl+C lets the deals in hand finish and starts no other; the next run
    creates the rest, none twice."""
    rig = Rig.start(tmp_path, clock=SYSTEM_CLOCK)
    try:
        moved = [deal_id for deal_id in sorted(rig.portal.portal.deals) if deal_id <= 40]
        for deal_id in moved:
            rig.move(deal_id)
        config = write_config(rig, tmp_path / "config.yaml")
        requests.post(f"{rig.base.root}/_emulator/faults", json={"faults": [{"method": "*", "latency_ms": 300}]},
                      timeout=5)
        writes: list[str] = []
        reached = threading.Event()

        def on_write(what: str) -> None:
            writes.append(what)
            if len(writes) >= 3:
                reached.set()

        rig.base.app.on_write = on_write
        rig.base.app.settings["cold_start_ms"] = 0
        process = subprocess.Popen([sys.executable, "-m", "b24sync", "sync", "--config", str(config)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            assert reached.wait(timeout=60)
            os.kill(process.pid, signal.SIGINT)
            assert process.wait(timeout=60) == 130
        finally:
            if process.poll() is None:
                process.kill()
        rig.base.app.on_write = None
        requests.delete(f"{rig.base.root}/_emulator/faults", timeout=5)
        created = {deal_id for deal_id in moved if rig.documents_for(deal_id)}
        assert 0 < len(created) < len(moved) // 2  # the four workers' deals in hand, not the whole chunk
        final = subprocess.run([sys.executable, "-m", "b24sync", "sync", "--config", str(config)],
                               capture_output=True, text=True, timeout=120)
        assert final.returncode in (0, 1), final.stdout + final.stderr  # 1: deals with a product 1C lacks
        assert all(len(rig.documents_for(deal_id)) <= 1 for deal_id in moved)
        assert created < {deal_id for deal_id in moved if rig.documents_for(deal_id)}
    finally:
        rig.stop()
