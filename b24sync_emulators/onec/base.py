"""The data of an emulated 1C base and the rules its writes follow.

Records are kept in their JSON wire form, in the order the platform prints
properties. Every write bumps DataVersion (an 8-byte counter, base64); posting
runs business checks and refuses with code -1 and a Russian message as the
platform does; registers are computed from posted documents.
"""

from __future__ import annotations

import base64
import random
import re
import threading
from datetime import UTC, datetime, timezone
from decimal import Decimal
from typing import Any

from b24sync.clock import SYSTEM_CLOCK, Clock
from b24sync_emulators.dataset import Dataset, money, object_guid, offset_zone
from b24sync_emulators.onec.query import QueryError, bad_value, not_found
from b24sync_emulators.onec.schema import (
    BOOLEAN,
    DATETIME,
    DOUBLE,
    EMPTY_DATE,
    GUID,
    GUID_PATTERN,
    INT64,
    ZERO_GUID,
    Entity,
    Profile,
    Prop,
    Table,
)

UNDEFINED = "StandardODATA.Undefined"
DEAL_PROPERTY = "ID сделки Битрикс24"
TRACKING_PROPERTY = "Трек-номер"
PRICE_TYPE = "Основная цена продажи"  # the base's sales price type (УТ: Вид цены, БП: Тип цен номенклатуры)
VAT_RATES = {22: "НДС22", 20: "НДС20", 10: "НДС10", 0: "НДС0", None: "БезНДС"}
DOCUMENT_TITLES = {
    "Document_ЗаказКлиента": "Заказ клиента",
    "Document_СчетНаОплатуКлиенту": "Счет на оплату клиенту",
    "Document_СчетНаОплатуПокупателю": "Счет на оплату покупателю",
    "Document_РеализацияТоваровУслуг": "Реализация товаров и услуг",
    "Document_ПоступлениеБезналичныхДенежныхСредств": "Поступление безналичных денежных средств",
    "Document_ПриходныйКассовыйОрдер": "Приходный кассовый ордер",
    "Document_ПоступлениеНаРасчетныйСчет": "Поступление на расчетный счет",
}


def internal_error() -> QueryError:
    return QueryError(500, "-1", "Произошла внутренняя ошибка OData сервиса. Дополнительные сведения можно найти в "
                                 "технологическом журнале.")


def default_value(prop: Prop) -> dict[str, Any]:
    if prop.kind == "ref":
        return {f"{prop.name}_Key": ZERO_GUID}
    if prop.kind == "composite":
        return {prop.name: "", f"{prop.name}_Type": UNDEFINED}
    if prop.edm == GUID:
        return {prop.name: ZERO_GUID}
    return {prop.name: {DOUBLE: 0, INT64: "0", BOOLEAN: False, DATETIME: EMPTY_DATE}.get(prop.edm, "")}


