"""Composer's indicators as vectorized functions of a daily close series.

Every function takes a float array of closes (NaN where the series has no data yet) and returns an array of
the same length holding the indicator's value on each day, NaN where there is not enough history. An
indicator only ever looks at one contiguous stretch of valid prices: after a gap it starts again, so a gap
can never be papered over. Callers turn a NaN they need into `InsufficientHistoryError`; nothing here
invents a value such as "RSI = 50".
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

FloatArray = npt.NDArray[np.float64]


def _segments(values: FloatArray) -> list[tuple[int, int]]:
    """Half-open [start, end) runs of finite values."""
    finite = np.isfinite(values)
    if finite.all():
        return [(0, len(values))] if len(values) else []
    edges = np.flatnonzero(np.diff(np.concatenate(([False], finite, [False])).astype(np.int8)))
    return [(int(s), int(e)) for s, e in zip(edges[0::2], edges[1::2], strict=True)]


def _per_segment(values: FloatArray, fn: Callable[[FloatArray], FloatArray]) -> FloatArray:
    out = np.full(len(values), np.nan)
    for start, end in _segments(values):
        out[start:end] = fn(values[start:end])
    return out


def ewm_mean(values: FloatArray, alpha: float, *, adjust: bool) -> FloatArray:
    """pandas' `Series.ewm(alpha=alpha, adjust=adjust).mean()` of finite values, bit for bit.

    Importing pandas costs half of `signal`'s budget, so deciding must not need it; but a single changed
    bit could flip a comparison sitting on its threshold, so a decision must see exactly pandas' numbers.
    `ewm_loop` is pandas' own recurrence in Python (a test holds the two equal on every bit): used when
    pandas is not loaded (`signal`); where it is loaded anyway (backtests, sweeps, the dashboard) its
    compiled kernel is the same numbers ~20× faster, which a backtest of thousands of series needs.
    """
    pandas = sys.modules.get("pandas")
    if pandas is not None and len(values):
        mean = pandas.Series(values).ewm(alpha=alpha, adjust=adjust).mean()
        return np.array(mean.to_numpy(dtype=np.float64), dtype=np.float64)  # a writable copy, as the loop's
    return ewm_loop(values, alpha, adjust=adjust)


def ewm_loop(values: FloatArray, alpha: float, *, adjust: bool) -> FloatArray:
    """pandas' `ewm` kernel (α recomputed through the centre of mass, as pandas does) as a Python loop.

    Sequential by nature; ~6,000 days take under a millisecond.
    """
    if not len(values):
        return np.empty(0)
    com = (1.0 - alpha) / alpha
    a = 1.0 / (1.0 + com)
    keep = 1.0 - a
    items = values.tolist()
    weighted = items[0]
    out = [weighted]
    if not adjust:  # the old weight is reset to 1 each step, so both weights are constants
        denominator = keep + a
        for cur in items[1:]:
            if weighted != cur:  # pandas skips equal values to keep constant series exact
                weighted = (keep * weighted + a * cur) / denominator
            out.append(weighted)
        return np.array(out, dtype=np.float64)
    old_wt = 1.0
    for cur in items[1:]:
        old_wt *= keep
        if weighted != cur:
            weighted = (old_wt * weighted + cur) / (old_wt + 1.0)
        old_wt += 1.0
        out.append(weighted)
    return np.array(out, dtype=np.float64)


def _ewm(values: FloatArray, alpha: float) -> FloatArray:
    """Exponential average seeded with the first value (pandas `adjust=False`)."""
    return ewm_mean(values, alpha, adjust=False)


def _rolling(values: FloatArray, window: int, stat: Callable[..., FloatArray]) -> FloatArray:
    """`stat` over each full trailing window (NaN until `window` values exist)."""
    out = np.full(len(values), np.nan)
    if len(values) >= window:
        out[window - 1 :] = stat(sliding_window_view(values, window), axis=1)
    return out


def _rolling_mean(values: FloatArray, window: int) -> FloatArray:
    return _rolling(values, window, np.mean)


def _rolling_std(values: FloatArray, window: int) -> FloatArray:
    """Population standard deviation (ddof 0)."""
    return _rolling(values, window, np.std)


def _require(n: int, min_len: int, out: FloatArray) -> FloatArray:
    if n < min_len:
        out[:] = np.nan
    else:
        out[: min_len - 1] = np.nan
    return out


def rsi(closes: FloatArray, window: int) -> FloatArray:
    """Wilder's RSI: gains and losses smoothed with α = 1/window over all available history."""

    def calc(p: FloatArray) -> FloatArray:
        out = np.full(len(p), np.nan)
        if len(p) < window + 1:
            return out
        delta = np.diff(p)
        gain = _ewm(np.clip(delta, 0.0, None), 1.0 / window)
        loss = _ewm(np.clip(-delta, 0.0, None), 1.0 / window)
        with np.errstate(divide="ignore", invalid="ignore"):
            value = 100.0 - 100.0 / (1.0 + gain / loss)
        value = np.where(loss == 0.0, 100.0, value)
        out[1:] = value
        out[:window] = np.nan
        return out

    return _per_segment(closes, calc)


