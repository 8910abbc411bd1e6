"""A document's life in 1C: found by its deal marker, created, updated, posted, closed and reopened
(a mixin of the OneCAdapter, adapter.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from b24sync.clock import Clock
from b24sync.onec import errors
from b24sync.onec.base import AdapterBase
from b24sync.onec.documents import (
    ContentRow,
    DocumentContent,
    DocumentHeader,
    DocumentRef,
    OrderDraft,
)
from b24sync.onec.odata import EVERY_ROW, ZERO_GUID, entity_path, guid, literal
from b24sync.onec.values import HEADER, _decimal, requisite_value

RECOVERY_MARGIN = timedelta(days=7)  # a search by deal marker also finds a document re-dated up to a week back
MARKER_SKEW = timedelta(seconds=5)  # a later search lists again the documents dated this long before the last one
# (b24sync dates the documents it makes itself, to the second)


class MarkerIndex:
    """The documents carrying the deal marker that the searches of one push cycle listed, dated from `since` on: a
    later search of the cycle lists only what is dated before that, or made since its last listing, so a cycle's
    searches do not each list every document the cycle made. It keeps only documents of deals `settled` does not
    name (those bound to a live document: never searched for), so it holds what a lost state or a crash left,
    not every recent document. A new one every cycle: a document made by someone else during a cycle, dated
    back, is seen by the next cycle's first search."""

    def __init__(self, clock: Clock, settled: Callable[[list[int]], set[int]] = lambda deal_ids: set()) -> None:
        self.clock = clock
        self.settled = settled
        self.since: datetime | None = None
        self.listed_at: datetime | None = None
        self.documents: dict[str, tuple[str, ...]] = {}  # marker value -> its documents, as "Date Ref_Key"

    def clear(self) -> None:
        self.since = self.listed_at = None
        self.documents = {}

    def found(self, lower: datetime, listing: Any, prop: str,
              wanted: set[str]) -> list[tuple[dict[str, Any], str]]:
        """The documents carrying one of the `wanted` markers dated from `lower` on, each as (its Ref_Key and Date,
        the marker); `listing(every_row, dates)` lists the documents carrying the marker in a date range."""
        now = datetime.fromtimestamp(self.clock.time())
        if self.since is None or self.listed_at is None:
            ranges = [f" and Date ge {literal(lower)}"]
        else:
            ranges = [f" and Date ge {literal(min(self.listed_at, now) - MARKER_SKEW)}"]
            if lower < self.since:
                ranges.append(f" and Date ge {literal(lower)} and Date lt {literal(self.since)}")
        for dates in ranges:
            found = [(requisite_value(row, prop).strip(), f"{row.get('Date', '')} {row['Ref_Key']}")
                     for row in listing(True, dates)]  # a document hidden from the user must not look absent
            settled = self.settled([int(value) for value, _ in found if value.isdigit()])
            for value, entry in found:
                if value and (value in wanted or not value.isdigit() or int(value) not in settled) \
                        and entry not in self.documents.get(value, ()):
                    self.documents[value] = self.documents.get(value, ()) + (entry,)
        self.since = lower if self.since is None else min(lower, self.since)
        self.listed_at = now
        return [({"Ref_Key": entry.split(" ")[1], "Date": entry.split(" ")[0]}, value)
                for value in wanted for entry in self.documents.get(value, ())]


