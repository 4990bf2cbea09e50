"""Aligned close-price history for a set of symbols: what strategies read, validated so they can trust it.

Loading checks what would otherwise poison a signal silently: unknown symbols, gaps inside a series,
non-positive or missing prices, and a last bar older than the session the caller asked for.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from alchemiser import market_calendar
from alchemiser.data.base import MarketData, Source
from alchemiser.errors import DataError
from alchemiser.indicators import FloatArray


@dataclass(frozen=True)
class PriceHistory:
    """Closes of several symbols on one shared, ascending index of session dates (NaN before a listing)."""

    dates: pd.DatetimeIndex
    closes: Mapping[str, FloatArray]
    sources: Mapping[str, Source]
    opens: Mapping[str, FloatArray] | None = None

    @property
    def end(self) -> dt.date:
        return self.dates[-1].date()

    @property
    def uses_sample(self) -> bool:
        return any(source == "sample" for source in self.sources.values())

    def until(self, as_of: dt.date) -> PriceHistory:
        """The history as it was known at the close of `as_of`: views, no copies, nothing later."""
        stop = int(self.dates.searchsorted(pd.Timestamp(as_of), side="right"))
        if stop == 0:
            raise DataError(f"no market data on or before {as_of}")
        opens = {s: o[:stop] for s, o in self.opens.items()} if self.opens is not None else None
        return PriceHistory(self.dates[:stop], {s: c[:stop] for s, c in self.closes.items()}, self.sources, opens)

    def close_on(self, symbol: str, day: dt.date) -> float:
        """The close of `symbol` on `day`; asking for a day after the history's end is a look-ahead error."""
        if day > self.end:
            raise DataError(f"look-ahead: {symbol} on {day} is after the decision date {self.end}")
        index = int(self.dates.searchsorted(pd.Timestamp(day)))
        if index >= len(self.dates) or self.dates[index].date() != day:
            raise DataError(f"no bar for {symbol} on {day}")
        return float(self.closes[symbol][index])

    def returns(self, symbol: str) -> FloatArray:
        closes = self.closes[symbol]
        out = np.full(len(closes), np.nan)
        out[1:] = closes[1:] / closes[:-1] - 1.0
        return out


def _check_sessions(symbol: str, index: pd.DatetimeIndex) -> None:
    """Refuse a series that skips an NYSE session between its first and last bar (within the calendar)."""
    if index.tz is not None:
        index = index.tz_localize(None)
    lo = max(index[0].date(), market_calendar.CALENDAR_START)
    hi = min(index[-1].date(), market_calendar.CALENDAR_END)
    if lo > hi:
        return
    missing = market_calendar.sessions(lo, hi).difference(index.normalize())
    if len(missing):
        raise DataError(f"{symbol} has no bar on {missing[0].date()}, a trading session inside its history (a gap)")


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
    frames: dict[str, pd.Series] = {}
    open_frames: dict[str, pd.Series] = {}
    sources: dict[str, Source] = {}
    for symbol in sorted(set(symbols)):
        bars = market.bars(symbol, start, end)
        if bars.empty:
            raise DataError(f"no market data for {symbol} on or before {end}")
        close = bars["close"].astype("float64")
        if not (close.index.is_monotonic_increasing and close.index.is_unique):
            raise DataError(f"{symbol}: its bars are out of date order or repeat a date")
        bad = ~np.isfinite(close.to_numpy()) | (close.to_numpy() <= 0)
        if bad.any():
            when = close.index[int(np.argmax(bad))].date()
            raise DataError(f"{symbol} has a missing or non-positive close on {when}")
        last_bar = close.index[-1].date()
        if expected_last is not None and last_bar < expected_last:
            raise DataError(f"market data for {symbol} is stale: its last bar is {last_bar}, expected {expected_last}")
        _check_sessions(symbol, pd.DatetimeIndex(close.index))
        frames[symbol] = close
        open_frames[symbol] = bars["open"].astype("float64")
        sources[symbol] = market.source_of(symbol)
    if not frames:
        raise DataError("no symbols requested")
    table = pd.DataFrame(frames).sort_index()
    last = table.index[-1].date()
    if expected_last is not None and last < expected_last:
        raise DataError(f"market data is stale: the last bar is {last}, expected {expected_last}")
    closes: dict[str, FloatArray] = {}
    for symbol in table.columns:
        values = table[symbol].to_numpy(dtype=np.float64)
        valid = np.isfinite(values)
        first = int(np.argmax(valid))
        if not valid[first:].all():
            gap = table.index[first + int(np.argmin(valid[first:]))].date()
            raise DataError(f"{symbol} has no bar on {gap} although other symbols do (a gap in its history)")
        closes[str(symbol)] = values
    opens_table = pd.DataFrame(open_frames).reindex(table.index)
    opens = {str(s): opens_table[s].to_numpy(dtype=np.float64) for s in opens_table.columns}
    return PriceHistory(pd.DatetimeIndex(table.index), closes, sources, opens)