def moving_average_price(closes: FloatArray, window: int) -> FloatArray:
    """Simple mean of the last `window` closes."""
    return _per_segment(
        closes,
        lambda p: _rolling_mean(p, window),
    )


def exponential_moving_average_price(closes: FloatArray, window: int) -> FloatArray:
    """EMA with α = 2/(window+1), seeded with the first close; defined once `window` closes exist."""
    return _per_segment(closes, lambda p: _require(len(p), window, _ewm(p, 2.0 / (window + 1))))


def current_price(closes: FloatArray, window: int | None = None) -> FloatArray:
    """The last close (the live price is substituted by the caller where configured)."""
    return np.asarray(closes, dtype=np.float64).copy()


def _returns(p: FloatArray) -> FloatArray:
    out = np.full(len(p), np.nan)
    out[1:] = p[1:] / p[:-1] - 1.0
    return out


def cumulative_return(closes: FloatArray, window: int) -> FloatArray:
    """(P_t / P_{t−window} − 1) × 100."""

    def calc(p: FloatArray) -> FloatArray:
        out = np.full(len(p), np.nan)
        if len(p) > window:
            out[window:] = (p[window:] / p[:-window] - 1.0) * 100.0
        return out

    return _per_segment(closes, calc)


def moving_average_return(closes: FloatArray, window: int) -> FloatArray:
    """Mean of the last `window` daily returns, in percent."""
    return _per_segment(
        closes,
        lambda p: _rolling_mean(_returns(p), window) * 100.0,
    )


def stdev_return(closes: FloatArray, window: int) -> FloatArray:
    """Population standard deviation (ddof 0) of the last `window` daily returns, in percent of a day."""
    return _per_segment(
        closes,
        lambda p: _rolling_std(_returns(p), window) * 100.0,
    )


def stdev_price(closes: FloatArray, window: int) -> FloatArray:
    """Population standard deviation of the last `window` closes."""
    return _per_segment(
        closes,
        lambda p: _rolling_std(p, window),
    )


def max_drawdown(closes: FloatArray, window: int) -> FloatArray:
    """Largest peak-to-trough fall within the last `window` closes, in percent (a positive number)."""

    def calc(p: FloatArray) -> FloatArray:
        out = np.full(len(p), np.nan)
        if len(p) < window:
            return out
        windows = sliding_window_view(p, window)
        peaks = np.maximum.accumulate(windows, axis=1)
        out[window - 1 :] = (1.0 - windows / peaks).max(axis=1) * 100.0
        return out

    return _per_segment(closes, calc)


def _ema(p: FloatArray, window: int) -> FloatArray:
    """The EMA of `exponential-moving-average-price`: α = 2/(window+1), seeded with the first value."""
    return _ewm(p, 2.0 / (window + 1))


def _oscillator(closes: FloatArray, short: int, long: int, percent: bool) -> FloatArray:
    def calc(p: FloatArray) -> FloatArray:
        fast, slow = _ema(p, short), _ema(p, long)
        value = (fast - slow) / slow * 100.0 if percent else fast - slow
        return _require(len(p), long, value)

    return _per_segment(closes, calc)


def _signal(closes: FloatArray, short: int, long: int, smooth: int, percent: bool) -> FloatArray:
    def calc(p: FloatArray) -> FloatArray:
        out = np.full(len(p), np.nan)
        if len(p) < long + smooth - 1:
            return out
        fast, slow = _ema(p, short), _ema(p, long)
        line = ((fast - slow) / slow * 100.0 if percent else fast - slow)[long - 1 :]
        # the signal EMA starts at the line's first defined value (day long-1), not at the first close
        out[long - 1 :] = _require(len(line), smooth, _ema(line, smooth))
        return out

    return _per_segment(closes, calc)


def moving_average_convergence_divergence(closes: FloatArray, short: int, long: int) -> FloatArray:
    """MACD: EMA_short − EMA_long of closes; defined once `long` closes exist."""
    return _oscillator(closes, short, long, percent=False)


def moving_average_convergence_divergence_signal(closes: FloatArray, short: int, long: int, smooth: int) -> FloatArray:
    """EMA_smooth of the MACD line, started at its first defined value; needs long + smooth − 1 closes."""
    return _signal(closes, short, long, smooth, percent=False)


def percentage_price_oscillator(closes: FloatArray, short: int, long: int) -> FloatArray:
    """PPO: (EMA_short − EMA_long) / EMA_long × 100 of closes; defined once `long` closes exist."""
    return _oscillator(closes, short, long, percent=True)


