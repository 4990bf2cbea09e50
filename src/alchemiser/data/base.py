"""The `MarketData` interface every data source implements, so strategies never care where bars came from."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Literal, Protocol

import pandas as pd
from typing_extensions import TypedDict  # the TypedDict pydantic accepts on 3.11

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


class BarJson(TypedDict):
    """One daily bar (split- and dividend-adjusted)."""

    date: Annotated[str, "the session (YYYY-MM-DD)"]
    open: Annotated[float, "dollars, every digit kept"]
    high: Annotated[float, "dollars, every digit kept"]
    low: Annotated[float, "dollars, every digit kept"]
    close: Annotated[float, "dollars, every digit kept"]
    volume: Annotated[float, "shares traded"]


class BarsJson(TypedDict):
    """`data show --json`."""

    symbol: str
    source: Annotated[Source, "store (the local store) or sample (the synthetic sample market)"]
    synthetic_sample_data: Annotated[bool, "true when source is sample"]
    bars: Annotated[list[BarJson], "the latest bars, oldest first"]


@dataclass(frozen=True)
class ShownBars:
    """The latest bars of one symbol, for `data show` (the table and `--json` read this one object)."""

    symbol: str
    source: Source
    total: int  # how many bars the source holds
    first: dt.date
    last: dt.date
    rows: list[BarJson]

    @classmethod
    def of(cls, symbol: str, source: Source, bars: pd.DataFrame, tail: int) -> ShownBars:
        shown = bars.tail(tail)
        days = pd.DatetimeIndex(shown.index).date
        rows: list[BarJson] = [
            {
                "date": day.isoformat(),
                "open": float(r["open"]),
                "high": float(r["high"]),
                "low": float(r["low"]),
                "close": float(r["close"]),
                "volume": float(r["volume"]),
            }
            for day, r in zip(days, shown.to_dict("records"), strict=True)
        ]
        return cls(symbol, source, len(bars), bars.index[0].date(), bars.index[-1].date(), rows)

    def to_json(self) -> BarsJson:
        return {
            "symbol": self.symbol,
            "source": self.source,
            "synthetic_sample_data": self.source == "sample",
            "bars": self.rows,
        }


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
