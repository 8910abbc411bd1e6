"""A client of the 1C standard OData interface: one session, Basic auth, JSON, typed errors.

Query strings are built by hand: spaces as %20 (the platform does not decode
`+`), quotes doubled inside literals, and the whole URL kept under the 2,048
characters IIS allows. Bodies are decoded as UTF-8 whatever charset the server
announces. GETs (and repeatable writes) are retried on 5xx, 406 and timeouts;
a create whose answer is lost raises OutcomeUnknownError instead of posting twice.
"""

from __future__ import annotations

import base64
import json
import random
import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from b24sync import __version__
from b24sync.clock import SYSTEM_CLOCK, Clock
from b24sync.errors import Kind
from b24sync.logs import get_logger
from b24sync.onec import errors
from b24sync.redaction import redact, register_secret

MAX_URL = 2048
SESSION_COOKIE = "ibsession"  # an explicit session's cookie, set in answer to `IBSession: start` (ODATA.md §1)
# the platform's words for a transaction rolled back by a lock conflict or a deadlock (not the document's fault)
LOCK_CONFLICT = ("конфликт блокировок", "время ожидания предоставления блокировки", "deadlock",
                 "взаимоблокировк")
ZERO_GUID = "00000000-0000-0000-0000-000000000000"
# options of a listing that must see every row, hidden ones included: a lookup whose empty answer leads to a create
# (with allowedOnly, a row hidden from the user would look absent, and b24sync would make a second one)
EVERY_ROW = {"allowedOnly": None}
_QUERY_SAFE = "$=,'()/:"
_PATH_SAFE = "()'=,/$_-."


