"""Large listings: every deal exactly once, in a handful of HTTP requests, even while deals change."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from b24sync.bitrix24.adapter import Bitrix24Adapter
from b24sync.bitrix24.client import Bitrix24Client
from b24sync_emulators.bitrix24.server import RunningPortal, start_portal
from tests.conftest import admin, raw_call


@pytest.fixture(scope="module")
def big_portal() -> RunningPortal:
    # The cloud's real limits: a listing must fit in them without a single 503.
    running = start_portal(generate_deals=5000, seed=11)
    yield running
    running.stop()


def test_five_thousand_deals_in_at_most_five_requests(big_portal: RunningPortal) -> None:
    admin(big_portal, "stats", method="DELETE")
    client = Bitrix24Client(big_portal.webhook_url)
    listing = Bitrix24Adapter(client).deals_changed_since(datetime(2020, 1, 1, tzinfo=UTC), categories=[0, 1])
    ids = Counter(int(row["ID"]) for row in listing)
    assert len(ids) == 5000 and set(ids.values()) == {1}
    stats = admin(big_portal, "stats", method="GET")
    assert stats["http_requests"] <= 5 and listing.requests == stats["http_requests"]
    assert stats["query_limit_exceeded"] == 0
    assert listing.server_time is not None and listing.server_time.tzinfo is not None


def test_exactly_once_while_deals_change_during_the_listing(big_portal: RunningPortal) -> None:
    client = Bitrix24Client(big_portal.webhook_url)
    since = datetime.now(UTC) - timedelta(days=365)
    listing = Bitrix24Adapter(client).deals_changed_since(since, categories=[0, 1])
    seen: Counter[int] = Counter()
    created: list[int] = []
    for index, row in enumerate(listing):
        seen[int(row["ID"])] += 1
        if index in (10, 60, 2600):
            # A manager edits deals already listed and deals still ahead, and creates a new one.
            for deal_id in (1, 30, 2000, 4999):
                assert raw_call(big_portal, "crm.deal.update",
                                {"id": deal_id, "fields": {"TITLE": f"Правка {index}"}}).json()["result"] is True
            created.append(raw_call(big_portal, "crm.deal.add", {"fields": {"TITLE": "Новая"}}).json()["result"])
    # Every deal that existed is listed exactly once, edited or not; deals created while the listing ran
    # appear at most once (one created after the last page was read waits for the next poll).
    assert set(seen.values()) == {1}
    assert set(range(1, 5001)) <= set(seen)
    assert set(seen) - set(range(1, 5001)) <= set(created)
    assert created[0] in seen and created[1] in seen
