"""Pure mapping from a Bitrix24 deal to what 1C should hold, and from a 1C snapshot to the deal's fields.

No I/O here: every function takes plain records and returns plain values, so
each rule can be tested on its own. Problems a manager can fix are raised as
MappingError with a reason in the manager's words (Russian) and the details.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, date
from decimal import Decimal
from typing import Any

from b24sync.bitrix24.records import CatalogProduct, Company, Contact, ProductRow, Requisite
from b24sync.bitrix24.wire import parse_date_only, parse_datetime, to_decimal, to_int
from b24sync.config import DealFields, OrderFields, Pipeline
from b24sync.errors import ItemError
from b24sync.onec.documents import (
    CENT,
    ContentRow,
    DocumentContent,
    DraftRow,
    OrderDraft,
    Snapshot,
    money,
    net_amount,
    row_totals,
)
from b24sync.sync.requisites import inn_problem, kpp_problem, normalise

# The deal fields a sync reads; b24sync's own fields are deliberately absent, so writing them never echoes.
DEAL_SELECT = ["ID", "TITLE", "TYPE_ID", "CATEGORY_ID", "STAGE_ID", "STAGE_SEMANTIC_ID", "CURRENCY_ID", "COMMENTS",
               "CLOSEDATE",
               "OPPORTUNITY", "COMPANY_ID", "CONTACT_ID", "ASSIGNED_BY_ID", "DATE_CREATE", "DATE_MODIFY"]


# what a binding keeps of the projection it wrote (Projection.remembered)
REMEMBERED = ("customer", "note", "delivery_address", "contact_person")

class MappingError(ItemError):
    """The deal cannot become a 1C document as it is; `reason` is shown to the manager, `code` is stable."""

    code = "mapping"


@dataclass(frozen=True)
class ProjectedRow:
    product_id: int
    xml_id: str | None
    article: str | None
    name: str
    quantity: Decimal
    price: Decimal
    vat_rate: Decimal | None
    amount: Decimal | None = None  # Сумма: the row's sum (net when VAT is on top), rounded once
    vat: Decimal | None = None  # СуммаНДС: so that amount (+ VAT on top) is the deal's own row sum
    discount: Decimal = Decimal(0)  # the manager's discount on the row, in money, on the same VAT basis
    discount_percent: Decimal | None = None
    price_before: Decimal | None = None  # the unit price before that discount
    measure_code: int | None = None  # the row's unit as Bitrix24 has it (OKEI code: 796 шт, 6 м) …
    measure_name: str | None = None  # … and its short name

    def draft(self, nomenclature_ref: str, packaging: Packaging | None = None) -> DraftRow:
        """The row for 1C; counted in a packaging, its quantity and price are the packaging's."""
        return DraftRow(nomenclature_ref, self.name, self.quantity, self.price, self.vat_rate, self.amount, self.vat,
                        self.discount, self.discount_percent, self.price_before,
                        packaging_ref=packaging.ref if packaging else None,
                        units_per_packaging=packaging.factor if packaging else Decimal(1))


@dataclass(frozen=True)
class Customer:
    kind: str  # company | person
    bitrix24_id: int
    name: str
    full_name: str
    inn: str | None = None
    kpp: str | None = None


@dataclass(frozen=True)
class Projection:
    """The part of a deal that 1C holds; its hash decides whether 1C needs an update."""

    deal_id: int
    comment: str
    currency: str
    amount: Decimal
    prices_include_vat: bool
    rows: tuple[ProjectedRow, ...]
    customer: Customer
    manager_id: int | None
    note: str = ""  # the deal's comments (COMMENTS) as plain text
    ship_by: date | None = None  # the deal's expected date (CLOSEDATE): when the customer wants it shipped
    delivery_address: str = ""  # the manager's delivery address field ('sync.fields.delivery_address')
    contact_person: str = ""  # the deal's contact, a person of the company that is the customer: its contact person

    def as_json(self) -> str:
        """The canonical JSON of the projection (kept with the binding to tell a manager what changed)."""
        return json.dumps(asdict(self), default=str, sort_keys=True, ensure_ascii=False)

    @property
    def hash(self) -> str:
        return hashlib.sha256(self.as_json().encode("utf-8")).hexdigest()[:32]

    def remembered(self) -> str:
        """What a binding keeps of the projection it wrote, as JSON: the customer, which 1C holds only as a
        reference (so it is compared with what b24sync sent), and the note and the delivery address, whose keys
        tell a document sent since b24sync writes the deal's comments, or its delivery address. The rows, amounts
        and the rest are compared with the document itself, so the state does not keep them (a few hundred bytes a
        binding, not kilobytes)."""
        kept = {name: value for name, value in asdict(self).items() if name in REMEMBERED}
        return json.dumps(kept, default=str, sort_keys=True, ensure_ascii=False)


