"""Figures for one sync cycle against both emulators at the cloud's limits (2 requests/s, burst 50).

The portal emulator and b24sync share a manual clock, so the leaky bucket is
enforced exactly as in the cloud while the run takes seconds, not minutes: the
"portal time" column is how long the cycle would take against a real portal.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from b24sync.bitrix24.adapter import Bitrix24Adapter  # noqa: E402
from b24sync.bitrix24.client import Bitrix24Client  # noqa: E402
from b24sync.clock import ManualClock  # noqa: E402
from b24sync.config import Bitrix24Config, Config, Pipeline, SyncConfig  # noqa: E402
from b24sync.logs import configure_logging  # noqa: E402
from b24sync.onec.adapter import OneCAdapter  # noqa: E402
from b24sync.store.store import Store  # noqa: E402
from b24sync.sync.fields import deal_field_specs  # noqa: E402
from b24sync.sync.runner import Engine  # noqa: E402
from b24sync_emulators.bitrix24.server import start_portal  # noqa: E402
from b24sync_emulators.dataset import generate  # noqa: E402
from b24sync_emulators.onec.server import start_base  # noqa: E402
from tests.onec_support import PASSWORD, USER, onec_config  # noqa: E402

PIPELINES = (Pipeline(0, ("NEW", "PREPARATION", "PREPAYMENT_INVOICE", "EXECUTING", "FINAL_INVOICE")),
             Pipeline(1, ("C1:NEW", "C1:PREPARATION", "C1:EXECUTING")))


def leave_out_unknown_products(portal: Any) -> None:
    """The dataset's deals with a product 1C lacks would fail and retry: they are moved out of the pipelines."""
    for deal in portal.portal.deals.values():
        if any(row["PRODUCT_ID"] not in portal.portal.products or "(нет в 1С)" in row["PRODUCT_NAME"]
               for row in portal.portal.product_rows.get(int(deal["ID"]), [])):
            deal["STAGE_ID"] = "LOSE" if deal["CATEGORY_ID"] == "0" else "C1:LOSE"


class StatementCount:
    """SQLite's trace of one connection: the statements, and the transactions that wrote (each one a commit
    to disk: a write outside a transaction is one of its own)."""

    def __init__(self) -> None:
        self.statements = self.commits = 0
        self.inside = self.wrote = False

    def __call__(self, sql: str) -> None:
        self.statements += 1
        verb = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else ""
        if verb == "BEGIN":
            self.inside, self.wrote = True, False
        elif verb in ("COMMIT", "END", "ROLLBACK") and self.inside:
            self.commits += verb != "ROLLBACK" and self.wrote
            self.inside = False
        elif verb in ("INSERT", "UPDATE", "DELETE", "REPLACE"):
            self.wrote = True
            self.commits += not self.inside


