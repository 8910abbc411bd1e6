"""The sync decision: a pure plan from what both sides and the state say; the runner only executes it.

`plan_push` turns one deal (its projection or mapping error, its binding, the
1C document's header, its failure and open intent) into a list of steps;
`plan_pull` does the same for one bound document and what 1C says about it.
Nothing here reads or writes anything: every rule of the sync is a row of
tests/test_plan.py, and `sync --dry-run` prints these steps.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from b24sync.errors import ItemError
from b24sync.invoices.currency import figure
from b24sync.onec.documents import ContentRow, DocumentContent, DocumentHeader, Snapshot
from b24sync.store.views import BindingView, ConflictView, FailureView, IntentView
from b24sync.sync.mapping import DealValues, Projection, values_from_snapshot

LEAVE_PREFIX = "Сделка вышла из стадий выгрузки"
# what the deal's order number field says beside the number once its document is reported missing
MISSING_LABELS = {"deleted": "удалён в 1С", "marked": "помечен на удаление в 1С"}

# -- what the planner is given ------------------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    """The config's answers to the sync's questions, and the time of the cycle."""

    post_documents: bool = True
    on_locked_document: str = "comment"  # comment | unpost_and_update
    on_leave_trigger: str = "nothing"  # nothing | close_order
    on_missing_document: str = "report"  # report | recreate: a document deleted in 1C is created anew
    on_deleted_deal: str = "report"  # report | close_order: a deal deleted in Bitrix24
    can_close: bool = True  # the profile's order has a Статус to close (УТ), an invoice (БП) does not
    invoice_pdf: bool = True
    now: float = 0.0


@dataclass(frozen=True)
class PushItem:
    """One deal of a push, with everything the decision needs, read before anything is decided."""

    deal_id: int
    in_stage: bool  # in a trigger stage of its pipeline
    passes_filters: bool = True  # min_amount, deal_types, start_date: they gate new documents only
    projection: Projection | None = None
    wanted: DocumentContent | None = None  # the projection in 1C's terms
    error: ItemError | None = None  # why the deal cannot be mapped as it is
    transient: bool = False  # the error may be an edit caught half-way: retried soon, told only if it stays
    binding: BindingView | None = None
    header: DocumentHeader | None = None  # the bound document, or (unbound) the one found by its deal marker
    failure: FailureView | None = None
    intent: IntentView | None = None
    conflict: ConflictView | None = None  # the deal's open conflict, if any
    modified_at: float | None = None  # the deal's DATE_MODIFY
    written_order_id: str = ""  # the order GUID b24sync last wrote to the deal
    selected: bool = False  # asked for by ID (sync --deal, resync, retry): no retry backoff
    force: bool = False  # resync: compare with 1C whatever the state remembers
    recreate: bool = False  # resync --recreate: a deleted document may be created again
    keep: str = ""  # conflicts resolve: "bitrix24" overwrites 1C, "1c" accepts 1C's version
    accepted: frozenset[str] = frozenset()  # conflicts an administrator resolved with --keep 1c: not raised again


@dataclass(frozen=True)
class PullItem:
    binding: BindingView
    snapshot: Snapshot | None  # None: the document no longer exists in 1C
    retry_fields: bool = False  # a reported document whose fields did not reach the deal: write them again
    deal_in_stage: bool = False  # the deal stands in a trigger stage (asked only when a recreate may follow)


# -- the steps ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    def describe(self) -> str:
        return type(self).__name__.lower()


@dataclass(frozen=True)
class Bind(Step):
    """Bind the document found by the deal marker (a lost state file, or a crash after the create)."""

    header: DocumentHeader
    agreed: bool  # its content equals the deal's: the projection counts as pushed

    def describe(self) -> str:
        return f"bind to the existing document {self.header.number}"


@dataclass(frozen=True)
class Create(Step):
    def describe(self) -> str:
        return "create the document in 1C"


@dataclass(frozen=True)
class Update(Step):
    expected_version: str
    unpost: bool
    differences: str = ""

    def describe(self) -> str:
        how = "unpost and update" if self.unpost else "update"
        return f"{how} the document ({self.differences})"


@dataclass(frozen=True)
class Post(Step):
    def describe(self) -> str:
        return "post the document"


@dataclass(frozen=True)
class Close(Step):
    number: str

    def describe(self) -> str:
        return f"close order {self.number}"


@dataclass(frozen=True)
class Reopen(Step):
    def describe(self) -> str:
        return "reopen the order b24sync closed"


@dataclass(frozen=True)
class Adopt(Step):
    """Take the version 1C shows as b24sync's own baseline (an interrupted write of ours, equal content, or an
    administrator's `--keep 1c`); with `pushed`, the deal as it is now counts as what the document holds."""

    version: str
    posted: bool
    pushed: bool = False

    def describe(self) -> str:
        return "accept 1C's version of the document"


