"""1C contracts: the adapter reads every documented response; the emulator answers like the official chapter.

Documented responses (fixtures/onec, sources in its SOURCES.md) are replayed to
the client over HTTP with vcrpy. The Atom feed of SelectChanges and the
CommerceML protocol notes are not read by b24sync (it uses JSON OData only).
"""

from __future__ import annotations

import base64
import json
import socket
import uuid
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
import requests
import vcr
import yaml

from b24sync.clock import ManualClock
from b24sync.onec import errors
from b24sync.onec.metadata import Metadata
from b24sync.onec.odata import ODataClient, literal
from b24sync_emulators.dataset import generate
from b24sync_emulators.onec.server import RunningBase, start_base
from tests.conftest import FIXTURES, admin
from tests.onec_support import PASSWORD, USER

ROOT = "http://1c.example.local/trade/odata/standard.odata/"


def replay(tmp_path: Path, body: str, status: int = 200, content_type: str = "application/json;charset=utf-8",
           method: str = "GET"):
    cassette = {"version": 1, "interactions": [{
        "request": {"method": method, "uri": ROOT + "anything", "body": None, "headers": {}},
        "response": {"status": {"code": status, "message": "X"}, "headers": {"Content-Type": [content_type]},
                     "body": {"string": body}}}]}
    path = tmp_path / "cassette.yaml"
    path.write_text(yaml.safe_dump(cassette, allow_unicode=True), encoding="utf-8")
    return vcr.VCR(record_mode="none", match_on=["method"]).use_cassette(str(path), allow_playback_repeats=True)


def client() -> ODataClient:
    return ODataClient(ROOT, USER, PASSWORD, clock=ManualClock(), max_retries=0)


def fixture(name: str) -> str:
    return (FIXTURES / "onec" / name).read_text(encoding="utf-8")


def test_single_entity_envelope(tmp_path: Path) -> None:
    with replay(tmp_path, fixture("Catalog_Контрагенты.custom.single.json")):
        entity = client().get("Catalog_Контрагенты(guid'1fa1a135-d89b-11e6-8343-40167e2531c3')")
    assert entity["odata.metadata"].endswith("#Catalog_Контрагенты/@Element")
    assert entity["DataVersion"] == "AAAAAAAETag=" and entity["Дата"] == "0001-01-01T00:00:00"
    assert entity["Комментарии"][0]["LineNumber"] == "1"


def test_list_envelopes_with_int64_strings_and_naive_dates(tmp_path: Path) -> None:
    with replay(tmp_path, fixture("Catalog_Номенклатура.bp30.list.json")):
        rows = client().get_all("Catalog_Номенклатура")
    assert rows[0]["Ref_Key"] == "f02ce7b3-e3b3-11eb-b4ad-000c29b45b09" and rows[0]["Артикул"] == ""
    with replay(tmp_path, fixture("Document_РеализацияТоваровУслуг.bp30.list.json")):
        sales = client().get_all("Document_РеализацияТоваровУслуг")
    sale = sales[0]
    assert sale["КратностьВзаиморасчетов"] == "1" and sale["СуммаДокумента"] == 150129
    assert sale["Date"] == "2021-12-22T17:22:08" and sale["НомерДляОтслеживания"] == ""


def test_a_windows_1251_header_over_a_utf8_body_is_read_as_utf8(tmp_path: Path) -> None:
    with replay(tmp_path, fixture("Catalog_Номенклатура.bp30.list.json"),
                content_type="application/json;charset=windows-1251"):
        rows = client().get("Catalog_Номенклатура")["value"]
    assert rows[0]["Description"] == "Мойка"


