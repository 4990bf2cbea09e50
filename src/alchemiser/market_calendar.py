"""NYSE trading days and hours, so every module agrees on what "a session" and "the last bar" mean.

The sessions, opens and closes come from `exchange_calendars`' XNYS calendar over a fixed span (2000 to
2040), which keeps answers stable instead of depending on "today + 1 year" defaults. Building that
calendar costs ~0.3 s and importing it ~0.1 s, a third of a `signal`'s budget, so its facts are shipped in
`xnys_sessions.json` (holidays and early closes, written by `write_table`, checked against the library by
a test) and used whenever the installed `exchange_calendars` is the version that wrote them; any other
version is asked directly. Only `why_closed` (holiday names) always builds the calendar.
Session dates are numpy `datetime64[D]` days (`session_days`; `sessions` gives the tz-naive midnight
`DatetimeIndex` of bar frames), so deciding needs no pandas; open/close instants are tz-aware in
America/New_York, the market's own clock.
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

from alchemiser.data.bars import DayArray, as_date, day
from alchemiser.errors import DataError

if TYPE_CHECKING:
    import exchange_calendars as xc
    import pandas as pd

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
    """Every session of the span, and the New York wall-clock opens and closes that are not 09:30–16:00."""

    days: DayArray  # datetime64[D], sorted
    late_opens: dict[dt.date, dt.time]
    early_closes: dict[dt.date, dt.time]

    def open_at(self, i: int) -> dt.datetime:
        d = as_date(self.days[i])
        return dt.datetime.combine(d, self.late_opens.get(d, _REGULAR[0]), tzinfo=NY)

    def close_at(self, i: int) -> dt.datetime:
        d = as_date(self.days[i])
        return dt.datetime.combine(d, self.early_closes.get(d, _REGULAR[1]), tzinfo=NY)


_REGULAR = (dt.time.fromisoformat(REGULAR_OPEN), dt.time.fromisoformat(REGULAR_CLOSE))


def table_from_calendar() -> dict[str, Any]:
    """The span's facts in `xnys_sessions.json`'s form, from `exchange_calendars` itself."""
    import pandas as pd

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


@lru_cache(maxsize=1)
def _sessions() -> _Sessions:
    return load_sessions(TABLE)


def load_sessions(path: Path) -> _Sessions:
    """The sessions from the table at `path`, or from the library when it was written by another version."""
    table = json.loads(path.read_text(encoding="utf-8"))
    current = (CALENDAR_START.isoformat(), CALENDAR_END.isoformat(), importlib.metadata.version("exchange_calendars"))
    if (table["start"], table["end"], table["exchange_calendars"]) != current:
        table = table_from_calendar()
    span = np.arange(day(CALENDAR_START), day(CALENDAR_END) + 1, dtype="datetime64[D]")
    holidays = np.array(table["holidays"], dtype="datetime64[D]")
    days = span[np.is_busday(span) & ~np.isin(span, holidays)]

    def times(exceptions: dict[str, str]) -> dict[dt.date, dt.time]:
        return {dt.date.fromisoformat(d): dt.time.fromisoformat(t) for d, t in exceptions.items()}

    return _Sessions(days, times(table["late_opens"]), times(table["early_closes"]))


def _checked(d: dt.date) -> np.datetime64:
    """A date (or datetime, whose date part is used) as a calendar day, refused outside the span."""
    if isinstance(d, dt.datetime):
        d = d.date()
    if not (CALENDAR_START <= d <= CALENDAR_END):
        raise DataError(f"{d} is outside the supported market calendar ({CALENDAR_START} to {CALENDAR_END})")
    return day(d)


def _position(d: np.datetime64) -> int | None:
    """`d`'s index among the sessions, or None when it is not one."""
    days = _sessions().days
    i = int(np.searchsorted(days, d))
    return i if i < len(days) and days[i] == d else None


