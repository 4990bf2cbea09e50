"""Backtests: hand-computed equity, no look-ahead, and the same targets as `signal`."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alchemiser.backtest.engine import BacktestConfig, BacktestError, Schedule, run_backtest
from alchemiser.config import load_settings
from alchemiser.data.history import PriceHistory
from alchemiser.data.sample import SampleMarket
from alchemiser.signals import compute_signals
from alchemiser.strategies.base import PythonStrategy
from alchemiser.strategies.symphony_strategy import SymphonyStrategy
from tests.helpers import run

D = Decimal
CLOSE_A = [10.0, 11.0, 10.0, 12.0, 13.0, 12.0]
CLOSE_B = [20.0, 20.0, 21.0, 21.0, 22.0, 23.0]
OPEN_A = [10.0, 10.5, 10.8, 11.0, 12.5, 12.2]
OPEN_B = [20.0, 20.0, 20.5, 21.0, 21.5, 22.5]
# day:            0     1     2     3     4     5
# A > SMA(A,2)?   —   A(11>10.5) B(10<10.5) A(12>11) A(13>12.5) B(12<12.5)
RULE = '(if (> (current-price "A") (moving-average-price "A" {:window 2})) [(asset "A" nil)] [(asset "B" nil)])'


def two_assets() -> PriceHistory:
    dates = pd.DatetimeIndex(pd.bdate_range("2024-01-01", periods=6))
    closes = {"A": np.array(CLOSE_A), "B": np.array(CLOSE_B)}
    opens = {"A": np.array(OPEN_A), "B": np.array(OPEN_B)}
    return PriceHistory(dates, closes, {"A": "store", "B": "store"}, opens)


def backtest(fill: str, slippage: str = "0", fee: str = "0") -> np.ndarray:
    strategy = SymphonyStrategy.from_text(RULE)
    config = BacktestConfig(capital=D(1000), fill=fill, slippage_bps=D(slippage), fee_bps=D(fee))  # type: ignore[arg-type]
    return run_backtest([(strategy, 1.0)], two_assets(), config).equity


def test_close_fills_without_costs() -> None:
    # day1 buy A at 11 with 1000; day2 sell A at 10 (909.09), buy B at 21; day3 sell B at 21, buy A at 12;
    # day4 hold A (13); day5 sell A at 12, buy B at 23
    a1 = 1000 / 11
    cash2 = a1 * 10
    a3 = cash2 / 12
    expected = [1000, cash2, cash2, a3 * 13, a3 * 12]
    np.testing.assert_allclose(backtest("close"), expected, atol=0.005)
    assert backtest("close")[-1] == pytest.approx(909.09, abs=0.005)


def test_next_open_fills_without_costs() -> None:
    # day t's decision executes at day t+1's open; equity is valued at each close
    a2 = 1000 / 10.8  # day1's "A" bought at day2's open
    cash3 = a2 * 11.0  # day2's "B": sell A at day3's open…
    b3 = cash3 / 21.0  # …and buy B there
    cash4 = b3 * 21.5  # day3's "A": sell B at day4's open…
    a4 = cash4 / 12.5  # …and buy A; day4's "A" holds; day5's "B" would execute after the last day
    expected = [1000, a2 * 10, b3 * 21, a4 * 13, a4 * 12]
    np.testing.assert_allclose(backtest("next-open"), expected, atol=0.005)


def test_close_fills_with_slippage_and_fees() -> None:
    slip, fee = 0.001, 0.0005  # 10 bps, 5 bps
    buy1 = 11 * (1 + slip)
    a1 = 1000 / (1 + fee) / buy1  # buys are sized so that cost plus fee fits the cash
    eq1 = a1 * 11
    cash2 = a1 * 10 * (1 - slip) * (1 - fee)
    b2 = cash2 / (1 + fee) / (21 * (1 + slip))
    eq2 = b2 * 21
    cash3 = b2 * 21 * (1 - slip) * (1 - fee)
    a3 = cash3 / (1 + fee) / (12 * (1 + slip))
    eq3, eq4 = a3 * 12, a3 * 13
    cash5 = a3 * 12 * (1 - slip) * (1 - fee)
    b5 = cash5 / (1 + fee) / (23 * (1 + slip))
    expected = [eq1, eq2, eq3, eq4, b5 * 23]
    np.testing.assert_allclose(backtest("close", "10", "5"), expected, atol=0.005)


def test_next_open_fills_with_slippage_and_fees() -> None:
    slip, fee = 0.001, 0.0005
    a2 = 1000 / (1 + fee) / (10.8 * (1 + slip))
    cash3 = a2 * 11.0 * (1 - slip) * (1 - fee)
    b3 = cash3 / (1 + fee) / (21.0 * (1 + slip))
    cash4 = b3 * 21.5 * (1 - slip) * (1 - fee)
    a4 = cash4 / (1 + fee) / (12.5 * (1 + slip))
    expected = [1000, a2 * 10, b3 * 21, a4 * 13, a4 * 12]
    np.testing.assert_allclose(backtest("next-open", "10", "5"), expected, atol=0.005)


class Peeker(PythonStrategy):
    """Tries to decide with tomorrow's close."""

    name = "peeker"

    def universe(self) -> set[str]:
        return {"A", "B"}

    def allocate(self, history: PriceHistory) -> dict[str, float]:
        tomorrow = history.end + dt.timedelta(days=1)
        return {"A": 1.0} if history.close_on("A", tomorrow) > history.closes["A"][-1] else {"B": 1.0}


