"""crm.* methods: deals, product rows, contacts, companies, requisites, user fields, statuses, products,
timeline comments."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from b24sync_emulators.bitrix24 import fields
from b24sync_emulators.bitrix24.filters import apply_select, matches, sort_rows
from b24sync_emulators.bitrix24.portal import ARTICLE_PROPERTY_ID, ApiError, MethodResult, Portal, legacy
from b24sync_emulators.bitrix24.registry import (
    arg,
    fields_arg,
    list_arg,
    mapping_arg,
    method,
    paginate,
    positive_id,
)
from b24sync_emulators.dataset import money

DEAL_STANDARD = [name for name in fields.DEAL if name not in fields.DEAL_WRITE_ONLY]
MULTI = ("PHONE", "EMAIL")


def _list(portal: Portal, records: list[dict[str, Any]], params: dict[str, Any], types: dict[str, str],
          standard: list[str], user_fields: list[str] | None = None, multi: tuple[str, ...] = ()) -> MethodResult:
    conditions = mapping_arg(params, "filter")
    order = mapping_arg(params, "order")
    select = list_arg(params, "select")
    ordered = sort_rows(_by_ids(records, conditions), order or {"ID": "ASC"}, types, portal.tz)
    page = paginate((record for record in ordered if matches(record, conditions, types, portal.tz)), params)
    page.result = [apply_select(record, select, standard, user_fields or [], multi) for record in page.result]
    return page


def _by_ids(records: list[dict[str, Any]], conditions: dict[str, Any]) -> list[dict[str, Any]]:
    """The records an ID filter (`@ID`, `ID`, `=ID`, `>ID`) can match, as a database's index would pick them;
    the whole filter is applied to them after, so this only saves the scan."""
    for key, wanted in conditions.items():
        if str(key).upper() in ("@ID", "ID", "=ID"):
            values = wanted.values() if isinstance(wanted, dict) else wanted if isinstance(wanted, list | tuple) \
                else [wanted]
            ids = {_id_text(value) for value in values}
            records = [record for record in records if str(record.get("ID")) in ids]  # the portal's own IDs
        elif str(key).upper() == ">ID" and _id_text(wanted).isdigit():
            after = int(_id_text(wanted))
            records = [record for record in records if int(record.get("ID") or 0) > after]
    return records


def _id_text(value: Any) -> str:
    text = str(value).strip()
    return str(int(text)) if text.lstrip("-").isdigit() else text


def _render_deal(deal: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in deal.items() if not (key.startswith("UF_") and value is None)}


# -- deals --------------------------------------------------------------------------------------------


@method("crm.deal.fields")
def deal_fields(portal: Portal, params: dict[str, Any]) -> MethodResult:
    result = fields.describe(fields.DEAL, fields.DEAL_STATUS_TYPES, fields.DEAL_EXTRAS)
    for name, spec in portal.userfields.items():
        entry: dict[str, Any] = {
            "type": spec["USER_TYPE_ID"], "isRequired": spec["MANDATORY"] == "Y", "isReadOnly": False,
            "isImmutable": False, "isMultiple": spec["MULTIPLE"] == "Y", "isDynamic": True, "title": name,
            "listLabel": spec["LIST_COLUMN_LABEL"], "formLabel": spec["EDIT_FORM_LABEL"],
            "filterLabel": spec["LIST_FILTER_LABEL"], "settings": spec["SETTINGS"],
        }
        if spec["USER_TYPE_ID"] == "enumeration":
            entry["items"] = [{"ID": item["ID"], "VALUE": item["VALUE"]} for item in spec.get("LIST", [])]
        result[name] = entry
    return MethodResult(result)


@method("crm.contact.fields")
def contact_fields(portal: Portal, params: dict[str, Any]) -> MethodResult:
    return MethodResult(fields.describe(fields.CONTACT, {"HONORIFIC": "HONORIFIC", "TYPE_ID": "CONTACT_TYPE",
                                                         "SOURCE_ID": "SOURCE"}))


@method("crm.company.fields")
def company_fields(portal: Portal, params: dict[str, Any]) -> MethodResult:
    return MethodResult(fields.describe(fields.COMPANY, {"COMPANY_TYPE": "COMPANY_TYPE", "INDUSTRY": "INDUSTRY",
                                                         "EMPLOYEES": "EMPLOYEES"}))


@method("crm.deal.list")
def deal_list(portal: Portal, params: dict[str, Any]) -> MethodResult:
    types = {name: kind for name, kind in fields.types_of(fields.DEAL).items() if name not in fields.DEAL_WRITE_ONLY}
    types.update(portal.uf_types())
    page = _list(portal, list(portal.deals.values()), params, types, DEAL_STANDARD, list(portal.userfields))
    page.result = [_render_deal(deal) for deal in page.result]
    return page


@method("crm.deal.get")
def deal_get(portal: Portal, params: dict[str, Any]) -> MethodResult:
    deal_id = positive_id(params)
    deal = portal.deals.get(deal_id)
    if deal is None:
        raise legacy("Not found")
    return MethodResult(_render_deal(deal))


@method("crm.deal.add", writes=True)
def deal_add(portal: Portal, params: dict[str, Any]) -> MethodResult:
    given = fields_arg(params)
    deal_id = portal.next_id("deal", 1)
    record = portal.new_deal_record(deal_id, portal.now())
    category = int_or(given.get("CATEGORY_ID"), 0)
    if category not in portal.categories:
        category = 0
    record["CATEGORY_ID"] = str(category)
    stages = portal.stages_of(category)
    record["STAGE_ID"] = stages[0] if stages else "NEW"
    portal.deals[deal_id] = record
    portal.product_rows[deal_id] = []
    apply_deal_fields(portal, deal_id, given, creating=True)
    portal.stage_history.append(_history(portal, deal_id, 1))
    return MethodResult(deal_id)


@method("crm.deal.update", writes=True)
def deal_update(portal: Portal, params: dict[str, Any]) -> MethodResult:
    deal_id = positive_id(params)
    given = fields_arg(params)
    if deal_id not in portal.deals:
        raise legacy("Not found")
    apply_deal_fields(portal, deal_id, given, creating=False)
    portal.touch_deal(deal_id)
    return MethodResult(True)


@method("crm.deal.delete", writes=True)
def deal_delete(portal: Portal, params: dict[str, Any]) -> MethodResult:
    """The deal and what belongs to it alone: its product rows, its timeline and its stage history
    (dev.1c-bitrix.ru rest_help crm_deal_delete: «удаляет сделку и все связанные с ней объекты»)."""
    deal_id = positive_id(params)
    if deal_id not in portal.deals:
        raise legacy("Not found")
    del portal.deals[deal_id]
    portal.product_rows.pop(deal_id, None)
    for comment_id in [key for key, item in portal.timeline.items()
                       if item["ENTITY_TYPE"] == "deal" and item["ENTITY_ID"] == str(deal_id)]:
        del portal.timeline[comment_id]
    portal.stage_history[:] = [row for row in portal.stage_history if row.get("OWNER_ID") != deal_id]
    return MethodResult(True)


def int_or(value: Any, default: int) -> int:
    """An integer parameter, or `default` when it is not one."""
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return default


def _history(portal: Portal, deal_id: int, type_id: int) -> dict[str, Any]:
    deal = portal.deals[deal_id]
    return {"ID": portal.next_id("stage_history", 1), "TYPE_ID": type_id, "OWNER_ID": deal_id,
            "CREATED_TIME": portal.stamp(), "CATEGORY_ID": int(deal["CATEGORY_ID"]),
            "STAGE_SEMANTIC_ID": deal["STAGE_SEMANTIC_ID"], "STAGE_ID": deal["STAGE_ID"]}


def apply_deal_fields(portal: Portal, deal_id: int, given: dict[str, Any], *, creating: bool) -> None:
    """Write what the portal accepts; unknown names (and UFs that do not exist) are ignored silently."""
    deal = portal.deals[deal_id]
    for raw_key, value in given.items():
        key = str(raw_key).upper()
        if key.startswith("UF_"):
            spec = portal.userfields.get(key)
            if spec is not None:
                deal[key] = _uf_value(portal, spec, value, deal_id)
            continue
        definition = fields.DEAL.get(key)
        if definition is None or "r" in definition[2]:
            continue
        if key == "CATEGORY_ID":
            continue  # immutable through crm.deal.update; set on add above
        if key == "CONTACT_IDS":
            ids = value if isinstance(value, list) else list(value.values()) if isinstance(value, dict) else [value]
            contacts = [int_or(item, 0) for item in ids if int_or(item, 0) > 0]
            portal.deal_contacts[deal_id] = [{"CONTACT_ID": contact, "SORT": (index + 1) * 10, "ROLE_ID": 0,
                                              "IS_PRIMARY": "Y" if index == 0 else "N"}
                                             for index, contact in enumerate(contacts)]
            deal["CONTACT_ID"] = str(contacts[0]) if contacts else None
            continue
        if key == "STAGE_ID":
            stage = str(value)
            if stage not in portal.stages_of(int(deal["CATEGORY_ID"])) or stage == deal["STAGE_ID"]:
                continue
            deal["STAGE_ID"] = stage
            deal["STAGE_SEMANTIC_ID"] = portal.stage_semantics(stage)
            deal["CLOSED"] = "Y" if deal["STAGE_SEMANTIC_ID"] in ("S", "F") else "N"
            deal["MOVED_TIME"] = portal.stamp()
            deal["MOVED_BY_ID"] = str(portal.webhook_user)
            if not creating:
                final = deal["STAGE_SEMANTIC_ID"] in ("S", "F")
                portal.stage_history.append(_history(portal, deal_id, 3 if final else 2))
            continue
        deal[key] = standard_value(portal, definition[0], value)
        if key == "CONTACT_ID":
            contact = int_or(value, 0)
            portal.deal_contacts[deal_id] = ([{"CONTACT_ID": contact, "SORT": 10, "ROLE_ID": 0, "IS_PRIMARY": "Y"}]
                                             if contact > 0 else [])


def standard_value(portal: Portal, field_type: str, value: Any) -> Any:
    if value is None or value == "":
        return None if field_type not in ("string",) else ""
    if field_type == "double":
        try:
            return f"{Decimal(str(value)):.2f}"
        except InvalidOperation:
            return "0.00"
    if field_type in ("date", "datetime"):
        moment = _parse_moment(portal, value)
        if moment is None:
            return None
        return portal.date_only(moment) if field_type == "date" else portal.stamp(moment)
    if field_type == "char":
        return "Y" if str(value).upper() in ("Y", "1", "TRUE") else "N"
    if field_type in ("integer", "user", "crm_company", "crm_contact", "crm_category"):
        try:
            return str(int(Decimal(str(value))))
        except InvalidOperation:
            return None
    if isinstance(value, bool):
        return "Y" if value else "N"
    return str(value)


def _parse_moment(portal: Portal, value: Any) -> datetime | None:
    text = str(value).strip()
    for parse in (datetime.fromisoformat, lambda t: datetime.strptime(t, "%d.%m.%Y")):
        try:
            moment = parse(text)
        except ValueError:
            continue
        return moment if moment.tzinfo else moment.replace(tzinfo=portal.tz)
    return None


def _uf_value(portal: Portal, spec: dict[str, Any], value: Any, owner_id: int) -> Any:
    """Store a user field value in the form the legacy API reads back."""
    if spec["MULTIPLE"] == "Y":
        items = value if isinstance(value, list) else list(value.values()) if isinstance(value, dict) and \
            "fileData" not in value and "id" not in value else [value]
        stored = [_uf_single(portal, spec, item, owner_id) for item in items]
        return [item for item in stored if item not in (None, "")]
    return _uf_single(portal, spec, value, owner_id)


def _file_value(spec: dict[str, Any], file_id: int, owner_id: int) -> dict[str, Any]:
    """A file field as the legacy API reads it back (samples/crm.lead.get.file_fields_fragment.json)."""
    query = f"ownerId={owner_id}&fieldName={spec['FIELD_NAME']}&dynamic=Y&fileId={file_id}"
    return {"id": file_id, "showUrl": f"/bitrix/components/bitrix/crm.deal.show/show_file.php?{query}",
            "downloadUrl": f"/bitrix/components/bitrix/crm.deal.show/show_file.php?auth=&{query}"}


def _uf_single(portal: Portal, spec: dict[str, Any], value: Any, owner_id: int) -> Any:
    kind = spec["USER_TYPE_ID"]
    if value is None or value == "" or value is False and kind != "boolean":
        return None if kind == "file" else ""
    if kind == "file":
        if isinstance(value, dict) and "fileData" in value:
            data = value["fileData"]
            data = list(data.values()) if isinstance(data, dict) else data
            name, content = str(data[0]), _b64(data[1])
            stored = portal.store_file(name, content, portal.service_folder())
            return _file_value(spec, stored["FILE_ID"], owner_id)
        if isinstance(value, dict) and "id" in value:  # keep a file already stored
            return _file_value(spec, int(value["id"]), owner_id)
        return None
    if kind == "boolean":
        return "1" if str(value).upper() in ("Y", "1", "TRUE") else "0"
    if kind == "date":
        moment = _parse_moment(portal, value)
        return portal.date_only(moment) if moment else ""
    if kind == "datetime":
        moment = _parse_moment(portal, value)
        return portal.stamp(moment) if moment else ""
    if kind == "money":
        text = str(value)
        return text if "|" in text else f"{text}|RUB"
    if kind == "enumeration":
        options = spec.get("LIST", [])
        text = str(value)
        for option in options:
            if text in (option["ID"], option["XML_ID"]):
                return option["ID"]
        return ""  # an unknown option id is dropped
    if kind in ("integer", "employee"):
        return str(int_or(value, 0))
    return str(value)


def _b64(text: Any) -> bytes:
    try:
        return base64.b64decode(str(text), validate=False)
    except (binascii.Error, ValueError):
        raise ApiError(400, "ERROR_CORE", "Файл не загружен: неверное содержимое") from None


# -- product rows and contacts of a deal ----------------------------------------------------------


@method("crm.deal.productrows.get")
def productrows_get(portal: Portal, params: dict[str, Any]) -> MethodResult:
    deal_id = positive_id(params, error="The parameter id is invalid or not defined.")
    if deal_id not in portal.deals:
        raise legacy("Not found.")
    rows = sorted(portal.product_rows.get(deal_id, []), key=lambda row: (row["SORT"], int(row["ID"])))
    return MethodResult(rows)


@method("crm.deal.productrows.set", writes=True)
def productrows_set(portal: Portal, params: dict[str, Any]) -> MethodResult:
    deal_id = positive_id(params, error="The parameter id is invalid or not defined.")
    if deal_id not in portal.deals:
        raise legacy("Not found.")
    given = arg(params, "rows", [])
    if isinstance(given, dict):
        given = list(given.values())
    if not isinstance(given, list):
        raise legacy("The parameter rows must be array.")
    rows = []
    for index, row in enumerate(given):
        if not isinstance(row, dict):
            raise legacy("The parameter rows must be array.")
        row = {str(key).upper(): value for key, value in row.items()}
        row.setdefault("SORT", (index + 1) * 10)
        rows.append(portal.make_row(deal_id, row))
    portal.product_rows[deal_id] = rows
    deal = portal.deals[deal_id]
    if deal["IS_MANUAL_OPPORTUNITY"] != "Y":
        deal["OPPORTUNITY"] = f"{portal.rows_total(rows):.2f}"
    deal["TAX_VALUE"] = f"{portal.rows_tax(rows):.2f}"
    portal.touch_deal(deal_id)
    return MethodResult(True)


@method("crm.deal.contact.items.get")
def deal_contacts(portal: Portal, params: dict[str, Any]) -> MethodResult:
    deal_id = positive_id(params)
    if deal_id not in portal.deals:
        raise legacy("Not found.")
    return MethodResult(list(portal.deal_contacts.get(deal_id, [])))


# -- contacts, companies, requisites ----------------------------------------------------------------


def _entity_get(records: dict[int, dict[str, Any]], params: dict[str, Any]) -> MethodResult:
    entity_id = positive_id(params)
    record = records.get(entity_id)
    if record is None:
        raise legacy("Not found")
    # multi-fields come with a get only when the object has values in them
    return MethodResult({key: value for key, value in record.items() if not (key in MULTI and not value)})


@method("crm.contact.get")
def contact_get(portal: Portal, params: dict[str, Any]) -> MethodResult:
    return _entity_get(portal.contacts, params)


@method("crm.contact.list")
def contact_list(portal: Portal, params: dict[str, Any]) -> MethodResult:
    standard = list(fields.CONTACT)
    return _list(portal, list(portal.contacts.values()), params, fields.types_of(fields.CONTACT), standard,
                 list(portal.entity_userfields["CRM_CONTACT"]), multi=MULTI)


@method("crm.company.get")
def company_get(portal: Portal, params: dict[str, Any]) -> MethodResult:
    return _entity_get(portal.companies, params)


@method("crm.company.list")
def company_list(portal: Portal, params: dict[str, Any]) -> MethodResult:
    standard = list(fields.COMPANY)
    return _list(portal, list(portal.companies.values()), params, fields.types_of(fields.COMPANY), standard,
                 list(portal.entity_userfields["CRM_COMPANY"]), multi=MULTI)


@method("crm.requisite.list")
def requisite_list(portal: Portal, params: dict[str, Any]) -> MethodResult:
    conditions = arg(params, "filter")
    if conditions not in (None, "", []) and not isinstance(conditions, dict):
        raise ApiError(400, 0, "Access denied.")  # the documented (odd) answer to a malformed filter
    return _list(portal, list(portal.requisites.values()), params, fields.types_of(fields.REQUISITE),
                 list(fields.REQUISITE))


@method("crm.requisite.get")
def requisite_get(portal: Portal, params: dict[str, Any]) -> MethodResult:
    requisite_id = positive_id(params)
    record = portal.requisites.get(requisite_id)
    if record is None:
        raise legacy(f"The Requisite with ID '{requisite_id}' is not found")
    return MethodResult(dict(record))


@method("crm.requisite.link.get")
def requisite_link_get(portal: Portal, params: dict[str, Any]) -> MethodResult:
    entity_type = int_or(arg(params, "entityTypeId"), 0)
    entity_id = int_or(arg(params, "entityId"), 0)
    link = portal.requisite_links.get((entity_type, entity_id))
    if link is None:
        raise legacy("Not found")
    return MethodResult(dict(link))


LINK_FIELDS = ["ENTITY_TYPE_ID", "ENTITY_ID", "REQUISITE_ID", "BANK_DETAIL_ID", "MC_REQUISITE_ID", "MC_BANK_DETAIL_ID"]


@method("crm.requisite.link.list")
def requisite_link_list(portal: Portal, params: dict[str, Any]) -> MethodResult:
    """The requisites chosen on deals, quotes and invoices: every value a string (docs
    crm/requisites/links/crm-requisite-link-list.md), filtered and ordered on the link's own fields."""
    rows = [{name: str(link.get(name) or 0) for name in LINK_FIELDS} for link in portal.requisite_links.values()]
    types = {name: "integer" for name in LINK_FIELDS}
    conditions = mapping_arg(params, "filter")
    order = mapping_arg(params, "order") or {"ENTITY_TYPE_ID": "ASC", "ENTITY_ID": "ASC"}
    ordered = sort_rows(rows, order, types, portal.tz)
    page = paginate((row for row in ordered if matches(row, conditions, types, portal.tz)), params)
    page.result = [apply_select(row, list_arg(params, "select"), LINK_FIELDS, [], ()) for row in page.result]
    return page