def session_days(start: dt.date, end: dt.date) -> DayArray:
    """NYSE session dates in [start, end] inclusive, as `datetime64[D]` (empty when start > end)."""
    days = _sessions().days
    lo = int(np.searchsorted(days, _checked(start), side="left"))
    hi = int(np.searchsorted(days, _checked(end), side="right"))
    return days[lo:hi]


def sessions(start: dt.date, end: dt.date) -> pd.DatetimeIndex:
    """NYSE session dates in [start, end] inclusive, tz-naive midnights (empty when start > end)."""
    import pandas as pd

    return pd.DatetimeIndex(session_days(start, end).astype("datetime64[ns]"))


def is_session(d: dt.date) -> bool:
    """Whether the NYSE trades on `d` (weekends and holidays are not sessions)."""
    return _position(_checked(d)) is not None


def previous_session(d: dt.date) -> dt.date:
    """The last session strictly before `d`."""
    days = _sessions().days
    i = int(np.searchsorted(days, _checked(d), side="left")) - 1
    if i < 0:
        raise DataError(f"no NYSE session before {d} in the calendar")
    return as_date(days[i])


def next_session(d: dt.date) -> dt.date:
    """The first session strictly after `d`."""
    days = _sessions().days
    i = int(np.searchsorted(days, _checked(d), side="right"))
    if i >= len(days):
        raise DataError(f"no NYSE session after {d} in the calendar")
    return as_date(days[i])


def _require_session(d: dt.date) -> int:
    i = _position(_checked(d))
    if i is None:
        raise DataError(f"{d.date() if isinstance(d, dt.datetime) else d} is not an NYSE trading session")
    return i


def session_open(d: dt.date) -> dt.datetime:
    """When session `d` opens, in New York time (raises `DataError` for a non-session)."""
    return _sessions().open_at(_require_session(d))


def session_close(d: dt.date) -> dt.datetime:
    """When session `d` closes, in New York time: 16:00, or 13:00 on early-close days."""
    return _sessions().close_at(_require_session(d))


def is_early_close(d: dt.date) -> bool:
    """Whether `d` is a session that closes early (e.g. the day after Thanksgiving); False if no session."""
    _checked(d)
    return (d.date() if isinstance(d, dt.datetime) else d) in _sessions().early_closes


def last_completed_session(now: dt.datetime | None = None) -> dt.date:
    """The latest session whose close is at or before `now`: the newest bar that can be final.

    `now` must be timezone-aware (a naive time is ambiguous about which day's close has passed).
    """
    if now is None:
        now = dt.datetime.now(tz=dt.UTC)
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("last_completed_session needs a timezone-aware datetime")
    today = now.astimezone(NY).date()
    if today > CALENDAR_END:
        raise DataError(f"{now.isoformat()} is beyond the supported market calendar (ends {CALENDAR_END})")
    cal = _sessions()
    i = int(np.searchsorted(cal.days, day(today), side="right")) - 1
    if i >= 0 and cal.close_at(i) > now:  # today's session, not closed yet
        i -= 1
    if i < 0:
        raise DataError(f"no NYSE session completed by {now.isoformat()}")
    return as_date(cal.days[i])


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
    as_days = days.to_numpy().astype("datetime64[D]")
    weekend = ~np.is_busday(as_days)
    inside = (as_days >= day(CALENDAR_START)) & (as_days <= day(CALENDAR_END))
    closed = inside & ~np.isin(as_days, _sessions().days)
    return np.asarray(weekend | closed)


def why_closed(d: dt.date) -> str:
    """Why the NYSE does not trade on `d`, for messages: "a Saturday (weekend)", "an NYSE holiday (Christmas)"."""
    if d.weekday() >= 5:
        return f"a {d:%A} (weekend)"
    import pandas as pd

    ts = pd.Timestamp(d)
    names = calendar().regular_holidays.holidays(ts, ts, return_name=True)
    if len(names):
        return f"an NYSE holiday ({names.iloc[0]})"
    return "an NYSE holiday (the market was closed)"
