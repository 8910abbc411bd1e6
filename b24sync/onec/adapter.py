"""What the sync engine asks of 1C, one small method each, over the standard OData interface.

This is the backend adapter for 1C: lookups (nomenclature, counterparties,
currencies, managers, defaults), finding a document by its deal, creating,
updating and posting documents, and polling for what the accountant did.
It knows the profile's entities and nothing of Bitrix24.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import requests

from b24sync.clock import SYSTEM_CLOCK, Clock
from b24sync.config import Marker, OneCConfig
from b24sync.invoices.model import BankDetails, InvoiceData, InvoiceRow, Party
from b24sync.logs import get_logger
from b24sync.onec import errors
from b24sync.onec.documents import (
    ContentRow,
    DocumentContent,
    DocumentHeader,
    DocumentRef,
    InvoiceInfo,
    OrderDraft,
    PollResult,
    Snapshot,
)
from b24sync.onec.metadata import Metadata
from b24sync.onec.odata import MAX_URL, ZERO_GUID, ODataClient, cast, entity_path, guid, literal, synonym
from b24sync.onec.profiles import PROFILES, Profile, Resolved

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
PROPERTIES = "ChartOfCharacteristicTypes_ДополнительныеРеквизитыИСведения"
HEADER = "Ref_Key,DataVersion,Number,Date,Posted,DeletionMark,СуммаДокумента"


def is_guid(value: str) -> bool:
    return bool(_GUID.match(value.strip()))


def _date(value: str | None) -> date | None:
    if not value or value.startswith("0001-01-01"):
        return None
    return datetime.fromisoformat(value).date()


def _decimal(value: Any) -> Decimal:
    return Decimal(str(value or 0))


def _vat_rate(row: dict[str, Any], catalog_rates: dict[str, str]) -> Decimal | None:
    """A row's VAT rate from the enum name (НДС22, БезНДС) or the Ставки НДС item."""
    if row.get("СтавкаНДС_Key") and row["СтавкаНДС_Key"] != ZERO_GUID:
        key = catalog_rates.get(row["СтавкаНДС_Key"])
        return None if key in (None, "none") else Decimal(key)
    name = str(row.get("СтавкаНДС") or "")
    digits = "".join(char for char in name.split("_")[0] if char.isdigit())
    return Decimal(digits) if name.startswith("НДС") and digits else None