class Base:
    """One infobase: records by entity set and Ref_Key, guarded by one lock."""

    def __init__(self, profile: Profile, *, clock: Clock = SYSTEM_CLOCK, tz: str = "+03:00", seed: int = 1) -> None:
        self.profile = profile
        self.entities = profile.entities
        self.clock = clock
        self.tz = offset_zone(tz)
        self.lock = threading.RLock()
        self.rng = random.Random(seed * 7919)
        self.records: dict[str, dict[str, dict[str, Any]]] = {
            name: {} for name, entity in self.entities.items() if not entity.computed}
        self.versions = 0
        self.numbers: dict[str, int] = {}
        self.deal_property_ref = ""
        self.tracking_property_ref = ""

    # -- basics -------------------------------------------------------------------------------

    def now(self) -> str:
        """The server's local time, naive, to the second: how 1C prints dates."""
        moment = datetime.fromtimestamp(int(self.clock.time()), UTC).astimezone(self.tz)
        return moment.replace(tzinfo=None).isoformat()

    def new_ref(self) -> str:
        """A time-based (version 1) GUID, as the platform assigns Ref_Key."""
        return object_guid(self.rng, self.clock.time())

    def next_version(self) -> str:
        self.versions += 1
        return base64.b64encode(self.versions.to_bytes(8, "big")).decode("ascii")

    def entity(self, name: str) -> Entity:
        return self.entities[name]

    def get(self, entity_name: str, ref: str) -> dict[str, Any] | None:
        return self.records.get(entity_name, {}).get(ref.lower())

    def blank(self, entity: Entity) -> dict[str, Any]:
        """Every property at its empty value, tabular sections before Predefined, as the platform prints them."""
        record: dict[str, Any] = {}
        for prop in entity.props:
            if prop.name == "Predefined":
                record.update({table.name: [] for table in entity.tables})
            record.update(default_value(prop))
        for table in entity.tables:
            record.setdefault(table.name, [])
        return record

    # -- writes ---------------------------------------------------------------------------------

    def create(self, entity_name: str, body: Any) -> dict[str, Any]:
        entity = self.entity(entity_name)
        if not isinstance(body, dict):
            raise internal_error()
        record = self.blank(entity)
        ref = str(body.get("Ref_Key") or "")
        if ref and not GUID_PATTERN.match(ref):
            raise bad_value(ref, GUID)
        record["Ref_Key"] = (ref or self.new_ref()).lower()
        if record["Ref_Key"] in self.records[entity_name]:
            raise QueryError(400, "15", "Сущность с указанным ключом уже существует")
        self.apply(entity, record, body)
        if entity.kind == "Document":
            if not record.get("Number"):
                record["Number"] = self.next_number(entity)
            if record.get("Date") in ("", EMPTY_DATE):
                record["Date"] = self.now()
        elif entity.kind in ("Catalog", "ChartOfCharacteristicTypes") and not record.get("Code"):
            record["Code"] = self.next_number(entity)
        record["DataVersion"] = self.next_version()
        self.records[entity_name][record["Ref_Key"]] = record
        return record

    def update(self, entity_name: str, ref: str, body: Any, replace: bool = False) -> dict[str, Any]:
        entity = self.entity(entity_name)
        record = self.get(entity_name, ref)
        if record is None:
            raise not_found(entity_name)
        if not isinstance(body, dict):
            raise internal_error()
        if body.get("DeletionMark") is True and record.get("Posted"):
            raise QueryError(500, "-1", f"Не удалось записать \"{self.title(entity_name, record)}\": проведенный "
                                        f"документ не может быть помечен на удаление. Отмените проведение документа.")
        staged = dict(record)
        if replace:  # PUT: every property not sent goes back to its empty value
            keep = {name: record[name] for name in ("Ref_Key", "Number", "Date", "Posted", "Code") if name in record}
            staged = {**self.blank(entity), **keep}
        self.apply(entity, staged, body)
        staged["DataVersion"] = self.next_version()
        record.clear()
        record.update(staged)
        return record

    def next_number(self, entity: Entity) -> str:
        count = self.numbers.get(entity.name, 0) + 1
        self.numbers[entity.name] = count
        if entity.kind == "Document":
            return f"{entity.number_prefix}{count:06d}"
        return f"{count:09d}" if entity.name != "Catalog_Валюты" else f"{count:03d}"

    def apply(self, entity: Entity, record: dict[str, Any], body: dict[str, Any]) -> None:
        """Write body values into record as the platform would (unknown names ignored, strings truncated)."""
        for key, value in body.items():
            if key.endswith("@odata.bind") and isinstance(value, str):
                bound = re.search(r"\(guid'([0-9a-fA-F-]{36})'\)", value)
                target = entity.prop(f"{key.removesuffix('@odata.bind')}_Key")
                if bound is None or target is None:
                    raise QueryError(400, "4", f"Неверное значение свойства {key}")
                record[f"{target.name}_Key"] = bound.group(1).lower()
                continue
            if "@" in key or key.startswith("odata.") or key in ("Ref_Key", "DataVersion", "Posted"):
                continue
            table = entity.table(key)
            if table is not None:
                record[key] = self.rows(table, value, record["Ref_Key"])
                continue
            prop = entity.prop(key)
            if prop is None:
                continue  # unknown properties are ignored
            record[key] = coerce(prop, key, value, self.tz)

    def rows(self, table: Table, value: Any, parent_ref: str) -> list[dict[str, Any]]:
        if not isinstance(value, list):
            raise internal_error()
        rows = []
        for index, given in enumerate(value, start=1):
            if not isinstance(given, dict):
                raise internal_error()
            if "LineNumber" not in given:
                raise internal_error()  # rows without LineNumber: «внутренняя ошибка OData сервиса»
            try:
                number = int(str(given["LineNumber"]))
            except ValueError:
                raise bad_value(given["LineNumber"], INT64) from None
            if number != index:
                raise QueryError(400, "4", f"Неверное значение свойства LineNumber табличной части {table.name}: "
                                           f"строки должны идти по порядку с 1")
            row: dict[str, Any] = {"Ref_Key": parent_ref}
            for prop in table.props:
                row.update(default_value(prop))
            for key, item in given.items():
                prop = next((candidate for candidate in table.props if key in candidate.wire_names), None)
                if prop is not None:
                    row[key] = coerce(prop, key, item, self.tz)
            row["LineNumber"] = str(index)
            rows.append(row)
        return rows

    def title(self, entity_name: str, record: dict[str, Any]) -> str:
        date_text = record.get("Date", EMPTY_DATE)
        try:
            shown = datetime.fromisoformat(date_text).strftime("%d.%m.%Y %H:%M:%S")
        except ValueError:
            shown = date_text
        return f"{DOCUMENT_TITLES.get(entity_name, entity_name)} {record.get('Number', '')} от {shown}"

    # -- posting ---------------------------------------------------------------------------------

    def post(self, entity_name: str, ref: str) -> dict[str, Any]:
        entity = self.entity(entity_name)
        record = self.get(entity_name, ref)
        if record is None:
            raise not_found(entity_name)
        if not entity.postable:
            raise QueryError(400, "11", "Метод не найден")
        title = self.title(entity_name, record)
        if record.get("DeletionMark"):
            raise QueryError(500, "-1", f"Не удалось провести \"{title}\": помеченный на удаление документ не может "
                                        f"быть проведен.")
        for prop in entity.props:
            if prop.kind == "ref" and prop.name in ("Контрагент", "Организация", "Партнер"):
                value = record.get(f"{prop.name}_Key", ZERO_GUID)
                if value == ZERO_GUID or self.get(prop.target or "", value) is None:
                    raise QueryError(500, "-1", f"Не удалось провести \"{title}\": поле \"{prop.name}\" не "
                                                f"заполнено или ссылается на несуществующий объект.")
        for row in record.get("Товары", []):
            product_ref = row.get("Номенклатура_Key", ZERO_GUID)
            product = self.get("Catalog_Номенклатура", product_ref)
            if product is None:
                raise QueryError(500, "-1", f"Не удалось провести \"{title}\": в строке {row['LineNumber']} "
                                            f"табличной части \"Товары\" не заполнена колонка \"Номенклатура\" "
                                            f"(объект не найден: {product_ref}).")
            if product.get("DeletionMark"):
                raise QueryError(500, "-1", f"Не удалось провести \"{title}\": в строке {row['LineNumber']} "
                                            f"номенклатура \"{product['Description']}\" помечена на удаление.")
        record["Posted"] = True
        record["DataVersion"] = self.next_version()
        return record

    def unpost(self, entity_name: str, ref: str) -> dict[str, Any]:
        record = self.get(entity_name, ref)
        if record is None:
            raise not_found(entity_name)
        record["Posted"] = False
        record["DataVersion"] = self.next_version()
        return record

    # -- registers computed from posted documents ------------------------------------------------

    def posted(self, entity_name: str) -> list[dict[str, Any]]:
        return [record for record in self.records.get(entity_name, {}).values()
                if record.get("Posted") and not record.get("DeletionMark")]

    def register_rows(self, entity_name: str) -> list[dict[str, Any]]:
        if entity_name == "InformationRegister_СостоянияЗаказовКлиентов":
            return [self.order_state(order) for order in self.posted("Document_ЗаказКлиента")]
        if entity_name == "AccumulationRegister_РасчетыСКлиентами":
            return self.settlement_movements()
        if entity_name == "InformationRegister_СтатусыДокументов":
            return [self.invoice_status(invoice) for invoice in self.posted("Document_СчетНаОплатуПокупателю")]
        if entity_name == "InformationRegister_ЦеныНоменклатуры":
            return self.price_records()
        return []

    def _load_prices(self, dataset: Dataset, ut: bool) -> None:
        """The base's sales price type, and its prices set twice: a month ago (lower) and a week ago (the list
        prices), so the latest slice is the later one."""
        rouble = next(ref for ref, row in self.records["Catalog_Валюты"].items() if row["Code"] == "643")
        catalog = "Catalog_ВидыЦен" if ut else "Catalog_ТипыЦенНоменклатуры"
        kind = self.add(catalog, Description=PRICE_TYPE, ВалютаЦены_Key=rouble, ЦенаВключаетНДС=True,
                        **({"Статус": "Действует"} if ut else {}))["Ref_Key"]
        products = [product for product in dataset.products if product.in_onec]
        for days, share in ((30, Decimal("0.9")), (7, Decimal(1))):
            moment = datetime.fromtimestamp(int(self.clock.time()) - days * 86400, UTC).astimezone(self.tz)
            rows = [{"LineNumber": line, "Номенклатура_Key": product.ref_key,
                     "Цена": float(money(product.price * share)), **({"ВидЦены_Key": kind} if ut else {})}
                    for line, product in enumerate(products, start=1)]
            document = self.add("Document_УстановкаЦенНоменклатуры", Date=moment.strftime("%Y-%m-%dT%H:%M:%S"),
                                Товары=rows, **({} if ut else {"ТипЦен_Key": kind}))
            self.post("Document_УстановкаЦенНоменклатуры", document["Ref_Key"])

    def price_records(self) -> list[dict[str, Any]]:
        """The prices the posted «Установка цен номенклатуры» documents set: a record a row, at the document's
        date (УТ: the row's price type; БП: the document's)."""
        ut = self.profile.name == "ut11"
        records = []
        for document in self.posted("Document_УстановкаЦенНоменклатуры"):
            recorder = {"Period": document["Date"], "Recorder": document["Ref_Key"],
                        "Recorder_Type": "StandardODATA.Document_УстановкаЦенНоменклатуры"}
            for row in document.get("Товары", []):
                if ut:
                    records.append({**recorder, "Номенклатура_Key": row["Номенклатура_Key"],
                                    "Характеристика_Key": row.get("Характеристика_Key", ZERO_GUID),
                                    "ВидЦены_Key": row.get("ВидЦены_Key", ZERO_GUID), "Цена": row.get("Цена", 0),
                                    "Упаковка_Key": row.get("Упаковка_Key", ZERO_GUID),
                                    "Валюта_Key": self._price_currency(row.get("ВидЦены_Key"), "Catalog_ВидыЦен")})
                else:
                    records.append({**recorder, "ТипЦен_Key": document.get("ТипЦен_Key", ZERO_GUID),
                                    "Номенклатура_Key": row["Номенклатура_Key"], "Цена": row.get("Цена", 0),
                                    "Валюта_Key": row.get("Валюта_Key", ZERO_GUID).replace(ZERO_GUID, "") or
                                    self._price_currency(
                                        document.get("ТипЦен_Key"), "Catalog_ТипыЦенНоменклатуры")})
        return records

    def _price_currency(self, price_type: str | None, catalog: str) -> str:
        found = self.get(catalog, price_type or ZERO_GUID)
        return (found or {}).get("ВалютаЦены_Key", ZERO_GUID)

    def prices_slice_last(self, period: str | None = None) -> list[dict[str, Any]]:
        """The SliceLast virtual table: each price's latest record at `period` (now by default)."""
        dimensions = ("Номенклатура_Key", "Характеристика_Key", "ВидЦены_Key", "Упаковка_Key") \
            if self.profile.name == "ut11" else ("ТипЦен_Key", "Номенклатура_Key")
        latest: dict[tuple[str, ...], dict[str, Any]] = {}
        for record in sorted(self.price_records(), key=lambda item: item["Period"]):
            if period is None or record["Period"] <= period:
                latest[tuple(record[name] for name in dimensions)] = record
        return list(latest.values())

    def settlement_movements(self) -> list[dict[str, Any]]:
        """AccumulationRegister_РасчетыСКлиентами as record sets by recorder (the 11.0 layout: the order is the
        settlement object). Believed: an order registers what is due (КОплате, КОтгрузке), a sale the debt (Сумма)
        and the shipment, a payment row settles the debt and what is due."""
        order_type = "StandardODATA.Document_ЗаказКлиента"
        orders = {order["Ref_Key"]: order for order in self.posted("Document_ЗаказКлиента")}
        sets: list[dict[str, Any]] = []

        def record_set(recorder: dict[str, Any], entity_name: str, moves: list[tuple[str, str, dict[str, Decimal]]]):
            rows = []
            for line, (kind, order_ref, amounts) in enumerate(moves, start=1):
                order = orders[order_ref]
                rows.append({"LineNumber": str(line), "Period": recorder["Date"], "Active": True, "RecordType": kind,
                             "АналитикаУчетаПоПартнерам_Key": order.get("Контрагент_Key", ZERO_GUID),
                             "ЗаказКлиента": order_ref, "ЗаказКлиента_Type": order_type,
                             "Валюта_Key": order.get("Валюта_Key", ZERO_GUID),
                             **{name: float(amounts.get(name, Decimal(0)))
                                for name in ("Сумма", "КОплате", "Оплачивается", "КОтгрузке", "Отгружается")}})
            if rows:
                sets.append({"Recorder": recorder["Ref_Key"], "Recorder_Type": f"StandardODATA.{entity_name}",
                             "RecordSet": rows})

        for ref, order in orders.items():
            total = Decimal(str(order.get("СуммаДокумента") or 0))
            record_set(order, "Document_ЗаказКлиента", [("Receipt", ref, {"КОплате": total, "КОтгрузке": total})])
        for sale in self.posted("Document_РеализацияТоваровУслуг"):
            ref = str(sale.get("ЗаказКлиента", "")).lower()
            if ref in orders:
                amount = Decimal(str(sale.get("СуммаДокумента") or 0))
                record_set(sale, "Document_РеализацияТоваровУслуг",
                           [("Receipt", ref, {"Сумма": amount}), ("Expense", ref, {"КОтгрузке": amount})])
        for entity_name in ("Document_ПоступлениеБезналичныхДенежныхСредств", "Document_ПриходныйКассовыйОрдер"):
            for payment in self.posted(entity_name):
                moves = [("Expense", str(row.get("Заказ", "")).lower(), dict.fromkeys(
                              ("Сумма", "КОплате"), Decimal(str(row.get("Сумма") or 0))))
                         for row in payment.get("РасшифровкаПлатежа", [])
                         if row.get("Заказ_Type") == order_type and str(row.get("Заказ", "")).lower() in orders]
                record_set(payment, entity_name, moves)
        return sets

    def settlement_balance(self) -> list[dict[str, Any]]:
        """The Balance virtual table: the movements summed by dimensions, zero balances left out."""
        totals: dict[tuple[str, str, str], dict[str, Decimal]] = {}
        for record_set in self.settlement_movements():
            for row in record_set["RecordSet"]:
                key = (row["АналитикаУчетаПоПартнерам_Key"], row["ЗаказКлиента"], row["Валюта_Key"])
                sums = totals.setdefault(key, {})
                sign = 1 if row["RecordType"] == "Receipt" else -1
                for name in ("Сумма", "КОплате", "Оплачивается", "КОтгрузке", "Отгружается"):
                    sums[name] = sums.get(name, Decimal(0)) + sign * Decimal(str(row[name]))
        return [{"АналитикаУчетаПоПартнерам_Key": key[0], "ЗаказКлиента": key[1],
                 "ЗаказКлиента_Type": "StandardODATA.Document_ЗаказКлиента", "Валюта_Key": key[2],
                 **{f"{name}Balance": float(money(value)) for name, value in sums.items()}}
                for key, sums in totals.items() if any(sums.values())]

    def paid_for_order(self, order_ref: str) -> Decimal:
        total = Decimal(0)
        for entity_name in ("Document_ПоступлениеБезналичныхДенежныхСредств", "Document_ПриходныйКассовыйОрдер"):
            for payment in self.posted(entity_name):
                for row in payment.get("РасшифровкаПлатежа", []):
                    if row.get("Заказ", "").lower() == order_ref and \
                            row.get("Заказ_Type") == "StandardODATA.Document_ЗаказКлиента":
                        total += Decimal(str(row.get("Сумма") or 0))
        return total

    def shipped_for_order(self, order_ref: str) -> Decimal:
        sales = self.posted("Document_РеализацияТоваровУслуг")
        return sum((Decimal(str(sale.get("СуммаДокумента") or 0)) for sale in sales
                    if sale.get("ЗаказКлиента", "").lower() == order_ref), Decimal(0))

    def order_state(self, order: dict[str, Any]) -> dict[str, Any]:
        total = Decimal(str(order.get("СуммаДокумента") or 0))
        paid = self.paid_for_order(order["Ref_Key"])
        shipped = self.shipped_for_order(order["Ref_Key"])

        def percent(part: Decimal) -> float | int:
            value = min(Decimal(100), money(part / total * 100)) if total else Decimal(0)
            return int(value) if value == value.to_integral_value() else float(value)

        if order.get("Статус") == "Закрыт":
            state = "Закрыт"
        elif total and shipped >= total and paid >= total:
            state = "ГотовКЗакрытию"
        elif total and shipped >= total:
            state = "ОжидаетсяОплатаПослеОтгрузки"
        elif shipped > 0:
            state = "ВПроцессеОтгрузки"
        elif order.get("Статус") == "НеСогласован":
            state = "ОжидаетсяСогласование"
        elif order.get("Статус") == "КОтгрузке":
            state = "ГотовКОтгрузке"
        else:
            state = "ГотовКОбеспечению"
        return {"Заказ_Key": order["Ref_Key"], "Состояние": state, "ДатаСобытия": self.now(),
                "ПроцентОплаты": percent(paid), "ПроцентОтгрузки": percent(shipped),
                "ПроцентДолга": percent(max(Decimal(0), shipped - paid))}

    def invoice_status(self, invoice: dict[str, Any]) -> dict[str, Any]:
        total = Decimal(str(invoice.get("СуммаДокумента") or 0))
        paid = Decimal(0)
        for entity_name in ("Document_ПоступлениеНаРасчетныйСчет", "Document_ПриходныйКассовыйОрдер"):
            for payment in self.posted(entity_name):
                if payment.get("ДокументОснование", "").lower() == invoice["Ref_Key"] and \
                        payment.get("ДокументОснование_Type") == "StandardODATA.Document_СчетНаОплатуПокупателю":
                    paid += Decimal(str(payment.get("СуммаДокумента") or 0))
        status = "Оплачен" if total and paid >= total else "ОплаченЧастично" if paid > 0 else "НеОплачен"
        shipped = any(sale.get("СчетНаОплатуПокупателю_Key") == invoice["Ref_Key"]
                      for sale in self.posted("Document_РеализацияТоваровУслуг"))
        return {"Организация_Key": invoice["Организация_Key"], "Документ": invoice["Ref_Key"],
                "Документ_Type": "StandardODATA.Document_СчетНаОплатуПокупателю",
                "Статус": status, "Статус_Type": "StandardODATA.Enum_СтатусОплатыСчета",
                "ДополнительныйСтатус": "Отгружен" if shipped else "НеОтгружен",
                "ДополнительныйСтатус_Type": "StandardODATA.Enum_СтатусыРеализацииСчета"}

    # -- seeding from the shared dataset ---------------------------------------------------------

    def load(self, dataset: Dataset) -> None:
        with self.lock:
            self._load(dataset)

    def add(self, entity_name: str, **values: Any) -> dict[str, Any]:
        return self.create(entity_name, values)

    def _load(self, dataset: Dataset) -> None:
        ut = self.profile.name == "ut11"
        org = dataset.organisation
        organisation = self.add("Catalog_Организации", Description=org.title, ИНН=org.inn, КПП=org.kpp,
                                НаименованиеПолное=org.full_name, НаименованиеСокращенное=org.title, ОГРН=org.ogrn)
        for code, name, full in (("643", "RUB", "Российский рубль"), ("840", "USD", "Доллар США"),
                                 ("978", "EUR", "Евро")):
            self.add("Catalog_Валюты", Code=code, Description=name, НаименованиеПолное=full)
        self.add("Catalog_Склады", Description="Основной склад")
        for predefined, kind, title in (("ТелефонКонтрагента", "Телефон", "Телефон"),
                                        ("EmailКонтрагента", "АдресЭлектроннойПочты", "Email"),
                                        ("ЮрАдресКонтрагента", "Адрес", "Юридический адрес")):
            self.add("Catalog_ВидыКонтактнойИнформации", Description=title, Тип=kind, Predefined=True,
                     PredefinedDataName=predefined)
        for manager in dataset.managers:
            self.add("Catalog_Пользователи", Ref_Key=manager.onec_user_key,
                     Description=f"{manager.last_name} {manager.name}")
        self.deal_property_ref = self.add("ChartOfCharacteristicTypes_ДополнительныеРеквизитыИСведения",
                                          Description=DEAL_PROPERTY, Имя="IDСделкиБитрикс24",
                                          Заголовок=DEAL_PROPERTY, ТипЗначения="Строка")["Ref_Key"]
        self.tracking_property_ref = self.add("ChartOfCharacteristicTypes_ДополнительныеРеквизитыИСведения",
                                              Description=TRACKING_PROPERTY, Имя="ТрекНомер",
                                              Заголовок=TRACKING_PROPERTY, ТипЗначения="Строка")["Ref_Key"]
        units: dict[int, str] = {}
        unit_set = "Catalog_УпаковкиЕдиницыИзмерения" if ut else "Catalog_КлассификаторЕдиницИзмерения"
        basic = self.add("Catalog_НаборыУпаковок", Description="Базовые единицы измерения", Predefined=True,
                         PredefinedDataName="БазовыеЕдиницыИзмерения")["Ref_Key"] if ut else ""
        packings = {product.packing.unit_code: product.packing.unit_name for product in dataset.products
                    if product.packing} if ut else {}
        for code, name in ((796, "шт"), (6, "м"), (356, "ч"), *packings.items()):
            extra = {"КодОКЕИ": f"{code:03d}", "Owner": basic, "Owner_Type": "StandardODATA.Catalog_НаборыУпаковок",
                     "Числитель": 1, "Знаменатель": 1} if ut else {"Code": f"{code:03d}", "НаименованиеПолное": name}
            units[code] = self.add(unit_set, Description=name, **extra)["Ref_Key"]
        kits: dict[str, str] = {}
        vat_refs: dict[int | None, str] = {}
        if "Catalog_СтавкиНДС" in self.entities:
            for rate in (22, 20, 10, 0, None):
                vat_refs[rate] = self.add("Catalog_СтавкиНДС", Description="Без НДС" if rate is None else f"{rate}%",
                                          Ставка=rate or 0, ПеречислениеСтавкаНДС=VAT_RATES[rate])["Ref_Key"]
        catalog_vat = self.entity("Catalog_Номенклатура").prop("СтавкаНДС_Key") is not None
        for product in dataset.products:
            if not product.in_onec:
                continue
            values: dict[str, Any] = {"Ref_Key": product.ref_key, "Description": product.name[:150],
                                      "Артикул": product.article, "НаименованиеПолное": product.name,
                                      "ЕдиницаИзмерения_Key": units.get(product.measure_code, units[796])}
            if ut:
                values["СтавкаНДС_Key" if catalog_vat else "СтавкаНДС"] = (
                    vat_refs[product.vat_rate] if catalog_vat else VAT_RATES[product.vat_rate])
            else:
                values["ВидСтавкиНДС"] = "Общая" if product.vat_rate == 22 else "Пониженная" \
                    if product.vat_rate == 10 else "Нулевая" if product.vat_rate == 0 else "БезНДС"
                values["Услуга"] = product.measure_code == 356
            if ut and product.packing is not None:
                packing = product.packing
                if packing.kit and packing.kit not in kits:
                    kits[packing.kit] = self.add("Catalog_НаборыУпаковок", Description=packing.kit)["Ref_Key"]
                owner = kits[packing.kit] if packing.kit else product.ref_key
                if packing.kit:
                    values["НаборУпаковок_Key"] = owner
                self.add(unit_set, Description=packing.name, Owner=owner, Owner_Type="StandardODATA." + (
                    "Catalog_НаборыУпаковок" if packing.kit else "Catalog_Номенклатура"),
                    ЕдиницаИзмерения_Key=units[packing.unit_code], Числитель=packing.count, Знаменатель=1,
                    ТипИзмеряемойВеличины="Упаковка")
            self.add("Catalog_Номенклатура", **values)
        self._load_prices(dataset, ut)
        for company in dataset.companies:
            if not company.in_onec:
                continue
            if ut:
                partner = self.add("Catalog_Партнеры", Description=company.title, НаименованиеПолное=company.full_name,
                                   Клиент=True, ЮрФизЛицо="Компания")
                self.add("Catalog_Контрагенты", Description=company.title, ИНН=company.inn, КПП=company.kpp,
                         Партнер_Key=partner["Ref_Key"], НаименованиеПолное=company.full_name, ЮрФизЛицо="ЮрЛицо")
            else:
                counterparty = self.add("Catalog_Контрагенты", Description=company.title, ИНН=company.inn,
                                        КПП=company.kpp, НаименованиеПолное=company.full_name,
                                        ЮридическоеФизическоеЛицо="ЮридическоеЛицо")
                self.add("Catalog_ДоговорыКонтрагентов", Description="Основной договор",
                         Owner_Key=counterparty["Ref_Key"], Организация_Key=organisation["Ref_Key"],
                         ВидДоговора="СПокупателем")
        if ut:
            self.add("Catalog_СоглашенияСКлиентами", Description="Основное соглашение (розница и опт)",
                     Организация_Key=organisation["Ref_Key"], Валюта_Key=self.find("Catalog_Валюты", "Code", "643"),
                     ЦенаВключаетНДС=True, Статус="Действует", Типовое=True)

    def find(self, entity_name: str, field: str, value: Any) -> str:
        for ref, record in self.records[entity_name].items():
            if record.get(field) == value:
                return ref
        return ZERO_GUID