@method("crm.requisite.link.register", writes=True)
def requisite_link_register(portal: Portal, params: dict[str, Any]) -> MethodResult:
    """The requisites chosen on an object, all six fields required (docs crm-requisite-link-register.md);
    a requisite that does not exist is refused [B: the error texts are the emulator's own]."""
    given = {str(key).upper(): value for key, value in fields_arg(params).items()}
    missing = [name for name in LINK_FIELDS if name not in given]
    if missing:
        raise legacy(f"The parameter '{missing[0]}' is required.")
    values = {name: int_or(given[name], -1) for name in LINK_FIELDS}
    if min(values.values()) < 0 or values["ENTITY_ID"] <= 0:
        raise legacy("Invalid value of a requisite link field.")
    for name in ("REQUISITE_ID", "MC_REQUISITE_ID"):
        if values[name] and values[name] not in portal.requisites:
            raise legacy(f"The Requisite with ID '{values[name]}' is not found")
    portal.requisite_links[(values["ENTITY_TYPE_ID"], values["ENTITY_ID"])] = {
        "ENTITY_TYPE_ID": values["ENTITY_TYPE_ID"], "ENTITY_ID": values["ENTITY_ID"],
        **{name: str(values[name]) for name in LINK_FIELDS[2:]}}
    return MethodResult(True)


