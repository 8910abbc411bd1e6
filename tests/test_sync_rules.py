"""The planner's rules, each shown once over HTTP against both emulators: what a user sees when they apply."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from b24sync.commands import conflicts as list_conflicts
from b24sync.config import Pipeline, SyncConfig
from b24sync.errors import SetupMissingError
from tests.sync_rig import PIPELINES, Rig


def onec_writes(rig: Rig) -> int:
    return rig.base.app.stats.snapshot()["writes"]


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    running = Rig.start(tmp_path)
    yield running
    running.stop()


@pytest.fixture(params=["ut11", "bp30"])
def either(request: pytest.FixtureRequest, tmp_path: Path) -> Rig:
    running = Rig.start(tmp_path, profile=request.param)
    yield running
    running.stop()


def order_entity(rig: Rig) -> str:
    return "Document_ЗаказКлиента" if rig.base.base.profile.name == "ut11" else "Document_СчетНаОплатуПокупателю"


def test_resync_of_a_deal_1c_holds_as_it_is_writes_nothing_even_after_a_lost_state(either: Rig) -> None:
    rig = either
    for deal_id in (1, 2):
        rig.move(deal_id)
    rig.engine().push()
    rig.forget_state()
    recovered = rig.engine().push(full=True)
    assert recovered.recovered == 2 and recovered.conflicts == 0
    rig.reset_stats()
    report = rig.engines[-1].push(deal_ids=[1], force=True)
    assert report.conflicts == 0 and not report.failed and onec_writes(rig) == 0
    assert rig.comments(1) == [] and rig.engines[-1].store.open_conflicts() == []

    rig.call("crm.deal.update", {"id": 2, "fields": {"TITLE": "Переименована"}})
    edited = rig.engines[-1].push()
    assert edited.conflicts == 1
    text = rig.comments(2)[-1]
    assert "название сделки" in text and "сумма" not in text and "было строк 0" not in text


def test_a_long_deal_with_vat_on_top_is_not_taken_for_a_changed_one(either: Rig) -> None:
    rig = either
    products = [row["PRODUCT_ID"] for deal_id in (1, 2, 3, 4, 6) for row in rig.portal.portal.product_rows[deal_id]]
    rows = [{"PRODUCT_ID": product, "PRICE": 10 + index * 7.33, "QUANTITY": index % 3 + 1, "TAX_RATE": 22,
             "TAX_INCLUDED": "N"} for index, product in enumerate(products[:12])]
    rig.call("crm.deal.productrows.set", {"id": 1, "rows": rows})  # 12 rows: LineNumber 10 sorts after 1 as text
    rig.move(1)
    engine = rig.engine()
    assert engine.push().created == 1
    rig.reset_stats()
    report = engine.push(deal_ids=[1], force=True)
    assert report.conflicts == report.updated == 0 and not report.failed and onec_writes(rig) == 0
    rig.forget_state()
    recovered = rig.engine().push(full=True)
    told = [text for text in rig.comments(1) if "у номенклатуры в 1С" not in text]  # VAT notes, at create
    assert recovered.recovered == 1 and recovered.conflicts == 0 and told == []


def test_a_tightened_filter_gates_new_documents_and_closes_nothing(rig: Rig) -> None:
    for deal_id in (1, 2, 3):
        rig.move(deal_id)
    assert rig.engine(sync=SyncConfig(pipelines=PIPELINES, on_leave_trigger="close_order")).push().created == 3
    strict = tuple(Pipeline(item.category_id, item.trigger_stages, min_amount=10 ** 9) for item in PIPELINES)
    engine = rig.engine(sync=SyncConfig(pipelines=strict, on_leave_trigger="close_order"))
    rig.move(4)
    report = engine.push(full=True)
    assert report.closed == 0 and report.created == 0
    assert all(rig.documents_for(deal_id)[0]["Статус"] != "Закрыт" for deal_id in (1, 2, 3))
    assert rig.documents_for(4) == []


def test_a_conflict_is_listed_and_resolved_either_way(rig: Rig, capsys: pytest.CaptureFixture[str]) -> None:
    engine = rig.engine(sync=SyncConfig(pipelines=PIPELINES, on_locked_document="unpost_and_update"))
    for deal_id in (1, 2):
        rig.move(deal_id)
    engine.push()
    accountant = rig.accountant()
    for deal_id in (1, 2):
        accountant.patch("Document_ЗаказКлиента", rig.documents_for(deal_id)[0]["Ref_Key"],
                         {"Комментарий": "правка бухгалтера"})
        rig.call("crm.deal.update", {"id": deal_id, "fields": {"TITLE": f"Новое название {deal_id}"}})
    assert engine.push().conflicts == 2
    capsys.readouterr()
    list_conflicts(rig.config, as_json=True)
    listed = json.loads(capsys.readouterr().out)
    assert [row["deal_id"] for row in listed] == [1, 2] and "изменён в 1С" in listed[0]["description"]

    kept = engine.push(deal_ids=[1], keep="1c")  # the accountant's version stays, and is the new baseline
    assert kept.updated == 0 and rig.documents_for(1)[0]["Комментарий"] == "правка бухгалтера"
    assert [item.deal_id for item in engine.store.open_conflicts()] == [2]
    rig.call("crm.deal.update", {"id": 1, "fields": {"TITLE": "Ещё одно название"}})
    later = engine.push()
    assert later.updated == 1 and later.conflicts == 0  # a new edit after --keep 1c goes through normally
    assert "Ещё одно название" in rig.documents_for(1)[0]["Комментарий"]

    overwritten = engine.push(deal_ids=[2], keep="bitrix24")
    assert overwritten.updated == 1 and not engine.store.open_conflicts()
    document = rig.documents_for(2)[0]
    assert "Новое название 2" in document["Комментарий"] and document["Posted"] is True
    assert engine.push().conflicts == 0  # a resolved conflict stops being reported


@pytest.mark.parametrize("how", ["deleted", "marked"])
def test_a_document_gone_from_1c_is_reported_once_and_recreated_only_on_request(either: Rig, how: str) -> None:
    rig = either
    engine = rig.engine()
    rig.move(1)
    engine.push()
    order = rig.documents_for(1)[0]
    if how == "deleted":
        rig.accountant().delete(order_entity(rig), order["Ref_Key"])
    else:
        rig.accountant().mark_for_deletion(order_entity(rig), order["Ref_Key"])
    assert engine.pull().missing == 1
    told = rig.comments(1)
    assert len(told) == 1 and ("удалён из 1С" if how == "deleted" else "помечен на удаление") in told[0]
    assert "--recreate" in told[0] and "изменён в 1С" not in told[0]
    deal = rig.deal(1)
    assert deal["UF_CRM_1C_ORDER_NUMBER"].startswith(order["Number"])
    assert (deal["UF_CRM_1C_ORDER_ID"] == "") is (how == "deleted")
    assert [item.deal_id for item in engine.store.missing_documents()] == [1]

    rig.call("crm.deal.update", {"id": 1, "fields": {"TITLE": "Правка после удаления"}})
    engine.pull()
    report = engine.push()
    assert not report.failed and report.created == 0 and len(rig.comments(1)) == 1  # told once, no "code 9"

    again = engine.push(deal_ids=[1], force=True, recreate=True)
    assert again.created == 1
    live = [doc for doc in rig.documents_for(1) if not doc["DeletionMark"]]
    assert len(live) == 1 and rig.deal(1)["UF_CRM_1C_ORDER_ID"] == live[0]["Ref_Key"]
    assert engine.store.missing_documents() == [] and engine.store.binding_for_deal(1).onec_ref == live[0]["Ref_Key"]


def test_a_missing_documents_fields_that_could_not_be_written_are_written_at_the_retry(rig: Rig) -> None:
    import requests

    engine = rig.engine()
    rig.move(1)
    engine.push()
    order = rig.documents_for(1)[0]
    rig.accountant().delete("Document_ЗаказКлиента", order["Ref_Key"])
    requests.post(f"{rig.portal.root}/_emulator/faults", json={"method": "batch", "status": 503, "html": True,
                                                              "count": 50}, timeout=5)
    assert 1 in engine.pull().failed  # the batch of deal updates did not go in; the notice itself did
    assert len(rig.comments(1)) == 1 and rig.deal(1)["UF_CRM_1C_ORDER_ID"] == order["Ref_Key"]
    requests.delete(f"{rig.portal.root}/_emulator/faults", timeout=5)
    rig.clock.advance(61)
    engine.pull()  # the retry writes the fields, and tells nothing twice
    assert len(rig.comments(1)) == 1 and rig.deal(1)["UF_CRM_1C_ORDER_ID"] == ""
    assert [item.deal_id for item in engine.store.missing_documents()] == [1]
    assert engine.store.failure(1, "writeback") is None


def test_a_missing_document_is_told_once_even_while_the_deal_refuses_its_fields(rig: Rig) -> None:
    from b24sync.bitrix24 import errors as b24_errors

    engine = rig.engine()
    rig.move(1)
    engine.push()
    rig.accountant().delete("Document_ЗаказКлиента", rig.documents_for(1)[0]["Ref_Key"])
    update_deals = engine.bitrix.update_deals

    def refused(updates: dict, read_back: list | None = None) -> object:  # the portal refuses this deal's fields
        result = update_deals({deal: fields for deal, fields in updates.items() if deal != 1}, read_back)
        result.errors[1] = b24_errors.classify(0, "ERROR_CORE", "Не заполнено обязательное поле", "crm.deal.update")
        return result

    engine.bitrix.update_deals = refused
    for _ in range(4):
        engine.pull()
        rig.clock.advance(3600)
    assert len(rig.comments(1)) == 1  # told once, not once per cycle
    engine.bitrix.update_deals = update_deals
    rig.clock.advance(7 * 3600)
    engine.pull()
    assert rig.deal(1)["UF_CRM_1C_ORDER_ID"] == "" and len(rig.comments(1)) == 1
    assert engine.store.failure(1, "writeback") is None


def test_many_documents_vanishing_at_once_stop_with_one_message_and_report_nothing(rig: Rig) -> None:
    engine = rig.engine()
    deals = list(range(1, 13))
    for deal_id in deals:
        rig.move(deal_id)
    engine.push(confirm_bulk=True)
    bound = [deal_id for deal_id in deals if rig.documents_for(deal_id)]
    for deal_id in bound:  # the base was restored from a backup older than these orders
        rig.accountant().delete("Document_ЗаказКлиента", rig.documents_for(deal_id)[0]["Ref_Key"])
    rig.call("crm.deal.update", {"id": bound[0], "fields": {"TITLE": "Правка менеджера"}})
    engine.push()  # an edited deal with a vanished document: the push reports nothing itself
    held = engine.pull()
    assert "missing in 1C at once" in held.held and "--confirm-bulk" in held.held and not held.ok
    assert all(rig.comments(deal_id) == [] for deal_id in bound) and engine.store.missing_documents() == []
    assert engine.pull(dry_run=True).held  # a dry run says the same, and writes nothing
    assert engine.pull(confirm_bulk=True).missing == len(bound) > 10


def test_a_lost_state_file_does_not_republish_invoices(rig: Rig) -> None:
    engine = rig.engine()
    for deal_id in (1, 2):
        rig.move(deal_id)
    engine.push()
    for deal_id in (1, 2):
        order = rig.documents_for(deal_id)[0]
        rig.accountant().invoice(order["Ref_Key"], float(order["СуммаДокумента"]))
    engine.pull()
    files = len(rig.portal.portal.files)
    timeline = len(rig.portal.portal.timeline)
    assert all(rig.deal(deal_id)["UF_CRM_INVOICE_URL"] for deal_id in (1, 2))
    rig.forget_state()
    recovered = rig.engine()
    recovered.push(full=True)
    recovered.pull()
    assert len(rig.portal.portal.files) == files and len(rig.portal.portal.timeline) == timeline
    assert recovered.store.invoice_upload(
        next(iter(rig.base.base.records["Document_СчетНаОплатуКлиенту"]))).link


def test_the_cycle_after_a_write_cycle_reads_nothing_again(either: Rig) -> None:
    rig = either
    engine = rig.engine()
    for deal_id in range(1, 9):
        rig.move(deal_id)
    engine.push()
    rig.clock.advance(30)  # well inside the 120 s overlap: every written deal is listed again
    rig.reset_stats()
    report = engine.push()
    stats = rig.portal.app.stats.snapshot()
    assert stats["http_requests"] == 1 and report.created == report.updated == 0
    assert rig.base.app.stats.snapshot()["http_requests"] == 0


def test_a_managers_edit_hidden_behind_b24syncs_own_write_still_reaches_1c(rig: Rig) -> None:
    engine = rig.engine(sync=SyncConfig(pipelines=PIPELINES, on_locked_document="unpost_and_update"))
    rig.move(1)
    engine.push()
    order = rig.documents_for(1)[0]
    rig.accountant().pay(order["Ref_Key"], 10.0)
    rig.call("crm.deal.update", {"id": 1, "fields": {"TITLE": "Переименована до записи оплаты"}})
    engine.pull()  # writes the payment status onto the deal after the manager's edit
    report = engine.push()
    assert report.updated == 1 and "Переименована до записи оплаты" in rig.documents_for(1)[0]["Комментарий"]


def test_an_update_refused_after_b24syncs_own_unpost_is_retried_not_blamed_on_the_accountant(rig: Rig) -> None:
    from b24sync.onec import errors as onec_errors

    engine = rig.engine(sync=SyncConfig(pipelines=PIPELINES, on_locked_document="unpost_and_update"))
    rig.move(3)
    engine.push()
    rig.call("crm.deal.update", {"id": 3, "fields": {"TITLE": "Новое название"}})
    patch = engine.onec.client.patch

    def refused(*args: object, **kwargs: object) -> None:  # 1C's own handler refuses the write
        engine.onec.client.patch = patch
        raise onec_errors.BusinessError("refused", onec_message="Не заполнено поле «Склад»", status=500,
                                        remote_code="-1")

    engine.onec.client.patch = refused
    assert 3 in engine.push().failed
    rig.clock.advance(61)
    retried = engine.push()
    assert retried.updated == 1 and retried.conflicts == 0 and not engine.store.open_conflicts()
    document = rig.documents_for(3)[0]
    assert "Новое название" in document["Комментарий"] and document["Posted"] is True


def test_an_order_reopened_and_edited_in_one_cycle(rig: Rig) -> None:
    onec = rig.config.onec.__class__(**{**rig.config.onec.__dict__, "post_documents": False})
    engine = rig.engine(onec=onec, sync=SyncConfig(pipelines=PIPELINES, on_leave_trigger="close_order"))
    rig.move(1)
    engine.push()
    lost = "LOSE" if rig.deal(1)["CATEGORY_ID"] == "0" else "C1:LOSE"
    rig.move(1, lost)
    assert engine.push().closed == 1
    rig.move(1)
    rig.call("crm.deal.update", {"id": 1, "fields": {"TITLE": "Вернулась с правкой"}})
    report = engine.push()
    assert not report.failed and report.updated == 1
    document = rig.documents_for(1)[0]
    assert document["Статус"] != "Закрыт" and "Вернулась с правкой" in document["Комментарий"]


def test_a_row_without_quantity_fails_its_deal_alone_and_nothing_reaches_1c(rig: Rig) -> None:
    first = rig.portal.portal.product_rows[1][0]
    rig.call("crm.deal.productrows.set", {"id": 1, "rows": [{"PRODUCT_ID": first["PRODUCT_ID"], "PRICE": 500,
                                                              "QUANTITY": -2, "TAX_RATE": 22, "TAX_INCLUDED": "Y"}]})
    for deal_id in (1, 2):
        rig.move(deal_id)
    engine = rig.engine()
    report = engine.push()
    assert set(report.failed) == {1} and report.codes[1] == "bad_quantity" and report.created == 1
    assert rig.documents_for(1) == [] and "количество -2" in rig.comments(1)[0]


@pytest.mark.parametrize("rate", [18, 12.5])
def test_a_vat_rate_1c_lacks_fails_the_deal_and_names_the_rate(either: Rig, rate: float) -> None:
    rig = either
    first = rig.portal.portal.product_rows[1][0]
    rig.call("crm.deal.productrows.set", {"id": 1, "rows": [{"PRODUCT_ID": first["PRODUCT_ID"], "PRICE": 500,
                                                              "QUANTITY": 2, "TAX_RATE": rate, "TAX_INCLUDED": "Y"}]})
    rig.move(1)
    report = rig.engine().push()
    assert report.codes[1] == "vat_rate_missing" and f"ставки НДС {rate:g} % нет в 1С" in report.failed[1]
    assert rig.documents_for(1) == []


def test_amounts_that_disagree_right_after_an_edit_are_looked_at_again_before_anyone_is_told(rig: Rig) -> None:
    rig.call("crm.deal.update", {"id": 1, "fields": {"OPPORTUNITY": 1, "IS_MANUAL_OPPORTUNITY": "Y"}})
    rig.move(1)
    engine = rig.engine()
    first = engine.push()  # the manager may be half-way through: the rows may follow in a moment
    assert first.codes[1] == "amount_mismatch" and rig.comments(1) == [] and rig.documents_for(1) == []
    rig.clock.advance(61)
    second = engine.push()  # still so a minute later: a real mismatch, told once
    assert second.codes[1] == "amount_mismatch" and len(rig.comments(1)) == 1
    assert rig.documents_for(1) == []


def test_a_missing_deal_field_stops_the_cycle_before_anything_reaches_1c(rig: Rig) -> None:
    fields = rig.config.sync.fields.__class__(tracking_number="UF_CRM_NOT_CREATED")  # `setup` never made it
    rig.move(1)
    with pytest.raises(SetupMissingError, match="UF_CRM_NOT_CREATED: run `b24sync setup`"):
        rig.engine(sync=SyncConfig(pipelines=PIPELINES, fields=fields)).push()
    assert rig.documents() == [] and rig.engines[-1].store.count_bindings()["total"] == 0


def test_a_document_deleted_in_1c_is_made_again_at_once_under_on_missing_document_recreate(either: Rig) -> None:
    rig = either
    engine = rig.engine(sync=SyncConfig(pipelines=PIPELINES, on_missing_document="recreate"))
    rig.move(1)
    engine.push()
    order = rig.documents_for(1)[0]
    rig.accountant().delete(order_entity(rig), order["Ref_Key"])
    report = engine.pull()
    assert report.missing == 1 and report.created == 1 and not report.failed
    live = rig.documents_for(1)
    assert len(live) == 1 and live[0]["Ref_Key"] != order["Ref_Key"]
    assert rig.deal(1)["UF_CRM_1C_ORDER_ID"] == live[0]["Ref_Key"]
    told = rig.comments(1)
    assert len(told) == 1 and "создаёт по сделке новый документ" in told[0]
    assert engine.store.missing_documents() == [] and engine.pull().missing == 0


@pytest.mark.parametrize("on_deleted_deal", ["report", "close_order"])
def test_a_deal_deleted_in_bitrix24_is_reported_once_and_its_order_closed_when_configured(
        rig: Rig, on_deleted_deal: str, capsys: pytest.CaptureFixture[str]) -> None:
    from b24sync.commands import status

    config = replace(rig.config, sync=SyncConfig(pipelines=PIPELINES, on_deleted_deal=on_deleted_deal))
    engine = rig.engine(sync=config.sync)
    for deal_id in (1, 2):
        rig.move(deal_id)
    engine.push()
    engine.pull()
    rig.call("crm.deal.delete", {"id": 1})
    rig.reset_stats()
    report = engine.pull()
    assert report.deals_deleted == 1 and not report.failed and report.ok
    assert rig.portal.app.stats.snapshot()["writes"] == 0  # nothing is written to a deal that is gone
    order = rig.documents_for(1)[0]
    assert (order["Статус"] == "Закрыт") is (on_deleted_deal == "close_order")
    assert rig.documents_for(2)[0]["Статус"] != "Закрыт"
    assert [item.deal_id for item in engine.store.deleted_deals()] == [1]
    assert engine.pull().deals_deleted == 0  # told once
    engine.store.close()
    status(config, as_json=False)
    shown = capsys.readouterr().out
    assert "DELETED IN BITRIX24" in shown and "deal 1 " in shown
    assert ("closed by b24sync" if on_deleted_deal == "close_order" else "left as it is") in shown


def test_deals_vanishing_from_bitrix24_at_once_are_held_with_one_message(rig: Rig) -> None:
    engine = rig.engine(sync=SyncConfig(pipelines=PIPELINES, on_deleted_deal="close_order",
                                        max_missing_per_cycle=2))
    for deal_id in (1, 2, 3, 5):
        rig.move(deal_id)
    engine.push()
    for deal_id in (1, 2, 3):
        rig.call("crm.deal.delete", {"id": deal_id})
    held = engine.pull()
    assert "3 of the deals b24sync follows are gone from Bitrix24" in held.held and held.deals_deleted == 0
    assert all(rig.documents_for(deal_id)[0]["Статус"] != "Закрыт" for deal_id in (1, 2, 3))
    confirmed = engine.pull(confirm_bulk=True)
    assert confirmed.deals_deleted == 3 and confirmed.closed == 3


def test_a_managers_edit_between_the_listing_and_the_rows_read_is_no_amount_mismatch(rig: Rig) -> None:
    from b24sync.bitrix24.adapter import Bitrix24Adapter
    from b24sync.bitrix24.client import Bitrix24Client
    from b24sync.onec.adapter import OneCAdapter
    from b24sync.store.store import Store
    from b24sync.sync.runner import Engine

    first = rig.portal.portal.product_rows[1][0]

    class ManagerEditsAfterTheListing(Bitrix24Adapter):
        """The portal as it is; the manager changes deal 1's rows the moment b24sync has listed the deals."""

        def deals_changed_since(self, *args: object, **kwargs: object) -> object:
            listing = super().deals_changed_since(*args, **kwargs)
            rows = list(listing)
            rig.call("crm.deal.productrows.set", {"id": 1, "rows": [{
                "PRODUCT_ID": first["PRODUCT_ID"], "PRICE": 777, "QUANTITY": 3, "TAX_RATE": first["TAX_RATE"],
                "TAX_INCLUDED": "Y"}]})  # the product's own rate: nothing to tell but the new amount
            return type("Listed", (), {"__iter__": lambda self: iter(rows), "server_time": listing.server_time})()

    rig.move(1)
    adapter = ManagerEditsAfterTheListing(Bitrix24Client(rig.portal.webhook_url, clock=rig.clock, throttle=False))
    engine = Engine(rig.config, adapter, OneCAdapter.from_config(rig.config.onec, clock=rig.clock),
                    Store(rig.store_path, clock=rig.clock), rig.clock)
    rig.engines.append(engine)
    report = engine.push()
    assert not report.failed and report.created == 1
    order = rig.documents_for(1)[0]
    assert order["СуммаДокумента"] == 2331 and rig.comments(1) == []


