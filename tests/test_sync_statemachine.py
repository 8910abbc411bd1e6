"""A Hypothesis state machine: managers, the accountant, faults and restarts in any order.

Invariants: no deal ever has two documents; after the faults stop, a couple of
cycles make both sides agree (every triggered deal bound, its order, invoice
and payment status on the deal; a document deleted in 1C reported on its deal
and not recreated); and a cycle after a converged one writes nothing to either
side (no echo).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import requests
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from b24sync.bitrix24.wire import parse_date_only
from b24sync.onec.documents import Snapshot
from tests.sync_rig import Rig

DEALS = [1, 2, 3, 4, 6, 7, 9, 10]


class SyncMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = tempfile.TemporaryDirectory()
        self.rig = Rig.start(Path(self.tmp.name), deals=12, seed=21)
        self.engine = self.rig.engine()

    def teardown(self) -> None:
        self.rig.stop()
        self.tmp.cleanup()

    def cycle(self) -> None:
        self.rig.clock.advance(180)
        self.engine.push()
        self.engine.pull()

    @rule(deal=st.sampled_from(DEALS), into=st.booleans())
    def manager_moves_a_deal(self, deal: int, into: bool) -> None:
        category = self.rig.portal.portal.deals[deal]["CATEGORY_ID"]
        if into:
            self.rig.move(deal)
        else:
            self.rig.move(deal, "PREPARATION" if category == "0" else "C1:PREPARATION")

    @rule(deal=st.sampled_from(DEALS), title=st.text(min_size=1, max_size=20))
    def manager_renames_a_deal(self, deal: int, title: str) -> None:
        self.rig.call("crm.deal.update", {"id": deal, "fields": {"TITLE": title}})

    @rule(deal=st.sampled_from(DEALS), share=st.sampled_from([0.3, 0.5, 1.0]))
    def accountant_takes_a_payment(self, deal: int, share: float) -> None:
        documents = self.rig.documents_for(deal)
        if documents:
            total = float(documents[0]["СуммаДокумента"])
            self.rig.accountant().pay(documents[0]["Ref_Key"], round(total * share, 2))

    @rule(deal=st.sampled_from(DEALS))
    def accountant_ships(self, deal: int) -> None:
        documents = self.rig.documents_for(deal)
        if documents:
            self.rig.accountant().ship(documents[0]["Ref_Key"], float(documents[0]["СуммаДокумента"]), f"TRK{deal}")

    @rule(deal=st.sampled_from(DEALS))
    def an_administrator_deletes_the_order_in_1c(self, deal: int) -> None:
        documents = self.rig.documents_for(deal)
        if documents:
            entity = "Document_ЗаказКлиента" if self.rig.base.base.profile.name == "ut11" else \
                "Document_СчетНаОплатуПокупателю"
            self.rig.accountant().delete(entity, documents[0]["Ref_Key"])

    @rule(kind=st.sampled_from(["lost_create_answer", "portal_500s", "onec_down_once"]))
    def a_fault_strikes(self, kind: str) -> None:
        if kind == "lost_create_answer":
            requests.post(f"{self.rig.base.root}/_emulator/faults", json={
                "method": "Document_ЗаказКлиента", "verb": "POST", "drop": True, "when": "after", "count": 1},
                timeout=5)  # b24sync's next create, not the accountant's read of an order
        elif kind == "portal_500s":
            requests.post(f"{self.rig.portal.root}/_emulator/faults", json={
                "method": "batch", "status": 500, "error": "INTERNAL_SERVER_ERROR", "count": 8}, timeout=5)
        else:
            requests.post(f"{self.rig.base.root}/_emulator/faults", json={
                "method": "*", "status": 503, "html": True, "count": 6}, timeout=5)

    @rule()
    def a_cycle_runs(self) -> None:
        try:
            self.cycle()
        except Exception as error:  # a system that stays down ends the cycle; the next one catches up
            assert "cannot" in str(error) or "HTTP" in str(error) or "1C" in str(error), error

    @rule()
    def the_process_restarts(self) -> None:
        self.engine = self.rig.engine()

    @invariant()
    def no_deal_has_two_documents(self) -> None:
        for deal in DEALS:
            assert len(self.rig.documents_for(deal)) <= 1, deal

    @rule()
    def after_the_faults_both_sides_agree_and_nothing_echoes(self) -> None:
        requests.delete(f"{self.rig.base.root}/_emulator/faults", timeout=5)
        requests.delete(f"{self.rig.portal.root}/_emulator/faults", timeout=5)
        self.rig.clock.advance(7 * 3600)  # past every retry backoff
        self.cycle()
        self.cycle()
        store = self.engine.store
        options = self.engine.payment_options()
        for deal_id in DEALS:
            deal = self.rig.deal(deal_id)
            documents = self.rig.documents_for(deal_id)
            binding = store.binding_for_deal(deal_id)
            if deal["STAGE_ID"].endswith("EXECUTING") and binding is None:
                raise AssertionError(f"deal {deal_id} is in a trigger stage but not bound")
            if binding is None:
                continue
            if binding.document_state:  # deleted in 1C: reported, never recreated by itself
                assert documents == [] and deal["UF_CRM_1C_ORDER_ID"] == "", deal_id
                continue
            assert len(documents) == 1 and documents[0]["Ref_Key"] == binding.onec_ref
            assert deal["UF_CRM_1C_ORDER_ID"] == binding.onec_ref
            snapshot: Snapshot = self.engine.onec.snapshot(binding.onec_ref)
            assert deal["UF_CRM_PAYMENT_STATUS"] == options[snapshot.payment_status], deal_id
            if snapshot.shipment_date:
                assert parse_date_only(deal["UF_CRM_SHIPMENT_DATE"]) == snapshot.shipment_date
                assert deal["UF_CRM_TRACKING_NUMBER"] == snapshot.tracking_number
        self.rig.reset_stats()
        self.cycle()
        assert self.rig.writes() == (0, 0)  # no echo


TestSyncMachine = SyncMachine.TestCase
TestSyncMachine.settings = settings(
    max_examples=int(os.environ.get("B24SYNC_STATEFUL_EXAMPLES", "12")),  # raise it to hunt for more orderings
    stateful_step_count=14, deadline=None, suppress_health_check=[HealthCheck.too_slow])
