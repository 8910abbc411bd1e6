"""Frozen views of the state store's rows: what the rest of b24sync reads, never a live database row."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from b24sync.store.models import Binding, Failure


@dataclass(frozen=True)
class BindingView:
    """One deal ⇄ document pair as the state knows it."""

    deal_id: int
    onec_ref: str
    entity: str
    number: str = ""
    pushed_hash: str = ""
    pushed_projection: str = "{}"
    posted: bool = False
    written_version: str = ""
    pulled_version: str = ""
    written_fields: Mapping[str, str] = field(default_factory=dict)
    is_open: bool = True
    closed_by_b24sync: bool = False
    document_state: str = ""
    deal_modified: str = ""
    deal_inputs: str = ""
    created_at: float = 0.0
    deal_state: str = ""  # "deleted": the deal is gone from Bitrix24


def binding_view(row: Binding) -> BindingView:
    return BindingView(row.deal_id, row.onec_ref, row.entity, row.number, row.pushed_hash, row.pushed_projection,
                       bool(row.posted), row.written_version, row.pulled_version,
                       json.loads(row.written_fields or "{}"), bool(row.is_open), bool(row.closed_by_b24sync),
                       row.document_state, row.deal_modified, row.deal_inputs, row.created_at,
                       row.deal_state)


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
    code: str = ""
    first_failed_at: float = 0.0


def failure_view(row: Failure) -> FailureView:
    return FailureView(row.deal_id, row.item, row.reason, row.error, row.attempts, row.next_retry_at,
                       row.commented_reason, row.last_failed_at, row.code, row.first_failed_at)


@dataclass(frozen=True)
class IntentView:
    """A write to 1C that was started and not yet recorded as done."""

    deal_id: int
    kind: str  # create_document | update | post | close | reopen
    pushed_hash: str
    started_at: float


@dataclass(frozen=True)
class ConflictView:
    deal_id: int
    onec_ref: str
    description: str
    created_at: float
    resolved_at: float | None = None
    resolution: str = ""


@dataclass(frozen=True)
class RunView:
    job: str
    started_at: float
    finished_at: float
    result: str
    summary: str


@dataclass(frozen=True)
class InvoiceUploadView:
    invoice_ref: str
    deal_id: int
    number: str
    amount: str
    data_version: str
    content_hash: str
    file_id: int
    link: str
