"""The runner: the one place where the sync's effects happen, in a crash-safe order.

Bitrix24 → 1C: list deals changed since the watermark (minus an overlap),
enrich them in batches, project each, decide, and act: search 1C for the
deal's document, record an intent, create, bind, write the order back to the
deal. 1C → Bitrix24: poll the bound documents, turn snapshots into deal field
values, and write only what changed. A deal that fails is recorded with its
reason, retried with backoff, and told about once on its timeline; it never
stops the others.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from b24sync.bitrix24 import errors as b24_errors
from b24sync.bitrix24.adapter import ENTITY_COMPANY, Bitrix24Adapter
from b24sync.bitrix24.records import CatalogProduct, Company, Contact, ProductRow, Requisite
from b24sync.bitrix24.wire import chunked, parse_datetime, to_int
from b24sync.clock import SYSTEM_CLOCK, Clock
from b24sync.config import Config
from b24sync.logs import get_logger
from b24sync.onec import errors as onec_errors
from b24sync.onec.adapter import OneCAdapter
from b24sync.onec.documents import DocumentRef
from b24sync.store.store import Store
from b24sync.sync import mapping
from b24sync.sync.decide import Action, decide
from b24sync.sync.fields import payment_option_ids
from b24sync.sync.invoices import InvoiceError, InvoicePublisher
from b24sync.sync.report import CycleReport

WATERMARK = "bitrix24_deals"
CHUNK = 50
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


class BulkGuardError(Exception):
    """A cycle would create more documents than the guard allows; nothing was created."""


class SetupMissingError(Exception):
    """Bitrix24 lacks a deal field b24sync writes; `b24sync setup` creates it."""

    fatal = True


@dataclass
class Context:
    """What one chunk of deals needs from both systems, each object fetched once per cycle."""

    rows: dict[int, list[ProductRow]] = field(default_factory=dict)
    products: dict[int, CatalogProduct] = field(default_factory=dict)
    companies: dict[int, Company] = field(default_factory=dict)
    requisites: dict[int, list[Requisite]] = field(default_factory=dict)
    contacts: dict[int, Contact] = field(default_factory=dict)
    nomenclature: dict[str, str] = field(default_factory=dict)  # xml_id or "article:<a>" -> Ref_Key
    existing: dict[int, DocumentRef] = field(default_factory=dict)  # documents found by deal marker
    counterparties: dict[str, tuple[str, str | None, str | None]] = field(default_factory=dict)


class Engine:
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
        self._payment_options: dict[str, str] | None = None
        self._stage_orders: dict[int, tuple[list[str], set[str]]] = {}
        self.pending_updates: dict[int, dict[str, str]] = {}
        self.pending_comments: dict[int, list[str]] = {}
        self.context = Context()
        self.stop_requested = False  # set by the daemon on SIGTERM: finish the deal in hand, save, return
        self.invoices = InvoicePublisher(config, bitrix, onec, store)
        self.progress: Any = None  # called with (done, total) after each deal of a push (the TTY progress bar)
        self._recovered: set[int] = set()  # deals that went through after failing; cleared after the write-back
        self._keep_failure: set[int] = set()  # deals whose invoice failed this pull: their failure stays
        self._due: list[int] = []  # failed deals whose retry is due in this push
        self._comment_marks: dict[int, str] = {}  # deal -> failure reason its queued comment tells about

    # -- Bitrix24 → 1C ----------------------------------------------------------------------------------

    def push(self, *, full: bool = False, deal_ids: Iterable[int] | None = None, dry_run: bool = False,
             confirm_bulk: bool = False, force: bool = False) -> CycleReport:
        """One Bitrix24 → 1C cycle; `force` re-pushes regardless of hashes (resync)."""
        report = CycleReport("bitrix24_to_onec", dry_run=dry_run)
        started = self.clock.time()
        self.context = Context()
        deals, server_time = self._changed_deals(full, deal_ids)
        report.listed = len(deals)
        work = []
        for deal_id in [item for item in self._due if item not in deals] if not dry_run else []:
            self.store.clear_failure(deal_id)  # the deal was deleted: nothing left to retry
        for deal_id in sorted(deals):
            deal = deals[deal_id]
            if deal_ids is None and self._waiting(deal_id, deal):
                continue
            triggered = mapping.in_trigger(deal, self.sync.pipeline(to_int(deal.get("CATEGORY_ID")) or 0))
            binding = self.store.binding_for_deal(deal_id)
            if not triggered and binding is None and not dry_run and self.store.failure(deal_id) is not None:
                self.store.clear_failure(deal_id)  # it left the trigger stages: nothing left to retry
            if triggered or binding is not None:
                work.append((deal, triggered, binding))
        creates = sum(1 for _, triggered, binding in work if triggered and binding is None)
        limit = self.sync.max_creates_per_cycle
        if creates > limit and not confirm_bulk and not dry_run:
            raise BulkGuardError(
                f"this cycle would create {creates} documents in 1C, more than 'sync.guards.max_creates_per_cycle' "
                f"({limit}); nothing was created. If that is intended (a first run, a backfill), run "
                f"`b24sync sync --confirm-bulk`; otherwise check 'sync.pipelines' trigger stages "
                f"(`b24sync sync --dry-run` lists what would be created)")
        done = 0
        for chunk in chunked(work, CHUNK):
            self.context.rows.clear()  # rows are needed by this chunk only: memory stays flat
            self._enrich([deal for deal, triggered, _ in chunk if triggered])
            # recovery: the documents of the deals about to be created, found by their deal marker in one go
            self.context.existing = self.onec.find_by_deals(
                int(deal["ID"]) for deal, triggered, binding in chunk if triggered and binding is None)
            for deal, triggered, binding in chunk:
                if self.stop_requested:
                    break
                self._push_one(deal, triggered, binding, report, dry_run, force)
                done += 1
                if self.progress is not None:
                    self.progress(done, len(work))
            self._flush(report, dry_run)
            if self.stop_requested:
                server_time = None  # the window is not done: the watermark stays where it was
                break
        if deal_ids is None and not dry_run and server_time is not None:
            self.store.set_watermark(WATERMARK, server_time.isoformat())
        if not dry_run:
            self.store.log_run(report.job, started, "ok" if report.ok else "failed items", report.summary())
        return report

    def _waiting(self, deal_id: int, deal: dict[str, Any]) -> bool:
        """A failed deal waits for its retry time, unless someone changed it since it failed."""
        failure = self.store.failure(deal_id)
        if failure is None or failure.next_retry_at <= self.clock.time():
            return False
        modified = parse_datetime(deal.get("DATE_MODIFY"))
        return modified is None or modified.timestamp() <= failure.last_failed_at

    def _changed_deals(self, full: bool, deal_ids: Iterable[int] | None) -> tuple[dict[int, dict], datetime | None]:
        self._due = []
        if deal_ids is not None:
            wanted = list(deal_ids)
            self._due = [deal_id for deal_id in wanted if self.store.failure(deal_id) is not None]
            return self.bitrix.deals_by_id(wanted), None
        since = EPOCH
        mark = self.store.watermark(WATERMARK)
        if mark and not full:
            since = (parse_datetime(mark) or EPOCH) - timedelta(seconds=self.sync.overlap_seconds)
        categories = [pipeline.category_id for pipeline in self.sync.pipelines]
        listing = self.bitrix.deals_changed_since(since, categories, select=mapping.DEAL_SELECT)
        deals = {int(row["ID"]): row for row in listing}
        due = [deal_id for deal_id in self.store.due_failures() if deal_id not in deals]
        self._due = due
        if due:
            deals.update(self.bitrix.deals_by_id(due))
        return deals, listing.server_time

    def _enrich(self, deals: list[dict[str, Any]]) -> None:
        """Rows, products, companies, requisites and contacts of the deals, and their products in 1C."""
        context = self.context
        ids = [int(deal["ID"]) for deal in deals if int(deal["ID"]) not in context.rows]
        context.rows.update(self.bitrix.product_rows(ids))
        product_ids = {row.product_id for deal_id in ids for row in context.rows.get(deal_id, []) if row.product_id}
        wanted = product_ids - set(context.products)
        context.products.update(self.bitrix.products(wanted, self.sync.article_property))
        company_ids = {to_int(deal.get("COMPANY_ID")) or 0 for deal in deals} - {0} - set(context.companies)
        context.companies.update(self.bitrix.companies(company_ids))
        context.requisites.update(self.bitrix.requisites(ENTITY_COMPANY, company_ids))
        contact_ids = {to_int(deal.get("CONTACT_ID")) or 0 for deal in deals} - {0} - set(context.contacts)
        context.contacts.update(self.bitrix.contacts(contact_ids))
        products = [context.products[product_id] for product_id in wanted if product_id in context.products]
        xml_ids = [product.xml_id for product in products if product.xml_id]
        articles = [product.article for product in products if product.article]
        if self.sync.product_match == "xml_id" or self.sync.product_fallback:
            for ref in self.onec.nomenclature_by_refs(xml_ids):
                context.nomenclature[ref] = ref
        if self.sync.product_match == "article" or self.sync.product_fallback:
            for article, row in self.onec.nomenclature_by_articles(articles).items():
                context.nomenclature[f"article:{article}"] = row["Ref_Key"]

    def _push_one(self, deal: dict[str, Any], triggered: bool, binding: Any, report: CycleReport, dry_run: bool,
                  force: bool) -> None:
        deal_id = int(deal["ID"])
        log = self.log.bind(deal_id=deal_id)
        try:
            projection = self._project(deal) if triggered else None
            action = decide(binding is not None, None if force else getattr(binding, "pushed_hash", None),
                            triggered, projection.hash if projection else None)
            if binding is not None and triggered and binding.closed_by_b24sync and not dry_run:
                self._reopen(deal_id, binding)
            if action is Action.CREATE:
                self._create(deal, projection, report, dry_run)
            elif action is Action.UPDATE:
                self._update(deal, binding, projection, report, dry_run)
            elif action is Action.LEAVE:
                self._leave(deal, binding, report, dry_run)
            elif binding is not None and not dry_run:
                if not binding.posted and self.config.onec.post_documents:
                    self._post(deal_id, binding.onec_ref)  # a posting refused (or interrupted) earlier
                if self.store.written_fields(binding).get(self.fields.order_id) != binding.onec_ref:
                    # bound, but the deal never got its order (a crash between binding and write-back)
                    self._queue_order_fields(deal_id, self.onec.read(binding.onec_ref))
            if not dry_run and self.store.failure(deal_id) is not None:
                self._recovered.add(deal_id)  # cleared once its write-back has gone through (see _flush)
                log.info("deal_recovered")
        except mapping.MappingError as error:
            self._fail(deal_id, error.reason, str(error), report, dry_run)
        except (onec_errors.OneCError, b24_errors.Bitrix24Error) as error:
            if error.fatal:
                raise
            self._fail(deal_id, _reason(error), str(error), report, dry_run)

    def _project(self, deal: dict[str, Any]) -> mapping.Projection:
        context = self.context
        deal_id = int(deal["ID"])
        company_id = to_int(deal.get("COMPANY_ID")) or 0
        contact_id = to_int(deal.get("CONTACT_ID")) or 0
        company = context.companies.get(company_id) if company_id else None
        return mapping.project(deal, context.rows.get(deal_id, []), context.products, company,
                               context.requisites.get(company_id, []) if company else [],
                               context.contacts.get(contact_id) if contact_id else None)

    def _nomenclature(self, projection: mapping.Projection) -> dict[int, str]:
        """Each row's product as a 1C Ref_Key, by the configured match and its fallback."""
        found: dict[int, str] = {}
        order = [self.sync.product_match] + (
            [other for other in ("xml_id", "article") if other != self.sync.product_match]
            if self.sync.product_fallback else [])
        for position, row in enumerate(projection.rows, start=1):
            for way in order:
                key = row.xml_id if way == "xml_id" else (f"article:{row.article}" if row.article else None)
                if key and key in self.context.nomenclature:
                    found[row.product_id] = self.context.nomenclature[key]
                    break
            else:
                ways = " или ".join("XML_ID " + (row.xml_id or "—") if way == "xml_id" else
                                    "артикулу " + (row.article or "—") for way in order)
                raise mapping.MappingError(
                    f"Товар «{row.name}» (строка {position}) не найден в 1С по {ways}: добавьте его в 1С или "
                    f"исправьте товар в каталоге Битрикс24.", f"product {row.product_id}")
        return found

    def _counterparty(self, customer: mapping.Customer, dry_run: bool = False) -> tuple[str, str | None, str | None]:
        """(counterparty, partner, contract) references, found or created, once per cycle."""
        key = f"{customer.kind}:{customer.inn or ''}:{customer.kpp or ''}:{customer.name}"
        if key in self.context.counterparties:
            return self.context.counterparties[key]
        if customer.inn:
            found = self.onec.counterparty_by_inn(customer.inn, customer.kpp)
        else:
            found = self.onec.counterparty_by_name(customer.name)
        if found is None and dry_run:
            return ("(new counterparty)", None, None)
        if found is None:
            try:
                found = self.onec.create_counterparty(customer.name, customer.full_name, inn=customer.inn,
                                                      kpp=customer.kpp, individual=customer.kind == "person")
            except onec_errors.SetupError as error:
                who = f"ИНН {customer.inn}" if customer.inn else f"«{customer.name}»"
                raise mapping.MappingError(f"В 1С нет контрагента с {who}, а создавать их b24sync не разрешено: "
                                           f"заведите контрагента в 1С.", str(error)) from None
        contract = None
        if self.onec.profile.name == "bp30":
            contract = self.onec.contract(found["Ref_Key"], create=not dry_run)
        refs = (found["Ref_Key"], found.get("Партнер_Key"), contract)
        self.context.counterparties[key] = refs
        return refs

    def _draft(self, projection: mapping.Projection, dry_run: bool = False) -> Any:
        nomenclature = self._nomenclature(projection)
        try:
            self.onec.currency(projection.currency or None)
        except onec_errors.SetupError:
            raise mapping.MappingError(f"Валюты «{projection.currency}» нет в 1С: смените валюту сделки или "
                                       f"добавьте валюту в 1С.") from None
        try:
            manager = self.onec.manager(projection.manager_id)
        except onec_errors.SetupError as error:
            raise mapping.MappingError("Ответственный сделки не сопоставлен пользователю 1С: исправьте "
                                       "'onec.managers' или пользователя в 1С.", str(error)) from None
        counterparty, partner, contract = self._counterparty(projection.customer, dry_run)
        return mapping.draft(projection, nomenclature, counterparty, partner, manager, contract,
                             self.config.onec.defaults.currency)

    def _create(self, deal: dict[str, Any], projection: mapping.Projection, report: CycleReport,
                dry_run: bool) -> None:
        deal_id = int(deal["ID"])
        # recovery: a lost state file, or a crash after the create (searched for the whole chunk at once)
        existing = self.context.existing.get(deal_id)
        if existing is not None:
            if dry_run:
                report.planned.append(f"deal {deal_id}: bind to the existing {existing.entity} {existing.number}")
                return
            # What was sent is what the interrupted create recorded; the next cycle compares it with the deal
            # now and updates 1C if the deal changed meanwhile. Without an intent (a lost state file) b24sync
            # cannot know what the document holds, and takes it as matching the deal.
            sent = self.store.open_intent_hash(deal_id)
            self.store.bind(deal_id, existing.ref, existing.entity, existing.number,
                            projection.hash if sent is None else sent, existing.data_version)
            self.store.update_binding(deal_id, posted=existing.posted)
            self._queue_order_fields(deal_id, existing)
            report.recovered += 1
            binding = self.store.binding_for_deal(deal_id)
            if binding.pushed_hash != projection.hash and not existing.posted:
                # the deal changed after the interrupted create: bring the (still unposted) document up to date
                self._update(deal, binding, projection, report, dry_run)
            elif not existing.posted and self.config.onec.post_documents:
                self._post(deal_id, existing.ref)
            return
        draft = self._draft(projection, dry_run)
        if dry_run:
            report.planned.append(f"deal {deal_id}: create {self.onec.profile.order_entity} of "
                                  f"{len(draft.rows)} rows for {projection.amount} {draft.currency_code}")
            return
        self.store.begin_intent(deal_id, "create_document", projection.hash)
        document = self.onec.create_document(draft, check_existing=False, post=False)
        self.store.bind(deal_id, document.ref, document.entity, document.number, projection.hash,
                        document.data_version)
        self.store.update_binding(deal_id, pushed_projection=projection.as_json())
        self.store.save_versions({document.ref: document.data_version})
        self._queue_order_fields(deal_id, document)
        report.created += 1
        self.log.info("document_created", deal_id=deal_id, order_ref=document.ref, number=document.number)
        if self.config.onec.post_documents:
            self._post(deal_id, document.ref)

    def _settle(self, deal_id: int, document: DocumentRef, **changes: Any) -> None:
        """After b24sync's own write: the binding remembers the document's new version, so it is neither taken
        for the accountant's change nor read back as news, and the write's intent is closed."""
        self.store.update_binding(deal_id, onec_version=document.data_version, **changes)
        self.store.save_versions({document.ref: document.data_version})
        self.store.close_intents(deal_id)

    def _post(self, deal_id: int, ref: str) -> None:
        self.store.begin_intent(deal_id, "post")
        try:
            posted = self.onec.post(ref)
        except (onec_errors.BusinessError, onec_errors.QueryError, onec_errors.NotFoundError):
            self.store.close_intents(deal_id)  # 1C refused: nothing was written
            raise
        self._settle(deal_id, posted, posted=True, number=posted.number)

    def _update(self, deal: dict[str, Any], binding: Any, projection: mapping.Projection, report: CycleReport,
                dry_run: bool) -> None:
        deal_id = int(deal["ID"])
        current = self.onec.read(binding.onec_ref)
        differences = _differences(json.loads(binding.pushed_projection or "{}"), json.loads(
            projection.as_json()))
        if self.store.has_open_intent(deal_id):
            # b24sync's own write was interrupted after 1C took it: the version 1C shows is ours to adopt
            self.store.update_binding(deal_id, onec_version=current.data_version, posted=current.posted)
            binding = self.store.binding_for_deal(deal_id)
        if current.data_version != binding.onec_version:
            self._conflict(deal_id, binding, f"Документ {current.number} изменён в 1С после того, как b24sync его "
                                             f"записал, поэтому изменения сделки ({differences}) в него не внесены. "
                                             f"Согласуйте их с бухгалтерией.", report, dry_run)
            return
        if current.posted and self.sync.on_locked_document == "comment":
            self._conflict(deal_id, binding, f"Документ {current.number} уже проведён в 1С, поэтому изменения "
                                             f"сделки ({differences}) в него не внесены. Попросите бухгалтерию "
                                             f"внести их.", report, dry_run)
            return
        if dry_run:
            report.planned.append(f"deal {deal_id}: update {binding.entity} {current.number} ({differences})")
            return
        draft = self._draft(projection)
        expected = current.data_version
        self.store.begin_intent(deal_id, "update")
        try:
            if current.posted:
                expected = self.onec.unpost(binding.onec_ref).data_version
            document = self.onec.update_document(binding.onec_ref, draft, expected, post=False)
        except (onec_errors.BusinessError, onec_errors.ConflictError, onec_errors.QueryError):
            self.store.close_intents(deal_id)  # 1C refused or changed: b24sync's write did not happen
            raise
        self._settle(deal_id, document, pushed_hash=projection.hash, pushed_projection=projection.as_json(),
                     posted=False, number=document.number)
        self.store.resolve_conflicts(deal_id)
        report.updated += 1
        if self.config.onec.post_documents:
            self._post(deal_id, document.ref)

    def _leave(self, deal: dict[str, Any], binding: Any, report: CycleReport, dry_run: bool) -> None:
        if self.sync.on_leave_trigger != "close_order" or binding.closed_by_b24sync:
            return
        deal_id = int(deal["ID"])
        snapshot = self.onec.snapshot(binding.onec_ref)
        if snapshot.paid > 0 or snapshot.shipment_date is not None or self.onec.profile.name != "ut11":
            self._conflict(deal_id, binding, f"Сделка вышла из стадий выгрузки, но документ {snapshot.number} в 1С "
                                             f"уже оплачен или отгружен, поэтому он не закрыт.", report, dry_run)
            return
        if dry_run:
            report.planned.append(f"deal {deal_id}: close {binding.entity} {snapshot.number}")
            return
        self.store.begin_intent(deal_id, "close")
        closed = self.onec.close_order(binding.onec_ref)
        self._settle(deal_id, closed, closed_by_b24sync=True)
        self._comment(deal_id, f"Сделка вышла из стадий выгрузки: заказ {snapshot.number} в 1С закрыт.")
        report.closed += 1

    def _reopen(self, deal_id: int, binding: Any) -> None:
        """The deal is back in a trigger stage: the order b24sync closed gets its status back."""
        self.store.begin_intent(deal_id, "reopen")
        reopened = self.onec.reopen_order(binding.onec_ref, self.config.onec.order_status)
        self._settle(deal_id, reopened, closed_by_b24sync=False)
        self._comment(deal_id, f"Сделка вернулась в работу: заказ {reopened.number} в 1С снова открыт.")

    def _conflict(self, deal_id: int, binding: Any, text: str, report: CycleReport, dry_run: bool) -> None:
        if dry_run:
            report.planned.append(f"deal {deal_id}: conflict: {text}")
            return
        if self.store.add_conflict(deal_id, binding.onec_ref, text):
            self._comment(deal_id, text)
            report.conflicts += 1

    def _fail(self, deal_id: int, reason: str, detail: str, report: CycleReport, dry_run: bool,
              kind: str = "deal") -> None:
        report.failed[deal_id] = reason
        self.log.warning("deal_failed", deal_id=deal_id, reason=reason, detail=detail, kind=kind)
        if dry_run:
            return
        failure = self.store.record_failure(deal_id, reason, detail, kind)
        self._recovered.discard(deal_id)
        if kind == "deal" and failure.commented_reason != reason[:250]:
            self._comment(deal_id, f"b24sync не смог передать сделку в 1С: {reason} Попытка будет повторена "
                                   f"автоматически.")
            self._comment_marks[deal_id] = reason

    def _comment(self, deal_id: int, text: str) -> None:
        self.pending_comments.setdefault(deal_id, []).append(text)

    # -- 1C → Bitrix24 ------------------------------------------------------------------------------------

    def pull(self, *, dry_run: bool = False, deal_ids: Iterable[int] | None = None) -> CycleReport:
        """One 1C → Bitrix24 cycle: the accountant's invoices, payments and shipments onto the deals."""
        report = CycleReport("onec_to_bitrix24", dry_run=dry_run)
        started = self.clock.time()
        self._keep_failure = set()  # deals whose invoice failed: their other fields may still go
        only = set(deal_ids) if deal_ids is not None else None
        bindings = {binding.onec_ref: binding for binding in self.store.bindings(open_only=only is None)
                    if only is None or binding.deal_id in only}
        known = {} if only is not None else self.store.seen_versions()
        for ref, binding in bindings.items():
            known.setdefault(ref, binding.onec_version)
            failed = self.store.failure(binding.deal_id, "writeback")
            if failed is not None and failed.next_retry_at <= self.clock.time():
                known.pop(ref, None)  # a write-back failed and its retry is due: read the document again
            if not binding.snapshot_hash:
                known.pop(ref, None)  # never read back yet (a БП invoice is b24sync's own document)
        since = datetime.fromtimestamp(self.clock.time()) - timedelta(days=self.sync.onec_window_days)
        result = self.onec.poll(bindings, known, since)
        report.listed = len(bindings)
        moves: dict[int, mapping.DealValues] = {}
        for ref, snapshot in result.snapshots.items():
            binding = bindings.get(ref) or self.store.binding_for_ref(ref)
            if binding is None:
                continue
            values = mapping.values_from_snapshot(snapshot)
            if snapshot.invoices and self.config.onec.invoice_pdf != "off" and not dry_run:
                try:
                    values = replace(values, invoice_url=self.invoices.put_on_deal(binding.deal_id, snapshot))
                except (onec_errors.OneCError, b24_errors.Bitrix24Error, InvoiceError) as error:
                    if getattr(error, "fatal", False):
                        raise
                    self._fail(binding.deal_id, _reason(error), str(error), report, dry_run, "writeback")
                    self._keep_failure.add(binding.deal_id)
                    values = replace(values, invoice_url=self.store.written_fields(binding).get(
                        self.fields.invoice_url, ""))
            wanted = mapping.encode_values(values, self.fields, self.payment_options())
            diff = mapping.changed_fields(wanted, self.store.written_fields(binding))
            if diff:
                if dry_run:
                    report.planned.append(f"deal {binding.deal_id}: write {', '.join(sorted(diff))}")
                else:
                    self.pending_updates.setdefault(binding.deal_id, {}).update(diff)
            if not dry_run:
                self.store.update_binding(binding.deal_id, is_open=not (values.payment_status == "paid"
                                                                          and values.shipment_date is not None),
                                          snapshot_hash=snapshot.data_version or "read")
            moves[binding.deal_id] = values
        self._stage_moves(moves, report, dry_run)
        self._flush(report, dry_run)
        if not dry_run:
            self.store.save_versions(result.versions)
            self.store.log_run(report.job, started, "ok" if report.ok else "failed items", report.summary())
        return report

    def payment_options(self) -> dict[str, str]:
        """The payment-status field's option IDs; also checks, once, that every field b24sync writes exists."""
        if self._payment_options is None:
            existing = self.bitrix.deal_userfields()
            names = [getattr(self.fields, name) for name in self.fields.__dataclass_fields__]
            missing = [name for name in names if name not in existing]
            if missing:
                raise SetupMissingError(f"Bitrix24 has no deal field {', '.join(missing)}: run `b24sync setup` to "
                                        f"create the fields b24sync writes (see 'sync.fields')")
            self._payment_options = payment_option_ids(existing[self.fields.payment_status])
        return self._payment_options

    def _queue_order_fields(self, deal_id: int, document: DocumentRef) -> None:
        """The order's GUID, number and (for a new order) 'unpaid', written back in this same cycle."""
        values = mapping.DealValues(order_id=document.ref, order_number=document.number)
        wanted = mapping.encode_values(values, self.fields, self.payment_options())
        self.pending_updates.setdefault(deal_id, {}).update(
            {name: wanted[name] for name in (self.fields.order_id, self.fields.order_number,
                                             self.fields.payment_status)})

    def _stage_moves(self, moves: dict[int, mapping.DealValues], report: CycleReport, dry_run: bool) -> None:
        if not any(pipeline.stage_on_paid or pipeline.stage_on_shipped for pipeline in self.sync.pipelines):
            return
        candidates = [deal_id for deal_id, values in moves.items()
                      if values.payment_status == "paid" or values.shipment_date]
        for deal_id, deal in self.bitrix.deals_by_id(candidates).items() if candidates else []:
            category = to_int(deal.get("CATEGORY_ID")) or 0
            order, final = self._stage_order(category)
            target = mapping.stage_move(deal["STAGE_ID"], order, final, self.sync.pipeline(category), moves[deal_id])
            if target is None:
                continue
            if dry_run:
                report.planned.append(f"deal {deal_id}: move to stage {target}")
                continue
            self.pending_updates.setdefault(deal_id, {})["STAGE_ID"] = target
            report.stage_moves += 1

    def _stage_order(self, category: int) -> tuple[list[str], set[str]]:
        if category not in self._stage_orders:
            stages = self.bitrix.deal_stages(category)
            order = sorted(stages, key=lambda stage: int(stages[stage].get("SORT") or 0))
            final = {stage for stage, row in stages.items() if row.get("SEMANTICS") in ("S", "F")}
            self._stage_orders[category] = (order, final)
        return self._stage_orders[category]

    # -- writing to Bitrix24 --------------------------------------------------------------------------------

    def _flush(self, report: CycleReport, dry_run: bool) -> None:
        """Send the queued deal updates (50 per request) and timeline comments; remember what was written."""
        updates, self.pending_updates = self.pending_updates, {}
        comments, self.pending_comments = self.pending_comments, {}
        marks, self._comment_marks = self._comment_marks, {}
        recovered, self._recovered = self._recovered, set()
        if dry_run:
            return
        for chunk in chunked(list(updates.items()), CHUNK):
            try:
                failed = self.bitrix.update_deals(dict(chunk))
            except b24_errors.Bitrix24Error as error:
                if error.fatal:
                    raise
                failed = {deal_id: error for deal_id, _ in chunk}  # retried at the next cycle, not lost
            for deal_id, fields in chunk:
                if deal_id in failed:
                    self._fail(deal_id, _reason(failed[deal_id]), str(failed[deal_id]), report, dry_run, "writeback")
                    continue
                if deal_id not in self._keep_failure:
                    self.store.clear_failure(deal_id, "writeback")
                if deal_id in recovered:
                    self.store.clear_failure(deal_id)
                    recovered.discard(deal_id)
                binding = self.store.binding_for_deal(deal_id)
                if binding is not None:
                    written = self.store.written_fields(binding)
                    written.update({name: value for name, value in fields.items() if name != "STAGE_ID"})
                    self.store.update_binding(deal_id, written_fields=written)
                report.written_back += 1
        texts = {deal_id: "\n\n".join(items) for deal_id, items in comments.items()}
        try:
            failures = self.bitrix.add_timeline_comments(texts)
        except b24_errors.Bitrix24Error as error:
            if error.fatal:
                raise
            failures = {deal_id: error for deal_id in texts}
        for deal_id, error in failures.items():
            self.log.warning("timeline_comment_failed", deal_id=deal_id, error=str(error))
        for deal_id, reason in marks.items():
            if deal_id not in failures:  # told, for sure: not again for the same reason
                self.store.mark_failure_commented(deal_id, reason)
        for deal_id in recovered:  # nothing was left to write back for these
            if deal_id not in updates:
                self.store.clear_failure(deal_id)


