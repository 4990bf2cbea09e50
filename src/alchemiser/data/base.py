"""The `MarketData` interface every data source implements, so strategies never care where bars came from."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal, Protocol

import pandas as pd

BAR_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "volume")

Source = Literal["store", "sample"]
SAMPLE_NOTICE = "synthetic sample data"


@dataclass(frozen=True)
class SymbolInfo:
    """What a source holds for one symbol."""

    symbol: str
    source: Source
    first: dt.date
    last: dt.date
    rows: int


class MarketData(Protocol):
    """Daily split- and dividend-adjusted bars.

    `bars` returns a DataFrame indexed by a tz-naive `DatetimeIndex` of session dates (ascending, unique)
    with float columns open, high, low, close, volume, clipped to [start, end] inclusive. It raises
    `DataError` when the symbol is unknown to the source.
    """

    def bars(self, symbol: str, start: dt.date | None = None, end: dt.date | None = None) -> pd.DataFrame:
        ...

    def source_of(self, symbol: str) -> Source:
        """Which source serves `symbol` (raises `DataError` when none does)."""
        ...

    def available(self) -> list[SymbolInfo]:
        ...
