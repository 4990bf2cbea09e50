"""The `backtest` command's work: load strategies and data, simulate the blend and each strategy alone,
compute metrics against a benchmark. The CLI renders what this returns."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np

from alchemiser import market_calendar
from alchemiser.backtest.engine import BacktestConfig, BacktestError, BacktestResult, Fill, Schedule, simulate
from alchemiser.backtest.metrics import Metrics, compute_metrics, relative
from alchemiser.config import Settings
from alchemiser.data.history import load_history
from alchemiser.indicators import FloatArray
from alchemiser.signals import build_market, strategy_configs
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

    def as_dict(self) -> dict[str, Any]:
        r = self.result
        return {
            "start": r.dates[0].date().isoformat(),
            "end": r.dates[-1].date().isoformat(),
            "days": len(r.dates),
            "capital": str(self.config.capital),
            "final_equity": round(float(r.equity[-1]), 2),
            "rebalance": str(self.config.schedule),
            "fill": self.config.fill,
            "slippage_bps": str(self.config.slippage_bps),
            "fee_bps": str(self.config.fee_bps),
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
            "warnings": r.warnings,
            "synthetic_sample_data": bool(self.sample_symbols),
            "sample_symbols": self.sample_symbols,
        }


def _metrics(result: BacktestResult) -> Metrics:
    invested = 1.0 - result.cash / np.where(result.equity > 0, result.equity, 1.0)
    return compute_metrics(result.equity, result.dates, invested=invested, turnover=result.turnover)


def contribution(blend: BacktestResult, alone: BacktestResult, share: float) -> float:
    """≈ this strategy's part of the blend's total return: Σ share × its own daily return × blend equity / start."""
    dates = blend.dates
    own = alone.equity[alone.dates.get_indexer(dates)]
    daily = own[1:] / own[:-1] - 1.0
    return float(np.sum(share * daily * blend.equity[:-1]) / blend.equity[0])


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
    slippage_bps: Decimal = Decimal(0),
    fee_bps: Decimal = Decimal(0),
    benchmark: str | None = "SPY",
    progress: Callable[[int, int], None] | None = None,
) -> BacktestOutcome:
    configs = strategy_configs(settings, refs)
    if weights:
        if len(weights) != len(configs):
            raise BacktestError(f"{len(weights)} weights for {len(configs)} strategies")
        total = sum(weights)
        if total <= 0 or any(w < 0 for w in weights):
            raise BacktestError("weights must be non-negative with a positive sum")
        for cfg, w in zip(configs, weights, strict=True):
            cfg.weight = w / total
    strategies = [(load_strategy(c.source, c.name), c.weight) for c in configs]
    schedule = Schedule.parse(rebalance) if rebalance else _default_schedule(strategies)
    last = market_calendar.last_completed_session()
    end = min(end or last, last)
    market = build_market(settings)
    symbols = set().union(*(s.universe() for s, _ in strategies)) | ({benchmark.upper()} if benchmark else set())
    history = load_history(market, symbols, end)
    config = BacktestConfig(
        capital=capital,
        start=start,
        end=end,
        schedule=schedule,
        fill=fill,
        slippage_bps=slippage_bps,
        fee_bps=fee_bps,
        rules=settings.rebalance.model_copy(update={"cash_buffer_pct": 0.0, "min_trade_usd": Decimal(1)}),
        non_fractionable=frozenset(settings.sim.non_fractionable),
    )
    cache = IndicatorCache(history)
    signals = [(strategy.evaluate_all(history, cache), share) for strategy, share in strategies]
    result = simulate(signals, history, config, progress)
    outcomes: list[StrategyOutcome] = []
    if len(strategies) > 1:
        for (strategy, share), (matrix, _) in zip(strategies, signals, strict=True):
            alone = simulate([(matrix, 1.0)], history, config)
            outcomes.append(
                StrategyOutcome(strategy.name, share, alone, _metrics(alone), contribution(result, alone, share))
            )
    else:
        strategy, share = strategies[0]
        outcomes.append(
            StrategyOutcome(
                strategy.name, share, result, _metrics(result), float(result.equity[-1] / result.equity[0] - 1)
            )
        )
    bench_equity = bench_metrics = None
    versus: dict[str, float | None] = {}
    if benchmark:
        closes = history.closes[benchmark.upper()][history.dates.get_indexer(result.dates)]
        bench_equity = float(capital) * closes / closes[0]
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
    )


def _default_schedule(strategies: list[tuple[Any, float]]) -> Schedule:
    """The symphonies' own setting when they all agree (a single strategy always does); daily otherwise."""
    found = {str(Schedule.from_symphony(getattr(s, "settings", {})) or Schedule("daily")) for s, _ in strategies}
    return Schedule.parse(found.pop()) if len(found) == 1 else Schedule("daily")
