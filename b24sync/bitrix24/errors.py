"""Typed Bitrix24 errors, each with a message an administrator can act on.

`classify` is the one place that turns a status code and an error body into an
exception. Codes are compared as strings: the portal sends "", 0, 100 and
names such as QUERY_LIMIT_EXCEEDED in the same `error` key.
"""

from __future__ import annotations

from b24sync.errors import B24SyncError, Kind, System
from b24sync.redaction import redact


class Bitrix24Error(B24SyncError):
    """An error answered by the portal, or met on the way to it; `remote_code` is the portal's own `error`."""

    system = System.BITRIX24
    kind = Kind.ITEM
    code = "bitrix24_error"

    def __init__(self, message: str, *, remote_code: str = "", description: str = "", status: int | None = None,
                 method: str = "") -> None:
        self.remote_code = remote_code
        self.description = description
        self.status = status
        self.method = method
        super().__init__(redact(message))


class FatalError(Bitrix24Error):
    """The portal refuses b24sync as configured: stop the cycle and tell the administrator."""

    kind = Kind.FATAL
    code = "bitrix24_refused"


class AuthError(FatalError):
    """The webhook code or token is wrong, expired or revoked."""

    code = "bitrix24_auth"


class ScopeError(FatalError):
    """The webhook lacks a permission scope (crm, disk)."""

    code = "bitrix24_scope"


class AccessDeniedError(FatalError):
    """The portal's plan has no REST, or the webhook's user lacks rights."""

    code = "bitrix24_access_denied"


class PortalUnavailableError(FatalError):
    """The portal is blocked by support or deleted."""

    code = "bitrix24_unavailable"


class NotFoundError(Bitrix24Error):
    """The object asked for does not exist (or is not visible to the webhook's user)."""

    code = "bitrix24_not_found"


class MethodNotFoundError(Bitrix24Error):
    """The portal does not know the method (old portal, or a module not installed)."""

    code = "bitrix24_method_missing"


class BadRequestError(Bitrix24Error):
    """The portal refused the parameters of one call."""

    code = "bitrix24_bad_request"


class RateLimitError(Bitrix24Error):
    """QUERY_LIMIT_EXCEEDED: the portal's request bucket overflowed."""

    kind = Kind.RETRYABLE
    code = "bitrix24_rate_limit"


class OperationTimeLimitError(Bitrix24Error):
    """OPERATION_TIME_LIMIT: this method used up its time budget; others still work."""

    kind = Kind.RETRYABLE
    code = "bitrix24_time_limit"

    def __init__(self, message: str, *, reset_at: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.reset_at = reset_at


class ServerError(Bitrix24Error):
    """The portal failed inside (5xx)."""

    kind = Kind.RETRYABLE
    code = "bitrix24_server_error"


class TransportError(Bitrix24Error):
    """No usable answer: connection refused or dropped, a timeout, or a non-JSON page."""

    kind = Kind.RETRYABLE
    code = "bitrix24_unreachable"


class OutcomeUnknownError(Bitrix24Error):
    """A call that creates something may or may not have taken effect; it was not repeated."""

    code = "outcome_unknown"


AUTH_CODES = {"NO_AUTH_FOUND", "INVALID_CREDENTIALS", "expired_token", "invalid_token", "WRONG_AUTH_TYPE",
              "ERROR_OAUTH", "user_access_error"}

_ADMIN_HINTS = {
    "NO_AUTH_FOUND": "the webhook code is wrong or the webhook was deleted: check 'bitrix24.webhook_url' against "
                     "Developer resources → Other → Inbound webhook in Bitrix24",
    "INVALID_CREDENTIALS": "the webhook's user lacks the rights b24sync needs: give that user access to CRM "
                           "deals, contacts, companies and Disk, or create the webhook as an administrator",
    "expired_token": "the access token expired: recreate the webhook and update 'bitrix24.webhook_url'",
    "invalid_token": "the token is not valid for this portal: recreate the webhook and update "
                     "'bitrix24.webhook_url'",
    "WRONG_AUTH_TYPE": "this method does not accept a webhook: use an inbound webhook URL in "
                       "'bitrix24.webhook_url'",
    "insufficient_scope": "the webhook lacks a permission: edit it in Bitrix24 and tick the 'crm' scope "
                          "(and 'disk' for invoice PDFs)",
    "OVERLOAD_LIMIT": "Bitrix24 support has blocked REST on this portal for overload: contact support; b24sync "
                      "will keep retrying slowly",
    "PORTAL_DELETED": "the portal was deleted: check 'bitrix24.webhook_url'",
}


def _hint_for_access_denied(description: str) -> str:
    if "commercial" in description.lower() or "plan" in description.lower():
        return "the portal's plan does not include REST API: REST needs a commercial Bitrix24 plan"
    return "the webhook's user may not do this: give that user access to CRM deals and Disk in Bitrix24"


def classify(status: int, code: object, description: str, method: str) -> Bitrix24Error:
    """Turn an error answer into the matching typed exception."""
    code_text = "" if code is None else str(code)
    description = description or ""
    label = f"{code_text}: {description}" if code_text else description or f"HTTP {status}"
    kwargs = {"remote_code": code_text, "description": description, "status": status, "method": method}

    def message(hint: str | None = None) -> str:
        text = f"Bitrix24 {method} failed (HTTP {status}, {label})"
        return f"{text}; {hint}" if hint else text

    if code_text == "QUERY_LIMIT_EXCEEDED":
        return RateLimitError(message("too many requests; retrying more slowly"), **kwargs)
    if code_text == "OPERATION_TIME_LIMIT":
        return OperationTimeLimitError(message("this method's time budget is spent; pausing it"), **kwargs)
    if code_text in AUTH_CODES:
        return AuthError(message(_ADMIN_HINTS.get(code_text, _ADMIN_HINTS["NO_AUTH_FOUND"])), **kwargs)
    if code_text == "insufficient_scope":
        return ScopeError(message(_ADMIN_HINTS[code_text]), **kwargs)
    if code_text == "ACCESS_DENIED" or (code_text in ("", "0") and description.lower().startswith("access denied")):
        return AccessDeniedError(message(_hint_for_access_denied(description)), **kwargs)
    if code_text in ("OVERLOAD_LIMIT", "PORTAL_DELETED"):
        return PortalUnavailableError(message(_ADMIN_HINTS[code_text]), **kwargs)
    if code_text == "ERROR_METHOD_NOT_FOUND":
        return MethodNotFoundError(message("the portal does not provide this method"), **kwargs)
    lowered = description.lower().rstrip(".")
    if code_text in ("NOT_FOUND", "ERROR_NOT_FOUND", "OWNER_NOT_FOUND") or (
        code_text in ("", "0") and (lowered == "not found" or "not found" in lowered and "field" not in lowered)
    ):
        return NotFoundError(message(), **kwargs)
    if status >= 500 or code_text in ("INTERNAL_SERVER_ERROR", "ERROR_UNEXPECTED_ANSWER"):
        return ServerError(message("the portal failed; retrying later"), **kwargs)
    return BadRequestError(message(), **kwargs)
