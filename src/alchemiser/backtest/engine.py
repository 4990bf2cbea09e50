"""Backtests with the live pipeline: the same strategies, blend, `plan_rebalance` and `size_buys`.

Signals for every day come from one vectorized pass per strategy (each day sees data up to itself only).
Each rebalance day then applies the live planning rules to a simulated book, and fills follow the
simulated exchange's rules: market orders at the reference price moved by the slippage (the half-spread),
sells first, buys sized from the cash the sells left. Fills happen at day t's close (Composer's
convention) or at day t+1's open.

The schedule (`schedule.py`) decides which sessions may trade; the window (`window.py`) which sessions are
covered. On a session on which a strategy cannot decide the book makes no trade, and the result says so
(`undecided`, per strategy) instead of holding silently. While trading, the engine records what the
sleeve attribution needs (`attribution.py`), so each strategy's contribution is exact.

Two loops implement the trading: `reference.py` calls the live `plan_rebalance`/`size_buys` on a Decimal
book (the definition), `fast.py` states the same rules over float arrays in one numba-compiled loop (the
default); a test holds them equal. This module prepares their inputs and builds the result.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

import numpy as np
import pandas as pd

from alchemiser.backtest.attribution import contributions
from alchemiser.backtest.errors import BacktestError
from alchemiser.backtest.fast import run_fast
from alchemiser.backtest.options import MAX_COST_BPS, Decide, Fill
from alchemiser.backtest.reference import run_reference
from alchemiser.backtest.schedule import Schedule
from alchemiser.backtest.simulation import Inputs, Trade
from alchemiser.backtest.window import Window, resolve
from alchemiser.data.history import PriceHistory
from alchemiser.indicators import FloatArray
from alchemiser.portfolio.plan import RebalanceRules
from alchemiser.strategies.base import Strategy
from alchemiser.strategies.symphony.evaluator import AllocationMatrix, IndicatorCache

BPS = Decimal(10000)
ZERO = Decimal(0)
Engine = Literal["fast", "reference"]

__all__ = ["BacktestConfig", "BacktestResult", "Engine", "Trade", "run_backtest", "simulate"]


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
    skip_settled_days: bool = True  # see `reference._Book.is_settled`: a pure speed-up, results are identical

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
    trades: Sequence[Trade]  # a lazy `TradeLog` from the fast path: rows become `Trade`s when read
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
        # one fancy-indexed pass per strategy (a strategy lists each of its symbols once)
        total[:, [column[symbol] for symbol in matrix.symbols]] += share * matrix.weights
    return symbols, total, valid


def run_backtest(
    strategies: Sequence[tuple[Strategy, float]],
    history: PriceHistory,
    config: BacktestConfig,
    cache: IndicatorCache | None = None,
    progress: Callable[[int, int], None] | None = None,
    *,
    engine: Engine = "fast",
) -> BacktestResult:
    """Run the pipeline over every session of `history` within [start, end] (`engine`: see `simulate`)."""
    cache = cache or IndicatorCache(history)
    signals = [(strategy.evaluate_all(history, cache), share) for strategy, share in strategies]
    if config.decide == "previous-close":
        signals = [(decided_day_before(matrix), share) for matrix, share in signals]
    return simulate(signals, history, config, progress, engine=engine)


def simulate(
    signals: Sequence[tuple[AllocationMatrix, float]],
    history: PriceHistory,
    config: BacktestConfig,
    progress: Callable[[int, int], None] | None = None,
    *,
    engine: Engine = "fast",
) -> BacktestResult:
    """Trade the blended daily targets of already evaluated strategies through the live planner's rules.

    `engine="reference"` runs the Decimal loop around the live `plan_rebalance` (`reference.py`), the
    definition of the rules; the default runs the same rules compiled (`fast.py`), with the same results.
    """
    if engine not in ("fast", "reference"):
        raise BacktestError(f"engine must be fast or reference (got {engine!r})")
    run, window = prepare(signals, history, config)
    symbols, targets, closes, opens = run.symbols, run.targets, run.closes, run.opens
    first, last, days, dates = run.first, run.last, run.days, history.dates
    n = last - first
    if engine == "reference":
        out = run_reference(run, progress)
    else:
        if progress is not None:
            progress(0, n)
        out = run_fast(run)
    if progress is not None:
        progress(n, n)
    span = slice(first, last)
    undecided = np.column_stack([~matrix.valid[span] for matrix, _ in signals])
    if len(signals) > 1:
        column = {s: j for j, s in enumerate(symbols)}
        parts = [(_aligned(matrix, column), share) for matrix, share in signals]
        prices = (closes[span], opens[span] if config.fill == "next-open" else None)
        shares = contributions(parts, targets, out.sleeves, out.equity, out.cash, out.weights, prices)
    else:
        shares = np.array([out.equity[-1] / out.equity[0] - 1.0])
    return BacktestResult(
        dates[span],
        out.equity,
        out.cash,
        symbols,
        out.weights,
        targets[span],
        out.rebalanced,
        out.turnover,
        out.trades,
        undecided,
        shares,
        days[window.settled],
    )


def prepare(
    signals: Sequence[tuple[AllocationMatrix, float]], history: PriceHistory, config: BacktestConfig
) -> tuple[Inputs, Window]:
    """What either loop needs: the blended targets, prices as arrays, the schedule and the window."""
    symbols, targets, valid = blend_matrices(signals)
    dates = history.dates
    window = resolve(dates, valid, config.start, config.end)
    if config.fill == "next-open" and history.opens is None:
        raise BacktestError("--fill next-open needs open prices, and this data has none")
    closes = _columns(history.closes, symbols, len(dates))
    next_open = config.fill == "next-open"
    opens = _columns(history.opens, symbols, len(dates)) if next_open and history.opens is not None else closes
    run = Inputs(
        symbols,
        list(dates.date),
        targets,
        valid,
        closes,
        opens,
        config.schedule.calendar_days(dates),
        config.schedule.corridor,
        window.first,
        window.last,
        config.capital,
        next_open,
        config.slippage_bps / BPS,
        config.fee_bps / BPS,
        config.rules,
        config.non_fractionable,
        config.skip_settled_days,
    )
    return run, window


def _columns(series: Mapping[str, FloatArray], symbols: list[str], sessions: int) -> FloatArray:
    """The prices of `symbols` as one contiguous (sessions × symbols) array, the compiled loop's layout."""
    if not symbols:
        return np.zeros((sessions, 0))
    return np.ascontiguousarray(np.column_stack([series[s] for s in symbols]), dtype=np.float64)


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
    out[:, [column[symbol] for symbol in matrix.symbols]] = matrix.weights
    return out
