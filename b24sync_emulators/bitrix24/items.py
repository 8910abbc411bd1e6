"""The universal crm.item.* methods for deals (entityTypeId 2), and user.get / user.current.

crm.item.* shows the same deals as crm.deal.* in camelCase with real numbers
(flags stay "Y"/"N"), wraps results (`{"items": […]}`, `{"item": …}`,
`{"productRows": […]}`), and refuses UPPER_CASE names in `order` with the D7
error 100, as REST.md §3.1 and §9 describe.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from b24sync_emulators.bitrix24 import crm, fields
from b24sync_emulators.bitrix24.filters import matches, sort_rows, split_key
from b24sync_emulators.bitrix24.portal import ApiError, MethodResult, Portal
from b24sync_emulators.bitrix24.registry import arg, list_arg, mapping_arg, method, paginate, positive_id

CAMEL = {
    "ID": "id", "TITLE": "title", "TYPE_ID": "typeId", "CATEGORY_ID": "categoryId", "STAGE_ID": "stageId",
    "STAGE_SEMANTIC_ID": "stageSemanticId", "IS_NEW": "isNew", "IS_RECURRING": "isRecurring",
    "IS_RETURN_CUSTOMER": "isReturnCustomer", "IS_REPEATED_APPROACH": "isRepeatedApproach",
    "PROBABILITY": "probability", "CURRENCY_ID": "currencyId", "OPPORTUNITY": "opportunity",
    "IS_MANUAL_OPPORTUNITY": "isManualOpportunity", "TAX_VALUE": "taxValue", "COMPANY_ID": "companyId",
    "CONTACT_ID": "contactId", "QUOTE_ID": "quoteId", "BEGINDATE": "begindate", "CLOSEDATE": "closedate",
    "OPENED": "opened", "CLOSED": "closed", "COMMENTS": "comments", "ASSIGNED_BY_ID": "assignedById",
    "CREATED_BY_ID": "createdBy", "MODIFY_BY_ID": "updatedBy", "MOVED_BY_ID": "movedBy",
    "DATE_CREATE": "createdTime", "DATE_MODIFY": "updatedTime", "MOVED_TIME": "movedTime", "SOURCE_ID": "sourceId",
    "SOURCE_DESCRIPTION": "sourceDescription", "LEAD_ID": "leadId", "ADDITIONAL_INFO": "additionalInfo",
    "LOCATION_ID": "locationId", "ORIGINATOR_ID": "originatorId", "ORIGIN_ID": "originId",
    "UTM_SOURCE": "utmSource", "UTM_MEDIUM": "utmMedium", "UTM_CAMPAIGN": "utmCampaign",
    "UTM_CONTENT": "utmContent", "UTM_TERM": "utmTerm", "LAST_ACTIVITY_TIME": "lastActivityTime",
    "LAST_ACTIVITY_BY": "lastActivityBy",
}
INTEGERS = {"id", "categoryId", "companyId", "contactId", "quoteId", "leadId", "assignedById", "createdBy",
            "updatedBy", "movedBy", "probability", "lastActivityBy", "locationId"}
NUMBERS = {"opportunity", "taxValue"}
ROW_CAMEL = {"ID": "id", "OWNER_ID": "ownerId", "OWNER_TYPE": "ownerType", "PRODUCT_ID": "productId",
             "PRODUCT_NAME": "productName", "PRICE": "price", "PRICE_ACCOUNT": "priceAccount",
             "PRICE_EXCLUSIVE": "priceExclusive", "PRICE_NETTO": "priceNetto", "PRICE_BRUTTO": "priceBrutto",
             "QUANTITY": "quantity", "DISCOUNT_TYPE_ID": "discountTypeId", "DISCOUNT_RATE": "discountRate",
             "DISCOUNT_SUM": "discountSum", "TAX_RATE": "taxRate", "TAX_INCLUDED": "taxIncluded",
             "CUSTOMIZED": "customized", "MEASURE_CODE": "measureCode", "MEASURE_NAME": "measureName",
             "SORT": "sort", "XML_ID": "xmlId", "TYPE": "type", "STORE_ID": "storeId"}


def uf_camel(name: str) -> str:
    """UF_CRM_1720019876534 -> ufCrm_1720019876534; UF_CRM_1C_ORDER_ID -> ufCrm1cOrderId (believed)."""
    rest = name.removeprefix("UF_CRM_")
    if rest.isdigit():
        return f"ufCrm_{rest}"
    return "ufCrm" + "".join(part[:1].upper() + part[1:].lower() for part in rest.split("_"))


def _number(value: Any) -> int | float | None:
    if value in (None, ""):
        return None
    decimal = Decimal(str(value))
    return int(decimal) if decimal == decimal.to_integral_value() else float(decimal)


def deal_item(portal: Portal, deal: dict[str, Any], original_uf: bool = False) -> dict[str, Any]:
    item: dict[str, Any] = {}
    for wire, camel in CAMEL.items():
        value = deal.get(wire)
        if camel in INTEGERS:
            value = int(value) if value not in (None, "") else (0 if camel in ("companyId", "contactId") else None)
        elif camel in NUMBERS:
            value = _number(value)
        item[camel] = value
    for name, value in deal.items():
        if name.startswith("UF_"):
            spec = portal.userfields.get(name) or {}
            if spec.get("USER_TYPE_ID") == "file":  # crm.item shows files as {id, url, urlMachine}
                value = [_item_file(portal, entry) for entry in value] if isinstance(value, list) else (
                    _item_file(portal, value) if isinstance(value, dict) else value)
            item[name if original_uf else uf_camel(name)] = value
    deal_id = int(deal["ID"])
    item["contactIds"] = [int(link["CONTACT_ID"]) for link in portal.deal_contacts.get(deal_id, [])]
    item["observers"] = []
    item["entityTypeId"] = 2
    return item


def _item_file(portal: Portal, value: dict[str, Any]) -> dict[str, Any]:
    """samples/crm.item.get.file_field_fragment.json: an absolute browser URL and a REST URL for machines."""
    file_id = value["id"]
    action = "crm.controller.item.getFile"
    return {"id": file_id, "url": f"{portal.root_url}/bitrix/services/main/ajax.php?action={action}&fileId={file_id}",
            "urlMachine": f"{portal.root_url}/rest/{action}.json?auth=&fileId={file_id}"}


def _entity(params: dict[str, Any]) -> None:
    entity = arg(params, "entityTypeId")
    if str(entity) != "2":
        raise ApiError(400, "NOT_FOUND", "Smart process not found" if entity not in (None, "") else
                       "Parameter entityTypeId is required")


def _wire_name(name: str, reverse: dict[str, str]) -> str:
    if name in reverse:
        return reverse[name]
    if name.startswith("ufCrm"):
        return next((uf for uf in reverse.values() if uf_camel(uf) == name), name)
    raise ApiError(400, "INVALID_ARG_VALUE", f"Invalid filter: field '{name}' is not allowed in filter")


def _wire_filter(given: dict[str, Any], reverse: dict[str, str]) -> dict[str, Any]:
    """A camelCase filter in the deal's wire names; numbered maps are nested groups with their own `logic`."""
    conditions: dict[str, Any] = {}
    for key, value in given.items():
        if str(key).isdigit() and isinstance(value, dict):
            conditions[str(key)] = _wire_filter(value, reverse)
            continue
        if str(key).lower() == "logic":
            conditions["LOGIC"] = value
            continue
        operator, name = split_key(str(key))
        conditions[("" if operator == "=" and not str(key).startswith("=") else operator) + _wire_name(name, reverse)] \
            = value
    return conditions


