"""The method table: each REST method is a function of (portal, params) registered under its name."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from itertools import islice
from typing import Any

from b24sync_emulators.bitrix24.portal import ApiError, MethodResult, Portal, legacy

Handler = Callable[[Portal, dict[str, Any]], MethodResult]


@dataclass(frozen=True)
class Method:
    name: str
    handler: Handler
    scope: str | None
    writes: bool
    batchable: bool = True


METHODS: dict[str, Method] = {}


def method(name: str, scope: str | None = "crm", *, writes: bool = False,
           batchable: bool = True) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        METHODS[name.lower()] = Method(name, handler, scope, writes, batchable)
        return handler

    return register


def arg(params: Mapping[str, Any], name: str, default: Any = None) -> Any:
    """A top-level parameter; legacy crm.* methods accept the name in either case."""
    if name in params:
        return params[name]
    for key, value in params.items():
        if str(key).lower() == name.lower():
            return value
    return default


def mapping_arg(params: Mapping[str, Any], name: str) -> dict[str, Any]:
    """A parameter that must be a PHP array with keys ("Parameter 'filter' must be array." otherwise)."""
    value = arg(params, name)
    if value is None or value == [] or value == "":
        return {}
    if isinstance(value, list):
        return {str(index): item for index, item in enumerate(value)}
    if not isinstance(value, dict):
        raise legacy(f"Parameter '{name}' must be array.")
    return value


def fields_arg(params: Mapping[str, Any]) -> dict[str, Any]:
    """`fields`: required, and any PHP array will do (an empty JSON list is an empty array, not an error)."""
    value = arg(params, "fields")
    if isinstance(value, list):
        return {str(index): item for index, item in enumerate(value)}
    if not isinstance(value, dict):
        raise legacy("Parameter 'fields' must be array.")
    return value


def list_arg(params: Mapping[str, Any], name: str) -> list[Any] | None:
    value = arg(params, name)
    if value in (None, "", []):
        return None
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, list):
        return value
    return [value]


def positive_id(params: Mapping[str, Any], name: str = "id", error: str = "ID is not defined or invalid.") -> int:
    value = arg(params, name)
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise legacy(error) from None
    if number <= 0:
        raise legacy(error)
    return number


PAGE = 50


def paginate(rows: Iterable[Any], params: Mapping[str, Any], orm: bool = False) -> MethodResult:
    """A fixed page of 50 from `start`; `start=-1` skips the count (total 0, no next).

    With `start=-1` only the first 50 matching rows are taken from the (lazy)
    iterable, which is why the portal answers such pages fast on any table size.
    The legacy lists turn `start` into a page number (start 75 reads rows 50-99);
    the D7 ones (`orm`: crm.item.*, catalog.*, crm.stagehistory.list) use it as
    an exact offset (IRestService::getNavData in the platform's REST module).
    """
    raw = arg(params, "start", 0)
    try:
        start = int(str(raw))
    except (TypeError, ValueError):
        start = 0
    if start == -1:
        return MethodResult(list(islice(rows, PAGE)), total=0)
    start = max(start, 0)
    if not orm:
        start -= start % PAGE
    rows = list(rows)
    page = rows[start:start + PAGE]
    following = start + PAGE
    return MethodResult(page, total=len(rows), next=following if following < len(rows) else None)


__all__ = ["ApiError", "METHODS", "Method", "arg", "fields_arg", "list_arg", "mapping_arg", "method", "paginate",
           "positive_id"]