class DocumentLifecycle(AdapterBase):
    """The order (УТ) or invoice (БП) b24sync writes for a deal."""

    # -- documents ------------------------------------------------------------------------------------

    def headers(self, refs: Iterable[str]) -> dict[str, DocumentHeader]:
        """The documents' headers and content, in `or` chains (about 27 documents a request). A document the
        chains do not return is asked for on its own before it counts as gone: only 1C's "not found" (code 9)
        makes it absent, never a listing that happens to leave it out (the listings leave out rows this user may
        not read: such a document comes back `unreadable`, never absent)."""
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
                except errors.ObjectRightsError as refused:
                    found[ref] = DocumentHeader(ref, "", "", posted=False, deleted=False, unreadable=str(refused))
                    continue
                found[ref] = self._header(row)
        return found

    def _header(self, row: dict[str, Any]) -> DocumentHeader:
        rows = tuple(_content_row(item, self.profile.discount_fields[1] if self.profile.keeps_discounts else None)
                     for item in sorted(row.get("Товары") or [], key=lambda item: int(item.get("LineNumber") or 0)))
        details = self.profile.order_details
        shipment = str(row.get("ДатаОтгрузки") or "")[:10]
        content = DocumentContent(comment=row.get("Комментарий") or "", amount=_decimal(row.get("СуммаДокумента")),
                                  rows=rows, currency_ref=row.get(self.profile.currency_field),
                                  manager_ref=row.get(self.profile.manager_field),
                                  note=(row.get("ДополнительнаяИнформация") or "") if details else None,
                                  ship_by=("" if shipment.startswith("0001") else shipment) if details else None,
                                  delivery_address=(row.get("АдресДоставки") or "") if details else None)
        return DocumentHeader(ref=row["Ref_Key"], number=row.get("Number", ""), data_version=row.get("DataVersion", ""),
                              posted=bool(row.get("Posted")), deleted=bool(row.get("DeletionMark")),
                              status=row.get("Статус", ""), total=_decimal(row.get("СуммаДокумента")),
                              content=content)

    def find_by_deals(self, deal_ids: Iterable[int], since: datetime | None = None,
                      index: MarkerIndex | None = None) -> dict[int, DocumentHeader]:
        """The documents of many deals, found by the deal marker, with their content: the earliest live one when a
        deal has several, else the latest one marked for deletion (a `deleted` header: the deal's document, which a
        lost state must not take for no document and make again). `since` (aware: when the earliest deal was
        created, or the create was sent) bounds the search by additional requisite to documents dated from then on,
        less RECOVERY_MARGIN, in b24sync's local time as b24sync dates the documents it makes; None searches them
        all. A deal that may have a document hidden from b24sync's user (row-level security) gets an `unreadable`
        header without a ref: it must not get another.

        A string attribute as the marker is compared by 1C, in `or` chains. The additional requisite's value
        (`Значение`) is composite-typed, and the documentation promises comparisons of composites only through
        cast() of a reference: so 1C is asked only for the documents that carry the property (a lambda on its
        plain reference), and their values are compared here, whatever a base does with a string literal.

        `index`: the cycle's MarkerIndex, which the chunks of one push share (the runner makes one a cycle);
        without it every document in the window is listed, as recovery after a lost answer wants."""
        wanted = {str(deal_id) for deal_id in deal_ids}
        if not wanted:
            return {}
        start = None if since is None else (since.astimezone() if since.tzinfo else since).replace(tzinfo=None)
        window = f" and Date ge {literal(start - RECOVERY_MARGIN)}" if start is not None else ""
        candidates: dict[int, list[str]] = {}
        marker = self.config.deal_marker
        prop = None if marker.attribute else (self.resolved().marker_property or ZERO_GUID)

        def by_attribute(values: list[str]) -> tuple[list[dict[str, Any]], set[str]]:
            """1C compares a plain string itself, at every date: the rows, and the deals whose comparison meets a
            hidden document (a refused chain is halved until the refused deals stand alone)."""
            try:
                return self._by_or_chain(self.profile.order_entity, marker.attribute or "", values,
                                         f"Ref_Key,Date,{marker.attribute}", every_row=True), set()
            except errors.RightsError:
                if len(values) == 1:
                    return [], set(values)
                left, right = by_attribute(values[:len(values) // 2]), by_attribute(values[len(values) // 2:])
                return left[0] + right[0], left[1] | right[1]

        def by_requisite(every_row: bool, dates: str = window) -> list[dict[str, Any]]:
            return self.client.get_all(self.profile.order_entity, {
                "$filter": f"ДополнительныеРеквизиты/any(d: d/Свойство_Key eq {guid(prop)}){dates}",
                "$select": "Ref_Key,Date,ДополнительныеРеквизиты", "$orderby": "Date,Ref_Key",
                **(EVERY_ROW if every_row else {})})

        def valued(rows: list[dict[str, Any]]) -> list[tuple[dict[str, Any], str]]:
            return [(row, str(row.get(marker.attribute) or "") if marker.attribute else requisite_value(row, prop))
                    for row in rows]

        hidden = ""
        unsure: set[str] = set()  # deals a hidden document may belong to
        if marker.attribute:
            rows, unsure = by_attribute(sorted(wanted))
            values = valued(rows)
        else:
            try:
                values = index.found(start - RECOVERY_MARGIN, by_requisite, prop, wanted) \
                    if start is not None and index is not None else \
                    valued(by_requisite(every_row=True))  # a document hidden from the user must not look absent
            except errors.RightsError:
                if index is not None:
                    index.clear()
                unsure = set(wanted)  # its value cannot be read: it may be any deal's
                values = valued(by_requisite(every_row=False))
        if unsure:
            hidden = (f"1C hides some {self.profile.order_entity} documents carrying the deal marker from user "
                      f"'{self.client.user}' (row-level security): b24sync cannot tell whether one of them is this "
                      f"deal's, so it creates none; give the user the right to read the documents b24sync makes")
        for row, value in sorted(values, key=lambda pair: (str(pair[0].get("Date", "")), pair[0]["Ref_Key"])):
            if value.strip() in wanted:
                candidates.setdefault(int(value.strip()), []).append(row["Ref_Key"])
        headers = self.headers([ref for refs in candidates.values() for ref in refs])
        found: dict[int, DocumentHeader] = {}
        for deal_id, refs in candidates.items():
            read = [headers[ref.lower()] for ref in refs if ref.lower() in headers]  # ordered by Date, Ref_Key
            live = [header for header in read if not header.deleted]
            if len(live) > 1:
                self.log.warning("onec_duplicate_documents", deal_id=deal_id, refs=[header.ref for header in live],
                                 action="mark the extra documents for deletion in 1C")
            if live or read:
                found[deal_id] = live[0] if live else read[-1]
        for deal_id in sorted(int(value) for value in unsure if int(value) not in found or found[int(value)].deleted):
            found[deal_id] = DocumentHeader("", "", "", posted=False, deleted=False, unreadable=hidden)
        return found

    def find_by_deal(self, deal_id: int, since: datetime | None = None) -> DocumentRef | None:
        """The live document b24sync made for this deal, found by the deal marker (recovery, idempotency); a
        HiddenRowsError when a document hidden from the user may be it."""
        header = self.find_by_deals([deal_id], since).get(deal_id)
        if header is not None and header.unreadable:
            raise errors.HiddenRowsError(header.unreadable, resource=self.profile.order_entity)
        if header is None or header.deleted:
            return None
        return DocumentRef(self.profile.order_entity, header.ref, header.number, header.data_version, header.posted,
                           header.total)

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
        except errors.OutcomeUnknownError as lost:
            # the answer was lost: did the create happen? (the document, if any, carries the date just sent)
            try:
                found = self.find_by_deal(draft.deal_id, datetime.fromisoformat(body["Date"]) if body.get("Date")
                                          else None)
            except errors.HiddenRowsError:
                raise lost from None  # cannot tell: looked for again, as after any lost answer
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

    def post_unconfirmed(self, ref: str) -> None:
        """Post a document, leaving the read-back to `posted_states` (one read for many postings)."""
        self.client.action(entity_path(self.profile.order_entity, ref, "Post"))

    def posted_states(self, refs: Iterable[str]) -> dict[str, DocumentRef]:
        """Number, version and posting of many documents, in `or` chains (by lower-case ref)."""
        rows = self._by_or_chain(self.profile.order_entity, "Ref_Key", [ref.lower() for ref in refs], HEADER,
                                 render=guid)
        return {row["Ref_Key"].lower(): self._ref(row) for row in rows}

    def unpost(self, ref: str) -> DocumentRef:
        self.client.action(entity_path(self.profile.order_entity, ref, "Unpost"))
        return self.read(ref)


def _content_row(item: dict[str, Any], discount: str | None) -> ContentRow:
    """A document row in comparable form: one counted in a packaging (УТ) by its packagings, as b24sync writes it."""
    packaging = str(item.get("Упаковка_Key") or "").lower()
    packaging = "" if packaging in ("", ZERO_GUID) else packaging
    quantity = item.get("КоличествоУпаковок") if packaging else item.get("Количество")
    return ContentRow(str(item.get("Номенклатура_Key", "")), _decimal(quantity), _decimal(item.get("Цена")),
                      _decimal(item.get(discount)) if discount else Decimal(0), packaging)
