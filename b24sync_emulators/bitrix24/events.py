"""event.*: subscriptions to portal events, which a webhook may not make (REST.md §13)."""

from __future__ import annotations

from typing import Any

from b24sync_emulators.bitrix24.portal import ApiError, MethodResult, Portal
from b24sync_emulators.bitrix24.registry import method


def _application_only(portal: Portal, params: dict[str, Any]) -> MethodResult:
    """Event subscriptions need an application's OAuth context (REST.md §13); a webhook is refused. The code is
    believed: b24pysdk knows WRONG_AUTH_TYPE for a method called with the wrong kind of authorisation."""
    raise ApiError(403, "WRONG_AUTH_TYPE", "Current authorization type is denied for this method")


for _name in ("event.bind", "event.unbind", "event.get", "event.offline.get", "event.offline.clear",
              "event.offline.error", "event.offline.list"):
    method(_name, scope=None)(_application_only)
