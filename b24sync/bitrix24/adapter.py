"""What the sync engine asks of Bitrix24, one small method each, batched where it reads many.

This is the backend adapter: it knows the portal's methods and shapes and
nothing of business rules. Reads of many objects go 50 to a batch; each
contact, company and product is fetched once however many deals share it.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from b24sync.bitrix24 import errors
from b24sync.bitrix24.client import BATCH_LIMIT, BatchResult, Bitrix24Client, Listing
from b24sync.bitrix24.records import (
    CatalogProduct,
    Company,
    Contact,
    DiskFile,
    ProductRow,
    Requisite,
)
from b24sync.bitrix24.wire import chunked, format_datetime, to_int

ENTITY_DEAL = 2
ENTITY_COMPANY = 4
ENTITY_CONTACT = 3
DEAL_STANDARD_SELECT = ["*", "UF_*"]
# what the mapping compares with the product rows, read in the same request as the rows
# a list method returns the multi-fields only when they are named (REST.md, contacts and companies)
CUSTOMER_SELECT = ["*", "UF_*", "PHONE", "EMAIL"]
REQUISITE_SELECT = ["ID", "ENTITY_TYPE_ID", "ENTITY_ID", "NAME", "RQ_INN", "RQ_KPP", "RQ_COMPANY_NAME",
                    "RQ_COMPANY_FULL_NAME", "DATE_MODIFY"]
AMOUNT_FIELDS = ["ID", "OPPORTUNITY", "IS_MANUAL_OPPORTUNITY", "TAX_VALUE", "CURRENCY_ID", "DATE_MODIFY"]


class CompanyConflictError(errors.Bitrix24Error):
    """Several companies carry the same INN (and KPP); b24sync will not guess which one is meant."""


@dataclass(frozen=True)
class UserFieldSpec:
    """A deal user field b24sync needs: its full name, type, label and (for lists) options."""

    name: str  # UF_CRM_...
    user_type: str
    label: str
    options: tuple[tuple[str, str], ...] = ()  # enumeration: (XML_ID, label shown to managers)
    also: tuple[str, ...] = ()  # other types an existing field may have (a field b24sync only reads)

    def fits(self, user_type: str) -> bool:
        return user_type == self.user_type or user_type in self.also

    def as_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "FIELD_NAME": self.name.removeprefix("UF_CRM_"),
            "USER_TYPE_ID": self.user_type,
            "LABEL": self.label,
            "EDIT_FORM_LABEL": {"ru": self.label, "en": self.label},
            "LIST_COLUMN_LABEL": {"ru": self.label, "en": self.label},
            "MULTIPLE": "N",
            "MANDATORY": "N",
            "SHOW_FILTER": "Y",
            "SHOW_IN_LIST": "Y",
            "EDIT_IN_LIST": "N",
            "XML_ID": self.name,
        }
        if self.options:
            fields["LIST"] = [{"VALUE": label, "SORT": (index + 1) * 10, "XML_ID": xml_id}
                              for index, (xml_id, label) in enumerate(self.options)]
        return fields


UPDATES_WITH_READ_BACK = 48  # deal updates in one batch that also reads the deals before and after them
DEALS_READ_AT_ONCE = 44  # deals whose rows, amounts, customers and own-company links fit one batch request
# (44 + 1 + 4 + 1 commands)


@dataclass
class Customers:
    """A chunk's companies and contacts by ID, and requisites by entity type and owner."""

    companies: dict[int, Company] = field(default_factory=dict)
    contacts: dict[int, Contact] = field(default_factory=dict)
    requisites: dict[int, dict[int, list[Requisite]]] = field(default_factory=dict)
    sellers: dict[int, int] = field(default_factory=dict)  # deal -> the requisite of «моя компания» chosen on it


@dataclass
class DealWrites:
    """What a batch of deal updates did: the errors by deal, and the written deals as read back after."""

    errors: dict[int, errors.Bitrix24Error] = field(default_factory=dict)
    before: dict[int, dict[str, Any]] = field(default_factory=dict)  # the deals just before the writes
    rows: dict[int, dict[str, Any]] = field(default_factory=dict)  # and just after them


