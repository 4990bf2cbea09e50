"""The `MarketData` interface every data source implements, so strategies never care where bars came from."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Literal, Protocol

from typing_extensions import TypedDict  # the TypedDict pydantic accepts on 3.11

from alchemiser.data.bars import BAR_COLUMNS, DailyBars

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["BAR_COLUMNS", "DailyBars", "MarketData", "ShownBars", "Source", "SymbolInfo"]

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
    def of(cls, symbol: str, source: Source, bars: DailyBars, tail: int) -> ShownBars:
        shown = DailyBars(bars.days[-tail:], bars.values[-tail:])
        rows: list[BarJson] = [
            {
                "date": day.isoformat(),
                "open": float(o),
                "high": float(h),
                "low": float(lo),
                "close": float(c),
                "volume": float(v),
            }
            for day, (o, h, lo, c, v) in zip(shown.days.tolist(), shown.values.tolist(), strict=True)
        ]
        return cls(symbol, source, len(bars), bars.first, bars.last, rows)

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

    def daily(self, symbol: str, start: dt.date | None = None, end: dt.date | None = None) -> DailyBars:
        """The same bars as numpy columns (no pandas): what deciding reads."""
        ...

    def source_of(self, symbol: str) -> Source:
        """Which source serves `symbol` (raises `DataError` when none does)."""
        ...

    def available(self) -> list[SymbolInfo]:
        ...
