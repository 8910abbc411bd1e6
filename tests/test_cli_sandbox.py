"""The administrator's commands against `b24sync emulate all`, as real processes."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml


def b24sync(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "b24sync", *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Path]:
    config = tmp_path / "cfg.yaml"
    process = subprocess.Popen([sys.executable, "-m", "b24sync", "emulate", "all", "--generate", "60",
                                "--config-out", str(config)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        webhook = process.stdout.readline().strip()
        odata = process.stdout.readline().strip()
        assert "/rest/1/" in webhook and odata.endswith("/odata/standard.odata/")
        yield config
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0  # a loaded machine may be slow to stop it
    finally:
        if process.poll() is None:
            process.kill()


def test_check_passes_and_sync_pushes_the_deals_in_the_trigger_stages(sandbox: Path) -> None:
    checked = b24sync("check", "--config", str(sandbox))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "FAIL" not in checked.stdout and "ok    1c managers: 3 resolve to 1C users" in checked.stdout
    assert __import__("re").search(r"^(\d+) of \1 checks ok$", checked.stdout, __import__("re").M)
    synced = b24sync("sync", "--config", str(sandbox))
    assert synced.returncode in (0, 1), synced.stderr
    assert "created" in synced.stdout
    status = b24sync("status", "--config", str(sandbox), "--json")
    data = __import__("json").loads(status.stdout)
    assert data["bindings"]["total"] > 0 and "bitrix24_to_onec" in data["jobs"]
    again = b24sync("sync", "--config", str(sandbox))
    assert "created" not in again.stdout.splitlines()[0]
    summary = __import__("json").loads(b24sync("sync", "--json", "--config", str(sandbox)).stdout)
    assert [cycle["job"] for cycle in summary["cycles"]] == ["bitrix24_to_onec", "onec_to_bitrix24"]
    assert summary["cycles"][0]["created"] == 0 and summary["exit_code"] in (0, 1)
    assert summary["finished_at"][19] in "+-"  # ISO 8601 with the offset
    checked = __import__("json").loads(b24sync("check", "--json", "--config", str(sandbox)).stdout)
    assert checked["exit_code"] == 0 and checked["ok"] == checked["total"] == len(checked["checks"])


def test_a_broken_config_exits_2_with_every_problem(tmp_path: Path, sandbox: Path) -> None:
    data = yaml.safe_load(sandbox.read_text(encoding="utf-8"))
    data["bitrix24"]["burts"] = 50
    data["onec"]["profile"] = "ut12"
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    done = b24sync("sync", "--config", str(broken))
    assert done.returncode == 2
    assert "at 'bitrix24.burts': unknown key; did you mean 'burst'?" in done.stderr
    assert "at 'onec.profile': must be one of ut11, bp30" in done.stderr


def test_a_wrong_password_fails_check_and_sync_with_exit_3(tmp_path: Path, sandbox: Path) -> None:
    data = yaml.safe_load(sandbox.read_text(encoding="utf-8"))
    data["onec"]["password"] = "wrong"
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    wrong.chmod(0o600)
    checked = b24sync("check", "--config", str(wrong))
    assert checked.returncode == 3 and "FAIL  1c base: 1C refused user 'Обмен'" in checked.stdout
    synced = b24sync("sync", "--config", str(wrong))
    assert synced.returncode == 3 and "'onec.password'" in synced.stderr and "wrong" not in synced.stderr


def test_sync_while_another_holds_the_lock_exits_4_with_its_pid(sandbox: Path) -> None:
    from b24sync.config import load_config
    from b24sync.wiring import lock_for

    lock = lock_for(load_config(sandbox)).acquire()
    try:
        done = b24sync("sync", "--config", str(sandbox))
        assert done.returncode == 4
        assert f"process {__import__('os').getpid()} holds the b24sync lock" in done.stderr
    finally:
        lock.release()


def test_setup_dry_run_and_retry(sandbox: Path) -> None:
    done = b24sync("setup", "--dry-run", "--config", str(sandbox))
    assert done.returncode == 0 and done.stdout.count("exists") == 13
    assert b24sync("retry", "--config", str(sandbox)).returncode == 0


def test_the_progress_bar_draws_only_on_a_terminal_for_long_runs() -> None:
    import io

    from b24sync.progress import Progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    progress = Progress(screen)
    progress.threshold = 24
    for done in range(1, 101):
        progress(done, 100)
    assert "\rdeals 50/100 [###############...............]" in screen.getvalue()
    assert screen.getvalue().endswith("deals 100/100 [##############################]\n")
    short = Terminal()
    quiet = Progress(short)
    quiet.threshold = 24
    quiet(1, 5)
    piped = Progress(io.StringIO())
    piped(50, 100)
    assert short.getvalue() == "" and not piped.drawn


def test_a_log_line_never_runs_into_the_progress_bar_and_each_phase_has_its_own() -> None:
    import io
    import logging

    from b24sync.logs import configure_logging, get_logger
    from b24sync.progress import Progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    configure_logging("INFO", "console", stream=screen)
    try:
        progress = Progress(screen)
        progress.threshold = 24
        progress(10, 100, "deals")
        get_logger().warning("deal_failed", deal_id=7)
        progress(11, 100, "deals")
        progress(100, 100, "deals")
        progress(5, 40, "1C documents")
        progress.finish()
    finally:
        logging.getLogger().handlers.clear()
    lines = [line.split("\r")[-1] for line in screen.getvalue().split("\n")]
    # the bar is wiped before the log line, which stands alone on its line, and drawn again below it
    assert "deal_failed" in lines[0] and "deals 10/100" not in lines[0] and "deal_id=7" in lines[0]
    assert lines[1] == "deals 100/100 [##############################]"
    assert lines[2] == "1C documents 5/40 [###...........................]"
    assert lines[3] == ""


def test_dry_run_prints_the_plan_and_conflicts_are_listed_and_refused_when_there_are_none(sandbox: Path) -> None:
    planned = b24sync("sync", "--dry-run", "--config", str(sandbox))
    assert planned.returncode in (0, 1), planned.stderr
    assert "would deal " in planned.stdout
    assert ": create the document in 1C, then write the order to the deal, then post the document" in planned.stdout
    assert b24sync("status", "--config", str(sandbox), "--json").stdout.count('"deal_id"') == 0  # nothing written
    listed = b24sync("conflicts", "--config", str(sandbox))
    assert listed.returncode == 0 and "no open conflicts" in listed.stdout
    refused = b24sync("conflicts", "resolve", "--deal", "1", "--keep", "1c", "--config", str(sandbox))
    assert refused.returncode == 2 and "deal 1 has no open conflict" in refused.stderr
    missing = b24sync("conflicts", "resolve", "--deal", "1", "--config", str(sandbox))
    assert missing.returncode == 2 and "--keep" in missing.stderr


def test_a_damaged_state_file_is_one_clear_line_and_exit_2(sandbox: Path) -> None:
    from b24sync.config import load_config

    state = Path(load_config(sandbox).state_path)
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_bytes(b"\x00garbage" * 512)
    for command in ("status", "sync", "conflicts"):
        done = b24sync(command, "--config", str(sandbox))
        assert done.returncode == 2, (command, done.stderr)
        assert f"the state file {state} is damaged" in done.stderr and "Traceback" not in done.stderr


def test_a_deal_the_portal_does_not_have_is_said_and_fails_the_command(sandbox: Path) -> None:
    for command in (("sync", "--deal", "99999"), ("resync", "--deal", "99999")):
        done = b24sync(*command, "--config", str(sandbox))
        assert done.returncode == 1, (command, done.stdout, done.stderr)
        assert "deal 99999: Bitrix24 has no such deal" in done.stdout


def test_check_resolves_each_pipelines_own_choices(sandbox: Path) -> None:
    import yaml

    config = yaml.safe_load(sandbox.read_text(encoding="utf-8"))
    config["sync"]["pipelines"][1]["onec"] = {"organisation": "ООО «Нет такой»", "warehouse": "Основной склад"}
    changed = sandbox.with_name("choices.yaml")
    changed.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    changed.chmod(0o600)
    done = b24sync("check", "--config", str(changed))
    assert done.returncode == 2, done.stdout + done.stderr
    line = next(line for line in done.stdout.splitlines() if "1c choices of pipeline 1" in line)
    assert "at 'sync.pipelines[1].onec.organisation'" in line and "«ООО «Нет такой»»" in line


def test_check_tries_each_odata_behaviour_b24sync_relies_on(sandbox: Path) -> None:
    before = b24sync("check", "--config", str(sandbox))
    assert before.returncode == 0, before.stdout
    for line in ("ok    1c or-chains: 60 references in", "ok    1c allowedOnly:", "ok    1c date window:",
                 "ok    1c $select of Document_ЗаказКлиента:", "ok    1c any() over a tabular section:",
                 "ok    1c deal marker found again: not verifiable yet"):
        assert line in before.stdout, before.stdout
    data = yaml.safe_load(sandbox.read_text(encoding="utf-8"))["onec"]
    session = requests.Session()
    session.auth = (data["user"].encode(), data["password"].encode())
    orders = data["url"] + "Document_ЗаказКлиента?$format=json"
    assert session.get(orders, timeout=10).json()["value"] == []  # read-only: nothing was written
    sessions = session.get(data["url"].split("/trade/")[0] + "/_emulator/stats", timeout=10).json()["sessions"]
    assert sessions["started"] >= 1 and sessions["finished"] == sessions["started"]  # no licence left held
    probed = b24sync("check", "--write-probe", "--config", str(sandbox))
    assert re.search(r"ok    1c deal marker found again: the probe document \S+ \(now marked for deletion\) is found",
                     probed.stdout), probed.stdout
    assert [order["DeletionMark"] for order in session.get(orders, timeout=10).json()["value"]] == [True]
    assert b24sync("sync", "--config", str(sandbox)).returncode in (0, 1)
    after = b24sync("check", "--config", str(sandbox))
    assert re.search(r"ok    1c deal marker found again: the document of deal \d+ is found by its marker", after.stdout)
    admin = data["url"].split("/trade/")[0] + "/_emulator/settings"  # a proxy that takes 1,000 characters
    session.post(admin, json={"max_url": 1000}, timeout=10).raise_for_status()
    short = b24sync("check", "--config", str(sandbox))
    assert short.returncode != 0
    assert "FAIL  1c or-chains: the web server in front of 1C refused the longer URLs" in short.stdout
    assert "b24sync then makes its chains shorter by itself" in short.stdout and "maxQueryString" in short.stdout
    assert "ok    1c date window:" in short.stdout and "ok    1c deal marker found again:" in short.stdout
    assert short.stdout.count("FAIL") == 1  # the rest works at the shorter length
