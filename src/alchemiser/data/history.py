"""Aligned close-price history for a set of symbols: what strategies read, validated so they can trust it.

Loading checks what would otherwise poison a signal silently: unknown symbols, gaps inside a series,
non-positive or missing prices, and a last bar older than the session the caller asked for.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from alchemiser import market_calendar
from alchemiser.data.bars import DailyBars, DayArray, as_date, day
from alchemiser.data.base import MarketData, Source
from alchemiser.errors import DataError
from alchemiser.indicators import FloatArray

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class PriceHistory:
    """Closes of several symbols on one shared, ascending list of session days (NaN before a listing).

    `days` is `datetime64[D]` (a `DatetimeIndex` is accepted and converted), so deciding needs no pandas;
    `dates` is the same list as a `DatetimeIndex` for the backtest and report code that works in pandas.
    """

    days: DayArray
    closes: Mapping[str, FloatArray]
    sources: Mapping[str, Source]
    opens: Mapping[str, FloatArray] | None = None

    def __post_init__(self) -> None:
        days = np.asarray(self.days)
        if days.dtype != np.dtype("datetime64[D]"):
            object.__setattr__(self, "days", days.astype("datetime64[D]"))

    @cached_property
    def dates(self) -> pd.DatetimeIndex:
        import pandas as pd

        return pd.DatetimeIndex(self.days.astype("datetime64[ns]"))

    @property
    def end(self) -> dt.date:
        return as_date(self.days[-1])

    @property
    def uses_sample(self) -> bool:
        return any(source == "sample" for source in self.sources.values())

    def until(self, as_of: dt.date) -> PriceHistory:
        """The history as it was known at the close of `as_of`: views, no copies, nothing later."""
        stop = int(np.searchsorted(self.days, day(as_of), side="right"))
        if stop == 0:
            raise DataError(f"no market data on or before {as_of}")
        opens = {s: o[:stop] for s, o in self.opens.items()} if self.opens is not None else None
        return PriceHistory(self.days[:stop], {s: c[:stop] for s, c in self.closes.items()}, self.sources, opens)

    def close_on(self, symbol: str, when: dt.date) -> float:
        """The close of `symbol` on `when`; asking for a day after the history's end is a look-ahead error."""
        if when > self.end:
            raise DataError(f"look-ahead: {symbol} on {when} is after the decision date {self.end}")
        index = int(np.searchsorted(self.days, day(when)))
        if index >= len(self.days) or self.days[index] != day(when):
            raise DataError(f"no bar for {symbol} on {when}")
        return float(self.closes[symbol][index])

    def returns(self, symbol: str) -> FloatArray:
        closes = self.closes[symbol]
        out = np.full(len(closes), np.nan)
        out[1:] = closes[1:] / closes[:-1] - 1.0
        return out


def _check_sessions(symbol: str, days: DayArray) -> None:
    """Refuse a series that skips an NYSE session between its first and last bar (within the calendar)."""
    lo = max(as_date(days[0]), market_calendar.CALENDAR_START)
    hi = min(as_date(days[-1]), market_calendar.CALENDAR_END)
    if lo > hi:
        return
    expected = market_calendar.session_days(lo, hi)
    at = np.minimum(np.searchsorted(days, expected), len(days) - 1)  # both sorted: a binary search each
    missing = expected[days[at] != expected]
    if len(missing):
        raise DataError(f"{symbol} has no bar on {as_date(missing[0])}, a trading session inside its history (a gap)")


def _checked_bars(
    market: MarketData, symbol: str, start: dt.date | None, end: dt.date, expected_last: dt.date | None
) -> DailyBars:
    """`symbol`'s bars through `end`, refused when they could poison a decision."""
    bars = market.daily(symbol, start, end)
    if bars.empty:
        raise DataError(f"no market data for {symbol} on or before {end}")
    if not (np.diff(bars.days) > np.timedelta64(0, "D")).all():
        raise DataError(f"{symbol}: its bars are out of date order or repeat a date")
    close = bars.close
    bad = ~np.isfinite(close) | (close <= 0)
    if bad.any():
        raise DataError(f"{symbol} has a missing or non-positive close on {as_date(bars.days[int(np.argmax(bad))])}")
    if expected_last is not None and bars.last < expected_last:
        raise DataError(f"market data for {symbol} is stale: its last bar is {bars.last}, expected {expected_last}")
    _check_sessions(symbol, bars.days)
    return bars


def load_history(
    market: MarketData,
    symbols: Iterable[str],
    end: dt.date,
    start: dt.date | None = None,
    *,
    expected_last: dt.date | None = None,
) -> PriceHistory:
    """Load and validate closes for `symbols` up to `end`.

    `expected_last` is the session whose bar must be present (normally the last completed session on or
    before `end`); a symbol whose data stops earlier is stale and refused rather than silently used.
    """
    loaded: dict[str, DailyBars] = {}
    sources: dict[str, Source] = {}
    for symbol in sorted(set(symbols)):
        loaded[symbol] = _checked_bars(market, symbol, start, end, expected_last)
        sources[symbol] = market.source_of(symbol)
    if not loaded:
        raise DataError("no symbols requested")
    days = np.unique(np.concatenate([bars.days for bars in loaded.values()]))  # each reaches expected_last
    closes: dict[str, FloatArray] = {}
    opens: dict[str, FloatArray] = {}
    for symbol, bars in loaded.items():
        at = np.searchsorted(days, bars.days)
        # a symbol's bars must run unbroken to the shared end once it has started: a missing day inside it
        # (one another symbol has) is a gap, never filled in
        expected_at = np.arange(at[0], len(days))
        if len(at) != len(expected_at):
            missing = days[expected_at[~np.isin(expected_at, at)][0]]
            raise DataError(
                f"{symbol} has no bar on {as_date(missing)} although other symbols do (a gap in its history)"
            )
        close = np.full(len(days), np.nan)
        close[at] = bars.close
        open_ = np.full(len(days), np.nan)
        open_[at] = bars.open
        closes[symbol] = close
        opens[symbol] = open_
    return PriceHistory(days, closes, sources, opens)
