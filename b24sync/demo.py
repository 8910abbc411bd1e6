"""The end-to-end demo on the emulators, narrated for a person watching the terminal.

It starts an emulated Bitrix24 portal and an emulated 1C base (УТ 11) on one
generated dataset, writes a temporary config, and plays the story b24sync exists
for: managers move deals to «В работе», orders appear in 1C; the accountant
issues invoices, ships and takes payments; the deals show it all. It finishes
with `b24sync status` and leaves nothing running.
"""

from __future__ import annotations

import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

from b24sync.alerts import Alerts
from b24sync.bitrix24.wire import parse_date_only
from b24sync.commands import status
from b24sync.config import load_config
from b24sync.invoices.currency import figure, money
from b24sync.invoices.words import amount_in_words
from b24sync.logs import configure_logging
from b24sync.sandbox import SANDBOX_PASSWORD, SANDBOX_USER, start_sandbox
from b24sync.wiring import build

MOVED = (1, 2, 3, 4, 5, 6)
USD_DEAL, DISCOUNT_DEAL, PARTIAL_DEAL = 2, 3, 4


def _show_invoice(data: Any, deal_id: int, label: str) -> None:
    """An invoice's rows, totals and words, as its PDF prints them."""
    say(f"   • deal {deal_id}, {label}: {data.title}")
    shown = sorted(data.rows, key=lambda row: -row.discount)[:2]  # a discounted row first, if there is one
    for row in shown:
        discount = f" − скидка {figure(row.discount)}" if row.discount else ""
        say(f"       {row.name[:90]}: {figure(row.price)} × {row.quantity.normalize():f}{discount} = "
            f"{figure(row.amount)}")
    if len(data.rows) > len(shown):
        say(f"       … and {len(data.rows) - len(shown)} more rows")
    vat = sum((row.vat_amount for row in data.rows), Decimal(0))
    label_vat = "в том числе НДС" if data.prices_include_vat else "НДС сверху"
    say(f"       всего к оплате {money(data.total, data.currency.code)} ({label_vat} {figure(vat)}); "
        f"прописью: «{amount_in_words(data.total, data.currency)}»")



def say(text: str = "") -> None:
    print(text, flush=True)


class Accountant:
    """The accountant's day in 1C, done through OData as any 1C user's integration would."""

    def __init__(self, odata_root: str) -> None:
        self.root = odata_root
        self.session = requests.Session()
        self.session.auth = (SANDBOX_USER.encode(), SANDBOX_PASSWORD.encode())

    def _url(self, resource: str) -> str:
        return self.root + quote(resource, safe="()'=/") + "?$format=json"

    def order(self, ref: str) -> dict[str, Any]:
        return self.session.get(self._url(f"Document_ЗаказКлиента(guid'{ref}')"), timeout=10).json()

    def create(self, entity: str, body: dict[str, Any]) -> dict[str, Any]:
        created = self.session.post(self._url(entity), json=body, timeout=10).json()
        self.session.post(self.root + quote(f"{entity}(guid'{created['Ref_Key']}')/Post", safe="()'=/"), data=b"",
                          timeout=10)
        return created

    def invoice(self, order: dict[str, Any], amount: float | None = None) -> dict[str, Any]:
        """A Счет на оплату клиенту for the order: for all of it, or for `amount` (a prepayment)."""
        return self.create("Document_СчетНаОплатуКлиенту", {
            "Организация_Key": order["Организация_Key"], "Партнер_Key": order["Партнер_Key"],
            "Контрагент_Key": order["Контрагент_Key"], "Валюта_Key": order["Валюта_Key"],
            "СуммаДокумента": order["СуммаДокумента"] if amount is None else amount,
            "ДокументОснование": order["Ref_Key"],
            "ДокументОснование_Type": "StandardODATA.Document_ЗаказКлиента"})

    def pay(self, order: dict[str, Any], amount: float) -> None:
        self.create("Document_ПоступлениеБезналичныхДенежныхСредств", {
            "Организация_Key": order["Организация_Key"], "Контрагент_Key": order["Контрагент_Key"],
            "СуммаДокумента": amount, "ХозяйственнаяОперация": "ПоступлениеОплатыОтКлиента",
            "РасшифровкаПлатежа": [{"LineNumber": 1, "Заказ": order["Ref_Key"], "Сумма": amount,
                                    "Заказ_Type": "StandardODATA.Document_ЗаказКлиента"}]})

    def ship(self, order: dict[str, Any], tracking: str, tracking_property: str) -> None:
        self.create("Document_РеализацияТоваровУслуг", {
            "Организация_Key": order["Организация_Key"], "Партнер_Key": order["Партнер_Key"],
            "Контрагент_Key": order["Контрагент_Key"], "ЗаказКлиента": order["Ref_Key"],
            "ЗаказКлиента_Type": "StandardODATA.Document_ЗаказКлиента", "СуммаДокумента": order["СуммаДокумента"],
            "ДополнительныеРеквизиты": [{"LineNumber": 1, "Свойство_Key": tracking_property, "Значение": tracking,
                                         "Значение_Type": "Edm.String"}]})


