"""`b24sync run` as a subprocess against the emulators: it syncs, rides out a 1C outage, reloads, and stops cleanly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
import yaml

from b24sync.clock import SYSTEM_CLOCK
from b24sync_emulators.httpserver import EmulatorServer
from b24sync_emulators.inbox import RunningInbox
from tests.sync_rig import Rig


class Notifications:
    """A fake $NOTIFY_SOCKET: what the daemon tells systemd."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.seen: list[str] = []

    def wait_for(self, predicate, timeout: float = 30) -> str:  # noqa: ANN001 - a small test helper
        deadline = time.monotonic() + timeout
        for message in self.seen:
            if predicate(message):
                return message
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                message = self.sock.recv(4096).decode()
            except TimeoutError:
                break
            self.seen.append(message)
            if predicate(message):
                return message
        raise AssertionError(f"no such notification in {timeout} s; got {self.seen[-10:]}")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    running = Rig.start(tmp_path, clock=SYSTEM_CLOCK)
    yield running
    running.stop()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def slow_onec(rig: Rig, latency_ms: int) -> None:
    """Every 1C request from now on waits `latency_ms` before its answer (the emulator's fault control)."""
    requests.post(f"{rig.base.root}/_emulator/faults", json={"faults": [{"method": "*", "latency_ms": latency_ms}]},
                  timeout=5).raise_for_status()


