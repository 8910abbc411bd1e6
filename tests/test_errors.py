"""One error vocabulary: every error names its system, kind and stable code, and one function picks the exit code."""

from __future__ import annotations

from pathlib import Path

import pytest

from b24sync.bitrix24 import errors as b24
from b24sync.config import ConfigError
from b24sync.errors import (
    EXIT_CONFIG,
    EXIT_LOCKED,
    EXIT_UNREACHABLE,
    B24SyncError,
    BulkGuardError,
    SetupMissingError,
    describe,
    exit_code,
    outage_system,
)
from b24sync.onec import errors as onec
from b24sync.store.lock import LockHeldError
from b24sync.sync.invoices import InvoiceError
from b24sync.sync.mapping import MappingError

CASES = [
    (ConfigError("cfg.yaml", ["at 'sync': missing"]), EXIT_CONFIG, "config", "config_invalid"),
    (BulkGuardError("too many"), EXIT_CONFIG, "config", "bulk_guard"),
    (SetupMissingError("run b24sync setup"), EXIT_CONFIG, "config", "setup_missing"),
    (onec.SetupError("at 'onec.defaults.organisation': …"), EXIT_CONFIG, "config", "setup"),
    (onec.AuthError("1C refused user"), EXIT_UNREACHABLE, "onec", "onec_auth"),
    (onec.TransportError("cannot reach 1C"), EXIT_UNREACHABLE, "onec", "onec_unreachable"),
    (b24.AuthError("NO_AUTH_FOUND"), EXIT_UNREACHABLE, "bitrix24", "bitrix24_auth"),
    (b24.ServerError("HTTP 500"), EXIT_UNREACHABLE, "bitrix24", "bitrix24_server_error"),
    (LockHeldError(Path("/var/lib/b24sync/state.db.lock"), 42), EXIT_LOCKED, "config", "locked"),
]


@pytest.mark.parametrize("error, code, system, stable", CASES, ids=[type(case[0]).__name__ for case in CASES])
def test_each_error_has_one_exit_code_and_a_stable_code(error: B24SyncError, code: int, system: str,
                                                        stable: str) -> None:
    assert exit_code(error) == code and error.code == stable
    assert outage_system(error) == system


def test_a_deal_only_error_is_never_fatal_and_keeps_its_code() -> None:
    for error in (MappingError("Товар не найден", code="unknown_product"), InvoiceError("PDF слишком большой"),
                  onec.BusinessError("refused", onec_message="Не удалось провести")):
        assert not error.fatal and not error.retryable
    assert MappingError("x", code="currency_missing").code == "currency_missing"
    assert onec.BusinessError("refused").code == "posting_refused"


def test_the_printed_line_names_the_system() -> None:
    assert describe(onec.TransportError("down")).startswith("error: cannot work with 1C: down")
    assert describe(BulkGuardError("stop")) == "stopped: stop"
    assert "holds the b24sync lock" in describe(LockHeldError(Path("x.lock"), 1))
