"""Drawing the Russian invoice («Счёт на оплату») as a PDF.

fpdf2 writes the PDF with the DejaVu Sans font shipped in this package, so
Cyrillic renders the same everywhere, whatever fonts the server has.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from fpdf import FPDF

from b24sync.invoices.model import InvoiceData, russian_date
from b24sync.invoices.words import amount_in_words

FONTS = Path(__file__).with_name("fonts")


def _money(value: Decimal) -> str:
    whole, _, cents = f"{value:.2f}".partition(".")
    groups = []
    while whole:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    return " ".join(groups) + "," + cents


def _quantity(value: Decimal) -> str:
    text = f"{value.normalize():f}"
    return text.replace(".", ",")


def render_invoice(invoice: InvoiceData) -> bytes:
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_font("DejaVu", "", str(FONTS / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(FONTS / "DejaVuSans-Bold.ttf"))
    pdf.set_title(invoice.title)
    pdf.set_creator("b24sync")
    pdf.add_page()
    width = pdf.epw

    if invoice.bank is not None:
        bank = invoice.bank
        pdf.set_font("DejaVu", "", 8)
        pdf.cell(width * 0.6, 5, bank.bank, border="LT")
        pdf.cell(width * 0.1, 5, "БИК", border="LT")
        pdf.cell(width * 0.3, 5, bank.bik, border="LTR", new_x="LMARGIN", new_y="NEXT")
        pdf.cell(width * 0.6, 5, "Банк получателя", border="LB")
        pdf.cell(width * 0.1, 5, "Сч. №", border="LT")
        pdf.cell(width * 0.3, 5, bank.correspondent_account, border="LTR", new_x="LMARGIN", new_y="NEXT")
        pdf.cell(width * 0.3, 5, f"ИНН {invoice.seller.inn}", border="LT")
        pdf.cell(width * 0.3, 5, f"КПП {invoice.seller.kpp}", border="LT")
        pdf.cell(width * 0.1, 5, "Сч. №", border="LT")
        pdf.cell(width * 0.3, 5, bank.account, border="LTR", new_x="LMARGIN", new_y="NEXT")
        pdf.cell(width * 0.6, 5, invoice.seller.name, border="LTB")
        pdf.cell(width * 0.1, 5, "", border="LB")
        pdf.cell(width * 0.3, 5, "", border="LRB", new_x="LMARGIN", new_y="NEXT")
        pdf.cell(width * 0.6, 4, "Получатель", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)

    pdf.set_font("DejaVu", "B", 14)
    pdf.multi_cell(width, 8, invoice.title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_draw_color(0)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + width, pdf.get_y())
    pdf.ln(2)
    pdf.set_font("DejaVu", "", 9)
    for label, party in (("Поставщик (исполнитель):", invoice.seller), ("Покупатель (заказчик):", invoice.buyer)):
        pdf.set_font("DejaVu", "", 9)
        pdf.cell(40, 5, label)
        pdf.set_font("DejaVu", "B", 9)
        pdf.multi_cell(width - 40, 5, party.line, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)
    if invoice.basis:
        pdf.set_font("DejaVu", "", 9)
        pdf.cell(40, 5, "Основание:")
        pdf.multi_cell(width - 40, 5, invoice.basis, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)

    columns = [("№", 8, "C"), ("Товары (работы, услуги)", width - 8 - 18 - 12 - 26 - 28, "L"),
               ("Кол-во", 18, "R"), ("Ед.", 12, "C"), ("Цена", 26, "R"), ("Сумма", 28, "R")]
    pdf.set_font("DejaVu", "B", 8)
    for title, size, _ in columns:
        pdf.cell(size, 6, title, border=1, align="C")
    pdf.ln()
    pdf.set_font("DejaVu", "", 8)
    for index, row in enumerate(invoice.rows, start=1):
        values = [str(index), row.name, _quantity(row.quantity), row.unit, _money(row.price), _money(row.amount)]
        name_width = columns[1][1]
        lines = max(1, len(pdf.multi_cell(name_width, 5, row.name, dry_run=True, output="LINES")))
        height = 5 * lines
        if pdf.get_y() + height > pdf.page_break_trigger:
            pdf.add_page()
        top = pdf.get_y()
        left = pdf.l_margin
        for (title, size, align), value in zip(columns, values, strict=True):
            pdf.set_xy(left, top)
            if title.startswith("Товары"):
                pdf.multi_cell(size, 5, value, border=1, align=align, max_line_height=5)
                pdf.set_xy(left, top)
                pdf.cell(size, height, "", border=1)
            else:
                pdf.cell(size, height, value, border=1, align=align)
            left += size
        pdf.set_xy(pdf.l_margin, top + height)

    amount = sum((row.amount for row in invoice.rows), Decimal(0))
    pdf.ln(2)
    right = width - 28

    def total_line(label: str, value: str, bold: bool = True) -> None:
        pdf.set_font("DejaVu", "B" if bold else "", 9)
        pdf.cell(right, 5, label, align="R")
        pdf.cell(28, 5, value, align="R", new_x="LMARGIN", new_y="NEXT")

    total_line("Итого:", _money(amount))
    for rate, vat in sorted(invoice.vat_by_rate().items(), key=lambda item: -1 if item[0] is None else item[0]):
        if rate is None:
            total_line("Без налога (НДС)", "-")
        else:
            label = "В том числе НДС" if invoice.prices_include_vat else "Сумма НДС"
            total_line(f"{label} {rate.normalize():f}%:", _money(vat))
    total_line("Всего к оплате:", _money(invoice.total))
    pdf.ln(2)
    pdf.set_font("DejaVu", "", 9)
    pdf.multi_cell(width, 5, f"Всего наименований {len(invoice.rows)}, на сумму {_money(invoice.total)} руб.",
                   new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "B", 9)
    pdf.multi_cell(width, 5, amount_in_words(invoice.total), new_x="LMARGIN", new_y="NEXT")
    if invoice.valid_until:
        pdf.set_font("DejaVu", "", 9)
        pdf.multi_cell(width, 5, f"Счёт действителен до {russian_date(invoice.valid_until)}", new_x="LMARGIN",
                       new_y="NEXT")
    pdf.ln(8)
    pdf.set_font("DejaVu", "", 9)
    pdf.cell(width / 2, 5, "Руководитель ______________________")
    pdf.cell(width / 2, 5, "Бухгалтер ______________________", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
