"""What the accountant did: the bound documents' versions, and the invoices, sales and payments
around them, turned into snapshots (a mixin of the OneCAdapter, adapter.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from b24sync.onec.base import AdapterBase
from b24sync.onec.documents import (
    InvoiceInfo,
    PollResult,
    Snapshot,
)
from b24sync.onec.odata import cast, entity_path, guid, literal
from b24sync.onec.values import HEADER, _date, _decimal


class Polling(AdapterBase):
    """Polls 1C for news about the bound documents."""

    # -- what the accountant did ------------------------------------------------------------------------

    def poll(self, bound: Iterable[str], known: dict[str, str], since: datetime) -> PollResult:
        """Snapshots of the bound documents that changed since `known` (ref -> DataVersion).

        Reads the bound documents' versions (in `or` chains) and the related
        documents dated in the window; a snapshot is built only for documents
        that changed or whose invoices, sales or payments did.
        """
        start = self.client.requests_sent
        bound = [ref.lower() for ref in bound]
        result = PollResult()
        candidates: set[str] = set()
        for row in self._by_or_chain(self.profile.order_entity, "Ref_Key", bound, "Ref_Key,DataVersion",
                                     render=guid):
            result.versions[row["Ref_Key"]] = row["DataVersion"]
            if known.get(row["Ref_Key"]) != row["DataVersion"]:
                candidates.add(row["Ref_Key"])
        window = f"Date ge {literal(since.replace(tzinfo=None))}"
        bound_set = set(bound)
        for entity, select, links in self._related():
            for row in self.client.get_all(entity, {"$filter": window, "$select": select,
                                                    "$orderby": "Date,Ref_Key"}):
                result.versions[row["Ref_Key"]] = row["DataVersion"]
                if known.get(row["Ref_Key"]) == row["DataVersion"]:
                    continue
                candidates.update(ref for ref in links(row) if ref in bound_set)
        for ref in sorted(candidates):
            result.snapshots[ref] = self.snapshot(ref)
        result.requests = self.client.requests_sent - start
        return result

    def _related(self) -> list[tuple[str, str, Any]]:
        """(entity, $select, row -> linked document refs) for invoices, sales and payments."""
        order = self.profile.order_entity
        type_name = f"StandardODATA.{order}"

        def composite(field: str) -> Any:
            return lambda row: [row[field].lower()] if row.get(f"{field}_Type") == type_name else []

        if not self.profile.order_is_invoice:
            related = [
                (self.profile.invoice_entity, "Ref_Key,DataVersion,ДокументОснование,ДокументОснование_Type",
                 composite("ДокументОснование")),
                (self.profile.sale_entity, "Ref_Key,DataVersion,ЗаказКлиента,ЗаказКлиента_Type",
                 composite("ЗаказКлиента")),
            ]
            for entity in self._payment_entities():
                related.append((entity, "Ref_Key,DataVersion,РасшифровкаПлатежа/Заказ",
                                lambda row: [item["Заказ"].lower() for item in row.get("РасшифровкаПлатежа", [])
                                             if item.get("Заказ_Type") == type_name]))
            return related
        return [(self.profile.sale_entity, "Ref_Key,DataVersion,СчетНаОплатуПокупателю_Key",
                 lambda row: [row["СчетНаОплатуПокупателю_Key"].lower()])] + [
            (entity, "Ref_Key,DataVersion,ДокументОснование,ДокументОснование_Type", composite("ДокументОснование"))
            for entity in self._payment_entities()]

    def snapshot(self, ref: str) -> Snapshot:
        """Everything the deal shows about one document: number, invoices, payment, shipment, tracking."""
        order_entity = self.profile.order_entity
        status = ",Статус" if self.profile.can_close else ""
        head = self.client.get(entity_path(order_entity, ref),
                               {"$select": f"{HEADER}{status},{self.profile.currency_field}"})
        total = _decimal(head.get("СуммаДокумента"))
        if self.profile.order_is_invoice:
            invoices = (InvoiceInfo(head["Ref_Key"], head["Number"], _date(head.get("Date")), total,
                                    head["DataVersion"], self.currency_code(head.get(self.profile.currency_field))),)
            paid = Decimal(0)
            for entity in self._payment_entities():
                payments = self.client.get_all(entity, {
                    "$filter": f"Posted eq true and ДокументОснование eq {cast(ref, order_entity)}",
                    "$select": "Ref_Key,СуммаДокумента"})
                paid += sum((_decimal(row["СуммаДокумента"]) for row in payments), Decimal(0))
            sales = self.client.get_all(self.profile.sale_entity, {
                "$filter": f"Posted eq true and СчетНаОплатуПокупателю_Key eq {guid(ref)}",
                "$select": "Ref_Key,Date,СуммаДокумента,НомерДляОтслеживания", "$orderby": "Date,Ref_Key"})
        else:
            rows = self.client.get_all(self.profile.invoice_entity, {
                "$filter": f"ДокументОснование eq {cast(ref, order_entity)} and DeletionMark eq false",
                "$select": "Ref_Key,DataVersion,Number,Date,СуммаДокумента,Валюта_Key", "$orderby": "Date,Ref_Key"})
            invoices = tuple(InvoiceInfo(row["Ref_Key"], row["Number"], _date(row.get("Date")),
                                         _decimal(row.get("СуммаДокумента")), row["DataVersion"],
                                         self.currency_code(row.get("Валюта_Key"))) for row in rows)
            paid = Decimal(0)
            for entity in self._payment_entities():
                condition = f"РасшифровкаПлатежа/any(d: d/Заказ eq {cast(ref, order_entity)})"
                for payment in self.client.get_all(entity, {"$filter": f"Posted eq true and {condition}",
                                                            "$select": "Ref_Key,РасшифровкаПлатежа"}):
                    paid += sum((_decimal(item.get("Сумма")) for item in payment.get("РасшифровкаПлатежа", [])
                                 if item.get("Заказ", "").lower() == ref), Decimal(0))
            tracking_select = (f",{self.config.tracking.attribute}" if self.config.tracking.attribute
                               else ",ДополнительныеРеквизиты")
            sales = self.client.get_all(self.profile.sale_entity, {
                "$filter": f"Posted eq true and ЗаказКлиента eq {cast(ref, order_entity)}",
                "$select": "Ref_Key,Date,СуммаДокумента" + tracking_select, "$orderby": "Date,Ref_Key"})
        shipped, shipment = Decimal(0), None
        for sale in sales:  # the date is the shipment that completed the order, not the first partial one
            shipped += _decimal(sale.get("СуммаДокумента"))
            if shipment is None and total > 0 and shipped >= total:
                shipment = _date(sale["Date"])
        return Snapshot(order_ref=head["Ref_Key"], number=head.get("Number", ""), data_version=head["DataVersion"],
                        posted=bool(head.get("Posted")), deleted=bool(head.get("DeletionMark")),
                        status=head.get("Статус", ""), total=total, invoices=invoices, paid=paid,
                        shipment_date=shipment, tracking_number=self._tracking(sales), shipped=shipped,
                        currency=self.currency_code(head.get(self.profile.currency_field)))

    def _tracking(self, sales: list[dict[str, Any]]) -> str | None:
        attribute = self.config.tracking.attribute or self.profile.builtin_tracking
        for sale in reversed(sales):  # the latest shipment's number
            if attribute and sale.get(attribute):
                return str(sale[attribute])
            prop = self.resolved().tracking_property
            for item in sale.get("ДополнительныеРеквизиты", []):
                if prop and item.get("Свойство_Key") == prop and item.get("Значение"):
                    return str(item["Значение"])
        return None
