"""Keep secrets out of every log line and exception text.

Two layers: secrets registered when the config is loaded (the webhook code, the
1C password, OAuth tokens) are replaced wherever they appear, and patterns catch
the shapes of secrets we were never told about (a webhook path, `auth=` query
parameters, Basic credentials in a URL).
"""

from __future__ import annotations

import re
import threading
from typing import Any
from urllib.parse import quote

MASK = "***"

_secrets: set[str] = set()
_lock = threading.Lock()

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # https://portal/rest/<user>/<code>/method -> /rest/<user>/***/
    (re.compile(r"(/rest/\d+/)([A-Za-z0-9_-]{4,})(?=/|$|\s|\"|')"), r"\1" + MASK),
    # auth=..., access_token=..., refresh_token=..., password=... in URLs, bodies and reprs
    (
        re.compile(r"(?i)\b(auth|access_token|refresh_token|password|passwd|token)(['\"]?\s*[=:]\s*['\"]?)"
                   r"([^\s&'\",}]+)"),
        r"\1\2" + MASK,
    ),
    # scheme://user:password@host
    (re.compile(r"(?i)([a-z][a-z0-9+.-]*://[^/\s:@]+:)([^@\s/]+)(@)"), r"\1" + MASK + r"\3"),
    # Authorization: Basic xxx / Bearer xxx
    (re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?(?:basic|bearer)\s+)([A-Za-z0-9+/=._-]+)"),
     r"\1" + MASK),
]


def register_secret(value: str | None) -> None:
    """Remember a secret so that it is masked wherever it appears later."""
    if value and len(value) >= 3:
        with _lock:
            _secrets.add(value)


def forget_secrets() -> None:
    """Drop every registered secret (tests use it between cases)."""
    with _lock:
        _secrets.clear()


def redact(text: str) -> str:
    """Return `text` with every known secret and every secret-shaped value masked."""
    if not text:
        return text
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        for form in dict.fromkeys((secret, quote(secret, safe=""))):  # as written, and percent-encoded
            if form in text:
                # a whole token only (a short password must not turn the dates and IDs that contain it into
                # ***); an escape such as %2F or %3A before it is a separator, not part of the token
                text = re.sub(rf"(?:(?<![A-Za-z0-9])|(?<=%[0-9A-Fa-f]{{2}})){re.escape(form)}(?![A-Za-z0-9])",
                              MASK, text)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_value(value: Any) -> Any:
    """Redact strings inside nested dicts, lists and tuples; leave other values alone."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: redact_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_value(item) for item in value)
    if isinstance(value, BaseException):
        return redact(f"{type(value).__name__}: {value}")
    return value
