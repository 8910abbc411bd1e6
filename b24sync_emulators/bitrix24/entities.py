"""Writes to contacts, companies and their requisites, as a manager makes them in the CRM.

Shapes and errors from the public method descriptions (bitrix-tools/b24-rest-docs: crm-contact-add,
crm-contact-update, crm-company-add, crm-company-update, crm-requisite-add, crm-requisite-update):
unknown fields are ignored, a missing object is a legacy 400 with an empty `error` code, and multi-fields
(PHONE, EMAIL) are added by value, changed by `ID` and removed by `ID` with `DELETE=Y` or an empty `VALUE`.
"""

from __future__ import annotations

from typing import Any

from b24sync_emulators.bitrix24 import fields
from b24sync_emulators.bitrix24.crm import MULTI, int_or, standard_value
from b24sync_emulators.bitrix24.portal import ApiError, MethodResult, Portal, legacy
from b24sync_emulators.bitrix24.registry import fields_arg, method, positive_id

_EMAIL_LABELS = {"contact": "Рабочий e-mail", "company": "E-mail"}


def _apply_multi(portal: Portal, record: dict[str, Any], key: str, value: Any, kind: str) -> None:
    items = value if isinstance(value, list) else list(value.values()) if isinstance(value, dict) else []
    current: list[dict[str, Any]] = list(record.get(key) or [])
    for item in items:
        if not isinstance(item, dict):
            continue
        given = {str(name).upper(): entry for name, entry in item.items()}
        text = str(given.get("VALUE") or "").strip()
        if key == "EMAIL" and text and ("@" not in text or text.startswith("@") or text.endswith("@")):
            raise ApiError(400, "ERROR_CORE", f"Поле `{_EMAIL_LABELS[kind]}` содержит некорректный адрес")
        existing = next((entry for entry in current if entry["ID"] == str(given.get("ID"))), None)
        if existing is not None:
            if str(given.get("DELETE") or "").upper() == "Y" or not text:
                current.remove(existing)
            else:
                existing["VALUE"] = text
                existing["VALUE_TYPE"] = str(given.get("VALUE_TYPE") or existing["VALUE_TYPE"])
        elif "ID" not in given and text:
            current.append({"ID": str(portal.next_id("multifield", 8001)),
                            "VALUE_TYPE": str(given.get("VALUE_TYPE") or "WORK"), "VALUE": text, "TYPE_ID": key})
    record[key] = current
    record[f"HAS_{key}"] = "Y" if current else "N"


def _apply(portal: Portal, record: dict[str, Any], spec: dict[str, fields.Spec], given: dict[str, Any],
           kind: str) -> None:
    """Write what the object (a contact, a company, a requisite) accepts; read-only and unknown names are ignored,
    as the portal does."""
    own_fields = portal.entity_userfields.get(f"CRM_{kind.upper()}", {})
    for raw_key, value in given.items():
        key = str(raw_key).upper()
        if key in own_fields:  # a user field of contacts or companies: kept as given, like a string UF
            record[key] = "" if value is None else str(value)
            continue
        definition = spec.get(key)
        if definition is None or "r" in definition[2]:
            continue
        if key in MULTI:
            _apply_multi(portal, record, key, value, kind)
        else:
            record[key] = standard_value(portal, definition[0], value)
    stamp = portal.stamp()
    record["DATE_MODIFY"] = stamp
    record["MODIFY_BY_ID"] = str(portal.webhook_user)


def _new_record(portal: Portal, spec: dict[str, fields.Spec], entity_id: int) -> dict[str, Any]:
    stamp = portal.stamp()
    user = str(portal.webhook_user)
    record: dict[str, Any] = {name: None for name in spec}
    record.update({"ID": str(entity_id), "DATE_CREATE": stamp, "DATE_MODIFY": stamp, "CREATED_BY_ID": user,
                   "MODIFY_BY_ID": user, "ASSIGNED_BY_ID": user, "OPENED": "Y", "COMMENTS": "",
                   "HAS_PHONE": "N", "HAS_EMAIL": "N", "HAS_IMOL": "N", "LAST_ACTIVITY_TIME": stamp,
                   "PHONE": [], "EMAIL": []})
    return record


_KINDS: dict[str, tuple[dict[str, fields.Spec], str, dict[str, Any]]] = {
    # kind: (its fields, the portal's answer when the ID is unknown, what a new one starts with)
    "contact": (fields.CONTACT, "Contact is not found",
                {"TYPE_ID": "CLIENT", "SOURCE_ID": "SELF", "EXPORT": "Y", "BIRTHDATE": ""}),
    "company": (fields.COMPANY, "Company is not found",
                {"COMPANY_TYPE": "CUSTOMER", "INDUSTRY": "IT", "EMPLOYEES": "EMPLOYEES_1", "REVENUE": "0",
                 "CURRENCY_ID": "RUB", "IS_MY_COMPANY": "N"}),
}