class OneCAdapter:
    """The 1C base as the sync engine sees it."""

    def __init__(self, client: ODataClient, config: OneCConfig, clock: Clock = SYSTEM_CLOCK) -> None:
        self.client = client
        self.config = config
        self.profile: Profile = PROFILES[config.profile]
        self.clock = clock
        self.log = get_logger("b24sync.onec")
        self._metadata: Metadata | None = None
        self._resolved: Resolved | None = None
        self._managers: dict[int, str | None] = {}

    @classmethod
    def from_config(cls, config: OneCConfig, **overrides: Any) -> OneCAdapter:
        options: dict[str, Any] = {"connect_timeout": config.connect_timeout, "read_timeout": config.read_timeout,
                                   "max_retries": config.max_retries, "verify": config.verify_tls}
        clock = overrides.pop("clock", SYSTEM_CLOCK)
        options.update(overrides)
        return cls(ODataClient(config.url, config.user, config.password, clock=clock, **options), config, clock)

    # -- introspection ------------------------------------------------------------------------------

    def metadata(self, refresh: bool = False) -> Metadata:
        """The base's `$metadata`, read once per process (and again on demand)."""
        if self._metadata is None or refresh:
            self._metadata = Metadata.parse(self.client.get_text("$metadata"))
        return self._metadata

    def publication_problems(self) -> list[str]:
        """What the profile needs and the base does not publish, in an administrator's words."""
        problems = []
        needs = dict(self.profile.needs)
        marker = self.config.deal_marker
        if marker.attribute:
            needs[self.profile.order_entity] = needs[self.profile.order_entity] + (marker.attribute,)
        else:
            needs[self.profile.order_entity] = needs[self.profile.order_entity] + (
                "ДополнительныеРеквизиты", "ДополнительныеРеквизиты/Свойство_Key", "ДополнительныеРеквизиты/Значение")
            needs[PROPERTIES] = ("Ref_Key", "Description")
        if self.profile.name == "ut11" and self.config.tracking.attribute:
            needs[self.profile.sale_entity] = needs[self.profile.sale_entity] + (self.config.tracking.attribute,)
        for entity, prop in self.metadata().missing(needs):
            if prop is None:
                problems.append(f"1C does not publish {entity}: tick «{synonym(entity)}» in Администрирование → "
                                f"Общие настройки → Интеграция с другими программами → Настройка стандартного "
                                f"интерфейса OData")
            else:
                problems.append(f"{entity} has no property {prop} in 1C's OData: check the configuration version "
                                f"(profile '{self.profile.name}') and the OData composition")
        if self.profile.name == "ut11" and self.metadata().has(self.profile.order_entity) and \
                self.metadata().vat_form(self.profile.order_entity) is None:
            problems.append(f"{self.profile.order_entity} rows have neither СтавкаНДС_Key nor СтавкаНДС in 1C's OData")
        return problems

    # -- resolving config values ----------------------------------------------------------------------

    def resolve(self, entity: str, value: str, key: str, fields: tuple[str, ...] = ("Code", "Description")) -> str:
        """A catalog item by GUID, code or name; a SetupError naming the config key when none matches."""
        value = value.strip()
        if is_guid(value):
            try:
                self.client.get(entity_path(entity, value.lower()), {"$select": "Ref_Key"})
                return value.lower()
            except errors.NotFoundError:
                pass
        else:
            for field in fields:
                rows = self.client.get(entity, {"$filter": f"{field} eq {literal(value)} and DeletionMark eq false",
                                                "$select": "Ref_Key", "$top": 2}).get("value", [])
                if rows:
                    return rows[0]["Ref_Key"]
        raise errors.SetupError(
            f"at '{key}': «{value}» is not the GUID, code or name of any {entity} in 1C; correct the config or "
            f"create it in 1C", resource=entity)

    def resolved(self, refresh: bool = False) -> Resolved:
        """Defaults, currencies, the marker property and the VAT form as references, resolved once and kept for
        the adapter's life (a reload of the config builds a new adapter)."""
        if self._resolved is not None and not refresh:
            return self._resolved
        defaults = self.config.defaults
        organisation = self.resolve("Catalog_Организации", defaults.organisation, "onec.defaults.organisation")
        warehouse = agreement = None
        if self.profile.name == "ut11":
            warehouse = self.resolve("Catalog_Склады", defaults.warehouse or "", "onec.defaults.warehouse")
            agreement = self.resolve("Catalog_СоглашенияСКлиентами", defaults.agreement or "",
                                     "onec.defaults.agreement")
        currency: dict[str, str] = {}
        for row in self.client.get("Catalog_Валюты", {"$select": "Ref_Key,Code,Description"}).get("value", []):
            currency[row["Code"].strip().upper()] = row["Ref_Key"]
            currency[row["Description"].strip().upper()] = row["Ref_Key"]
        if defaults.currency.upper() not in currency:
            raise errors.SetupError(f"at 'onec.defaults.currency': no currency with the code «{defaults.currency}» "
                                    f"in 1C's Catalog_Валюты", resource="Catalog_Валюты")
        marker_property = tracking_property = None
        if not self.config.deal_marker.attribute:
            marker_property = self._property(self.config.deal_marker, "onec.deal_marker.additional_requisite")
        if not self.config.tracking.attribute and self.config.tracking.additional_requisite:
            tracking_property = self._property(self.config.tracking, "onec.tracking.additional_requisite")
        vat_form = self.metadata().vat_form(self.profile.order_entity) if self.profile.name == "ut11" else "enum"
        vat_refs: dict[str, str] = {}
        if vat_form == "catalog":
            for row in self.client.get("Catalog_СтавкиНДС", {"$select": "Ref_Key,Description,Ставка"}).get("value", []):
                text = row["Description"].lower()
                key = "none" if "без" in text else str(int(_decimal(row.get("Ставка"))))
                vat_refs.setdefault(key, row["Ref_Key"])
        self._resolved = Resolved(organisation=organisation, currency=currency, warehouse=warehouse,
                                  agreement=agreement, marker_property=marker_property,
                                  tracking_property=tracking_property, vat_form=vat_form, vat_refs=vat_refs)
        return self._resolved

    def _property(self, marker: Marker, key: str) -> str:
        name = marker.additional_requisite or ""
        for field in ("Description", "Заголовок", "Имя"):
            rows = self.client.get(PROPERTIES, {"$filter": f"{field} eq {literal(name)} and DeletionMark eq false",
                                                "$select": "Ref_Key", "$top": 1}).get("value", [])
            if rows:
                return rows[0]["Ref_Key"]
        raise errors.SetupError(
            f"at '{key}': 1C has no additional requisite «{name}»; create it in 1C (НСИ и администрирование → "
            f"Дополнительные реквизиты) with the type Строка for the documents b24sync writes", resource=PROPERTIES)

    def manager(self, bitrix24_user_id: int | None) -> str | None:
        """The 1C user responsible for a deal's manager, by the 'onec.managers' map or the default; resolved once
        per Bitrix24 user for the adapter's life (a failed resolution is not kept: it is asked again)."""
        user = bitrix24_user_id or 0
        if user not in self._managers:
            name = self.config.managers.get(user) or self.config.default_manager
            key = "onec.managers" if bitrix24_user_id in self.config.managers else "onec.default_manager"
            self._managers[user] = self.resolve("Catalog_Пользователи", name, key, fields=("Description",)) \
                if name else None
        return self._managers[user]

    def currency(self, code: str | None) -> str:
        """A currency reference by letter (RUB) or numeric (643) code."""
        resolved = self.resolved()
        wanted = (code or self.config.defaults.currency).upper()
        if wanted not in resolved.currency:
            raise errors.SetupError(f"1C has no currency «{wanted}» in Catalog_Валюты; add it in 1C",
                                    resource="Catalog_Валюты")
        return resolved.currency[wanted]

    # -- nomenclature and counterparties ----------------------------------------------------------------

    def _by_or_chain(self, entity: str, field: str, values: Iterable[str], select: str,
                     render: Any = literal, extra: str = "") -> list[dict[str, Any]]:
        """Rows whose `field` equals any of `values`, in `or` chains that keep every URL under the limit."""
        values = list(dict.fromkeys(values))
        rows: list[dict[str, Any]] = []
        chunk: list[str] = []
        for value in values + [None]:
            if value is not None:
                candidate = chunk + [f"{field} eq {render(value)}"]
                query = " or ".join(candidate)
                if len(self.client.url(entity, {"$filter": f"({query}){extra}", "$select": select,
                                                "$top": 500, "$skip": 0, "$orderby": "Ref_Key"},
                                                check=False)) < MAX_URL - 40:
                    chunk = candidate
                    continue
            if chunk:
                rows.extend(self.client.get_all(entity, {"$filter": f"({' or '.join(chunk)}){extra}",
                                                         "$select": select}))
            chunk = [f"{field} eq {render(value)}"] if value is not None else []
        return rows

    def nomenclature_by_refs(self, refs: Iterable[str]) -> dict[str, dict[str, Any]]:
        rows = self._by_or_chain("Catalog_Номенклатура", "Ref_Key", [ref.lower() for ref in refs if is_guid(ref)],
                                 "Ref_Key,Description,Артикул,DeletionMark", render=guid)
        return {row["Ref_Key"]: row for row in rows}

    def nomenclature_by_articles(self, articles: Iterable[str]) -> dict[str, dict[str, Any]]:
        rows = self._by_or_chain("Catalog_Номенклатура", "Артикул", [a for a in articles if a],
                                 "Ref_Key,Description,Артикул,DeletionMark", extra=" and DeletionMark eq false")
        found: dict[str, dict[str, Any]] = {}
        for row in rows:
            found.setdefault(row["Артикул"], row)
        return found

    def nomenclature_page(self, skip: int, top: int = 500) -> list[dict[str, Any]]:
        """One page of the catalog (items, not folders) with what Bitrix24's catalog shows."""
        return self.client.get("Catalog_Номенклатура", {
            "$filter": "IsFolder eq false", "$select": "Ref_Key,DataVersion,DeletionMark,Description,Артикул",
            "$orderby": "Ref_Key", "$top": top, "$skip": skip}).get("value", [])

    def counterparty_by_inn(self, inn: str, kpp: str | None = None) -> dict[str, Any] | None:
        """The counterparty with this INN (and KPP), with its partner in УТ; None if none matches."""
        condition = f"ИНН eq {literal(inn)}" + (f" and КПП eq {literal(kpp)}" if kpp else "")
        select = "Ref_Key,Description,ИНН,КПП" + (",Партнер_Key" if self.profile.name == "ut11" else "")
        rows = self.client.get("Catalog_Контрагенты", {"$filter": f"{condition} and DeletionMark eq false",
                                                       "$select": select, "$orderby": "Code"}).get("value", [])
        return rows[0] if rows else None

    def counterparty_by_name(self, name: str) -> dict[str, Any] | None:
        select = "Ref_Key,Description,ИНН,КПП" + (",Партнер_Key" if self.profile.name == "ut11" else "")
        rows = self.client.get("Catalog_Контрагенты", {"$filter": f"Description eq {literal(name)} and "
                                                                  f"DeletionMark eq false",
                                                       "$select": select, "$orderby": "Code"}).get("value", [])
        return rows[0] if rows else None

    def create_counterparty(self, name: str, full_name: str, *, inn: str | None = None, kpp: str | None = None,
                            individual: bool = False) -> dict[str, Any]:
        """A new counterparty (and in УТ its partner, in БП its contract); refused unless the config allows it."""
        if not self.config.create_counterparties:
            raise errors.SetupError(
                f"1C has no counterparty {'with INN ' + inn if inn else '«' + name + '»'} and "
                f"'onec.create_counterparties' is false: create it in 1C, or allow b24sync to",
                resource="Catalog_Контрагенты")
        body: dict[str, Any] = {"Description": name[:150], "НаименованиеПолное": full_name, "ИНН": inn or "",
                                "КПП": kpp or "", "Комментарий": "Создан b24sync из Битрикс24"}
        if self.profile.name == "ut11":
            partner = self._find_one("Catalog_Партнеры", "Description", name[:150]) or self._create_once(
                "Catalog_Партнеры", {
                "Description": name[:150], "НаименованиеПолное": full_name, "Клиент": True,
                "ЮрФизЛицо": "ЧастноеЛицо" if individual else "Компания"}, "Description", name[:150])
            body["Партнер_Key"] = partner["Ref_Key"]
            body["ЮрФизЛицо"] = "ФизЛицо" if individual else "ЮрЛицо"
        else:
            body["ЮридическоеФизическоеЛицо"] = "ФизическоеЛицо" if individual else "ЮридическоеЛицо"
        key_field, key_value = ("ИНН", inn) if inn else ("Description", name[:150])
        created = self._create_once("Catalog_Контрагенты", body, key_field, key_value)
        if self.profile.name == "bp30":
            self.contract(created["Ref_Key"])
        return created

    def _find_one(self, entity: str, field: str, value: str) -> dict[str, Any] | None:
        """A live catalog item by one field (a partner left behind by an interrupted run is reused, not doubled)."""
        rows = self.client.get(entity, {"$filter": f"{field} eq {literal(value)} and DeletionMark eq false",
                                        "$top": 1, "$orderby": "Code"}).get("value", [])
        return rows[0] if rows else None

    def _create_once(self, entity: str, body: dict[str, Any], key_field: str, key_value: str) -> dict[str, Any]:
        """POST, and if the answer is lost, look for what may have been created before giving up."""
        try:
            return self.client.post(entity, body)
        except errors.OutcomeUnknownError:
            rows = self.client.get(entity, {"$filter": f"{key_field} eq {literal(key_value)}", "$top": 1}).get(
                "value", [])
            if rows:
                return rows[0]
            raise

    def contract(self, counterparty_ref: str, create: bool = True) -> str | None:
        """БП: the counterparty's contract named in 'onec.defaults.contract' (created when missing)."""
        name = self.config.defaults.contract or "Основной договор"
        rows = self.client.get("Catalog_ДоговорыКонтрагентов", {
            "$filter": f"Owner_Key eq {guid(counterparty_ref)} and DeletionMark eq false",
            "$select": "Ref_Key,Description", "$orderby": "Code"}).get("value", [])
        for row in rows:
            if row["Description"] == name:
                return row["Ref_Key"]
        if rows:
            return rows[0]["Ref_Key"]
        if not create:
            return None
        created = self.client.post("Catalog_ДоговорыКонтрагентов", {
            "Description": name, "Owner_Key": counterparty_ref, "Организация_Key": self.resolved().organisation,
            "ВидДоговора": "СПокупателем"})
        return created["Ref_Key"]

    # -- documents ------------------------------------------------------------------------------------

    def headers(self, refs: Iterable[str]) -> dict[str, DocumentHeader]:
        """The documents' headers and content, in `or` chains (about 27 documents a request); a document that no
        longer exists in 1C is absent."""
        rows = self._by_or_chain(self.profile.order_entity, "Ref_Key", [ref.lower() for ref in refs],
                                 self.profile.content_select, render=guid)
        return {row["Ref_Key"]: self._header(row) for row in rows}

    def _header(self, row: dict[str, Any]) -> DocumentHeader:
        rows = tuple(ContentRow(str(item.get("Номенклатура_Key", "")), _decimal(item.get("Количество")),
                                _decimal(item.get("Цена")))
                     for item in sorted(row.get("Товары") or [], key=lambda item: item.get("LineNumber", 0)))
        content = DocumentContent(comment=row.get("Комментарий") or "", amount=_decimal(row.get("СуммаДокумента")),
                                  rows=rows, currency_ref=row.get(self.profile.currency_field),
                                  manager_ref=row.get(self.profile.manager_field))
        return DocumentHeader(ref=row["Ref_Key"], number=row.get("Number", ""), data_version=row.get("DataVersion", ""),
                              posted=bool(row.get("Posted")), deleted=bool(row.get("DeletionMark")),
                              status=row.get("Статус", ""), total=_decimal(row.get("СуммаДокумента")),
                              content=content)

    def find_by_deals(self, deal_ids: Iterable[int]) -> dict[int, DocumentHeader]:
        """The live documents of many deals at once, with their content, in as few requests as the URL limit
        allows."""
        marker = self.config.deal_marker
        found: dict[int, DocumentHeader] = {}
        values = [str(deal_id) for deal_id in dict.fromkeys(deal_ids)]
        select = self.profile.content_select + (f",{marker.attribute}" if marker.attribute
                                                else ",ДополнительныеРеквизиты")
        prop = None if marker.attribute else (self.resolved().marker_property or ZERO_GUID)

        def condition(chunk: list[str]) -> str:
            if marker.attribute:
                return "(" + " or ".join(f"{marker.attribute} eq {literal(value)}" for value in chunk) + ")"
            either = " or ".join(f"d/Значение eq {literal(value)}" for value in chunk)
            return f"ДополнительныеРеквизиты/any(d: d/Свойство_Key eq {guid(prop)} and ({either}))"

        start = 0
        while start < len(values):
            size = 1
            while start + size < len(values) and len(self.client.url(self.profile.order_entity, {
                    "$filter": condition(values[start:start + size + 1]) + " and DeletionMark eq false",
                    "$select": select, "$orderby": "Date,Ref_Key", "$top": 500, "$skip": 0},
                    check=False)) < MAX_URL - 40:
                size += 1
            chunk = values[start:start + size]
            start += size
            rows = self.client.get_all(self.profile.order_entity, {
                "$filter": condition(chunk) + " and DeletionMark eq false", "$select": select,
                "$orderby": "Date,Ref_Key"})
            for row in rows:
                if marker.attribute:
                    deal_value = str(row.get(marker.attribute) or "")
                else:
                    deal_value = next((str(item.get("Значение")) for item in row.get("ДополнительныеРеквизиты", [])
                                       if item.get("Свойство_Key") == prop), "")
                if not deal_value.isdigit():
                    continue
                if int(deal_value) in found:
                    self.log.warning("onec_duplicate_documents", deal_id=int(deal_value),
                                     refs=[found[int(deal_value)].ref, row["Ref_Key"]],
                                     action="mark the extra documents for deletion in 1C")
                    continue
                found[int(deal_value)] = self._header(row)  # the earliest document (ordered by Date, Ref_Key)
        return found

    def find_by_deal(self, deal_id: int) -> DocumentRef | None:
        """The live document b24sync made for this deal, found by the deal marker (recovery, idempotency)."""
        header = self.find_by_deals([deal_id]).get(deal_id)
        return None if header is None else DocumentRef(self.profile.order_entity, header.ref, header.number,
                                                       header.data_version, header.posted, header.total)

    def _ref(self, row: dict[str, Any]) -> DocumentRef:
        return DocumentRef(entity=self.profile.order_entity, ref=row["Ref_Key"], number=row.get("Number", ""),
                           data_version=row.get("DataVersion", ""), posted=bool(row.get("Posted")),
                           total=_decimal(row.get("СуммаДокумента")))

    def _now_text(self) -> str:
        """The date of a new document: the 1C server's local time is unknown here, so send our local time, naive."""
        return datetime.fromtimestamp(int(self.clock.time())).isoformat()

    def create_document(self, draft: OrderDraft, *, check_existing: bool = True,
                        post: bool | None = None) -> DocumentRef:
        """Create the order (УТ) or invoice (БП) for a deal, then post it if configured.

        Refuses when a document for the deal already exists; after a create whose
        answer was lost, it looks for the document before reporting.
        """
        existing = self.find_by_deal(draft.deal_id) if check_existing else None
        if existing is not None:
            raise errors.DuplicateDocumentError(
                f"1C already has {self.profile.order_entity} {existing.number} for deal {draft.deal_id}; "
                f"b24sync binds to it instead of creating another", resource=self.profile.order_entity)
        body = self.profile.order_body(draft, self.resolved(), status=self.config.order_status,
                                       marker_attribute=self.config.deal_marker.attribute,
                                       date_text=(draft.date.replace(tzinfo=None, microsecond=0).isoformat()
                                                  if draft.date else self._now_text()))
        try:
            document = self._ref(self.client.post(self.profile.order_entity, body))
        except errors.OutcomeUnknownError:
            found = self.find_by_deal(draft.deal_id)  # the answer was lost: did the create happen?
            if found is None:
                raise
            document = found
        if self.config.post_documents if post is None else post:
            document = self.post(document.ref)
        return document

    def close_order(self, ref: str) -> DocumentRef:
        """УТ: set the order's Статус to Закрыт (the deal was lost or moved back before shipment and payment)."""
        if self.profile.name != "ut11":
            raise errors.SetupError("closing a document is only possible for customer orders (ut11)",
                                    resource=self.profile.order_entity)
        return self._ref(self.client.patch(entity_path(self.profile.order_entity, ref), {"Статус": "Закрыт"}))

    def reopen_order(self, ref: str, status: str) -> DocumentRef:
        """УТ: give a closed order its working status back."""
        return self._ref(self.client.patch(entity_path(self.profile.order_entity, ref), {"Статус": status}))

    def read(self, ref: str) -> DocumentRef:
        return self._ref(self.client.get(entity_path(self.profile.order_entity, ref), {"$select": HEADER}))

    def update_document(self, ref: str, draft: OrderDraft, expected_version: str,
                        post: bool | None = None) -> DocumentRef:
        """Replace header and rows of a document, unless it changed in 1C since b24sync last saw it.

        If-Match is ignored by real servers, so the DataVersion is compared here before the PATCH.
        """
        current = self.read(ref)
        if current.data_version != expected_version:
            raise errors.ConflictError(
                f"{self.profile.order_entity} {current.number} changed in 1C since b24sync wrote it (version "
                f"{expected_version} → {current.data_version}); it was not overwritten",
                resource=self.profile.order_entity)
        body = self.profile.order_body(draft, self.resolved(), status=self.config.order_status,
                                       marker_attribute=self.config.deal_marker.attribute, date_text="")
        body.pop("Date", None)
        updated = self.client.patch(entity_path(self.profile.order_entity, ref), body)
        document = self._ref(updated)
        if (current.posted and self.config.post_documents) if post is None else post:
            document = self.post(ref)
        return document

    def post(self, ref: str) -> DocumentRef:
        """Post (провести) a document and read it back to confirm."""
        self.client.action(entity_path(self.profile.order_entity, ref, "Post"))
        document = self.read(ref)
        if not document.posted:
            raise errors.BusinessError(f"1C accepted posting {self.profile.order_entity} {document.number} but the "
                                       f"document is still not posted", resource=self.profile.order_entity)
        return document

    def unpost(self, ref: str) -> DocumentRef:
        self.client.action(entity_path(self.profile.order_entity, ref, "Unpost"))
        return self.read(ref)

    def _payment_entities(self) -> list[str]:
        """The profile's payment documents that this base publishes."""
        return [entity for entity in self.profile.payment_entities if self.metadata().has(entity)]

    # -- invoices ---------------------------------------------------------------------------------------

    def invoice_data(self, invoice_ref: str, bank: BankDetails | None = None,
                     valid_days: int = 0) -> InvoiceData:
        """Everything the printed invoice shows, read through OData."""
        invoice = self.client.get(entity_path(self.profile.invoice_entity, invoice_ref))
        if self.profile.name == "ut11":
            basis = invoice.get("ДокументОснование", "")
            order = self.client.get(entity_path(self.profile.order_entity, basis),
                                    {"$select": "Number,Date,Товары,ЦенаВключаетНДС"})
            rows_source, include_vat = order.get("Товары", []), bool(order.get("ЦенаВключаетНДС"))
            basis_text = f"Заказ клиента № {order.get('Number', '')}"
            organisation_key, currency_amount = invoice["Организация_Key"], invoice.get("СуммаДокумента")
        else:
            rows_source, include_vat = invoice.get("Товары", []), bool(invoice.get("СуммаВключаетНДС"))
            basis_text = ""
            organisation_key, currency_amount = invoice["Организация_Key"], invoice.get("СуммаДокумента")
        products = self._items("Catalog_Номенклатура", [row.get("Номенклатура_Key", ZERO_GUID) for row in rows_source],
                               "Ref_Key,Description,НаименованиеПолное,ЕдиницаИзмерения_Key")
        unit_set = "Catalog_УпаковкиЕдиницыИзмерения" if self.profile.name == "ut11" else \
            "Catalog_КлассификаторЕдиницИзмерения"
        units = self._items(unit_set, [item.get("ЕдиницаИзмерения_Key", ZERO_GUID) for item in products.values()],
                            "Ref_Key,Description")
        rates = {ref: key for key, ref in (self.resolved().vat_refs or {}).items()}
        rows = []
        for row in rows_source:
            product = products.get(row.get("Номенклатура_Key", ""), {})
            rate = _vat_rate(row, rates)
            amount = _decimal(row.get("Сумма"))
            vat = _decimal(row.get("СуммаНДС"))
            rows.append(InvoiceRow(
                name=row.get("Содержание") or product.get("НаименованиеПолное") or product.get("Description") or "",
                quantity=_decimal(row.get("Количество")), unit=units.get(product.get("ЕдиницаИзмерения_Key", ""),
                                                                         {}).get("Description", "шт"),
                price=_decimal(row.get("Цена")), amount=amount if include_vat else amount + vat, vat_rate=rate,
                vat_amount=vat))
        seller = self.client.get(entity_path("Catalog_Организации", organisation_key))
        buyer = self.client.get(entity_path("Catalog_Контрагенты", invoice["Контрагент_Key"]))
        when = _date(invoice.get("Date")) or date.today()
        return InvoiceData(
            number=invoice.get("Number", ""), date=when,
            seller=Party(seller.get("НаименованиеСокращенное") or seller.get("Description", ""), seller.get("ИНН", ""),
                         seller.get("КПП", ""), seller.get("ЮридическийАдрес", "")),
            buyer=Party(buyer.get("НаименованиеПолное") or buyer.get("Description", ""), buyer.get("ИНН", ""),
                        buyer.get("КПП", "")),
            rows=tuple(rows), prices_include_vat=True, total=_decimal(currency_amount), bank=bank,
            valid_until=when + timedelta(days=valid_days) if valid_days else None, basis=basis_text)

    def _items(self, entity: str, refs: Iterable[str], select: str) -> dict[str, dict[str, Any]]:
        wanted = [ref for ref in dict.fromkeys(refs) if ref and ref != ZERO_GUID]
        return {row["Ref_Key"]: row for row in self._by_or_chain(entity, "Ref_Key", wanted, select, render=guid)}

    def printed_invoice(self, service_url: str, invoice_ref: str) -> bytes:
        """The PDF 1C itself prints, from the HTTP service b24sync's contract describes."""
        url = service_url.rstrip("/") + f"/invoices/{invoice_ref}/pdf"
        try:
            reply = self.client.session.get(url, timeout=self.client.timeout)
        except requests.RequestException as failure:
            raise errors.TransportError(f"cannot reach 1C's invoice service for {invoice_ref}: "
                                        f"{type(failure).__name__}", resource="invoice PDF") from None
        if reply.status_code != 200 or not reply.content.startswith(b"%PDF"):
            first = reply.content[:120].decode("utf-8", errors="replace").splitlines()[0] if reply.content else ""
            raise errors.ServerError(
                f"1C's invoice service answered HTTP {reply.status_code} ({reply.headers.get('Content-Type', '')}) "
                f"instead of a PDF for invoice {invoice_ref}: {first!r}; check 'onec.invoice_service_url' and the "
                f"service's publication", status=reply.status_code, resource="invoice PDF")
        return reply.content

    # -- what the accountant did ------------------------------------------------------------------------

    def poll(self, bound: Iterable[str], known: dict[str, str], since: datetime) -> PollResult:
        """Snapshots of the bound documents that changed since `known` (ref -> DataVersion).

        Reads the bound documents' versions (in `or` chains) and the related
        documents dated in the window; a snapshot is built only for documents
        that changed or whose invoices, sales or payments did.
        """
        start = self.client.requests_sent
        bound = [ref.lower() for ref in bound]
        result = PollResult()
        candidates: set[str] = set()
        for row in self._by_or_chain(self.profile.order_entity, "Ref_Key", bound, "Ref_Key,DataVersion",
                                     render=guid):
            result.versions[row["Ref_Key"]] = row["DataVersion"]
            if known.get(row["Ref_Key"]) != row["DataVersion"]:
                candidates.add(row["Ref_Key"])
        window = f"Date ge {literal(since.replace(tzinfo=None))}"
        bound_set = set(bound)
        for entity, select, links in self._related():
            for row in self.client.get_all(entity, {"$filter": window, "$select": select,
                                                    "$orderby": "Date,Ref_Key"}):
                result.versions[row["Ref_Key"]] = row["DataVersion"]
                if known.get(row["Ref_Key"]) == row["DataVersion"]:
                    continue
                candidates.update(ref for ref in links(row) if ref in bound_set)
        for ref in sorted(candidates):
            result.snapshots[ref] = self.snapshot(ref)
        result.requests = self.client.requests_sent - start
        return result

    def _related(self) -> list[tuple[str, str, Any]]:
        """(entity, $select, row -> linked document refs) for invoices, sales and payments."""
        order = self.profile.order_entity
        type_name = f"StandardODATA.{order}"

        def composite(field: str) -> Any:
            return lambda row: [row[field].lower()] if row.get(f"{field}_Type") == type_name else []

        if self.profile.name == "ut11":
            related = [
                (self.profile.invoice_entity, "Ref_Key,DataVersion,ДокументОснование,ДокументОснование_Type",
                 composite("ДокументОснование")),
                (self.profile.sale_entity, "Ref_Key,DataVersion,ЗаказКлиента,ЗаказКлиента_Type",
                 composite("ЗаказКлиента")),
            ]
            for entity in self._payment_entities():
                related.append((entity, "Ref_Key,DataVersion,РасшифровкаПлатежа/Заказ",
                                lambda row: [item["Заказ"].lower() for item in row.get("РасшифровкаПлатежа", [])
                                             if item.get("Заказ_Type") == type_name]))
            return related
        return [(self.profile.sale_entity, "Ref_Key,DataVersion,СчетНаОплатуПокупателю_Key",
                 lambda row: [row["СчетНаОплатуПокупателю_Key"].lower()])] + [
            (entity, "Ref_Key,DataVersion,ДокументОснование,ДокументОснование_Type", composite("ДокументОснование"))
            for entity in self._payment_entities()]

    def snapshot(self, ref: str) -> Snapshot:
        """Everything the deal shows about one document: number, invoices, payment, shipment, tracking."""
        order_entity = self.profile.order_entity
        head = self.client.get(entity_path(order_entity, ref), {"$select": HEADER + (",Статус" if
                                                                                       self.profile.name == "ut11"
                                                                                       else "")})
        total = _decimal(head.get("СуммаДокумента"))
        if self.profile.order_is_invoice:
            invoices = (InvoiceInfo(head["Ref_Key"], head["Number"], _date(head.get("Date")), total,
                                    head["DataVersion"]),)
            paid = Decimal(0)
            for entity in self._payment_entities():
                payments = self.client.get_all(entity, {
                    "$filter": f"Posted eq true and ДокументОснование eq {cast(ref, order_entity)}",
                    "$select": "Ref_Key,СуммаДокумента"})
                paid += sum((_decimal(row["СуммаДокумента"]) for row in payments), Decimal(0))
            sales = self.client.get_all(self.profile.sale_entity, {
                "$filter": f"Posted eq true and СчетНаОплатуПокупателю_Key eq {guid(ref)}",
                "$select": "Ref_Key,Date,НомерДляОтслеживания", "$orderby": "Date,Ref_Key"})
        else:
            rows = self.client.get_all(self.profile.invoice_entity, {
                "$filter": f"ДокументОснование eq {cast(ref, order_entity)} and DeletionMark eq false",
                "$select": "Ref_Key,DataVersion,Number,Date,СуммаДокумента", "$orderby": "Date,Ref_Key"})
            invoices = tuple(InvoiceInfo(row["Ref_Key"], row["Number"], _date(row.get("Date")),
                                         _decimal(row.get("СуммаДокумента")), row["DataVersion"]) for row in rows)
            paid = Decimal(0)
            for entity in self._payment_entities():
                condition = f"РасшифровкаПлатежа/any(d: d/Заказ eq {cast(ref, order_entity)})"
                for payment in self.client.get_all(entity, {"$filter": f"Posted eq true and {condition}",
                                                            "$select": "Ref_Key,РасшифровкаПлатежа"}):
                    paid += sum((_decimal(item.get("Сумма")) for item in payment.get("РасшифровкаПлатежа", [])
                                 if item.get("Заказ", "").lower() == ref), Decimal(0))
            tracking_select = (f",{self.config.tracking.attribute}" if self.config.tracking.attribute
                               else ",ДополнительныеРеквизиты")
            sales = self.client.get_all(self.profile.sale_entity, {
                "$filter": f"Posted eq true and ЗаказКлиента eq {cast(ref, order_entity)}",
                "$select": "Ref_Key,Date" + tracking_select, "$orderby": "Date,Ref_Key"})
        shipment = _date(sales[0]["Date"]) if sales else None
        return Snapshot(order_ref=head["Ref_Key"], number=head.get("Number", ""), data_version=head["DataVersion"],
                        posted=bool(head.get("Posted")), deleted=bool(head.get("DeletionMark")),
                        status=head.get("Статус", ""), total=total, invoices=invoices, paid=paid,
                        shipment_date=shipment, tracking_number=self._tracking(sales))

    def _tracking(self, sales: list[dict[str, Any]]) -> str | None:
        attribute = self.config.tracking.attribute or ("НомерДляОтслеживания" if self.profile.name == "bp30" else None)
        for sale in reversed(sales):  # the latest shipment's number
            if attribute and sale.get(attribute):
                return str(sale[attribute])
            prop = self.resolved().tracking_property
            for item in sale.get("ДополнительныеРеквизиты", []):
                if prop and item.get("Свойство_Key") == prop and item.get("Значение"):
                    return str(item["Значение"])
        return None