@pytest.mark.parametrize("line, status, expected", [
    (5, 400, errors.QueryError), (6, 500, errors.BusinessError), (10, 500, errors.BusinessError),
    (11, 401, errors.AuthError), (12, 404, errors.NotFoundError), (15, 401, errors.AuthError),
    (18, 400, errors.QueryError), (6, 500, errors.ServerError),
])
def test_documented_error_bodies(tmp_path: Path, line: int, status: int, expected: type) -> None:
    body = fixture("error.json.examples.txt").splitlines()[line - 1]
    if body.startswith("Ошибка"):
        body = body[body.index("{"):]  # (C) shows the body after the client's own prefix
    documented = json.loads(body)["odata.error"]
    write = expected is errors.BusinessError  # code -1 on a write belongs to that document; on a read it is a failure
    with replay(tmp_path, body, status, method="PATCH" if write else "GET"), pytest.raises(expected) as caught:
        resource = "Document_ЗаказКлиента(guid'00000000-0000-0000-0000-000000000001')"
        client().patch(resource, {}) if write else client().get(resource)
    assert caught.value.remote_code == documented["code"]
    assert caught.value.onec_message == documented["message"]["value"]
    assert documented["message"]["value"] in str(caught.value)
    assert PASSWORD not in str(caught.value)


def test_the_xml_error_form(tmp_path: Path) -> None:
    with replay(tmp_path, fixture("error.code9.official.xml"), 404, "application/xml"), \
            pytest.raises(errors.NotFoundError) as caught:
        client().get("Document_НакладнаяОтгрузки(guid'00000000-0000-0000-0000-000000000001')")
    assert caught.value.remote_code == "9" and "НакладнаяОтгрузки" in caught.value.onec_message


def test_metadata_excerpt_parses() -> None:
    parsed = Metadata.parse(fixture("metadata.bp30.excerpt.xml"))
    assert "AccumulationRegister_РеализованныеТоварыКомитентов" in parsed.entities
    assert "Recorder_Type" in parsed.fields("AccumulationRegister_РеализованныеТоварыКомитентов")


def test_literals_escape_quotes() -> None:
    assert literal("O'Neil 5\"") == "'O''Neil 5\"'"
    url = client().url("Catalog_Номенклатура", {"$filter": f"Артикул eq {literal('A&B #1 100%')}"})
    assert "+" not in url and "%20eq%20" in url and "%26" in url and "%23" in url and "%25" in url


# -- the emulator answers the official chapter's examples ------------------------------------------------------


@pytest.fixture(scope="module")
def running() -> RunningBase:
    base = start_base(profile="ut11", dataset=generate(30, 2), user=USER, password=PASSWORD)
    yield base
    base.stop()


def call(running: RunningBase, method: str, resource: str, query: str = "$format=json", body: Any = None,
         headers: dict[str, str] | None = None) -> requests.Response:
    url = running.odata_root + quote(resource, safe="()'=/$") + (f"?{query}" if query else "")
    return requests.request(method, url, json=body, headers=headers or {}, timeout=10,
                            auth=(USER.encode(), PASSWORD.encode()))


def test_inlinecount_is_a_string_and_ignores_paging(running: RunningBase) -> None:
    answer = call(running, "GET", "Catalog_Номенклатура", "$format=json&$inlinecount=allpages&$top=2").json()
    assert list(answer) == ["odata.metadata", "odata.count", "value"]
    assert answer["odata.count"] == str(len(answer["value"])) and len(answer["value"]) > 2
    count = call(running, "GET", "Catalog_Номенклатура/$count", "").content.decode("utf-8")
    assert count.lstrip("\ufeff") == answer["odata.count"]


def test_post_answers_201_with_the_object_and_a_utf8_location(running: RunningBase) -> None:
    reply = call(running, "POST", "Catalog_Склады", body={"Description": "Склад №2", "Неизвестное": 1})
    assert reply.status_code == 201 and reply.headers["DataServiceVersion"] == "3.0"
    created = reply.json()
    assert created["odata.metadata"].endswith("#Catalog_Склады/@Element") and created["Description"] == "Склад №2"
    location = reply.headers["Location"].encode("latin-1").decode("utf-8")
    assert location.endswith(f"Catalog_Склады(guid'{created['Ref_Key']}')")
    assert "Неизвестное" not in created  # unknown properties are ignored