# -- user fields, statuses, categories ----------------------------------------------------------------

_UF_NAME = re.compile(r"^[A-Z0-9_]+$")


def _userfield_list(portal: Portal, params: dict[str, Any], entity: str) -> MethodResult:
    conditions = mapping_arg(params, "filter")
    order = mapping_arg(params, "order")
    types = fields.types_of(fields.USERFIELD)
    rows = [dict(spec) for spec in portal.userfields_of(entity).values() if matches(spec, conditions, types, portal.tz)]
    rows = sort_rows(rows, order or {"SORT": "ASC", "ID": "ASC"}, types, portal.tz)
    return MethodResult(rows, total=len(rows))


def _userfield_add(portal: Portal, params: dict[str, Any], entity: str) -> MethodResult:
    given = fields_arg(params)
    given = {str(key).upper(): value for key, value in given.items()}
    raw_name = str(given.get("FIELD_NAME") or "").strip()
    if not raw_name:
        raise legacy("The 'FIELD_NAME' field is not found.")
    user_type = str(given.get("USER_TYPE_ID") or "").strip()
    if not user_type:
        raise legacy("The 'USER_TYPE_ID' field is not found.")
    name = raw_name.upper()
    if name.startswith("UF_CRM_"):
        pass
    elif name.startswith("UF_"):
        name = "UF_CRM_" + name[3:]
    else:
        name = "UF_CRM_" + name
    if not _UF_NAME.match(name):
        raise ApiError(400, "ERROR_CORE", "Неверный код поля. Можно использовать только латинские буквы, цифры и "
                                          "знак подчеркивания.")
    if len(name) > 50:
        raise ApiError(400, "ERROR_CORE", "Имя поля слишком длинное (больше 50-ти символов).")
    if user_type not in fields.USER_TYPES:
        raise ApiError(400, "ERROR_CORE", "Указан неверный пользовательский тип.")
    existing = portal.userfields_of(entity)
    if name in existing:
        # believed: the duplicate is refused by the user-field API with ERROR_CORE
        raise ApiError(400, "ERROR_CORE", f"Ошибка при добавлении пользовательского поля {name}: поле с таким "
                                          f"кодом уже существует.")
    if len(existing) >= 1016:
        raise ApiError(500, "INTERNAL_SERVER_ERROR", "Internal server error")
    xml_ids = [str(item.get("XML_ID")) for item in given.get("LIST") or [] if isinstance(item, dict)
               and item.get("XML_ID")]
    if len(xml_ids) != len(set(xml_ids)):
        raise ApiError(400, "ERROR_CORE", "Значения XML_ID списка должны быть уникальными.")
    given["FIELD_NAME"] = name
    given["USER_TYPE_ID"] = user_type
    if isinstance(given.get("LIST"), dict):
        given["LIST"] = list(given["LIST"].values())
    return MethodResult(portal.add_userfield(given, entity))


