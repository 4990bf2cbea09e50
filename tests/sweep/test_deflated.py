"""The deflated Sharpe ratio against the paper's worked example and its defining properties."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from alchemiser.sweep.deflated import (
    deflated_sharpe,
    expected_max_sharpe,
    moments,
    per_period,
    probabilistic_sharpe,
)


def test_reproduces_the_papers_numerical_example() -> None:
    """Bailey & López de Prado (2014), "The Deflated Sharpe Ratio", JPM 40(5), numerical example: N = 100
    trials whose annualised Sharpes have variance 1/2, a best annualised Sharpe of 2.5 over T = 1250 daily
    observations (5 years of 250 days), skew -3 and kurtosis 10 give SR0 ≈ 0.1132 per day and DSR ≈ 0.9004."""
    sr0 = expected_max_sharpe(100, 0.5 / 250)
    assert sr0 == pytest.approx(0.1132, abs=5e-5)
    dsr = probabilistic_sharpe(2.5 / math.sqrt(250), sr0, 1250, skew=-3.0, kurtosis=10.0)
    assert dsr == pytest.approx(0.9004, abs=5e-4)


def test_deflated_sharpe_uses_the_trials_variance_and_annualises_for_display() -> None:
    trials = [2.5, 2.5 - math.sqrt(2), 2.5 + math.sqrt(2)]  # sample variance 2 (annualised)
    result = deflated_sharpe(2.5, trials, 1250, skew=-3.0, kurtosis=10.0, trials=100, periods=250)
    assert result.trials == 100
    expected = expected_max_sharpe(100, 2.0 / 250)
    assert result.expected_max_sharpe == pytest.approx(expected * math.sqrt(250))
    assert 0 < result.dsr < 1


def test_more_trials_give_a_lower_dsr() -> None:
    rng = np.random.default_rng(3)
    sharpes = list(rng.normal(0.8, 0.4, 50))
    values = [deflated_sharpe(1.5, sharpes, 2500, trials=n).dsr for n in (1, 2, 10, 100, 1000, 100000)]
    assert all(a > b for a, b in itertools.pairwise(values))
    assert values[0] == pytest.approx(probabilistic_sharpe(per_period(1.5), 0.0, 2500, 0.0, 3.0))


def test_longer_records_and_thinner_tails_raise_confidence() -> None:
    sharpes = [0.5, 1.0, 1.5, 0.2]
    short = deflated_sharpe(1.5, sharpes, 500).dsr
    long = deflated_sharpe(1.5, sharpes, 5000).dsr
    assert long > short
    fat = deflated_sharpe(1.5, sharpes, 2500, skew=-2.0, kurtosis=12.0).dsr
    normal = deflated_sharpe(1.5, sharpes, 2500).dsr
    assert fat < normal


def test_one_trial_is_the_plain_probabilistic_sharpe_and_zero_variance_has_no_deflation() -> None:
    assert expected_max_sharpe(1, 0.3) == 0.0
    assert expected_max_sharpe(50, 0.0) == 0.0
    with pytest.raises(ValueError, match="trials"):
        expected_max_sharpe(0, 0.1)
    with pytest.raises(ValueError, match="variance"):
        expected_max_sharpe(5, math.nan)


def test_missing_sharpes_count_as_trials_but_not_in_the_variance() -> None:
    result = deflated_sharpe(1.0, [1.0, math.nan, 0.5], 1000)
    assert result.trials == 3
    assert math.isfinite(result.dsr)
    undefined = deflated_sharpe(math.nan, [math.nan], 1000)
    assert math.isnan(undefined.dsr)
    assert undefined.as_dict()["dsr"] is None


def test_moments_of_normal_returns_and_of_too_few() -> None:
    rng = np.random.default_rng(7)
    skew, kurt = moments(rng.normal(0, 0.01, 200_000))
    assert skew == pytest.approx(0.0, abs=0.02)
    assert kurt == pytest.approx(3.0, abs=0.05)
    assert moments(np.array([0.01, 0.02])) == (0.0, 3.0)
    assert moments(np.zeros(100)) == (0.0, 3.0)
    lopsided = np.concatenate([np.full(99, 0.001), [-0.2]])
    s, k = moments(lopsided)
    assert s < -5 and k > 50


def test_rows_whose_every_sharpe_is_missing_give_no_dsr() -> None:
    import pandas as pd

    from alchemiser.sweep.deflated import deflate_rows

    result = deflate_rows(pd.DataFrame({"sharpe": [None, None], "days": [None, None]}))
    assert result.trials == 2 and math.isnan(result.dsr)
    mixed = deflate_rows(pd.DataFrame({"sharpe": [None, 1.2, 0.4], "days": [None, 800, 800]}))
    assert mixed.best_sharpe == 1.2 and mixed.observations == 799 and 0 < mixed.dsr < 1
