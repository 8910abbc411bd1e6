"""Load and validate the YAML config before anything runs.

Where the file is: `--config`, else `$B24SYNC_CONFIG`, else /etc/b24sync/config.yaml.
Every problem is reported at once, one line each, as
`config.yaml: at 'bitrix24.webhook_url': must be ...`. Secrets may live in the
environment or in a file so that the config itself need not hold them.
"""

from __future__ import annotations

import ipaddress
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from b24sync.redaction import register_secret
from b24sync.schema import REQUIRED, Key, Section, number_between, one_of, validate

DEFAULT_PATH = "/etc/b24sync/config.yaml"
WEBHOOK_ENV = "B24SYNC_WEBHOOK_URL"
ONEC_PASSWORD_ENV = "B24SYNC_ONEC_PASSWORD"
ODATA_RULE = "must be the OData root of the published base, http(s)://HOST/BASE/odata/standard.odata/"

WEBHOOK_RULE = "must be an https URL (http only for a loopback host) ending in /rest/<user>/<code>/"


class ConfigError(Exception):
    """The config cannot be used; `problems` holds one line per problem, each naming its key."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(f"{source}: {problem}" for problem in problems))


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_webhook_url(url: str) -> tuple[str, str, str] | None:
    """Split a webhook URL into (base URL with trailing slash, user id, code), or None if malformed."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return None
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        return None
    if parts.query or parts.fragment:
        return None
    segments = [segment for segment in parts.path.split("/") if segment]
    if len(segments) < 3 or segments[-3] != "rest" or not segments[-2].isdigit():
        return None
    code = segments[-1]
    if not code.replace("_", "").isalnum():
        return None
    base = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}/"
    return base, segments[-2], code


def _check_webhook(value: str) -> str | None:
    return None if parse_webhook_url(value) else WEBHOOK_RULE


def _check_read_timeout(value: float) -> str | None:
    if value <= 60:
        return f"must be more than 60 seconds (Bitrix24 may take up to 60 s to answer); found {value!r}"
    return None


def _check_odata_url(value: str) -> str | None:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return ODATA_RULE
    if not parts.path.rstrip("/").endswith("/odata/standard.odata"):
        return ODATA_RULE
    if parts.username or parts.password:
        return "must not contain a user or password; use 'onec.user' and 'onec.password'"
    return None


def _check_onec_read_timeout(value: float) -> str | None:
    if value < 15:
        return f"must be at least 15 seconds (1C may take ~11 s to start a session); found {value!r}"
    return None


def _check_managers(value: dict) -> str | None:
    for key, item in value.items():
        if not str(key).isdigit():
            return f"keys must be Bitrix24 user IDs (numbers); found {key!r}"
        if not isinstance(item, str) or not item.strip():
            return f"the 1C user for Bitrix24 user {key} must be a name or a GUID"
    return None


MARKER = Section(
    {
        "additional_requisite": Key(str, None, None, "the name of an additional requisite (дополнительный реквизит)"),
        "attribute": Key(str, None, None, "a string attribute of the document"),
    },
    requires_one_of=(("additional_requisite", "attribute"),),
)

SCHEMA = Section(
    {
        "bitrix24": Section(
            {
                "webhook_url": Key(str, None, _check_webhook, "the incoming webhook URL", secret=True),
                "webhook_url_file": Key(str, None, None, "a file holding the webhook URL"),
                "rate_per_second": Key(float, 2.0, number_between(0.1, 100),
                                       "requests per second the portal allows"),
                "burst": Key(int, 50, number_between(1, 10_000), "requests the portal allows in a burst"),
                "connect_timeout": Key(float, 10.0, number_between(1, 120), "seconds to connect"),
                "read_timeout": Key(float, 75.0, _check_read_timeout, "seconds to wait for an answer"),
                "max_retries": Key(int, 5, number_between(0, 20), "retries of a failed safe call"),
                "verify_tls": Key((bool, str), True, None, "verify the portal's certificate, or a CA bundle path"),
            },
            doc="How to reach the Bitrix24 portal.",
            default_empty=False,
            requires_one_of=(("webhook_url", "webhook_url_file"),),
        ),
        "onec": Section(
            {
                "url": Key(str, REQUIRED, _check_odata_url, ODATA_RULE),
                "user": Key(str, REQUIRED, None, "the 1C user b24sync logs in as"),
                "password": Key(str, None, None, "the 1C user's password", secret=True),
                "password_file": Key(str, None, None, "a file holding the 1C password"),
                "profile": Key(str, "ut11", one_of("ut11", "bp30"), "the configuration of the base"),
                "connect_timeout": Key(float, 10.0, number_between(1, 120), "seconds to connect"),
                "read_timeout": Key(float, 60.0, _check_onec_read_timeout, "seconds to wait for an answer"),
                "max_retries": Key(int, 4, number_between(0, 20), "retries of a failed read"),
                "verify_tls": Key((bool, str), True, None, "verify the server's certificate, or a CA bundle path"),
                "post_documents": Key(bool, True, None, "post (провести) documents after creating them"),
                "order_status": Key(str, "КОтгрузке", one_of("НеСогласован", "КОбеспечению", "КОтгрузке"),
                                    "the Статус of new customer orders (ut11)"),
                "create_counterparties": Key(bool, True, None, "create a counterparty when none matches"),
                "defaults": Section(
                    {
                        "organisation": Key(str, REQUIRED, None, "your organisation: code, name or GUID"),
                        "currency": Key(str, "RUB", None, "currency when the deal has none: letter or numeric code"),
                        "warehouse": Key(str, None, None, "warehouse of new orders (ut11): code, name or GUID"),
                        "agreement": Key(str, None, None, "agreement with clients (ut11): code, name or GUID"),
                        "contract": Key(str, "Основной договор", None,
                                        "the counterparty's contract to use (bp30): name"),
                    },
                    default_empty=False,
                ),
                "deal_marker": MARKER,
                "tracking": MARKER,
                "managers": Key(dict, {}, _check_managers, "Bitrix24 user ID -> 1C user (name or GUID)"),
                "default_manager": Key(str, None, None, "1C user for deals whose manager is not in 'managers'"),
            },
            doc="How to reach the 1C base.",
            default_empty=False,
            requires_one_of=(("password", "password_file"),),
        ),
        "logging": Section(
            {
                "level": Key(str, "INFO", one_of("DEBUG", "INFO", "WARNING", "ERROR"), "log level"),
                "format": Key(str, "auto", one_of("auto", "console", "json"), "log format"),
            }
        ),
    }
)


