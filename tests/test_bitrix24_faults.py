"""Injected faults: the client succeeds through retries or raises the typed error, and never hangs."""

from __future__ import annotations

import time

import pytest

from b24sync.bitrix24 import errors
from b24sync.bitrix24.client import Bitrix24Client
from b24sync.clock import ManualClock
from b24sync_emulators.bitrix24.app import MovedApp
from b24sync_emulators.bitrix24.server import RunningPortal
from b24sync_emulators.httpserver import EmulatorServer
from tests.conftest import admin


def fault(running: RunningPortal, **spec: object) -> None:
    admin(running, "faults", spec)


def make_client(running: RunningPortal, **options: object) -> Bitrix24Client:
    settings = {"clock": ManualClock(), "read_timeout": 2.0, "connect_timeout": 2.0, "max_retries": 3}
    settings.update(options)
    return Bitrix24Client(running.webhook_url, **settings)


def test_500s_are_retried_for_reads(portal: RunningPortal) -> None:
    fault(portal, method="crm.deal.get", status=500, error="INTERNAL_SERVER_ERROR",
          description="Internal server error", count=2)
    assert make_client(portal).call("crm.deal.get", {"id": 1}).result["ID"] == "1"


def test_persistent_500s_end_in_a_server_error(portal: RunningPortal) -> None:
    fault(portal, method="crm.deal.get", status=500, error="INTERNAL_SERVER_ERROR", description="Internal server error")
    with pytest.raises(errors.ServerError, match="INTERNAL_SERVER_ERROR"):
        make_client(portal).call("crm.deal.get", {"id": 1})


def test_an_html_page_instead_of_json_is_named(portal: RunningPortal) -> None:
    fault(portal, method="crm.deal.list", status=502, html=True, count=1)
    assert make_client(portal).call("crm.deal.list", {"select": ["ID"]}).result
    fault(portal, method="crm.deal.list", status=502, html=True)
    with pytest.raises(errors.ServerError) as caught:
        make_client(portal).call("crm.deal.list", {"select": ["ID"]})
    message = str(caught.value)
    assert "HTTP 502" in message and "text/html" in message and "<html>" in message


def test_dropped_connections_are_retried_for_reads(portal: RunningPortal) -> None:
    fault(portal, method="crm.deal.get", drop=True, count=2)
    assert make_client(portal).call("crm.deal.get", {"id": 2}).result["ID"] == "2"


def test_a_create_whose_answer_is_lost_is_not_repeated(portal: RunningPortal) -> None:
    before = len(portal.portal.deals)
    fault(portal, method="crm.deal.add", drop=True, count=1, when="after")
    with pytest.raises(errors.OutcomeUnknownError, match="not repeated"):
        make_client(portal).call("crm.deal.add", {"fields": {"TITLE": "Однажды"}})
    assert len(portal.portal.deals) == before + 1  # it did happen, exactly once


def test_a_create_answered_with_a_500_is_not_repeated(portal: RunningPortal) -> None:
    fault(portal, method="crm.timeline.comment.add", status=500, error="INTERNAL_SERVER_ERROR",
          description="Internal server error", count=1)
    with pytest.raises(errors.OutcomeUnknownError):
        make_client(portal).call("crm.timeline.comment.add",
                                 {"fields": {"ENTITY_ID": 1, "ENTITY_TYPE": "deal", "COMMENT": "x"}})


def test_a_batch_holding_a_create_is_not_repeated(portal: RunningPortal) -> None:
    fault(portal, method="batch", drop=True, count=1)
    with pytest.raises(errors.OutcomeUnknownError):
        make_client(portal).batch({"a": ("crm.deal.get", {"id": 1}), "b": ("crm.deal.add", {"fields": {"TITLE": "x"}})})
    fault(portal, method="batch", drop=True, count=1)
    assert make_client(portal).batch({"a": ("crm.deal.get", {"id": 1})}).get("a")["ID"] == "1"