class Honest(Peeker):
    name = "honest"

    def allocate(self, history: PriceHistory) -> dict[str, float]:
        return {"A": 1.0} if history.close_on("A", history.end) > 10 else {"B": 1.0}


def test_a_strategy_that_reads_a_later_bar_fails() -> None:
    with pytest.raises(BacktestError, match="no day between 2024-01-01 and 2024-01-08 has a decision"):
        run_backtest([(Peeker(), 1.0)], two_assets(), BacktestConfig(capital=D(1000)))
    result = run_backtest([(Honest(), 1.0)], two_assets(), BacktestConfig(capital=D(1000)))
    assert result.target_on(dt.date(2024, 1, 2)) == {"A": 1.0}


def test_weekly_schedule_trades_only_on_the_first_session_of_a_week() -> None:
    rng = np.random.default_rng(2)
    dates = pd.DatetimeIndex(pd.bdate_range("2024-01-01", periods=60))
    closes = {s: 50 * np.exp(np.cumsum(rng.normal(0, 0.02, 60))) for s in ("A", "B")}
    history = PriceHistory(dates, closes, {"A": "store", "B": "store"})
    strategy = SymphonyStrategy.from_text('(weight-equal [(asset "A" nil) (asset "B" nil)])')
    result = run_backtest([(strategy, 1.0)], history, BacktestConfig(schedule=Schedule.parse("weekly")))
    traded = result.dates[result.rebalanced]
    assert len(traded) >= 8 and all(day.day_of_week == 0 for day in traded)  # Mondays in this span
    threshold = run_backtest([(strategy, 1.0)], history, BacktestConfig(schedule=Schedule.parse("threshold:5")))
    assert 1 <= threshold.rebalanced.sum() < result.rebalanced.sum()


def test_backtest_targets_equal_the_signal_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALCHEMISER_HOME", str(tmp_path))
    settings = load_settings()
    end = dt.date(2025, 6, 30)
    market = SampleMarket(end=end)
    from alchemiser.backtest.service import run as run_service

    monkeypatch.setattr("alchemiser.backtest.service.build_market", lambda _settings: market)
    outcome = run_service(settings, start=dt.date(2024, 1, 1), end=end)
    for day in (dt.date(2024, 3, 15), dt.date(2024, 11, 29), dt.date(2025, 6, 30)):
        report = compute_signals(settings, as_of=day, market=market)
        assert report.target is not None
        assert outcome.result.target_on(day) == pytest.approx(report.target), day


def test_backtest_cli_json_and_report(tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = run(
        ["backtest", "-s", "tecl", "-s", "nuclear", "--weights", "0.6,0.4", "--start", "2020-01-01", "--end", "2024-12-31",
         "--fee-bps", "2", "--report", str(out), "--json"],
        tmp_path / "home",
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["start"] >= "2020-01-01" and data["end"] == "2024-12-31" and data["days"] > 1000
    for key in ("total_return", "cagr", "volatility", "sharpe", "sortino", "max_drawdown", "calmar", "turnover"):
        assert key in data["metrics"]
    assert [s["name"] for s in data["strategies"]] == ["tecl", "nuclear"]
    assert [s["share"] for s in data["strategies"]] == [0.6, 0.4]
    assert data["benchmark"]["symbol"] == "SPY"
    for name in ("equity.png", "drawdown.png", "weights.png", "report.html", "equity.csv", "weights.csv", "trades.csv"):
        assert (out / name).stat().st_size > 0
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html and "synthetic sample data" in html
    equity = pd.read_csv(out / "equity.csv", index_col="date")
    assert {"equity", "benchmark_SPY", "strategy_tecl", "strategy_nuclear"} <= set(equity.columns)
    assert equity["equity"].iloc[-1] == pytest.approx(data["final_equity"], abs=0.01)
