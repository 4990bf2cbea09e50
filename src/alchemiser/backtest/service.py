"""The `backtest` command's work: load strategies and data, simulate the blend and each strategy alone,
compute metrics against a benchmark. The CLI renders what this returns."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, cast

import numpy as np

from alchemiser import market_calendar
from alchemiser.backtest import undecided
from alchemiser.backtest.engine import BacktestConfig, BacktestResult, decided_day_before, simulate
from alchemiser.backtest.errors import BacktestError
from alchemiser.backtest.metrics import Metrics, compute_metrics, relative
from alchemiser.backtest.options import Decide, Fill, check_weights, live_mode
from alchemiser.backtest.schedule import Schedule
from alchemiser.backtest.window import NoDecisionError
from alchemiser.config import Settings
from alchemiser.data.history import PriceHistory, load_history
from alchemiser.errors import DataError
from alchemiser.indicators import FloatArray
from alchemiser.signals import build_market, strategy_configs
from alchemiser.strategies.base import Strategy
from alchemiser.strategies.registry import load_strategy
from alchemiser.strategies.symphony.evaluator import IndicatorCache


@dataclass
class StrategyOutcome:
    name: str
    share: float
    result: BacktestResult
    metrics: Metrics
    contribution: float


@dataclass
class BacktestOutcome:
    config: BacktestConfig
    result: BacktestResult
    metrics: Metrics
    strategies: list[StrategyOutcome]
    benchmark: str | None
    benchmark_equity: FloatArray | None
    benchmark_metrics: Metrics | None
    versus: dict[str, float | None] = field(default_factory=dict)
    sample_symbols: list[str] = field(default_factory=list)
    start_note: str | None = None  # why the backtest starts later than asked (the limiting strategy)
    undecided: list[dict[str, Any]] = field(default_factory=list)  # per strategy, when a start was forced

    @property
    def warnings(self) -> list[str]:
        days = len(self.result.dates)
        return [undecided.warning(entry, days) for entry in self.undecided]

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape: numbers as numbers (money rounded to cents), dates ISO, never NaN or Infinity."""
        r = self.result
        payload: dict[str, Any] = finite(
            {
                "start": r.dates[0].date().isoformat(),
                "end": r.dates[-1].date().isoformat(),
                "days": len(r.dates),
                "start_note": self.start_note,
                "first_decidable_day": r.settled.isoformat(),
                "capital": round(float(self.config.capital), 2),
                "final_equity": round(float(r.equity[-1]), 2),
                "rebalance": str(self.config.schedule),
                "fill": self.config.fill,
                "decide": self.config.decide,
                "live_price_mode": "previous_close" if self.config.decide == "previous-close" else (
                    "live" if self.config.fill == "close" else None
                ),
                "corresponds_to": live_mode(self.config.decide, self.config.fill),
                "slippage_bps": float(self.config.slippage_bps),
                "fee_bps": float(self.config.fee_bps),
                "metrics": self.metrics.as_dict(),
                "benchmark": (
                    {"symbol": self.benchmark, "metrics": self.benchmark_metrics.as_dict(), **self.versus}
                    if self.benchmark and self.benchmark_metrics
                    else None
                ),
                "strategies": [
                    {"name": s.name, "share": s.share, "contribution": s.contribution, "metrics": s.metrics.as_dict()}
                    for s in self.strategies
                ],
                "trades": len(r.trades),
                "rebalances": int(r.rebalanced.sum()),
                "undecided": self.undecided,
                "warnings": self.warnings,
                "synthetic_sample_data": bool(self.sample_symbols),
                "sample_symbols": self.sample_symbols,
            }
        )
        return payload