def test_patch_returns_the_whole_object_and_replaces_a_tabular_section(running: RunningBase) -> None:
    order = call(running, "POST", "Document_ЗаказКлиента", body={"Комментарий": "x", "Товары": [
        {"LineNumber": "1", "Количество": 1}, {"LineNumber": "2", "Количество": 2}]}).json()
    version = order["DataVersion"]
    patched = call(running, "PATCH", f"Document_ЗаказКлиента(guid'{order['Ref_Key']}')",
                   body={"Товары": [{"LineNumber": 1, "Количество": 5}]},
                   headers={"If-Match": "W/\"stale\""})  # ignored, as live servers do
    assert patched.status_code == 200
    body = patched.json()
    assert len(body["Товары"]) == 1 and body["Товары"][0]["Количество"] == 5 and body["Комментарий"] == "x"
    assert body["DataVersion"] != version
    noop = call(running, "PATCH", f"Document_ЗаказКлиента(guid'{order['Ref_Key']}')", body={}).json()
    assert noop["DataVersion"] != body["DataVersion"]  # every write moves DataVersion
    wrong_start = call(running, "PATCH", f"Document_ЗаказКлиента(guid'{order['Ref_Key']}')",
                       body={"Товары": [{"LineNumber": 2, "Количество": 5}]})
    assert wrong_start.status_code == 400
    missing = call(running, "PATCH", f"Document_ЗаказКлиента(guid'{order['Ref_Key']}')",
                   body={"Товары": [{"Количество": 5}]})
    assert missing.status_code == 500 and missing.json()["odata.error"]["code"] == "-1"
    rows = call(running, "POST", "Document_ЗаказКлиента_Товары", body={"LineNumber": 1})
    assert rows.status_code == 400 and rows.json()["odata.error"]["code"] == "13"


def test_write_quirks(running: RunningBase) -> None:
    long = call(running, "POST", "Catalog_Склады", body={"Description": "Я" * 300}).json()
    assert len(long["Description"]) == 150  # truncated silently
    bad_guid = call(running, "POST", "Catalog_Контрагенты", body={"Партнер_Key": "not-a-guid"})
    assert bad_guid.status_code == 400 and bad_guid.json()["odata.error"]["code"] == "1"
    assert "Edm.Guid" in bad_guid.json()["odata.error"]["message"]["value"]
    broken = requests.post(running.odata_root + quote("Catalog_Склады") + "?$format=json", data=b"{broken",
                           auth=(USER.encode(), PASSWORD.encode()), timeout=10)
    assert broken.status_code == 500 and "JSON" in broken.json()["odata.error"]["message"]["value"]
    array = call(running, "POST", "Catalog_Склады", body={"Description": ["a"]})
    assert array.status_code == 500 and array.json()["odata.error"]["code"] == "-1"


def test_errors_in_both_forms_and_query_refusals(running: RunningBase) -> None:
    missing = "Document_ЗаказКлиента(guid'00000000-0000-0000-0000-0000000000aa')"
    as_json = call(running, "GET", missing).json()["odata.error"]
    assert as_json["code"] == "9" and as_json["message"]["lang"] == "ru"
    as_xml = call(running, "GET", missing, "")
    assert as_xml.headers["Content-Type"].startswith("application/xml") and "<m:code>9</m:code>" in as_xml.text
    composite = call(running, "GET", "Document_РеализацияТоваровУслуг",
                     "$format=json&$filter=ЗаказКлиента%20eq%20guid'00000000-0000-0000-0000-0000000000aa'")
    assert composite.status_code == 200 and composite.json()["value"] == []
    unknown = call(running, "GET", "Catalog_Номенклатура", "$format=json&$select=НетТакого")
    assert unknown.status_code == 400 and "НетТакого" in unknown.text
    long = call(running, "GET", "Catalog_Номенклатура", "$format=json&$filter=" + "a" * 2100)
    assert long.status_code == 404 and long.headers["Content-Type"].startswith("text/html")


def test_the_platforms_refusals_and_the_announced_charset(running: RunningBase) -> None:
    refused = call(running, "GET", "Catalog_Номенклатура", "$format=json&$filter=Артикул%20in%20('a','b')")
    assert refused.status_code == 400 and refused.json()["odata.error"]["code"] == "14"
    plus = call(running, "GET", "Catalog_Номенклатура", "$format=json&$filter=Артикул+eq+'a'")
    assert plus.status_code == 500 and "ГДЕ" in plus.json()["odata.error"]["message"]["value"]
    requests.post(f"{running.root}/_emulator/settings", json={"charset": "windows-1251"}, timeout=5)
    try:
        reply = call(running, "GET", "Catalog_Склады")
        assert reply.headers["Content-Type"].endswith("charset=windows-1251")
        assert "Основной склад" in reply.content.decode("utf-8")  # the body stays UTF-8
        client = ODataClient(running.odata_root, USER, PASSWORD)
        assert client.get("Catalog_Склады")["value"][0]["Description"] == "Основной склад"
    finally:
        requests.post(f"{running.root}/_emulator/settings", json={"charset": "utf-8"}, timeout=5)


