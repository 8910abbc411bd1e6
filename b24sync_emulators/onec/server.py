"""Start an emulated 1C base: in-process for tests, or in the foreground for `b24sync emulate onec`."""

from __future__ import annotations

from dataclasses import dataclass

from b24sync.clock import SYSTEM_CLOCK, Clock
from b24sync_emulators.dataset import Dataset, generate
from b24sync_emulators.httpserver import EmulatorServer
from b24sync_emulators.onec.app import OneCApp
from b24sync_emulators.onec.base import Base
from b24sync_emulators.onec.latency import LatencyProfile
from b24sync_emulators.onec.printing import print_invoice
from b24sync_emulators.onec.schema import UT11_VAT_CATALOG, Profile

PUBLICATIONS = {"ut11": "trade", "bp30": "accounting"}


@dataclass
class RunningBase:
    server: EmulatorServer
    app: OneCApp

    @property
    def base(self) -> Base:
        return self.app.base

    @property
    def root(self) -> str:
        return self.server.root

    @property
    def odata_root(self) -> str:
        return f"{self.server.root}{self.app.root_path}"

    @property
    def service_root(self) -> str:
        """The invoice-printing HTTP service (b24sync's proposed contract)."""
        return f"{self.server.root}/{self.app.publication}/hs/b24sync/v1/"

    def stop(self) -> None:
        self.server.stop()


def start_base(*, profile: str = "ut11", host: str = "127.0.0.1", port: int = 0, generate_deals: int = 0,
               seed: int = 1, dataset: Dataset | None = None, user: str = "odata.user", password: str = "secret",
               vat_form: str = UT11_VAT_CATALOG, clock: Clock = SYSTEM_CLOCK, latency_ms: int = 0,
               tz: str = "+03:00", background: bool = True, latency: LatencyProfile | None = None) -> RunningBase:
    """Build a base of the given profile, fill it from the shared dataset, and serve it."""
    base = Base(Profile.build(profile, vat_form), clock=clock, tz=tz, seed=seed)
    if dataset is None and generate_deals:
        dataset = generate(generate_deals, seed)
    if dataset is not None:
        base.load(dataset)
    app = OneCApp(base, publication=PUBLICATIONS[profile], user=user, password=password, clock=clock,
                  latency_ms=latency_ms, latency=latency)
    app.pdf_renderer = print_invoice  # the base publishes the invoice-printing HTTP service
    server = EmulatorServer(app, host, port)
    app.wait = server.wait
    running = RunningBase(server, app)
    if background:
        server.start()
    return running
