"""NYSE trading days and hours, so every module agrees on what "a session" and "the last bar" mean.

The sessions, opens and closes come from `exchange_calendars`' XNYS calendar over a fixed span (2000 to
2040), which keeps answers stable instead of depending on "today + 1 year" defaults. Building that
calendar costs ~0.3 s and importing it ~0.1 s, a third of a `signal`'s budget, so its facts are shipped in
`xnys_sessions.json` (holidays and early closes, written by `write_table`, checked against the library by
a test) and used whenever the installed `exchange_calendars` is the version that wrote them; any other
version is asked directly. Only `why_closed` (holiday names) always builds the calendar.
Session dates are tz-naive midnight timestamps (the form used by bar indexes); open/close instants are
tz-aware in America/New_York, the market's own clock.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from alchemiser.errors import DataError

if TYPE_CHECKING:
    import exchange_calendars as xc

NY = ZoneInfo("America/New_York")
CALENDAR_START = dt.date(2000, 1, 1)
CALENDAR_END = dt.date(2040, 12, 31)
TABLE = Path(__file__).with_name("xnys_sessions.json")
REGULAR_OPEN, REGULAR_CLOSE = "09:30", "16:00"


@lru_cache(maxsize=1)
def calendar() -> xc.ExchangeCalendar:
    """The shared XNYS calendar (2000–2040); cached because building it is the expensive part."""
    import exchange_calendars as xc

    with warnings.catch_warnings():
        # exchange_calendars 4.x reads tz-aware `Series.values`, which pandas 3.1 flags as deprecated.
        warnings.filterwarnings("ignore", message="Series.values returning an ndarray")
        return xc.get_calendar("XNYS", start=CALENDAR_START.isoformat(), end=CALENDAR_END.isoformat())


@dataclass(frozen=True)
class _Sessions:
    """Every session of the span with its open and close (UTC, datetime64[ns]) and the early closes."""

    days: pd.DatetimeIndex  # tz-naive midnights, sorted
    opens: np.ndarray
    closes: np.ndarray
    early: pd.DatetimeIndex


def _utc_ns(instants: pd.Series | pd.DatetimeIndex) -> np.ndarray:
    return np.asarray(pd.DatetimeIndex(instants).tz_convert("UTC").tz_localize(None).to_numpy(dtype="datetime64[ns]"))


def table_from_calendar() -> dict[str, Any]:
    """The span's facts in `xnys_sessions.json`'s form, from `exchange_calendars` itself."""
    cal = calendar()
    opens = cal.opens.dt.tz_convert(NY).dt.strftime("%H:%M")
    closes = cal.closes.dt.tz_convert(NY).dt.strftime("%H:%M")
    weekdays = pd.bdate_range(CALENDAR_START, CALENDAR_END)
    return {
        "exchange_calendars": importlib.metadata.version("exchange_calendars"),
        "start": CALENDAR_START.isoformat(),
        "end": CALENDAR_END.isoformat(),
        "holidays": [d.date().isoformat() for d in weekdays.difference(pd.DatetimeIndex(cal.sessions))],
        "late_opens": {d.date().isoformat(): t for d, t in opens.items() if t != REGULAR_OPEN},
        "early_closes": {d.date().isoformat(): t for d, t in closes.items() if t != REGULAR_CLOSE},
    }


def write_table(path: Path = TABLE) -> None:
    """Rewrite the shipped table after an `exchange_calendars` upgrade (its test says when)."""
    path.write_text(json.dumps(table_from_calendar(), indent=1) + "\n", encoding="utf-8")


def _at(days: pd.DatetimeIndex, regular: str, exceptions: dict[str, str]) -> np.ndarray:
    """Each day's New York wall-clock time (`regular` unless listed), as UTC datetime64[ns]."""

    def minutes(hh_mm: str) -> int:
        hours, mins = hh_mm.split(":")
        return int(hours) * 60 + int(mins)

    offsets = np.full(len(days), minutes(regular))
    if exceptions:
        offsets[days.get_indexer(pd.DatetimeIndex(list(exceptions)))] = [minutes(t) for t in exceptions.values()]
    return _utc_ns((days + pd.to_timedelta(offsets, unit="min")).tz_localize(NY))


