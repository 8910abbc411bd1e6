"""The command line as an administrator uses it: real processes, real signals, real HTTP."""

from __future__ import annotations

import signal
import subprocess
import sys

import requests


def test_emulate_bitrix24_prints_a_working_webhook_and_stops_on_sigterm() -> None:
    process = subprocess.Popen([sys.executable, "-m", "b24sync", "emulate", "bitrix24", "--generate", "200"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        webhook = process.stdout.readline().strip()
        assert webhook.startswith("http://127.0.0.1:") and webhook.endswith("/") and "/rest/1/" in webhook
        answer = requests.post(webhook + "crm.deal.list", json={"select": ["ID"], "order": {"ID": "ASC"}},
                               timeout=10).json()
        assert answer["total"] == 200 and answer["next"] == 50 and answer["result"][0] == {"ID": "1"}
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0  # a loaded machine may be slow to stop it
    finally:
        if process.poll() is None:
            process.kill()


def test_demo_tells_the_whole_story_and_exits_zero() -> None:
    done = subprocess.run([sys.executable, "-m", "b24sync", "demo"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    story = done.stdout
    assert "5 created" in story and "stays out of 1C" in story  # orders, and the deal with a missing product
    assert "Оплачен" in story and "Частично оплачен" in story and "RU123456789CN" in story
    assert "nothing is written" in story and "FAILED DEAL" in story and "nothing is left running" in story
    assert "Invoice PDFs" in story and "• deal 1: http://127.0.0.1:" in story
    assert "долларов США" in story and "USD" in story  # the dollar deal, in dollars
    assert "− скидка" in story and "Предоплата по документу Заказ клиента" in story  # a discount, a prepayment
    assert "the administrator's alert" in story and "1 deal(s) failed" in story


def test_no_command_prints_help_and_exits_2() -> None:
    done = subprocess.run([sys.executable, "-m", "b24sync"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "emulate" in done.stdout


CONFIG = """bitrix24:
  webhook_url: https://acme.bitrix24.ru/rest/7/abcdef123456/
onec:
  url: http://127.0.0.1:9/trade/odata/standard.odata/
  user: Обмен
  password: pw
  defaults: {organisation: ООО Ромашка, warehouse: Основной, agreement: Типовое}
sync:
  pipelines:
    - {category_id: 0, trigger_stages: [EXECUTING]}
state:
  path: STATE
"""


def write_config(folder, extra: str = ""):  # noqa: ANN001, ANN201 - a small test helper
    """A config whose state file lives in `folder`; returns (config path, state path)."""
    from pathlib import Path

    state = Path(folder) / "state.db"
    config = Path(folder) / "config.yaml"
    config.write_text(CONFIG.replace("STATE", str(state)) + extra, encoding="utf-8")
    config.chmod(0o600)
    return config, state


def test_ctrl_c_on_a_command_waiting_for_the_service_withdraws_it_and_exits_130(tmp_path) -> None:  # noqa: ANN001
    from pathlib import Path

    from b24sync.store.lock import ProcessLock
    from b24sync.store.store import Store

    config, state = write_config(tmp_path)
    Store(state).close()
    service = ProcessLock(Path(str(state) + ".lock"), service=True).acquire()  # a service that never gets to it
    try:
        waiting = subprocess.Popen([sys.executable, "-m", "b24sync", "retry", "--config", str(config)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert "holds the lock: it carries this `retry` out; waiting" in waiting.stderr.readline()
        waiting.send_signal(signal.SIGINT)
        assert waiting.wait(timeout=30) == 130
        said = waiting.stderr.read()
        assert "interrupted: the request was withdrawn" in said and "Traceback" not in said
    finally:
        service.release()
    store = Store(state)
    assert store.next_request() is None  # withdrawn: the service will not carry it out later
    store.close()


def test_a_closed_pipe_ends_quietly() -> None:
    reader = subprocess.Popen([sys.executable, "-m", "b24sync", "--help"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    reader.stdout.close()  # `b24sync … | head` once head has had enough
    assert reader.wait(timeout=30) == 0
    assert b"Traceback" not in reader.stderr.read()


def test_under_journald_every_line_carries_its_priority() -> None:
    import os

    script = ("from b24sync.logs import configure_logging, get_logger\n"
              "configure_logging('DEBUG', 'json')\n"
              "log = get_logger()\n"
              "log.error('e'); log.warning('w'); log.info('i'); log.debug('d')\n"
              "import logging; logging.getLogger('apscheduler.scheduler').warning('maximum instances reached')\n"
              "logging.getLogger('peewee').debug('SELECT 1')\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30,
                          env={**os.environ, "JOURNAL_STREAM": "8:12345"})
    lines = done.stderr.splitlines()
    assert [line[:3] for line in lines] == ["<3>", "<4>", "<6>", "<7>"], lines  # the scheduler and SQL stay out


def test_a_command_waiting_for_a_service_that_stops_says_so_instead_of_hanging(tmp_path) -> None:  # noqa: ANN001
    from pathlib import Path

    from b24sync.store.lock import ProcessLock
    from b24sync.store.store import Store

    config, state = write_config(tmp_path)
    Store(state).close()
    service = ProcessLock(Path(str(state) + ".lock"), service=True).acquire()
    waiting = subprocess.Popen([sys.executable, "-m", "b24sync", "retry", "--config", str(config)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert "waiting" in waiting.stderr.readline()
    service.release()  # the service is stopped (or killed) before it gets to the request
    assert waiting.wait(timeout=60) == 3
    assert "stopped before it started this request; it was withdrawn" in waiting.stderr.read()
    store = Store(state)
    assert store.next_request() is None
    store.close()


def test_the_config_may_come_before_the_command_and_as_c(tmp_path) -> None:  # noqa: ANN001

    config, _ = write_config(tmp_path)
    for argv in (["-c", str(config), "config", "validate"], ["--config", str(config), "config", "validate"],
                 ["config", "validate", "-c", str(config)]):
        done = subprocess.run([sys.executable, "-m", "b24sync", *argv], capture_output=True, text=True, timeout=30)
        assert done.returncode == 0 and f"{config} is valid" in done.stdout, (argv, done.stderr)


def test_the_log_level_and_format_from_the_command_line_beat_the_file(tmp_path) -> None:  # noqa: ANN001

    config, _ = write_config(tmp_path, "logging:\n  level: ERROR\n")
    script = ("import sys\n"
              "from b24sync.cli import main\n"
              "from b24sync.logs import get_logger\n"
              f"main(sys.argv[1:] + ['status', '-c', {str(config)!r}])\n"
              "get_logger().debug('debug_line'); get_logger().warning('warning_line')\n")
    loud = subprocess.run([sys.executable, "-c", script, "-v", "--log-format", "json"], capture_output=True,
                          text=True, timeout=30)
    assert '"event": "debug_line"' in loud.stderr and '"event": "warning_line"' in loud.stderr, loud.stderr
    quiet = subprocess.run([sys.executable, "-c", script, "-q"], capture_output=True, text=True, timeout=30)
    assert "debug_line" not in quiet.stderr and "warning_line" in quiet.stderr


def test_shell_completion_comes_from_the_parser_and_completes_commands_and_options() -> None:
    done = subprocess.run([sys.executable, "-m", "b24sync", "completion", "bash"], capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 0
    probe = (done.stdout + "\nCOMP_WORDS=(b24sync conflicts re); COMP_CWORD=2; _b24sync; echo \"${COMPREPLY[@]}\""
             "\nCOMP_WORDS=(b24sync sync --co); COMP_CWORD=2; _b24sync; echo \"${COMPREPLY[@]}\""
             # an option's value is not taken for a command
             "\nCOMP_WORDS=(b24sync -c x.yaml sta); COMP_CWORD=3; _b24sync; echo \"${COMPREPLY[@]}\""
             "\nCOMP_WORDS=(b24sync sync --deal 5 --dr); COMP_CWORD=4; _b24sync; echo \"${COMPREPLY[@]}\"\n")
    answered = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, timeout=30)
    assert answered.stdout.split("\n")[:4] == ["resolve", "--config --confirm-bulk", "status state", "--dry-run"], \
        answered.stdout + answered.stderr
    for shell in ("zsh", "fish"):
        other = subprocess.run([sys.executable, "-m", "b24sync", "completion", shell], capture_output=True,
                               text=True, timeout=30)
        assert other.returncode == 0 and "state" in other.stdout and "notify" in other.stdout
