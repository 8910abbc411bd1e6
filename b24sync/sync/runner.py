"""The runner: reads what a cycle needs, asks the planner what to do, and executes the steps, crash-safe.

Bitrix24 → 1C: list deals changed since the watermark (minus an overlap), skip
the ones unchanged since b24sync last looked, read a chunk's rows, products,
customers and 1C documents in batches, plan each deal (sync/plan.py) and
execute its steps; every write to Bitrix24 goes through the cycle's outbox.
1C → Bitrix24: poll the bound documents and plan what their news means for the
deal. A deal that fails is recorded with its reason and code, retried with
backoff, and told about once on its timeline; it never stops the others.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from b24sync.bitrix24.adapter import DEALS_READ_AT_ONCE, Bitrix24Adapter
from b24sync.bitrix24.wire import chunked, parse_datetime, to_int
from b24sync.clock import SYSTEM_CLOCK, Clock
from b24sync.config import Config
from b24sync.errors import B24SyncError, BulkGuardError, ItemError, SetupMissingError
from b24sync.logs import get_logger
from b24sync.onec import errors as onec_errors
from b24sync.onec.adapter import OneCAdapter
from b24sync.onec.documents import Choices, DocumentHeader
from b24sync.onec.lifecycle import MarkerIndex
from b24sync.onec.odata import ZERO_GUID
from b24sync.store.store import BindingView, Store
from b24sync.sync import mapping
from b24sync.sync import plan as steps
from b24sync.sync.customers import CustomerMatching
from b24sync.sync.dealids import DealIds
from b24sync.sync.fields import deal_field_specs, optional_field_specs, payment_option_ids
from b24sync.sync.gather import Context, Gatherer, Mapped
from b24sync.sync.invoices import InvoicePublisher
from b24sync.sync.outbox import Outbox, Sender
from b24sync.sync.pulling import RIGHTS_REASON, PullCycle, unreadable
from b24sync.sync.report import CycleReport
from b24sync.sync.turns import Turns

__all__ = ["CHUNK", "WATERMARK", "BulkGuardError", "Engine", "SetupMissingError"]

WATERMARK = "bitrix24_deals"
# deals worked on together: their reads batched, their write-backs sent as one batch (48 updates with the deals
# read just before and just after them make the 50 commands of one request)
CHUNK = DEALS_READ_AT_ONCE  # a chunk's reads are one batch request, and its writes another
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
HELD_DEALS = 2_500  # deals to work on kept from the listing; a longer listing is read again as the work goes

Work = tuple[dict[str, Any], bool, bool, BindingView | None]


class Listed:
    """A push's deals as they are listed: counted and their IDs noted on the way, never all kept."""

    def __init__(self, rows: Iterable[dict[str, Any]], listing: Any = None, due: Iterable[int] = (),
                 vanished: Iterable[int] = ()) -> None:
        self._rows = rows
        self._listing = listing
        self.due = list(due)  # failed deals due for a retry: read by ID when the listing left them out
        self.vanished = list(vanished)  # deals asked for by ID that the portal no longer has
        self.seen: set[int] = set()  # the due deals the listing brought (only those: a long listing's IDs are many)
        self.count = 0

    @property
    def rows(self) -> Iterator[dict[str, Any]]:
        due = set(self.due)
        for row in self._rows:
            self.count += 1
            if due and int(row["ID"]) in due:
                self.seen.add(int(row["ID"]))
            yield row

    @property
    def server_time(self) -> datetime | None:
        """The portal's time of the listing's first request (None for deals asked for by ID)."""
        return self._listing.server_time if self._listing is not None else None


