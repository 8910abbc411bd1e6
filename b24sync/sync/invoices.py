"""Putting 1C invoices on the deal card: the PDF on Disk, its public link, and a timeline comment.

An invoice is uploaded once; again only when it changed in 1C (its DataVersion
and the PDF's content hash), and then a new comment says what changed; old
files are kept. Each invoice of an order is uploaded; the deal's fields show
the latest. The comments go through the cycle's outbox. After a lost state
file, an invoice already on Disk (by the file name b24sync gives it) and its
comment already on the timeline are recognised and adopted, not published again.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from decimal import Decimal

from b24sync.bitrix24.adapter import Bitrix24Adapter
from b24sync.bitrix24.records import DiskFile
from b24sync.config import Config
from b24sync.errors import ItemError
from b24sync.invoices.currency import money
from b24sync.invoices.model import BankDetails, russian_date
from b24sync.invoices.render import render_invoice
from b24sync.logs import get_logger
from b24sync.onec.adapter import OneCAdapter
from b24sync.onec.documents import InvoiceInfo, Snapshot
from b24sync.store.store import Store
from b24sync.sync.mapping import invoice_file_name
from b24sync.sync.outbox import Outbox, file_value


class InvoiceError(ItemError):
    """An invoice could not be put on its deal (too large, an upload or a link refused)."""

    code = "invoice"


class InvoicePublisher:
    def __init__(self, config: Config, bitrix: Bitrix24Adapter, onec: OneCAdapter, store: Store) -> None:
        self.config = config
        self.bitrix = bitrix
        self.onec = onec
        self.store = store
        self.log = get_logger("b24sync.invoices")
        self._folder: int | None = None
        self._folder_files: dict[str, DiskFile] | None = None
        self.outbox = Outbox()

    def put_on_deal(self, deal_id: int, snapshot: Snapshot, outbox: Outbox) -> str:
        """Upload what is new or changed; return the public link of the latest invoice."""
        if outbox is not self.outbox:  # a new cycle: what the invoice folder holds is read anew when needed
            self.outbox, self._folder_files = outbox, None
        latest = ""
        for invoice in sorted(snapshot.invoices, key=lambda item: (item.date or date.min, item.number)):
            latest = self._one(deal_id, invoice)
        return latest

    def _one(self, deal_id: int, invoice: InvoiceInfo) -> str:
        record = self.store.invoice_upload(invoice.ref)
        if record is None and self._maybe_published(deal_id, invoice):
            adopted = self._adopt(deal_id, invoice)
            if adopted:
                return adopted
        if record is not None and record.data_version == invoice.data_version and record.link:
            return record.link
        if record is not None and record.data_version == invoice.data_version:
            return self._finish(deal_id, invoice, record.file_id, None, first=record.amount == "")
        pdf = self._pdf(invoice.ref)
        limit = self.config.invoices.max_size_mb * 1024 * 1024
        if len(pdf) > limit:
            raise InvoiceError(f"Счёт {invoice.number}: PDF занимает {len(pdf) / 1048576:.2f} МБ, больше "
                               f"разрешённых {self.config.invoices.max_size_mb:g} МБ ('invoices.max_size_mb').")
        digest = hashlib.sha256(pdf).hexdigest()
        if record is not None and record.content_hash == digest:
            self.store.save_invoice_upload(invoice.ref, deal_id=deal_id, number=invoice.number,
                                           amount=str(invoice.amount), data_version=invoice.data_version,
                                           content_hash=digest, file_id=record.file_id, link=record.link)
            return record.link
        name = invoice_file_name(invoice.number, invoice.date)
        uploaded = self.bitrix.upload_file(self.folder(), name, pdf)
        # remembered at once: a failure from here on never uploads the same file again
        self.store.save_invoice_upload(invoice.ref, deal_id=deal_id, number=invoice.number,
                                       amount="" if record is None else record.amount,
                                       data_version=invoice.data_version, content_hash=digest,
                                       file_id=uploaded.id, link="")
        return self._finish(deal_id, invoice, uploaded.id, pdf, first=record is None,
                            previous_amount=record.amount if record is not None else "")

    def _maybe_published(self, deal_id: int, invoice: InvoiceInfo) -> bool:
        """An invoice unknown to the state but dated before its binding was made may be on Disk already (the
        state file was lost and the bindings recovered); a new invoice of a known order is not looked for."""
        binding = self.store.binding_for_deal(deal_id)
        if binding is None or invoice.date is None:
            return True
        return invoice.date <= datetime.fromtimestamp(binding.created_at).date()

    def _adopt(self, deal_id: int, invoice: InvoiceInfo) -> str:
        """The file b24sync uploaded before the state was lost, with its link; commented again only if the
        deal's timeline does not tell of it. Empty when there is no such file."""
        if self._folder_files is None:
            self._folder_files = self.bitrix.folder_files(self.folder())
        existing = self._folder_files.get(invoice_file_name(invoice.number, invoice.date))
        if existing is None:
            return ""
        told = any(f"№ {invoice.number} " in text for text in self.bitrix.timeline_comments(deal_id))
        pdf = self._pdf(invoice.ref)
        digest = hashlib.sha256(pdf).hexdigest()
        self.store.save_invoice_upload(invoice.ref, deal_id=deal_id, number=invoice.number, amount="",
                                       data_version=invoice.data_version, content_hash=digest, file_id=existing.id,
                                       link="")
        if not told:
            return self._finish(deal_id, invoice, existing.id, pdf, first=True)
        link = self._link(invoice, existing.id)
        self.store.save_invoice_upload(invoice.ref, deal_id=deal_id, number=invoice.number,
                                       amount=str(invoice.amount), data_version=invoice.data_version,
                                       content_hash=digest, file_id=existing.id, link=link)
        self.log.info("invoice_adopted", deal_id=deal_id, order_ref=invoice.ref, number=invoice.number)
        return link

    def _link(self, invoice: InvoiceInfo, file_id: int) -> str:
        try:
            return self.bitrix.external_link(file_id)
        except Exception as error:
            raise InvoiceError(f"Счёт {invoice.number} загружен на Диск, но Битрикс24 не дал публичную ссылку: "
                               f"{error}") from None

    def _finish(self, deal_id: int, invoice: InvoiceInfo, file_id: int, pdf: bytes | None, *, first: bool,
                previous_amount: str = "") -> str:
        """The public link, the comment (with the file) and the record, for an uploaded invoice."""
        link = self._link(invoice, file_id)
        name = invoice_file_name(invoice.number, invoice.date)
        pdf = pdf if pdf is not None else self._pdf(invoice.ref)
        when = russian_date(invoice.date) if invoice.date else ""
        amount = money(invoice.amount, invoice.currency)
        if first:
            text = f"Бухгалтерия выставила счёт № {invoice.number} от {when} на сумму {amount}. PDF: {link}"
        else:
            changed = (f"сумма {money(Decimal(previous_amount), invoice.currency)} → {amount}"
                       if previous_amount and Decimal(previous_amount) != invoice.amount else "содержание")
            text = f"Счёт № {invoice.number} изменён в 1С ({changed}). Новая версия: {link}"
        record = self.store.invoice_upload(invoice.ref)

        def published() -> None:  # once the comment went in: the invoice is not told again
            self.store.save_invoice_upload(invoice.ref, deal_id=deal_id, number=invoice.number,
                                           amount=str(invoice.amount), data_version=invoice.data_version,
                                           content_hash=record.content_hash if record else "", file_id=file_id,
                                           link=link)
            self.log.info("invoice_published", deal_id=deal_id, order_ref=invoice.ref, number=invoice.number)

        if self.config.invoices.attach == "field":
            self.outbox.update(deal_id, {self.config.invoices.file_field: file_value(name, pdf)})
            self.outbox.comment_with_files(deal_id, text, [], published)
        else:
            self.outbox.comment_with_files(deal_id, text, [(name, pdf)], published)
        return link

    def _pdf(self, invoice_ref: str) -> bytes:
        if self.config.onec.invoice_pdf == "http_service":
            return self.onec.printed_invoice(self.config.onec.invoice_service_url or "", invoice_ref)
        bank = self.config.invoices.bank
        details = BankDetails(bank.get("name") or "", bank.get("bik") or "", bank.get("account") or "",
                              bank.get("correspondent_account") or "") if bank.get("account") else None
        return render_invoice(self.onec.invoice_data(invoice_ref, details, self.config.invoices.valid_days))

    def folder(self) -> int:
        """The configured Disk folder, found by name in the configured storage, created if missing."""
        if self._folder is None:
            storages = self.bitrix.storages()
            wanted = self.config.invoices.disk_storage
            if wanted is None:
                storage = next((item for item in storages if item.get("ENTITY_TYPE") == "common"), None)
            else:
                storage = next((item for item in storages if str(item.get("ID")) == str(wanted)
                                or item.get("NAME") == wanted), None)
            if storage is None:
                raise InvoiceError(f"На Диске Битрикс24 нет хранилища «{wanted or 'Общий диск'}» "
                                   f"('invoices.disk_storage'): укажите имя или ID существующего хранилища.")
            self._folder = self.bitrix.find_or_create_folder(int(storage["ID"]), self.config.invoices.disk_folder)
        return self._folder
