"""NYSE calendar facts the rest of the bot relies on (holidays, early closes, the last completed bar)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alchemiser import market_calendar as mc
from alchemiser.errors import DataError

NY = mc.NY


@pytest.mark.parametrize("day", [dt.date(2025, 12, 25), dt.date(2024, 7, 4), dt.date(2025, 1, 9)])
def test_holidays_are_not_sessions(day: dt.date) -> None:
    assert not mc.is_session(day)


def test_weekday_and_weekend() -> None:
    assert mc.is_session(dt.date(2025, 12, 26))
    assert not mc.is_session(dt.date(2025, 12, 27))  # Saturday


def test_sessions_range_is_tz_naive_and_skips_holidays() -> None:
    days = mc.sessions(dt.date(2025, 12, 20), dt.date(2026, 1, 5))
    assert days.tz is None
    assert [d.date() for d in days] == [
        dt.date(2025, 12, 22),
        dt.date(2025, 12, 23),
        dt.date(2025, 12, 24),
        dt.date(2025, 12, 26),
        dt.date(2025, 12, 29),
        dt.date(2025, 12, 30),
        dt.date(2025, 12, 31),
        dt.date(2026, 1, 2),
        dt.date(2026, 1, 5),
    ]
    assert len(mc.sessions(dt.date(2026, 1, 5), dt.date(2026, 1, 1))) == 0


def test_twenty_years_available() -> None:
    days = mc.sessions(dt.date(2004, 1, 1), dt.date(2024, 12, 31))
    assert days[0] == pd.Timestamp("2004-01-02")
    assert 5000 < len(days) < 5300


def test_previous_and_next_session() -> None:
    assert mc.previous_session(dt.date(2025, 12, 26)) == dt.date(2025, 12, 24)
    assert mc.previous_session(dt.date(2025, 12, 28)) == dt.date(2025, 12, 26)  # from a Sunday
    assert mc.next_session(dt.date(2025, 12, 24)) == dt.date(2025, 12, 26)
    assert mc.next_session(dt.date(2025, 7, 3)) == dt.date(2025, 7, 7)


def test_black_friday_is_an_early_close() -> None:
    day = dt.date(2025, 11, 28)
    assert mc.is_early_close(day)
    assert mc.session_close(day) == dt.datetime(2025, 11, 28, 13, 0, tzinfo=NY)
    assert mc.session_open(day) == dt.datetime(2025, 11, 28, 9, 30, tzinfo=NY)
    assert not mc.is_early_close(dt.date(2025, 11, 26))
    assert mc.session_close(dt.date(2025, 11, 26)).hour == 16
    assert mc.session_close(day).tzinfo is not None


def test_open_of_a_holiday_is_an_error() -> None:
    with pytest.raises(DataError, match="not an NYSE trading session"):
        mc.session_open(dt.date(2025, 12, 25))


def test_last_completed_session_around_the_close() -> None:
    wed = dt.date(2025, 11, 26)
    assert mc.last_completed_session(dt.datetime(2025, 11, 26, 15, 59, tzinfo=NY)) == dt.date(2025, 11, 25)
    assert mc.last_completed_session(dt.datetime(2025, 11, 26, 16, 0, tzinfo=NY)) == wed
    # Thanksgiving: no session, so Wednesday stays the latest.
    assert mc.last_completed_session(dt.datetime(2025, 11, 27, 18, 0, tzinfo=NY)) == wed
    # Early close at 13:00 on Black Friday.
    assert mc.last_completed_session(dt.datetime(2025, 11, 28, 12, 59, tzinfo=NY)) == wed
    assert mc.last_completed_session(dt.datetime(2025, 11, 28, 13, 0, tzinfo=NY)) == dt.date(2025, 11, 28)


def test_last_completed_session_on_weekend_and_in_utc() -> None:
    assert mc.last_completed_session(dt.datetime(2025, 12, 28, 12, 0, tzinfo=NY)) == dt.date(2025, 12, 26)
    # 20:59 UTC on a winter Friday is 15:59 New York: Friday has not closed yet.
    assert mc.last_completed_session(dt.datetime(2025, 12, 12, 20, 59, tzinfo=dt.UTC)) == dt.date(
        2025, 12, 11
    )
    assert mc.last_completed_session(dt.datetime(2025, 12, 12, 21, 0, tzinfo=dt.UTC)) == dt.date(2025, 12, 12)


def test_last_completed_session_default_and_naive() -> None:
    today = mc.last_completed_session()
    assert mc.is_session(today)
    assert today <= dt.datetime.now(tz=NY).date()
    with pytest.raises(ValueError, match="timezone-aware"):
        mc.last_completed_session(dt.datetime(2025, 12, 12, 12, 0))


def test_shipped_table_is_what_the_installed_exchange_calendars_says() -> None:
    """After an `exchange_calendars` upgrade this fails: rerun `market_calendar.write_table()` and commit."""
    shipped = json.loads(mc.TABLE.read_text(encoding="utf-8"))
    assert shipped == mc.table_from_calendar()


def test_sessions_from_the_table_equal_the_library_calendar(tmp_path: Path) -> None:
    from_table = mc.load_sessions(mc.TABLE)
    other_version = json.loads(mc.TABLE.read_text(encoding="utf-8")) | {"exchange_calendars": "0.0.0"}
    (tmp_path / "table.json").write_text(json.dumps(other_version), encoding="utf-8")
    from_library = mc.load_sessions(tmp_path / "table.json")  # not this version's table: asks the library
    cal = mc.calendar()
    library_days = pd.DatetimeIndex(cal.sessions).to_numpy().astype("datetime64[D]")
    assert np.array_equal(from_library.days, library_days)
    assert np.array_equal(from_table.days, library_days)
    opens = pd.DatetimeIndex(cal.opens).tz_convert(NY)
    closes = pd.DatetimeIndex(cal.closes).tz_convert(NY)
    for sessions in (from_table, from_library):  # every session's open and close instant, early closes included
        assert [sessions.open_at(i) for i in range(len(library_days))] == list(opens.to_pydatetime())
        assert [sessions.close_at(i) for i in range(len(library_days))] == list(closes.to_pydatetime())
    assert sorted(from_table.early_closes) == [d.date() for d in pd.DatetimeIndex(cal.early_closes)]
    for day in (dt.date(2025, 11, 28), dt.date(2025, 12, 1), dt.date(2001, 9, 17)):
        assert mc.session_close(day) == pd.Timestamp(cal.session_close(pd.Timestamp(day))).tz_convert(NY)
        assert mc.session_open(day) == pd.Timestamp(cal.session_open(pd.Timestamp(day))).tz_convert(NY)