@dataclass(frozen=True)
class WriteBack(Step):
    """The order's GUID and number onto the deal (the deal never got them, or a new document was created)."""

    def describe(self) -> str:
        return "write the order to the deal"


@dataclass(frozen=True)
class Comment(Step):
    text: str

    def describe(self) -> str:
        return f"comment «{self.text}»"


@dataclass(frozen=True)
class Conflict(Step):
    text: str

    def describe(self) -> str:
        return f"conflict: {self.text}"


@dataclass(frozen=True)
class ResolveConflicts(Step):
    resolution: str  # bitrix24 | 1c | updated | agreed


@dataclass(frozen=True)
class Fail(Step):
    error: ItemError
    tell: bool = True  # False: recorded and retried, not yet told on the deal's timeline

    def describe(self) -> str:
        return f"fail: {self.error.reason}"


@dataclass(frozen=True)
class ClearFailure(Step):
    """The deal went through (or no longer needs to): its failure ends once the deal heard of its order."""


@dataclass(frozen=True)
class MarkMissing(Step):
    """The bound document was deleted ("deleted") or marked for deletion ("marked") in 1C: told once."""

    state: str
    text: str
    tell: bool = True  # False: told already, only the deal's fields are written again

    def describe(self) -> str:
        return f"report the document {'deleted' if self.state == 'deleted' else 'marked for deletion'}"


@dataclass(frozen=True)
class MarkDealDeleted(Step):
    """The bound deal is gone from Bitrix24 (deleted, or out of the webhook user's sight): logged and shown in
    `status` once; the deal is no longer followed."""

    text: str

    def describe(self) -> str:
        return f"report the deal deleted in Bitrix24 ({self.text})"


@dataclass(frozen=True)
class Unbind(Step):
    recreate: bool = False  # sync.on_missing_document: recreate: the deal is pushed again at once

    def describe(self) -> str:
        return "forget the deleted document" + (" and create a new one" if self.recreate else "")


@dataclass(frozen=True)
class Publish(Step):
    """Put the document's invoices (PDF on Disk, a link, a comment) on the deal."""

    def describe(self) -> str:
        return "publish the invoice PDF"


@dataclass(frozen=True)
class WriteFields(Step):
    """1C's news (invoice, payment, shipment) into the deal's fields: only what differs from what was written."""

    values: DealValues

    def describe(self) -> str:
        return "write invoice, payment and shipment fields"


@dataclass(frozen=True)
class RecordPull(Step):
    version: str
    is_open: bool


OVERPAID_MARK = "#overpaid"  # kept with what b24sync wrote to the deal (never sent): the overpayment last told


@dataclass(frozen=True)
class TellOverpaid(Step):
    """The customer paid more than the document's total: told on the deal once per paid amount."""

    text: str
    paid: str

    def describe(self) -> str:
        return "tell the manager of the overpayment"


# -- the decisions --------------------------------------------------------------------------------------


