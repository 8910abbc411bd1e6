"""Load and validate the YAML config before anything runs.

Where the file is: `--config`, else `$B24SYNC_CONFIG`, else /etc/b24sync/config.yaml.
Every problem is reported at once, one line each, as
`config.yaml: at 'bitrix24.webhook_url': must be ...`. Secrets may live in the
environment or in a file so that the config itself need not hold them.
"""

from __future__ import annotations

import copy
import difflib
import ipaddress
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from b24sync.errors import B24SyncError, Kind, System
from b24sync.redaction import MASK, register_secret
from b24sync.schema import REQUIRED, Key, Section, number_between, one_of, validate

DEFAULT_PATH = "/etc/b24sync/config.yaml"
WEBHOOK_ENV = "B24SYNC_WEBHOOK_URL"
ONEC_PASSWORD_ENV = "B24SYNC_ONEC_PASSWORD"
ODATA_RULE = "must be the OData root of the published base, http(s)://HOST/BASE/odata/standard.odata/"

WEBHOOK_RULE = "must be an https URL (http only for a loopback host) ending in /rest/<user>/<code>/"


class ConfigError(B24SyncError):
    """The config cannot be used; `problems` holds one line per problem, each naming its key."""

    system = System.CONFIG
    kind = Kind.FATAL
    code = "config_invalid"

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(f"{source}: {problem}" for problem in problems))


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_webhook_url(url: str) -> tuple[str, str, str] | None:
    """Split a webhook URL into (base URL with trailing slash, user id, code), or None if malformed."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return None
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        return None
    if parts.query or parts.fragment:
        return None
    segments = [segment for segment in parts.path.split("/") if segment]
    if len(segments) < 3 or segments[-3] != "rest" or not segments[-2].isdigit():
        return None
    code = segments[-1]
    if not code.replace("_", "").isalnum():
        return None
    base = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}/"
    return base, segments[-2], code


def _check_webhook(value: str) -> str | None:
    return None if parse_webhook_url(value) else WEBHOOK_RULE


def _check_read_timeout(value: float) -> str | None:
    if value <= 60:
        return f"must be more than 60 seconds (Bitrix24 may take up to 60 s to answer); found {value!r}"
    return None


def _check_odata_url(value: str) -> str | None:
    parts = urlsplit(value.strip())
    # "@" anywhere before the query is a user and password, even one whose raw "/" hides it from the parser
    if parts.username or parts.password or "@" in value.split("?")[0]:
        return "must not contain a user or password; use 'onec.user' and 'onec.password'"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return ODATA_RULE
    if not parts.path.rstrip("/").endswith("/odata/standard.odata"):
        return ODATA_RULE
    if parts.username or parts.password:
        return "must not contain a user or password; use 'onec.user' and 'onec.password'"
    return None


def _check_urls(value: list[Any]) -> list[tuple[str, str]] | None:
    """Each URL Apprise can send to; one that it cannot parse is named by its position and scheme (never the URL
    itself, which holds the target's token)."""
    problems: list[tuple[str, str]] = []
    for index, item in enumerate(value):
        scheme = item.split("://", 1)[0] if isinstance(item, str) and "://" in item else ""
        if not scheme:
            problems.append((f"[{index}]", "is not a URL; Apprise URLs look like tgram://BOT_TOKEN/CHAT_ID, "
                                           "mailtos://user:pass@host, ntfys://topic or json://host/path"))
        elif not _apprise_accepts(item):
            problems.append((f"[{index}]", f"Apprise has no target for a {scheme}:// URL like this one; see "
                                           f"https://github.com/caronc/apprise/wiki for the URL of your service"))
    return problems or None


def _apprise_accepts(url: str) -> bool:
    try:
        import apprise
    except ImportError:  # pragma: no cover - a dependency; a broken venv is said when an alert is sent
        return True
    return bool(apprise.Apprise().add(url))


def _check_onec_read_timeout(value: float) -> str | None:
    if value < 15:
        return f"must be at least 15 seconds (1C may take ~11 s to start a session); found {value!r}"
    return None


def _check_managers(value: dict) -> str | None:
    for key, item in value.items():
        if not str(key).isdigit():
            return f"keys must be Bitrix24 user IDs (numbers); found {key!r}"
        if not isinstance(item, str) or not item.strip():
            return f"the 1C user for Bitrix24 user {key} must be a name or a GUID"
    return None


def _check_listen(value: str) -> str | None:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        return f"must be HOST:PORT, e.g. 127.0.0.1:9108; found {value!r}"
    return None


def _marker_section(requisite: str, attribute: str, note: str) -> Section:
    return Section(
        {
            "additional_requisite": Key(str, None, None, "the name of an additional requisite (дополнительный "
                                                         "реквизит)", example=requisite),
            "attribute": Key(str, None, None, "a string attribute of the document", example=attribute,
                             commented=True),
        },
        requires_one_of=(("additional_requisite", "attribute"),),
        note=note,
    )


def _check_pipelines(value: list) -> str | list[tuple[str, str]] | None:
    """Every problem of every pipeline, each at its own path (`sync.pipelines[1].trigger_stages`)."""
    if not value:
        return "list at least one pipeline with its trigger stages"
    problems: list[tuple[str, str]] = []
    seen: set[int] = set()
    for index, item in enumerate(value):
        at = f"[{index}]"
        if not isinstance(item, dict):
            problems.append((at, "must be a mapping with category_id and trigger_stages"))
            continue
        for key in sorted(set(item) - PIPELINE_KEYS):
            hint = difflib.get_close_matches(str(key), sorted(PIPELINE_KEYS), n=1, cutoff=0.6)
            problems.append((f"{at}.{key}", f"unknown key; did you mean '{hint[0]}'?" if hint else
                             f"unknown key; known: {', '.join(sorted(PIPELINE_KEYS))}"))
        category = item.get("category_id")
        if not isinstance(category, int) or isinstance(category, bool):
            problems.append((f"{at}.category_id", "must be the pipeline's number (0 for the default pipeline)"))
        elif category in seen:
            problems.append((f"{at}.category_id", f"pipeline {category} is listed twice"))
        else:
            seen.add(category)
        stages = item.get("trigger_stages")
        if not isinstance(stages, list) or not stages or not all(isinstance(stage, str) for stage in stages):
            problems.append((f"{at}.trigger_stages", "must list the STATUS_IDs of the stages (e.g. [C1:EXECUTING])"))
        amount = item.get("min_amount")
        if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int | float)):
            problems.append((f"{at}.min_amount", f"must be a number; found {amount!r}"))
        types = item.get("deal_types")
        if types is not None and (not isinstance(types, list) or not all(isinstance(kind, str) for kind in types)):
            problems.append((f"{at}.deal_types", "must be a list of TYPE_IDs as text (e.g. [SALE, GOODS]); quote "
                                                 "numeric ones: ['1', '2']"))
        if item.get("start_date") is not None and not isinstance(item["start_date"], date):
            problems.append((f"{at}.start_date", f"must be a date like 2026-01-01; found {item['start_date']!r}"))
        for key in ("stage_on_paid", "stage_on_shipped"):
            if item.get(key) is not None and not isinstance(item[key], str):
                problems.append((f"{at}.{key}", f"must be one STATUS_ID (e.g. WON); found {item[key]!r}"))
        choices = item.get("onec")
        if choices is not None and not isinstance(choices, dict):
            problems.append((f"{at}.onec", f"must be a mapping of {', '.join(sorted(PIPELINE_ONEC_KEYS))}"))
        for key, choice in (choices or {}).items() if isinstance(choices, dict) else ():
            if key not in PIPELINE_ONEC_KEYS:
                problems.append((f"{at}.onec.{key}", f"unknown key; known: {', '.join(sorted(PIPELINE_ONEC_KEYS))}"))
            elif not isinstance(choice, str) or not choice.strip():
                problems.append((f"{at}.onec.{key}", "must be a code, name or GUID in 1C"))
    return problems or None


