"""The pure parts of the sync: mapping a deal, deciding what to do, mapping 1C's news back."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from b24sync.bitrix24.records import CatalogProduct, Company, Contact, ProductRow, Requisite
from b24sync.config import DealFields, Pipeline
from b24sync.onec.documents import InvoiceInfo, Snapshot
from b24sync.sync import mapping


def row(row_id: int, product_id: int, price: str, quantity: str, tax: str | None = "22", included: bool = True,
        exclusive: str | None = None) -> ProductRow:
    return ProductRow(id=row_id, deal_id=1, product_id=product_id, name=f"Товар {row_id}", price=Decimal(price),
                      price_exclusive=Decimal(exclusive) if exclusive else None, price_netto=None, price_brutto=None,
                      quantity=Decimal(quantity), discount_type_id=2, discount_rate=None, discount_sum=None,
                      tax_rate=Decimal(tax) if tax else None, tax_included=included, measure_code=796,
                      measure_name="шт", sort=row_id * 10)


PRODUCTS = {10: CatalogProduct(10, "Кабель", "ref-10", "ART-10", None),
            11: CatalogProduct(11, "Розетка", "ref-11", "ART-11", None)}
COMPANY = Company(5, "ООО «Ромашка»", False, None)
REQUISITES = [Requisite(1, 4, 5, "Организация", "7701234560", "770101001", "ООО «Ромашка»",
                        "Общество «Ромашка»", None)]
CONTACT = Contact(7, "Иван", "Иванович", "Петров", None, ("+7 900",), ())


def deal(amount: str, **extra: str) -> dict:
    return {"ID": "1", "TITLE": "Поставка", "OPPORTUNITY": amount, "CURRENCY_ID": "RUB", "ASSIGNED_BY_ID": "3",
            "STAGE_ID": "EXECUTING", "CATEGORY_ID": "0", "DATE_CREATE": "2026-05-01T10:00:00+03:00", **extra}


def test_vat_included_rows_use_the_final_price() -> None:
    projection = mapping.project(deal("366.00"), [row(1, 10, "122.00", "3")], PRODUCTS, COMPANY, REQUISITES, None)
    assert projection.prices_include_vat and projection.rows[0].price == Decimal("122.00")
    assert projection.rows[0].xml_id == "ref-10" and projection.rows[0].article == "ART-10"
    assert projection.customer == mapping.Customer("company", 5, "ООО «Ромашка»", "Общество «Ромашка»",
                                                   "7701234560", "770101001")
    assert projection.manager_id == 3 and "Поставка" in projection.comment


def test_vat_excluded_rows_use_the_price_without_vat() -> None:
    rows = [row(1, 10, "122.00", "1", included=False, exclusive="100.00"),
            row(2, 11, "50.00", "2", tax=None, included=False)]
    projection = mapping.project(deal("222.00"), rows, PRODUCTS, None, [], CONTACT)
    assert not projection.prices_include_vat
    assert [item.price for item in projection.rows] == [Decimal("100.00"), Decimal("50.00")]
    assert projection.customer.kind == "person" and projection.customer.name == "Петров Иван Иванович"


def test_the_amount_must_agree_with_the_rows() -> None:
    with pytest.raises(mapping.MappingError, match="Сумма сделки 400.00 не совпадает с суммой товаров 366.00"):
        mapping.project(deal("400.00"), [row(1, 10, "122.00", "3")], PRODUCTS, COMPANY, REQUISITES, None)


@pytest.mark.parametrize("rows, company, requisites, contact, message", [
    ([], COMPANY, REQUISITES, None, "нет товаров"),
    ([row(1, 0, "10", "1")], COMPANY, REQUISITES, None, "введена вручную"),
    ([row(1, 10, "10", "1")], COMPANY, [], None, "не заполнен ИНН"),
    ([row(1, 10, "10", "1")], None, [], None, "не указан клиент"),
])
def test_what_a_manager_must_fix_is_said_in_their_words(rows: list, company: Company | None, requisites: list,
                                                        contact: Contact | None, message: str) -> None:
    with pytest.raises(mapping.MappingError, match=message):
        mapping.project(deal("10.00"), rows, PRODUCTS, company, requisites, contact)


def test_the_projection_hash_ignores_nothing_mapped_and_only_that() -> None:
    first = mapping.project(deal("366.00"), [row(1, 10, "122.00", "3")], PRODUCTS, COMPANY, REQUISITES, None)
    same = mapping.project(deal("366.00", UF_CRM_TRACKING_NUMBER="x", SOURCE_ID="CALL"),
                           [row(1, 10, "122.00", "3")], PRODUCTS, COMPANY, REQUISITES, None)
    other = mapping.project(deal("488.00"), [row(1, 10, "122.00", "4")], PRODUCTS, COMPANY, REQUISITES, None)
    commented = mapping.project(deal("366.00", COMMENTS="позвонить"), [row(1, 10, "122.00", "3")], PRODUCTS,
                                COMPANY, REQUISITES, None)  # the deal's comments go to the order: mapped
    assert first.hash == same.hash != other.hash and commented.hash != first.hash


@pytest.mark.parametrize("comments, text", [
    ("Позвонить <b>до 10:00</b><br>въезд со двора", "Позвонить до 10:00\nвъезд со двора"),
    ("[B]Срочно[/B] [p]второй этаж[/p]", "Срочно второй этаж"),
    ("&laquo;Склад №2&raquo;   ", "«Склад №2»"),
    (None, ""),
])
def test_a_deals_comments_go_to_1c_as_plain_text(comments: str | None, text: str) -> None:
    assert mapping.plain_text(comments) == text


def test_trigger_conditions() -> None:
    pipeline = Pipeline(0, ("EXECUTING", "WON"), min_amount=100, deal_types=("SALE",), start_date=date(2026, 1, 1))
    assert mapping.in_trigger(deal("150", TYPE_ID="SALE"), pipeline)
    assert not mapping.in_trigger(deal("150", TYPE_ID="SALE", STAGE_ID="NEW"), pipeline)
    assert not mapping.in_trigger(deal("50", TYPE_ID="SALE"), pipeline)
    assert not mapping.in_trigger(deal("150", TYPE_ID="GOODS"), pipeline)
    assert not mapping.in_trigger(deal("150", TYPE_ID="SALE", DATE_CREATE="2025-12-31T23:00:00+03:00"), pipeline)
    assert not mapping.in_trigger(deal("150", TYPE_ID="SALE"), None)


def snapshot(paid: str, shipped: date | None = None, invoices: tuple = ()) -> Snapshot:
    return Snapshot(order_ref="ref-1", number="ЭС00-1", data_version="v", posted=True, deleted=False, status="",
                    total=Decimal("100"), invoices=invoices, paid=Decimal(paid), shipment_date=shipped,
                    tracking_number="T1" if shipped else None)


def test_values_from_1c_and_only_changes_written() -> None:
    invoices = (InvoiceInfo("i1", "С-1", date(2026, 5, 1), Decimal(100), "v"),
                InvoiceInfo("i2", "С-2", date(2026, 5, 3), Decimal(100), "v"))
    values = mapping.values_from_snapshot(snapshot("40", date(2026, 5, 4), invoices))
    assert values.invoice_number == "С-2" and values.payment_status == "partial"
    encoded = mapping.encode_values(values, DealFields(), {"partial": "31", "paid": "30", "unpaid": "32"})
    assert encoded["UF_CRM_PAYMENT_STATUS"] == "31" and encoded["UF_CRM_SHIPMENT_DATE"] == "2026-05-04"
    assert mapping.changed_fields(encoded, dict(encoded)) == {}
    assert mapping.changed_fields(encoded, {**encoded, "UF_CRM_TRACKING_NUMBER": "old"}) == {
        "UF_CRM_TRACKING_NUMBER": "T1"}
    assert mapping.values_from_snapshot(snapshot("100")).payment_status == "paid"
    assert mapping.values_from_snapshot(snapshot("0")).payment_status == "unpaid"


def test_stage_moves_only_forward() -> None:
    order = ["NEW", "EXECUTING", "FINAL_INVOICE", "WON", "LOSE"]
    pipeline = Pipeline(0, ("EXECUTING",), stage_on_paid="WON", stage_on_shipped="FINAL_INVOICE")
    paid = mapping.DealValues("r", "n", payment_status="paid")
    shipped = mapping.DealValues("r", "n", shipment_date=date(2026, 5, 1))
    assert mapping.stage_move("EXECUTING", order, {"WON", "LOSE"}, pipeline, paid) == "WON"
    assert mapping.stage_move("EXECUTING", order, {"WON", "LOSE"}, pipeline, shipped) == "FINAL_INVOICE"
    assert mapping.stage_move("FINAL_INVOICE", order, {"WON", "LOSE"}, pipeline, shipped) is None
    assert mapping.stage_move("LOSE", order, {"WON", "LOSE"}, pipeline, paid) is None


def with_requisite(inn: str | None, kpp: str | None) -> list[Requisite]:
    return [Requisite(1, 4, 5, "Организация", inn, kpp, "ООО «Ромашка»", "Общество «Ромашка»", None)]


@pytest.mark.parametrize("inn, kpp, problem", [
    ("770123456", "770101001", "10 цифр"),  # too short
    ("7701234561", "770101001", "контрольной цифры"),  # checksum
    ("77012345\x0060", "770101001", "10 цифр"),  # a NUL byte
    ('"7701234560"', "770101001", "10 цифр"),  # quotes
    ("7701234560", "77010100", "9 знаков"),  # a short KPP
    ("500100732259", "770101001", "для ИП"),  # a sole trader has no KPP
    ("500100732250", None, "контрольных цифр"),  # a 12-digit INN with a wrong control digit
])
def test_a_company_with_a_wrong_inn_or_kpp_fails_naming_the_company_and_the_field(inn: str, kpp: str | None,
                                                                                   problem: str) -> None:
    with pytest.raises(mapping.MappingError) as caught:
        mapping.project(deal("366.00"), [row(1, 10, "122.00", "3")], PRODUCTS, COMPANY, with_requisite(inn, kpp),
                        None)
    assert "«ООО «Ромашка»»" in caught.value.reason and problem in caught.value.reason
    assert caught.value.code in ("bad_inn", "bad_kpp") and "\x00" not in caught.value.reason


def test_an_inn_and_kpp_typed_with_spaces_and_dashes_are_the_same_company() -> None:
    projection = mapping.project(deal("366.00"), [row(1, 10, "122.00", "3")], PRODUCTS, COMPANY,
                                 with_requisite(" 7701\u00a0234-560 ", "7701 01001"), None)
    assert (projection.customer.inn, projection.customer.kpp) == ("7701234560", "770101001")
    sole_trader = mapping.project(deal("366.00"), [row(1, 10, "122.00", "3")], PRODUCTS, COMPANY,
                                  with_requisite("500100732259", ""), None)
    assert sole_trader.customer.inn == "500100732259" and sole_trader.customer.kpp is None


@pytest.mark.parametrize("company, contact, code", [
    (Company(5, "   ", False, None), None, "blank_name"),
    (None, Contact(7, " ", None, "", None, (), ()), "blank_name"),
])
def test_a_customer_without_a_name_fails(company: Company | None, contact: Contact | None, code: str) -> None:
    with pytest.raises(mapping.MappingError) as caught:
        mapping.project(deal("366.00"), [row(1, 10, "122.00", "3")], PRODUCTS, company, REQUISITES, contact)
    assert caught.value.code == code and ("ID 5" in caught.value.reason or "ID 7" in caught.value.reason)


@pytest.mark.parametrize("price, quantity, code", [("122.00", "0", "bad_quantity"), ("122.00", "-2", "bad_quantity"),
                                                   ("-10.00", "1", "negative_price")])
def test_rows_with_no_quantity_or_a_negative_price_are_refused(price: str, quantity: str, code: str) -> None:
    amount = str(Decimal(price) * Decimal(quantity))
    with pytest.raises(mapping.MappingError) as caught:
        mapping.project(deal(amount), [row(1, 10, price, quantity)], PRODUCTS, COMPANY, REQUISITES, None)
    assert caught.value.code == code and "Строка 1 «Товар 1»" in caught.value.reason


@pytest.mark.parametrize("gross, rate, net", [
    ("700.00", "22", "573.77"),  # 7 × 100.00 with VAT: a rounded net price (81.97 × 7 + VAT) would be 700.02
    ("122.00", "22", "100.00"),
    ("0.03", "22", "0.02"),  # no net amount gives 0.03 with 22 % on top: the nearest, its VAT the difference
    ("1000.00", "0", "1000.00"),
    ("1234.56", "10", "1122.33"),
])
def test_a_net_amount_gives_the_deals_row_sum_with_vat_rounded_once(gross: str, rate: str, net: str) -> None:
    from b24sync.onec.documents import net_amount

    assert net_amount(Decimal(gross), Decimal(rate)) == Decimal(net)


def test_vat_on_top_rows_add_up_to_the_deal_as_1c_holds_them() -> None:
    rows = [row(index, 10, "100.00", str(7 + index), included=False, exclusive="81.97") for index in range(1, 6)]
    deal_total = sum(Decimal("100.00") * (7 + index) for index in range(1, 6))
    projection = mapping.project(deal(f"{deal_total:.2f}"), rows, PRODUCTS, COMPANY, REQUISITES, None)
    wanted = mapping.content(projection, {10: "ref-10"}, None, None)
    assert wanted.amount == deal_total
    assert all(item.amount + item.vat == Decimal("100.00") * item.quantity for item in projection.rows)


@pytest.mark.parametrize("typed, digits", [
    ("+7 900 111-22-33", "79001112233"), ("8 (900) 111-22-33", "79001112233"), ("9001112233", "79001112233"),
    ("+375 29 123-45-67", "375291234567"), ("112", ""), ("доб. 12", ""),
])
def test_a_phone_is_compared_as_1c_keeps_it(typed: str, digits: str) -> None:
    assert mapping.phone_digits(typed) == digits


def test_a_contacts_phones_and_emails_each_once_for_matching() -> None:
    person = Contact(7, "Иван", None, "Петров", None, ("+7 900 111-22-33", "89001112233", "112"),
                     ("Petrov@Example.ru", "petrov@example.ru", "не почта"))
    assert mapping.contact_details(person) == ([("+7 900 111-22-33", "79001112233")], ["petrov@example.ru"])
    assert mapping.contact_details(None) == ([], [])


@pytest.mark.parametrize("inn, expected, code", [
    ("500100732259", "500100732259", None),  # a sole trader's or a person's INN: 12 digits
    ("5001 0073 2259", "500100732259", None),
    ("500100732250", None, "bad_inn"),  # the check digits do not agree
    ("7701234560", None, "bad_inn"),  # an organisation's INN on a person
    (None, None, None),  # no requisites: matched by phone or e-mail, or created
])
def test_a_contacts_own_inn_identifies_a_person(inn: str | None, expected: str | None, code: str | None) -> None:
    requisites = [Requisite(3, 3, 7, "Физлицо", inn, None, None, None, None)] if inn else []
    if code:
        with pytest.raises(mapping.MappingError) as caught:
            mapping.customer(1, None, requisites, CONTACT)
        assert caught.value.code == code and "контакта «Петров Иван Иванович»" in caught.value.reason
        return
    customer = mapping.customer(1, None, requisites, CONTACT)
    assert (customer.kind, customer.inn, customer.kpp) == ("person", expected, None)


@pytest.mark.parametrize("deal_rate, included, onec_rate, rate, vat, noted", [
    (None, True, (True, Decimal(22)), Decimal(22), Decimal("22.00"), False),  # the deal says nothing: 1C's rate
    (None, True, (True, None), None, Decimal("0.00"), False),  # 1C's item is without VAT: nothing added
    (None, True, (False, None), None, Decimal("0.00"), False),  # 1C says nothing either
    ("22", True, (True, Decimal(22)), Decimal(22), Decimal("22.00"), False),  # they agree
    ("10", True, (True, Decimal(22)), Decimal(10), Decimal("11.09"), True),  # they disagree: the deal's, told
])
def test_a_rows_vat_rate_comes_from_the_deal_or_else_from_1c(deal_rate: str | None, included: bool,
                                                             onec_rate: tuple, rate: Decimal | None, vat: Decimal,
                                                             noted: bool) -> None:
    projection = mapping.project(deal("122.00"), [row(1, 10, "122.00", "1", deal_rate, included)], PRODUCTS,
                                 COMPANY, REQUISITES, None)
    changed, notes = mapping.vat_from_nomenclature(projection, {10: "ref-10"}, {"ref-10": onec_rate})
    assert (changed.rows[0].vat_rate, changed.rows[0].vat or Decimal("0.00")) == (rate, vat)
    assert bool(notes) == noted and all("у номенклатуры в 1С — 22 %" in note for note in notes)


@pytest.mark.parametrize("measure, unit, problem", [
    ((796, "шт"), mapping.Unit(796, "шт"), None),  # the same OKEI code
    ((796, "шт"), mapping.Unit(6, "м"), "указан в сделке в «шт», а в 1С он учитывается в «м»"),  # 100 шт of a cable
    ((None, "шт."), mapping.Unit(None, "шт"), None),  # no code on either side: the names, dots aside
    ((None, "упак"), mapping.Unit(None, "шт"), "в «упак», а в 1С он учитывается в «шт»"),
    ((796, "шт"), None, None),  # a product whose 1C unit is unknown is not judged
    ((0, "м"), mapping.Unit(6, "м"), None),  # code 0: the portal names no unit code, the names decide
    ((778, "упак."), mapping.Unit(None, "Упак"), None),  # 1C keeps no OKEI code: the same name is the same unit
])
def test_a_row_counted_in_another_unit_than_its_1c_nomenclature_fails_naming_both(
        measure: tuple, unit: mapping.Unit | None, problem: str | None) -> None:
    counted = replace(row(1, 10, "122.00", "100"), measure_code=measure[0], measure_name=measure[1])
    projection = mapping.project(deal("12200.00"), [counted], PRODUCTS, COMPANY, REQUISITES, None)
    units = {"ref-10": unit} if unit is not None else {}
    if problem is None:
        mapping.check_units(projection, {10: "ref-10"}, units)
        return
    with pytest.raises(mapping.MappingError) as refused:
        mapping.check_units(projection, {10: "ref-10"}, units)
    assert refused.value.code == "unit_mismatch" and problem in refused.value.reason
    assert "Товар «Товар 1» (строка 1)" in refused.value.reason


BOX = mapping.Packaging("box-ref", "Коробка (50 шт)", mapping.Unit(778, "упак"), Decimal(50))
DRUM = mapping.Packaging("drum-ref", "Бухта (100 м)", mapping.Unit(None, "бухта"), Decimal(100))


@pytest.mark.parametrize("measure, packagings, packed, problem", [
    ((778, "упак"), (BOX,), BOX, None),  # 3 boxes of terminals kept in шт: 3 packagings of 50
    ((0, "бухта"), (BOX, DRUM), DRUM, None),  # no code on the row: the packaging's unit name decides
    ((796, "шт"), (BOX,), None, None),  # the item's own unit: no packaging
    ((166, "кг"), (BOX,), None, "заведите в 1С упаковку в «кг»"),  # no packaging in that unit
    ((778, "упак"), (), None, "а в 1С он учитывается в «шт»"),  # БП, or an item without packagings
    ((778, "упак"), (BOX, replace(BOX, ref="box-2", name="Коробка (100 шт)", factor=Decimal(100))), None,
     "несколько упаковок в этой единице («Коробка (50 шт)», «Коробка (100 шт)»)"),  # which one: not guessed
])
def test_a_row_counted_in_a_packaging_of_its_nomenclature_goes_in_packagings(
        measure: tuple, packagings: tuple, packed: mapping.Packaging | None, problem: str | None) -> None:
    counted = replace(row(1, 10, "1800.00", "3"), measure_code=measure[0], measure_name=measure[1])
    projection = mapping.project(deal("5400.00"), [counted], PRODUCTS, COMPANY, REQUISITES, None)
    units = {"ref-10": mapping.Unit(796, "шт")}
    if problem is not None:
        with pytest.raises(mapping.MappingError) as refused:
            mapping.check_units(projection, {10: "ref-10"}, units, {"ref-10": packagings})
        assert refused.value.code == "unit_mismatch" and problem in refused.value.reason
        return
    found = mapping.check_units(projection, {10: "ref-10"}, units, {"ref-10": packagings})
    assert found == ({1: packed} if packed else {})
    drafted = mapping.draft(projection, {10: "ref-10"}, "cp", None, None, None, "RUB", packed=found).rows[0]
    assert (drafted.packaging_ref, drafted.units_per_packaging) == (
        (packed.ref, packed.factor) if packed else (None, Decimal(1)))
    assert mapping.content(projection, {10: "ref-10"}, None, None, packed=found).rows[0].packaging_ref == \
        (packed.ref if packed else "")


@pytest.mark.parametrize("company_of_contact, person", [(5, "Петров Иван Иванович"), (None, ""), (9, "")])
def test_the_contact_person_is_the_deals_contact_only_when_they_work_for_the_customer(
        company_of_contact: int | None, person: str) -> None:
    """A partner's contact person is one of its own people: the deal's contact counts when it belongs to the
    deal's company (its COMPANY_ID), not a private person or someone of another company."""
    projection = mapping.project(deal("122.00"), [row(1, 10, "122.00", "1")], PRODUCTS, COMPANY, REQUISITES,
                                 replace(CONTACT, company_id=company_of_contact))
    assert projection.contact_person == person
