"""Running a walk-forward test through a sweep engine: fold tasks, the IS choice, OOS curves, stitching.

Every (fold, configuration) in-sample backtest and every fold's out-of-sample backtest is an ordinary sweep
task (`run_task`) with its window set to the fold's, so it runs on whatever engine the sweep uses and lands
in the same journal. Fold tasks get their own ids (derived from the configuration's id, the fold and the
phase) and rows that carry `fold` and `phase` columns. The OOS tasks also return their equity curve (a
fold's worth of floats), which is stitched into the headline curve (`walkforward.stitch`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Annotated, Any

import numpy as np
import pandas as pd
from typing_extensions import TypedDict  # the TypedDict pydantic accepts on 3.11

from alchemiser.backtest.engine import decided_day_before, simulate
from alchemiser.backtest.metrics import compute_metrics, daily_returns
from alchemiser.errors import AlchemiserError
from alchemiser.sweep.deflated import Deflated, deflate_rows
from alchemiser.sweep.engines.base import Engine
from alchemiser.sweep.task import BacktestTask, SharedData, indicator_cache, run_task
from alchemiser.sweep.walkforward import (
    IS,
    OOS,
    Fold,
    WalkForwardError,
    WalkForwardSpec,
    best_in_sample,
    fold_table,
    plan_folds,
    stitch,
)

FULL = "full"  # the phase of a sweep's ordinary rows (the whole period), fold -1
CURVE = "_curve"  # the key under which an OOS row carries its curve until it is stitched


def derive_id(base: str, fold: Fold, phase: str) -> str:
    """The id of a configuration's fold task: deterministic, and distinct per (fold, phase, window), so
    changing the walk-forward sizes never reuses a row computed over other dates."""
    start, end = fold.window(phase)
    digest = hashlib.sha256(f"{base}\0{fold.index}\0{phase}\0{start}\0{end}".encode()).hexdigest()
    return digest[: max(len(base), 16)]


def fold_task(task: BacktestTask, fold: Fold, phase: str) -> BacktestTask:
    return replace(task, id=derive_id(task.id, fold, phase), window=fold.window(phase))


def run_fold_task(shared: SharedData, item: tuple[int, str, BacktestTask]) -> dict[str, Any]:
    """`run_task` plus the row's `fold` and `phase`; OOS rows also carry their equity curve under CURVE."""
    fold, phase, task = item
    row = run_task(shared, task)
    row["fold"], row["phase"] = fold, phase
    if phase == OOS and row.get("error") is None:
        dates, equity = equity_curve(shared, task)
        row[CURVE] = ([d.isoformat() for d in dates.date], equity.tolist())
    return row


def equity_curve(shared: SharedData, task: BacktestTask) -> tuple[pd.DatetimeIndex, np.ndarray[Any, Any]]:
    """The blend's daily equity of `task` over its window (the same simulation `run_task` measures)."""
    from alchemiser.sweep.task import _strategy  # the worker's compiled-program cache, shared with run_task

    history = shared.history
    cache = indicator_cache(history)
    config = replace(task.config, start=task.window[0], end=task.window[1])
    signals = []
    for ref in task.strategies:
        matrix = _strategy(ref).evaluate_all(history, cache)
        signals.append((decided_day_before(matrix) if config.decide == "previous-close" else matrix, ref.share))
    result = simulate(signals, history, config)
    return result.dates, np.asarray(result.equity, dtype=np.float64)


def period_sessions(shared: SharedData, task: BacktestTask) -> pd.DatetimeIndex:
    """The sessions walk-forward divides: the sweep's window, starting no earlier than the first session on
    which `task` (the first configuration) decides every day after (the backtest's own default start)."""
    start, end = task.window
    dates, _ = equity_curve(shared, replace(task, window=(start, end)))
    return dates


class WalkForwardJson(TypedDict):
    """The stitched out-of-sample result of the walk-forward."""

    describe: Annotated[str, "the folds in words"]
    folds: int
    rank_by: Annotated[str, "the metric each fold's in-sample choice maximised"]
    oos_metric: Annotated[float | None, "that metric over the stitched out-of-sample curve"]
    oos_total_return: Annotated[float | None, "fraction (0.1 = +10 %)"]
    oos_sharpe: float | None
    oos_max_drawdown: Annotated[float | None, "fraction, negative"]
    oos_start: Annotated[str, "YYYY-MM-DD"]
    oos_end: Annotated[str, "YYYY-MM-DD"]


@dataclass
class WalkForwardOutcome:
    rows: pd.DataFrame  # IS and OOS rows (fold, phase), without curves
    folds: list[Fold]
    table: pd.DataFrame  # per fold: windows, chosen params, IS metric, OOS metric, DSR of the IS choice
    curve: pd.Series  # stitched OOS equity
    metrics: dict[str, Any]  # of the stitched curve, as `backtest` reports them
    rank_by: str
    spec: WalkForwardSpec

    def summary(self) -> WalkForwardJson:
        metric = self.metrics.get(self.rank_by)
        return {
            "describe": self.spec.describe(),
            "folds": len(self.folds),
            "rank_by": self.rank_by,
            "oos_metric": metric,
            "oos_total_return": self.metrics.get("total_return"),
            "oos_sharpe": self.metrics.get("sharpe"),
            "oos_max_drawdown": self.metrics.get("max_drawdown"),
            "oos_start": self.folds[0].oos_first.isoformat(),
            "oos_end": self.folds[-1].oos_last.isoformat(),
        }


