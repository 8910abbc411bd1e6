"""Secrets never reach a log line or an exception text, at any level."""

from __future__ import annotations

import io
import json
import logging

import pytest

from b24sync.bitrix24 import errors
from b24sync.bitrix24.client import Bitrix24Client
from b24sync.clock import ManualClock
from b24sync.logs import configure_logging, get_logger
from b24sync.redaction import redact, register_secret
from b24sync_emulators.bitrix24.app import MovedApp
from b24sync_emulators.bitrix24.server import start_portal
from b24sync_emulators.httpserver import EmulatorServer
from tests.conftest import admin


@pytest.fixture
def log_stream() -> io.StringIO:
    stream = io.StringIO()
    configure_logging(level="DEBUG", fmt="json", stream=stream)
    yield stream
    logging.getLogger().handlers.clear()


def test_debug_logging_through_errors_and_retries_never_shows_the_webhook_code(log_stream: io.StringIO) -> None:
    code = "q8w7e6r5t4y3u2i1"
    running = start_portal(generate_deals=3, limits=False, webhook_code=code)
    moved = EmulatorServer(MovedApp(running.root)).start()
    texts: list[str] = []
    try:
        client = Bitrix24Client(running.webhook_url.replace(running.root, moved.root), clock=ManualClock(),
                                max_retries=2, read_timeout=0.5)
        admin(running, "faults", {"faults": [
            {"method": "crm.deal.get", "status": 500, "error": "INTERNAL_SERVER_ERROR", "count": 1},
            {"method": "crm.deal.list", "html": True, "status": 502},
            {"method": "crm.deal.add", "drop": True, "count": 1, "when": "after"},
        ]})
        client.call("crm.deal.get", {"id": 1})
        for call in (lambda: client.call("crm.deal.list"), lambda: client.call("crm.deal.add", {"fields": {}})):
            with pytest.raises(errors.Bitrix24Error) as caught:
                call()
            texts += [str(caught.value), repr(caught.value)]
        wrong = Bitrix24Client(running.webhook_url.replace(code, "zzzzzzzzzzzz"), clock=ManualClock())
        with pytest.raises(errors.AuthError) as caught:
            wrong.call("crm.deal.list")
        texts.append(str(caught.value))
        get_logger().error("something failed", url=running.webhook_url, note=f"see {running.webhook_url}crm.deal.get")
        try:
            raise RuntimeError(f"boom at {running.webhook_url}")
        except RuntimeError:
            get_logger().exception("with traceback")
        logging.getLogger("urllib3").debug("POST %s", running.webhook_url + "crm.deal.list")
    finally:
        moved.stop()
        running.stop()
    output = log_stream.getvalue()
    assert "bitrix24_retry" in output and "bitrix24_portal_moved" in output  # the logging really happened
    assert "/rest/1/***/" in output
    lines = [json.loads(line) for line in output.splitlines()]
    assert any(line.get("logger") == "urllib3.connectionpool" for line in lines)  # library DEBUG lines too
    assert code not in output and "zzzzzzzzzzzz" not in output
    for text in texts:
        assert code not in text


def test_registered_secrets_and_secret_shapes_are_masked() -> None:
    register_secret("Пароль-1С!")
    assert redact("login failed for Пароль-1С! now") == "login failed for *** now"
    assert redact("https://u:hunter2@host/base") == "https://u:***@host/base"
    assert "tok123" not in redact("GET /rest/upload.json?auth=tok123&token=disk|abc")
    assert "secretvalue" not in redact("Authorization: Basic secretvalue")
    assert redact("https://x.bitrix24.ru/rest/12/abc123def/crm.deal.list") == \
        "https://x.bitrix24.ru/rest/12/***/crm.deal.list"


def test_a_short_secret_is_masked_as_a_whole_token_only() -> None:
    register_secret("2024")
    try:
        said = redact("password 2024 at 2024-12-01, deal 120245, url https://u:2024@1c.local/x")
        assert said == "password *** at ***-12-01, deal 120245, url https://u:***@1c.local/x"
    finally:
        from b24sync.redaction import forget_secrets

        forget_secrets()


@pytest.mark.parametrize("target", ["http://{host}/rest/1/{code}/", "https://elsewhere.example/rest/1/{code}/"])
def test_a_redirect_to_clear_text_or_another_host_is_never_followed(target: str) -> None:
    from b24sync.bitrix24.client import Bitrix24Client as Client

    client = Client("https://acme.bitrix24.ru/rest/1/abcdef123456/", clock=ManualClock())
    with pytest.raises(errors.TransportError, match="follows a redirect only to https on the same host"):
        client._follow_move(target.format(host="acme.bitrix24.ru", code="abcdef123456"))
    assert client.base_url.startswith("https://acme.bitrix24.ru/")