def in_trigger_stage(deal: dict[str, Any], pipeline: Pipeline | None) -> bool:
    """Whether the deal stands in a trigger stage of a configured pipeline (a bound deal leaves only by this)."""
    return pipeline is not None and deal.get("STAGE_ID") in pipeline.trigger_stages


def passes_filters(deal: dict[str, Any], pipeline: Pipeline | None) -> bool:
    """The pipeline's optional conditions (min_amount, deal_types, start_date): they gate new documents only."""
    if pipeline is None:
        return False
    if pipeline.min_amount and (to_decimal(deal.get("OPPORTUNITY")) or Decimal(0)) < Decimal(str(pipeline.min_amount)):
        return False
    if pipeline.deal_types and deal.get("TYPE_ID") not in pipeline.deal_types:
        return False
    if pipeline.start_date:
        created = parse_datetime(deal.get("DATE_CREATE"))
        if created is None or created.astimezone(UTC).date() < pipeline.start_date:
            return False
    return True


def in_trigger(deal: dict[str, Any], pipeline: Pipeline | None) -> bool:
    """Whether a deal without a document must get one: a trigger stage, and the pipeline's conditions."""
    return in_trigger_stage(deal, pipeline) and passes_filters(deal, pipeline)


def deal_select(fields: DealFields, order_fields: OrderFields) -> list[str]:
    """The deal fields a listing asks for: DEAL_SELECT, and the manager's delivery address field when it goes to
    the order."""
    return [*DEAL_SELECT, *([fields.delivery_address] if order_fields.delivery_address else [])]


def deal_inputs(deal: dict[str, Any], select: list[str] = DEAL_SELECT) -> str:
    """A hash of the listed deal fields the sync reads (`select`, deal_select; not DATE_MODIFY): a re-listed deal
    whose DATE_MODIFY and inputs are as b24sync last saw them is not read again."""
    values = {name: deal.get(name) for name in select if name != "DATE_MODIFY"}
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode("utf-8")).hexdigest()[:24]