# the same user-field methods for each entity (docs crm/deals|contacts|companies/user-defined-fields)
for _name, _entity in (("deal", "CRM_DEAL"), ("contact", "CRM_CONTACT"), ("company", "CRM_COMPANY")):
    method(f"crm.{_name}.userfield.list")(lambda portal, params, entity=_entity: _userfield_list(portal, params,
                                                                                                 entity))
    method(f"crm.{_name}.userfield.add", writes=True)(
        lambda portal, params, entity=_entity: _userfield_add(portal, params, entity))


@method("crm.status.list")
def status_list(portal: Portal, params: dict[str, Any]) -> MethodResult:
    conditions = mapping_arg(params, "filter")
    order = mapping_arg(params, "order")
    types = fields.types_of(fields.STATUS)
    rows = [dict(status) for status in portal.statuses if matches(status, conditions, types, portal.tz)]
    rows = sort_rows(rows, order or {"SORT": "ASC"}, types, portal.tz)
    return MethodResult(rows, total=len(rows))


@method("crm.status.entity.types")
def status_entity_types(portal: Portal, params: dict[str, Any]) -> MethodResult:
    """The dictionaries, with each deal pipeline's start, success and failure stages (docs crm-status-entity-types;
    as in the docs' answer, a pipeline's CATEGORY_ID is a string except the default pipeline's 0)."""
    def semantic(start: str, success: str, failure: str) -> dict[str, Any]:
        return {"START_FIELD": start, "FINAL_SUCCESS_FIELD": success, "FINAL_UNSUCCESS_FIELD": failure,
                "FINAL_SORT": 0}

    types: list[dict[str, Any]] = [
        {"ID": "STATUS", "NAME": "Стадии лида", "SEMANTIC_INFO": semantic("NEW", "CONVERTED", "JUNK"),
         "ENTITY_TYPE_ID": 1},
        {"ID": "SOURCE", "NAME": "Источники"}, {"ID": "CONTACT_TYPE", "NAME": "Тип контакта"},
        {"ID": "COMPANY_TYPE", "NAME": "Тип компании"}, {"ID": "EMPLOYEES", "NAME": "Кол-во сотрудников"},
        {"ID": "INDUSTRY", "NAME": "Сфера деятельности"}, {"ID": "DEAL_TYPE", "NAME": "Тип сделки"},
    ]
    for category, name in sorted(portal.categories.items(), reverse=True):
        stages = portal.stages_of(category)
        success = next((stage for stage in stages if portal.stage_semantics(stage) == "S"), "")
        failure = next((stage for stage in stages if portal.stage_semantics(stage) == "F"), "")
        entry: dict[str, Any] = {"ID": "DEAL_STAGE" if category == 0 else f"DEAL_STAGE_{category}",
                                 "NAME": f"Стадии сделки {name}"}
        if category:
            entry["PARENT_ID"] = "DEAL_STAGE"
        entry["SEMANTIC_INFO"] = semantic(stages[0] if stages else "", success, failure)
        if category:
            entry["PREFIX"] = f"C{category}"
        entry.update({"FIELD_ATTRIBUTE_SCOPE": f"category_{category}" if category else "", "ENTITY_TYPE_ID": 2,
                      "CATEGORY_ID": str(category) if category else 0})
        types.append(entry)
    types.append({"ID": "HONORIFIC", "NAME": "Обращения"})
    return MethodResult(types)


