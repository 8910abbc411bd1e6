"""What an invoice shows, in neutral form: filled from 1C's OData data, drawn by the renderer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from b24sync.invoices.currency import RUB, Currency

MONTHS = ["января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября", "октября",
          "ноября", "декабря"]


def russian_date(day: date) -> str:
    """26 ноября 2026 г."""
    return f"{day.day} {MONTHS[day.month - 1]} {day.year} г."


@dataclass(frozen=True)
class Party:
    name: str
    inn: str = ""
    kpp: str = ""
    address: str = ""

    @property
    def line(self) -> str:
        parts = [self.name, f"ИНН {self.inn}" if self.inn else "", f"КПП {self.kpp}" if self.kpp else "",
                 self.address]
        return ", ".join(part for part in parts if part)


@dataclass(frozen=True)
class BankDetails:
    bank: str
    bik: str
    account: str
    correspondent_account: str


@dataclass(frozen=True)
class InvoiceRow:
    name: str
    quantity: Decimal
    unit: str
    price: Decimal
    amount: Decimal
    vat_rate: Decimal | None  # None: без НДС
    vat_amount: Decimal
    discount: Decimal = Decimal(0)  # the row's discount in money: price × quantity − discount = amount


@dataclass(frozen=True)
class InvoiceData:
    number: str
    date: date
    seller: Party
    buyer: Party
    rows: tuple[InvoiceRow, ...]
    prices_include_vat: bool  # rows show gross amounts («В том числе НДС»), else net ones («Сумма НДС» on top)
    total: Decimal
    bank: BankDetails | None = None
    valid_until: date | None = None
    basis: str = ""  # e.g. the customer order it is based on
    currency: Currency = RUB

    def vat_by_rate(self) -> dict[Decimal | None, Decimal]:
        totals: dict[Decimal | None, Decimal] = {}
        for row in self.rows:
            totals[row.vat_rate] = totals.get(row.vat_rate, Decimal(0)) + row.vat_amount
        return totals

    @property
    def title(self) -> str:
        return f"Счёт на оплату № {self.number} от {russian_date(self.date)}"
