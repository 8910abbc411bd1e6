"""Shared fixtures: emulators on free ports of 127.0.0.1, a manual clock, and clients pointed at them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from b24sync.bitrix24.client import Bitrix24Client
from b24sync.clock import ManualClock
from b24sync.redaction import forget_secrets
from b24sync_emulators.bitrix24.server import RunningPortal, start_portal
from b24sync_emulators.inbox import RunningInbox, start_inbox

FIXTURES = Path(__file__).parent / "fixtures"


def sample(name: str) -> Any:
    """A documented Bitrix24 response (see fixtures/bitrix24/SOURCES.md)."""
    return json.loads((FIXTURES / "bitrix24" / name).read_text(encoding="utf-8"))


@pytest.fixture(autouse=True)
def _clean_secrets() -> Iterator[None]:
    yield
    forget_secrets()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def portal() -> Iterator[RunningPortal]:
    """A small generated portal without limits, on the real clock."""
    running = start_portal(generate_deals=30, seed=1, limits=False)
    yield running
    running.stop()


@pytest.fixture
def client(portal: RunningPortal, clock: ManualClock) -> Bitrix24Client:
    """A client whose waits run on the manual clock (instant)."""
    return Bitrix24Client(portal.webhook_url, clock=clock, read_timeout=10)


def admin(running: RunningPortal, path: str, payload: Any = None, method: str = "POST") -> Any:
    """Call an emulator admin endpoint."""
    reply = requests.request(method, f"{running.root}/_emulator/{path}", json=payload, timeout=5)
    reply.raise_for_status()
    return reply.json()


def raw_call(running: RunningPortal, method: str, params: dict[str, Any] | None = None) -> requests.Response:
    """Call the portal directly, as any HTTP client would, bypassing b24sync's client."""
    return requests.post(running.webhook_url + method, json=params or {}, timeout=10)


@pytest.fixture
def inbox() -> Iterator[RunningInbox]:
    """An alert inbox (the endpoint Apprise's json:// target posts to), stopped after the test."""
    running = start_inbox()
    yield running
    running.stop()