def coerce(prop: Prop, key: str, value: Any, tz: timezone) -> Any:
    """A value written through OData, checked and converted to the property's type."""
    edm = GUID if key.endswith("_Key") else prop.edm
    if key.endswith("_Type"):
        if not isinstance(value, str):
            raise internal_error()
        return value
    if edm == GUID:
        text = "" if value is None else str(value)
        if not GUID_PATTERN.match(text):
            raise bad_value(text, GUID)
        return text.lower()
    if isinstance(value, list | dict):
        raise internal_error()  # an array into a scalar: an internal error, not a clear message
    if edm == DOUBLE:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise bad_value(value, edm) from None
        return int(number) if number.is_integer() else number
    if edm == INT64:
        try:
            return str(int(str(value)))
        except ValueError:
            raise bad_value(value, edm) from None
    if edm == BOOLEAN:
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("true", "false"):
            return str(value).lower() == "true"
        raise bad_value(value, edm)
    if edm == DATETIME:
        text = str(value)
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise bad_value(text, edm) from None
        if moment.tzinfo is not None:
            moment = moment.astimezone(tz).replace(tzinfo=None)  # a zone is applied as a shift to server time
        return moment.replace(microsecond=0).isoformat()
    text = "" if value is None else str(value) if not isinstance(value, bool) else ("true" if value else "false")
    return text[: prop.length] if prop.length else text