@lru_cache(maxsize=1)
def _sessions() -> _Sessions:
    return load_sessions(TABLE)


def load_sessions(path: Path) -> _Sessions:
    """The sessions from the table at `path`, or from the library when it was written by another version."""
    table = json.loads(path.read_text(encoding="utf-8"))
    current = (CALENDAR_START.isoformat(), CALENDAR_END.isoformat(), importlib.metadata.version("exchange_calendars"))
    if (table["start"], table["end"], table["exchange_calendars"]) != current:
        cal = calendar()
        return _Sessions(pd.DatetimeIndex(cal.sessions), _utc_ns(cal.opens), _utc_ns(cal.closes), cal.early_closes)
    days = pd.bdate_range(CALENDAR_START, CALENDAR_END).difference(pd.DatetimeIndex(table["holidays"]))
    # no business-day frequency and nanosecond labels: a plain list of dates, exactly as the library's
    days = pd.DatetimeIndex(days.to_numpy().astype("datetime64[ns]"))
    opens = _at(days, REGULAR_OPEN, table["late_opens"])
    closes = _at(days, REGULAR_CLOSE, table["early_closes"])
    early = pd.DatetimeIndex(np.array(sorted(table["early_closes"]), dtype="datetime64[ns]"))
    return _Sessions(days, opens, closes, early)


def _closes_ns() -> np.ndarray:
    """Session closes as UTC datetime64[ns], sorted, for fast `searchsorted` look-ups."""
    return _sessions().closes


def _position(ts: pd.Timestamp) -> int | None:
    """`ts`'s index among the sessions, or None when it is not one."""
    days = _sessions().days
    i = int(days.searchsorted(ts))
    return i if i < len(days) and days[i] == ts else None


def _ts(d: dt.date) -> pd.Timestamp:
    """A date (or datetime, whose date part is used) as the calendar's tz-naive midnight label."""
    if isinstance(d, dt.datetime):
        d = d.date()
    ts = pd.Timestamp(d)
    if not (pd.Timestamp(CALENDAR_START) <= ts <= pd.Timestamp(CALENDAR_END)):
        raise DataError(f"{d} is outside the supported market calendar ({CALENDAR_START} to {CALENDAR_END})")
    return ts


def _sessions_index() -> pd.DatetimeIndex:
    return _sessions().days


def sessions(start: dt.date, end: dt.date) -> pd.DatetimeIndex:
    """NYSE session dates in [start, end] inclusive, tz-naive (empty when start > end)."""
    idx = _sessions_index()
    lo = idx.searchsorted(_ts(start), side="left")
    hi = idx.searchsorted(_ts(end), side="right")
    return pd.DatetimeIndex(idx[lo:hi].to_numpy())


def is_session(d: dt.date) -> bool:
    """Whether the NYSE trades on `d` (weekends and holidays are not sessions)."""
    return _position(_ts(d)) is not None


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


def _require_session(d: dt.date) -> int:
    ts = _ts(d)
    i = _position(ts)
    if i is None:
        raise DataError(f"{ts.date()} is not an NYSE trading session")
    return i


def _new_york(instant: np.datetime64) -> dt.datetime:
    return pd.Timestamp(instant).tz_localize("UTC").tz_convert(NY).to_pydatetime()


def session_open(d: dt.date) -> dt.datetime:
    """When session `d` opens, in New York time (raises `DataError` for a non-session)."""
    return _new_york(_sessions().opens[_require_session(d)])


def session_close(d: dt.date) -> dt.datetime:
    """When session `d` closes, in New York time: 16:00, or 13:00 on early-close days."""
    return _new_york(_sessions().closes[_require_session(d)])


def is_early_close(d: dt.date) -> bool:
    """Whether `d` is a session that closes early (e.g. the day after Thanksgiving); False if no session."""
    ts = _ts(d)
    return bool(ts in _sessions().early)


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
