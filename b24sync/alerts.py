"""Alerts to people, through Apprise (Telegram, e-mail, Slack, ntfy, Matrix, … by URL): once per state change.

Nobody reads a journal until something is already wrong, so the service tells
the administrator itself: a system unreachable for longer than
`notify.unreachable_after_minutes` (and its recovery), the deals that failed in a
cycle (one message a cycle, only deals not told before), a new conflict, a guard
holding a cycle back, and no successful cycle for `notify.no_success_hours`.
Each state is told once; a send that fails is logged and never stops the work.
Messages carry deal IDs, systems and counts, never a secret.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from b24sync.clock import SYSTEM_CLOCK, Clock
from b24sync.config import NotifyConfig
from b24sync.logs import get_logger
from b24sync.redaction import redact, register_secret


@dataclass
class _Told:
    outages: dict[str, float] = field(default_factory=dict)  # system -> since, once told
    failed: set[int] = field(default_factory=set)
    held: str = ""
    stale: bool = False


class Alerts:
    """What has been told, so that each state change is told once."""

    def __init__(self, config: NotifyConfig, clock: Clock = SYSTEM_CLOCK) -> None:
        self.config = config
        self.clock = clock
        self.log = get_logger("b24sync.alerts")
        self.told = _Told()
        for url in config.urls:
            register_secret(url)  # an Apprise URL holds the target's token

    @property
    def enabled(self) -> bool:
        return bool(self.config.urls)

    def send(self, title: str, body: str) -> bool:
        """One message to every URL; False when a target refused it (logged, never raised)."""
        if not self.config.urls:
            return False
        try:
            import apprise
        except ImportError:  # pragma: no cover - apprise is a dependency; a broken venv is said, not fatal
            self.log.warning("alert_not_sent", reason="the apprise package is missing")
            return False
        sender = apprise.Apprise()
        for url in self.config.urls:
            sender.add(url)
        try:
            delivered = bool(sender.notify(title=title, body=redact(body)))
        except Exception as error:  # a target that fails must never stop the service
            self.log.warning("alert_not_sent", title=title, reason=redact(str(error)))
            return False
        if not delivered:
            self.log.warning("alert_not_sent", title=title, reason="a notification target refused it (a URL Apprise "
                                                                   "cannot parse, or the service said no)")
        else:
            self.log.info("alert_sent", title=title, targets=len(self.config.urls))
        return delivered

    # -- the states that are told ---------------------------------------------------------------------

    def unreachable(self, systems: dict[str, float]) -> None:
        """Systems down since when (empty: all answer): told after the grace period, and again when back."""
        now = self.clock.time()
        grace = self.config.unreachable_after_minutes * 60
        for system, since in systems.items():
            if system not in self.told.outages and now - since >= grace:
                self.told.outages[system] = since
                self.send(f"b24sync: {system} unreachable",
                          f"{system} has not answered b24sync for {int((now - since) // 60)} minutes; deals wait "
                          f"and are synced when it is back. `b24sync status` shows the error.")
        for system in [name for name in self.told.outages if name not in systems]:
            del self.told.outages[system]
            self.send(f"b24sync: {system} reachable again", f"{system} answers again; b24sync catches up.")

    def cycle(self, report: Any, still_failing: set[int]) -> None:
        """After a cycle: newly failed deals (one message), new conflicts, a guard holding back. A deal is told
        again only after it recovered (`still_failing`: the deals the state file holds a failure for)."""
        failed = set(report.failed) - self.told.failed
        if failed:
            lines = [f"deal {deal_id}: {report.failed[deal_id]}" for deal_id in sorted(failed)][:20]
            more = len(failed) - len(lines)
            self.send(f"b24sync: {len(failed)} deal(s) failed",
                      "\n".join(lines) + (f"\n… and {more} more" if more > 0 else "") +
                      "\nThey are retried; `b24sync status` lists them.")
        self.told.failed = (self.told.failed | failed) & still_failing
        if report.conflicts:
            named = getattr(report, "conflicted", {}) or {}
            lines = [f"deal {deal_id}: {text}" for deal_id, text in sorted(named.items())][:20]
            self.send(f"b24sync: {report.conflicts} new conflict(s)",
                      "\n".join(lines + ["A deal and its 1C document disagree; `b24sync conflicts` lists them, "
                                          "`b24sync conflicts resolve --deal N --keep bitrix24|1c` ends one."]))
        if report.held and report.held != self.told.held:
            self.send("b24sync: a cycle was held back", report.held)
        self.told.held = report.held

    def after_cycle(self, store: Any, report: Any, last_success: float) -> None:
        """Everything a finished (or failed: `report` None) cycle may have changed, read from the state file:
        outages, failed deals, conflicts, holds, and how long since the last success. Never raises: an alert
        must not take a cycle down."""
        if not self.enabled:
            return
        try:
            self.unreachable({system: since for system, (since, _) in store.unreachable().items()})
            if report is not None and hasattr(report, "failed"):
                self.cycle(report, {item.deal_id for item in store.failures() if item.deal_id})
            self.success(last_success)
        except Exception as error:
            self.log.warning("alert_failed", error=redact(str(error)))

    def success(self, last_success: float) -> None:
        """No successful cycle for notify.no_success_hours: told once, until one succeeds."""
        quiet = self.clock.time() - last_success
        if quiet >= self.config.no_success_hours * 3600 and not self.told.stale:
            self.told.stale = True
            self.send("b24sync: no successful cycle", f"No cycle has succeeded for {int(quiet // 3600)} hours.")
        elif quiet < self.config.no_success_hours * 3600:
            self.told.stale = False
