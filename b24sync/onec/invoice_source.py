"""Everything a printed invoice shows, read from 1C, or the PDF 1C prints itself
(a mixin of the OneCAdapter, adapter.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import requests

from b24sync.invoices.currency import currency
from b24sync.invoices.model import BankDetails, InvoiceData, InvoiceRow, Party, russian_date
from b24sync.onec import errors
from b24sync.onec.base import AdapterBase
from b24sync.onec.odata import ZERO_GUID, entity_path, guid
from b24sync.onec.values import _date, _decimal, _vat_rate

CENT = Decimal("0.01")


class InvoiceSource(AdapterBase):
    """The invoice's data for b24sync's own rendering, or 1C's PDF."""

    # -- invoices ---------------------------------------------------------------------------------------

    def invoice_data(self, invoice_ref: str, bank: BankDetails | None = None,
                     valid_days: int = 0) -> InvoiceData:
        """Everything the printed invoice shows, read through OData. An invoice for part of its order (a
        prepayment) shows one prepayment line per VAT rate with its share of the order's VAT, never the order's
        rows beside a smaller total."""
        invoice = self.client.get(entity_path(self.profile.invoice_entity, invoice_ref))
        total = _decimal(invoice.get("СуммаДокумента"))
        basis_text, partial = "", None
        if not self.profile.order_is_invoice:
            order = self.client.get(entity_path(self.profile.order_entity, invoice.get("ДокументОснование", "")),
                                    {"$select": "Number,Date,Товары,ЦенаВключаетНДС,СуммаДокумента"})
            rows_source, include_vat = order.get("Товары", []), bool(order.get("ЦенаВключаетНДС"))
            when = _date(order.get("Date"))
            basis_text = f"Заказ клиента № {order.get('Number', '')}" + (f" от {russian_date(when)}" if when else "")
            if total != _decimal(order.get("СуммаДокумента")):
                partial = basis_text
            currency_ref = invoice.get("Валюта_Key", ZERO_GUID)
        else:
            rows_source, include_vat = invoice.get("Товары", []), bool(invoice.get("СуммаВключаетНДС"))
            currency_ref = invoice.get(self.profile.currency_field, ZERO_GUID)
        rows = self._invoice_rows([row for row in rows_source if not row.get("Отменено")], include_vat)
        if partial is not None:
            rows, include_vat = _prepayment_rows(rows, include_vat, total, partial), True
        seller = self.client.get(entity_path("Catalog_Организации", invoice["Организация_Key"]))
        buyer = self.client.get(entity_path("Catalog_Контрагенты", invoice["Контрагент_Key"]))
        when = _date(invoice.get("Date")) or date.today()
        return InvoiceData(
            number=invoice.get("Number", ""), date=when,
            seller=Party(seller.get("НаименованиеСокращенное") or seller.get("Description", ""), seller.get("ИНН", ""),
                         seller.get("КПП", ""), seller.get("ЮридическийАдрес", "")),
            buyer=Party(buyer.get("НаименованиеПолное") or buyer.get("Description", ""), buyer.get("ИНН", ""),
                        buyer.get("КПП", "")),
            # the configured bank account is the default organisation's: another organisation's invoice goes without
            rows=tuple(rows), prices_include_vat=include_vat, total=total,
            bank=bank if invoice["Организация_Key"] == self.resolved().organisation else None,
            valid_until=when + timedelta(days=valid_days) if valid_days else None, basis=basis_text,
            currency=currency(self.currency_code(currency_ref)))

    def _invoice_rows(self, rows_source: list[dict[str, Any]], include_vat: bool) -> list[InvoiceRow]:
        """The document's rows as printed: price × quantity = amount, the amount net of VAT when VAT is on top."""
        products = self._items("Catalog_Номенклатура", [row.get("Номенклатура_Key", ZERO_GUID) for row in rows_source],
                               "Ref_Key,Description,НаименованиеПолное,ЕдиницаИзмерения_Key")
        # a row counted in a packaging (УТ) prints its packagings, at the packaging's price, in the packaging's unit
        packagings = self._items(self.profile.unit_catalog, [row.get("Упаковка_Key", ZERO_GUID) for row in rows_source],
                                 "Ref_Key,Description,ЕдиницаИзмерения_Key") if self.profile.packagings else {}
        units = self._items(self.profile.unit_catalog,
                            [item.get("ЕдиницаИзмерения_Key", ZERO_GUID) for item in
                             [*products.values(), *packagings.values()]], "Ref_Key,Description")
        rates = {ref: key for key, ref in (self.resolved().vat_refs or {}).items()}
        rows = []
        for row in rows_source:
            product = products.get(row.get("Номенклатура_Key", ""), {})
            packed = self.profile.packagings and row.get("Упаковка_Key", ZERO_GUID) not in ("", ZERO_GUID)
            packaging = packagings.get(row.get("Упаковка_Key", ""), {}) if packed else {}
            # a packaging hidden from b24sync's user still prints as packagings, at the packaging's price
            unit = units.get((packaging if packed else product).get("ЕдиницаИзмерения_Key", ""), {}).get(
                "Description") or packaging.get("Description") or ("уп." if packed else "шт")
            rows.append(InvoiceRow(
                name=row.get("Содержание") or product.get("НаименованиеПолное") or product.get("Description") or "",
                quantity=_decimal(row.get("КоличествоУпаковок") if packed else row.get("Количество")),
                unit=unit,
                price=_decimal(row.get("Цена")), amount=_decimal(row.get("Сумма")), vat_rate=_vat_rate(row, rates),
                vat_amount=_decimal(row.get("СуммаНДС")),
                discount=_decimal(row.get(self.profile.discount_fields[1])) +
                _decimal(row.get("СуммаАвтоматическойСкидки"))))
        return rows

    def _items(self, entity: str, refs: Iterable[str], select: str) -> dict[str, dict[str, Any]]:
        wanted = [ref for ref in dict.fromkeys(refs) if ref and ref != ZERO_GUID]
        return {row["Ref_Key"]: row for row in self._by_or_chain(entity, "Ref_Key", wanted, select, render=guid)}

    def printed_invoice(self, service_url: str, invoice_ref: str) -> bytes:
        """The PDF 1C itself prints, from the HTTP service b24sync's contract describes."""
        url = service_url.rstrip("/") + f"/invoices/{invoice_ref}/pdf"
        try:
            reply = self.client.session.get(url, timeout=self.client.timeout)
        except requests.RequestException as failure:
            raise errors.TransportError(f"cannot reach 1C's invoice service for {invoice_ref}: "
                                        f"{type(failure).__name__}", resource="invoice PDF") from None
        if reply.status_code != 200 or not reply.content.startswith(b"%PDF"):
            first = reply.content[:120].decode("utf-8", errors="replace").splitlines()[0] if reply.content else ""
            raise errors.ServerError(
                f"1C's invoice service answered HTTP {reply.status_code} ({reply.headers.get('Content-Type', '')}) "
                f"instead of a PDF for invoice {invoice_ref}: {first!r}; check 'onec.invoice_service_url' and the "
                f"service's publication", status=reply.status_code, resource="invoice PDF")
        return reply.content


