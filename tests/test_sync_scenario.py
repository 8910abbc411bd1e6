"""The whole story over HTTP against both emulators, for both profiles."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from b24sync.bitrix24.wire import parse_date_only
from tests.sync_rig import Rig


@pytest.fixture(params=["ut11", "bp30"])
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Rig]:
    running = Rig.start(tmp_path, profile=request.param)
    yield running
    running.stop()


def payment_label(rig: Rig, option_id: str) -> str:
    field = rig.portal.portal.userfields["UF_CRM_PAYMENT_STATUS"]
    return next(option["XML_ID"] for option in field["LIST"] if option["ID"] == option_id)


def test_deals_become_documents_and_the_accountants_work_comes_back(rig: Rig) -> None:
    engine = rig.engine()
    chosen = [1, 2, 3, 4]
    for deal_id in chosen:
        rig.move(deal_id)
    push = engine.push()
    assert push.created == 4 and not push.failed, push
    for deal_id in chosen:
        documents = rig.documents_for(deal_id)
        assert len(documents) == 1
        document = documents[0]
        deal = rig.deal(deal_id)
        assert document["Posted"] is True
        assert Decimal(str(document["СуммаДокумента"])) == Decimal(deal["OPPORTUNITY"])
        rows = rig.portal.portal.product_rows[deal_id]
        assert len(document["Товары"]) == len(rows)
        xml_ids = [rig.portal.portal.products[row["PRODUCT_ID"]]["XML_ID"] for row in sorted(
            rows, key=lambda row: (row["SORT"], int(row["ID"])))]
        assert [row["Номенклатура_Key"] for row in document["Товары"]] == xml_ids
        assert deal["TITLE"] in document["Комментарий"]
        counterparty = rig.base.base.get("Catalog_Контрагенты", document["Контрагент_Key"])
        company_id = int(deal["COMPANY_ID"])
        if company_id:
            requisite = next(item for item in rig.portal.portal.requisites.values()
                             if item["ENTITY_ID"] == str(company_id))
            assert counterparty["ИНН"] == requisite["RQ_INN"] and counterparty["КПП"] == requisite["RQ_KPP"]
        assert deal["UF_CRM_1C_ORDER_ID"] == document["Ref_Key"]
        assert deal["UF_CRM_1C_ORDER_NUMBER"] == document["Number"]
        assert payment_label(rig, deal["UF_CRM_PAYMENT_STATUS"]) == "unpaid"

    deal_id = chosen[0]
    order = rig.documents_for(deal_id)[0]
    accountant = rig.accountant()
    total = float(order["СуммаДокумента"])
    invoice_number = order["Number"]
    if rig.base.base.profile.name == "ut11":
        invoice_number = accountant.invoice(order["Ref_Key"], total)["Number"]
    accountant.pay(order["Ref_Key"], round(total / 2, 2))
    engine.pull()
    deal = rig.deal(deal_id)
    assert deal["UF_CRM_INVOICE_NUMBER"] == invoice_number
    assert payment_label(rig, deal["UF_CRM_PAYMENT_STATUS"]) == "partial"

    shipped = datetime.fromtimestamp(rig.clock.time()) - timedelta(hours=3)
    accountant.ship(order["Ref_Key"], total, "RU000111222CN", shipped.replace(microsecond=0).isoformat())
    accountant.pay(order["Ref_Key"], round(total - round(total / 2, 2), 2))
    engine.pull()
    deal = rig.deal(deal_id)
    assert payment_label(rig, deal["UF_CRM_PAYMENT_STATUS"]) == "paid"
    assert parse_date_only(deal["UF_CRM_SHIPMENT_DATE"]) == shipped.date()  # a date field: UTC midnight
    assert deal["UF_CRM_TRACKING_NUMBER"] == "RU000111222CN"
    binding = engine.store.binding_for_deal(deal_id)
    assert binding.is_open is False  # paid and shipped: no longer rescanned


def test_idle_cycles_write_nothing_on_either_side(rig: Rig) -> None:
    engine = rig.engine()
    for deal_id in (5, 6, 7):
        rig.move(deal_id)
    engine.push()
    engine.pull()
    rig.clock.advance(60)
    rig.reset_stats()
    for _ in range(21):
        engine.push()
        engine.pull()
        rig.clock.advance(60)
    assert rig.writes() == (0, 0)
    assert rig.portal.app.stats.snapshot()["commands_by_method"].get("crm.deal.update", 0) == 0


def test_a_change_to_unmapped_fields_or_to_b24syncs_own_fields_causes_no_write(rig: Rig) -> None:
    engine = rig.engine()
    rig.move(9)
    engine.push()
    engine.pull()
    rig.reset_stats()
    rig.call("crm.deal.update", {"id": 9, "fields": {"COMMENTS": "позвонить в пятницу", "PROBABILITY": 80}})
    rig.call("crm.deal.update", {"id": 9, "fields": {"UF_CRM_TRACKING_NUMBER": "руками"}})
    engine.push()
    assert rig.writes()[1] == 0  # nothing went to 1C
