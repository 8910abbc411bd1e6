"""Drawing the Russian invoice («Счёт на оплату») as a PDF.

fpdf2 writes the PDF with the DejaVu Sans font shipped in this package, so
Cyrillic renders the same everywhere, whatever fonts the server has.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from fpdf import FPDF, FontFace

from b24sync.invoices.currency import figure
from b24sync.invoices.model import InvoiceData, russian_date
from b24sync.invoices.words import amount_in_words
from b24sync.logs import get_logger

FONTS = Path(__file__).with_name("fonts")
MISSING = "□"  # drawn for a character the font lacks, so the reader sees something was there
log = get_logger("b24sync.invoices")


def _quantity(value: Decimal) -> str:
    text = f"{value.normalize():f}"
    return text.replace(".", ",")


def render_invoice(invoice: InvoiceData) -> bytes:
    """The PDF. Characters the font lacks (most emoji) are shown as □ and logged once per rendering."""
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_font("DejaVu", "", str(FONTS / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(FONTS / "DejaVuSans-Bold.ttf"))
    pdf.set_font("DejaVu", "B", 9)
    bold = set(pdf.current_font.cmap)
    pdf.set_font("DejaVu", "", 9)
    glyphs = set(pdf.current_font.cmap) & bold  # a character either face lacks would vanish from its lines
    replaced: set[str] = set()

    def text(value: str) -> str:
        """`value` with every character the font cannot draw replaced visibly (and remembered)."""
        missing = {char for char in value if ord(char) not in glyphs and char.isprintable()}
        replaced.update(missing)
        return "".join(MISSING if char in missing else char for char in value) if missing else value

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
        pdf.cell(width * 0.6, 5, text(invoice.seller.name), border="LTB")
        pdf.cell(width * 0.1, 5, "", border="LB")
        pdf.cell(width * 0.3, 5, "", border="LRB", new_x="LMARGIN", new_y="NEXT")
        pdf.cell(width * 0.6, 4, "Получатель", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)

    pdf.set_font("DejaVu", "B", 14)
    pdf.multi_cell(width, 8, text(invoice.title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_draw_color(0)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + width, pdf.get_y())
    pdf.ln(2)
    labelled = [("Поставщик (исполнитель):", invoice.seller.line), ("Покупатель (заказчик):", invoice.buyer.line)]
    if invoice.basis:
        labelled.append(("Основание:", invoice.basis))
    pdf.set_font("DejaVu", "", 9)
    label_width = max(pdf.get_string_width(label) for label, _ in labelled) + 3  # a label never runs into its value
    for label, value in labelled:
        pdf.set_font("DejaVu", "", 9)
        pdf.cell(label_width, 5, label)
        pdf.set_font("DejaVu", "B" if label != "Основание:" else "", 9)
        pdf.multi_cell(width - label_width, 5, text(value), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)
    pdf.ln(2)

    price_label = "Цена" if invoice.prices_include_vat else "Цена без НДС"
    amount_label = "Сумма" if invoice.prices_include_vat else "Сумма без НДС"
    discounted = any(row.discount for row in invoice.rows)  # a «Скидка» column only when a row has one
    headings = ("№", "Товары (работы, услуги)", "Кол-во", "Ед.", price_label, *(("Скидка",) if discounted else ()),
                amount_label)
    sizes = (8, 18, 12, 26, *((22,) if discounted else ()), 28)
    pdf.set_font("DejaVu", "", 8)
    with pdf.table(col_widths=(sizes[0], width - sum(sizes), *sizes[1:]), width=width, line_height=4.5,
                   text_align=("CENTER", "LEFT", "RIGHT", "CENTER", "RIGHT", *(("RIGHT",) if discounted else ()),
                               "RIGHT"), repeat_headings=1, headings_style=FontFace(emphasis="BOLD"),
                   num_heading_rows=1) as table:
        heading = table.row()
        for title in headings:
            heading.cell(title, align="CENTER")
        for index, row in enumerate(invoice.rows, start=1):
            cells = table.row()
            for value in (str(index), text(row.name), _quantity(row.quantity), text(row.unit), figure(row.price),
                          *((figure(row.discount) if row.discount else "",) if discounted else ()),
                          figure(row.amount)):
                cells.cell(value)

    amount = sum((row.amount for row in invoice.rows), Decimal(0))
    pdf.ln(2)
    right = width - 28

    def total_line(label: str, value: str, bold: bool = True) -> None:
        pdf.set_font("DejaVu", "B" if bold else "", 9)
        pdf.cell(right, 5, label, align="R")
        pdf.cell(28, 5, value, align="R", new_x="LMARGIN", new_y="NEXT")

    total_line("Итого:", figure(amount))
    for rate, vat in sorted(invoice.vat_by_rate().items(), key=lambda item: -1 if item[0] is None else item[0]):
        if rate is None:
            total_line("Без налога (НДС)", "-")
        else:
            label = "В том числе НДС" if invoice.prices_include_vat else "Сумма НДС"
            total_line(f"{label} {rate.normalize():f}%:", figure(vat))
    total_line("Всего к оплате:", figure(invoice.total))
    pdf.ln(2)
    pdf.set_font("DejaVu", "", 9)
    pdf.multi_cell(width, 5, f"Всего наименований {len(invoice.rows)}, на сумму {figure(invoice.total)} "
                             f"{invoice.currency.short}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "B", 9)
    pdf.multi_cell(width, 5, amount_in_words(invoice.total, invoice.currency), new_x="LMARGIN", new_y="NEXT")
    if invoice.valid_until:
        pdf.set_font("DejaVu", "", 9)
        pdf.multi_cell(width, 5, f"Счёт действителен до {russian_date(invoice.valid_until)}", new_x="LMARGIN",
                       new_y="NEXT")
    if replaced:
        log.warning("invoice_characters_replaced", invoice=invoice.number, characters="".join(sorted(replaced)),
                    action=f"the PDF shows {MISSING} for them; the font has no such characters")
    pdf.ln(8)
    pdf.set_font("DejaVu", "", 9)
    pdf.cell(width / 2, 5, "Руководитель ______________________")
    pdf.cell(width / 2, 5, "Бухгалтер ______________________", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