def test_on_missing_document_recreate_makes_nothing_for_a_deal_out_of_its_stages_and_says_so(rig: Rig) -> None:
    engine = rig.engine(sync=SyncConfig(pipelines=PIPELINES, on_missing_document="recreate"))
    rig.move(1)
    engine.push()
    rig.move(1, "NEW")  # the deal left its trigger stages
    engine.push()
    order = rig.documents_for(1)[0]
    rig.accountant().delete(order_entity(rig), order["Ref_Key"])
    report = engine.pull()
    assert report.missing == 1 and report.created == 0
    told = rig.comments(1)[-1]
    assert "удалён из 1С" in told and "--recreate" in told and "создаёт" not in told
    assert [item.deal_id for item in engine.store.missing_documents()] == [1]  # still shown in status


def test_old_documents_are_read_again_in_turn_and_a_deleted_one_is_still_reported(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An idle pull reads the versions of the documents bound in the last week, and every ten minutes those of
    the older ones a few at a time (RESCAN_PER_CYCLE, made small here), so its cost does not grow with the
    bindings; what happens around every document is found by the window's listings whatever its turn."""
    from b24sync.sync import pulling

    monkeypatch.setattr(pulling, "RESCAN_PER_CYCLE", 4)
    rig = Rig.start(tmp_path)
    try:
        deals = [1, 2, 3, 4, 6, 7, 8, 9, 10, 11]
        for deal_id in deals:
            rig.move(deal_id)
        engine = rig.engine()
        assert engine.push().created == len(deals)
        engine.pull()
        rig.clock.advance(8 * 86400)  # a week on: every binding is an old one
        rig.reset_stats()
        engine.pull()
        assert rig.base.app.stats.snapshot()["http_requests_by_method"]["Document_ЗаказКлиента"] == 1  # four refs
        rig.clock.advance(120)
        rig.reset_stats()
        engine.pull()  # two minutes on: no turn yet, the window's listings only
        assert "Document_ЗаказКлиента" not in rig.base.app.stats.snapshot()["http_requests_by_method"]
        gone = rig.documents_for(deals[-1])[0]
        rig.accountant().delete("Document_ЗаказКлиента", gone["Ref_Key"])
        missing = []
        for _ in range(3):  # ten old documents, four a turn: all within three turns
            rig.clock.advance(600)
            missing.append(engine.pull().missing)
        assert sum(missing) == 1 and any("удалён из 1С" in comment for comment in rig.comments(deals[-1]))
        paid = rig.documents_for(deals[0])[0]
        rig.accountant().pay(paid["Ref_Key"], 10.0)  # news around an old document: seen at once, turn or not
        engine.pull()
        assert rig.deal(deals[0])["UF_CRM_1C_PAID_AMOUNT"] == "10.00|RUB"
    finally:
        rig.stop()


def test_a_default_the_accountant_replaced_in_1c_is_looked_up_again_within_the_hour(tmp_path: Path) -> None:
    rig = Rig.start(tmp_path)
    try:
        engine = rig.engine()
        rig.move(1)
        assert engine.push().created == 1
        old = rig.documents_for(1)[0]["Склад_Key"]
        rig.accountant().mark_for_deletion("Catalog_Склады", old)  # the warehouse is replaced by a new one
        new = rig.accountant().create("Catalog_Склады", {"Description": "Основной склад"}, post=False)["Ref_Key"]
        rig.clock.advance(60)
        rig.move(2)
        assert engine.push().created == 1 and rig.documents_for(2)[0]["Склад_Key"] == old  # trusted for an hour
        rig.clock.advance(3600)
        rig.move(3)
        assert engine.push().created == 1 and rig.documents_for(3)[0]["Склад_Key"] == new
    finally:
        rig.stop()