def test_a_slow_portal_never_holds_the_client_past_its_timeouts(portal: RunningPortal) -> None:
    fault(portal, method="crm.deal.get", latency_ms=3000)
    client = make_client(portal, read_timeout=0.3, max_retries=1)
    started = time.monotonic()
    with pytest.raises(errors.TransportError, match="ReadTimeout"):
        client.call("crm.deal.get", {"id": 1})
    assert time.monotonic() - started < 2.5  # two attempts of 0.3 s each, and nothing more


def test_a_slow_answer_once_is_retried(portal: RunningPortal) -> None:
    fault(portal, method="crm.deal.get", latency_ms=1500, count=1)
    assert make_client(portal, read_timeout=0.3).call("crm.deal.get", {"id": 3}).result["ID"] == "3"


def test_a_429_pauses_that_method_only_and_never_holds_the_caller(portal: RunningPortal) -> None:
    fault(portal, method="crm.deal.get", status=429, error="OPERATION_TIME_LIMIT",
          description="Method is blocked due to operation time limit.", count=1)
    client = make_client(portal)
    with pytest.raises(errors.OperationTimeLimitError, match="crm.deal.get is paused"):
        client.call("crm.deal.get", {"id": 1})
    assert client.clock.slept < 5  # the caller is not held for the pause: its other work goes on
    assert client.call("crm.deal.list", {"select": ["ID"]}).result  # other methods are not paused
    with pytest.raises(errors.OperationTimeLimitError):  # asked again within the pause: refused, no request
        client.call("crm.deal.get", {"id": 1})
    client.clock.advance(61)  # no reset time was known: the oldest bucket is at most a minute
    assert client.call("crm.deal.get", {"id": 1}).result["ID"] == "1"


def test_wrong_webhook_code_is_fatal_and_says_what_to_fix(portal: RunningPortal) -> None:
    bad = Bitrix24Client(portal.webhook_url.replace(portal.portal.webhook_code, "0123456789abcdef"),
                         clock=ManualClock())
    with pytest.raises(errors.AuthError) as caught:
        bad.call("crm.deal.list")
    assert caught.value.fatal and "bitrix24.webhook_url" in str(caught.value)
    assert "0123456789abcdef" not in str(caught.value)


def test_missing_scope_is_fatal_and_names_the_scope() -> None:
    from b24sync_emulators.bitrix24.server import start_portal

    running = start_portal(generate_deals=1, limits=False, scopes=("crm",))
    try:
        with pytest.raises(errors.ScopeError, match="'disk'"):
            make_client(running).call("disk.storage.getlist")
    finally:
        running.stop()


def test_unreachable_portal_is_a_transport_error() -> None:
    client = Bitrix24Client("http://127.0.0.1:9/rest/1/abcdef123456/", clock=ManualClock(), max_retries=2)
    with pytest.raises(errors.TransportError, match="cannot reach Bitrix24") as caught:
        client.call("crm.deal.add", {"fields": {"TITLE": "x"}})  # refused: never sent, so retrying was safe
    assert "abcdef123456" not in str(caught.value)
    assert client.requests_sent == 3


def test_a_renamed_portal_is_followed_with_a_warning(portal: RunningPortal, caplog: pytest.LogCaptureFixture) -> None:
    old = EmulatorServer(MovedApp(portal.root)).start()
    try:
        old_url = portal.webhook_url.replace(portal.root, old.root)
        client = Bitrix24Client(old_url, clock=ManualClock())
        created = client.call("crm.deal.add", {"fields": {"TITLE": "После переезда"}}).result
        assert portal.portal.deals[created]["TITLE"] == "После переезда"  # the POST was re-sent, body and all
        client.call("crm.deal.get", {"id": created})
        assert old.app.requests == 1  # later calls go straight to the new address
        assert client.base_url.startswith(portal.root)
    finally:
        old.stop()


def test_unknown_fault_keys_are_refused(portal: RunningPortal) -> None:
    import requests

    reply = requests.post(f"{portal.root}/_emulator/faults", json={"methd": "x"}, timeout=5)
    assert reply.status_code == 400 and "methd" in reply.text
