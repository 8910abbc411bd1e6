"""A storm of faults in both systems while managers work, then calm: the service alone converges.

The service's own jobs run on the injected clock (push and retry once a minute here,
pull every two), writing four deals to 1C at once (the default `onec.max_concurrency`); nobody runs `retry` or
`sync` by hand. After the faults stop, two retry intervals must bring every deal to exactly one document in 1C,
with the deal knowing it, and then nothing is written again.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from b24sync.daemon import Daemon
from b24sync.wiring import build
from tests.sync_rig import Rig

BITRIX24_FAULTS = [
    {"method": "batch", "rate": 0.3, "status": 503, "html": True},  # a proxy failing
    {"method": "batch", "rate": 0.1, "status": 500, "when": "after"},  # written, the answer lost
    {"method": "batch", "rate": 0.05, "drop": True, "when": "after"},  # written, the connection dropped
    {"method": "crm.deal.list", "rate": 0.15, "status": 503, "error": "QUERY_LIMIT_EXCEEDED",
     "description": "Too many requests"},
]
ONEC_FAULTS = [
    {"method": "Document_ЗаказКлиента", "rate": 0.3, "status": 500, "error": "-1",
     "description": "Конфликт блокировок при выполнении транзакции: Превышено максимальное время ожидания "
                    "предоставления блокировки"},
    {"method": "Document_ЗаказКлиента", "rate": 0.1, "status": 502, "html": True, "when": "after"},
    {"method": "*", "rate": 0.05, "status": 503, "html": True},
]


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    running = Rig.start(tmp_path, deals=40, seed=5, on_locked_document="unpost_and_update")  # every edit goes in
    yield running
    running.stop()


def faults(rig: Rig, on: bool) -> None:
    for root, items in ((rig.portal.root, BITRIX24_FAULTS), (rig.base.root, ONEC_FAULTS)):
        if on:
            requests.post(f"{root}/_emulator/faults", json={"faults": items}, timeout=5).raise_for_status()
        else:
            requests.delete(f"{root}/_emulator/faults", timeout=5).raise_for_status()


def minute(daemon: Daemon, rig: Rig, index: int) -> None:
    """One minute of the service: its jobs as the scheduler runs them, then the clock moves on."""
    daemon.job_push()
    daemon.job_retry()
    if index % 2 == 0:
        daemon.job_pull()
    rig.clock.advance(60)


def test_after_a_fault_storm_the_service_alone_converges_with_one_document_a_deal(rig: Rig) -> None:
    # the dataset's deals with a product 1C lacks fail for a reason a manager must fix: left out here
    DEALS = [deal_id for deal_id, rows in sorted(rig.portal.portal.product_rows.items())
             if not any("нет в 1С" in row["PRODUCT_NAME"] for row in rows)][:27]
    daemon = Daemon(None)
    daemon.parts = build(rig.config, clock=rig.clock)
    for deal_id in DEALS[:15]:
        rig.move(deal_id)
    faults(rig, on=True)
    for index in range(6):  # six minutes of storm, with managers at work
        for deal_id in DEALS[15 + index * 2:17 + index * 2]:
            rig.move(deal_id)
        rig.call("crm.deal.update", {"id": DEALS[index], "fields": {"TITLE": f"Правка во время сбоя {index}"}})
        minute(daemon, rig, index)
    faults(rig, on=False)
    for index in range(2):  # two retry intervals of calm
        minute(daemon, rig, index)

    try:
        store = daemon.parts.store
        for deal_id in DEALS:
            documents = rig.documents_for(deal_id)
            assert len(documents) == 1, (deal_id, len(documents))
            deal = rig.deal(deal_id)
            assert deal["UF_CRM_1C_ORDER_ID"] == documents[0]["Ref_Key"], deal_id
            assert deal["TITLE"] in documents[0]["Комментарий"], deal_id
        assert store.failures() == [] and store.unreachable() == {}
        rig.reset_stats()
        minute(daemon, rig, 0)
        assert rig.writes() == (0, 0)  # converged: nothing is written again, no echo
    finally:
        daemon.parts.close()
