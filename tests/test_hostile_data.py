"""Deal data a manager really types, edited through the portal's own methods: what reaches 1C and what is refused.

Each case is a rule of the mapping (tests/test_mapping.py) shown once over HTTP against both emulators.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tests.sync_rig import Rig

COUNTERPARTIES = "Catalog_Контрагенты"


@pytest.fixture(params=["ut11", "bp30"])
def either(request: pytest.FixtureRequest, tmp_path: Path) -> Rig:
    running = Rig.start(tmp_path, profile=request.param)
    yield running
    running.stop()


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    running = Rig.start(tmp_path)
    yield running
    running.stop()


def company_requisite(rig: Rig, deal_id: int) -> dict:
    company_id = int(rig.deal(deal_id)["COMPANY_ID"])
    return rig.call("crm.requisite.list", {"filter": {"ENTITY_TYPE_ID": 4, "ENTITY_ID": company_id}})[0]


def counterparties(rig: Rig) -> list[dict]:
    return list(rig.base.base.records[COUNTERPARTIES].values())



def test_an_inn_and_kpp_retyped_with_spaces_and_dashes_find_the_same_counterparty(either: Rig) -> None:
    rig = either
    rig.move(6)
    engine = rig.engine()
    assert engine.push().created == 1
    known = len(counterparties(rig))
    requisite = company_requisite(rig, 10)  # deals 6 and 10 are one company's
    inn, kpp = requisite["RQ_INN"], requisite["RQ_KPP"]
    rig.call("crm.requisite.update", {"id": requisite["ID"], "fields": {
        "RQ_INN": f" {inn[:4]}\u00a0{inn[4:]} ", "RQ_KPP": f"{kpp[:4]}-{kpp[4:6]}-{kpp[6:]}"}})
    rig.move(10)
    report = engine.push()
    assert report.created == 1 and not report.failed
    assert len(counterparties(rig)) == known
    first, second = rig.documents_for(6)[0], rig.documents_for(10)[0]
    assert first["Контрагент_Key"] == second["Контрагент_Key"]


@pytest.mark.parametrize("field, value, code, words", [
    ("RQ_INN", "7707083894", "bad_inn", "ИНН «7707083894» не проходит проверку контрольной цифры"),
    ("RQ_INN", "77070838", "bad_inn", "должен состоять из 10 цифр"),
    ("RQ_KPP", "77360100", "bad_kpp", "КПП «77360100» должен состоять из 9 знаков"),
])
def test_a_company_with_a_wrong_inn_or_kpp_fails_alone_naming_the_company_and_the_field(
        rig: Rig, field: str, value: str, code: str, words: str) -> None:
    requisite = company_requisite(rig, 6)
    rig.call("crm.requisite.update", {"id": requisite["ID"], "fields": {field: value}})
    title = rig.call("crm.company.get", {"id": requisite["ENTITY_ID"]})["TITLE"]
    for deal_id in (6, 1):
        rig.move(deal_id)
    known = len(counterparties(rig))
    report = rig.engine().push()
    assert report.codes == {6: code} and report.created == 1
    assert f"У компании «{title}» в реквизитах" in report.failed[6] and words in report.failed[6]
    assert rig.documents_for(6) == [] and len(counterparties(rig)) <= known + 1  # deal 1's contact only
    assert words in rig.comments(6)[0]


@pytest.mark.parametrize("who", ["company", "contact"])
def test_a_customer_with_a_blank_name_fails_alone_and_no_nameless_counterparty_is_made(rig: Rig, who: str) -> None:
    deal_id = 6 if who == "company" else 1  # deal 1 has a contact and no company
    deal = rig.deal(deal_id)
    if who == "company":
        rig.call("crm.company.update", {"id": deal["COMPANY_ID"], "fields": {"TITLE": " \u00a0 "}})
    else:
        rig.call("crm.contact.update", {"id": deal["CONTACT_ID"], "fields": {
            "NAME": "  ", "LAST_NAME": "", "SECOND_NAME": "\t"}})
    rig.move(deal_id)
    rig.move(2)
    report = rig.engine().push()
    assert report.codes == {deal_id: "blank_name"} and report.created == 1
    assert all(item["Description"].strip() for item in counterparties(rig))
    assert ("нет названия" if who == "company" else "не заполнено имя") in rig.comments(deal_id)[0]


def test_a_contact_with_a_name_longer_than_1c_keeps_is_one_counterparty_and_no_request_is_too_long(
        either: Rig) -> None:
    rig = either
    name = "🌸" * 240  # even the 150 characters 1C keeps take 1,800 in a URL, 12 for each of these
    contact_id = rig.call("crm.contact.add", {"fields": {"NAME": name, "LAST_NAME": "🌸Петров",
                                                         "PHONE": [{"VALUE": "+7 900 111-22-33"}]}})
    deal_id = rig.call("crm.deal.add", {"fields": {"TITLE": "Длинное имя", "CONTACT_ID": contact_id}})
    row = rig.portal.portal.product_rows[1][0]
    rig.call("crm.deal.productrows.set", {"id": deal_id, "rows": [{"PRODUCT_ID": row["PRODUCT_ID"], "PRICE": 100,
                                                                    "QUANTITY": 1, "TAX_RATE": 22,
                                                                    "TAX_INCLUDED": "Y"}]})
    rig.move(deal_id)
    engine = rig.engine()
    first = engine.push()
    assert first.created == 1 and not first.failed, first.failed
    stored = [item for item in counterparties(rig) if item["Description"].startswith("🌸Петров 🌸")]
    assert len(stored) == 1 and len(stored[0]["Description"]) == 150
    rig.call("crm.deal.update", {"id": deal_id, "fields": {"TITLE": "Длинное имя, правка"}})
    other = rig.call("crm.deal.add", {"fields": {"TITLE": "Тот же клиент", "CONTACT_ID": contact_id}})
    rig.call("crm.deal.productrows.set", {"id": other, "rows": [{"PRODUCT_ID": row["PRODUCT_ID"], "PRICE": 50,
                                                                 "QUANTITY": 2, "TAX_RATE": 22, "TAX_INCLUDED": "Y"}]})
    rig.move(other)
    second = engine.push()
    assert not second.failed and second.created == 1
    assert len([item for item in counterparties(rig) if item["Description"].startswith("🌸Петров 🌸")]) == 1


def test_vat_on_top_gives_a_1c_total_equal_to_the_deal_to_the_kopeck(either: Rig) -> None:
    rig = either
    products = [row["PRODUCT_ID"] for deal_id in (1, 2, 3, 4, 6) for row in rig.portal.portal.product_rows[deal_id]]
    rows = [{"PRODUCT_ID": product, "PRICE": 100 + index * 13.37, "QUANTITY": 7 + index, "TAX_RATE": 22,
             "TAX_INCLUDED": "N"} for index, product in enumerate(products[:9])]
    rig.call("crm.deal.productrows.set", {"id": 1, "rows": rows})
    rig.move(1)
    report = rig.engine().push()
    assert report.created == 1 and not report.failed, report.failed
    deal = rig.deal(1)
    order = rig.documents_for(1)[0]
    assert Decimal(str(order["СуммаДокумента"])) == Decimal(deal["OPPORTUNITY"])
    lines = order["Товары"]
    with_vat = sum(Decimal(str(line["Сумма"])) + Decimal(str(line["СуммаНДС"])) for line in lines)
    assert with_vat == Decimal(deal["OPPORTUNITY"])
    for line in lines:  # each row's VAT is its net amount's 22 %, to the kopeck 1C's own rounding allows
        assert abs(Decimal(str(line["Сумма"])) * Decimal("0.22") - Decimal(str(line["СуммаНДС"]))) <= Decimal("0.015")
