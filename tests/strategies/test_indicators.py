"""Indicators against hand-computed values and, for RSI, an independent loop implementation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from alchemiser import indicators as ind

P = np.array([10.0, 11.0, 10.5, 11.5, 12.0, 11.0])


def rsi_loop(prices: list[float], window: int) -> list[float]:
    """Wilder's RSI written the slow, obvious way."""
    out = [math.nan] * len(prices)
    avg_gain = avg_loss = None
    alpha = 1.0 / window
    for i in range(1, len(prices)):
        change = prices[i] - prices[i - 1]
        gain, loss = max(change, 0.0), max(-change, 0.0)
        if avg_gain is None:
            avg_gain, avg_loss = gain, loss
        else:
            avg_gain = alpha * gain + (1 - alpha) * avg_gain
            avg_loss = alpha * loss + (1 - alpha) * avg_loss
        if i >= window:
            out[i] = 100.0 if avg_loss == 0 else 100.0 - 100.0 / (1.0 + avg_gain / avg_loss)
    return out


def test_rsi_matches_hand_computation() -> None:
    # deltas: +1, -0.5, +1, +0.5, -1 ; window 2 → alpha 0.5, seeded with the first delta
    gains = [1.0, 0.0, 1.0, 0.5, 0.0]
    losses = [0.0, 0.5, 0.0, 0.0, 1.0]
    ag, al = gains[0], losses[0]
    expected = [math.nan, math.nan]
    for g, lo in zip(gains[1:], losses[1:], strict=True):
        ag, al = 0.5 * g + 0.5 * ag, 0.5 * lo + 0.5 * al
        expected.append(100 - 100 / (1 + ag / al))
    np.testing.assert_allclose(ind.rsi(P, 2), expected, equal_nan=True)
    # third value by hand: ag = .5*0 + .5*1 = .5, al = .5*.5 + 0 = .25 → RS 2 → 66.67
    assert ind.rsi(P, 2)[2] == pytest.approx(100 - 100 / 3)


def test_rsi_matches_loop_on_random_walk() -> None:
    rng = np.random.default_rng(7)
    prices = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, 600)))
    for window in (2, 10, 14, 60):
        np.testing.assert_allclose(ind.rsi(prices, window), rsi_loop(list(prices), window), equal_nan=True, rtol=1e-10)


def test_rsi_is_100_when_there_are_no_losses() -> None:
    assert ind.rsi(np.arange(1.0, 20.0), 10)[-1] == 100.0


def test_simple_and_exponential_moving_averages() -> None:
    np.testing.assert_allclose(ind.moving_average_price(P, 3)[2:], [10.5, 11.0, 34.0 / 3, 34.5 / 3])
    assert np.isnan(ind.moving_average_price(P, 3)[:2]).all()
    ema = ind.exponential_moving_average_price(P, 3)  # alpha 0.5, seeded with 10
    expected = [10.0]
    for p in P[1:]:
        expected.append(0.5 * p + 0.5 * expected[-1])
    np.testing.assert_allclose(ema[2:], expected[2:])
    assert np.isnan(ema[:2]).all()


def test_return_indicators() -> None:
    np.testing.assert_allclose(
        ind.cumulative_return(P, 2)[2:], [5.0, (11.5 / 11 - 1) * 100, (12 / 10.5 - 1) * 100, (11 / 11.5 - 1) * 100]
    )
    returns = P[1:] / P[:-1] - 1
    np.testing.assert_allclose(
        ind.moving_average_return(P, 2)[2:], [np.mean(returns[i - 1 : i + 1]) * 100 for i in range(1, 5)]
    )
    np.testing.assert_allclose(ind.stdev_return(P, 3)[3:], [np.std(returns[i - 2 : i + 1]) * 100 for i in range(2, 5)])
    assert np.isnan(ind.stdev_return(P, 3)[:3]).all()


def test_stdev_price_is_population() -> None:
    np.testing.assert_allclose(ind.stdev_price(P, 4)[3:], [np.std(P[i - 3 : i + 1]) for i in range(3, 6)])


def test_max_drawdown_within_window() -> None:
    prices = np.array([100.0, 120.0, 90.0, 95.0, 130.0, 117.0])
    # last 4 closes 90, 95, 130, 117 → worst fall 130 → 117 = 10%
    assert ind.max_drawdown(prices, 4)[-1] == pytest.approx(10.0)
    # last 5 closes 120 … 117 → 120 → 90 = 25%
    assert ind.max_drawdown(prices, 5)[-1] == pytest.approx(25.0)
    assert np.isnan(ind.max_drawdown(prices, 5)[:4]).all()