def plan_push(item: PushItem, policy: Policy) -> list[Step]:
    """What to do with one deal of a Bitrix24 → 1C cycle."""
    binding = item.binding
    if binding is not None and item.recreate and (binding.document_state or _missing(item.header)):
        return [Unbind(), *_plan_unbound(_without_binding(item), policy)]
    if binding is None:
        return _plan_unbound(item, policy)
    if binding.document_state:
        return [ClearFailure()] if item.failure else []  # reported once; only `resync --recreate` acts
    if _missing(item.header):
        # the pull reports it, under its guard against a base restored from a backup: a push never does
        return [ClearFailure()] if item.failure else []
    if not item.in_stage:
        return _plan_leave(item, policy)
    if _waiting(item, policy):
        return []
    if item.error is not None:
        return [Fail(item.error, tell=not item.transient)]
    return _plan_bound(item, policy)


def _plan_unbound(item: PushItem, policy: Policy) -> list[Step]:
    if not (item.in_stage and item.passes_filters):
        return [ClearFailure()] if item.failure else []  # nothing left to retry
    if _waiting(item, policy):
        return []
    header = item.header
    if header is not None and not header.deleted:
        return _plan_recovery(item, header, policy)
    if header is not None and header.ref and not item.recreate:
        # the deal's only document is marked for deletion (its binding lost with the state): bound again, so the
        # pull reports it as with the state intact; a new one only on `resync --recreate`
        return [Bind(header, agreed=False), *([ClearFailure()] if item.failure else [])]
    if item.error is not None:
        return [Fail(item.error, tell=not item.transient)]
    steps: list[Step] = [Create(), WriteBack()]  # the write-back is queued, so a refused posting keeps it
    if policy.post_documents:
        steps.append(Post())
    return steps + ([ClearFailure()] if item.failure else [])


def _plan_recovery(item: PushItem, header: DocumentHeader, policy: Policy) -> list[Step]:
    """A document made for this deal exists in 1C but is not bound: bind it, then treat it as bound."""
    if item.error is not None:
        return [Bind(header, agreed=False), WriteBack(), Fail(item.error)]
    differences = _differences(header.content, item.wanted, {}, item.projection)
    steps: list[Step] = [Bind(header, agreed=not differences), WriteBack()]
    if differences:
        steps += _change(header, header.data_version, differences, item, policy)
    elif not header.posted and policy.post_documents:
        steps.append(Post())
    return steps + ([ClearFailure()] if item.failure else [])


def _plan_bound(item: PushItem, policy: Policy) -> list[Step]:
    binding, header, projection = item.binding, item.header, item.projection
    assert binding is not None and header is not None and projection is not None
    steps: list[Step] = []
    if item.written_order_id != binding.onec_ref:
        steps.append(WriteBack())  # bound, but the deal never got its order (a crash between binding and write-back)
    if binding.closed_by_b24sync:
        steps.append(Reopen())
    baseline = binding.written_version
    if item.intent is not None and item.intent.kind != "create_document":
        # b24sync's own write was interrupted after 1C took it (or not): the version 1C shows is ours to adopt
        steps.append(Adopt(header.data_version, header.posted or binding.posted))
        baseline = header.data_version
    if item.keep == "1c":
        steps += [Adopt(header.data_version, header.posted or binding.posted, pushed=True), ResolveConflicts("1c")]
    elif item.force or item.keep or projection.hash != binding.pushed_hash:
        pushed = json.loads(binding.pushed_projection or "{}")
        differences = _differences(header.content, item.wanted, pushed, projection)
        if not differences:
            # posted as b24sync last left it: an unposting the accountant made stays theirs, never undone later
            steps.append(Adopt(header.data_version, header.posted or binding.posted, pushed=True))
            if not binding.posted and not header.posted and policy.post_documents:
                steps.append(Post())  # b24sync's own update went in, its posting did not (an interruption)
            if item.conflict is not None:
                steps.append(ResolveConflicts("bitrix24" if item.keep else "agreed"))
        else:
            steps += _change(header, baseline, differences, item, policy)
    else:
        if not binding.posted and not header.posted and policy.post_documents:
            steps.append(Post())  # a posting refused or interrupted earlier
        if item.conflict is not None:
            steps.append(ResolveConflicts("agreed"))  # the manager took the edit back: nothing is left to disagree
    if item.conflict is not None and _is_leave(item.conflict) and not any(
            isinstance(step, ResolveConflicts) for step in steps):
        steps.append(ResolveConflicts("agreed"))  # the deal is back in work: its leave conflict is moot
    if item.failure is not None:
        steps.append(ClearFailure())
    return steps


