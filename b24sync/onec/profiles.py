"""The two shapes of a 1C base b24sync writes to: УТ 11 (also КА 2, ERP 2) and БП 3.0.

A profile names the entities of each step (order, invoice, sale, payments),
how they link to each other, what must be published, and builds the JSON body
of a new document from an OrderDraft. Nothing here talks to the network.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from b24sync.onec.documents import Choices, OrderDraft, document_total, row_totals

ZERO_GUID = "00000000-0000-0000-0000-000000000000"
EMPTY_DATE = "0001-01-01T00:00:00"  # 1C's empty date
VAT_NAMES = {22: "НДС22", 20: "НДС20", 10: "НДС10", 0: "НДС0"}
# the rates the СтавкиНДС enum of current БП 3.0 and УТ 11 releases has (5 % and 7 % since 2025); a base whose rows
# reference the «Ставки НДС» catalog is asked instead
ENUM_VAT_RATES = (22, 20, 10, 7, 5, 0)


def vat_enum(rate: Decimal | None) -> str:
    """The СтавкаНДС enum value for a rate: НДС22, НДС20, НДС10, НДС0, or БезНДС."""
    if rate is None:
        return "БезНДС"
    return VAT_NAMES.get(int(rate), f"НДС{int(rate)}")


def units(value: Decimal) -> Decimal:
    """A quantity as 1C keeps it (15,3): a packaging of a third makes 0.667, not a float's 16 digits."""
    return value.quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)


def number(value: Decimal) -> float | int:
    """A JSON number for an Edm.Double property (integral values without a fraction)."""
    return int(value) if value == value.to_integral_value() else float(value)


@dataclass(frozen=True)
class Resolved:
    """Config defaults and lookups turned into 1C references, once per cycle."""

    organisation: str
    currency: dict[str, str]  # letter and numeric codes -> Catalog_Валюты ref
    warehouse: str | None = None
    agreement: str | None = None
    marker_property: str | None = None  # additional requisite holding the deal ID
    tracking_property: str | None = None
    vat_form: str | None = None  # "catalog" or "enum"
    vat_refs: dict[str, str] | None = None  # rate ("22", "none") -> Catalog_СтавкиНДС ref

    def currency_ref(self, code: str) -> str:
        return self.currency.get(code.upper(), ZERO_GUID)


