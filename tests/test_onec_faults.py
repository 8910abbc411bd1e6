"""1C faults: each becomes the typed error with the administrator's next step, and no password is logged."""

from __future__ import annotations

import io
import logging
import signal
import subprocess
import sys
import time

import pytest
import requests

from b24sync.clock import ManualClock
from b24sync.logs import configure_logging
from b24sync.onec import errors
from b24sync.onec.adapter import OneCAdapter
from b24sync.onec.odata import ODataClient
from b24sync_emulators.dataset import generate
from b24sync_emulators.onec.server import RunningBase, start_base
from tests.onec_support import PASSWORD, USER, onec_config


@pytest.fixture
def running() -> RunningBase:
    base = start_base(profile="ut11", dataset=generate(10, 4), user=USER, password=PASSWORD)
    yield base
    base.stop()


def settings(running: RunningBase, **values: object) -> None:
    requests.post(f"{running.root}/_emulator/settings", json=values, timeout=5).raise_for_status()


def client(running: RunningBase, password: str = PASSWORD, **options: object) -> ODataClient:
    values = {"clock": ManualClock(), "max_retries": 2, "read_timeout": 5.0}
    values.update(options)
    return ODataClient(running.odata_root, USER, password, **values)


def test_wrong_password_names_the_user_and_the_entity(running: RunningBase) -> None:
    with pytest.raises(errors.AuthError) as caught:
        client(running, password="неверный").get("Catalog_Номенклатура")
    message = str(caught.value)
    assert caught.value.fatal and caught.value.remote_code == "20" and f"user '{USER}'" in message
    assert "Catalog_Номенклатура" in message and "'onec.password'" in message and "неверный" not in message


def test_a_password_changed_while_b24sync_runs_is_said_as_a_password_not_as_missing_rights(
        running: RunningBase) -> None:
    working = client(running)
    working.get("Catalog_Номенклатура")  # the credentials worked once
    settings(running, password="сменили")
    try:
        with pytest.raises(errors.AuthError) as caught:
            working.get("Document_ЗаказКлиента")
        assert not isinstance(caught.value, errors.RightsError) and "'onec.password'" in str(caught.value)
    finally:
        settings(running, password="")


def test_a_login_page_instead_of_json_is_named(running: RunningBase) -> None:
    settings(running, auth_html=True)
    with pytest.raises(errors.TransportError) as caught:
        client(running, password="x").get("Catalog_Номенклатура")
    assert "HTTP 200" in str(caught.value) and "text/html" in str(caught.value) and "'onec.user'" in str(caught.value)


def test_an_unpublished_entity_says_what_to_tick(running: RunningBase) -> None:
    del running.base.entities["Document_СчетНаОплатуКлиенту"]
    with pytest.raises(errors.NotPublishedError) as caught:
        client(running).get("Document_СчетНаОплатуКлиенту")
    assert "«Счет на оплату клиенту»" in str(caught.value) and "Настройка стандартного интерфейса OData" in str(
        caught.value)
    adapter = OneCAdapter.from_config(onec_config(running))
    assert any("Document_СчетНаОплатуКлиенту" in problem for problem in adapter.publication_problems())


def test_html_error_pages_are_retried_then_reported(running: RunningBase) -> None:
    requests.post(f"{running.root}/_emulator/faults", json={"method": "Catalog_Номенклатура", "status": 502,
                                                            "html": True, "count": 1}, timeout=5)
    assert client(running).get("Catalog_Номенклатура")["value"]
    requests.post(f"{running.root}/_emulator/faults", json={"method": "Catalog_Номенклатура", "status": 502,
                                                            "html": True}, timeout=5)
    with pytest.raises(errors.ServerError, match="HTTP 502 and text/html instead of JSON"):
        client(running).get("Catalog_Номенклатура")


def test_an_exhausted_session_pool_is_retried_then_reported(running: RunningBase) -> None:
    settings(running, pool_exhausted=True)
    retrying = client(running)
    with pytest.raises(errors.SessionPoolError, match="406"):
        retrying.get("Catalog_Номенклатура")
    assert retrying.requests_sent == 3 and retrying.clock.slept > 0


