"""The legacy crm.* filter, order and select rules, applied to records held in wire form.

Filter keys carry an operator prefix (`>=DATE_MODIFY`, `@CATEGORY_ID`, `%TITLE`).
Values compare by the field's declared type: numbers as numbers, datetimes as
instants (a value without an offset is in the portal's zone), strings without
regard to case as MySQL's default collation does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

# Longest prefixes first, so "!=%" is not read as "!" + "=%".
OPERATORS = ["!=%", "!%=", "=%", "%=", "!%", "!=", "!@", ">=", "<=", "=", "!", ">", "<", "@", "%"]

NUMERIC_TYPES = {"integer", "double", "crm_company", "crm_contact", "crm_lead", "crm_quote", "crm_category",
                 "user", "location", "employee", "money"}
DATE_TYPES = {"datetime", "date"}
# LIKE does not work on these (documented for crm_status, crm_contact, crm_company). Believed: the condition
# then matches nothing, as a LIKE against the joined id column would.
NO_LIKE_TYPES = {"crm_status", "crm_contact", "crm_company"}


class FilterError(ValueError):
    """A filter the portal would refuse."""


def split_key(key: str) -> tuple[str, str]:
    """'>=DATE_MODIFY' -> ('>=', 'DATE_MODIFY')."""
    for operator in OPERATORS:
        if key.startswith(operator):
            return operator, key[len(operator):]
    return "=", key


def _as_datetime(value: Any, tz: timezone) -> datetime | None:
    if value in (None, ""):
        return None
    text = str(value).strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        for pattern in ("%d.%m.%Y %H:%M:%S", "%d.%m.%Y"):
            try:
                moment = datetime.strptime(text, pattern)
                break
            except ValueError:
                continue
        else:
            return None
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


def _as_number(value: Any) -> Decimal | None:
    if value in (None, "") or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value).strip())
    except InvalidOperation:
        return None


def comparable(value: Any, field_type: str, tz: timezone) -> Any:
    """A value in a form that orders and compares like the portal's database would."""
    if field_type in NUMERIC_TYPES:
        return _as_number(value)
    if field_type in DATE_TYPES:
        return _as_datetime(value, tz)
    if value is None:
        return None
    if isinstance(value, bool):
        return "Y" if value else "N"
    return str(value).casefold()


def _like(pattern: str, explicit: bool) -> re.Pattern[str]:
    if not explicit:
        return re.compile(re.escape(pattern.casefold()))
    parts = [re.escape(chunk) for chunk in pattern.casefold().split("%")]
    return re.compile("^" + ".*".join(parts) + "$", re.S)


def matches(record: Mapping[str, Any], conditions: Mapping[str, Any], types: Mapping[str, str],
            tz: timezone, groups: bool = False) -> bool:
    """Whether a record passes every condition of a filter (conditions are ANDed).

    With `groups` (the D7 filters of crm.item.*), a numbered key holding a map is a nested group whose
    conditions are joined by its `logic` ("AND" by default, or "OR").
    """
    for key, wanted in conditions.items():
        if str(key).upper() == "LOGIC":
            continue
        if groups and str(key).isdigit() and isinstance(wanted, Mapping):
            logic = str(next((value for name, value in wanted.items() if str(name).upper() == "LOGIC"), "AND"))
            parts = [{name: value} for name, value in wanted.items() if str(name).upper() != "LOGIC"]
            outcomes = (matches(record, part, types, tz, groups) for part in parts)
            if not (any(outcomes) if logic.upper() == "OR" else all(outcomes)):
                return False
            continue
        operator, name = split_key(str(key))
        name = name.upper()
        field_type = types.get(name, "string")
        if name not in types:
            continue  # believed: legacy lists ignore unknown filter fields
        if wanted in ("", None) and operator in (">", ">=", "<", "<=", "%", "=%", "%=", "!%", "!=%", "!%="):
            continue  # believed: an empty bound is dropped, so an unresolved batch reference restarts a listing
        actual = record.get(name)
        if not _check(operator, actual, wanted, field_type, tz):
            return False
    return True


def _values(wanted: Any) -> list[Any]:
    if isinstance(wanted, dict):
        return list(wanted.values())
    if isinstance(wanted, list | tuple):
        return list(wanted)
    return [wanted]


