"""Backtests with the live pipeline: the same strategies, blend, `plan_rebalance` and `size_buys`.

Signals for every day come from one vectorized pass per strategy (each day sees data up to itself only).
Each rebalance day then runs the live planning code against a simulated book, and fills follow the
simulated exchange's rules: market orders at the reference price moved by the slippage (the half-spread),
sells first, buys sized from the cash the sells left. Fills happen at day t's close (Composer's
convention) or at day t+1's open.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

import numpy as np
import pandas as pd

from alchemiser.data.history import PriceHistory
from alchemiser.errors import AlchemiserError
from alchemiser.indicators import FloatArray
from alchemiser.models import Account, Asset, Position
from alchemiser.portfolio.plan import RebalanceRules, floor_qty, plan_rebalance, size_buys
from alchemiser.strategies.base import Strategy
from alchemiser.strategies.symphony.evaluator import AllocationMatrix, IndicatorCache

Fill = Literal["close", "next-open"]
BPS = Decimal(10000)
FINE_STEP = Decimal("1e-18")
ZERO = Decimal(0)


class BacktestError(AlchemiserError):
    """A backtest cannot run as asked (no decidable days in the range, bad options…)."""


@dataclass(frozen=True)
class Schedule:
    """When to rebalance: daily, weekly, monthly (first session of each period), or on drift."""

    kind: Literal["daily", "weekly", "monthly", "threshold"]
    threshold: float = 0.0

    @classmethod
    def parse(cls, text: str) -> Schedule:
        text = text.strip().lower()
        if text in ("daily", "weekly", "monthly"):
            return cls(text)  # type: ignore[arg-type]
        if text.startswith("threshold:"):
            try:
                value = float(text.split(":", 1)[1])
            except ValueError:
                raise BacktestError(f"bad rebalance threshold in {text!r}") from None
            if value > 1:
                value /= 100  # "threshold:5" means five percentage points
            if not 0 < value < 1:
                raise BacktestError(f"rebalance threshold must be between 0 and 1 (got {text!r})")
            return cls("threshold", value)
        raise BacktestError(f"rebalance must be daily, weekly, monthly or threshold:X (got {text!r})")

    @classmethod
    def from_symphony(cls, settings: dict[str, object]) -> Schedule | None:
        """The symphony's own setting: `:rebalance-frequency :daily` or `:rebalance-threshold 0.1`."""
        if "rebalance-threshold" in settings:
            value = settings["rebalance-threshold"]
            if isinstance(value, int | float) and value > 0:
                return cls("threshold", float(value) if value < 1 else float(value) / 100)
        frequency = settings.get("rebalance-frequency")
        if isinstance(frequency, str) and frequency in ("daily", "weekly", "monthly"):
            return cls(frequency)  # type: ignore[arg-type]
        return None

    def calendar_days(self, dates: pd.DatetimeIndex) -> np.ndarray:
        """Which dates are scheduled rebalance days (threshold: every day is checked)."""
        if self.kind in ("daily", "threshold"):
            return np.ones(len(dates), dtype=bool)
        period = dates.to_period("W" if self.kind == "weekly" else "M").asi8
        first = np.ones(len(dates), dtype=bool)
        first[1:] = period[1:] != period[:-1]
        return first

    def __str__(self) -> str:
        return f"threshold:{self.threshold:g}" if self.kind == "threshold" else self.kind