PIPELINE_KEYS = {"category_id", "trigger_stages", "min_amount", "deal_types", "start_date", "stage_on_paid",
                 "stage_on_shipped", "onec"}
# what one pipeline may choose for its documents instead of 'onec.defaults' (one legal entity a pipeline is common)
PIPELINE_ONEC_KEYS = {"organisation", "warehouse", "agreement", "contract", "price_type"}

EXAMPLE_PIPELINES = [
    {"category_id": 0, "trigger_stages": ["PREPAYMENT_INVOICE", "EXECUTING", "FINAL_INVOICE", "WON"],
     "min_amount": 0, "start_date": date(2026, 1, 1), "stage_on_paid": "WON"},
    {"category_id": 1, "trigger_stages": ["C1:PREPARATION", "C1:EXECUTING", "C1:WON"],
     "deal_types": ["SALE", "GOODS", "COMPLEX"], "stage_on_shipped": "C1:EXECUTING",
     "onec": {"organisation": "ООО «Электросбыт Монтаж»", "warehouse": "Склад монтажа"}},
]

EXAMPLE_HEADER = """\
b24sync configuration. Copy to /etc/b24sync/config.yaml (or point --config / $B24SYNC_CONFIG at it).
Every key is listed here. Required: bitrix24.webhook_url (or its file), onec.url, onec.user, onec.password (or
its file), onec.defaults.organisation (and, for ut11, warehouse and agreement) and sync.pipelines, shown with
realistic values; every other key shows its default (a key with no default has an example value, or is commented
out), so leaving a key out changes nothing.
Unknown keys are errors, so a typo never goes unnoticed. This file is made by `b24sync config generate`."""