@contextmanager
def running_service(config: Path, tmp_path: Path,
                    **environment: str) -> Iterator[tuple[subprocess.Popen, Notifications]]:
    """`b24sync run` as systemd starts it, with a notify socket to hear what it tells systemd; a service the test
    left running is killed (its log's end printed) and the socket closed, whatever happened."""
    notifications = Notifications(tmp_path / "notify.sock")
    env = {**os.environ, "NOTIFY_SOCKET": str(tmp_path / "notify.sock"), **environment}
    daemon = subprocess.Popen([sys.executable, "-m", "b24sync", "run", "--config", str(config)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        yield daemon, notifications
    finally:
        if daemon.poll() is None:
            daemon.kill()
            print(daemon.stderr.read()[-4000:])
        notifications.close()


def write_config(rig: Rig, path: Path, metrics: str | None = None, alerts_to: str | None = None,
                 **daemon: int) -> Path:
    config = {
        "bitrix24": {"webhook_url": rig.portal.webhook_url, "rate_per_second": 50, "burst": 500},
        "onec": {"url": rig.base.odata_root, "user": rig.config.onec.user, "password": rig.config.onec.password,
                 "read_timeout": 15, "max_retries": 0, "connect_timeout": 1,
                 "defaults": {"organisation": "ООО «Электросбыт»", "warehouse": "Основной склад",
                              "agreement": "Основное соглашение (розница и опт)"}},
        "sync": {"pipelines": [{"category_id": 0, "trigger_stages": ["EXECUTING", "FINAL_INVOICE", "WON"]},
                               {"category_id": 1, "trigger_stages": ["C1:EXECUTING", "C1:WON"]}]},
        "daemon": {"bitrix24_to_onec_seconds": 1, "onec_to_bitrix24_seconds": 1, "retry_seconds": 1, **daemon},
        "state": {"path": str(path.parent / "state.db")},
        "logging": {"level": "INFO", "format": "json"},
    }
    if metrics:
        config["metrics"] = {"listen": metrics}
    if alerts_to:
        config["notify"] = {"urls": [alerts_to], "unreachable_after_minutes": 0}
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    path.chmod(0o600)
    return path


def test_the_daemon_syncs_survives_an_outage_reloads_and_stops(rig: Rig, tmp_path: Path,
                                                              inbox: RunningInbox) -> None:
    metrics = f"127.0.0.1:{free_port()}"  # the administrator's alerts go to the inbox (Apprise's json://)
    config = write_config(rig, tmp_path / "config.yaml", metrics=metrics, alerts_to=inbox.url)
    rig.move(1)
    with running_service(config, tmp_path, WATCHDOG_USEC="2000000") as (daemon, notifications):
        notifications.wait_for(lambda message: message == "READY=1")
        notifications.wait_for(lambda message: message == "WATCHDOG=1")
        notifications.wait_for(lambda message: "1 created" in message)
        assert len(rig.documents_for(1)) == 1
        scraped = requests.get(f"http://{metrics}/metrics", timeout=5).text
        assert 'b24sync_cycles_total{job="bitrix24_to_onec",result="ok"}' in scraped
        assert "b24sync_deals_pushed_total 1.0" in scraped and 'method="crm.deal.list",system="bitrix24"' in scraped
        assert requests.get(f"http://{metrics}/healthz", timeout=5).status_code == 200

        # 1C goes away: the daemon keeps running and says so in `status`
        port = int(rig.base.root.rsplit(":", 1)[1])
        rig.base.server.stop()
        rig.move(2)
        notifications.wait_for(lambda message: "onec unavailable" in message)
        status = subprocess.run([sys.executable, "-m", "b24sync", "status", "--config", str(config)],
                                capture_output=True, text=True, timeout=30)
        assert "UNREACHABLE onec since" in status.stdout
        health = requests.get(f"http://{metrics}/healthz", timeout=5)
        assert health.status_code == 503 and "onec unreachable since" in health.text
        assert daemon.poll() is None
        inbox.app.wait_for(lambda titles: "b24sync: onec unreachable" in titles)

        # 1C comes back on the same address: the daemon catches up by itself
        rig.base.server = EmulatorServer(rig.base.app, "127.0.0.1", port).start()
        notifications.seen.clear()
        notifications.wait_for(lambda message: "created" in message, timeout=30)
        assert len(rig.documents_for(2)) == 1
        inbox.app.wait_for(lambda titles: "b24sync: onec reachable again" in titles)

        # commands given beside the running service are carried out by it, and answer as they would alone
        rig.move(4)
        handed = subprocess.run([sys.executable, "-m", "b24sync", "sync", "--deal", "4", "--config", str(config)],
                                capture_output=True, text=True, timeout=60)
        assert handed.returncode == 0, handed.stdout + handed.stderr
        assert f"the service (PID {daemon.pid}) holds the lock" in handed.stderr
        assert "bitrix24_to_onec" in handed.stdout and len(rig.documents_for(4)) == 1
        retried = subprocess.run([sys.executable, "-m", "b24sync", "retry", "--config", str(config)],
                                 capture_output=True, text=True, timeout=60)
        assert retried.returncode == 0 and "will be retried" in retried.stdout, retried.stderr
        rig.accountant().patch("Document_ЗаказКлиента", rig.documents_for(4)[0]["Ref_Key"],
                               {"Комментарий": "правка бухгалтера"})
        rig.call("crm.deal.update", {"id": 4, "fields": {"TITLE": "Правка менеджера"}})
        resolved = None
        for _ in range(20):  # the service's own push raises the conflict at one of its next cycles
            listed = subprocess.run([sys.executable, "-m", "b24sync", "conflicts", "--json", "--config",
                                     str(config)], capture_output=True, text=True, timeout=30)
            if '"deal_id": 4' in listed.stdout:
                resolved = subprocess.run([sys.executable, "-m", "b24sync", "conflicts", "resolve", "--deal", "4",
                                           "--keep", "1c", "--config", str(config)], capture_output=True,
                                          text=True, timeout=60)
                break
            notifications.seen.clear()
            notifications.wait_for(lambda message: "bitrix24_to_onec" in message, timeout=30)  # a cycle ended
        assert resolved is not None and resolved.returncode == 0, resolved and resolved.stdout + resolved.stderr
        assert "conflict resolved" in resolved.stdout
        inbox.app.wait_for(lambda titles: "b24sync: 1 new conflict(s)" in titles)
        assert any("deal 4:" in str(message.get("message")) for message in inbox.app.messages)  # which deal

        # SIGHUP with a broken file keeps the old config; with a good one, reloads
        good = config.read_text(encoding="utf-8")
        config.write_text(good.replace("daemon:", "daemon:\n  nonsense: 1"), encoding="utf-8")
        daemon.send_signal(signal.SIGHUP)
        notifications.wait_for(lambda message: "config reload refused" in message)
        config.write_text(good, encoding="utf-8")
        daemon.send_signal(signal.SIGHUP)
        notifications.wait_for(lambda message: message == "STATUS=config reloaded")
        rig.move(3)
        notifications.seen.clear()
        notifications.wait_for(lambda message: "created" in message, timeout=30)

        started = time.monotonic()
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=35) == 0
        assert time.monotonic() - started < 30
        notifications.wait_for(lambda message: message == "STOPPING=1", timeout=5)
        logs = daemon.stderr.read()
        assert "system_unavailable" in logs and "system_available_again" in logs
        assert "config_reload_refused" in logs and "config_reloaded" in logs
        assert logs.count("system_unavailable") == 1  # once per state change, not once per attempt
        assert rig.config.onec.password not in logs and rig.portal.portal.webhook_code not in logs
        titles = inbox.app.titles()  # each state change told once, however many cycles saw it
        assert titles.count("b24sync: onec unreachable") == 1 and titles.count("b24sync: onec reachable again") == 1
        assert rig.config.onec.password not in str(inbox.app.messages)


def test_the_service_is_ready_with_1c_down_and_says_so(rig: Rig, tmp_path: Path) -> None:
    config = write_config(rig, tmp_path / "config.yaml")
    rig.base.server.stop()  # 1C is down when the service starts
    rig.move(1)
    with running_service(config, tmp_path) as (daemon, notifications):
        notifications.wait_for(lambda message: message == "READY=1")  # `systemctl start` returns
        notifications.wait_for(lambda message: "onec unavailable" in message)  # and the status line says why
        daemon.send_signal(signal.SIGHUP)
        notifications.wait_for(lambda message: message.startswith("RELOADING=1\nMONOTONIC_USEC="))
        notifications.seen.clear()
        notifications.wait_for(lambda message: message == "READY=1")
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=35) == 0


