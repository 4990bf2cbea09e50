"""NYSE trading days and hours, so every module agrees on what "a session" and "the last bar" mean.

One `exchange_calendars` XNYS instance is built lazily and cached: construction costs ~0.1 s, and a
fixed span (2000 to 2040) keeps answers stable instead of depending on "today + 1 year" defaults.
Session dates are tz-naive midnight timestamps (the form used by bar indexes); open/close instants are
tz-aware in America/New_York, the market's own clock.
"""

from __future__ import annotations

import datetime as dt
import warnings
from functools import lru_cache
from zoneinfo import ZoneInfo

import exchange_calendars as xc
import numpy as np
import pandas as pd

from alchemiser.errors import DataError

NY = ZoneInfo("America/New_York")
CALENDAR_START = dt.date(2000, 1, 1)
CALENDAR_END = dt.date(2040, 12, 31)


@lru_cache(maxsize=1)
def calendar() -> xc.ExchangeCalendar:
    """The shared XNYS calendar (2000–2040); cached because building it is the expensive part."""
    with warnings.catch_warnings():
        # exchange_calendars 4.x reads tz-aware `Series.values`, which pandas 3.1 flags as deprecated.
        warnings.filterwarnings("ignore", message="Series.values returning an ndarray")
        return xc.get_calendar("XNYS", start=CALENDAR_START.isoformat(), end=CALENDAR_END.isoformat())


@lru_cache(maxsize=1)
def _closes_ns() -> np.ndarray:
    """Session closes as UTC epoch nanoseconds, sorted, for fast `searchsorted` look-ups."""
    closes = calendar().closes
    return np.asarray(closes.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[ns]"))


def _ts(d: dt.date) -> pd.Timestamp:
    """A date (or datetime, whose date part is used) as the calendar's tz-naive midnight label."""
    if isinstance(d, dt.datetime):
        d = d.date()
    ts = pd.Timestamp(d)
    if not (pd.Timestamp(CALENDAR_START) <= ts <= pd.Timestamp(CALENDAR_END)):
        raise DataError(f"{d} is outside the supported market calendar ({CALENDAR_START} to {CALENDAR_END})")
    return ts


def _sessions_index() -> pd.DatetimeIndex:
    return pd.DatetimeIndex(calendar().sessions)


def sessions(start: dt.date, end: dt.date) -> pd.DatetimeIndex:
    """NYSE session dates in [start, end] inclusive, tz-naive (empty when start > end)."""
    idx = _sessions_index()
    lo = idx.searchsorted(_ts(start), side="left")
    hi = idx.searchsorted(_ts(end), side="right")
    return pd.DatetimeIndex(idx[lo:hi].to_numpy())


def is_session(d: dt.date) -> bool:
    """Whether the NYSE trades on `d` (weekends and holidays are not sessions)."""
    return bool(calendar().is_session(_ts(d)))


def previous_session(d: dt.date) -> dt.date:
    """The last session strictly before `d`."""
    idx = _sessions_index()
    i = int(idx.searchsorted(_ts(d), side="left")) - 1
    if i < 0:
        raise DataError(f"no NYSE session before {d} in the calendar")
    return idx[i].date()


def next_session(d: dt.date) -> dt.date:
    """The first session strictly after `d`."""
    idx = _sessions_index()
    i = int(idx.searchsorted(_ts(d), side="right"))
    if i >= len(idx):
        raise DataError(f"no NYSE session after {d} in the calendar")
    return idx[i].date()


def _require_session(d: dt.date) -> pd.Timestamp:
    ts = _ts(d)
    if not calendar().is_session(ts):
        raise DataError(f"{ts.date()} is not an NYSE trading session")
    return ts


def session_open(d: dt.date) -> dt.datetime:
    """When session `d` opens, in New York time (raises `DataError` for a non-session)."""
    ts = _require_session(d)
    return pd.Timestamp(calendar().session_open(ts)).tz_convert(NY).to_pydatetime()


def session_close(d: dt.date) -> dt.datetime:
    """When session `d` closes, in New York time: 16:00, or 13:00 on early-close days."""
    ts = _require_session(d)
    return pd.Timestamp(calendar().session_close(ts)).tz_convert(NY).to_pydatetime()


def is_early_close(d: dt.date) -> bool:
    """Whether `d` is a session that closes early (e.g. the day after Thanksgiving); False if no session."""
    ts = _ts(d)
    return bool(ts in calendar().early_closes)


def last_completed_session(now: dt.datetime | None = None) -> dt.date:
    """The latest session whose close is at or before `now`: the newest bar that can be final.

    `now` must be timezone-aware (a naive time is ambiguous about which day's close has passed).
    """
    if now is None:
        now = dt.datetime.now(tz=dt.UTC)
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("last_completed_session needs a timezone-aware datetime")
    now_ns = np.datetime64(pd.Timestamp(now).tz_convert("UTC").tz_localize(None).as_unit("ns"))
    closes = _closes_ns()
    i = int(np.searchsorted(closes, now_ns, side="right")) - 1
    if i < 0:
        raise DataError(f"no NYSE session completed by {now.isoformat()}")
    if now.astimezone(NY).date() > CALENDAR_END:
        raise DataError(f"{now.isoformat()} is beyond the supported market calendar (ends {CALENDAR_END})")
    return _sessions_index()[i].date()


def market_today(now: dt.datetime | None = None) -> dt.date:
    """Today's date on the market's own clock (America/New_York), whatever the machine's time zone.

    "A bar dated after today" must mean after the market's today: at 21:00 in New York it is already
    tomorrow in UTC, and a UTC date would let a not-yet-traded session through.
    """
    return (now or dt.datetime.now(tz=dt.UTC)).astimezone(NY).date()


def non_sessions(days: pd.DatetimeIndex) -> np.ndarray:
    """A boolean mask: which of `days` (tz-naive midnights) are certainly not NYSE sessions.

    Vectorised for imports of millions of rows. Weekends are recognised on any date; holidays only inside
    the calendar's span (2000–2040), outside which a weekday is given the benefit of the doubt.
    """
    weekend = np.asarray(days.day_of_week >= 5)
    inside = np.asarray((days >= pd.Timestamp(CALENDAR_START)) & (days <= pd.Timestamp(CALENDAR_END)))
    closed = inside & ~np.asarray(days.isin(_sessions_index()))
    return weekend | closed


def why_closed(d: dt.date) -> str:
    """Why the NYSE does not trade on `d`, for messages: "a Saturday (weekend)", "an NYSE holiday (Christmas)"."""
    if d.weekday() >= 5:
        return f"a {d:%A} (weekend)"
    ts = pd.Timestamp(d)
    names = calendar().regular_holidays.holidays(ts, ts, return_name=True)
    if len(names):
        return f"an NYSE holiday ({names.iloc[0]})"
    return "an NYSE holiday (the market was closed)"
