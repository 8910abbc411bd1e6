"""The adapter's small methods against the portal emulator: what the sync engine will call."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from b24sync.bitrix24 import errors
from b24sync.bitrix24.adapter import Bitrix24Adapter, CompanyConflictError, UserFieldSpec
from b24sync.bitrix24.client import Bitrix24Client
from b24sync.sync.fields import PAYMENT_OPTIONS
from b24sync_emulators.bitrix24.portal import ARTICLE_PROPERTY_ID
from b24sync_emulators.bitrix24.server import RunningPortal
from tests.conftest import admin, raw_call

ARTICLE = f"PROPERTY_{ARTICLE_PROPERTY_ID}"


@pytest.fixture
def adapter(client: Bitrix24Client) -> Bitrix24Adapter:
    return Bitrix24Adapter(client)


def test_enrichment_reads_many_deals_in_few_requests(portal: RunningPortal, adapter: Bitrix24Adapter) -> None:
    deal_ids = list(range(1, 31))
    admin(portal, "stats", method="DELETE")
    rows = adapter.deals_read(deal_ids, (), (), {})[0]
    contacts = adapter.deal_contact_ids(deal_ids)
    assert set(rows) == set(deal_ids) and all(rows[deal_id] for deal_id in deal_ids)
    assert all(row.price > 0 and row.quantity > 0 for items in rows.values() for row in items)
    contact_ids = {contact for ids in contacts.values() for contact in ids}
    company_ids = {int(deal["COMPANY_ID"]) for deal in (raw_call(portal, "crm.deal.get", {"id": deal_id}).json()
                                                        ["result"] for deal_id in deal_ids)} - {0}
    admin(portal, "stats", method="DELETE")
    found = adapter.customers(company_ids, contact_ids, {4: company_ids, 3: contact_ids})
    people, companies = found.contacts, found.companies
    assert set(people) == contact_ids and all(person.phones for person in people.values())
    assert set(companies) == company_ids and all(company.title for company in companies.values())
    requisites = found.requisites[4]
    assert set(requisites) == company_ids and all(len(found[0].inn) == 10 for found in requisites.values())
    stats = admin(portal, "stats", method="GET")
    assert stats["http_requests"] == 1  # companies, contacts and both kinds of requisites: one request
    assert "crm.contact.get" not in stats["commands_by_method"]  # listed 50 a command, never one each


def test_requisites_beyond_a_page_are_all_read(portal: RunningPortal, adapter: Bitrix24Adapter) -> None:
    company = int(raw_call(portal, "crm.company.add", {"fields": {"TITLE": "Много реквизитов"}}).json()["result"])
    for index in range(60):  # branches: one requisite each
        raw_call(portal, "crm.requisite.add", {"fields": {"ENTITY_TYPE_ID": 4, "ENTITY_ID": company, "PRESET_ID": 1,
                                                          "NAME": f"Филиал {index}", "RQ_INN": "7707083893",
                                                          "RQ_KPP": f"7707{index:05d}"}})
    found = adapter.customers((), (), {4: [company]}).requisites[4][company]
    assert len(found) == 60 and len({item.id for item in found}) == 60


def test_missing_objects_are_left_out_not_fatal(adapter: Bitrix24Adapter) -> None:
    assert set(adapter.customers((), [1, 99999], {}).contacts) == {1}


def test_company_by_inn_and_conflicts(portal: RunningPortal, adapter: Bitrix24Adapter) -> None:
    requisite = portal.portal.requisites[1]
    assert adapter.company_by_inn(requisite["RQ_INN"], requisite["RQ_KPP"]) == int(requisite["ENTITY_ID"])
    assert adapter.company_by_inn("0000000000") is None
    portal.portal.requisites[999] = {**requisite, "ID": "999", "ENTITY_ID": "2"}
    with pytest.raises(CompanyConflictError, match="companies 1, 2"):
        adapter.company_by_inn(requisite["RQ_INN"])


def test_changed_deals_and_the_server_clock(portal: RunningPortal, adapter: Bitrix24Adapter) -> None:
    listing = adapter.deals_changed_since(datetime.now(UTC) - timedelta(minutes=5))
    assert list(listing) == []
    assert listing.server_time is not None
    raw_call(portal, "crm.deal.update", {"id": 7, "fields": {"TITLE": "Изменена"}})
    changed = list(adapter.deals_changed_since(listing.server_time - timedelta(seconds=1)))
    assert [row["ID"] for row in changed] == ["7"]


def test_user_fields_are_created_once(adapter: Bitrix24Adapter) -> None:
    spec = UserFieldSpec("UF_CRM_PAYMENT_STATUS", "enumeration", "Статус оплаты", PAYMENT_OPTIONS)
    assert adapter.ensure_userfield(spec) is True
    assert adapter.ensure_userfield(spec) is False
    field = adapter.deal_userfields()["UF_CRM_PAYMENT_STATUS"]
    assert [option["XML_ID"] for option in field["LIST"]] == ["paid", "partial", "unpaid"]
    assert field["LIST"][0]["VALUE"] == "Оплачен"


def test_deal_writes_and_timeline(portal: RunningPortal, adapter: Bitrix24Adapter) -> None:
    adapter.ensure_userfield(UserFieldSpec("UF_CRM_1C_ORDER_ID", "string", "Заказ в 1С"))
    adapter.update_deal(3, {"UF_CRM_1C_ORDER_ID": "abc"})
    written = adapter.update_deals({4: {"UF_CRM_1C_ORDER_ID": "d4"}, 99999: {"UF_CRM_1C_ORDER_ID": "x"}},
                                   read_back=["ID", "DATE_MODIFY"])
    assert set(written.errors) == {99999} and isinstance(written.errors[99999], errors.NotFoundError)
    assert portal.portal.deals[4]["UF_CRM_1C_ORDER_ID"] == "d4"
    # the same request read the written deal back, as the write left it
    assert set(written.rows) == {4} and written.rows[4]["DATE_MODIFY"] == portal.portal.deals[4]["DATE_MODIFY"]
    assert set(written.before) == {4}  # and read it just before the write
    comment = adapter.add_timeline_comment(3, "Заказ создан в 1С", [("Счет.pdf", b"%PDF")])
    assert portal.portal.timeline[comment]["FILES"]


def test_disk_folder_upload_link(adapter: Bitrix24Adapter) -> None:
    storage = int(adapter.storages()[1]["ID"])
    folder = adapter.find_or_create_folder(storage, "Счета 1С")
    assert adapter.find_or_create_folder(storage, "Счета 1С") == folder
    first = adapter.upload_file(folder, "Счет 5 от 01.12.2026.pdf", b"%PDF-1")
    second = adapter.upload_file(folder, "Счет 5 от 01.12.2026.pdf", b"%PDF-2")
    assert first.id != second.id and second.name == "Счет 5 от 01.12.2026 (1).pdf"
    assert adapter.external_link(first.id) == adapter.external_link(first.id)


def test_catalog_products_by_id_and_xml_id(portal: RunningPortal, adapter: Bitrix24Adapter) -> None:
    record = next(iter(portal.portal.products.values()))
    by_id = adapter.products([int(record["ID"])], ARTICLE)
    product = by_id[int(record["ID"])]
    assert product.xml_id == record["XML_ID"] and product.article == record[ARTICLE]["value"]
    assert adapter.products_by_xml_id([record["XML_ID"]])[record["XML_ID"]].id == int(record["ID"])
    new_id = adapter.add_product({"NAME": "Новый товар", "XML_ID": "ref-1", "PRICE": 10, ARTICLE: "N-1"})
    adapter.update_product(new_id, {"PRICE": 12.5, ARTICLE: [{"valueId": 0, "value": "N-2"}]})
    updated = adapter.products_by_xml_id(["ref-1"], ARTICLE)["ref-1"]
    assert str(updated.price) == "12.50" and updated.article == "N-2"


def test_scopes_and_stages(adapter: Bitrix24Adapter) -> None:
    assert {"crm", "disk"} <= adapter.scopes()
    assert list(adapter.deal_stages(1))[:2] == ["C1:NEW", "C1:PREPARATION"]
