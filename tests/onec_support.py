"""Helpers for the 1C tests: a config for an emulated base, and the accountant's side done through OData."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import requests

from b24sync.config import Marker, OneCConfig, OneCDefaults
from b24sync_emulators.onec.base import TRACKING_PROPERTY
from b24sync_emulators.onec.server import RunningBase

USER = "Обмен"
PASSWORD = "пароль-1С"


def onec_config(running: RunningBase, **overrides: Any) -> OneCConfig:
    options: dict[str, Any] = {
        "url": running.odata_root, "user": USER, "password": PASSWORD, "profile": running.base.profile.name,
        "defaults": OneCDefaults(organisation="ООО «Электросбыт»", warehouse="Основной склад",
                                 agreement="Основное соглашение (розница и опт)"),
        "read_timeout": 15, "max_retries": 2, "deal_marker": Marker(additional_requisite="ID сделки Битрикс24"),
    }
    options.update(overrides)
    return OneCConfig(**options)


class Accountant:
    """What an accountant does in 1C, done through the same OData API a real 1C user's integration would use."""

    def __init__(self, running: RunningBase) -> None:
        self.running = running
        self.session = requests.Session()
        self.session.auth = (USER.encode("utf-8"), PASSWORD.encode("utf-8"))
        self.profile = running.base.profile.name

    def url(self, resource: str) -> str:
        return self.running.odata_root + quote(resource, safe="()'=/") + "?$format=json"

    def get(self, entity: str, ref: str) -> dict[str, Any]:
        reply = self.session.get(self.url(f"{entity}(guid'{ref}')"), timeout=10)
        reply.raise_for_status()
        return reply.json()

    def list(self, entity: str) -> list[dict[str, Any]]:
        reply = self.session.get(self.url(entity), timeout=10)
        reply.raise_for_status()
        return reply.json()["value"]

    def create(self, entity: str, body: dict[str, Any], post: bool = True) -> dict[str, Any]:
        reply = self.session.post(self.url(entity), json=body, timeout=10)
        assert reply.status_code == 201, reply.text
        created = reply.json()
        if post:
            done = self.session.post(self.running.odata_root + quote(f"{entity}(guid'{created['Ref_Key']}')/Post",
                                                                     safe="()'=/"), data=b"", timeout=10)
            assert done.status_code == 200, done.text
        return created

    def patch(self, entity: str, ref: str, body: dict[str, Any]) -> dict[str, Any]:
        reply = self.session.patch(self.url(f"{entity}(guid'{ref}')"), json=body, timeout=10)
        assert reply.status_code == 200, reply.text
        return reply.json()

    def delete(self, entity: str, ref: str) -> None:
        """Delete an object outright (not a deletion mark), as an administrator of the base may."""
        reply = self.session.delete(self.url(f"{entity}(guid'{ref}')"), timeout=10)
        assert reply.status_code == 204, reply.text

    def mark_for_deletion(self, entity: str, ref: str) -> None:
        """Unpost (a posted document cannot be marked) and set the deletion mark, as in 1C's own form."""
        done = self.session.post(self.running.odata_root + quote(f"{entity}(guid'{ref}')/Unpost", safe="()'=/"),
                                 data=b"", timeout=10)
        assert done.status_code == 200, done.text
        self.patch(entity, ref, {"DeletionMark": True})

    def invoice(self, order_ref: str, amount: float) -> dict[str, Any]:
        """УТ: a Счет на оплату клиенту based on the order (in БП the deal's document is already the invoice)."""
        order = self.get("Document_ЗаказКлиента", order_ref)
        return self.create("Document_СчетНаОплатуКлиенту", {
            "Организация_Key": order["Организация_Key"], "Партнер_Key": order["Партнер_Key"],
            "Контрагент_Key": order["Контрагент_Key"], "Валюта_Key": order["Валюта_Key"], "СуммаДокумента": amount,
            "ДокументОснование": order_ref, "ДокументОснование_Type": "StandardODATA.Document_ЗаказКлиента"})

    def parties(self, order_ref: str) -> dict[str, Any]:
        """Организация, Контрагент (and Партнер) of the order, which the accountant's documents repeat."""
        entity = "Document_ЗаказКлиента" if self.profile == "ut11" else "Document_СчетНаОплатуПокупателю"
        order = self.get(entity, order_ref)
        parties = {"Организация_Key": order["Организация_Key"], "Контрагент_Key": order["Контрагент_Key"]}
        if self.profile == "ut11":
            parties["Партнер_Key"] = order["Партнер_Key"]
        return parties

    def ship(self, order_ref: str, amount: float, tracking: str, date: str | None = None) -> dict[str, Any]:
        if self.profile == "ut11":
            body: dict[str, Any] = {**self.parties(order_ref),
                "ЗаказКлиента": order_ref, "ЗаказКлиента_Type": "StandardODATA.Document_ЗаказКлиента",
                "СуммаДокумента": amount, "РеализацияПоЗаказам": True, "ХозяйственнаяОперация": "РеализацияКлиенту",
                "ДополнительныеРеквизиты": [{"LineNumber": 1, "Свойство_Key": self.running.base.tracking_property_ref,
                                             "Значение": tracking, "Значение_Type": "Edm.String"}]}
        else:
            body = {**self.parties(order_ref), "ВидОперации": "Товары", "СчетНаОплатуПокупателю_Key": order_ref,
                    "СуммаДокумента": amount,
                    "НомерДляОтслеживания": tracking}
        if date:
            body["Date"] = date
        return self.create("Document_РеализацияТоваровУслуг", body)

    def pay(self, order_ref: str, amount: float) -> dict[str, Any]:
        parties = self.parties(order_ref)
        if self.profile == "ut11":
            parties.pop("Партнер_Key")
            return self.create("Document_ПоступлениеБезналичныхДенежныхСредств", {
                **parties, "СуммаДокумента": amount, "ХозяйственнаяОперация": "ПоступлениеОплатыОтКлиента",
                "РасшифровкаПлатежа": [{"LineNumber": 1, "Заказ": order_ref,
                                        "Заказ_Type": "StandardODATA.Document_ЗаказКлиента", "Сумма": amount,
                                        "СуммаВзаиморасчетов": amount}]})
        return self.create("Document_ПоступлениеНаРасчетныйСчет", {
            "Организация_Key": parties["Организация_Key"], "Контрагент": parties["Контрагент_Key"],
            "Контрагент_Type": "StandardODATA.Catalog_Контрагенты", "ВидОперации": "ОплатаПокупателя",
            "СуммаДокумента": amount, "ДокументОснование": order_ref,
            "ДокументОснование_Type": "StandardODATA.Document_СчетНаОплатуПокупателю"})


__all__ = ["Accountant", "PASSWORD", "TRACKING_PROPERTY", "USER", "onec_config"]
