"""Everything a printed invoice shows, read from 1C, or the PDF 1C prints itself
(a mixin of the OneCAdapter, adapter.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

import requests

from b24sync.invoices.model import BankDetails, InvoiceData, InvoiceRow, Party
from b24sync.onec import errors
from b24sync.onec.base import AdapterBase
from b24sync.onec.odata import ZERO_GUID, entity_path, guid
from b24sync.onec.values import _date, _decimal, _vat_rate


class InvoiceSource(AdapterBase):
    """The invoice's data for b24sync's own rendering, or 1C's PDF."""

    # -- invoices ---------------------------------------------------------------------------------------

    def invoice_data(self, invoice_ref: str, bank: BankDetails | None = None,
                     valid_days: int = 0) -> InvoiceData:
        """Everything the printed invoice shows, read through OData."""
        invoice = self.client.get(entity_path(self.profile.invoice_entity, invoice_ref))
        if not self.profile.order_is_invoice:
            basis = invoice.get("ДокументОснование", "")
            order = self.client.get(entity_path(self.profile.order_entity, basis),
                                    {"$select": "Number,Date,Товары,ЦенаВключаетНДС"})
            rows_source, include_vat = order.get("Товары", []), bool(order.get("ЦенаВключаетНДС"))
            basis_text = f"Заказ клиента № {order.get('Number', '')}"
            organisation_key, currency_amount = invoice["Организация_Key"], invoice.get("СуммаДокумента")
        else:
            rows_source, include_vat = invoice.get("Товары", []), bool(invoice.get("СуммаВключаетНДС"))
            basis_text = ""
            organisation_key, currency_amount = invoice["Организация_Key"], invoice.get("СуммаДокумента")
        products = self._items("Catalog_Номенклатура", [row.get("Номенклатура_Key", ZERO_GUID) for row in rows_source],
                               "Ref_Key,Description,НаименованиеПолное,ЕдиницаИзмерения_Key")
        unit_set = self.profile.unit_catalog
        units = self._items(unit_set, [item.get("ЕдиницаИзмерения_Key", ZERO_GUID) for item in products.values()],
                            "Ref_Key,Description")
        rates = {ref: key for key, ref in (self.resolved().vat_refs or {}).items()}
        rows = []
        for row in rows_source:
            product = products.get(row.get("Номенклатура_Key", ""), {})
            rate = _vat_rate(row, rates)
            amount = _decimal(row.get("Сумма"))
            vat = _decimal(row.get("СуммаНДС"))
            rows.append(InvoiceRow(
                name=row.get("Содержание") or product.get("НаименованиеПолное") or product.get("Description") or "",
                quantity=_decimal(row.get("Количество")), unit=units.get(product.get("ЕдиницаИзмерения_Key", ""),
                                                                         {}).get("Description", "шт"),
                price=_decimal(row.get("Цена")), amount=amount if include_vat else amount + vat, vat_rate=rate,
                vat_amount=vat))
        seller = self.client.get(entity_path("Catalog_Организации", organisation_key))
        buyer = self.client.get(entity_path("Catalog_Контрагенты", invoice["Контрагент_Key"]))
        when = _date(invoice.get("Date")) or date.today()
        return InvoiceData(
            number=invoice.get("Number", ""), date=when,
            seller=Party(seller.get("НаименованиеСокращенное") or seller.get("Description", ""), seller.get("ИНН", ""),
                         seller.get("КПП", ""), seller.get("ЮридическийАдрес", "")),
            buyer=Party(buyer.get("НаименованиеПолное") or buyer.get("Description", ""), buyer.get("ИНН", ""),
                        buyer.get("КПП", "")),
            rows=tuple(rows), prices_include_vat=True, total=_decimal(currency_amount), bank=bank,
            valid_until=when + timedelta(days=valid_days) if valid_days else None, basis=basis_text)

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
