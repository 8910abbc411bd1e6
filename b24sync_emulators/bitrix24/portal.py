"""The portal's data and the rules every write follows.

Records are kept in wire form (strings for IDs and money, "Y"/"N" flags, ISO
datetimes with the portal's offset) so that what goes out is what a real portal
sends. Every write stamps DATE_MODIFY and MODIFY_BY_ID, user-field-only and
product-row changes included.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from b24sync.clock import SYSTEM_CLOCK, Clock
from b24sync_emulators.bitrix24 import fields
from b24sync_emulators.dataset import Dataset, money, offset_zone

# The portal's units (catalog.measure.list): ID, OKEI code, symbol, title. A product's MEASURE is the ID, a product
# row's MEASURE_CODE the code (docs catalog/data-types.md, catalog_measure; crm.product.get). «шт» is the default.
# [B: which units a new portal has, and their IDs; the docs' example shows ID 6 for code 715 «Пара»]
MEASURE_RECORDS = ((1, 6, "м", "Метр"), (3, 112, "л", "Литр"), (4, 166, "кг", "Килограмм"), (5, 796, "шт", "Штука"),
                   (7, 356, "ч", "Час"), (9, 778, "упак", "Упаковка"))
MEASURES = {code: symbol for _, code, symbol, _ in MEASURE_RECORDS}  # OKEI code -> symbol
MEASURE_IDS = {code: measure_id for measure_id, code, _, _ in MEASURE_RECORDS}
DEFAULT_MEASURE = 5
# The portal's VAT rates (catalog.vat.list, docs catalog/vat/catalog-vat-list.md); «Без НДС» has no rate [B].
VAT_RECORDS = ((1, "Без НДС", None), (2, "НДС 0%", 0), (3, "НДС 10%", 10), (4, "НДС 20%", 20), (5, "НДС 22%", 22))


class ApiError(Exception):
    """An error answer: HTTP status, `error` (string, "" or int) and `error_description`."""

    def __init__(self, status: int, code: str | int, description: str) -> None:
        super().__init__(f"{status} {code!r} {description}")
        self.status = status
        self.code = code
        self.description = description


def legacy(description: str) -> ApiError:
    """The legacy crm.* error: HTTP 400 with an empty `error`."""
    return ApiError(400, "", description)


@dataclass
class MethodResult:
    result: Any
    total: int | None = None
    next: int | None = None


def php_float(value: Any) -> Decimal:
    """A value cast as PHP casts it to a number: its leading numeric part, else 0 ("abc" -> 0, "12abc" -> 12)."""
    match = re.match(r"\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?", str(value if value is not None else ""))
    return Decimal(match.group(0).strip()) if match else Decimal(0)


def number(value: Decimal | float | int | None) -> int | float | None:
    """A JSON number as PHP prints it: 999 for integral values, 899.1 otherwise."""
    if value is None:
        return None
    decimal = Decimal(str(value))
    return int(decimal) if decimal == decimal.to_integral_value() else float(decimal)


ARTICLE_PROPERTY_ID = 105
# What a user field's SETTINGS hold when created without any (by type, as crm.*.fields and userfield.list show).
DEFAULT_SETTINGS: dict[str, dict[str, Any]] = {
    "string": {"SIZE": 20, "ROWS": 1, "REGEXP": "", "MIN_LENGTH": 0, "MAX_LENGTH": 0, "DEFAULT_VALUE": ""},
    "url": {"POPUP": "Y", "SIZE": 20, "MIN_LENGTH": 0, "MAX_LENGTH": 0, "DEFAULT_VALUE": "", "ROWS": 1},
    "enumeration": {"DISPLAY": "LIST", "LIST_HEIGHT": 1, "CAPTION_NO_VALUE": "", "SHOW_NO_VALUE": "Y"},
    "date": {"DEFAULT_VALUE": {"TYPE": "NONE", "VALUE": ""}},
    "datetime": {"DEFAULT_VALUE": {"TYPE": "NONE", "VALUE": ""}, "USE_SECOND": "Y", "USE_TIMEZONE": "N"},
    "integer": {"SIZE": 20, "MIN_VALUE": 0, "MAX_VALUE": 0, "DEFAULT_VALUE": None},
    "double": {"PRECISION": 2, "SIZE": 20, "MIN_VALUE": 0, "MAX_VALUE": 0, "DEFAULT_VALUE": None},
    "boolean": {"DEFAULT_VALUE": 0, "DISPLAY": "CHECKBOX", "LABEL": ["", ""], "LABEL_CHECKBOX": ""},
    "file": {"SIZE": 20, "LIST_WIDTH": 0, "LIST_HEIGHT": 0, "MAX_SHOW_SIZE": 0, "MAX_ALLOWED_SIZE": 0,
             "EXTENSIONS": [], "TARGET_BLANK": "Y"},
    "money": {"DEFAULT_VALUE": ""},
}
CATALOG_ID = 25
WEBHOOK_USER = 1


class Portal:
    """All the data of one emulated portal, guarded by one lock."""

    def __init__(self, clock: Clock = SYSTEM_CLOCK, tz: str = "+03:00", webhook_code: str | None = None,
                 scopes: tuple[str, ...] = ("crm", "catalog", "disk", "user")) -> None:
        self.clock = clock
        self.tz_text = tz
        self.tz = offset_zone(tz)
        self.webhook_user = WEBHOOK_USER
        self.webhook_code = webhook_code or secrets.token_hex(8)
        self.scopes = set(scopes)
        self.root_url = "http://127.0.0.1"  # set by the server once it knows its port
        self.lock = threading.RLock()
        self.counters: dict[str, int] = {}
        self.deals: dict[int, dict[str, Any]] = {}
        self.product_rows: dict[int, list[dict[str, Any]]] = {}
        self.deal_contacts: dict[int, list[dict[str, Any]]] = {}
        self.contacts: dict[int, dict[str, Any]] = {}
        self.companies: dict[int, dict[str, Any]] = {}
        self.requisites: dict[int, dict[str, Any]] = {}
        self.requisite_links: dict[tuple[int, int], dict[str, Any]] = {}
        self.userfields: dict[str, dict[str, Any]] = {}  # the deal's
        # contacts' and companies' own (crm.contact.userfield.*, crm.company.userfield.*)
        self.entity_userfields: dict[str, dict[str, dict[str, Any]]] = {"CRM_CONTACT": {}, "CRM_COMPANY": {}}
        self.statuses: list[dict[str, Any]] = []
        self.categories: dict[int, str] = {0: "Общая"}
        self.products: dict[int, dict[str, Any]] = {}
        self.timeline: dict[int, dict[str, Any]] = {}
        self.activities: dict[int, dict[str, Any]] = {}
        self.stage_history: list[dict[str, Any]] = []
        self.storages: dict[int, dict[str, Any]] = {}
        self.folders: dict[int, dict[str, Any]] = {}
        self.files: dict[int, dict[str, Any]] = {}
        self.file_content: dict[int, bytes] = {}
        self.external_links: dict[str, int] = {}
        self.pending_uploads: dict[str, dict[str, Any]] = {}
        self.users: dict[int, dict[str, Any]] = {
            WEBHOOK_USER: self._user(WEBHOOK_USER, "Администратор", "Портала", "admin@example.ru")}
        self._install_defaults()

    # -- time and ids ---------------------------------------------------------------------

    def now(self) -> datetime:
        """The portal's clock, to the second, in the portal's offset."""
        return datetime.fromtimestamp(int(self.clock.time()), UTC).astimezone(self.tz)

    def stamp(self, moment: datetime | None = None) -> str:
        return (moment or self.now()).astimezone(self.tz).replace(microsecond=0).isoformat()

    def next_id(self, kind: str, start: int = 1) -> int:
        value = self.counters.get(kind, start - 1) + 1
        self.counters[kind] = value
        return value

    def _user(self, user_id: int, name: str, last_name: str, email: str) -> dict[str, Any]:
        """A user as user.get shows one (the batch.json sample's shape)."""
        return {"ID": str(user_id), "ACTIVE": True, "NAME": name, "LAST_NAME": last_name, "EMAIL": email,
                "LAST_LOGIN": self.stamp(), "DATE_REGISTER": self.stamp(), "IS_ONLINE": "N",
                "TIMESTAMP_X": self.now().strftime("%d.%m.%Y %H:%M:%S"), "LAST_ACTIVITY_DATE": "",
                "PERSONAL_GENDER": "", "PERSONAL_BIRTHDAY": "", "UF_EMPLOYMENT_DATE": "", "UF_DEPARTMENT": [1]}

    # -- defaults -----------------------------------------------------------------------

    def _install_defaults(self) -> None:
        user_storage = self.next_id("storage", 1)
        self.storages[user_storage] = {"ID": str(user_storage), "NAME": "Администратор Портала", "CODE": None,
                                       "MODULE_ID": "disk", "ENTITY_TYPE": "user", "ENTITY_ID": "1"}
        common = self.next_id("storage")
        self.storages[common] = {"ID": str(common), "NAME": "Общий диск", "CODE": "shared_files_s1",
                                 "MODULE_ID": "disk", "ENTITY_TYPE": "common", "ENTITY_ID": "shared_files_s1"}
        for storage in self.storages.values():
            root = self._new_folder(storage["NAME"], int(storage["ID"]), None)
            storage["ROOT_OBJECT_ID"] = str(root)

    def _new_folder(self, name: str, storage_id: int, parent_id: int | None) -> int:
        folder_id = self.next_id("disk_object", 11)
        stamp = self.stamp()
        self.folders[folder_id] = {
            "ID": str(folder_id), "NAME": name, "CODE": None, "STORAGE_ID": str(storage_id), "TYPE": "folder",
            "REAL_OBJECT_ID": str(folder_id), "PARENT_ID": str(parent_id) if parent_id else None,
            "DELETED_TYPE": "0", "CREATE_TIME": stamp, "UPDATE_TIME": stamp, "DELETE_TIME": None,
            "CREATED_BY": str(self.webhook_user), "UPDATED_BY": str(self.webhook_user), "DELETED_BY": "0",
            "DETAIL_URL": f"{self.root_url}/docs/path/{name}",
        }
        return folder_id

    def add_status(self, entity_id: str, status_id: str, name: str, sort: int, category: int | None,
                   semantics: str) -> None:
        color = {"process": "#39A8EF", "success": "#7BD500", "failure": "#FF5752"}.get(semantics, "#ACE9FB")
        self.statuses.append({
            "ID": str(self.next_id("status", 101)), "ENTITY_ID": entity_id, "STATUS_ID": status_id, "NAME": name,
            "NAME_INIT": name if sort <= 10 else "", "SORT": str(sort), "SYSTEM": "Y" if semantics != "process"
            or sort == 10 else "N", "CATEGORY_ID": None if category in (None, 0) else str(category),
            "COLOR": color, "SEMANTICS": {"success": "S", "failure": "F"}.get(semantics),
            "EXTRA": {"SEMANTICS": "apology" if status_id.endswith("APOLOGY") else semantics, "COLOR": color},
        })

    def stage_semantics(self, stage_id: str) -> str:
        for status in self.statuses:
            if status["STATUS_ID"] == stage_id and status["ENTITY_ID"].startswith("DEAL_STAGE"):
                return {"S": "S", "F": "F"}.get(status["SEMANTICS"] or "", "P")
        return "P"

    def stages_of(self, category: int) -> list[str]:
        entity = "DEAL_STAGE" if category == 0 else f"DEAL_STAGE_{category}"
        return [status["STATUS_ID"] for status in self.statuses if status["ENTITY_ID"] == entity]

    # -- user fields --------------------------------------------------------------------

    def userfields_of(self, entity: str) -> dict[str, dict[str, Any]]:
        """The user fields of CRM_DEAL, CRM_CONTACT or CRM_COMPANY, by name."""
        return self.userfields if entity == "CRM_DEAL" else self.entity_userfields[entity]

    def records_of(self, entity: str) -> dict[int, dict[str, Any]]:
        return {"CRM_DEAL": self.deals, "CRM_CONTACT": self.contacts, "CRM_COMPANY": self.companies}[entity]

    def add_userfield(self, spec: dict[str, Any], entity: str = "CRM_DEAL") -> int:
        """Create a user field from `crm.<entity>.userfield.add` fields (already validated)."""
        field_id = self.next_id("userfield", 5801)
        name = spec["FIELD_NAME"]
        label = spec.get("EDIT_FORM_LABEL") or spec.get("LABEL") or name
        if isinstance(label, dict):
            label = label.get("ru") or label.get("en") or next(iter(label.values()), name)
        record: dict[str, Any] = {
            "ID": str(field_id), "ENTITY_ID": entity, "FIELD_NAME": name, "USER_TYPE_ID": spec["USER_TYPE_ID"],
            "XML_ID": spec.get("XML_ID"), "SORT": str(spec.get("SORT") or 100),
            "MULTIPLE": "Y" if str(spec.get("MULTIPLE", "N")).upper() in ("Y", "1", "TRUE") else "N",
            "MANDATORY": "Y" if str(spec.get("MANDATORY", "N")).upper() in ("Y", "1", "TRUE") else "N",
            "SHOW_FILTER": "E" if str(spec.get("SHOW_FILTER", "N")).upper() in ("Y", "E") else "N",
            "SHOW_IN_LIST": "N" if str(spec.get("SHOW_IN_LIST", "Y")).upper() == "N" else "Y",
            "EDIT_IN_LIST": "N" if str(spec.get("EDIT_IN_LIST", "Y")).upper() == "N" else "Y",
            "IS_SEARCHABLE": "N",
            "SETTINGS": {**DEFAULT_SETTINGS.get(spec["USER_TYPE_ID"], {}), **(spec.get("SETTINGS") or {})},
            "EDIT_FORM_LABEL": label, "LIST_COLUMN_LABEL": label, "LIST_FILTER_LABEL": label,
            "ERROR_MESSAGE": None, "HELP_MESSAGE": None,
        }
        if spec["USER_TYPE_ID"] == "enumeration":
            options = []
            for index, item in enumerate(spec.get("LIST") or []):
                options.append({"ID": str(self.next_id("enum", 3101)), "SORT": str(item.get("SORT") or
                                (index + 1) * 10), "VALUE": str(item.get("VALUE", "")),
                                "DEF": "Y" if str(item.get("DEF", "N")).upper() == "Y" else "N",
                                "XML_ID": item.get("XML_ID") or hashlib.md5(
                                    f"{name}{index}".encode()).hexdigest()})
            record["LIST"] = options
        self.userfields_of(entity)[name] = record
        for item in self.records_of(entity).values():
            item.setdefault(name, self.empty_uf_value(record))
        return field_id

    def empty_uf_value(self, definition: dict[str, Any]) -> Any:
        if definition["MULTIPLE"] == "Y":
            return []
        if definition["USER_TYPE_ID"] == "file":
            return None  # an empty single file field is absent on read
        return ""

    def uf_types(self) -> dict[str, str]:
        mapping = {"boolean": "integer", "enumeration": "integer", "employee": "user", "file": "integer"}
        return {name: mapping.get(spec["USER_TYPE_ID"], spec["USER_TYPE_ID"])
                for name, spec in self.userfields.items()}

    def store_file(self, name: str, content: bytes, folder_id: int) -> dict[str, Any]:
        """Put bytes on Disk and return the file object as disk.* methods show it."""
        file_id = self.next_id("disk_object", 11)
        stored_id = self.next_id("b_file", 30001)
        folder = self.folders[folder_id]
        stamp = self.stamp()
        token = base64.urlsafe_b64encode(f"id={file_id}&_={secrets.token_hex(6)}".encode()).decode().rstrip("=")
        record = {
            "ID": file_id, "NAME": name, "CODE": None, "STORAGE_ID": folder["STORAGE_ID"], "TYPE": "file",
            "PARENT_ID": str(folder_id), "DELETED_TYPE": 0, "GLOBAL_CONTENT_VERSION": 1, "FILE_ID": stored_id,
            "SIZE": str(len(content)), "CREATE_TIME": stamp, "UPDATE_TIME": stamp, "DELETE_TIME": None,
            "CREATED_BY": str(self.webhook_user), "UPDATED_BY": str(self.webhook_user), "DELETED_BY": None,
            "DOWNLOAD_URL": f"{self.root_url}/rest/download.json?auth={self.webhook_code}&token=disk%7C{token}",
            "DETAIL_URL": f"{self.root_url}/company/personal/user/{self.webhook_user}/disk/file/{name}",
        }
        self.files[file_id] = record
        self.file_content[file_id] = content
        return record

    def service_folder(self) -> int:
        """The folder where timeline and field attachments land ("Загруженные файлы")."""
        storage = self.storages[1]
        root = int(storage["ROOT_OBJECT_ID"])
        for folder_id, folder in self.folders.items():
            if folder["PARENT_ID"] == str(root) and folder["NAME"] == "Загруженные файлы":
                return folder_id
        return self._new_folder("Загруженные файлы", 1, root)

    # -- seeding from the shared dataset -------------------------------------------------

    def load(self, dataset: Dataset) -> None:
        """Fill the portal from the shared dataset (pipelines, catalog, companies, contacts, deals)."""
        with self.lock:
            self._load(dataset)

    def _load(self, dataset: Dataset) -> None:
        for pipeline in dataset.pipelines:
            self.categories[pipeline.id] = pipeline.name
            entity = "DEAL_STAGE" if pipeline.id == 0 else f"DEAL_STAGE_{pipeline.id}"
            for index, stage in enumerate(pipeline.stages):
                self.add_status(entity, stage.code, stage.name, (index + 1) * 10, pipeline.id, stage.semantics)
        for index, (code, name) in enumerate([("SALE", "Продажа"), ("COMPLEX", "Комплексная продажа"),
                                              ("GOODS", "Продажа товара"), ("SERVICES", "Продажа услуги")]):
            self.add_status("DEAL_TYPE", code, name, (index + 1) * 10, None, "process")
        now = self.now()
        for manager in dataset.managers:
            self.users[manager.bitrix24_id] = self._user(manager.bitrix24_id, manager.name, manager.last_name,
                                                         f"user{manager.bitrix24_id}@example.ru")
        product_ids: dict[str, int] = {}
        vat_ids = {rate: vat_id for vat_id, _, rate in VAT_RECORDS}
        for product in dataset.products:
            if not product.in_bitrix24:
                continue
            product_id = self.next_id("product", 401)
            product_ids[product.ref_key] = product_id
            self.products[product_id] = {
                "ID": str(product_id), "CATALOG_ID": str(CATALOG_ID), "NAME": product.name, "ACTIVE": "Y",
                "CURRENCY_ID": "RUB", "PRICE": f"{product.price:.2f}",
                "MEASURE": str(MEASURE_IDS.get(product.measure_code, DEFAULT_MEASURE)),
                "SECTION_ID": None, "SORT": "500", "VAT_ID": str(vat_ids.get(product.vat_rate, 5)),
                "VAT_INCLUDED": "Y", "XML_ID": product.ref_key, "CODE": f"product_{product_id}",
                "DESCRIPTION": None, "DESCRIPTION_TYPE": "text", "DATE_CREATE": self.stamp(now - timedelta(days=60)),
                "TIMESTAMP_X": self.stamp(now - timedelta(days=60)), "CREATED_BY": "1", "MODIFIED_BY": "1",
                f"PROPERTY_{ARTICLE_PROPERTY_ID}": {"valueId": str(self.next_id("prop_value", 9001)),
                                                    "value": product.article},
            }
        company_ids: dict[int, int] = {}
        for company in dataset.companies:
            company_id = self.next_id("company", 1)
            company_ids[company.key] = company_id
            created = self.stamp(now - timedelta(days=90))
            self.companies[company_id] = {name: None for name in fields.COMPANY} | {
                "ID": str(company_id), "COMPANY_TYPE": "CUSTOMER", "TITLE": company.title, "LOGO": None,
                "LEAD_ID": None, "HAS_PHONE": "Y", "HAS_EMAIL": "N", "HAS_IMOL": "N", "ASSIGNED_BY_ID": "1",
                "CREATED_BY_ID": "1", "MODIFY_BY_ID": "1", "BANKING_DETAILS": None, "INDUSTRY": "IT",
                "REVENUE": "0", "CURRENCY_ID": "RUB", "EMPLOYEES": "EMPLOYEES_1", "COMMENTS": "",
                "DATE_CREATE": created, "DATE_MODIFY": created, "OPENED": "Y", "IS_MY_COMPANY": "N",
                "ORIGINATOR_ID": None, "ORIGIN_ID": None, "LAST_ACTIVITY_TIME": created, "LAST_ACTIVITY_BY": "1",
                "PHONE": [{"ID": str(self.next_id("multifield", 8001)), "VALUE_TYPE": "WORK",
                           "VALUE": f"+7 495 {company_id:03d}-00-00", "TYPE_ID": "PHONE"}],
                "EMAIL": [],
            }
            requisite_id = self.next_id("requisite", 1)
            self.requisites[requisite_id] = self._requisite(requisite_id, 4, company_id, company, created)
        contact_ids: dict[int, int] = {}
        for contact in dataset.contacts:
            contact_id = self.next_id("contact", 1)
            contact_ids[contact.key] = contact_id
            created = self.stamp(now - timedelta(days=80))
            self.contacts[contact_id] = {name: None for name in fields.CONTACT} | {
                "ID": str(contact_id), "POST": None, "COMMENTS": "", "HONORIFIC": None, "NAME": contact.name,
                "SECOND_NAME": contact.second_name, "LAST_NAME": contact.last_name, "PHOTO": None,
                "LEAD_ID": None, "TYPE_ID": "CLIENT", "SOURCE_ID": "WEB", "SOURCE_DESCRIPTION": None,
                "COMPANY_ID": str(company_ids[contact.company_key]) if contact.company_key else None,
                "BIRTHDATE": "", "EXPORT": "Y", "HAS_PHONE": "Y", "HAS_EMAIL": "Y", "HAS_IMOL": "N",
                "DATE_CREATE": created, "DATE_MODIFY": created, "ASSIGNED_BY_ID": "1", "CREATED_BY_ID": "1",
                "MODIFY_BY_ID": "1", "OPENED": "Y", "ORIGINATOR_ID": None, "ORIGIN_ID": None,
                "LAST_ACTIVITY_TIME": created, "LAST_ACTIVITY_BY": "1",
                "PHONE": [{"ID": str(self.next_id("multifield", 8001)), "VALUE_TYPE": "WORK", "VALUE": contact.phone,
                           "TYPE_ID": "PHONE"}],
                "EMAIL": [{"ID": str(self.next_id("multifield", 8001)), "VALUE_TYPE": "WORK", "VALUE": contact.email,
                           "TYPE_ID": "EMAIL"}],
            }
        for deal in dataset.deals:
            created = now - timedelta(days=deal.created_days_ago, hours=1)
            deal_id = self.next_id("deal", 1)
            record = self.new_deal_record(deal_id, created)
            record.update({
                "TITLE": deal.title, "TYPE_ID": deal.type_id, "CATEGORY_ID": str(deal.pipeline_id),
                "STAGE_ID": deal.stage, "STAGE_SEMANTIC_ID": self.stage_semantics(deal.stage),
                "CURRENCY_ID": deal.currency, "ASSIGNED_BY_ID": str(deal.assigned_by),
                "COMPANY_ID": str(company_ids[deal.company_key]) if deal.company_key else "0",
                "CONTACT_ID": str(contact_ids[deal.contact_key]) if deal.contact_key else None,
            })
            self.deals[deal_id] = record
            rows = []
            for sort, row in enumerate(deal.rows, start=1):
                product = dataset.product(row.product_ref)
                rows.append(self.make_row(deal_id, {
                    "PRODUCT_ID": product_ids[product.ref_key], "PRODUCT_NAME": product.name,
                    "PRICE_BRUTTO": row.price_brutto, "DISCOUNT_RATE": row.discount_rate,
                    "DISCOUNT_TYPE_ID": 2, "TAX_RATE": product.vat_rate,
                    "TAX_INCLUDED": "Y" if row.tax_included else "N", "QUANTITY": row.quantity,
                    "MEASURE_CODE": product.measure_code, "MEASURE_NAME": product.measure_name, "SORT": sort * 10,
                }))
            self.product_rows[deal_id] = rows
            record["OPPORTUNITY"] = f"{self.rows_total(rows):.2f}"
            record["TAX_VALUE"] = f"{self.rows_tax(rows):.2f}"
            if deal.contact_key:
                self.deal_contacts[deal_id] = [{"CONTACT_ID": contact_ids[deal.contact_key], "SORT": 10,
                                                "ROLE_ID": 0, "IS_PRIMARY": "Y"}]
            if deal.company_key:
                requisite = next(rid for rid, item in self.requisites.items()
                                 if item["ENTITY_TYPE_ID"] == "4" and item["ENTITY_ID"] == record["COMPANY_ID"])
                self.requisite_links[(2, deal_id)] = {"ENTITY_TYPE_ID": 2, "ENTITY_ID": deal_id,
                                                      "REQUISITE_ID": str(requisite), "BANK_DETAIL_ID": "0",
                                                      "MC_REQUISITE_ID": "0", "MC_BANK_DETAIL_ID": "0"}

    def _requisite(self, requisite_id: int, entity_type: int, entity_id: int, company: Any,
                   created: str) -> dict[str, Any]:
        record: dict[str, Any] = {name: None for name in fields.REQUISITE}
        record.update({
            "ID": str(requisite_id), "ENTITY_TYPE_ID": str(entity_type), "ENTITY_ID": str(entity_id),
            "PRESET_ID": "1", "DATE_CREATE": created, "DATE_MODIFY": "", "CREATED_BY_ID": "1",
            "NAME": "Организация", "XML_ID": None, "ACTIVE": "Y", "ADDRESS_ONLY": "N", "SORT": "500",
            "RQ_COMPANY_NAME": company.title, "RQ_COMPANY_FULL_NAME": company.full_name,
            "RQ_COMPANY_REG_DATE": "06.04.2007", "RQ_DIRECTOR": company.director, "RQ_INN": company.inn,
            "RQ_KPP": company.kpp, "RQ_OGRN": company.ogrn, "RQ_VAT_PAYER": "Y",
        })
        return record

    def new_deal_record(self, deal_id: int, created: datetime) -> dict[str, Any]:
        stamp = self.stamp(created)
        record: dict[str, Any] = {
            "ID": str(deal_id), "TITLE": f"Сделка #{deal_id}", "TYPE_ID": "SALE", "STAGE_ID": "NEW",
            "PROBABILITY": None, "CURRENCY_ID": "RUB", "OPPORTUNITY": "0.00", "IS_MANUAL_OPPORTUNITY": "N",
            "TAX_VALUE": "0.00", "LEAD_ID": None, "COMPANY_ID": "0", "CONTACT_ID": None, "QUOTE_ID": None,
            "BEGINDATE": self.date_only(created), "CLOSEDATE": self.date_only(created + timedelta(days=7)),
            "ASSIGNED_BY_ID": str(self.webhook_user), "CREATED_BY_ID": str(self.webhook_user),
            "MODIFY_BY_ID": str(self.webhook_user), "DATE_CREATE": stamp, "DATE_MODIFY": stamp, "OPENED": "Y",
            "CLOSED": "N", "COMMENTS": None, "ADDITIONAL_INFO": None, "LOCATION_ID": None, "CATEGORY_ID": "0",
            "STAGE_SEMANTIC_ID": "P", "IS_NEW": "Y", "IS_RECURRING": "N", "IS_RETURN_CUSTOMER": "N",
            "IS_REPEATED_APPROACH": "N", "SOURCE_ID": "", "SOURCE_DESCRIPTION": None, "ORIGINATOR_ID": None,
            "ORIGIN_ID": None, "MOVED_BY_ID": str(self.webhook_user), "MOVED_TIME": stamp,
            "LAST_ACTIVITY_TIME": stamp, "UTM_SOURCE": None, "UTM_MEDIUM": None, "UTM_CAMPAIGN": None,
            "UTM_CONTENT": None, "UTM_TERM": None, "LAST_ACTIVITY_BY": str(self.webhook_user),
        }
        for name, definition in self.userfields.items():
            record[name] = self.empty_uf_value(definition)
        return record

    def date_only(self, moment: datetime) -> str:
        """Date-only values read back as UTC midnight rendered in the portal offset."""
        midnight = datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
        return midnight.astimezone(self.tz).isoformat()

    def make_row(self, deal_id: int, given: dict[str, Any]) -> dict[str, Any]:
        """A product row with every price derived as the portal derives it (per-unit discount)."""
        tax = given.get("TAX_RATE")
        tax_rate = None if tax in (None, "", "null") else php_float(tax)
        factor = 1 + (tax_rate or Decimal(0)) / 100
        quantity = php_float(given.get("QUANTITY", 1) or 1)
        discount_type = int(php_float(given.get("DISCOUNT_TYPE_ID") or 2))
        discount_rate = php_float(given.get("DISCOUNT_RATE") or 0)
        if given.get("PRICE_BRUTTO") is not None:
            brutto = money(php_float(given["PRICE_BRUTTO"]))
            price = money(brutto * (1 - discount_rate / 100)) if discount_type == 2 else money(
                brutto - php_float(given.get("DISCOUNT_SUM") or 0) * factor)
        else:
            price = money(php_float(given.get("PRICE") or 0))
            discount_sum = php_float(given.get("DISCOUNT_SUM") or 0)
            if discount_type == 2 and discount_rate and discount_rate < 100:
                brutto = money(price / (1 - discount_rate / 100))
            else:
                brutto = money(price + discount_sum * factor)
        exclusive = money(price / factor)
        netto = money(brutto / factor)
        discount_sum = money(netto - exclusive)
        if discount_type == 1 and netto:
            discount_rate = money(discount_sum / netto * 100)
        row_id = self.next_id("product_row", 1)
        product_id = int(php_float(given.get("PRODUCT_ID") or 0))
        product = self.products.get(product_id)
        name = given.get("PRODUCT_NAME") or (product["NAME"] if product else "")
        return {
            "ID": str(row_id), "OWNER_ID": str(deal_id), "OWNER_TYPE": "D", "PRODUCT_ID": product_id,
            "PRODUCT_NAME": name, "ORIGINAL_PRODUCT_NAME": product["NAME"] if product else name,
            "PRODUCT_DESCRIPTION": None, "PRICE": number(price), "PRICE_EXCLUSIVE": number(exclusive),
            "PRICE_NETTO": number(netto), "PRICE_BRUTTO": number(brutto), "PRICE_ACCOUNT": f"{price:.2f}",
            "QUANTITY": number(quantity), "DISCOUNT_TYPE_ID": discount_type, "DISCOUNT_RATE": number(discount_rate),
            "DISCOUNT_SUM": number(discount_sum), "TAX_RATE": number(tax_rate),
            "TAX_INCLUDED": "Y" if str(given.get("TAX_INCLUDED", "N")).upper() in ("Y", "1", "TRUE") else "N",
            "CUSTOMIZED": "Y", **self._row_measure(given, product), "SORT": int(given.get("SORT") or 10),
            "XML_ID": f"sale_basket_{row_id + 600}", "TYPE": 1, "STORE_ID": 0, "RESERVE_ID": None,
            "DATE_RESERVE_END": None, "RESERVE_QUANTITY": 0,
        }

    @staticmethod
    def _row_measure(given: dict[str, Any], product: dict[str, Any] | None) -> dict[str, Any]:
        """A row's unit: as given, or else its catalog product's own unit (the portal fills the row's measure from
        the product's), or else the default «шт» [B: the measure rules of product rows are not in the samples]."""
        if given.get("MEASURE_CODE"):
            code = int(given["MEASURE_CODE"])
            return {"MEASURE_CODE": code, "MEASURE_NAME": given.get("MEASURE_NAME") or MEASURES.get(code, "шт")}
        measure = int(product.get("MEASURE") or DEFAULT_MEASURE) if product else DEFAULT_MEASURE
        code = next((code for measure_id, code, _, _ in MEASURE_RECORDS if measure_id == measure), 796)
        return {"MEASURE_CODE": code, "MEASURE_NAME": given.get("MEASURE_NAME") or MEASURES.get(code, "шт")}

    @staticmethod
    def rows_total(rows: list[dict[str, Any]]) -> Decimal:
        return money(sum((Decimal(str(row["PRICE"])) * Decimal(str(row["QUANTITY"])) for row in rows),
                         Decimal(0)))

    @staticmethod
    def rows_tax(rows: list[dict[str, Any]]) -> Decimal:
        return money(sum(((Decimal(str(row["PRICE"])) - Decimal(str(row["PRICE_EXCLUSIVE"])))
                          * Decimal(str(row["QUANTITY"])) for row in rows), Decimal(0)))

    def touch_deal(self, deal_id: int) -> None:
        """Every write to a deal moves DATE_MODIFY (1-second resolution) and MODIFY_BY_ID."""
        deal = self.deals[deal_id]
        deal["DATE_MODIFY"] = self.stamp()
        deal["MODIFY_BY_ID"] = str(self.webhook_user)
