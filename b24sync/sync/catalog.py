"""The catalog job: 1C nomenclature → Bitrix24 CRM products, so deals can pick products that match 1C.

Each item is created or updated with XML_ID = its Ref_Key, its name and its
article; only items whose DataVersion changed since the last run are written,
and nothing is ever deleted in Bitrix24 (an item marked for deletion in 1C is
deactivated). A product a person made by hand with the item's article is
adopted (it gets the XML_ID) instead of being doubled.
"""

from __future__ import annotations

from b24sync.bitrix24.adapter import Bitrix24Adapter
from b24sync.bitrix24.records import CatalogProduct
from b24sync.onec.adapter import OneCAdapter
from b24sync.onec.values import is_guid
from b24sync.store.store import Store
from b24sync.sync.report import CycleReport

PAGE = 500


def sync_catalog(onec: OneCAdapter, bitrix: Bitrix24Adapter, store: Store, article_property: str,
                 dry_run: bool = False) -> CycleReport:
    report = CycleReport("catalog", dry_run=dry_run)
    seen = store.catalog_versions()
    skip = 0
    while True:
        page = onec.nomenclature_page(skip, PAGE)
        report.listed += len(page)
        changed = [item for item in page if seen.get(item["Ref_Key"]) != item["DataVersion"]]
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
            written[item["Ref_Key"]] = item["DataVersion"]
        if written:
            store.save_catalog_versions(written)
        if len(page) < PAGE:
            return report
        skip += PAGE


def _adoptable(products: list[CatalogProduct]) -> CatalogProduct | None:
    """The one product with the article that no 1C item owns yet (no GUID in its XML_ID): adopted, not doubled.
    Several such products, or one that belongs to another item, are left alone and a new product is made."""
    free = [product for product in products if not is_guid(product.xml_id or "")]
    return free[0] if len(free) == 1 else None


def _article(value: str | None) -> str:
    """An article as people type it again: « r-100 » is R-100."""
    return (value or "").strip().upper()
