"""What the sync engine asks of 1C, one small method each, over the standard OData interface.

This is the backend adapter for 1C. It knows the profile's entities and
nothing of Bitrix24; its jobs live in their own modules and meet here:
lookups (lookups.py), a document's life (lifecycle.py), polling for what the
accountant did (polling.py) and the invoice source (invoice_source.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from b24sync.clock import SYSTEM_CLOCK, Clock
from b24sync.config import OneCConfig
from b24sync.logs import get_logger
from b24sync.onec.invoice_source import InvoiceSource
from b24sync.onec.lifecycle import DocumentLifecycle
from b24sync.onec.lookups import Lookups
from b24sync.onec.metadata import Metadata
from b24sync.onec.odata import MAX_URL, ODataClient, literal, synonym
from b24sync.onec.polling import Polling
from b24sync.onec.profiles import PROFILES, Profile, Resolved
from b24sync.onec.values import PROPERTIES, is_guid

__all__ = ["OneCAdapter", "is_guid"]


class OneCAdapter(Lookups, DocumentLifecycle, Polling, InvoiceSource):
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
        if self.profile.builtin_tracking is None and self.config.tracking.attribute:
            needs[self.profile.sale_entity] = needs[self.profile.sale_entity] + (self.config.tracking.attribute,)
        for entity, prop in self.metadata().missing(needs):
            if prop is None:
                problems.append(f"1C does not publish {entity}: tick «{synonym(entity)}» in Администрирование → "
                                f"Общие настройки → Интеграция с другими программами → Настройка стандартного "
                                f"интерфейса OData")
            else:
                problems.append(f"{entity} has no property {prop} in 1C's OData: check the configuration version "
                                f"(profile '{self.profile.name}') and the OData composition")
        if self.profile.vat_from_metadata and self.metadata().has(self.profile.order_entity) and \
                self.metadata().vat_form(self.profile.order_entity) is None:
            problems.append(f"{self.profile.order_entity} rows have neither СтавкаНДС_Key nor СтавкаНДС in 1C's OData")
        return problems

    # -- or-chains and publication ------------------------------------------------------------------

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

    def _payment_entities(self) -> list[str]:
        """The profile's payment documents that this base publishes."""
        return [entity for entity in self.profile.payment_entities if self.metadata().has(entity)]