def _collect(
    engine: Engine,
    shared: SharedData,
    items: list[tuple[int, str, BacktestTask]],
    done: Mapping[str, dict[str, Any]],
    on_row: Callable[[dict[str, Any]], None] | None,
) -> list[dict[str, Any]]:
    rows = [dict(done[t.id]) for _, _, t in items if t.id in done]
    missing = [item for item in items if item[2].id not in done]
    for row in engine.map_unordered(run_fold_task, shared, missing) if missing else ():
        if on_row is not None:
            on_row(row)
        rows.append(row)
    return rows


def run(
    engine: Engine,
    shared: SharedData,
    tasks: Sequence[BacktestTask],
    spec: WalkForwardSpec,
    rank_by: str,
    *,
    done: Mapping[str, dict[str, Any]] | None = None,
    on_row: Callable[[dict[str, Any]], None] | None = None,
    on_phase: Callable[[str, int], None] | None = None,
) -> WalkForwardOutcome:
    """Walk-forward over the configurations `tasks` (full-period tasks of the sweep): plan the folds on the
    first task's sessions, run every IS task, pick each fold's winner, run the winners OOS, stitch.

    `done` holds rows of fold tasks finished earlier (by id: a resumed sweep computes only what is missing);
    `on_row` sees every new row as it arrives (the journal); `on_phase(description, backtests)` is told
    before each phase how many backtests it will compute (a progress bar). OOS rows in `done` keep their curve.
    """
    if not tasks:
        raise WalkForwardError("walk-forward needs at least one configuration")
    rank_by = spec.rank_by or rank_by
    folds = plan_folds(period_sessions(shared, tasks[0]), spec)
    finished = done or {}
    by_id = {t.id: t for t in tasks}
    is_items = [(f.index, IS, fold_task(t, f, IS)) for f in folds for t in tasks]
    base_of = {item[2].id: t.id for item, t in zip(is_items, [t for _ in folds for t in tasks], strict=True)}
    if on_phase is not None:
        on_phase(f"walk-forward: {len(folds)} folds in-sample", sum(1 for _, _, t in is_items if t.id not in finished))
    is_rows = _frame(_collect(engine, shared, is_items, finished, on_row))
    oos_items = []
    for f in folds:
        best = best_in_sample(is_rows, f.index, rank_by)
        oos_items.append((f.index, OOS, fold_task(by_id[base_of[str(best["id"])]], f, OOS)))
    if on_phase is not None:
        on_phase("walk-forward: out-of-sample", sum(1 for _, _, t in oos_items if t.id not in finished))
    oos_raw = _collect(engine, shared, oos_items, finished, on_row)
    curves = _curves(oos_raw, folds)
    capital = float(tasks[0].config.capital)
    curve = stitch(curves, capital)
    oos_rows = _frame(oos_raw)
    rows = pd.concat([is_rows, oos_rows], ignore_index=True).sort_values(["fold", "phase", "id"], ignore_index=True)
    table = fold_table(rows, folds, rank_by)
    table["chosen"] = [base_of.get(c, c) for c in table["chosen"]]  # the configuration's own (exportable) id
    table["is_dsr"] = [_fold_dsr(is_rows, f.index).dsr for f in folds]
    metrics: dict[str, Any] = dict(compute_metrics(curve.to_numpy(), pd.DatetimeIndex(curve.index)).to_json())
    metrics.pop("drawdown", None)
    return WalkForwardOutcome(rows, folds, table, curve, metrics, rank_by, spec)


def _fold_dsr(is_rows: pd.DataFrame, fold: int) -> Deflated:
    return deflate_rows(is_rows.loc[is_rows["fold"] == fold])


def _frame(rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame([{k: v for k, v in r.items() if k != CURVE} for r in rows])


def _curves(rows: list[dict[str, Any]], folds: Sequence[Fold]) -> list[tuple[pd.DatetimeIndex, np.ndarray[Any, Any]]]:
    by_fold = {int(r["fold"]): r for r in rows}
    out = []
    for f in folds:
        row = by_fold.get(f.index)
        if row is None or row.get(CURVE) is None:
            why = row.get("error") if row is not None else "no result"
            where = f"{f.oos_first} to {f.oos_last}"
            raise AlchemiserError(f"walk-forward fold {f.index} ({where}) has no out-of-sample curve: {why}")
        dates, equity = row[CURVE]
        out.append((pd.DatetimeIndex(pd.to_datetime(dates)), np.asarray(equity, dtype=np.float64)))
    return out


def best_returns(shared: SharedData, task: BacktestTask) -> tuple[pd.Series, np.ndarray[Any, Any]]:
    """The best configuration's equity curve (for the report) and its daily returns (for the DSR's moments)."""
    dates, equity = equity_curve(shared, task)
    return pd.Series(equity, index=dates, name="equity"), daily_returns(equity)
