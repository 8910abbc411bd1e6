"""The portal emulator behaves like a real portal on the wire: parameters, filters, writes, files, batch."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta

import pytest
import requests

from b24sync.clock import ManualClock
from b24sync_emulators.bitrix24.server import RunningPortal, start_portal
from tests.conftest import raw_call


def result(running: RunningPortal, method: str, params: dict | None = None):
    reply = raw_call(running, method, params)
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_url_forms_and_case_insensitive_methods(portal: RunningPortal) -> None:
    base = portal.webhook_url
    for url in (base + "crm.deal.get.json", base + "CRM.Deal.Get", base + "crm.deal.get/", base + "crm.deal.get"):
        assert requests.post(url, json={"id": 1}, timeout=5).json()["result"]["ID"] == "1"
    token_form = requests.post(f"{portal.root}/rest/crm.deal.get", data={"id": 1, "auth": portal.portal.webhook_code},
                               timeout=5)
    assert token_form.json()["result"]["ID"] == "1"
    assert requests.post(f"{portal.root}/rest/crm.deal.get", data={"id": 1}, timeout=5).status_code == 401


def test_php_keys_in_query_strings_form_and_multipart_bodies(portal: RunningPortal) -> None:
    url = portal.webhook_url + "crm.deal.list"
    by_get = requests.get(url + "?filter[%3CID]=4&select[]=ID&select[]=TITLE&order[ID]=DESC", timeout=5).json()
    assert [row["ID"] for row in by_get["result"]] == ["3", "2", "1"] and set(by_get["result"][0]) == {"ID", "TITLE"}
    by_form = requests.post(url, data={"filter[<ID]": "3", "select[]": "ID"}, timeout=5).json()
    assert [row["ID"] for row in by_form["result"]] == ["1", "2"]
    by_multipart = requests.post(url, files={"filter[<ID]": (None, "2"), "select[0]": (None, "ID")}, timeout=5).json()
    assert [row["ID"] for row in by_multipart["result"]] == ["1"]
    upper = requests.post(url, json={"FILTER": {"<ID": 2}, "SELECT": ["ID"]}, timeout=5).json()
    assert [row["ID"] for row in upper["result"]] == ["1"]


def test_filter_operators(portal: RunningPortal) -> None:
    def ids(conditions: dict) -> list[int]:
        rows = result(portal, "crm.deal.list", {"filter": conditions, "select": ["ID"], "order": {"ID": "ASC"}})
        return [int(row["ID"]) for row in rows["result"]]

    assert ids({"@ID": [3, 5, 7]}) == [3, 5, 7]
    assert ids({"!@ID": list(range(1, 29))}) == [29, 30]
    assert ids({">=ID": 29}) == [29, 30] and ids({"<ID": 3}) == [1, 2] and ids({"!ID": 1})[:1] == [2]
    result(portal, "crm.deal.update", {"id": 4, "fields": {"TITLE": "Кабель O'Neil 100%"}})
    assert ids({"%TITLE": "o'neil"}) == [4]
    assert ids({"=%TITLE": "%100\\%"}) == [] and ids({"=%TITLE": "%100%"}) == [4]
    assert 4 not in ids({"!%TITLE": "O'Neil"})
    assert ids({"%STAGE_ID": "NEW"}) == []  # LIKE does not work on status fields
    assert ids({"CATEGORY_ID": 1, "<=ID": 8}) == [4, 8]
    assert ids({">OPPORTUNITY": 10**9}) == []


def test_paging_start_next_total(portal: RunningPortal) -> None:
    first = result(portal, "crm.deal.list", {"select": ["ID"], "order": {"ID": "ASC"}})
    assert len(first["result"]) == 30 and first["total"] == 30 and "next" not in first
    extra = start_portal(generate_deals=120, limits=False)
    try:
        page = result(extra, "crm.deal.list", {"select": ["ID"], "start": 50})
        assert page["next"] == 100 and page["total"] == 120 and page["result"][0]["ID"] == "51"
        last = result(extra, "crm.deal.list", {"select": ["ID"], "start": 100})
        assert "next" not in last and len(last["result"]) == 20
        fast = result(extra, "crm.deal.list", {"select": ["ID"], "start": -1, "order": {"ID": "ASC"}})
        assert fast["total"] == 0 and "next" not in fast and len(fast["result"]) == 50
    finally:
        extra.stop()


def test_every_write_bumps_date_modify_with_the_portal_offset() -> None:
    clock = ManualClock()
    running = start_portal(generate_deals=3, clock=clock, limits=False, tz="+05:00")
    try:
        result(running, "crm.deal.userfield.add", {"fields": {"FIELD_NAME": "1C_ORDER_ID", "USER_TYPE_ID": "string"}})
        for fields in ({"UF_CRM_1C_ORDER_ID": "A-1"}, {"TITLE": "x"}):
            clock.advance(61)
            before = datetime.fromtimestamp(int(clock.time())).astimezone()
            result(running, "crm.deal.update", {"id": 2, "fields": fields})
            stamp = result(running, "crm.deal.get", {"id": 2})["result"]["DATE_MODIFY"]
            assert stamp.endswith("+05:00")
            assert datetime.fromisoformat(stamp) == before.replace(microsecond=0)
        clock.advance(61)
        result(running, "crm.deal.productrows.set", {"id": 2, "rows": [{"PRODUCT_NAME": "Услуга", "PRICE": 10}]})
        stamp = datetime.fromisoformat(result(running, "crm.deal.get", {"id": 2})["result"]["DATE_MODIFY"])
        assert stamp.timestamp() == int(clock.time())
        since = (stamp - timedelta(seconds=1)).isoformat()
        changed = result(running, "crm.deal.list", {"filter": {">=DATE_MODIFY": since}, "select": ["ID"]})["result"]
        assert [row["ID"] for row in changed] == ["2"]
    finally:
        running.stop()


def test_user_fields_exist_only_once_created_and_unknown_updates_are_ignored(portal: RunningPortal) -> None:
    result(portal, "crm.deal.update", {"id": 1, "fields": {"UF_CRM_NOT_THERE": "x", "NOT_A_FIELD": 1}})
    assert "UF_CRM_NOT_THERE" not in result(portal, "crm.deal.get", {"id": 1})["result"]
    tracking = {"FIELD_NAME": "uf_tracking", "USER_TYPE_ID": "string"}
    added = result(portal, "crm.deal.userfield.add", {"fields": tracking})
    assert isinstance(added["result"], int)
    assert result(portal, "crm.deal.userfield.list", {"filter": {"FIELD_NAME": "UF_CRM_TRACKING"}})["result"]
    for name, expected in (("1C_ORDER_ID", "UF_CRM_1C_ORDER_ID"), ("UF_CRM_X1", "UF_CRM_X1")):
        result(portal, "crm.deal.userfield.add", {"fields": {"FIELD_NAME": name, "USER_TYPE_ID": "string"}})
        assert expected in result(portal, "crm.deal.fields")["result"]
    bad = raw_call(portal, "crm.deal.userfield.add", {"fields": {"FIELD_NAME": "Я-поле", "USER_TYPE_ID": "string"}})
    assert bad.status_code == 400 and bad.json()["error"] == "ERROR_CORE"
    long = raw_call(portal, "crm.deal.userfield.add", {"fields": {"FIELD_NAME": "A" * 44, "USER_TYPE_ID": "string"}})
    assert long.json()["error_description"] == "Имя поля слишком длинное (больше 50-ти символов)."
    wrong_type = raw_call(portal, "crm.deal.userfield.add", {"fields": {"FIELD_NAME": "T", "USER_TYPE_ID": "nope"}})
    assert wrong_type.json()["error_description"] == "Указан неверный пользовательский тип."
    duplicate = raw_call(portal, "crm.deal.userfield.add", {"fields": {**tracking, "FIELD_NAME": "TRACKING"}})
    assert duplicate.status_code == 400


def test_file_user_field_takes_file_data_and_reads_back_links(portal: RunningPortal) -> None:
    result(portal, "crm.deal.userfield.add", {"fields": {"FIELD_NAME": "INVOICE_FILE", "USER_TYPE_ID": "file"}})
    assert "UF_CRM_INVOICE_FILE" not in result(portal, "crm.deal.get", {"id": 1})["result"]  # empty single: absent
    content = base64.b64encode(b"%PDF-1.4").decode()
    result(portal, "crm.deal.update", {"id": 1, "fields": {"UF_CRM_INVOICE_FILE": {"fileData": ["a.pdf", content]}}})
    value = result(portal, "crm.deal.get", {"id": 1})["result"]["UF_CRM_INVOICE_FILE"]
    assert set(value) == {"id", "showUrl", "downloadUrl"} and isinstance(value["id"], int)


def test_enumeration_and_boolean_user_fields(portal: RunningPortal) -> None:
    result(portal, "crm.deal.userfield.add", {"fields": {
        "FIELD_NAME": "PAYMENT_STATUS", "USER_TYPE_ID": "enumeration",
        "LIST": [{"VALUE": "paid", "XML_ID": "paid"}, {"VALUE": "unpaid", "XML_ID": "unpaid"}]}})
    options = result(portal, "crm.deal.userfield.list",
                     {"filter": {"FIELD_NAME": "UF_CRM_PAYMENT_STATUS"}})["result"][0]["LIST"]
    paid = next(option["ID"] for option in options if option["VALUE"] == "paid")
    result(portal, "crm.deal.update", {"id": 3, "fields": {"UF_CRM_PAYMENT_STATUS": paid}})
    assert result(portal, "crm.deal.get", {"id": 3})["result"]["UF_CRM_PAYMENT_STATUS"] == paid
    filtered = result(portal, "crm.deal.list", {"filter": {"UF_CRM_PAYMENT_STATUS": paid}, "select": ["ID"]})
    assert [row["ID"] for row in filtered["result"]] == ["3"]


def test_stage_moves_set_semantics_and_category_is_immutable(portal: RunningPortal) -> None:
    deal = result(portal, "crm.deal.get", {"id": 1})["result"]
    stages = [status["STATUS_ID"] for status in result(portal, "crm.status.list", {"filter": {
        "ENTITY_ID": "DEAL_STAGE" if deal["CATEGORY_ID"] == "0" else f"DEAL_STAGE_{deal['CATEGORY_ID']}"}})["result"]]
    won = next(stage for stage in stages if stage.endswith("WON"))
    result(portal, "crm.deal.update", {"id": 1, "fields": {"STAGE_ID": won, "CATEGORY_ID": 7}})
    after = result(portal, "crm.deal.get", {"id": 1})["result"]
    assert after["STAGE_ID"] == won and after["STAGE_SEMANTIC_ID"] == "S" and after["CLOSED"] == "Y"
    assert after["CATEGORY_ID"] == deal["CATEGORY_ID"]
    history = result(portal, "crm.stagehistory.list", {"entityTypeId": 2, "filter": {"OWNER_ID": 1}})
    assert history["result"]["items"][-1]["STAGE_ID"] == won and history["result"]["items"][-1]["TYPE_ID"] == 3


def test_product_rows_set_recomputes_the_amount(portal: RunningPortal) -> None:
    result(portal, "crm.deal.productrows.set", {"id": 5, "rows": [
        {"PRODUCT_NAME": "Кабель", "PRICE": 122, "QUANTITY": 3, "TAX_RATE": 22, "TAX_INCLUDED": "Y"},
        {"PRODUCT_NAME": "Монтаж", "PRICE": 1000, "QUANTITY": 1, "DISCOUNT_TYPE_ID": 2, "DISCOUNT_RATE": 10}]})
    rows = result(portal, "crm.deal.productrows.get", {"id": 5})["result"]
    assert rows[0]["PRICE_EXCLUSIVE"] == 100 and rows[0]["PRICE_ACCOUNT"] == "122.00"
    assert rows[1]["PRICE_BRUTTO"] == pytest.approx(1111.11) and rows[1]["DISCOUNT_RATE"] == 10
    assert result(portal, "crm.deal.get", {"id": 5})["result"]["OPPORTUNITY"] == "1366.00"


def test_batch_limits_references_and_nesting(portal: RunningPortal) -> None:
    many = {f"c{index}": "crm.deal.get?id=1" for index in range(52)}
    answer = result(portal, "batch", {"cmd": many})["result"]
    assert len(answer["result"]) == 50
    assert set(answer["result_error"]) == {"c50", "c51"}
    assert answer["result_error"]["c50"]["error"] == "ERROR_BATCH_LENGTH_EXCEEDED"
    nested = result(portal, "batch", {"cmd": {"n": "batch?cmd[a]=crm.deal.get%3Fid%3D1",
                                              "u": "disk.folder.uploadfile?id=1"}})["result"]
    assert {error["error"] for error in nested["result_error"].values()} == {"ERROR_BATCH_METHOD_NOT_ALLOWED"}
    chained = result(portal, "batch", {"cmd": {
        "deal": "crm.deal.get?id=2",
        "rows": "crm.deal.productrows.get?id=$result[deal][ID]",
        "missing": "crm.deal.list?filter[>ID]=$result[nothing][49][ID]&select[]=ID&start=-1"}})["result"]
    assert chained["result"]["rows"][0]["OWNER_ID"] == "2"
    assert chained["result"]["missing"][0]["ID"] == "1"  # an unresolved reference restarts from the beginning
    keyed = result(portal, "batch", {"cmd": ["crm.deal.get?id=99999", "crm.deal.get?id=1"]})["result"]
    assert isinstance(keyed["result_error"], list) or "0" in keyed["result_error"]


def test_two_step_upload_and_stable_external_links(portal: RunningPortal) -> None:
    storage = result(portal, "disk.storage.getlist")["result"][0]
    folder = result(portal, "disk.storage.addfolder", {"id": storage["ID"], "data": {"NAME": "Счета 1С"}})["result"]
    step = result(portal, "disk.folder.uploadfile", {"id": folder["ID"], "data": {"NAME": "Счет 1.pdf"}})["result"]
    uploaded = requests.post(step["uploadUrl"], files={step["field"]: ("Счет 1.pdf", b"%PDF-two")}, timeout=5).json()
    file_id = uploaded["result"]["ID"]
    again = result(portal, "disk.folder.uploadfile", {"id": folder["ID"], "data": {"NAME": "Счет 1.pdf"},
                                                      "fileContent": ["Счет 1.pdf", "JVBERg=="],
                                                      "generateUniqueName": True})["result"]
    assert again["NAME"] == "Счет 1 (1).pdf"
    clash = raw_call(portal, "disk.folder.uploadfile", {"id": folder["ID"], "data": {"NAME": "Счет 1.pdf"},
                                                        "fileContent": ["Счет 1.pdf", "JVBERg=="]})
    assert clash.status_code == 400
    first = result(portal, "disk.file.getExternalLink", {"id": file_id})["result"]
    assert result(portal, "disk.file.getExternalLink", {"id": file_id})["result"] == first
    assert requests.get(first, timeout=5).content == b"%PDF-two"
    assert requests.get(uploaded["result"]["DOWNLOAD_URL"], timeout=5).content == b"%PDF-two"


def test_timeline_comment_rules(portal: RunningPortal) -> None:
    upper = raw_call(portal, "crm.timeline.comment.add", {"FIELDS": {"ENTITY_ID": 1, "ENTITY_TYPE": "deal",
                                                                      "COMMENT": "x"}})
    assert upper.status_code == 400 and upper.json()["error"] == 100  # only lower-case `fields` since crm 23.100
    empty = raw_call(portal, "crm.timeline.comment.add", {"fields": {"ENTITY_ID": 1, "ENTITY_TYPE": "deal",
                                                                      "COMMENT": ""}})
    assert empty.json()["error"] == "INVALID_ARG_VALUE"


def test_php_casts_and_arrays_instead_of_crashes(portal: RunningPortal) -> None:
    assert result(portal, "crm.deal.productrows.set", {"id": 1, "rows": [
        {"PRODUCT_ID": "x", "PRODUCT_NAME": "Услуга", "PRICE": "abc", "QUANTITY": 1}]})["result"] is True
    rows = result(portal, "crm.deal.productrows.get", {"id": 1})["result"]
    assert rows[0]["PRICE"] == 0 and rows[0]["PRODUCT_ID"] == 0  # PHP casts "abc" and "x" to 0
    assert result(portal, "crm.deal.update", {"id": 2, "fields": []})["result"] is True  # [] is an empty array
    result(portal, "crm.deal.userfield.add", {"fields": {"FIELD_NAME": "PEOPLE", "USER_TYPE_ID": "employee"}})
    listed = raw_call(portal, "crm.deal.userfield.list", {"filter": {"FIELD_NAME": "UF_CRM_PEOPLE"}})
    assert '"SETTINGS":{}' not in listed.text  # PHP prints an empty array as []
    broken = raw_call(portal, "crm.item.productrow.list", {"filter": {"=ownerType": "D", "=ownerId": "abc"}})
    assert broken.headers["Content-Type"].startswith("application/json") and "error" in broken.json()


def test_timeline_on_contacts_and_stage_history_of_other_types(portal: RunningPortal) -> None:
    added = result(portal, "crm.timeline.comment.add", {"fields": {"ENTITY_ID": 1, "ENTITY_TYPE": "contact",
                                                                   "COMMENT": "Позвонить"}})
    assert isinstance(added["result"], int)
    assert result(portal, "crm.stagehistory.list", {"entityTypeId": 1})["result"] == {"items": []}
    refused = raw_call(portal, "crm.stagehistory.list", {"entityTypeId": 32})
    assert refused.status_code == 400 and refused.json()["error"] == 0


def test_crm_item_update_or_groups_and_file_fields(portal: RunningPortal) -> None:
    categories = result(portal, "crm.category.list", {"entityTypeId": 2})["result"]["categories"]
    other = next(category["id"] for category in categories if category["id"] != 0)
    result(portal, "crm.deal.userfield.add", {"fields": {"FIELD_NAME": "SCAN", "USER_TYPE_ID": "file"}})
    pdf = base64.b64encode(b"%PDF-1.4 scan").decode()
    updated = result(portal, "crm.item.update", {"entityTypeId": 2, "id": 3, "fields": {
        "title": "Перенесена", "categoryId": other, "ufCrmScan": ["scan.pdf", pdf]}})["result"]["item"]
    assert updated["title"] == "Перенесена" and updated["categoryId"] == other
    assert updated["stageId"].startswith(f"C{other}:")
    assert set(updated["ufCrmScan"]) == {"id", "url", "urlMachine"}
    legacy = result(portal, "crm.deal.get", {"id": 3})["result"]
    assert legacy["CATEGORY_ID"] == str(other) and legacy["TITLE"] == "Перенесена"
    assert "ownerId=3&" in legacy["UF_CRM_SCAN"]["showUrl"] and "dynamic=Y" in legacy["UF_CRM_SCAN"]["showUrl"]
    either = result(portal, "crm.item.list", {"entityTypeId": 2, "select": ["id"], "filter": {
        "0": {"logic": "OR", "0": {"=id": 3}, "1": {"=id": 5}}}})["result"]["items"]
    assert sorted(item["id"] for item in either) == [3, 5]


def test_strings_are_escaped_like_the_portal(portal: RunningPortal) -> None:
    result(portal, "crm.deal.update", {"id": 4, "fields": {"TITLE": 'ООО "Ромашка" & Co'}})
    raw = raw_call(portal, "crm.deal.get", {"id": 4}).text
    assert '\\u0022\\u0420\\u043e\\u043c\\u0430\\u0448\\u043a\\u0430\\u0022 \\u0026 Co' in raw
    assert result(portal, "crm.deal.get", {"id": 4})["result"]["TITLE"] == 'ООО "Ромашка" & Co'


def test_stage_dictionaries_and_application_only_methods(portal: RunningPortal) -> None:
    types = {entry["ID"]: entry for entry in result(portal, "crm.status.entity.types")["result"]}
    assert types["DEAL_STAGE"]["SEMANTIC_INFO"]["START_FIELD"] == "NEW" and types["DEAL_STAGE"]["CATEGORY_ID"] == 0
    other = next(entry for name, entry in types.items() if name.startswith("DEAL_STAGE_"))
    assert other["PREFIX"] == f"C{other['CATEGORY_ID']}" and other["SEMANTIC_INFO"]["FINAL_SUCCESS_FIELD"].endswith(
        ":WON")
    refused = raw_call(portal, "event.bind", {"event": "ONCRMDEALUPDATE", "handler": "https://example.org/h"})
    assert refused.status_code == 403 and refused.json()["error"] == "WRONG_AUTH_TYPE"


def test_activity_add_checks_fields_in_the_documented_order(portal: RunningPortal) -> None:
    fields = {"OWNER_TYPE_ID": 2, "OWNER_ID": 1, "TYPE_ID": 2, "SUBJECT": "Счёт", "RESPONSIBLE_ID": 1,
              "COMMUNICATIONS": [{"VALUE": "+79830000000"}],
              "FILES": [{"fileData": ["invoice.pdf", base64.b64encode(b"%PDF-1.4").decode()]}]}
    assert isinstance(result(portal, "crm.activity.add", {"fields": fields})["result"], int)
    for missing, message in (("SUBJECT", "SUBJECT"), ("COMMUNICATIONS", "COMMUNICATIONS")):
        refused = raw_call(portal, "crm.activity.add", {"fields": {**fields, missing: ""}})
        assert refused.status_code == 400 and refused.json()["error"] == "" and message in refused.json()[
            "error_description"]
    nowhere = raw_call(portal, "crm.activity.add", {"fields": {**fields, "OWNER_ID": 999999}})
    assert nowhere.json()["error_description"].startswith("Could not build binding")


def test_legacy_lists_page_by_number_and_d7_lists_by_offset(portal: RunningPortal) -> None:
    ids = [row["ID"] for row in result(portal, "crm.deal.list", {"select": ["ID"], "order": {"ID": "ASC"}})["result"]]
    legacy = result(portal, "crm.deal.list", {"select": ["ID"], "order": {"ID": "ASC"}, "start": 7})
    assert [row["ID"] for row in legacy["result"]] == ids  # start 7 is page 1, as IRestService::getNavData rounds
    items = result(portal, "crm.item.list", {"entityTypeId": 2, "select": ["id"], "order": {"id": "ASC"},
                                             "start": 7})["result"]["items"]
    assert [str(item["id"]) for item in items] == ids[7:]


def test_a_deleted_deal_is_gone_with_its_rows_and_timeline(portal: RunningPortal) -> None:
    raw_call(portal, "crm.timeline.comment.add", {"fields": {"ENTITY_ID": 2, "ENTITY_TYPE": "deal", "COMMENT": "x"}})
    assert raw_call(portal, "crm.deal.delete", {"id": 2}).json()["result"] is True
    missing = raw_call(portal, "crm.deal.get", {"id": 2})
    assert missing.status_code == 400 and missing.json()["error_description"].startswith("Not found")
    assert raw_call(portal, "crm.deal.productrows.get", {"id": 2}).status_code == 400
    listed = raw_call(portal, "crm.timeline.comment.list", {"filter": {"ENTITY_ID": 2, "ENTITY_TYPE": "deal"}})
    assert listed.json()["result"] == []
    again = raw_call(portal, "crm.deal.delete", {"id": 2})
    assert again.status_code == 400 and again.json() == {"error": "", "error_description": "Not found"}


def test_a_manager_adds_a_company_with_requisites_and_edits_them(portal: RunningPortal) -> None:
    company_id = result(portal, "crm.company.add", {"fields": {
        "TITLE": "ООО «Ромашка»", "PHONE": [{"VALUE": "+7 900 000-00-01", "VALUE_TYPE": "WORK"}],
        "NOT_A_FIELD": "ignored"}})["result"]
    assert isinstance(company_id, int)
    company = result(portal, "crm.company.get", {"id": company_id})["result"]
    assert company["TITLE"] == "ООО «Ромашка»" and company["HAS_PHONE"] == "Y" and "NOT_A_FIELD" not in company
    phone_id = company["PHONE"][0]["ID"]
    assert result(portal, "crm.company.update", {"id": company_id, "fields": {
        "PHONE": [{"ID": phone_id, "DELETE": "Y"}, {"VALUE": "+7 900 000-00-02"}]}})["result"] is True
    phones = result(portal, "crm.company.get", {"id": company_id})["result"]["PHONE"]
    assert [(item["VALUE"], item["VALUE_TYPE"]) for item in phones] == [("+7 900 000-00-02", "WORK")]
    requisite = {"ENTITY_TYPE_ID": 4, "ENTITY_ID": company_id, "PRESET_ID": 1, "NAME": "Организация",
                 "RQ_INN": "7707083893", "RQ_KPP": "773601001"}
    requisite_id = result(portal, "crm.requisite.add", {"fields": requisite})["result"]
    assert result(portal, "crm.requisite.update", {"id": requisite_id, "fields": {"RQ_KPP": ""}})["result"] is True
    listed = result(portal, "crm.requisite.list", {"filter": {"ENTITY_TYPE_ID": 4, "ENTITY_ID": company_id}})
    assert [(row["RQ_INN"], row["RQ_KPP"]) for row in listed["result"]] == [("7707083893", "")]


def test_entity_writes_refuse_what_the_portal_refuses(portal: RunningPortal) -> None:
    cases = [
        ("crm.company.update", {"id": 999999, "fields": {"TITLE": "x"}}, "", "Company is not found"),
        ("crm.contact.update", {"id": 999999, "fields": {"NAME": "x"}}, "", "Contact is not found"),
        ("crm.contact.add", {"fields": {"NAME": "x", "EMAIL": [{"VALUE": "not-an-address"}]}}, "ERROR_CORE",
         "Поле `Рабочий e-mail` содержит некорректный адрес"),
        ("crm.requisite.add", {"fields": {"ENTITY_TYPE_ID": 2, "ENTITY_ID": 1, "PRESET_ID": 1, "NAME": "x"}}, "",
         "ENTITY_TYPE_ID is not defined or invalid."),
        ("crm.requisite.add", {"fields": {"ENTITY_TYPE_ID": 4, "ENTITY_ID": 999999, "PRESET_ID": 1, "NAME": "x"}},
         "", "Entity not found."),
        ("crm.requisite.update", {"id": 999999, "fields": {"RQ_INN": "1"}}, "",
         "The Requisite with ID '999999' is not found"),
        ("crm.product.delete", {"id": 999999}, "", "Not found"),
    ]
    for name, params, code, text in cases:
        answer = raw_call(portal, name, params)
        assert answer.status_code == 400, name
        assert answer.json() == {"error": code, "error_description": text}, name


def test_a_new_contact_and_a_deleted_product(portal: RunningPortal) -> None:
    contact_id = result(portal, "crm.contact.add", {"fields": {
        "NAME": "Иван", "LAST_NAME": "Петров", "EMAIL": [{"VALUE": "ivan@example.ru", "VALUE_TYPE": "HOME"}]}})[
        "result"]
    contact = result(portal, "crm.contact.get", {"id": contact_id})["result"]
    assert (contact["NAME"], contact["LAST_NAME"], contact["HAS_EMAIL"]) == ("Иван", "Петров", "Y")
    assert "PHONE" not in contact  # an empty multi-field is left out of a get
    product_id = result(portal, "crm.product.list", {"select": ["ID"]})["result"][0]["ID"]
    assert result(portal, "crm.product.delete", {"id": product_id})["result"] is True
    assert raw_call(portal, "crm.product.get", {"id": product_id}).status_code == 400