@dataclass(frozen=True)
class Bitrix24Config:
    webhook_url: str = field(repr=False)
    rate_per_second: float = 2.0
    burst: int = 50
    connect_timeout: float = 10.0
    read_timeout: float = 75.0
    max_retries: int = 5
    verify_tls: bool | str = True

    @property
    def webhook_code(self) -> str:
        parsed = parse_webhook_url(self.webhook_url)
        return parsed[2] if parsed else ""


@dataclass(frozen=True)
class Marker:
    """Where a value lives on a 1C document: an additional requisite by name, or an attribute."""

    additional_requisite: str | None = None
    attribute: str | None = None


@dataclass(frozen=True)
class OneCDefaults:
    organisation: str
    currency: str = "RUB"
    warehouse: str | None = None
    agreement: str | None = None
    contract: str | None = "Основной договор"


@dataclass(frozen=True)
class OneCConfig:
    url: str
    user: str
    password: str = field(repr=False)
    defaults: OneCDefaults
    profile: str = "ut11"
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    max_retries: int = 4
    verify_tls: bool | str = True
    post_documents: bool = True
    order_status: str = "КОтгрузке"
    create_counterparties: bool = True
    deal_marker: Marker = Marker(additional_requisite="ID сделки Битрикс24")
    tracking: Marker = Marker(additional_requisite="Трек-номер")
    managers: dict[int, str] = field(default_factory=dict)
    default_manager: str | None = None


@dataclass(frozen=True)
class LoggingConfig:
    level: str = "INFO"
    format: str = "auto"


@dataclass(frozen=True)
class Config:
    bitrix24: Bitrix24Config
    onec: OneCConfig
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    source: str = "config.yaml"
    warnings: tuple[str, ...] = ()


def _marker(values: dict[str, Any] | None, default: Marker) -> Marker:
    values = values or {}
    if not values.get("additional_requisite") and not values.get("attribute"):
        return default
    return Marker(additional_requisite=values.get("additional_requisite"), attribute=values.get("attribute"))


def resolve_path(cli_path: str | None, env: Mapping[str, str] | None = None) -> Path:
    """Where the config is read from: the flag, then the environment, then the system default."""
    env = os.environ if env is None else env
    return Path(cli_path or env.get("B24SYNC_CONFIG") or DEFAULT_PATH)


def _secret_from_file(path_text: str, key: str, base: Path, problems: list[str],
                      warnings: list[str]) -> str | None:
    path = Path(path_text)
    if not path.is_absolute():
        path = base / path
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8").strip()
    except OSError as error:
        problems.append(f"at '{key}': cannot read {path}: {error.strerror or error}")
        return None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        warnings.append(f"at '{key}': {path} holds a secret and is readable by group or others; "
                        f"run: chmod 600 {path}")
    if not text:
        problems.append(f"at '{key}': {path} is empty")
        return None
    return text