@dataclass(frozen=True)
class BacktestConfig:
    capital: Decimal = Decimal(100000)
    start: dt.date | None = None
    end: dt.date | None = None
    schedule: Schedule = field(default_factory=lambda: Schedule("daily"))
    fill: Fill = "close"
    slippage_bps: Decimal = ZERO
    fee_bps: Decimal = ZERO
    rules: RebalanceRules = field(
        default_factory=lambda: RebalanceRules(cash_buffer_pct=0.0, min_trade_usd=Decimal(1))
    )  # fully invested, like Composer; $1 is the smallest order a broker takes
    non_fractionable: frozenset[str] = frozenset()
    skip_settled_days: bool = True  # see `_Book.settled`: a pure speed-up, results are identical


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
    warnings: list[str] = field(default_factory=list)

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
    first = int(dates.searchsorted(pd.Timestamp(config.start))) if config.start else 0
    last = int(dates.searchsorted(pd.Timestamp(config.end), side="right")) if config.end else len(dates)
    decidable = np.flatnonzero(valid[first:last])
    if decidable.size == 0:
        raise BacktestError("no day in the range has a decision from every strategy (not enough history?)")
    first += int(decidable[0])
    if config.fill == "next-open" and history.opens is None:
        raise BacktestError("next-open fills need open prices")
    closes = np.column_stack([history.closes[s] for s in symbols])
    opens = np.column_stack([history.opens[s] for s in symbols]) if history.opens is not None else closes
    scheduled = config.schedule.calendar_days(dates)
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
    trades: list[Trade] = []
    warnings: list[str] = []
    pending: int | None = None  # next-open: the index of the day whose decision executes at today's open
    column = {s: j for j, s in enumerate(symbols)}
    days = list(dates.date)

    def execute(decision_day: int, at: int, reference: FloatArray) -> None:
        """Plan toward `decision_day`'s target with the live planner; fill at `reference` prices of day `at`."""
        row = targets[decision_day]
        target = {symbols[j]: float(row[j]) for j in np.flatnonzero(row > 1e-12)}
        if config.skip_settled_days and book.is_settled(target, config.rules):
            return
        prices = {s: _dec(reference[column[s]]) for s in set(target) | set(book.qty)}
        positions = book.positions(prices)
        worth = book.equity(prices)
        if config.schedule.kind == "threshold" and not _drifted(positions, worth, target, config.schedule.threshold):
            return
        account = Account("backtest", worth, book.cash, book.cash)
        plan = plan_rebalance(target, account, positions, prices, assets, config.rules)
        if plan.is_empty:
            book.settled = (next(iter(target)), book.version) if len(target) == 1 else None
            return
        day = days[at]
        traded = ZERO
        for item in plan.sells:
            sell = item.current_qty if item.action == "exit" else (item.qty or ZERO)
            done = book.trade(day, item.symbol, -sell, prices[item.symbol] * (1 - slip), fee_rate)
            trades.append(done)
            traded += done.value
        sized, _ = size_buys(plan, book.cash / (1 + fee_rate))
        for item, dollars in sized:
            price = prices[item.symbol] * (1 + slip)
            qty = floor_qty(dollars / price, item.qty_step)
            if qty > 0:
                done = book.trade(day, item.symbol, qty, price, fee_rate)
                trades.append(done)
                traded += done.value
        turnover[at - first] = float(traded / worth) if worth > 0 else 0.0
        rebalanced[at - first] = True

    for at in range(first, last):
        if pending is not None:
            execute(pending, at, opens[at])
            pending = None
        if scheduled[at] or config.schedule.kind == "threshold":
            if not valid[at]:
                warnings.append(f"{days[at]}: no decision (a strategy could not decide); holding")
            elif config.fill == "close":
                execute(at, at, closes[at])
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
    return BacktestResult(
        dates[first:last],
        equity,
        cash,
        symbols,
        held_weights,
        targets[first:last],
        rebalanced,
        turnover,
        trades,
        warnings,
    )


def _drifted(positions: list[Position], equity: Decimal, target: dict[str, float], threshold: float) -> bool:
    """Threshold rebalancing: trade only when some weight is more than `threshold` away from target."""
    if equity <= 0:
        return True
    current = {p.symbol: float(p.market_value / equity) for p in positions}
    return any(abs(current.get(s, 0.0) - target.get(s, 0.0)) > threshold for s in set(current) | set(target))