SCHEMA = Section(
    {
        "bitrix24": Section(
            {
                "webhook_url": Key(
                    str, None, _check_webhook, "the incoming webhook URL", secret=True,
                    example="https://example.bitrix24.ru/rest/1/8g9l071eismy9q2l/",
                    note="The inbound webhook: Bitrix24 → Developer resources → Other → Inbound webhook, with the "
                         "\"crm\" scope (and \"disk\" for invoice PDFs). The URL contains the webhook's secret "
                         "code: keep this file chmod 640, or put the URL in a file of its own (webhook_url_file), "
                         "or in $B24SYNC_WEBHOOK_URL."),
                "webhook_url_file": Key(str, None, None, "a file holding only the URL (chmod 600); use it instead",
                                        example="/etc/b24sync/webhook.url", commented=True),
                "rate_per_second": Key(float, 2.0, number_between(0.1, 100),
                                       "requests per second the portal allows",
                                       note="Requests per second and burst the portal allows: 2 and 50 on most "
                                            "plans, 5 and 250 on Enterprise."),
                "burst": Key(int, 50, number_between(1, 10_000), "requests the portal allows in a burst"),
                "connect_timeout": Key(float, 10.0, number_between(1, 120), "seconds to connect"),
                "read_timeout": Key(float, 75.0, _check_read_timeout, "seconds to wait for an answer",
                                    note="Seconds to wait for an answer (Bitrix24 may take up to 60 s, so more "
                                         "than 60)."),
                "max_retries": Key(int, 5, number_between(0, 20), "retries of a failed safe call",
                                   note="How often a failed read or update is retried (with growing pauses) "
                                        "before the item is reported."),
                "verify_tls": Key((bool, str), True, None, "verify the portal's certificate, or a CA bundle path",
                                  note="Verify the portal's TLS certificate (true), or the path of a CA bundle "
                                       "for a self-hosted portal."),
            },
            doc="How to reach the Bitrix24 portal.",
            default_empty=False,
            requires_one_of=(("webhook_url", "webhook_url_file"),),
        ),
        "onec": Section(
            {
                "url": Key(str, REQUIRED, _check_odata_url, ODATA_RULE,
                           example="https://1c.example.local/trade/odata/standard.odata/",
                           note="The OData root of the published 1C base. Publish it on a web server with "
                                "\"Публиковать стандартный интерфейс OData\" ticked, then tick the objects b24sync "
                                "uses in Администрирование → Общие настройки → Интеграция с другими программами → "
                                "Настройка стандартного интерфейса OData (see the README's list)."),
                "user": Key(str, REQUIRED, None, "the 1C user b24sync logs in as", example="odata.user",
                            note="The 1C user b24sync logs in as (Cyrillic names work)."),
                "password": Key(str, None, None, "the 1C user's password", secret=True, example="change-me",
                                note="Its password. Keep it out of this file with password_file (chmod 600) or "
                                     "$B24SYNC_ONEC_PASSWORD."),
                "password_file": Key(str, None, None, "a file holding the 1C password",
                                     example="/etc/b24sync/onec.password", commented=True),
                "profile": Key(str, "ut11", one_of("ut11", "bp30"), "the configuration of the base",
                               note="ut11 for УТ 11, КА 2 and ERP 2 (deals become Заказ клиента); bp30 for БП 3.0 "
                                    "(deals become Счет на оплату)."),
                "connect_timeout": Key(float, 10.0, number_between(1, 120), "seconds to connect"),
                "read_timeout": Key(float, 60.0, _check_onec_read_timeout, "seconds to wait for an answer",
                                    note="Seconds to wait for an answer (the first request after a pause can take "
                                         "~11 s)."),
                "max_retries": Key(int, 4, number_between(0, 20), "retries of a failed read",
                                   note="How often a failed read is retried (with growing pauses) before the item "
                                        "is reported."),
                "max_url_length": Key(int, 2048, number_between(512, 65536), "the longest URL the web server takes",
                                      note="The longest URL the web server in front of 1C accepts (IIS "
                                           "maxQueryString, 2048 by default): b24sync reads many objects a request "
                                           "in chains kept under it. Lower it if `b24sync check` says the chains "
                                           "fail."),
                "max_concurrency": Key(int, 4, number_between(1, 16), "deals written to 1C at once",
                                       note="How many deals are written to 1C at once (1: one after another). Each "
                                            "takes a 1C session while it waits for 1C: keep it within the base's "
                                            "free licences and the web server's worker count."),
                "verify_tls": Key((bool, str), True, None, "verify the server's certificate, or a CA bundle path",
                                  note="Verify the server's TLS certificate (true), or the path of a CA bundle."),
                "post_documents": Key(bool, True, None, "post (провести) documents after creating them"),
                "order_status": Key(str, "КОтгрузке", one_of("НеСогласован", "КОбеспечению", "КОтгрузке"),
                                    "the Статус of new customer orders (ut11)",
                                    note="Статус of new customer orders (ut11): НеСогласован, КОбеспечению or "
                                         "КОтгрузке."),
                "create_counterparties": Key(bool, True, None, "create a counterparty when none matches",
                                             note="Create a counterparty (and, in ut11, a partner) when no "
                                                  "counterparty has the deal's INN/KPP."),
                "defaults": Section(
                    {
                        "organisation": Key(str, REQUIRED, None, "your organisation: code, name or GUID",
                                            example="ООО «Электросбыт»"),
                        "currency": Key(str, "RUB", None, "currency when the deal has none: letter or numeric code"),
                        "warehouse": Key(str, None, None, "warehouse of new orders (ut11): code, name or GUID",
                                         example="Основной склад"),
                        "agreement": Key(str, None, None, "agreement with clients (ut11): code, name or GUID",
                                         example="Основное соглашение (розница и опт)"),
                        "contract": Key(str, "Основной договор", None,
                                        "the counterparty's contract to use (bp30): its name"),
                    },
                    default_empty=False,
                    note="Defaults by code, name or GUID; each must exist in 1C (b24sync check tells you if one "
                         "does not).",
                ),
                "deal_marker": _marker_section(
                    "ID сделки Битрикс24", "НомерПоДаннымКлиента",
                    "Where b24sync writes the Bitrix24 deal ID on the document, so it can always find it again: an "
                    "additional requisite (create it in 1C with the string type) or a string attribute."),
                "tracking": _marker_section(
                    "Трек-номер", "НомерДляОтслеживания",
                    "Where the tracking number of a shipment is: БП has the attribute НомерДляОтслеживания; УТ "
                    "has none, so use an additional requisite of the sale."),
                "invoice_pdf": Key(str, "render", one_of("render", "http_service", "off"),
                                   "where invoice PDFs come from",
                                   note="Where invoice PDFs come from: \"render\" (b24sync draws the usual «Счёт на "
                                        "оплату» from OData data), \"http_service\" (1C prints it: an HTTP service "
                                        "at invoice_service_url answering GET invoices/<ref>/pdf), or \"off\" "
                                        "(number only)."),
                "invoice_service_url": Key(str, None, None, "the 1C HTTP service root for http_service, "
                                                            "https://HOST/BASE/hs/b24sync/v1/",
                                           example="https://1c.example.local/trade/hs/b24sync/v1/", commented=True),
                "managers": Key(dict, {}, _check_managers, "Bitrix24 user ID -> 1C user (name or GUID)",
                                example={3: "Петрова Ольга", 5: "Смирнов Сергей"},
                                note="The responsible manager: Bitrix24 user ID → 1C user (name or GUID)."),
                "default_manager": Key(str, None, None, "1C user for deals whose manager is not in 'managers'",
                                       example="Иванов Алексей"),
            },
            doc="How to reach the 1C base.",
            default_empty=False,
            requires_one_of=(("password", "password_file"),),
        ),
        "sync": Section(
            {
                "pipelines": Key(
                    list, REQUIRED, _check_pipelines,
                    "the pipelines whose deals go to 1C, each with its trigger stages", example=EXAMPLE_PIPELINES,
                    note="The pipelines (CATEGORY_ID; 0 is the default pipeline) whose deals go to 1C. "
                         "trigger_stages lists every stage in which a deal must exist in 1C: the agreed stage and "
                         "every later one that is not lost, so a deal that jumps past the agreed stage between two "
                         "polls is still pushed. Stage IDs are STATUS_IDs from crm.status.list (pipeline N uses "
                         "\"CN:\" prefixes). Optional per pipeline: min_amount, deal_types (TYPE_IDs), start_date "
                         "(older deals are ignored), stage_on_paid / stage_on_shipped (moves forward only), and "
                         "onec: the pipeline's own organisation, warehouse, agreement, contract (bp30) and price_type "
                         "(ut11) by code, name or GUID, instead of onec.defaults (one legal entity a pipeline)."),
                "overlap_seconds": Key(int, 120, number_between(0, 3600), "look-back added to each poll",
                                       note="Seconds of look-back added to every Bitrix24 poll, so a deal changed "
                                            "at the edge is never missed."),
                "onec_window_days": Key(int, 60, number_between(1, 3650), "how far back to look for 1C documents",
                                        note="How many days back b24sync looks for invoices, sales and payments in "
                                             "1C (open documents are always rescanned)."),
                "on_locked_document": Key(str, "comment", one_of("comment", "unpost_and_update"),
                                          "what to do when a deal changes after its document was posted",
                                          note="A deal changed after its 1C document was posted: \"comment\" (tell "
                                               "the manager, change nothing in 1C) or \"unpost_and_update\" "
                                               "(unpost, update, post again)."),
                "on_leave_trigger": Key(str, "nothing", one_of("nothing", "close_order"),
                                        "what to do when a bound deal leaves the trigger stages",
                                        note="A bound deal left the trigger stages (lost, moved back): \"nothing\", "
                                             "or \"close_order\" while the order is neither shipped nor paid."),
                "on_missing_document": Key(str, "report", one_of("report", "recreate"),
                                           "what to do when a bound document is deleted in 1C",
                                           note="A bound document was deleted in 1C (1C answers \"not found\"): "
                                                "\"report\" (once, on the deal's timeline and in `b24sync "
                                                "status`; `b24sync resync --deal N --recreate` makes a new one) "
                                                "or \"recreate\" (report it and create a new document from the "
                                                "deal at once). A document only marked for deletion is always "
                                                "just reported."),
                "on_deleted_deal": Key(str, "report", one_of("report", "close_order"),
                                       "what to do when a bound deal is deleted in Bitrix24",
                                       note="A bound deal was deleted in Bitrix24: \"report\" (once, in the log "
                                            "and in `b24sync status`) or \"close_order\" (also close its order, "
                                            "as on_leave_trigger does, unless it is paid or shipped)."),
                "products": Section({
                    "match": Key(str, "xml_id", one_of("xml_id", "article"), "how deal products find 1C items",
                                 note="How deal products find 1C nomenclature: \"xml_id\" (the catalog's XML_ID "
                                      "is the 1C Ref_Key) or \"article\"."),
                    "fallback": Key(bool, True, None, "try the other way when the first finds nothing"),
                    "article_property": Key(str, "PROPERTY_105", None, "the catalog property holding the article",
                                            note="The catalog property holding the article (PROPERTY_<id> from "
                                                 "crm.product.property.list)."),
                    "price_type": Key(str, "", None, "the 1C price type whose latest prices the catalog job puts "
                                                     "on products (ut11: Вид цены, bp30: Тип цен номенклатуры; by "
                                                     "code, name or GUID); empty: prices stay the portal's"),
                }),
                "fields": Section({
                    "order_id": Key(str, "UF_CRM_1C_ORDER_ID", None, "deal field for the 1C document's GUID"),
                    "order_number": Key(str, "UF_CRM_1C_ORDER_NUMBER", None, "deal field for the document number"),
                    "invoice_number": Key(str, "UF_CRM_INVOICE_NUMBER", None, "deal field for the invoice number"),
                    "invoice_url": Key(str, "UF_CRM_INVOICE_URL", None, "deal field for the invoice PDF link"),
                    "payment_status": Key(str, "UF_CRM_PAYMENT_STATUS", None, "deal field for paid/partial/unpaid"),
                    "shipment_date": Key(str, "UF_CRM_SHIPMENT_DATE", None, "deal field for the shipment date"),
                    "tracking_number": Key(str, "UF_CRM_TRACKING_NUMBER", None, "deal field for the tracking number"),
                    "paid_amount": Key(str, "UF_CRM_1C_PAID_AMOUNT", None,
                                       "deal field (money) for what the customer has paid"),
                    "shipped_amount": Key(str, "UF_CRM_1C_SHIPPED_AMOUNT", None,
                                          "deal field (money) for what has been shipped"),
                    "order_status": Key(str, "UF_CRM_1C_ORDER_STATUS", None, "deal field for the 1C order's status"),
                    "counterparty_id": Key(str, "UF_CRM_1C_COUNTERPARTY_ID", None,
                                           "contact and company field for their 1C counterparty's GUID"),
                    "delivery_address": Key(str, "UF_CRM_DELIVERY_ADDRESS", None,
                                            "deal field (string) where the manager types the delivery address; "
                                            "b24sync reads it"),
                }, note="The deal fields b24sync writes, the one it reads (the delivery address), and the contact "
                        "and company field for their counterparty in 1C (b24sync setup creates them)."),
                "order_fields": Section({
                    "comments": Key(bool, True, None, "the deal's comments (COMMENTS) into the order's "
                                                      "ДополнительнаяИнформация (ut11)"),
                    "shipment_date": Key(bool, True, None, "the deal's expected date (CLOSEDATE) into the order's "
                                                           "ДатаОтгрузки (ut11)"),
                    "delivery_address": Key(bool, True, None, "the deal's delivery address field "
                                                              "('sync.fields.delivery_address') into the order's "
                                                              "АдресДоставки (ut11)"),
                    "contact_person": Key(bool, True, None, "the deal's contact, when a company is the customer, "
                                                            "as the order's КонтактноеЛицо (ut11; created among "
                                                            "the partner's contact persons when new)"),
                }, note="What else of the deal goes into the order's own fields, where the profile has them."),
                "guards": Section({
                    "max_creates_per_cycle": Key(int, 500, number_between(1, 1_000_000),
                                                 "stop before creating more documents than this in one cycle",
                                                 note="A cycle that would create more documents than this stops "
                                                      "before the first one and says how to go on."),
                    "max_missing_per_cycle": Key(int, 10, number_between(1, 1_000_000),
                                                 "stop before reporting more documents missing in 1C than this in "
                                                 "one cycle (a base restored from a backup, another base)",
                                                 note="A cycle that finds more bound documents missing in 1C than "
                                                      "this at once (a base restored from an older backup, "
                                                      "'onec.url' pointing at another base) reports none of them "
                                                      "and says how to go on."),
                }),
            },
            default_empty=False,
        ),
        "invoices": Section({
            "disk_storage": Key((str, int), None, None, "the Disk storage for invoice PDFs: name or ID",
                                example="Общий диск", commented=True,
                                note="The Disk storage for invoice PDFs: name or ID (by default the common drive)."),
            "disk_folder": Key(str, "Счета 1С", None, "the folder in that storage (created if missing)"),
            "attach": Key(str, "timeline", one_of("timeline", "field"), "how the PDF goes on the deal",
                          note="\"timeline\": a comment with the PDF in the deal's timeline; \"field\": into the "
                               "deal's file field below."),
            "file_field": Key(str, "UF_CRM_INVOICE_FILE", None, "the deal's file field when attach is field"),
            "max_size_mb": Key(float, 10.0, number_between(0.1, 100), "larger PDFs are refused",
                               note="A larger PDF is reported as a failure for its deal instead of being uploaded."),
            "valid_days": Key(int, 0, number_between(0, 365), "print «valid until» this many days after the date",
                              note="Print «Счёт действителен до …» this many days after the invoice date (0: no "
                                   "such line)."),
            "bank": Section({
                "name": Key(str, None, None, "the seller's bank", example="ПАО Сбербанк г. Москва"),
                "bik": Key(str, None, None, "its BIK", example="044525225"),
                "account": Key(str, None, None, "the settlement account", example="40702810900000012345"),
                "correspondent_account": Key(str, None, None, "the correspondent account",
                                             example="30101810400000000225"),
            }, note="The seller's bank details printed on rendered invoices."),
        }),
        "daemon": Section({
            "bitrix24_to_onec_seconds": Key(int, 12, number_between(1, 86400), "how often deals go to 1C",
                                            note="How often `b24sync run` sends changed deals to 1C, in seconds. "
                                                 "An idle cycle is one Bitrix24 request, so every 12 s spends "
                                                 "4.2 % of the portal's request budget (2 a second)."),
            "onec_to_bitrix24_seconds": Key(int, 120, number_between(1, 86400), "how often 1C news go to deals",
                                            note="How often it brings 1C's invoices, payments and shipments to the "
                                                 "deals, in seconds."),
            "retry_seconds": Key(int, 60, number_between(1, 86400), "how often failed deals are looked at",
                                 note="How often it looks at failed deals that are due again, in seconds."),
            "catalog_seconds": Key(int, 0, number_between(0, 7 * 86400),
                                   "how often 1C nomenclature goes to Bitrix24 products (0: never)",
                                   note="The catalog job (1C nomenclature → Bitrix24 products) for products.match: "
                                        "xml_id on a portal whose catalog does not come from 1C otherwise, in "
                                        "seconds (3600, an hour, is a good rhythm); 0 switches it off."),
            "shutdown_timeout_seconds": Key(int, 30, number_between(1, 600), "how long a stop may take",
                                            note="How long a stop (systemctl stop) may take: the deal in hand is "
                                                 "finished, state is saved, then b24sync exits."),
            "unhealthy_after_seconds": Key(int, 3600, number_between(60, 7 * 86400),
                                           "/healthz fails when no cycle succeeded for this long",
                                           note="/healthz answers 503 when no cycle has succeeded for this long (and "
                                                "at once while a system is unreachable)."),
        }),
        "notify": Section({
            "urls": Key(list, [], _check_urls, "Apprise URLs to alert (tgram://…, mailtos://…, ntfys://…, json://…)",
                        secret=True,
                        note="Alerts through Apprise (https://github.com/caronc/apprise/wiki): one URL per target, "
                             "e.g. tgram://BOT_TOKEN/CHAT_ID, mailtos://user:password@mail.example.com?to=admin@"
                             "example.com, ntfys://topic, json://host/path. Each state is told once: a system down "
                             "longer than unreachable_after_minutes and its recovery, the deals a cycle failed (one "
                             "message), a new conflict, a guard holding a cycle back, and no successful cycle for "
                             "no_success_hours. `b24sync notify --test` sends a test message. The URLs are "
                             "secrets."),
            "unreachable_after_minutes": Key(int, 10, number_between(0, 1440),
                                             "alert when a system has not answered for this long (0: at the first "
                                             "failed cycle)"),
            "no_success_hours": Key(int, 6, number_between(1, 720), "alert when no cycle succeeded for this long"),
        }),
        "metrics": Section({
            "listen": Key(str, None, _check_listen, "serve Prometheus metrics and /healthz on HOST:PORT",
                          example="127.0.0.1:9108", commented=True,
                          note="Serve Prometheus metrics on /metrics and a health check on /healthz on HOST:PORT "
                               "(needs prometheus-client: scripts/install --with-metrics). Leave it out to serve "
                               "nothing."),
        }),
        "state": Section({
            "path": Key(str, "/var/lib/b24sync/state.db", None, "the state database", commented=True,
                        note="The state database (bindings, watermarks, failures). Created 0600; back it up with "
                             "the config. Left out, it is /var/lib/b24sync/state.db for /etc/b24sync/config.yaml "
                             "and /var/lib/b24sync/NAME/state.db for /etc/b24sync/NAME.yaml (the b24sync@NAME "
                             "instance's own StateDirectory), from a shell as under systemd."),
        }),
        "logging": Section(
            {
                "level": Key(str, "INFO", one_of("DEBUG", "INFO", "WARNING", "ERROR"), "log level",
                             note="DEBUG, INFO, WARNING or ERROR. Secrets are masked at every level."),
                "format": Key(str, "auto", one_of("auto", "console", "json"), "log format",
                              note="auto (readable on a terminal, JSON lines under systemd), console or json."),
            }
        ),
    }
)


