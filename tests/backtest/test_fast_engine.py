"""The compiled fast path gives the reference engine's results: equity, cash, weights, trades, contributions.

The reference (`backtest/reference.py`) runs the live `plan_rebalance`/`size_buys` on a Decimal book; the
fast path restates those rules in floats. They must agree to 1e-9 relative on every built-in, on their
blend and on generated symphonies, across schedules, both fills, with and without costs, and with
fractional and whole-share assets. A rule changed in one loop only fails here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from functools import lru_cache
from itertools import product

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from alchemiser.backtest.engine import BacktestConfig, BacktestResult, prepare, run_backtest
from alchemiser.backtest.errors import BacktestError
from alchemiser.backtest.fast import _kernel, compiled_kernel, run_fast
from alchemiser.backtest.schedule import Schedule
from alchemiser.data.history import PriceHistory, load_history
from alchemiser.data.sample import SampleMarket
from alchemiser.errors import AlchemiserError
from alchemiser.strategies.base import Strategy
from alchemiser.strategies.registry import BUILTINS, load_strategy
from alchemiser.strategies.symphony.evaluator import IndicatorCache
from alchemiser.strategies.symphony_strategy import SymphonyStrategy
from tests.strategies.test_fuzz_symphony import TICKERS, symphony

D = Decimal
RTOL = 1e-9
SCHEDULES = ["daily", "weekly", "monthly", "threshold:5", "none"]


def assert_same(fast: BacktestResult, reference: BacktestResult) -> None:
    """Field by field, to 1e-9 relative (money against the equity, quantities against themselves)."""
    assert list(fast.dates) == list(reference.dates)
    assert fast.symbols == reference.symbols
    scale = np.fmax(np.abs(reference.equity), np.nanmax(np.abs(reference.equity)))  # NaN: a held symbol unpriced
    np.testing.assert_allclose(fast.equity, reference.equity, rtol=RTOL, atol=0)
    assert np.all(np.abs(fast.cash - reference.cash) <= RTOL * scale)
    np.testing.assert_allclose(fast.weights, reference.weights, rtol=0, atol=RTOL)
    np.testing.assert_array_equal(fast.targets, reference.targets)
    np.testing.assert_array_equal(fast.rebalanced, reference.rebalanced)
    np.testing.assert_allclose(fast.turnover, reference.turnover, rtol=0, atol=RTOL)
    np.testing.assert_array_equal(fast.undecided, reference.undecided)
    np.testing.assert_allclose(fast.contributions, reference.contributions, rtol=0, atol=RTOL)
    assert fast.settled == reference.settled
    assert len(fast.trades) == len(reference.trades)
    for ours, theirs in zip(fast.trades, reference.trades, strict=True):
        assert (ours.date, ours.symbol, ours.side) == (theirs.date, theirs.symbol, theirs.side)
        for name in ("qty", "price", "value", "fee"):
            a, b = float(getattr(ours, name)), float(getattr(theirs, name))
            assert abs(a - b) <= RTOL * max(abs(b), 1e-12) + 1e-12, (name, ours, theirs)


def both(strategies: Sequence[tuple[Strategy, float]], history: PriceHistory, config: BacktestConfig) -> None:
    cache = IndicatorCache(history)
    fast = run_backtest(strategies, history, config, cache)
    reference = run_backtest(strategies, history, config, cache, engine="reference")
    assert_same(fast, reference)


@lru_cache(maxsize=1)
def sample() -> tuple[list[Strategy], PriceHistory]:
    market = SampleMarket(end=dt.date(2025, 6, 30))
    strategies = [load_strategy(name) for name in BUILTINS]
    universe = set().union(*(s.universe() for s in strategies))
    return strategies, load_history(market, universe, market.available()[0].last)


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_every_builtin_over_twenty_years_matches_the_reference(name: str) -> None:
    _, history = sample()
    both([(load_strategy(name), 1.0)], history, BacktestConfig())


@pytest.mark.parametrize(
    ("schedule", "fill", "costly", "whole"),
    list(product(SCHEDULES, ["close", "next-open"], [False, True], [False, True])),
)
def test_the_builtin_blend_matches_the_reference_in_every_configuration(
    schedule: str, fill: str, costly: bool, whole: bool
) -> None:
    strategies, history = sample()
    config = BacktestConfig(
        start=dt.date(2022, 1, 3),
        schedule=Schedule.parse(schedule),
        fill=fill,  # type: ignore[arg-type]
        slippage_bps=D(5) if costly else D(0),
        fee_bps=D(10) if costly else D(0),
        non_fractionable=frozenset({"TECL", "BIL", "SPY", "UVXY"}) if whole else frozenset(),
    )
    both([(s, 1 / len(strategies)) for s in strategies], history, config)


def test_planner_rules_buffer_band_and_previous_close_match_the_reference() -> None:
    from alchemiser.portfolio.plan import RebalanceRules

    strategies, history = sample()
    rules = RebalanceRules(cash_buffer_pct=2.5, drift_band_pct=3, min_trade_usd=D(50), full_exit_fraction=0.9)
    for decide in ("close", "previous-close"):
        config = BacktestConfig(
            start=dt.date(2023, 1, 3),
            rules=rules,
            decide=decide,
            capital=D(2500),
            fee_bps=D(3),  # type: ignore[arg-type]
        )
        both([(s, 1 / len(strategies)) for s in strategies], history, config)


def with_opens(seed: int, n: int, variant: str = "random") -> PriceHistory:
    """Random walks with opens; "late": one symbol lists part-way, "gone": one has no price at the end."""
    rng = np.random.default_rng(seed)
    dates = pd.DatetimeIndex(pd.bdate_range("2020-01-06", periods=n))
    closes, opens = {}, {}
    for symbol in TICKERS:
        walk = 50 * np.exp(np.cumsum(rng.normal(0.0003, 0.03, n)))
        closes[symbol] = walk
        opens[symbol] = walk * np.exp(rng.normal(0, 0.01, n))
    odd = TICKERS[seed % len(TICKERS)]
    if variant == "late":
        closes[odd][: n // 2] = np.nan
        opens[odd][: n // 2] = np.nan
    elif variant == "gone":
        closes[odd][-3:] = np.nan
        opens[odd][-3:] = np.nan
    return PriceHistory(dates, closes, dict.fromkeys(TICKERS, "store"), opens)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    texts=st.lists(symphony(), min_size=1, max_size=3),
    seed=st.integers(0, 5),
    variant=st.sampled_from(["random", "random", "late", "gone"]),
    schedule=st.sampled_from(SCHEDULES),
    fill=st.sampled_from(["close", "next-open"]),
    costs=st.sampled_from([(0, 0), (5, 0), (0, 25), (10, 10)]),
    whole=st.sets(st.sampled_from(TICKERS)),
    capital=st.sampled_from([D(100000), D(1000), D("123.45")]),
)
def test_generated_symphonies_match_the_reference(
    texts: list[str],
    seed: int,
    variant: str,
    schedule: str,
    fill: str,
    costs: tuple[int, int],
    whole: set[str],
    capital: Decimal,
) -> None:
    history = with_opens(seed, 300, variant)
    try:
        strategies = [(SymphonyStrategy.from_text(text, name=f"s{i}"), 1 / len(texts)) for i, text in enumerate(texts)]
    except AlchemiserError:
        event("not a valid symphony")
        return  # e.g. out-of-range numbers: the fuzz tests cover its message
    config = BacktestConfig(
        capital=capital,
        schedule=Schedule.parse(schedule),
        fill=fill,  # type: ignore[arg-type]
        slippage_bps=D(costs[0]),
        fee_bps=D(costs[1]),
        non_fractionable=frozenset(whole),
    )
    try:
        cache = IndicatorCache(history)
        reference = run_backtest(strategies, history, config, cache, engine="reference")
    except (BacktestError, AlchemiserError):
        event("refused by the reference (e.g. never decidable)")
        with pytest.raises((BacktestError, AlchemiserError)):
            run_backtest(strategies, history, config, cache)
        return
    event("compared")
    assert_same(run_backtest(strategies, history, config, cache), reference)


def test_the_python_loop_is_the_compiled_loop() -> None:
    """Without numba the same function runs as Python; it must give the compiled loop's numbers."""
    strategies, history = sample()
    signals = [(strategies[1].evaluate_all(history, IndicatorCache(history)), 1.0)]
    run, _ = prepare(signals, history, BacktestConfig(start=dt.date(2024, 1, 2), fee_bps=D(7)))
    compiled, python = run_fast(run), run_fast(run, compiled=False)
    assert compiled_kernel() is not _kernel  # numba is installed, so the loop really is compiled
    np.testing.assert_array_equal(compiled.equity, python.equity)
    assert len(compiled.trades) == len(python.trades) > 0
    assert list(compiled.trades) == list(python.trades)
    assert compiled.trades[-1] == list(python.trades)[-1]
    assert compiled.trades[0:2] == list(python.trades)[0:2]
    with pytest.raises(IndexError):
        compiled.trades[len(compiled.trades)]


def test_an_unknown_engine_is_refused_by_name() -> None:
    strategies, history = sample()
    with pytest.raises(BacktestError, match="engine must be fast or reference"):
        run_backtest([(strategies[1], 1.0)], history, BacktestConfig(), engine="numpy")  # type: ignore[arg-type]


def test_a_near_tie_hands_the_run_to_the_reference() -> None:
    """$100.01 split 50/50 makes a half-cent target; floats cannot promise Decimal's rounding, so the
    reference runs instead, and the result is still the reference's."""
    from alchemiser.backtest import fast

    history = with_opens(3, 60)
    split = SymphonyStrategy.from_text('(weight-specified 0.5 (asset "SPY" nil) 0.5 (asset "QQQ" nil))', name="split")
    before = fast.fallbacks
    both([(split, 1.0)], history, BacktestConfig(capital=D("100.01")))
    assert fast.fallbacks == before + 1
    both([(split, 1.0)], history, BacktestConfig(capital=D("100.02")))  # no tie: the compiled loop's own result
    assert fast.fallbacks == before + 1
