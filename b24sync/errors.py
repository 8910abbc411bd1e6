"""One error vocabulary for b24sync: which system, what kind, a stable code, and the exit code that follows.

Every exception b24sync raises on purpose derives from B24SyncError. The
`code` is stable (failures store it, metrics count by it, scripts may match
it); the message is for people. `exit_code` is the one place that turns an
error into the process's exit status, for the one-shot commands and the
service alike.
"""

from __future__ import annotations

from enum import StrEnum

EXIT_OK = 0
EXIT_ITEMS_FAILED = 1
EXIT_CONFIG = 2
EXIT_UNREACHABLE = 3
EXIT_LOCKED = 4


class System(StrEnum):
    BITRIX24 = "bitrix24"
    ONEC = "onec"
    CONFIG = "config"
    STATE = "state"


class Kind(StrEnum):
    FATAL = "fatal"  # nothing can go on until an administrator acts
    RETRYABLE = "retryable"  # the same call may succeed later
    ITEM = "item"  # this deal or document only; the others go on


class B24SyncError(Exception):
    """The base of every b24sync error."""

    system: System = System.STATE
    kind: Kind = Kind.ITEM
    code: str = "error"

    @property
    def fatal(self) -> bool:
        return self.kind is Kind.FATAL

    @property
    def retryable(self) -> bool:
        return self.kind is Kind.RETRYABLE


class ItemError(B24SyncError):
    """One deal cannot go through as it is; `reason` is shown to the manager (Russian), `detail` to the admin."""

    def __init__(self, reason: str, detail: str = "", *, code: str = "", system: System | None = None) -> None:
        super().__init__(f"{reason} {detail}".strip())
        self.reason = reason
        self.detail = detail
        if code:
            self.code = code
        if system is not None:
            self.system = system


class BulkGuardError(B24SyncError):
    """A cycle would create more documents than the guard allows; nothing was created."""

    system = System.CONFIG
    kind = Kind.FATAL
    code = "bulk_guard"


class SetupMissingError(B24SyncError):
    """Bitrix24 lacks a deal field (or an option) b24sync writes; `b24sync setup` creates it."""

    system = System.CONFIG
    kind = Kind.FATAL
    code = "setup_missing"


class LockedError(B24SyncError):
    """Another b24sync process holds the state store."""

    system = System.STATE
    kind = Kind.FATAL
    code = "locked"


class StateError(B24SyncError):
    """The state store cannot be used as it is (a newer schema, a file from elsewhere)."""

    system = System.STATE
    kind = Kind.FATAL
    code = "state_unusable"


class StateDamagedError(StateError):
    """The state file is damaged (its header, its schema or a data page): `b24sync state repair` rebuilds it."""

    code = "state_damaged"


class UsageError(B24SyncError):
    """A command was asked for something it cannot do as asked."""

    system = System.CONFIG
    kind = Kind.FATAL
    code = "usage"


def exit_code(error: BaseException) -> int:
    """The exit status for an error that ended a command or the service."""
    if isinstance(error, LockedError):
        return EXIT_LOCKED
    if not isinstance(error, B24SyncError):
        return EXIT_UNREACHABLE
    if error.system in (System.CONFIG, System.STATE) or error.code in ("setup", "setup_missing"):
        return EXIT_CONFIG
    if error.kind is Kind.ITEM and error.system not in (System.BITRIX24, System.ONEC):
        return EXIT_ITEMS_FAILED
    return EXIT_UNREACHABLE


def outage_system(error: B24SyncError) -> str:
    """Which system `status` and /healthz name for an error that stopped a cycle."""
    if error.system in (System.CONFIG, System.STATE) or error.code in ("setup", "setup_missing"):
        return "config"
    return str(error.system)


def describe(error: B24SyncError) -> str:
    """The one line a command prints for an error that ended it."""
    if isinstance(error, LockedError):
        return str(error)
    if isinstance(error, BulkGuardError):
        return f"stopped: {error}"
    if error.system in (System.BITRIX24, System.ONEC) and exit_code(error) == EXIT_UNREACHABLE:
        name = "Bitrix24" if error.system is System.BITRIX24 else "1C"
        return f"error: cannot work with {name}: {error}"
    return f"error: {error}"
