"""Walk-forward folds, the choice of the in-sample winner and the stitched out-of-sample curve."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from alchemiser.sweep.walkforward import (
    IS,
    OOS,
    Size,
    WalkForwardError,
    WalkForwardSpec,
    best_in_sample,
    fold_table,
    parse_size,
    plan_folds,
    run_walk_forward,
    stitch,
)

SESSIONS = pd.bdate_range("2010-01-01", "2019-12-31")


def spec(**kw: object) -> WalkForwardSpec:
    return WalkForwardSpec.model_validate({"in_sample": 100, "out_of_sample": 20, **kw})


@pytest.mark.parametrize(
    ("value", "expected"),
    [(252, Size(252, "sessions")), ("252s", Size(252, "sessions")), ("18m", Size(18, "months")),
     ("5y", Size(5, "years")), ("2 years", Size(2, "years")), (" 3 Months ", Size(3, "months"))],
)  # fmt: skip
def test_sizes(value: object, expected: Size) -> None:
    assert parse_size("in_sample", value) == expected


@pytest.mark.parametrize("value", [0, -5, 1, "1s", "5w", "y", "", "1.5y", True, 2.5, None, "999999999y"])
def test_bad_sizes_name_the_field(value: object) -> None:
    with pytest.raises(WalkForwardError, match=r"walk_forward\.out_of_sample"):
        parse_size("out_of_sample", value)


def test_spec_refuses_unknown_keys_modes_and_metrics() -> None:
    with pytest.raises(ValidationError, match="in_sample"):
        WalkForwardSpec.model_validate({"in_sample": "5x", "out_of_sample": "1y"})
    with pytest.raises(ValidationError, match="mode"):
        spec(mode="expanding")
    with pytest.raises(ValidationError, match="rank_by"):
        spec(rank_by="luck")
    with pytest.raises(ValidationError, match="steps"):
        spec(steps=3)
    assert spec(rank_by="max_drawdown").describe() == (
        "rolling: in-sample 100 sessions, out-of-sample 20 sessions, step 20 sessions"
    )


def test_rolling_folds_tile_the_period_with_fixed_in_sample_size() -> None:
    sessions = SESSIONS[:300]
    folds = plan_folds(sessions, spec())
    assert len(folds) == 10  # (300 - 100) / 20
    for k, f in enumerate(folds):
        assert f.index == k
        assert f.is_sessions == 100 and f.oos_sessions == 20
        assert f.is_first == sessions[20 * k].date()
        assert f.is_last == sessions[20 * k + 99].date()
        assert f.oos_first == sessions[20 * k + 100].date()
        assert f.oos_last == sessions[20 * k + 119].date()
    for a, b in itertools.pairwise(folds):  # OOS windows follow each other without a gap
        assert sessions.get_loc(pd.Timestamp(b.oos_first)) == sessions.get_loc(pd.Timestamp(a.oos_last)) + 1


def test_anchored_folds_grow_from_the_first_session() -> None:
    sessions = SESSIONS[:300]
    folds = plan_folds(sessions, spec(mode="anchored"))
    assert len(folds) == 10
    assert {f.is_first for f in folds} == {sessions[0].date()}
    assert [f.is_sessions for f in folds] == [100 + 20 * k for k in range(10)]
    assert folds[-1].oos_last == sessions[299].date()


def test_calendar_sizes_and_incomplete_last_window() -> None:
    folds = plan_folds(SESSIONS, spec(in_sample="5y", out_of_sample="1y"))
    assert [f.oos_first.year for f in folds] == [2015, 2016, 2017, 2018, 2019]
    assert all(f.oos_last.year == f.oos_first.year and f.oos_last >= dt.date(f.oos_first.year, 12, 29) for f in folds)
    assert [f.is_first.year for f in folds] == [2010, 2011, 2012, 2013, 2014]  # rolling: a fixed 5-year window
    assert folds[0].is_first == dt.date(2010, 1, 1) and folds[0].is_last == dt.date(2014, 12, 31)
    # a period ending mid-year scores only whole OOS windows
    partial = plan_folds(SESSIONS[SESSIONS <= "2019-06-28"], spec(in_sample="5y", out_of_sample="1y"))
    assert [f.oos_first.year for f in partial] == [2015, 2016, 2017, 2018]


def test_step_longer_than_oos_leaves_gaps_and_shorter_is_refused() -> None:
    folds = plan_folds(SESSIONS[:300], spec(step=50))
    assert [f.is_first for f in folds] == [SESSIONS[k].date() for k in range(0, 181, 50)]
    with pytest.raises(WalkForwardError, match=r"step .* shorter than out_of_sample"):
        plan_folds(SESSIONS[:300], spec(step=10))


def test_windows_that_do_not_fit_are_an_error_naming_the_period() -> None:
    with pytest.raises(WalkForwardError, match=r"in_sample 5 years followed by out_of_sample 1 year .* 2010-01-01"):
        plan_folds(SESSIONS[:500], spec(in_sample="5y", out_of_sample="1y"))
    with pytest.raises(WalkForwardError, match="fewer than two"):
        plan_folds(SESSIONS[:1], spec())


def rows_for(table: Mapping[tuple[int, float], float]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"id": f"c{a:g}", "fold": f, "phase": IS, "p.a": a, "sharpe": s, "max_drawdown": 1 - s / 10}
         for (f, a), s in table.items()]
    )  # fmt: skip


def test_best_in_sample_by_metric_direction_and_ties() -> None:
    rows = rows_for({(0, 1.0): 0.5, (0, 2.0): 1.5, (0, 3.0): np.nan, (1, 1.0): 2.0, (1, 2.0): 2.0})
    assert best_in_sample(rows, 0, "sharpe")["p.a"] == 2.0
    assert best_in_sample(rows, 0, "max_drawdown")["p.a"] == 2.0  # smaller drawdown is better
    assert best_in_sample(rows, 1, "sharpe")["id"] == "c1"  # a tie goes to the smaller id
    with pytest.raises(WalkForwardError, match="fold 2 has no in-sample result"):
        best_in_sample(rows, 2, "sharpe")
    flat = rows_for({(0, 1.0): np.nan})
    with pytest.raises(WalkForwardError, match="no configuration has a sharpe"):
        best_in_sample(flat, 0, "sharpe")
    with pytest.raises(WalkForwardError, match="'luck' is not a result column"):
        best_in_sample(rows, 0, "luck")


def test_stitched_curve_chains_each_fold_from_the_previous_end() -> None:
    d1, d2 = pd.bdate_range("2020-01-01", periods=3), pd.bdate_range("2020-01-06", periods=2)
    curve = stitch([(d1, np.array([99.0, 110.0, 120.0])), (d2, np.array([90.0, 135.0]))], capital=100.0)
    assert curve.index.equals(d1.append(d2))
    np.testing.assert_allclose(curve.to_numpy(), [99.0, 110.0, 120.0, 108.0, 162.0])
    with pytest.raises(WalkForwardError, match="overlap"):
        stitch([(d1, np.ones(3)), (d1, np.ones(3))], capital=1.0)
    with pytest.raises(WalkForwardError, match="no out-of-sample"):
        stitch([], capital=1.0)


def test_run_walk_forward_scores_only_the_in_sample_winner_out_of_sample() -> None:
    folds = plan_folds(SESSIONS[:160], spec())  # 3 folds
    configs = [{"a": 1.0}, {"a": 2.0}, {"a": 3.0}]
    calls: list[list[tuple[int, str, Mapping[str, float]]]] = []

    def evaluate(batch: list[tuple[int, str, Mapping[str, float]]]) -> pd.DataFrame:
        calls.append(batch)
        # in-sample, the winner changes with the fold: a == fold + 1 scores best
        return pd.DataFrame(
            [{"id": f"c{p['a']:g}", "fold": f, "phase": ph, "p.a": p["a"],
              "sharpe": (3.0 - abs(p["a"] - (f + 1))) if ph == IS else -f}
             for f, ph, p in batch]
        )  # fmt: skip

    rows = run_walk_forward(folds, configs, "sharpe", evaluate)
    assert [len(c) for c in calls] == [9, 3]
    assert {ph for _, ph, _ in calls[0]} == {IS} and {ph for _, ph, _ in calls[1]} == {OOS}
    assert [(f, dict(p)) for f, _, p in calls[1]] == [(0, {"a": 1.0}), (1, {"a": 2.0}), (2, {"a": 3.0})]
    table = fold_table(rows, folds, "sharpe")
    assert table["p.a"].tolist() == [1.0, 2.0, 3.0]
    assert table["is_sharpe"].tolist() == [3.0, 3.0, 3.0]
    assert table["oos_sharpe"].tolist() == [0.0, -1.0, -2.0]
    assert table["oos_start"].tolist() == [f.oos_first.isoformat() for f in folds]