@dataclass(frozen=True)
class Profile:
    name: str
    order_entity: str
    invoice_entity: str  # the document whose number is the invoice number
    sale_entity: str
    payment_entities: tuple[str, ...]
    needs: dict[str, tuple[str, ...]]
    currency_field: str = "Валюта_Key"
    manager_field: str = "Менеджер_Key"
    uses_partners: bool = True  # УТ: a counterparty belongs to a partner; orders name both
    uses_contracts: bool = False  # БП: an invoice names the counterparty's contract
    uses_warehouse_and_agreement: bool = True  # УТ: 'onec.defaults.warehouse' and '.agreement'
    vat_from_metadata: bool = True  # УТ 11.5 rows use Ставки НДС, older 11.x the enum: $metadata tells
    unit_catalog: str = "Catalog_УпаковкиЕдиницыИзмерения"
    builtin_tracking: str | None = None  # the sale's own tracking-number property, where the profile has one
    keeps_discounts: bool = False  # rows keep the manager's discount (percent and sum): Цена is before it
    discount_fields: tuple[str, str] = ("ПроцентРучнойСкидки", "СуммаРучнойСкидки")  # БП: ПроцентСкидки, СуммаСкидки
    order_details: bool = False  # the order has ДополнительнаяИнформация and ДатаОтгрузки (УТ) for the deal's own
    packagings: bool = False  # rows may be counted in a nomenclature's packaging (УТ: Упаковка_Key, КоличествоУпаковок)
    contact_persons: bool = False  # the order names the customer's contact person (УТ: КонтактноеЛицо_Key)
    price_types: str = "Catalog_ВидыЦен"  # the catalog of price types, and the price register's dimension for it
    price_dimension: str = "ВидЦены_Key"

    @property
    def can_close(self) -> bool:
        """Whether the order has a Статус b24sync can set to Закрыт (a customer order, not an invoice)."""
        return self.name == "ut11"

    @property
    def content_select(self) -> str:
        """The header and row properties a document's content is compared on."""
        status = ",Статус" if self.can_close else ""
        details = ",ДополнительнаяИнформация,ДатаОтгрузки,АдресДоставки" if self.order_details else ""
        return (f"Ref_Key,DataVersion,Number,Date,Posted,DeletionMark,СуммаДокумента{status},Комментарий,"
                f"{self.currency_field},{self.manager_field},Товары{details}")

    @property
    def order_is_invoice(self) -> bool:
        return self.order_entity == self.invoice_entity

    def marker_rows(self, draft: OrderDraft, resolved: Resolved) -> list[dict[str, Any]]:
        if not resolved.marker_property:
            return []
        return [{"LineNumber": 1, "Свойство_Key": resolved.marker_property, "Значение": str(draft.deal_id),
                 "Значение_Type": "Edm.String", "ТекстоваяСтрока": ""}]

    def order_body(self, draft: OrderDraft, resolved: Resolved, *, status: str, marker_attribute: str | None,
                   date_text: str) -> dict[str, Any]:
        if self.name == "ut11":
            body = self._ut11(draft, resolved, status, date_text)
        else:
            body = self._bp30(draft, resolved, date_text)
        if marker_attribute:
            body[marker_attribute] = str(draft.deal_id)
        else:
            body["ДополнительныеРеквизиты"] = self.marker_rows(draft, resolved)
        return body

    def _vat(self, rate: Decimal | None, resolved: Resolved) -> dict[str, Any]:
        if resolved.vat_form == "catalog":
            key = "none" if rate is None else str(int(rate))
            return {"СтавкаНДС_Key": (resolved.vat_refs or {}).get(key, ZERO_GUID)}
        return {"СтавкаНДС": vat_enum(rate)}

    def _ut11(self, draft: OrderDraft, resolved: Resolved, status: str, date_text: str) -> dict[str, Any]:
        choices = draft.choices or Choices()
        ship_by = f"{draft.ship_by.isoformat()}T00:00:00" if draft.ship_by else EMPTY_DATE
        organisation = choices.organisation or resolved.organisation
        warehouse = choices.warehouse or resolved.warehouse or ZERO_GUID
        agreement = choices.agreement or resolved.agreement or ZERO_GUID
        rows = []
        for index, row in enumerate(draft.rows, start=1):
            totals = row_totals(row, draft.prices_include_vat)
            rows.append({
                "LineNumber": index, "КодСтроки": index, "Номенклатура_Key": row.nomenclature_ref,
                "Характеристика_Key": ZERO_GUID, "Количество": number(units(row.quantity * row.units_per_packaging)),
                "КоличествоУпаковок": number(row.quantity), "Цена": number(row.price_before or row.price),
                **({"Упаковка_Key": row.packaging_ref} if row.packaging_ref else {}),
                "ПроцентРучнойСкидки": number(row.discount_percent or Decimal(0)),
                "СуммаРучнойСкидки": number(row.discount),
                "Сумма": number(totals.amount), **self._vat(row.vat_rate, resolved),
                "СуммаНДС": number(totals.vat), "СуммаСНДС": number(totals.total),
                "ВариантОбеспечения": "Отгрузить", "Склад_Key": warehouse, "ДатаОтгрузки": ship_by,
                **({"ВидЦены_Key": choices.price_type} if choices.price_type else {}),
                "Отменено": False, "Содержание": "",
            })
        any_vat = any(row.vat_rate for row in draft.rows)
        return {
            "Date": date_text, "Партнер_Key": draft.partner_ref or ZERO_GUID,
            "Контрагент_Key": draft.counterparty_ref, "Организация_Key": organisation,
            "Соглашение_Key": agreement, "Валюта_Key": resolved.currency_ref(draft.currency_code),
            "Склад_Key": warehouse, "Менеджер_Key": draft.manager_ref or ZERO_GUID,
            "ХозяйственнаяОперация": "РеализацияКлиенту", "ЦенаВключаетНДС": draft.prices_include_vat,
            "НалогообложениеНДС": "ПродажаОблагаетсяНДС" if any_vat else "ПродажаНеОблагаетсяНДС",
            "Статус": status, "Согласован": status != "НеСогласован", "ФормаОплаты": "Безналичная",
            "Комментарий": draft.comment, "СуммаДокумента": number(document_total(draft)),
            "МаксимальныйКодСтроки": str(len(rows)), "Товары": rows,
            "ДополнительнаяИнформация": draft.note, "ДатаОтгрузки": ship_by,
            # an address the deal leaves empty leaves 1C's as it is (the accountant may have typed it)
            **({"АдресДоставки": draft.delivery_address} if draft.delivery_address else {}),
            # the contact person is the deal's contact: none on the deal is none on the order (not another partner's)
            **({"КонтактноеЛицо_Key": draft.contact_person_ref} if draft.contact_person_ref is not None else {}),
        }

    def _bp30(self, draft: OrderDraft, resolved: Resolved, date_text: str) -> dict[str, Any]:
        rows = []
        for index, row in enumerate(draft.rows, start=1):
            totals = row_totals(row, draft.prices_include_vat)
            percent, discount = self.discount_fields
            rows.append({
                "LineNumber": index, "Номенклатура_Key": row.nomenclature_ref, "Содержание": row.name,
                "Количество": number(row.quantity), "Цена": number(row.price_before or row.price),
                percent: number(row.discount_percent or Decimal(0)), discount: number(row.discount),
                "Сумма": number(totals.amount), "СтавкаНДС": vat_enum(row.vat_rate), "СуммаНДС": number(totals.vat),
            })
        return {
            "Date": date_text, "Организация_Key": (draft.choices or Choices()).organisation or resolved.organisation,
            "Контрагент_Key": draft.counterparty_ref,
            "ДоговорКонтрагента_Key": draft.contract_ref or ZERO_GUID,
            "ВалютаДокумента_Key": resolved.currency_ref(draft.currency_code),
            "СуммаВключаетНДС": draft.prices_include_vat, "Ответственный_Key": draft.manager_ref or ZERO_GUID,
            "Комментарий": draft.comment, "СуммаДокумента": number(document_total(draft)), "Товары": rows,
        }


