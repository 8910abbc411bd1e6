"""What every part of the 1C adapter shares: the client and config, `$metadata` once per process, and reads
of many objects in `or` chains that keep every URL under the limit."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from b24sync.clock import SYSTEM_CLOCK, Clock
from b24sync.config import OneCConfig
from b24sync.logs import get_logger
from b24sync.onec import errors
from b24sync.onec.metadata import Metadata
from b24sync.onec.odata import EVERY_ROW, ODataClient, literal
from b24sync.onec.profiles import PROFILES, Profile, Resolved

LISTING_PAGE = 500  # rows a listing asks for at a time
MIN_CHAIN_URL = 512  # chains are never built shorter than this, whatever a web server refuses
URL_MARGIN = 40  # kept free under the limit when a chain is built (the widest paging options vary)
REFUSALS_RERESOLVE_SECONDS = 600  # a write 1C refuses has the defaults looked up again, at most this often


class AdapterBase:
    """The state and the reads the adapter's parts (lookups, lifecycle, polling, invoice source) build on."""

    def __init__(self, client: ODataClient, config: OneCConfig, clock: Clock = SYSTEM_CLOCK) -> None:
        self.client = client
        self.config = config
        self.profile: Profile = PROFILES[config.profile]
        self.clock = clock
        self.log = get_logger("b24sync.onec")
        self._metadata: Metadata | None = None
        self._resolved: Resolved | None = None
        self._resolved_at = 0.0
        self._kinds: dict[str, str] | None = None  # predefined kinds of contact information, read once
        self._choices: dict[int, Any] = {}  # each pipeline's own references (Choices), resolved once
        self._managers: dict[int, str | None] = {}
        self._refused_at = -REFUSALS_RERESOLVE_SECONDS
        client.on_refusal = self.refused

    def refused(self, schema: bool) -> None:
        """1C says an entity or a property is not there (`schema`): `$metadata` and the references resolved with it
        are read again at their next use. 1C refused a write: the defaults, managers and pipeline choices are
        looked up again before the next one (at most every REFUSALS_RERESOLVE_SECONDS), so a warehouse deleted
        in 1C fails one deal, not every deal until the hourly lookup."""
        now = self.clock.time()
        if schema:
            if self._metadata is not None or self._resolved is not None:
                self.log.info("onec_schema_reread", action="$metadata and the defaults are read again at their "
                                                           "next use")
            self._metadata = None
            self._resolved = None
        elif self._resolved is not None and now - self._refused_at >= REFUSALS_RERESOLVE_SECONDS:
            self._refused_at = now
            self._resolved = None

    def resolved(self, refresh: bool = False) -> Resolved:
        """The config's defaults as 1C references (lookups.py)."""
        raise NotImplementedError

    def metadata(self, refresh: bool = False) -> Metadata:
        """The base's `$metadata`, read once per process, and again after 1C said the schema changed."""
        metadata = self._metadata  # a worker may drop it meanwhile (refused): what is returned is read once
        if metadata is None or refresh:
            metadata = self._metadata = Metadata.parse(self.client.get_text("$metadata"))
        return metadata

    def _by_or_chain(self, entity: str, field: str, values: Iterable[str], select: str,
                     render: Any = literal, extra: str = "", term: Any = None,
                     every_row: bool = False, window: str = "") -> list[dict[str, Any]]:
        """Rows whose `field` equals any of `values`, in `or` chains that keep every URL under the limit. `term`
        makes one comparison of another form (an any() over a tabular section) from the field and the value;
        `every_row`: hidden rows are not skipped (see EVERY_ROW).

        `window`, a filter every wanted row passes (a date from which they all are): when listing the rows in
        the window takes fewer requests than the chains (many values, long terms), or when 1C refuses the
        chains' form, the rows are listed instead and the caller keeps the ones it asked for. A web server that
        refuses a chain's URL makes the chains shorter from then on (ODataClient.chain_url)."""
        more = EVERY_ROW if every_row else {}
        make = term or (lambda name, value: f"{name} eq {value}")
        terms = [make(field, render(value)) for value in dict.fromkeys(values)]
        listing = {"$filter": f"{window}{extra}", "$select": select, **more}
        chains = self._chains(entity, terms, select, extra, more) if window else []
        if len(chains) > 2:
            count = int(self.client.get_text(f"{entity}/$count", {"$filter": listing["$filter"], **more}).strip()
                        or 0)
            if -(-count // LISTING_PAGE) + 1 < len(chains):
                return self.client.get_all(entity, listing, page=LISTING_PAGE)
        rows: list[dict[str, Any]] = []
        done = 0
        while done < len(terms):  # each chain made when its turn comes, for the limit as it is then
            chain = self._chains(entity, terms[done:], select, extra, more, first=True)[0]
            try:
                rows.extend(self._chain_rows(entity, chain, select, extra, more))
            except errors.QueryError as refused:
                if not window or refused.status is None:  # 1C's refusal, not a URL b24sync could not build
                    raise
                self.log.warning("onec_chain_refused", entity=entity, field=field, error=str(refused),
                                 action="listed by date and matched by b24sync instead (more requests)")
                return self.client.get_all(entity, listing, page=LISTING_PAGE)
            done += len(chain)
        return rows

    def _chain_rows(self, entity: str, chain: list[str], select: str, extra: str,
                    more: dict[str, Any]) -> list[dict[str, Any]]:
        """One chain's rows. A chain whose URL the web server refuses (an HTML 404 or a 414), longer than any 1C
        has answered, lowers the length chains are built to by a quarter of the way to the longest answered one
        (so it settles just under the web server's limit) and is asked for in halves; one over that length is
        halved before it is sent."""
        url = len(self._chain_url(entity, chain, select, extra, more))
        if len(chain) > 1 and url > self.client.chain_url - URL_MARGIN:
            half = len(chain) // 2
            return self._chain_rows(entity, chain[:half], select, extra, more) + \
                self._chain_rows(entity, chain[half:], select, extra, more)
        try:
            return self.client.get_all(entity, {"$filter": f"({' or '.join(chain)}){extra}", "$select": select,
                                                **more})
        except errors.TransportError as refused:
            answered = self.client.longest_answered
            lowered = max(url - max(URL_MARGIN, (url - answered) // 4), URL_MARGIN + MIN_CHAIN_URL)
            if len(chain) < 2 or refused.status not in (404, 414) or answered >= url \
                    or lowered >= self.client.chain_url:
                raise  # not about the length (a URL as long went through before), or as short as chains go
        self.log.warning("onec_url_limit_lowered", refused=url, now=lowered,
                         action=f"the web server in front of 1C refused a {url}-character URL; b24sync builds its "
                                f"chains under {lowered} characters until it restarts. Set 'onec.max_url_length' "
                                f"to the web server's limit to spare the refusals at each start, or raise that "
                                f"limit (IIS maxQueryString)")
        self.client.chain_url = lowered
        return self._chain_rows(entity, chain, select, extra, more)

    def _chain_url(self, entity: str, chain: list[str], select: str, extra: str, more: dict[str, Any]) -> str:
        """The longest URL a chain's listing sends (its first page's options at their widest)."""
        return self.client.url(entity, {"$filter": f"({' or '.join(chain)}){extra}", "$select": select,
                                        "$top": 500, "$skip": 0, "$orderby": "Ref_Key", **more}, check=False)

    def _chains(self, entity: str, terms: list[str], select: str, extra: str,
                more: dict[str, Any], first: bool = False) -> list[list[str]]:
        """The terms grouped into the longest `or` chains whose URLs the web server takes (`first`: the first
        chain only)."""
        chains: list[list[str]] = []
        chain: list[str] = []
        for item in terms:
            candidate = chain + [item]
            fits = len(self._chain_url(entity, candidate, select, extra, more)) < self.client.chain_url - URL_MARGIN
            if not chain or fits:
                chain = candidate
                continue
            if first:
                return [chain]
            chains.append(chain)
            chain = [item]
        return chains + ([chain] if chain else [])

    def _unhidden(self, lookup: Any, what: str) -> Any:
        """A lookup that decides a create, run over every row: a row hidden from the user (code 20) makes it a
        HiddenRowsError for the deal in hand, never an absence that would make a second object."""
        try:
            return lookup()
        except errors.RightsError as refused:
            raise errors.HiddenRowsError(
                f"1C refuses user '{self.client.user}' some {what} (rows hidden by row-level security, or no right "
                f"to the catalog at all): b24sync cannot tell whether the one it looks for exists, so it creates "
                f"nothing; give the user the right to read them ({refused.onec_message or 'code 20'})",
                remote_code=refused.remote_code, onec_message=refused.onec_message, status=refused.status,
                resource=refused.resource) from None

    def _payment_entities(self) -> list[str]:
        """The profile's payment documents that this base publishes."""
        return [entity for entity in self.profile.payment_entities if self.metadata().has(entity)]