def _change(header: DocumentHeader, baseline: str, differences: str, item: PushItem, policy: Policy) -> list[Step]:
    """The deal differs from the document: update it, or say why not."""
    if item.keep == "bitrix24":
        steps: list[Step] = [Update(header.data_version, unpost=header.posted, differences=differences)]
        return steps + ([Post()] if policy.post_documents else []) + [ResolveConflicts("bitrix24")]
    if header.data_version != baseline:
        return [Conflict(f"Документ {header.number} изменён в 1С после того, как b24sync его записал, поэтому "
                         f"изменения сделки ({differences}) в него не внесены. Согласуйте их с бухгалтерией.")]
    if header.posted and policy.on_locked_document == "comment":
        return [Conflict(f"Документ {header.number} уже проведён в 1С, поэтому изменения сделки ({differences}) в "
                         f"него не внесены. Попросите бухгалтерию внести их.")]
    steps = [Update(header.data_version, unpost=header.posted, differences=differences)]
    if policy.post_documents:
        steps.append(Post())
    if item.conflict is not None:
        steps.append(ResolveConflicts("updated"))
    return steps


def _plan_leave(item: PushItem, policy: Policy) -> list[Step]:
    """The deal left its trigger stages (lost, moved back); a tightened filter is not leaving."""
    binding, header = item.binding, item.header
    assert binding is not None and header is not None
    steps: list[Step] = [ClearFailure()] if item.failure else []
    if policy.on_leave_trigger != "close_order" or binding.closed_by_b24sync:
        if item.conflict is not None and (item.keep or binding.closed_by_b24sync):
            steps.insert(0, ResolveConflicts(item.keep or "agreed"))  # nothing is left to disagree about
        return steps
    close = [Close(header.number), Comment(f"Сделка вышла из стадий выгрузки: заказ {header.number} в 1С закрыт.")]
    if item.conflict is not None:
        close.append(ResolveConflicts("updated"))
    if not policy.can_close:
        text = (f"Сделка вышла из стадий выгрузки, но счёт {header.number} в 1С нельзя закрыть автоматически: если "
                f"он больше не нужен, его отменит бухгалтерия.")
        close = []  # an invoice (БП) has no status to close: only 1C's side can be kept
    elif (header.paid or 0) > 0 or header.shipped:
        text = (f"Сделка вышла из стадий выгрузки, но документ {header.number} в 1С уже оплачен или отгружен, "
                f"поэтому он не закрыт.")
    else:
        return close + steps
    if item.keep == "1c" or text in item.accepted:
        return ([ResolveConflicts("1c")] if item.keep else []) + steps
    if item.keep == "bitrix24" and close:
        return close[:2] + [ResolveConflicts("bitrix24")] + steps
    return [Conflict(text), *steps]


