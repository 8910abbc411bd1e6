"""What b24sync asks 1C to create, in neutral terms, and the arithmetic that makes totals agree.

OData recomputes nothing: the amount, VAT and total of every row, and the
document total, are computed here, to the kopeck, before anything is sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class DraftRow:
    """One goods row: the price is per unit after discount, with VAT when the document's prices include it."""

    nomenclature_ref: str
    name: str
    quantity: Decimal
    price: Decimal
    vat_rate: Decimal | None  # percent; None for "без НДС"
    amount: Decimal | None = None  # Сумма as the deal has it (rounded once per row); None: price × quantity
    vat: Decimal | None = None  # СуммаНДС as the deal has it; None: from the amount and the rate
    discount: Decimal = Decimal(0)  # the manager's discount on the row, in money (price_before × quantity − amount)
    discount_percent: Decimal | None = None  # the discount as the manager gave it in percent, if so
    price_before: Decimal | None = None  # the unit price before the discount (same VAT basis as `price`)
    packaging_ref: str | None = None  # УТ: the row is counted in this packaging (quantity and price are per it) …
    units_per_packaging: Decimal = Decimal(1)  # … which holds this many of the nomenclature's own unit


@dataclass(frozen=True)
class OrderDraft:
    """A customer order (УТ) or an invoice (БП) as the deal describes it."""

    deal_id: int
    comment: str
    counterparty_ref: str
    partner_ref: str | None
    currency_code: str
    prices_include_vat: bool
    rows: tuple[DraftRow, ...]
    manager_ref: str | None = None
    contract_ref: str | None = None
    date: datetime | None = None
    choices: Choices | None = None  # the deal's pipeline's own organisation, warehouse, … (None: the defaults)
    note: str = ""  # the deal's comments, for the order's ДополнительнаяИнформация (УТ)
    ship_by: date | None = None  # the date the customer wants it shipped, for the order's ДатаОтгрузки (УТ)
    delivery_address: str = ""  # for the order's АдресДоставки (УТ)
    contact_person_ref: str | None = None  # the order's КонтактноеЛицо_Key (УТ)


@dataclass(frozen=True)
class Choices:
    """A pipeline's own references for its documents (each None: 'onec.defaults')."""

    organisation: str | None = None
    warehouse: str | None = None
    agreement: str | None = None
    price_type: str | None = None
    contract_name: str | None = None


@dataclass(frozen=True)
class RowTotals:
    amount: Decimal  # Сумма: price × quantity
    vat: Decimal  # СуммаНДС
    total: Decimal  # СуммаСНДС: with VAT


def row_totals(row: DraftRow, prices_include_vat: bool) -> RowTotals:
    """A row's sums as 1C holds them (OData recomputes nothing): each rounded once, from the row's amount."""
    amount = row.amount if row.amount is not None else money(row.price * row.quantity)
    rate = row.vat_rate or Decimal(0)
    if prices_include_vat:
        vat = row.vat if row.vat is not None else money(amount * rate / (100 + rate))
        return RowTotals(amount, vat, amount)
    vat = row.vat if row.vat is not None else money(amount * rate / 100)
    return RowTotals(amount, vat, amount + vat)


def net_amount(gross: Decimal, rate: Decimal) -> Decimal:
    """The net row amount whose VAT on top, rounded once as 1C rounds it, gives the row's gross sum; when no
    amount does (a kopeck skipped by the rounding), the nearest one (its VAT is then the kopeck's difference)."""
    first = money(gross * 100 / (100 + rate))
    for candidate in (first, first - CENT, first + CENT):
        if candidate + money(candidate * rate / 100) == gross:
            return candidate
    return first


def document_total(draft: OrderDraft) -> Decimal:
    """СуммаДокумента: the sum of the rows' totals with VAT."""
    return sum((row_totals(row, draft.prices_include_vat).total for row in draft.rows), Decimal(0))


@dataclass(frozen=True)
class DocumentRef:
    """A document b24sync created or found in 1C."""

    entity: str
    ref: str
    number: str
    data_version: str
    posted: bool
    total: Decimal = Decimal(0)


@dataclass(frozen=True)
class ContentRow:
    nomenclature_ref: str
    quantity: Decimal
    price: Decimal  # as the document's Цена column holds it (before the discount where the profile keeps one)
    discount: Decimal = Decimal(0)  # СуммаРучнойСкидки, where the profile has it
    packaging_ref: str = ""  # Упаковка_Key, where the row is counted in a packaging (the quantity is then of it)


@dataclass(frozen=True)
class DocumentContent:
    """What a deal decides in a document, in comparable form: a deal and a 1C document are compared on this,
    never on hashes of what the state happens to remember. None in a field: not known, not compared."""

    comment: str
    amount: Decimal
    rows: tuple[ContentRow, ...]
    currency_ref: str | None = None
    manager_ref: str | None = None
    note: str | None = None  # the order's ДополнительнаяИнформация (УТ); None: not compared
    ship_by: str | None = None  # the order's ДатаОтгрузки as YYYY-MM-DD, "" for none (УТ); None: not compared
    delivery_address: str | None = None  # the order's АдресДоставки (УТ); None: not compared


@dataclass(frozen=True)
class DocumentHeader:
    """A bound (or found) document as one or-chained read returns it, before the sync decides anything."""

    ref: str
    number: str
    data_version: str
    posted: bool
    deleted: bool  # marked for deletion in 1C
    status: str = ""
    total: Decimal = Decimal(0)
    content: DocumentContent | None = None
    paid: Decimal | None = None  # known only when the sync needs it (the deal left its trigger stages)
    shipped: bool | None = None
    unreadable: str = ""  # 1C refused this user the document (row-level security): why; it is there, not gone


@dataclass(frozen=True)
class InvoiceInfo:
    ref: str
    number: str
    date: date | None
    amount: Decimal
    data_version: str
    currency: str = "RUB"  # the letter code of the invoice's currency


@dataclass(frozen=True)
class Snapshot:
    """What 1C says about one bound document, as the deal shows it."""

    order_ref: str
    number: str
    data_version: str
    posted: bool
    deleted: bool
    status: str
    total: Decimal
    invoices: tuple[InvoiceInfo, ...] = ()
    paid: Decimal = Decimal(0)
    shipment_date: date | None = None  # the shipment that completed the order; None while it is not all shipped
    tracking_number: str | None = None
    shipped: Decimal = Decimal(0)  # what the posted shipments (sales) add up to
    currency: str = "RUB"  # the document's currency, letter code

    @property
    def overpaid(self) -> bool:
        return self.total > 0 and self.paid > self.total

    @property
    def payment_status(self) -> str:
        """paid, partial or unpaid, from what was paid against the document total."""
        if self.total > 0 and self.paid >= self.total:
            return "paid"
        if self.paid > 0:
            return "partial"
        return "unpaid"


@dataclass
class PollResult:
    """Snapshots of the documents that changed, and every DataVersion seen (to remember for next time)."""

    snapshots: dict[str, Snapshot] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    requests: int = 0
