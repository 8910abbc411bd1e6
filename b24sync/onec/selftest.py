"""`b24sync check` against the live base: each OData behaviour b24sync relies on, tried once, one line each.

The emulator implements what the documentation states and refuses what it only
believes; a real base is the only judge of the rest. So every filter form b24sync
sends, every `$select` list of the profile and the longest URL it builds are
tried here, read-only, and a behaviour that fails says what b24sync then cannot
do and what to change. Only `check --write-probe` writes: one unposted document
carrying a probe marker, marked for deletion at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from b24sync.errors import B24SyncError
from b24sync.onec.odata import cast, entity_path, guid, literal
from b24sync.onec.values import requisite_value

PROBE_DEAL = 0  # the marker value of a probe document: no Bitrix24 deal has ID 0
CHAIN_SAMPLE = 60  # references read for the or-chain test: more than one URL holds


@dataclass(frozen=True)
class Behaviour:
    ok: bool
    name: str
    detail: str


def behaviours(adapter: Any, write_probe: bool = False) -> list[Behaviour]:
    """Every behaviour, tried in order; one that raises is a failure with 1C's own words."""
    order = adapter.profile.order_entity
    found: list[Behaviour] = []

    def attempt(name: str, trial: Callable[[], tuple[bool, str]], fallback: str) -> None:
        try:
            ok, detail = trial()
        except B24SyncError as error:
            ok, detail = False, str(error)
        found.append(Behaviour(ok, name, detail if ok else f"{detail}; {fallback}"))

    attempt("1c or-chains", lambda: _or_chains(adapter),
            "b24sync then makes its chains shorter by itself at each start (one refused request, more requests "
            "after); raise the web server's query-string limit (IIS maxQueryString) to at least 2048 characters, "
            "or set 'onec.max_url_length' to what it takes")
    attempt("1c allowedOnly", lambda: _allowed_only(adapter),
            "on a base with row-level security, one hidden row would then fail every listing")
    attempt("1c date window", lambda: _date_window(adapter),
            "the accountant's new invoices, payments and shipments are found in this window")
    for entity, select in _selects(adapter):
        attempt(f"1c $select of {entity}", lambda entity=entity, select=select: _select(adapter, entity, select),
                "check the configuration version (profile 'onec.profile') and the OData composition")
    attempt("1c cast() on composites", lambda: _cast(adapter),
            "invoices, payments and shipments around an order are found by such a comparison; without it b24sync "
            "lists them by date and matches them itself (more requests)")
    if not adapter.config.deal_marker.attribute:
        attempt("1c any() over a tabular section", lambda: _any(adapter),
                f"the deal marker is searched with it; set 'onec.deal_marker.attribute' to a string attribute of "
                f"{order} instead")
    attempt("1c deal marker found again", lambda: _marker(adapter, write_probe),
            "without it, a lost state file or a crash while creating could make a second document for a deal; "
            "fix the marker ('onec.deal_marker') before the first sync")
    return found


def _or_chains(adapter: Any) -> tuple[bool, str]:
    """Real references among made-up ones, so the chains run to the longest URL b24sync builds."""
    catalog = "Catalog_Номенклатура"
    refs = [row["Ref_Key"] for row in adapter.client.get(catalog, {"$select": "Ref_Key", "$top": CHAIN_SAMPLE,
                                                                    "$orderby": "Ref_Key"}).get("value", [])]
    padding = [str(uuid.uuid4()) for _ in range(CHAIN_SAMPLE - len(refs))]
    before, limit = adapter.client.requests_sent, adapter.client.chain_url
    rows = adapter._by_or_chain(catalog, "Ref_Key", refs + padding, "Ref_Key", render=guid)
    sent = adapter.client.requests_sent - before
    if adapter.client.chain_url < limit:
        return False, (f"the web server in front of 1C refused the longer URLs b24sync builds (up to {limit} "
                       f"characters; it answered {adapter.client.longest_answered}); b24sync went on with chains "
                       f"under {adapter.client.chain_url}")
    missing = set(refs) - {row["Ref_Key"] for row in rows}
    if missing:
        return False, (f"chains of guid'…' terms of up to {adapter.client.chain_url} characters left out "
                       f"{len(missing)} of {len(refs)} nomenclature items")
    return True, f"{CHAIN_SAMPLE} references in {sent} requests of up to {adapter.client.chain_url} characters"


def _allowed_only(adapter: Any) -> tuple[bool, str]:
    adapter.client.get(adapter.profile.order_entity, {"$select": "Ref_Key", "$top": 1})
    return True, "listings ask for allowedOnly=true and 1C accepts it"


def _date_window(adapter: Any) -> tuple[bool, str]:
    since = datetime.fromtimestamp(adapter.clock.time()) - timedelta(days=1)
    adapter.client.get(adapter.profile.order_entity, {"$filter": f"Date ge {literal(since)}", "$select": "Ref_Key",
                                                      "$orderby": "Date,Ref_Key", "$top": 1})
    return True, "a listing by Date ge datetime'…' in Date,Ref_Key order works"


