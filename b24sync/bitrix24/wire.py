"""Bitrix24's wire format: values as the portal sends them, and queries as it expects them.

Legacy crm.* methods send IDs and money as strings, flags as "Y"/"N", empty as
null or "", datetimes with the portal's offset; PHP turns empty maps into [] and
maps keyed 0..n-1 into lists. These helpers normalise all of that in one place.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote


def php_query(params: Mapping[str, Any]) -> str:
    """Encode params as a PHP query string (`filter[>ID]=5&select[]=ID`), as batch commands need.

    Keys keep their brackets; values are percent-encoded once. `$result[...]`
    references stay readable, because the portal substitutes them after decoding.
    """
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        _flatten(str(key), value, pairs)
    return "&".join(f"{quote(key, safe='[]')}={quote(value, safe='$[]')}" for key, value in pairs)


def _flatten(prefix: str, value: Any, pairs: list[tuple[str, str]]) -> None:
    if isinstance(value, Mapping):
        if not value:
            return
        for key, item in value.items():
            _flatten(f"{prefix}[{key}]", item, pairs)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _flatten(f"{prefix}[{index}]", item, pairs)
    elif value is None:
        pairs.append((prefix, ""))
    elif isinstance(value, bool):
        pairs.append((prefix, "Y" if value else "N"))
    elif isinstance(value, datetime):
        pairs.append((prefix, format_datetime(value)))
    else:
        pairs.append((prefix, str(value)))


def as_map(value: Any) -> dict[str, Any]:
    """Undo PHP's JSON quirks: [] for an empty map, a list for a map keyed 0..n-1."""
    if value is None or value == []:
        return {}
    if isinstance(value, list):
        return {str(index): item for index, item in enumerate(value)}
    if isinstance(value, dict):
        return {str(key): item for key, item in value.items()}
    raise ValueError(f"expected a map, got {type(value).__name__}")


def parse_datetime(value: Any) -> datetime | None:
    """Parse a Bitrix24 datetime into an aware datetime; None for null or "".

    Accepts ISO 8601 with an offset (the norm), and the `dd.mm.yyyy[ hh:mm:ss]`
    form some objects still use (read as UTC, since it carries no offset).
    """
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = str(value).strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        for pattern in ("%d.%m.%Y %H:%M:%S", "%d.%m.%Y"):
            try:
                parsed = datetime.strptime(text, pattern)
                break
            except ValueError:
                continue
        else:
            raise ValueError(f"not a Bitrix24 datetime: {text!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_date_only(value: Any) -> date | None:
    """A date-only field (BEGINDATE, CLOSEDATE, date UFs): UTC midnight rendered in the portal offset."""
    moment = parse_datetime(value)
    if moment is None:
        return None
    return moment.astimezone(UTC).date()


def format_datetime(moment: datetime) -> str:
    """ISO 8601 with an explicit offset, as every date sent in a filter must carry."""
    if moment.tzinfo is None:
        raise ValueError("refusing to send a naive datetime to Bitrix24: give it a time zone")
    return moment.replace(microsecond=0).isoformat()


def parse_offset(text: str) -> timezone:
    """'+03:00' -> a fixed timezone."""
    sign = -1 if text.startswith("-") else 1
    hours, _, minutes = text.lstrip("+-").partition(":")
    return timezone(sign * timedelta(hours=int(hours), minutes=int(minutes or 0)))


def to_int(value: Any) -> int | None:
    """"410" or 410 -> 410; None, "" and "0"-less garbage -> None."""
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        raise ValueError(f"not an id: {value!r}")
    return int(str(value).strip())


def to_decimal(value: Any) -> Decimal | None:
    """Money and quantities without float rounding: "1000000.00", 899.1 -> Decimal."""
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"not a number: {value!r}") from None


def to_bool(value: Any) -> bool | None:
    """"Y"/"N", "1"/"0", true/false -> bool; null or "" -> None."""
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().upper()
    if text in ("Y", "1", "TRUE"):
        return True
    if text in ("N", "0", "FALSE"):
        return False
    raise ValueError(f"not a flag: {value!r}")


def to_text(value: Any) -> str | None:
    """null and "" both mean absent."""
    if value in (None, ""):
        return None
    return str(value)


def chunked(items: Iterable[Any], size: int) -> Iterable[list[Any]]:
    """Yield lists of at most `size` items."""
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