@dataclass(frozen=True)
class Bitrix24Config:
    webhook_url: str = field(repr=False)
    rate_per_second: float = 2.0
    burst: int = 50
    connect_timeout: float = 10.0
    read_timeout: float = 75.0
    max_retries: int = 5
    verify_tls: bool | str = True

    @property
    def webhook_code(self) -> str:
        parsed = parse_webhook_url(self.webhook_url)
        return parsed[2] if parsed else ""


@dataclass(frozen=True)
class Marker:
    """Where a value lives on a 1C document: an additional requisite by name, or an attribute."""

    additional_requisite: str | None = None
    attribute: str | None = None


@dataclass(frozen=True)
class OneCDefaults:
    organisation: str
    currency: str = "RUB"
    warehouse: str | None = None
    agreement: str | None = None
    contract: str | None = "Основной договор"


@dataclass(frozen=True)
class OneCConfig:
    url: str
    user: str
    password: str = field(repr=False)
    defaults: OneCDefaults
    profile: str = "ut11"
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    max_retries: int = 4
    max_concurrency: int = 4
    max_url_length: int = 2048
    verify_tls: bool | str = True
    post_documents: bool = True
    order_status: str = "КОтгрузке"
    create_counterparties: bool = True
    deal_marker: Marker = Marker(additional_requisite="ID сделки Битрикс24")
    tracking: Marker = Marker(additional_requisite="Трек-номер")
    managers: dict[int, str] = field(default_factory=dict)
    default_manager: str | None = None
    invoice_pdf: str = "render"
    invoice_service_url: str | None = None