class Bitrix24Adapter:
    """The portal as the sync engine sees it."""

    def __init__(self, client: Bitrix24Client) -> None:
        self.client = client

    # -- deals -----------------------------------------------------------------------------------

    def deals_changed_since(self, since: datetime, categories: Iterable[int] | None = None,
                            stages: Iterable[str] | None = None, select: list[str] | None = None) -> Listing:
        """Deals whose DATE_MODIFY is at or after `since` (aware), in ID order; `.server_time` after iterating."""
        conditions: dict[str, Any] = {">=DATE_MODIFY": format_datetime(since)}
        if categories is not None:
            conditions["@CATEGORY_ID"] = [int(category) for category in categories]
        if stages is not None:
            conditions["@STAGE_ID"] = list(stages)
        return self.client.iter_list("crm.deal.list", {"filter": conditions,
                                                       "select": select or DEAL_STANDARD_SELECT})

    def deals_by_id(self, deal_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
        """Deals by ID through crm.deal.list (50 per page); missing IDs are simply absent."""
        found: dict[int, dict[str, Any]] = {}
        for chunk in chunked(sorted(set(deal_ids)), 50):
            for row in self.client.iter_list("crm.deal.list", {"filter": {"@ID": chunk},
                                                                "select": DEAL_STANDARD_SELECT}):
                found[int(row["ID"])] = row
        return found

    def existing_deal_ids(self, deal_ids: Iterable[int]) -> set[int]:
        """Which of these deals the portal still lists: 50 IDs a crm.deal.list, 50 of those a batch request."""
        chunks = list(chunked(sorted(set(deal_ids)), 50))
        outcome: BatchResult = self.client.batch({f"e{index}": ("crm.deal.list", {
            "filter": {"@ID": chunk}, "select": ["ID"], "start": -1}) for index, chunk in enumerate(chunks)})
        for error in outcome.errors.values():
            raise error
        return {int(row["ID"]) for rows in outcome.results.values() for row in rows or []}

    def deleted_deal_ids(self, deal_ids: Iterable[int]) -> set[int]:
        """Of deals a listing left out, those crm.deal.get answers "Not found" for (not "Access denied")."""
        wanted = sorted({int(item) for item in deal_ids})
        if not wanted:
            return set()
        outcome: BatchResult = self.client.batch({f"d{item}": ("crm.deal.get", {"id": item}) for item in wanted})
        return {item for item in wanted if isinstance(outcome.errors.get(f"d{item}"), errors.NotFoundError)}

    @staticmethod
    def _rows_commands(deal_ids: Iterable[int]) -> dict[str, tuple[str, dict[str, Any]]]:
        """Each 49 deals' rows after one listing of their amounts: the batch's requests of 50 keep them together."""
        unique = sorted({int(item) for item in deal_ids if item})
        commands: dict[str, tuple[str, dict[str, Any]]] = {}
        for index, chunk in enumerate(chunked(unique, BATCH_LIMIT - 1)):
            commands[f"a{index}"] = ("crm.deal.list", {"filter": {"@ID": chunk}, "select": AMOUNT_FIELDS,
                                                       "start": -1})
            commands.update({f"i{item}": ("crm.deal.productrows.get", {"id": item}) for item in chunk})
        return commands

    @staticmethod
    def _rows_from(outcome: BatchResult) -> tuple[dict[int, list[ProductRow]], dict[int, dict[str, Any]]]:
        rows: dict[int, list[ProductRow]] = {}
        amounts: dict[int, dict[str, Any]] = {}
        for key, error in outcome.errors.items():
            if key[:1] in ("a", "i") and not isinstance(error, errors.NotFoundError):
                raise error
        for key, value in outcome.results.items():
            if key.startswith("a"):
                amounts.update({int(row["ID"]): row for row in value or []})
            elif key.startswith("i"):
                rows[int(key[1:])] = [ProductRow.from_wire(row) for row in value or []]
        return rows, amounts

    def deal_contact_ids(self, deal_ids: Iterable[int]) -> dict[int, list[int]]:
        """Contact IDs bound to each deal, primary first."""
        outcome = self._batch_by_id("crm.deal.contact.items.get", deal_ids)
        result = {}
        for deal_id, items in outcome.items():
            ordered = sorted(items or [], key=lambda item: (item.get("IS_PRIMARY") != "Y", int(item.get("SORT") or 0)))
            result[deal_id] = [int(item["CONTACT_ID"]) for item in ordered]
        return result

    def _batch_by_id(self, method: str, ids: Iterable[int]) -> dict[int, Any]:
        """Call `method` for each distinct id in batches; ids the portal does not know are left out."""
        unique = sorted({int(item) for item in ids if item})
        if not unique:
            return {}
        outcome: BatchResult = self.client.batch({f"i{item}": (method, {"id": item}) for item in unique})
        result: dict[int, Any] = {}
        for item in unique:
            key = f"i{item}"
            error = outcome.errors.get(key)
            if isinstance(error, errors.NotFoundError):
                continue
            if error is not None:
                raise error
            result[item] = outcome.results.get(key)
        return result

    def customers(self, company_ids: Iterable[int], contact_ids: Iterable[int],
                  requisite_owners: Mapping[int, Iterable[int]]) -> Customers:
        """Companies, contacts and the requisites of companies and contacts (entity type -> IDs), all in one batch
        request: each kind listed by `@ID` (or `@ENTITY_ID`), 50 a command; a list with more than one page is
        paged on by itself. Companies and contacts the portal does not have are left out."""
        commands, plan = self._customer_commands(company_ids, contact_ids, requisite_owners)
        return self._customers_from(self.client.batch(commands) if commands else BatchResult(), plan,
                                    requisite_owners)

    def deals_read(self, deal_ids: Iterable[int], company_ids: Iterable[int], contact_ids: Iterable[int],
                   requisite_owners: Mapping[int, Iterable[int]]) -> tuple[dict[int, list[ProductRow]],
                                                                           dict[int, dict[str, Any]], Customers]:
        """What a chunk of deals needs from the portal in one batch request (up to 45 deals): each deal's rows,
        their amounts read beside them (the same moment's, even during an edit), and their customers."""
        rows_commands = self._rows_commands(deal_ids)
        commands, plan = self._customer_commands(company_ids, contact_ids, requisite_owners)
        ids = sorted({int(deal_id) for deal_id in deal_ids})
        links = {f"links_{index}": ("crm.requisite.link.list", {
            "filter": {"ENTITY_TYPE_ID": ENTITY_DEAL, "@ENTITY_ID": chunk, ">MC_REQUISITE_ID": 0},
            "select": ["ENTITY_ID", "MC_REQUISITE_ID"], "start": -1}) for index, chunk in enumerate(chunked(ids, 50))}
        outcome: BatchResult = self.client.batch({**rows_commands, **commands, **links}) if rows_commands or commands \
            else BatchResult()
        rows, amounts = self._rows_from(outcome)
        customers = self._customers_from(outcome, plan, requisite_owners)
        for key in links:  # a portal that keeps no links (or hides them) just chooses no organisation
            if key not in outcome.errors:
                customers.sellers.update({int(link["ENTITY_ID"]): int(link["MC_REQUISITE_ID"])
                                          for link in outcome.results.get(key) or []
                                          if to_int(link.get("MC_REQUISITE_ID"))})
        return rows, amounts, customers

    def requisites_by_ids(self, requisite_ids: Iterable[int]) -> dict[int, Requisite]:
        """Requisites by ID (the ones of «моя компания» chosen on deals), 50 a request."""
        found: dict[int, Requisite] = {}
        for chunk in chunked(sorted(set(requisite_ids)), 50):
            for row in self.client.iter_list("crm.requisite.list", {"filter": {"@ID": chunk},
                                                                     "select": REQUISITE_SELECT}):
                found[int(row["ID"])] = Requisite.from_wire(row)
        return found

    @staticmethod
    def _customer_commands(company_ids: Iterable[int], contact_ids: Iterable[int],
                           requisite_owners: Mapping[int, Iterable[int]]
                           ) -> tuple[dict[str, tuple[str, dict[str, Any]]], dict[str, tuple[str, Any, list[int]]]]:
        commands: dict[str, tuple[str, dict[str, Any]]] = {}
        plan: dict[str, tuple[str, Any, list[int]]] = {}  # key -> (method, entity type or None, IDs)
        listed = {"crm.company.list": sorted({int(item) for item in company_ids if item}),
                  "crm.contact.list": sorted({int(item) for item in contact_ids if item})}
        for method, ids in listed.items():
            for index, chunk in enumerate(chunked(ids, 50)):
                key = f"{method.split('.')[1]}_{index}"
                plan[key] = (method, None, chunk)
                commands[key] = (method, {"filter": {"@ID": chunk, ">ID": 0}, "select": CUSTOMER_SELECT,
                                          "order": {"ID": "ASC"}, "start": -1})
        for entity_type, ids in requisite_owners.items():
            for index, chunk in enumerate(chunked(sorted({int(item) for item in ids if item}), 50)):
                key = f"r{entity_type}_{index}"
                plan[key] = ("crm.requisite.list", entity_type, chunk)
                commands[key] = ("crm.requisite.list", {
                    "filter": {"ENTITY_TYPE_ID": entity_type, "@ENTITY_ID": chunk, ">ID": 0},
                    "select": REQUISITE_SELECT, "order": {"ID": "ASC"}, "start": -1})
        return commands, plan

    def _customers_from(self, outcome: BatchResult, plan: dict[str, tuple[str, Any, list[int]]],
                        requisite_owners: Mapping[int, Iterable[int]]) -> Customers:
        found = Customers(requisites={entity_type: {} for entity_type in requisite_owners})
        for key, (method, entity_type, chunk) in plan.items():
            rows = list(outcome.get(key) or [])
            if entity_type is not None and len(rows) >= 50:  # a full page of requisites: the rest on its own
                conditions = {"ENTITY_TYPE_ID": entity_type, "@ENTITY_ID": chunk}
                rows += list(self.client.iter_list(method, {"filter": {**conditions, ">ID": rows[-1]["ID"]},
                                                            "select": REQUISITE_SELECT}))
            for row in rows:
                if method == "crm.company.list":
                    found.companies[int(row["ID"])] = Company.from_wire(row)
                elif method == "crm.contact.list":
                    found.contacts[int(row["ID"])] = Contact.from_wire(row)
                else:
                    requisite = Requisite.from_wire(row)
                    found.requisites[entity_type].setdefault(requisite.entity_id, []).append(requisite)
        return found

    def company_by_inn(self, inn: str, kpp: str | None = None) -> int | None:
        """The company whose requisite has this INN (and KPP); None if none; an error if several."""
        rows = [Requisite.from_wire(row) for row in self.client.iter_list("crm.requisite.list", {
            "filter": {"RQ_INN": inn, "ENTITY_TYPE_ID": ENTITY_COMPANY},
            "select": ["ID", "ENTITY_TYPE_ID", "ENTITY_ID", "RQ_INN", "RQ_KPP"],
        })]
        if kpp:
            rows = [row for row in rows if (row.kpp or "") == kpp]
        owners = sorted({row.entity_id for row in rows})
        if len(owners) > 1:
            raise CompanyConflictError(
                f"Bitrix24 companies {', '.join(map(str, owners))} all have INN {inn}"
                f"{f' and KPP {kpp}' if kpp else ''}; merge them or correct their requisites")
        return owners[0] if owners else None

    # -- writes to deals -------------------------------------------------------------------------

    def update_deal(self, deal_id: int, fields: Mapping[str, Any]) -> None:
        """Write fields to one deal without posting to the activity stream."""
        self.client.call("crm.deal.update", {"id": deal_id, "fields": dict(fields),
                                             "params": {"REGISTER_SONET_EVENT": "N"}})

    def update_deals(self, updates: Mapping[int, Mapping[str, Any]],
                     read_back: list[str] | None = None) -> DealWrites:
        """Write fields to many deals, 48 per request; with `read_back`, the same request reads the deals just
        before the writes and just after them (the `read_back` fields), at no extra request."""
        result = DealWrites()
        items = list(updates.items())
        for chunk in chunked(items, UPDATES_WITH_READ_BACK if read_back else 50):
            ids = [deal_id for deal_id, _ in chunk]
            commands: dict[str, tuple[str, Mapping[str, Any]]] = {}
            if read_back:
                commands["before"] = ("crm.deal.list", {"filter": {"@ID": ids}, "select": list(read_back),
                                                        "start": -1})
            commands.update({f"u{deal_id}": ("crm.deal.update", {"id": deal_id, "fields": dict(fields),
                                                                 "params": {"REGISTER_SONET_EVENT": "N"}})
                             for deal_id, fields in chunk})
            if read_back:
                commands["after"] = ("crm.deal.list", {"filter": {"@ID": ids}, "select": list(read_back),
                                                       "start": -1})
            outcome = self.client.batch(commands)
            for key, error in outcome.errors.items():
                if key.startswith("u"):
                    result.errors[int(key[1:])] = error
            for row in outcome.results.get("before") or []:
                result.before[int(row["ID"])] = row
            for row in outcome.results.get("after") or []:
                result.rows[int(row["ID"])] = row
        return result

    def add_timeline_comment(self, deal_id: int, text: str, files: Iterable[tuple[str, bytes]] = ()) -> int:
        """A comment in the deal's timeline, optionally with files; returns the comment ID."""
        fields: dict[str, Any] = {"ENTITY_ID": deal_id, "ENTITY_TYPE": "deal", "COMMENT": text}
        attached = [[name, base64.b64encode(content).decode("ascii")] for name, content in files]
        if attached:
            fields["FILES"] = attached
        return int(self.client.call("crm.timeline.comment.add", {"fields": fields}).result)

    def add_timeline_comments(self, comments: Mapping[int, str]) -> dict[int, errors.Bitrix24Error]:
        """One comment on each deal's timeline, 50 per request; returns the errors by deal."""
        if not comments:
            return {}
        outcome = self.client.batch({
            f"c{deal_id}": ("crm.timeline.comment.add", {"fields": {"ENTITY_ID": deal_id, "ENTITY_TYPE": "deal",
                                                                    "COMMENT": text}})
            for deal_id, text in comments.items()
        })
        return {int(key[1:]): error for key, error in outcome.errors.items()}

    # -- user fields -----------------------------------------------------------------------------

    def deal_userfields(self) -> dict[str, dict[str, Any]]:
        """Existing deal user fields by FIELD_NAME."""
        return self.userfields("deal")

    def userfields(self, entity: str) -> dict[str, dict[str, Any]]:
        """Existing user fields of deals, contacts or companies (`entity`), by FIELD_NAME."""
        rows = self.client.call(f"crm.{entity}.userfield.list", {"order": {"SORT": "ASC"}}).result or []
        return {row["FIELD_NAME"]: row for row in rows}

    def ensure_userfield(self, spec: UserFieldSpec, existing: Mapping[str, Any] | None = None,
                              entity: str = "deal") -> bool:
        """Create the field (of deals, or of contacts or companies) unless it exists; True when it was created.
        Safe to run any number of times."""
        existing = self.userfields(entity) if existing is None else existing
        if spec.name in existing:
            return False
        try:
            self.client.call(f"crm.{entity}.userfield.add", {"fields": spec.as_fields()})
        except errors.OutcomeUnknownError:
            if spec.name in self.userfields(entity):
                return True
            raise
        return True

    def update_entities(self, entity: str, updates: Mapping[int, Mapping[str, Any]]) -> dict[int, Exception]:
        """Write fields to many contacts or companies, 50 a request; the ones that failed, with their error."""
        failed: dict[int, Exception] = {}
        for chunk in chunked(list(updates.items()), 50):
            outcome = self.client.batch({f"u{entity_id}": (f"crm.{entity}.update", {
                "id": entity_id, "fields": dict(fields), "params": {"REGISTER_SONET_EVENT": "N"}})
                for entity_id, fields in chunk})
            failed.update({int(key[1:]): error for key, error in outcome.errors.items()})
        return failed

    # -- Disk ------------------------------------------------------------------------------------

    def storages(self) -> list[dict[str, Any]]:
        return list(self.client.iter_list("disk.storage.getlist", {}))

    def find_or_create_folder(self, storage_id: int, name: str) -> int:
        """The folder `name` at the root of a storage, created if missing."""
        for child in self.client.call("disk.storage.getchildren", {"id": storage_id}).result or []:
            if child.get("TYPE") == "folder" and child.get("NAME", "").lower() == name.lower():
                return int(child["ID"])
        try:
            created = self.client.call("disk.storage.addfolder", {"id": storage_id, "data": {"NAME": name}}).result
        except errors.OutcomeUnknownError:
            return self.find_or_create_folder(storage_id, name)
        return int(created["ID"])

    def folder_files(self, folder_id: int) -> dict[str, DiskFile]:
        """The files of a folder by name, page by page (50 a page, as Disk sends them)."""
        files: dict[str, DiskFile] = {}
        start: int | None = 0
        while start is not None:
            reply = self.client.call("disk.folder.getchildren", {"id": folder_id, "start": start})
            for child in reply.result or []:
                if child.get("TYPE") == "file":
                    files.setdefault(child.get("NAME", ""), DiskFile.from_wire(child))
            start = reply.next
        return files

    def timeline_comments(self, deal_id: int) -> list[str]:
        """The texts of a deal's timeline comments (to recognise what b24sync already said after a lost state)."""
        texts: list[str] = []
        start: int | None = 0
        while start is not None:
            reply = self.client.call("crm.timeline.comment.list", {
                "filter": {"ENTITY_ID": deal_id, "ENTITY_TYPE": "deal"}, "select": ["ID", "COMMENT"],
                "start": start})
            texts += [str(row.get("COMMENT") or "") for row in reply.result or []]
            start = reply.next
        return texts

    def upload_file(self, folder_id: int, name: str, content: bytes) -> DiskFile:
        """Upload bytes into a folder (a clashing name gets a " (1)" suffix); returns the Disk file."""
        result = self.client.call("disk.folder.uploadfile", {
            "id": folder_id,
            "data": {"NAME": name},
            "fileContent": [name, base64.b64encode(content).decode("ascii")],
            "generateUniqueName": True,
        }).result
        return DiskFile.from_wire(result)

    def external_link(self, file_id: int) -> str:
        """A public link to a Disk file (the same link each time for the same file)."""
        return str(self.client.call("disk.file.getExternalLink", {"id": file_id}).result)

    # -- catalog ---------------------------------------------------------------------------------

    def products(self, product_ids: Iterable[int], article_property: str | None = None) -> dict[int, CatalogProduct]:
        """Catalog products by ID, with XML_ID and the article property."""
        wanted = sorted({int(item) for item in product_ids if item})
        return {product.id: product for product in self._products("@ID", wanted, article_property)}

    def products_by_xml_id(self, xml_ids: Iterable[str],
                           article_property: str | None = None) -> dict[str, CatalogProduct]:
        """Catalog products by XML_ID (the 1C Ref_Key when the catalog came from 1C)."""
        return {product.xml_id: product for product in self._products("@XML_ID", sorted(set(xml_ids)), article_property)
                if product.xml_id}

    def products_by_article(self, articles: Iterable[str], article_property: str) -> dict[str, list[CatalogProduct]]:
        """Catalog products by their article (the catalog property holding it), each article's products."""
        found: dict[str, list[CatalogProduct]] = {}
        for product in self._products(f"@{article_property}", sorted(set(articles)), article_property):
            if product.article:
                found.setdefault(product.article, []).append(product)
        return found

    def _products(self, key: str, values: list[Any], article_property: str | None) -> Iterator[CatalogProduct]:
        """crm.product.list by `key` (`@ID`, `@XML_ID` or `@PROPERTY_<id>`), 50 values a request."""
        select = ["ID", "NAME", "XML_ID", "PRICE"] + ([article_property] if article_property else [])
        for chunk in chunked(values, 50):
            for row in self.client.iter_list("crm.product.list", {"filter": {key: chunk}, "select": select}):
                yield CatalogProduct.from_wire(row, article_property)

    def add_product(self, fields: Mapping[str, Any]) -> int:
        return int(to_int(self.client.call("crm.product.add", {"fields": dict(fields)}).result) or 0)

    def update_product(self, product_id: int, fields: Mapping[str, Any]) -> None:
        self.client.call("crm.product.update", {"id": product_id, "fields": dict(fields)})

    def catalog_references(self) -> tuple[dict[int, int], dict[Decimal | None, int]] | None:
        """The portal's units (OKEI code -> catalog measure ID) and VAT rates (the rate, None for «Без НДС» ->
        VAT ID), which a product's MEASURE and VAT_ID name: catalog.measure.list and catalog.vat.list in one
        batch. None when the webhook may not read them (no 'catalog' scope, or not an administrator's)."""
        outcome = self.client.batch({"measures": ("catalog.measure.list", {"select": ["id", "code"]}),
                                     "vats": ("catalog.vat.list", {"select": ["id", "rate", "active"]})})
        for error in outcome.errors.values():
            if isinstance(error, errors.ScopeError | errors.AccessDeniedError):
                return None
            raise error
        measures = {int(item["code"]): int(item["id"]) for item in (outcome.get("measures") or {}).get("measures", [])
                    if to_int(item.get("code"))}
        vats: dict[Decimal | None, int] = {}
        for item in (outcome.get("vats") or {}).get("vats", []):
            if item.get("active", "Y") == "Y":
                rate = item.get("rate")
                vats.setdefault(None if rate is None else Decimal(str(rate)).normalize(), int(item["id"]))
        return measures, vats

    # -- portal configuration --------------------------------------------------------------------

    def scopes(self) -> set[str]:
        """The webhook's permission scopes."""
        return set(self.client.call("scope", {}).result or [])

    def deal_stages(self, category_id: int) -> dict[str, dict[str, Any]]:
        """Stages of one pipeline by STATUS_ID."""
        entity = "DEAL_STAGE" if category_id == 0 else f"DEAL_STAGE_{category_id}"
        rows = self.client.call("crm.status.list", {"filter": {"ENTITY_ID": entity},
                                                    "order": {"SORT": "ASC"}}).result or []
        return {row["STATUS_ID"]: row for row in rows}