@method("crm.item.list")
def item_list(portal: Portal, params: dict[str, Any]) -> MethodResult:
    _entity(params)
    reverse = {camel: wire for wire, camel in CAMEL.items()} | {uf: uf for uf in portal.userfields}
    conditions = _wire_filter(mapping_arg(params, "filter"), reverse)
    order: dict[str, Any] = {}
    for key, direction in mapping_arg(params, "order").items():
        if key not in reverse:
            # the D7 layer reads the name as camelCase and splits it: ID -> I_D (REST.md §3.1)
            snake = re.sub(r"(?<!^)([A-Z])", r"_\1", str(key)).upper()
            raise ApiError(400, 100, f"Unknown field definition `{snake}`")
        order[reverse[key]] = direction
    types = {**fields.types_of(fields.DEAL), **portal.uf_types()}
    ordered = sort_rows(list(portal.deals.values()), order or {"ID": "ASC"}, types, portal.tz)
    page = paginate((deal for deal in ordered if matches(deal, conditions, types, portal.tz, groups=True)), params,
                    orm=True)
    original = str(arg(params, "useOriginalUfNames", "N")).upper() == "Y"
    select = list_arg(params, "select")
    items = []
    for deal in page.result:
        item = deal_item(portal, deal, original)
        if select and "*" not in select:
            wanted = set(select) | {"id"}
            item = {key: value for key, value in item.items() if key in wanted}
        items.append(item)
    page.result = {"items": items}
    return page


