"""The portal emulator answers documented requests with the documented shape.

For each documented response, the emulator's answer to the same request must
have the same keys (ignoring a portal's own UF_CRM_<n> and PARENT_ID_<n>
fields) and the same JSON types, recursively, in the envelope and the `time`
object too. A null on either side matches any type: it depends on the data.
"""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest
import requests

from b24sync_emulators.bitrix24.server import RunningPortal, start_portal
from tests.conftest import raw_call, sample

PORTAL_SPECIFIC = re.compile(r"^(UF_CRM_\d+|PARENT_ID_\d+)$")


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def assert_same_shape(documented: Any, actual: Any, path: str = "$", exact_keys: bool = True) -> None:
    left, right = json_type(documented), json_type(actual)
    if "null" in (left, right):
        return
    if {left, right} == {"array", "object"} and (documented in ([], {}) or actual in ([], {})):
        return  # PHP prints an empty map as []
    assert left == right, f"{path}: documented {left} {documented!r}, emulator {right} {actual!r}"
    if left == "object":
        documented_keys = {key for key in documented if not PORTAL_SPECIFIC.match(key)}
        actual_keys = {key for key in actual if not PORTAL_SPECIFIC.match(key)}
        if exact_keys:
            missing, extra = sorted(documented_keys - actual_keys), sorted(actual_keys - documented_keys)
            assert documented_keys == actual_keys, f"{path}: missing {missing}, extra {extra}"
        for key in documented_keys & actual_keys:
            assert_same_shape(documented[key], actual[key], f"{path}.{key}", exact_keys)
    elif left == "array" and documented and actual:
        assert_same_shape(documented[0], actual[0], f"{path}[0]", exact_keys)


@pytest.fixture(scope="module")
def running() -> RunningPortal:
    portal = start_portal(generate_deals=30, seed=5, limits=False)
    yield portal
    portal.stop()


