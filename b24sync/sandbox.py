"""Both emulators on one dataset, and a complete config that points b24sync at them.

It lives with b24sync, not with the emulators: it speaks b24sync's config and creates the deal fields b24sync's
setup would, while the emulators themselves know nothing of b24sync.

`b24sync emulate all` serves this for administrators trying config changes,
and the demo, the tests and the benchmark drive `sync` and `run` with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from b24sync.clock import SYSTEM_CLOCK, Clock
from b24sync.config import DealFields
from b24sync.sync.fields import customer_field_specs, deal_field_specs
from b24sync_emulators.bitrix24.server import RunningPortal, start_portal
from b24sync_emulators.dataset import generate
from b24sync_emulators.inbox import RunningInbox, start_inbox
from b24sync_emulators.onec.server import RunningBase, start_base

SANDBOX_USER = "Обмен"
SANDBOX_PASSWORD = "Sandbox-7f3q"  # not a word that also appears in paths, so masking it hides nothing else
TRIGGERS = {0: ["EXECUTING", "FINAL_INVOICE", "WON"], 1: ["C1:EXECUTING", "C1:WON"]}


@dataclass
class Sandbox:
    portal: RunningPortal
    base: RunningBase
    inbox: RunningInbox  # where the sandbox's alerts go (Apprise json://), so they are seen without a network

    def stop(self) -> None:
        self.portal.stop()
        self.base.stop()
        self.inbox.stop()

    def config(self, state_path: Path) -> dict[str, Any]:
        """A complete, valid config for this sandbox (what `emulate all --config-out` writes)."""
        profile = self.base.base.profile.name
        defaults = {"organisation": "ООО «Электросбыт»", "currency": "RUB"}
        if profile == "ut11":
            defaults.update({"warehouse": "Основной склад", "agreement": "Основное соглашение (розница и опт)"})
        return {
            "bitrix24": {"webhook_url": self.portal.webhook_url, "rate_per_second": self.portal.app.bucket.rate,
                         "burst": self.portal.app.bucket.burst},
            "onec": {"url": self.base.odata_root, "user": SANDBOX_USER, "password": SANDBOX_PASSWORD,
                     "profile": profile, "defaults": defaults,
                     "managers": {3: "Петрова Ольга", 5: "Смирнов Сергей"}, "default_manager": "Иванов Алексей",
                     "tracking": ({"additional_requisite": "Трек-номер"} if profile == "ut11"
                                  else {"attribute": "НомерДляОтслеживания"})},
            "sync": {"pipelines": [
                {"category_id": 0, "trigger_stages": TRIGGERS[0], "stage_on_paid": "WON"},
                {"category_id": 1, "trigger_stages": TRIGGERS[1], "stage_on_paid": "C1:WON"}]},
            "invoices": {"disk_folder": "Счета 1С", "valid_days": 5,
                         "bank": {"name": "ПАО Сбербанк г. Москва", "bik": "044525225",
                                  "account": "40702810900000012345", "correspondent_account": "30101810400000000225"}},
            "notify": {"urls": [self.inbox.url], "unreachable_after_minutes": 1},
            "state": {"path": str(state_path)},
            "logging": {"level": "INFO", "format": "auto"},
        }

    def write_config(self, path: Path) -> Path:
        text = ("# Written by `b24sync emulate all`: b24sync pointed at the emulated portal and 1C base.\n"
                + yaml.safe_dump(self.config(path.parent / "state.db"), allow_unicode=True, sort_keys=False))
        path.write_text(text, encoding="utf-8")
        path.chmod(0o600)
        return path


def start_sandbox(*, deals: int = 200, seed: int = 1, profile: str = "ut11", clock: Clock = SYSTEM_CLOCK,
                  limits: bool = True, rate: float = 2.0, burst: int = 50, latency: Any = None) -> Sandbox:
    dataset = generate(deals, seed)
    portal = start_portal(dataset=dataset, clock=clock, limits=limits, rate=rate, burst=burst)
    base = start_base(profile=profile, dataset=dataset, user=SANDBOX_USER, password=SANDBOX_PASSWORD, clock=clock,
                      latency=latency)
    with portal.portal.lock:  # a portal already set up for b24sync: the deal fields exist
        for spec in deal_field_specs(DealFields()):
            portal.portal.add_userfield({**spec.as_fields(), "FIELD_NAME": spec.name})
        for entity in ("CRM_CONTACT", "CRM_COMPANY"):
            for spec in customer_field_specs(DealFields()):
                portal.portal.add_userfield({**spec.as_fields(), "FIELD_NAME": spec.name}, entity)
    return Sandbox(portal, base, start_inbox())
