"""Putting 1C invoices on the deal card: the PDF on Disk, its public link, and a timeline comment.

An invoice is uploaded once; again only when it changed in 1C (its DataVersion
and the PDF's content hash), and then a new comment says what changed; old
files are kept. Each invoice of an order is uploaded; the deal's fields show
the latest.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import date
from decimal import Decimal

from b24sync.bitrix24.adapter import Bitrix24Adapter
from b24sync.config import Config
from b24sync.invoices.model import BankDetails, russian_date
from b24sync.invoices.render import render_invoice
from b24sync.logs import get_logger
from b24sync.onec.adapter import OneCAdapter
from b24sync.onec.documents import InvoiceInfo, Snapshot
from b24sync.store.store import Store
from b24sync.sync.mapping import invoice_file_name


class InvoiceError(Exception):
    """An invoice could not be put on its deal (too large, an upload or a link refused)."""

    fatal = False


class InvoicePublisher:
    def __init__(self, config: Config, bitrix: Bitrix24Adapter, onec: OneCAdapter, store: Store) -> None:
        self.config = config
        self.bitrix = bitrix
        self.onec = onec
        self.store = store
        self.log = get_logger("b24sync.invoices")
        self._folder: int | None = None

    def put_on_deal(self, deal_id: int, snapshot: Snapshot) -> str:
        """Upload what is new or changed; return the public link of the latest invoice."""
        latest = ""
        for invoice in sorted(snapshot.invoices, key=lambda item: (item.date or date.min, item.number)):
            latest = self._one(deal_id, invoice)
        return latest

    def _one(self, deal_id: int, invoice: InvoiceInfo) -> str:
        record = self.store.invoice_upload(invoice.ref)
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

    def _finish(self, deal_id: int, invoice: InvoiceInfo, file_id: int, pdf: bytes | None, *, first: bool,
                previous_amount: str = "") -> str:
        """The public link, the comment (with the file) and the record, for an uploaded invoice."""
        try:
            link = self.bitrix.external_link(file_id)
        except Exception as error:
            raise InvoiceError(f"Счёт {invoice.number} загружен на Диск, но Битрикс24 не дал публичную ссылку: "
                               f"{error}") from None
        name = invoice_file_name(invoice.number, invoice.date)
        pdf = pdf if pdf is not None else self._pdf(invoice.ref)
        when = russian_date(invoice.date) if invoice.date else ""
        if first:
            text = (f"Бухгалтерия выставила счёт № {invoice.number} от {when} на сумму {_rub(invoice.amount)}. "
                    f"PDF: {link}")
        else:
            changed = (f"сумма {_rub(Decimal(previous_amount))} → {_rub(invoice.amount)}"
                       if previous_amount and Decimal(previous_amount) != invoice.amount else "содержание")
            text = f"Счёт № {invoice.number} изменён в 1С ({changed}). Новая версия: {link}"
        if self.config.invoices.attach == "field":
            self.bitrix.update_deal(deal_id, {self.config.invoices.file_field: {
                "fileData": [name, base64.b64encode(pdf).decode("ascii")]}})
            self.bitrix.add_timeline_comment(deal_id, text)
        else:
            self.bitrix.add_timeline_comment(deal_id, text, [(name, pdf)])
        record = self.store.invoice_upload(invoice.ref)
        self.store.save_invoice_upload(invoice.ref, deal_id=deal_id, number=invoice.number,
                                       amount=str(invoice.amount), data_version=invoice.data_version,
                                       content_hash=record.content_hash if record else "", file_id=file_id,
                                       link=link)
        self.log.info("invoice_published", deal_id=deal_id, order_ref=invoice.ref, number=invoice.number)
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


def _rub(amount: Decimal) -> str:
    return f"{amount:,.2f} ₽".replace(",", " ").replace(".", ",")
