"""Walk-forward through a real engine on the sample market: OOS scores equal an independent `backtest`."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alchemiser.backtest.engine import BacktestConfig
from alchemiser.backtest.schedule import Schedule
from alchemiser.config import load_settings
from alchemiser.data.history import load_history
from alchemiser.portfolio.plan import RebalanceRules
from alchemiser.signals import build_market
from alchemiser.sweep import wfrun
from alchemiser.sweep.engines.embedded import EmbeddedEngine
from alchemiser.sweep.task import BacktestTask, SharedData, StrategyRef
from alchemiser.sweep.walkforward import IS, OOS, WalkForwardSpec
from tests.helpers import run

SYMPHONY = """(defsymphony "rsi switch" {:rebalance-frequency :daily}
  (if (> (rsi "SPY" {:window 10}) THRESHOLD)
    [(asset "BIL")]
    [(asset "TQQQ")]))
"""
END = dt.date(2025, 6, 30)
START = dt.date(2019, 1, 2)
THRESHOLDS = (60, 70, 80)


def task(threshold: int) -> BacktestTask:
    config = BacktestConfig(
        capital=Decimal(100000), end=END, schedule=Schedule("daily"),
        rules=RebalanceRules(cash_buffer_pct=0.0, min_trade_usd=Decimal(1)),
    )  # fmt: skip
    text = SYMPHONY.replace("THRESHOLD", str(threshold))
    ref = StrategyRef("rsi", text, "rsi.clj", 1.0)
    return BacktestTask(f"cfg{threshold:04d}", THRESHOLDS.index(threshold), (("threshold", threshold),), (ref,), config,
                        (START, END))  # fmt: skip


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> wfrun.WalkForwardOutcome:
    settings = load_settings(None)
    history = load_history(build_market(settings), {"SPY", "BIL", "TQQQ"}, END)
    spec = WalkForwardSpec(in_sample="2y", out_of_sample="1y")
    return wfrun.run(EmbeddedEngine(workers=2), SharedData(history), [task(t) for t in THRESHOLDS], spec, "sharpe")


def test_folds_rows_and_the_stitched_curve(outcome: wfrun.WalkForwardOutcome) -> None:
    folds = outcome.folds
    assert [f.oos_first.year for f in folds] == [2021, 2022, 2023, 2024]
    rows = outcome.rows
    assert len(rows.loc[rows["phase"] == IS]) == len(folds) * len(THRESHOLDS)
    assert len(rows.loc[rows["phase"] == OOS]) == len(folds)
    assert rows["id"].is_unique
    assert wfrun.CURVE not in rows.columns
    curve = outcome.curve
    assert curve.index[0].date() == folds[0].oos_first and curve.index[-1].date() == folds[-1].oos_last
    # chaining: the curve's total return is the product of the folds' OOS total returns
    oos = rows.loc[rows["phase"] == OOS].sort_values("fold")
    assert curve.iloc[-1] / 100000 == pytest.approx(np.prod(1 + oos["total_return"].to_numpy()), rel=1e-9)
    assert outcome.metrics["total_return"] == pytest.approx(curve.iloc[-1] / 100000 - 1, rel=1e-9)
    table = outcome.table
    assert table["p.threshold"].isin(THRESHOLDS).all()
    for f in folds:  # the chosen configuration is the fold's best in-sample
        fold_is = rows.loc[(rows["fold"] == f.index) & (rows["phase"] == IS)]
        assert table.loc[f.index, "is_sharpe"] == pytest.approx(fold_is["sharpe"].max())
    assert table["is_dsr"].between(0, 1).all()


def test_oos_metrics_equal_an_independent_backtest_of_the_window(
    outcome: wfrun.WalkForwardOutcome, tmp_path: Path
) -> None:
    """The OOS backtest has indicator warm-up from before the window but trades only inside it: exactly what
    `alchemiser backtest --start OOS_START --end OOS_END` does with the chosen configuration."""
    fold = outcome.folds[1]
    chosen = outcome.table.loc[fold.index]
    path = tmp_path / "rsi.clj"
    path.write_text(SYMPHONY.replace("THRESHOLD", str(int(chosen["p.threshold"]))), encoding="utf-8")
    result = run(["backtest", "-s", str(path), "--start", fold.oos_first.isoformat(), "--end",
                  fold.oos_last.isoformat(), "--json"], tmp_path / "home")  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    oos = outcome.rows.loc[(outcome.rows["fold"] == fold.index) & (outcome.rows["phase"] == OOS)].iloc[0]
    assert data["start"] == fold.oos_first.isoformat() and data["end"] == fold.oos_last.isoformat()
    assert oos["start"] == data["start"] and oos["end"] == data["end"]
    for key in ("total_return", "sharpe", "max_drawdown", "cagr", "volatility"):
        assert oos[key] == pytest.approx(data["metrics"][key], rel=1e-9, abs=1e-12), key
    assert oos["trades"] == data["trades"]

    segment = outcome.curve.loc[pd.Timestamp(fold.oos_first) : pd.Timestamp(fold.oos_last)]
    before = outcome.curve.loc[: pd.Timestamp(fold.oos_first)].iloc[-2]  # the previous fold's final value
    assert segment.iloc[-1] == pytest.approx(before * (1 + data["metrics"]["total_return"]), rel=1e-9)


def test_resume_computes_only_missing_fold_tasks(outcome: wfrun.WalkForwardOutcome) -> None:
    settings = load_settings(None)
    history = load_history(build_market(settings), {"SPY", "BIL", "TQQQ"}, END)
    seen: list[str] = []

    class Counting(EmbeddedEngine):
        def map_unordered(self, fn, shared, tasks):  # type: ignore[no-untyped-def]
            seen.extend(t[2].id for t in tasks)
            return super().map_unordered(fn, shared, tasks)

    first = outcome.rows.iloc[0]
    is_rows = outcome.rows.loc[outcome.rows["phase"] == IS]
    done = {str(r["id"]): dict(r) for _, r in is_rows.iterrows() if r["id"] != first["id"]}
    again = wfrun.run(Counting(workers=1), SharedData(history), [task(t) for t in THRESHOLDS],
                      WalkForwardSpec(in_sample="2y", out_of_sample="1y"), "sharpe", done=done)  # fmt: skip
    assert seen[0] == first["id"] and len(seen) == 1 + len(outcome.folds)  # one IS task, then the OOS winners
    pd.testing.assert_series_equal(again.curve, outcome.curve)
