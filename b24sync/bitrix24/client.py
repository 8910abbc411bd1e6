"""The Bitrix24 REST client: one session, paced, retried where that is safe, with typed errors.

Calls go as JSON POSTs to the webhook URL. Every request first takes a slot in
the process-wide leaky bucket and respects the method's time budget. Reads,
updates and other repeatable calls are retried with backoff on 5xx, rate limits
and network failures; a call that creates something is retried only when the
portal provably did not run it (503 rate limit, 429, connection refused), and
otherwise raises OutcomeUnknownError instead of risking a duplicate.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

from b24sync import __version__
from b24sync.bitrix24 import errors
from b24sync.bitrix24.throttle import UNLIMITED, LeakyBucket, OperatingBudget, shared_bucket
from b24sync.bitrix24.wire import as_map, chunked, parse_datetime, php_query
from b24sync.clock import SYSTEM_CLOCK, Clock
from b24sync.logs import get_logger
from b24sync.redaction import redact, register_secret

BATCH_LIMIT = 50
PAGE_SIZE = 50

# The last segment of a method name that creates something: repeating it blindly could duplicate.
_UNSAFE_ACTIONS = ("add", "uploadfile", "upload", "addfolder", "addsubfolder", "copyto", "uploadversion",
                   "addfile", "bind")


def is_repeatable(method: str) -> bool:
    """Whether running `method` twice has the same effect as once (reads, updates, sets)."""
    action = method.lower().rsplit(".", 1)[-1]
    return not any(action == unsafe or action.startswith("add") for unsafe in _UNSAFE_ACTIONS)


@dataclass
class Response:
    """One successful answer: `result`, and for lists `total` and `next`; `time` as the portal sent it."""

    result: Any
    total: int | None = None
    next: int | None = None
    time: dict[str, Any] = field(default_factory=dict)


@dataclass
class BatchResult:
    """Per-command outcomes of one or more batch requests, keyed by the caller's command keys."""

    results: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, errors.Bitrix24Error] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)
    nexts: dict[str, int] = field(default_factory=dict)
    times: dict[str, dict[str, Any]] = field(default_factory=dict)
    time: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str) -> Any:
        """The result of one command, or raise its error."""
        if key in self.errors:
            raise self.errors[key]
        if key not in self.results:
            raise errors.Bitrix24Error(f"batch command {key!r} returned nothing (a halted batch skips "
                                       f"the commands after the first error)")
        return self.results[key]


