"""Client-side pacing against the portal's own limits, on one manual clock shared by both sides."""

from __future__ import annotations

from pathlib import Path

import pytest

from b24sync.bitrix24 import errors
from b24sync.bitrix24.adapter import Bitrix24Adapter
from b24sync.bitrix24.client import Bitrix24Client
from b24sync.bitrix24.throttle import LeakyBucket
from b24sync.clock import ManualClock
from b24sync.store.store import Store
from b24sync.wiring import resume_bucket, save_bucket
from b24sync_emulators.bitrix24.server import start_portal
from tests.conftest import admin


def test_three_hundred_calls_never_meet_a_503() -> None:
    clock = ManualClock()
    running = start_portal(generate_deals=5, clock=clock, rate=2, burst=50)
    try:
        client = Bitrix24Client(running.webhook_url, clock=clock, rate=2, burst=50)
        for index in range(300):
            client.call("crm.deal.get", {"id": index % 5 + 1})
        stats = admin(running, "stats", method="GET")
        assert stats["query_limit_exceeded"] == 0 and stats["http_requests"] == 300
        # 250 requests beyond the burst at 2 per second: about 125 s of pacing, spent on the manual clock
        assert 120 <= clock.slept <= 130
        assert client.bucket.waits >= 249
    finally:
        running.stop()


def test_without_the_throttle_the_portal_refuses_and_retries_carry_the_client_through() -> None:
    clock = ManualClock()
    running = start_portal(generate_deals=5, clock=clock, rate=2, burst=50)
    try:
        client = Bitrix24Client(running.webhook_url, clock=clock, throttle=False, max_retries=8)
        for index in range(300):
            client.call("crm.deal.get", {"id": index % 5 + 1})
        stats = admin(running, "stats", method="GET")
        assert stats["query_limit_exceeded"] > 0
        assert stats["commands_by_method"]["crm.deal.get"] == 300
    finally:
        running.stop()


def test_a_create_refused_by_the_rate_limit_is_retried_because_it_never_ran() -> None:
    clock = ManualClock()
    running = start_portal(generate_deals=1, clock=clock, rate=2, burst=3)
    try:
        client = Bitrix24Client(running.webhook_url, clock=clock, throttle=False, max_retries=5)
        ids = [client.call("crm.deal.add", {"fields": {"TITLE": f"Сделка {n}"}}).result for n in range(10)]
        assert len(set(ids)) == 10 and len(running.portal.deals) == 11
    finally:
        running.stop()


def test_operating_budget_pauses_only_the_spent_method() -> None:
    clock = ManualClock()
    running = start_portal(generate_deals=3, clock=clock)
    try:
        admin(running, "limits", {"operating_limit": 10, "operating_cost": {"crm.deal.list": 4}})
        client = Bitrix24Client(running.webhook_url, clock=clock)
        client.budget.limit = 10  # this portal's budget, as its administrator would configure it
        held = None
        for _ in range(6):
            try:
                client.call("crm.deal.list", {"select": ["ID"]})
            except errors.OperationTimeLimitError as error:
                held = error
                break
        # The client saw `operating` climb and holds the method back until the portal's reset time, without
        # holding its caller: the call is refused at once, and every other method goes on.
        assert held is not None and "crm.deal.list is paused" in str(held) and clock.slept < 10
        assert client.call("crm.deal.get", {"id": 1}).result["ID"] == "1"
        clock.advance(601)
        assert client.call("crm.deal.list", {"select": ["ID"]}).result
        stats = admin(running, "stats", method="GET")
        assert stats["operation_time_limit"] <= 1
    finally:
        running.stop()


def test_a_429_pauses_the_method_until_the_reset_time() -> None:
    clock = ManualClock()
    running = start_portal(generate_deals=3, clock=clock)
    try:
        admin(running, "limits", {"operating_limit": 5, "operating_cost": {"crm.deal.get": 6}})
        unaware = Bitrix24Client(running.webhook_url, clock=clock, max_retries=3)
        unaware.call("crm.deal.get", {"id": 1})  # crosses the limit; the next call is refused with 429
        unaware.budget.slow_ratio = unaware.budget.stop_ratio = 10  # pretend the client did not notice
        with pytest.raises(errors.OperationTimeLimitError):  # the 429: the method is paused, the caller is not
            unaware.call("crm.deal.get", {"id": 2})
        with pytest.raises(errors.OperationTimeLimitError):  # still paused: refused without a request
            unaware.call("crm.deal.get", {"id": 2})
        clock.advance(601)  # operating_reset_at, up to ten minutes later
        assert unaware.call("crm.deal.get", {"id": 2}).result["ID"] == "2"
        assert admin(running, "stats", method="GET")["operation_time_limit"] == 1
    finally:
        running.stop()


def test_a_429_beyond_patience_is_a_typed_error() -> None:
    clock = ManualClock()
    running = start_portal(generate_deals=3, clock=clock)
    try:
        admin(running, "limits", {"operating_limit": 5, "operating_cost": {"crm.deal.get": 6}})
        client = Bitrix24Client(running.webhook_url, clock=clock, max_retries=0)
        client.budget.slow_ratio = client.budget.stop_ratio = 10
        client.call("crm.deal.get", {"id": 1})
        try:
            client.call("crm.deal.get", {"id": 2})
        except errors.OperationTimeLimitError as error:
            assert "OPERATION_TIME_LIMIT" in str(error)
        else:
            raise AssertionError("expected OPERATION_TIME_LIMIT")
    finally:
        running.stop()


def test_a_run_right_after_a_busy_one_counts_what_that_one_left_in_the_portals_bucket(tmp_path: Path) -> None:
    clock = ManualClock()
    running = start_portal(generate_deals=5, clock=clock, rate=2, burst=50)
    store = Store(str(tmp_path / "state.db"), clock=clock)
    try:
        busy = Bitrix24Adapter(Bitrix24Client(running.webhook_url, clock=clock, rate=2, burst=50))
        for index in range(45):
            busy.client.call("crm.deal.get", {"id": index % 5 + 1})
        save_bucket(busy, store, clock)  # as the process ends
        clock.advance(3)  # the next run starts three seconds later, in a process of its own
        following = Bitrix24Adapter(Bitrix24Client(running.webhook_url, clock=clock, rate=2, burst=50))
        following.client.bucket = LeakyBucket(2, 45, clock)  # a new process's bucket: it never saw those requests
        resume_bucket(following, store, clock)
        for index in range(45):
            following.client.call("crm.deal.get", {"id": index % 5 + 1})
        assert admin(running, "stats", method="GET")["query_limit_exceeded"] == 0
    finally:
        store.close()
        running.stop()


def test_what_a_run_left_in_the_bucket_drains_away_and_a_first_run_knows_nothing() -> None:
    clock = ManualClock()
    bucket = LeakyBucket(2, 45, clock)
    bucket.resume(40.0, seconds_ago=5)
    assert bucket.level() == pytest.approx(30.0)
    clock.advance(15)
    assert bucket.level() == 0.0
    bucket.resume(40.0, seconds_ago=3600)  # an hour ago: the portal's bucket is long empty
    assert bucket.level() == 0.0
