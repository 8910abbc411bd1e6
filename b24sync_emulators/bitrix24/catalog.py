"""catalog.product.get / catalog.product.list: the current catalog API over the same products as crm.product.*.

The catalog API speaks camelCase with real integers (`id`, `iblockId`, `vatId`),
keeps flags as "Y"/"N", wraps its answers (`{"product": …}`, `{"products": […]}`)
and shows a property as `propertyN: {"value", "valueId"}` (REST.md §8,
samples/catalog.product.get.json). catalog.product.list insists on `id` and
`iblockId` in `select` and `iblockId` in `filter`, answering error 0 otherwise;
the texts of those errors are not documented and are believed.
"""

from __future__ import annotations

from typing import Any

from b24sync_emulators.bitrix24 import fields
from b24sync_emulators.bitrix24.filters import FilterError, matches, sort_rows, split_key
from b24sync_emulators.bitrix24.portal import (
    ARTICLE_PROPERTY_ID,
    MEASURE_RECORDS,
    VAT_RECORDS,
    ApiError,
    MethodResult,
    Portal,
)
from b24sync_emulators.bitrix24.registry import arg, list_arg, mapping_arg, method, paginate

PROPERTY = f"property{ARTICLE_PROPERTY_ID}"
LEGACY_PROPERTY = f"PROPERTY_{ARTICLE_PROPERTY_ID}"

# camelCase name -> the crm.product.* record key it shows, or None for catalog fields the emulator keeps constant.
CAMEL: dict[str, str | None] = {
    "id": "ID", "iblockId": "CATALOG_ID", "name": "NAME", "active": "ACTIVE", "code": "CODE", "xmlId": "XML_ID",
    "sort": "SORT", "measure": "MEASURE", "vatId": "VAT_ID", "vatIncluded": "VAT_INCLUDED",
    "iblockSectionId": "SECTION_ID", "detailText": "DESCRIPTION", "detailTextType": "DESCRIPTION_TYPE",
    "dateCreate": "DATE_CREATE", "timestampX": "TIMESTAMP_X", "createdBy": "CREATED_BY",
    "modifiedBy": "MODIFIED_BY",
    "available": None, "bundle": None, "canBuyZero": None, "quantity": None, "quantityReserved": None,
    "quantityTrace": None, "purchasingPrice": None, "purchasingCurrency": None, "type": None,
    "previewText": None, "previewTextType": None, "previewPicture": None, "detailPicture": None,
    "dateActiveFrom": None, "dateActiveTo": None, "subscribe": None, "weight": None, "width": None,
    "height": None, "length": None,
}
INTEGERS = {"id", "iblockId", "sort", "measure", "vatId", "iblockSectionId", "createdBy", "modifiedBy"}
# A simple product (type 1) with no stock accounting, as a catalog filled by the 1C exchange usually holds.
CONSTANTS: dict[str, Any] = {
    "available": "Y", "bundle": "N", "canBuyZero": "Y", "quantity": 0, "quantityReserved": 0,
    "quantityTrace": "N", "purchasingPrice": None, "purchasingCurrency": None, "type": 1, "previewText": None,
    "previewTextType": "text", "previewPicture": None, "detailPicture": None, "dateActiveFrom": None,
    "dateActiveTo": None, "subscribe": "Y", "weight": None, "width": None, "height": None, "length": None,
}


def product_view(record: dict[str, Any]) -> dict[str, Any]:
    """One crm.product.* record as the catalog API shows it (sorted by name, as the portal prints it)."""
    view: dict[str, Any] = {}
    for camel, legacy_key in CAMEL.items():
        if legacy_key is None:
            view[camel] = CONSTANTS[camel]
            continue
        value = record.get(legacy_key)
        if camel in INTEGERS:
            value = int(value) if value not in (None, "") else None
        view[camel] = value
    view[PROPERTY] = record.get(LEGACY_PROPERTY)
    return dict(sorted(view.items()))


def _flat(record: dict[str, Any]) -> dict[str, Any]:
    """The record with the article as a plain value, for filtering and sorting."""
    flat = dict(record)
    flat[LEGACY_PROPERTY] = (record.get(LEGACY_PROPERTY) or {}).get("value")
    return flat