def run_demo(deals: int = 60) -> int:
    started = time.monotonic()
    configure_logging("ERROR", "console")
    sandbox = start_sandbox(deals=max(deals, 12), seed=7)
    try:
        with tempfile.TemporaryDirectory(prefix="b24sync-demo-") as workdir:
            return _story(sandbox, Path(workdir), started)
    finally:
        sandbox.stop()


def _story(sandbox: Any, workdir: Path, started: float) -> int:
    portal = sandbox.portal
    say(f"▶ An emulated Bitrix24 portal ({len(portal.portal.deals)} deals, 2 requests/s, burst 50, like the cloud) "
        f"and an emulated 1C:УТ 11 base on one dataset; the config: {sandbox.write_config(workdir / 'config.yaml')}")
    config = load_config(workdir / "config.yaml")
    parts = build(config)
    try:
        for deal in portal.portal.deals.values():  # a quiet start: nothing is in the trigger stages yet
            deal["STAGE_ID"] = "NEW" if deal["CATEGORY_ID"] == "0" else "C1:NEW"
        say()
        say("1. Managers prepare and move six deals to «В работе»: deal 2 is in US dollars, deal 3 has a 10 % "
            "discount on its first row.")
        requests.post(portal.webhook_url + "crm.deal.update", json={"id": USD_DEAL, "fields": {"CURRENCY_ID": "USD"}},
                      timeout=10)
        rows = requests.post(portal.webhook_url + "crm.deal.productrows.get", json={"id": DISCOUNT_DEAL},
                             timeout=10).json()["result"]
        first = rows[0]
        rows[0] = {**first, "PRICE": round(float(first["PRICE_BRUTTO"]) * 0.9, 2), "DISCOUNT_TYPE_ID": 2,
                   "DISCOUNT_RATE": 10}
        requests.post(portal.webhook_url + "crm.deal.productrows.set", json={"id": DISCOUNT_DEAL, "rows": [
            {key: row[key] for key in ("PRODUCT_ID", "PRICE", "QUANTITY", "DISCOUNT_TYPE_ID", "DISCOUNT_RATE",
                                       "TAX_RATE", "TAX_INCLUDED") if key in row} for row in rows]}, timeout=10)
        for deal_id in MOVED:
            stage = "EXECUTING" if portal.portal.deals[deal_id]["CATEGORY_ID"] == "0" else "C1:EXECUTING"
            requests.post(portal.webhook_url + "crm.deal.update",
                          json={"id": deal_id, "fields": {"STAGE_ID": stage}}, timeout=10)
        push = parts.engine.push()
        say(f"   b24sync: {push.summary()}")
        for deal_id in MOVED:
            deal = portal.portal.deals[deal_id]
            binding = parts.store.binding_for_deal(deal_id)
            if binding:
                amount = money(Decimal(str(deal["OPPORTUNITY"])), deal["CURRENCY_ID"])
                say(f"   ✔ deal {deal_id} «{deal['TITLE']}», {amount} → Заказ клиента {binding.number} in 1C, "
                    f"posted; the deal now holds its number and GUID")
            else:
                say(f"   ✘ deal {deal_id} «{deal['TITLE']}» stays out of 1C: {push.failed.get(deal_id)}")
                say("     (the manager sees this once in the deal's timeline; b24sync retries by itself)")
        alerts = Alerts(config.notify)  # what `b24sync run` does after each cycle
        alerts.after_cycle(parts.store, push, time.time())
        for message in sandbox.inbox.app.messages:
            say(f"   ✉ the administrator's alert (notify.urls, here the sandbox's inbox): «{message['title']}»")
            for line in str(message.get("message", "")).splitlines():
                say(f"       {line}")

        say()
        say("2. The accountant works in 1C: invoices, a shipment with a tracking number, payments.")
        accountant = Accountant(sandbox.base.odata_root)
        bound = [binding for binding in parts.store.bindings()]
        orders = [accountant.order(binding.onec_ref) for binding in bound]
        invoices: dict[int, dict[str, Any]] = {}
        for binding, order in list(zip(bound, orders, strict=True))[:4]:
            prepayment = binding.deal_id == PARTIAL_DEAL
            amount = round(float(order["СуммаДокумента"]) * 0.3, 2) if prepayment else None
            invoices[binding.deal_id] = accountant.invoice(order, amount)
            say(f"   • invoice {invoices[binding.deal_id]['Number']} for order {order['Number']}"
                + (f": a 30 % prepayment, {money(Decimal(str(amount)), 'RUB')} of "
                   f"{money(Decimal(str(order['СуммаДокумента'])), 'RUB')}" if prepayment else ""))
        accountant.ship(orders[0], "RU123456789CN", sandbox.base.base.tracking_property_ref)
        accountant.pay(orders[0], orders[0]["СуммаДокумента"])
        accountant.pay(orders[1], round(orders[1]["СуммаДокумента"] / 2, 2))
        say(f"   • order {orders[0]['Number']} shipped (RU123456789CN) and paid; order {orders[1]['Number']} paid "
            f"in half")
        pull = parts.engine.pull()
        say(f"   b24sync: {pull.summary()}")

        say()
        say("3. What the managers now see in their deals:")
        labels = {option["ID"]: option["VALUE"] for option in
                  portal.portal.userfields["UF_CRM_PAYMENT_STATUS"].get("LIST", [])}
        say(f"   {'DEAL':<5} {'ORDER':<12} {'INVOICE':<12} {'PAYMENT':<17} {'SHIPPED':<11} {'TRACKING':<14} STAGE")
        for binding in bound:
            deal = portal.portal.deals[binding.deal_id]
            shipped = parse_date_only(deal.get("UF_CRM_SHIPMENT_DATE"))
            say(f"   {binding.deal_id:<5} {deal.get('UF_CRM_1C_ORDER_NUMBER') or '—':<12} "
                f"{deal.get('UF_CRM_INVOICE_NUMBER') or '—':<12} "
                f"{labels.get(deal.get('UF_CRM_PAYMENT_STATUS'), '—'):<17} "
                f"{shipped.isoformat() if shipped else '—':<11} {deal.get('UF_CRM_TRACKING_NUMBER') or '—':<14} "
                f"{deal['STAGE_ID']}")
        say("   (a paid deal moved to its pipeline's «won» stage, as 'stage_on_paid' asks)")
        say("   Invoice PDFs, rendered from 1C's data, on Bitrix24 Disk and in each deal's timeline:")
        for binding in bound:
            link = portal.portal.deals[binding.deal_id].get("UF_CRM_INVOICE_URL")
            if link:
                say(f"   • deal {binding.deal_id}: {link}")

        say("   What the accountant would check on three of those invoices (the figures their PDFs print):")
        for deal_id, label in ((USD_DEAL, "in US dollars"), (DISCOUNT_DEAL, "with a discount"),
                               (PARTIAL_DEAL, "a prepayment")):
            if deal_id in invoices:
                _show_invoice(parts.onec.invoice_data(invoices[deal_id]["Ref_Key"]), deal_id, label)

        again = parts.engine.push(), parts.engine.pull()
        say()
        say(f"4. Another cycle with nothing new: {again[0].summary()}; {again[1].summary()} — nothing is written.")
    finally:
        parts.close()
    say()
    say("5. `b24sync status`:")
    status(config, as_json=False)
    say()
    say(f"Done in {time.monotonic() - started:.1f} s; nothing is left running.")
    say("Next: `scripts/test` runs every test; `b24sync emulate all --config-out sandbox.yaml` gives you this "
        "sandbox to try config changes on; the README explains installing b24sync for real.")
    return 0
