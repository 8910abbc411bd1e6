"""The cycle's outbox: every write to Bitrix24 of one cycle, sent 50 to a request, and what follows from it.

Deal field updates and timeline comments are queued while a chunk of deals
is worked on and sent together at the end of the chunk. What b24sync must
remember once a write went in (the fields it wrote, the DATE_MODIFY the deal
had after it, that a failure was told, that a deal that failed went through
at last) is kept here, beside the write, and done only for what really went
in; what did not go in is retried at the next cycle.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from b24sync.bitrix24 import errors as b24_errors
from b24sync.bitrix24.adapter import UPDATES_WITH_READ_BACK, Bitrix24Adapter
from b24sync.bitrix24.wire import chunked
from b24sync.errors import ItemError
from b24sync.logs import get_logger
from b24sync.store.store import Store
from b24sync.sync import mapping

CHUNK = 50


@dataclass
class FileComment:
    text: str
    files: list[tuple[str, bytes]]
    on_sent: Callable[[], None] | None = None


@dataclass
class Outbox:
    """What one cycle will write to Bitrix24, by deal."""

    updates: dict[int, dict[str, Any]] = field(default_factory=dict)
    comments: dict[int, list[str]] = field(default_factory=dict)
    file_comments: dict[int, list[FileComment]] = field(default_factory=dict)
    tells: dict[int, str] = field(default_factory=dict)  # deal -> the failure reason its comment tells about
    recovered: set[int] = field(default_factory=set)  # failed deals that went through: cleared once written
    keep_failure: set[int] = field(default_factory=set)  # deals whose write-back failed this cycle

    def update(self, deal_id: int, fields: dict[str, Any]) -> None:
        self.updates.setdefault(deal_id, {}).update(fields)

    def comment(self, deal_id: int, text: str) -> None:
        self.comments.setdefault(deal_id, []).append(text)

    def comment_with_files(self, deal_id: int, text: str, files: list[tuple[str, bytes]],
                           on_sent: Callable[[], None] | None = None) -> None:
        """A comment that carries files (an invoice PDF): sent on its own request, then `on_sent` runs."""
        self.file_comments.setdefault(deal_id, []).append(FileComment(text, files, on_sent))

    def tell_failure(self, deal_id: int, reason: str, text: str) -> None:
        self.comment(deal_id, text)
        self.tells[deal_id] = reason

    def forget(self, deal_id: int) -> None:
        """The deal failed after its writes were queued: nothing of it counts as recovered."""
        self.recovered.discard(deal_id)


class Sender:
    """Sends an outbox and does the bookkeeping of what went in; failures come back as (deal, error) pairs."""

    def __init__(self, bitrix: Bitrix24Adapter, store: Store, select: list[str] = mapping.DEAL_SELECT) -> None:
        self.bitrix = bitrix
        self.store = store
        self.select = select  # the deal fields a listing reads (mapping.deal_select): read back after a write
        self.log = get_logger("b24sync.outbox")

    def send(self, outbox: Outbox) -> list[tuple[int, Exception]]:
        failed: list[tuple[int, Exception]] = []
        for chunk in chunked(list(outbox.updates.items()), UPDATES_WITH_READ_BACK):
            try:
                result = self.bitrix.update_deals(dict(chunk), read_back=self.select)
            except b24_errors.Bitrix24Error as error:
                if error.fatal:
                    raise
                failed += [(deal_id, error) for deal_id, _ in chunk]  # retried at the next cycle, not lost
                continue
            with self.store.grouped():  # one commit for the batch's bookkeeping
                for deal_id, fields in chunk:
                    if deal_id in result.errors:
                        failed.append((deal_id, result.errors[deal_id]))
                        continue
                    self._written(deal_id, fields, result.before.get(deal_id), result.rows.get(deal_id), outbox)
        self._send_comments(outbox)
        for deal_id, items in outbox.file_comments.items():
            for item in items:
                try:
                    self.bitrix.add_timeline_comment(deal_id, item.text, item.files)
                except b24_errors.Bitrix24Error as error:
                    if error.fatal:
                        raise
                    failed.append((deal_id, ItemError(f"Счёт не прикреплён к сделке: {error}", code="invoice_comment",
                                                      system=error.system)))
                    continue
                if item.on_sent is not None:
                    item.on_sent()
        with self.store.grouped():
            for deal_id in outbox.recovered - set(outbox.updates):  # nothing was left to write back for these
                self.store.clear_failure(deal_id)
        return failed

    def _written(self, deal_id: int, fields: dict[str, Any], before: dict[str, Any] | None,
                 row: dict[str, Any] | None, outbox: Outbox) -> None:
        if deal_id not in outbox.keep_failure:
            self.store.clear_failure(deal_id, "writeback")
        if deal_id in outbox.recovered:
            self.store.clear_failure(deal_id)
        self.store.record_written_fields(deal_id, {name: value for name, value in fields.items()
                                                   if name != "STAGE_ID" and not isinstance(value, dict)})
        binding = self.store.binding_for_deal(deal_id)
        if binding is None:
            return
        # DATE_MODIFY has a resolution of a second: the listed fields must be as b24sync saw them, too
        untouched = before is not None and bool(binding.deal_modified) and \
            str(before.get("DATE_MODIFY") or "") == binding.deal_modified and \
            mapping.deal_inputs(before, self.select) == binding.deal_inputs
        if untouched and row is not None:
            # nobody changed the deal since b24sync last looked: as its own write left it, it need not be read again
            self.store.record_deal_seen(deal_id, str(row.get("DATE_MODIFY") or ""),
                                        mapping.deal_inputs(row, self.select))
        else:
            self.store.record_deal_seen(deal_id, "", "")  # a manager's edit may hide behind the write: read it

    def _send_comments(self, outbox: Outbox) -> None:
        texts = {deal_id: "\n\n".join(items) for deal_id, items in outbox.comments.items()}
        failures: dict[int, Any] = {}
        for chunk in chunked(list(texts.items()), CHUNK):
            try:
                failures.update(self.bitrix.add_timeline_comments(dict(chunk)))
            except b24_errors.Bitrix24Error as error:
                if error.fatal:
                    raise
                failures.update({deal_id: error for deal_id, _ in chunk})
        for deal_id, error in failures.items():
            self.log.warning("timeline_comment_failed", deal_id=deal_id, error=str(error))
        with self.store.grouped():
            for deal_id, reason in outbox.tells.items():
                if deal_id not in failures:  # told, for sure: not again for the same reason
                    self.store.mark_failure_commented(deal_id, reason)


def file_value(name: str, content: bytes) -> dict[str, Any]:
    """A file for a deal's file field, as crm.deal.update takes it."""
    return {"fileData": [name, base64.b64encode(content).decode("ascii")]}
