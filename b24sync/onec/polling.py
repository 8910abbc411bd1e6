"""What the accountant did: the bound documents' versions, and the invoices, sales and payments
around them, turned into snapshots (a mixin of the OneCAdapter, adapter.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from b24sync.onec.base import AdapterBase
from b24sync.onec.documents import (
    InvoiceInfo,
    PollResult,
    Snapshot,
)
from b24sync.onec.odata import cast, entity_path, guid, literal
from b24sync.onec.values import HEADER, _date, _decimal, requisite_value

FRESH_MARGIN = timedelta(days=30)  # a document around an order dated up to this before it is in the window


class Polling(AdapterBase):
    """Polls 1C for news about the bound documents."""

    # -- what the accountant did ------------------------------------------------------------------------

    def poll(self, bound: Iterable[str], known: dict[str, str], since: datetime,
             fresh: set[str] | None = None, check: Iterable[str] | None = None) -> PollResult:
        """Snapshots of the bound documents that changed since `known` (ref -> DataVersion).

        Reads the versions of the bound documents in `check` (all of them when None), in `or` chains, and the
        related documents dated in the window (linked to any bound document); a snapshot is built only for
        documents that changed or whose invoices, sales or payments did.
        """
        start = self.client.requests_sent
        bound = [ref.lower() for ref in bound]
        checked = bound if check is None else [ref.lower() for ref in check]
        result = PollResult()
        candidates: set[str] = set()
        for row in self._by_or_chain(self.profile.order_entity, "Ref_Key", checked, "Ref_Key,DataVersion",
                                     render=guid):
            result.versions[row["Ref_Key"]] = row["DataVersion"]
            if known.get(row["Ref_Key"]) != row["DataVersion"]:
                candidates.add(row["Ref_Key"])
        window = f"Date ge {literal(since.replace(tzinfo=None))}"
        bound_set = set(bound)
        linked: set[str] = set()  # bound documents some document of the window refers to
        for entity, select, links in self._related():
            for row in self.client.get_all(entity, {"$filter": window, "$select": select,
                                                    "$orderby": "Date,Ref_Key"}):
                result.versions[row["Ref_Key"]] = row["DataVersion"]
                refs = [ref for ref in links(row) if ref in bound_set]
                linked.update(refs)
                if known.get(row["Ref_Key"]) != row["DataVersion"]:
                    candidates.update(refs)
        result.snapshots.update(self.snapshots(candidates, unlinked_since=since, linked=linked, fresh=fresh))
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
        """Everything the deal shows about one document (a NotFoundError when 1C no longer has it)."""
        head = self.client.get(entity_path(self.profile.order_entity, ref), {"$select": self._head_select()})
        return self._assemble([head])[head["Ref_Key"]]

    def snapshots(self, refs: Iterable[str], unlinked_since: datetime | None = None,
                  linked: set[str] | None = None, fresh: set[str] | None = None) -> dict[str, Snapshot]:
        """Snapshots of many documents at once: every kind of document around them is read in `or` chains
        (about 25 documents a request), never one request per document and kind. A ref 1C does not have is left
        out.

        With `unlinked_since` (the start of a window whose documents were all listed, `linked` the documents
        they refer to) and `fresh` (documents bound in the last day and never read back): such a document, dated
        in the last day, that no document of the window refers to has none around it, unless one dated more than
        FRESH_MARGIN before it, outside the window. These (the orders b24sync just made) are read alone, so a
        first pull costs no request per kind of document around."""
        wanted = sorted({ref.lower() for ref in refs})
        if not wanted:
            return {}
        heads = self._by_or_chain(self.profile.order_entity, "Ref_Key", wanted, self._head_select(), render=guid)
        alone: list[dict[str, Any]] = []
        if unlinked_since is not None and linked is not None and fresh:
            day_ago = datetime.fromtimestamp(self.clock.time()) - timedelta(days=1)
            if unlinked_since.replace(tzinfo=None) <= day_ago - FRESH_MARGIN:
                alone = [head for head in heads if head["Ref_Key"].lower() in fresh - linked
                         and str(head.get("Date") or "") >= day_ago.isoformat(timespec="seconds")]
        others = [head for head in heads if head not in alone]
        return {**self._assemble(others), **self._assemble(alone, around=False)}

    def _head_select(self) -> str:
        status = ",Статус" if self.profile.can_close else ""
        return f"{HEADER}{status},{self.profile.currency_field}"

    def _assemble(self, heads: list[dict[str, Any]], around: bool = True) -> dict[str, Snapshot]:
        """Snapshots of these documents from their invoices, payments and sales, each kind read in chains (none
        read when not `around`: the caller knows there are none)."""
        order_entity = self.profile.order_entity
        refs = [head["Ref_Key"].lower() for head in heads] if heads else []
        if not heads:
            return {}
        chained = refs if around else []
        invoices: dict[str, list[InvoiceInfo]] = {ref: [] for ref in refs}
        paid: dict[str, Decimal] = dict.fromkeys(refs, Decimal(0))
        sales: dict[str, list[dict[str, Any]]] = {ref: [] for ref in refs}
        composite = lambda ref: cast(ref, order_entity)  # noqa: E731 - the composite reference's form
        # many documents (a rebuilt state, old bindings never read back): the documents around them may be
        # fewer requests to list by date than to ask for in chains; none is dated much before its order
        dates = [_date(head.get("Date")) for head in heads] if chained else []
        oldest = min((day for day in dates if day is not None), default=None) if all(dates) else None
        window = f"Date ge {literal(datetime.combine(oldest, datetime.min.time()) - FRESH_MARGIN)}" \
            if oldest is not None else ""
        if self.profile.order_is_invoice:
            for head in heads:
                invoices[head["Ref_Key"].lower()].append(InvoiceInfo(
                    head["Ref_Key"], head["Number"], _date(head.get("Date")), _decimal(head.get("СуммаДокумента")),
                    head["DataVersion"], self.currency_code(head.get(self.profile.currency_field))))
            for entity in self._payment_entities():
                for row in self._by_or_chain(entity, "ДокументОснование", chained, "Ref_Key,СуммаДокумента,"
                                             "ДокументОснование", render=composite, extra=" and Posted eq true",
                                             window=window):
                    base = row.get("ДокументОснование", "").lower()
                    if base in paid:
                        paid[base] += _decimal(row.get("СуммаДокумента"))
            for row in self._by_or_chain(self.profile.sale_entity, "СчетНаОплатуПокупателю_Key", chained,
                                         "Ref_Key,Date,СуммаДокумента,НомерДляОтслеживания,СчетНаОплатуПокупателю_Key",
                                         render=guid, extra=" and Posted eq true", window=window):
                base = row.get("СчетНаОплатуПокупателю_Key", "").lower()
                if base in sales:
                    sales[base].append(row)
        else:
            for row in self._by_or_chain(self.profile.invoice_entity, "ДокументОснование", chained,
                                         "Ref_Key,DataVersion,Number,Date,СуммаДокумента,Валюта_Key,ДокументОснование",
                                         render=composite, extra=" and DeletionMark eq false", window=window):
                base = row.get("ДокументОснование", "").lower()
                if base in invoices:
                    invoices[base].append(InvoiceInfo(row["Ref_Key"], row["Number"], _date(row.get("Date")),
                                                      _decimal(row.get("СуммаДокумента")), row["DataVersion"],
                                                      self.currency_code(row.get("Валюта_Key"))))
            for entity in self._payment_entities():
                # each term is one any() over the payment's rows: `or` chains of them, as of plain comparisons
                for payment in self._by_or_chain(entity, "РасшифровкаПлатежа", chained, "Ref_Key,РасшифровкаПлатежа",
                                                 render=composite, extra=" and Posted eq true", window=window,
                                                 term=lambda field, value: f"{field}/any(d: d/Заказ eq {value})"):
                    for item in payment.get("РасшифровкаПлатежа", []):
                        base = str(item.get("Заказ", "")).lower()
                        if base in paid:  # in the order's currency (СуммаВзаиморасчетов), not the payment's
                            settled = _decimal(item.get("СуммаВзаиморасчетов"))
                            paid[base] += settled if settled else _decimal(item.get("Сумма"))
            tracking = self.config.tracking.attribute
            for row in self._by_or_chain(self.profile.sale_entity, "ЗаказКлиента", chained,
                                         "Ref_Key,Date,СуммаДокумента,ЗаказКлиента," +
                                         (tracking or "ДополнительныеРеквизиты"),
                                         render=composite, extra=" and Posted eq true", window=window):
                base = row.get("ЗаказКлиента", "").lower()
                if base in sales:
                    sales[base].append(row)
        result: dict[str, Snapshot] = {}
        for head in heads:
            ref = head["Ref_Key"].lower()
            total = _decimal(head.get("СуммаДокумента"))
            ordered = sorted(sales[ref], key=lambda sale: (sale.get("Date", ""), sale["Ref_Key"]))
            shipped, shipment = Decimal(0), None
            for sale in ordered:  # the date is the shipment that completed the order, not the first partial one
                shipped += _decimal(sale.get("СуммаДокумента"))
                if shipment is None and total > 0 and shipped >= total:
                    shipment = _date(sale["Date"])
            result[head["Ref_Key"]] = Snapshot(
                order_ref=head["Ref_Key"], number=head.get("Number", ""), data_version=head["DataVersion"],
                posted=bool(head.get("Posted")), deleted=bool(head.get("DeletionMark")),
                status=head.get("Статус", ""), total=total,
                invoices=tuple(sorted(invoices[ref], key=lambda item: (item.date or datetime.min.date(),
                                                                         item.ref))),
                paid=paid[ref], shipment_date=shipment, tracking_number=self._tracking(ordered), shipped=shipped,
                currency=self.currency_code(head.get(self.profile.currency_field)))
        return result

    def _tracking(self, sales: list[dict[str, Any]]) -> str | None:
        attribute = self.config.tracking.attribute or self.profile.builtin_tracking
        for sale in reversed(sales):  # the latest shipment's number
            if attribute and sale.get(attribute):
                return str(sale[attribute])
            value = requisite_value(sale, self.resolved().tracking_property)
            if value:
                return value
        return None
