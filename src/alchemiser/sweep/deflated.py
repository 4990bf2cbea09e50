"""The deflated Sharpe ratio: how likely the best Sharpe of a sweep is real skill, given how many were tried.

Try enough configurations and one of them will show a fine Sharpe by luck alone. Bailey & López de Prado
("The Deflated Sharpe Ratio: Correcting for Selection Bias, Backtest Overfitting and Non-Normality",
Journal of Portfolio Management 40(5), 2014) correct for this in two steps:

1. The expected maximum Sharpe of N trials with no skill, from the variance of the trials' Sharpes:
       SR0 = sqrt(V[SR]) * ((1 - γ) Φ⁻¹(1 - 1/N) + γ Φ⁻¹(1 - 1/(N e)))      (γ: Euler–Mascheroni)
2. The probabilistic Sharpe ratio of the best one against that benchmark, with the skew and kurtosis of
   its returns (fat tails make a Sharpe less certain) over T observations:
       DSR = Φ( (SR - SR0) sqrt(T - 1) / sqrt(1 - skew·SR + (kurtosis - 1)/4 · SR²) )

Sharpes here are per observation (daily), not annualised; `per_period` converts. DSR is a probability:
0.95 or more means the best configuration's Sharpe is unlikely to come from selection luck. N is the
number of configurations tried, an upper bound on the independent trials (similar configurations are
correlated), so the correction errs on the side of caution.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Annotated, Any

import numpy as np
import pandas as pd
from typing_extensions import TypedDict  # the TypedDict pydantic accepts on 3.11

from alchemiser.backtest.metrics import TRADING_DAYS

EULER_GAMMA = 0.5772156649015329
NORMAL = NormalDist()  # the standard normal from the standard library: no scipy needed for Φ and Φ⁻¹


def per_period(annual_sharpe: float, periods: int = TRADING_DAYS) -> float:
    """An annualised Sharpe (√periods scaling) back to one period's."""
    return annual_sharpe / math.sqrt(periods)


def expected_max_sharpe(trials: int, variance: float) -> float:
    """SR0: the Sharpe the best of `trials` skill-less trials reaches on average (same units as `variance`)."""
    if trials < 1:
        raise ValueError("trials must be at least 1")
    if not (math.isfinite(variance) and variance >= 0):
        raise ValueError(f"the variance of the trials' Sharpes must be finite and not negative (got {variance})")
    if trials == 1 or variance == 0:
        return 0.0
    z = (1 - EULER_GAMMA) * NORMAL.inv_cdf(1 - 1 / trials) + EULER_GAMMA * NORMAL.inv_cdf(1 - 1 / (trials * math.e))
    return math.sqrt(variance) * z


def probabilistic_sharpe(sharpe: float, benchmark: float, observations: int, skew: float, kurtosis: float) -> float:
    """PSR: the probability that the true Sharpe exceeds `benchmark`, given the estimate from `observations`
    returns with this skew and (non-excess, normal = 3) kurtosis. Sharpes per observation."""
    if observations < 2:
        return math.nan
    spread = 1 - skew * sharpe + (kurtosis - 1) / 4 * sharpe**2
    if not (math.isfinite(spread) and spread > 0):
        return math.nan
    z = (sharpe - benchmark) * math.sqrt(observations - 1) / math.sqrt(spread)
    return NORMAL.cdf(z)


class DeflatedJson(TypedDict):
    """The deflated Sharpe ratio of the best configuration (null where it cannot be computed)."""

    trials: Annotated[int, "configurations tried"]
    best_sharpe: Annotated[float | None, "the best raw Sharpe, annualised"]
    expected_max_sharpe: Annotated[float | None, "what the best of `trials` skill-less tries reaches by luck"]
    dsr: Annotated[float | None, "probability (0–1) that the best's true Sharpe beats that"]
    observations: Annotated[int, "daily returns behind the Sharpe"]
    skew: float | None
    kurtosis: float | None


@dataclass(frozen=True)
class Deflated:
    """What the report shows next to the best raw Sharpe (annualised figures for reading, DSR a probability)."""

    trials: int
    best_sharpe: float  # annualised
    expected_max_sharpe: float  # annualised SR0
    dsr: float  # probability in [0, 1]; NaN when it cannot be computed
    observations: int
    skew: float
    kurtosis: float

    def as_dict(self) -> DeflatedJson:
        def finite(v: float) -> float | None:
            return v if math.isfinite(v) else None

        return {
            "trials": self.trials,
            "best_sharpe": finite(self.best_sharpe),
            "expected_max_sharpe": finite(self.expected_max_sharpe),
            "dsr": finite(self.dsr),
            "observations": self.observations,
            "skew": finite(self.skew),
            "kurtosis": finite(self.kurtosis),
        }


def deflated_sharpe(
    best_sharpe: float,
    trial_sharpes: Sequence[float],
    observations: int,
    *,
    skew: float = 0.0,
    kurtosis: float = 3.0,
    trials: int | None = None,
    periods: int = TRADING_DAYS,
) -> Deflated:
    """DSR of the best configuration: annualised Sharpes in, per-period maths inside.

    `trial_sharpes` are every configuration's annualised Sharpe (missing ones ignored for the variance);
    `trials` defaults to their count (including missing ones: they were tried too).
    """
    finite = np.asarray([s for s in trial_sharpes if s is not None and math.isfinite(s)], dtype=np.float64)
    n = trials if trials is not None else len(trial_sharpes)
    if n < 1 or not math.isfinite(best_sharpe):
        return Deflated(max(n, 0), best_sharpe, math.nan, math.nan, observations, skew, kurtosis)
    variance = float(np.var(finite / math.sqrt(periods), ddof=1)) if finite.size > 1 else 0.0
    sr0 = expected_max_sharpe(n, variance)
    dsr = probabilistic_sharpe(per_period(best_sharpe, periods), sr0, observations, skew, kurtosis)
    return Deflated(n, best_sharpe, sr0 * math.sqrt(periods), dsr, observations, skew, kurtosis)


def moments(returns: np.ndarray[Any, Any]) -> tuple[float, float]:
    """(skew, non-excess kurtosis) of daily returns; normal values when there are too few to say."""
    r = np.asarray(returns, dtype=np.float64)
    r = r[np.isfinite(r)]
    if r.size < 4 or float(np.std(r)) == 0:
        return 0.0, 3.0
    centred = r - r.mean()
    var = float(np.mean(centred**2))
    return float(np.mean(centred**3)) / var**1.5, float(np.mean(centred**4)) / var**2


def deflate_rows(
    rows: pd.DataFrame, *, returns: np.ndarray[Any, Any] | None = None, periods: int = TRADING_DAYS
) -> Deflated:
    """The DSR of a sweep's result rows (a DataFrame with `sharpe` and `days`): every row is a trial; the best
    row's Sharpe is tested. `returns` (the best configuration's daily returns) supply skew and kurtosis;
    without them normal returns are assumed, which flatters fat-tailed strategies."""
    sharpes = [float(s) for s in pd.to_numeric(rows["sharpe"], errors="coerce")]  # None (a failed row) → NaN
    finite = [s for s in sharpes if math.isfinite(s)]
    best = max(finite) if finite else math.nan
    if returns is not None:
        observations = int(np.isfinite(returns).sum())
    elif "days" in rows.columns and finite:
        at = sharpes.index(best)
        observations = int(rows["days"].iloc[at]) - 1  # returns between `days` closes
    else:
        observations = 0
    skew, kurtosis = moments(returns) if returns is not None else (0.0, 3.0)
    return deflated_sharpe(best, sharpes, observations, skew=skew, kurtosis=kurtosis, periods=periods)