def project(deal: dict[str, Any], rows: list[ProductRow], products: dict[int, CatalogProduct],
            company: Company | None, requisites: list[Requisite], contact: Contact | None,
            delivery_field: str | None = None) -> Projection:
    """What 1C should hold for this deal; MappingError when a manager has to fix something first.
    `delivery_field`: the deal field holding the delivery address (None: not sent)."""
    deal_id = to_int(deal["ID"]) or 0
    if not rows:
        raise MappingError("В сделке нет товаров: добавьте товары, чтобы создать заказ в 1С.", code="no_products")
    projected = []
    taxed_flags = {row.tax_included for row in rows if row.tax_rate}
    include_vat = not (taxed_flags == {False})
    for position, row in enumerate(sorted(rows, key=lambda item: (item.sort, item.id)), start=1):
        if not row.product_id:
            raise MappingError(f"Строка {position} «{row.name}» введена вручную, а не выбрана из каталога: в 1С "
                               f"ей не найти номенклатуру. Выберите товар из каталога.", code="free_text_row")
        if row.quantity <= 0:
            raise MappingError(f"Строка {position} «{row.name}»: количество {row.quantity.normalize():f} — в заказ "
                               f"1С идут только строки с количеством больше нуля. Исправьте количество или удалите "
                               f"строку.", f"row {row.id}", code="bad_quantity")
        if row.price < 0:
            raise MappingError(f"Строка {position} «{row.name}»: цена {row.price} меньше нуля (скидка больше цены): "
                               f"исправьте цену или скидку.", f"row {row.id}", code="negative_price")
        product = products.get(row.product_id)
        gross = money(row.price * row.quantity)  # the deal's own row sum, VAT included: what the total adds up
        rate = row.tax_rate or Decimal(0)
        if include_vat:
            amount, price = gross, row.price.quantize(CENT)
            vat = money(gross * rate / (100 + rate))
        else:
            amount = net_amount(gross, rate)
            price, vat = money(amount / row.quantity), gross - amount
        before, discount, percent = row_discount(row, include_vat, amount)
        projected.append(ProjectedRow(product_id=row.product_id, xml_id=product.xml_id if product else None,
                                      article=product.article if product else None, name=row.name,
                                      quantity=row.quantity, price=price, vat_rate=row.tax_rate, amount=amount,
                                      vat=vat, discount=discount, discount_percent=percent, price_before=before,
                                      measure_code=row.measure_code, measure_name=row.measure_name))
    amount = to_decimal(deal.get("OPPORTUNITY")) or Decimal(0)
    rows_total = money(sum((money(row.price * row.quantity) for row in rows), Decimal(0)))
    if money(amount) != rows_total:
        raise MappingError(f"Сумма сделки {money(amount)} не совпадает с суммой товаров {rows_total}: исправьте "
                           f"сумму или товары.", f"deal {deal_id}: OPPORTUNITY {amount}, rows {rows_total}",
                           code="amount_mismatch")
    return Projection(deal_id=deal_id, comment=_comment(deal), currency=deal.get("CURRENCY_ID") or "",
                      amount=money(amount), prices_include_vat=include_vat, rows=tuple(projected),
                      customer=customer(deal_id, company, requisites, contact),
                      manager_id=to_int(deal.get("ASSIGNED_BY_ID")), note=plain_text(deal.get("COMMENTS")),
                      ship_by=parse_date_only(deal.get("CLOSEDATE")),
                      delivery_address=address_text(deal.get(delivery_field)) if delivery_field else "",
                      contact_person=_shown(contact.full_name or "").strip()[:150]
                      if company and contact and contact.company_id == company.id else "")


def address_text(value: Any) -> str:
    """An address as one line: a string field as typed, an address field's value without the coordinates and
    the location ID the portal appends after «|»."""
    text = str(value or "").split("|", 1)[0]
    return _shown(" ".join(text.split()))[:1000]


def plain_text(value: Any) -> str:
    """A deal's comments as text: the editor's HTML and BB codes ([B], <br>) dropped, lines and spaces kept short."""
    text = re.sub(r"<br\s*/?>|\[br\]|</p>|\[/p\]", "\n", str(value or ""), flags=re.IGNORECASE)
    text = re.sub(r"<[^>]+>|\[/?[a-zA-Z*]+(=[^\]]*)?\]", "", text)
    text = html.unescape(text)
    lines = [_shown(" ".join(line.split())) for line in text.splitlines()]
    return "\n".join(line for line in lines if line)[:2000]


def vat_from_nomenclature(projection: Projection, nomenclature: dict[int, str],
                          rates: dict[str, tuple[bool, Decimal | None]]) -> tuple[Projection, list[str]]:
    """Rows the deal gives no VAT rate take their nomenclature's own rate from 1C (the VAT inside the price, so
    the total stays the deal's); a deal rate that contradicts 1C's is kept (it is what the customer was offered)
    and said, once, in the returned notes. VAT on top is never added to a row the deal sells without it."""
    rows, notes = [], []
    for position, row in enumerate(projection.rows, start=1):
        known, rate = rates.get(nomenclature.get(row.product_id, ""), (False, None))
        if known and row.vat_rate is None and rate and projection.prices_include_vat:
            vat = money((row.amount or Decimal(0)) * rate / (100 + rate))
            row = replace(row, vat_rate=rate, vat=vat)
        elif known and row.vat_rate is None and rate:  # VAT on top: 1C's rate would change the deal's total
            notes.append(f"Строка {position} «{row.name}»: в сделке без НДС, а у номенклатуры в 1С — "
                         f"{rate.normalize():f} %. В заказ строка ушла без НДС (сверху НДС добавил бы к сумме "
                         f"сделки); если это неверно, укажите ставку в сделке.")
        elif known and row.vat_rate is not None and rate != row.vat_rate:
            ours = f"{row.vat_rate.normalize():f} %"
            theirs = "без НДС" if rate is None else f"{rate.normalize():f} %"
            notes.append(f"Строка {position} «{row.name}»: в сделке НДС {ours}, а у номенклатуры в 1С — {theirs}. "
                         f"В заказ ушла ставка из сделки; если она неверна, исправьте её в сделке или карточку "
                         f"номенклатуры в 1С.")
        rows.append(row)
    return replace(projection, rows=tuple(rows)), notes