def run(deals: int, workdir: Path) -> dict[str, float]:
    clock = ManualClock()
    dataset = generate(deals, 3)
    portal = start_portal(dataset=dataset, clock=clock, rate=2, burst=50)
    base = start_base(profile="ut11", dataset=dataset, user=USER, password=PASSWORD, clock=clock)
    try:
        sync = SyncConfig(pipelines=PIPELINES, max_creates_per_cycle=1_000_000)
        config = Config(bitrix24=Bitrix24Config(webhook_url=portal.webhook_url), onec=onec_config(base), sync=sync,
                        state_path=str(workdir / f"state-{deals}.db"))
        client = Bitrix24Client(portal.webhook_url, clock=clock, rate=2, burst=50)
        bitrix = Bitrix24Adapter(client)
        for spec in deal_field_specs(sync.fields):
            bitrix.ensure_userfield(spec)
        clock.advance(60)
        engine = Engine(config, bitrix, OneCAdapter.from_config(config.onec, clock=clock),
                        Store(config.state_path, clock=clock), clock)
        leave_out_unknown_products(portal)
        portal.app.stats.reset()
        base.app.stats.reset()
        started_wall, started_portal = time.monotonic(), clock.time()
        statements = StatementCount()
        engine.store.db.connection().set_trace_callback(statements)
        push = engine.push()
        engine.store.db.connection().set_trace_callback(None)
        pushed_onec = base.app.stats.snapshot()["http_requests"]
        pushed = portal.app.stats.snapshot()
        engine.pull()
        first = portal.app.stats.snapshot()
        first_onec = base.app.stats.snapshot()
        figures = {
            "deals": deals, "created": push.created, "failed": len(push.failed),
            "b24_requests": first["http_requests"], "b24_per_deal": first["http_requests"] / max(push.created, 1),
            "b24_push_per_deal": pushed["http_requests"] / max(push.created, 1),
            "batch_fill": sum(pushed["commands_by_method"].values()) / max(pushed["http_requests"] * 50, 1),
            "b24_503": first["responses_by_status"].get("503", 0), "onec_requests": first_onec["http_requests"],
            "onec_push_per_deal": pushed_onec / max(push.created, 1),
            "sql_per_deal": statements.statements / max(push.created, 1),
            "commits_per_deal": statements.commits / max(push.created, 1),
            "onec_first_pull": first_onec["http_requests"] - pushed_onec,
            "portal_time_s": clock.time() - started_portal, "wall_s": time.monotonic() - started_wall,
        }
        clock.advance(60)  # the next push, inside the listing's overlap: every deal just written is listed again
        portal.app.stats.reset()
        base.app.stats.reset()
        engine.push()
        figures["after_write_b24_requests"] = portal.app.stats.snapshot()["http_requests"]
        figures["after_write_onec_requests"] = base.app.stats.snapshot()["http_requests"]
        engine.pull()
        clock.advance(300)
        engine.push()
        engine.pull()
        clock.advance(300)
        portal.app.stats.reset()
        base.app.stats.reset()
        engine.push()
        engine.pull()
        figures["idle_b24_requests"] = portal.app.stats.snapshot()["http_requests"]
        figures["idle_onec_requests"] = base.app.stats.snapshot()["http_requests"]
        figures["idle_writes"] = portal.app.stats.snapshot()["writes"] + base.app.stats.snapshot()["writes"]
        clock.advance(8 * 86400)  # a week on: the bindings are old ones, read again in turn
        engine.pull()
        base.app.stats.reset()
        engine.pull()
        figures["idle_pull_week_onec"] = base.app.stats.snapshot()["http_requests"]
        bindings = engine.store.count_bindings()["total"]
        figures["bindings"] = bindings
        engine.store.close()
        figures["state_bytes_per_binding"] = int(Path(config.state_path).stat().st_size / max(bindings, 1))
        return figures
    finally:
        portal.stop()
        base.stop()


def paced(deals: int, workers: int, workdir: Path) -> dict[str, float]:
    """One push of `deals` new deals on the real clock: the portal at the cloud's limits, 1C at a real base's
    pace (the emulator's realistic latency profile), `workers` deals written to 1C at once."""
    from dataclasses import replace

    from b24sync.clock import SYSTEM_CLOCK
    from b24sync_emulators.onec.latency import REALISTIC

    dataset = generate(deals, 3)
    portal = start_portal(dataset=dataset, rate=2, burst=50)
    base = start_base(profile="ut11", dataset=dataset, user=USER, password=PASSWORD, latency=REALISTIC)
    try:
        sync = SyncConfig(pipelines=PIPELINES, max_creates_per_cycle=1_000_000)
        config = Config(bitrix24=Bitrix24Config(webhook_url=portal.webhook_url),
                        onec=replace(onec_config(base), max_concurrency=workers), sync=sync,
                        state_path=str(workdir / f"paced-{deals}-{workers}.db"))
        bitrix = Bitrix24Adapter(Bitrix24Client(portal.webhook_url, rate=2, burst=50))
        for spec in deal_field_specs(sync.fields):
            bitrix.ensure_userfield(spec)
        leave_out_unknown_products(portal)
        portal.app.stats.reset()
        engine = Engine(config, bitrix, OneCAdapter.from_config(config.onec), Store(config.state_path),
                        SYSTEM_CLOCK)
        started = time.monotonic()
        report = engine.push()
        wall = time.monotonic() - started
        requests = portal.app.stats.snapshot()
        engine.store.close()
        floor = max(0.0, (requests["http_requests"] - 50) / 2)
        return {"deals": deals, "workers": workers, "created": report.created, "wall_s": wall,
                "b24_floor_s": floor, "onec_floor_s": base.app.profile_latency.busy_s / workers,
                "b24_503": requests["responses_by_status"].get("503", 0)}
    finally:
        portal.stop()
        base.stop()


