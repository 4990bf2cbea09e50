"""Backtest rules: schedules and corridors, exact attribution, the start, undecided days, impossible inputs."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from alchemiser.backtest.engine import BacktestConfig, BacktestResult, run_backtest
from alchemiser.backtest.errors import BacktestError
from alchemiser.backtest.schedule import Schedule
from alchemiser.backtest.undecided import start_note, summary
from alchemiser.data.history import PriceHistory
from alchemiser.strategies.symphony.evaluator import IndicatorCache
from alchemiser.strategies.symphony_strategy import SymphonyStrategy

D = Decimal
SWITCH_A = '(if (> (current-price "A") (moving-average-price "A" {:window 3})) [(asset "A" nil)] [(asset "B" nil)])'
SWITCH_C = '(if (< (rsi "C" {:window 5}) 50) [(asset "C" nil)] [(weight-equal [(asset "A" nil) (asset "D" nil)])])'
MIX = '(weight-specified 0.7 (asset "B" nil) 0.3 (asset "D" nil))'


def random_history(days: int = 400, seed: int = 7) -> PriceHistory:
    """Four random walks over business days, with opens, for schedules that span quarters and years."""
    rng = np.random.default_rng(seed)
    dates = pd.DatetimeIndex(pd.bdate_range("2021-01-04", periods=days))
    closes, opens = {}, {}
    for symbol in "ABCD":
        walk = 50 * np.exp(np.cumsum(rng.normal(0.0003, 0.02, days)))
        closes[symbol] = walk
        opens[symbol] = walk * np.exp(rng.normal(0, 0.005, days))
    return PriceHistory(dates, closes, dict.fromkeys("ABCD", "store"), opens)


def blend() -> list[tuple[SymphonyStrategy, float]]:
    return [
        (SymphonyStrategy.from_text(SWITCH_A, name="switch_a"), 0.5),
        (SymphonyStrategy.from_text(SWITCH_C, name="switch_c"), 0.3),
        (SymphonyStrategy.from_text(MIX, name="mix"), 0.2),
    ]


# -- schedules -----------------------------------------------------------------------------------------------
def test_threshold_reads_percentage_points_only_and_echoes_them() -> None:
    assert Schedule.parse("threshold:5").corridor == pytest.approx(0.05)
    assert Schedule.parse("threshold:0.5").corridor == pytest.approx(0.005)
    assert Schedule.parse("threshold:1").corridor == pytest.approx(0.01)  # once refused while 5 passed
    assert Schedule.parse("threshold:100").corridor == pytest.approx(1.0)
    for text in ("threshold:5", "threshold:0.5", "threshold:12.5", "weekly+threshold:3"):
        assert str(Schedule.parse(text)) == text
    for bad in ("threshold:0", "threshold:-5", "threshold:101", "threshold:nan", "threshold:inf", "threshold:x"):
        with pytest.raises(BacktestError, match="threshold"):
            Schedule.parse(bad)
    with pytest.raises(BacktestError, match="--rebalance must be one of none, daily, weekly"):
        Schedule.parse("hourly")
    history = random_history()
    runs = {
        text: run_backtest(blend(), history, BacktestConfig(schedule=Schedule.parse(text)))
        for text in ("threshold:0.5", "threshold:50")
    }
    # 0.5 and 50 points are different corridors (they once gave identical results)
    assert runs["threshold:0.5"].rebalanced.sum() > runs["threshold:50"].rebalanced.sum()


def test_calendar_days_of_every_frequency() -> None:
    dates = pd.DatetimeIndex(pd.bdate_range("2024-01-01", "2025-12-31"))

    def firsts(text: str) -> list[str]:
        return [d.date().isoformat() for d in dates[Schedule.parse(text).calendar_days(dates)]]

    assert firsts("quarterly") == [
        "2024-01-01", "2024-04-01", "2024-07-01", "2024-10-01", "2025-01-01", "2025-04-01", "2025-07-01", "2025-10-01"
    ]  # fmt: skip
    assert firsts("yearly") == ["2024-01-01", "2025-01-01"]
    assert len(firsts("monthly")) == 24 and len(firsts("daily")) == len(dates)
    assert firsts("none") == []  # only the initial purchase, which the engine always makes
    assert len(firsts("threshold:5")) == len(dates)  # a corridor alone is checked every session


def test_none_buys_once_and_quarterly_trades_only_on_quarter_starts() -> None:
    history = random_history()
    held = run_backtest(blend(), history, BacktestConfig(schedule=Schedule.parse("none")))
    assert held.rebalanced.sum() == 1 and held.rebalanced[0]
    assert {t.date for t in held.trades} == {held.dates[0].date()}
    quarterly = run_backtest(blend(), history, BacktestConfig(schedule=Schedule.parse("quarterly")))
    traded = quarterly.dates[quarterly.rebalanced]
    assert traded[0] == quarterly.dates[0]  # the initial purchase, wherever the quarter is
    assert all(d.month in (1, 4, 7, 10) and d.day <= 7 for d in traded[1:]) and len(traded) >= 4


def test_symphony_settings_map_to_composers_schedules() -> None:
    assert str(Schedule.from_symphony({"rebalance-threshold": 0.1})) == "threshold:10"
    assert str(Schedule.from_symphony({"rebalance-frequency": "none", "rebalance-corridor-width": 0.05})) == (
        "threshold:5"
    )
    assert str(Schedule.from_symphony({"rebalance-frequency": "quarterly"})) == "quarterly"
    assert str(Schedule.from_symphony({"rebalance-frequency": "weekly", "rebalance-threshold": 0.02})) == (
        "weekly+threshold:2"
    )
    assert Schedule.from_symphony({"asset-class": "EQUITIES"}) is None


# -- attribution ---------------------------------------------------------------------------------------------
def constant(symbol: str) -> SymphonyStrategy:
    return SymphonyStrategy.from_text(f'(asset "{symbol}" nil)', name=symbol.lower())


def test_contributions_of_two_held_sleeves_are_their_own_returns() -> None:
    history = random_history(60)
    config = BacktestConfig(capital=D(1000), schedule=Schedule.parse("none"))
    result = run_backtest([(constant("A"), 0.6), (constant("B"), 0.4)], history, config)
    a, b = history.closes["A"], history.closes["B"]
    # bought once at day 0's close and never traded: each sleeve is its own buy and hold
    assert result.contributions[0] == pytest.approx(0.6 * (a[-1] / a[0] - 1), rel=1e-9)
    assert result.contributions[1] == pytest.approx(0.4 * (b[-1] / b[0] - 1), rel=1e-9)


def test_contributions_with_costs_charge_the_sleeve_that_traded() -> None:
    history = random_history(60)
    # the switching sleeve pays for its switches; D's sleeve, bought once on the first day (before E₀), pays
    # nothing later and earns exactly its position's move
    switch = SymphonyStrategy.from_text(SWITCH_A, name="switch")
    config = BacktestConfig(capital=D(1000), slippage_bps=D(50), fee_bps=D(20), schedule=Schedule.parse("none"))
    result = run_backtest([(switch, 0.5), (constant("D"), 0.5)], history, config)
    d = history.closes["D"][history.dates.get_indexer(result.dates)]
    held_d = result.weights[0, result.symbols.index("D")]  # ≈ 0.5 of E₀ after the first day's costs
    assert held_d == pytest.approx(0.5, abs=1e-5)
    assert result.contributions[1] == pytest.approx(held_d * (d[-1] / d[0] - 1), rel=1e-9)
    total = result.equity[-1] / result.equity[0] - 1
    assert result.contributions.sum() == pytest.approx(total, rel=1e-9)


def test_each_sleeve_pays_the_costs_of_its_own_trades() -> None:
    history = random_history(60)
    history.closes["D"] = np.full(60, 50.0)  # D never moves: its sleeve earns nothing, so it shows only costs
    switch = SymphonyStrategy.from_text(SWITCH_A, name="switch")
    config = BacktestConfig(capital=D(1000), fee_bps=D(100), slippage_bps=D(30))
    result = run_backtest([(switch, 0.5), (constant("D"), 0.5)], history, config)
    later = [t for t in result.trades if t.date > result.dates[0].date()]
    # D is wanted by the second sleeve only, so its trades (rebalancing the sleeve back to half the book as
    # the switching sleeve's prices move) are charged to it: fee plus slippage (value − qty × 50)
    d_costs = sum(float(t.fee + abs(t.value - t.qty * 50)) for t in later if t.symbol == "D")
    assert d_costs > 0 and len({t.symbol for t in later}) == 3
    assert result.contributions[1] * result.equity[0] == pytest.approx(-d_costs, rel=1e-9)
    total = result.equity[-1] / result.equity[0] - 1
    assert result.contributions.sum() == pytest.approx(total, rel=1e-9)


@pytest.mark.parametrize("fill", ["close", "next-open"])
@pytest.mark.parametrize("costs", [(0, 0), (10, 5)])
@pytest.mark.parametrize(
    "schedule", ["daily", "weekly", "monthly", "quarterly", "yearly", "none", "threshold:5", "weekly+threshold:2"]
)
def test_contributions_add_up_to_the_total_return(schedule: str, costs: tuple[int, int], fill: str) -> None:
    history = random_history()
    config = BacktestConfig(
        schedule=Schedule.parse(schedule),
        slippage_bps=D(costs[0]),
        fee_bps=D(costs[1]),
        fill=fill,  # type: ignore[arg-type]
    )
    result = run_backtest(blend(), history, config, IndicatorCache(history))
    total = result.equity[-1] / result.equity[0] - 1
    assert abs(result.contributions.sum() - total) <= 1e-9 * abs(total)
    assert len(result.contributions) == 3 and np.isfinite(result.contributions).all()


# -- impossible inputs ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"slippage_bps": D(-50)}, "--slippage-bps must be between 0 and 1000"),
        ({"slippage_bps": D(20000)}, "--slippage-bps must be between 0 and 1000"),
        ({"fee_bps": D("1e6")}, "--fee-bps must be between 0 and 1000"),
        ({"fee_bps": D(-1)}, "--fee-bps must be between 0 and 1000"),
        ({"capital": D(-5)}, "--capital must be a positive amount"),
        ({"capital": D(0)}, "--capital must be a positive amount"),
        ({"capital": D("NaN")}, "--capital must be a positive amount"),
    ],
)
def test_the_engine_refuses_impossible_costs_and_capital(options: dict[str, Decimal], message: str) -> None:
    with pytest.raises(BacktestError, match=message):
        BacktestConfig(**options)  # type: ignore[arg-type]


@pytest.mark.parametrize("fill", ["close", "next-open"])
def test_equity_and_cash_never_go_below_zero_at_the_highest_costs(fill: str) -> None:
    history = random_history(250)
    switcher = SymphonyStrategy.from_text(SWITCH_A, name="switch")
    config = BacktestConfig(capital=D(1000), slippage_bps=D(1000), fee_bps=D(1000), fill=fill)  # type: ignore[arg-type]
    result = run_backtest([(switcher, 1.0)], history, config)
    assert len(result.trades) > 20  # it trades until the book is below the $1 minimum, at 20 % a round trip…
    assert (result.equity > 0).all() and (result.cash >= 0).all()  # …and still never owes money
    assert result.equity[-1] < 1.0  # (it is nearly wiped out, as it should be)


# -- the start and undecided days ----------------------------------------------------------------------------
def late_history() -> PriceHistory:
    """A from day 0; C begins on day 3 (2024-01-04). Days: 0…9 from 2024-01-01."""
    dates = pd.DatetimeIndex(pd.bdate_range("2024-01-01", periods=10))
    a = np.array([10.0, 11, 10, 12, 13, 12, 13, 14, 13, 15])
    c = np.array([np.nan, np.nan, np.nan, 20, 21, 20, 22, 23, 22, 24])
    return PriceHistory(dates, {"A": a, "C": c}, {"A": "store", "C": "store"})


# decidable when A > SMA(A,2) (holds A, needs no C) or once C trades: days 1 (11>10.5) and from day 3 on
YOUNG = '(if (> (current-price "A") (moving-average-price "A" {:window 2})) [(asset "A" nil)] [(asset "C" nil)])'


def young() -> SymphonyStrategy:
    return SymphonyStrategy.from_text(YOUNG, "young.clj", name="young")


def test_default_start_is_the_first_day_every_later_day_is_decidable() -> None:
    history = late_history()
    result = run_backtest([(young(), 1.0)], history, BacktestConfig(capital=D(1000)))
    # day 1 can decide (its branch needs no C) but day 2 cannot: starting on day 1 would hold A through day 2
    assert result.dates[0].date() == dt.date(2024, 1, 4) == result.settled
    assert not result.undecided.any()
    matrix = young().evaluate_all(history)
    note = start_note([("young", young(), matrix)], result, history, None)
    assert note is not None and note.startswith("starts 2024-01-04, the first day from which every strategy")
    assert "young could not on 2024-01-03 (young.clj:1:87: no price for C" in note
    assert "C's history begins 2024-01-04" in note


def test_a_forced_earlier_start_is_honoured_and_every_undecided_day_counted() -> None:
    history = late_history()
    strategy = young()
    config = BacktestConfig(capital=D(1000), start=dt.date(2024, 1, 1))
    result: BacktestResult = run_backtest([(strategy, 1.0)], history, config)
    assert result.dates[0].date() == dt.date(2024, 1, 1)
    assert result.undecided[:, 0].tolist() == [True, False, True] + [False] * 7
    # day 1 bought A at 11; day 2 could not decide and held it (A fell to 10); day 3 moved to C
    assert result.equity[:3].tolist() == pytest.approx([1000, 1000, 1000 / 11 * 10])
    entries = [("young", strategy, strategy.evaluate_all(history))]
    [entry] = summary(entries, result, history)
    assert entry["days"] == 2 and entry["first"] == "2024-01-01" and entry["last"] == "2024-01-03"
    assert entry["held_cash_days"] == 1 and entry["held_positions_days"] == 1
    assert "not enough" in entry["reason"] or "no price for C" in entry["reason"]
    note = start_note(entries, result, history, dt.date(2024, 1, 1))
    assert note is not None and note.startswith("--start 2024-01-01 is earlier than 2024-01-04")


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (dt.date(2024, 1, 9), dt.date(2024, 1, 2), "--start 2024-01-09 is after --end 2024-01-02"),
        (dt.date(2024, 2, 1), None, r"--start 2024-02-01 is after the data ends \(2024-01-12 is the last session"),
        (None, dt.date(2023, 12, 1), r"--end 2023-12-01 is before the data begins \(2024-01-01 is the first session"),
        (
            dt.date(2024, 1, 6),
            dt.date(2024, 1, 7),
            "no trading session between --start 2024-01-06 and --end 2024-01-07",
        ),
        (dt.date(2024, 1, 1), dt.date(2024, 1, 1), "no day between 2024-01-01 and 2024-01-01 has a decision"),
    ],
)
def test_impossible_ranges_say_exactly_what_is_wrong(start: dt.date | None, end: dt.date | None, message: str) -> None:
    with pytest.raises(BacktestError, match=message):
        run_backtest([(young(), 1.0)], late_history(), BacktestConfig(start=start, end=end))


def test_json_payloads_never_hold_nan_or_infinity() -> None:
    import json
    import math

    from alchemiser.backtest.service import finite

    payload = finite({"sharpe": math.nan, "rows": [math.inf, -math.inf, 1.5], "nested": {"beta": (math.nan,)}})
    assert payload == {"sharpe": None, "rows": [None, None, 1.5], "nested": {"beta": [None]}}
    json.dumps(payload, allow_nan=False)
