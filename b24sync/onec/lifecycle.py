"""A document's life in 1C: found by its deal marker, created, updated, posted, closed and reopened
(a mixin of the OneCAdapter, adapter.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from b24sync.onec import errors
from b24sync.onec.base import AdapterBase
from b24sync.onec.documents import (
    ContentRow,
    DocumentContent,
    DocumentHeader,
    DocumentRef,
    OrderDraft,
)
from b24sync.onec.odata import MAX_URL, ZERO_GUID, entity_path, guid, literal
from b24sync.onec.values import HEADER, _decimal


class DocumentLifecycle(AdapterBase):
    """The order (УТ) or invoice (БП) b24sync writes for a deal."""

    # -- documents ------------------------------------------------------------------------------------

    def headers(self, refs: Iterable[str]) -> dict[str, DocumentHeader]:
        """The documents' headers and content, in `or` chains (about 27 documents a request). A document the
        chains do not return is asked for on its own before it counts as gone: only 1C's "not found" (code 9)
        makes it absent, never a listing that happens to leave it out."""
        wanted = [ref.lower() for ref in refs]
        rows = self._by_or_chain(self.profile.order_entity, "Ref_Key", wanted, self.profile.content_select,
                                 render=guid)
        found = {row["Ref_Key"]: self._header(row) for row in rows}
        for ref in wanted:
            if ref not in found:
                try:
                    row = self.client.get(entity_path(self.profile.order_entity, ref),
                                          {"$select": self.profile.content_select})
                except errors.NotFoundError:
                    continue
                found[ref] = self._header(row)
        return found

    def _header(self, row: dict[str, Any]) -> DocumentHeader:
        rows = tuple(ContentRow(str(item.get("Номенклатура_Key", "")), _decimal(item.get("Количество")),
                                _decimal(item.get("Цена")),
                                _decimal(item.get("СуммаРучнойСкидки")) if self.profile.keeps_discounts else Decimal(0))
                     for item in sorted(row.get("Товары") or [], key=lambda item: int(item.get("LineNumber") or 0)))
        details = self.profile.order_details
        shipment = str(row.get("ДатаОтгрузки") or "")[:10]
        content = DocumentContent(comment=row.get("Комментарий") or "", amount=_decimal(row.get("СуммаДокумента")),
                                  rows=rows, currency_ref=row.get(self.profile.currency_field),
                                  manager_ref=row.get(self.profile.manager_field),
                                  note=(row.get("ДополнительнаяИнформация") or "") if details else None,
                                  ship_by=("" if shipment.startswith("0001") else shipment) if details else None)
        return DocumentHeader(ref=row["Ref_Key"], number=row.get("Number", ""), data_version=row.get("DataVersion", ""),
                              posted=bool(row.get("Posted")), deleted=bool(row.get("DeletionMark")),
                              status=row.get("Статус", ""), total=_decimal(row.get("СуммаДокумента")),
                              content=content)

    def find_by_deals(self, deal_ids: Iterable[int]) -> dict[int, DocumentHeader]:
        """The live documents of many deals at once, with their content, in as few requests as the URL limit
        allows."""
        marker = self.config.deal_marker
        found: dict[int, DocumentHeader] = {}
        values = [str(deal_id) for deal_id in dict.fromkeys(deal_ids)]
        select = self.profile.content_select + (f",{marker.attribute}" if marker.attribute
                                                else ",ДополнительныеРеквизиты")
        prop = None if marker.attribute else (self.resolved().marker_property or ZERO_GUID)

        def condition(chunk: list[str]) -> str:
            if marker.attribute:
                return "(" + " or ".join(f"{marker.attribute} eq {literal(value)}" for value in chunk) + ")"
            either = " or ".join(f"d/Значение eq {literal(value)}" for value in chunk)
            return f"ДополнительныеРеквизиты/any(d: d/Свойство_Key eq {guid(prop)} and ({either}))"

        start = 0
        while start < len(values):
            size = 1
            while start + size < len(values) and len(self.client.url(self.profile.order_entity, {
                    "$filter": condition(values[start:start + size + 1]) + " and DeletionMark eq false",
                    "$select": select, "$orderby": "Date,Ref_Key", "$top": 500, "$skip": 0},
                    check=False)) < MAX_URL - 40:
                size += 1
            chunk = values[start:start + size]
            start += size
            rows = self.client.get_all(self.profile.order_entity, {
                "$filter": condition(chunk) + " and DeletionMark eq false", "$select": select,
                "$orderby": "Date,Ref_Key"})
            for row in rows:
                if marker.attribute:
                    deal_value = str(row.get(marker.attribute) or "")
                else:
                    deal_value = next((str(item.get("Значение")) for item in row.get("ДополнительныеРеквизиты", [])
                                       if item.get("Свойство_Key") == prop), "")
                if not deal_value.isdigit():
                    continue
                if int(deal_value) in found:
                    self.log.warning("onec_duplicate_documents", deal_id=int(deal_value),
                                     refs=[found[int(deal_value)].ref, row["Ref_Key"]],
                                     action="mark the extra documents for deletion in 1C")
                    continue
                found[int(deal_value)] = self._header(row)  # the earliest document (ordered by Date, Ref_Key)
        return found

    def find_by_deal(self, deal_id: int) -> DocumentRef | None:
        """The live document b24sync made for this deal, found by the deal marker (recovery, idempotency)."""
        header = self.find_by_deals([deal_id]).get(deal_id)
        return None if header is None else DocumentRef(self.profile.order_entity, header.ref, header.number,
                                                       header.data_version, header.posted, header.total)

    def _ref(self, row: dict[str, Any]) -> DocumentRef:
        return DocumentRef(entity=self.profile.order_entity, ref=row["Ref_Key"], number=row.get("Number", ""),
                           data_version=row.get("DataVersion", ""), posted=bool(row.get("Posted")),
                           total=_decimal(row.get("СуммаДокумента")))

    def _now_text(self) -> str:
        """The date of a new document: the 1C server's local time is unknown here, so send our local time, naive."""
        return datetime.fromtimestamp(int(self.clock.time())).isoformat()

    def create_document(self, draft: OrderDraft, *, check_existing: bool = True,
                        post: bool | None = None) -> DocumentRef:
        """Create the order (УТ) or invoice (БП) for a deal, then post it if configured.

        Refuses when a document for the deal already exists; after a create whose
        answer was lost, it looks for the document before reporting.
        """
        existing = self.find_by_deal(draft.deal_id) if check_existing else None
        if existing is not None:
            raise errors.DuplicateDocumentError(
                f"1C already has {self.profile.order_entity} {existing.number} for deal {draft.deal_id}; "
                f"b24sync binds to it instead of creating another", resource=self.profile.order_entity)
        body = self.profile.order_body(draft, self.resolved(), status=self.config.order_status,
                                       marker_attribute=self.config.deal_marker.attribute,
                                       date_text=(draft.date.replace(tzinfo=None, microsecond=0).isoformat()
                                                  if draft.date else self._now_text()))
        try:
            document = self._ref(self.client.post(self.profile.order_entity, body))
        except errors.OutcomeUnknownError:
            found = self.find_by_deal(draft.deal_id)  # the answer was lost: did the create happen?
            if found is None:
                raise
            document = found
        if self.config.post_documents if post is None else post:
            document = self.post(document.ref)
        return document

    def close_order(self, ref: str) -> DocumentRef:
        """УТ: set the order's Статус to Закрыт (the deal was lost or moved back before shipment and payment)."""
        if not self.profile.can_close:
            raise errors.SetupError("closing a document is only possible for customer orders (ut11)",
                                    resource=self.profile.order_entity)
        return self._ref(self.client.patch(entity_path(self.profile.order_entity, ref), {"Статус": "Закрыт"}))

    def reopen_order(self, ref: str, status: str) -> DocumentRef:
        """УТ: give a closed order its working status back."""
        return self._ref(self.client.patch(entity_path(self.profile.order_entity, ref), {"Статус": status}))

    def read(self, ref: str) -> DocumentRef:
        return self._ref(self.client.get(entity_path(self.profile.order_entity, ref), {"$select": HEADER}))

    def update_document(self, ref: str, draft: OrderDraft, expected_version: str,
                        post: bool | None = None) -> DocumentRef:
        """Replace header and rows of a document, unless it changed in 1C since b24sync last saw it.

        If-Match is ignored by real servers, so the DataVersion is compared here before the PATCH.
        """
        current = self.read(ref)
        if current.data_version != expected_version:
            raise errors.ConflictError(
                f"{self.profile.order_entity} {current.number} changed in 1C since b24sync wrote it (version "
                f"{expected_version} → {current.data_version}); it was not overwritten",
                resource=self.profile.order_entity)
        body = self.profile.order_body(draft, self.resolved(), status=self.config.order_status,
                                       marker_attribute=self.config.deal_marker.attribute, date_text="")
        body.pop("Date", None)
        updated = self.client.patch(entity_path(self.profile.order_entity, ref), body)
        document = self._ref(updated)
        if (current.posted and self.config.post_documents) if post is None else post:
            document = self.post(ref)
        return document

    def post(self, ref: str) -> DocumentRef:
        """Post (провести) a document and read it back to confirm."""
        self.client.action(entity_path(self.profile.order_entity, ref, "Post"))
        document = self.read(ref)
        if not document.posted:
            raise errors.BusinessError(f"1C accepted posting {self.profile.order_entity} {document.number} but the "
                                       f"document is still not posted", resource=self.profile.order_entity)
        return document

    def unpost(self, ref: str) -> DocumentRef:
        self.client.action(entity_path(self.profile.order_entity, ref, "Unpost"))
        return self.read(ref)
