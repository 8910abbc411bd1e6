"""The config is validated whole before anything runs, and every problem names its key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from b24sync.config import ConfigError, load_config, load_config_text, resolve_path

ROOT = Path(__file__).resolve().parent.parent
ONEC = ("onec:\n  url: http://1c.local/trade/odata/standard.odata/\n  user: Обмен\n  password: pw\n"
        "  defaults:\n    organisation: ООО Ромашка\n    warehouse: Основной\n    agreement: Типовое\n")
ONEC += "sync:\n  pipelines:\n    - {category_id: 0, trigger_stages: [EXECUTING]}\n"
GOOD = ONEC + "bitrix24:\n  webhook_url: https://acme.bitrix24.ru/rest/7/abcdef123456/\n"


def config_file(path: Path, text: str) -> Path:
    """A config file as an administrator keeps it (readable by its owner only)."""
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "b24sync", *args], capture_output=True, text=True, timeout=30)


def problems(text: str, env: dict[str, str] | None = None, with_onec: bool = True) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config_text((ONEC if with_onec and "onec:" not in text else "") + text, "config.yaml", env=env or {})
    return str(caught.value).splitlines()


def load(text: str, env: dict[str, str] | None = None):
    return load_config_text(ONEC + text, env=env or {})


def test_the_example_config_loads(tmp_path: Path) -> None:
    config = load_config(ROOT / "config.example.yaml", env={})
    assert config.bitrix24.webhook_url == "https://example.bitrix24.ru/rest/1/8g9l071eismy9q2l/"
    assert config.bitrix24.rate_per_second == 2 and config.bitrix24.burst == 50
    assert config.logging.level == "INFO"


def test_defaults_fill_in() -> None:
    config = load_config_text(GOOD, env={})
    assert config.bitrix24.read_timeout == 75 and config.bitrix24.max_retries == 5
    assert "abcdef123456" not in repr(config)


def test_every_problem_is_reported_at_once_with_its_path() -> None:
    found = problems(
        "bitrix24:\n"
        "  webhook_url: http://acme.bitrix24.ru/rest/7/abc/\n"
        "  burts: 50\n"
        "  read_timeout: 30\n"
        "  rate_per_second: fast\n"
        "logging:\n"
        "  level: LOUD\n"
        "extra: 1\n"
    )
    assert ("config.yaml: at 'bitrix24.webhook_url': must be an https URL (http only for a loopback host) "
            "ending in /rest/<user>/<code>/") in found
    assert "config.yaml: at 'bitrix24.burts': unknown key; did you mean 'burst'?" in found
    assert any(line.startswith("config.yaml: at 'bitrix24.read_timeout': must be more than 60") for line in found)
    assert "config.yaml: at 'bitrix24.rate_per_second': must be a number, found 'fast'" in found
    assert any(line.startswith("config.yaml: at 'logging.level': must be one of") for line in found)
    assert any(line.startswith("config.yaml: at 'extra': unknown key") for line in found)
    assert len(found) == 6


def test_http_is_allowed_only_for_loopback() -> None:
    config = load("bitrix24:\n  webhook_url: http://127.0.0.1:8080/rest/1/abcdef/\n")
    assert config.bitrix24.webhook_url.startswith("http://127.0.0.1:8080/")
    assert problems("bitrix24:\n  webhook_url: http://10.0.0.5/rest/1/abcdef/\n")


def test_a_missing_trailing_slash_is_forgiven() -> None:
    config = load("bitrix24:\n  webhook_url: https://a.bitrix24.ru/rest/1/abcdef\n")
    assert config.bitrix24.webhook_url == "https://a.bitrix24.ru/rest/1/abcdef/"


def test_the_secret_is_never_echoed_in_a_type_error() -> None:
    found = problems("bitrix24:\n  webhook_url: [https://a.bitrix24.ru/rest/1/topsecret99/]\n")
    assert "topsecret99" not in "\n".join(found)


def test_webhook_from_the_environment_or_a_file(tmp_path: Path) -> None:
    env_config = load("bitrix24: {}\n", env={"B24SYNC_WEBHOOK_URL": "https://b.bitrix24.ru/rest/3/zz11/"})
    assert env_config.bitrix24.webhook_url == "https://b.bitrix24.ru/rest/3/zz11/"
    secret = tmp_path / "webhook.url"
    secret.write_text("https://c.bitrix24.ru/rest/5/yy22/\n")
    secret.chmod(0o644)
    config_file = tmp_path / "config.yaml"
    config_file.write_text(ONEC + "bitrix24:\n  webhook_url_file: webhook.url\n")
    config = load_config(config_file, env={})
    assert config.bitrix24.webhook_url == "https://c.bitrix24.ru/rest/5/yy22/"
    assert any("readable by group or others" in warning and "chmod 600" in warning for warning in config.warnings)
    secret.chmod(0o600)
    assert not [warning for warning in load_config(config_file, env={}).warnings if "'bitrix24." in warning]


def test_both_inline_and_file_is_an_error(tmp_path: Path) -> None:
    found = problems(GOOD + "  webhook_url_file: /nonexistent\n")
    assert any("give only one of" in line for line in found)


def test_missing_webhook_and_missing_file(tmp_path: Path) -> None:
    assert any("'bitrix24.webhook_url': required" in line for line in problems("bitrix24: {}\n"))
    assert any("at 'bitrix24': this section is required" in line for line in problems("logging: {}\n"))
    assert any("at 'onec': this section is required" in line
               for line in problems("bitrix24: {}\n", with_onec=False))
    found = problems("bitrix24:\n  webhook_url_file: /nonexistent/webhook.url\n")
    assert any("cannot read /nonexistent/webhook.url" in line for line in found)


def test_broken_yaml_and_empty_file(tmp_path: Path) -> None:
    assert problems("bitrix24:\n  webhook_url: [unclosed\n")[0].startswith("config.yaml: line ")
    assert "the file is empty" in problems("", with_onec=False)[0]
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "absent.yaml", env={})


def test_where_the_config_comes_from() -> None:
    assert resolve_path("x.yaml", {"B24SYNC_CONFIG": "y.yaml"}) == Path("x.yaml")
    assert resolve_path(None, {"B24SYNC_CONFIG": "y.yaml"}) == Path("y.yaml")
    assert resolve_path(None, {}) == Path("/etc/b24sync/config.yaml")


def test_a_world_readable_config_with_the_secret_warns(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(GOOD)
    os.chmod(path, 0o644)
    assert any("readable by others" in warning for warning in load_config(path, env={}).warnings)


def test_onec_section_rules(tmp_path: Path) -> None:
    config = load("bitrix24:\n  webhook_url: https://acme.bitrix24.ru/rest/7/abcdef123456/\n")
    assert config.onec.user == "Обмен" and config.onec.profile == "ut11" and config.onec.read_timeout == 60
    assert config.onec.deal_marker.additional_requisite == "ID сделки Битрикс24"
    assert "pw" not in repr(config.onec)
    found = problems("sync: {pipelines: [{category_id: 0, trigger_stages: [X]}]}\n"
                     "onec:\n  url: http://1c.local/trade/\n  user: x\n  password: p\n  profile: ut12\n"
                     "  read_timeout: 5\n  managers: {abc: x}\n  defaults: {organisation: Org}\n"
                     "  deal_marker: {additional_requisite: a, attribute: b}\n"
                     "bitrix24:\n  webhook_url: https://a.bitrix24.ru/rest/1/abcdef/\n")
    text = "\n".join(found)
    assert "at 'onec.url': must be the OData root" in text
    assert "at 'onec.profile': must be one of ut11, bp30" in text
    assert "at 'onec.read_timeout': must be at least 15 seconds" in text
    assert "at 'onec.managers': keys must be Bitrix24 user IDs" in text
    assert "at 'onec.deal_marker': give only one of" in text
    missing = problems("sync: {pipelines: [{category_id: 0, trigger_stages: [X]}]}\n"
                       "onec:\n  url: http://1c.local/trade/odata/standard.odata\n  user: x\n  password: p\n"
                       "  defaults: {organisation: Org}\n"
                       "bitrix24:\n  webhook_url: https://a.bitrix24.ru/rest/1/abcdef/\n")
    assert any("at 'onec.defaults.warehouse': required for the ut11 profile" in line for line in missing)
    secret = tmp_path / "onec.password"
    secret.write_text("Пароль-1С\n")
    secret.chmod(0o600)
    path = tmp_path / "config.yaml"
    path.write_text(GOOD.replace("  password: pw\n", f"  password_file: {secret}\n"))
    assert load_config(path, env={}).onec.password == "Пароль-1С"
    assert load_config(path, env={"B24SYNC_ONEC_PASSWORD": "env-pw"}).onec.password == "env-pw"


def test_sync_section_rules() -> None:
    config = load("bitrix24:\n  webhook_url: https://acme.bitrix24.ru/rest/7/abcdef123456/\n")
    assert config.sync.pipelines[0].trigger_stages == ("EXECUTING",) and config.sync.max_creates_per_cycle == 500
    assert config.sync.fields.order_id == "UF_CRM_1C_ORDER_ID" and config.state_path == "/var/lib/b24sync/state.db"
    base = ONEC.split("sync:")[0] + "bitrix24:\n  webhook_url: https://a.bitrix24.ru/rest/1/abcdef/\n"
    for pipelines, said in (
        ("[]", ["at 'sync.pipelines': list at least one pipeline"]),
        ("[{category_id: '1', trigger_stages: [X]}]", ["at 'sync.pipelines[0].category_id': must be the pipeline's"]),
        ("[{category_id: 1, trigger_stages: []}]", ["at 'sync.pipelines[0].trigger_stages': must list"]),
        ("[{category_id: 1, trigger_stages: [X], stages: [Y]}]", ["at 'sync.pipelines[0].stages': unknown key"]),
        ("[{category_id: 1, trigger_stages: [X]}, {category_id: 1, trigger_stages: [Y]}]",
         ["at 'sync.pipelines[1].category_id': pipeline 1 is listed twice"]),
        # every problem of every item at once, each at its own path
        ("[{category_id: one, trigger_stage: [X], stage_on_paid: [WON], min_amount: true, deal_types: [1, 2]}]",
         ["at 'sync.pipelines[0].trigger_stage': unknown key; did you mean 'trigger_stages'?",
          "at 'sync.pipelines[0].category_id': must be", "at 'sync.pipelines[0].trigger_stages': must list",
          "at 'sync.pipelines[0].min_amount': must be a number; found True",
          "at 'sync.pipelines[0].deal_types': must be a list of TYPE_IDs as text",
          "at 'sync.pipelines[0].stage_on_paid': must be one STATUS_ID (e.g. WON); found ['WON']"]),
    ):
        found = problems(f"sync:\n  pipelines: {pipelines}\n" + base, with_onec=False)
        for message in said:
            assert any(message in line for line in found), (pipelines, message, found)
    empty_date = load_config_text(base + "sync:\n  pipelines:\n    - {category_id: 0, trigger_stages: [X], "
                                         "start_date: }\n", env={})  # an empty value is the key left out
    assert empty_date.sync.pipelines[0].start_date is None


def test_closing_needs_customer_orders() -> None:
    found = problems("sync:\n  on_leave_trigger: close_order\n  pipelines: [{category_id: 0, trigger_stages: [X]}]\n"
                     "onec:\n  url: http://1c.local/acc/odata/standard.odata/\n  user: x\n  password: p\n"
                     "  profile: bp30\n  defaults: {organisation: Org}\n"
                     "bitrix24:\n  webhook_url: https://a.bitrix24.ru/rest/1/abcdef/\n", with_onec=False)
    assert any("at 'sync.on_leave_trigger': close_order needs customer orders" in line for line in found)


def test_a_systemd_instance_keeps_its_state_in_its_state_directory(tmp_path: Path) -> None:
    config = load_config_text(GOOD, env={"STATE_DIRECTORY": "/var/lib/b24sync/shop2"})
    assert config.state_path == "/var/lib/b24sync/shop2/state.db"
    chosen = load_config_text(GOOD + "state:\n  path: /srv/b24/state.db\n", env={"STATE_DIRECTORY": "/x"})
    assert chosen.state_path == "/srv/b24/state.db"  # what the file says wins
    from_a_shell = load_config_text(GOOD, env={}, instance="shop2")  # /etc/b24sync/shop2.yaml, no systemd
    assert from_a_shell.state_path == "/var/lib/b24sync/shop2/state.db"
    assert load_config_text(GOOD, env={}).state_path == "/var/lib/b24sync/state.db"


def test_secrets_from_systemd_credentials(tmp_path: Path) -> None:
    (tmp_path / "webhook_url").write_text("https://acme.bitrix24.ru/rest/9/credential123/\n", encoding="utf-8")
    (tmp_path / "onec_password").write_text("from-credential\n", encoding="utf-8")
    text = ONEC.replace("  password: pw\n", "") + "bitrix24: {}\n"
    config = load_config_text(text, env={"CREDENTIALS_DIRECTORY": str(tmp_path)})
    assert config.bitrix24.webhook_url == "https://acme.bitrix24.ru/rest/9/credential123/"
    assert config.onec.password == "from-credential"
    (tmp_path / "webhook_url").write_text("not a url", encoding="utf-8")
    said = problems("bitrix24: {}\n", env={"CREDENTIALS_DIRECTORY": str(tmp_path)})
    assert any("$CREDENTIALS_DIRECTORY/webhook_url' (LoadCredential=)" in line for line in said)


@pytest.mark.parametrize("text, kind", [("- a\n- b\n", "list"), ("just text\n", "str"), ("42\n", "int")])
def test_a_top_level_that_is_not_sections_is_one_line(text: str, kind: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config_text(text, "config.yaml", env={})
    assert f"the top level is a {kind}" in str(caught.value)


def test_config_validate_says_valid_or_every_problem(tmp_path: Path) -> None:
    good = config_file(tmp_path / "good.yaml", GOOD)
    done = cli("config", "validate", "--config", str(good))
    assert done.returncode == 0 and f"{good} is valid" in done.stdout
    bad = config_file(tmp_path / "bad.yaml",
                      GOOD.replace("category_id: 0", "category_id: x") + "daemon:\n  nonsense: 1\n")
    done = cli("config", "validate", "--config", str(bad))
    assert done.returncode == 2 and "at 'daemon.nonsense'" in done.stderr and "category_id" in done.stderr


@pytest.mark.parametrize("text, said", [
    ("bitrix24:\n  burst: 50\n  burst: 60\n",
     "line 3: at 'bitrix24.burst': the key 'burst' is given twice in 'bitrix24' (first on line 2); keep one"),
    ("sync:\n  pipelines:\n    - category_id: 0\n      category_id: 1\n",
     "line 4: at 'sync.pipelines[0].category_id': the key 'category_id' is given twice in 'sync.pipelines[0]'"),
    ("onec: {}\nonec: {}\n", "line 2: at 'onec': the key 'onec' is given twice at the top level (first on line 1)"),
    ("a: &x [1, 2]\n" + "".join(f"k{n}: *x\n" for n in range(150)), "more than 100 YAML aliases"),
])
def test_yaml_that_would_mislead_is_one_clear_line(text: str, said: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config_text(text, "config.yaml", env={})
    assert said in str(caught.value)


def test_what_yaml_and_habit_make_of_a_value_is_taken_as_meant() -> None:
    config = load_config_text(GOOD.replace("  password: pw\n", "  password: pw\n  invoice_pdf: off\n")
                              + "logging:\n  level: debug\n", env={})
    assert config.onec.invoice_pdf == "off" and config.logging.level == "DEBUG"


@pytest.mark.parametrize("content, said", [
    ("bitrix24: {}\n".encode("utf-16"), "the file is UTF-16; save it as UTF-8"),
    ("# Настройки\nbitrix24: {}\n".encode("cp1251"), "not UTF-8"),
])
def test_a_file_in_another_encoding_is_one_line(tmp_path: Path, content: bytes, said: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=said):
        load_config(path, env={})


def test_a_directory_as_the_state_path_is_refused_naming_the_file_to_give(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="at 'state.path': .* is a directory; name the file in it"):
        load_config_text(GOOD + f"state:\n  path: {tmp_path}\n", env={})


def test_a_1c_url_with_a_password_hidden_by_a_slash_is_refused_and_never_echoed() -> None:
    text = ONEC.replace("url: http://1c.local/trade/odata/standard.odata/",
                        "url: http://admin:pa/ss@1c.local/trade/odata/standard.odata/")
    said = "\n".join(problems("bitrix24:\n  webhook_url: https://acme.bitrix24.ru/rest/7/abcdef123456/\n" + text,
                              with_onec=False))
    assert "at 'onec.url': must not contain a user or password" in said and "pa/ss" not in said


def test_an_alias_bomb_is_refused_fast_and_merge_keys_still_work() -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + n)}: &{chr(98 + n)} [*{chr(97 + n)}, *{chr(97 + n)}, *{chr(97 + n)}, *{chr(97 + n)}, "
        f"*{chr(97 + n)}, *{chr(97 + n)}, *{chr(97 + n)}, *{chr(97 + n)}, *{chr(97 + n)}]\n" for n in range(8))
    with pytest.raises(ConfigError, match="expands to more than 100,000 values"):
        load_config_text(bomb, "config.yaml", env={})
    merged = GOOD.replace("bitrix24:\n", "base: &base\n  burst: 40\nbitrix24:\n  <<: *base\n")
    with pytest.raises(ConfigError, match="at 'base': unknown"):  # the anchor's home is unknown, the merge fine
        load_config_text(merged, "config.yaml", env={})


def test_config_show_prints_the_effective_values_with_the_secrets_masked(tmp_path: Path) -> None:
    import yaml

    path = config_file(tmp_path / "config.yaml", GOOD)
    done = cli("config", "show", "--config", str(path))
    assert done.returncode == 0, done.stderr
    shown = yaml.safe_load(done.stdout)
    assert shown["bitrix24"]["webhook_url"] == "https://acme.bitrix24.ru/rest/7/***/"
    assert shown["onec"]["password"] == "***" and shown["bitrix24"]["read_timeout"] == 75
    assert "abcdef123456" not in done.stdout and "pw" not in done.stdout.split()
    # what it prints is a config of its own: the same keys, and it validates (secrets apart, which are masked)
    again = tmp_path / "again.yaml"
    again.write_text(done.stdout.replace("/rest/7/***/", "/rest/7/abcdef123456/").replace("password: '***'",
                                                                                         "password: pw"),
                     encoding="utf-8")
    assert load_config(again, env={}).sync == load_config(path, env={}).sync


def test_alert_urls_are_checked_one_by_one_and_never_printed() -> None:
    found = problems("bitrix24:\n  webhook_url: https://acme.bitrix24.ru/rest/7/abcdef123456/\n"
                     "notify:\n  urls: [json://127.0.0.1/ok, 'not a url', 'notaurl://secret-token']\n")
    assert "config.yaml: at 'notify.urls[1]': is not a URL; Apprise URLs look like tgram://BOT_TOKEN/CHAT_ID, " \
           "mailtos://user:pass@host, ntfys://topic or json://host/path" in found
    assert any(line.startswith("config.yaml: at 'notify.urls[2]': Apprise has no target for a notaurl:// URL")
               for line in found)
    assert len(found) == 2 and "secret-token" not in "\n".join(found)
    single = problems("bitrix24:\n  webhook_url: https://acme.bitrix24.ru/rest/7/abcdef123456/\n"
                      "notify:\n  urls: json://127.0.0.1/token\n")
    assert single == ["config.yaml: at 'notify.urls': must be a list, found a string"]
