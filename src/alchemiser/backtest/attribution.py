"""Each strategy's contribution to a blend's return, exactly: the contributions add up to the total return.

Definition (sleeves). Whenever the book is brought to the blended target (a rebalance, including one that
found nothing to trade), each strategy's sleeve becomes its share of the book holding its own target: of
every symbol held, strategy k owns the fraction share_k × w_k(s) / Σ_j share_j × w_j(s). Between
rebalances the sleeves hold those fractions of each position, so they drift with prices. A symbol no
strategy targets (a leftover below the minimum trade) stays with the sleeves that owned it. On each day a
sleeve earns its fractions of each position's price move (for next-open fills: the overnight move on the
holdings before the open's trades, the open-to-close move on those after), and pays the costs (slippage
and fees) of the trades it asked for: a trade's cost is split among the sleeves whose own target moved in
the trade's direction, in proportion to how far. Contribution k = Σ over days of its earnings minus its
costs, divided by the equity on the first day, so Σ_k contribution_k = the blend's total return.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from alchemiser.indicators import FloatArray


@dataclass
class Sleeves:
    """What the engine records for attribution while it trades (per day of the backtest)."""

    planned: npt.NDArray[np.int64]  # the decision day whose target the book was brought to, or -1
    costs: FloatArray | None  # slippage + fees per day and symbol (None when the run has no costs)
    flows: FloatArray | None  # signed traded value per day and symbol (buys positive)

    @classmethod
    def empty(cls, days: int, symbols: int, costly: bool) -> Sleeves:
        planned = np.full(days, -1, dtype=np.int64)
        if not costly:
            return cls(planned, None, None)
        return cls(planned, np.zeros((days, symbols)), np.zeros((days, symbols)))

    def record(self, day: int, column: int, qty: Decimal, price: Decimal, reference: Decimal, fee: Decimal) -> None:
        """A fill of `qty` (negative: sold) at `price` whose reference (before slippage) was `reference`."""
        if self.costs is None or self.flows is None:
            return
        self.costs[day, column] += float(abs(qty) * abs(price - reference) + fee)
        self.flows[day, column] += float(qty * reference)


def contributions(
    parts: Sequence[tuple[FloatArray, float]],
    blended: FloatArray,
    sleeves: Sleeves,
    equity: FloatArray,
    cash: FloatArray,
    weights: FloatArray,
    prices: tuple[FloatArray, FloatArray | None],
) -> FloatArray:
    """Contribution of each strategy in `parts` ((all dates × symbols) weights, share), as defined above.

    `blended` is the blended target on all dates; `equity`, `cash`, `weights` (held, at each close) and
    `prices` (closes, and opens for next-open fills) cover the backtest's days. Only held positions earn or
    cost anything, so the work is done on those (day, symbol) pairs alone.
    """
    owners = _Owners(parts, blended, sleeves.planned)
    closes, opens = prices
    value = weights * equity[:, None]  # each position's value at each close, after that day's trades
    with np.errstate(divide="ignore", invalid="ignore"):
        if opens is None:
            earned = owners.earned(_held(value[:-1], closes[1:] / closes[:-1] - 1.0), 0)
        else:
            earned = owners.earned(_held(value[:-1], opens[1:] / closes[:-1] - 1.0), 0)  # overnight
            earned += owners.earned(_held(value[1:], 1.0 - opens[1:] / closes[1:]), 1)  # after the open's trades
    paid = _costs(owners, sleeves, value, cash, closes, opens)
    return np.asarray((earned - paid) / equity[0], dtype=np.float64)


def _held(value: FloatArray, ratio: FloatArray) -> FloatArray:
    """value × ratio where something is held (a symbol not trading yet has no price and no position)."""
    return np.where(value != 0.0, value * np.nan_to_num(ratio), 0.0)


class _Owners:
    """Each sleeve's fraction of a position after a day's trades, looked up for (day, symbol) pairs."""

    def __init__(self, parts: Sequence[tuple[FloatArray, float]], blended: FloatArray, planned: npt.NDArray[np.int64]):
        self.parts = parts
        self.shares = np.array([share for _, share in parts])
        self.planned = planned
        rebalanced = planned >= 0
        known = rebalanced[:, None] & (blended[np.where(rebalanced, planned, 0)] > 0)
        # the last day each symbol's owners were set: a symbol no target wants keeps its owners
        self.since = np.maximum.accumulate(np.where(known, np.arange(len(planned))[:, None], -1), axis=0)

    def wanted(self, days: npt.NDArray[np.int64], symbols: npt.NDArray[np.int64]) -> FloatArray:
        """share_k × w_k(symbol) of the target the book was brought to on each day (pairs × strategies)."""
        decided = self.planned[days]
        return np.asarray(np.stack([w[decided, symbols] for w, _ in self.parts], axis=1) * self.shares[None, :])

    def after(self, days: npt.NDArray[np.int64], symbols: npt.NDArray[np.int64]) -> FloatArray:
        since = self.since[days, symbols]
        wanted = self.wanted(np.maximum(since, 0), symbols)
        with np.errstate(divide="ignore", invalid="ignore"):
            fractions = wanted / wanted.sum(axis=1, keepdims=True)
        default = self.shares / self.shares.sum()  # nothing owned yet: split by share (never held anyway)
        return np.asarray(np.where((since < 0)[:, None], default[None, :], fractions), dtype=np.float64)

    def earned(self, moves: FloatArray, shift: int) -> FloatArray:
        """Σ over held pairs of each sleeve's fraction × the move; row r of `moves` is owned after day r+shift."""
        rows, symbols = np.nonzero(moves)
        return np.asarray(self.after(rows + shift, symbols).T @ moves[rows, symbols], dtype=np.float64)


def _costs(
    owners: _Owners,
    sleeves: Sleeves,
    value: FloatArray,
    cash: FloatArray,
    closes: FloatArray,
    opens: FloatArray | None,
) -> FloatArray:
    """Each sleeve's share of the trading costs from the second day on (the first day's are before E₀)."""
    nothing = np.zeros(len(owners.parts))
    if sleeves.costs is None or sleeves.flows is None:
        return nothing
    days, symbols = np.nonzero(sleeves.costs[1:])
    if not days.size:
        return nothing
    days += 1
    trade_days = np.unique(days)
    reference = (closes if opens is None else opens)[trade_days]
    with np.errstate(divide="ignore", invalid="ignore"):
        held = _held(value[trade_days - 1], reference / closes[trade_days - 1])  # at the fill's reference price
    worth = held.sum(axis=1) + cash[trade_days - 1]
    row = np.searchsorted(trade_days, days)
    wanted = (
        owners.wanted(days, symbols) * worth[row][:, None]
        - owners.after(days - 1, symbols) * held[row, symbols][:, None]
    )
    asked = np.maximum(wanted * np.sign(sleeves.flows[days, symbols])[:, None], 0.0)
    total = asked.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        split = np.where(total > 0, asked / total, owners.after(days, symbols))
    return np.asarray(split.T @ sleeves.costs[days, symbols], dtype=np.float64)
