"""The command line as an administrator uses it: real processes, real signals, real HTTP."""

from __future__ import annotations

import signal
import subprocess
import sys

import requests


def test_emulate_bitrix24_prints_a_working_webhook_and_stops_on_sigterm() -> None:
    process = subprocess.Popen([sys.executable, "-m", "b24sync", "emulate", "bitrix24", "--generate", "200"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        webhook = process.stdout.readline().strip()
        assert webhook.startswith("http://127.0.0.1:") and webhook.endswith("/") and "/rest/1/" in webhook
        answer = requests.post(webhook + "crm.deal.list", json={"select": ["ID"], "order": {"ID": "ASC"}},
                               timeout=10).json()
        assert answer["total"] == 200 and answer["next"] == 50 and answer["result"][0] == {"ID": "1"}
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()


def test_demo_tells_the_whole_story_and_exits_zero() -> None:
    done = subprocess.run([sys.executable, "-m", "b24sync", "demo"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    story = done.stdout
    assert "5 created" in story and "stays out of 1C" in story  # orders, and the deal with a missing product
    assert "Оплачен" in story and "Частично оплачен" in story and "RU123456789CN" in story
    assert "nothing is written" in story and "FAILED DEAL" in story and "nothing is left running" in story
    assert "Invoice PDFs" in story and "• deal 1: http://127.0.0.1:" in story


def test_no_command_prints_help_and_exits_2() -> None:
    done = subprocess.run([sys.executable, "-m", "b24sync"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "emulate" in done.stdout