class Engine(PullCycle, CustomerMatching):
    def __init__(self, config: Config, bitrix: Bitrix24Adapter, onec: OneCAdapter, store: Store,
                 clock: Clock = SYSTEM_CLOCK) -> None:
        self.config = config
        self.sync = config.sync
        self.fields = config.sync.fields
        self.bitrix = bitrix
        self.onec = onec
        self.store = store
        self.clock = clock
        self.log = get_logger("b24sync.sync")
        self.gatherer = Gatherer(config.sync, bitrix, onec)
        self.invoices = InvoicePublisher(config, bitrix, onec, store)
        self.deal_select = mapping.deal_select(config.sync.fields, config.sync.order_fields)  # what a listing reads
        self.sender = Sender(bitrix, store, self.deal_select)
        self.outbox = Outbox()
        self.stop_requested = False  # set by the daemon on SIGTERM: finish the deal in hand, save, return
        # called with (done, total, label) after each deal of a push and each bound deal of a pull (the TTY bar)
        self.progress: Any = None
        self._payment_options: dict[str, str] | None = None
        self._stage_orders: dict[int, tuple[list[str], set[str]]] = {}
        self._versions: dict[int, str] = {}  # a document's version after b24sync's own writes of the plan in hand
        self._posting: dict[int, str] = {}  # deal -> document posted in this chunk, its posting not yet read back
        # deals written to 1C at once (onec.max_concurrency) take turns at the bookkeeping, one commit a turn
        self.turns = Turns(store.grouped)
        onec.client.gate = self.turns.waiting
        self._customer_fields: dict[str, bool] = {}  # whether contacts / companies have the counterparty field
        self.present_fields: set[str] | None = None  # the deal fields the portal has (known after preflight)
        self._held: dict[str, int] = {}  # what the pull's guards hold back, by kind (logged when the count changes)
        self.held_deals = HELD_DEALS
        self._markers = MarkerIndex(clock, self._settled)

    def policy(self) -> steps.Policy:
        return steps.Policy(post_documents=self.config.onec.post_documents,
                            on_locked_document=self.sync.on_locked_document,
                            on_leave_trigger=self.sync.on_leave_trigger,
                            on_missing_document=self.sync.on_missing_document,
                            on_deleted_deal=self.sync.on_deleted_deal, can_close=self.onec.profile.can_close,
                            invoice_pdf=self.config.onec.invoice_pdf != "off", now=self.clock.time())

    # -- Bitrix24 → 1C ----------------------------------------------------------------------------------

    def push(self, *, full: bool = False, deal_ids: Iterable[int] | None = None, dry_run: bool = False,
             confirm_bulk: bool = False, force: bool = False, recreate: bool = False, keep: str = "") -> CycleReport:
        """One Bitrix24 → 1C cycle; `force` compares the deals with 1C whatever the state remembers (resync),
        `recreate` lets a deleted document be created again, `keep` resolves a conflict (bitrix24 | 1c)."""
        report = CycleReport("bitrix24_to_onec", dry_run=dry_run)
        started = self.clock.time()
        self.outbox = Outbox()
        self._posting, self._versions = {}, {}  # nothing of a cycle a fatal error ended is taken for this one's
        self.gatherer.context = Context()  # what this cycle reads it reads anew: a failed read is not remembered
        self._markers = MarkerIndex(self.clock, self._settled)  # what the cycle's searches by deal marker listed
        selected = deal_ids is not None
        listed = self._listed(full, deal_ids)
        held: list[Work] | None = []  # the work itself while it is short; None once it was too long to keep
        wanted = DealIds()
        creating = DealIds()  # the deals counted for the bulk guard: no other is created this cycle
        for entry in self._triaged(listed.rows, selected, force):
            wanted.add(int(entry[0]["ID"]))
            if _creates(entry):
                creating.add(int(entry[0]["ID"]))
            if held is not None:
                held.append(entry)
                held = held if len(held) <= self.held_deals else None
        due = [deal_id for deal_id in listed.due if deal_id not in listed.seen]
        found = self.bitrix.deals_by_id(due) if due else {}
        report.listed = listed.count + len(found)
        vanished = listed.vanished + [deal_id for deal_id in due if deal_id not in found]
        for deal_id in vanished if not dry_run else []:
            if self.store.failure(deal_id) is not None:
                self.store.clear_failure(deal_id)  # the deal was deleted: nothing left to retry
        stragglers = list(self._triaged((found[deal_id] for deal_id in sorted(found)), selected, force))
        creating.update(int(entry[0]["ID"]) for entry in stragglers if _creates(entry))
        server_time = listed.server_time
        if not confirm_bulk:
            self._guard_creates(len(creating), report, dry_run)
        if wanted or stragglers:
            self.preflight()  # before the first write to 1C: the deal fields b24sync writes must exist
        progress = [0, len(wanted) + len(stragglers)]
        # a long listing is not kept in memory: it is listed again, and what it holds now is worked on (the deals
        # counted above, as they are now; one that would now be a create without having been counted waits)
        work = held if held is not None else (entry for entry in self._triaged(
            self._listed(full, deal_ids).rows, selected, force) if int(entry[0]["ID"]) in wanted
            and (not _creates(entry) or int(entry[0]["ID"]) in creating))
        workers = 1 if dry_run else self.config.onec.max_concurrency
        with ThreadPoolExecutor(workers, thread_name_prefix="b24sync-1c") if workers > 1 else nullcontext() as pool:
            for chunk in chunked(itertools.chain(work, stragglers), CHUNK):
                gathered = self._gather(chunk, selected, force, recreate, keep)
                if not dry_run:
                    self._prefetch_customers(gathered)
                if pool is None:
                    for item, mapped, deal in gathered:
                        if self.stop_requested:
                            break
                        with self.turns.turn():
                            self._one_deal(item, mapped, deal, report, dry_run, progress)
                else:
                    self._deals_at_once(pool, gathered, report, progress)
                if not dry_run:
                    self._confirm_posts(report)
                    self._send(report)
                if self.stop_requested:
                    server_time = None  # the window is not done: the watermark stays where it was
                    break
        if not selected and not dry_run and server_time is not None:
            self.store.set_watermark(WATERMARK, server_time.isoformat())
        if not dry_run:
            self.store.log_run(report.job, started, "ok" if report.ok else "failed items", report.summary())
        return report

    def _settled(self, deal_ids: list[int]) -> set[int]:
        """Of these deals, those bound to a live document: a search by deal marker never looks for them."""
        return {deal_id for deal_id, binding in self.store.bindings_for_deals(deal_ids).items()
                if not binding.document_state}

    def _guard_creates(self, creates: int, report: CycleReport, dry_run: bool) -> None:
        """More creates than 'sync.guards.max_creates_per_cycle' stop the cycle before the first (a dry run says
        so): a wrong trigger stage must not flood 1C."""
        limit = self.sync.max_creates_per_cycle
        if creates > limit and dry_run:
            report.hold(f"the real run would stop here: it would create {creates} documents in 1C, more than "
                        f"'sync.guards.max_creates_per_cycle' ({limit}); `b24sync sync --confirm-bulk` lets it")
        elif creates > limit:
            raise BulkGuardError(
                f"this cycle would create {creates} documents in 1C, more than 'sync.guards.max_creates_per_cycle' "
                f"({limit}); nothing was created. If that is intended (a first run, a backfill), run "
                f"`b24sync sync --confirm-bulk`; otherwise check 'sync.pipelines' trigger stages "
                f"(`b24sync sync --dry-run` lists what would be created)")

    def _unchanged(self, binding: BindingView, deal: dict[str, Any]) -> bool:
        return (bool(binding.deal_modified) and binding.deal_modified == str(deal.get("DATE_MODIFY") or "")
                and binding.deal_inputs == mapping.deal_inputs(deal, self.deal_select)
                and self.store.open_intent(binding.deal_id) is None
                and not self.store.open_conflicts(binding.deal_id))  # an open conflict may end by itself

    def _listed(self, full: bool, deal_ids: Iterable[int] | None) -> Listed:
        """The deals to look at, as a stream: those changed since the watermark (or the ones asked for)."""
        if deal_ids is not None:
            wanted = list(deal_ids)
            found = self.bitrix.deals_by_id(wanted)
            return Listed((found[deal_id] for deal_id in sorted(found)),
                          vanished=[deal_id for deal_id in wanted if deal_id not in found])
        since = EPOCH
        mark = self.store.watermark(WATERMARK)
        if mark and not full:
            since = (parse_datetime(mark) or EPOCH) - timedelta(seconds=self.sync.overlap_seconds)
        categories = [pipeline.category_id for pipeline in self.sync.pipelines]
        listing = self.bitrix.deals_changed_since(since, categories, select=self.deal_select)
        return Listed(listing, listing, due=self.store.due_failures())

    def _triaged(self, deals: Iterable[dict[str, Any]], selected: bool, force: bool) -> Iterator[Work]:
        """The deals that need work, each as (deal, in its trigger stage, passes the filters, binding); the
        bindings and failures read 500 deals at a time."""
        for page in chunked(deals, 500):
            ids = [int(deal["ID"]) for deal in page]
            bindings, failures = self.store.bindings_for_deals(ids), self.store.failures_for(ids)
            for deal in page:
                deal_id = int(deal["ID"])
                pipeline = self.sync.pipeline(to_int(deal.get("CATEGORY_ID")) or 0)
                in_stage, filters = mapping.in_trigger_stage(deal, pipeline), mapping.passes_filters(deal, pipeline)
                binding, failure = bindings.get(deal_id), failures.get(deal_id)
                if binding is None and not (in_stage and filters) and failure is None:
                    continue
                if binding is not None and not (selected or force) and failure is None \
                        and self._unchanged(binding, deal):
                    continue  # as b24sync's own last look (or write) left it: nothing to read again
                modified = parse_datetime(deal.get("DATE_MODIFY"))
                if steps.waiting(failure, modified.timestamp() if modified else None, selected, self.clock.time()):
                    continue  # failed, not due, unchanged since: nothing to read
                yield deal, in_stage, filters, binding

    def _gather(self, chunk: list[tuple[dict, bool, bool, BindingView | None]], selected: bool, force: bool,
                recreate: bool, keep: str) -> list[tuple[steps.PushItem, Mapped, dict[str, Any]]]:
        """Everything the planner needs for a chunk, read in one go per kind of object."""
        self.onec.resolved()  # a default that does not resolve stops the cycle before anything is decided
        wanted = [deal for deal, in_stage, filters, binding in chunk
                  if in_stage and (binding is not None or filters)]
        self.gatherer.enrich(wanted)
        mapped = {int(deal["ID"]): self.gatherer.map(deal, self.clock.time()) for deal in wanted}
        refs = [binding.onec_ref for _, _, _, binding in chunk if binding is not None and not binding.document_state]
        headers = self.onec.headers(refs) if refs else {}
        searching = [int(deal["ID"]) for deal, in_stage, filters, binding in chunk if in_stage and filters and (
            binding is None or (recreate and (binding.document_state or binding.onec_ref not in headers)))]
        found = self.onec.find_by_deals(searching, search_since(
            [deal for deal, *_ in chunk if int(deal["ID"]) in searching]), self._markers) if searching else {}
        items = []
        for deal, in_stage, filters, binding in chunk:
            deal_id = int(deal["ID"])
            header: DocumentHeader | None = found.get(deal_id)
            if binding is not None and header is None:
                header = headers.get(binding.onec_ref)
                if header is not None and not header.unreadable and not in_stage \
                        and self.sync.on_leave_trigger == "close_order" and not binding.closed_by_b24sync:
                    snapshot = self.onec.snapshot(binding.onec_ref)  # paid or shipped decides whether it closes
                    header = replace(header, paid=snapshot.paid, shipped=snapshot.shipment_date is not None)
            result = mapped.get(deal_id, Mapped())
            if header is not None and header.unreadable:  # hidden from b24sync's 1C user: fails alone, retried
                result = replace(result, error=unreadable(header))
                if not header.ref:
                    header = None  # a document that may exist unseen: nothing to bind to, and nothing may be created
            modified = parse_datetime(deal.get("DATE_MODIFY"))
            conflicts = self.store.open_conflicts(deal_id) if binding is not None else []
            item = steps.PushItem(
                deal_id=deal_id, in_stage=in_stage, passes_filters=filters, projection=result.projection,
                wanted=result.wanted, error=result.error, transient=result.transient, binding=binding, header=header,
                failure=self.store.failure(deal_id), intent=self.store.open_intent(deal_id),
                conflict=conflicts[0] if conflicts else None,
                modified_at=modified.timestamp() if modified else None,
                written_order_id=str(binding.written_fields.get(self.fields.order_id, "")) if binding else "",
                selected=selected, force=force, recreate=recreate, keep=keep,
                accepted=self.store.accepted_conflicts(deal_id) if binding is not None and not in_stage
                else frozenset())
            items.append((item, result, deal))
        return items

    def _one_deal(self, item: steps.PushItem, mapped: Mapped, deal: dict[str, Any], report: CycleReport,
                  dry_run: bool, progress: list[int]) -> None:
        planned = steps.plan_push(item, self.policy())
        if dry_run:
            line = steps.describe(item.deal_id, planned)
            report.planned += [line] if line else []
            if item.error is not None:
                report.failed[item.deal_id] = item.error.reason
        else:
            self._execute(item, planned, mapped, deal, report)
        progress[0] += 1
        if self.progress is not None:
            self.progress(progress[0], progress[1], "deals")

    def _deals_at_once(self, pool: ThreadPoolExecutor, gathered: list[tuple[steps.PushItem, Mapped, dict]],
                       report: CycleReport, progress: list[int]) -> None:
        """A chunk's deals on `onec.max_concurrency` workers (turns.py): their waits on 1C overlap, their
        bookkeeping does not. A fatal error stops the deals not yet begun and is raised once all have ended."""
        fatal: list[BaseException] = []

        def work(item: steps.PushItem, mapped: Mapped, deal: dict[str, Any]) -> None:
            try:
                with self.turns.turn():  # an error leaves the turn first: a failing state file is rolled back
                    if self.stop_requested or fatal:
                        return
                    self._one_deal(item, mapped, deal, report, False, progress)
            except BaseException as error:
                fatal.append(error)

        futures = [pool.submit(work, *entry) for entry in gathered]
        try:
            for future in futures:
                future.result()
        except KeyboardInterrupt:
            self.stop_requested = True  # Ctrl+C: the deals in hand are finished, the others are left to the next run
            for future in futures:
                future.cancel()
            raise
        if fatal:
            raise fatal[0]

    def _confirm_posts(self, report: CycleReport) -> None:
        """The chunk's postings read back in `or` chains, not one read per document: a posted document's new
        version becomes b24sync's baseline; one 1C took but did not post fails its deal alone. Until then the
        intent stays open, so a crash in between adopts the version 1C shows at the next cycle."""
        posting, self._posting = self._posting, {}
        if not posting:
            return
        states = self.onec.posted_states(list(posting.values()))
        with self.store.grouped():
            self._record_posts(posting, states, report)

    def _record_posts(self, posting: dict[int, str], states: dict[str, Any], report: CycleReport) -> None:
        for deal_id, ref in posting.items():
            state = states.get(ref.lower())
            if state is not None and state.posted:
                self.store.record_write(deal_id, state.data_version, number=state.number, posted=True)
                continue
            self.store.close_intents(deal_id)
            self.store.record_deal_seen(deal_id, "", "")  # looked at again at its retry, as a refused posting is
            entity = self.onec.profile.order_entity
            self._fail(deal_id, onec_errors.BusinessError(
                f"1C accepted posting {entity} {state.number} but the document is still not posted" if state else
                f"1C accepted posting {entity} {ref}, but does not show the document when asked for it again "
                f"(deleted, or hidden from b24sync's user)", resource=entity,
                onec_message="документ остался непроведённым" if state else "документ не найден после проведения"),
                report)

    def _execute(self, item: steps.PushItem, planned: list[steps.Step], mapped: Mapped, deal: dict[str, Any],
                 report: CycleReport) -> None:
        deal_id = item.deal_id
        self._versions.pop(deal_id, None)
        try:
            for step in planned:
                self._do(item, step, mapped, report)
        except B24SyncError as error:
            if error.fatal:
                raise
            self._fail(deal_id, error, report)
            return
        if item.error is not None:
            return  # not seen as it is: the next listing looks at it again
        if self.store.binding_for_deal(deal_id) is not None:
            self.store.record_deal_seen(deal_id, str(deal.get("DATE_MODIFY") or ""),
                                        mapping.deal_inputs(deal, self.deal_select))

    def _do(self, item: steps.PushItem, step: steps.Step, mapped: Mapped, report: CycleReport) -> None:
        deal_id = item.deal_id
        projection = mapped.projection
        pushed = (projection.hash, projection.remembered()) if projection is not None else None
        entity = self.onec.profile.order_entity
        if isinstance(step, steps.Bind):
            header = step.header
            assert header.ref, "a document without a ref is never bound"
            self.store.bind(deal_id, header.ref, entity, header.number, header.data_version, posted=header.posted,
                            **({"pushed_hash": pushed[0], "pushed_projection": pushed[1]} if step.agreed and pushed
                               else {}))
            report.recovered += 1
        elif isinstance(step, steps.Create):
            if mapped.seller_error is not None:
                raise mapped.seller_error  # a new document's legal entity is never guessed
            draft = self._draft(mapped, creating=True)
            self.store.begin_intent(deal_id, "create_document", pushed[0] if pushed else "")
            document = self.onec.create_document(draft, check_existing=False, post=False)
            self.store.bind(deal_id, document.ref, document.entity, document.number, document.data_version,
                            **({"pushed_hash": pushed[0], "pushed_projection": pushed[1]} if pushed else {}))
            report.created += 1
            self.log.info("document_created", deal_id=deal_id, order_ref=document.ref, number=document.number)
            for note in mapped.notes:  # told once: with the document they concern
                self.outbox.comment(deal_id, note)
                self.log.warning("vat_rate_differs", deal_id=deal_id, order_ref=document.ref, note=note)
        elif isinstance(step, steps.Update):
            ref = self._ref(deal_id)
            draft = self._draft(mapped)
            # a step of this plan (a reopen) may have written the document since its header was read
            expected = self._versions.get(deal_id, step.expected_version)
            self.store.begin_intent(deal_id, "update")
            if step.unpost:
                unposted = self.onec.unpost(ref)
                # b24sync's own unpost is b24sync's: a refused update after it is no change by the accountant
                self.store.record_write(deal_id, unposted.data_version, posted=False)
                self.store.begin_intent(deal_id, "update")
                expected = unposted.data_version
            try:
                document = self.onec.update_document(ref, draft, expected, post=False)
            except (onec_errors.BusinessError, onec_errors.ConflictError, onec_errors.QueryError,
                    onec_errors.RightsError):
                self.store.close_intents(deal_id)  # 1C refused or changed: b24sync's write did not happen
                raise
            # in БП the document is the invoice: the pull reads it again, so its PDF shows the new content
            self.store.record_write(deal_id, document.data_version, number=document.number, posted=False,
                                    pushed=pushed, reread=self.onec.profile.order_is_invoice)
            report.updated += 1
        elif isinstance(step, steps.Post):
            self.store.begin_intent(deal_id, "post")
            ref = self._ref(deal_id)
            try:
                self.onec.post_unconfirmed(ref)
            except (onec_errors.BusinessError, onec_errors.QueryError, onec_errors.NotFoundError,
                    onec_errors.RightsError):
                self.store.close_intents(deal_id)  # 1C refused: nothing was written
                raise
            self._posting[deal_id] = ref  # its new version is read with the chunk's others (_confirm_posts)
        elif isinstance(step, steps.Reopen):
            self.store.begin_intent(deal_id, "reopen")
            reopened = self.onec.reopen_order(self._ref(deal_id), self.config.onec.order_status)
            self.store.record_write(deal_id, reopened.data_version, closed_by_b24sync=False)
            self._versions[deal_id] = reopened.data_version
            self.outbox.comment(deal_id, f"Сделка вернулась в работу: заказ {reopened.number} в 1С снова открыт.")
        elif isinstance(step, steps.Adopt):
            self.store.record_write(deal_id, self._versions.get(deal_id, step.version), posted=step.posted,
                                    pushed=pushed if step.pushed else None)
        else:
            self._do_common(deal_id, step, report)

    def _do_common(self, deal_id: int, step: steps.Step, report: CycleReport) -> None:
        """The steps both directions plan."""
        if isinstance(step, steps.Close):
            self.store.begin_intent(deal_id, "close")
            closed = self.onec.close_order(self._ref(deal_id))
            self.store.record_write(deal_id, closed.data_version, closed_by_b24sync=True)
            report.closed += 1
        elif isinstance(step, steps.WriteBack):
            binding = self.store.binding_for_deal(deal_id)
            assert binding is not None
            wanted = mapping.encode_values(mapping.DealValues(order_id=binding.onec_ref, order_number=binding.number),
                                           self.fields, self.payment_options(), self.present_fields)
            self.outbox.update(deal_id, {name: wanted[name] for name in (
                self.fields.order_id, self.fields.order_number, self.fields.payment_status)})
        elif isinstance(step, steps.Comment):
            self.outbox.comment(deal_id, step.text)
        elif isinstance(step, steps.Conflict):
            binding = self.store.binding_for_deal(deal_id)
            if self.store.add_conflict(deal_id, binding.onec_ref if binding else "", step.text):
                self.outbox.comment(deal_id, step.text)
                report.conflicts += 1
                report.conflicted[deal_id] = step.text
                self.log.warning("conflict_opened", deal_id=deal_id, order_ref=binding.onec_ref if binding else "",
                                 action=f"b24sync conflicts resolve --deal {deal_id} --keep bitrix24|1c")
        elif isinstance(step, steps.ResolveConflicts):
            self.store.resolve_conflicts(deal_id, step.resolution)
        elif isinstance(step, steps.Fail):
            self._fail(deal_id, step.error, report, tell=step.tell)
        elif isinstance(step, steps.ClearFailure):
            if self.store.failure(deal_id) is not None:
                self.outbox.recovered.add(deal_id)  # cleared once its write-back has gone through
                self.log.info("deal_recovered", deal_id=deal_id)
        elif isinstance(step, steps.MarkMissing):
            binding = self.store.binding_for_deal(deal_id)
            assert binding is not None
            fields = {self.fields.order_number: f"{binding.number} ({steps.MISSING_LABELS[step.state]})"}
            if step.state == "deleted":
                fields[self.fields.order_id] = ""
            self.outbox.update(deal_id, fields)  # a failed write is retried by the pull (retry_fields)

            def reported(state: str = step.state) -> None:  # told for sure: not again, and its conflicts are moot
                self.store.mark_document_missing(deal_id, state)
                self.store.resolve_conflicts(deal_id, "document_missing")

            if step.tell:
                self.outbox.comment_with_files(deal_id, step.text, [], reported)
                report.missing += 1
            recreating = self.sync.on_missing_document == "recreate" and "создаёт" in step.text
            self.log.warning("document_missing", deal_id=deal_id, order_ref=binding.onec_ref, state=step.state,
                             action="a new one is created now (sync.on_missing_document: recreate)" if recreating
                             else f"b24sync resync --deal {deal_id} --recreate creates a new one")
        elif isinstance(step, steps.Unbind):
            self.store.resolve_conflicts(deal_id, "document_missing")
            self.store.unbind(deal_id)
        else:
            raise AssertionError(f"no executor for {step!r}")

    def _ref(self, deal_id: int) -> str:
        binding = self.store.binding_for_deal(deal_id)
        assert binding is not None
        return binding.onec_ref

    def _draft(self, mapped: Mapped, creating: bool = False) -> Any:
        """The document for the deal; a new one's organisation is the deal's «моя компания» (an existing one keeps
        its own: a later choice is not carried into it)."""
        assert mapped.projection is not None
        if creating and mapped.seller:
            mapped = replace(mapped, choices=replace(mapped.choices or Choices(), organisation=mapped.seller))
        counterparty, partner = self._counterparty(mapped.projection.customer, mapped.projection.deal_id)
        currency = mapped.projection.currency or self.config.onec.defaults.currency
        contract = self._contract(counterparty, mapped.choices, currency) if self.onec.profile.uses_contracts \
            else None
        draft = mapping.draft(mapped.projection, mapped.nomenclature, counterparty, partner, mapped.manager_ref,
                              contract, self.config.onec.defaults.currency, packed=mapped.packed)
        person = None
        if self.onec.profile.contact_persons and self.sync.order_fields.contact_person:
            person = self._contact_person(partner, mapped.projection.contact_person) or ZERO_GUID
        return replace(draft, choices=mapped.choices, contact_person_ref=person)

    def _fail(self, deal_id: int, error: Exception, report: CycleReport, kind: str = "deal",
              tell: bool = True) -> None:
        reason = error.reason if isinstance(error, ItemError) else _reason(error)
        code = getattr(error, "code", "error")
        report.failed[deal_id] = reason
        report.codes[deal_id] = code
        self.log.warning("deal_failed", deal_id=deal_id, reason=reason, code=code, detail=str(error), kind=kind)
        transient = isinstance(error, B24SyncError) and (error.retryable or error.code == "outcome_unknown")
        failure = self.store.record_failure(deal_id, reason, str(error), kind, code, transient=transient)
        self.outbox.forget(deal_id)
        if kind == "writeback":
            self.outbox.keep_failure.add(deal_id)
        if kind == "deal" and tell and failure.commented_reason != reason[:250]:
            self.outbox.tell_failure(deal_id, reason, f"b24sync не смог передать сделку в 1С: {reason} Попытка "
                                                      f"будет повторена автоматически.")

    def preflight(self) -> None:
        """Before the first write of a cycle: every deal field b24sync writes exists, with its options."""
        self.payment_options()

    def payment_options(self) -> dict[str, str]:
        """The payment-status field's option IDs; also checks, once, that every field b24sync writes exists."""
        if self._payment_options is None:
            existing = self.bitrix.deal_userfields()
            optional = {spec.name for spec in optional_field_specs(self.fields)}
            names = [spec.name for spec in deal_field_specs(self.fields)]
            missing = [name for name in names if name not in existing and name not in optional]
            self.present_fields = {name for name in names if name in existing}
            absent = sorted(optional - self.present_fields)
            if absent:
                self.log.warning("deal_fields_missing", fields=absent,
                                 action="run `b24sync setup` to create them; the other fields are written meanwhile")
            if missing:
                raise SetupMissingError(f"Bitrix24 has no deal field {', '.join(missing)}: run `b24sync setup` to "
                                        f"create the fields b24sync writes (see 'sync.fields'); nothing was written")
            options = payment_option_ids(existing[self.fields.payment_status])
            lacking = [name for name in ("paid", "partial", "unpaid") if name not in options]
            if lacking:
                raise SetupMissingError(f"the deal field {self.fields.payment_status} has no option with XML_ID "
                                        f"{', '.join(lacking)}: run `b24sync setup`, or add the options in Bitrix24; "
                                        f"nothing was written")
            self._payment_options = options
        return self._payment_options

    def _send(self, report: CycleReport) -> None:
        """The cycle's outbox to Bitrix24; a deal whose write did not go in fails as a write-back, retried."""
        try:
            self._tell_counterparties()
        except B24SyncError as error:  # the contacts' field is a convenience: never a reason to fail the cycle
            self.log.warning("counterparty_field_not_written", error=str(error), action="written at the next cycle")
        outbox, self.outbox = self.outbox, Outbox()
        failed = self.sender.send(outbox)
        for deal_id, error in failed:
            self._fail(deal_id, error, report, "writeback")  # a write-back failure tells nothing on the timeline
        self.outbox = Outbox()
        report.written_back += len(outbox.updates) - len({deal_id for deal_id, _ in failed
                                                          if deal_id in outbox.updates})


