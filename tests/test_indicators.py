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


@pytest.mark.parametrize("name", sorted(ind.INDICATORS))
def test_too_little_history_is_nan_never_a_default(name: str) -> None:
    spec = ind.INDICATORS[name]
    window = 5
    needed = spec.min_closes(window)
    series = spec.fn(np.linspace(10, 11, needed - 1), window)
    assert np.isnan(series).all()
    series = spec.fn(np.linspace(10, 11, needed), window)
    assert np.isfinite(series[-1])


def test_a_gap_restarts_the_indicator() -> None:
    prices = np.array([np.nan, 1.0, 2.0, 3.0, np.nan, 4.0, 5.0, 6.0, 7.0])
    sma = ind.moving_average_price(prices, 3)
    assert sma[3] == pytest.approx(2.0)
    assert np.isnan(sma[5:7]).all()
    assert sma[7] == pytest.approx(5.0)
