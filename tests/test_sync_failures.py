"""Failures stay alone and are retried; guards, dry runs, recovery, watermarks, updates and conflicts."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import requests

from b24sync.metrics import Tally
from b24sync.sync.runner import WATERMARK, BulkGuardError
from tests.sync_rig import Rig


def test_an_unknown_product_fails_alone_and_goes_through_once_added(tmp_path: Path) -> None:
    rig = Rig.start(tmp_path, deals=210)
    try:
        engine = rig.engine()
        for deal_id in range(1, 202):
            rig.move(deal_id)
        report = engine.push()
        assert set(report.failed) == {5} and report.created == 200
        assert "не найден в 1С" in report.failed[5]
        assert report.codes[5] == engine.store.failure(5).code == "unknown_product"  # a stable code beside the text
        tally = Tally()
        tally.record("bitrix24_to_onec", report, 0.0)
        assert tally.failures == {"unknown_product": 1}  # metrics count by code, never by parsing the text
        assert rig.documents_for(5) == []
        assert len(rig.comments(5)) == 1 and "Попытка будет повторена" in rig.comments(5)[0]
        failure = engine.store.failure(5)
        assert failure.attempts == 1 and failure.next_retry_at == pytest.approx(rig.clock.time() + 60)

        rig.clock.advance(61)
        again = rig.engine().push()
        assert set(again.failed) == {5} and again.created == 0
        assert len(rig.comments(5)) == 1  # told once, not once per retry
        assert rig.engines[-1].store.failure(5).attempts == 2

        gap = rig.dataset.products[-1]
        rig.accountant().create("Catalog_Номенклатура", {"Ref_Key": gap.ref_key, "Description": gap.name,
                                                         "Артикул": gap.article}, post=False)
        rig.clock.advance(121)
        fixed = rig.engine().push()
        assert fixed.created == 1 and not fixed.failed
        assert len(rig.documents_for(5)) == 1 and rig.engines[-1].store.failure(5) is None
    finally:
        rig.stop()


def test_the_bulk_guard_stops_before_the_first_create(tmp_path: Path) -> None:
    rig = Rig.start(tmp_path, max_creates_per_cycle=3)
    try:
        for deal_id in (1, 2, 3, 4, 6):  # deal 5 holds the product 1C does not know
            rig.move(deal_id)
        rehearsal = rig.engine().push(dry_run=True)  # the dry run says the real one would stop
        assert "the real run would stop here: it would create 5 documents" in rehearsal.summary()
        with pytest.raises(BulkGuardError, match="--confirm-bulk"):
            rig.engine().push()
        assert rig.documents() == [] and rig.engines[-1].store.watermark(WATERMARK) is None
        assert rig.engine().push(confirm_bulk=True).created == 5
    finally:
        rig.stop()


def test_a_dry_run_writes_nothing_anywhere(tmp_path: Path) -> None:
    rig = Rig.start(tmp_path)
    try:
        for deal_id in (1, 2):
            rig.move(deal_id)
        rig.reset_stats()
        report = rig.engine().push(dry_run=True)
        assert len(report.planned) == 2 and all("create" in line for line in report.planned)
        assert rig.writes() == (0, 0) and rig.documents() == []
        assert rig.engines[-1].store.watermark(WATERMARK) is None
    finally:
        rig.stop()


def test_a_lost_state_file_recovers_bindings_without_duplicates(tmp_path: Path) -> None:
    rig = Rig.start(tmp_path)
    try:
        for deal_id in (1, 2, 3):
            rig.move(deal_id)
        assert rig.engine().push().created == 3
        rig.forget_state()
        report = rig.engine().push()
        assert report.recovered == 3 and report.created == 0
        assert len(rig.documents()) == 3
        assert rig.engines[-1].store.count_bindings()["total"] == 3
    finally:
        rig.stop()


def test_deals_changed_in_the_watermarks_second_or_during_a_cycle_are_not_missed(tmp_path: Path) -> None:
    rig = Rig.start(tmp_path, overlap_seconds=0)
    try:
        engine = rig.engine()
        rig.move(1)
        original = engine.gatherer.enrich
        changed_during = []

        def enrich_while_a_manager_works(deals: list) -> None:
            if not changed_during:
                rig.move(2)  # a deal moved while the cycle runs, in the same second
                changed_during.append(2)
            original(deals)

        engine.gatherer.enrich = enrich_while_a_manager_works  # a hook into the cycle, the engine itself is untouched
        assert engine.push().created == 1
        mark = engine.store.watermark(WATERMARK)
        rig.move(3)  # the same second as the watermark
        engine.gatherer.enrich = original
        second = engine.push()
        assert second.created == 2, second
        assert {int(doc["ДополнительныеРеквизиты"][0]["Значение"]) for doc in rig.documents()} == {1, 2, 3}
        assert engine.store.watermark(WATERMARK) >= mark
    finally:
        rig.stop()


def test_a_change_after_posting_is_a_conflict_told_once(tmp_path: Path) -> None:
    rig = Rig.start(tmp_path)
    try:
        engine = rig.engine()
        rig.move(1)
        engine.push()
        rig.call("crm.deal.update", {"id": 1, "fields": {"TITLE": "Новое название"}})
        report = engine.push()
        assert report.conflicts == 1 and report.updated == 0
        text = rig.comments(1)[-1]
        assert "уже проведён" in text and "название сделки" in text
        rig.call("crm.deal.update", {"id": 1, "fields": {"SOURCE_DESCRIPTION": "ещё правка"}})  # an unmapped field
        assert engine.push().conflicts == 0 and len(rig.comments(1)) == 1
        assert len(engine.store.open_conflicts()) == 1
    finally:
        rig.stop()


def test_unpost_and_update_replaces_the_rows_and_posts_again(tmp_path: Path) -> None:
    rig = Rig.start(tmp_path, on_locked_document="unpost_and_update")
    try:
        engine = rig.engine()
        rig.move(1)
        engine.push()
        rows = rig.portal.portal.product_rows[1]
        first = rows[0]
        rig.call("crm.deal.productrows.set", {"id": 1, "rows": [{"PRODUCT_ID": first["PRODUCT_ID"], "PRICE": 500,
                                                                  "QUANTITY": 3, "TAX_RATE": first["TAX_RATE"],
                                                                  "TAX_INCLUDED": "Y"}]})
        report = engine.push()
        assert report.updated == 1 and not report.failed, report
        document = rig.documents_for(1)[0]
        assert len(document["Товары"]) == 1 and document["СуммаДокумента"] == 1500 and document["Posted"] is True
        assert engine.push().updated == 0
    finally:
        rig.stop()


def test_an_accountants_edit_is_never_overwritten(tmp_path: Path) -> None:
    rig = Rig.start(tmp_path, on_locked_document="unpost_and_update")
    try:
        engine = rig.engine()
        rig.move(1)
        engine.push()
        document = rig.documents_for(1)[0]
        rig.accountant().patch("Document_ЗаказКлиента", document["Ref_Key"], {"Комментарий": "правка бухгалтера"})
        rig.call("crm.deal.update", {"id": 1, "fields": {"TITLE": "Другое"}})
        report = engine.push()
        assert report.conflicts == 1 and report.updated == 0
        assert rig.documents_for(1)[0]["Комментарий"] == "правка бухгалтера"
        assert "изменён в 1С" in rig.comments(1)[-1]
    finally:
        rig.stop()


def test_a_lost_deal_closes_its_unpaid_order_when_configured(tmp_path: Path) -> None:
    rig = Rig.start(tmp_path, on_leave_trigger="close_order")
    try:
        engine = rig.engine()
        rig.move(1)
        engine.push()
        deal = rig.deal(1)
        rig.move(1, "LOSE" if deal["CATEGORY_ID"] == "0" else "C1:LOSE")
        assert engine.push().closed == 1
        assert rig.documents_for(1)[0]["Статус"] == "Закрыт"
        assert engine.push().closed == 0
    finally:
        rig.stop()


def test_payment_moves_the_deal_forward_never_back(tmp_path: Path) -> None:
    from b24sync.config import Pipeline

    pipelines = (Pipeline(0, ("EXECUTING", "FINAL_INVOICE", "WON"), stage_on_paid="WON"),
                 Pipeline(1, ("C1:EXECUTING", "C1:WON"), stage_on_paid="C1:WON"))
    rig = Rig.start(tmp_path)
    try:
        engine = rig.engine(sync=rig.config.sync.__class__(pipelines=pipelines))
        rig.move(1)
        engine.push()
        order = rig.documents_for(1)[0]
        rig.accountant().pay(order["Ref_Key"], float(order["СуммаДокумента"]))
        report = engine.pull()
        assert report.stage_moves == 1
        assert rig.deal(1)["STAGE_ID"].endswith("WON")
    finally:
        rig.stop()


def test_missing_deal_fields_are_a_setup_error(tmp_path: Path) -> None:
    from b24sync.sync.runner import SetupMissingError

    rig = Rig.start(tmp_path)
    try:
        del rig.portal.portal.userfields["UF_CRM_PAYMENT_STATUS"]
        rig.move(1)
        with pytest.raises(SetupMissingError, match="b24sync setup"):
            rig.engine().push()
    finally:
        rig.stop()




def test_a_posting_refused_by_1c_keeps_the_binding_and_posts_at_the_retry(tmp_path: Path) -> None:
    rig = Rig.start(tmp_path)
    try:
        engine = rig.engine()
        rig.move(1)
        product_id = rig.portal.portal.product_rows[1][0]["PRODUCT_ID"]
        product = rig.base.base.get("Catalog_Номенклатура", rig.portal.portal.products[product_id]["XML_ID"])
        product["DeletionMark"] = True
        report = engine.push()
        assert report.failed[1].startswith("1С отказался принять документ:") and "помечена на удаление" in \
            report.failed[1]
        document = rig.documents_for(1)[0]
        assert document["Posted"] is False and engine.store.binding_for_deal(1).posted is False
        assert rig.deal(1)["UF_CRM_1C_ORDER_ID"] == document["Ref_Key"]  # the manager already sees the order
        product["DeletionMark"] = False
        rig.clock.advance(61)
        assert not engine.push().failed
        assert rig.documents_for(1)[0]["Posted"] is True and len(rig.documents_for(1)) == 1
    finally:
        rig.stop()


def test_a_missing_deal_marker_requisite_is_a_setup_error(tmp_path: Path) -> None:
    from b24sync.onec.errors import SetupError

    rig = Rig.start(tmp_path)
    try:
        properties = rig.base.base.records["ChartOfCharacteristicTypes_ДополнительныеРеквизитыИСведения"]
        for item in properties.values():
            item["DeletionMark"] = True
        rig.move(1)
        with pytest.raises(SetupError, match="1C has no additional requisite «ID сделки Битрикс24»"):
            rig.engine().push()
    finally:
        rig.stop()


def test_an_unmapped_manager_or_currency_fails_only_that_deal(tmp_path: Path) -> None:
    rig = Rig.start(tmp_path)
    try:
        onec = rig.config.onec.__class__(**{**rig.config.onec.__dict__, "managers": {5: "Уволенный Менеджер"}})
        engine = rig.engine(onec=onec)
        rig.call("crm.deal.update", {"id": 1, "fields": {"ASSIGNED_BY_ID": 5}})
        rig.call("crm.deal.update", {"id": 2, "fields": {"ASSIGNED_BY_ID": 3, "CURRENCY_ID": "KZT"}})
        rig.call("crm.deal.update", {"id": 3, "fields": {"ASSIGNED_BY_ID": 3}})
        for deal_id in (1, 2, 3):
            rig.move(deal_id)
        report = engine.push()
        assert "не сопоставлен пользователю 1С" in report.failed[1]
        assert "Валюты «KZT» нет в 1С" in report.failed[2]
        assert report.created == 1 and len(rig.documents_for(3)) == 1
    finally:
        rig.stop()


def test_a_failed_deal_that_leaves_the_trigger_stops_being_retried(tmp_path: Path) -> None:
    rig = Rig.start(tmp_path)
    try:
        engine = rig.engine()
        rig.move(5)
        assert 5 in engine.push().failed
        rig.move(5, "NEW" if rig.deal(5)["CATEGORY_ID"] == "0" else "C1:NEW")
        rig.clock.advance(3600)
        engine.push()
        assert engine.store.failure(5) is None
        rig.clock.advance(3600)
        rig.reset_stats()
        engine.push()
        assert rig.portal.app.stats.snapshot()["http_requests"] == 1  # idle again: one listing request
    finally:
        rig.stop()


def test_a_closed_order_reopens_when_its_deal_comes_back(tmp_path: Path) -> None:
    rig = Rig.start(tmp_path, on_leave_trigger="close_order")
    try:
        engine = rig.engine()
        rig.move(1)
        engine.push()
        category = rig.deal(1)["CATEGORY_ID"]
        rig.move(1, "LOSE" if category == "0" else "C1:LOSE")
        engine.push()
        assert rig.documents_for(1)[0]["Статус"] == "Закрыт"
        rig.move(1)
        engine.push()
        assert rig.documents_for(1)[0]["Статус"] == "КОтгрузке"
        assert any("снова открыт" in item["COMMENT"] for item in rig.portal.portal.timeline.values())
    finally:
        rig.stop()


def hide_from_b24sync(rig: Rig, entity: str, refs: list[str]) -> None:
    """The 1C administrator restricts rows (row-level security) for b24sync's 1C user."""
    requests.post(f"{rig.base.root}/_emulator/settings", json={"restricted": {entity: refs}},
                  timeout=5).raise_for_status()