def test_a_cold_start_within_the_timeout_just_takes_longer(running: RunningBase) -> None:
    settings(running, cold_start_ms=600, idle_seconds=0)
    started = time.monotonic()
    assert client(running, read_timeout=5.0).get("Catalog_Склады")["value"]
    assert time.monotonic() - started >= 0.6


def test_a_cold_start_beyond_the_timeout_is_a_transport_error(running: RunningBase) -> None:
    settings(running, cold_start_ms=1500, idle_seconds=0)
    with pytest.raises(errors.TransportError, match="ReadTimeout"):
        client(running, read_timeout=0.3, max_retries=1).get("Catalog_Склады")


def test_first_hit_500_is_retried(running: RunningBase) -> None:
    settings(running, first_hit_500=True)
    assert client(running).get("Catalog_Склады")["value"]


def test_a_lost_create_is_not_repeated_but_found(running: RunningBase) -> None:
    adapter = OneCAdapter.from_config(onec_config(running), clock=ManualClock())
    requests.post(f"{running.root}/_emulator/faults", json={"method": "Catalog_Контрагенты", "drop": True,
                                                            "count": 1, "status": 200}, timeout=5)
    # the dropped answer comes before the write here, so nothing was created and the error says so
    with pytest.raises(errors.OutcomeUnknownError, match="not repeated"):
        adapter.create_counterparty("ООО «Новая»", "ООО «Новая»", inn="7700000099")


def test_no_password_in_any_log_line(running: RunningBase) -> None:
    stream = io.StringIO()
    configure_logging(level="DEBUG", fmt="json", stream=stream)
    try:
        requests.post(f"{running.root}/_emulator/faults", json={"method": "Catalog_Склады", "status": 500,
                                                                "error": "-1", "description": "сбой", "count": 1},
                      timeout=5)
        client(running).get("Catalog_Склады")
        with pytest.raises(errors.AuthError) as caught:
            client(running, password="другой-пароль").get("Catalog_Склады")
        logging.getLogger("b24sync").error("failed: %s", caught.value)
    finally:
        logging.getLogger().handlers.clear()
    output = stream.getvalue()
    assert "onec_retry" in output
    assert PASSWORD not in output and "другой-пароль" not in output and "Authorization" not in output


def test_emulate_onec_prints_the_odata_root_and_answers() -> None:
    process = subprocess.Popen([sys.executable, "-m", "b24sync", "emulate", "onec", "--profile", "bp30",
                                "--generate", "20", "--user", "Обмен", "--password", "pw"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        root = process.stdout.readline().strip()
        assert root.startswith("http://127.0.0.1:") and root.endswith("/accounting/odata/standard.odata/")
        answer = requests.get(root + "Catalog_Номенклатура?$format=json&$top=1",
                              auth=("Обмен".encode(), b"pw"), timeout=10).json()
        assert len(answer["value"]) == 1
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0  # a loaded machine may be slow to stop it
    finally:
        if process.poll() is None:
            process.kill()


@pytest.mark.parametrize("message, kind", [
    ("Конфликт блокировок при выполнении транзакции: Превышено максимальное время ожидания предоставления "
     "блокировки", errors.ServerError),
    ("Ошибка СУБД: Microsoft SQL Server: Transaction was deadlocked on lock resources", errors.ServerError),
    ("Не удалось провести \"Заказ клиента\": недостаточно товара на складе", errors.BusinessError),
])
def test_a_lock_conflict_is_transient_and_a_refusal_is_the_documents(running: RunningBase, message: str,
                                                                      kind: type) -> None:
    requests.post(f"{running.root}/_emulator/faults", json={"faults": [{
        "method": "Document_ЗаказКлиента", "status": 500, "error": "-1", "description": message}]},
        timeout=5).raise_for_status()
    with pytest.raises(errors.OneCError) as caught:
        client(running, max_retries=0).patch("Document_ЗаказКлиента(guid'00000000-0000-0000-0000-000000000001')",
                                            {"Комментарий": "x"})
    assert type(caught.value) is kind and caught.value.retryable is (kind is errors.ServerError)