def literal(value: Any) -> str:
    """A `$filter` literal: strings quoted with inner quotes doubled, guids, dates (naive), numbers, booleans."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime):
        return f"datetime'{value.replace(tzinfo=None, microsecond=0).isoformat()}'"
    return "'" + str(value).replace("'", "''") + "'"


def guid(value: str) -> str:
    return f"guid'{value}'"


def cast(ref: str, entity: str) -> str:
    """A reference held in a composite attribute: compare only through cast()."""
    return f"cast(guid'{ref}', '{entity}')"


def is_set(resource: str) -> bool:
    """An entity set (`Catalog_Склады`), not one object, an action, a virtual table or `$metadata`."""
    return not resource.startswith("$") and "(" not in resource and "/" not in resource


def entity_path(entity: str, ref: str | None = None, action: str | None = None) -> str:
    path = entity + (f"(guid'{ref}')" if ref else "")
    return f"{path}/{action}" if action else path


class ODataClient:
    """Talks to one published base at `.../odata/standard.odata/`."""

    def __init__(self, root_url: str, user: str, password: str, *, connect_timeout: float = 10.0,
                 read_timeout: float = 60.0, max_retries: int = 4, backoff_base: float = 1.0,
                 backoff_cap: float = 30.0, verify: bool | str = True, clock: Clock = SYSTEM_CLOCK,
                 session: requests.Session | None = None, rng: random.Random | None = None,
                 max_url: int = MAX_URL) -> None:
        self.root = root_url if root_url.endswith("/") else root_url + "/"
        self.max_url = max_url  # the longest URL the web server in front of 1C takes (IIS maxQueryString)
        self.chain_url = max_url  # what `or` chains are built to: lower once the web server refused one
        self.longest_answered = 0  # the longest URL 1C has answered (a refusal below it is not about length)
        self.user = user
        register_secret(password)
        token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")  # UTF-8, Cyrillic names too
        register_secret(token)
        self.session = session or requests.Session()
        self.session.headers.update({"Authorization": f"Basic {token}", "Accept": "application/json",
                                     "User-Agent": f"b24sync/{__version__}"})
        self.session.verify = verify
        self.timeout = (connect_timeout, read_timeout)
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.clock = clock
        self.rng = rng or random.Random()
        self.log = get_logger("b24sync.onec")
        self.gate: Callable[[], AbstractContextManager[Any]] = nullcontext  # around each wait on 1C (turns.py)
        # told when 1C answers that an entity or a property is not there (True: what was read of its schema is
        # stale), or refuses a write (False: a reference resolved from the config may be stale)
        self.on_refusal: Callable[[bool], None] = lambda schema: None
        self._owner = threading.get_ident()
        # each worker talks to 1C over connections of its own, kept from cycle to cycle
        self._worker_sessions: dict[str, requests.Session] = {}
        self._sessions_lock = threading.Lock()
        self.requests_sent = 0
        self.authenticated = False  # 1C has answered this user once: a later code 20 may be about rights
        self._probe = threading.local()  # this thread is asking whether the credentials still work
        self.requests_by_entity: dict[str, int] = {}

    @property
    def base_label(self) -> str:
        parts = urlsplit(self.root)
        return f"{parts.scheme}://{parts.netloc}{parts.path}"

    # -- URLs ----------------------------------------------------------------------------------------

    def url(self, resource: str, options: Mapping[str, Any] | None = None, *, json_format: bool = True,
            check: bool = True, listing: bool = True) -> str:
        """The request's URL; a listing of a set asks for the rows this user may read only (`allowedOnly`), since
        a base with row-level security fails the whole listing on one hidden row otherwise (ODATA.md §5)."""
        query = dict(options or {})
        if json_format:
            query.setdefault("$format", "json")
        if listing and is_set(resource):
            query.setdefault("allowedOnly", "true")
        parts = [f"{quote(key, safe='$')}={quote(str(value), safe=_QUERY_SAFE)}" for key, value in query.items()
                 if value is not None]
        url = self.root + quote(resource, safe=_PATH_SAFE) + ("?" + "&".join(parts) if parts else "")
        if check and len(url) > self.max_url:
            raise errors.QueryError(f"a request to 1C would be {len(url)} characters long, over the {self.max_url} a "
                                    f"web server accepts; this is a b24sync bug, please report it", resource=resource)
        return url

    # -- calls ---------------------------------------------------------------------------------------

    def get(self, resource: str, options: Mapping[str, Any] | None = None) -> Any:
        """GET JSON (an entity, or a list envelope)."""
        return self._request("GET", resource, options, repeatable=True)

    def get_all(self, entity: str, options: Mapping[str, Any] | None = None, page: int = 500) -> list[dict[str, Any]]:
        """Every row matching `options`, paged with $top/$skip in a stable order (Date,Ref_Key by default)."""
        rows: list[dict[str, Any]] = []
        base = dict(options or {})
        base.setdefault("$orderby", "Ref_Key")
        skip = 0
        while True:
            chunk = self.get(entity, {**base, "$top": page, "$skip": skip}).get("value", [])
            rows.extend(chunk)
            if len(chunk) < page:
                return rows
            skip += page

    def get_text(self, resource: str, options: Mapping[str, Any] | None = None) -> str:
        """A non-JSON resource: `$metadata` (XML) or `$count` (a number, maybe with a BOM)."""
        return self._request("GET", resource, options, repeatable=True, raw=True)

    def post(self, resource: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Create an object; 201 with the whole object. Never repeated blindly."""
        return self._request("POST", resource, None, body=body, repeatable=False)

    def patch(self, resource: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Change some properties (a tabular section is replaced whole); 200 with the whole object."""
        return self._request("PATCH", resource, None, body=body, repeatable=True)

    def action(self, resource: str) -> None:
        """Post/Unpost: a bodiless POST with Content-Length: 0 (IIS answers 411 without it)."""
        self._request("POST", resource, None, body=None, repeatable=True, raw=True)

    def _request(self, method: str, resource: str, options: Mapping[str, Any] | None, *, body: Any = None,
                 repeatable: bool, raw: bool = False) -> Any:
        url = self.url(resource, options, json_format=not raw or method != "GET", listing=method == "GET")
        data = b"" if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json;charset=utf-8"} if body is not None else {}
        if method == "POST" and body is None:
            headers["Content-Length"] = "0"
        attempt = 0
        entity = resource.split("(")[0].split("/")[0] or "(root)"
        restarted = False
        while True:
            self.requests_sent += 1
            self.requests_by_entity[entity] = self.requests_by_entity.get(entity, 0) + 1
            session = self._http()
            in_session = bool(session.cookies.get(SESSION_COOKIE))
            try:
                with self.gate():
                    reply = session.request(method, url, data=data if method != "GET" else None,
                                            headers=headers if in_session else {**headers, "IBSession": "start"},
                                            timeout=self.timeout, allow_redirects=False)
            except requests.RequestException as failure:
                never_sent = isinstance(failure, requests.ConnectTimeout) or "NewConnectionError" in repr(failure)
                error = errors.TransportError(
                    f"cannot reach 1C at {self.base_label} for {resource}: {type(failure).__name__}: "
                    f"{redact(str(failure))}", resource=resource)
                attempt = self._after_failure(error, attempt, repeatable or never_sent, resource)
                continue
            if in_session and not restarted and reply.status_code == 400 and _error_parts(reply.text) == (None, None) \
                    and not reply.text.lstrip().startswith("<"):
                # the platform's plain-text 400 to a session it no longer has (timed out, the server restarted):
                # 1C ran nothing; a new one (a web server's HTML 400 is not this)
                session.cookies.set(SESSION_COOKIE, None)
                restarted = True
                self.log.info("onec_session_restarted", resource=resource)
                continue
            try:
                decoded = self._decode(reply, resource, raw, method)
                self.longest_answered = max(self.longest_answered, len(url))
                return decoded
            except errors.OneCError as error:
                if error.retryable:
                    attempt = self._after_failure(error, attempt, repeatable, resource)
                    continue
                raise

    def close(self) -> None:
        """Ends the explicit 1C sessions this client opened (each frees a licence at once, not at its timeout)."""
        with self._sessions_lock:
            sessions = [self.session, *self._worker_sessions.values()]
        for session in sessions:
            if not session.cookies.get(SESSION_COOKIE):
                continue
            try:
                session.get(self.root, headers={"IBSession": "finish"}, timeout=self.timeout, allow_redirects=False)
            except requests.RequestException:
                pass  # it ends at its timeout
            session.cookies.set(SESSION_COOKIE, None)

    def _credentials_work(self) -> bool:
        """Whether 1C still takes the user and password (a small read any user of the base may make): a code 20 is
        then about the rights on what was asked, not a password changed while b24sync runs."""
        self._probe.on = True
        try:
            self._request("GET", "Catalog_Организации", {"$select": "Ref_Key", "$top": 1}, repeatable=True)
        except (errors.AuthError, errors.RightsError):
            return False
        except errors.OneCError:
            return True  # refused for another reason: the credentials went through
        finally:
            self._probe.on = False
        return True

    def _http(self) -> requests.Session:
        """The calling thread's HTTP session: the client's own, or a worker's (by the worker's name, so the
        workers of each cycle reuse their connections), with the same headers. Each holds an explicit 1C session
        (`IBSession: start` on its first request, its cookie after), so a worker is served by a session of its own
        rather than waiting for one of the publication's pool."""
        if threading.get_ident() == self._owner:
            return self.session
        name = threading.current_thread().name
        with self._sessions_lock:
            session = self._worker_sessions.get(name)
            if session is None:
                session = requests.Session()
                session.headers.update(self.session.headers)
                session.verify = self.session.verify
                self._worker_sessions[name] = session
        return session

    def _after_failure(self, error: errors.OneCError, attempt: int, may_repeat: bool, resource: str) -> int:
        if not may_repeat:
            raise errors.OutcomeUnknownError(
                f"1C may or may not have created {resource} ({error}); it was not repeated, and b24sync will look "
                f"for the document before trying again", resource=resource, status=error.status) from None
        if attempt >= self.max_retries:
            raise error
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** attempt)
        pause = ceiling / 2 + self.rng.uniform(0, ceiling / 2)
        self.log.info("onec_retry", resource=resource, attempt=attempt + 1, pause=round(pause, 2), reason=str(error))
        with self.gate():
            self.clock.sleep(pause)
        return attempt + 1

    def _decode(self, reply: requests.Response, resource: str, raw: bool, method: str = "GET") -> Any:
        text = reply.content.decode("utf-8", errors="replace").lstrip("\ufeff")  # UTF-8 whatever the header says
        content_type = reply.headers.get("Content-Type", "no content type")
        if reply.status_code < 300:
            self.authenticated = True
            if raw:
                return text
            if reply.status_code == 204 or not text.strip():
                return {}
            try:
                return json.loads(text)
            except ValueError:
                raise self._not_json(reply, text, content_type, resource) from None
        code, message = _error_parts(text)
        if code is None and message is None:
            if reply.status_code == 406:
                raise errors.SessionPoolError(f"1C at {self.base_label} has no free session (HTTP 406: the "
                                              f"publication's session pool is exhausted); retrying later",
                                              status=406, resource=resource)
            raise self._not_json(reply, text, content_type, resource)
        return self._raise(reply.status_code, code or "", message or "", resource, method)

    def _not_json(self, reply: requests.Response, text: str, content_type: str, resource: str) -> errors.OneCError:
        first = next((line.strip() for line in re.split(r"[\r\n]+", re.sub(r"<[^>]+>", "\n", text))
                      if line.strip()), "(empty body)")[:120]
        hint = "the web server in front of 1C answered instead of 1C"
        if reply.status_code == 200:
            hint = "a login page or a proxy answered; check 'onec.user' and 'onec.password' and the publication"
        error_type = errors.ServerError if reply.status_code >= 500 else errors.TransportError
        error = error_type(f"1C at {self.base_label} answered {resource} with HTTP {reply.status_code} and "
                           f"{content_type} instead of JSON: {first!r}; {hint}", status=reply.status_code,
                           resource=resource)
        if reply.status_code < 500:
            error.kind = Kind.ITEM  # a login page or a web server's 404 will not change by asking again
        return error

    def _raise(self, status: int, code: str, message: str, resource: str, method: str = "GET") -> Any:
        entity = resource.split("(")[0].split("/")[0]
        kwargs = {"remote_code": code, "onec_message": message, "status": status, "resource": resource}
        if code == "20" and self.authenticated and not getattr(self._probe, "on", False) \
                and "аутентификац" not in message.lower() \
                and self._credentials_work():
            # the credentials work (1C answers them still): this object, or these rows, are not the user's
            doing = "read" if method == "GET" else "change"
            error_type = errors.ObjectRightsError if "(" in resource else errors.RightsError
            raise error_type(
                f"1C user '{self.user}' has no right to {doing} {resource.split('/')[0]} («{synonym(entity)}»): "
                f"code {code}: "
                f"{message}; in 1C give this user a role that allows it (Администрирование → Настройки "
                f"пользователей и прав), or ask the 1C administrator to lift the restriction", **kwargs)
        if code in ("8", "10") or (status == 404 and "(" not in resource):
            self.on_refusal(True)
        elif method != "GET" and (code in ("4", "5") or (code == "-1" and status >= 500)):
            self.on_refusal(False)
        if status == 401 or code == "20":
            raise errors.AuthError(
                f"1C refused user '{self.user}' for {entity} (code {code}: {message}); check 'onec.user' and "
                f"'onec.password', and that this user has the rights to read and write {entity}", **kwargs)
        if status == 404 and (code == "8" or "(" not in resource):
            raise errors.NotPublishedError(
                f"1C does not publish {entity} over OData (code {code}: {message}); in 1C open Администрирование → "
                f"Общие настройки → Интеграция с другими программами → Настройка стандартного интерфейса OData "
                f"and tick «{synonym(entity)}»", **kwargs)
        if code == "9" or status == 404:
            raise errors.NotFoundError(f"1C has no {resource} (code {code}: {message})", **kwargs)
        if code == "-1" and status >= 500 and any(words in message.lower() for words in LOCK_CONFLICT):
            # the platform's lock conflict or a DBMS deadlock: the transaction was rolled back, nothing written
            raise errors.ServerError(f"1C was busy with {resource} (a lock conflict, tried again later): {message}",
                                     **kwargs)
        if code == "-1" and status >= 500 and method != "GET":
            # a write refused by the application (posting, a handler): it belongs to that one document
            raise errors.BusinessError(f"1C refused {resource}: {message}", **kwargs)
        if status >= 500:
            raise errors.ServerError(f"1C failed on {resource} (HTTP {status}, code {code}: {message})", **kwargs)
        raise errors.QueryError(f"1C could not process {resource} (HTTP {status}, code {code}: {message})", **kwargs)