class Bitrix24Client:
    """Talks to one portal through an incoming webhook."""

    def __init__(
        self,
        webhook_url: str,
        *,
        rate: float = 2.0,
        burst: int = 50,
        throttle: bool = True,
        connect_timeout: float = 10.0,
        read_timeout: float = 75.0,
        max_retries: int = 5,
        backoff_base: float = 1.0,
        backoff_cap: float = 60.0,
        max_method_pause: float = 5.0,
        verify: bool | str = True,
        clock: Clock = SYSTEM_CLOCK,
        session: requests.Session | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.base_url = webhook_url if webhook_url.endswith("/") else webhook_url + "/"
        path = [segment for segment in urlsplit(self.base_url).path.split("/") if segment]
        if len(path) >= 2:
            register_secret(path[-1])
        self.clock = clock
        self.bucket: LeakyBucket | Any = (
            # a tenth of the burst kept free: requests bunch up on the way, and the portal counts their arrival
            shared_bucket(urlsplit(self.base_url).netloc, rate, burst - burst // 10, clock) if throttle else UNLIMITED
        )
        self.budget = OperatingBudget(clock=clock)
        self.timeout = (connect_timeout, read_timeout)
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.max_method_pause = max_method_pause
        self.session = session or requests.Session()
        self.session.headers.update({
            "Accept": "application/json",
            "User-Agent": f"b24sync/{__version__}",
        })
        self.session.verify = verify
        self.rng = rng or random.Random()
        self.log = get_logger("b24sync.bitrix24")
        self.requests_sent = 0
        self.requests_by_method: dict[str, int] = {}
        self._warned_moves: set[str] = set()

    @classmethod
    def from_config(cls, config: Any, **overrides: Any) -> Bitrix24Client:
        """Build a client from a Bitrix24Config."""
        options: dict[str, Any] = {
            "rate": config.rate_per_second,
            "burst": config.burst,
            "connect_timeout": config.connect_timeout,
            "read_timeout": config.read_timeout,
            "max_retries": config.max_retries,
            "verify": config.verify_tls,
        }
        options.update(overrides)
        return cls(config.webhook_url, **options)

    @property
    def portal(self) -> str:
        """The portal's address without the secret part, for messages."""
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc}"

    # -- single calls -----------------------------------------------------------------------

    def call(self, method: str, params: Mapping[str, Any] | None = None) -> Response:
        """Call one method and return its answer, or raise a typed Bitrix24Error."""
        body = self._request(method, dict(params or {}), repeatable=is_repeatable(method))
        return Response(result=body.get("result"), total=body.get("total"), next=body.get("next"),
                        time=body.get("time") or {})

    def _request(self, method: str, params: dict[str, Any], *, repeatable: bool) -> dict[str, Any]:
        attempt = 0
        redirects = 0
        while True:
            pause = self.budget.delay_for(method)
            if pause > self.max_method_pause:
                raise errors.OperationTimeLimitError(
                    f"Bitrix24 {method} is paused by the portal's time limit for {pause:.0f} s more; "
                    f"the item will be retried later", remote_code="OPERATION_TIME_LIMIT", method=method)
            if pause > 0:
                self.clock.sleep(pause)
            self.bucket.acquire()
            self.requests_sent += 1
            self.requests_by_method[method] = self.requests_by_method.get(method, 0) + 1
            try:
                reply = self.session.post(self.base_url + method, json=params, timeout=self.timeout,
                                          allow_redirects=False)
            except requests.RequestException as failure:
                sent = not (isinstance(failure, requests.ConnectTimeout) or _connection_never_made(failure))
                error = errors.TransportError(
                    f"cannot reach Bitrix24 at {self.portal} for {method}: "
                    f"{type(failure).__name__}: {redact(str(failure))}", method=method)
                attempt = self._after_failure(method, error, attempt, repeatable or not sent)
                continue

            if reply.status_code in (301, 302, 303, 307, 308) and "Location" in reply.headers:
                redirects += 1
                if redirects > 3:
                    raise errors.TransportError(f"Bitrix24 at {self.portal} redirects in a loop", method=method)
                self._follow_move(reply.headers["Location"])
                continue

            body = self._decode(reply, method)
            if isinstance(body, errors.Bitrix24Error):
                attempt = self._after_failure(method, body, attempt, repeatable)
                continue
            if "error" in body and "result" not in body:
                error = errors.classify(reply.status_code, body.get("error"),
                                        str(body.get("error_description") or ""), method)
                if isinstance(error, errors.OperationTimeLimitError):
                    until = self.budget.blocked(method)
                    error.reset_at = until
                    self.log.warning("bitrix24_method_paused", method=method,
                                     seconds=round(until - self.clock.time(), 1))
                    attempt = self._after_failure(method, error, attempt, True, backoff=False)
                    continue
                if isinstance(error, errors.RateLimitError):
                    self.bucket.penalise()
                    attempt = self._after_failure(method, error, attempt, True)
                    continue
                if error.retryable:
                    attempt = self._after_failure(method, error, attempt, repeatable)
                    continue
                raise error
            if reply.status_code >= 400:
                raise errors.classify(reply.status_code, "", f"HTTP {reply.status_code} without an error code",
                                      method)
            self.budget.record(method, body.get("time"))
            return body

    def _decode(self, reply: requests.Response, method: str) -> dict[str, Any] | errors.Bitrix24Error:
        """The JSON body, or an error that says what came back instead."""
        text = reply.content.decode("utf-8", errors="replace")
        try:
            body = reply.json() if text.strip() else None
        except ValueError:
            body = None
        if isinstance(body, dict):
            return body
        content_type = reply.headers.get("Content-Type", "no content type")
        first_line = next((line.strip() for line in text.splitlines() if line.strip()), "(empty body)")[:120]
        error_type = errors.ServerError if reply.status_code >= 500 else errors.TransportError
        return error_type(
            f"Bitrix24 {method} answered HTTP {reply.status_code} with {content_type} instead of JSON: "
            f"{first_line!r}; a proxy or the portal itself is failing", status=reply.status_code, method=method)

    def _after_failure(self, method: str, error: errors.Bitrix24Error, attempt: int, may_repeat: bool,
                       *, backoff: bool = True) -> int:
        """Decide whether to try again; sleep if so and return the next attempt number, else raise."""
        if not may_repeat:
            raise errors.OutcomeUnknownError(
                f"Bitrix24 {method} may or may not have taken effect ({error}); it was not repeated to avoid a "
                f"duplicate, and will be checked before the next attempt", remote_code=error.remote_code,
                status=error.status, method=method) from None
        if attempt >= self.max_retries:
            raise error
        if backoff:
            ceiling = min(self.backoff_cap, self.backoff_base * 2 ** attempt)
            pause = ceiling / 2 + self.rng.uniform(0, ceiling / 2)
            self.log.info("bitrix24_retry", method=method, attempt=attempt + 1, pause=round(pause, 2),
                          reason=str(error))
            self.clock.sleep(pause)
        return attempt + 1

    def _follow_move(self, location: str) -> None:
        """The portal was renamed (302 to a new host): re-send there and tell the administrator once."""
        new = urlsplit(location)
        old = urlsplit(self.base_url)
        scheme = new.scheme or old.scheme
        loopback = new.hostname in ("127.0.0.1", "localhost", "::1")
        if new.netloc and (new.hostname != old.hostname or (scheme != "https" and not loopback)):
            # the webhook's secret travels in the path: never to another host, never in clear text
            raise errors.TransportError(
                f"Bitrix24 at {self.portal} redirects to {scheme}://{new.hostname}; b24sync follows a redirect only "
                f"to https on the same host, since the webhook's secret is in the path. If the portal moved, put "
                f"its new address in 'bitrix24.webhook_url'")
        if not new.netloc or new.netloc == old.netloc:
            raise errors.TransportError(f"Bitrix24 at {self.portal} redirected to {redact(location)}")
        self.base_url = urlunsplit((new.scheme or old.scheme, new.netloc, old.path, "", ""))
        if new.netloc not in self._warned_moves:
            self._warned_moves.add(new.netloc)
            self.log.warning("bitrix24_portal_moved", old=f"{old.scheme}://{old.netloc}",
                             new=f"{new.scheme or old.scheme}://{new.netloc}",
                             action="update the host in 'bitrix24.webhook_url' to the new address")

    # -- batch ------------------------------------------------------------------------------

    def batch(self, commands: Mapping[str, tuple[str, Mapping[str, Any]]], *, halt: bool = False) -> BatchResult:
        """Run named commands, 50 per HTTP request, and return each one's result or error.

        `$result[key][...]` references work only between commands of the same
        chunk of 50; keep chained commands within one chunk.
        """
        outcome = BatchResult()
        for chunk in chunked(list(commands.items()), BATCH_LIMIT):
            cmd = {key: f"{method}?{php_query(params)}" if params else method
                   for key, (method, params) in chunk}
            repeatable = all(is_repeatable(method) for _, (method, _) in chunk)
            body = self._request("batch", {"halt": 1 if halt else 0, "cmd": cmd}, repeatable=repeatable)
            payload = body.get("result") or {}
            if not isinstance(payload, dict):
                payload = {}
            methods = {key: method for key, (method, _) in chunk}
            for key, value in as_map(payload.get("result")).items():
                outcome.results[key] = value
            for key, value in as_map(payload.get("result_error")).items():
                value = value if isinstance(value, dict) else {"error": value, "error_description": ""}
                outcome.errors[key] = errors.classify(0, value.get("error"),
                                                      str(value.get("error_description") or ""),
                                                      methods.get(key, "batch"))
            for key, value in as_map(payload.get("result_total")).items():
                outcome.totals[key] = int(value)
            for key, value in as_map(payload.get("result_next")).items():
                outcome.nexts[key] = int(value)
            for key, value in as_map(payload.get("result_time")).items():
                outcome.times[key] = value
                if key in methods:
                    self.budget.record(methods[key], value)
            outcome.time = body.get("time") or {}
        return outcome

    # -- listing ----------------------------------------------------------------------------

    def iter_list(self, method: str, params: Mapping[str, Any] | None = None, *, id_field: str = "ID",
                  pages_per_batch: int = BATCH_LIMIT) -> Listing:
        """Every row of a legacy list method, each exactly once, in ID order (see Listing)."""
        return Listing(self, method, dict(params or {}), id_field, pages_per_batch)


class Listing:
    """Iterates a legacy list method with `start=-1` and a `>ID` cursor, never offset paging.

    After a first page on its own (an idle poll costs one request), the
    following pages are chained inside batches through `$result[pN][49][ID]`,
    stopping at the first short page; memory holds at most one batch of pages.
    `server_time` is the portal's clock at the first request (`time.date_start`),
    which is what a watermark must be taken from.
    """

    def __init__(self, client: Bitrix24Client, method: str, params: dict[str, Any], id_field: str,
                 pages_per_batch: int) -> None:
        self.client = client
        self.method = method
        self.id_field = id_field
        self.pages_per_batch = pages_per_batch
        self.filter = dict(params.pop("filter", None) or {})
        self.cursor: Any = self.filter.pop(f">{id_field}", 0) or 0
        params.pop("order", None)
        params.pop("start", None)
        self.params = params
        self.server_time: datetime | None = None
        self.requests = 0

    def _page(self, after: Any) -> dict[str, Any]:
        return {**self.params, "filter": {**self.filter, f">{self.id_field}": after},
                "order": {self.id_field: "ASC"}, "start": -1}

    def __iter__(self) -> Iterator[dict[str, Any]]:
        first = self.client.call(self.method, self._page(self.cursor))
        self.requests += 1
        self.server_time = parse_datetime(first.time.get("date_start")) if first.time else None
        rows = first.result or []
        yield from rows
        if len(rows) < PAGE_SIZE:
            return
        cursor = rows[-1][self.id_field]
        while True:
            commands = {}
            for index in range(self.pages_per_batch):
                after = cursor if index == 0 else f"$result[p{index - 1}][{PAGE_SIZE - 1}][{self.id_field}]"
                commands[f"p{index}"] = (self.method, self._page(after))
            outcome = self.client.batch(commands)
            self.requests += 1
            for index in range(self.pages_per_batch):
                rows = outcome.get(f"p{index}") or []
                if rows and int(rows[0][self.id_field]) <= int(cursor):
                    break  # a reference that did not resolve restarted the listing: go on from our cursor
                yield from rows
                if len(rows) < PAGE_SIZE:
                    return
                cursor = rows[-1][self.id_field]


def _connection_never_made(failure: BaseException) -> bool:
    """A refused connection means the portal never saw the request, so even a create may be re-sent."""
    return "NewConnectionError" in repr(failure) or "Connection refused" in repr(failure)
