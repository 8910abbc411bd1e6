"""The 1C base on the wire: the standard OData interface, Basic auth, errors, faults and quirks."""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, unquote
from xml.sax.saxutils import escape

from b24sync.clock import SYSTEM_CLOCK, Clock
from b24sync_emulators.control import Fault, Faults, Stats, admin_request
from b24sync_emulators.httpserver import Reply, Request
from b24sync_emulators.onec import atom, metadata
from b24sync_emulators.onec.base import Base
from b24sync_emulators.onec.latency import Latency, LatencyProfile
from b24sync_emulators.onec.query import (
    QueryError,
    Scope,
    bad_guid,
    compile_filter,
    not_found,
    not_published,
    resolve_path,
)
from b24sync_emulators.onec.render import Renderer
from b24sync_emulators.onec.schema import (
    BP30_PRICES,
    GUID,
    GUID_PATTERN,
    SETTLEMENT_BALANCE,
    UT11_PRICES,
    Entity,
    Prop,
)

ROOT_SUFFIX = "/odata/standard.odata"
_KEY = re.compile(r"^(?P<set>[^(/]+)(?:\((?:Ref_Key=)?guid'(?P<ref>[^']*)'\))?(?:/(?P<tail>.*))?$")
_ROW_KEY = re.compile(r"^(?P<set>[^(/]+)\(Ref_Key=guid'(?P<ref>[^']*)',\s*LineNumber=(?P<line>\d+)L?\)$")
_VIRTUAL = re.compile(r"^(?P<set>(?:AccumulationRegister|InformationRegister|AccountingRegister)_[^/(]+)/"
                      r"(?P<table>Balance|Turnovers|BalanceAndTurnovers|SliceLast|SliceFirst)(?:\((?P<params>.*)\))?$")
_REGISTER_KEY = re.compile(r"^(?P<set>[^(/]+)\((?P<params>\w+=.*)\)$")
IIS_404 = ("<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Strict//EN\"><html><head><title>404 - Файл или каталог не "
           "найден.</title></head><body><h2>404 - Файл или каталог не найден.</h2></body></html>")
AUTH_HTML = "<html><head><title>Вход в 1С:Предприятие</title></head><body>Требуется авторизация</body></html>"


def access_denied() -> QueryError:
    """Row-level security refused a row to a user whose credentials were accepted (code 20, ODATA.md §8)."""
    return QueryError(401, "20", "Нарушение прав доступа")


def odata_error(status: int, code: str, message: str, as_json: bool = True) -> Reply:
    if as_json:
        body = json.dumps({"odata.error": {"code": code, "message": {"lang": "ru", "value": message}}},
                          ensure_ascii=False).encode("utf-8")
        return Reply(status, body, "application/json;charset=utf-8", {"DataServiceVersion": "3.0"})
    body = ('<?xml version="1.0" encoding="utf-8"?>\r\n<m:error xmlns:m="http://schemas.microsoft.com/ado/2007/08/'
            f'dataservices/metadata">\r\n<m:code>{escape(code)}</m:code>\r\n<m:message>{escape(message)}'
            '</m:message>\r\n</m:error>').encode()
    return Reply(status, body, "application/xml;charset=utf-8", {"DataServiceVersion": "3.0"})


