"""A test rig: both emulators on one dataset, the deal fields created, a config, a state store and an engine."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import requests

from b24sync.bitrix24.adapter import Bitrix24Adapter
from b24sync.bitrix24.client import Bitrix24Client
from b24sync.clock import Clock, ManualClock
from b24sync.config import Bitrix24Config, Config, Pipeline, SyncConfig
from b24sync.onec.adapter import OneCAdapter
from b24sync.store.store import Store
from b24sync.sync.fields import customer_field_specs, deal_field_specs
from b24sync.sync.runner import Engine
from b24sync_emulators.bitrix24.server import RunningPortal, start_portal
from b24sync_emulators.dataset import Dataset, generate
from b24sync_emulators.onec.server import RunningBase, start_base
from tests.onec_support import PASSWORD, USER, Accountant, onec_config

PIPELINES = (Pipeline(0, ("EXECUTING", "FINAL_INVOICE", "WON")), Pipeline(1, ("C1:EXECUTING", "C1:WON")))
QUIET_STAGES = {0: "NEW", 1: "C1:NEW"}


@dataclass
class Rig:
    portal: RunningPortal
    base: RunningBase
    dataset: Dataset
    config: Config
    store_path: Path
    clock: Clock
    engines: list[Engine] = field(default_factory=list)

    @classmethod
    def start(cls, tmp_path: Path, profile: str = "ut11", deals: int = 40, seed: int = 11, clock: Clock | None = None,
              quiet: bool = True, **sync_options: Any) -> Rig:
        clock = clock or ManualClock()
        dataset = generate(deals, seed)
        portal = start_portal(dataset=dataset, limits=False, clock=clock)
        base = start_base(profile=profile, dataset=dataset, user=USER, password=PASSWORD, clock=clock)
        sync = SyncConfig(pipelines=PIPELINES, **sync_options)
        config = Config(bitrix24=Bitrix24Config(webhook_url=portal.webhook_url), onec=onec_config(base), sync=sync,
                        state_path=str(tmp_path / "state.db"))
        rig = cls(portal, base, dataset, config, tmp_path / "state.db", clock)
        adapter = rig.bitrix_adapter()
        for spec in deal_field_specs(sync.fields):
            adapter.ensure_userfield(spec)
        for entity in ("contact", "company"):  # as `b24sync setup` makes them
            for spec in customer_field_specs(sync.fields):
                adapter.ensure_userfield(spec, entity=entity)
        if quiet:  # every deal starts outside the trigger stages; tests move the ones they need
            for deal in portal.portal.deals.values():
                deal["STAGE_ID"] = QUIET_STAGES[int(deal["CATEGORY_ID"])]
        return rig

    def bitrix_adapter(self) -> Bitrix24Adapter:
        return Bitrix24Adapter(Bitrix24Client(self.portal.webhook_url, clock=self.clock, throttle=False))

    def engine(self, **config_changes: Any) -> Engine:
        """A fresh engine on the same state file, as after a restart."""
        config = replace(self.config, **config_changes) if config_changes else self.config
        for old in self.engines:
            old.store.close()
        engine = Engine(config, self.bitrix_adapter(), OneCAdapter.from_config(config.onec, clock=self.clock),
                        Store(self.store_path, clock=self.clock), self.clock)
        self.engines.append(engine)
        return engine

    def move(self, deal_id: int, stage: str | None = None) -> None:
        """The manager moves a deal into a trigger stage of its pipeline (through the REST API)."""
        deal = self.portal.portal.deals[deal_id]
        stage = stage or ("EXECUTING" if deal["CATEGORY_ID"] == "0" else "C1:EXECUTING")
        self.call("crm.deal.update", {"id": deal_id, "fields": {"STAGE_ID": stage}})

    def call(self, method: str, params: dict[str, Any]) -> Any:
        reply = requests.post(self.portal.webhook_url + method, json=params, timeout=10).json()
        assert "error" not in reply, reply
        return reply["result"]

    def comments(self, deal_id: int) -> list[str]:
        """The deal's timeline comments, oldest first, as the portal lists them (crm.timeline.comment.list)."""
        return [item["COMMENT"] for item in self.call("crm.timeline.comment.list", {
            "filter": {"ENTITY_ID": deal_id, "ENTITY_TYPE": "deal"}, "order": {"ID": "ASC"}})]

    def deal(self, deal_id: int) -> dict[str, Any]:
        return self.call("crm.deal.get", {"id": deal_id})

    def documents(self) -> list[dict[str, Any]]:
        entity = "Document_ЗаказКлиента" if self.base.base.profile.name == "ut11" else "Document_СчетНаОплатуПокупателю"
        return list(self.base.base.records[entity].values())

    def documents_for(self, deal_id: int) -> list[dict[str, Any]]:
        return [doc for doc in self.documents() if any(
            row.get("Значение") == str(deal_id) for row in doc.get("ДополнительныеРеквизиты", []))]

    def accountant(self) -> Accountant:
        return Accountant(self.base)

    def writes(self) -> tuple[int, int]:
        return (self.portal.app.stats.snapshot()["writes"], self.base.app.stats.snapshot()["writes"])

    def reset_stats(self) -> None:
        self.portal.app.stats.reset()
        self.base.app.stats.reset()

    def forget_state(self) -> None:
        """The state file is lost (deleted with its -wal and -shm), as after a disk failure."""
        self.engines[-1].store.close()
        for suffix in ("", "-wal", "-shm"):
            Path(str(self.store_path) + suffix).unlink(missing_ok=True)

    def stop(self) -> None:
        for engine in self.engines:
            engine.store.close()
        self.portal.stop()
        self.base.stop()