def plan_pull(item: PullItem, policy: Policy) -> list[Step]:
    """What to do with one bound document whose state changed in 1C."""
    binding, snapshot = item.binding, item.snapshot
    if binding.document_state:
        if item.retry_fields:
            return [MarkMissing(*_missing_text(binding, None if binding.document_state == "deleted" else
                                               DocumentHeader(binding.onec_ref, binding.number, "", False, True)),
                                tell=False)]
        return []
    if snapshot is None or snapshot.deleted:
        header = None if snapshot is None else DocumentHeader(snapshot.order_ref, snapshot.number,
                                                              snapshot.data_version, snapshot.posted, True)
        if header is None and policy.on_missing_document == "recreate" and item.deal_in_stage:
            number = binding.number
            return [MarkMissing("deleted", f"Документ {number} удалён из 1С: b24sync создаёт по сделке новый "
                                           f"документ."), Unbind(recreate=True)]
        return [MarkMissing(*_missing_text(binding, header))]
    values = values_from_snapshot(snapshot)
    steps: list[Step] = [Publish()] if snapshot.invoices and policy.invoice_pdf else []
    done = values.payment_status == "paid" and values.shipment_date is not None
    steps += [WriteFields(values)]
    paid = f"{snapshot.paid:.2f}"
    if snapshot.overpaid and binding.written_fields.get(OVERPAID_MARK) != paid:
        code, over = snapshot.currency, figure(snapshot.paid - snapshot.total)
        steps.append(TellOverpaid(
            f"Переплата по документу {snapshot.number}: оплачено {figure(snapshot.paid)} {code} при сумме "
            f"{figure(snapshot.total)} {code}, на {over} {code} больше. Проверьте с бухгалтерией: вернуть разницу "
            f"или зачесть её в следующий заказ.", paid))
    return steps + [RecordPull(snapshot.data_version, is_open=not done)]


def plan_deal_deleted(binding: BindingView, header: DocumentHeader | None, policy: Policy) -> list[Step]:
    """The bound deal no longer exists in Bitrix24; `header` is its document as 1C has it now (None: gone too)."""
    number = (header.number if header is not None else "") or binding.number
    if header is None:
        return [MarkDealDeleted(f"its document {number} is gone from 1C too")]
    if header.deleted:
        return [MarkDealDeleted(f"its document {number} is marked for deletion in 1C, left as it is")]
    if policy.on_deleted_deal != "close_order" or binding.closed_by_b24sync:
        return [MarkDealDeleted(f"document {number} left as it is")]
    if not policy.can_close:
        return [MarkDealDeleted(f"invoice {number} left as it is: an invoice has no status to close")]
    if (header.paid or 0) > 0 or header.shipped:
        return [MarkDealDeleted(f"document {number} is paid or shipped, so it is not closed")]
    return [Close(number), MarkDealDeleted(f"order {number} closed")]


# -- helpers --------------------------------------------------------------------------------------------


def _waiting(item: PushItem, policy: Policy) -> bool:
    return waiting(item.failure, item.modified_at, item.selected, policy.now)


def waiting(failure: FailureView | None, modified_at: float | None, selected: bool, now: float) -> bool:
    """A failed deal waits for its retry time, unless it was asked for or someone changed it since it failed
    (the runner asks this too, before it reads anything for the deal)."""
    if selected or failure is None or failure.next_retry_at <= now:
        return False
    return modified_at is None or modified_at <= failure.last_failed_at


def _is_leave(conflict: ConflictView) -> bool:
    return conflict.description.startswith(LEAVE_PREFIX)


def _missing(header: DocumentHeader | None) -> bool:
    return header is None or header.deleted


def _missing_text(binding: BindingView, header: DocumentHeader | None) -> tuple[str, str]:
    number = (header.number if header is not None else "") or binding.number
    if header is None:
        return "deleted", (f"Документ {number} удалён из 1С: сделка больше не связана с ним. Если документ нужен "
                           f"снова, администратор создаст его командой b24sync resync --deal {binding.deal_id} "
                           f"--recreate.")
    return "marked", (f"Документ {number} помечен на удаление в 1С: b24sync больше не вносит в него изменения. "
                      f"Если это ошибка, снимите пометку в 1С; чтобы создать новый документ, администратор "
                      f"выполнит b24sync resync --deal {binding.deal_id} --recreate.")


