"""The catalog job: 1C nomenclature → Bitrix24 CRM products, so deals can pick products that match 1C.

Each item is created or updated with XML_ID = its Ref_Key, its name and its
article; only items whose DataVersion changed since the last run are written,
and nothing is ever deleted in Bitrix24 (an item marked for deletion in 1C is
deactivated). A product a person made by hand with the item's article is
adopted (it gets the XML_ID) instead of being doubled. With the webhook's
'catalog' scope, a product also carries the item's VAT rate and unit, in the
portal's own VAT and unit IDs; with 'sync.products.price_type', the price
type's latest price in its currency.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from b24sync.bitrix24.adapter import Bitrix24Adapter
from b24sync.bitrix24.records import CatalogProduct
from b24sync.logs import get_logger
from b24sync.onec import errors as onec_errors
from b24sync.onec.adapter import OneCAdapter
from b24sync.onec.values import is_guid
from b24sync.store.store import Store
from b24sync.sync.report import CycleReport

PAGE = 500
log = get_logger("b24sync.catalog")


def sync_catalog(onec: OneCAdapter, bitrix: Bitrix24Adapter, store: Store, article_property: str,
                 dry_run: bool = False, price_type: str = "") -> CycleReport:
    report = CycleReport("catalog", dry_run=dry_run)
    # the price type's latest prices, read at once: an item's product is written again when its price changes
    includes_vat, prices = True, {}
    if price_type:
        try:
            includes_vat, prices = onec.prices(price_type)
        except onec_errors.OneCError as error:  # a price type 1C lacks, a register it does not publish
            if error.fatal and not isinstance(error, onec_errors.SetupError | onec_errors.NotFoundError):
                raise
            log.warning("catalog_prices_unreadable", error=str(error),
                        action="fix 'sync.products.price_type' (b24sync check) or publish the price register; "
                               "products are written without prices meanwhile")
    seen = store.catalog_versions()
    references = bitrix.catalog_references()
    if references is None:
        log.warning("catalog_scope_missing", action="give the webhook the 'catalog' scope (an administrator's "
                                                    "webhook) so that products carry 1C's VAT rate and unit")
    else:
        try:
            onec.resolved()  # УТ 11.5 names a VAT rate by a «Ставки НДС» item: the defaults tell which
        except onec_errors.SetupError as error:
            log.warning("catalog_vat_unresolved", error=str(error),
                        action="fix 'onec.defaults' (b24sync check): products are written without VAT and unit")
            references = None
    missing: dict[str, set[str]] = {"units": set(), "rates": set()}
    skip = 0
    while True:
        page = onec.nomenclature_page(skip, PAGE, vat_and_unit=references is not None)
        report.listed += len(page)
        units = onec.units(str(item.get("ЕдиницаИзмерения_Key") or "") for item in page) if references else {}
        # what each item's product should carry of the portal's units and rates: an item is written again when
        # that changes (the scope given, a unit added to the portal), even if 1C did not change the item
        extra = {item["Ref_Key"]: _vat_and_unit(onec, item, units, references, missing) if references else {}
                 for item in page}
        changed = [item for item in page
                   if seen.get(item["Ref_Key"]) != _exported(item, extra[item["Ref_Key"]], prices)]
        existing = bitrix.products_by_xml_id([item["Ref_Key"] for item in changed], article_property) if changed else {}
        unbound = [item["Артикул"] for item in changed if item["Ref_Key"] not in existing and item.get("Артикул")]
        by_article: dict[str, list[CatalogProduct]] = {}
        for article, products in (bitrix.products_by_article(unbound, article_property) if unbound else {}).items():
            by_article.setdefault(_article(article), []).extend(products)
        taken: set[int] = {product.id for product in existing.values()}  # a product adopted once is not again
        written: dict[str, str] = {}
        for item in changed:
            fields = {"NAME": item["Description"], "XML_ID": item["Ref_Key"],
                      "ACTIVE": "N" if item.get("DeletionMark") else "Y"}
            if item.get("Артикул"):
                fields[article_property] = item["Артикул"]
            fields.update(extra[item["Ref_Key"]])
            if item["Ref_Key"].lower() in prices:
                price, currency = prices[item["Ref_Key"].lower()]
                fields.update({"PRICE": f"{price:.2f}", "CURRENCY_ID": currency,
                               "VAT_INCLUDED": "Y" if includes_vat else "N"})
            product = existing.get(item["Ref_Key"]) or _adoptable(
                [found for found in by_article.get(_article(item.get("Артикул")), []) if found.id not in taken])
            if product is not None:
                taken.add(product.id)
            if dry_run:
                verb = "adopt" if product and product.xml_id != item["Ref_Key"] else "update" if product else "create"
                report.planned.append(f"{verb} product «{item['Description']}»")
                continue
            if product is not None and product.xml_id != item["Ref_Key"]:
                report.recovered += 1  # a product a person made by hand: it gets the item's XML_ID, not a twin
            if product is None:
                bitrix.add_product(fields)
                report.created += 1
            else:
                bitrix.update_product(product.id, fields)
                report.updated += 1
            written[item["Ref_Key"]] = _exported(item, extra[item["Ref_Key"]], prices)
        if written:
            store.save_catalog_versions(written)
        if len(page) < PAGE:
            if missing["units"] or missing["rates"]:
                log.warning("catalog_references_missing", units=sorted(missing["units"]),
                            rates=sorted(missing["rates"]),
                            action="add these units (OKEI codes) and VAT rates to the portal's catalog; products in "
                                   "them keep what they have until then")
            return report
        skip += PAGE


def _exported(item: dict[str, Any], extra: dict[str, Any], prices: dict[str, tuple[Decimal, str]]) -> str:
    """What the state remembers of an item written to its product: its DataVersion, the portal's unit and VAT
    rate it got, and its price (none of which is a new DataVersion of the item)."""
    price = prices.get(item["Ref_Key"].lower())
    carried = f"#{extra.get('MEASURE', '-')}:{extra.get('VAT_ID', '-')}" if extra else ""
    return item["DataVersion"] + carried + (f"#{price[0]:.2f}{price[1]}" if price else "")


def _vat_and_unit(onec: OneCAdapter, item: dict[str, Any], units: dict[str, tuple[int | None, str]],
                  references: tuple[dict[int, int], dict[Decimal | None, int]],
                  missing: dict[str, set[str]]) -> dict[str, Any]:
    """The product's VAT rate (VAT_ID) and unit (MEASURE) as 1C keeps the item: a rate or unit the portal lacks is
    left as the product has it, and said once a run. Whether the price includes VAT is the price type's to say."""
    measures, vats = references
    fields: dict[str, Any] = {}
    known, rate = onec.nomenclature_vat(item)
    vat_id = vats.get(None if rate is None else rate.normalize()) if known else None
    if vat_id is not None:
        fields["VAT_ID"] = vat_id
    elif known:
        missing["rates"].add("без НДС" if rate is None else f"{rate.normalize():f} %")
    code = units.get(str(item.get("ЕдиницаИзмерения_Key") or "").lower(), (None, ""))[0]
    if code is not None and code in measures:
        fields["MEASURE"] = measures[code]
    elif code is not None:
        missing["units"].add(f"{code:03d}")
    return fields


def _adoptable(products: list[CatalogProduct]) -> CatalogProduct | None:
    """The one product with the article that no 1C item owns yet (no GUID in its XML_ID): adopted, not doubled.
    Several such products, or one that belongs to another item, are left alone and a new product is made."""
    free = [product for product in products if not is_guid(product.xml_id or "")]
    return free[0] if len(free) == 1 else None


def _article(value: str | None) -> str:
    """An article as people type it again: « r-100 » is R-100."""
    return (value or "").strip().upper()
