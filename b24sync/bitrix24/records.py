"""Typed views of the Bitrix24 records b24sync reads, built from the wire form.

IDs become ints, money and quantities Decimals, flags bools, datetimes aware,
and null or "" becomes None, whatever variant the portal sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from b24sync.bitrix24.wire import parse_date_only, parse_datetime, to_bool, to_decimal, to_int, to_text


@dataclass(frozen=True)
class Deal:
    id: int
    title: str
    category_id: int
    stage_id: str
    stage_semantic: str | None
    type_id: str | None
    currency_id: str | None
    opportunity: Decimal | None
    company_id: int | None
    contact_id: int | None
    assigned_by_id: int | None
    date_create: datetime | None
    date_modify: datetime | None
    begin_date: date | None
    close_date: date | None
    closed: bool | None
    user_fields: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_wire(cls, raw: dict[str, Any]) -> Deal:
        return cls(
            id=to_int(raw["ID"]) or 0,
            title=raw.get("TITLE") or "",
            category_id=to_int(raw.get("CATEGORY_ID")) or 0,
            stage_id=raw.get("STAGE_ID") or "",
            stage_semantic=to_text(raw.get("STAGE_SEMANTIC_ID")),
            type_id=to_text(raw.get("TYPE_ID")),
            currency_id=to_text(raw.get("CURRENCY_ID")),
            opportunity=to_decimal(raw.get("OPPORTUNITY")),
            company_id=to_int(raw.get("COMPANY_ID")) or None,  # "0" means no company
            contact_id=to_int(raw.get("CONTACT_ID")) or None,
            assigned_by_id=to_int(raw.get("ASSIGNED_BY_ID")),
            date_create=parse_datetime(raw.get("DATE_CREATE")),
            date_modify=parse_datetime(raw.get("DATE_MODIFY")),
            begin_date=parse_date_only(raw.get("BEGINDATE")),
            close_date=parse_date_only(raw.get("CLOSEDATE")),
            closed=to_bool(raw.get("CLOSED")),
            user_fields={key: value for key, value in raw.items() if key.startswith("UF_")},
        )


@dataclass(frozen=True)
class ProductRow:
    id: int
    deal_id: int
    product_id: int | None  # None for a free-text row (PRODUCT_ID 0)
    name: str
    price: Decimal  # final unit price: after discount, with tax
    price_exclusive: Decimal | None  # after discount, without tax
    price_netto: Decimal | None
    price_brutto: Decimal | None
    quantity: Decimal
    discount_type_id: int | None
    discount_rate: Decimal | None
    discount_sum: Decimal | None  # per unit
    tax_rate: Decimal | None  # None: no tax
    tax_included: bool
    measure_code: int | None
    measure_name: str | None
    sort: int

    @classmethod
    def from_wire(cls, raw: dict[str, Any]) -> ProductRow:
        return cls(
            id=to_int(raw["ID"]) or 0,
            deal_id=to_int(raw.get("OWNER_ID")) or 0,
            product_id=to_int(raw.get("PRODUCT_ID")) or None,
            name=raw.get("PRODUCT_NAME") or raw.get("ORIGINAL_PRODUCT_NAME") or "",
            price=to_decimal(raw.get("PRICE")) or Decimal(0),
            price_exclusive=to_decimal(raw.get("PRICE_EXCLUSIVE")),
            price_netto=to_decimal(raw.get("PRICE_NETTO")),
            price_brutto=to_decimal(raw.get("PRICE_BRUTTO")),
            quantity=to_decimal(raw.get("QUANTITY")) or Decimal(0),
            discount_type_id=to_int(raw.get("DISCOUNT_TYPE_ID")),
            discount_rate=to_decimal(raw.get("DISCOUNT_RATE")),
            discount_sum=to_decimal(raw.get("DISCOUNT_SUM")),
            tax_rate=to_decimal(raw.get("TAX_RATE")),
            tax_included=bool(to_bool(raw.get("TAX_INCLUDED"))),
            measure_code=to_int(raw.get("MEASURE_CODE")),
            measure_name=to_text(raw.get("MEASURE_NAME")),
            sort=to_int(raw.get("SORT")) or 0,
        )


@dataclass(frozen=True)
class Requisite:
    id: int
    entity_type_id: int
    entity_id: int
    name: str | None
    inn: str | None
    kpp: str | None
    company_name: str | None
    full_name: str | None
    date_modify: datetime | None

    @classmethod
    def from_wire(cls, raw: dict[str, Any]) -> Requisite:
        return cls(
            id=to_int(raw["ID"]) or 0,
            entity_type_id=to_int(raw.get("ENTITY_TYPE_ID")) or 0,
            entity_id=to_int(raw.get("ENTITY_ID")) or 0,
            name=to_text(raw.get("NAME")),
            inn=to_text(raw.get("RQ_INN")),
            kpp=to_text(raw.get("RQ_KPP")),
            company_name=to_text(raw.get("RQ_COMPANY_NAME")),
            full_name=to_text(raw.get("RQ_COMPANY_FULL_NAME")),
            date_modify=parse_datetime(raw.get("DATE_MODIFY")),
        )


@dataclass(frozen=True)
class Contact:
    id: int
    name: str | None
    second_name: str | None
    last_name: str | None
    company_id: int | None
    phones: tuple[str, ...]
    emails: tuple[str, ...]
    user_fields: dict[str, str] = field(default_factory=dict)  # UF_CRM_… values, as text
    address: str = ""  # the contact's address (ADDRESS…), one line: an individual's address for 1C

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.last_name, self.name, self.second_name) if part)

    @classmethod
    def from_wire(cls, raw: dict[str, Any]) -> Contact:
        return cls(
            id=to_int(raw["ID"]) or 0,
            name=to_text(raw.get("NAME")),
            second_name=to_text(raw.get("SECOND_NAME")),
            last_name=to_text(raw.get("LAST_NAME")),
            company_id=to_int(raw.get("COMPANY_ID")) or None,
            phones=_multi(raw, "PHONE"), emails=_multi(raw, "EMAIL"), user_fields=_user_fields(raw),
            address=_address(raw, "ADDRESS"),
        )


@dataclass(frozen=True)
class Company:
    id: int
    title: str
    is_my_company: bool | None
    date_modify: datetime | None
    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    user_fields: dict[str, str] = field(default_factory=dict)
    legal_address: str = ""  # its registered address (REG_ADDRESS…, or the older ADDRESS_LEGAL), one line

    @classmethod
    def from_wire(cls, raw: dict[str, Any]) -> Company:
        return cls(
            id=to_int(raw["ID"]) or 0,
            title=raw.get("TITLE") or "",
            is_my_company=to_bool(raw.get("IS_MY_COMPANY")),
            date_modify=parse_datetime(raw.get("DATE_MODIFY")),
            phones=_multi(raw, "PHONE"), emails=_multi(raw, "EMAIL"), user_fields=_user_fields(raw),
            legal_address=_address(raw, "REG_ADDRESS") or " ".join(str(raw.get("ADDRESS_LEGAL") or "").split()),
        )


def _address(raw: dict[str, Any], prefix: str) -> str:
    """An address the portal keeps in parts (ADDRESS, ADDRESS_2, _CITY, …; often empty), as one line the way
    Russian addresses are written: postal code, country, region, city, street."""
    parts = [raw.get(f"{prefix}{suffix}") for suffix in ("_POSTAL_CODE", "_COUNTRY", "_REGION", "_PROVINCE",
                                                          "_CITY", "", "_2")]
    return ", ".join(" ".join(str(part).split()) for part in parts if part and str(part).strip())


def _multi(raw: dict[str, Any], key: str) -> tuple[str, ...]:
    """The values of a multi-field (PHONE, EMAIL): a list of {"ID", "VALUE_TYPE", "VALUE", "TYPE_ID"}."""
    items = raw.get(key) or []
    return tuple(str(item["VALUE"]) for item in items if isinstance(item, dict) and item.get("VALUE"))


def _user_fields(raw: dict[str, Any]) -> dict[str, str]:
    return {key: str(value) for key, value in raw.items() if key.startswith("UF_") and isinstance(value, str | int)
            and str(value)}


@dataclass(frozen=True)
class DiskFile:
    id: int
    name: str
    size: int | None
    folder_id: int | None
    download_url: str | None

    @classmethod
    def from_wire(cls, raw: dict[str, Any]) -> DiskFile:
        return cls(
            id=to_int(raw["ID"]) or 0,
            name=raw.get("NAME") or "",
            size=to_int(raw.get("SIZE")),
            folder_id=to_int(raw.get("PARENT_ID")),
            download_url=to_text(raw.get("DOWNLOAD_URL")),
        )


@dataclass(frozen=True)
class CatalogProduct:
    id: int
    name: str
    xml_id: str | None
    article: str | None
    price: Decimal | None

    @classmethod
    def from_wire(cls, raw: dict[str, Any], article_property: str | None = None) -> CatalogProduct:
        article = None
        if article_property:
            value = raw.get(article_property)
            if isinstance(value, list):
                value = value[0] if value else None
            if isinstance(value, dict):
                value = value.get("value", value.get("VALUE"))
            article = to_text(value)
        return cls(
            id=to_int(raw["ID"]) or 0,
            name=raw.get("NAME") or "",
            xml_id=to_text(raw.get("XML_ID")),
            article=article,
            price=to_decimal(raw.get("PRICE")),
        )
