"""Deals written to 1C at once (onec.max_concurrency): the waits overlap, the outcome is a sequential run's."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import requests

from tests.sync_rig import Rig

COUNTERPARTIES = "Catalog_Контрагенты"


def slow_onec(rig: Rig, **entities_ms: int) -> None:
    """1C takes this long to answer these entity sets (an emulator fault that only delays)."""
    faults = [{"method": entity, "latency_ms": ms, "status": 200} for entity, ms in entities_ms.items()]
    requests.post(f"{rig.base.root}/_emulator/faults", json={"faults": faults}, timeout=5).raise_for_status()


def test_deals_of_one_new_customer_written_at_once_make_one_counterparty_and_one_document_each(
        tmp_path: Path) -> None:
    rig = Rig.start(tmp_path)
    try:
        person = rig.call("crm.contact.add", {"fields": {"NAME": "Глеб", "LAST_NAME": "Новосёлов",
                                                         "PHONE": [{"VALUE": "+7 903 555-12-34"}]}})
        listed = rig.call("crm.deal.list", {"filter": {"CATEGORY_ID": 0}, "select": ["ID"]})
        rows = {int(deal["ID"]): rig.call("crm.deal.productrows.get", {"id": deal["ID"]}) for deal in listed}
        deals = [deal_id for deal_id, items in rows.items()  # a deal with a product 1C lacks would fail
                 if not any("(нет в 1С)" in row["PRODUCT_NAME"] for row in items)][:8]
        for deal_id in deals:
            rig.call("crm.deal.update", {"id": deal_id, "fields": {"CONTACT_ID": person, "COMPANY_ID": 0}})
            rig.move(deal_id)
        before = len(rig.base.base.records[COUNTERPARTIES])
        slow_onec(rig, **{"Document_ЗаказКлиента": 150, COUNTERPARTIES: 50})
        rig.reset_stats()
        engine = rig.engine(onec=replace(rig.config.onec, max_concurrency=4))
        report = engine.push()
        assert rig.base.app.stats.snapshot()["in_flight_peak"] >= 2  # the workers did wait on 1C together
        assert report.created == len(deals) == 8 and not report.failed, report.failed
        assert len(rig.base.base.records[COUNTERPARTIES]) == before + 1
        for deal_id in deals:
            assert len(rig.documents_for(deal_id)) == 1
            assert engine.store.open_intent(deal_id) is None
            assert engine.store.binding_for_deal(deal_id).posted
        assert engine.push().created == 0  # and a second cycle finds nothing to do
    finally:
        rig.stop()


def test_each_worker_is_served_by_an_explicit_session_of_its_own_which_outlives_a_server_restart(
        tmp_path: Path) -> None:
    rig = Rig.start(tmp_path)
    try:
        fine = sorted(deal_id for deal_id, rows in rig.portal.portal.product_rows.items()
                      if rows and not any("(нет в 1С)" in row["PRODUCT_NAME"] for row in rows))
        for deal_id in fine[:8]:
            rig.move(deal_id)
        slow_onec(rig, **{"Document_ЗаказКлиента": 100})
        rig.reset_stats()
        engine = rig.engine(onec=replace(rig.config.onec, max_concurrency=4))
        assert engine.push().created == 8
        stats = rig.base.app.stats.snapshot()
        # the main thread's and each worker's: never one a request, never more than the workers and the owner
        assert 2 <= stats["sessions"]["started"] <= 5 < stats["http_requests"]

        ended = requests.delete(f"{rig.base.root}/_emulator/sessions", timeout=5).json()["ended"]
        assert ended == stats["sessions"]["started"]  # the 1C server restarted: every session is gone
        for deal_id in fine[8:10]:
            rig.move(deal_id)
        rig.reset_stats()
        report = engine.push()
        assert report.created == 2 and not report.failed, report.failed  # new sessions, nothing lost
        assert rig.base.app.stats.snapshot()["sessions"]["started"] >= 1
        for deal_id in fine[:10]:
            assert len(rig.documents_for(deal_id)) == 1

        rig.reset_stats()
        engine.onec.client.close()
        finished = rig.base.app.stats.snapshot()["sessions"]["finished"]
        assert finished >= 1 and requests.delete(f"{rig.base.root}/_emulator/sessions", timeout=5).json()[
            "ended"] == 0  # each closed at the end, its licence free at once
    finally:
        rig.stop()