def row_discount(row: ProductRow, include_vat: bool, amount: Decimal) -> tuple[Decimal | None, Decimal,
                                                                             Decimal | None]:
    """(unit price before the discount, the row's discount in money, its percent) of a discounted row, on the
    row amount's VAT basis: Bitrix24 keeps the price before the discount with VAT (PRICE_BRUTTO) and without
    (PRICE_NETTO), so the discount is what the manager gave, not a price that came from nowhere."""
    source = row.price_brutto if include_vat else row.price_netto
    if not row.discount_rate and not row.discount_sum or source is None or source <= 0:
        return None, Decimal(0), None
    before = source.quantize(CENT)
    discount = money(before * row.quantity) - amount
    if discount <= 0:
        return None, Decimal(0), None
    percent = row.discount_rate if row.discount_type_id == 2 and row.discount_rate else \
        (discount * 100 / money(before * row.quantity)).quantize(CENT)
    return before, discount, percent


def _comment(deal: dict[str, Any]) -> str:
    return f"{deal.get('TITLE') or ''} (сделка Битрикс24 №{deal['ID']})".strip()


def customer(deal_id: int, company: Company | None, requisites: list[Requisite], contact: Contact | None) -> Customer:
    """The company (an organisation or a sole trader, by INN/KPP) or else the contact (an individual, by its INN
    when its requisites have one). `requisites` are the customer's own: the company's, or else the contact's."""
    if company is not None:
        title = _shown(company.title).strip()
        if not title:
            raise MappingError(f"У компании (ID {company.id}) в Битрикс24 нет названия: заполните название, чтобы "
                               f"завести контрагента в 1С.", f"company {company.id}", code="blank_name")
        with_inn = [item for item in requisites if normalise(item.inn)]
        if not with_inn:
            raise MappingError(f"У компании «{title}» не заполнен ИНН в реквизитах: заполните реквизиты, "
                               f"чтобы найти контрагента в 1С.", f"company {company.id}", code="company_without_inn")
        requisite = with_inn[0]
        inn, kpp = normalise(requisite.inn), normalise(requisite.kpp)
        for problem, code in ((inn_problem(inn), "bad_inn"), (kpp_problem(kpp, inn), "bad_kpp")):
            if problem:
                raise MappingError(f"У компании «{title}» в реквизитах {_shown(problem)}: исправьте реквизиты "
                                   f"компании в Битрикс24.", f"company {company.id}, requisite {requisite.id}",
                                   code=code)
        return Customer("company", company.id, title, requisite.full_name or requisite.company_name or title,
                        inn, kpp or None)
    if contact is not None:
        name = _shown(contact.full_name or "").strip()
        if not name:
            raise MappingError(f"У контакта (ID {contact.id}) в Битрикс24 не заполнено имя: заполните его, чтобы "
                               f"завести контрагента в 1С.", f"contact {contact.id}", code="blank_name")
        # an individual or a sole trader (ИП) may carry their INN in the contact's requisites
        with_inn = [item for item in requisites if normalise(item.inn)]
        inn = normalise(with_inn[0].inn) if with_inn else ""
        problem = inn_problem(inn) if inn else None
        if not problem and inn and len(inn) != 12:
            problem = f"ИНН «{inn}» из 10 цифр — это ИНН организации; у физического лица и ИП он из 12 цифр"
        if problem:
            raise MappingError(f"У контакта «{name}» в реквизитах {_shown(problem)}: исправьте реквизиты контакта "
                               f"в Битрикс24 (или выберите в сделке компанию).",
                               f"contact {contact.id}, requisite {with_inn[0].id}, RQ_INN", code="bad_inn")
        return Customer("person", contact.id, name, name, inn or None)
    raise MappingError("В сделке не указан клиент: выберите компанию или контакт.", f"deal {deal_id}",
                       code="no_customer")


