"""The user fields b24sync writes (deals, and contacts and companies), with their Bitrix24 types, as `b24sync setup`
creates them."""

from __future__ import annotations

from b24sync.bitrix24.adapter import UserFieldSpec
from b24sync.config import DealFields

# The enumeration's options: XML_ID (what b24sync matches on) and the label managers see.
PAYMENT_OPTIONS = (("paid", "Оплачен"), ("partial", "Частично оплачен"), ("unpaid", "Не оплачен"))


def customer_field_specs(fields: DealFields) -> list[UserFieldSpec]:
    """The field contacts and companies get (each entity its own): their counterparty in 1C. A GUID typed into
    it by hand binds the contact or company to that counterparty."""
    return [UserFieldSpec(fields.counterparty_id, "string", "Контрагент в 1С (GUID)")]


def deal_field_specs(fields: DealFields) -> list[UserFieldSpec]:
    return [
        UserFieldSpec(fields.order_id, "string", "Заказ в 1С (GUID)"),
        UserFieldSpec(fields.order_number, "string", "Номер заказа в 1С"),
        UserFieldSpec(fields.invoice_number, "string", "Номер счёта"),
        UserFieldSpec(fields.invoice_url, "url", "Счёт (PDF)"),
        UserFieldSpec(fields.payment_status, "enumeration", "Статус оплаты", PAYMENT_OPTIONS),
        UserFieldSpec(fields.shipment_date, "date", "Дата отгрузки"),
        UserFieldSpec(fields.tracking_number, "string", "Трек-номер"),
        *optional_field_specs(fields),
    ]


def optional_field_specs(fields: DealFields) -> list[UserFieldSpec]:
    """The fields that show amounts and the order's status, and the manager's delivery address; a portal set up
    by an older release may lack them (b24sync then writes the rest and says once to run `b24sync setup`)."""
    return [
        UserFieldSpec(fields.paid_amount, "money", "Оплачено (1С)"),
        UserFieldSpec(fields.shipped_amount, "money", "Отгружено (1С)"),
        UserFieldSpec(fields.order_status, "string", "Статус заказа в 1С"),
        UserFieldSpec(fields.delivery_address, "string", "Адрес доставки", also=("address",)),
    ]


def payment_option_ids(userfield: dict) -> dict[str, str]:
    """paid/partial/unpaid -> the enumeration option IDs of this portal's payment-status field."""
    return {item.get("XML_ID"): item["ID"] for item in userfield.get("LIST") or [] if item.get("XML_ID")}