def test_rows_hidden_from_b24syncs_1c_user_are_skipped_and_a_hidden_document_fails_alone(tmp_path: Path) -> None:
    rig = Rig.start(tmp_path)
    try:
        for deal_id in (1, 2):
            rig.move(deal_id)
        assert rig.engine().push().created == 2
        secret = rig.accountant().invoice(rig.documents_for(2)[0]["Ref_Key"], 10.0)  # another department's
        hide_from_b24sync(rig, "Document_СчетНаОплатуКлиенту", [secret["Ref_Key"]])
        pulled = rig.engine().pull()  # the window's listings ask for allowedOnly rows: nothing refused
        assert pulled.ok and not pulled.failed
        order = rig.documents_for(1)[0]["Ref_Key"]
        hide_from_b24sync(rig, "Document_ЗаказКлиента", [order])
        rig.call("crm.deal.update", {"id": 1, "fields": {"TITLE": "Другое название"}})
        rig.move(3)
        report = rig.engine().push()
        # deal 3 gets no order either: the hidden order carries a deal marker b24sync cannot read, and might be its
        assert report.created == 0 and set(report.failed) == {1, 3}
        assert "нет прав" in report.failed[1] and report.codes[1] == report.codes[3] == "onec_object_rights"
        assert any("нет прав" in comment for comment in rig.comments(1))
        pulled = rig.engine().pull()  # hidden is not gone: never reported deleted
        assert not any("удал" in comment for comment in rig.comments(1))
        assert pulled.codes.get(1) == "onec_object_rights"
        status = rig.engines[-1].store.failure(1, "writeback")
        assert status is not None and f"Document_ЗаказКлиента(guid'{order}')" in status.error
        hide_from_b24sync(rig, "Document_ЗаказКлиента", [])
        rig.clock.advance(61)
        again = rig.engine().push()
        assert again.failed == {} and again.created == 1 and len(rig.documents_for(1)) == 1
    finally:
        rig.stop()