def _prepayment_rows(order_rows: list[InvoiceRow], include_vat: bool, total: Decimal, basis: str) -> list[InvoiceRow]:
    """A prepayment of `total` on an order: one line per VAT rate, each its share of the order's gross amount,
    VAT inside it at that rate; the last line takes the rounding remainder so the lines make the total."""
    gross: dict[Decimal | None, Decimal] = {}
    for row in order_rows:
        amount = row.amount if include_vat else row.amount + row.vat_amount
        gross[row.vat_rate] = gross.get(row.vat_rate, Decimal(0)) + amount
    whole = sum(gross.values(), Decimal(0))
    lines, left = [], total
    for index, (rate, amount) in enumerate(sorted(gross.items(), key=lambda item: item[0] or Decimal(-1))):
        share = left if index == len(gross) - 1 or not whole else (total * amount / whole).quantize(CENT)
        left -= share
        vat = (share * rate / (100 + rate)).quantize(CENT, rounding=ROUND_HALF_UP) if rate else Decimal(0)
        suffix = "" if len(gross) == 1 else " (без НДС)" if rate is None else f" (НДС {rate.normalize():f}%)"
        lines.append(InvoiceRow(name=f"Предоплата по документу {basis}{suffix}", quantity=Decimal(1), unit="",
                                price=share, amount=share, vat_rate=rate, vat_amount=vat))
    return lines