@dataclass(frozen=True)
class Pipeline:
    category_id: int
    trigger_stages: tuple[str, ...]
    min_amount: float = 0
    deal_types: tuple[str, ...] = ()
    start_date: date | None = None
    stage_on_paid: str | None = None
    stage_on_shipped: str | None = None
    onec: PipelineChoices | None = None  # its own organisation, warehouse, … instead of 'onec.defaults'


@dataclass(frozen=True)
class PipelineChoices:
    """What one pipeline's documents use instead of 'onec.defaults' (each by code, name or GUID; None: the
    default). `price_type` (ВидЦены, УТ) has no default: rows go without one unless a pipeline names it."""

    organisation: str | None = None
    warehouse: str | None = None
    agreement: str | None = None
    contract: str | None = None
    price_type: str | None = None


@dataclass(frozen=True)
class DealFields:
    order_id: str = "UF_CRM_1C_ORDER_ID"
    order_number: str = "UF_CRM_1C_ORDER_NUMBER"
    invoice_number: str = "UF_CRM_INVOICE_NUMBER"
    invoice_url: str = "UF_CRM_INVOICE_URL"
    payment_status: str = "UF_CRM_PAYMENT_STATUS"
    shipment_date: str = "UF_CRM_SHIPMENT_DATE"
    tracking_number: str = "UF_CRM_TRACKING_NUMBER"
    paid_amount: str = "UF_CRM_1C_PAID_AMOUNT"
    shipped_amount: str = "UF_CRM_1C_SHIPPED_AMOUNT"
    order_status: str = "UF_CRM_1C_ORDER_STATUS"
    counterparty_id: str = "UF_CRM_1C_COUNTERPARTY_ID"  # on contacts and companies, not deals
    delivery_address: str = "UF_CRM_DELIVERY_ADDRESS"  # the manager's, read by b24sync


