"""The catalog job: 1C nomenclature becomes Bitrix24 products, incrementally, and `xml_id` matching then works."""

from __future__ import annotations

from pathlib import Path

import pytest

from b24sync.sync.catalog import sync_catalog
from b24sync_emulators.bitrix24.portal import ARTICLE_PROPERTY_ID
from tests.sync_rig import Rig

ARTICLE = f"PROPERTY_{ARTICLE_PROPERTY_ID}"


def test_an_empty_portal_catalog_is_filled_from_1c_and_kept_in_step(tmp_path: Path) -> None:
    rig = Rig.start(tmp_path)
    try:
        portal = rig.portal.portal
        items = {ref: item for ref, item in rig.base.base.records["Catalog_Номенклатура"].items()}
        # the portal starts with an empty catalog: deals will reference the products the job creates
        portal.products.clear()
        engine = rig.engine()
        report = sync_catalog(engine.onec, engine.bitrix, engine.store, ARTICLE)
        assert report.created == len(items) and report.updated == 0
        by_xml = {product["XML_ID"]: product for product in portal.products.values()}
        assert set(by_xml) == set(items)
        sample = next(iter(items.values()))
        assert by_xml[sample["Ref_Key"]]["NAME"] == sample["Description"]
        assert by_xml[sample["Ref_Key"]][ARTICLE]["value"] == sample["Артикул"]

        rig.reset_stats()
        again = sync_catalog(engine.onec, engine.bitrix, engine.store, ARTICLE)
        assert again.created == again.updated == 0 and rig.writes()[0] == 0  # nothing changed, nothing written

        rig.accountant().patch("Catalog_Номенклатура", sample["Ref_Key"], {"Description": "Новое имя"})
        changed = sync_catalog(engine.onec, engine.bitrix, engine.store, ARTICLE)
        assert changed.updated == 1 and by_xml[sample["Ref_Key"]]["NAME"] == "Новое имя"
        assert len(portal.products) == len(items)  # never deletes, never duplicates

        product = by_xml[sample["Ref_Key"]]
        rig.call("crm.deal.productrows.set", {"id": 1, "rows": [{"PRODUCT_ID": int(product["ID"]), "PRICE": 100,
                                                                  "QUANTITY": 2}]})
        rig.move(1)
        assert engine.push().created == 1  # matched by XML_ID on a portal whose catalog was empty
    finally:
        rig.stop()


def test_a_product_a_person_made_with_the_items_article_is_adopted_not_doubled(tmp_path: Path) -> None:
    rig = Rig.start(tmp_path)
    try:
        portal = rig.portal.portal
        items = list(rig.base.base.records["Catalog_Номенклатура"].values())
        sample = next(item for item in items if item.get("Артикул"))
        for product_id in [int(product["ID"]) for product in portal.products.values()]:
            rig.call("crm.product.delete", {"id": product_id})  # a portal whose catalog was typed by hand:
        made = rig.call("crm.product.add", {"fields": {"NAME": "Кабель (вручную)", ARTICLE: sample["Артикул"]}})
        engine = rig.engine()
        planned = sync_catalog(engine.onec, engine.bitrix, engine.store, ARTICLE, dry_run=True)
        assert f"adopt product «{sample['Description']}»" in planned.planned
        report = sync_catalog(engine.onec, engine.bitrix, engine.store, ARTICLE)
        assert report.recovered == 1 and report.created == len(items) - 1
        with_article = [product for product in portal.products.values()
                        if (product.get(ARTICLE) or {}).get("value") == sample["Артикул"]]
        assert len(with_article) == 1 and int(with_article[0]["ID"]) == made
        assert with_article[0]["XML_ID"] == sample["Ref_Key"] and with_article[0]["NAME"] == sample["Description"]
    finally:
        rig.stop()


