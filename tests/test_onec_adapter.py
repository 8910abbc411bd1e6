"""The 1C adapter against the 1C emulator over HTTP, for both profiles: the order's whole life."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from b24sync.onec import errors
from b24sync.onec.adapter import OneCAdapter
from b24sync.onec.documents import DraftRow, OrderDraft, document_total, row_totals
from b24sync_emulators.dataset import Dataset, generate
from b24sync_emulators.onec.schema import UT11_VAT_ENUM
from b24sync_emulators.onec.server import RunningBase, start_base
from tests.onec_support import PASSWORD, USER, Accountant, onec_config

DATASET = generate(60, 3)


@pytest.fixture(params=["ut11", "bp30"])
def running(request: pytest.FixtureRequest) -> Iterator[RunningBase]:
    base = start_base(profile=request.param, dataset=DATASET, user=USER, password=PASSWORD)
    yield base
    base.stop()


@pytest.fixture
def adapter(running: RunningBase) -> OneCAdapter:
    return OneCAdapter.from_config(onec_config(running))


def draft_for(adapter: OneCAdapter, dataset: Dataset, deal_id: int, *, include_vat: bool, rows: int = 20,
              shift: int = 0) -> OrderDraft:
    company = dataset.companies[0]
    counterparty = adapter.counterparty_by_inn(company.inn, company.kpp)
    assert counterparty is not None
    products = [product for product in dataset.products if product.in_onec]
    lines = []
    for index in range(rows):
        product = products[(index + shift) % len(products)]
        rate = None if product.vat_rate is None else Decimal(product.vat_rate)
        lines.append(DraftRow(product.ref_key, product.name, Decimal(index % 7 + 1), product.price + Decimal("0.37"),
                              rate))
    contract = adapter.contract(counterparty["Ref_Key"]) if adapter.profile.name == "bp30" else None
    return OrderDraft(deal_id=deal_id, comment=f"Сделка №{deal_id}: «Поставка» O'Neil & Co #1 100%",
                      counterparty_ref=counterparty["Ref_Key"], partner_ref=counterparty.get("Партнер_Key"),
                      currency_code="RUB", prices_include_vat=include_vat, rows=tuple(lines),
                      manager_ref=adapter.manager(3),
                      contract_ref=contract)


@pytest.mark.parametrize("include_vat", [True, False])
def test_a_twenty_row_document_is_created_found_updated_and_posted(running: RunningBase, adapter: OneCAdapter,
                                                                  include_vat: bool) -> None:
    assert adapter.publication_problems() == []
    draft = draft_for(adapter, DATASET, 501, include_vat=include_vat)
    created = adapter.create_document(draft)
    assert created.posted and created.total == document_total(draft)
    stored = running.base.get(adapter.profile.order_entity, created.ref)
    rows = stored["Товары"]
    assert [row["LineNumber"] for row in rows] == [str(n) for n in range(1, 21)]
    for row, line in zip(rows, draft.rows, strict=True):
        totals = row_totals(line, include_vat)
        assert Decimal(str(row["Сумма"])) == totals.amount and Decimal(str(row["СуммаНДС"])) == totals.vat
        assert Decimal(str(row["Цена"])) * Decimal(str(row["Количество"])) == totals.amount
    with_vat = sum((Decimal(str(row.get("СуммаСНДС", row["Сумма"]))) for row in rows), Decimal(0))
    if adapter.profile.name == "bp30" and not include_vat:
        with_vat += sum((Decimal(str(row["СуммаНДС"])) for row in rows), Decimal(0))
    assert Decimal(str(stored["СуммаДокумента"])) == with_vat == document_total(draft)  # to the kopeck
    assert stored["Комментарий"] == draft.comment
    if adapter.profile.name == "ut11":
        assert stored["МаксимальныйКодСтроки"] == "20" and stored["ХозяйственнаяОперация"] == "РеализацияКлиенту"
        assert stored["Статус"] == "КОтгрузке" and stored["ЦенаВключаетНДС"] is include_vat
        assert all(row["СтавкаНДС_Key"] != "00000000-0000-0000-0000-000000000000" for row in rows)
    else:
        assert all(row["СтавкаНДС"].startswith(("НДС", "Без")) for row in rows)

    found = adapter.find_by_deal(501)
    assert found is not None and found.ref == created.ref
    with pytest.raises(errors.DuplicateDocumentError, match="deal 501"):
        adapter.create_document(draft)
    assert len(running.base.records[adapter.profile.order_entity]) == 1

    fewer = draft_for(adapter, DATASET, 501, include_vat=include_vat, rows=3, shift=5)
    updated = adapter.update_document(created.ref, fewer, created.data_version)
    stored = running.base.get(adapter.profile.order_entity, created.ref)
    assert len(stored["Товары"]) == 3 and updated.total == document_total(fewer) and updated.posted
    with pytest.raises(errors.ConflictError, match="changed in 1C"):
        adapter.update_document(created.ref, draft, created.data_version)  # the old version is stale now


def test_the_older_ut11_vat_enum_is_learned_from_metadata() -> None:
    base = start_base(profile="ut11", dataset=DATASET, user=USER, password=PASSWORD, vat_form=UT11_VAT_ENUM)
    try:
        adapter = OneCAdapter.from_config(onec_config(base))
        assert adapter.resolved().vat_form == "enum"
        created = adapter.create_document(draft_for(adapter, DATASET, 7, include_vat=True, rows=4))
        rows = base.base.get("Document_ЗаказКлиента", created.ref)["Товары"]
        assert {row["СтавкаНДС"] for row in rows} <= {"НДС22", "НДС10", "НДС0", "БезНДС"}
    finally:
        base.stop()


def test_the_accountants_work_shows_in_the_next_poll(running: RunningBase, adapter: OneCAdapter) -> None:
    draft = draft_for(adapter, DATASET, 77, include_vat=True, rows=5)
    order = adapter.create_document(draft)
    since = datetime.now() - timedelta(days=1)
    first = adapter.poll([order.ref], {}, since)
    snapshot = first.snapshots[order.ref]
    assert snapshot.payment_status == "unpaid" and snapshot.shipment_date is None and snapshot.tracking_number is None
    known = first.versions

    idle = adapter.poll([order.ref], known, since)
    assert idle.snapshots == {}
    assert idle.requests == 1 + len(adapter._related())  # the rescan and the window, nothing more

    accountant = Accountant(running)
    total = float(order.total)
    if adapter.profile.name == "ut11":
        invoice = accountant.invoice(order.ref, total)
    accountant.pay(order.ref, round(total / 3, 2))
    changed = adapter.poll([order.ref], known, since)
    snapshot = changed.snapshots[order.ref]
    assert snapshot.payment_status == "partial" and snapshot.paid == Decimal(str(round(total / 3, 2)))
    if adapter.profile.name == "ut11":
        assert [item.number for item in snapshot.invoices] == [invoice["Number"]]
    else:
        assert [item.number for item in snapshot.invoices] == [order.number]
    known = changed.versions

    shipped_on = (datetime.now() - timedelta(hours=2)).replace(microsecond=0)
    accountant.ship(order.ref, total, "RU123456789CN", shipped_on.isoformat())
    accountant.pay(order.ref, round(total - round(total / 3, 2), 2))
    final = adapter.poll([order.ref], known, since).snapshots[order.ref]
    assert final.payment_status == "paid" and final.shipment_date == shipped_on.date()
    assert final.tracking_number == "RU123456789CN"


def test_posting_refused_by_1c_is_a_business_error_for_that_document(running: RunningBase,
                                                                    adapter: OneCAdapter) -> None:
    draft = draft_for(adapter, DATASET, 88, include_vat=True, rows=2)
    product = running.base.get("Catalog_Номенклатура", draft.rows[0].nomenclature_ref)
    product["DeletionMark"] = True
    adapter.resolved()
    before = adapter.client.requests_by_entity.get("Catalog_Организации", 0)
    with pytest.raises(errors.BusinessError) as caught:
        adapter.create_document(draft)
    assert caught.value.remote_code == "-1" and "помечена на удаление" in caught.value.onec_message
    # a refused write may come of a stale default: they are looked up again before the next write, once
    adapter.resolved()
    again = adapter.client.requests_by_entity.get("Catalog_Организации", 0)
    assert again > before
    assert adapter.find_by_deal(88) is not None  # the document exists, unposted: nothing is lost
    with pytest.raises(errors.BusinessError):
        adapter.create_document(draft_for(adapter, DATASET, 89, include_vat=True, rows=2))
    adapter.resolved()
    assert adapter.client.requests_by_entity.get("Catalog_Организации", 0) == again  # not at every refusal


def test_lookups_by_article_and_ref_with_hostile_values(running: RunningBase, adapter: OneCAdapter) -> None:
    hostile = [product for product in DATASET.products if product.in_onec][:3]
    by_article = adapter.nomenclature_by_articles([product.article for product in hostile] + ["нет такого"])
    assert set(by_article) == {product.article for product in hostile}
    assert {row["Ref_Key"] for row in by_article.values()} == {product.ref_key for product in hostile}
    assert set(adapter.nomenclature_by_refs([product.ref_key for product in hostile])) == {
        product.ref_key for product in hostile}
    strange = ["O'Neil 5\"", "A&B#1", "PCT%100", "Ёлка 🎄 'x' or 1 eq 1", "x') or (Ref_Key ne guid'0"]
    counterparty = adapter.counterparty_by_inn(DATASET.companies[1].inn)
    for index, value in enumerate(strange):
        made = adapter.create_counterparty(value, value + " полное", inn=f"77{index:08d}")
        assert made["Description"] == value
        assert [row["Ref_Key"] for row in adapter.counterparties_by_name(value)] == [made["Ref_Key"]]
        assert adapter.counterparty_by_inn(f"77{index:08d}")["Description"] == value
    assert len(adapter.counterparties_by_name("x') or (Ref_Key ne guid'0")) == 1
    long_name = "Индивидуальный предприниматель " + "Очень-Длинная-Фамилия " * 12  # over Description's 150
    made = adapter.create_counterparty(long_name, long_name)
    assert [row["Ref_Key"] for row in adapter.counterparties_by_name(long_name)] == [made["Ref_Key"]]  # as stored
    assert adapter.nomenclature_by_articles(["' or '1' eq '1"]) == {}
    assert counterparty is not None


def test_many_refs_stay_under_the_url_limit(running: RunningBase, adapter: OneCAdapter) -> None:
    refs = [product.ref_key for product in DATASET.products if product.in_onec]
    refs += [f"00000000-0000-4000-8000-{index:012d}" for index in range(150)]
    before = running.app.stats.snapshot()["http_requests"]
    found = adapter.nomenclature_by_refs(refs)
    assert set(found) == {product.ref_key for product in DATASET.products if product.in_onec}
    assert running.app.stats.snapshot()["http_requests"] - before >= 4  # split into several requests


def test_defaults_that_do_not_resolve_name_the_key(running: RunningBase) -> None:
    from b24sync.config import OneCDefaults

    adapter = OneCAdapter.from_config(onec_config(running, defaults=OneCDefaults(
        organisation="ООО «Нет такой»", warehouse="Основной склад", agreement="Основное соглашение (розница и опт)")))
    with pytest.raises(errors.SetupError, match="at 'onec.defaults.organisation'"):
        adapter.resolved()


def test_counterparties_are_not_created_when_the_config_forbids_it(running: RunningBase) -> None:
    adapter = OneCAdapter.from_config(onec_config(running, create_counterparties=False))
    with pytest.raises(errors.SetupError, match="'onec.create_counterparties' is false"):
        adapter.create_counterparty("ООО Новая", "ООО Новая", inn="7700000001")


def test_managers_and_currencies(running: RunningBase) -> None:
    adapter = OneCAdapter.from_config(onec_config(running, managers={3: "Петрова Ольга"},
                                                  default_manager="Иванов Алексей"))
    olga = adapter.manager(3)
    assert running.base.get("Catalog_Пользователи", olga)["Description"] == "Петрова Ольга"
    assert adapter.manager(999) != olga and adapter.manager(None) is not None
    assert adapter.currency("RUB") == adapter.currency("643") == adapter.currency(None)
    with pytest.raises(errors.SetupError, match="no currency «XYZ»"):
        adapter.currency("XYZ")
    wrong = OneCAdapter.from_config(onec_config(running, managers={3: "Нет Такого"}))
    with pytest.raises(errors.SetupError, match="at 'onec.managers'"):
        wrong.manager(3)


def test_registers_follow_payments_and_sales(running: RunningBase, adapter: OneCAdapter) -> None:
    order = adapter.create_document(draft_for(adapter, DATASET, 91, include_vat=True, rows=2))
    accountant = Accountant(running)
    accountant.pay(order.ref, float(order.total) / 2)
    if adapter.profile.name == "ut11":
        rows = adapter.client.get("InformationRegister_СостоянияЗаказовКлиентов", {
            "$filter": f"Заказ_Key eq guid'{order.ref}'"})["value"]
        assert rows[0]["ПроцентОплаты"] == 50 and rows[0]["Состояние"] == "ГотовКОтгрузке"
        accountant.ship(order.ref, float(order.total), "T1")
        rows = adapter.client.get("InformationRegister_СостоянияЗаказовКлиентов", {
            "$filter": f"Заказ_Key eq guid'{order.ref}'"})["value"]
        assert rows[0]["ПроцентОтгрузки"] == 100 and rows[0]["Состояние"] == "ОжидаетсяОплатаПослеОтгрузки"
    else:
        rows = adapter.client.get("InformationRegister_СтатусыДокументов", {
            "$filter": f"Документ eq cast(guid'{order.ref}', 'Document_СчетНаОплатуПокупателю')"})["value"]
        assert rows[0]["Статус"] == "ОплаченЧастично"


def test_finding_many_deals_splits_requests_under_the_url_limit(running: RunningBase, adapter: OneCAdapter) -> None:
    created = adapter.create_document(draft_for(adapter, DATASET, 123456, include_vat=True, rows=1))
    found = adapter.find_by_deals(list(range(100000, 100400)) + [123456])
    assert set(found) == {123456} and found[123456].ref == created.ref


@pytest.mark.parametrize("profile", ["ut11", "bp30"])
def test_the_first_pull_of_many_new_bindings_reads_each_kind_in_chains_not_per_document(tmp_path: Path,
                                                                                       profile: str) -> None:
    from dataclasses import replace

    from tests.sync_rig import Rig

    rig = Rig.start(tmp_path, profile=profile, deals=80)
    try:
        for deal in rig.portal.portal.deals.values():  # every deal in its trigger stage
            deal["STAGE_ID"] = "EXECUTING" if deal["CATEGORY_ID"] == "0" else "C1:EXECUTING"
        engine = rig.engine(sync=replace(rig.config.sync, max_creates_per_cycle=1000),
                            onec=replace(rig.config.onec, invoice_pdf="off"))  # the reads, not the PDFs, counted
        created = engine.push().created
        assert created > 60
        order = rig.documents_for(next(iter(engine.store.bindings())).deal_id)[0]
        rig.accountant().pay(order["Ref_Key"], 10.0)  # one of them paid in part: still found among the rest
        rig.reset_stats()
        pulled = engine.pull()
        requests_sent = rig.base.app.stats.snapshot()["http_requests"]
        # the orders in chains of ~27, one window listing per kind, and the kinds around the one paid order:
        # orders made today that no document of the window refers to have none around them
        assert requests_sent <= created // 20 + 12, (requests_sent, created)
        binding = engine.store.binding_for_deal(next(iter(engine.store.bindings())).deal_id)
        assert pulled.written_back >= created and binding is not None
        deal = rig.deal(binding.deal_id)
        assert deal["UF_CRM_1C_PAID_AMOUNT"] == "10.00|RUB"
    finally:
        rig.stop()


@pytest.mark.parametrize("profile", ["ut11", "bp30"])
def test_the_first_pull_of_many_old_bindings_lists_the_documents_around_them_by_date(tmp_path: Path,
                                                                                    profile: str) -> None:
    """Bindings that are not new (a state rebuilt days later, a pull long delayed): asking for the documents
    around 60 orders in chains of composite terms would take ten requests a kind; one `$count` and one page do."""
    from dataclasses import replace

    from tests.sync_rig import Rig

    rig = Rig.start(tmp_path, profile=profile, deals=80)
    try:
        for deal in rig.portal.portal.deals.values():
            deal["STAGE_ID"] = "EXECUTING" if deal["CATEGORY_ID"] == "0" else "C1:EXECUTING"
        engine = rig.engine(sync=replace(rig.config.sync, max_creates_per_cycle=1000),
                            onec=replace(rig.config.onec, invoice_pdf="off"))
        created = engine.push().created
        assert created > 60
        paid = next(iter(engine.store.bindings())).deal_id
        rig.accountant().pay(rig.documents_for(paid)[0]["Ref_Key"], 10.0)
        rig.clock.advance(3 * 86400)  # read back three days later: no longer new orders
        rig.reset_stats()
        engine.pull()
        asked = rig.base.app.stats.snapshot()["http_requests_by_method"]
        order = "Document_ЗаказКлиента" if profile == "ut11" else "Document_СчетНаОплатуПокупателю"
        around = {entity: count for entity, count in asked.items() if entity.startswith("Document_")
                  and entity != order}
        # per kind around the orders: the window's listing, a $count and one page (chains would take ~10)
        assert len(around) >= 3 and all(count <= 3 for count in around.values()), asked
        assert asked[order] <= 2 * (created // 25 + 1) + 1, asked  # their versions and heads in chains of ~27
        assert rig.deal(paid)["UF_CRM_1C_PAID_AMOUNT"] == "10.00|RUB"
        unpaid = next(binding.deal_id for binding in engine.store.bindings() if binding.deal_id != paid)
        assert rig.deal(unpaid)["UF_CRM_1C_PAID_AMOUNT"] in ("", None, "0.00|RUB")
    finally:
        rig.stop()


@pytest.mark.parametrize("profile", ["ut11", "bp30"])
def test_a_payment_dated_weeks_before_its_new_order_is_still_found_by_the_first_pull(tmp_path: Path,
                                                                                     profile: str) -> None:
    """The first pull reads nothing around an order made today unless a document of the window refers to it:
    the window starts two months back, so a prepayment dated weeks before the order is among them."""
    from datetime import datetime, timedelta

    from tests.sync_rig import Rig

    rig = Rig.start(tmp_path, profile=profile)
    try:
        rig.move(1)
        engine = rig.engine()
        assert engine.push().created == 1
        order = rig.documents_for(1)[0]
        payment = rig.accountant().pay(order["Ref_Key"], 25.0)
        earlier = (datetime.fromisoformat(order["Date"]) - timedelta(days=20)).isoformat()
        entity = payment["odata.metadata"].rsplit("#", 1)[1].split("/")[0]
        rig.accountant().patch(entity, payment["Ref_Key"], {"Date": earlier})
        engine.pull()
        assert rig.deal(1)["UF_CRM_1C_PAID_AMOUNT"] == "25.00|RUB"
    finally:
        rig.stop()


def test_a_lower_url_limit_makes_shorter_chains_with_the_same_answer(running: RunningBase) -> None:
    """`onec.max_url_length`: for a web server that takes shorter URLs than IIS's default 2048."""
    from dataclasses import replace

    refs = [product.ref_key for product in DATASET.products if product.in_onec]
    wide = OneCAdapter.from_config(onec_config(running))
    narrow = OneCAdapter.from_config(replace(onec_config(running), max_url_length=700))
    sent = []
    for adapter in (wide, narrow):
        before = adapter.client.requests_sent
        found = adapter.nomenclature_by_refs(refs)
        sent.append(adapter.client.requests_sent - before)
        assert set(found) == set(refs)
    assert sent[1] > sent[0]
    with pytest.raises(errors.QueryError, match="over the 700"):
        narrow.client.url("Catalog_Номенклатура", {"$filter": "Description eq '" + "я" * 200 + "'"})


