"""What a simulation loop is given and gives back, shared by the fast path and the reference engine.

The engine prepares the inputs once (blended targets, prices, schedule) and hands them to either loop;
both fill the same arrays, so `engine.simulate` builds the result the same way whichever ran, and the
equality test can compare them field by field.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import overload

import numpy as np
import numpy.typing as npt

from alchemiser.backtest.attribution import Sleeves
from alchemiser.indicators import FloatArray
from alchemiser.portfolio.plan import RebalanceRules


@dataclass(frozen=True)
class Trade:
    date: dt.date
    symbol: str
    side: str
    qty: Decimal
    price: Decimal
    value: Decimal
    fee: Decimal


@dataclass(frozen=True)
class Inputs:
    """The run's data over all sessions; the loop covers the indices [first, last)."""

    symbols: list[str]
    days: list[dt.date]
    targets: FloatArray  # blended target per session (sessions × symbols)
    valid: npt.NDArray[np.bool_]
    closes: FloatArray
    opens: FloatArray  # only read for next-open fills (the closes again otherwise)
    scheduled: npt.NDArray[np.bool_]
    corridor: float | None
    first: int
    last: int
    capital: Decimal
    next_open: bool
    slippage: Decimal  # as a fraction (bps / 10 000)
    fee_rate: Decimal
    rules: RebalanceRules
    non_fractionable: frozenset[str]
    skip_settled_days: bool


@dataclass
class Outputs:
    """What the loop records per day of the run (index 0 = session `first`)."""

    equity: FloatArray
    cash: FloatArray
    weights: FloatArray
    turnover: FloatArray
    rebalanced: npt.NDArray[np.bool_]
    sleeves: Sleeves
    trades: Sequence[Trade]

    @classmethod
    def empty(cls, days: int, symbols: int, costly: bool) -> Outputs:
        return cls(
            np.zeros(days),
            np.zeros(days),
            np.zeros((days, symbols)),
            np.zeros(days),
            np.zeros(days, dtype=bool),
            Sleeves.empty(days, symbols, costly),
            [],
        )


class TradeLog(Sequence[Trade]):
    """The fast path's fills, kept as arrays and turned into `Trade` values only when read.

    A daily blend makes tens of thousands of fills; building Decimal `Trade`s for each costs more than the
    whole simulation, and a sweep reads only their count.
    """

    def __init__(self, days: list[dt.date], symbols: list[str], columns: FloatArray) -> None:
        self._days = days
        self._symbols = symbols
        self._rows = columns  # (fills × 6): day index, symbol column, signed qty, price, value, fee

    def __len__(self) -> int:
        return int(self._rows.shape[0])

    def _trade(self, index: int) -> Trade:
        day, column, qty, price, value, fee = self._rows[index]
        return Trade(
            self._days[int(day)],
            self._symbols[int(column)],
            "buy" if qty > 0 else "sell",
            _dec(abs(qty)),
            _dec(price),
            _dec(value),
            _dec(fee),
        )

    @overload
    def __getitem__(self, index: int) -> Trade: ...
    @overload
    def __getitem__(self, index: slice) -> list[Trade]: ...
    def __getitem__(self, index: int | slice) -> Trade | list[Trade]:
        if isinstance(index, slice):
            return [self._trade(i) for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("trade index out of range")
        return self._trade(index)

    def __iter__(self) -> Iterator[Trade]:
        return (self._trade(i) for i in range(len(self)))


def _dec(value: float) -> Decimal:
    return Decimal(repr(float(value)))
