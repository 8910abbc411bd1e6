"""The 1C → Bitrix24 half of the runner: poll the bound documents, plan what their news means, write it.

A mixin of the Engine (runner.py), which owns the outbox, the failure
bookkeeping and the steps both directions share.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from b24sync.bitrix24.wire import to_int
from b24sync.errors import B24SyncError, ItemError, System
from b24sync.onec.documents import DocumentHeader, Snapshot
from b24sync.onec.errors import NotPublishedError, ObjectRightsError
from b24sync.store.store import BindingView
from b24sync.sync import mapping
from b24sync.sync import plan as steps
from b24sync.sync.outbox import Outbox
from b24sync.sync.report import CycleReport

RIGHTS_REASON = ("У пользователя, под которым b24sync работает с 1С, нет прав на этот документ или справочник; "
                 "администратор 1С может их выдать.")
DEAL_CHECK_PER_CYCLE = 2500  # bound deals checked for deletion per pull: one batch of 50 listings of 50
RESCAN_PER_CYCLE = 270  # older bound documents whose version a pull reads, in turn: ten or-chain requests
RESCAN_EVERY_SECONDS = 600  # how often a pull reads such a turn; the pulls between read only the window


def unreadable(header: DocumentHeader) -> ItemError:
    """The deal's document exists, but 1C refuses it to b24sync's user (row-level security)."""
    return ItemError(RIGHTS_REASON, header.unreadable, code=ObjectRightsError.code, system=System.ONEC)


class PullCycle:
    """One 1C → Bitrix24 cycle (the attributes and helpers it uses are the Engine's)."""

    config: Any
    sync: Any
    fields: Any
    bitrix: Any
    onec: Any
    store: Any
    clock: Any
    invoices: Any
    outbox: Outbox
    log: Any
    progress: Any
    present_fields: set[str] | None
    _held: dict[str, int]
    _rescan_cursor: int | None = None  # the last deal whose old document this pull reads in turn
    _stage_orders: dict[int, tuple[list[str], set[str]]]

    def pull(self, *, dry_run: bool = False, deal_ids: Iterable[int] | None = None,
             confirm_bulk: bool = False) -> CycleReport:
        """One 1C → Bitrix24 cycle: the accountant's invoices, payments and shipments onto the deals."""
        report = CycleReport("onec_to_bitrix24", dry_run=dry_run)
        started = self.clock.time()
        self.outbox = Outbox()
        only = set(deal_ids) if deal_ids is not None else None
        # lean: what b24sync pushed and wrote is read only for the deals that have news (memory stays flat)
        bindings = {binding.onec_ref: binding for binding in self.store.bindings(open_only=only is None, lean=True)
                    if (only is None or binding.deal_id in only) and not binding.document_state
                    and not binding.deal_state}
        gone = self._deals_gone(list(bindings.values()), report, confirm_bulk, dry_run) if only is None else []
        for binding in gone:
            del bindings[binding.onec_ref]
        gone = [self.store.binding_for_deal(binding.deal_id) or binding for binding in gone]
        known = {} if only is not None else self.store.seen_versions()
        due = set(self.store.due_failures("writeback"))  # one query, not one per binding
        for ref, binding in bindings.items():
            # empty: never read back yet (a БП invoice is b24sync's own), or a write-back failed and its retry is
            # due: read the document again
            known[ref] = "" if binding.deal_id in due else binding.pulled_version
        since = datetime.fromtimestamp(self.clock.time()) - timedelta(days=self.sync.onec_window_days)
        day_ago = self.clock.time() - 86400
        fresh = {ref for ref, binding in bindings.items() if not binding.pulled_version
                 and binding.created_at >= day_ago}  # bound in the last day and never read back
        check = None if only is not None else self._to_check(bindings, due, dry_run)
        try:
            result = self.onec.poll(bindings, known, since, fresh, check)
        except NotPublishedError as refused:  # taken out of the OData composition while running:
            self.log.warning("onec_composition_changed", error=str(refused),  # $metadata is read again, once
                             action="the pull goes on with what the base publishes now")
            result = self.onec.poll(bindings, known, since, fresh, check)
        if check is not None and self._rescan_cursor is not None:
            self.store.set_watermark("document_rescan", str(self._rescan_cursor))
            self.store.set_watermark("document_rescan_at", str(self.clock.time()))
        report.listed = len(bindings)
        unseen = [ref for ref in (bindings if check is None else check) if ref not in result.versions]
        still_there = self.onec.headers(unseen) if unseen else {}  # gone only when 1C says "not found"
        for ref, header in still_there.items():
            if header.unreadable and not dry_run:  # hidden from b24sync's 1C user: reported and retried, never gone
                self._fail(bindings[ref].deal_id, unreadable(header), report, "writeback")
        now = self.clock.time()

        def retry_due(deal_id: int) -> bool:
            failed = self.store.failure(deal_id, "writeback")
            return failed is None or failed.next_retry_at <= now

        # a missing document is reported at the write-back's retry pace, never once per cycle
        items = [steps.PullItem(self.store.binding_for_ref(ref) or binding, None) for ref, binding in bindings.items()
                 if ref in unseen and ref not in still_there and retry_due(binding.deal_id)]
        limit = self.sync.max_missing_per_cycle
        # a base restored from a backup, or another base: hold every report, go on with everything else
        if self._guard(report, "documents_missing", len(items), confirm_bulk,
                       f"{len(items)} of the {len(bindings)} documents b24sync follows are missing in 1C at once, "
                       f"more than 'sync.guards.max_missing_per_cycle' ({limit}); none is reported on its deal. If "
                       f"the 1C base was restored from an older backup, or 'onec.url' points at another base, fix "
                       f"that; if the documents really were deleted, run `b24sync sync --confirm-bulk`",
                       "check the 1C base; `b24sync sync --confirm-bulk` reports them"):
            items = []
        if only is None:
            items += [steps.PullItem(binding, None, retry_fields=True) for binding in self.store.missing_documents()
                      if self.store.failure(binding.deal_id, "writeback") is not None and retry_due(binding.deal_id)]
        for ref, snapshot in result.snapshots.items():
            binding = self.store.binding_for_ref(ref)
            if binding is not None:
                items.append(steps.PullItem(binding, snapshot))
        if items:
            self.preflight()
        policy = self.policy()
        if policy.on_missing_document == "recreate":  # a new document only for a deal still in its stages
            gone_documents = [item.binding.deal_id for item in items
                              if item.snapshot is None and not item.binding.document_state]
            deals = self.bitrix.deals_by_id(gone_documents) if gone_documents else {}
            staged = {deal_id for deal_id, deal in deals.items() if mapping.in_trigger_stage(
                deal, self.sync.pipeline(to_int(deal.get("CATEGORY_ID")) or 0))}
            items = [replace(item, deal_in_stage=item.binding.deal_id in staged) for item in items]
        self._plan_deals_gone(gone, policy, report, dry_run)
        moves: dict[int, mapping.DealValues] = {}
        for done, item in enumerate(items, start=1):
            if self.progress is not None:
                self.progress(done, len(items), "1C documents")
            planned = steps.plan_pull(item, policy)
            if dry_run:
                line = steps.describe(item.binding.deal_id, planned)
                report.planned += [line] if line else []
                for step in planned:
                    if isinstance(step, steps.WriteFields):
                        moves[item.binding.deal_id] = step.values
                continue
            values = self._execute_pull(item, planned, report)
            if values is not None:
                moves[item.binding.deal_id] = values
        for deal_id, target in self._stage_targets(moves).items():
            if dry_run:
                report.planned.append(f"deal {deal_id}: move to stage {target}")
            else:
                self.outbox.update(deal_id, {"STAGE_ID": target})
                report.stage_moves += 1
        recreate = [item.binding.deal_id for item in items if item.snapshot is None and item.deal_in_stage
                    and policy.on_missing_document == "recreate" and not item.binding.document_state]
        if not dry_run:
            self._send(report)
            if recreate:  # sync.on_missing_document: recreate: the deals' new documents now, not at their next edit
                pushed = self.push(deal_ids=recreate)
                report.created += pushed.created
                for deal_id, reason in pushed.failed.items():
                    report.failed[deal_id] = reason
                    report.codes[deal_id] = pushed.codes.get(deal_id, "error")
            self.store.save_versions({ref: version for ref, version in result.versions.items()
                                      if ref not in bindings})
            self.store.log_run(report.job, started, "ok" if report.ok else "failed items", report.summary())
        return report

    def _to_check(self, bindings: dict[str, BindingView], due: set[int], dry_run: bool) -> list[str]:
        """The bound documents whose own version this pull reads: every one bound in the last week (where the
        accountant's edits and deletions mostly are), never read back, or due for a retry; and, every
        RESCAN_EVERY_SECONDS, RESCAN_PER_CYCLE of the older open ones in turn. What happens around a document
        (its invoices, payments and sales) is found by the window's listings whatever its turn, so an idle pull
        costs one request a kind of document for 500 bindings as for 50,000; an edit or a deletion of an old
        document is seen within one rotation (2,700 documents an hour)."""
        week_ago = self.clock.time() - 7 * 86400
        recent = {ref for ref, binding in bindings.items() if binding.created_at >= week_ago
                  or not binding.pulled_version or binding.deal_id in due}
        self._rescan_cursor = None
        last = float(self.store.watermark("document_rescan_at") or 0)
        if self.clock.time() - last < RESCAN_EVERY_SECONDS:
            return list(recent)
        older = sorted((binding for ref, binding in bindings.items() if ref not in recent),
                       key=lambda binding: binding.deal_id)
        if not older:
            return list(recent)
        cursor = int(self.store.watermark("document_rescan") or 0)
        turn = [binding for binding in older if binding.deal_id > cursor][:RESCAN_PER_CYCLE]
        turn += [binding for binding in older if binding.deal_id <= cursor][:RESCAN_PER_CYCLE - len(turn)]
        if not dry_run:
            self._rescan_cursor = turn[-1].deal_id  # kept once the pull has read them (a failed pull reads them again)
        return [*recent, *(binding.onec_ref for binding in turn)]

    def _deals_gone(self, bindings: list[BindingView], report: CycleReport, confirm_bulk: bool,
                    dry_run: bool) -> list[BindingView]:
        """Bound deals deleted in Bitrix24, checked DEAL_CHECK_PER_CYCLE at a time in turn (one batch request);
        a listing leaves a deal out, and crm.deal.get then says "Not found". Too many at once are held back."""
        if not bindings:
            return []
        ordered = sorted(bindings, key=lambda binding: binding.deal_id)
        cursor = int(self.store.watermark("deal_check") or 0)
        window = [binding for binding in ordered if binding.deal_id > cursor][:DEAL_CHECK_PER_CYCLE]
        window += [binding for binding in ordered if binding.deal_id <= cursor][:DEAL_CHECK_PER_CYCLE - len(window)]
        try:
            existing = self.bitrix.existing_deal_ids(binding.deal_id for binding in window)
            unlisted = [binding.deal_id for binding in window if binding.deal_id not in existing]
            deleted = self.bitrix.deleted_deal_ids(unlisted) if unlisted else set()
        except B24SyncError as error:
            if error.fatal:
                raise
            # a check only: the cycle's own work goes on, and the same deals are checked next time
            self.log.info("deal_check_skipped", reason=str(error))
            return []
        if not dry_run:
            self.store.set_watermark("deal_check", str(window[-1].deal_id))
        gone = [binding for binding in window if binding.deal_id in deleted]
        limit = self.sync.max_missing_per_cycle
        if self._guard(report, "deals_deleted", len(gone), confirm_bulk,
                       f"{len(gone)} of the deals b24sync follows are gone from Bitrix24 at once, more than "
                       f"'sync.guards.max_missing_per_cycle' ({limit}); none is acted on. If the webhook's user "
                       f"lost its rights, or 'bitrix24.webhook_url' points at another portal, fix that; if the "
                       f"deals really were deleted, run `b24sync sync --confirm-bulk`",
                       "check the webhook; `b24sync sync --confirm-bulk` acts on them"):
            return []
        return gone

    def _guard(self, report: CycleReport, what: str, count: int, confirm_bulk: bool, text: str,
               action: str) -> bool:
        """Whether more than sync.guards.max_missing_per_cycle vanished at once: then held back, said in the
        summary, and warned about once while the count stays the same."""
        if count <= self.sync.max_missing_per_cycle or confirm_bulk:
            self._held[what] = 0
            return False
        report.hold(text)
        if self._held.get(what) != count:
            self.log.warning(f"{what}_held", count=count, limit=self.sync.max_missing_per_cycle, action=action)
        self._held[what] = count
        return True

    def _plan_deals_gone(self, gone: list[BindingView], policy: steps.Policy, report: CycleReport,
                         dry_run: bool) -> None:
        """Each deal deleted in Bitrix24: reported once, and its order closed under on_deleted_deal: close_order."""
        if not gone:
            return
        headers = self.onec.headers([binding.onec_ref for binding in gone])
        for binding in gone:
            header = headers.get(binding.onec_ref)
            if header is not None and policy.on_deleted_deal == "close_order" and not header.deleted:
                snapshot = self.onec.snapshot(binding.onec_ref)  # paid or shipped decides whether it closes
                if snapshot is not None:
                    header = replace(header, paid=snapshot.paid, shipped=snapshot.shipment_date is not None)
            planned = steps.plan_deal_deleted(binding, header, policy)
            if dry_run:
                report.planned.append(steps.describe(binding.deal_id, planned) or "")
                continue
            try:
                for step in planned:
                    if isinstance(step, steps.MarkDealDeleted):
                        self.store.mark_deal_deleted(binding.deal_id)
                        self.store.resolve_conflicts(binding.deal_id, "deal_deleted")
                        report.deals_deleted += 1
                        self.log.warning("deal_deleted", deal_id=binding.deal_id, order_ref=binding.onec_ref,
                                         outcome=step.text)
                    else:
                        self._do_common(binding.deal_id, step, report)
            except B24SyncError as error:
                if error.fatal:
                    raise
                self._fail(binding.deal_id, error, report, tell=False)

    def _execute_pull(self, item: steps.PullItem, planned: list[steps.Step],
                      report: CycleReport) -> mapping.DealValues | None:
        binding, snapshot = item.binding, item.snapshot
        deal_id = binding.deal_id
        link: str | None = None
        values = None
        for step in planned:
            if isinstance(step, steps.Publish):
                link = self._publish(deal_id, snapshot, binding, report)
            elif isinstance(step, steps.WriteFields):
                values = step.values if link is None else replace(step.values, invoice_url=link)
                wanted = mapping.encode_values(values, self.fields, self.payment_options(), self.present_fields)
                diff = mapping.changed_fields(wanted, dict(binding.written_fields))
                if diff:
                    self.outbox.update(deal_id, diff)
            elif isinstance(step, steps.TellOverpaid):
                paid = step.paid
                self.outbox.comment_with_files(deal_id, step.text, [], lambda deal_id=deal_id, paid=paid:
                                               self.store.record_written_fields(deal_id, {steps.OVERPAID_MARK: paid}))
                self.log.warning("overpaid", deal_id=deal_id, order_ref=binding.onec_ref, paid=paid)
            elif isinstance(step, steps.RecordPull):
                self.store.record_pull(deal_id, step.version, step.is_open)
            else:
                self._do_common(deal_id, step, report)
        return values

    def _publish(self, deal_id: int, snapshot: Snapshot | None, binding: BindingView, report: CycleReport) -> str:
        assert snapshot is not None
        try:
            return self.invoices.put_on_deal(deal_id, snapshot, self.outbox)
        except B24SyncError as error:
            if error.fatal:
                raise
            self._fail(deal_id, error, report, "writeback")
            return str(binding.written_fields.get(self.fields.invoice_url, ""))

    def _stage_targets(self, moves: dict[int, mapping.DealValues]) -> dict[int, str]:
        """The stage each paid or shipped deal moves to (pipeline.stage_on_paid / stage_on_shipped), if any."""
        if not any(pipeline.stage_on_paid or pipeline.stage_on_shipped for pipeline in self.sync.pipelines):
            return {}
        candidates = [deal_id for deal_id, values in moves.items()
                      if values.payment_status == "paid" or values.shipment_date]
        targets: dict[int, str] = {}
        for deal_id, deal in self.bitrix.deals_by_id(candidates).items() if candidates else []:
            category = to_int(deal.get("CATEGORY_ID")) or 0
            order, final = self._stage_order(category)
            target = mapping.stage_move(deal["STAGE_ID"], order, final, self.sync.pipeline(category), moves[deal_id])
            if target is not None:
                targets[deal_id] = target
        return targets

    def _stage_order(self, category: int) -> tuple[list[str], set[str]]:
        if category not in self._stage_orders:
            stages = self.bitrix.deal_stages(category)
            order = sorted(stages, key=lambda stage: int(stages[stage].get("SORT") or 0))
            final = {stage for stage, row in stages.items() if row.get("SEMANTICS") in ("S", "F")}
            self._stage_orders[category] = (order, final)
        return self._stage_orders[category]
