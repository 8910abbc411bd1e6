"""The portal on the wire: routing, authentication, parameters, envelopes, limits, batch and faults."""

from __future__ import annotations

import base64
import json
import re
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, quote, unquote

from b24sync.clock import SYSTEM_CLOCK, Clock
from b24sync_emulators.bitrix24 import catalog, crm, disk, entities, events, items  # noqa: F401 - registers
from b24sync_emulators.bitrix24.limits import MethodBudget, PortalBucket
from b24sync_emulators.bitrix24.phpquery import parse_multipart, parse_str
from b24sync_emulators.bitrix24.portal import ApiError, MethodResult, Portal
from b24sync_emulators.bitrix24.registry import METHODS
from b24sync_emulators.control import HTML_502, Fault, Faults, Stats, admin_request
from b24sync_emulators.httpserver import Reply, Request

BATCH_LIMIT = 50
_REST_PATH = re.compile(r"^/rest/(?:(?P<user>\d+)/(?P<code>[^/]+)/)?(?P<method>[A-Za-z0-9_.]+?)"
                        r"(?:\.(?P<format>json|xml))?/?$")
_REFERENCE = re.compile(r"\$result\[([^\]]+)\]((?:\[[^\]]*\])*)")


def php_json(value: Any) -> bytes:
    """JSON as the portal writes it: \\uXXXX for non-ASCII, \\/ for slashes, `"` `&` `'` `<` `>` inside strings
    as \\u0022 \\u0026 \\u0027 \\u003C \\u003E (the samples show the first two; the JSON_HEX_* set is believed),
    and every array by PHP's rule (an empty one as [], one keyed 0..n-1 as a list)."""
    text = json.dumps(_php_arrays(value), ensure_ascii=True, separators=(",", ":")).replace("/", "\\/")
    return _STRING_LITERAL.sub(lambda match: _HEX_CHARACTER.sub(_hex, match.group(0)[1:-1]).join('""'),
                               text).encode("ascii")


_STRING_LITERAL = re.compile(r'"(?:[^"\\]|\\.)*"')
_HEX_CHARACTER = re.compile(r"""\\(.)|([&'<>])""")
_HEXED = {'"': "\\u0022", "&": "\\u0026", "'": "\\u0027", "<": "\\u003C", ">": "\\u003E"}


def _hex(match: re.Match[str]) -> str:
    if match.group(2):
        return _HEXED[match.group(2)]
    return _HEXED['"'] if match.group(1) == '"' else match.group(0)


def _php_arrays(value: Any) -> Any:
    if isinstance(value, dict):
        return php_map({key: _php_arrays(item) for key, item in value.items()})
    if isinstance(value, list):
        return [_php_arrays(item) for item in value]
    return value


def php_map(mapping: dict[str, Any]) -> Any:
    """An associative array in PHP's JSON: [] when empty, a list when keyed 0..n-1."""
    if not mapping:
        return []
    keys = list(mapping)
    if keys == [str(index) for index in range(len(keys))]:
        return [mapping[key] for key in keys]
    return mapping


