"""The client against documented Bitrix24 responses, replayed over HTTP with vcrpy.

Every sample in fixtures/bitrix24 comes from the official docs or SDK (see its
SOURCES.md); a cassette serves it under the documented status, and the client
must parse it: IDs, money, aware datetimes, batch quirks and typed errors.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import vcr
import yaml

from b24sync.bitrix24 import errors
from b24sync.bitrix24.client import Bitrix24Client
from b24sync.bitrix24.records import Company, Contact, Deal, DiskFile, ProductRow, Requisite
from b24sync.bitrix24.throttle import OperatingBudget
from b24sync.clock import ManualClock
from tests.conftest import FIXTURES

PORTAL = "https://example.bitrix24.ru/rest/1/s3cr3tc0de42/"


def replay(tmp_path: Path, method: str, sample_name: str, status: int = 200, content_type: str = "application/json"):
    """A vcr context that answers one POST to `method` with the documented sample."""
    body = (FIXTURES / "bitrix24" / sample_name).read_text(encoding="utf-8")
    cassette = {
        "version": 1,
        "interactions": [{
            "request": {"method": "POST", "uri": PORTAL + method, "body": None, "headers": {}},
            "response": {"status": {"code": status, "message": "X"},
                         "headers": {"Content-Type": [content_type]}, "body": {"string": body}},
        }],
    }
    path = tmp_path / f"{method}.yaml"
    path.write_text(yaml.safe_dump(cassette, allow_unicode=True), encoding="utf-8")
    return vcr.VCR(record_mode="none", match_on=["method", "uri"]).use_cassette(str(path))


def client() -> Bitrix24Client:
    return Bitrix24Client(PORTAL, clock=ManualClock(), max_retries=0, throttle=False)


def test_deal_get(tmp_path: Path) -> None:
    with replay(tmp_path, "crm.deal.get", "crm.deal.get.json"):
        response = client().call("crm.deal.get", {"id": 410})
    deal = Deal.from_wire(response.result)
    assert deal.id == 410 and deal.company_id == 9 and deal.contact_id == 84 and deal.assigned_by_id == 1
    assert deal.opportunity == Decimal("1000000.00") and deal.currency_id == "EUR"
    assert deal.date_modify == datetime.fromisoformat("2024-08-30T14:29:00+02:00")
    assert deal.date_modify.utcoffset() == timedelta(hours=2)
    assert deal.begin_date == date(2024, 8, 30) and deal.close_date == date(2024, 9, 9)
    assert deal.closed is False and deal.stage_semantic == "P"
    assert deal.user_fields == {"UF_CRM_1721244482250": "Привет мир!"}
    assert response.time["operating"] == 0 and isinstance(response.time["start"], float)


def test_deal_list_single_page(tmp_path: Path) -> None:
    with replay(tmp_path, "crm.deal.list", "crm.deal.list.json"):
        response = client().call("crm.deal.list", {"filter": {"CATEGORY_ID": 1}})
    assert response.total == 6 and response.next is None
    deals = [Deal.from_wire(row) for row in response.result]
    assert [deal.id for deal in deals] == [37, 38, 39, 40, 41, 42]
    assert deals[0].opportunity == Decimal("19999.99") and deals[0].category_id == 1
    assert all(deal.date_create.tzinfo is not None for deal in deals)


def test_product_rows_numeric_islands(tmp_path: Path) -> None:
    with replay(tmp_path, "crm.deal.productrows.get", "crm.deal.productrows.get.json"):
        rows = [ProductRow.from_wire(row) for row in client().call("crm.deal.productrows.get", {"id": 5}).result]
    first = rows[0]
    assert first.id == 5 and first.deal_id == 5 and first.product_id == 450
    assert first.price == Decimal("899.1") and first.price_netto == Decimal("999")
    assert first.discount_sum == Decimal("99.9") and first.discount_rate == Decimal("10")
    assert first.tax_rate is None and first.tax_included is True and first.measure_code == 796
    assert first.quantity == Decimal(1)


def test_contact_company_requisites(tmp_path: Path) -> None:
    with replay(tmp_path, "crm.contact.get", "crm.contact.get.json"):
        contact = Contact.from_wire(client().call("crm.contact.get", {"id": 43}).result)
    assert contact.full_name == "Иванов Иван Иванович" and contact.company_id == 12
    assert contact.phones == ("+7333333555", "+35599888666") and "ivanov@example.work" in contact.emails

    with replay(tmp_path, "crm.company.get", "crm.company.get.json"):
        response = client().call("crm.company.get", {"id": 2909})
    company = Company.from_wire(response.result)
    assert company.id == 2909 and company.title == "ГАЗПРОМ" and company.is_my_company is False
    assert isinstance(response.time["start"], int) and response.time["operating_reset_at"] == 1769498019

    with replay(tmp_path, "crm.requisite.get", "crm.requisite.get.json"):
        requisite = Requisite.from_wire(client().call("crm.requisite.get", {"id": 27}).result)
    assert requisite.inn == "7717586110" and requisite.kpp == "770501001" and requisite.entity_type_id == 4
    assert requisite.date_modify is None  # "" on the wire

    with replay(tmp_path, "crm.requisite.link.get", "crm.requisite.link.get.json"):
        link = client().call("crm.requisite.link.get", {"entityTypeId": 31, "entityId": 315}).result
    assert link["ENTITY_ID"] == 315 and link["REQUISITE_ID"] == "60"


def test_batch_success_normalises_php_maps(tmp_path: Path) -> None:
    with replay(tmp_path, "batch", "batch.json"):
        outcome = client().batch({"get_user": ("user.get", {"ID": 1}),
                                  "get_department": ("department.get", {"ID": "$result[get_user][UF_DEPARTMENT]"})})
    assert outcome.get("get_user")["NAME"] == "John"
    assert outcome.get("get_department")[0]["NAME"] == "DEMO"
    assert outcome.errors == {} and outcome.nexts == {} and outcome.totals == {"get_department": 1}
    assert set(outcome.times) == {"get_user", "get_department"}


def test_batch_errors_surface_per_command(tmp_path: Path) -> None:
    with replay(tmp_path, "batch", "batch.error_halt0.json"):
        outcome = client().batch({"get_user": ("user.get", {}), "get_department": ("department.get", {})})
    assert outcome.results == {}
    assert all(isinstance(error, errors.ScopeError) for error in outcome.errors.values())
    with pytest.raises(errors.ScopeError, match="tick the 'crm' scope"):
        outcome.get("get_user")

    with replay(tmp_path, "batch", "batch.error_halt1.json"):
        halted = client().batch({"get_user": ("user.get", {}), "get_department": ("department.get", {})}, halt=True)
    assert set(halted.errors) == {"get_user"}
    with pytest.raises(errors.Bitrix24Error, match="halted batch"):
        halted.get("get_department")


def test_disk_upload_and_external_link(tmp_path: Path) -> None:
    with replay(tmp_path, "disk.folder.uploadfile", "disk.folder.uploadfile.json"):
        uploaded = DiskFile.from_wire(client().call("disk.folder.uploadfile", {"id": 8930}).result)
    assert uploaded.id == 9011 and uploaded.size == 1679 and uploaded.folder_id == 8930
    with replay(tmp_path, "disk.file.getExternalLink", "disk.file.getexternallink.json"):
        assert client().call("disk.file.getExternalLink", {"id": 9011}).result == "https://test.bitrix24.ru/~4Pie9"
    with replay(tmp_path, "disk.folder.uploadfile", "disk.folder.uploadfile.step1_uploadurl.json"):
        step = client().call("disk.folder.uploadfile", {"id": 8930}).result
    assert step["field"] == "file" and step["uploadUrl"].startswith("https://test.bitrix24.ru/rest/upload.json")


@pytest.mark.parametrize("method, name", [
    ("crm.deal.userfield.list", "crm.deal.userfield.list.json"),
    ("crm.status.list", "crm.status.list.json"),
    ("crm.timeline.comment.list", "crm.timeline.comment.list.json"),
    ("crm.requisite.list", "crm.requisite.list.json"),
    ("crm.contact.list", "crm.contact.list.json"),
    ("crm.company.list", "crm.company.list.json"),
    ("disk.storage.getlist", "disk.storage.getlist.json"),
    ("disk.folder.getchildren", "disk.folder.getchildren.json"),
    ("crm.item.list", "crm.item.list.json"),
    ("crm.stagehistory.list", "crm.stagehistory.list.json"),
    ("crm.deal.fields", "crm.deal.fields.json"),
    ("crm.deal.contact.items.get", "crm.deal.contact.items.get.json"),
])
def test_documented_lists_parse(tmp_path: Path, method: str, name: str) -> None:
    with replay(tmp_path, method, name):
        response = client().call(method, {})
    assert response.result
    assert response.time.get("date_start") is not None


@pytest.mark.parametrize("method, name, status, expected", [
    ("crm.deal.get", "crm.deal.get.error.json", 400, errors.BadRequestError),
    ("crm.company.get", "crm.company.get.error_not_found.json", 400, errors.NotFoundError),
    ("crm.contact.get", "crm.contact.get.error.json", 400, errors.BadRequestError),
    ("crm.deal.contact.items.get", "crm.deal.contact.items.get.error.json", 400, errors.NotFoundError),
    ("crm.requisite.list", "crm.requisite.list.error.json", 400, errors.AccessDeniedError),
    ("crm.requisite.link.get", "crm.requisite.link.get.error.json", 400, errors.NotFoundError),
    ("crm.requisite.get", "crm.requisite.get.error.json", 400, errors.NotFoundError),
    ("crm.timeline.comment.add", "crm.timeline.comment.add.error.json", 400, errors.NotFoundError),
    ("disk.folder.uploadfile", "disk.folder.uploadfile.error.json", 400, errors.NotFoundError),
    ("disk.file.getExternalLink", "disk.file.getexternallink.error.json", 400, errors.BadRequestError),
    ("crm.item.get", "crm.item.get.error.json", 400, errors.NotFoundError),
    ("crm.item.productrow.list", "crm.item.productrow.list.error.json", 403, errors.AccessDeniedError),
    ("crm.deal.list", "error.NO_AUTH_FOUND.json", 401, errors.AuthError),
    ("crm.deal.list", "error.INVALID_CREDENTIALS.json", 403, errors.AuthError),
    ("crm.deal.list", "error.expired_token.json", 401, errors.AuthError),
    ("crm.deal.list", "error.invalid_token.json", 401, errors.AuthError),
    ("crm.deal.list", "error.insufficient_scope.json", 403, errors.ScopeError),
    ("crm.deal.list", "error.OVERLOAD_LIMIT.json", 503, errors.PortalUnavailableError),
    ("crm.deal.list", "error.PORTAL_DELETED.json", 500, errors.PortalUnavailableError),
    ("crm.deal.list", "error.QUERY_LIMIT_EXCEEDED.json", 503, errors.RateLimitError),
    ("crm.deal.list", "error.QUERY_LIMIT_EXCEEDED.json", 429, errors.RateLimitError),
    ("crm.deal.list", "error.OPERATION_TIME_LIMIT.json", 429, errors.OperationTimeLimitError),
])
def test_documented_errors_become_typed(tmp_path: Path, method: str, name: str, status: int, expected: type) -> None:
    with replay(tmp_path, method, name, status), pytest.raises(expected) as caught:
        client().call(method, {"id": 1})
    assert caught.value.status == status
    assert method in str(caught.value)
    if caught.value.fatal:
        assert ";" in str(caught.value)  # a fatal error says what the administrator must do
    assert "s3cr3tc0de42" not in str(caught.value)


def test_time_object_feeds_the_operating_budget() -> None:
    time_info = yaml.safe_load((FIXTURES / "bitrix24" / "time_object.json").read_text())["time"]
    clock = ManualClock(start=time_info["start"])
    budget = OperatingBudget(limit=1.0, clock=clock)  # a tiny budget so that 0.67 s is 67 % of it
    budget.record("crm.deal.list", time_info)
    assert budget.delay_for("crm.deal.list") > 0
    assert budget.delay_for("crm.deal.get") == 0