def test_current_price_is_the_close() -> None:
    np.testing.assert_array_equal(ind.current_price(P), P)


SAMPLE_PARAMS = {"window": 5, "short-window": 3, "long-window": 5, "smooth-window": 4, "num-std-dev": 1.5}


@pytest.mark.parametrize("name", sorted(ind.INDICATORS))
def test_too_little_history_is_nan_never_a_default(name: str) -> None:
    spec = ind.INDICATORS[name]
    params = [SAMPLE_PARAMS[p.key] for p in spec.params]
    needed = spec.min_closes(*params)
    series = spec.fn(np.linspace(10, 11, needed - 1), *params)
    assert np.isnan(series).all()
    series = spec.fn(np.linspace(10, 11, needed), *params)
    assert np.isfinite(series[-1])
    assert np.isnan(series[: needed - 1]).all()


def test_a_gap_restarts_the_indicator() -> None:
    prices = np.array([np.nan, 1.0, 2.0, 3.0, np.nan, 4.0, 5.0, 6.0, 7.0])
    sma = ind.moving_average_price(prices, 3)
    assert sma[3] == pytest.approx(2.0)
    assert np.isnan(sma[5:7]).all()
    assert sma[7] == pytest.approx(5.0)


# -- the six functions beyond the classic nine ---------------------------------------------------------------
def ema_loop(values: list[float], window: int) -> list[float]:
    """EMA written the slow, obvious way: α = 2/(w+1), seeded with the first value."""
    alpha = 2.0 / (window + 1)
    out = [values[0]]
    for v in values[1:]:
        out.append(alpha * v + (1 - alpha) * out[-1])
    return out


def oscillator_loop(prices: list[float], short: int, long: int, smooth: int | None, percent: bool) -> list[float]:
    """MACD / PPO (and their signal lines) from `ema_loop`, NaN until defined."""
    fast, slow = ema_loop(prices, short), ema_loop(prices, long)
    line = [(f - s) / s * 100 if percent else f - s for f, s in zip(fast, slow, strict=True)]
    line = [math.nan] * (long - 1) + line[long - 1 :]
    if smooth is None:
        return line
    signal = ema_loop(line[long - 1 :], smooth)
    return [math.nan] * (long + smooth - 2) + signal[smooth - 1 :]


def bollinger_loop(prices: list[float], window: int, k: float, sign: int) -> list[float]:
    out = [math.nan] * len(prices)
    for i in range(window - 1, len(prices)):
        chunk = prices[i - window + 1 : i + 1]
        mean = sum(chunk) / window
        std = math.sqrt(sum((x - mean) ** 2 for x in chunk) / window)
        out[i] = mean + sign * k * std
    return out


def test_macd_and_ppo_by_hand() -> None:
    prices = np.array([10.0, 12.0, 11.0, 13.0])
    # EMA_1 is the price itself (α = 1); EMA_3 has α = 0.5 seeded with 10: 10, 11, 11, 12
    macd = ind.moving_average_convergence_divergence(prices, 1, 3)
    np.testing.assert_allclose(macd, [math.nan, math.nan, 0.0, 1.0], equal_nan=True)
    ppo = ind.percentage_price_oscillator(prices, 1, 3)
    np.testing.assert_allclose(ppo, [math.nan, math.nan, 0.0, 100.0 / 12.0], equal_nan=True)
    # signal over 2 (α = 2/3) starts at the first defined MACD value (day 2): 0, then 2/3 × 1 + 1/3 × 0
    signal = ind.moving_average_convergence_divergence_signal(prices, 1, 3, 2)
    np.testing.assert_allclose(signal, [math.nan, math.nan, math.nan, 2.0 / 3.0], equal_nan=True)
    ppo_signal = ind.percentage_price_oscillator_signal(prices, 1, 3, 2)
    np.testing.assert_allclose(ppo_signal, [math.nan, math.nan, math.nan, 2.0 / 3.0 * 100.0 / 12.0], equal_nan=True)


def test_bollinger_by_hand() -> None:
    prices = np.array([1.0, 3.0, 5.0])
    # window 2 over (1, 3): mean 2, population stdev 1; over (3, 5): mean 4, stdev 1
    np.testing.assert_allclose(ind.upper_bollinger(prices, 2), [math.nan, 4.0, 6.0], equal_nan=True)
    np.testing.assert_allclose(ind.lower_bollinger(prices, 2), [math.nan, 0.0, 2.0], equal_nan=True)
    np.testing.assert_allclose(ind.upper_bollinger(prices, 2, 0.5), [math.nan, 2.5, 4.5], equal_nan=True)
    # window 3: mean 3, stdev sqrt(8/3)
    assert ind.lower_bollinger(prices, 3)[-1] == pytest.approx(3 - 2 * math.sqrt(8 / 3))


