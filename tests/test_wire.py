"""Wire helpers: PHP query strings both ways, datetimes with offsets, PHP JSON quirks."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from b24sync.bitrix24.wire import (
    as_map,
    format_datetime,
    parse_date_only,
    parse_datetime,
    php_query,
    to_bool,
    to_decimal,
    to_int,
)
from b24sync_emulators.bitrix24.phpquery import parse_str


def test_php_query_round_trips_through_php_parsing() -> None:
    params = {"filter": {">=DATE_MODIFY": "2026-11-26T10:00:00+03:00", "@CATEGORY_ID": [0, 1],
                         "%TITLE": "O'Neil & 100% #1 🔌"},
              "select": ["ID", "UF_*"], "order": {"ID": "ASC"}, "start": -1}
    encoded = php_query(params)
    assert "filter[%3E%3DDATE_MODIFY]" in encoded or "filter[>=DATE_MODIFY]" in encoded
    assert parse_str(encoded) == {"filter": {">=DATE_MODIFY": "2026-11-26T10:00:00+03:00", "@CATEGORY_ID": ["0", "1"],
                                             "%TITLE": "O'Neil & 100% #1 🔌"},
                                  "select": ["ID", "UF_*"], "order": {"ID": "ASC"}, "start": "-1"}


def test_batch_references_stay_readable() -> None:
    assert php_query({"filter": {">ID": "$result[p0][49][ID]"}}) == "filter[%3EID]=$result[p0][49][ID]"


def test_datetimes_keep_their_offset() -> None:
    moment = parse_datetime("2024-08-30T14:29:00+02:00")
    assert moment.utcoffset() == timedelta(hours=2) and moment.astimezone(UTC).hour == 12
    assert parse_datetime("24.08.2023 13:19:39") == datetime(2023, 8, 24, 13, 19, 39, tzinfo=UTC)
    assert parse_datetime("") is None and parse_datetime(None) is None
    assert parse_date_only("2024-01-01T03:00:00+03:00") == date(2024, 1, 1)
    assert format_datetime(datetime(2026, 11, 26, 10, 0, 0, 123, tzinfo=timezone(timedelta(hours=3)))) == \
        "2026-11-26T10:00:00+03:00"
    with pytest.raises(ValueError, match="naive"):
        format_datetime(datetime(2026, 1, 1))


def test_values_normalise() -> None:
    assert to_int("410") == 410 and to_int(410) == 410 and to_int("") is None and to_int(None) is None
    assert to_decimal("1000000.00") == Decimal("1000000.00") and to_decimal(899.1) == Decimal("899.1")
    assert to_bool("Y") is True and to_bool("N") is False and to_bool("1") is True and to_bool("") is None
    assert as_map([]) == {} and as_map(["a", "b"]) == {"0": "a", "1": "b"} and as_map({"x": 1}) == {"x": 1}
