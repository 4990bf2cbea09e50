"""Which sessions a backtest covers, and precise errors when `--start`/`--end` cannot be honoured.

By default a backtest starts on the first session from which every strategy can decide on every session
(Composer's rule: once each indicator of each ticker has its history). Starting on the first session on
which a decision happens to be possible is not enough: a symphony whose branch taken today needs no young
indicator decides, tomorrow it takes the other branch and cannot, and the book would sit on stale holdings.
An explicit `--start` is honoured as given; the days on which a strategy cannot decide are then counted
and reported, never silently held.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from alchemiser.backtest.errors import BacktestError


class NoDecisionError(BacktestError):
    """No day of the range has a decision from every strategy; `last` is the range's last day index."""

    def __init__(self, message: str, last: int) -> None:
        super().__init__(message)
        self.last = last


@dataclass(frozen=True)
class Window:
    """Session indices [first, last) of the backtest; `settled` is where every later day is decidable."""

    first: int
    last: int
    settled: int

    @property
    def size(self) -> int:
        return self.last - self.first


def resolve(
    dates: pd.DatetimeIndex, valid: npt.NDArray[np.bool_], start: dt.date | None, end: dt.date | None
) -> Window:
    """The window for `start`/`end` over `dates` (`valid`: every strategy can decide that day)."""
    if not len(dates):
        raise BacktestError("no market data to backtest on")
    data_first, data_last = dates[0].date(), dates[-1].date()
    if start and end and start > end:
        raise BacktestError(f"--start {start} is after --end {end}")
    if start and start > data_last:
        raise BacktestError(f"--start {start} is after the data ends ({data_last} is the last session with data)")
    if end and end < data_first:
        raise BacktestError(f"--end {end} is before the data begins ({data_first} is the first session with data)")
    first = int(dates.searchsorted(pd.Timestamp(start))) if start else 0
    last = int(dates.searchsorted(pd.Timestamp(end), side="right")) if end else len(dates)
    if first >= last:
        raise BacktestError(f"no trading session between --start {start} and --end {end}")
    inside = valid[first:last]
    if not inside.any():
        span = f"{dates[first].date()} and {dates[last - 1].date()}"
        raise NoDecisionError(f"no day between {span} has a decision from every strategy", last - 1)
    undecided = np.flatnonzero(~inside)
    if not undecided.size:
        settled = first
    elif undecided[-1] + 1 < inside.size:
        settled = first + int(undecided[-1]) + 1
    else:  # the range ends undecided: fall back to the first decidable day and report the rest
        settled = first + int(np.argmax(inside))
    return Window(settled if start is None else first, last, settled)