def phone_digits(text: str) -> str:
    """A phone as 1C's contact information keeps it (НомерТелефона): digits with the country code; a Russian
    number typed with 8 or without a code becomes 7XXXXXXXXXX. Empty when it has too few digits to be one."""
    digits = "".join(char for char in text if char.isdigit())
    if len(digits) == 11 and digits.startswith("8"):
        digits = "7" + digits[1:]
    elif len(digits) == 10:
        digits = "7" + digits
    return digits if len(digits) >= 7 else ""


def contact_details(entity: Contact | Company | None) -> tuple[list[tuple[str, str]], list[str]]:
    """The phones (as typed, digits) and e-mails (lower case) of a contact or company, each once."""
    if entity is None:
        return [], []
    phones: dict[str, str] = {}
    for shown in entity.phones:
        digits = phone_digits(shown)
        if digits and digits not in phones:
            phones[digits] = _shown(shown).strip()
    emails = list(dict.fromkeys(email.strip().lower() for email in entity.emails if "@" in email))
    return [(shown, digits) for digits, shown in phones.items()], emails


def _shown(text: str) -> str:
    """Text as it may go to 1C and into a message: control characters (NUL and the like) dropped."""
    return "".join(char for char in text if char.isprintable() or char == " ")


@dataclass(frozen=True)
class Unit:
    """A nomenclature's unit in 1C: its OKEI code (None when 1C keeps none) and its name."""

    code: int | None
    name: str


@dataclass(frozen=True)
class Packaging:
    """A packaging of a nomenclature in 1C (УТ: «Упаковка (10 шт)»): its own unit, and how many of the
    nomenclature's units one of it holds (Числитель / Знаменатель)."""

    ref: str
    name: str
    unit: Unit
    factor: Decimal


def _same_unit(unit: Unit, code: int | None, name: str) -> bool:
    """The same OKEI code, or the same name (dots and case aside), is the same unit."""
    return (unit.code is not None and unit.code == code) or _unit_name(unit.name) == _unit_name(name)


def _counted_in(row: ProjectedRow) -> tuple[int | None, str] | None:
    """The row's unit as the portal gives it; None when it names none (a row not to judge)."""
    code = row.measure_code or None  # 0: the portal names no unit
    if code is None and not row.measure_name:
        return None
    return code, row.measure_name or ""


def _misfits(projection: Projection, nomenclature: Mapping[int, str], units: Mapping[str, Unit]
             ) -> Iterator[tuple[int, ProjectedRow, str, Unit, tuple[int | None, str]]]:
    """The rows (position, row, nomenclature ref, its 1C unit, the row's unit) counted in another unit than 1C
    keeps their nomenclature in; a row or a product whose unit is unknown is not among them."""
    for position, row in enumerate(projection.rows, start=1):
        ref = nomenclature.get(row.product_id, "")
        unit, counted = units.get(ref), _counted_in(row)
        if unit is not None and counted is not None and not _same_unit(unit, *counted):
            yield position, row, ref, unit, counted


def unpacked_units(projection: Projection, nomenclature: Mapping[int, str], units: Mapping[str, Unit]) -> set[str]:
    """The nomenclature whose rows are counted in another unit than 1C keeps it in: their packagings decide."""
    return {ref for _, _, ref, _, _ in _misfits(projection, nomenclature, units)}