def test_new_functions_match_loops_on_random_walks() -> None:
    rng = np.random.default_rng(11)
    for seed_walk in range(3):
        prices = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, 500 + seed_walk)))
        listed = list(prices)
        for short, long, smooth in ((3, 5, 2), (12, 26, 9), (5, 50, 20), (1, 2, 1)):
            np.testing.assert_allclose(
                ind.moving_average_convergence_divergence(prices, short, long),
                oscillator_loop(listed, short, long, None, False),
                equal_nan=True,
                rtol=1e-9,
                atol=1e-9,
            )
            np.testing.assert_allclose(
                ind.percentage_price_oscillator(prices, short, long),
                oscillator_loop(listed, short, long, None, True),
                equal_nan=True,
                rtol=1e-9,
                atol=1e-9,
            )
            np.testing.assert_allclose(
                ind.moving_average_convergence_divergence_signal(prices, short, long, smooth),
                oscillator_loop(listed, short, long, smooth, False),
                equal_nan=True,
                rtol=1e-9,
                atol=1e-9,
            )
            np.testing.assert_allclose(
                ind.percentage_price_oscillator_signal(prices, short, long, smooth),
                oscillator_loop(listed, short, long, smooth, True),
                equal_nan=True,
                rtol=1e-9,
                atol=1e-9,
            )
        for window, k in ((2, 2.0), (20, 2.0), (50, 1.5)):
            np.testing.assert_allclose(
                ind.upper_bollinger(prices, window, k), bollinger_loop(listed, window, k, 1), equal_nan=True, rtol=1e-9
            )
            np.testing.assert_allclose(
                ind.lower_bollinger(prices, window, k), bollinger_loop(listed, window, k, -1), equal_nan=True, rtol=1e-9
            )


def test_new_functions_restart_after_a_gap() -> None:
    prices = np.array([1.0, 2.0, 3.0, np.nan, 4.0, 5.0, 6.0])
    macd = ind.moving_average_convergence_divergence(prices, 1, 2)
    assert np.isnan(macd[[0, 3, 4]]).all() and np.isfinite(macd[[1, 2, 5, 6]]).all()
    assert np.isnan(ind.upper_bollinger(prices, 3)[4:6]).all()


def test_composer_long_names_are_aliases() -> None:
    assert ind.canonical_name("relative-strength-index") == "rsi"
    assert ind.canonical_name("standard-deviation-return") == "stdev-return"
    assert ind.canonical_name("standard-deviation-price") == "stdev-price"
    assert ind.canonical_name("rsi") == "rsi"
    assert ind.canonical_name("bogus") is None


@pytest.mark.parametrize("adjust", [False, True])
@pytest.mark.parametrize("alpha", [0.5, 1.0 / 14, 2.0 / 13, 0.06, 1.0 / 3, 2.0 / 201])
def test_ewm_is_pandas_bit_for_bit(alpha: float, adjust: bool) -> None:
    """Deciding does not import pandas, but a threshold comparison must see the very bits pandas gave."""
    import pandas as pd

    rng = np.random.default_rng(7)
    for n in (1, 2, 3, 50, 3000):
        values = 100.0 * np.cumprod(1.0 + rng.normal(0.0, 0.02, n))
        values[n // 3 : n // 3 + 4] = values[n // 3]  # a flat stretch: pandas' equal-value shortcut
        expected = pd.Series(values).ewm(alpha=alpha, adjust=adjust).mean().to_numpy()
        assert np.array_equal(ind.ewm_loop(values, alpha, adjust=adjust), expected)  # what `signal` computes
        assert np.array_equal(ind.ewm_mean(values, alpha, adjust=adjust), expected)  # with pandas loaded


@pytest.mark.parametrize("window", [1, 2, 20, 200])
def test_rolling_indicators_match_pandas(window: int) -> None:
    import pandas as pd

    prices = 100.0 * np.cumprod(1.0 + np.random.default_rng(3).normal(0.0, 0.02, 1500))
    series = pd.Series(prices)
    returns = series.pct_change()
    checks = [
        (ind.moving_average_price(prices, window), series.rolling(window).mean()),
        (ind.stdev_price(prices, window), series.rolling(window).std(ddof=0)),
        (ind.moving_average_return(prices, window), returns.rolling(window).mean() * 100.0),
        (ind.stdev_return(prices, window), returns.rolling(window).std(ddof=0) * 100.0),
    ]
    for got, expected in checks:
        np.testing.assert_allclose(got, expected.to_numpy(), rtol=1e-9, atol=1e-12, equal_nan=True)