@pytest.mark.parametrize("profile", ["ut11", "bp30"])
def test_a_lost_state_file_keeps_a_document_marked_for_deletion_and_makes_no_second(tmp_path: Path,
                                                                                      profile: str) -> None:
    rig = Rig.start(tmp_path, profile=profile)
    try:
        rig.move(1)
        assert rig.engine().push().created == 1
        entity, ref = rig.engines[-1].onec.profile.order_entity, rig.documents_for(1)[0]["Ref_Key"]
        rig.accountant().mark_for_deletion(entity, ref)
        rig.engine().pull()
        reported = rig.comments(1)
        assert any("помечен на удаление" in text for text in reported)
        rig.forget_state()
        report = rig.engine().push(confirm_bulk=True)
        assert report.created == 0 and report.recovered == 1 and len(rig.documents_for(1)) == 1
        assert rig.engine().pull().missing == 1  # reported by the pull, as with the state intact
        assert rig.engines[-1].store.binding_for_deal(1).document_state == "marked"
        assert "(помечен на удаление в 1С)" in rig.deal(1)[rig.engines[-1].fields.order_number]
        assert rig.engine().push().created == 0 and len(rig.documents_for(1)) == 1  # and stays so
        recreated = rig.engine().push(deal_ids=[1], recreate=True)
        assert recreated.created == 1 and len(rig.documents_for(1)) == 2  # a new one only when asked for
    finally:
        rig.stop()