def load_config(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read, validate and return the config; raise ConfigError listing every problem."""
    env = os.environ if env is None else env
    config_path = resolve_path(str(path) if path else None, env)
    name = str(config_path)
    try:
        text = config_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(name, ["file not found; create it from config.example.yaml "
                                 "or point --config / $B24SYNC_CONFIG at it"]) from None
    except OSError as error:
        raise ConfigError(name, [f"cannot read: {error.strerror or error}"]) from None
    return load_config_text(text, name, config_path.parent, env,
                            file_mode=config_path.stat().st_mode)


def load_config_text(text: str, source: str = "config.yaml", base: Path | None = None,
                     env: Mapping[str, str] | None = None, file_mode: int | None = None) -> Config:
    """Validate config text; `base` resolves relative file paths."""
    env = os.environ if env is None else env
    base = base or Path.cwd()
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(source, [f"{where}not valid YAML: {problem}"]) from None
    if data is None:
        raise ConfigError(source, ["the file is empty; start from config.example.yaml"])
    values, problems = validate(SCHEMA, data)
    warnings: list[str] = []

    b24: dict[str, Any] = values.get("bitrix24", {})
    webhook = env.get(WEBHOOK_ENV)
    if webhook:
        if not parse_webhook_url(webhook):
            problems.append(f"at '${WEBHOOK_ENV}' (environment): {WEBHOOK_RULE}")
    elif b24.get("webhook_url_file"):
        webhook = _secret_from_file(b24["webhook_url_file"], "bitrix24.webhook_url_file", base,
                                    problems, warnings)
        if webhook and not parse_webhook_url(webhook):
            problems.append(f"at 'bitrix24.webhook_url_file': the file's content {WEBHOOK_RULE}")
    else:
        webhook = b24.get("webhook_url")
        if webhook and file_mode is not None and file_mode & stat.S_IRWXO:
            warnings.append("at 'bitrix24.webhook_url': the config holds the webhook secret and is readable "
                            "by others; chmod 640 it, or move the URL to 'bitrix24.webhook_url_file'")
        if not webhook and isinstance(data.get("bitrix24"), dict):
            problems.append(f"at 'bitrix24.webhook_url': required (or 'bitrix24.webhook_url_file', "
                            f"or ${WEBHOOK_ENV}); {WEBHOOK_RULE}")
    onec_values: dict[str, Any] = values.get("onec", {})
    password = env.get(ONEC_PASSWORD_ENV)
    if not password and onec_values.get("password_file"):
        password = _secret_from_file(onec_values["password_file"], "onec.password_file", base, problems, warnings)
    elif not password:
        password = onec_values.get("password")
        if password and file_mode is not None and file_mode & stat.S_IRWXO:
            warnings.append("at 'onec.password': the config holds the 1C password and is readable by others; "
                            "chmod 640 it, or move the password to 'onec.password_file'")
        if password is None and isinstance(data.get("onec"), dict):
            problems.append(f"at 'onec.password': required (or 'onec.password_file', or ${ONEC_PASSWORD_ENV})")
    defaults = onec_values.get("defaults") or {}
    if onec_values.get("profile") == "ut11" and isinstance(data.get("onec"), dict):
        for key in ("warehouse", "agreement"):
            if not defaults.get(key):
                problems.append(f"at 'onec.defaults.{key}': required for the ut11 profile (code, name or GUID)")
    if problems:
        raise ConfigError(source, problems)
    register_secret(password)
    parsed = parse_webhook_url(webhook or "")
    assert parsed is not None
    register_secret(parsed[2])
    register_secret(webhook)
    bitrix24 = Bitrix24Config(
        webhook_url=parsed[0],
        rate_per_second=float(b24["rate_per_second"]),
        burst=int(b24["burst"]),
        connect_timeout=float(b24["connect_timeout"]),
        read_timeout=float(b24["read_timeout"]),
        max_retries=int(b24["max_retries"]),
        verify_tls=b24["verify_tls"],
    )
    onec = OneCConfig(
        url=onec_values["url"].strip().rstrip("/") + "/",
        user=onec_values["user"],
        password=password or "",
        defaults=OneCDefaults(**defaults),
        profile=onec_values["profile"],
        connect_timeout=float(onec_values["connect_timeout"]),
        read_timeout=float(onec_values["read_timeout"]),
        max_retries=int(onec_values["max_retries"]),
        verify_tls=onec_values["verify_tls"],
        post_documents=onec_values["post_documents"],
        order_status=onec_values["order_status"],
        create_counterparties=onec_values["create_counterparties"],
        deal_marker=_marker(onec_values.get("deal_marker"), Marker(additional_requisite="ID сделки Битрикс24")),
        tracking=_marker(onec_values.get("tracking"), Marker(additional_requisite="Трек-номер")),
        managers={int(key): str(value) for key, value in onec_values["managers"].items()},
        default_manager=onec_values.get("default_manager"),
    )
    logging_values = values.get("logging", {})
    return Config(
        bitrix24=bitrix24,
        onec=onec,
        logging=LoggingConfig(level=logging_values["level"], format=logging_values["format"]),
        source=source,
        warnings=tuple(f"{source}: {warning}" for warning in warnings),
    )