def call(running: RunningPortal, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    reply = raw_call(running, method, params)
    return reply.json()


TIME_2026 = sample("crm.company.get.json")["time"]


def assert_time(actual: dict[str, Any]) -> None:
    assert_same_shape(TIME_2026, actual["time"], "$.time")
    assert isinstance(actual["time"]["start"], int) and actual["time"]["processing"] == 0


def test_deal_get_and_list(running: RunningPortal) -> None:
    documented = sample("crm.deal.get.json")
    actual = call(running, "crm.deal.get", {"id": 1})
    assert set(actual) == {"result", "time"}
    assert_same_shape(documented["result"], actual["result"])
    assert_time(actual)

    documented_list = sample("crm.deal.list.json")
    select = list(documented_list["result"][0])
    actual_list = call(running, "crm.deal.list", {"filter": {"<=ID": 6}, "select": select, "order": {"ID": "ASC"}})
    assert list(actual_list) == ["result", "total", "time"]  # one page: total, no next
    assert_same_shape(documented_list["result"], actual_list["result"])
    assert list(actual_list["result"][0]) == select


def test_product_rows_and_contacts_of_a_deal(running: RunningPortal) -> None:
    assert_same_shape(sample("crm.deal.productrows.get.json")["result"],
                      call(running, "crm.deal.productrows.get", {"id": 1})["result"])
    assert_same_shape(sample("crm.deal.contact.items.get.json")["result"],
                      call(running, "crm.deal.contact.items.get", {"id": 1})["result"])
    assert call(running, "crm.deal.productrows.set", {"id": 1, "rows": [{"PRODUCT_ID": 0, "PRODUCT_NAME": "Услуга",
                                                                          "PRICE": 100, "QUANTITY": 2}]}) \
        .keys() == sample("crm.deal.productrows.set.json").keys()
    assert call(running, "crm.deal.update", {"id": 2, "fields": {"TITLE": "x"}})["result"] is True


def test_contact_company_requisite(running: RunningPortal) -> None:
    contact = call(running, "crm.contact.get", {"id": 1})["result"]
    assert_same_shape(sample("crm.contact.get.json")["result"], contact)
    company = call(running, "crm.company.get", {"id": 1})["result"]
    documented_company = dict(sample("crm.company.get.json")["result"])
    assert_same_shape(documented_company, {key: value for key, value in company.items() if key not in ("PHONE",)})
    requisite = call(running, "crm.requisite.get", {"id": 1})["result"]
    assert_same_shape(sample("crm.requisite.get.json")["result"], requisite)
    requisites = call(running, "crm.requisite.list", {"select": ["ENTITY_TYPE_ID", "ENTITY_ID", "ID", "NAME"],
                                                      "filter": {"ENTITY_TYPE_ID": 4}})
    assert_same_shape(sample("crm.requisite.list.json")["result"], requisites["result"])
    link = call(running, "crm.requisite.link.get", {"entityTypeId": 2, "entityId": _deal_with_company(running)})
    assert_same_shape(sample("crm.requisite.link.get.json")["result"], link["result"])
    listing = call(running, "crm.company.list", {"select": ["TITLE", "ASSIGNED_BY_ID", "ID", "PHONE"],
                                                 "filter": {"ID": 1}})
    assert_same_shape(sample("crm.company.list.json")["result"], listing["result"])


def _deal_with_company(running: RunningPortal) -> int:
    rows = call(running, "crm.deal.list", {"filter": {">COMPANY_ID": 0}, "select": ["ID"]})["result"]
    return int(rows[0]["ID"])


def test_user_fields_and_statuses(running: RunningPortal) -> None:
    added = call(running, "crm.deal.userfield.add", {"fields": {
        "FIELD_NAME": "SHAPE_ENUM", "USER_TYPE_ID": "enumeration", "LABEL": "Радио", "MULTIPLE": "Y",
        "SETTINGS": {"DISPLAY": "LIST", "LIST_HEIGHT": 1, "CAPTION_NO_VALUE": "", "SHOW_NO_VALUE": "Y"},
        "LIST": [{"VALUE": "Детское радио"}, {"VALUE": "Радио Шансон"}]}})
    assert_same_shape(sample("crm.deal.userfield.add.json"), added)
    listed = call(running, "crm.deal.userfield.list", {"filter": {"FIELD_NAME": "UF_CRM_SHAPE_ENUM"}})
    assert_same_shape(sample("crm.deal.userfield.list.json")["result"][1], listed["result"][0])
    statuses = call(running, "crm.status.list", {"filter": {"ENTITY_ID": "DEAL_STAGE"}})
    assert_same_shape(sample("crm.status.list.json")["result"], statuses["result"])
    documented_fields = sample("crm.deal.fields.json")["result"]
    actual_fields = call(running, "crm.deal.fields")["result"]
    assert set(documented_fields) == {name for name in actual_fields if not name.startswith("UF_")}
    for name, entry in documented_fields.items():
        assert_same_shape(entry, actual_fields[name], f"$.{name}")


def test_timeline_and_disk(running: RunningPortal) -> None:
    pdf = base64.b64encode(b"%PDF-1.4 test").decode()
    added = call(running, "crm.timeline.comment.add", {"fields": {"ENTITY_ID": 1, "ENTITY_TYPE": "deal",
                                                                  "COMMENT": "Счёт", "FILES": [["a.pdf", pdf]]}})
    assert_same_shape(sample("crm.timeline.comment.add.json"), {**added, "time": {}}, exact_keys=False)
    assert isinstance(added["result"], int)
    listed = call(running, "crm.timeline.comment.list", {"filter": {"ENTITY_ID": 1, "ENTITY_TYPE": "deal"}})
    documented = sample("crm.timeline.comment.list.json")["result"][0]
    assert set(listed["result"][0]) == set(documented)
    assert_same_shape(documented["FILES"]["1"], next(iter(listed["result"][0]["FILES"].values())), exact_keys=False)

    storages = call(running, "disk.storage.getlist")
    assert_same_shape(sample("disk.storage.getlist.json")["result"], storages["result"])
    folder = int(storages["result"][0]["ROOT_OBJECT_ID"])
    uploaded = call(running, "disk.folder.uploadfile", {"id": folder, "data": {"NAME": "Счет 1.pdf"},
                                                        "fileContent": ["Счет 1.pdf", pdf]})
    assert_same_shape(sample("disk.folder.uploadfile.json")["result"], uploaded["result"])
    children = call(running, "disk.folder.getchildren", {"id": folder})["result"]
    documented_children = sample("disk.folder.getchildren.json")["result"]
    assert_same_shape(documented_children[1], next(item for item in children if item["TYPE"] == "file"))
    link = call(running, "disk.file.getExternalLink", {"id": uploaded["result"]["ID"]})
    assert_same_shape(sample("disk.file.getexternallink.json"), link)
    assert requests.get(link["result"], timeout=5).content == b"%PDF-1.4 test"
    step = call(running, "disk.folder.uploadfile", {"id": folder, "data": {"NAME": "two.pdf"}})
    assert_same_shape(sample("disk.folder.uploadfile.step1_uploadurl.json")["result"], step["result"])


def test_batch_shapes(running: RunningPortal) -> None:
    documented = sample("batch.json")
    actual = call(running, "batch", {"halt": 0, "cmd": {
        "get_deal": "crm.deal.get?id=1", "list_stages": "crm.status.list?filter[ENTITY_ID]=DEAL_STAGE"}})
    assert set(actual["result"]) == set(documented["result"])
    assert actual["result"]["result_error"] == [] and actual["result"]["result_next"] == []
    assert actual["result"]["result_total"] == {"list_stages": 8}
    assert_same_shape(documented["result"]["result_time"]["get_user"], actual["result"]["result_time"]["get_deal"],
                      exact_keys=False)


def test_batch_errors_like_the_docs() -> None:
    scopeless = start_portal(generate_deals=2, limits=False, scopes=())
    try:
        both = call(scopeless, "batch", {"halt": 0, "cmd": {"get_user": "crm.deal.get?id=1",
                                                             "get_department": "crm.deal.get?id=2"}})
        assert_same_shape(sample("batch.error_halt0.json")["result"], both["result"])
        assert both["result"]["result_error"]["get_user"]["error"] == "insufficient_scope"
        halted = call(scopeless, "batch", {"halt": 1, "cmd": {"get_user": "crm.deal.get?id=1",
                                                               "get_department": "crm.deal.get?id=2"}})
        assert list(halted["result"]["result_error"]) == ["get_user"]
        assert halted["result"]["result"] == [] and halted["result"]["result_time"] == []
    finally:
        scopeless.stop()


@pytest.mark.parametrize("method, params, name, status", [
    ("crm.deal.get", {"id": 99999}, "crm.company.get.error_not_found.json", 400),
    ("crm.deal.update", {"id": 1, "fields": "x"}, "crm.deal.update.error.json", 400),
    ("crm.deal.list", {"filter": "x"}, "crm.deal.list.error.json", 400),
    ("crm.contact.get", {"id": "abc"}, "crm.contact.get.error.json", 400),
    ("crm.deal.productrows.get", {}, "crm.deal.productrows.get.error.json", 400),
    ("crm.deal.contact.items.get", {"id": 99999}, "crm.deal.contact.items.get.error.json", 400),
    ("crm.requisite.list", {"filter": "x"}, "crm.requisite.list.error.json", 400),
    ("crm.requisite.link.get", {"entityTypeId": 2, "entityId": 99999}, "crm.requisite.link.get.error.json", 400),
    ("crm.deal.userfield.add", {"fields": {"FIELD_NAME": "X"}}, "crm.deal.userfield.add.error.json", 400),
    ("crm.timeline.comment.add", {"fields": {"ENTITY_ID": 99999, "ENTITY_TYPE": "deal", "COMMENT": "x"}},
     "crm.timeline.comment.add.error.json", 400),
    ("disk.folder.uploadfile", {"id": 99999, "data": {"NAME": "a"}, "fileContent": ["a", "YQ=="]},
     "disk.folder.uploadfile.error.json", 400),
    ("disk.file.getExternalLink", {"id": "x"}, "disk.file.getexternallink.error.json", 400),
])
def test_error_bodies(running: RunningPortal, method: str, params: dict[str, Any], name: str, status: int) -> None:
    reply = raw_call(running, method, params)
    documented = sample(name)
    assert reply.status_code == status
    body = reply.json()
    assert set(body) == {"error", "error_description"}  # errors carry no time
    assert body["error"] == documented["error"] or name.endswith("error_not_found.json")
    assert json_type(body["error"]) == json_type(documented["error"])
    if "X" not in body["error_description"] and not name.startswith("crm.requisite.link"):
        assert body["error_description"].split("`")[0] == documented["error_description"].split("`")[0]


def test_system_errors(running: RunningPortal) -> None:
    wrong = requests.post(running.root + "/rest/1/wrongcode/crm.deal.list", json={}, timeout=5)
    assert wrong.status_code == 401 and wrong.json() == sample("error.NO_AUTH_FOUND.json")
    unknown = raw_call(running, "disk.file.uploadbyurl")
    assert unknown.status_code == 404 and unknown.json()["error"] == "ERROR_METHOD_NOT_FOUND"


def test_universal_item_methods(running: RunningPortal) -> None:
    documented = sample("crm.item.get.json")["result"]["item"]
    item = call(running, "crm.item.get", {"entityTypeId": 2, "id": 1})["result"]["item"]
    common = set(documented) & set(item)
    assert {"id", "title", "stageId", "opportunity", "assignedById", "createdTime", "contactIds"} <= common
    for key in common:
        assert_same_shape(documented[key], item[key], f"$.item.{key}")
    listed = call(running, "crm.item.list", {"entityTypeId": 2, "select": ["id", "title", "opportunity"],
                                             "filter": {">opportunity": 0}, "order": {"id": "ASC"}})
    assert set(listed) == {"result", "total", "time"} and set(listed["result"]) == {"items"}
    assert listed["result"]["items"][0].keys() == {"id", "title", "opportunity"}
    upper = raw_call(running, "crm.item.list", {"entityTypeId": 2, "order": {"ID": "ASC"}})
    assert upper.status_code == 400 and upper.json()["error"] == 100 and "`I_D`" in upper.json()["error_description"]
    rows = call(running, "crm.item.productrow.list", {"filter": {"=ownerType": "D", "=ownerId": 1}})
    documented_rows = sample("crm.item.productrow.list.json")
    assert set(rows["result"]) == {"productRows"}
    assert_same_shape(documented_rows["result"]["productRows"][0], rows["result"]["productRows"][0])
    users = call(running, "user.get", {"ID": 1})
    assert_same_shape(sample("batch.json")["result"]["result"]["get_user"], users["result"][0])


def test_company_and_contact_fields(running: RunningPortal) -> None:
    documented = sample("crm.company.fields.json")["result"]
    actual = call(running, "crm.company.fields")["result"]
    for name in ("ID", "TITLE", "COMPANY_TYPE", "ASSIGNED_BY_ID", "DATE_MODIFY", "PHONE", "EMAIL"):
        assert_same_shape(documented[name], actual[name], f"$.{name}")
    assert actual["COMPANY_TYPE"]["statusType"] == "COMPANY_TYPE" and actual["TITLE"]["isRequired"] is True
    contact = call(running, "crm.contact.fields")["result"]
    assert contact["TYPE_ID"]["statusType"] == "CONTACT_TYPE" and contact["ID"]["isReadOnly"] is True


def _as_documented_property(product: dict[str, Any]) -> dict[str, Any]:
    """The emulator's article property under the documented sample's property name."""
    renamed = {name: value for name, value in product.items() if not name.startswith("property")}
    renamed["property258"] = product["property105"]
    return renamed


def test_catalog_product_get_and_list(running: RunningPortal) -> None:
    documented = sample("catalog.product.get.json")["result"]["product"]
    documented = {name: value for name, value in documented.items() if name != "property259"}
    legacy = call(running, "crm.product.list", {"select": ["ID", "XML_ID"], "order": {"ID": "ASC"}})["result"][0]
    got = call(running, "catalog.product.get", {"id": legacy["ID"]})
    assert list(got["result"]) == ["product"]
    product = got["result"]["product"]
    assert_same_shape(documented, _as_documented_property(product))
    assert product["id"] == int(legacy["ID"]) and product["xmlId"] == legacy["XML_ID"]
    assert isinstance(product["property105"]["value"], str)

    listed = call(running, "catalog.product.list", {
        "select": ["id", "iblockId", "name", "xmlId", "property105"],
        "filter": {"iblockId": product["iblockId"], "xmlId": legacy["XML_ID"]}})
    assert listed["total"] == 1
    assert listed["result"]["products"] == [{name: product[name] for name in
                                             ("id", "iblockId", "name", "xmlId", "property105")}]
    by_article = call(running, "catalog.product.list", {
        "select": ["id", "iblockId"], "filter": {"iblockId": product["iblockId"],
                                                 "property105": product["property105"]["value"]}})
    assert [row["id"] for row in by_article["result"]["products"]] == [product["id"]]


def test_catalog_product_errors(running: RunningPortal) -> None:
    missing = raw_call(running, "catalog.product.get", {"id": 999999})
    assert missing.status_code == 400 and missing.json()["error"] == 0
    assert missing.json()["error_description"] == "Product is not exists"
    no_select = raw_call(running, "catalog.product.list", {"select": ["name"], "filter": {"iblockId": 25}})
    assert no_select.status_code == 400 and no_select.json()["error"] == 0
    no_iblock = raw_call(running, "catalog.product.list", {"select": ["id", "iblockId"], "filter": {}})
    assert no_iblock.status_code == 400 and no_iblock.json()["error"] == 0
