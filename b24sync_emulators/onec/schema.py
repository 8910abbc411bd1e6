"""What a 1C base publishes over OData, per configuration profile.

Each entity is declared once with its properties in the platform's naming
(`X_Key` for references, `X` + `X_Type` for composites, enum values as names),
its tabular sections, and for references the entity set they point to. The
emulator renders records, `$metadata` and type checks from these declarations.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

GUID = "Edm.Guid"
STRING = "Edm.String"
DATETIME = "Edm.DateTime"
DOUBLE = "Edm.Double"
INT64 = "Edm.Int64"
BOOLEAN = "Edm.Boolean"

ZERO_GUID = "00000000-0000-0000-0000-000000000000"
GUID_PATTERN = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
EMPTY_DATE = "0001-01-01T00:00:00"


@dataclass(frozen=True)
class Prop:
    name: str  # the OData property name (for a reference: without _Key)
    edm: str
    kind: str = "plain"  # plain | ref | composite | enum
    target: str | None = None  # entity set a reference points to
    length: int | None = None  # max string length; longer values are truncated silently

    @property
    def wire_names(self) -> tuple[str, ...]:
        if self.kind == "ref":
            return (f"{self.name}_Key",)
        if self.kind == "composite":
            return (self.name, f"{self.name}_Type")
        return (self.name,)


@dataclass(frozen=True)
class Table:
    name: str
    props: tuple[Prop, ...]


@dataclass(frozen=True)
class Entity:
    name: str  # Catalog_Номенклатура, Document_ЗаказКлиента, InformationRegister_...
    props: tuple[Prop, ...]
    tables: tuple[Table, ...] = ()
    number_prefix: str = ""
    computed: bool = False  # a register the base computes (read-only)
    dimensions: tuple[str, ...] = ()  # a register's key: its dimensions (or its recorder), as $metadata names them

    @property
    def kind(self) -> str:
        return self.name.split("_", 1)[0]

    @property
    def postable(self) -> bool:
        return self.kind == "Document"

    def prop(self, wire_name: str) -> Prop | None:
        for prop in self.props:
            if wire_name in prop.wire_names:
                return prop
        return None

    def table(self, name: str) -> Table | None:
        return next((table for table in self.tables if table.name == name), None)


def s(name: str, length: int | None = None) -> Prop:
    return Prop(name, STRING, length=length)


def ref(name: str, target: str) -> Prop:
    return Prop(name, GUID, "ref", target)


def comp(name: str) -> Prop:
    return Prop(name, STRING, "composite")


def enum(name: str) -> Prop:
    return Prop(name, STRING, "enum")


def num(name: str) -> Prop:
    return Prop(name, DOUBLE)


def i64(name: str) -> Prop:
    return Prop(name, INT64)


def flag(name: str) -> Prop:
    return Prop(name, BOOLEAN)


def date(name: str) -> Prop:
    return Prop(name, DATETIME)


CATALOG_HEAD = (Prop("Ref_Key", GUID), s("DataVersion"), flag("DeletionMark"), s("Code", 11), s("Description", 150))
CATALOG_TAIL = (flag("Predefined"), s("PredefinedDataName"))
DOCUMENT_HEAD = (Prop("Ref_Key", GUID), s("DataVersion"), flag("DeletionMark"), s("Number", 11), date("Date"),
                 flag("Posted"))
EXTRA_REQUISITES = Table("ДополнительныеРеквизиты", (
    i64("LineNumber"), ref("Свойство", "ChartOfCharacteristicTypes_ДополнительныеРеквизитыИСведения"),
    comp("Значение"), s("ТекстоваяСтрока")))

# The contact information of a catalog item, as the standard subsystems library (БСП, «Контактная информация»)
# declares it in every configuration built on it (УТ 11, КА 2, ERP 2, БП 3.0) [B: the library's metadata, not a
# captured response]: a row per phone, e-mail or address, its kind a Catalog_ВидыКонтактнойИнформации item
# (predefined ТелефонКонтрагента, EmailКонтрагента, ЮрАдресКонтрагента), the phone also in digits with its codes.
CONTACT_INFORMATION = Table("КонтактнаяИнформация", (
    i64("LineNumber"), enum("Тип"), ref("Вид", "Catalog_ВидыКонтактнойИнформации"), s("Представление", 500),
    s("ЗначенияПолей"), s("Страна", 100), s("Регион", 50), s("Город", 50), s("АдресЭП", 100),
    s("ДоменноеИмяСервера", 100), s("НомерТелефона", 20), s("НомерТелефонаБезКодов", 20), s("Значение"),
    ref("ВидДляСписка", "Catalog_ВидыКонтактнойИнформации")))


def catalog(name: str, *props: Prop, tables: tuple[Table, ...] = ()) -> Entity:
    """A catalog; a hierarchical one (Parent, IsFolder) prints them before Code and Description, as 1C does."""
    hierarchy = tuple(prop for prop in props if prop.name in ("Parent", "IsFolder"))
    own = tuple(prop for prop in props if prop not in hierarchy)
    return Entity(f"Catalog_{name}", CATALOG_HEAD[:3] + hierarchy + CATALOG_HEAD[3:] + own + CATALOG_TAIL, tables)


def document(name: str, prefix: str, *props: Prop, tables: tuple[Table, ...] = ()) -> Entity:
    return Entity(f"Document_{name}", DOCUMENT_HEAD + props, tables, number_prefix=prefix)


PROPERTIES = Entity("ChartOfCharacteristicTypes_ДополнительныеРеквизитыИСведения",
                    CATALOG_HEAD + (s("Имя", 75), s("Заголовок", 150), enum("ТипЗначения")) + CATALOG_TAIL)

SETTLEMENT_DIMENSIONS = (ref("АналитикаУчетаПоПартнерам", "Catalog_КлючиАналитикиУчетаПоПартнерам"),
                         comp("ЗаказКлиента"), ref("Валюта", "Catalog_Валюты"))
SETTLEMENT_RESOURCES = ("Сумма", "КОплате", "Оплачивается", "КОтгрузке", "Отгружается")
SETTLEMENT_RECORDS = Table("RecordSet", (i64("LineNumber"), date("Period"), flag("Active"), enum("RecordType"),
                                         *SETTLEMENT_DIMENSIONS, *(num(name) for name in SETTLEMENT_RESOURCES)))
# AccumulationRegister_РасчетыСКлиентами/Balance(…): the dimensions and one <resource>Balance per resource.
SETTLEMENT_BALANCE = Entity("AccumulationRegister_РасчетыСКлиентами_Balance", (
    *SETTLEMENT_DIMENSIONS, *(num(f"{name}Balance") for name in SETTLEMENT_RESOURCES)), computed=True)

# Prices by price type (УТ: Вид цены, БП: Тип цен номенклатуры), set by posting a «Установка цен номенклатуры»:
# the register is subordinate to that document and read as `InformationRegister_ЦеныНоменклатуры_RecordType/SliceLast`
# (the platform guide for subordinate registers; public clients). [B: the document's fields, from configuration
# dumps of УТ 11 and БП 3.0 (alexOrgnet/Accounting30), not captured responses]
UT11_PRICES = Entity("InformationRegister_ЦеныНоменклатуры_SliceLast", (
    date("Period"), comp("Recorder"), ref("Номенклатура", "Catalog_Номенклатура"),
    ref("Характеристика", "Catalog_ХарактеристикиНоменклатуры"), ref("ВидЦены", "Catalog_ВидыЦен"), num("Цена"),
    ref("Упаковка", "Catalog_УпаковкиЕдиницыИзмерения"), ref("Валюта", "Catalog_Валюты")), computed=True)
BP30_PRICES = Entity("InformationRegister_ЦеныНоменклатуры_SliceLast", (
    date("Period"), comp("Recorder"), ref("ТипЦен", "Catalog_ТипыЦенНоменклатуры"),
    ref("Номенклатура", "Catalog_Номенклатура"), num("Цена"), ref("Валюта", "Catalog_Валюты")), computed=True)

UT11_VAT_CATALOG = "vat_catalog"  # УТ 11.5: rows reference Catalog_СтавкиНДС through СтавкаНДС_Key
UT11_VAT_ENUM = "vat_enum"  # older УТ 11: rows carry СтавкаНДС as an enum name ("НДС20")


def ut11_entities(vat_form: str = UT11_VAT_CATALOG) -> list[Entity]:
    """УТ 11 / КА 2 / ERP 2 objects b24sync works with."""
    # УТ 11.5 keeps the old enum column, empty, as УдалитьСтавкаНДС beside the catalog reference.
    vat = (ref("СтавкаНДС", "Catalog_СтавкиНДС"), enum("УдалитьСтавкаНДС")) if vat_form == UT11_VAT_CATALOG \
        else (enum("СтавкаНДС"),)
    # Fields in the order a УТ 11.5 base prints them (samples/Document_ЗаказКлиента.ut115.fields.txt).
    order_rows = Table("Товары", (
        i64("LineNumber"), date("ДатаОтгрузки"), ref("Номенклатура", "Catalog_Номенклатура"),
        ref("Характеристика", "Catalog_ХарактеристикиНоменклатуры"),
        ref("Упаковка", "Catalog_УпаковкиЕдиницыИзмерения"), num("КоличествоУпаковок"), num("Количество"),
        ref("ВидЦены", "Catalog_ВидыЦен"), num("Цена"), num("Сумма"), *vat, num("СуммаНДС"), num("СуммаСНДС"),
        num("ПроцентРучнойСкидки"), num("СуммаРучнойСкидки"), num("ПроцентАвтоматическойСкидки"),
        num("СуммаАвтоматическойСкидки"), ref("ПричинаОтмены", "Catalog_ПричиныОтменыЗаказовКлиентов"),
        i64("КодСтроки"), flag("Отменено"), i64("КлючСвязи"), ref("Склад", "Catalog_Склады"), i64("СрокПоставки"),
        s("Содержание", 1000), num("СтатусУказанияСерий"), enum("ВариантОбеспечения"),
        ref("Серия", "Catalog_СерииНоменклатуры"), ref("НоменклатураНабора", "Catalog_Номенклатура"),
        flag("Обособленно"), ref("ХарактеристикаНабора", "Catalog_ХарактеристикиНоменклатуры"),
        s("ИдентификаторСтроки", 36), ref("Подразделение", "Catalog_СтруктураПредприятия"),
        ref("НоменклатураПартнера", "Catalog_НоменклатураПартнеров"), num("СуммаБонусныхБалловКСписанию"),
        num("СуммаБонусныхБалловКСписаниюВВалюте"), num("СуммаНачисленныхБонусныхБалловВВалюте")))
    payment_rows = Table("РасшифровкаПлатежа", (
        i64("LineNumber"), comp("Заказ"), comp("ОснованиеПлатежа"), ref("Партнер", "Catalog_Партнеры"),
        num("Сумма"), num("СуммаВзаиморасчетов")))
    schedule = Table("ЭтапыГрафикаОплаты", (i64("LineNumber"), enum("ВариантОплаты"), date("ДатаПлатежа"),
                                           num("ПроцентПлатежа"), num("СуммаПлатежа"), num("ПроцентЗалогаЗаТару"),
                                           num("СуммаЗалогаЗаТару"), num("СуммаОтклоненияМерныхТоваров"),
                                           i64("Сдвиг"), enum("ВариантОтсчета")))
    return [
        catalog("Номенклатура", s("Артикул", 25), s("НаименованиеПолное", 1000), ref("Parent", "Catalog_Номенклатура"),
                flag("IsFolder"), ref("ЕдиницаИзмерения", "Catalog_УпаковкиЕдиницыИзмерения"),
                ref("ВидНоменклатуры", "Catalog_ВидыНоменклатуры"), ref("НаборУпаковок", "Catalog_НаборыУпаковок"),
                ref("СтавкаНДС", "Catalog_СтавкиНДС") if vat_form == UT11_VAT_CATALOG else enum("СтавкаНДС"),
                tables=(EXTRA_REQUISITES,)),
        catalog("Партнеры", s("НаименованиеПолное", 500), flag("Клиент"), enum("ЮрФизЛицо"), s("Комментарий")),
        catalog("Контрагенты", s("ИНН", 12), s("КПП", 9), ref("Партнер", "Catalog_Партнеры"),
                s("НаименованиеПолное", 500), enum("ЮрФизЛицо"), s("Комментарий"), tables=(CONTACT_INFORMATION,)),
        catalog("ВидыКонтактнойИнформации", enum("Тип")),
        catalog("Организации", s("ИНН", 12), s("КПП", 9), s("НаименованиеПолное", 500),
                s("НаименованиеСокращенное", 200), s("ОГРН", 15), s("ЮридическийАдрес", 500)),
        catalog("Склады"),
        catalog("Валюты", s("НаименованиеПолное", 50)),
        catalog("СоглашенияСКлиентами", ref("Партнер", "Catalog_Партнеры"), ref("Контрагент", "Catalog_Контрагенты"),
                ref("Организация", "Catalog_Организации"), ref("Валюта", "Catalog_Валюты"), flag("ЦенаВключаетНДС"),
                enum("Статус"), flag("Типовое")),
        catalog("ДоговорыКонтрагентов", ref("Контрагент", "Catalog_Контрагенты"), ref("Партнер", "Catalog_Партнеры"),
                ref("Организация", "Catalog_Организации"), ref("ВалютаВзаиморасчетов", "Catalog_Валюты")),
        *([catalog("СтавкиНДС", num("Ставка"), enum("ПеречислениеСтавкаНДС"))] if vat_form == UT11_VAT_CATALOG
          else []),
        catalog("Пользователи", s("ИдентификаторПользователяИБ", 36)),
        # a unit (owned by the predefined set БазовыеЕдиницыИзмерения) or a packaging of one nomenclature item or
        # set of packagings: Числитель / Знаменатель of the item's units in one (B: configuration dumps of УТ 11)
        catalog("УпаковкиЕдиницыИзмерения", comp("Owner"), s("КодОКЕИ", 3),
                ref("ЕдиницаИзмерения", "Catalog_УпаковкиЕдиницыИзмерения"), num("Числитель"), num("Знаменатель"),
                enum("ТипИзмеряемойВеличины"), s("НаименованиеПолное", 100), s("МеждународноеСокращение", 3)),
        catalog("НаборыУпаковок"),
        catalog("ВидыЦен", ref("ВалютаЦены", "Catalog_Валюты"), flag("ЦенаВключаетНДС"), enum("Статус")),
        document("УстановкаЦенНоменклатуры", "ЭС00-", s("Комментарий"), tables=(Table("Товары", (
            i64("LineNumber"), ref("Номенклатура", "Catalog_Номенклатура"),
            ref("Характеристика", "Catalog_ХарактеристикиНоменклатуры"), ref("ВидЦены", "Catalog_ВидыЦен"),
            num("Цена"), ref("Упаковка", "Catalog_УпаковкиЕдиницыИзмерения"))),)),
        Entity("InformationRegister_ЦеныНоменклатуры", UT11_PRICES.props, computed=True),
        # a partner's contact person (Owner: the partner) [B: configuration dumps of УТ 11, not a captured response]
        catalog("КонтактныеЛицаПартнеров", ref("Owner", "Catalog_Партнеры"), s("Комментарий")),
        PROPERTIES,
        document("ЗаказКлиента", "ЭС00-", num("СуммаДокумента"), enum("ХозяйственнаяОперация"),
                 ref("Партнер", "Catalog_Партнеры"), ref("Склад", "Catalog_Склады"),
                 ref("Контрагент", "Catalog_Контрагенты"), ref("Организация", "Catalog_Организации"),
                 ref("Соглашение", "Catalog_СоглашенияСКлиентами"), ref("Сделка", "Catalog_СделкиСКлиентами"),
                 ref("Валюта", "Catalog_Валюты"), ref("ГрафикОплаты", "Catalog_ГрафикиОплаты"),
                 flag("ЦенаВключаетНДС"), ref("Менеджер", "Catalog_Пользователи"), s("ДополнительнаяИнформация"),
                 comp("ДокументОснование"), flag("НеОтгружатьЧастями"), enum("Статус"), i64("МаксимальныйКодСтроки"),
                 date("ДатаСогласования"), flag("Согласован"), enum("ФормаОплаты"),
                 ref("БанковскийСчет", "Catalog_БанковскиеСчетаОрганизаций"),
                 ref("БанковскийСчетКонтрагента", "Catalog_БанковскиеСчетаКонтрагентов"), ref("Касса", "Catalog_Кассы"),
                 num("СуммаАвансаДоОбеспечения"), num("СуммаПредоплатыДоОтгрузки"), date("ДатаОтгрузки"),
                 s("АдресДоставки"), enum("НалогообложениеНДС"), flag("СкидкиРассчитаны"), s("Комментарий"),
                 s("НомерПоДаннымКлиента", 50), date("ДатаПоДаннымКлиента"),
                 ref("Грузоотправитель", "Catalog_Контрагенты"), ref("Грузополучатель", "Catalog_Контрагенты"),
                 ref("БанковскийСчетГрузоотправителя", "Catalog_БанковскиеСчетаКонтрагентов"),
                 ref("БанковскийСчетГрузополучателя", "Catalog_БанковскиеСчетаКонтрагентов"),
                 ref("ГруппаФинансовогоУчета", "Catalog_ГруппыФинансовогоУчетаРасчетов"),
                 ref("КартаЛояльности", "Catalog_КартыЛояльности"), ref("Договор", "Catalog_ДоговорыКонтрагентов"),
                 ref("Подразделение", "Catalog_СтруктураПредприятия"), comp("Автор"), enum("ПорядокРасчетов"),
                 ref("Назначение", "Catalog_Назначения"), enum("СпособДоставки"),
                 ref("ПеревозчикПартнер", "Catalog_Партнеры"), ref("ЗонаДоставки", "Catalog_ЗоныДоставки"),
                 date("ВремяДоставкиС"), date("ВремяДоставкиПо"), s("АдресДоставкиПеревозчика"),
                 s("АдресДоставкиЗначенияПолей"), s("АдресДоставкиПеревозчикаЗначенияПолей"),
                 s("ДополнительнаяИнформацияПоДоставке"), ref("КонтактноеЛицо", "Catalog_КонтактныеЛицаПартнеров"),
                 ref("Руководитель", "Catalog_ОтветственныеЛицаОрганизаций"),
                 ref("ГлавныйБухгалтер", "Catalog_ОтветственныеЛицаОрганизаций"), flag("ВернутьМногооборотнуюТару"),
                 num("СрокВозвратаМногооборотнойТары"), enum("СостояниеЗаполненияМногооборотнойТары"),
                 num("СуммаВозвратнойТары"), s("НазначениеПлатежа"), flag("ТребуетсяЗалогЗаТару"),
                 ref("Приоритет", "Catalog_Приоритеты"), s("ИдентификаторПлатежа"), flag("ОсобыеУсловияПеревозки"),
                 s("ОсобыеУсловияПеревозкиОписание"),
                 ref("НаправлениеДеятельности", "Catalog_НаправленияДеятельности"), flag("ОплатаВВалюте"),
                 ref("ОбъектРасчетов", "Catalog_ОбъектыРасчетов"), ref("Сборщик", "Catalog_Пользователи"),
                 ref("Курьер", "Catalog_Пользователи"), s("АдресДоставкиЗначение"),
                 s("АдресДоставкиПеревозчикаЗначение"), s("ЭтапГосконтрактаЕИС"), flag("ЭтоЗаказКакСчет"),
                 tables=(order_rows, schedule, EXTRA_REQUISITES)),
        document("СчетНаОплатуКлиенту", "ЭС00-", ref("Организация", "Catalog_Организации"),
                 ref("Партнер", "Catalog_Партнеры"), ref("Контрагент", "Catalog_Контрагенты"),
                 ref("Валюта", "Catalog_Валюты"), num("СуммаДокумента"), comp("ДокументОснование"),
                 flag("Аннулирован"), date("ДатаОплаты"), s("Комментарий"), tables=(schedule,)),
        document("РеализацияТоваровУслуг", "ЭС00-", ref("Партнер", "Catalog_Партнеры"),
                 ref("Контрагент", "Catalog_Контрагенты"), ref("Организация", "Catalog_Организации"),
                 ref("Склад", "Catalog_Склады"), comp("ЗаказКлиента"), flag("РеализацияПоЗаказам"), enum("Статус"),
                 date("ДатаПереходаПраваСобственности"), enum("ХозяйственнаяОперация"), num("СуммаДокумента"),
                 ref("Валюта", "Catalog_Валюты"), s("Комментарий"),
                 tables=(Table("Товары", (i64("LineNumber"), ref("Номенклатура", "Catalog_Номенклатура"),
                                          num("Количество"), num("Цена"), num("Сумма"), num("СуммаНДС"),
                                          num("СуммаСНДС"), comp("ЗаказКлиента"))), EXTRA_REQUISITES)),
        document("ПоступлениеБезналичныхДенежныхСредств", "ЭС00-", ref("Организация", "Catalog_Организации"),
                 ref("Контрагент", "Catalog_Контрагенты"), num("СуммаДокумента"), enum("ХозяйственнаяОперация"),
                 ref("Валюта", "Catalog_Валюты"), s("НазначениеПлатежа"), tables=(payment_rows,)),
        document("ПриходныйКассовыйОрдер", "ЭС00-", ref("Организация", "Catalog_Организации"),
                 ref("Контрагент", "Catalog_Контрагенты"), num("СуммаДокумента"), enum("ХозяйственнаяОперация"),
                 ref("Валюта", "Catalog_Валюты"), tables=(payment_rows,)),
        Entity("AccumulationRegister_РасчетыСКлиентами", (comp("Recorder"),), (SETTLEMENT_RECORDS,), computed=True,
               dimensions=("Recorder", "Recorder_Type")),
        Entity("InformationRegister_СостоянияЗаказовКлиентов", (
            ref("Заказ", "Document_ЗаказКлиента"), enum("Состояние"), date("ДатаСобытия"), num("ПроцентОплаты"),
            num("ПроцентОтгрузки"), num("ПроцентДолга")), computed=True, dimensions=("Заказ_Key",)),
    ]


def bp30_entities() -> list[Entity]:
    """БП 3.0 objects b24sync works with (a deal becomes an invoice: БП has no customer orders)."""
    goods = Table("Товары", (i64("LineNumber"), ref("Номенклатура", "Catalog_Номенклатура"), s("Содержание", 1000),
                             num("Количество"), num("Цена"), num("Сумма"), enum("СтавкаНДС"), num("СуммаНДС")))
    services = Table("Услуги", goods.props)
    # the invoice's rows keep a discount of their own (a configuration dump of БП 3.0, alexOrgnet/Accounting30
    # src/cf/Documents/СчетНаОплатуПокупателю.xml: ПроцентСкидки, СуммаСкидки) [B: not in a captured response]
    invoice_goods = Table("Товары", (*goods.props[:5], num("ПроцентСкидки"), num("СуммаСкидки"), *goods.props[5:]))
    invoice_services = Table("Услуги", invoice_goods.props)
    payment_rows = Table("РасшифровкаПлатежа", (i64("LineNumber"),
                                                ref("ДоговорКонтрагента", "Catalog_ДоговорыКонтрагентов"),
                                                num("СуммаПлатежа"),
                                                ref("СчетНаОплату", "Document_СчетНаОплатуПокупателю")))
    return [
        catalog("ТипыЦенНоменклатуры", ref("ВалютаЦены", "Catalog_Валюты"), flag("ЦенаВключаетНДС")),
        document("УстановкаЦенНоменклатуры", "0000-", ref("ТипЦен", "Catalog_ТипыЦенНоменклатуры"),
                 s("Комментарий"), tables=(Table("Товары", (
                     i64("LineNumber"), ref("Номенклатура", "Catalog_Номенклатура"), num("Цена"),
                     ref("Валюта", "Catalog_Валюты"))),)),
        Entity("InformationRegister_ЦеныНоменклатуры", BP30_PRICES.props, computed=True),
        catalog("Номенклатура", s("Артикул", 25), s("НаименованиеПолное", 1000), ref("Parent", "Catalog_Номенклатура"),
                flag("IsFolder"), ref("ЕдиницаИзмерения", "Catalog_КлассификаторЕдиницИзмерения"),
                enum("ВидСтавкиНДС"), enum("УдалитьСтавкаНДС"), flag("Услуга"), s("Комментарий")),
        catalog("Контрагенты", s("ИНН", 12), s("КПП", 9), s("НаименованиеПолное", 500),
                enum("ЮридическоеФизическоеЛицо"), s("Комментарий"), tables=(CONTACT_INFORMATION,)),
        catalog("ВидыКонтактнойИнформации", enum("Тип")),
        catalog("Организации", s("ИНН", 12), s("КПП", 9), s("НаименованиеПолное", 500),
                s("НаименованиеСокращенное", 200), s("ОГРН", 15)),
        catalog("Склады"),
        catalog("Валюты", s("НаименованиеПолное", 50)),
        catalog("ДоговорыКонтрагентов", ref("Owner", "Catalog_Контрагенты"), ref("Организация", "Catalog_Организации"),
                enum("ВидДоговора"), ref("ВалютаВзаиморасчетов", "Catalog_Валюты")),
        catalog("Пользователи", s("ИдентификаторПользователяИБ", 36)),
        catalog("КлассификаторЕдиницИзмерения", s("НаименованиеПолное", 100)),
        PROPERTIES,
        document("СчетНаОплатуПокупателю", "0000-", ref("Организация", "Catalog_Организации"),
                 ref("Контрагент", "Catalog_Контрагенты"), ref("ДоговорКонтрагента", "Catalog_ДоговорыКонтрагентов"),
                 ref("ВалютаДокумента", "Catalog_Валюты"), num("СуммаДокумента"), flag("СуммаВключаетНДС"),
                 ref("Ответственный", "Catalog_Пользователи"), ref("СтруктурнаяЕдиница", "Catalog_БанковскиеСчета"),
                 ref("Руководитель", "Catalog_ФизическиеЛица"), s("Комментарий"), s("НомерПоДаннымКлиента", 50),
                 date("СрокОплаты"), tables=(invoice_goods, invoice_services, EXTRA_REQUISITES)),
        document("РеализацияТоваровУслуг", "0000-", enum("ВидОперации"), ref("Организация", "Catalog_Организации"),
                 ref("Контрагент", "Catalog_Контрагенты"), ref("ДоговорКонтрагента", "Catalog_ДоговорыКонтрагентов"),
                 ref("Склад", "Catalog_Склады"), ref("ВалютаДокумента", "Catalog_Валюты"), num("СуммаДокумента"),
                 flag("СуммаВключаетНДС"), ref("СчетНаОплатуПокупателю", "Document_СчетНаОплатуПокупателю"),
                 ref("СпособДоставки", "Catalog_СпособыДоставки"), s("НомерДляОтслеживания", 50), s("Комментарий"),
                 tables=(goods, services)),
        document("ПоступлениеНаРасчетныйСчет", "0000-", enum("ВидОперации"), ref("Организация", "Catalog_Организации"),
                 comp("Контрагент"), ref("ДоговорКонтрагента", "Catalog_ДоговорыКонтрагентов"), num("СуммаДокумента"),
                 comp("ДокументОснование"), s("НазначениеПлатежа"), tables=(payment_rows,)),
        document("ПриходныйКассовыйОрдер", "0000-", enum("ВидОперации"), ref("Организация", "Catalog_Организации"),
                 comp("Контрагент"), ref("ДоговорКонтрагента", "Catalog_ДоговорыКонтрагентов"), num("СуммаДокумента"),
                 comp("ДокументОснование"), s("Основание", 250), tables=(payment_rows,)),
        Entity("InformationRegister_СтатусыДокументов", (
            ref("Организация", "Catalog_Организации"), comp("Документ"), comp("Статус"),
            comp("ДополнительныйСтатус")), computed=True, dimensions=("Организация_Key", "Документ", "Документ_Type")),
    ]


@dataclass
class Profile:
    name: str
    entities: dict[str, Entity] = field(default_factory=dict)

    @classmethod
    def build(cls, name: str, vat_form: str = UT11_VAT_CATALOG) -> Profile:
        if name == "ut11":
            entities = ut11_entities(vat_form)
        elif name == "bp30":
            entities = bp30_entities()
        else:
            raise ValueError(f"unknown profile {name!r}: use ut11 or bp30")
        return cls(name, {entity.name: entity for entity in entities})
