"""`b24sync state repair`: a damaged (or lost) state file moved aside, and the bindings made again from 1C.

Every document b24sync creates carries its deal's marker, so the pairs can be
found again without the state: each deal of the configured pipelines is looked
for by its marker (or-chained, as the recovery of one deal does), and the deal
fields b24sync last wrote are taken as written, so the next pull writes only
what really differs. Failures, conflicts and watermarks start afresh.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from b24sync.bitrix24.adapter import Bitrix24Adapter
from b24sync.config import Config
from b24sync.errors import StateError
from b24sync.onec.adapter import OneCAdapter
from b24sync.store.store import Store
from b24sync.sync.runner import EPOCH

CHUNK = 500  # deals looked for by marker at a time: memory stays flat however many deals the portal has


def is_damaged(path: Path) -> bool:
    """Whether the state file cannot be opened as it is (damaged, or from a newer b24sync)."""
    try:
        Store(path).close()
    except StateError:
        return True
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
    own = [getattr(fields, name) for name in fields.__dataclass_fields__]
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
        found = onec.find_by_deals(int(row["ID"]) for row in chunk)
        for row in chunk:
            header = found.get(int(row["ID"]))
            if header is None or store.binding_for_deal(int(row["ID"])) is not None:
                continue
            store.bind(int(row["ID"]), header.ref, onec.profile.order_entity, header.number, header.data_version,
                       posted=header.posted)
            store.record_written_fields(int(row["ID"]), {name: str(row.get(name) or "") for name in own})
            bound += 1
        chunk = []
    return bound
