"""Every rule of the sync as a row: the planner's decision from values alone (no HTTP, no database)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from b24sync.onec.documents import ContentRow, DocumentContent, DocumentHeader, InvoiceInfo, Snapshot
from b24sync.store.views import BindingView, ConflictView, FailureView, IntentView
from b24sync.sync import mapping, plan
from b24sync.sync.mapping import Customer, MappingError, ProjectedRow, Projection

NOW = 1_000_000.0
REF = "11111111-1111-1111-1111-111111111111"
PRODUCT = "22222222-2222-2222-2222-222222222222"
CURRENCY = "33333333-3333-3333-3333-333333333333"
MANAGER = "44444444-4444-4444-4444-444444444444"


def projection(price: str = "100", quantity: str = "2", title: str = "Поставка") -> Projection:
    return Projection(deal_id=7, comment=f"{title} (сделка Битрикс24 №7)", currency="RUB",
                      amount=Decimal(price) * Decimal(quantity), prices_include_vat=True,
                      rows=(ProjectedRow(1, PRODUCT, None, "Кабель", Decimal(quantity), Decimal(price), Decimal(22)),),
                      customer=Customer("company", 3, "ООО Ромашка", "ООО Ромашка", "7707083893", "770701001"),
                      manager_id=1)


def content(price: str = "100", quantity: str = "2", title: str = "Поставка") -> DocumentContent:
    return DocumentContent(comment=f"{title} (сделка Битрикс24 №7)", amount=Decimal(price) * Decimal(quantity),
                           rows=(ContentRow(PRODUCT, Decimal(quantity), Decimal(price)),), currency_ref=CURRENCY,
                           manager_ref=MANAGER)


SENT = projection()


def header(version: str = "v1", posted: bool = True, deleted: bool = False, document: DocumentContent | None = None,
           paid: str = "0", shipped: bool = False) -> DocumentHeader:
    return DocumentHeader(ref=REF, number="ЭС00-000007", data_version=version, posted=posted, deleted=deleted,
                          content=document or content(), paid=Decimal(paid), shipped=shipped)


def binding(**changes: object) -> BindingView:
    values = dict(deal_id=7, onec_ref=REF, entity="Document_ЗаказКлиента", number="ЭС00-000007",
                  pushed_hash=SENT.hash, pushed_projection=SENT.remembered(), posted=True, written_version="v1",
                  pulled_version="v1", written_fields={"UF_CRM_1C_ORDER_ID": REF})
    values.update(changes)
    return BindingView(**values)  # type: ignore[arg-type]


def item(**changes: object) -> plan.PushItem:
    values: dict[str, object] = dict(deal_id=7, in_stage=True, passes_filters=True, projection=SENT,
                                     wanted=content(), binding=binding(), header=header(), written_order_id=REF)
    values.update(changes)
    return plan.PushItem(**values)  # type: ignore[arg-type]


def unbound(**changes: object) -> plan.PushItem:
    return item(**{"binding": None, "header": None, "written_order_id": "", **changes})


FAILED = FailureView(deal_id=7, item="deal:7", reason="Товар не найден", error="", attempts=1,
                     next_retry_at=NOW + 60, commented_reason="", last_failed_at=NOW - 10)
DUE = replace(FAILED, next_retry_at=NOW - 1)
ERROR = MappingError("В сделке нет товаров", code="no_products")
CHANGED = projection(price="150")
OPEN_CONFLICT = ConflictView(7, REF, "Документ изменён в 1С", NOW - 100)

COMMENT = plan.Policy(now=NOW)
UNPOST = plan.Policy(on_locked_document="unpost_and_update", now=NOW)
CLOSE = plan.Policy(on_leave_trigger="close_order", now=NOW)
BP30_CLOSE = plan.Policy(on_leave_trigger="close_order", can_close=False, now=NOW)


def kinds(steps: list[plan.Step]) -> list[str]:
    return [type(step).__name__ for step in steps]


ROWS = [
    # -- deals without a document --
    ("not in a trigger stage: nothing", unbound(in_stage=False), COMMENT, []),
    ("left the trigger while failing: the failure ends", unbound(in_stage=False, failure=DUE), COMMENT,
     ["ClearFailure"]),
    ("in a trigger stage: create, write the order back, post", unbound(), COMMENT, ["Create", "WriteBack", "Post"]),
    ("posting switched off: create and write back", unbound(), replace(COMMENT, post_documents=False),
     ["Create", "WriteBack"]),
    ("a filter excludes it: no new document", unbound(passes_filters=False), COMMENT, []),
    ("it cannot be mapped: it fails alone", unbound(projection=None, wanted=None, error=ERROR), COMMENT, ["Fail"]),
    ("amounts that disagree during an edit in progress: retried soon, not told yet",
     unbound(projection=None, wanted=None, error=MappingError("Сумма сделки", code="amount_mismatch"),
             transient=True), COMMENT, ["Fail"]),
    ("failed, retry not due, not edited since: it waits", unbound(failure=FAILED, modified_at=NOW - 20), COMMENT, []),
    ("failed, but edited since: tried now", unbound(failure=FAILED, modified_at=NOW - 5), COMMENT,
     ["Create", "WriteBack", "Post", "ClearFailure"]),
    ("failed, asked for by ID: tried now", unbound(failure=FAILED, selected=True), COMMENT,
     ["Create", "WriteBack", "Post", "ClearFailure"]),
    ("retry due: tried, the failure ends once it went through", unbound(failure=DUE), COMMENT,
     ["Create", "WriteBack", "Post", "ClearFailure"]),
    # -- recovery: a document made for the deal exists but is not bound --
    ("found by its marker, same content: bound, no write to 1C", unbound(header=header()), COMMENT,
     ["Bind", "WriteBack"]),
    ("found unposted (crash before the posting): bound and posted", unbound(header=header(posted=False)), COMMENT,
     ["Bind", "WriteBack", "Post"]),
    ("found unposted, the deal changed since: bound, updated, posted",
     unbound(header=header(posted=False), projection=CHANGED, wanted=content(price="150")), COMMENT,
     ["Bind", "WriteBack", "Update", "Post"]),
    ("found only marked for deletion (a lost state): bound again for the pull to report, nothing created",
     unbound(header=header(deleted=True, posted=False)), COMMENT, ["Bind"]),
    ("found only marked for deletion, resync --recreate: a new document",
     unbound(header=header(deleted=True, posted=False), recreate=True), COMMENT, ["Create", "WriteBack", "Post"]),
    ("found posted and different: a conflict naming the real difference",
     unbound(header=header(), projection=CHANGED, wanted=content(price="150")), COMMENT,
     ["Bind", "WriteBack", "Conflict"]),
    # -- bound deals --
    ("bound and unchanged: nothing", item(), COMMENT, []),
    ("bound, never posted (a refused posting): posted now",
     item(binding=binding(posted=False), header=header(posted=False)), COMMENT, ["Post"]),
    ("bound, unposted by the accountant: left alone", item(binding=binding(posted=True), header=header(posted=False)),
     COMMENT, []),
    ("bound, the deal never heard of its order: written back", item(written_order_id=""), COMMENT, ["WriteBack"]),
    ("changed, unposted: updated and posted",
     item(projection=CHANGED, wanted=content(price="150"), header=header(posted=False)), COMMENT, ["Update", "Post"]),
    ("changed, posted, on_locked_document comment: a conflict",
     item(projection=CHANGED, wanted=content(price="150")), COMMENT, ["Conflict"]),
    ("changed, posted, unpost_and_update: unposted, updated, posted",
     item(projection=CHANGED, wanted=content(price="150")), UNPOST, ["Update", "Post"]),
    ("changed in 1C by the accountant: never overwritten",
     item(projection=CHANGED, wanted=content(price="150"), header=header(version="v2")), UNPOST, ["Conflict"]),
    ("the delivery address typed after the order was sent: updated",
     item(projection=replace(SENT, delivery_address="Казань, ул. Баумана, 1"),
          wanted=replace(content(), delivery_address="Казань, ул. Баумана, 1"),
          header=header(posted=False, document=replace(content(), delivery_address=""))), COMMENT, ["Update", "Post"]),
    ("a document b24sync sent before it wrote addresses: its empty address is no change",
     item(binding=binding(pushed_projection=SENT.as_json().replace('"delivery_address": "", ', '')),
          projection=replace(SENT, delivery_address="Казань, ул. Баумана, 1"),
          wanted=replace(content(), delivery_address="Казань, ул. Баумана, 1"),
          header=header(document=replace(content(), delivery_address=""))), COMMENT, ["Adopt"]),
    ("another contact person on a company's deal: updated (1C holds it as a reference: compared with what was sent)",
     item(binding=binding(pushed_projection=replace(SENT, contact_person="Смирнова Ольга").remembered()),
          projection=replace(SENT, contact_person="Орлов Павел"), header=header(posted=False)), COMMENT,
     ["Update", "Post"]),
    ("a document sent before b24sync named contact persons: no change for it",
     item(binding=binding(pushed_projection=SENT.remembered().replace('"contact_person": "", ', '')),
          projection=replace(SENT, contact_person="Орлов Павел"), header=header(posted=False)), COMMENT, ["Adopt"]),
    ("a document sent with the discounted price, before the discount was kept apart: it charges the same, no change",
     item(projection=CHANGED, wanted=replace(content(), rows=(ContentRow(PRODUCT, Decimal(2), Decimal(125),
                                                                          Decimal(50)),)),
          header=header(document=content())), COMMENT, ["Adopt"]),
    ("a new hash (an upgrade), 1C holds the deal, the accountant unposted it: adopted, never posted again",
     item(projection=replace(SENT, manager_id=2), header=header(version="v2", posted=False)), COMMENT, ["Adopt"]),
    ("sent before, with the discounted price rounded to kopecks (89.99 for 89.991): the same charge, no change",
     item(projection=CHANGED, wanted=replace(content(), rows=(ContentRow(PRODUCT, Decimal(10), Decimal("99.99"),
                                                                          Decimal("99.99")),)),
          header=header(document=replace(content(), rows=(ContentRow(PRODUCT, Decimal(10), Decimal("89.99")),)))),
     COMMENT, ["Adopt"]),
    ("the hash differs but 1C already holds it (a recovered state): nothing written",
     item(binding=binding(pushed_hash="", pushed_projection="{}"), header=header(version="v9")), COMMENT, ["Adopt"]),
    ("resync of a deal that 1C holds as it is: no conflict, nothing written", item(force=True), COMMENT, ["Adopt"]),
    ("resync of a deal 1C holds differently: updated", item(force=True, wanted=content(price="150"),
                                                           projection=CHANGED, header=header(posted=False)),
     COMMENT, ["Update", "Post"]),
    ("an interrupted update of b24sync's own: its version adopted, the update finished",
     item(projection=CHANGED, wanted=content(price="150"), header=header(version="v2", posted=False),
          intent=IntentView(7, "update", "", NOW - 30)), COMMENT, ["Adopt", "Update", "Post"]),
    ("b24sync unposted and updated, then stopped before posting: the document is posted again",
     item(binding=binding(posted=False), projection=CHANGED, wanted=content(),
          header=header(version="v3", posted=False), intent=IntentView(7, "update", "", NOW - 30)), UNPOST,
     ["Adopt", "Adopt", "Post"]),
    ("an open conflict the deal now agrees with: it is resolved", item(projection=CHANGED, conflict=OPEN_CONFLICT),
     COMMENT, ["Adopt", "ResolveConflicts"]),
    ("a bound deal that cannot be mapped: it fails", item(projection=None, wanted=None, error=ERROR), COMMENT,
     ["Fail"]),
    ("a bound deal that went through after failing: the failure ends", item(failure=DUE), COMMENT,
     ["ClearFailure"]),
    ("back in the trigger after b24sync closed the order: reopened", item(binding=binding(closed_by_b24sync=True)),
     COMMENT, ["Reopen"]),
    # -- leaving the trigger stages, and filters --
    ("left the trigger, on_leave_trigger nothing: nothing", item(in_stage=False), COMMENT, []),
    ("left the trigger, unpaid and unshipped: closed and told", item(in_stage=False), CLOSE, ["Close", "Comment"]),
    ("left the trigger, paid: a conflict, not closed", item(in_stage=False, header=header(paid="10")), CLOSE,
     ["Conflict"]),
    ("left the trigger, shipped: a conflict, not closed", item(in_stage=False, header=header(shipped=True)), CLOSE,
     ["Conflict"]),
    ("left the trigger, an invoice (БП) cannot be closed: told", item(in_stage=False), BP30_CLOSE, ["Conflict"]),
    ("left the trigger, already closed by b24sync: nothing", item(in_stage=False,
                                                                   binding=binding(closed_by_b24sync=True)), CLOSE, []),
    ("a tightened filter is not leaving: nothing is closed", item(passes_filters=False), CLOSE, []),
    ("a tightened filter still lets the deal's edits through", item(passes_filters=False, projection=CHANGED,
                                                                    wanted=content(price="150"),
                                                                    header=header(posted=False)), CLOSE,
     ["Update", "Post"]),
    # -- documents deleted in 1C --
    ("the document was deleted in 1C: left to the pull, which reports it under its guard", item(header=None),
     COMMENT, []),
    ("the document was marked for deletion: left to the pull", item(header=header(deleted=True)), COMMENT, []),
    ("a deleted document already reported: nothing, even when the deal changes",
     item(header=None, binding=binding(document_state="deleted"), projection=CHANGED), COMMENT, []),
    ("resync --recreate of a deleted document: a new one",
     item(header=None, binding=binding(document_state="deleted"), recreate=True), COMMENT,
     ["Unbind", "Create", "WriteBack", "Post"]),
    ("resync --recreate after the deletion mark was removed in 1C: the document is bound again",
     item(header=header(), binding=binding(document_state="marked"), recreate=True), COMMENT,
     ["Unbind", "Bind", "WriteBack"]),
    ("a leave conflict kept as 1C has it: resolved, the order stays open",
     item(in_stage=False, header=header(paid="10"), keep="1c", conflict=OPEN_CONFLICT), CLOSE, ["ResolveConflicts"]),
    ("a leave conflict accepted before is not raised again",
     item(in_stage=False, header=header(paid="10"), accepted=frozenset({
         "Сделка вышла из стадий выгрузки, но документ ЭС00-000007 в 1С уже оплачен или отгружен, поэтому он не "
         "закрыт."})), CLOSE, []),
    ("a leave conflict resolved for Bitrix24: the order is closed after all",
     item(in_stage=False, header=header(paid="10"), keep="bitrix24", conflict=OPEN_CONFLICT), CLOSE,
     ["Close", "Comment", "ResolveConflicts"]),
    ("an invoice (БП) cannot be closed even for Bitrix24: the conflict stays",
     item(in_stage=False, keep="bitrix24", conflict=OPEN_CONFLICT), BP30_CLOSE, ["Conflict"]),
    ("a leave conflict ends once b24sync closed the order after all",
     item(in_stage=False, conflict=replace(OPEN_CONFLICT, description=plan.LEAVE_PREFIX + ", но …")), CLOSE,
     ["Close", "Comment", "ResolveConflicts"]),
    ("a leave conflict on an order b24sync has closed since can still be resolved",
     item(in_stage=False, binding=binding(closed_by_b24sync=True), keep="1c", conflict=OPEN_CONFLICT), CLOSE,
     ["ResolveConflicts"]),
    ("a leave conflict ends when the deal is back in work",
     item(conflict=replace(OPEN_CONFLICT, description=plan.LEAVE_PREFIX + ", но …")), COMMENT,
     ["ResolveConflicts"]),
    ("a conflict ends when the manager takes the edit back", item(conflict=OPEN_CONFLICT), COMMENT,
     ["ResolveConflicts"]),
    # -- conflicts resolved by an administrator --
    ("--keep 1c: 1C's version becomes the baseline, nothing written",
     item(projection=CHANGED, wanted=content(price="150"), header=header(version="v2"), keep="1c",
          conflict=OPEN_CONFLICT), COMMENT, ["Adopt", "ResolveConflicts"]),
    ("--keep bitrix24: the deal overwrites the document, unposting it",
     item(projection=CHANGED, wanted=content(price="150"), header=header(version="v2"), keep="bitrix24",
          conflict=OPEN_CONFLICT), COMMENT, ["Update", "Post", "ResolveConflicts"]),
]


@pytest.mark.parametrize("label, given_item, policy, expected", ROWS, ids=[row[0] for row in ROWS])
def test_the_push_rules(label: str, given_item: plan.PushItem, policy: plan.Policy, expected: list[str]) -> None:
    assert kinds(plan.plan_push(given_item, policy)) == expected


def test_conflict_texts_name_what_really_differs() -> None:
    recovered = unbound(header=header(), projection=CHANGED, wanted=content(price="150"))
    text = next(step.text for step in plan.plan_push(recovered, COMMENT) if isinstance(step, plan.Conflict))
    assert "сумма 200 → 300" in text and "уже проведён" in text
    assert "—" not in text and "было строк 0" not in text  # nothing invented from a state that knows nothing
    edited = item(projection=CHANGED, wanted=content(price="150", title="Другое"), header=header(version="v2"))
    text = next(step.text for step in plan.plan_push(edited, COMMENT) if isinstance(step, plan.Conflict))
    assert "изменён в 1С" in text and "название сделки" in text and "сумма" in text


def test_an_edit_in_progress_is_recorded_without_telling_the_manager() -> None:
    steps = plan.plan_push(unbound(projection=None, wanted=None, transient=True,
                                   error=MappingError("Сумма сделки", code="amount_mismatch")), COMMENT)
    assert steps == [plan.Fail(steps[0].error, tell=False)]


def test_an_update_unposts_only_a_posted_document() -> None:
    steps = plan.plan_push(item(projection=CHANGED, wanted=content(price="150")), UNPOST)
    assert steps[0] == plan.Update("v1", unpost=True, differences="сумма 200 → 300; товары: количество или цены")


def snapshot(paid: str = "0", shipped: date | None = None, deleted: bool = False, invoices: tuple = ()) -> Snapshot:
    return Snapshot(order_ref=REF, number="ЭС00-000007", data_version="v3", posted=True, deleted=deleted, status="",
                    total=Decimal("200"), invoices=invoices, paid=Decimal(paid), shipment_date=shipped)


INVOICE = InvoiceInfo("55555555-5555-5555-5555-555555555555", "СЧ-1", date(2026, 12, 1), Decimal("200"), "i1")

PULL_ROWS = [
    ("the accountant's news: written to the deal", snapshot(paid="50"), ["WriteFields", "RecordPull"]),
    ("an invoice: published, then written", snapshot(invoices=(INVOICE,)), ["Publish", "WriteFields", "RecordPull"]),
    ("the document disappeared from 1C: reported", None, ["MarkMissing"]),
    ("the document was marked for deletion: reported", snapshot(deleted=True), ["MarkMissing"]),
]


RECREATE = plan.Policy(on_missing_document="recreate", now=NOW)
PULL_ROWS = [(label, given, COMMENT, True, expected) for label, given, expected in PULL_ROWS] + [
    ("on_missing_document: recreate: reported, unbound, and the deal pushed again", None, RECREATE, True,
     ["MarkMissing", "Unbind"]),
    ("on_missing_document: recreate, a deal out of its stages: reported only, nothing to create", None, RECREATE,
     False, ["MarkMissing"]),
    ("on_missing_document: recreate leaves a document marked for deletion alone: reported",
     snapshot(deleted=True), RECREATE, True, ["MarkMissing"]),
    ("paid more than the total: written, and the overpayment told", snapshot(paid="250"), COMMENT, True,
     ["WriteFields", "TellOverpaid", "RecordPull"]),
]


@pytest.mark.parametrize("label, given_snapshot, policy, in_stage, expected", PULL_ROWS,
                         ids=[row[0] for row in PULL_ROWS])
def test_the_pull_rules(label: str, given_snapshot: Snapshot | None, policy: plan.Policy, in_stage: bool,
                        expected: list[str]) -> None:
    item = plan.PullItem(binding(), given_snapshot, deal_in_stage=in_stage)
    assert kinds(plan.plan_pull(item, policy)) == expected


CLOSE_DELETED = plan.Policy(on_deleted_deal="close_order", now=NOW)
DELETED_DEAL_ROWS = [
    ("reported, the order left as it is", binding(), header(), COMMENT, ["MarkDealDeleted"]),
    ("close_order: the order closed, then reported", binding(), header(), CLOSE_DELETED, ["Close", "MarkDealDeleted"]),
    ("close_order: a paid order is not closed", binding(), header(paid="50"), CLOSE_DELETED, ["MarkDealDeleted"]),
    ("close_order: a shipped order is not closed", binding(), header(shipped=True), CLOSE_DELETED,
     ["MarkDealDeleted"]),
    ("close_order: an order b24sync closed already", binding(closed_by_b24sync=True), header(), CLOSE_DELETED,
     ["MarkDealDeleted"]),
    ("close_order on БП: an invoice has no status", binding(), header(),
     plan.Policy(on_deleted_deal="close_order", can_close=False, now=NOW), ["MarkDealDeleted"]),
    ("its document is gone from 1C too: reported only", binding(), None, CLOSE_DELETED, ["MarkDealDeleted"]),
    ("its document is marked for deletion: reported only", binding(), header(deleted=True), CLOSE_DELETED,
     ["MarkDealDeleted"]),
]


@pytest.mark.parametrize("label, given_binding, given_header, policy, expected", DELETED_DEAL_ROWS,
                         ids=[row[0] for row in DELETED_DEAL_ROWS])
def test_the_rules_for_a_deal_deleted_in_bitrix24(label: str, given_binding: BindingView,
                                                   given_header: DocumentHeader | None, policy: plan.Policy,
                                                   expected: list[str]) -> None:
    assert kinds(plan.plan_deal_deleted(given_binding, given_header, policy)) == expected


def test_an_overpayment_is_told_once_per_paid_amount() -> None:
    told = binding(written_fields={"UF_CRM_1C_ORDER_ID": REF, plan.OVERPAID_MARK: "250.00"})
    assert kinds(plan.plan_pull(plan.PullItem(told, snapshot(paid="250")), COMMENT)) == ["WriteFields", "RecordPull"]
    more = plan.plan_pull(plan.PullItem(told, snapshot(paid="300")), COMMENT)  # paid again: a new overpayment
    assert kinds(more) == ["WriteFields", "TellOverpaid", "RecordPull"]
    assert "оплачено 300,00 RUB при сумме 200,00 RUB, на 100,00 RUB больше" in more[1].text
    assert mapping.values_from_snapshot(snapshot(paid="250")).paid_amount == Decimal("250")


def test_a_paid_and_shipped_document_is_no_longer_rescanned() -> None:
    steps = plan.plan_pull(plan.PullItem(binding(), snapshot(paid="200", shipped=date(2026, 12, 1))), COMMENT)
    assert steps[-1] == plan.RecordPull("v3", is_open=False)
    steps = plan.plan_pull(plan.PullItem(binding(), snapshot(paid="200")), COMMENT)
    assert steps[-1] == plan.RecordPull("v3", is_open=True)


def test_a_reported_document_is_not_pulled_again_but_its_fields_are_written_until_they_go_in() -> None:
    assert plan.plan_pull(plan.PullItem(binding(document_state="deleted"), None), COMMENT) == []
    again = plan.plan_pull(plan.PullItem(binding(document_state="deleted"), None, retry_fields=True), COMMENT)
    assert kinds(again) == ["MarkMissing"] and again[0].tell is False and again[0].state == "deleted"


WRITES_TO_1C = {"Create", "Update", "Post", "Close", "Reopen"}

items = st.builds(
    item,
    in_stage=st.booleans(), passes_filters=st.booleans(),
    projection=st.sampled_from([SENT, CHANGED]),
    wanted=st.sampled_from([content(), content(price="150"), None]),
    error=st.sampled_from([None, ERROR]),
    binding=st.builds(binding, posted=st.booleans(), closed_by_b24sync=st.booleans(),
                      document_state=st.sampled_from(["", "", "deleted", "marked"]),
                      written_version=st.sampled_from(["v1", "v2"])),
    header=st.one_of(st.none(), st.builds(header, version=st.sampled_from(["v1", "v2"]), posted=st.booleans(),
                                          deleted=st.booleans(), paid=st.sampled_from(["0", "5"]),
                                          shipped=st.booleans())),
    failure=st.sampled_from([None, FAILED, DUE]),
    intent=st.sampled_from([None, IntentView(7, "update", "", NOW), IntentView(7, "create_document", "", NOW)]),
    written_order_id=st.sampled_from([REF, ""]),
    modified_at=st.sampled_from([None, NOW - 20, NOW - 5]),
    selected=st.booleans(), force=st.booleans(), recreate=st.booleans(),
    keep=st.sampled_from(["", "", "bitrix24", "1c"]),
)
policies = st.builds(plan.Policy, post_documents=st.booleans(),
                     on_locked_document=st.sampled_from(["comment", "unpost_and_update"]),
                     on_leave_trigger=st.sampled_from(["nothing", "close_order"]), can_close=st.booleans(),
                     now=st.just(NOW))


@given(items, policies)
def test_a_bound_deal_is_never_created_again(given_item: plan.PushItem, policy: plan.Policy) -> None:
    steps = kinds(plan.plan_push(given_item, policy))
    if "Create" in steps:  # only an explicit recreate of a document that is gone from 1C
        assert given_item.recreate and steps[0] == "Unbind"
        assert given_item.binding.document_state or given_item.header is None or given_item.header.deleted


@given(items, policies)
def test_an_unchanged_deal_never_writes_to_1c(given_item: plan.PushItem, policy: plan.Policy) -> None:
    unchanged = replace(given_item, projection=SENT, force=False, keep="", recreate=False, intent=None,
                        binding=replace(given_item.binding, posted=True, closed_by_b24sync=False),
                        in_stage=True)
    assert not WRITES_TO_1C & set(kinds(plan.plan_push(unchanged, policy)))


def test_adopting_the_accountants_unposting_keeps_the_binding_posted() -> None:
    """An Adopt records the posting as b24sync left it, so a later cycle never takes the accountant's unposting
    for a posting of b24sync's that did not go through."""
    planned = plan.plan_push(item(projection=replace(SENT, manager_id=2), header=header(version="v2", posted=False)),
                             COMMENT)
    assert [step.posted for step in planned if isinstance(step, plan.Adopt)] == [True]
