"""Backtests with the live pipeline: the same strategies, blend, `plan_rebalance` and `size_buys`.

Signals for every day come from one vectorized pass per strategy (each day sees data up to itself only).
Each rebalance day then runs the live planning code against a simulated book, and fills follow the
simulated exchange's rules: market orders at the reference price moved by the slippage (the half-spread),
sells first, buys sized from the cash the sells left. Fills happen at day t's close (Composer's
convention) or at day t+1's open.

The schedule (`schedule.py`) decides which sessions may trade; the window (`window.py`) which sessions are
covered. On a session on which a strategy cannot decide the book makes no trade, and the result says so
(`undecided`, per strategy) instead of holding silently. While trading, the engine records what the
sleeve attribution needs (`attribution.py`), so each strategy's contribution is exact.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import pandas as pd

from alchemiser.backtest.attribution import Sleeves, contributions
from alchemiser.backtest.errors import BacktestError
from alchemiser.backtest.options import MAX_COST_BPS, Decide, Fill
from alchemiser.backtest.schedule import Schedule
from alchemiser.backtest.window import resolve
from alchemiser.data.history import PriceHistory
from alchemiser.indicators import FloatArray
from alchemiser.models import Account, Asset, Position
from alchemiser.portfolio.plan import RebalanceRules, floor_qty, plan_rebalance, size_buys
from alchemiser.strategies.base import Strategy
from alchemiser.strategies.symphony.evaluator import AllocationMatrix, IndicatorCache

BPS = Decimal(10000)
FINE_STEP = Decimal("1e-18")
ZERO = Decimal(0)


@dataclass(frozen=True)
class BacktestConfig:
    """Everything a run needs besides signals and prices; impossible values are refused on creation."""

    capital: Decimal = Decimal(100000)
    start: dt.date | None = None
    end: dt.date | None = None
    schedule: Schedule = field(default_factory=lambda: Schedule("daily"))
    fill: Fill = "close"
    decide: Decide = "close"  # previous-close: the targets come shifted by one session (see `decided_day_before`)
    slippage_bps: Decimal = ZERO
    fee_bps: Decimal = ZERO
    rules: RebalanceRules = field(
        default_factory=lambda: RebalanceRules(cash_buffer_pct=0.0, min_trade_usd=Decimal(1))
    )  # fully invested, like Composer; $1 is the smallest order a broker takes
    non_fractionable: frozenset[str] = frozenset()
    skip_settled_days: bool = True  # see `_Book.settled`: a pure speed-up, results are identical

    def __post_init__(self) -> None:
        if not (self.capital.is_finite() and self.capital > 0):
            raise BacktestError(f"--capital must be a positive amount of dollars (got {self.capital})")
        for flag, bps in (("--slippage-bps", self.slippage_bps), ("--fee-bps", self.fee_bps)):
            if not (bps.is_finite() and 0 <= bps <= MAX_COST_BPS):
                raise BacktestError(f"{flag} must be between 0 and {MAX_COST_BPS} basis points (got {bps})")
        if self.fill not in ("close", "next-open"):
            raise BacktestError(f"--fill must be close or next-open (got {self.fill!r})")
        if self.decide not in ("close", "previous-close"):
            raise BacktestError(f"--decide must be close or previous-close (got {self.decide!r})")
        if self.decide == "previous-close" and self.fill == "next-open":
            raise BacktestError(
                "--decide previous-close fills at day t's close with day t-1's decision; it cannot be combined "
                "with --fill next-open (which already trades a decision one session later)"
            )


@dataclass(frozen=True)
class Trade:
    date: dt.date
    symbol: str
    side: str
    qty: Decimal
    price: Decimal
    value: Decimal
    fee: Decimal


@dataclass
class BacktestResult:
    dates: pd.DatetimeIndex
    equity: FloatArray
    cash: FloatArray
    symbols: list[str]
    weights: FloatArray  # held weights at each close (dates × symbols)
    targets: FloatArray  # blended target decided each day (dates × symbols)
    rebalanced: np.ndarray
    turnover: FloatArray  # traded value / equity per day
    trades: list[Trade]
    undecided: np.ndarray  # (dates × strategies): the strategy could not decide that day, so the book held
    contributions: FloatArray  # each strategy's part of the total return (see `attribution`); they add up
    settled: dt.date  # the first day from which every strategy decides every day (the default start)

    def target_on(self, day: dt.date) -> dict[str, float]:
        index = int(self.dates.searchsorted(pd.Timestamp(day)))
        row = self.targets[index]
        return {s: float(w) for s, w in zip(self.symbols, row, strict=True) if w > 1e-12}


def blend_matrices(parts: Sequence[tuple[AllocationMatrix, float]]) -> tuple[list[str], FloatArray, np.ndarray]:
    """Σ share × weights per day over the union of symbols (the vectorized `blend`); valid where all are."""
    symbols = sorted({s for matrix, _ in parts for s in matrix.symbols})
    column = {s: j for j, s in enumerate(symbols)}
    n = len(parts[0][0].valid)
    total = np.zeros((n, len(symbols)))
    valid = np.ones(n, dtype=bool)
    for matrix, share in parts:
        valid &= matrix.valid
        for j, symbol in enumerate(matrix.symbols):
            total[:, column[symbol]] += share * matrix.weights[:, j]
    return symbols, total, valid


class _Book:
    """The simulated account: Decimal cash and quantities, as the broker boundary keeps them."""

    def __init__(self, capital: Decimal, non_fractionable: frozenset[str]) -> None:
        self.cash = capital
        self.qty: dict[str, Decimal] = {}
        self.cost: dict[str, Decimal] = {}
        self.non_fractionable = non_fractionable
        self.version = 0  # bumped by every fill
        self.settled: tuple[str, int] | None = None  # (sole target symbol, version) whose plan came out empty

    def is_settled(self, target: dict[str, float], rules: RebalanceRules) -> bool:
        """Whether today's plan is certainly empty without running it.

        A book holding only the sole symbol of a 100 % target cannot drift: with no cash buffer and no drift
        band, the plan's only possible trade is the idle cash, which does not change without a fill. So once
        such a plan came out empty, it stays empty until the target or the book changes.
        """
        if self.settled is None or rules.cash_buffer_pct or rules.drift_band_pct or len(target) != 1:
            return False
        (symbol,) = target
        return self.settled == (symbol, self.version) and self.qty.keys() == {symbol}

    def positions(self, prices: dict[str, Decimal]) -> list[Position]:
        return [Position(s, q, self.cost[s], prices[s], q * prices[s]) for s, q in sorted(self.qty.items()) if q > 0]

    def equity(self, prices: dict[str, Decimal]) -> Decimal:
        return self.cash + sum((q * prices[s] for s, q in self.qty.items()), ZERO)

    def trade(self, day: dt.date, symbol: str, qty: Decimal, price: Decimal, fee_rate: Decimal) -> Trade:
        """Book a fill: qty > 0 buys, qty < 0 sells (never more than held)."""
        held = self.qty.get(symbol, ZERO)
        if qty < 0:
            qty = -min(-qty, held)
        value = abs(qty) * price
        fee = value * fee_rate
        self.cash += -qty * price - fee
        self.version += 1
        new = held + qty
        if qty > 0:
            self.cost[symbol] = (self.cost.get(symbol, ZERO) * held + value) / new
        if new <= 0:
            self.qty.pop(symbol, None)
            self.cost.pop(symbol, None)
        else:
            self.qty[symbol] = new
        return Trade(day, symbol, "buy" if qty > 0 else "sell", abs(qty), price, value, fee)


def _dec(value: float) -> Decimal:
    return Decimal(repr(float(value)))


def run_backtest(
    strategies: Sequence[tuple[Strategy, float]],
    history: PriceHistory,
    config: BacktestConfig,
    cache: IndicatorCache | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> BacktestResult:
    """Run the pipeline over every session of `history` within [start, end]."""
    cache = cache or IndicatorCache(history)
    signals = [(strategy.evaluate_all(history, cache), share) for strategy, share in strategies]
    if config.decide == "previous-close":
        signals = [(decided_day_before(matrix), share) for matrix, share in signals]
    return simulate(signals, history, config, progress)


def simulate(
    signals: Sequence[tuple[AllocationMatrix, float]],
    history: PriceHistory,
    config: BacktestConfig,
    progress: Callable[[int, int], None] | None = None,
) -> BacktestResult:
    """Trade the blended daily targets of already evaluated strategies through the live planner."""
    symbols, targets, valid = blend_matrices(signals)
    dates = history.dates
    window = resolve(dates, valid, config.start, config.end)
    first, last = window.first, window.last
    if config.fill == "next-open" and history.opens is None:
        raise BacktestError("--fill next-open needs open prices, and this data has none")
    closes = np.column_stack([history.closes[s] for s in symbols])
    opens = np.column_stack([history.opens[s] for s in symbols]) if history.opens is not None else closes
    scheduled = config.schedule.calendar_days(dates)
    corridor = config.schedule.corridor
    book = _Book(config.capital, config.non_fractionable)
    # a simulation needs no broker's 9-decimal limit: adjusted histories of decaying products reach prices
    # where 9 decimals would round whole positions away
    assets = {
        s: Asset(
            s, True, s not in config.non_fractionable, qty_increment=None if s in config.non_fractionable else FINE_STEP
        )
        for s in symbols
    }
    slip = config.slippage_bps / BPS
    fee_rate = config.fee_bps / BPS
    n = last - first
    equity = np.zeros(n)
    cash = np.zeros(n)
    held_weights = np.zeros((n, len(symbols)))
    turnover = np.zeros(n)
    rebalanced = np.zeros(n, dtype=bool)
    costly = bool(slip or fee_rate)
    sleeves = Sleeves.empty(n, len(symbols), costly)
    trades: list[Trade] = []
    pending: int | None = None  # next-open: the index of the day whose decision executes at today's open
    invested = False  # the initial purchase happens on the first decided day, whatever the schedule
    column = {s: j for j, s in enumerate(symbols)}
    days = list(dates.date)

    def execute(decision_day: int, at: int, reference: FloatArray) -> bool:
        """Plan toward `decision_day`'s target with the live planner; fill at `reference` prices of day `at`.

        Returns whether the book was brought to that target (False: inside the corridor, left to drift).
        """
        row = targets[decision_day]
        target = {symbols[j]: float(row[j]) for j in np.flatnonzero(row > 1e-12)}
        if config.skip_settled_days and book.is_settled(target, config.rules):
            sleeves.planned[at - first] = decision_day
            return True
        prices = {s: _dec(reference[column[s]]) for s in set(target) | set(book.qty)}
        positions = book.positions(prices)
        worth = book.equity(prices)
        if corridor is not None and invested and not _drifted(positions, worth, target, corridor):
            return False
        sleeves.planned[at - first] = decision_day
        account = Account("backtest", worth, book.cash, book.cash)
        plan = plan_rebalance(target, account, positions, prices, assets, config.rules)
        if plan.is_empty:
            book.settled = (next(iter(target)), book.version) if len(target) == 1 else None
            return True
        day = days[at]
        traded = ZERO
        for item in plan.sells:
            sell = item.current_qty if item.action == "exit" else (item.qty or ZERO)
            done = book.trade(day, item.symbol, -sell, prices[item.symbol] * (1 - slip), fee_rate)
            trades.append(done)
            traded += done.value
            if costly:
                sleeves.record(at - first, column[item.symbol], -done.qty, done.price, prices[item.symbol], done.fee)
        sized, _ = size_buys(plan, book.cash / (1 + fee_rate))
        for item, dollars in sized:
            price = prices[item.symbol] * (1 + slip)
            qty = floor_qty(dollars / price, item.qty_step)
            if qty > 0:
                done = book.trade(day, item.symbol, qty, price, fee_rate)
                trades.append(done)
                traded += done.value
                if costly:
                    sleeves.record(at - first, column[item.symbol], done.qty, done.price, prices[item.symbol], done.fee)
        turnover[at - first] = float(traded / worth) if worth > 0 else 0.0
        rebalanced[at - first] = True
        return True

    for at in range(first, last):
        if pending is not None:
            invested = execute(pending, at, opens[at]) or invested
            pending = None
        if (scheduled[at] or not invested) and valid[at]:
            if config.fill == "close":
                invested = execute(at, at, closes[at]) or invested
            elif at + 1 < len(dates):
                pending = at
        # daily valuation in floats (exact to far below a cent); the book itself stays in Decimal
        values = {s: float(q) * closes[at][column[s]] for s, q in book.qty.items()}
        worth = float(book.cash) + sum(values.values())
        equity[at - first] = worth
        cash[at - first] = float(book.cash)
        if worth > 0:
            for s, v in values.items():
                held_weights[at - first, column[s]] = v / worth
        if progress is not None and (at - first) % 250 == 0:
            progress(at - first, n)
    if progress is not None:
        progress(n, n)
    span = slice(first, last)
    undecided = np.column_stack([~matrix.valid[span] for matrix, _ in signals])
    if len(signals) > 1:
        parts = [(_aligned(matrix, column), share) for matrix, share in signals]
        prices = (closes[span], opens[span] if config.fill == "next-open" else None)
        shares = contributions(parts, targets, sleeves, equity, cash, held_weights, prices)
    else:
        shares = np.array([equity[-1] / equity[0] - 1.0])
    return BacktestResult(
        dates[span],
        equity,
        cash,
        symbols,
        held_weights,
        targets[span],
        rebalanced,
        turnover,
        trades,
        undecided,
        shares,
        days[window.settled],
    )


def decided_day_before(matrix: AllocationMatrix) -> AllocationMatrix:
    """The targets as the live bot with `price = "previous_close"` trades them: day t's row is the decision
    made with data up to day t-1 (the first day has none, so it is undecided)."""
    weights = np.zeros_like(matrix.weights)
    weights[1:] = matrix.weights[:-1]
    valid = np.zeros_like(matrix.valid)
    valid[1:] = matrix.valid[:-1]
    return AllocationMatrix(matrix.dates, matrix.symbols, weights, valid)


def _aligned(matrix: AllocationMatrix, column: dict[str, int]) -> FloatArray:
    """A strategy's weights on the blend's columns (dates × all symbols)."""
    out = np.zeros((matrix.weights.shape[0], len(column)))
    for j, symbol in enumerate(matrix.symbols):
        out[:, column[symbol]] = matrix.weights[:, j]
    return out


def _drifted(positions: list[Position], equity: Decimal, target: dict[str, float], threshold: float) -> bool:
    """Threshold rebalancing: trade only when some weight is more than `threshold` away from target."""
    if equity <= 0:
        return True
    current = {p.symbol: float(p.market_value / equity) for p in positions}
    return any(abs(current.get(s, 0.0) - target.get(s, 0.0)) > threshold for s in set(current) | set(target))
