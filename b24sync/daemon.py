"""`b24sync run`: the long-running service.

APScheduler runs each job at its own interval, one at a time (a single worker:
two cycles never write at once, and the process lock keeps one-shot commands
out). SIGTERM and SIGINT finish the deal in hand, save state and exit 0;
SIGHUP reloads the config (an invalid one is reported and the old one kept).
A system that cannot be reached is logged once when it goes down and once when
it comes back, never kills the daemon, and shows in `status`.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler

from b24sync import systemd
from b24sync.alerts import Alerts
from b24sync.bitrix24.errors import OperationTimeLimitError
from b24sync.config import Config, ConfigError, load_config
from b24sync.errors import (
    EXIT_CONFIG,
    EXIT_OK,
    EXIT_UNREACHABLE,
    B24SyncError,
    LockedError,
    StateError,
    exit_code,
    outage_system,
)
from b24sync.logs import configure_logging, get_logger
from b24sync.metrics import MetricsUnavailableError, Tally, serve
from b24sync.sync.catalog import sync_catalog
from b24sync.wiring import Parts, build, connect

REQUEST_POLL_SECONDS = 2  # how soon a command given beside the service is carried out
REQUEST_TTL_SECONDS = 600  # a request still waiting after this long has lost its command


class Daemon:
    def __init__(self, config_path: str | None) -> None:
        self.config_path = config_path
        self.log = get_logger("b24sync.daemon")
        self.parts: Parts | None = None
        self.scheduler: BlockingScheduler | None = None
        self.ready = False
        self.stopping = threading.Event()
        self.work_lock = threading.Lock()
        self.reload_lock = threading.Lock()
        self.last_summary = "starting"
        self.tally = Tally()
        self.metrics_server: Any = None
        self.alerts: Alerts | None = None
        self.health_down: dict[str, str] = {}  # the jobs' snapshot of which system is down since when
        self.last_success = time.time()  # the start counts: /healthz fails only after a long time without one
        self.progress_at = time.monotonic()
        self._watchdog_sent = 0
        self._watchdog_warned = False

    # -- life cycle ---------------------------------------------------------------------------------

    def run(self) -> int:
        try:
            config = load_config(self.config_path)
        except ConfigError as error:
            print(str(error), flush=True)
            return EXIT_CONFIG
        configure_logging(config.logging.level, config.logging.format)
        for warning in config.warnings:
            self.log.warning("config_warning", warning=warning)
        self.alerts = Alerts(config.notify)
        try:
            self.parts = build(config, service=True)
        except B24SyncError as error:
            self.log.error("lock_held" if isinstance(error, LockedError) else "cannot_start", error=str(error))
            return exit_code(error)
        if config.metrics_listen:
            try:
                self.metrics_server = serve(config.metrics_listen, self.tally, self)
            except (MetricsUnavailableError, OSError) as error:
                self.log.error("metrics_unavailable", error=str(error))
                self.parts.close()
                return EXIT_CONFIG
        self.scheduler = BlockingScheduler(executors={"default": ThreadPoolExecutor(1)}, timezone="UTC")
        self._schedule(config)
        interval = systemd.watchdog_interval()
        if interval:
            self.scheduler.add_job(self._watchdog, "interval", seconds=interval,
                                   id="watchdog", executor="watchdog", max_instances=1, coalesce=True)
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGHUP, self._on_reload)
        self.log.info("daemon_started", config=config.source)
        # ready once the config and the state are loaded: a system that is down is an outage the status line
        # and /healthz report, not a start that never ends
        systemd.notify("READY=1")
        try:
            self.scheduler.start()
        finally:
            if self.metrics_server is not None:
                self.metrics_server.shutdown()
            self.parts.close()
            self.log.info("daemon_stopped")
        return EXIT_OK

    def _schedule(self, config: Config) -> None:
        assert self.scheduler is not None
        if "watchdog" not in self.scheduler._executors:
            self.scheduler.add_executor(ThreadPoolExecutor(1), "watchdog")  # the pings alone: never behind a call
            self.scheduler.add_executor(ThreadPoolExecutor(1), "checks")
        jobs: list[tuple[str, int, Callable[[], None]]] = [
            ("bitrix24_to_onec", config.daemon.bitrix24_to_onec_seconds, self.job_push),
            ("onec_to_bitrix24", config.daemon.onec_to_bitrix24_seconds, self.job_pull),
            ("retry", config.daemon.retry_seconds, self.job_retry),
            ("requests", REQUEST_POLL_SECONDS, self.job_requests),
        ]
        if config.daemon.catalog_seconds:
            jobs.append(("catalog", config.daemon.catalog_seconds, self.job_catalog))
        for job_id in ("bitrix24_to_onec", "onec_to_bitrix24", "retry", "requests", "catalog"):
            if self.scheduler.get_job(job_id):
                self.scheduler.remove_job(job_id)
        if not self.ready and not self.scheduler.get_job("connection_check"):
            self.scheduler.add_job(self.job_connection_check, "interval", seconds=30, id="connection_check",
                                   executor="checks", max_instances=1, coalesce=True, next_run_time=_now_plus(0))
        for job_id, seconds, function in jobs:
            self.scheduler.add_job(function, "interval", seconds=seconds, id=job_id, max_instances=1,
                                   coalesce=True, misfire_grace_time=max(5, seconds // 2),
                                   next_run_time=_now_plus(0 if job_id == "bitrix24_to_onec" else 1))

    def _on_stop(self, signum: int, _frame: Any) -> None:
        if self.stopping.is_set():
            return
        self.stopping.set()
        systemd.notify("STOPPING=1")
        self.log.info("daemon_stopping", signal=signal.Signals(signum).name)
        if self.parts is not None:
            self.parts.engine.stop_requested = True
        timeout = self.parts.config.daemon.shutdown_timeout_seconds if self.parts else 30
        threading.Thread(target=self._shutdown, args=(timeout,), daemon=True).start()

    def _shutdown(self, timeout: float) -> None:
        assert self.scheduler is not None
        acquired = self.work_lock.acquire(timeout=timeout)  # the cycle in hand ends after its current deal
        if not acquired:
            # a call that outlasts the stop timeout (a slow 1C) is abandoned: every write is preceded by its intent
            # in the state file, so the next start resumes it as after a crash; waiting would end in systemd's
            # SIGKILL mid-cycle anyway
            self.log.warning("daemon_stop_timeout", seconds=timeout,
                             action="the cycle in hand is abandoned; the next start resumes its recorded intents")
            systemd.notify("STATUS=stopped during a cycle; the next start resumes it")
            os._exit(EXIT_OK)
        self.scheduler.shutdown(wait=False)

    def _on_reload(self, _signum: int, _frame: Any) -> None:
        threading.Thread(target=self._reload, daemon=True).start()

    def _reload(self) -> None:
        with self.reload_lock:  # signals may come in a burst: reload one after the other
            try:
                self._reload_now()
            except Exception as error:  # a reload must never take the service down
                self.log.error("config_reload_failed", error=str(error), action="the running config is kept")

    def _reload_now(self) -> None:
        systemd.notify(f"RELOADING=1\nMONOTONIC_USEC={time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000}")
        try:
            config = load_config(self.config_path)
        except ConfigError as error:
            systemd.notify("READY=1")
            self.log.error("config_reload_refused", problems=error.problems,
                           action="the running config is kept; fix the file and send SIGHUP again")
            self._status(f"config reload refused ({len(error.problems)} problems); running on the previous config")
            return
        running = self.parts.config if self.parts is not None else None
        if running is not None:
            kept = [key for key, old, new in (("metrics.listen", running.metrics_listen, config.metrics_listen),
                                              ("state.path", running.state_path, config.state_path)) if old != new]
            if kept:
                self.log.warning("config_needs_restart", keys=kept,
                                 action=f"{', '.join(kept)} changed: restart the service for that to apply "
                                        f"(systemctl restart b24sync); the rest is reloaded")
            # the running service keeps the state file and the listener it holds, until it is restarted
            config = replace(config, state_path=running.state_path, metrics_listen=running.metrics_listen)
        with self.work_lock:
            assert self.parts is not None
            from b24sync.sync.runner import Engine

            bitrix, onec = connect(config)
            self.parts.onec.client.close()  # the old client's 1C sessions end now
            self.parts.config, self.parts.bitrix, self.parts.onec = config, bitrix, onec
            self.parts.engine = Engine(config, bitrix, onec, self.parts.store)
            self.alerts = Alerts(config.notify)
            configure_logging(config.logging.level, config.logging.format)
            self._schedule(config)
        self.log.info("config_reloaded", config=config.source)
        self._status("config reloaded")
        systemd.notify("READY=1")

    # -- jobs -----------------------------------------------------------------------------------------

    def unreachable(self) -> dict[str, str]:
        """Which system is down since when (for /healthz): the snapshot the jobs leave, never behind the work
        lock, so a probe answers at once during any cycle."""
        return dict(self.health_down)

    def health(self) -> tuple[int, str]:
        """/healthz: 200 and "ok", or 503 and why (starting, a system down since when, no good cycle for long)."""
        if not self.ready:
            return 503, "starting\n"
        down = self.unreachable()
        if down:
            return 503, "".join(f"{name} unreachable since {since}\n" if name != "config" else
                                f"a config or state-file problem since {since} (see the log)\n"
                                for name, since in down.items())
        limit = self.parts.config.daemon.unhealthy_after_seconds if self.parts else 3600
        quiet = time.time() - self.last_success
        if quiet > limit:
            return 503, f"no cycle succeeded for {quiet / 60:.0f} minutes (daemon.unhealthy_after_seconds)\n"
        return 200, "ok\n"

    def _snapshot(self, store: Any, succeeded: bool) -> None:
        """The health the probes read, taken while the job still holds the work lock."""
        self.health_down = {system: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(since))
                            for system, (since, _) in store.unreachable().items()}
        if succeeded:
            self.last_success = time.time()
        self.progress_at = time.monotonic()

    def _alert(self, store: Any, report: Any) -> None:
        """Tell people what changed (notify.urls): outages and recoveries, failed deals, conflicts, holds."""
        if self.alerts is not None:
            self.alerts.after_cycle(store, report, self.last_success)

    def _watchdog(self) -> None:
        """WATCHDOG=1 only while the work makes progress: idle, or requests going out, or a job ending within
        the watchdog period. A cycle that hangs stops the pings, and systemd restarts the service."""
        sent = (self.parts.bitrix.client.requests_sent + self.parts.onec.client.requests_sent) if self.parts else 0
        if sent != self._watchdog_sent:
            self._watchdog_sent, self.progress_at = sent, time.monotonic()
        period = (systemd.watchdog_interval() or 0) * 2  # the interval is half of WatchdogSec
        if not self.work_lock.locked() or time.monotonic() - self.progress_at < period:
            systemd.notify("WATCHDOG=1")
            self._watchdog_warned = False
        elif not self._watchdog_warned:
            self._watchdog_warned = True
            self.log.error("work_stalled", seconds=round(time.monotonic() - self.progress_at),
                           action="the watchdog pings stop; systemd restarts the service")

    def _guarded(self, job: str, work: Callable[[], Any]) -> None:
        if self.stopping.is_set():
            return
        with self.work_lock:
            assert self.parts is not None
            store = self.parts.store
            started = time.time()
            sent = (self.parts.bitrix.client.requests_sent, self.parts.onec.client.requests_sent)
            try:
                report = work()
            except OperationTimeLimitError as error:  # one method paused by the portal: not an outage
                if self.last_summary != f"{job}: {error.method} paused by the portal":
                    self.log.warning("bitrix24_method_paused", job=job, method=error.method, error=str(error),
                                     action="the job runs again at its next interval; other jobs go on")
                self._status(f"{job}: {error.method} paused by the portal")
                self.tally.record(job, None, time.time())
                return
            except B24SyncError as error:
                system = outage_system(error)
                try:
                    newly = store.set_unreachable(system, str(error))
                    store.log_run(job, started, "error", str(error)[:500])
                except StateError:  # the state file itself is failing (a full disk): the log says it
                    newly = self.last_summary != f"{job}: {system} unavailable since this cycle"
                if newly:
                    self.log.error("system_unavailable", job=job, system=system, error=str(error),
                                   action="b24sync keeps trying; `b24sync status` shows since when")
                try:
                    self._snapshot(store, succeeded=False)
                except StateError:
                    self.health_down[system] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                self._alert(store, None)
                self.tally.record(job, None, time.time())
                self._status(f"{job}: {system} unavailable since this cycle")
                return
            if report is not None:
                self.tally.record(job, report, time.time())
            summary = report.summary() if report is not None else None
            # a system counts as back only if this job really talked to it
            reached = {"config": True, "bitrix24": self.parts.bitrix.client.requests_sent > sent[0],
                       "onec": self.parts.onec.client.requests_sent > sent[1]}
            for system, talked in reached.items():
                if talked and store.set_unreachable(system, None):
                    self.log.info("system_available_again", system=system)
            self._snapshot(store, succeeded=report is not None)
            self._alert(store, report)
            if summary:
                self.log.info("cycle_finished", job=job, seconds=round(time.time() - started, 1), summary=summary,
                              ok=getattr(report, "ok", True))
                self._status(summary)

    def _status(self, summary: str) -> None:
        self.last_summary = summary
        systemd.notify(f"STATUS={summary}")

    def job_connection_check(self) -> None:
        """/healthz says "starting" until both systems have answered once (the webhook's scopes, 1C's $metadata)."""
        try:
            self.parts.bitrix.scopes()
            self.parts.onec.metadata(refresh=True)
        except B24SyncError as error:
            self._status(f"waiting for the systems: {error}"[:200])
            return
        self.ready = True
        self.log.info("daemon_ready")
        if self.scheduler is not None and self.scheduler.get_job("connection_check"):
            self.scheduler.remove_job("connection_check")

    def job_push(self) -> None:
        self._guarded("bitrix24_to_onec", lambda: self.parts.engine.push())

    def job_pull(self) -> None:
        self._guarded("onec_to_bitrix24", lambda: self.parts.engine.pull())

    def job_retry(self) -> None:
        def retry() -> Any:  # deals that did not reach 1C, and 1C's news that did not reach their deals
            due = self.parts.store.due_failures()
            pushed = self.parts.engine.push(deal_ids=due) if due else None
            news = self.parts.store.due_failures("writeback")
            return self.parts.engine.pull(deal_ids=news) if news else pushed

        self._guarded("retry", retry)

    def job_requests(self) -> None:
        """Commands an administrator gave while the service runs (retry, resync, conflicts resolve, …)."""
        from b24sync.commands import carry_out

        if self.parts is None or self.stopping.is_set():
            return
        with self.work_lock:
            store = self.parts.store
            try:
                # a request nobody waits for any more (older than REQUEST_TTL_SECONDS), or one a stopped
                # service had started, is never carried out behind anyone's back
                store.abandon_requests(older_than=time.time() - REQUEST_TTL_SECONDS)
                while not self.stopping.is_set() and (taken := store.next_request()) is not None:
                    request_id, command, arguments = taken
                    self.log.info("request_started", request=request_id, command=command)
                    reports: list[Any] = []
                    try:
                        code, output, reports = carry_out(self.parts, command, arguments)
                    except Exception as error:  # the waiting command must hear of it, and the service goes on
                        code, output = EXIT_UNREACHABLE, f"error: {error}"
                    finally:
                        self.parts.engine.progress = None
                    store.finish_request(request_id, code, output)
                    self.log.info("request_finished", request=request_id, command=command, exit_code=code,
                                  arguments=arguments)  # an administrator's command, kept in the journal
                    for report in reports:  # what the command's cycles changed is told as the service's own
                        self._alert(store, report)
                store.prune_requests()
            except StateError as error:  # the state file is failing: the cycles say so too
                self.log.warning("requests_unavailable", error=str(error))

    def job_catalog(self) -> None:
        self._guarded("catalog", lambda: sync_catalog(self.parts.onec, self.parts.bitrix, self.parts.store,
                                                      self.parts.config.sync.article_property,
                                                      price_type=self.parts.config.sync.price_type))


def _now_plus(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)