class OneCApp:
    """Answers HTTP requests for one Base published at /{publication}/odata/standard.odata/."""

    def __init__(self, base: Base, *, publication: str = "trade", user: str = "odata.user", password: str = "",
                 clock: Clock | None = None, latency_ms: int = 0, latency: LatencyProfile | None = None) -> None:
        self.base = base
        self.publication = publication.strip("/")
        self.user = user
        self.password = password
        self.clock = clock or base.clock or SYSTEM_CLOCK
        self.latency = latency_ms / 1000.0
        self.profile_latency = Latency(latency) if latency is not None else None  # a real base's pace
        self.wait: Callable[[float], None] = time.sleep  # the server's own wait, which a shutdown cuts short
        self.stats = Stats()
        self.faults = Faults()
        self.settings: dict[str, Any] = {"cold_start_ms": 0, "idle_seconds": 20.0, "pool_exhausted": False,
                                         "charset": "utf-8", "auth_html": False, "first_hit_500": False,
                                         # row-level security: entity set -> the refs this user may not read
                                         "restricted": {},
                                         # taken out of the OData composition by the 1C administrator (the
                                         # publication's «Настройка стандартного интерфейса OData»), while running
                                         "unpublished": [],
                                         "max_url": 2048,  # the longest request line the web server takes
                                         "password": ""}  # set: the user's password changed (rotated) to this
        self.last_request: float | None = None
        self.host = "127.0.0.1"
        self.sessions: set[str] = set()
        self.pdf_renderer: Any = None  # set by the invoice-printing service when it is published
        # sets the base does not store: tabular sections (Document_X_Товары), virtual tables (…/Balance)
        self._synthetic: dict[str, Callable[[], list[dict[str, Any]]]] = {}
        self.renderer = Renderer(base, self._url)
        # the current request's answer format (requests are served one at a time under the base lock)
        self._as_json = True
        self._no_metadata = False
        self.on_write: Any = None  # a test hook: called with the entity name after each write is stored

    @property
    def root_path(self) -> str:
        return f"/{self.publication}{ROOT_SUFFIX}/"

    # -- entry --------------------------------------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        if request.path.startswith("/_emulator/"):
            return self._admin(request)
        raw_target = request.path + (f"?{request.query}" if request.query else "")
        if len(raw_target) > self.settings["max_url"]:  # IIS maxQueryString (2048 by default), or a proxy's limit
            self.stats.count("statuses", "404")
            return Reply(404, IIS_404.encode("utf-8"), "text/html; charset=utf-8")
        path = unquote(request.path)
        self.host = request.headers.get("host", "127.0.0.1")
        fmt = next((unquote(pair.partition("=")[2]) for pair in request.query.split("&")
                    if unquote(pair.partition("=")[0]) == "$format"), "")
        as_json = fmt.startswith(("json", "application/json")) or (
            not fmt and "application/json" in request.headers.get("accept", ""))
        if fmt and not as_json and fmt not in ("atom", "xml", "application/atom+xml", "application/xml"):
            # only JSON and Atom are served (ODATA.md §3); another representation is refused with code 3
            return odata_error(400, "3", f"Тип представления «{fmt}» не поддерживается", False)
        self.stats.count("http_requests", self._label(path))
        if not self._authorised(request):
            if self.settings["auth_html"]:
                return Reply(200, AUTH_HTML.encode("utf-8"), "text/html; charset=utf-8")
            reply = odata_error(401, "20", "Нарушение прав доступа: пользователь не прошел аутентификацию", as_json)
            reply.headers["WWW-Authenticate"] = 'Basic realm="1C:Enterprise"'
            self.stats.count("statuses", "401")
            return reply
        session_reply, new_cookie = self._explicit_session(request)
        if session_reply is not None:
            return session_reply
        delay = self._session_delay()
        if self.settings["pool_exhausted"]:
            self.stats.count("statuses", "406")
            return Reply(406, "Превышено максимальное количество сеансов в пуле".encode(), "text/plain; charset=utf-8")
        if self.settings["first_hit_500"]:
            self.settings["first_hit_500"] = False
            return odata_error(500, "-1", "Ошибка при начале сеанса: информационная база недоступна", as_json)
        fault = self.faults.pick(self._label(path), request.method, unquote(request.query))
        if fault is not None and fault.when == "before":
            reply = self._fault(fault, as_json)
            if reply is not None:
                return reply
        if self.profile_latency is None:
            reply = self._serve(request, path, fmt, as_json)
        else:  # one request at a time per session, each as long as on a real base: a write is seen when it answers
            cookie = re.search(r"ibsession=([\w-]+)", request.headers.get("cookie", ""))
            action = path.rstrip(")").rstrip("(").rsplit("/", 1)[-1]
            with self.profile_latency.session(cookie.group(1) if cookie else None):
                self.wait(self.profile_latency.delay(request.method, action, 0))
                reply = self._serve(request, path, fmt, as_json)
                if request.method == "GET":  # a read takes longer the more it returns
                    self.wait(self.profile_latency.size_delay(len(reply.body)))
        if fault is not None and fault.when == "after":
            failed = self._fault(fault, as_json)
            if failed is not None:
                return failed
        reply.delay += delay + self.latency + (fault.latency_ms / 1000.0 if fault else 0)
        if new_cookie:
            reply.headers["Set-Cookie"] = new_cookie
        if self.settings["charset"] != "utf-8" and reply.content_type.startswith("application/json"):
            reply.content_type = f"application/json;charset={self.settings['charset']}"  # the body stays UTF-8
        self.stats.count("statuses", str(reply.status))
        return reply

    def _serve(self, request: Request, path: str, fmt: str, as_json: bool) -> Reply:
        try:
            with self.base.lock:
                self._as_json = as_json
                self._no_metadata = "odata=nometadata" in fmt.replace(" ", "") or \
                    "odata=nometadata" in request.headers.get("accept", "").replace(" ", "")
                return self._route(request, path)
        except QueryError as error:
            return odata_error(error.status, error.code, error.message, as_json)

    def _label(self, path: str) -> str:
        tail = path.removeprefix(self.root_path)
        match = _KEY.match(tail)
        return match.group("set") if match and tail else "(root)"

    def _authorised(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("basic "):
            return False
        try:
            decoded = base64.b64decode(header[6:].strip()).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, _, password = decoded.partition(":")
        return user == self.user and password == (self.settings["password"] or self.password)

    def _explicit_session(self, request: Request) -> tuple[Reply | None, str | None]:
        """`IBSession: start` opens a session (the cookie to set is returned); `finish` ends it; a cookie of an
        unknown or finished session is a 400 (ODATA.md §1)."""
        cookie = re.search(r"ibsession=([\w-]+)", request.headers.get("cookie", ""))
        header = request.headers.get("ibsession", "").lower()
        with self.base.lock:
            if cookie and cookie.group(1) not in self.sessions:
                self.stats.count("statuses", "400")
                return Reply(400, "Сеанс не найден".encode(), "text/plain; charset=utf-8"), None
            if header == "start":
                session_id = self.base.new_ref()
                self.sessions.add(session_id)
                self.stats.count("sessions", "started")
                return None, f"ibsession={session_id}; path=/"
            if header == "finish" and cookie:
                self.sessions.discard(cookie.group(1))
                self.stats.count("sessions", "finished")
        return None, None

    def _session_delay(self) -> float:
        """The first request after the session pool went idle pays for starting a session."""
        now = time.monotonic()
        idle = self.last_request is None or now - self.last_request > self.settings["idle_seconds"]
        self.last_request = now
        return self.settings["cold_start_ms"] / 1000.0 if idle else 0.0

    def _fault(self, fault: Fault, as_json: bool) -> Reply | None:
        if fault.drop:
            return Reply(drop=True)
        if fault.html:
            return Reply(fault.status, f"<html><body><h1>{fault.status}</h1>Service unavailable</body></html>"
                         .encode(), "text/html")
        if fault.error is not None:
            return odata_error(fault.status, fault.error, fault.description, as_json)
        return None

    # -- routing -------------------------------------------------------------------------------------

    def _route(self, request: Request, path: str) -> Reply:
        hs_prefix = f"/{self.publication}/hs/"
        if path.startswith(hs_prefix):
            return self._http_service(request, path.removeprefix(hs_prefix))
        if not path.startswith(self.root_path.rstrip("/")):
            return Reply(404, IIS_404.encode("utf-8"), "text/html; charset=utf-8")
        tail = path.removeprefix(self.root_path.rstrip("/")).lstrip("/")
        options = self._options(request.query)
        if tail == "":
            return self._json({"odata.metadata": self._url("$metadata"), "value": [
                {"name": name, "url": name} for name in self._published()]})
        if tail == "$metadata":
            return Reply(200, metadata.render(self._published()).encode("utf-8"), "application/xml;charset=utf-8",
                         {"DataServiceVersion": "3.0"})
        virtual = _VIRTUAL.match(tail)
        if virtual is not None:
            return self._virtual_table(virtual, options)
        register_key = _REGISTER_KEY.match(tail)
        if register_key is not None and register_key.group("set").startswith(("InformationRegister_",
                                                                              "AccumulationRegister_")):
            return self._register_record(register_key.group("set"), register_key.group("params"), options)
        row_key = _ROW_KEY.match(tail)
        if row_key is not None:
            return self._table_row(row_key, options)
        match = _KEY.match(tail)
        if not match:
            raise QueryError(400, "6", f"Неверный URL: {tail}")
        set_name, ref, action = match.group("set"), match.group("ref"), match.group("tail")
        if ref is not None and not GUID_PATTERN.match(ref):
            raise bad_guid(ref)
        rows_entity = self._table_view(set_name)
        if rows_entity is not None:
            if request.method != "GET":
                raise QueryError(400, "13", "Создание строк табличной части напрямую не поддерживается")
            if action == "$count" and ref is None:
                return Reply(200, f"\ufeff{len(self._select_records(rows_entity, options))}".encode(),
                             "text/plain;charset=utf-8")
            if action or ref is not None:
                raise QueryError(400, "6", f"Неверный URL: {tail}")
            return self._list(rows_entity, options)
        entity = self._published().get(set_name)
        if entity is None:
            raise not_published(set_name)
        if ref is None and action not in (None, "", "$count"):
            raise QueryError(400, "6", f"Неверный URL: неизвестный сегмент «{action}»")
        if options.get("$expand"):
            for name in (item.strip().split("/")[0] for item in options["$expand"].split(",")):
                if name != "*" and entity.prop(f"{name}_Key") is None and entity.prop(name) is None:
                    raise QueryError(400, "10", f"Свойство «{name}» не найдено")
        if ref is None:
            if action == "$count":
                records = self._select_records(entity, options)
                return Reply(200, f"\ufeff{len(records)}".encode(), "text/plain;charset=utf-8")
            if request.method == "GET":
                return self._list(entity, options)
            if request.method == "POST":
                if entity.computed:
                    raise QueryError(400, "19", "Метод HTTP не разрешен для этого ресурса")
                created = self.base.create(entity.name, self._body(request))
                self._written(entity.name)
                reply = self._json(self.renderer.entity(entity, created, element=True), 201)
                location = self._url(f"{entity.name}(guid'{created['Ref_Key']}')")
                reply.headers["Location"] = location.encode("utf-8").decode("latin-1")  # raw UTF-8 on the wire
                return reply
            raise QueryError(400, "19", "Метод HTTP не разрешен для этого ресурса")
        record = self.base.get(entity.name, ref)
        if options.get("$expand") and not action:
            # ODATA.md §5: `$expand` is not available on a single-entity request (documented, code assumed)
            raise QueryError(400, "0", "Возможность не поддерживается: $expand для одного экземпляра сущности")
        if record is not None and self._hidden(entity.name, record):
            raise access_denied()
        if action in ("Post", "Post()", "Unpost", "Unpost()"):
            if request.method not in ("POST", "GET"):
                raise QueryError(400, "19", "Метод HTTP не разрешен для этого ресурса")
            if request.method == "POST" and "content-length" not in request.headers:
                return Reply(411, b"<html><body>411 Length Required</body></html>", "text/html")
            handler = self.base.post if action.startswith("Post") else self.base.unpost
            handler(entity.name, ref)
            self._written(f"{entity.name}/{action.rstrip('()')}")
            return Reply(200, b"", "application/json;charset=utf-8", {"DataServiceVersion": "3.0"})
        if record is None:
            raise not_found(entity.name)
        if action:
            return self._navigate(entity, record, action)
        if request.method == "GET":
            return self._json(self.renderer.entity(entity, record, element=True, select=options.get("$select")))
        if request.method in ("PATCH", "PUT", "MERGE"):
            # If-Match is ignored, as live; PUT replaces every property, PATCH only those sent
            updated = self.base.update(entity.name, ref, self._body(request), replace=request.method == "PUT")
            self._written(entity.name)
            return self._json(self.renderer.entity(entity, updated, element=True))
        if request.method == "DELETE":
            del self.base.records[entity.name][ref.lower()]
            self.stats.count("writes", entity.name)
            return Reply(204, b"", "application/json;charset=utf-8")
        raise QueryError(400, "19", "Метод HTTP не разрешен для этого ресурса")

    def _written(self, what: str) -> None:
        self.stats.count("writes", what)
        if self.on_write is not None:
            self.on_write(what)

    def _body(self, request: Request) -> Any:
        try:
            return json.loads(request.body.decode("utf-8")) if request.body else {}
        except (UnicodeDecodeError, ValueError):
            raise QueryError(500, "-1", "Непредвиденный символ при чтении JSON") from None

    def _options(self, query: str) -> dict[str, str]:
        options: dict[str, str] = {}
        for pair in query.split("&") if query else []:
            key, _, value = pair.partition("=")
            key = unquote(key)
            if key == "$filter" and "+" in _outside_literals(value):
                # `+` is not decoded as a space: the query engine then sees a `+` where it expects an operator
                raise QueryError(500, "-1", "Операция не разрешена в предложении \"ГДЕ\"")
            options[key] = unquote(value)
        return options

    def _url(self, tail: str) -> str:
        return f"http://{self.host}/{self.publication}{ROOT_SUFFIX}/{tail}"

    def _json(self, payload: Any, status: int = 200) -> Reply:
        """The answer in JSON, or in Atom (the platform's default) when the client asked for neither."""
        if not self._as_json:
            body, content_type = atom.render(payload, self._url(""), self.base.now())
            return Reply(status, body.encode("utf-8"), content_type, {"DataServiceVersion": "3.0"})
        if self._no_metadata:  # `$format=application/json;odata=nometadata`: the data alone
            payload = _without_metadata(payload)
        return Reply(status, json.dumps(payload, ensure_ascii=False).encode("utf-8"),
                     "application/json;charset=utf-8", {"DataServiceVersion": "3.0"})

    # -- reading ---------------------------------------------------------------------------------------

    def _scope(self, entity: Entity, record: dict[str, Any]) -> Scope:
        return Scope(record, entity, self.base.entities, lambda name, ref: self.base.get(name, ref), {})

    def _records(self, entity: Entity) -> list[dict[str, Any]]:
        if entity.name in self._synthetic:
            return self._synthetic[entity.name]()
        if entity.computed:
            return self.base.register_rows(entity.name)
        return list(self.base.records[entity.name].values())

    def _hidden(self, set_name: str, record: dict[str, Any]) -> bool:
        """A row this user may not read (row-level security; a tabular section's rows follow their document)."""
        owner = next((name for name in self.settings["restricted"] if set_name.startswith(f"{name}_")), set_name)
        hidden = {str(ref).lower() for ref in self.settings["restricted"].get(owner, ())}
        return bool(hidden) and str(record.get("Ref_Key", "")).lower() in hidden

    def _select_records(self, entity: Entity, options: dict[str, str]) -> list[dict[str, Any]]:
        chain = _chain_asked(options.get("$filter", "")) if entity.name in self.base.records else None
        plain = {name for prop in entity.props if prop.kind in ("plain", "ref") for name in prop.wire_names}
        if chain is not None and chain[0] in plain | {"Ref_Key"}:  # an or-chain on one field: as an index picks
            field, values = chain
            records = [record for record in self.base.records[entity.name].values()
                       if str(record.get(field) or "").casefold() in values]
        else:
            records = self._records(entity)
        if options.get("$filter"):
            condition = compile_filter(options["$filter"], entity, self.base.entities)
            records = [record for record in records if condition(self._scope(entity, record))]
        if any(self._hidden(entity.name, record) for record in records):
            # ODATA.md §5: a listing that touches a hidden row fails, unless allowedOnly drops such rows
            if str(options.get("allowedOnly", options.get("$allowedOnly", ""))).lower() != "true":
                raise access_denied()
            records = [record for record in records if not self._hidden(entity.name, record)]
        if options.get("$orderby"):
            for clause in reversed([part.strip() for part in options["$orderby"].split(",") if part.strip()]):
                name, _, direction = clause.partition(" ")
                if direction.strip().lower() not in ("", "asc", "desc"):
                    raise QueryError(400, "14", f"Ошибка при разборе опции запроса $orderby: «{clause}»")
                segments = name.strip().split("/")
                if entity.prop(segments[0]) is None and entity.prop(segments[0] + "_Key") is None:
                    raise QueryError(400, "10", f"Свойство «{name}» не найдено")

                def key(record: dict[str, Any], segments: list[str] = segments) -> tuple[int, Any]:
                    value = resolve_path(self._scope(entity, record), segments)
                    value = getattr(value, "value", value)
                    return (0, "") if value is None else (1, value)

                records.sort(key=key, reverse=direction.strip().lower() == "desc")
        return records

    def _list(self, entity: Entity, options: dict[str, str]) -> Reply:
        records = self._select_records(entity, options)
        payload: dict[str, Any] = {"odata.metadata": self._url(f"$metadata#{entity.name}")}
        if options.get("$inlinecount") == "allpages":
            payload["odata.count"] = str(len(records))  # and paging is ignored, as the platform documents
        else:
            try:
                skip = int(options.get("$skip") or 0)
                top = int(options["$top"]) if options.get("$top") is not None else None
            except ValueError:
                raise QueryError(400, "14", "Ошибка при разборе опции запроса $top/$skip") from None
            if skip < 0 or (top is not None and top < 0):
                raise QueryError(400, "14", "Ошибка при разборе опции запроса $top/$skip")
            records = records[skip:skip + top] if top is not None else records[skip:]
        if options.get("$select"):
            expanded = self.renderer.expanded(entity, options.get("$expand"))
            self.renderer.check_select(entity, options["$select"], expanded)
        payload["value"] = [self.renderer.entity(entity, record, select=options.get("$select"),
                                                 expand=options.get("$expand")) for record in records]
        return self._json(payload)

    def _navigate(self, entity: Entity, record: dict[str, Any], action: str) -> Reply:
        """A path through references: `.../Валюта` (the referenced object) or `.../Валюта/Description` (a value)."""
        segments = [segment for segment in action.split("/") if segment]
        for position, name in enumerate(segments):
            prop = entity.prop(f"{name}_Key")
            if prop is None or prop.kind != "ref":
                if position == len(segments) - 1 and name in record:
                    return self._json({"odata.metadata": self._url(f"$metadata#{entity.name}/{name}"),
                                       "value": record[name]})
                raise QueryError(400, "10", f"Свойство «{name}» не найдено")
            target = self.base.get(prop.target or "", record.get(f"{name}_Key", ""))
            if target is None or (prop.target or "") not in self.base.entities:
                raise not_found(prop.target)
            entity, record = self.base.entities[prop.target or ""], target
        return self._json(self.renderer.entity(entity, record, element=True))

    def _table_view(self, set_name: str) -> Entity | None:
        """`Document_X_Товары`: a tabular section published as a read-only set keyed by Ref_Key and LineNumber."""
        for entity in self.base.entities.values():
            for table in entity.tables:
                if set_name == f"{entity.name}_{table.name}":
                    self._synthetic[set_name] = lambda owner=entity.name, name=table.name: [
                        row for record in self.base.records.get(owner, {}).values() for row in record.get(name, [])]
                    return Entity(set_name, (Prop("Ref_Key", GUID), *table.props), computed=True)
        return None

    def _table_row(self, key: re.Match[str], options: dict[str, str]) -> Reply:
        entity = self._table_view(key.group("set"))
        if entity is None:
            raise not_published(key.group('set'))
        if not GUID_PATTERN.match(key.group("ref")):
            raise bad_guid(key.group("ref"))
        row = next((row for row in self._records(entity) if row["Ref_Key"] == key.group("ref").lower()
                    and str(row["LineNumber"]) == key.group("line")), None)
        if row is None:
            raise not_found(entity.name)
        return self._json(self.renderer.entity(entity, row, element=True, select=options.get("$select")))

    def _register_record(self, set_name: str, params: str, options: dict[str, str]) -> Reply:
        """`InformationRegister_X(Заказ_Key=guid'…')`: one register record addressed by its dimensions."""
        entity = self._published().get(set_name)
        if entity is None:
            raise not_published(set_name)
        wanted = {}
        for name, raw in _parameters(params).items():
            literal = re.fullmatch(r"(?:guid|datetime)'([^']*)'", raw)
            value = literal.group(1) if literal else raw
            if raw.startswith("guid'") and not GUID_PATTERN.match(value):
                raise bad_guid(value)
            if name not in self.base.blank(entity):
                raise QueryError(400, "6", f"Неверный URL: {set_name}({params})")
            wanted[name] = value.lower() if raw.startswith("guid'") else value
        record = next((record for record in self._records(entity)
                       if all(str(record.get(name, "")).lower() == str(value).lower()
                              for name, value in wanted.items())), None)
        if record is None:
            raise not_found(set_name)
        return self._json(self.renderer.entity(entity, record, element=True, select=options.get("$select")))

    def _virtual_table(self, match: re.Match[str], options: dict[str, str]) -> Reply:
        """`Register/Balance(Period=…, Condition='…')` (or `Balance?Condition=…`): the register's balances now."""
        set_name, table = match.group("set"), match.group("table")
        register = set_name.removesuffix("_RecordType")  # a subordinate register is named with it (the guide)
        if register not in self._published():
            raise not_published(set_name)
        if (register, table) not in (
                ("AccumulationRegister_РасчетыСКлиентами", "Balance"), ("InformationRegister_ЦеныНоменклатуры",
                                                                       "SliceLast")):
            raise QueryError(400, "6", f"Неверный URL: виртуальная таблица {table} регистра {set_name} не опубликована")
        parameters = {**{key: value for key, value in options.items() if key in ("Period", "Condition")},
                      **_parameters(match.group("params") or "")}
        if table == "SliceLast":
            entity = UT11_PRICES if self.base.profile.name == "ut11" else BP30_PRICES
            period = parameters.get("Period", "").removeprefix("datetime").strip("'") or None
            rows = self.base.prices_slice_last(period)
        else:
            entity = SETTLEMENT_BALANCE
            rows = self.base.settlement_balance()
        if parameters.get("Condition"):
            condition = compile_filter(parameters["Condition"], entity, self.base.entities)
            rows = [row for row in rows if condition(self._scope(entity, row))]
        self._synthetic[entity.name] = lambda: rows
        return self._list(entity, options)

    # -- the HTTP service for printed invoices -------------------------------------------------------------

    def _http_service(self, request: Request, tail: str) -> Reply:
        match = re.fullmatch(r"b24sync/v1/invoices/([0-9a-fA-F-]{36})/pdf", tail)
        if self.pdf_renderer is None or not match:
            return Reply(404, b"", "text/plain; charset=utf-8")
        if request.method != "GET":
            return Reply(405, b"", "text/plain; charset=utf-8")
        try:
            content = self.pdf_renderer(self.base, match.group(1).lower())
        except LookupError as error:
            return Reply(404, json.dumps({"error": {"code": "not_found", "message": str(error)}},
                                         ensure_ascii=False).encode("utf-8"), "application/json;charset=utf-8")
        return Reply(200, content, "application/pdf")

    def _published(self) -> dict[str, Any]:
        """The entities in the OData composition now."""
        taken_out = set(self.settings["unpublished"])
        return {name: entity for name, entity in self.base.entities.items() if name not in taken_out}

    # -- admin --------------------------------------------------------------------------------------------

    def _admin(self, request: Request) -> Reply:
        path = request.path.removeprefix("/_emulator/").rstrip("/")
        shared = admin_request(path, request.method, request.body, self.stats, self.faults)
        if shared is not None:
            return Reply(shared[0], json.dumps(shared[1], ensure_ascii=False).encode())
        try:
            payload = json.loads(request.body.decode("utf-8")) if request.body else {}
        except ValueError:
            return Reply(400, b'{"error":"body must be JSON"}')
        if path == "sessions" and request.method == "DELETE":  # the 1C server restarted: every session ended
            with self.base.lock:
                ended = len(self.sessions)
                self.sessions.clear()
            return Reply(200, json.dumps({"ended": ended}).encode())
        if path == "settings" and request.method == "POST":
            unknown = set(payload) - set(self.settings)
            if unknown:
                return Reply(400, json.dumps({"error": f"unknown settings: {sorted(unknown)}; known: "
                                                       f"{sorted(self.settings)}"}).encode())
            self.settings.update(payload)
            return Reply(200, json.dumps(self.settings).encode())
        return Reply(404, b'{"error":"unknown admin endpoint"}')


_TERM = re.compile(r"(\w+) eq (?:guid'([0-9a-fA-F-]{36})'|'((?:[^']|'')*)')")


def _chain_asked(text: str) -> tuple[str, set[str]] | None:
    """(field, values) of a filter that starts with a parenthesised `or` chain of `Field eq guid'…'` or
    `Field eq '…'` terms on one field (the rest joined by `and`), the values casefolded; else None. Only narrows
    what the whole filter is then applied to."""
    text = text.strip()
    if not text.startswith("("):
        return None
    depth, end = 0, -1
    quoted = False
    for position, char in enumerate(text):
        if char == "'":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
            if depth == 0:
                end = position
                break
    rest = text[end + 1:].strip() if end > 0 else None
    if rest is None or (rest and not rest.startswith("and ")):
        return None
    found = [_TERM.fullmatch(term.strip()) for term in text[1:end].split(" or ")]
    if not all(found) or len({match.group(1) for match in found if match}) != 1:
        return None
    values = {(match.group(2) or (match.group(3) or "").replace("''", "'")).casefold() for match in found if match}
    return found[0].group(1), values


def _without_metadata(payload: Any) -> Any:
    """The answer with `odata.metadata` and the navigation links left out (odata.count stays)."""
    if isinstance(payload, list):
        return [_without_metadata(item) for item in payload]
    if not isinstance(payload, dict):
        return payload
    return {key: _without_metadata(value) for key, value in payload.items()
            if key != "odata.metadata" and not key.endswith("@navigationLinkUrl")}


def _parameters(text: str) -> dict[str, str]:
    """A virtual table's parameters, `Period=datetime'…', Condition='…'`, with doubled quotes undone."""
    found: dict[str, str] = {}
    for match in re.finditer(r"\s*(\w+)\s*=\s*('(?:[^']|'')*'|[^,]+)\s*(?:,|$)", text):
        value = match.group(2).strip()
        if value.startswith("'") and value.endswith("'"):
            value = value[1:-1].replace("''", "'")
        found[match.group(1)] = value
    return found


def _outside_literals(raw: str) -> str:
    """The query text (`+` left as it is) without its quoted literals: a `+` inside a string is an ordinary
    character, while outside one it is the form-encoded space the platform does not decode."""
    return re.sub(r"'(?:[^']|'')*'", "", unquote(raw))


def entity_url(root: str, entity_name: str, ref: str | None = None) -> str:
    """A percent-encoded URL of an entity set or one entity (for tests and the accountant's scripts)."""
    tail = quote(entity_name) + (f"(guid'{ref}')" if ref else "")
    return f"{root.rstrip('/')}/{tail}"
