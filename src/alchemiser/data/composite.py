"""Real data first, the synthetic sample for the rest: never mixing sources within one symbol.

A symbol the primary (the local store) holds is served entirely from it; only symbols it lacks come from
the fallback. Mixing sources within one symbol would splice real and synthetic prices into one series.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from alchemiser.data.base import DailyBars, MarketData, Source, SymbolInfo
from alchemiser.errors import DataError

if TYPE_CHECKING:
    import pandas as pd


class FallbackMarketData:
    """`MarketData` that asks `primary` first and `fallback` (if any) for symbols the primary lacks."""

    def __init__(self, primary: MarketData, fallback: MarketData | None) -> None:
        self.primary = primary
        self.fallback = fallback

    def _owner(self, symbol: str) -> MarketData:
        sym = symbol.strip().upper()
        try:
            self.primary.source_of(sym)
            return self.primary
        except DataError:
            pass
        if self.fallback is not None:
            try:
                self.fallback.source_of(sym)
                return self.fallback
            except DataError:
                pass
        hint = " (the synthetic sample does not model it either)" if self.fallback is not None else ""
        raise DataError(
            f"no market data for {sym}{hint}; fetch it with `alchemiser data fetch --symbols {sym}` or import it "
            "with `alchemiser data import FILE` (CSV/Parquet with symbol,date,open,high,low,close,volume, or a "
            "folder of SYMBOL.csv)"
        )

    def bars(self, symbol: str, start: dt.date | None = None, end: dt.date | None = None) -> pd.DataFrame:
        return self._owner(symbol).bars(symbol.strip().upper(), start, end)

    def daily(self, symbol: str, start: dt.date | None = None, end: dt.date | None = None) -> DailyBars:
        return self._owner(symbol).daily(symbol.strip().upper(), start, end)

    def source_of(self, symbol: str) -> Source:
        return self._owner(symbol).source_of(symbol.strip().upper())

    def available(self) -> list[SymbolInfo]:
        """Every symbol from both sources; where both hold one, the primary's entry is listed."""
        infos = {info.symbol: info for info in self.primary.available()}
        if self.fallback is not None:
            for info in self.fallback.available():
                infos.setdefault(info.symbol, info)
        return [infos[s] for s in sorted(infos)]
