"""One sweep backtest as a picklable task, and the top-level function any engine runs it with.

A task carries everything that makes its result: the strategies' source text with the parameters already
substituted (so workers on other machines need no files), their shares, the backtest settings and the
window. The market history travels separately, once per worker (`SharedData`). `run_task` is
deterministic: the same task on the same history gives the same row on any worker, in any order — only
`runtime_s` differs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from alchemiser.backtest.engine import BacktestConfig, BacktestResult, decided_day_before, simulate
from alchemiser.backtest.metrics import compute_metrics, relative
from alchemiser.data.history import PriceHistory
from alchemiser.errors import AlchemiserError
from alchemiser.strategies.symphony.evaluator import AllocationMatrix, IndicatorCache
from alchemiser.strategies.symphony.program import Program
from alchemiser.strategies.symphony_strategy import SymphonyStrategy

METRICS = (
    "total_return", "cagr", "volatility", "sharpe", "sortino", "max_drawdown", "calmar", "best_day", "worst_day",
    "exposure", "turnover", "days",
)  # fmt: skip
RELATIVE = ("beta", "correlation", "alpha")
MEMO_SIZE = 20_000  # metric rows kept per process (a few hundred bytes each)


@dataclass(frozen=True)
class StrategyRef:
    """One strategy of a task: its name, its (substituted) source and its share of the blend."""

    name: str
    text: str  # the source as written; `values` are substituted by the worker
    filename: str  # where the text came from: names errors, and `.json` means a Composer score
    share: float
    values: tuple[tuple[str, int | float], ...] = ()  # parameter name → value, for `params`


@dataclass(frozen=True)
class BacktestTask:
    """One row of a sweep. `params` are the varied values by column name (`p.<name>`), in spec order."""

    id: str
    index: int  # position in the spec's expansion order
    params: tuple[tuple[str, Any], ...]
    strategies: tuple[StrategyRef, ...]
    config: BacktestConfig  # its start/end are replaced by `window`
    window: tuple[dt.date | None, dt.date | None]
    benchmark: str | None = "SPY"


@dataclass(frozen=True)
class SharedData:
    """What every task of a sweep reads and no task changes: the history of the union of all tickers."""

    history: PriceHistory


class _WorkerState:
    """Per-process state kept across tasks: one indicator cache per history, compiled sources by hash."""

    history: PriceHistory | None = None
    cache: IndicatorCache | None = None
    programs: dict[str, SymphonyStrategy] = {}  # noqa: RUF012 - deliberately per process
    outcomes: dict[str, dict[str, Any]] = {}  # noqa: RUF012 - metrics by `_outcome_key`


def indicator_cache(history: PriceHistory) -> IndicatorCache:
    """This process's indicator cache for `history`: variants sharing a (ticker, indicator, window) share it."""
    if _WorkerState.history is not history or _WorkerState.cache is None:
        _WorkerState.history = history
        _WorkerState.cache = IndicatorCache(history)
        _WorkerState.outcomes = {}  # keyed without the history: valid for one history only
    return _WorkerState.cache


def _strategy(ref: StrategyRef) -> SymphonyStrategy:
    if ref.values:
        return SymphonyStrategy(_variant(ref), ref.name)
    key = hashlib.sha256(f"{ref.filename}\0{ref.name}\0{ref.text}".encode()).hexdigest()
    strategy = _WorkerState.programs.get(key)
    if strategy is None:
        if ref.filename.lower().endswith(".json"):
            from alchemiser.strategies.symphony.compiler import compile_forms
            from alchemiser.strategies.symphony.score import read_score

            strategy = SymphonyStrategy(compile_forms(read_score(ref.text, ref.filename), ref.filename), ref.name)
        else:
            strategy = SymphonyStrategy.from_text(ref.text, ref.filename, ref.name)
        if len(_WorkerState.programs) > 64:  # unvaried strategies repeat; variants do not, so keep it small
            _WorkerState.programs.clear()
        _WorkerState.programs[key] = strategy
    return strategy


def _variant(ref: StrategyRef) -> Program:
    """The source compiled with the task's values through `params`' incremental compiler, which keeps the
    parsed text per process, so each variant recompiles only the branches whose numbers changed. It works
    from the task's text, not a path: workers on other machines need no copy of the file."""
    from alchemiser.strategies.symphony.params import variant_of_text

    return variant_of_text(ref.text, ref.filename, dict(ref.values))