def test_a_config_error_exits_2_which_the_unit_does_not_restart(tmp_path: Path) -> None:
    broken = tmp_path / "config.yaml"
    broken.write_text("- just\n- a list\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "b24sync", "run", "--config", str(broken)], capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 2 and "the top level is a list" in done.stdout + done.stderr
    unit = (Path(__file__).parent.parent / "systemd/b24sync.service").read_text(encoding="utf-8")
    assert "RestartPreventExitStatus=2" in unit


def test_healthz_answers_at_once_while_a_cycle_waits_on_a_slow_1c(rig: Rig, tmp_path: Path) -> None:
    metrics = f"127.0.0.1:{free_port()}"
    config = write_config(rig, tmp_path / "config.yaml", metrics=metrics)
    rig.move(1)
    with running_service(config, tmp_path) as (daemon, notifications):
        notifications.wait_for(lambda message: "1 created" in message)
        slow_onec(rig, 3000)
        rig.move(2)  # the next cycles each wait 3 s a request on 1C, holding the work
        notifications.seen.clear()
        slowest, probes = 0.0, 0
        while True:  # probe until the slow cycle that creates deal 2's order has ended
            started = time.monotonic()
            answer = requests.get(f"http://{metrics}/healthz", timeout=30)
            slowest, probes = max(slowest, time.monotonic() - started), probes + 1
            assert answer.status_code in (200, 503)
            try:
                notifications.wait_for(lambda message: "1 created" in message, timeout=0.3)
                break
            except AssertionError:
                assert probes < 400
        assert probes >= 5 and slowest < 1.0  # the cycle took over 3 s: no probe waited for it
        requests.delete(f"{rig.base.root}/_emulator/faults", timeout=5)
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=35) == 0


def test_sigterm_during_a_long_portal_pause_stops_the_service_at_once(rig: Rig, tmp_path: Path) -> None:
    config = write_config(rig, tmp_path / "config.yaml")
    requests.post(f"{rig.portal.root}/_emulator/faults", json={"faults": [{
        "method": "crm.deal.list", "status": 429, "error": "OPERATION_TIME_LIMIT",
        "description": "Method is blocked due to operation time limit."}]}, timeout=5).raise_for_status()
    with running_service(config, tmp_path) as (daemon, notifications):
        notifications.wait_for(lambda message: "crm.deal.list paused by the portal" in message)
        started = time.monotonic()
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=35) == 0
        assert time.monotonic() - started < 5
        logs = daemon.stderr.read()
        assert "system_unavailable" not in logs  # a paused method is not an outage


def test_sigterm_while_a_cycle_waits_on_a_very_slow_1c_stops_within_the_shutdown_timeout(rig: Rig,
                                                                                         tmp_path: Path) -> None:
    config = write_config(rig, tmp_path / "config.yaml", shutdown_timeout_seconds=1)
    rig.move(1)
    with running_service(config, tmp_path) as (daemon, notifications):
        notifications.wait_for(lambda message: "1 created" in message)
        slow_onec(rig, 600_000)
        served = rig.base.app.stats.snapshot()["http_requests"]
        rig.move(2)
        deadline, pause = time.monotonic() + 60, threading.Event()
        while rig.base.app.stats.snapshot()["http_requests"] == served:  # until a request waits ten minutes in 1C
            assert time.monotonic() < deadline, "the service sent nothing to 1C"
            pause.wait(0.05)  # polling the emulator's count: the event is a request arriving, not time passing
        started = time.monotonic()
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=30) == 0
        assert time.monotonic() - started < 10  # the 1 s timeout, not the ten minutes
        assert "daemon_stop_timeout" in daemon.stderr.read()
    requests.delete(f"{rig.base.root}/_emulator/faults", timeout=5)
    restarted = rig.engine()  # the next start resumes what the stopped cycle had begun: one document for deal 2
    restarted.push()
    assert len(rig.documents_for(2)) == 1
