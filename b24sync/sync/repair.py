"""`b24sync state repair`: a damaged (or lost) state file moved aside, and the bindings made again from 1C.

Every document b24sync creates carries its deal's marker, so the pairs can be
found again without the state: each deal of the configured pipelines is looked
for by its marker (the search the recovery of a deal makes, over all dates), and the deal
fields b24sync last wrote are taken as written, so the next pull writes only
what really differs. A document reported missing stays reported (the deal's
order-number field says so), so the repair recreates nothing the administrator
has not asked for. Failures, conflicts and watermarks start afresh.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from b24sync.bitrix24.adapter import Bitrix24Adapter
from b24sync.config import Config
from b24sync.errors import StateDamagedError
from b24sync.onec.adapter import OneCAdapter
from b24sync.onec.values import is_guid
from b24sync.store.store import Store
from b24sync.sync.fields import deal_field_specs
from b24sync.sync.plan import MISSING_LABELS
from b24sync.sync.runner import EPOCH

CHUNK = 500  # deals looked for by marker at a time: memory stays flat however many deals the portal has


def is_damaged(path: Path) -> bool:
    """Whether the state file is damaged (its header, its schema or any page); a file b24sync cannot use for
    another reason (a full disk, no write access, a newer b24sync) is said as it is and never moved aside."""
    try:
        store = Store(path)
    except StateDamagedError:
        return True
    try:
        store.quick_check()
    except StateDamagedError:
        return True
    finally:
        store.close()
    return False


def move_aside(path: Path, now: datetime) -> Path:
    """The state file and its -wal and -shm files renamed to `<name>.damaged-<time>`; the new name."""
    aside = path.with_name(f"{path.name}.damaged-{now:%Y%m%d-%H%M%S}")
    for suffix in ("", "-wal", "-shm"):
        source = Path(str(path) + suffix)
        if source.exists():
            os.replace(source, Path(str(aside) + suffix))
    return aside


def rebuild_bindings(config: Config, bitrix: Bitrix24Adapter, onec: OneCAdapter, store: Store) -> int:
    """Bind every deal of the configured pipelines to the document that carries its marker; how many."""
    fields = config.sync.fields
    own = [spec.name for spec in deal_field_specs(fields)]
    categories = [pipeline.category_id for pipeline in config.sync.pipelines]
    listing = bitrix.deals_changed_since(EPOCH, categories, select=["ID", *own])
    bound = 0
    chunk: list[dict] = []
    for deal in [*listing, None]:
        if deal is not None:
            chunk.append(deal)
            if len(chunk) < CHUNK:
                continue
        if not chunk:
            break
        found = onec.find_by_deals([int(row["ID"]) for row in chunk])  # every date: the last resort
        # a document whose marker was cleared in 1C is not found by it; the deal's field still names it
        named = {str(row.get(fields.order_id) or "").lower(): row for row in chunk
                 if int(row["ID"]) not in found and is_guid(str(row.get(fields.order_id) or ""))}
        marked = onec.headers(list(named)) if named else {}
        for row in chunk:
            deal_id = int(row["ID"])
            if store.binding_for_deal(deal_id) is not None:
                continue
            header = found.get(deal_id) or marked.get(str(row.get(fields.order_id) or "").lower())
            if header is not None and header.unreadable:
                continue  # a document hidden from b24sync's 1C user may be this deal's: bound when it can be read
            number = str(row.get(fields.order_number) or "")
            if header is not None:
                store.bind(deal_id, header.ref, onec.profile.order_entity, header.number, header.data_version,
                           posted=header.posted)
                if header.deleted:
                    store.mark_document_missing(deal_id, "marked")
            elif number.endswith(f"({MISSING_LABELS['deleted']})"):
                # reported deleted before: stays reported, and is made again only on `resync --recreate`
                store.bind(deal_id, f"deleted:{deal_id}", onec.profile.order_entity,
                           number.removesuffix(f" ({MISSING_LABELS['deleted']})"), "")
                store.mark_document_missing(deal_id, "deleted")
            else:
                continue
            store.record_written_fields(deal_id, {name: str(row.get(name) or "") for name in own})
            bound += 1
        chunk = []
    return bound