@method("crm.category.list")
def category_list(portal: Portal, params: dict[str, Any]) -> MethodResult:
    if int_or(arg(params, "entityTypeId"), 0) != 2:
        raise ApiError(400, "NOT_FOUND", "Smart process not found")
    categories = [{"id": category, "name": name, "sort": (index + 1) * 100, "entityTypeId": 2,
                   "isDefault": "Y" if category == 0 else "N"}
                  for index, (category, name) in enumerate(sorted(portal.categories.items()))]
    return MethodResult({"categories": categories}, total=len(categories))


# -- catalog products (the deprecated crm.product.* methods) --------------------------------------------

_PROPERTY = f"PROPERTY_{ARTICLE_PROPERTY_ID}"


@method("crm.product.property.list")
def product_property_list(portal: Portal, params: dict[str, Any]) -> MethodResult:
    return MethodResult([{
        "ID": str(ARTICLE_PROPERTY_ID), "IBLOCK_ID": "25", "NAME": "Артикул", "ACTIVE": "Y", "SORT": "500",
        "CODE": "ARTNUMBER", "DEFAULT_VALUE": "", "PROPERTY_TYPE": "S", "ROW_COUNT": "1", "COL_COUNT": "30",
        "LIST_TYPE": "L", "MULTIPLE": "N", "XML_ID": None, "FILE_TYPE": "", "LINK_IBLOCK_ID": "0",
        "IS_REQUIRED": "N", "USER_TYPE": None, "USER_TYPE_SETTINGS": None, "VALUES": None,
    }], total=1)