@method("crm.item.get")
def item_get(portal: Portal, params: dict[str, Any]) -> MethodResult:
    _entity(params)
    deal = portal.deals.get(positive_id(params))
    if deal is None:
        raise ApiError(400, "NOT_FOUND", "Элемент не найден")
    original = str(arg(params, "useOriginalUfNames", "N")).upper() == "Y"
    return MethodResult({"item": deal_item(portal, deal, original)})


@method("crm.item.update", writes=True)
def item_update(portal: Portal, params: dict[str, Any]) -> MethodResult:
    """A deal changed through the universal API: camelCase names, and the one way to move it to another pipeline
    (the stage then goes to the new pipeline's first stage unless one is given)."""
    _entity(params)
    deal_id = positive_id(params)
    if deal_id not in portal.deals:
        raise ApiError(400, "NOT_FOUND", "Элемент не найден")
    given = arg(params, "fields")
    if not isinstance(given, dict):
        raise ApiError(400, "INVALID_ARG_VALUE", "Parameter fields is required")
    reverse = {camel: wire for wire, camel in CAMEL.items()}
    uf_names = {uf_camel(name): name for name in portal.userfields} | {name: name for name in portal.userfields}
    legacy: dict[str, Any] = {}
    for key, value in given.items():
        wire = reverse.get(str(key)) or uf_names.get(str(key))
        if wire is None:
            continue  # unknown names are ignored, as in crm.deal.update
        if wire in portal.userfields and portal.userfields[wire]["USER_TYPE_ID"] == "file":
            value = _legacy_files(value)
        legacy[wire] = value
    deal = portal.deals[deal_id]
    category = legacy.pop("CATEGORY_ID", None)
    if category is not None and str(category) != str(deal["CATEGORY_ID"]):
        if crm.int_or(category, -1) not in portal.categories:
            raise ApiError(400, "CATEGORY_NOT_FOUND", "Воронка не найдена")
        deal["CATEGORY_ID"] = str(category)
        legacy.setdefault("STAGE_ID", portal.stages_of(int(category))[0])
    crm.apply_deal_fields(portal, deal_id, legacy, creating=False)
    portal.touch_deal(deal_id)
    return MethodResult({"item": deal_item(portal, portal.deals[deal_id])})


def _legacy_files(value: Any) -> Any:
    """crm.item file values (`["name", "b64"]`, a list of such, `{"id": N}` to keep) in crm.deal.* form."""
    def one(entry: Any) -> Any:
        if isinstance(entry, list) and len(entry) == 2 and all(isinstance(part, str) for part in entry):
            return {"fileData": entry}
        return entry

    if isinstance(value, list) and value and all(isinstance(entry, list | dict) for entry in value):
        return [one(entry) for entry in value]
    return one(value)


@method("crm.item.productrow.list")
def item_productrows(portal: Portal, params: dict[str, Any]) -> MethodResult:
    conditions = mapping_arg(params, "filter")
    owner_type = str(conditions.get("=ownerType", conditions.get("ownerType", "")))
    owner = conditions.get("=ownerId", conditions.get("ownerId"))
    if owner_type != "D" or owner in (None, ""):
        raise ApiError(400, "INVALID_ARG_VALUE", "Invalid filter: ownerType and ownerId are required")
    rows = portal.product_rows.get(int(str(owner)), [])
    converted = [{camel: (_number(row[wire]) if camel == "priceAccount" else row.get(wire))
                  for wire, camel in ROW_CAMEL.items()} | {"id": int(row["ID"]), "ownerId": int(row["OWNER_ID"])}
                 for row in sorted(rows, key=lambda row: row["SORT"])]
    page = paginate(converted, params, orm=True)
    page.result = {"productRows": page.result}
    return page


@method("user.get", scope="user")
def user_get(portal: Portal, params: dict[str, Any]) -> MethodResult:
    wanted = arg(params, "ID", arg(params, "id"))
    if isinstance(wanted, dict):
        wanted = wanted.get("ID")
    users = [user for user in portal.users.values() if wanted in (None, "") or str(user["ID"]) == str(wanted)]
    return paginate(users, params)


@method("user.current", scope=None)
def user_current(portal: Portal, params: dict[str, Any]) -> MethodResult:
    return MethodResult(portal.users.get(portal.webhook_user) or {"ID": str(portal.webhook_user)})