def _records(portal: Portal, kind: str) -> dict[int, dict[str, Any]]:
    return portal.contacts if kind == "contact" else portal.companies


def _add(portal: Portal, params: dict[str, Any], kind: str) -> MethodResult:
    spec, _, starting = _KINDS[kind]
    given = fields_arg(params)
    entity_id = portal.next_id(kind, 1)
    record = _new_record(portal, spec, entity_id) | starting
    for name, definition in portal.entity_userfields[f"CRM_{kind.upper()}"].items():
        record[name] = portal.empty_uf_value(definition)
    _apply(portal, record, spec, given, kind)
    _records(portal, kind)[entity_id] = record
    return MethodResult(entity_id)


def _update(portal: Portal, params: dict[str, Any], kind: str) -> MethodResult:
    spec, missing, _ = _KINDS[kind]
    entity_id = positive_id(params)
    given = fields_arg(params)
    record = _records(portal, kind).get(entity_id)
    if record is None:
        raise legacy(missing)
    _apply(portal, record, spec, given, kind)
    return MethodResult(True)


@method("crm.contact.add", writes=True)
def contact_add(portal: Portal, params: dict[str, Any]) -> MethodResult:
    return _add(portal, params, "contact")


@method("crm.contact.update", writes=True)
def contact_update(portal: Portal, params: dict[str, Any]) -> MethodResult:
    return _update(portal, params, "contact")


@method("crm.company.add", writes=True)
def company_add(portal: Portal, params: dict[str, Any]) -> MethodResult:
    return _add(portal, params, "company")


@method("crm.company.update", writes=True)
def company_update(portal: Portal, params: dict[str, Any]) -> MethodResult:
    return _update(portal, params, "company")


_OWNERS = {3: "contacts", 4: "companies"}


def _requisite_owner(portal: Portal, given: dict[str, Any], current: dict[str, Any] | None) -> tuple[int, int]:
    """The requisite's owner (3 a contact, 4 a company), checked the way crm.requisite.add checks it."""
    upper = {str(key).upper(): value for key, value in given.items()}
    entity_type = int_or(upper.get("ENTITY_TYPE_ID", (current or {}).get("ENTITY_TYPE_ID")), 0)
    if entity_type not in _OWNERS:
        raise legacy("ENTITY_TYPE_ID is not defined or invalid.")
    entity_id = int_or(upper.get("ENTITY_ID", (current or {}).get("ENTITY_ID")), 0)
    if entity_id <= 0:
        raise legacy("ENTITY_ID is not defined or invalid.")
    if int_or(upper.get("PRESET_ID", (current or {}).get("PRESET_ID")), 0) <= 0:
        raise legacy("PRESET_ID is not defined or invalid.")
    if entity_id not in getattr(portal, _OWNERS[entity_type]):
        raise legacy("Entity not found.")
    return entity_type, entity_id


@method("crm.requisite.add", writes=True)
def requisite_add(portal: Portal, params: dict[str, Any]) -> MethodResult:
    given = fields_arg(params)
    _requisite_owner(portal, given, None)
    if not str({str(key).upper(): value for key, value in given.items()}.get("NAME") or "").strip():
        raise legacy("NAME is not defined or invalid.")
    requisite_id = portal.next_id("requisite", 1)
    record: dict[str, Any] = {name: None for name in fields.REQUISITE}
    record.update({"ID": str(requisite_id), "DATE_CREATE": portal.stamp(), "CREATED_BY_ID": str(portal.webhook_user),
                   "ACTIVE": "Y", "ADDRESS_ONLY": "N", "SORT": "500"})
    _apply(portal, record, fields.REQUISITE, given, "requisite")
    portal.requisites[requisite_id] = record
    return MethodResult(requisite_id)


@method("crm.requisite.update", writes=True)
def requisite_update(portal: Portal, params: dict[str, Any]) -> MethodResult:
    requisite_id = positive_id(params)
    given = fields_arg(params)
    record = portal.requisites.get(requisite_id)
    if record is None:
        raise legacy(f"The Requisite with ID '{requisite_id}' is not found")
    _requisite_owner(portal, given, record)
    _apply(portal, record, fields.REQUISITE, given, "requisite")
    return MethodResult(True)
