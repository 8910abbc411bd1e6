"""Invoice PDFs: the amount in words, the rendered invoice's text, and the PDF on the deal card over HTTP."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import requests
from pypdf import PdfReader

from b24sync.invoices.model import BankDetails, InvoiceData, InvoiceRow, Party
from b24sync.invoices.render import render_invoice
from b24sync.invoices.words import amount_in_words
from b24sync.sync.mapping import invoice_file_name
from tests.sync_rig import Rig


@pytest.mark.parametrize("amount, words", [
    ("0", "Ноль рублей 00 копеек"),
    ("0.01", "Ноль рублей 01 копейка"),
    ("1", "Один рубль 00 копеек"),
    ("2", "Два рубля 00 копеек"),
    ("5", "Пять рублей 00 копеек"),
    ("11", "Одиннадцать рублей 00 копеек"),
    ("21", "Двадцать один рубль 00 копеек"),
    ("112.22", "Сто двенадцать рублей 22 копейки"),
    ("1001.05", "Одна тысяча один рубль 05 копеек"),
    ("2002.11", "Две тысячи два рубля 11 копеек"),
    ("1000000", "Один миллион рублей 00 копеек"),
    ("21000000.21", "Двадцать один миллион рублей 21 копейка"),
])
def test_amounts_in_words_agree_in_form(amount: str, words: str) -> None:
    assert amount_in_words(Decimal(amount)) == words


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def test_the_rendered_invoice_reads_right() -> None:
    names = ["Кабель ВВГнг-LS 3х2,5", "Розетка Legrand Valena двойная", "Монтаж электропроводки «под ключ»"]
    rows = tuple(InvoiceRow(name, Decimal(index + 1), "шт", Decimal("122.00"), Decimal("122.00") * (index + 1),
                            Decimal(22), (Decimal("22.00") * (index + 1))) for index, name in enumerate(names))
    invoice = InvoiceData("ЭС00-000012", date(2026, 11, 26), Party("ООО «Электросбыт»", "7701234560", "770101001"),
                          Party("ООО «Ромашка»", "7712345678", "771201001"), rows, True, Decimal("732.00"),
                          BankDetails("ПАО Сбербанк", "044525225", "40702810900000012345", "30101810400000000225"),
                          date(2026, 12, 6), "Заказ клиента № ЭС00-000003")
    text = pdf_text(render_invoice(invoice))
    assert "Счёт на оплату № ЭС00-000012 от 26 ноября 2026 г." in text
    assert "ООО «Ромашка», ИНН 7712345678, КПП 771201001" in text and "044525225" in text
    for name in names:
        assert name in text
    assert "В том числе НДС 22%: 132,00" in text and "Всего к оплате: 732,00" in text
    assert "Семьсот тридцать два рубля 00 копеек" in text and "действителен до 6 декабря 2026 г." in text


def test_file_names_are_made_safe() -> None:
    assert invoice_file_name("ЭС00/12:*?", date(2026, 11, 26)) == "Счет ЭС00_12___ от 26.11.2026.pdf"


def uploads(rig: Rig) -> int:
    return rig.portal.app.stats.snapshot()["writes_by_method"].get("disk.folder.uploadfile", 0)


@pytest.mark.parametrize("profile", ["ut11", "bp30"])
def test_an_invoice_from_1c_appears_on_the_deal_once_and_again_when_changed(tmp_path: Path, profile: str) -> None:
    rig = Rig.start(tmp_path, profile=profile)
    try:
        engine = rig.engine()
        rig.move(1)
        engine.push()
        order = rig.documents_for(1)[0]
        accountant = rig.accountant()
        if profile == "ut11":
            invoice = accountant.invoice(order["Ref_Key"], float(order["СуммаДокумента"]))
            entity = "Document_СчетНаОплатуКлиенту"
        else:
            invoice, entity = order, "Document_СчетНаОплатуПокупателю"  # in БП the deal's document is the invoice
        rig.reset_stats()
        engine.pull()
        deal = rig.deal(1)
        link = deal["UF_CRM_INVOICE_URL"]
        assert link.startswith(rig.portal.root + "/~") and uploads(rig) == 1
        downloaded = requests.get(link, timeout=10).content
        text = pdf_text(downloaded)
        assert f"№ {invoice['Number']}" in text and "Всего к оплате" in text
        comments = [item for item in rig.portal.portal.timeline.values() if item["ENTITY_ID"] == "1"]
        assert len(comments) == 1 and comments[0]["FILES"] and invoice["Number"] in comments[0]["COMMENT"]
        files = [item for item in rig.portal.portal.files.values()
                 if item["NAME"].startswith(f"Счет {invoice['Number']}")]
        assert files and files[0]["NAME"].endswith(".pdf")

        engine.pull()
        assert uploads(rig) == 1  # unchanged: nothing uploaded again

        accountant.patch(entity, invoice["Ref_Key"], {"СуммаДокумента": float(invoice["СуммаДокумента"]) + 100})
        engine.pull()
        assert uploads(rig) == 2 and rig.deal(1)["UF_CRM_INVOICE_URL"] != link
        comments = [item for item in rig.portal.portal.timeline.values() if item["ENTITY_ID"] == "1"]
        assert len(comments) == 2 and "изменён в 1С" in comments[-1]["COMMENT"]
        assert requests.get(link, timeout=10).status_code == 200  # the old file is kept
    finally:
        rig.stop()


def test_several_invoices_each_once_and_the_latest_on_the_deal(tmp_path: Path) -> None:
    rig = Rig.start(tmp_path)
    try:
        engine = rig.engine()
        rig.move(1)
        engine.push()
        order = rig.documents_for(1)[0]
        half = round(float(order["СуммаДокумента"]) / 2, 2)
        first = rig.accountant().invoice(order["Ref_Key"], half)
        engine.pull()
        rig.clock.advance(3600)
        second = rig.accountant().invoice(order["Ref_Key"], half)
        rig.reset_stats()
        engine.pull()
        assert uploads(rig) == 1  # only the new one
        deal = rig.deal(1)
        assert deal["UF_CRM_INVOICE_NUMBER"] == second["Number"] != first["Number"]
        latest = engine.store.invoice_upload(second["Ref_Key"])
        assert deal["UF_CRM_INVOICE_URL"] == latest.link
        assert len([item for item in rig.portal.portal.timeline.values() if item["ENTITY_ID"] == "1"]) == 2
    finally:
        rig.stop()


def test_the_pdf_1c_prints_through_its_http_service(tmp_path: Path) -> None:
    rig = Rig.start(tmp_path)
    try:
        onec = rig.config.onec.__class__(**{**rig.config.onec.__dict__, "invoice_pdf": "http_service",
                                            "invoice_service_url": rig.base.service_root})
        engine = rig.engine(onec=onec)
        rig.move(1)
        engine.push()
        order = rig.documents_for(1)[0]
        invoice = rig.accountant().invoice(order["Ref_Key"], float(order["СуммаДокумента"]))
        engine.pull()
        downloaded = requests.get(rig.deal(1)["UF_CRM_INVOICE_URL"], timeout=10).content
        assert PdfReader(io.BytesIO(downloaded)).metadata.creator == "1С:Предприятие 8.3"
        assert f"Счет на оплату № {invoice['Number']}" in pdf_text(downloaded)
    finally:
        rig.stop()


def test_an_oversized_pdf_fails_its_deal_alone_and_is_retried(tmp_path: Path) -> None:
    rig = Rig.start(tmp_path)
    try:
        invoices = rig.config.invoices.__class__(max_size_mb=0.001)
        engine = rig.engine(invoices=invoices)
        for deal_id in (1, 2):
            rig.move(deal_id)
        engine.push()
        order = rig.documents_for(1)[0]
        rig.accountant().invoice(order["Ref_Key"], float(order["СуммаДокумента"]))
        other = rig.documents_for(2)[0]
        rig.accountant().pay(other["Ref_Key"], float(other["СуммаДокумента"]))
        report = engine.pull()
        assert "больше разрешённых" in report.failed[1] and 2 not in report.failed
        assert rig.deal(2)["UF_CRM_PAYMENT_STATUS"] != ""  # the other deal went through
        assert engine.store.failure(1, "writeback") is not None
        fixed = rig.engine()
        assert not fixed.pull().failed and not rig.deal(1)["UF_CRM_INVOICE_URL"]  # its retry is not due yet
        rig.clock.advance(61)
        assert not fixed.pull().failed and rig.deal(1)["UF_CRM_INVOICE_URL"]
    finally:
        rig.stop()


def test_a_refused_link_or_a_missing_print_service_fails_the_deal_with_a_clear_reason(tmp_path: Path) -> None:
    rig = Rig.start(tmp_path)
    try:
        engine = rig.engine()
        for deal_id in (1, 2):
            rig.move(deal_id)
        engine.push()
        order = rig.documents_for(1)[0]
        rig.accountant().invoice(order["Ref_Key"], float(order["СуммаДокумента"]))
        requests.post(f"{rig.portal.root}/_emulator/faults", json={
            "method": "disk.file.getExternalLink", "status": 400, "error": "ACCESS_DENIED_LINK",
            "description": "External links are disabled"}, timeout=5)
        report = engine.pull()
        assert "не дал публичную ссылку" in report.failed[1]
        requests.delete(f"{rig.portal.root}/_emulator/faults", timeout=5)
        rig.clock.advance(61)
        assert not engine.pull().failed and rig.deal(1)["UF_CRM_INVOICE_URL"]
        assert uploads(rig) == 1  # the file uploaded before the refusal was kept, not uploaded twice

        onec = rig.config.onec.__class__(**{**rig.config.onec.__dict__, "invoice_pdf": "http_service",
                                            "invoice_service_url": rig.base.root + "/trade/hs/nothing/v1/"})
        other = rig.documents_for(2)[0]
        rig.accountant().invoice(other["Ref_Key"], float(other["СуммаДокумента"]))
        missing = rig.engine(onec=onec).pull()
        assert 2 in missing.failed
        assert "instead of a PDF for invoice" in rig.engines[-1].store.failure(2, "writeback").error
    finally:
        rig.stop()


def test_the_pdf_can_go_into_a_deal_file_field(tmp_path: Path) -> None:
    rig = Rig.start(tmp_path)
    try:
        rig.call("crm.deal.userfield.add", {"fields": {"FIELD_NAME": "INVOICE_FILE", "USER_TYPE_ID": "file"}})
        engine = rig.engine(invoices=rig.config.invoices.__class__(attach="field"))
        rig.move(1)
        engine.push()
        order = rig.documents_for(1)[0]
        rig.accountant().invoice(order["Ref_Key"], float(order["СуммаДокумента"]))
        engine.pull()
        value = rig.deal(1)["UF_CRM_INVOICE_FILE"]
        assert isinstance(value["id"], int) and rig.deal(1)["UF_CRM_INVOICE_URL"]
        comment = [item for item in rig.portal.portal.timeline.values() if item["ENTITY_ID"] == "1"][-1]
        assert not comment["FILES"] and "PDF:" in comment["COMMENT"]
    finally:
        rig.stop()