def test_without_a_format_the_answer_is_atom_like_the_platforms_default(running: RunningBase) -> None:
    import xml.etree.ElementTree as ET

    names = {"a": "http://www.w3.org/2005/Atom", "d": "http://schemas.microsoft.com/ado/2007/08/dataservices",
             "m": "http://schemas.microsoft.com/ado/2007/08/dataservices/metadata"}
    order = call(running, "POST", "Document_ЗаказКлиента", body={"Комментарий": "", "Товары": [
        {"LineNumber": 1, "Количество": 2}]}).json()
    reply = call(running, "GET", f"Document_ЗаказКлиента(guid'{order['Ref_Key']}')", "")
    assert reply.headers["Content-Type"].startswith("application/atom+xml;type=entry")
    entry = ET.fromstring(reply.content)
    properties = entry.find("a:content/m:properties", names)
    assert properties.find("d:Ref_Key", names).text == order["Ref_Key"]
    assert properties.find("d:Комментарий", names).text is None  # an empty string is <d:X/>
    rows = properties.find("d:Товары", names)
    collection = "{" + names["m"] + "}type"
    assert rows.get(collection) == "Collection(StandardODATA.Document_ЗаказКлиента_Товары_RowType)"
    assert rows.find("d:element", names).get(collection) == "StandardODATA.Document_ЗаказКлиента_Товары_RowType"
    sample = ET.fromstring((FIXTURES / "onec" / "Document_ЗаказКлиента.ut11.SelectChanges.entry.atom.xml")
                           .read_bytes())
    documented = sample.find(".//m:properties/d:Товары", names)
    assert documented.get(collection) == rows.get(collection)
    feed = ET.fromstring(call(running, "GET", "Catalog_Склады", "").content)
    assert feed.tag == "{" + names["a"] + "}feed" and feed.findall("a:entry", names)


def test_key_forms_reference_paths_and_explicit_sessions(running: RunningBase) -> None:
    product = call(running, "GET", "Catalog_Номенклатура", "$format=json&$top=1").json()["value"][0]
    named = call(running, "GET", f"Catalog_Номенклатура(Ref_Key=guid'{product['Ref_Key']}')").json()
    assert named["Ref_Key"] == product["Ref_Key"]
    unit = call(running, "GET", f"Catalog_Номенклатура(guid'{product['Ref_Key']}')/ЕдиницаИзмерения").json()
    assert unit["odata.metadata"].endswith("/@Element") and unit["Description"]
    value = call(running, "GET", f"Catalog_Номенклатура(guid'{product['Ref_Key']}')/ЕдиницаИзмерения/Description")
    assert value.json()["value"] == unit["Description"]
    opened = call(running, "GET", "Catalog_Склады", headers={"IBSession": "start"})
    cookie = opened.headers["Set-Cookie"].split(";")[0]
    assert cookie.startswith("ibsession=")
    assert call(running, "GET", "Catalog_Склады", headers={"Cookie": cookie}).status_code == 200
    call(running, "GET", "Catalog_Склады", headers={"Cookie": cookie, "IBSession": "finish"})
    assert call(running, "GET", "Catalog_Склады", headers={"Cookie": cookie}).status_code == 400


