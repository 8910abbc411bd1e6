"""Structured logging: readable on a terminal, JSON lines for journald, never a secret.

Every record, ours or a library's (urllib3 logs request paths at DEBUG, and the
webhook code is in the path), goes through the same processor chain, whose last
step before rendering masks secrets in every value, exception texts included.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any, TextIO

import structlog

from b24sync.progress import around_output
from b24sync.redaction import redact, redact_value


def _redact_event(_logger: Any, _name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    return {key: redact_value(value) for key, value in event_dict.items()}


def _render_exception_then_redact(logger: Any, name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    event_dict = structlog.processors.format_exc_info(logger, name, event_dict)
    if "exception" in event_dict:
        event_dict["exception"] = redact(event_dict["exception"])
    return event_dict


_OVERRIDES: dict[str, str] = {}  # what the command line says (-v, -q, --log-level, --log-format) beats the file


def override_logging(level: str | None = None, fmt: str | None = None) -> None:
    """The command line's logging choices, applied by every later configure_logging (a reload included)."""
    if level:
        _OVERRIDES["level"] = level.upper()
    if fmt:
        _OVERRIDES["format"] = fmt


def configure_logging(level: str = "INFO", fmt: str = "auto", stream: TextIO | None = None) -> None:
    """Set up structlog and the standard library's logging to share one redacting pipeline.

    `fmt` is "console", "json" or "auto" (console on a TTY, JSON otherwise).
    """
    level, fmt = _OVERRIDES.get("level", level), _OVERRIDES.get("format", fmt)
    stream = stream or sys.stderr
    if fmt == "auto":
        fmt = "console" if getattr(stream, "isatty", lambda: False)() else "json"
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)
        if fmt == "console"
        else structlog.processors.JSONRenderer(ensure_ascii=False)
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if fmt == "json":
        shared.append(_render_exception_then_redact)
    shared.append(_redact_event)

    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            _RedactRendered(renderer),
        ],
    )
    handler = _BesideTheBar(stream)
    # under systemd, stderr goes to the journal: a <N> prefix gives each line its priority (journalctl -p)
    journal = bool(os.environ.get("JOURNAL_STREAM")) and stream is sys.stderr
    handler.setFormatter(_Priority(formatter) if journal else formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    # one line per job run, "maximum instances reached" while a long cycle runs: the scheduler's business
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    logging.getLogger("peewee").setLevel(logging.WARNING)  # every SQL statement at DEBUG
    logging.getLogger("fontTools").setLevel(logging.WARNING)  # the PDF font subsetter's INFO lines
    logging.getLogger("apprise").setLevel(logging.WARNING)  # "Notifying 1 service(s)": alert_sent says it once


class _BesideTheBar(logging.StreamHandler):
    """A stream handler whose lines never run into a progress bar drawn on the same terminal."""

    def emit(self, record: logging.LogRecord) -> None:
        with around_output(self.stream):
            super().emit(record)


_PRIORITIES = ((logging.ERROR, "<3>"), (logging.WARNING, "<4>"), (logging.INFO, "<6>"))


class _Priority(logging.Formatter):
    """A line as journald's stream reads its priority: `<3>` errors, `<4>` warnings, `<6>` info, `<7>` debug."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self._inner = inner

    def format(self, record: logging.LogRecord) -> str:
        prefix = next((mark for level, mark in _PRIORITIES if record.levelno >= level), "<7>")
        return prefix + self._inner.format(record).replace("\n", "\n" + prefix)


class _RedactRendered:
    """Render, then redact the final text once more (covers console-formatted tracebacks)."""

    def __init__(self, renderer: Any) -> None:
        self._renderer = renderer

    def __call__(self, logger: Any, name: str, event_dict: dict[str, Any]) -> str:
        return redact(self._renderer(logger, name, event_dict))


def get_logger(name: str = "b24sync", **context: Any) -> Any:
    """A structlog logger bound to `context` (deal_id=..., order_ref=...); lazy, so it follows the
    configuration in force when it logs, not the one when it was made."""
    return structlog.get_logger(name, **context)
