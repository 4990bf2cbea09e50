"""Prices of the simulated exchange: each symbol's mid, and the quote the exchange shows around it.

A mid is the last close on or before `as_of` from the `MarketData` source (read once per symbol) until
`set` moves it; a symbol without data has no mid and is unknown to the exchange.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal

from alchemiser.data.base import MarketData
from alchemiser.errors import DataError
from alchemiser.execution.broker import NotFound
from alchemiser.execution.sim.matching import quote_for
from alchemiser.models import Quote
from alchemiser.money import SUB_PENNY


class Prices:
    """Mids per symbol and quotes around them; not thread-safe on its own (`SimBroker` holds its lock)."""

    def __init__(
        self, market: MarketData, as_of: dt.date | None, spread_bps: float, now: Callable[[], dt.datetime]
    ) -> None:
        self._market = market
        self._as_of = as_of
        self._spread_bps = spread_bps
        self._now = now
        self._mids: dict[str, Decimal | None] = {}

    def set(self, sym: str, mid: Decimal) -> None:
        self._mids[sym] = mid

    def mid(self, sym: str) -> Decimal | None:
        if sym not in self._mids:
            try:
                frame = self._market.bars(sym, end=self._as_of)
            except DataError:
                frame = None
            if frame is None or len(frame) == 0:
                self._mids[sym] = None
            else:
                close = float(frame["close"].iloc[-1])
                self._mids[sym] = Decimal(repr(close)).quantize(SUB_PENNY, rounding=ROUND_HALF_UP)
        return self._mids[sym]

    def quote(self, sym: str) -> Quote:
        """The current quote of `sym`; `NotFound` for a symbol without a price."""
        mid = self.mid(sym)
        if mid is None:
            raise NotFound(f'asset "{sym}" not found')
        return quote_for(sym, mid, self._spread_bps, self._now())
