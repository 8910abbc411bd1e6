"""Start an emulated portal: in-process for tests, or in the foreground for `b24sync emulate bitrix24`."""

from __future__ import annotations

from dataclasses import dataclass

from b24sync.clock import SYSTEM_CLOCK, Clock
from b24sync_emulators.bitrix24.app import PortalApp
from b24sync_emulators.bitrix24.portal import Portal
from b24sync_emulators.dataset import Dataset, generate
from b24sync_emulators.httpserver import EmulatorServer


@dataclass
class RunningPortal:
    """A portal being served; `webhook_url` is what b24sync's config points at."""

    server: EmulatorServer
    app: PortalApp

    @property
    def portal(self) -> Portal:
        return self.app.portal

    @property
    def root(self) -> str:
        return self.server.root

    @property
    def webhook_url(self) -> str:
        return f"{self.server.root}/rest/{self.portal.webhook_user}/{self.portal.webhook_code}/"

    def stop(self) -> None:
        self.server.stop()


def build_portal(*, generate_deals: int = 0, seed: int = 1, dataset: Dataset | None = None, clock: Clock = SYSTEM_CLOCK,
                 tz: str = "+03:00", webhook_code: str | None = None,
                 scopes: tuple[str, ...] = ("crm", "catalog", "disk", "user")) -> Portal:
    portal = Portal(clock=clock, tz=tz, webhook_code=webhook_code, scopes=scopes)
    if dataset is None and generate_deals:
        dataset = generate(generate_deals, seed)
    if dataset is not None:
        portal.load(dataset)
    return portal


def start_portal(*, host: str = "127.0.0.1", port: int = 0, generate_deals: int = 0, seed: int = 1,
                 dataset: Dataset | None = None, clock: Clock = SYSTEM_CLOCK, rate: float = 2.0, burst: int = 50,
                 limits: bool = True, operating_limit: float = 480.0, latency_ms: int = 0, tz: str = "+03:00",
                 webhook_code: str | None = None, scopes: tuple[str, ...] = ("crm", "catalog", "disk", "user"),
                 background: bool = True) -> RunningPortal:
    """Build a portal, bind it to host:port (0 = a free port) and, by default, serve it in a thread."""
    portal = build_portal(generate_deals=generate_deals, seed=seed, dataset=dataset, clock=clock, tz=tz,
                          webhook_code=webhook_code, scopes=scopes)
    app = PortalApp(portal, clock=clock, rate=rate, burst=burst, limits=limits, operating_limit=operating_limit,
                    latency_ms=latency_ms)
    server = EmulatorServer(app, host, port)
    portal.root_url = server.root
    running = RunningPortal(server, app)
    if background:
        server.start()
    return running