def finite(value: Any) -> Any:
    """`value` with every NaN or infinite float replaced by None, so `--json` is strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def _metrics(result: BacktestResult) -> Metrics:
    invested = 1.0 - result.cash / np.where(result.equity > 0, result.equity, 1.0)
    return compute_metrics(result.equity, result.dates, invested=invested, turnover=result.turnover)


def run(
    settings: Settings,
    refs: list[str] | None = None,
    weights: list[float] | None = None,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    capital: Decimal = Decimal(100000),
    rebalance: str | None = None,
    fill: Fill = "close",
    decide: Decide = "close",
    slippage_bps: Decimal = Decimal(0),
    fee_bps: Decimal = Decimal(0),
    benchmark: str | None = "SPY",
    progress: Callable[[int, int], None] | None = None,
) -> BacktestOutcome:
    """Simulate the blend, each strategy alone over the same days, and the benchmark; explain the start."""
    configs = strategy_configs(settings, refs)  # refuses blank and repeated names
    if weights:
        check_weights(weights, len(configs))
        total = sum(weights)
        for cfg, w in zip(configs, weights, strict=True):
            cfg.weight = w / total
    strategies = [(load_strategy(c.source, c.name), c.weight) for c in configs]
    schedule = Schedule.parse(rebalance) if rebalance is not None else _default_schedule(strategies)
    last = market_calendar.last_completed_session()
    if start and start > last:
        raise BacktestError(f"--start {start} is after the last completed trading session ({last})")
    if start and end:
        _check_sessions_between(start, end)
    asked_end = end
    end = min(end or last, last)
    config = BacktestConfig(
        capital=capital,
        start=start,
        end=end,
        schedule=schedule,
        fill=fill,
        decide=decide,
        slippage_bps=slippage_bps,
        fee_bps=fee_bps,
        rules=settings.rebalance.model_copy(update={"cash_buffer_pct": 0.0, "min_trade_usd": Decimal(1)}),
        non_fractionable=frozenset(settings.sim.non_fractionable),
    )
    market = build_market(settings)
    symbols = set().union(*(s.universe() for s, _ in strategies)) | ({benchmark.upper()} if benchmark else set())
    try:
        history = load_history(market, symbols, end)
    except DataError as exc:
        raise BacktestError(f"--end {asked_end}: {exc}" if asked_end else str(exc)) from None
    cache = IndicatorCache(history)
    signals = [(strategy.evaluate_all(history, cache), share) for strategy, share in strategies]
    if decide == "previous-close":  # day t trades the decision made with data up to t-1
        signals = [(decided_day_before(matrix), share) for matrix, share in signals]
        strategies = [(cast(Strategy, _DecidesDayBefore(s)), share) for s, share in strategies]
    entries = [(s.name, s, matrix) for (s, _), (matrix, _) in zip(strategies, signals, strict=True)]
    try:
        result = simulate(signals, history, config, progress)
    except NoDecisionError as exc:
        raise BacktestError(f"{exc}: {_why_not(entries, history, exc.last)}") from None
    outcomes: list[StrategyOutcome] = []
    same_days = replace(config, start=result.dates[0].date())  # each strategy alone over the blend's days
    for k, ((strategy, share), (matrix, _)) in enumerate(zip(strategies, signals, strict=True)):
        alone = simulate([(matrix, 1.0)], history, same_days) if len(strategies) > 1 else result
        outcomes.append(StrategyOutcome(strategy.name, share, alone, _metrics(alone), float(result.contributions[k])))
    bench_equity = bench_metrics = None
    versus: dict[str, float | None] = {}
    if benchmark:
        bench_equity = _benchmark_equity(history, benchmark.upper(), result, float(capital))
        bench_metrics = compute_metrics(bench_equity, result.dates)
        versus = relative(result.equity, bench_equity)
    sample = sorted(s for s, src in history.sources.items() if src == "sample")
    return BacktestOutcome(
        config,
        result,
        _metrics(result),
        outcomes,
        benchmark.upper() if benchmark else None,
        bench_equity,
        bench_metrics,
        versus,
        sample,
        undecided.start_note(entries, result, history, start),
        undecided.summary(entries, result, history),
    )


class _DecidesDayBefore:
    """A strategy seen through `--decide previous-close`: its decision "on" day t is the one it makes with data
    up to day t-1, so undecided-day reasons name the day that really decided."""

    def __init__(self, inner: Strategy) -> None:
        self.inner = inner
        self.name = inner.name

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.inner, attr)

    def decide(self, history: PriceHistory, cache: Any = None) -> Any:
        if len(history.dates) < 2:
            raise DataError(f"no session before {history.end} to decide with")
        return self.inner.decide(history.until(history.dates[-2].date()))


def _check_sessions_between(start: dt.date, end: dt.date) -> None:
    """A range holding only a weekend or holidays is a precise error, not "the data ends earlier"."""
    if start > end:
        raise BacktestError(f"--start {start} is after --end {end}")
    try:
        empty = not len(market_calendar.sessions(start, end))
    except DataError:  # outside the calendar's years: the data itself will say what it holds
        return
    if empty:
        raise BacktestError(f"no trading session between --start {start} and --end {end}")


def _why_not(entries: list[undecided.Entry], history: PriceHistory, day: int) -> str:
    """Which strategy cannot decide on day index `day`, and why."""
    date = history.dates[day].date()
    for name, strategy, matrix in entries:
        if not matrix.valid[day]:
            return f"on {date}, {name} could not ({undecided.reason(strategy, history, date)})"
    return f"on {date} the strategies could not decide"  # pragma: no cover - some strategy failed that day


def _benchmark_equity(history: PriceHistory, symbol: str, result: BacktestResult, capital: float) -> FloatArray:
    closes = history.closes[symbol][history.dates.get_indexer(result.dates)]
    if not np.isfinite(closes[0]):
        begins = history.dates[int(np.argmax(np.isfinite(history.closes[symbol])))].date()
        raise BacktestError(
            f"--benchmark {symbol} has no price on {result.dates[0].date()} (its history begins {begins}); "
            "choose another benchmark or a later --start"
        )
    return np.asarray(capital * closes / closes[0], dtype=np.float64)


def _default_schedule(strategies: list[tuple[Any, float]]) -> Schedule:
    """The symphonies' own setting when they all agree (a single strategy always does); daily otherwise."""
    found = {str(Schedule.from_symphony(getattr(s, "settings", {})) or Schedule("daily")) for s, _ in strategies}
    return Schedule.parse(found.pop()) if len(found) == 1 else Schedule("daily")