UT11 = Profile(
    name="ut11",
    keeps_discounts=True,
    order_details=True,
    packagings=True,
    contact_persons=True,
    order_entity="Document_ЗаказКлиента",
    invoice_entity="Document_СчетНаОплатуКлиенту",
    sale_entity="Document_РеализацияТоваровУслуг",
    payment_entities=("Document_ПоступлениеБезналичныхДенежныхСредств", "Document_ПриходныйКассовыйОрдер"),
    needs={
        "Document_ЗаказКлиента": (
            "Ref_Key", "DataVersion", "Number", "Date", "Posted", "DeletionMark", "Партнер_Key", "Контрагент_Key",
            "Организация_Key", "Соглашение_Key", "Валюта_Key", "Склад_Key", "Менеджер_Key", "СуммаДокумента",
            "ЦенаВключаетНДС", "Статус", "ХозяйственнаяОперация", "Комментарий", "МаксимальныйКодСтроки", "Товары",
            "Товары/Номенклатура_Key", "Товары/Количество", "Товары/Цена", "Товары/Сумма", "Товары/СуммаНДС",
            "Товары/СуммаСНДС", "Товары/КодСтроки", "Товары/ВариантОбеспечения"),
        "Document_СчетНаОплатуКлиенту": ("Ref_Key", "Number", "Date", "СуммаДокумента", "ДокументОснование",
                                         "ДокументОснование_Type"),
        "Document_РеализацияТоваровУслуг": ("Ref_Key", "Date", "Posted", "ЗаказКлиента", "ЗаказКлиента_Type",
                                            "СуммаДокумента"),
        "Document_ПоступлениеБезналичныхДенежныхСредств": ("Ref_Key", "Posted", "РасшифровкаПлатежа",
                                                           "РасшифровкаПлатежа/Заказ", "РасшифровкаПлатежа/Сумма"),
        "Catalog_Номенклатура": ("Ref_Key", "Description", "Артикул"),
        "Catalog_Контрагенты": ("Ref_Key", "Description", "ИНН", "КПП", "Партнер_Key"),
        "Catalog_Партнеры": ("Ref_Key", "Description"),
        "Catalog_Организации": ("Ref_Key", "Description"),
        "Catalog_Склады": ("Ref_Key", "Description"),
        "Catalog_Валюты": ("Ref_Key", "Code", "Description"),
        "Catalog_СоглашенияСКлиентами": ("Ref_Key", "Description"),
        "Catalog_Пользователи": ("Ref_Key", "Description"),
    },
)

BP30 = Profile(
    keeps_discounts=True,
    discount_fields=("ПроцентСкидки", "СуммаСкидки"),
    price_types="Catalog_ТипыЦенНоменклатуры",
    price_dimension="ТипЦен_Key",
    name="bp30",
    order_entity="Document_СчетНаОплатуПокупателю",
    invoice_entity="Document_СчетНаОплатуПокупателю",
    sale_entity="Document_РеализацияТоваровУслуг",
    payment_entities=("Document_ПоступлениеНаРасчетныйСчет", "Document_ПриходныйКассовыйОрдер"),
    currency_field="ВалютаДокумента_Key",
    manager_field="Ответственный_Key",
    uses_partners=False,
    uses_contracts=True,
    uses_warehouse_and_agreement=False,
    vat_from_metadata=False,
    unit_catalog="Catalog_КлассификаторЕдиницИзмерения",
    builtin_tracking="НомерДляОтслеживания",
    needs={
        "Document_СчетНаОплатуПокупателю": (
            "Ref_Key", "DataVersion", "Number", "Date", "Posted", "DeletionMark", "Организация_Key", "Контрагент_Key",
            "ДоговорКонтрагента_Key", "ВалютаДокумента_Key", "СуммаДокумента", "СуммаВключаетНДС", "Комментарий",
            "Товары", "Товары/Номенклатура_Key", "Товары/Количество", "Товары/Цена", "Товары/Сумма",
            "Товары/СтавкаНДС", "Товары/СуммаНДС"),
        "Document_РеализацияТоваровУслуг": ("Ref_Key", "Date", "Posted", "СчетНаОплатуПокупателю_Key",
                                            "СуммаДокумента"),
        "Document_ПоступлениеНаРасчетныйСчет": ("Ref_Key", "Posted", "ДокументОснование", "ДокументОснование_Type",
                                                "СуммаДокумента"),
        "Catalog_Номенклатура": ("Ref_Key", "Description", "Артикул"),
        "Catalog_Контрагенты": ("Ref_Key", "Description", "ИНН", "КПП"),
        "Catalog_ДоговорыКонтрагентов": ("Ref_Key", "Description", "Owner_Key"),
        "Catalog_Организации": ("Ref_Key", "Description"),
        "Catalog_Валюты": ("Ref_Key", "Code", "Description"),
        "Catalog_Пользователи": ("Ref_Key", "Description"),
    },
)

PROFILES = {"ut11": UT11, "bp30": BP30}