class PortalApp:
    """Answers HTTP requests for one Portal."""

    def __init__(self, portal: Portal, *, clock: Clock | None = None, rate: float = 2.0, burst: int = 50,
                 limits: bool = True, operating_limit: float = 480.0, latency_ms: int = 0) -> None:
        self.portal = portal
        self.clock = clock or portal.clock or SYSTEM_CLOCK
        self.bucket = PortalBucket(rate, burst, self.clock, enabled=limits)
        self.budget = MethodBudget(operating_limit, self.clock, enabled=limits)
        self.operating_cost: dict[str, float] = {}
        self.latency = latency_ms / 1000.0
        self.stats = Stats()
        self.faults = Faults()

    # -- HTTP entry -------------------------------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        if request.path.startswith("/_emulator/"):
            return self._admin(request)
        if request.path.startswith("/~"):
            return self._external_download(request.path[2:])
        if request.path == "/rest/download.json":
            return self._download(request)
        match = _REST_PATH.match(request.path)
        method_name = match.group("method").lower() if match else "-"
        if request.path == "/rest/upload.json":
            method_name = "upload"
        self.stats.count("http_requests", method_name)
        if not self.bucket.admit():
            return self._error(503, "QUERY_LIMIT_EXCEEDED", "Too many requests", method_name)
        if method_name == "upload":
            return self._finish_upload(request)
        if not match:
            return self._error(404, "ERROR_METHOD_NOT_FOUND", "Method not found!", "-")
        params = self._params(request)
        code = match.group("code") if match.group("user") else params.pop("auth", None)
        if match.group("user") and match.group("user") != str(self.portal.webhook_user) or \
                code != self.portal.webhook_code:
            return self._error(401, "NO_AUTH_FOUND", "Wrong authorization data", method_name)
        params.pop("auth", None)
        fault = self.faults.pick(method_name)
        if fault is not None and fault.when == "before":
            reply = self._fault_reply(fault, method_name)
            if reply is not None:
                return reply
        if method_name == "batch":
            reply = self._batch(params)
        else:
            reply = self._single(method_name, params)
        if fault is not None:
            if fault.when == "after":
                failed = self._fault_reply(fault, method_name)
                if failed is not None:
                    return failed
            reply.delay += fault.latency_ms / 1000.0
        reply.delay += self.latency
        return reply

    def _params(self, request: Request) -> dict[str, Any]:
        params: dict[str, Any] = parse_str(request.query) if request.query else {}
        content_type = request.headers.get("content-type", "")
        if not request.body:
            return params if isinstance(params, dict) else {}
        if "application/json" in content_type:
            try:
                body = json.loads(request.body.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                body = {}  # believed: an unreadable body is treated as no parameters
            if isinstance(body, dict):
                params.update(body)
        elif "multipart/form-data" in content_type:
            fields, files = parse_multipart(request.body, content_type)
            if isinstance(fields, dict):
                params.update(fields)
            params["__files__"] = files
        else:
            body = parse_str(request.body.decode("utf-8", errors="replace"))
            if isinstance(body, dict):
                params.update(body)
        return params

    # -- one method ---------------------------------------------------------------------------

    def _time(self, started: float, finished: float, method: str | None) -> dict[str, Any]:
        info: dict[str, Any] = {
            "start": int(started), "finish": finished, "duration": finished - int(started), "processing": 0,
            "date_start": self.portal.stamp(self._moment(started)),
            "date_finish": self.portal.stamp(self._moment(finished)),
        }
        if method:
            info["operating_reset_at"] = self.budget.reset_at(method)
            info["operating"] = round(self.budget.operating(method), 6)
        return info

    def _moment(self, seconds: float) -> datetime:
        return datetime.fromtimestamp(int(seconds), UTC)

    def _run(self, method_name: str, params: dict[str, Any], *, in_batch: bool) -> MethodResult:
        """Run one method with its checks; raise ApiError for an error answer."""
        if in_batch and method_name == "batch":
            raise ApiError(405, "ERROR_BATCH_METHOD_NOT_ALLOWED", "Method is not allowed for batch usage")
        spec = METHODS.get(method_name)
        if spec is None:
            raise ApiError(404, "ERROR_METHOD_NOT_FOUND", "Method not found!")
        if in_batch and not spec.batchable:
            raise ApiError(405, "ERROR_BATCH_METHOD_NOT_ALLOWED", "Method is not allowed for batch usage")
        if spec.scope and spec.scope not in self.portal.scopes:
            raise ApiError(403, "insufficient_scope",
                           "The request requires higher privileges than provided by the webhook token")
        if self.budget.blocked(method_name):
            self.stats.count("statuses", "429")
            raise ApiError(429, "OPERATION_TIME_LIMIT", "Method is blocked due to operation time limit.")
        self.stats.count("commands", method_name)
        started = time.perf_counter()
        with self.portal.lock:
            try:
                result = spec.handler(self.portal, params)
            except (ArithmeticError, LookupError, TypeError, ValueError) as failure:
                # what a PHP fatal error looks like to a client; the counter shows it was the emulator's own fault
                self.stats.count("emulator_errors", f"{method_name}: {type(failure).__name__}")
                raise ApiError(500, "INTERNAL_SERVER_ERROR", "Internal server error") from failure
        spent = self.operating_cost.get(method_name, time.perf_counter() - started)
        self.budget.spend(method_name, spent)
        if spec.writes:
            self.stats.count("writes", method_name)
        return result

    def _single(self, method_name: str, params: dict[str, Any]) -> Reply:
        started = self.clock.time()
        try:
            outcome = self._run(method_name, params, in_batch=False)
        except ApiError as error:
            return self._error(error.status, error.code, error.description, method_name, counted=error.status != 429)
        body: dict[str, Any] = {"result": outcome.result}
        if outcome.next is not None:
            body["next"] = outcome.next
        if outcome.total is not None:
            body["total"] = outcome.total
        body["time"] = self._time(started, self.clock.time(), method_name)
        self.stats.count("statuses", "200")
        return Reply(200, php_json(body))

    def _error(self, status: int, code: Any, description: str, method: str, counted: bool = True) -> Reply:
        if counted:
            self.stats.count("statuses", str(status))
        return Reply(status, php_json({"error": code, "error_description": description}))

    # -- batch ----------------------------------------------------------------------------------

    def _batch(self, params: dict[str, Any]) -> Reply:
        started = self.clock.time()
        self.stats.add_batch()
        halt = str(params.get("halt", 0)).lower() in ("1", "true", "y")
        commands = params.get("cmd") or {}
        if isinstance(commands, list):
            commands = {str(index): item for index, item in enumerate(commands)}
        if not isinstance(commands, dict):
            return self._error(400, "ERROR_ARGUMENT", "Parameter 'cmd' must be array", "batch")
        results: dict[str, Any] = {}
        errors: dict[str, Any] = {}
        totals: dict[str, Any] = {}
        nexts: dict[str, Any] = {}
        times: dict[str, Any] = {}
        for position, (key, command) in enumerate(commands.items()):
            key = str(key)
            if position >= BATCH_LIMIT:
                errors[key] = {"error": "ERROR_BATCH_LENGTH_EXCEEDED", "error_description": "Max batch length exceeded"}
                if halt:
                    break
                continue
            method_name, _, query = str(command).partition("?")
            method_name = method_name.strip().lower()
            if method_name.endswith(".json"):
                method_name = method_name[:-5]
            command_params = self._resolve(parse_str(query), results)
            command_started = self.clock.time()
            try:
                outcome = self._run(method_name, command_params if isinstance(command_params, dict) else {},
                                    in_batch=True)
            except ApiError as error:
                # inside a batch a missing scope comes with an empty description (documented samples)
                description = "" if error.code == "insufficient_scope" else error.description
                errors[key] = {"error": error.code, "error_description": description}
                if halt:
                    break
                continue
            results[key] = outcome.result
            if outcome.total is not None:
                totals[key] = outcome.total
            if outcome.next is not None:
                nexts[key] = outcome.next
            times[key] = self._time(command_started, self.clock.time(), method_name)
        body = {
            "result": {
                "result": php_map(results), "result_error": php_map(errors), "result_total": php_map(totals),
                "result_next": php_map(nexts), "result_time": php_map(times),
            },
            "time": self._time(started, self.clock.time(), None),
        }
        self.stats.count("statuses", "200")
        return Reply(200, php_json(body))

    def _resolve(self, value: Any, results: dict[str, Any]) -> Any:
        """Substitute `$result[key][a][b]` references with earlier results (missing -> empty)."""
        if isinstance(value, dict):
            return {key: self._resolve(item, results) for key, item in value.items()}
        if isinstance(value, list):
            return [self._resolve(item, results) for item in value]
        if not isinstance(value, str) or "$result[" not in value:
            return value

        def lookup(match: re.Match[str]) -> Any:
            node: Any = results.get(match.group(1))
            for part in re.findall(r"\[([^\]]*)\]", match.group(2)):
                if isinstance(node, dict):
                    node = node.get(part)
                elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                    node = node[int(part)]
                else:
                    node = None
            return node

        whole = _REFERENCE.fullmatch(value)
        if whole:
            found = lookup(whole)
            return "" if found is None else found if isinstance(found, list | dict) else str(found)
        def text(match: re.Match[str]) -> str:
            found = lookup(match)
            return "" if found is None else str(found)

        return _REFERENCE.sub(text, value)

    # -- faults ---------------------------------------------------------------------------------

    def _fault_reply(self, fault: Fault, method_name: str) -> Reply | None:
        self.stats.count("statuses", "fault")
        if fault.drop:
            return Reply(drop=True, delay=fault.latency_ms / 1000.0)
        if fault.html:
            return Reply(fault.status, HTML_502.replace("502 Bad Gateway", f"{fault.status} Bad Gateway")
                         .encode(), "text/html", delay=fault.latency_ms / 1000.0)
        if fault.error is not None:
            reply = self._error(fault.status, fault.error, fault.description, method_name)
            reply.delay = fault.latency_ms / 1000.0
            return reply
        return None

    # -- files ----------------------------------------------------------------------------------

    def _finish_upload(self, request: Request) -> Reply:
        query = parse_qs(request.query)
        if (query.get("auth") or [""])[0] != self.portal.webhook_code:
            return self._error(401, "NO_AUTH_FOUND", "Wrong authorization data", "upload")
        token = (query.get("token") or [""])[0].removeprefix("disk|")
        params = self._params(request)
        files = params.get("__files__") or {}
        if "file" not in files:
            return self._error(400, "ERROR_ARGUMENT", "Файл не передан в поле file", "upload")
        started = self.clock.time()
        try:
            with self.portal.lock:
                record = disk.finish_upload(self.portal, token, *files["file"])
        except ApiError as error:
            return self._error(error.status, error.code, error.description, "upload")
        self.stats.count("writes", "disk.folder.uploadfile")
        return Reply(200, php_json({"result": record, "time": self._time(started, self.clock.time(),
                                                                         "disk.folder.uploadfile")}))

    def _file_reply(self, file_id: int | None) -> Reply:
        if file_id is None or file_id not in self.portal.files:
            return Reply(404, b"<html><body>File not found</body></html>", "text/html")
        name = self.portal.files[file_id]["NAME"]
        content_type = "application/pdf" if name.lower().endswith(".pdf") else "application/octet-stream"
        return Reply(200, self.portal.file_content[file_id], content_type,
                     {"Content-Disposition": f"attachment; filename*=UTF-8''{_quote(name)}"})

    def _external_download(self, token: str) -> Reply:
        return self._file_reply(self.portal.external_links.get(unquote(token)))

    def _download(self, request: Request) -> Reply:
        token = (parse_qs(request.query).get("token") or [""])[0].removeprefix("disk|")
        try:
            decoded = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
            file_id = int(dict(part.split("=", 1) for part in decoded.split("&"))["id"])
        except (ValueError, KeyError):
            file_id = None
        return self._file_reply(file_id)

    # -- admin ----------------------------------------------------------------------------------

    def _admin(self, request: Request) -> Reply:
        path = request.path.removeprefix("/_emulator/").rstrip("/")
        shared = admin_request(path, request.method, request.body, self.stats, self.faults)
        if shared is not None:
            return Reply(shared[0], json.dumps(shared[1], ensure_ascii=False).encode())
        try:
            payload = json.loads(request.body.decode("utf-8")) if request.body else {}
        except ValueError:
            return Reply(400, b'{"error":"body must be JSON"}')
        if path == "limits" and request.method == "POST":
            if "enabled" in payload:
                self.bucket.enabled = self.budget.enabled = bool(payload["enabled"])
            if "rate" in payload:
                self.bucket.rate = float(payload["rate"])
            if "burst" in payload:
                self.bucket.burst = int(payload["burst"])
            if "operating_limit" in payload:
                self.budget.limit = float(payload["operating_limit"])
            for name, seconds in (payload.get("operating_cost") or {}).items():
                self.operating_cost[name.lower()] = float(seconds)
            return Reply(200, b'{"ok":true}')
        return Reply(404, b'{"error":"unknown admin endpoint"}')


class MovedApp:
    """The old address of a renamed portal: every request is answered 302 to the new host."""

    def __init__(self, new_root: str) -> None:
        self.new_root = new_root.rstrip("/")
        self.requests = 0

    def handle(self, request: Request) -> Reply:
        self.requests += 1
        location = self.new_root + request.path + (f"?{request.query}" if request.query else "")
        return Reply(302, b"", "text/html", {"Location": location})


def _quote(name: str) -> str:
    return quote(name, safe="")
