"""Alerts reach a person through Apprise, once per state change: shown against a local JSON endpoint."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from b24sync.alerts import Alerts
from b24sync.clock import ManualClock
from b24sync.config import NotifyConfig
from b24sync.sync.report import CycleReport
from b24sync_emulators.inbox import RunningInbox


def test_an_outage_is_told_once_after_its_grace_and_its_recovery_once(inbox: RunningInbox) -> None:
    clock = ManualClock()
    alerts = Alerts(NotifyConfig(urls=(inbox.url,), unreachable_after_minutes=10), clock)
    since = clock.time()
    alerts.unreachable({"onec": since})
    clock.advance(9 * 60)
    alerts.unreachable({"onec": since})
    assert inbox.app.messages == []  # a short blip is nobody's business
    clock.advance(2 * 60)
    for _ in range(3):
        alerts.unreachable({"onec": since})
    assert inbox.app.titles() == ["b24sync: onec unreachable"]
    alerts.unreachable({})
    alerts.unreachable({})
    assert inbox.app.titles() == ["b24sync: onec unreachable", "b24sync: onec reachable again"]


def test_failed_deals_are_one_message_a_cycle_and_never_repeated_while_they_fail(inbox: RunningInbox) -> None:
    alerts = Alerts(NotifyConfig(urls=(inbox.url,)), ManualClock())
    report = CycleReport("bitrix24_to_onec", failed={7: "Товар не найден", 9: "ИНН не проходит проверку"})
    alerts.cycle(report, still_failing={7, 9})
    alerts.cycle(report, still_failing={7, 9})
    assert inbox.app.titles() == ["b24sync: 2 deal(s) failed"]
    assert "deal 7: Товар не найден" in inbox.app.messages[0]["message"]
    alerts.cycle(CycleReport("retry"), still_failing={9})  # deal 7 recovered
    alerts.cycle(CycleReport("retry", failed={7: "снова"}), still_failing={7, 9})
    assert inbox.app.titles()[-1] == "b24sync: 1 deal(s) failed"
    held = CycleReport("onec_to_bitrix24", held="40 of the documents are missing in 1C at once")
    alerts.cycle(held, still_failing=set())
    alerts.cycle(held, still_failing=set())
    assert inbox.app.titles().count("b24sync: a cycle was held back") == 1


def test_notify_test_reaches_the_target_or_says_it_did_not(inbox: RunningInbox, tmp_path: Path) -> None:
    from tests.test_config import GOOD

    for urls, code in (([inbox.url], 0), (["json://127.0.0.1:9/nobody"], 3)):
        config = tmp_path / "config.yaml"
        config.write_text(GOOD + "notify:\n  urls: " + json.dumps(urls) + "\n", encoding="utf-8")
        config.chmod(0o600)
        done = subprocess.run([sys.executable, "-m", "b24sync", "notify", "--test", "-c", str(config)],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == code, done.stdout + done.stderr
    assert inbox.app.titles() == ["b24sync: test message"]