def _differences(old: dict[str, Any], new: dict[str, Any]) -> str:
    """What changed in the deal, in a manager's words."""
    changes = []
    if old.get("amount") != new.get("amount"):
        changes.append(f"сумма {old.get('amount', '—')} → {new.get('amount')}")
    if old.get("rows") != new.get("rows"):
        changes.append(f"товары: было строк {len(old.get('rows') or [])}, стало {len(new.get('rows') or [])}")
    if old.get("customer") != new.get("customer"):
        changes.append(f"клиент → {new.get('customer', {}).get('name')}")
    if old.get("comment") != new.get("comment"):
        changes.append("название сделки")
    if old.get("manager_id") != new.get("manager_id"):
        changes.append("ответственный")
    return "; ".join(changes) or "изменения в сделке"


def _reason(error: Exception) -> str:
    """One line for `status` and the deal's timeline."""
    if isinstance(error, onec_errors.BusinessError):
        return f"1С отказался принять документ: {error.onec_message}"
    if isinstance(error, onec_errors.OutcomeUnknownError | b24_errors.OutcomeUnknownError):
        return "Связь оборвалась во время записи; b24sync проверит результат при следующей попытке."
    if isinstance(error, onec_errors.ConflictError):
        return "Документ изменён в 1С одновременно с записью."
    return str(error).split("; ")[0][:200]