def test_a_web_server_that_refuses_long_urls_gets_shorter_chains_by_itself(running: RunningBase) -> None:
    """A proxy in front of 1C that takes shorter request lines than IIS's 2048 and no `onec.max_url_length`:
    the refused chain is asked for in halves, and the chains after it are made short enough."""
    import requests

    requests.post(f"{running.root}/_emulator/settings", json={"max_url": 1000}, timeout=5).raise_for_status()
    refs = [product.ref_key for product in DATASET.products if product.in_onec]
    adapter = OneCAdapter.from_config(onec_config(running))
    assert set(adapter.nomenclature_by_refs(refs)) == set(refs)
    assert running.app.stats.snapshot()["responses_by_status"].get("404", 0) >= 1
    for _ in range(4):  # each refusal brings the chains closer to the proxy's limit; a few settle it
        running.app.stats.reset()
        assert set(adapter.nomenclature_by_refs(refs)) == set(refs)
        if "404" not in running.app.stats.snapshot()["responses_by_status"]:
            break
    assert "404" not in running.app.stats.snapshot()["responses_by_status"]
    assert 900 < adapter.client.chain_url < 2048  # just under the proxy's limit, not far below
    order = adapter.create_document(draft_for(adapter, DATASET, 90, include_vat=True, rows=3))
    assert order.ref in adapter.headers([order.ref])  # a single long read is no chain: it is sent as it is


