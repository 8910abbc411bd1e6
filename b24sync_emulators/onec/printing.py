"""The emulator's invoice printing service: GET /hs/b24sync/v1/invoices/<ref>/pdf answers the PDF 1C prints.

It lays out the base's own printed form (the header, the parties, the total),
independently of b24sync's renderer, so that the downloaded file really comes
from "1C".
"""

from __future__ import annotations

from fpdf import FPDF

from b24sync.invoices.render import FONTS
from b24sync_emulators.onec.base import Base


def print_invoice(base: Base, ref: str) -> bytes:
    entity = "Document_СчетНаОплатуКлиенту" if base.profile.name == "ut11" else "Document_СчетНаОплатуПокупателю"
    invoice = base.get(entity, ref)
    if invoice is None:
        raise LookupError(f"no invoice {ref}")
    seller = base.get("Catalog_Организации", invoice["Организация_Key"]) or {}
    buyer = base.get("Catalog_Контрагенты", invoice["Контрагент_Key"]) or {}
    pdf = FPDF(format="A4")
    pdf.add_font("DejaVu", "", str(FONTS / "DejaVuSans.ttf"))
    pdf.set_creator("1С:Предприятие 8.3")
    pdf.add_page()
    pdf.set_font("DejaVu", "", 14)
    day = invoice["Date"][:10].split("-")
    pdf.multi_cell(0, 8, f"Счет на оплату № {invoice['Number']} от {day[2]}.{day[1]}.{day[0]}",
                   new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 10)
    pdf.multi_cell(0, 6, f"Поставщик: {seller.get('Description', '')}, ИНН {seller.get('ИНН', '')}",
                   new_x="LMARGIN", new_y="NEXT")
    pdf.multi_cell(0, 6, f"Покупатель: {buyer.get('Description', '')}, ИНН {buyer.get('ИНН', '')}",
                   new_x="LMARGIN", new_y="NEXT")
    pdf.multi_cell(0, 6, f"Всего к оплате: {invoice['СуммаДокумента']}", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