def _creates(entry: Work) -> bool:
    """Whether this work makes a new document: a deal in its trigger stage, passing the filters, not bound."""
    _, in_stage, filters, binding = entry
    return in_stage and filters and binding is None


def search_since(deals: Iterable[dict[str, Any]]) -> datetime | None:
    """Where the search by deal marker starts: a document made for a deal is made after the deal, so from the
    earliest deal's creation; None (search everything) when a deal's creation is unknown."""
    created = [parse_datetime(deal.get("DATE_CREATE")) for deal in deals]
    if not created or any(moment is None for moment in created):
        return None
    return min(moment for moment in created if moment is not None)


def _reason(error: Exception) -> str:
    """One line for `status` and the deal's timeline."""
    if isinstance(error, onec_errors.BusinessError):
        return f"1С отказался принять документ: {error.onec_message}"
    if getattr(error, "code", "") == "outcome_unknown":  # either system's
        return "Связь оборвалась во время записи; b24sync проверит результат при следующей попытке."
    if isinstance(error, onec_errors.ConflictError):
        return "Документ изменён в 1С одновременно с записью."
    if isinstance(error, onec_errors.ObjectRightsError):
        return RIGHTS_REASON
    # a technical error: the manager is told in Russian who to ask, the administrator sees the detail in `status`
    system = {"onec": "при обмене с 1С", "bitrix24": "при обмене с Битрикс24"}.get(
        str(getattr(error, "system", "")), "в b24sync")
    return (f"Техническая ошибка {system} (код {getattr(error, 'code', 'error')}); подробности у "
            f"администратора в `b24sync status`.")
