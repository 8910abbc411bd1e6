"""A push keeps a short listing's work in memory and lists a long one again: the outcome is the same."""

from __future__ import annotations

from pathlib import Path

from tests.sync_rig import Rig


def deal_listings(rig: Rig) -> int:
    return rig.portal.app.stats.snapshot()["commands_by_method"].get("crm.deal.list", 0)


def test_a_listing_too_long_to_keep_is_listed_again_and_each_deal_gets_one_document(tmp_path: Path) -> None:
    rig = Rig.start(tmp_path)
    try:
        fine = [deal_id for deal_id, rows in rig.portal.portal.product_rows.items()
                if rows and not any("(нет в 1С)" in row["PRODUCT_NAME"] for row in rows)]
        first, second = sorted(fine)[:6], sorted(fine)[6:12]
        for deal_id in first:
            rig.move(deal_id)
        engine = rig.engine()
        engine.held_deals = 3  # six deals to work on: more than it keeps
        rig.reset_stats()
        report = engine.push()
        streamed = deal_listings(rig)
        assert report.created == 6 and not report.failed, report.failed
        assert report.listed == 40
        for deal_id in first:
            assert len(rig.documents_for(deal_id)) == 1
            assert rig.deal(deal_id)["UF_CRM_1C_ORDER_ID"]

        for deal_id in second:
            rig.move(deal_id)
        rig.clock.advance(300)
        rig.reset_stats()
        kept = rig.engine().push()  # the default keeps six deals' work
        assert kept.created == 6 and not kept.failed
        assert streamed == deal_listings(rig) + 1  # the long one cost one more listing page, nothing else
        assert rig.engines[-1].push().created == 0
    finally:
        rig.stop()
