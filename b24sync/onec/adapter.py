"""What the sync engine asks of 1C, one small method each, over the standard OData interface.

This is the backend adapter for 1C. It knows the profile's entities and
nothing of Bitrix24; its jobs live in their own modules and meet here:
lookups (lookups.py), a document's life (lifecycle.py), polling for what the
accountant did (polling.py) and the invoice source (invoice_source.py).
"""

from __future__ import annotations

from typing import Any

from b24sync.clock import SYSTEM_CLOCK
from b24sync.config import OneCConfig
from b24sync.onec.invoice_source import InvoiceSource
from b24sync.onec.lifecycle import DocumentLifecycle
from b24sync.onec.lookups import Lookups
from b24sync.onec.odata import ODataClient, synonym
from b24sync.onec.polling import Polling
from b24sync.onec.values import PROPERTIES, is_guid

__all__ = ["OneCAdapter", "is_guid"]


class OneCAdapter(Lookups, DocumentLifecycle, Polling, InvoiceSource):
    """The 1C base as the sync engine sees it."""

    @classmethod
    def from_config(cls, config: OneCConfig, **overrides: Any) -> OneCAdapter:
        options: dict[str, Any] = {"connect_timeout": config.connect_timeout, "read_timeout": config.read_timeout,
                                   "max_retries": config.max_retries, "verify": config.verify_tls,
                                   "max_url": config.max_url_length}
        clock = overrides.pop("clock", SYSTEM_CLOCK)
        options.update(overrides)
        return cls(ODataClient(config.url, config.user, config.password, clock=clock, **options), config, clock)

    # -- introspection ------------------------------------------------------------------------------

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

