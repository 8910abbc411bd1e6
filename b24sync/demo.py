"""The end-to-end demo on the emulators, narrated for a person watching the terminal.

Until the sync engine lands it starts both emulators on one generated dataset
and walks b24sync's clients through what a cycle does: list deals, read their
rows, create the user fields, write back, attach a file; check the 1C
publication, resolve the defaults, and match the deals' products in 1C.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from b24sync.bitrix24.adapter import Bitrix24Adapter
from b24sync.bitrix24.client import Bitrix24Client
from b24sync.config import DealFields, OneCConfig, OneCDefaults
from b24sync.onec.adapter import OneCAdapter
from b24sync.sync.fields import deal_field_specs
from b24sync_emulators.bitrix24.server import start_portal
from b24sync_emulators.dataset import generate
from b24sync_emulators.onec.server import start_base

DEMO_FIELDS = deal_field_specs(DealFields())


def say(text: str) -> None:
    print(text, flush=True)


def run_demo(deals: int = 300) -> int:
    started = time.monotonic()
    dataset = generate(deals, 7)
    portal = start_portal(dataset=dataset)
    base = start_base(profile="ut11", dataset=dataset, user="Обмен", password="demo")
    try:
        say(f"▶ Bitrix24 portal emulator at {portal.root} with {deals} generated deals "
            f"(limits as in the cloud: 2 requests/s, burst 50).")
        client = Bitrix24Client(portal.webhook_url)
        adapter = Bitrix24Adapter(client)

        since = datetime.now(UTC) - timedelta(days=400)
        listing = adapter.deals_changed_since(since, categories=[0, 1])
        before = client.requests_sent
        rows = list(listing)
        say(f"✔ Listed {len(rows)} deals changed since {since:%Y-%m-%d} in {client.requests_sent - before} HTTP "
            f"requests (pages chained inside batches); the portal's clock said {listing.server_time}.")

        sample = [int(row["ID"]) for row in rows[:50]]
        products = adapter.product_rows(sample)
        total_rows = sum(len(items) for items in products.values())
        say(f"✔ Read {total_rows} product rows of {len(sample)} deals in one batch request.")

        created = [spec.name for spec in DEMO_FIELDS if adapter.ensure_deal_userfield(spec)]
        again = [spec.name for spec in DEMO_FIELDS if adapter.ensure_deal_userfield(spec)]
        say(f"✔ Created the deal fields {', '.join(created)}; a second run created {len(again)} (idempotent).")

        deal_id = sample[0]
        adapter.update_deal(deal_id, {"UF_CRM_1C_ORDER_ID": "demo-order", "UF_CRM_TRACKING_NUMBER": "RU123456789"})
        storage = adapter.storages()[0]
        folder = adapter.find_or_create_folder(int(storage["ID"]), "Счета 1С")
        uploaded = adapter.upload_file(folder, "Счет 1 от 26.11.2026.pdf", b"%PDF-1.4 demo\n%%EOF\n")
        link = adapter.external_link(uploaded.id)
        adapter.update_deal(deal_id, {"UF_CRM_INVOICE_URL": link})
        adapter.add_timeline_comment(deal_id, "Демо: счёт из 1С приложен.", [(uploaded.name, b"%PDF-1.4 demo\n")])
        say(f"✔ Deal {deal_id}: wrote the order and tracking fields, uploaded «{uploaded.name}» to Disk, "
            f"its public link {link}, and a timeline comment.")

        say(f"▶ 1C base emulator (УТ 11) at {base.odata_root}.")
        onec = OneCAdapter.from_config(OneCConfig(
            url=base.odata_root, user="Обмен", password="demo", profile="ut11",
            defaults=OneCDefaults(organisation="ООО «Электросбыт»", warehouse="Основной склад",
                                  agreement="Основное соглашение (розница и опт)")))
        problems = onec.publication_problems()
        say(f"✔ The 1C publication has everything the ut11 profile needs ({len(problems)} problems); rows carry VAT "
            f"as {onec.resolved().vat_form}, the deal ID goes to the additional requisite «ID сделки Битрикс24».")
        xml_ids = {product.xml_id for product in adapter.products(
            {row.product_id for items in products.values() for row in items if row.product_id}).values()}
        matched = onec.nomenclature_by_refs(xml_ids)
        missing = len(xml_ids) - len(matched)
        say(f"✔ {len(matched)} of the {len(xml_ids)} products in those deals exist in 1C under the same Ref_Key; "
            f"{missing} exists only in Bitrix24, on purpose, to show how such a deal is reported.")

        stats = portal.app.stats.snapshot()
        say(f"✔ The portal served {stats['http_requests']} HTTP requests ({stats['batches']} batches) and answered "
            f"{stats['responses_by_status'].get('503', 0)} × QUERY_LIMIT_EXCEEDED.")
        say(f"Done in {time.monotonic() - started:.1f} s. Next: `scripts/test` runs every test; "
            f"`b24sync emulate bitrix24 --generate 200` gives you a portal to try things on.")
        return 0
    finally:
        portal.stop()
        base.stop()
