"""The state store: bindings, watermarks, intents, failures, conflicts, seen versions and the run log.

SQLite in WAL mode, created 0600; a schema version with forward migrations.
Every other module goes through this class and never touches the database.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import peewee

from b24sync.clock import SYSTEM_CLOCK, Clock
from b24sync.store import models
from b24sync.store.models import (
    Binding,
    Conflict,
    Failure,
    Intent,
    RunLog,
    SchemaVersion,
    SeenVersion,
    Unreachable,
    Watermark,
)

CURRENT_SCHEMA = 2
RUN_LOG_KEEP = 500
RETRY_FIRST = 60.0
RETRY_MAX = 6 * 3600.0


def _create_first_tables(db: peewee.Database) -> None:
    db.create_tables([table for table in models.TABLES if table is not models.InvoiceUpload])


def _add_invoice_uploads(db: peewee.Database) -> None:
    db.create_tables([models.InvoiceUpload])


# version -> the step that brings the schema from version-1 to version; never edit a released step
MIGRATIONS = {1: _create_first_tables, 2: _add_invoice_uploads}


@dataclass(frozen=True)
class FailureView:
    deal_id: int | None
    item: str
    reason: str
    error: str
    attempts: int
    next_retry_at: float
    commented_reason: str
    last_failed_at: float = 0.0


def _failure_view(row: Failure) -> FailureView:
    return FailureView(row.deal_id, row.item, row.reason, row.error, row.attempts, row.next_retry_at,
                       row.commented_reason, row.last_failed_at)


class Store:
    """Opens (and creates or migrates) the state database at `path`."""

    def __init__(self, path: str | Path, clock: Clock = SYSTEM_CLOCK) -> None:
        self.path = Path(path)
        self.clock = clock
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        self.db = peewee.SqliteDatabase(str(self.path), pragmas={"journal_mode": "wal", "synchronous": "full",
                                                                 "foreign_keys": 1, "busy_timeout": 10000})
        models.database.initialize(self.db)
        self.db.connect(reuse_if_open=True)
        self._migrate()

    def close(self) -> None:
        if not self.db.is_closed():
            self.db.close()

    def _migrate(self) -> None:
        with self.db.atomic():
            if not self.db.table_exists("schemaversion"):
                version = 0
            else:
                row = SchemaVersion.select().first()
                version = row.version if row else 0
            if version > CURRENT_SCHEMA:
                raise RuntimeError(f"the state database {self.path} was written by a newer b24sync (schema "
                                   f"{version}); upgrade b24sync or restore an older state file")
            for step in range(version + 1, CURRENT_SCHEMA + 1):
                MIGRATIONS[step](self.db)
            SchemaVersion.delete().execute()
            SchemaVersion.create(version=CURRENT_SCHEMA)

    @property
    def schema_version(self) -> int:
        return SchemaVersion.select().first().version

    # -- bindings ----------------------------------------------------------------------------------

    def binding_for_deal(self, deal_id: int) -> Binding | None:
        return Binding.get_or_none(Binding.deal_id == deal_id)

    def binding_for_ref(self, ref: str) -> Binding | None:
        return Binding.get_or_none(Binding.onec_ref == ref.lower())

    def bind(self, deal_id: int, ref: str, entity: str, number: str, pushed_hash: str, onec_version: str) -> Binding:
        """Store the deal ⇄ document pair and close the deal's open intent, in one transaction."""
        now = self.clock.time()
        with self.db.atomic():
            binding = Binding.create(deal_id=deal_id, onec_ref=ref.lower(), entity=entity, number=number,
                                     pushed_hash=pushed_hash, onec_version=onec_version, created_at=now,
                                     updated_at=now)
            Intent.update(closed_at=now).where((Intent.deal_id == deal_id) & Intent.closed_at.is_null()).execute()
        return binding

    def update_binding(self, deal_id: int, **changes: Any) -> None:
        if "written_fields" in changes and not isinstance(changes["written_fields"], str):
            changes["written_fields"] = json.dumps(changes["written_fields"], ensure_ascii=False, sort_keys=True)
        changes["updated_at"] = self.clock.time()
        Binding.update(**changes).where(Binding.deal_id == deal_id).execute()

    def written_fields(self, binding: Binding) -> dict[str, Any]:
        return json.loads(binding.written_fields or "{}")

    def bindings(self, open_only: bool = False) -> Iterator[Binding]:
        query = Binding.select().order_by(Binding.deal_id)
        if open_only:
            query = query.where(Binding.is_open == True)  # noqa: E712 - peewee expression
        yield from query.iterator()

    def count_bindings(self) -> dict[str, int]:
        total = Binding.select().count()
        open_count = Binding.select().where(Binding.is_open == True).count()  # noqa: E712
        return {"total": total, "open": open_count}

    # -- intents -----------------------------------------------------------------------------------

    def begin_intent(self, deal_id: int, kind: str = "create_document", pushed_hash: str = "") -> None:
        Intent.create(deal_id=deal_id, kind=kind, pushed_hash=pushed_hash, started_at=self.clock.time())

    def has_open_intent(self, deal_id: int) -> bool:
        return Intent.select().where((Intent.deal_id == deal_id) & Intent.closed_at.is_null()).exists()

    def open_intent_hash(self, deal_id: int) -> str | None:
        """The projection hash of the deal's interrupted create, if one is open."""
        row = (Intent.select().where((Intent.deal_id == deal_id) & Intent.closed_at.is_null()
                                     & (Intent.kind == "create_document")).order_by(Intent.id.desc()).first())
        return row.pushed_hash if row else None

    def close_intents(self, deal_id: int) -> None:
        Intent.update(closed_at=self.clock.time()).where(
            (Intent.deal_id == deal_id) & Intent.closed_at.is_null()).execute()

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

    def record_failure(self, deal_id: int, reason: str, error: str, kind: str = "deal") -> FailureView:
        """A failed item; retried with backoff from a minute up to six hours.

        `kind` is "deal" (pushing the deal to 1C) or "writeback" (writing 1C's news to the deal).
        """
        item = f"{kind}:{deal_id}"
        now = self.clock.time()
        existing = Failure.get_or_none(Failure.item == item)
        attempts = existing.attempts + 1 if existing else 1
        delay = min(RETRY_MAX, RETRY_FIRST * 2 ** (attempts - 1))
        if existing:
            Failure.update(reason=reason[:250], error=error, attempts=attempts, last_failed_at=now,
                           next_retry_at=now + delay).where(Failure.item == item).execute()
        else:
            Failure.create(item=item, deal_id=deal_id, reason=reason[:250], error=error, attempts=1,
                           first_failed_at=now, last_failed_at=now, next_retry_at=now + delay)
        return self.failure(deal_id, kind)  # type: ignore[return-value]

    def failure(self, deal_id: int, kind: str = "deal") -> FailureView | None:
        row = Failure.get_or_none(Failure.item == f"{kind}:{deal_id}")
        return None if row is None else _failure_view(row)

    def mark_failure_commented(self, deal_id: int, reason: str, kind: str = "deal") -> None:
        Failure.update(commented_reason=reason[:250]).where(Failure.item == f"{kind}:{deal_id}").execute()

    def clear_failure(self, deal_id: int, kind: str = "deal") -> None:
        Failure.delete().where(Failure.item == f"{kind}:{deal_id}").execute()

    def due_failures(self, kind: str = "deal") -> list[int]:
        now = self.clock.time()
        return [row.deal_id for row in Failure.select().where(
            (Failure.next_retry_at <= now) & Failure.item.startswith(f"{kind}:")).order_by(Failure.next_retry_at)]

    def failures(self) -> list[FailureView]:
        return [_failure_view(row) for row in Failure.select().order_by(Failure.deal_id)]

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

    def resolve_conflicts(self, deal_id: int) -> None:
        Conflict.update(resolved_at=self.clock.time()).where(
            (Conflict.deal_id == deal_id) & Conflict.resolved_at.is_null()).execute()

    def open_conflicts(self) -> list[Conflict]:
        return list(Conflict.select().where(Conflict.resolved_at.is_null()).order_by(Conflict.deal_id))

    # -- invoice PDFs on deals -------------------------------------------------------------------

    def invoice_upload(self, invoice_ref: str) -> models.InvoiceUpload | None:
        return models.InvoiceUpload.get_or_none(models.InvoiceUpload.invoice_ref == invoice_ref.lower())

    def save_invoice_upload(self, invoice_ref: str, **values: Any) -> None:
        values = {**values, "uploaded_at": self.clock.time()}
        models.InvoiceUpload.insert(invoice_ref=invoice_ref.lower(), **values).on_conflict(
            conflict_target=[models.InvoiceUpload.invoice_ref],
            update={getattr(models.InvoiceUpload, key): value for key, value in values.items()}).execute()

    # -- seen 1C versions --------------------------------------------------------------------------

    def seen_versions(self) -> dict[str, str]:
        return {row.ref: row.version for row in SeenVersion.select()}

    def save_versions(self, versions: dict[str, str]) -> None:
        with self.db.atomic():
            for ref, version in versions.items():
                SeenVersion.insert(ref=ref, version=version).on_conflict(
                    conflict_target=[SeenVersion.ref], update={SeenVersion.version: version}).execute()

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

    def log_run(self, job: str, started_at: float, result: str, summary: str) -> None:
        RunLog.create(job=job, started_at=started_at, finished_at=self.clock.time(), result=result, summary=summary)
        stale = RunLog.select(RunLog.id).order_by(RunLog.id.desc()).offset(RUN_LOG_KEEP)
        RunLog.delete().where(RunLog.id.in_(stale)).execute()

    def last_runs(self) -> dict[str, RunLog]:
        runs: dict[str, RunLog] = {}
        for row in RunLog.select().order_by(RunLog.id.desc()).limit(100):
            runs.setdefault(row.job, row)
        return runs
