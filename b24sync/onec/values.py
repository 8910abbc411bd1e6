"""Small value helpers shared by the parts of the 1C adapter."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from b24sync.onec.odata import ZERO_GUID

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
PROPERTIES = "ChartOfCharacteristicTypes_ДополнительныеРеквизитыИСведения"
HEADER = "Ref_Key,DataVersion,Number,Date,Posted,DeletionMark,СуммаДокумента"


def is_guid(value: str) -> bool:
    return bool(_GUID.match(value.strip()))


def requisite_value(row: dict[str, Any], prop: str | None) -> str:
    """The value a document carries in the additional requisite `prop` (its ДополнительныеРеквизиты row), as text;
    "" when it carries none."""
    wanted = str(prop or "").lower()
    return next((str(item.get("Значение") or "") for item in row.get("ДополнительныеРеквизиты") or []
                 if wanted and str(item.get("Свойство_Key", "")).lower() == wanted), "")


def _date(value: str | None) -> date | None:
    if not value or value.startswith("0001-01-01"):
        return None
    return datetime.fromisoformat(value).date()


def _decimal(value: Any) -> Decimal:
    return Decimal(str(value or 0))


def _vat_rate(row: dict[str, Any], catalog_rates: dict[str, str]) -> Decimal | None:
    """A row's VAT rate from the enum name (НДС22, БезНДС) or the Ставки НДС item."""
    if row.get("СтавкаНДС_Key") and row["СтавкаНДС_Key"] != ZERO_GUID:
        key = catalog_rates.get(row["СтавкаНДС_Key"])
        return None if key in (None, "none") else Decimal(key)
    name = str(row.get("СтавкаНДС") or "")
    digits = "".join(char for char in name.split("_")[0] if char.isdigit())
    return Decimal(digits) if name.startswith("НДС") and digits else None