def test_a_lost_state_file_finds_a_document_the_accountant_dated_back(tmp_path: Path) -> None:
    rig = Rig.start(tmp_path)
    try:
        rig.move(1)
        assert rig.engine().push().created == 1
        order = rig.documents_for(1)[0]
        created = rig.call("crm.deal.get", {"id": 1})["DATE_CREATE"]
        earlier = (datetime.fromisoformat(created) - timedelta(days=3)).replace(tzinfo=None).isoformat()
        rig.accountant().patch("Document_ЗаказКлиента", order["Ref_Key"], {"Date": earlier})
        rig.forget_state()
        report = rig.engine().push()
        assert report.recovered == 1 and report.created == 0 and len(rig.documents_for(1)) == 1
    finally:
        rig.stop()


@pytest.mark.parametrize("profile", ["ut11", "bp30"])
def test_a_row_in_another_unit_than_1c_keeps_the_product_in_fails_alone_until_put_right(tmp_path: Path,
                                                                                        profile: str) -> None:
    rig = Rig.start(tmp_path, profile=profile)
    try:
        cable = next(product for product in rig.call("crm.product.list", {"select": ["ID", "NAME", "MEASURE"]})
                     if product["NAME"].startswith("Кабель ВВГнг"))  # kept in metres
        rows = [{"PRODUCT_ID": int(cable["ID"]), "PRICE": 96.40, "QUANTITY": 100, "TAX_RATE": 22,
                 "TAX_INCLUDED": "Y", "MEASURE_CODE": 796, "MEASURE_NAME": "шт"}]  # 100 «шт» of a cable kept in м
        rig.call("crm.deal.productrows.set", {"id": 1, "rows": rows})
        rig.call("crm.deal.update", {"id": 1, "fields": {"OPPORTUNITY": 9640}})
        for deal_id in (1, 2):
            rig.move(deal_id)
        report = rig.engine().push()
        assert set(report.failed) == {1} and report.created == 1 and report.codes[1] == "unit_mismatch"
        assert "указан в сделке в «шт», а в 1С он учитывается в «м»" in report.failed[1]
        assert rig.documents_for(1) == [] and "учитывается в «м»" in rig.comments(1)[0]
        rig.call("crm.deal.productrows.set", {"id": 1, "rows": [{**rows[0], "MEASURE_CODE": 6, "MEASURE_NAME": "м"}]})
        rig.clock.advance(61)
        fixed = rig.engine().push()
        assert fixed.created == 1 and not fixed.failed and len(rig.documents_for(1)) == 1
    finally:
        rig.stop()