def _product_view(record: dict[str, Any], with_properties: bool) -> dict[str, Any]:
    view = {key: value for key, value in record.items() if not key.startswith("PROPERTY_")}
    if with_properties:
        view[_PROPERTY] = record.get(_PROPERTY)
    return view


@method("crm.product.list")
def product_list(portal: Portal, params: dict[str, Any]) -> MethodResult:
    select = [str(item).upper() for item in list_arg(params, "select") or []]
    with_properties = "PROPERTY_*" in select or _PROPERTY in select
    conditions = mapping_arg(params, "filter")
    order = mapping_arg(params, "order")
    types = {**fields.types_of(fields.PRODUCT), _PROPERTY: "string"}
    flat = []
    for record in _by_ids(list(portal.products.values()), conditions):
        view = dict(record)
        view[_PROPERTY] = (record.get(_PROPERTY) or {}).get("value")
        if matches(view, conditions, types, portal.tz):
            flat.append(record)
    flat = sort_rows(flat, order or {"ID": "ASC"}, types, portal.tz)
    page = paginate(flat, params)
    plain = [name for name in select if not name.startswith("PROPERTY_")]
    page.result = [apply_select(_product_view(record, with_properties), plain or None,
                                list(fields.PRODUCT) + [_PROPERTY], []) | (
                       {_PROPERTY: record.get(_PROPERTY)} if with_properties else {})
                   for record in page.result]
    return page