def _without_binding(item: PushItem) -> PushItem:
    found = item.header if item.header is not None and not item.header.deleted else None
    return replace(item, binding=None, header=found, intent=None)


def _differences(document: DocumentContent | None, wanted: DocumentContent | None, pushed: dict[str, Any],
                 projection: Projection | None) -> str:
    """What the deal would change in the document, in a manager's words; empty when they agree.

    The document's own content is compared with the deal's; only the customer, which 1C holds as a reference
    b24sync would have to look up, is compared with what b24sync last sent, and only when it knows that.
    """
    changes = []
    if document is not None and wanted is not None:
        if document.amount != wanted.amount:
            changes.append(f"сумма {document.amount} → {wanted.amount}")
        if not _same_rows(document.rows, wanted.rows):
            if len(document.rows) != len(wanted.rows):
                changes.append(f"товары: было строк {len(document.rows)}, стало {len(wanted.rows)}")
            else:
                changes.append("товары: количество или цены")
        if document.comment != wanted.comment:
            changes.append("название сделки")
        if wanted.currency_ref is not None and document.currency_ref != wanted.currency_ref:
            changes.append("валюта")
        if wanted.manager_ref is not None and document.manager_ref != wanted.manager_ref:
            changes.append("ответственный")
        # a document b24sync sent before it kept the deal's comments and date is not taken for a changed one
        details = not pushed or "note" in pushed
        if details and wanted.note is not None and document.note is not None and document.note != wanted.note:
            changes.append("комментарий к сделке")
        if details and wanted.ship_by is not None and document.ship_by is not None and \
                document.ship_by != wanted.ship_by:
            changes.append(f"дата отгрузки {document.ship_by or '—'} → {wanted.ship_by or '—'}")
        # nor one sent before it wrote the delivery address
        if (not pushed or "delivery_address" in pushed) and wanted.delivery_address and \
                document.delivery_address is not None and document.delivery_address != wanted.delivery_address:
            changes.append("адрес доставки")
    elif wanted is not None:
        changes.append("содержание документа неизвестно")
    if projection is not None and pushed.get("customer") is not None:
        customer = json.loads(projection.as_json())["customer"]
        if pushed["customer"] != customer:
            changes.append(f"клиент → {customer.get('name')}")
    # the contact person, too, is a reference in 1C: compared with what b24sync sent, once it sends one
    if projection is not None and "contact_person" in pushed and pushed["contact_person"] != projection.contact_person:
        changes.append(f"контактное лицо → {projection.contact_person or '—'}")
    return "; ".join(changes)


def _same_rows(document: tuple[ContentRow, ...], wanted: tuple[ContentRow, ...]) -> bool:
    """Rows compared as what they charge: the item, the quantity and the packaging exactly, and price × quantity
    − discount. A row sent before its discount was kept apart (the discounted price rounded to kopecks, no
    discount) charges the same within that rounding (half a kopeck a unit): no change."""
    if len(document) != len(wanted):
        return False
    for have, want in zip(document, wanted, strict=True):
        if (have.nomenclature_ref.lower(), have.quantity, have.packaging_ref) != \
                (want.nomenclature_ref.lower(), want.quantity, want.packaging_ref):
            return False
        charged = (have.price * have.quantity - have.discount) - (want.price * want.quantity - want.discount)
        if abs(charged) > Decimal("0.005") * max(have.quantity, Decimal(1)):
            return False
    return True


def describe(deal_id: int, planned: list[Step]) -> str | None:
    """One line for `sync --dry-run`: what would be done with the deal, or None when nothing would."""
    shown = [step.describe() for step in planned if not isinstance(step, ClearFailure | ResolveConflicts | RecordPull)]
    return f"deal {deal_id}: {', then '.join(shown)}" if shown else None