def _legacy_name(name: str) -> str:
    if name == PROPERTY:
        return LEGACY_PROPERTY
    legacy_key = CAMEL.get(name)
    if legacy_key is None:
        raise ApiError(400, 0, f"Unknown field: {name}")  # believed text
    return legacy_key


@method("catalog.product.get", scope="catalog")
def catalog_product_get(portal: Portal, params: dict[str, Any]) -> MethodResult:
    raw = arg(params, "id")
    if raw in (None, ""):
        raise ApiError(400, 100, "Could not find value for parameter {id}")
    try:
        product_id = int(str(raw))
    except ValueError:
        raise ApiError(400, 0, "Product is not exists") from None
    record = portal.products.get(product_id)
    if record is None:
        raise ApiError(400, 0, "Product is not exists")
    return MethodResult({"product": product_view(record)})


@method("catalog.product.list", scope="catalog")
def catalog_product_list(portal: Portal, params: dict[str, Any]) -> MethodResult:
    select = [str(name) for name in list_arg(params, "select") or []]
    if "id" not in select or "iblockId" not in select:
        raise ApiError(400, 0, "Required select fields: id, iblockId")  # believed text
    given = mapping_arg(params, "filter")
    if not any(split_key(str(key))[1] == "iblockId" for key in given):
        raise ApiError(400, 0, "Required filter fields: iblockId")  # believed text
    conditions = {}
    for key, value in given.items():
        operator, name = split_key(str(key))
        prefix = "" if operator == "=" and not str(key).startswith("=") else operator
        conditions[prefix + _legacy_name(name)] = value
    order = {_legacy_name(str(key)): direction for key, direction in mapping_arg(params, "order").items()}
    types = {**fields.types_of(fields.PRODUCT), LEGACY_PROPERTY: "string"}
    try:
        ordered = sort_rows([_flat(record) for record in portal.products.values()], order or {"ID": "ASC"},
                            types, portal.tz)
        page = paginate((row for row in ordered if matches(row, conditions, types, portal.tz)), params, orm=True)
    except FilterError as error:
        raise ApiError(400, 0, str(error)) from None
    products = []
    for row in page.result:
        view = product_view(portal.products[int(row["ID"])])
        products.append({name: value for name, value in view.items() if name in select})
    page.result = {"products": products}
    return page


@method("catalog.measure.list", scope="catalog")
def catalog_measure_list(portal: Portal, params: dict[str, Any]) -> MethodResult:
    """The portal's units: {"measures": [{id, code, measureTitle, symbol, symbolIntl, symbolLetterIntl,
    isDefault}]} (docs catalog/measure/catalog-measure-list.md)."""
    records = [{"id": measure_id, "code": code, "measureTitle": title, "symbol": symbol, "symbolIntl": None,
                "symbolLetterIntl": None, "isDefault": "Y" if code == 796 else "N"}
               for measure_id, code, symbol, title in MEASURE_RECORDS]
    return _catalog_list(records, params, "measures")


@method("catalog.vat.list", scope="catalog")
def catalog_vat_list(portal: Portal, params: dict[str, Any]) -> MethodResult:
    """The portal's VAT rates: {"vats": [{id, name, active, rate, sort, timestampX}]} (docs
    catalog/vat/catalog-vat-list.md)."""
    records = [{"id": vat_id, "name": name, "active": "Y", "rate": rate, "sort": 100 * vat_id,
                "timestampX": "2024-04-05T16:12:32+03:00"} for vat_id, name, rate in VAT_RECORDS]
    return _catalog_list(records, params, "vats")


def _catalog_list(records: list[dict[str, Any]], params: dict[str, Any], key: str) -> MethodResult:
    """A catalog list: `select` narrows the fields (all when empty), 50 a page from `start`."""
    select = [str(name) for name in list_arg(params, "select") or []]
    page = paginate(records, params, orm=True)
    page.result = {key: [{name: value for name, value in record.items() if not select or name in select}
                         for record in page.result]}
    return page