@method("crm.product.get")
def product_get(portal: Portal, params: dict[str, Any]) -> MethodResult:
    product_id = positive_id(params)
    record = portal.products.get(product_id)
    if record is None:
        raise legacy("Not found")
    return MethodResult(_product_view(record, True))


def _apply_product(portal: Portal, record: dict[str, Any], given: dict[str, Any]) -> None:
    for raw_key, value in given.items():
        key = str(raw_key).upper()
        if key == _PROPERTY:
            item = value[0] if isinstance(value, list) and value else value
            if isinstance(item, dict):
                text = item.get("value", item.get("VALUE"))
            else:
                text = item
            current = record.get(_PROPERTY) or {}
            record[_PROPERTY] = None if text in (None, "") else {
                "valueId": current.get("valueId") or str(portal.next_id("prop_value", 9001)), "value": str(text)}
            continue
        definition = fields.PRODUCT.get(key)
        if definition is None or "r" in definition[2]:
            continue
        if key == "PRICE":
            record[key] = f"{money(value or 0):.2f}"
        else:
            record[key] = standard_value(portal, definition[0], value)
    record["TIMESTAMP_X"] = portal.stamp()
    record["MODIFIED_BY"] = str(portal.webhook_user)


@method("crm.product.add", writes=True)
def product_add(portal: Portal, params: dict[str, Any]) -> MethodResult:
    given = fields_arg(params)
    if not str(given.get("NAME") or "").strip():
        raise ApiError(400, "", "Не указано название товара.")
    product_id = portal.next_id("product", 401)
    stamp = portal.stamp()
    record: dict[str, Any] = {name: None for name in fields.PRODUCT}
    record.update({"ID": str(product_id), "CATALOG_ID": "25", "ACTIVE": "Y", "CURRENCY_ID": "RUB",
                   "PRICE": "0.00", "SORT": "500", "VAT_INCLUDED": "Y", "CODE": f"product_{product_id}",
                   "DESCRIPTION_TYPE": "text", "DATE_CREATE": stamp, "CREATED_BY": str(portal.webhook_user),
                   _PROPERTY: None})
    _apply_product(portal, record, given)
    portal.products[product_id] = record
    return MethodResult(product_id)


@method("crm.product.update", writes=True)
def product_update(portal: Portal, params: dict[str, Any]) -> MethodResult:
    product_id = positive_id(params)
    given = fields_arg(params)
    record = portal.products.get(product_id)
    if record is None:
        raise legacy("Not found")
    _apply_product(portal, record, given)
    return MethodResult(True)


@method("crm.product.delete", writes=True)
def product_delete(portal: Portal, params: dict[str, Any]) -> MethodResult:
    """The product leaves the catalog; deal rows that named it keep their copy of its name and price, as the
    portal keeps them (crm-product-delete; the not-found text is believed, like crm.product.get's)."""
    product_id = positive_id(params)
    if portal.products.pop(product_id, None) is None:
        raise legacy("Not found")
    return MethodResult(True)


# -- timeline --------------------------------------------------------------------------------------------


@method("crm.timeline.comment.add", writes=True)
def timeline_comment_add(portal: Portal, params: dict[str, Any]) -> MethodResult:
    given = params.get("fields")  # since crm 23.100.0 only the lower-case name is accepted
    if not isinstance(given, dict):
        raise ApiError(400, 100, "Не заполнены обязательные поля: fields")
    given = {str(key).upper(): value for key, value in given.items()}
    entity_type = str(given.get("ENTITY_TYPE") or "").lower()
    entity_id = int_or(given.get("ENTITY_ID"), 0)
    if not entity_type or entity_id <= 0:
        raise ApiError(400, 100, "Не заполнены обязательные поля: ENTITY_ID, ENTITY_TYPE")
    owners = {"deal": portal.deals, "contact": portal.contacts, "company": portal.companies}
    if entity_type not in owners or entity_id not in owners[entity_type]:
        raise ApiError(400, "NOT_FOUND", "Not found.")
    comment = str(given.get("COMMENT") or "")
    if not comment.strip():
        raise ApiError(400, "INVALID_ARG_VALUE", "Comment is empty")
    files = given.get("FILES") or []
    if isinstance(files, dict):
        files = list(files.values())
    stored: dict[str, Any] = {}
    for item in files:
        pair = list(item.values()) if isinstance(item, dict) else item
        if not isinstance(pair, list) or len(pair) < 2:
            raise ApiError(400, "INVALID_ARG_VALUE", "Invalid FILES format")
        record = portal.store_file(str(pair[0]), _b64(pair[1]), portal.service_folder())
        stored[str(record["ID"])] = {
            "id": record["ID"], "date": record["CREATE_TIME"], "type": "file", "name": record["NAME"],
            "size": int(record["SIZE"]), "authorId": portal.webhook_user, "authorName": "Администратор Портала",
            "urlPreview": None, "urlShow": f"{portal.root_url}/disk/showFile/{record['ID']}/",
            "urlDownload": f"{portal.root_url}/disk/downloadFile/{record['ID']}/",
        }
    comment_id = portal.next_id("timeline", 1001)
    portal.timeline[comment_id] = {
        "ID": str(comment_id), "ENTITY_ID": str(entity_id), "ENTITY_TYPE": "deal", "CREATED": portal.stamp(),
        "COMMENT": comment, "AUTHOR_ID": str(portal.webhook_user), "FILES": stored,
    }
    return MethodResult(comment_id)


