"""Typed 1C errors, with the 1C code and the Russian message intact and a hint for the administrator."""

from __future__ import annotations

from b24sync.redaction import redact


class OneCError(Exception):
    """An error answered by the 1C base, or met on the way to it."""

    fatal = False  # the cycle cannot go on until an administrator acts
    retryable = False

    def __init__(self, message: str, *, code: str = "", onec_message: str = "", status: int | None = None,
                 resource: str = "") -> None:
        self.code = code
        self.onec_message = onec_message
        self.status = status
        self.resource = resource
        super().__init__(redact(message))


class AuthError(OneCError):
    """401 or code 20: the user name, the password or the user's rights."""

    fatal = True


class NotPublishedError(OneCError):
    """404 on an entity set: the object is not in the OData composition of the publication."""

    fatal = True


class NotFoundError(OneCError):
    """Code 9: no object with this key."""


class BusinessError(OneCError):
    """500 with code -1: 1C refused this document (posting, a handler, a closed period)."""


class QueryError(OneCError):
    """400: the base could not parse a request; a bug on our side or an older platform."""


class ServerError(OneCError):
    """5xx without a business meaning: retried for reads."""

    retryable = True


class SessionPoolError(OneCError):
    """406: the publication's session pool is exhausted; try again later."""

    retryable = True


class TransportError(OneCError):
    """No usable answer: refused or dropped connections, timeouts, HTML where JSON was expected."""

    retryable = True


class OutcomeUnknownError(OneCError):
    """A create may or may not have happened; search by the deal marker before trying again."""


class ConflictError(OneCError):
    """The document changed in 1C since b24sync read it (its DataVersion differs)."""


class DuplicateDocumentError(OneCError):
    """A document for this deal already exists in 1C; b24sync will not create a second one."""


class SetupError(OneCError):
    """The base lacks something the configuration names (a default that does not resolve, a missing field)."""

    fatal = True