def _selects(adapter: Any) -> list[tuple[str, str]]:
    """The `$select` lists b24sync sends, by entity (the bound documents, their heads, the related documents)."""
    order = adapter.profile.order_entity
    wanted = [(order, adapter.profile.content_select), (order, adapter._head_select())]
    wanted += [(entity, select) for entity, select, _ in adapter._related()]
    merged: dict[str, list[str]] = {}
    for entity, select in wanted:
        names = merged.setdefault(entity, [])
        names += [name for name in select.split(",") if name not in names]
    return [(entity, ",".join(names)) for entity, names in merged.items()]


def _select(adapter: Any, entity: str, select: str) -> tuple[bool, str]:
    adapter.client.get(entity, {"$select": select, "$top": 1})
    return True, f"{len(select.split(','))} properties"


def _cast(adapter: Any) -> tuple[bool, str]:
    order = adapter.profile.order_entity
    related = [(entity, select) for entity, select, _ in adapter._related() if "ДокументОснование" in select]
    if not related:
        return True, "not used by this profile"
    entity = related[0][0]
    recent = adapter.client.get(entity, {"$select": "Ref_Key,ДокументОснование,ДокументОснование_Type",
                                         "$orderby": "Date desc", "$top": 50}).get("value", [])
    sample = next((row for row in recent if row.get("ДокументОснование_Type") == f"StandardODATA.{order}"), None)
    if sample is None:
        return True, f"not verifiable yet: no recent {entity} has a base document of type {order}"
    rows = adapter.client.get(entity, {"$filter": f"ДокументОснование eq {cast(sample['ДокументОснование'], order)}",
                                       "$select": "Ref_Key"}).get("value", [])
    if sample["Ref_Key"] not in [row["Ref_Key"] for row in rows]:
        return False, f"{entity} {sample['Ref_Key']} is not found by ДокументОснование eq cast(guid'…', '{order}')"
    return True, f"{entity} found by its base document"


def _any(adapter: Any) -> tuple[bool, str]:
    prop = adapter.resolved().marker_property
    adapter.client.get(adapter.profile.order_entity, {
        "$filter": f"ДополнительныеРеквизиты/any(d: d/Свойство_Key eq {guid(prop)})", "$select": "Ref_Key",
        "$top": 1})
    return True, "ДополнительныеРеквизиты/any(d: d/Свойство_Key eq guid'…') works"


def _marker(adapter: Any, write_probe: bool) -> tuple[bool, str]:
    """A document that carries a deal's marker is found again by the search b24sync uses."""
    order = adapter.profile.order_entity
    marked = _a_marked_document(adapter)
    if marked is None and not write_probe:
        return True, ("not verifiable yet: no document carries the deal marker; `b24sync check --write-probe` "
                      "writes one unposted probe document and marks it for deletion")
    probe = number = None
    if marked is None:
        probe, number = _write_probe(adapter)
        marked = (probe, PROBE_DEAL)
    ref, deal_id = marked
    try:
        found = adapter.find_by_deals([deal_id])
    finally:
        if probe is not None:
            adapter.client.patch(entity_path(order, probe), {"DeletionMark": True})
    if found.get(deal_id) is None or not found[deal_id].ref:
        return False, f"{order} {ref} carries the marker of deal {deal_id}, but the search by marker does not find it"
    what = f"the probe document {number} (now marked for deletion)" if probe else f"the document of deal {deal_id}"
    return True, f"{what} is found by its marker"


def _a_marked_document(adapter: Any) -> tuple[str, int] | None:
    """(ref, deal ID) of a recent live document that carries a deal's marker, or None."""
    order, marker = adapter.profile.order_entity, adapter.config.deal_marker
    if marker.attribute:
        rows = adapter.client.get(order, {"$filter": f"{marker.attribute} ne '' and DeletionMark eq false",
                                          "$select": f"Ref_Key,{marker.attribute}", "$orderby": "Date desc",
                                          "$top": 20}).get("value", [])
        values = [(row["Ref_Key"], str(row.get(marker.attribute) or "")) for row in rows]
    else:
        prop = adapter.resolved().marker_property
        rows = adapter.client.get(order, {
            "$filter": f"DeletionMark eq false and ДополнительныеРеквизиты/any(d: d/Свойство_Key eq {guid(prop)})",
            "$select": "Ref_Key,ДополнительныеРеквизиты", "$orderby": "Date desc", "$top": 20}).get("value", [])
        values = [(row["Ref_Key"], requisite_value(row, prop)) for row in rows]
    return next(((ref, int(value)) for ref, value in values if value.strip().isdigit()), None)


def _write_probe(adapter: Any) -> tuple[str, str]:
    """One unposted document with the probe marker and a comment saying what it is: (ref, number)."""
    marker = adapter.config.deal_marker
    body: dict[str, Any] = {"Date": adapter._now_text(), "Организация_Key": adapter.resolved().organisation,
                            "Комментарий": "b24sync: проверка поиска по метке сделки (check --write-probe); "
                                           "документ помечен на удаление"}
    if marker.attribute:
        body[marker.attribute] = str(PROBE_DEAL)
    else:
        body["ДополнительныеРеквизиты"] = [{"LineNumber": 1, "Свойство_Key": adapter.resolved().marker_property,
                                            "Значение": str(PROBE_DEAL), "Значение_Type": "Edm.String"}]
    made = adapter.client.post(adapter.profile.order_entity, body)
    return made["Ref_Key"], str(made.get("Number") or made["Ref_Key"])