def test_select_presentations_and_expand(running: RunningBase) -> None:
    nothing = call(running, "GET", "Catalog_Номенклатура",
                   "$format=json&$filter=Артикул%20eq%20'нет'&$select=Ref_Key,НетТакого")
    assert nothing.status_code == 400 and "НетТакого" in nothing.text  # refused even when no row matches
    bad_column = call(running, "GET", "Document_ЗаказКлиента", "$format=json&$select=Ref_Key,Товары/НетТакого")
    assert bad_column.status_code == 400
    partner = call(running, "GET", "Catalog_Контрагенты", "$format=json&$top=1").json()["value"][0]
    order = call(running, "POST", "Document_ЗаказКлиента", body={"Контрагент_Key": partner["Ref_Key"]}).json()
    one = f"$format=json&$filter=Ref_Key%20eq%20guid'{order['Ref_Key']}'"
    row = call(running, "GET", "Document_ЗаказКлиента",
               one + "&$select=Ref_Key,Контрагент_Key,Контрагент____Presentation,Presentation").json()["value"][0]
    assert row["Контрагент____Presentation"] == partner["Description"]
    assert row["Presentation"] == f"Заказ клиента {order['Number']} от " \
        f"{order['Date'][8:10]}.{order['Date'][5:7]}.{order['Date'][:4]} {order['Date'][11:]}"
    captured = call(running, "GET", "Document_ЗаказКлиента",  # fields a УТ 11.5 base was seen to print
                    one + "&$select=Ref_Key,ОбъектРасчетов_Key,Автор,Автор_Type,СпособДоставки,Товары/КлючСвязи")
    assert captured.status_code == 200 and captured.json()["value"][0]["Автор_Type"] == "StandardODATA.Undefined"
    expanded = call(running, "GET", "Document_ЗаказКлиента", one + "&$expand=Контрагент").json()["value"][0]
    assert expanded["Контрагент"]["Ref_Key"] == partner["Ref_Key"] and "ИНН" in expanded["Контрагент"]


def test_malformed_guids_raw_utf8_queries_and_atom_values(running: RunningBase) -> None:
    key = call(running, "GET", "Catalog_Номенклатура(guid'123')")
    assert key.status_code == 400 and key.json()["odata.error"]["code"] == "1"
    assert "Edm.Guid" in key.json()["odata.error"]["message"]["value"]
    literal_guid = call(running, "GET", "Catalog_Номенклатура", "$format=json&$filter=Ref_Key%20eq%20guid'123'")
    assert literal_guid.status_code == 400 and literal_guid.json()["odata.error"]["code"] == "1"
    assert raw_utf8_get(running, "Catalog_Склады?$format=json&$filter=Description%20eq%20'Основной%20склад'") \
        ["value"][0]["Description"] == "Основной склад"  # Cyrillic sent as raw UTF-8, not percent-encoded
    product = call(running, "GET", "Catalog_Номенклатура", "$format=json&$top=1").json()["value"][0]
    atom_value = call(running, "GET", f"Catalog_Номенклатура(guid'{product['Ref_Key']}')/ЕдиницаИзмерения/Description",
                      "")
    assert atom_value.status_code == 200 and atom_value.headers["Content-Type"].startswith("application/xml")
    assert "<d:Description" in atom_value.text


def raw_utf8_get(running: RunningBase, resource: str) -> Any:
    """GET with the request line in raw UTF-8, as some clients send it, over a plain socket."""
    parts = urlsplit(running.odata_root)
    token = base64.b64encode(USER.encode() + b":" + PASSWORD.encode()).decode()
    request = (f"GET {parts.path}{resource} HTTP/1.1\r\nHost: {parts.netloc}\r\nAuthorization: Basic {token}\r\n"
               f"Connection: close\r\n\r\n").encode()
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as connection:
        connection.sendall(request)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") or head.startswith(b"HTTP/1.0 200"), head
    return json.loads(body)