@dataclass(frozen=True)
class OrderFields:
    comments: bool = True
    shipment_date: bool = True
    delivery_address: bool = True
    contact_person: bool = True


@dataclass(frozen=True)
class SyncConfig:
    pipelines: tuple[Pipeline, ...]
    overlap_seconds: int = 120
    onec_window_days: int = 60
    on_locked_document: str = "comment"
    on_leave_trigger: str = "nothing"
    on_missing_document: str = "report"
    on_deleted_deal: str = "report"
    product_match: str = "xml_id"
    product_fallback: bool = True
    article_property: str = "PROPERTY_105"
    price_type: str = ""  # the 1C price type the catalog job exports (empty: none)
    fields: DealFields = DealFields()
    max_creates_per_cycle: int = 500
    max_missing_per_cycle: int = 10
    order_fields: OrderFields = OrderFields()

    def pipeline(self, category_id: int) -> Pipeline | None:
        return next((item for item in self.pipelines if item.category_id == category_id), None)


@dataclass(frozen=True)
class InvoicesConfig:
    disk_storage: str | int | None = None
    disk_folder: str = "Счета 1С"
    attach: str = "timeline"
    file_field: str = "UF_CRM_INVOICE_FILE"
    max_size_mb: float = 10.0
    valid_days: int = 0
    bank: dict[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True)
class DaemonConfig:
    bitrix24_to_onec_seconds: int = 12
    onec_to_bitrix24_seconds: int = 120
    retry_seconds: int = 60
    catalog_seconds: int = 0
    shutdown_timeout_seconds: int = 30
    unhealthy_after_seconds: int = 3600


@dataclass(frozen=True)
class NotifyConfig:
    urls: tuple[str, ...] = ()
    unreachable_after_minutes: int = 10
    no_success_hours: int = 6


@dataclass(frozen=True)
class LoggingConfig:
    level: str = "INFO"
    format: str = "auto"


@dataclass(frozen=True)
class Config:
    bitrix24: Bitrix24Config
    onec: OneCConfig
    sync: SyncConfig
    state_path: str = "/var/lib/b24sync/state.db"
    daemon: DaemonConfig = field(default_factory=DaemonConfig)
    invoices: InvoicesConfig = field(default_factory=InvoicesConfig)
    metrics_listen: str | None = None
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    source: str = "config.yaml"
    warnings: tuple[str, ...] = ()
    effective: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)  # what `config show` prints


def _marker(values: dict[str, Any] | None, default: Marker) -> Marker:
    values = values or {}
    if not values.get("additional_requisite") and not values.get("attribute"):
        return default
    return Marker(additional_requisite=values.get("additional_requisite"), attribute=values.get("attribute"))


def resolve_path(cli_path: str | None, env: Mapping[str, str] | None = None) -> Path:
    """Where the config is read from: the flag, then the environment, then the system default."""
    env = os.environ if env is None else env
    return Path(cli_path or env.get("B24SYNC_CONFIG") or DEFAULT_PATH)


class _ConfigYamlError(Exception):
    """A YAML problem said in one line (a duplicate key, too many aliases)."""


MAX_ALIASES = 100  # a config needs a handful; thousands are an alias bomb


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (naming its path and both lines) and alias
    bombs."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                mark = self.peek_event().start_mark
                raise _ConfigYamlError(f"line {mark.line + 1}: more than {MAX_ALIASES} YAML aliases (*name); a "
                                       f"config needs a few, write the values out")
        return super().compose_node(parent, index)

    def construct_document(self, node: yaml.Node) -> Any:
        _refuse_duplicates(node, "", set())
        return super().construct_document(node)