def test_chains_1c_refuses_to_compare_are_replaced_by_a_listing_by_date(running: RunningBase,
                                                                        adapter: OneCAdapter) -> None:
    """A base that answers code 21 to cast(): the payments around an order are listed by date and matched by
    b24sync, and the order shows its payment all the same."""
    import requests

    order = adapter.create_document(draft_for(adapter, DATASET, 78, include_vat=True, rows=2))
    Accountant(running).pay(order.ref, 10.0)
    entities = adapter._payment_entities()
    requests.post(f"{running.root}/_emulator/faults", json={"faults": [
        {"method": entity, "contains": "cast(", "status": 400, "error": "21",
         "description": "Функция cast не поддерживается"} for entity in entities]},
                  timeout=5).raise_for_status()
    snapshot = adapter.snapshots([order.ref])[order.ref]
    assert snapshot.paid == Decimal("10.00") and snapshot.payment_status == "partial"


@pytest.mark.parametrize("profile", ["ut11", "bp30"])
def test_the_searches_by_deal_marker_of_one_cycle_list_each_document_once(profile: str) -> None:
    """A cycle's chunks each search for their deals' documents: the later searches list only what was dated before
    the first one's window or made since, and still find every document, never one marked for deletion."""
    from b24sync.clock import ManualClock
    from b24sync.onec.lifecycle import MarkerIndex

    clock = ManualClock()
    base = start_base(profile=profile, dataset=DATASET, user=USER, password=PASSWORD, clock=clock)
    try:
        config = onec_config(base)
        adapter = OneCAdapter.from_config(config, clock=clock)
        since = datetime.fromtimestamp(clock.time()).astimezone() - timedelta(days=1)
        first = adapter.create_document(draft_for(adapter, DATASET, 501, include_vat=True, rows=1))
        cycle = MarkerIndex(clock)
        assert set(adapter.find_by_deals([501, 502], since, cycle)) == {501}
        clock.advance(120)
        second = adapter.create_document(draft_for(adapter, DATASET, 502, include_vat=True, rows=1))
        base.app.stats.reset()
        found = adapter.find_by_deals([501, 502], since, cycle)  # the second chunk of the cycle
        assert found[501].ref == first.ref and found[502].ref == second.ref
        entity = adapter.profile.order_entity
        assert base.app.stats.snapshot()["http_requests_by_method"][entity] == 2  # what was made since; the headers
        assert cycle.documents.keys() == {"501", "502"}
        Accountant(base).mark_for_deletion(entity, first.ref)
        assert adapter.find_by_deals([501], since, cycle)[501].deleted  # marked since it was listed: not a live one
        older = since - timedelta(days=30)  # a deal created a month ago: the weeks before are listed too
        backdated = adapter.create_document(draft_for(adapter, DATASET, 503, include_vat=True, rows=1))
        Accountant(base).patch(entity, backdated.ref, {"Date": (older + timedelta(days=3)).replace(
            tzinfo=None).isoformat(timespec="seconds")})
        assert adapter.find_by_deals([503], older, cycle)[503].ref == backdated.ref
        anew = adapter.find_by_deals([501, 502, 503], older, MarkerIndex(clock))  # a new cycle
        assert set(anew) == {501, 502, 503} and [anew[deal_id].deleted for deal_id in (501, 502, 503)] == [
            True, False, False]  # the marked document is found as marked: the deal has one, not none
        lean = MarkerIndex(clock, settled=lambda deal_ids: {502, 503} & set(deal_ids))  # bound: never searched for
        assert set(adapter.find_by_deals([999], older, lean)) == set()
        # what deals bound to a live document have is not kept for the cycle's later searches (501's is marked)
        assert lean.documents.keys() == {"501"}
    finally:
        base.stop()