def run_task(shared: SharedData, task: BacktestTask) -> dict[str, Any]:
    """The task's result row: id, parameters, the `backtest` command's metrics, trades, runtime.

    A variant that cannot be backtested (no decidable day in its window, a benchmark without prices) is
    a row with `error` set, not a failed sweep.
    """
    began = time.perf_counter()
    row: dict[str, Any] = {"id": task.id, "index": task.index}
    row.update({f"p.{name}": value for name, value in task.params})
    try:
        row.update(_measure(shared.history, task))
        row["error"] = None
    except AlchemiserError as exc:
        row.update(empty_metrics(task))
        row["error"] = str(exc)
    row["runtime_s"] = time.perf_counter() - began
    return row


def empty_metrics(task: BacktestTask) -> dict[str, Any]:
    """The metric columns of a row that has none, so every row has the same columns."""
    out: dict[str, Any] = dict.fromkeys(("start", "end", "final_equity", *METRICS, "drawdown_peak"), None)
    out.update(dict.fromkeys(("drawdown_trough", "drawdown_recovery", "trades", "rebalances", *RELATIVE), None))
    out.update({f"contribution.{s.name}": None for s in task.strategies})
    return out


def _measure(history: PriceHistory, task: BacktestTask) -> dict[str, Any]:
    cache = indicator_cache(history)
    config = replace(task.config, start=task.window[0], end=task.window[1])
    signals: list[tuple[AllocationMatrix, float]] = []
    for ref in task.strategies:
        matrix = _strategy(ref).evaluate_all(history, cache)
        if config.decide == "previous-close":
            matrix = decided_day_before(matrix)
        signals.append((matrix, ref.share))
    key = _outcome_key(signals, config, task)
    known = _WorkerState.outcomes.get(key)
    if known is not None:
        return dict(known)
    result = simulate(signals, history, config)
    out = _metrics(result)
    if task.benchmark:
        out.update(_relative(history, task.benchmark, result, float(config.capital)))
    else:
        out.update(dict.fromkeys(RELATIVE))
    for ref, share in zip(task.strategies, result.contributions, strict=True):
        out[f"contribution.{ref.name}"] = _finite(float(share))
    if len(_WorkerState.outcomes) >= MEMO_SIZE:
        _WorkerState.outcomes.clear()
    _WorkerState.outcomes[key] = dict(out)
    return out


def _outcome_key(signals: list[tuple[AllocationMatrix, float]], config: BacktestConfig, task: BacktestTask) -> str:
    """What a simulation is a pure function of (besides the history): the daily targets, shares and settings.

    Many threshold variants never change a single day's decision; they share one simulation.
    """
    digest = hashlib.sha256(repr((config, task.benchmark, [r.name for r in task.strategies])).encode())
    for matrix, share in signals:
        digest.update(repr((matrix.symbols, share)).encode())
        digest.update(matrix.weights.tobytes())
        digest.update(matrix.valid.tobytes())
    return digest.hexdigest()


def _metrics(result: BacktestResult) -> dict[str, Any]:
    """The blend's metrics exactly as `backtest` computes them (invested share, turnover, drawdown dates)."""
    invested = 1.0 - result.cash / np.where(result.equity > 0, result.equity, 1.0)
    metrics = compute_metrics(result.equity, result.dates, invested=invested, turnover=result.turnover)
    data = metrics.as_dict()
    drawdown = data.pop("drawdown")
    out: dict[str, Any] = {
        "start": result.dates[0].date().isoformat(),
        "end": result.dates[-1].date().isoformat(),
        "final_equity": _finite(float(result.equity[-1])),
    }
    out.update({key: _finite(data[key]) if key != "days" else int(data[key]) for key in METRICS})
    out["drawdown_peak"] = drawdown["peak"]
    out["drawdown_trough"] = drawdown["trough"]
    out["drawdown_recovery"] = drawdown["recovery"]
    out["trades"] = len(result.trades)
    out["rebalances"] = int(result.rebalanced.sum())
    return out


def _relative(history: PriceHistory, symbol: str, result: BacktestResult, capital: float) -> dict[str, Any]:
    if symbol not in history.closes:
        raise AlchemiserError(f"benchmark {symbol} has no market data")
    closes = history.closes[symbol][history.dates.get_indexer(result.dates)]
    if not np.isfinite(closes[0]):
        raise AlchemiserError(f"benchmark {symbol} has no price on {result.dates[0].date()}")
    bench = np.asarray(capital * closes / closes[0], dtype=np.float64)
    return {k: _finite(v) for k, v in relative(result.equity, bench).items()}


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None