def _refuse_duplicates(node: yaml.Node, path: str, seen_nodes: set[int]) -> None:
    """A key given twice in one mapping, said with the section's path and both lines (YAML itself keeps the last
    silently). Each node is looked at once, so aliases repeating a node cost nothing."""
    if id(node) in seen_nodes:
        return
    seen_nodes.add(id(node))
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *common`: merged, not a key of its own
                _refuse_duplicates(value_node, path, seen_nodes)
                continue
            key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?"
            line = key_node.start_mark.line + 1
            full = f"{path}.{key}" if path else key
            if isinstance(key_node, yaml.ScalarNode) and key in seen:
                section = f"in '{path}'" if path else "at the top level"
                raise _ConfigYamlError(f"line {line}: at '{full}': the key '{key}' is given twice {section} "
                                       f"(first on line {seen[key]}); keep one")
            seen[key] = line
            _refuse_duplicates(value_node, full, seen_nodes)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _refuse_duplicates(item, f"{path}[{index}]", seen_nodes)


MAX_VALUES = 100_000  # a config has a few hundred; a "billion laughs" of aliases has far more


def _too_big(data: Any) -> bool:
    """Whether the loaded values, counted as they expand (aliases repeat what they name), exceed MAX_VALUES."""
    pending, counted = [data], 0
    while pending:
        value = pending.pop()
        counted += 1
        if counted > MAX_VALUES:
            return True
        if isinstance(value, dict):
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return False


def _forgive(data: dict[str, Any]) -> None:
    """What YAML 1.1 and habit make of a value, taken as the user meant it: `invoice_pdf: off` (read as false)
    and a log level in any case."""
    onec = data.get("onec")
    if isinstance(onec, dict) and onec.get("invoice_pdf") is False:
        onec["invoice_pdf"] = "off"
    logs = data.get("logging")
    if isinstance(logs, dict) and isinstance(logs.get("level"), str):
        logs["level"] = logs["level"].strip().upper()


def _credentials(env: Mapping[str, str]) -> dict[str, str]:
    """Secrets systemd hands over with LoadCredential= (files `webhook_url`, `onec_password` in
    $CREDENTIALS_DIRECTORY); they come after the environment variables and before the config file."""
    folder = env.get("CREDENTIALS_DIRECTORY")
    found: dict[str, str] = {}
    for name in ("webhook_url", "onec_password") if folder else ():
        try:
            text = (Path(folder) / name).read_text(encoding="utf-8").strip()
        except OSError:
            continue
        if text:
            found[name] = text
    return found


def _secret_from_file(path_text: str, key: str, base: Path, problems: list[str],
                      warnings: list[str]) -> str | None:
    path = Path(path_text)
    if not path.is_absolute():
        path = base / path
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8").strip()
    except OSError as error:
        problems.append(f"at '{key}': cannot read {path}: {error.strerror or error}")
        return None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        warnings.append(f"at '{key}': {path} holds a secret and is readable by group or others; "
                        f"run: chmod 600 {path}")
    if not text:
        problems.append(f"at '{key}': {path} is empty")
        return None
    return text


def load_config(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read, validate and return the config; raise ConfigError listing every problem."""
    env = os.environ if env is None else env
    config_path = resolve_path(str(path) if path else None, env)
    name = str(config_path)
    try:
        raw = config_path.read_bytes()
        if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise ConfigError(name, ["the file is UTF-16; save it as UTF-8 (any editor's «save as» offers it)"])
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ConfigError(name, [f"the file is not UTF-8 (byte {error.start + 1}); it may be in cp1251: save it "
                                 f"as UTF-8"]) from None
    except IsADirectoryError:
        raise ConfigError(name, ["is a directory; point --config at the YAML file in it"]) from None
    except FileNotFoundError:
        raise ConfigError(name, ["file not found; create it from config.example.yaml "
                                 "or point --config / $B24SYNC_CONFIG at it"]) from None
    except OSError as error:
        raise ConfigError(name, [f"cannot read: {error.strerror or error}"]) from None
    return load_config_text(text, name, config_path.parent, env,
                            file_mode=config_path.stat().st_mode, instance=_instance(config_path))


def _instance(config_path: Path) -> str | None:
    """NAME for /etc/b24sync/NAME.yaml (the b24sync@NAME unit's file); None for config.yaml and elsewhere."""
    resolved = config_path.resolve()
    if resolved.parent == Path("/etc/b24sync") and resolved.suffix in (".yaml", ".yml") and \
            resolved.stem != "config":
        return resolved.stem
    return None


def load_config_text(text: str, source: str = "config.yaml", base: Path | None = None,
                     env: Mapping[str, str] | None = None, file_mode: int | None = None,
                     instance: str | None = None) -> Config:
    """Validate config text; `base` resolves relative file paths."""
    env = os.environ if env is None else env
    base = base or Path.cwd()
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader that also refuses duplicates
    except _ConfigYamlError as error:
        raise ConfigError(source, [str(error)]) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(source, [f"{where}not valid YAML: {problem}"]) from None
    if data is None:
        raise ConfigError(source, ["the file is empty; start from config.example.yaml"])
    if not isinstance(data, dict):
        raise ConfigError(source, [f"the top level is a {type(data).__name__}; it must be the sections "
                                   f"(bitrix24:, onec:, sync:, …) as in config.example.yaml"])
    if _too_big(data):
        raise ConfigError(source, [f"the file expands to more than {MAX_VALUES:,} values (aliases inside aliases?); "
                                   f"write the values out"])
    _forgive(data)
    values, problems = validate(SCHEMA, data)
    warnings: list[str] = []

    b24: dict[str, Any] = values.get("bitrix24", {})
    credentials = _credentials(env)
    webhook = env.get(WEBHOOK_ENV) or credentials.get("webhook_url")
    if webhook:
        if not parse_webhook_url(webhook):
            where = f"${WEBHOOK_ENV}' (environment)" if env.get(WEBHOOK_ENV) else \
                "$CREDENTIALS_DIRECTORY/webhook_url' (LoadCredential=)"
            problems.append(f"at '{where}: {WEBHOOK_RULE}")
    elif b24.get("webhook_url_file"):
        webhook = _secret_from_file(b24["webhook_url_file"], "bitrix24.webhook_url_file", base,
                                    problems, warnings)
        if webhook and not parse_webhook_url(webhook):
            problems.append(f"at 'bitrix24.webhook_url_file': the file's content {WEBHOOK_RULE}")
    else:
        webhook = b24.get("webhook_url")
        if webhook and file_mode is not None and file_mode & stat.S_IRWXO:
            warnings.append("at 'bitrix24.webhook_url': the config holds the webhook secret and is readable "
                            "by others; chmod 640 it, or move the URL to 'bitrix24.webhook_url_file'")
        if not webhook and isinstance(data.get("bitrix24"), dict):
            problems.append(f"at 'bitrix24.webhook_url': required (or 'bitrix24.webhook_url_file', "
                            f"or ${WEBHOOK_ENV}, or the webhook_url credential under systemd); {WEBHOOK_RULE}")
    onec_values: dict[str, Any] = values.get("onec", {})
    password = env.get(ONEC_PASSWORD_ENV) or credentials.get("onec_password")
    if not password and onec_values.get("password_file"):
        password = _secret_from_file(onec_values["password_file"], "onec.password_file", base, problems, warnings)
    elif not password:
        password = onec_values.get("password")
        if password and file_mode is not None and file_mode & stat.S_IRWXO:
            warnings.append("at 'onec.password': the config holds the 1C password and is readable by others; "
                            "chmod 640 it, or move the password to 'onec.password_file'")
        if password is None and isinstance(data.get("onec"), dict):
            problems.append(f"at 'onec.password': required (or 'onec.password_file', or ${ONEC_PASSWORD_ENV})")
    defaults = onec_values.get("defaults") or {}
    for key, other in (("on_leave_trigger", "nothing"), ("on_deleted_deal", "report")):
        if onec_values.get("profile") == "bp30" and (values.get("sync") or {}).get(key) == "close_order":
            problems.append(f"at 'sync.{key}': close_order needs customer orders (the ut11 profile); БП 3.0 "
                            f"invoices have no status to close: use {other}")
    if onec_values.get("invoice_pdf") == "http_service" and not onec_values.get("invoice_service_url"):
        problems.append("at 'onec.invoice_service_url': required when 'onec.invoice_pdf' is http_service "
                        "(the HTTP service root, e.g. https://1c.example.local/trade/hs/b24sync/v1/)")
    if onec_values.get("profile") == "ut11" and isinstance(data.get("onec"), dict):
        for key in ("warehouse", "agreement"):
            if not defaults.get(key):
                problems.append(f"at 'onec.defaults.{key}': required for the ut11 profile (code, name or GUID)")
    if problems:
        raise ConfigError(source, problems)
    register_secret(password)
    parsed = parse_webhook_url(webhook or "")
    assert parsed is not None
    register_secret(parsed[2])
    register_secret(webhook)
    bitrix24 = Bitrix24Config(
        webhook_url=parsed[0],
        rate_per_second=float(b24["rate_per_second"]),
        burst=int(b24["burst"]),
        connect_timeout=float(b24["connect_timeout"]),
        read_timeout=float(b24["read_timeout"]),
        max_retries=int(b24["max_retries"]),
        verify_tls=b24["verify_tls"],
    )
    onec = OneCConfig(
        url=onec_values["url"].strip().rstrip("/") + "/",
        user=onec_values["user"],
        password=password or "",
        defaults=OneCDefaults(**defaults),
        profile=onec_values["profile"],
        connect_timeout=float(onec_values["connect_timeout"]),
        read_timeout=float(onec_values["read_timeout"]),
        max_retries=int(onec_values["max_retries"]),
        max_concurrency=int(onec_values["max_concurrency"]),
        max_url_length=int(onec_values["max_url_length"]),
        verify_tls=onec_values["verify_tls"],
        post_documents=onec_values["post_documents"],
        order_status=onec_values["order_status"],
        create_counterparties=onec_values["create_counterparties"],
        deal_marker=_marker(onec_values.get("deal_marker"), Marker(additional_requisite="ID сделки Битрикс24")),
        tracking=_marker(onec_values.get("tracking"), Marker(additional_requisite="Трек-номер")),
        managers={int(key): str(value) for key, value in onec_values["managers"].items()},
        default_manager=onec_values.get("default_manager"),
        invoice_pdf=onec_values["invoice_pdf"],
        invoice_service_url=onec_values.get("invoice_service_url"),
    )
    sync_values = values["sync"]
    sync = SyncConfig(
        pipelines=tuple(Pipeline(
            category_id=item["category_id"], trigger_stages=tuple(item["trigger_stages"]),
            min_amount=float(item.get("min_amount") or 0), deal_types=tuple(item.get("deal_types") or ()),
            start_date=item.get("start_date"), stage_on_paid=item.get("stage_on_paid"),
            stage_on_shipped=item.get("stage_on_shipped"),
            onec=PipelineChoices(**item["onec"]) if item.get("onec") else None) for item in sync_values["pipelines"]),
        overlap_seconds=sync_values["overlap_seconds"],
        onec_window_days=sync_values["onec_window_days"],
        on_locked_document=sync_values["on_locked_document"],
        on_leave_trigger=sync_values["on_leave_trigger"],
        on_missing_document=sync_values["on_missing_document"],
        on_deleted_deal=sync_values["on_deleted_deal"],
        product_match=sync_values["products"]["match"],
        product_fallback=sync_values["products"]["fallback"],
        article_property=sync_values["products"]["article_property"],
        price_type=sync_values["products"]["price_type"],
        fields=DealFields(**sync_values["fields"]),
        max_creates_per_cycle=sync_values["guards"]["max_creates_per_cycle"],
        max_missing_per_cycle=sync_values["guards"]["max_missing_per_cycle"],
        order_fields=OrderFields(**sync_values["order_fields"]),
    )
    state_path = Path(values["state"]["path"])
    if state_path.is_dir():
        raise ConfigError(source, [f"at 'state.path': {state_path} is a directory; name the file in it, e.g. "
                                   f"{state_path / 'state.db'}"])
    given = data.get("state") if isinstance(data.get("state"), dict) else {}
    if not given.get("path") and env.get("STATE_DIRECTORY"):
        # a systemd instance (b24sync@NAME) keeps its state in its own StateDirectory= unless the file says
        state_path = Path(env["STATE_DIRECTORY"].split(":")[0]) / "state.db"
    elif not given.get("path") and instance:
        # the same file from a shell: the instance's StateDirectory=b24sync/NAME, whoever runs the command
        state_path = Path("/var/lib/b24sync") / instance / "state.db"
    if not state_path.is_absolute():
        state_path = base / state_path
    logging_values = values.get("logging", {})
    return Config(
        bitrix24=bitrix24,
        onec=onec,
        sync=sync,
        state_path=str(state_path),
        daemon=DaemonConfig(**values["daemon"]),
        metrics_listen=values["metrics"]["listen"],
        invoices=InvoicesConfig(**{**values["invoices"], "bank": dict(values["invoices"]["bank"])}),
        logging=LoggingConfig(level=logging_values["level"], format=logging_values["format"]),
        notify=NotifyConfig(urls=tuple(values["notify"]["urls"]),
                            unreachable_after_minutes=values["notify"]["unreachable_after_minutes"],
                            no_success_hours=values["notify"]["no_success_hours"]),
        source=source,
        warnings=tuple(f"{source}: {warning}" for warning in warnings),
        effective=_effective(values, webhook or "", password, str(state_path)),
    )


def _effective(values: dict[str, Any], webhook: str, password: str | None, state_path: str) -> dict[str, Any]:
    """The values in force, keyed as the file keys them (so `config show` prints a file that validates), with
    the secrets masked wherever they came from: the environment, a credential, a file or this file."""
    shown = copy.deepcopy(values)
    shown["bitrix24"]["webhook_url"] = re.sub(r"(/rest/\d+/)[^/]+", rf"\g<1>{MASK}", webhook)
    shown["bitrix24"].pop("webhook_url_file", None)
    shown["onec"]["password"] = MASK if password else None
    shown["onec"].pop("password_file", None)
    shown["notify"]["urls"] = [url.split("://", 1)[0] + "://" + MASK for url in shown["notify"]["urls"]]
    shown["state"]["path"] = state_path
    return _without_none(shown)


def _without_none(value: Any) -> Any:
    """A key whose value is None is a key left out (YAML's null would read back as the same)."""
    if isinstance(value, dict):
        return {key: _without_none(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_none(item) for item in value]
    return value