def percentage_price_oscillator_signal(closes: FloatArray, short: int, long: int, smooth: int) -> FloatArray:
    """EMA_smooth of the PPO line, started at its first defined value; needs long + smooth − 1 closes."""
    return _signal(closes, short, long, smooth, percent=True)


def _bollinger(closes: FloatArray, window: int, k: float, sign: float) -> FloatArray:
    def calc(p: FloatArray) -> FloatArray:
        return np.asarray(_rolling_mean(p, window) + sign * k * _rolling_std(p, window), dtype=np.float64)

    return _per_segment(closes, calc)


def upper_bollinger(closes: FloatArray, window: int, k: float = 2.0) -> FloatArray:
    """SMA_window + k × population standard deviation of the last `window` closes."""
    return _bollinger(closes, window, k, 1.0)


def lower_bollinger(closes: FloatArray, window: int, k: float = 2.0) -> FloatArray:
    """SMA_window − k × population standard deviation of the last `window` closes."""
    return _bollinger(closes, window, k, -1.0)


@dataclass(frozen=True)
class Param:
    """One parameter of an indicator as an export writes it: `{:window 10}`, `{:short-window 12 …}`.

    `integer` parameters are whole numbers of days; `default` is used only when an export leaves the key out
    (only Bollinger's k has one, because Composer's editor fixes it at 2); `aliases` are other spellings seen.
    """

    key: str
    integer: bool = True
    default: float | None = None
    aliases: tuple[str, ...] = ()


WINDOW = (Param("window"),)
SHORT_LONG = (Param("short-window"), Param("long-window"))
SHORT_LONG_SMOOTH = (*SHORT_LONG, Param("smooth-window"))
BOLLINGER = (Param("window"), Param("num-std-dev", integer=False, default=2.0, aliases=("std-dev",)))


@dataclass(frozen=True)
class IndicatorSpec:
    """How the engine calls an indicator (`fn(closes, *params)`) and how many closes it needs first."""

    name: str
    fn: Callable[..., FloatArray]
    params: tuple[Param, ...]
    min_closes: Callable[..., int]
    label: str

    @property
    def needs_window(self) -> bool:
        return bool(self.params)


INDICATORS: dict[str, IndicatorSpec] = {
    spec.name: spec
    for spec in (
        IndicatorSpec("rsi", rsi, WINDOW, lambda w: w + 1, "RSI"),
        IndicatorSpec("moving-average-price", moving_average_price, WINDOW, lambda w: w, "SMA"),
        IndicatorSpec("exponential-moving-average-price", exponential_moving_average_price, WINDOW, lambda w: w, "EMA"),
        IndicatorSpec("current-price", current_price, (), lambda: 1, "price"),
        IndicatorSpec("cumulative-return", cumulative_return, WINDOW, lambda w: w + 1, "cumret"),
        IndicatorSpec("moving-average-return", moving_average_return, WINDOW, lambda w: w + 1, "MAret"),
        IndicatorSpec("stdev-return", stdev_return, WINDOW, lambda w: w + 1, "stdret"),
        IndicatorSpec("stdev-price", stdev_price, WINDOW, lambda w: w, "stdprice"),
        IndicatorSpec("max-drawdown", max_drawdown, WINDOW, lambda w: w, "maxDD"),
        IndicatorSpec(
            "percentage-price-oscillator", percentage_price_oscillator, SHORT_LONG, lambda s, long: long, "PPO"
        ),
        IndicatorSpec(
            "percentage-price-oscillator-signal",
            percentage_price_oscillator_signal,
            SHORT_LONG_SMOOTH,
            lambda s, long, m: long + m - 1,
            "PPOsig",
        ),
        IndicatorSpec(
            "moving-average-convergence-divergence",
            moving_average_convergence_divergence,
            SHORT_LONG,
            lambda s, long: long,
            "MACD",
        ),
        IndicatorSpec(
            "moving-average-convergence-divergence-signal",
            moving_average_convergence_divergence_signal,
            SHORT_LONG_SMOOTH,
            lambda s, long, m: long + m - 1,
            "MACDsig",
        ),
        IndicatorSpec("upper-bollinger", upper_bollinger, BOLLINGER, lambda w, k: w, "BBup"),
        IndicatorSpec("lower-bollinger", lower_bollinger, BOLLINGER, lambda w, k: w, "BBlow"),
    )
}

ALIASES: dict[str, str] = {
    "relative-strength-index": "rsi",
    "standard-deviation-return": "stdev-return",
    "standard-deviation-price": "stdev-price",
}
"""The long names of Composer's JSON score (and some exports) for the same functions."""


def canonical_name(name: str) -> str | None:
    """The indicator `name` stands for, or None when it is not one."""
    name = ALIASES.get(name, name)
    return name if name in INDICATORS else None
