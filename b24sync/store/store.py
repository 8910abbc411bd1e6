"""The state store: bindings, watermarks, intents, failures, conflicts, versions and the run log.

SQLite in WAL mode, created 0600; a schema version with frozen forward
migrations (migrations.py). Every other module goes through this class and
never touches the database: it hands out frozen views, never peewee rows, and
changes them only through the typed methods below.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import peewee

from b24sync.clock import SYSTEM_CLOCK, Clock
from b24sync.errors import StateDamagedError, StateError
from b24sync.store import models
from b24sync.store.lock import user_name
from b24sync.store.migrations import CURRENT_SCHEMA, MIGRATIONS
from b24sync.store.models import (
    Binding,
    CatalogVersion,
    Conflict,
    CounterpartyBinding,
    Failure,
    Intent,
    Request,
    RunLog,
    SchemaVersion,
    SeenVersion,
    Unreachable,
    Watermark,
)
from b24sync.store.views import (
    BindingView,
    ConflictView,
    FailureView,
    IntentView,
    InvoiceUploadView,
    RunView,
    binding_view,
    failure_view,
)

RUN_LOG_KEEP = 500
RETRY_FIRST = 60.0
RETRY_MAX = 6 * 3600.0

__all__ = ["CURRENT_SCHEMA", "BindingView", "ConflictView", "FailureView", "IntentView", "RunView", "Store"]

def _rolled_back(error: Exception) -> bool:
    """SQLite already rolled the transaction back itself (a full disk does that), savepoints and all."""
    return "no transaction is active" in str(error) or "no such savepoint" in str(error)


class StateDatabase(peewee.SqliteDatabase):
    """SQLite with the failures an administrator must act on said in their words: a full disk, a file or
    directory b24sync may not write. SQLite rolls the transaction back, so nothing is half-written."""

    def __init__(self, path: Path, *args: Any, **kwargs: Any) -> None:
        self.state_path = path
        super().__init__(*args, **kwargs)

    def execute_sql(self, sql: str, params: Any = None, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().execute_sql(sql, params, *args, **kwargs)
        except peewee.DatabaseError as error:
            if sql.lstrip().upper().startswith("ROLLBACK") and _rolled_back(error):
                return None
            raise self.translated(error) from error

    def commit(self) -> Any:
        try:
            return super().commit()
        except peewee.DatabaseError as error:
            raise self.translated(error) from error

    def rollback(self) -> Any:
        try:
            return super().rollback()
        except peewee.OperationalError as error:
            if not _rolled_back(error):
                raise
            return None

    def translated(self, error: Exception) -> Exception:
        text = str(error).lower()
        if "locked" in text or "busy" in text:
            return error
        if any(words in text for words in ("malformed", "not a database", "encrypted", "corrupt")):
            return StateDamagedError(
                f"the state file {self.state_path} is damaged ({error}): stop the service and run `b24sync state "
                f"repair`, which moves it aside and binds the documents b24sync made in 1C again by their deal "
                f"marker")
        if "disk i/o error" in text:
            return StateError(f"the state file {self.state_path} cannot be read or written (disk I/O error): check "
                              f"the free space and the health of the device holding it; the file itself is likely "
                              f"sound, do not repair it")
        if "disk is full" in text or "no space" in text:
            return StateError(f"no space left on the device holding {self.state_path}: free some space there and "
                              f"run b24sync again; the cycle stopped before its next write, nothing is half-written")
        if "readonly" in text or "read-only" in text:
            return StateError(f"the state file {self.state_path} cannot be written by user {user_name()}: give that "
                              f"user write access to the file and its directory {self.state_path.parent} (the "
                              f"service's StateDirectory= does this)")
        return error


class Store:
    """Opens (and creates or migrates) the state database at `path`; `read_only` opens it only to read
    (`status`): nothing is created, migrated or written, and an older schema is said, not migrated."""

    def __init__(self, path: str | Path, clock: Clock = SYSTEM_CLOCK, read_only: bool = False) -> None:
        self.path = Path(path)
        self.clock = clock
        self.read_only = read_only
        if read_only:
            self.db = StateDatabase(self.path, f"file:{quote(str(self.path.resolve()))}?mode=ro", uri=True,
                                    pragmas={"busy_timeout": 10000})
        else:
            self._prepare()
            # one connection for the engine's workers too (they take turns at the state: turns.py), so every
            # thread sees the same database and its limits
            self.db = StateDatabase(self.path, str(self.path), thread_safe=False, check_same_thread=False, pragmas={
                "journal_mode": "wal", "synchronous": "full", "foreign_keys": 1, "busy_timeout": 10000})
        # the models reach the database through one proxy: a store opened while another is open (a status beside
        # a running engine, in one process) hands it back when it closes
        self._previous = models.database.obj
        models.database.initialize(self.db)
        try:
            self._connect()
            self._migrate()
        except StateError:
            self.close()
            raise
        except peewee.DatabaseError as error:
            self.close()
            translated = self.db.translated(error)
            if translated is error and "locked" in str(error).lower():
                raise
            if translated is error:
                raise StateDamagedError(
                    f"the state file {self.path} is damaged ({error}): stop the service and run `b24sync state "
                    f"repair`, which moves it aside and binds the documents b24sync made in 1C again by their "
                    f"deal marker") from None
            raise translated from None

    def quick_check(self) -> None:
        """SQLite's own check of every page; StateDamagedError when it finds damage."""
        rows = [row[0] for row in self.db.execute_sql("PRAGMA quick_check").fetchall()]
        if rows != ["ok"]:
            raise StateDamagedError(f"the state file {self.path} is damaged ({'; '.join(rows)[:200]}): stop the "
                                    f"service and run `b24sync state repair`")

    def _connect(self) -> None:
        try:
            self.db.connect(reuse_if_open=True)
            if self.read_only:
                self.db.execute_sql("SELECT count(*) FROM sqlite_master").fetchone()
        except (peewee.OperationalError, StateError) as error:
            said = str(error).lower()
            if not self.read_only or not ("unable to open" in said or "cannot be written" in said):
                raise
            # a read-only directory where SQLite cannot make its reader files: read the file as it stands
            self.close()
            self.db = StateDatabase(self.path, f"file:{quote(str(self.path.resolve()))}?mode=ro&immutable=1",
                                    uri=True)
            models.database.initialize(self.db)
            self.db.connect()

    def _prepare(self) -> None:
        """The directory and the file, owner-only; a directory b24sync may not write is said in one line."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not self.path.exists():
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        except PermissionError:
            raise StateError(f"the state directory {self.path.parent} cannot be written by user {user_name()}: give "
                             f"that user write access (the service's StateDirectory= does this), or point "
                             f"'state.path' elsewhere") from None
        if not os.access(self.path.parent, os.W_OK) or not os.access(self.path, os.W_OK):
            raise StateError(f"the state file {self.path} cannot be written by user {user_name()}: give that user "
                             f"write access to the file and its directory {self.path.parent}")

    def close(self) -> None:
        if not self.db.is_closed():
            self.db.close()
        if models.database.obj is self.db and self._previous is not None and self._previous is not self.db:
            models.database.initialize(self._previous)

    def _migrate(self) -> None:
        with self.db.atomic():
            if not self.db.table_exists("schemaversion"):
                version = 0
            else:
                row = SchemaVersion.select().first()
                version = row.version if row else 0
            if version > CURRENT_SCHEMA:
                raise StateError(f"the state database {self.path} was written by a newer b24sync (schema "
                                 f"{version}); upgrade b24sync or restore an older state file")
            if version == CURRENT_SCHEMA:
                return  # nothing to do: opening a current state file writes nothing
            if self.read_only:
                raise StateError(f"the state file {self.path} is from an older b24sync (schema {version}); the "
                                 f"next `b24sync sync` (or the service) migrates it, then status can read it")
            for step in range(version + 1, CURRENT_SCHEMA + 1):
                MIGRATIONS[step](self.db)
            SchemaVersion.delete().execute()
            SchemaVersion.create(version=CURRENT_SCHEMA)

    @contextmanager
    def grouped(self) -> Iterator[None]:
        """What is written inside goes to disk in one commit instead of one commit a statement. What went in
        before an error is kept, as it would be statement by statement; a failing state file or a stop rolls
        back. Callers end a group before each request that must find its intent on disk (turns.py does, for 1C)."""
        if self.db.transaction_depth():
            yield  # already inside one: it commits
            return
        # the write lock from the start: a read then a write in one transaction would otherwise fail at once (not
        # after busy_timeout) when another process (a command beside the service) wrote in between
        transaction = self.db.transaction(lock_type="IMMEDIATE")
        transaction.__enter__()
        failed: type[BaseException] | None = None
        try:
            yield
        except BaseException as error:
            # a failing state file, or the process being stopped (Ctrl+C, or a crash as the tests stage it): what
            # the group wrote is lost, as in a kill -9, and everything before its last request is on disk
            if isinstance(error, peewee.DatabaseError | StateError) or not isinstance(error, Exception):
                failed = type(error)
            raise
        finally:
            if failed is None and not self.db.connection().in_transaction:
                failed = peewee.OperationalError  # SQLite ended it itself (a full disk): nothing is left to commit
            transaction.__exit__(failed, None, None)

    @property
    def schema_version(self) -> int:
        return SchemaVersion.select().first().version

    # -- bindings ----------------------------------------------------------------------------------

    def binding_for_deal(self, deal_id: int) -> BindingView | None:
        row = Binding.get_or_none(Binding.deal_id == deal_id)
        return None if row is None else binding_view(row)

    def binding_for_ref(self, ref: str) -> BindingView | None:
        row = Binding.get_or_none(Binding.onec_ref == ref.lower())
        return None if row is None else binding_view(row)

    def bindings_for_deals(self, deal_ids: list[int]) -> dict[int, BindingView]:
        """The bindings of many deals in one query each 500 (a chunk's worth, before planning)."""
        found: dict[int, BindingView] = {}
        for start in range(0, len(deal_ids), 500):
            for row in Binding.select().where(Binding.deal_id.in_(deal_ids[start:start + 500])):
                found[row.deal_id] = binding_view(row)
        return found

    def bind(self, deal_id: int, ref: str, entity: str, number: str, version: str, *, posted: bool = False,
             pushed_hash: str = "", pushed_projection: str = "{}") -> BindingView:
        """Store the deal ⇄ document pair and close the deal's open intent, in one transaction."""
        now = self.clock.time()
        with self.db.atomic():
            Binding.delete().where((Binding.deal_id == deal_id) & (Binding.document_state != "")).execute()
            Binding.create(deal_id=deal_id, onec_ref=ref.lower(), entity=entity, number=number,
                           pushed_hash=pushed_hash, pushed_projection=pushed_projection, posted=posted,
                           written_version=version, created_at=now, updated_at=now)
            self._close_intents(deal_id, now)
        return self.binding_for_deal(deal_id)  # type: ignore[return-value]

    def _update(self, deal_id: int, **changes: Any) -> None:
        changes["updated_at"] = self.clock.time()
        Binding.update(**changes).where(Binding.deal_id == deal_id).execute()

    def record_write(self, deal_id: int, version: str, *, number: str | None = None, posted: bool | None = None,
                     pushed: tuple[str, str] | None = None, closed_by_b24sync: bool | None = None,
                     reread: bool = False) -> None:
        """After b24sync's own write to 1C (or a version it accepts as its own): the new baseline, and the intent
        closed. A document the pull has read before is not read again for b24sync's own change, unless `reread`
        (the document is the invoice itself, and its PDF must show the new content)."""
        now = self.clock.time()
        changes: dict[str, Any] = {"written_version": version}
        if reread:
            changes["pulled_version"] = ""
        if number is not None:
            changes["number"] = number
        if posted is not None:
            changes["posted"] = posted
        if pushed is not None:
            changes["pushed_hash"], changes["pushed_projection"] = pushed
        if closed_by_b24sync is not None:
            changes["closed_by_b24sync"] = closed_by_b24sync
        with self.db.atomic():
            self._update(deal_id, **changes)
            Binding.update(pulled_version=version).where(
                (Binding.deal_id == deal_id) & (Binding.pulled_version != "")).execute()
            self._close_intents(deal_id, now)

    def record_pull(self, deal_id: int, version: str, is_open: bool) -> None:
        """The pull read the document at `version`; a fully paid and shipped one is no longer rescanned."""
        self._update(deal_id, pulled_version=version or "read", is_open=is_open)

    def record_written_fields(self, deal_id: int, fields: Mapping[str, Any]) -> None:
        """What b24sync wrote to the deal's fields (merged into what it wrote before)."""
        row = Binding.get_or_none(Binding.deal_id == deal_id)
        if row is None:
            return
        written = json.loads(row.written_fields or "{}")
        written.update(fields)
        self._update(deal_id, written_fields=json.dumps(written, ensure_ascii=False, sort_keys=True))

    def record_deal_seen(self, deal_id: int, modified: str, inputs: str) -> None:
        """The deal's DATE_MODIFY and listed fields as of b24sync's last look (a re-listed deal is skipped)."""
        Binding.update(deal_modified=modified, deal_inputs=inputs, deal_state="").where(
            Binding.deal_id == deal_id).execute()  # a deal listed again (restored from the recycle bin) is followed

    def mark_document_missing(self, deal_id: int, state: str) -> None:
        """The bound document was deleted ("deleted") or marked for deletion ("marked") in 1C; reported once."""
        self._update(deal_id, document_state=state)

    def mark_deal_deleted(self, deal_id: int) -> None:
        """The deal is gone from Bitrix24: reported once, no longer followed, its failures moot."""
        with self.db.atomic():
            self._update(deal_id, deal_state="deleted")
            Failure.delete().where(Failure.deal_id == deal_id).execute()

    def deleted_deals(self) -> list[BindingView]:
        return [binding_view(row) for row in Binding.select().where(Binding.deal_state != "")
                .order_by(Binding.deal_id)]

    def unbind(self, deal_id: int) -> None:
        """Forget the deal's document (a deleted one: `resync --recreate`, or sync.on_missing_document)."""
        Binding.delete().where(Binding.deal_id == deal_id).execute()

    def bindings(self, open_only: bool = False, lean: bool = False) -> Iterator[BindingView]:
        """Every binding (or the open ones), in deal order. `lean` leaves out what b24sync pushed and wrote
        (the JSON most of a binding's bytes are), for a pass over all of them: memory stays flat."""
        columns = (Binding.deal_id, Binding.onec_ref, Binding.entity, Binding.number, Binding.posted,
                   Binding.written_version, Binding.pulled_version, Binding.is_open, Binding.closed_by_b24sync,
                   Binding.document_state, Binding.created_at, Binding.deal_state)
        query = (Binding.select(*columns) if lean else Binding.select()).order_by(Binding.deal_id)
        if open_only:
            query = query.where((Binding.is_open == True) & (Binding.document_state == "")  # noqa: E712
                                & (Binding.deal_state == ""))
        for row in query.iterator():
            if not lean:
                yield binding_view(row)
                continue
            yield BindingView(row.deal_id, row.onec_ref, row.entity, row.number, posted=bool(row.posted),
                              written_version=row.written_version, pulled_version=row.pulled_version,
                              is_open=bool(row.is_open), closed_by_b24sync=bool(row.closed_by_b24sync),
                              document_state=row.document_state, created_at=row.created_at,
                              deal_state=row.deal_state)

    def missing_documents(self) -> list[BindingView]:
        return [binding_view(row) for row in Binding.select().where(Binding.document_state != "")
                .order_by(Binding.deal_id)]

    def count_bindings(self) -> dict[str, int]:
        total = Binding.select().count()
        open_count = Binding.select().where(Binding.is_open == True).count()  # noqa: E712
        missing = Binding.select().where(Binding.document_state != "").count()
        deleted = Binding.select().where(Binding.deal_state != "").count()
        return {"total": total, "open": open_count, "missing": missing, "deals_deleted": deleted}

    # -- intents -----------------------------------------------------------------------------------

    def begin_intent(self, deal_id: int, kind: str = "create_document", pushed_hash: str = "") -> None:
        Intent.create(deal_id=deal_id, kind=kind, pushed_hash=pushed_hash, started_at=self.clock.time())

    def open_intent(self, deal_id: int) -> IntentView | None:
        """The deal's latest write that was started and never recorded as done (a crash in between)."""
        row = (Intent.select().where((Intent.deal_id == deal_id) & Intent.closed_at.is_null())
               .order_by(Intent.id.desc()).first())
        return None if row is None else IntentView(row.deal_id, row.kind, row.pushed_hash, row.started_at)

    def close_intents(self, deal_id: int) -> None:
        self._close_intents(deal_id, self.clock.time())

    def _close_intents(self, deal_id: int, now: float) -> None:
        """A write done (or refused) leaves nothing to recover: its intents go, so the state does not grow with
        every write ever made."""
        Intent.delete().where(Intent.deal_id == deal_id).execute()

    # -- watermarks --------------------------------------------------------------------------------

    def watermark(self, name: str) -> str | None:
        row = Watermark.get_or_none(Watermark.name == name)
        return row.value if row else None

    def set_watermark(self, name: str, value: str) -> None:
        Watermark.insert(name=name, value=value, updated_at=self.clock.time()).on_conflict(
            conflict_target=[Watermark.name], update={Watermark.value: value,
                                                      Watermark.updated_at: self.clock.time()}).execute()

    def watermarks(self) -> dict[str, str]:
        return {row.name: row.value for row in Watermark.select()}

    # -- failures ----------------------------------------------------------------------------------

    def record_failure(self, deal_id: int, reason: str, error: str, kind: str = "deal",
                       code: str = "", transient: bool = False) -> FailureView:
        """A failed item; retried with backoff from a minute up to six hours, or every minute when the cause
        is `transient` (a system that failed, not a deal someone must fix): the service catches up by itself
        as soon as the systems answer again.

        `kind` is "deal" (pushing the deal to 1C) or "writeback" (writing 1C's news to the deal).
        """
        item = f"{kind}:{deal_id}"
        now = self.clock.time()
        existing = Failure.get_or_none(Failure.item == item)
        attempts = existing.attempts + 1 if existing else 1
        delay = RETRY_FIRST if transient else min(RETRY_MAX, RETRY_FIRST * 2 ** (attempts - 1))
        if existing:
            Failure.update(reason=reason[:250], error=error, attempts=attempts, last_failed_at=now, code=code,
                           next_retry_at=now + delay).where(Failure.item == item).execute()
        else:
            Failure.create(item=item, deal_id=deal_id, reason=reason[:250], error=error, attempts=1, code=code,
                           first_failed_at=now, last_failed_at=now, next_retry_at=now + delay)
        return self.failure(deal_id, kind)  # type: ignore[return-value]

    def failure(self, deal_id: int, kind: str = "deal") -> FailureView | None:
        row = Failure.get_or_none(Failure.item == f"{kind}:{deal_id}")
        return None if row is None else failure_view(row)

    def failures_for(self, deal_ids: list[int], kind: str = "deal") -> dict[int, FailureView]:
        """The failures of many deals in one query each 500."""
        found: dict[int, FailureView] = {}
        for start in range(0, len(deal_ids), 500):
            items = [f"{kind}:{deal_id}" for deal_id in deal_ids[start:start + 500]]
            for row in Failure.select().where(Failure.item.in_(items)):
                found[row.deal_id] = failure_view(row)
        return found

    def mark_failure_commented(self, deal_id: int, reason: str, kind: str = "deal") -> None:
        Failure.update(commented_reason=reason[:250]).where(Failure.item == f"{kind}:{deal_id}").execute()

    def clear_failure(self, deal_id: int, kind: str = "deal") -> None:
        Failure.delete().where(Failure.item == f"{kind}:{deal_id}").execute()

    def due_failures(self, kind: str = "deal") -> list[int]:
        now = self.clock.time()
        return [row.deal_id for row in Failure.select().where(
            (Failure.next_retry_at <= now) & Failure.item.startswith(f"{kind}:")).order_by(Failure.next_retry_at)]

    def failures(self) -> list[FailureView]:
        return [failure_view(row) for row in Failure.select().order_by(Failure.deal_id)]

    def make_due(self, deal_id: int | None = None) -> int:
        query = Failure.update(next_retry_at=self.clock.time())
        if deal_id is not None:
            query = query.where(Failure.deal_id == deal_id)
        return query.execute()

    # -- conflicts ---------------------------------------------------------------------------------

    def add_conflict(self, deal_id: int, ref: str, description: str) -> bool:
        """Record an open conflict; False if the same one is already open (no repeated comments)."""
        if Conflict.select().where((Conflict.deal_id == deal_id) & Conflict.resolved_at.is_null()
                                   & (Conflict.description == description)).exists():
            return False
        Conflict.create(deal_id=deal_id, onec_ref=ref, description=description, created_at=self.clock.time())
        return True

    def resolve_conflicts(self, deal_id: int, resolution: str = "updated") -> int:
        """Close the deal's open conflicts: `bitrix24` or `1c` (an admin chose), `updated` or `agreed` (the sync)."""
        return Conflict.update(resolved_at=self.clock.time(), resolution=resolution).where(
            (Conflict.deal_id == deal_id) & Conflict.resolved_at.is_null()).execute()

    def accepted_conflicts(self, deal_id: int) -> frozenset[str]:
        """The conflicts of a deal an administrator ended with --keep 1c (the same one is not raised again)."""
        return frozenset(row.description for row in Conflict.select(Conflict.description).where(
            (Conflict.deal_id == deal_id) & (Conflict.resolution == "1c")))

    def open_conflicts(self, deal_id: int | None = None) -> list[ConflictView]:
        query = Conflict.select().where(Conflict.resolved_at.is_null())
        if deal_id is not None:
            query = query.where(Conflict.deal_id == deal_id)
        return [ConflictView(row.deal_id, row.onec_ref, row.description, row.created_at, row.resolved_at,
                             row.resolution) for row in query.order_by(Conflict.deal_id, Conflict.id)]

    # -- invoice PDFs on deals -------------------------------------------------------------------

    def invoice_upload(self, invoice_ref: str) -> InvoiceUploadView | None:
        row = models.InvoiceUpload.get_or_none(models.InvoiceUpload.invoice_ref == invoice_ref.lower())
        return None if row is None else InvoiceUploadView(row.invoice_ref, row.deal_id, row.number, row.amount,
                                                          row.data_version, row.content_hash, row.file_id, row.link)

    def save_invoice_upload(self, invoice_ref: str, *, deal_id: int, number: str, amount: str, data_version: str,
                            content_hash: str, file_id: int, link: str) -> None:
        values = {"deal_id": deal_id, "number": number, "amount": amount, "data_version": data_version,
                  "content_hash": content_hash, "file_id": file_id, "link": link, "uploaded_at": self.clock.time()}
        models.InvoiceUpload.insert(invoice_ref=invoice_ref.lower(), **values).on_conflict(
            conflict_target=[models.InvoiceUpload.invoice_ref],
            update={getattr(models.InvoiceUpload, key): value for key, value in values.items()}).execute()

    # -- versions of the documents around orders, and of the catalog ----------------------------------

    def seen_versions(self) -> dict[str, str]:
        """DataVersions of invoices, sales and payments as the last poll saw them."""
        return {row.ref: row.version for row in SeenVersion.select()}

    def save_versions(self, versions: Mapping[str, str]) -> None:
        self._save(SeenVersion, versions)

    def catalog_versions(self) -> dict[str, str]:
        """DataVersions of the nomenclature items last exported to Bitrix24."""
        return {row.ref: row.version for row in CatalogVersion.select()}

    def save_catalog_versions(self, versions: Mapping[str, str]) -> None:
        self._save(CatalogVersion, versions)

    def _save(self, table: type[SeenVersion] | type[CatalogVersion], versions: Mapping[str, str]) -> None:
        with self.db.atomic():
            for ref, version in versions.items():
                table.insert(ref=ref, version=version).on_conflict(
                    conflict_target=[table.ref], update={table.version: version}).execute()

    # -- reachability and the run log ----------------------------------------------------------------

    def set_unreachable(self, system: str, error: str | None) -> bool:
        """Record (or clear, with None) that a system cannot be reached; True when the state changed."""
        row = Unreachable.get_or_none(Unreachable.system == system)
        if error is None:
            if row is None:
                return False
            row.delete_instance()
            return True
        if row is not None:
            return False
        Unreachable.create(system=system, since=self.clock.time(), error=error)
        return True

    def unreachable(self) -> dict[str, tuple[float, str]]:
        return {row.system: (row.since, row.error) for row in Unreachable.select()}

    # -- counterparties of contacts and companies ------------------------------------------------------

    def counterparty_binding(self, kind: str, bitrix24_id: int) -> tuple[str, str] | None:
        """(1C counterparty, partner) of a contact or company; ("", "") while its creation is under way."""
        row = CounterpartyBinding.get_or_none((CounterpartyBinding.kind == kind) &
                                              (CounterpartyBinding.bitrix24_id == bitrix24_id))
        return None if row is None else (row.onec_ref, row.partner_ref)

    def begin_counterparty(self, kind: str, bitrix24_id: int) -> None:
        """Before b24sync creates a counterparty for it: the intent, so a crash leaves a trace."""
        CounterpartyBinding.insert(kind=kind, bitrix24_id=bitrix24_id, onec_ref="", partner_ref="",
                                   told_bitrix24=False, bound_at=self.clock.time()).on_conflict_ignore().execute()

    def bind_counterparty(self, kind: str, bitrix24_id: int, onec_ref: str, partner_ref: str = "") -> None:
        CounterpartyBinding.insert(kind=kind, bitrix24_id=bitrix24_id, onec_ref=onec_ref, partner_ref=partner_ref,
                                   told_bitrix24=False, bound_at=self.clock.time()).on_conflict(
            conflict_target=[CounterpartyBinding.kind, CounterpartyBinding.bitrix24_id],
            update={CounterpartyBinding.onec_ref: onec_ref, CounterpartyBinding.partner_ref: partner_ref,
                    CounterpartyBinding.told_bitrix24: False}).execute()

    def counterparty_refs_bound(self) -> set[str]:
        """Every 1C counterparty some contact or company is bound to."""
        return {row.onec_ref for row in CounterpartyBinding.select(CounterpartyBinding.onec_ref)
                .where(CounterpartyBinding.onec_ref != "")}

    def counterparties_to_tell(self, limit: int = 500) -> list[tuple[str, int, str]]:
        """(kind, Bitrix24 ID, GUID) of bindings whose GUID is not yet in the contact's or company's field."""
        rows = (CounterpartyBinding.select().where((CounterpartyBinding.onec_ref != "") &
                                                   (CounterpartyBinding.told_bitrix24 == False))  # noqa: E712
                .order_by(CounterpartyBinding.id).limit(limit))
        return [(row.kind, row.bitrix24_id, row.onec_ref) for row in rows]

    def counterparty_told(self, kind: str, bitrix24_id: int, onec_ref: str) -> None:
        CounterpartyBinding.update(told_bitrix24=True).where(
            (CounterpartyBinding.kind == kind) & (CounterpartyBinding.bitrix24_id == bitrix24_id) &
            (CounterpartyBinding.onec_ref == onec_ref)).execute()

    # -- requests to the running service --------------------------------------------------------------

    def add_request(self, command: str, arguments: Mapping[str, Any]) -> int:
        row = Request.create(command=command, arguments=json.dumps(dict(arguments), ensure_ascii=False),
                             created_at=self.clock.time())
        return int(row.id)

    def abandon_requests(self, older_than: float) -> int:
        """Requests left behind: started by a service that stopped before finishing them, or waiting since
        before `older_than` (their command is gone: a closed terminal). Finished unrun, so never carried out
        behind anyone's back."""
        now = self.clock.time()
        return Request.update(finished_at=now, exit_code=3, output="not carried out: the service stopped, or "
                                                                   "nobody waited for it any more").where(
            Request.finished_at.is_null() & (Request.started_at.is_null(False) | (Request.created_at < older_than))
        ).execute()

    def next_request(self) -> tuple[int, str, dict[str, Any]] | None:
        """The oldest request not yet started, marked started (so it is carried out once)."""
        with self.db.atomic():
            row = Request.select().where(Request.started_at.is_null()).order_by(Request.id).first()
            if row is None:
                return None
            Request.update(started_at=self.clock.time()).where(Request.id == row.id).execute()
        return int(row.id), row.command, json.loads(row.arguments)

    def finish_request(self, request_id: int, exit_code: int, output: str) -> None:
        Request.update(finished_at=self.clock.time(), exit_code=exit_code, output=output).where(
            Request.id == request_id).execute()

    def request_state(self, request_id: int) -> tuple[bool, bool, int | None, str]:
        """(started, finished, exit code, output) of a request; a missing one counts as finished, code 2."""
        row = Request.get_or_none(Request.id == request_id)
        if row is None:
            return True, True, 2, "the request is gone from the state file"
        return row.started_at is not None, row.finished_at is not None, row.exit_code, row.output

    def cancel_request(self, request_id: int) -> bool:
        """Withdraw a request the service has not started; False when it already has."""
        return bool(Request.delete().where((Request.id == request_id) & Request.started_at.is_null()).execute())

    def prune_requests(self, keep: int = 200) -> None:
        cutoff = Request.select(Request.id).where(Request.finished_at.is_null(False)).order_by(
            Request.id.desc()).offset(keep).limit(1).scalar()
        if cutoff is not None:
            Request.delete().where((Request.id <= cutoff) & Request.finished_at.is_null(False)).execute()

    def log_run(self, job: str, started_at: float, result: str, summary: str) -> None:
        RunLog.create(job=job, started_at=started_at, finished_at=self.clock.time(), result=result, summary=summary)
        stale = RunLog.select(RunLog.id).order_by(RunLog.id.desc()).offset(RUN_LOG_KEEP)
        RunLog.delete().where(RunLog.id.in_(stale)).execute()

    def last_runs(self) -> dict[str, RunView]:
        runs: dict[str, RunView] = {}
        for row in RunLog.select().order_by(RunLog.id.desc()).limit(100):
            runs.setdefault(row.job, RunView(row.job, row.started_at, row.finished_at, row.result, row.summary))
        return runs