def test_rows_hidden_from_b24syncs_user_never_make_a_second_counterparty_or_order(tmp_path: Path) -> None:
    rig = Rig.start(tmp_path)
    try:
        counterparties = rig.base.base.records["Catalog_Контрагенты"]
        inns = {row["ИНН"]: ref for ref, row in counterparties.items() if row.get("ИНН")}
        deal_id = next(int(deal["ID"]) for deal in rig.call("crm.deal.list", {"select": ["ID", "COMPANY_ID"]})
                       if int(deal["COMPANY_ID"] or 0) and any(
                           requisite["RQ_INN"] in inns for requisite in rig.call("crm.requisite.list", {
                               "filter": {"ENTITY_TYPE_ID": 4, "ENTITY_ID": int(deal["COMPANY_ID"])}})))
        company = int(rig.deal(deal_id)["COMPANY_ID"])
        inn = rig.call("crm.requisite.list", {"filter": {"ENTITY_TYPE_ID": 4, "ENTITY_ID": company}})[0]["RQ_INN"]
        hide_from_b24sync(rig, "Catalog_Контрагенты", [inns[inn]])  # the customer's counterparty, hidden
        before = len(counterparties)
        rig.move(deal_id)
        report = rig.engine().push()
        assert report.codes.get(deal_id) == "onec_hidden_rows" and len(counterparties) == before
        assert rig.documents_for(deal_id) == []
        hide_from_b24sync(rig, "Catalog_Контрагенты", [])
        rig.clock.advance(61)
        assert rig.engine().push().created == 1 and len(counterparties) == before  # the one 1C had
        order = rig.documents_for(deal_id)[0]["Ref_Key"]
        hide_from_b24sync(rig, "Document_ЗаказКлиента", [order])  # then its order is hidden, and the state lost
        rig.forget_state()
        lost = rig.engine().push()
        assert lost.created == 0 and lost.codes.get(deal_id) == "onec_object_rights"
        assert len(rig.documents_for(deal_id)) == 1  # never a second order for a deal whose order it cannot see
    finally:
        rig.stop()