def stage_latency(samples: int, workdir: Path) -> dict[str, Any]:
    """`b24sync run` with the shipped defaults on the real clock against the sandbox (1C at a real base's pace):
    deals moved into a trigger stage at random moments, and how long each took to reach 1C; then the Bitrix24
    requests of a quiet minute, as a share of the portal's budget (2 a second)."""
    import random
    import signal

    import requests as http

    from b24sync.sandbox import start_sandbox
    from b24sync_emulators.onec.latency import REALISTIC

    sandbox = start_sandbox(deals=60, seed=4, latency=REALISTIC)
    (workdir / "latency").mkdir()
    config = sandbox.write_config(workdir / "latency" / "config.yaml")
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["logging"] = {"level": "ERROR", "format": "json"}
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    portal = sandbox.portal
    quiet = [deal_id for deal_id, deal in portal.portal.deals.items()
             if deal["STAGE_ID"] in ("NEW", "PREPARATION") and deal["CATEGORY_ID"] == "0"
             and not any("(нет в 1С)" in row["PRODUCT_NAME"] for row in portal.portal.product_rows.get(deal_id, []))]
    service = subprocess.Popen([sys.executable, "-m", "b24sync", "run", "--config", str(config)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rng = random.Random(7)
    session = http.Session()
    session.auth = (data["onec"]["user"].encode(), data["onec"]["password"].encode())
    orders = data["onec"]["url"] + "Document_ЗаказКлиента/$count"
    delays: list[float] = []
    try:
        time.sleep(20)  # the first cycles: the deals already in their trigger stages go to 1C
        for deal_id in quiet[:samples]:
            time.sleep(rng.uniform(0, 10))
            before = int(session.get(orders, timeout=10).text.lstrip("\ufeff"))
            http.post(portal.webhook_url + "crm.deal.update", json={"id": deal_id, "fields": {"STAGE_ID": "EXECUTING"}},
                      timeout=10).raise_for_status()
            moved = time.monotonic()
            while int(session.get(orders, timeout=10).text.lstrip("\ufeff")) == before:
                time.sleep(0.2)
            delays.append(time.monotonic() - moved)
        failing = [deal_id for deal_id, deal in portal.portal.deals.items()  # their retries are not idleness
                   if any("(нет в 1С)" in row["PRODUCT_NAME"] for row in portal.portal.product_rows.get(deal_id, []))]
        for deal_id in failing:
            http.post(portal.webhook_url + "crm.deal.update", json={"id": deal_id, "fields": {
                "STAGE_ID": "LOSE" if portal.portal.deals[deal_id]["CATEGORY_ID"] == "0" else "C1:LOSE"}},
                timeout=10).raise_for_status()
        time.sleep(75)  # the push sees them leave their stages, the retry job has nothing left
        portal.app.stats.reset()
        time.sleep(60)
        idle = portal.app.stats.snapshot()["http_requests"]
    finally:
        service.send_signal(signal.SIGTERM)
        service.wait(timeout=60)
        sandbox.stop()
    delays.sort()
    return {"samples": [round(delay, 1) for delay in delays], "median_s": delays[len(delays) // 2],
            "worst_s": delays[-1], "idle_budget_share": idle / 120}


def memory(deals: int, workdir: Path) -> float:
    """The peak RSS (MB) of a push cycle of `deals` deals, the emulators running in another process."""
    (workdir / f"sandbox-{deals}").mkdir()
    config = workdir / f"sandbox-{deals}" / "config.yaml"  # the state file goes next to it
    emulators = subprocess.Popen([sys.executable, "-m", "b24sync", "emulate", "all", "--generate", str(deals),
                                  "--rate", "100", "--burst", "10000", "--config-out", str(config)],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        emulators.stdout.readline()
        emulators.stdout.readline()
        data = yaml.safe_load(config.read_text(encoding="utf-8"))
        for pipeline in data["sync"]["pipelines"]:
            pipeline["trigger_stages"] = list(PIPELINES[pipeline["category_id"]].trigger_stages)
        data["sync"]["guards"] = {"max_creates_per_cycle": 1_000_000}
        data["logging"] = {"level": "ERROR", "format": "json"}
        config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        subprocess.run([sys.executable, "-m", "b24sync", "setup", "--config", str(config)], check=True,
                       stdout=subprocess.DEVNULL)
        config.chmod(0o600)
        child = subprocess.run([sys.executable, __file__, "--memory-child", str(config)], capture_output=True,
                               text=True, check=True)
        return float(child.stdout.strip().splitlines()[-1])
    finally:
        emulators.terminate()
        emulators.wait(timeout=30)


def memory_child(config_path: str) -> None:
    """In a process of its own: one push cycle; prints its peak RSS in MB (VmHWM: getrusage's ru_maxrss would
    carry the forking parent's size over the exec)."""
    from b24sync.config import load_config
    from b24sync.wiring import build

    parts = build(load_config(config_path))
    parts.engine.push()
    parts.close()
    status = Path("/proc/self/status").read_text(encoding="utf-8")
    peak_kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
    print(peak_kb / 1024)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--deals", type=int, nargs="+", default=[100, 1000, 2000, 5000])
    parser.add_argument("--memory", type=int, nargs="+", metavar="N",
                        help="instead: the peak RSS of a push cycle over N portal deals, for each N (20,000 takes "
                             "about ten minutes)")
    parser.add_argument("--paced", type=int, metavar="N",
                        help="instead: push N deals on the real clock, 1C at a real base's pace, with 1, 4 and 16 "
                             "deals written to 1C at once (2,000 deals take about an hour)")
    parser.add_argument("--stage-latency", type=int, metavar="N",
                        help="instead: run the service with its defaults and time N stage changes until their "
                             "orders are in 1C (takes a few minutes)")
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    configure_logging("ERROR", "console")
    if args.memory_child:
        memory_child(args.memory_child)
        return 0
    if args.memory:
        with tempfile.TemporaryDirectory() as workdir:
            for deals in args.memory:
                print(f"{deals:>8} portal deals: peak RSS {memory(deals, Path(workdir)):.1f} MB", flush=True)
        print("(one push cycle of b24sync in a process of its own; the emulators run in another)")
        return 0
    if args.stage_latency:
        with tempfile.TemporaryDirectory() as workdir:
            figures = stage_latency(args.stage_latency, Path(workdir))
        print(f"stage change → order in 1C: {figures['samples']} s; median {figures['median_s']:.1f} s, worst "
              f"{figures['worst_s']:.1f} s (`b24sync run` with the shipped defaults, 1C at a real base's pace)")
        print(f"a quiet minute of the service: {figures['idle_budget_share']:.1%} of the portal's request budget")
        return 0
    if args.paced:
        names = ["deals", "workers", "created", "wall_s", "b24_floor_s", "onec_floor_s", "b24_503"]
        print("  ".join(f"{name:>12}" for name in names))
        with tempfile.TemporaryDirectory() as workdir:
            for workers in (1, 4, 16):
                figures = paced(args.paced, workers, Path(workdir))
                print("  ".join(f"{figures[name]:>12.1f}" if isinstance(figures[name], float) else
                                f"{figures[name]:>12}" for name in names), flush=True)
        print("\nwall_s: the push on the real clock, 1C at the emulator's realistic pace; b24_floor_s: what the "
              "portal's rate limit alone costs (requests beyond the burst of 50, at 2 a second); onec_floor_s: "
              "what 1C's pace alone costs at that concurrency (the delays its sessions served, over the workers); "
              "b24_503: QUERY_LIMIT_EXCEEDED answers on the real clock.")
        return 0
    columns = ["deals", "created", "failed", "b24_requests", "b24_per_deal", "b24_push_per_deal", "batch_fill",
               "b24_503", "onec_requests",
               "onec_push_per_deal", "onec_first_pull",
               "portal_time_s", "wall_s", "after_write_b24_requests", "after_write_onec_requests", "idle_b24_requests",
               "idle_onec_requests", "bindings", "idle_pull_week_onec", "idle_writes", "sql_per_deal",
               "commits_per_deal", "state_bytes_per_binding", "rss_peak_mb"]
    print("  ".join(f"{name:>12}" for name in columns))
    with tempfile.TemporaryDirectory() as workdir:
        for deals in args.deals:
            figures = run(deals, Path(workdir))
            figures["rss_peak_mb"] = memory(deals, Path(workdir))
            print("  ".join(f"{figures[name]:>12.3f}" if isinstance(figures[name], float) else
                            f"{figures[name]:>12}" for name in columns), flush=True)
    print("\nTargets and floors: b24_push_per_deal ≤ 0.07 (floor about 0.04: a deal's rows and its write-back, "
          "the rest 50 a command, 50 commands a request), batch_fill: commands carried per request over 50, "
          "b24_503 = 0 (on this simulated clock it cannot fail: `--paced` counts them on the real one), "
          "onec_push_per_deal ≤ 2.5 (floor: create + post = 2), onec_first_pull and idle_pull_week_onec: "
          "O(bindings / 50) and about flat, after_write_b24_requests = the listing alone (1 request up to 50 "
          "re-listed deals, 2 up to 2,550), after_write_onec_requests = 0, idle_b24_requests = 2 (the push's "
          "listing, and the pull's check that the deals it follows still exist: one batch request up to 2,500 "
          "deals), idle_writes = 0, rss_peak_mb about flat (`--memory 2000 20000`)."
          "\nportal_time_s: what the cycle costs against a real portal at 2/s (burst 50); rss_peak_mb: one push "
          "cycle in a process of its own, the emulators running in another.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