def check_units(projection: Projection, nomenclature: Mapping[int, str], units: Mapping[str, Unit],
                packagings: Mapping[str, tuple[Packaging, ...]] | None = None) -> dict[int, Packaging]:
    """Every row counted in its product's own 1C unit, or in one of its 1C packagings: 100 «шт» of a cable kept in
    «м» would put 100 metres on the document, 3 «упак» of a product packed by ten are 30 of it. The packaging
    each such row is counted in, by row position (1-based). A row or a product whose unit is unknown (and a
    service, left out by the caller) is not judged. `packagings` None: the profile has none (БП)."""
    packed: dict[int, Packaging] = {}
    for position, row, ref, unit, counted in _misfits(projection, nomenclature, units):
        fitting = [item for item in (packagings or {}).get(ref, ()) if _same_unit(item.unit, *counted)]
        if len(fitting) == 1:
            packed[position] = fitting[0]
            continue
        given = row.measure_name or str(row.measure_code)
        if fitting:
            names = ", ".join(f"«{item.name}»" for item in fitting)
            raise MappingError(
                f"Товар «{row.name}» (строка {position}) указан в сделке в «{given}», а у номенклатуры в 1С несколько "
                f"упаковок в этой единице ({names}): укажите товар в «{unit.name}» или оставьте в 1С одну такую "
                f"упаковку.", f"product {row.product_id}: Bitrix24 measure {row.measure_code} «{given}» fits "
                f"packagings {', '.join(item.ref for item in fitting)} of {ref}", code="unit_mismatch")
        packaging = f", заведите в 1С упаковку в «{given}»" if packagings is not None else ""
        raise MappingError(
            f"Товар «{row.name}» (строка {position}) указан в сделке в «{given}», а в 1С он учитывается в "
            f"«{unit.name}»: укажите в сделке «{unit.name}» (пересчитав количество и цену){packaging} или "
            f"исправьте единицу товара в каталоге.",
            f"product {row.product_id}: Bitrix24 measure {row.measure_code} «{given}», 1C unit "
            f"{unit.code} «{unit.name}» of {ref}, no packaging in it", code="unit_mismatch")
    return packed


def _unit_name(name: str) -> str:
    return name.strip().rstrip(".").casefold()


def _draft_rows(projection: Projection, nomenclature: Mapping[int, str],
                packed: Mapping[int, Packaging] | None) -> tuple[DraftRow, ...]:
    return tuple(row.draft(nomenclature[row.product_id], (packed or {}).get(position))
                 for position, row in enumerate(projection.rows, start=1))


def draft(projection: Projection, nomenclature: dict[int, str], counterparty_ref: str, partner_ref: str | None,
          manager_ref: str | None, contract_ref: str | None, default_currency: str,
          packed: Mapping[int, Packaging] | None = None) -> OrderDraft:
    """The 1C document for a projection, once its products and customer have 1C references (and the rows
    counted in a packaging have it: check_units)."""
    return OrderDraft(
        deal_id=projection.deal_id, comment=projection.comment, counterparty_ref=counterparty_ref,
        partner_ref=partner_ref, currency_code=projection.currency or default_currency,
        prices_include_vat=projection.prices_include_vat, rows=_draft_rows(projection, nomenclature, packed),
        manager_ref=manager_ref, contract_ref=contract_ref, note=projection.note, ship_by=projection.ship_by,
        delivery_address=projection.delivery_address)


def content(projection: Projection, nomenclature: dict[int, str], currency_ref: str | None,
            manager_ref: str | None, discounts: bool = False, order_fields: bool = False,
            packed: Mapping[int, Packaging] | None = None) -> DocumentContent:
    """The projection as a 1C document would hold it, to compare with what 1C holds: the amount is the
    document total as b24sync computes it for 1C (VAT on top included), not the deal's OPPORTUNITY. With
    `discounts` (a profile whose rows keep the manual discount) a row's price is the one before the discount.
    A row counted in a packaging is compared in packagings, with the packaging's ref."""
    rows = _draft_rows(projection, nomenclature, packed)
    total = sum((row_totals(row, projection.prices_include_vat).total for row in rows), Decimal(0))
    if total != projection.amount:  # never a document whose total is not the deal's, to the kopeck
        raise MappingError(f"Сумма документа для 1С {total} не совпадает с суммой сделки {projection.amount}: "
                           f"проверьте цены, количество и НДС в строках сделки.",
                           f"deal {projection.deal_id}: document total {total}, OPPORTUNITY {projection.amount}",
                           code="total_mismatch")
    return DocumentContent(
        comment=projection.comment, amount=total,
        rows=tuple(ContentRow(row.nomenclature_ref, row.quantity, row.price_before or row.price, row.discount,
                              row.packaging_ref or "")
                   if discounts else ContentRow(row.nomenclature_ref, row.quantity, row.price,
                                                packaging_ref=row.packaging_ref or "") for row in rows),
        currency_ref=currency_ref, manager_ref=manager_ref,
        note=projection.note if order_fields else None,
        delivery_address=projection.delivery_address if order_fields else None,
        ship_by=(projection.ship_by.isoformat() if projection.ship_by else "") if order_fields else None)