def test_with_a_string_attribute_as_marker_a_hidden_document_blocks_only_its_own_deal(tmp_path: Path) -> None:
    """1C compares a plain string itself, so the refused comparison is narrowed down to the deal it belongs to."""
    from b24sync.config import Marker

    rig = Rig.start(tmp_path)
    try:
        onec = replace(rig.config.onec, deal_marker=Marker(attribute="НомерПоДаннымКлиента"))
        rig.move(1)
        assert rig.engine(onec=onec).push().created == 1
        order = next(document for document in rig.documents() if document.get("НомерПоДаннымКлиента") == "1")
        hide_from_b24sync(rig, "Document_ЗаказКлиента", [order["Ref_Key"]])
        rig.forget_state()  # and the state is lost: deal 1's order can no longer be seen, nor bound
        for deal_id in (2, 3, 4):
            rig.move(deal_id)
        report = rig.engine(onec=onec).push()
        assert report.created == 3 and set(report.failed) == {1} and report.codes[1] == "onec_object_rights"
        assert len([document for document in rig.documents() if document.get("НомерПоДаннымКлиента") == "1"]) == 1
    finally:
        rig.stop()


def test_a_document_kind_taken_out_of_the_odata_composition_while_running_is_left_out_at_once(
        tmp_path: Path) -> None:
    from b24sync.onec.errors import NotPublishedError

    rig = Rig.start(tmp_path)
    try:
        rig.move(1)
        engine = rig.engine()
        engine.push()
        assert engine.pull().ok  # $metadata read: cash receipts are published and listed
        requests.post(f"{rig.base.root}/_emulator/settings", json={"unpublished": ["Document_ПриходныйКассовыйОрдер"]},
                      timeout=5).raise_for_status()
        rig.reset_stats()
        assert engine.pull().ok  # the pull that meets the change reads $metadata again and leaves the kind out
        asked = rig.base.app.stats.snapshot()["http_requests_by_method"]
        assert asked.get("$metadata") == 1 and asked["Document_ПриходныйКассовыйОрдер"] == 1  # the refused one
        rig.reset_stats()
        engine.pull()
        asked = rig.base.app.stats.snapshot()["http_requests_by_method"]
        assert "$metadata" not in asked and "Document_ПриходныйКассовыйОрдер" not in asked  # once, not every cycle
        requests.post(f"{rig.base.root}/_emulator/settings", json={"unpublished": ["Document_ЗаказКлиента"]},
                      timeout=5).raise_for_status()
        with pytest.raises(NotPublishedError, match="Document_ЗаказКлиента"):
            engine.pull()  # what b24sync cannot do without stops the cycle, and says what to tick
    finally:
        rig.stop()
