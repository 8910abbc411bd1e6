"""Alerts reach a person through Apprise, once per state change: shown against a local JSON endpoint."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from b24sync.alerts import Alerts
from b24sync.clock import ManualClock
from b24sync.config import NotifyConfig
from b24sync.sync.report import CycleReport


class Inbox:
    """A JSON webhook as Apprise's json:// target posts to: every message it gets."""

    def __init__(self) -> None:
        self.messages: list[dict] = []
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                length = int(self.headers.get("Content-Length") or 0)
                inbox.messages.append(json.loads(self.rfile.read(length) or b"{}"))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"json://127.0.0.1:{self.server.server_address[1]}/alerts"

    def titles(self) -> list[str]:
        return [message.get("title", "") for message in self.messages]


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    running = Inbox()
    yield running
    running.server.shutdown()


def test_an_outage_is_told_once_after_its_grace_and_its_recovery_once(inbox: Inbox) -> None:
    clock = ManualClock()
    alerts = Alerts(NotifyConfig(urls=(inbox.url,), unreachable_after_minutes=10), clock)
    since = clock.time()
    alerts.unreachable({"onec": since})
    clock.advance(9 * 60)
    alerts.unreachable({"onec": since})
    assert inbox.messages == []  # a short blip is nobody's business
    clock.advance(2 * 60)
    for _ in range(3):
        alerts.unreachable({"onec": since})
    assert inbox.titles() == ["b24sync: onec unreachable"]
    alerts.unreachable({})
    alerts.unreachable({})
    assert inbox.titles() == ["b24sync: onec unreachable", "b24sync: onec reachable again"]


def test_failed_deals_are_one_message_a_cycle_and_never_repeated_while_they_fail(inbox: Inbox) -> None:
    alerts = Alerts(NotifyConfig(urls=(inbox.url,)), ManualClock())
    report = CycleReport("bitrix24_to_onec", failed={7: "Товар не найден", 9: "ИНН не проходит проверку"})
    alerts.cycle(report, still_failing={7, 9})
    alerts.cycle(report, still_failing={7, 9})
    assert inbox.titles() == ["b24sync: 2 deal(s) failed"]
    assert "deal 7: Товар не найден" in inbox.messages[0]["message"]
    alerts.cycle(CycleReport("retry"), still_failing={9})  # deal 7 recovered
    alerts.cycle(CycleReport("retry", failed={7: "снова"}), still_failing={7, 9})
    assert inbox.titles()[-1] == "b24sync: 1 deal(s) failed"
    held = CycleReport("onec_to_bitrix24", held="40 of the documents are missing in 1C at once")
    alerts.cycle(held, still_failing=set())
    alerts.cycle(held, still_failing=set())
    assert inbox.titles().count("b24sync: a cycle was held back") == 1


def test_notify_test_reaches_the_target_or_says_it_did_not(inbox: Inbox, tmp_path: Path) -> None:
    from tests.test_config import GOOD

    for urls, code in (([inbox.url], 0), (["json://127.0.0.1:9/nobody"], 3)):
        config = tmp_path / "config.yaml"
        config.write_text(GOOD + "notify:\n  urls: " + json.dumps(urls) + "\n", encoding="utf-8")
        config.chmod(0o600)
        done = subprocess.run([sys.executable, "-m", "b24sync", "notify", "--test", "-c", str(config)],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == code, done.stdout + done.stderr
    assert inbox.titles() == ["b24sync: test message"]