def test_tabular_sections_are_read_only_sets(running: RunningBase) -> None:
    product = call(running, "GET", "Catalog_Номенклатура", "$format=json&$top=1").json()["value"][0]
    order = call(running, "POST", "Document_ЗаказКлиента", body={"Товары": [
        {"LineNumber": 1, "Номенклатура_Key": product["Ref_Key"], "Количество": 2, "Цена": 10, "Сумма": 20},
        {"LineNumber": 2, "Номенклатура_Key": product["Ref_Key"], "Количество": 5, "Цена": 10, "Сумма": 50}]}).json()
    rows_of = f"$filter=Ref_Key%20eq%20guid'{order['Ref_Key']}'"
    rows = call(running, "GET", "Document_ЗаказКлиента_Товары", f"$format=json&{rows_of}").json()
    assert rows["odata.metadata"].endswith("$metadata#Document_ЗаказКлиента_Товары")
    assert [row["LineNumber"] for row in rows["value"]] == ["1", "2"]
    bigger = call(running, "GET", "Document_ЗаказКлиента_Товары",
                  f"$format=json&{rows_of}%20and%20Количество%20gt%203&$select=LineNumber,Количество").json()
    assert bigger["value"] == [{"LineNumber": "2", "Количество": 5}]
    counted = call(running, "GET", "Document_ЗаказКлиента_Товары/$count", rows_of)
    assert counted.text.lstrip("\ufeff") == "2"
    one = call(running, "GET", f"Document_ЗаказКлиента_Товары(Ref_Key=guid'{order['Ref_Key']}', LineNumber=2)")
    assert one.json()["Сумма"] == 50
    assert call(running, "POST", "Document_ЗаказКлиента_Товары", body={}).status_code == 400
    metadata = call(running, "GET", "$metadata", "").text
    assert '<EntitySet Name="Document_ЗаказКлиента_Товары"' in metadata and "<Association " in metadata


def test_date_functions_and_like_sets(running: RunningBase) -> None:
    def count(entity: str, condition: str) -> int:
        reply = call(running, "GET", entity, "$format=json&$filter=" + quote(condition, safe="'(),/"))
        assert reply.status_code == 200, reply.text
        return len(reply.json()["value"])

    orders = len(call(running, "GET", "Document_ЗаказКлиента", "$format=json").json()["value"])
    assert count("Document_ЗаказКлиента", "quarter(Date) ge 1 and quarter(Date) le 4") == orders
    assert count("Document_ЗаказКлиента", "dayofweek(Date) ge 1 and dayofweek(Date) le 7") == orders
    assert count("Document_ЗаказКлиента", "dayofyear(Date) ge 1") == orders
    assert count("Document_ЗаказКлиента", "dateadd(Date, 'month', 1) gt Date") == orders
    assert count("Document_ЗаказКлиента", "datedifference(Date, dateadd(Date, 'day', 3), 'day') eq 3") == orders
    products = call(running, "GET", "Catalog_Номенклатура", "$format=json").json()["value"]
    with_digit = [product for product in products if product["Артикул"][-1:].isdigit()]
    assert count("Catalog_Номенклатура", "like(Артикул, '%[0-9]')") == len(with_digit) > 0
    assert count("Catalog_Номенклатура", "like(Артикул, '%[^0-9]')") == len(products) - len(with_digit)