# TYPE_ID of crm.activity.add: meeting, call, task, e-mail, custom (crm.enum.activitytype)
_ACTIVITY_TYPES = {1, 2, 3, 4, 6}
_OWNER_TYPES = {2: "deals", 3: "contacts", 4: "companies"}


@method("crm.activity.add", writes=True)
def activity_add(portal: Portal, params: dict[str, Any]) -> MethodResult:
    """A (deprecated) system activity on a deal, contact or company, with files stored on Disk; the legacy errors
    in the order the docs list them (crm-activity-add.md)."""
    given = {str(key).upper(): value for key, value in fields_arg(params).items()}
    if not str(given.get("SUBJECT") or "").strip():
        raise legacy("The field SUBJECT is not defined or empty")
    if int_or(given.get("RESPONSIBLE_ID"), 0) not in portal.users:
        raise legacy("The field RESPONSIBLE_ID is not defined or invalid")
    type_id = int_or(given.get("TYPE_ID"), 0)
    if type_id not in _ACTIVITY_TYPES:
        raise legacy("The field TYPE_ID is not defined or invalid")
    communications = given.get("COMMUNICATIONS")
    communications = list(communications.values()) if isinstance(communications, dict) else communications
    if type_id in (1, 2, 4) and not (isinstance(communications, list) and communications):
        raise legacy("The field COMMUNICATIONS is not defined or invalid")
    owners = getattr(portal, _OWNER_TYPES.get(int_or(given.get("OWNER_TYPE_ID"), 0), ""), {})
    if int_or(given.get("OWNER_ID"), 0) not in owners:
        raise legacy("Could not build binding. Please ensure that owner info and communications are defined correctly")
    files = given.get("FILES") or []
    files = list(files.values()) if isinstance(files, dict) else files
    stored = []
    for item in files:
        data = item.get("fileData") if isinstance(item, dict) else None
        data = list(data.values()) if isinstance(data, dict) else data
        if not isinstance(data, list) or len(data) < 2:
            continue  # believed: what is not a fileData pair is skipped
        stored.append(portal.store_file(str(data[0]), _b64(data[1]), portal.service_folder())["ID"])
    activity_id = portal.next_id("activity", 1)
    portal.activities[activity_id] = {
        "ID": str(activity_id), "OWNER_TYPE_ID": str(given["OWNER_TYPE_ID"]), "OWNER_ID": str(given["OWNER_ID"]),
        "TYPE_ID": str(type_id), "SUBJECT": str(given["SUBJECT"]), "DESCRIPTION": str(given.get("DESCRIPTION") or ""),
        "RESPONSIBLE_ID": str(given["RESPONSIBLE_ID"]), "CREATED": portal.stamp(), "FILES": stored}
    return MethodResult(activity_id)


@method("crm.timeline.comment.list")
def timeline_comment_list(portal: Portal, params: dict[str, Any]) -> MethodResult:
    conditions = mapping_arg(params, "filter")
    types = fields.types_of(fields.TIMELINE_COMMENT)
    rows = [dict(item) for item in portal.timeline.values() if matches(item, conditions, types, portal.tz)]
    rows = sort_rows(rows, mapping_arg(params, "order") or {"ID": "DESC"}, types, portal.tz)
    page = paginate(rows, params)
    for row in page.result:
        row["FILES"] = row["FILES"] or []  # believed: a real server sends [] (PHP) for no files
    return page


@method("crm.stagehistory.list")
def stagehistory_list(portal: Portal, params: dict[str, Any]) -> MethodResult:
    entity_type = int_or(arg(params, "entityTypeId"), 0)
    if entity_type not in (1, 2, 5, 31):  # leads, deals, old and new invoices have a stage history
        raise ApiError(400, 0, "SHIPMENT_DOCUMENT entity is not supported")
    if entity_type != 2:
        return MethodResult({"items": []}, total=0)  # the emulated portal has no leads or invoices
    conditions = mapping_arg(params, "filter")
    types = {"ID": "integer", "TYPE_ID": "integer", "OWNER_ID": "integer", "CREATED_TIME": "datetime",
             "CATEGORY_ID": "integer", "STAGE_SEMANTIC_ID": "string", "STAGE_ID": "string"}
    rows = [dict(item) for item in portal.stage_history if matches(item, conditions, types, portal.tz)]
    rows = sort_rows(rows, mapping_arg(params, "order") or {"ID": "ASC"}, types, portal.tz)
    page = paginate(rows, params, orm=True)
    page.result = {"items": page.result}
    return page