def _check(operator: str, actual: Any, wanted: Any, field_type: str, tz: timezone) -> bool:
    if isinstance(actual, list):  # multiple field: any value may match
        if not actual:
            actual = [None]
        actual = [item.get("VALUE") if isinstance(item, dict) else item for item in actual]  # PHONE, EMAIL
        return any(_check(operator, item, wanted, field_type, tz) for item in actual)
    if operator in ("%", "=%", "%=", "!%", "!=%", "!%="):
        if field_type in NO_LIKE_TYPES:
            return False
        explicit = operator in ("=%", "%=", "!=%", "!%=")
        text = "" if actual is None else str(actual).casefold()
        found = any(_like(str(item), explicit).search(text) for item in _values(wanted))
        return not found if operator.startswith("!") else found
    left = comparable(actual, field_type, tz)
    if operator in ("=", "@", "!", "!=", "!@"):
        if operator in ("=", "@") and isinstance(wanted, list | tuple | dict) and not _values(wanted):
            return False
        found = _among(left, _wanted_set(wanted, field_type, tz))
        return found if operator in ("=", "@") else not found
    rights = [comparable(item, field_type, tz) for item in _values(wanted)]
    right = rights[0] if rights else None
    if left is None or right is None:
        return False
    try:
        if operator == ">":
            return left > right
        if operator == ">=":
            return left >= right
        if operator == "<":
            return left < right
        if operator == "<=":
            return left <= right
    except TypeError:
        return False
    raise FilterError(f"unknown operator {operator}")


def _among(left: Any, rights: frozenset[Any]) -> bool:
    """Whether a value equals one of these (an empty value equals an empty one, NULL or '')."""
    if left is None or left == "":
        return None in rights or "" in rights
    return left in rights


_SETS: dict[tuple[str, int], tuple[Any, frozenset[Any]]] = {}


def _wanted_set(wanted: Any, field_type: str, tz: timezone) -> frozenset[Any]:
    """The filter's values in comparable form, made once per filter (a list filter is checked on every record)."""
    key = (field_type, id(wanted))
    cached = _SETS.get(key)
    if cached is not None and cached[0] is wanted:
        return cached[1]
    made = frozenset(comparable(item, field_type, tz) for item in _values(wanted))
    if len(_SETS) > 256:
        _SETS.clear()
    _SETS[key] = (wanted, made)
    return made


def sort_rows(rows: list[dict[str, Any]], order: Mapping[str, Any], types: Mapping[str, str],
              tz: timezone) -> list[dict[str, Any]]:
    """Sort by each (field, ASC|DESC) in turn; NULLs first when ascending, as MySQL does."""
    result = list(rows)
    for name, direction in reversed(list(order.items())):
        field = str(name).upper()
        field_type = types.get(field, "string")
        descending = str(direction).upper() == "DESC"

        def key(row: dict[str, Any], field: str = field, field_type: str = field_type) -> tuple[int, Any]:
            value = comparable(row.get(field), field_type, tz)
            return (0, 0) if value is None else (1, value)

        if field == "ID" and all(str(row.get("ID", "")).isdigit() for row in result):
            result.sort(key=lambda row: int(row["ID"]), reverse=descending)  # the same order, made cheaply
            continue
        result.sort(key=key, reverse=descending)
    return result


def apply_select(record: Mapping[str, Any], select: Iterable[str] | None, standard: Iterable[str],
                 user_fields: Iterable[str], multi_fields: Iterable[str] = ()) -> dict[str, Any]:
    """Pick the fields a list method returns.

    No select: every standard field and every user field. `*`: standard fields
    only. `UF_*`: every user field. Multi-fields (PHONE, EMAIL) only when named.
    Unknown names are skipped.
    """
    standard = list(standard)
    user_fields = list(user_fields)
    multi = set(multi_fields)
    if not select:
        wanted = [name for name in standard if name not in multi] + user_fields
    else:
        wanted = []
        for item in select:
            name = str(item).upper()
            if name == "*":
                wanted.extend(field for field in standard if field not in multi)
            elif name == "UF_*":
                wanted.extend(user_fields)
            elif name in standard or name in user_fields:
                wanted.append(name)
        if "ID" not in wanted and "ID" in standard:
            # ID always comes back; after the plain fields and before the multi-fields (crm.company.list sample)
            position = next((index for index, name in enumerate(wanted) if name in multi), len(wanted))
            wanted.insert(position, "ID")
    # An explicit select is answered in its own order; "*" and no select in the entity's field order.
    result: dict[str, Any] = {}
    for name in wanted:
        if name not in result and name in record:
            result[name] = record[name]
    return result