def test_settlement_balance_virtual_table(running: RunningBase) -> None:
    def first(entity: str) -> str:
        return call(running, "GET", entity, "$format=json&$top=1").json()["value"][0]["Ref_Key"]

    partner = call(running, "GET", "Catalog_Контрагенты", "$format=json&$top=1").json()["value"][0]
    order = call(running, "POST", "Document_ЗаказКлиента", body={
        "Контрагент_Key": partner["Ref_Key"], "Партнер_Key": partner["Партнер_Key"],
        "Организация_Key": first("Catalog_Организации"), "Валюта_Key": first("Catalog_Валюты"),
        "Склад_Key": first("Catalog_Склады"), "Соглашение_Key": first("Catalog_СоглашенияСКлиентами"),
        "СуммаДокумента": 100, "Товары": [{"LineNumber": 1, "Номенклатура_Key": first("Catalog_Номенклатура"),
                                           "Количество": 1, "Цена": 100, "Сумма": 100, "СуммаСНДС": 100}]}).json()
    order_posted = call(running, "POST", f"Document_ЗаказКлиента(guid'{order['Ref_Key']}')/Post", "",
                        headers={"Content-Length": "0"})
    assert order_posted.status_code == 200, order_posted.text
    payment = call(running, "POST", "Document_ПоступлениеБезналичныхДенежныхСредств", body={
        "Контрагент_Key": order["Контрагент_Key"], "Организация_Key": order["Организация_Key"], "СуммаДокумента": 30,
        "РасшифровкаПлатежа": [{"LineNumber": 1, "Заказ": order["Ref_Key"], "Сумма": 30,
                                "Заказ_Type": "StandardODATA.Document_ЗаказКлиента"}]}).json()
    posted = call(running, "POST", f"Document_ПоступлениеБезналичныхДенежныхСредств(guid'{payment['Ref_Key']}')/Post",
                  "", headers={"Content-Length": "0"})
    assert posted.status_code == 200, posted.text
    condition = f"ЗаказКлиента eq cast(guid''{order['Ref_Key']}'', ''Document_ЗаказКлиента'')"
    balance = call(running, "GET", f"AccumulationRegister_РасчетыСКлиентами/Balance(Condition='{condition}')")
    assert balance.status_code == 200, balance.text
    rows = balance.json()["value"]
    assert len(rows) == 1 and rows[0]["ЗаказКлиента"] == order["Ref_Key"]
    assert rows[0]["КОплатеBalance"] == 70 and rows[0]["КОтгрузкеBalance"] == 100 and rows[0]["СуммаBalance"] == -30
    assert rows[0]["ЗаказКлиента_Type"] == "StandardODATA.Document_ЗаказКлиента"
    movements = call(running, "GET", "AccumulationRegister_РасчетыСКлиентами").json()["value"]
    assert any(record_set["Recorder"] == payment["Ref_Key"] and record_set["RecordSet"][0]["RecordType"] == "Expense"
               for record_set in movements)
    other = call(running, "GET", "AccumulationRegister_РасчетыСКлиентами/Turnovers")
    assert other.status_code == 400
    state = call(running, "GET", f"InformationRegister_СостоянияЗаказовКлиентов(Заказ_Key=guid'{order['Ref_Key']}')")
    assert state.status_code == 200 and state.json()["ПроцентОплаты"] == 30
    assert state.json()["odata.metadata"].endswith("InformationRegister_СостоянияЗаказовКлиентов/@Element")
    metadata = call(running, "GET", "$metadata", "").text
    register_type = metadata.split('<EntityType Name="InformationRegister_СостоянияЗаказовКлиентов"')[1]
    assert register_type.split("</Key>")[0].count("PropertyRef") == 1


def test_nometadata_json_and_atom_time(running: RunningBase) -> None:
    bare = call(running, "GET", "Catalog_Номенклатура", "$format=application/json;odata=nometadata&$top=1").json()
    assert list(bare) == ["value"] and not any("@" in key for key in bare["value"][0])
    feed = call(running, "GET", "Catalog_Склады", "").text
    updated = datetime.fromisoformat(feed.split("<updated>")[1].split("<")[0])
    assert abs((datetime.fromisoformat(running.base.now()) - updated).total_seconds()) < 60  # local time, not UTC


def test_ref_keys_are_time_based_guids_like_a_real_bases(running: RunningBase) -> None:
    product = call(running, "GET", "Catalog_Номенклатура", "$format=json&$top=1").json()["value"][0]
    partner = call(running, "GET", "Catalog_Контрагенты", "$format=json&$top=1").json()["value"][0]
    order = call(running, "POST", "Document_ЗаказКлиента", body={"Контрагент_Key": partner["Ref_Key"]}).json()
    for ref in (product["Ref_Key"], order["Ref_Key"]):
        assert uuid.UUID(ref).version == 1  # like the documentation's 41aa6331-954f-11e3-814b-005056c00008


def test_expand_is_refused_on_one_entity_and_select_through_an_expanded_reference_works(
        running: RunningBase) -> None:
    partner = call(running, "GET", "Catalog_Контрагенты", "$format=json&$top=1").json()["value"][0]
    order = call(running, "POST", "Document_ЗаказКлиента", body={"Контрагент_Key": partner["Ref_Key"]}).json()
    single = call(running, "GET", f"Document_ЗаказКлиента(guid'{order['Ref_Key']}')", "$format=json&$expand=Контрагент")
    assert single.status_code == 400 and single.json()["odata.error"]["code"] == "0"
    listed = call(running, "GET", "Document_ЗаказКлиента",
                  f"$format=json&$filter=Ref_Key%20eq%20guid'{order['Ref_Key']}'&$expand=Контрагент"
                  f"&$select=Ref_Key,Контрагент/Description")
    assert listed.status_code == 200, listed.text
    assert listed.json()["value"][0]["Контрагент"]["Description"] == partner["Description"]


