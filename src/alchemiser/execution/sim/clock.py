"""The simulated market clock: open or closed now, and the next open and close, from the XNYS calendar."""

from __future__ import annotations

import datetime as dt

from alchemiser import market_calendar
from alchemiser.models import Clock


def market_clock(now: dt.datetime, always_open: bool) -> Clock:
    """Open always (`always_open`) or per the XNYS calendar; next open/close always from the calendar."""
    day = now.astimezone(market_calendar.NY).date()
    is_open = False
    if market_calendar.is_session(day) and now < market_calendar.session_close(day):
        opens = market_calendar.session_open(day)
        if now < opens:
            next_open, next_close = opens, market_calendar.session_close(day)
        else:
            is_open = True
            next_close = market_calendar.session_close(day)
            next_open = market_calendar.session_open(market_calendar.next_session(day))
    else:
        nxt = market_calendar.next_session(day)
        next_open, next_close = market_calendar.session_open(nxt), market_calendar.session_close(nxt)
    return Clock(now, True if always_open else is_open, next_open, next_close)
