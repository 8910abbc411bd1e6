"""Typed 1C errors, with the 1C code and the Russian message intact and a hint for the administrator."""

from __future__ import annotations

from b24sync.errors import B24SyncError, Kind, System
from b24sync.redaction import redact


class OneCError(B24SyncError):
    """An error answered by the 1C base, or met on the way to it; `remote_code` is 1C's own code ("9", "-1")."""

    system = System.ONEC
    kind = Kind.ITEM
    code = "onec_error"

    def __init__(self, message: str, *, remote_code: str = "", onec_message: str = "", status: int | None = None,
                 resource: str = "") -> None:
        self.remote_code = remote_code
        self.onec_message = onec_message
        self.status = status
        self.resource = resource
        super().__init__(redact(message))


class AuthError(OneCError):
    """401 or code 20: the user name, the password or the user's rights."""

    kind = Kind.FATAL
    code = "onec_auth"


class RightsError(OneCError):
    """Code 20 for a user whose credentials 1C accepted: no right on a whole kind of object."""

    kind = Kind.FATAL
    code = "onec_rights"


class ObjectRightsError(RightsError):
    """Code 20 on one object (row-level security): that deal fails alone, the others go on."""

    kind = Kind.ITEM
    code = "onec_object_rights"


class HiddenRowsError(ObjectRightsError):
    """A lookup that decides a create met rows hidden from the user: b24sync cannot tell what exists, and makes
    nothing for that deal."""

    code = "onec_hidden_rows"


class NotPublishedError(OneCError):
    """404 on an entity set: the object is not in the OData composition of the publication."""

    kind = Kind.FATAL
    code = "onec_not_published"


class NotFoundError(OneCError):
    """Code 9: no object with this key."""

    code = "onec_not_found"


class BusinessError(OneCError):
    """500 with code -1: 1C refused this document (posting, a handler, a closed period)."""

    code = "posting_refused"


class QueryError(OneCError):
    """400: the base could not parse a request; a bug on our side or an older platform."""

    code = "onec_bad_request"


class ServerError(OneCError):
    """5xx without a business meaning: retried for reads."""

    kind = Kind.RETRYABLE
    code = "onec_server_error"


class SessionPoolError(OneCError):
    """406: the publication's session pool is exhausted; try again later."""

    kind = Kind.RETRYABLE
    code = "onec_session_pool"


class TransportError(OneCError):
    """No usable answer: refused or dropped connections, timeouts, HTML where JSON was expected."""

    kind = Kind.RETRYABLE
    code = "onec_unreachable"


class OutcomeUnknownError(OneCError):
    """A create may or may not have happened; search by the deal marker before trying again."""

    code = "outcome_unknown"


class ConflictError(OneCError):
    """The document changed in 1C since b24sync read it (its DataVersion differs)."""

    code = "document_changed_in_1c"


class DuplicateDocumentError(OneCError):
    """A document for this deal already exists in 1C; b24sync will not create a second one."""

    code = "duplicate_document"


class SetupError(OneCError):
    """The base lacks something the configuration names (a default that does not resolve, a missing field)."""

    kind = Kind.FATAL
    code = "setup"