# -- 1C → Bitrix24 -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DealValues:
    """What the deal's fields should show, in neutral form (before Bitrix24 encodings such as enum IDs)."""

    order_id: str
    order_number: str
    invoice_number: str = ""
    payment_status: str = "unpaid"
    shipment_date: date | None = None
    tracking_number: str = ""
    invoice_url: str = ""
    paid_amount: Decimal | None = None  # None: not known (a deal bound just now); shown with `currency`
    shipped_amount: Decimal | None = None
    currency: str = "RUB"
    order_status: str = ""  # the order's Статус as 1C shows it («К отгрузке»); empty for a БП invoice


# Статус of a customer order as 1C's form shows it (enum СтатусыЗаказовКлиентов)
ORDER_STATUSES = {"НеСогласован": "Не согласован", "КОбеспечению": "К обеспечению", "КОтгрузке": "К отгрузке",
                  "Закрыт": "Закрыт"}


def values_from_snapshot(snapshot: Snapshot) -> DealValues:
    latest = max(snapshot.invoices, key=lambda item: (item.date or date.min, item.number), default=None)
    return DealValues(order_id=snapshot.order_ref, order_number=snapshot.number,
                      invoice_number=latest.number if latest else "", payment_status=snapshot.payment_status,
                      shipment_date=snapshot.shipment_date, tracking_number=snapshot.tracking_number or "",
                      paid_amount=snapshot.paid, shipped_amount=snapshot.shipped, currency=snapshot.currency,
                      order_status=ORDER_STATUSES.get(snapshot.status, snapshot.status))


def encode_values(values: DealValues, fields: DealFields, payment_options: dict[str, str],
                  present: set[str] | None = None) -> dict[str, str]:
    """The deal fields as Bitrix24 takes them: an enumeration by option ID, a date as YYYY-MM-DD, money as
    «1234.50|RUB». Of the amount fields, only those `present` on the portal (all when None)."""
    encoded = {
        fields.order_id: values.order_id,
        fields.order_number: values.order_number,
        fields.invoice_number: values.invoice_number,
        fields.payment_status: payment_options.get(values.payment_status, ""),
        fields.shipment_date: values.shipment_date.isoformat() if values.shipment_date else "",
        fields.tracking_number: values.tracking_number,
        fields.invoice_url: values.invoice_url,
    }
    if values.paid_amount is not None:
        encoded[fields.paid_amount] = f"{values.paid_amount:.2f}|{values.currency}"
    if values.shipped_amount is not None:
        encoded[fields.shipped_amount] = f"{values.shipped_amount:.2f}|{values.currency}"
    if values.order_status:
        encoded[fields.order_status] = values.order_status
    optional = {fields.paid_amount, fields.shipped_amount, fields.order_status}
    return {name: value for name, value in encoded.items()
            if present is None or name not in optional or name in present}


def changed_fields(wanted: dict[str, str], written: dict[str, str]) -> dict[str, str]:
    """Only what differs from what b24sync last wrote: a field nobody changed is never written again."""
    return {name: value for name, value in wanted.items() if written.get(name, "") != value}


def invoice_file_name(number: str, when: date | None) -> str:
    """«Счет <number> от <date>.pdf», with every character Disk or a file system would refuse replaced."""
    text = f"Счет {number} от {when.strftime('%d.%m.%Y')}" if when else f"Счет {number}"
    safe = "".join("_" if char in '\\/:*?"<>|' or ord(char) < 32 else char for char in text).strip(" .")
    return f"{safe[:120]}.pdf"


def stage_move(current_stage: str, stage_order: list[str], final_stages: set[str], pipeline: Pipeline | None,
               values: DealValues) -> str | None:
    """The stage a deal moves to because 1C says it is paid or shipped; never backwards, never out of a final stage."""
    if pipeline is None or current_stage in final_stages:
        return None
    target = None
    if values.payment_status == "paid" and pipeline.stage_on_paid:
        target = pipeline.stage_on_paid
    elif values.shipment_date and pipeline.stage_on_shipped:
        target = pipeline.stage_on_shipped
    if target is None or target == current_stage or target not in stage_order:
        return None
    if current_stage in stage_order and stage_order.index(target) <= stage_order.index(current_stage):
        return None
    return target