@pytest.mark.parametrize("profile", ["ut11", "bp30"])
def test_products_carry_the_items_vat_rate_and_unit_and_follow_1c_when_it_changes_them(tmp_path: Path,
                                                                                      profile: str) -> None:
    """The portal's products name the item's VAT rate and unit by the portal's own IDs (catalog.vat.list,
    catalog.measure.list), so a manager's new row comes with 1C's rate and unit; 1C's change follows."""
    rig = Rig.start(tmp_path, profile=profile)
    try:
        engine = rig.engine()
        measures = {int(item["code"]): int(item["id"]) for item in rig.call("catalog.measure.list", {})["measures"]}
        vats = {item["rate"]: int(item["id"]) for item in rig.call("catalog.vat.list", {})["vats"]}
        def product(ref: str) -> dict:
            return rig.call("crm.product.list", {"filter": {"XML_ID": ref}, "select": ["ID", "MEASURE", "VAT_ID",
                                                                                     "VAT_INCLUDED"]})[0]

        cable = next(item for item in rig.dataset.products if item.in_onec and item.measure_code == 6)
        reduced = next(item for item in rig.dataset.products if item.in_onec and item.vat_rate == 10)
        # products made before, by hand or by an older release: in «шт», at 22 %
        rig.call("crm.product.update", {"id": int(product(cable.ref_key)["ID"]), "fields": {"MEASURE": measures[796]}})
        rig.call("crm.product.update", {"id": int(product(reduced.ref_key)["ID"]), "fields": {"VAT_ID": vats[22]}})
        report = sync_catalog(engine.onec, engine.bitrix, engine.store, ARTICLE)
        assert report.updated > 0 and not report.failed
        assert int(product(cable.ref_key)["MEASURE"]) == measures[6]
        assert int(product(reduced.ref_key)["VAT_ID"]) == vats[10]
        assert sync_catalog(engine.onec, engine.bitrix, engine.store, ARTICLE).updated == 0  # nothing changed
        accountant = rig.accountant()
        if profile == "ut11":
            rates = {row["Ставка"]: row["Ref_Key"] for row in accountant.list("Catalog_СтавкиНДС")}
            accountant.patch("Catalog_Номенклатура", reduced.ref_key, {"СтавкаНДС_Key": rates[22]})
        else:
            accountant.patch("Catalog_Номенклатура", reduced.ref_key, {"ВидСтавкиНДС": "Общая"})
        changed = sync_catalog(engine.onec, engine.bitrix, engine.store, ARTICLE)
        assert changed.updated == 1 and int(product(reduced.ref_key)["VAT_ID"]) == vats[22]
    finally:
        rig.stop()


@pytest.mark.parametrize("profile", ["ut11", "bp30"])
def test_products_carry_the_price_types_latest_price_and_follow_a_new_one(tmp_path: Path, profile: str) -> None:
    """'sync.products.price_type': each product gets the price type's latest price (the register's SliceLast,
    not the month-old one), in its currency; an accountant's new «Установка цен» moves it; no change, no write."""
    rig = Rig.start(tmp_path, profile=profile)
    try:
        engine = rig.engine()
        item = next(product for product in rig.dataset.products if product.in_onec and product.price > 100)
        listed = rig.call("crm.product.list", {"filter": {"XML_ID": item.ref_key}, "select": ["ID"]})[0]
        rig.call("crm.product.update", {"id": int(listed["ID"]), "fields": {"PRICE": 1}})  # a price typed by hand
        report = sync_catalog(engine.onec, engine.bitrix, engine.store, ARTICLE, price_type="Основная цена продажи")
        assert report.updated > 0 and not report.failed

        def product() -> dict:
            return rig.call("crm.product.get", {"id": int(listed["ID"])})

        assert (float(product()["PRICE"]), product()["CURRENCY_ID"]) == (float(item.price), "RUB")
        assert sync_catalog(engine.onec, engine.bitrix, engine.store, ARTICLE,
                            price_type="Основная цена продажи").updated == 0
        accountant = rig.accountant()
        catalog = "Catalog_ВидыЦен" if profile == "ut11" else "Catalog_ТипыЦенНоменклатуры"
        kind = next(row["Ref_Key"] for row in accountant.list(catalog) if row["Description"] == "Основная цена продажи")
        rig.clock.advance(60)
        row = {"LineNumber": 1, "Номенклатура_Key": item.ref_key, "Цена": 4321.5,
               **({"ВидЦены_Key": kind} if profile == "ut11" else {})}
        accountant.create("Document_УстановкаЦенНоменклатуры", {"Товары": [row],
                                                                 **({} if profile == "ut11" else {"ТипЦен_Key": kind})})
        changed = sync_catalog(engine.onec, engine.bitrix, engine.store, ARTICLE, price_type="Основная цена продажи")
        assert changed.updated == 1 and float(product()["PRICE"]) == 4321.5
    finally:
        rig.stop()


def test_a_price_type_1c_lacks_leaves_prices_alone_and_the_catalog_goes_on(tmp_path: Path) -> None:
    """A price type misnamed in the config is logged (catalog_prices_unreadable, naming the key): names, units and
    rates still go to the products, and no price is touched."""
    rig = Rig.start(tmp_path)
    try:
        engine = rig.engine()
        item = next(product for product in rig.dataset.products if product.in_onec)
        listed = rig.call("crm.product.list", {"filter": {"XML_ID": item.ref_key}, "select": ["ID"]})[0]
        rig.call("crm.product.update", {"id": int(listed["ID"]), "fields": {"PRICE": 1}})
        report = sync_catalog(engine.onec, engine.bitrix, engine.store, ARTICLE, price_type="Нет такой цены")
        assert report.updated > 0 and not report.failed
        assert float(rig.call("crm.product.get", {"id": int(listed["ID"])})["PRICE"]) == 1
    finally:
        rig.stop()