def test_enumerations_are_enum_types_in_metadata_and_names_in_json(running: RunningBase) -> None:
    document = ET.fromstring(call(running, "GET", "$metadata", "").content)
    names = {element.get("Name"): element for element in document.iter() if element.tag.endswith("EnumType")}
    statuses = names["СтатусыЗаказовКлиентов"]
    assert statuses.get("UnderlyingType") == "Edm.Int32"
    assert {member.get("Name") for member in statuses} >= {"НеСогласован", "КОбеспечению", "КОтгрузке", "Закрыт"}
    order_type = next(element for element in document.iter() if element.tag.endswith("EntityType")
                      and element.get("Name") == "Document_ЗаказКлиента")
    status = next(child for child in order_type if child.get("Name") == "Статус")
    assert status.get("Type") == "StandardODATA.СтатусыЗаказовКлиентов"
    order = call(running, "GET", "Document_ЗаказКлиента", "$format=json&$top=1&$select=Статус").json()["value"]
    assert all(isinstance(row["Статус"], str) for row in order)  # JSON still carries the value's name


def test_an_unsupported_format_is_refused(running: RunningBase) -> None:
    answer = call(running, "GET", "Catalog_Склады", "$format=csv")
    assert answer.status_code == 400 and "<m:code>3</m:code>" in answer.text
    assert call(running, "GET", "Catalog_Склады", "$format=application/json;odata=nometadata").status_code == 200


def test_a_composite_is_compared_only_through_cast(running: RunningBase) -> None:
    """The documentation promises comparisons of composite values through cast(); a string literal against the
    additional requisite's Значение is not promised, so the emulator matches nothing, as for a bare guid."""
    partner = call(running, "GET", "Catalog_Контрагенты", "$format=json&$top=1").json()["value"][0]
    prop = call(running, "GET", "ChartOfCharacteristicTypes_ДополнительныеРеквизитыИСведения",
                "$format=json&$top=1").json()["value"][0]["Ref_Key"]
    order = call(running, "POST", "Document_ЗаказКлиента", body={
        "Контрагент_Key": partner["Ref_Key"], "ДополнительныеРеквизиты": [
            {"LineNumber": 1, "Свойство_Key": prop, "Значение": "4711", "Значение_Type": "Edm.String"}]}).json()
    by_string = call(running, "GET", "Document_ЗаказКлиента",
                     "$format=json&$filter=" + quote("ДополнительныеРеквизиты/any(d: d/Значение eq '4711')"))
    assert by_string.status_code == 200 and by_string.json()["value"] == []
    by_property = call(running, "GET", "Document_ЗаказКлиента", "$format=json&$filter=" + quote(
        f"ДополнительныеРеквизиты/any(d: d/Свойство_Key eq guid'{prop}')"))
    assert order["Ref_Key"] in [row["Ref_Key"] for row in by_property.json()["value"]]


def test_rows_hidden_by_row_level_security_fail_a_listing_unless_allowed_only(running: RunningBase) -> None:
    hidden = call(running, "GET", "Catalog_Склады", "$format=json&$top=1").json()["value"][0]["Ref_Key"]
    admin(running, "settings", {"restricted": {"Catalog_Склады": [hidden]}})
    try:
        refused = call(running, "GET", "Catalog_Склады")
        assert refused.status_code == 401 and refused.json()["odata.error"]["code"] == "20"
        allowed = call(running, "GET", "Catalog_Склады", "$format=json&allowedOnly=true")
        assert allowed.status_code == 200 and hidden not in [row["Ref_Key"] for row in allowed.json()["value"]]
        assert call(running, "GET", "Catalog_Склады", "$format=json&$allowedOnly=true").status_code == 200
        one = call(running, "GET", f"Catalog_Склады(guid'{hidden}')")
        assert one.status_code == 401 and one.json()["odata.error"]["code"] == "20"
    finally:
        admin(running, "settings", {"restricted": {}})
