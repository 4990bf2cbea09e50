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
import pandas as pd

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
    sleeves: Sleeves,
    equity: FloatArray,
    cash: FloatArray,
    weights: FloatArray,
    prices: tuple[FloatArray, FloatArray | None],
) -> FloatArray:
    """Contribution of each strategy in `parts` ((all dates × symbols) weights, share), as defined above.

    `equity`, `cash`, `weights` (held, at each close) and `prices` (closes, and opens for next-open fills)
    cover the backtest's days; `sleeves.planned` indexes the strategies' own (all) dates.
    """
    closes, opens = prices
    shares = np.array([share for _, share in parts])
    n, width = weights.shape
    value = weights * equity[:, None]  # each position's value at each close, after that day's trades
    owned = _ownership(parts, sleeves.planned, shares, n, width)  # after each day's trades
    before = np.empty_like(owned)
    before[0] = (shares / shares.sum())[:, None]
    before[1:] = owned[:-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        if opens is None:
            moved = _held(value[:-1], closes[1:] / closes[:-1] - 1.0)
            earned = np.einsum("tks,ts->k", before[1:], moved)
        else:
            overnight = _held(value[:-1], opens[1:] / closes[:-1] - 1.0)
            intraday = _held(value[1:], 1.0 - opens[1:] / closes[1:])
            earned = np.einsum("tks,ts->k", before[1:], overnight) + np.einsum("tks,ts->k", owned[1:], intraday)
    paid = _costs(parts, sleeves, shares, value, cash, closes, opens, before, owned)
    return np.asarray((earned - paid) / equity[0], dtype=np.float64)


def _held(value: FloatArray, ratio: FloatArray) -> FloatArray:
    """value × ratio where something is held (a symbol not trading yet has no price and no position)."""
    return np.where(value != 0.0, value * np.nan_to_num(ratio), 0.0)


def _ownership(
    parts: Sequence[tuple[FloatArray, float]], planned: npt.NDArray[np.int64], shares: FloatArray, n: int, width: int
) -> FloatArray:
    """(days × strategies × symbols): each sleeve's fraction of each position after each day's trades."""
    owned = np.full((n, len(parts), width), np.nan)
    rows = np.flatnonzero(planned >= 0)
    wanted = np.stack([w[planned[rows]] for w, _ in parts], axis=1) * shares[None, :, None]
    total = wanted.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        owned[rows] = np.where(total > 0, wanted / total, np.nan)
    flat = pd.DataFrame(owned.reshape(n, -1)).ffill().to_numpy()  # untargeted symbols keep their owners
    owned = flat.reshape(n, len(parts), width)
    default = (shares / shares.sum())[None, :, None]  # nothing owned yet: split by share (never held anyway)
    return np.where(np.isnan(owned), default, owned)


def _costs(
    parts: Sequence[tuple[FloatArray, float]],
    sleeves: Sleeves,
    shares: FloatArray,
    value: FloatArray,
    cash: FloatArray,
    closes: FloatArray,
    opens: FloatArray | None,
    before: FloatArray,
    owned: FloatArray,
) -> FloatArray:
    """Each sleeve's share of the trading costs from the second day on (the first day's are before E₀)."""
    if sleeves.costs is None or sleeves.flows is None:
        return np.zeros(len(parts))
    rows = np.flatnonzero(sleeves.costs[1:].any(axis=1)) + 1
    if not rows.size:
        return np.zeros(len(parts))
    reference = (closes if opens is None else opens)[rows]
    with np.errstate(divide="ignore", invalid="ignore"):
        held = _held(value[rows - 1], reference / closes[rows - 1])  # positions at the fill's reference price
    worth = held.sum(axis=1) + cash[rows - 1]
    targets = np.stack([w[sleeves.planned[rows]] for w, _ in parts], axis=1)
    wanted = targets * shares[None, :, None] * worth[:, None, None] - before[rows] * held[:, None, :]
    direction = np.sign(sleeves.flows[rows])[:, None, :]
    asked = np.maximum(wanted * direction, 0.0)
    total = asked.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        split = np.where(total > 0, asked / total, owned[rows])
    return np.asarray(np.einsum("rks,rs->k", split, sleeves.costs[rows]), dtype=np.float64)