def _error_parts(text: str) -> tuple[str | None, str | None]:
    """Code and message from an `odata.error` body, JSON or XML; (None, None) if the body is neither."""
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            body = json.loads(stripped)
        except ValueError:
            return None, None
        error = body.get("odata.error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            message = error.get("message")
            value = message.get("value") if isinstance(message, dict) else message
            return str(error.get("code", "")), str(value or "")
        return None, None
    if stripped.startswith("<") and "error" in stripped[:200]:
        try:
            root = ET.fromstring(stripped)
        except ET.ParseError:
            return None, None
        if root.tag.endswith("error"):
            code = next((child.text for child in root if child.tag.endswith("code")), "")
            message = next((child.text for child in root if child.tag.endswith("message")), "")
            return (code or "").strip(), (message or "").strip()
    return None, None


_SYNONYMS = {
    "Document_ЗаказКлиента": "Заказ клиента",
    "Document_СчетНаОплатуКлиенту": "Счет на оплату клиенту",
    "Document_СчетНаОплатуПокупателю": "Счет на оплату покупателю",
    "Document_РеализацияТоваровУслуг": "Реализация товаров и услуг",
    "Document_ПоступлениеБезналичныхДенежныхСредств": "Поступление безналичных денежных средств",
    "Document_ПриходныйКассовыйОрдер": "Приходный кассовый ордер",
    "Document_ПоступлениеНаРасчетныйСчет": "Поступление на расчетный счет",
    "Catalog_Номенклатура": "Номенклатура",
    "Catalog_Контрагенты": "Контрагенты",
    "Catalog_Партнеры": "Партнеры",
    "Catalog_Организации": "Организации",
    "Catalog_Склады": "Склады",
    "Catalog_Валюты": "Валюты",
    "Catalog_СоглашенияСКлиентами": "Соглашения с клиентами",
    "Catalog_ДоговорыКонтрагентов": "Договоры контрагентов",
    "Catalog_СтавкиНДС": "Ставки НДС",
    "Catalog_Пользователи": "Пользователи",
    "InformationRegister_СостоянияЗаказовКлиентов": "Состояния заказов клиентов",
    "ChartOfCharacteristicTypes_ДополнительныеРеквизитыИСведения": "Дополнительные реквизиты и сведения",
}


def synonym(entity: str) -> str:
    return _SYNONYMS.get(entity, entity.split("_", 1)[-1])
