"""Evaluator semantics, each checked against an independent hand computation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from alchemiser.errors import StrategyError
from alchemiser.indicators import rsi
from alchemiser.strategies.symphony.compiler import compile_text
from alchemiser.strategies.symphony.evaluator import decide, evaluate_all
from tests.helpers import history, random_history


def test_if_takes_exactly_the_selected_branch_and_explains_it() -> None:
    h = history({"SPY": [10, 11, 12, 13, 14, 15], "A": [1] * 6, "B": [1] * 6})
    program = compile_text('(if (> (rsi "SPY" {:window 2}) 79) [(asset "A" nil)] [(asset "B" nil)])', "t.clj")
    decision = decide(program, h)
    assert decision.weights == {"A": 1.0}
    assert decision.trace[0].text == "RSI(SPY,2) = 100.00 > 79 → true: then"
    assert decision.trace[0].location == "t.clj:1:1"
    program = compile_text('(if (< (rsi "SPY" {:window 2}) 79) [(asset "A" nil)] [(asset "B" nil)])')
    assert decide(program, h).weights == {"B": 1.0}


@pytest.mark.parametrize(("op", "expected"), [(">", "B"), ("<", "B"), (">=", "A"), ("<=", "A"), ("=", "A")])
def test_comparators_against_another_indicator(op: str, expected: str) -> None:
    h = history({"X": [5.0, 5.0, 5.0], "A": [1, 1, 1], "B": [1, 1, 1]})
    text = (
        f'(if ({op} (current-price "X") (moving-average-price "X" {{:window 3}})) [(asset "A" nil)] [(asset "B" nil)])'
    )
    assert decide(compile_text(text), h).weights == {expected: 1.0}


def test_weight_specified_accepts_percent_exports_and_normalises() -> None:
    h = history({"A": [1, 2], "B": [1, 2]})
    fractions = decide(compile_text('(weight-specified 0.75 (asset "A" nil) 0.25 (asset "B" nil))'), h)
    percents = decide(compile_text('(weight-specified 75 (asset "A" nil) 25 (asset "B" nil))'), h)
    assert fractions.weights == percents.weights == {"A": 0.75, "B": 0.25}


def test_nested_weights_multiply_and_overlapping_symbols_net() -> None:
    h = history({"A": [1, 2], "B": [1, 2], "C": [1, 2]})
    text = '(weight-equal [(asset "A" nil) (weight-specified 0.5 (asset "A" nil) 0.5 (weight-equal [(asset "B" nil) (asset "C" nil)]))])'
    weights = decide(compile_text(text), h).weights
    assert weights == pytest.approx({"A": 0.75, "B": 0.125, "C": 0.125})
    assert sum(weights.values()) == pytest.approx(1.0)


def test_filter_over_assets_ranks_and_breaks_ties_by_order() -> None:
    h = history({"A": [10, 11], "B": [10, 12], "C": [10, 12], "D": [10, 9]})
    top = '(filter (cumulative-return {:window 1}) (select-top 2) [(asset "A" nil) (asset "C" nil) (asset "B" nil) (asset "D" nil)])'
    assert decide(compile_text(top), h).weights == {"B": 0.5, "C": 0.5}
    top1 = top.replace("select-top 2", "select-top 1")
    assert decide(compile_text(top1), h).weights == {"C": 1.0}  # C and B tie at +20%: the first listed wins
    bottom = top.replace("select-top 2", "select-bottom 1")
    decision = decide(compile_text(bottom), h)
    assert decision.weights == {"D": 1.0}
    assert decision.trace[0].text.startswith("filter cumret(·,1) select-bottom 1: D -10.00 ✓, A 10.00")


def test_filter_over_groups_uses_each_groups_own_return_stream() -> None:
    """Hand-computed: group G2 holds B when B is above its 3-day SMA, else C (decided with data to t)."""
    rng = np.random.default_rng(3)
    n = 80
    prices = {s: 20 * np.exp(np.cumsum(rng.normal(0, 0.03, n))) for s in "ABC"}
    h = history(prices)
    text = """(filter (cumulative-return {:window 4}) (select-top 1)
      [(group "G1" [(asset "A" nil)])
       (group "G2" [(if (> (current-price "B") (moving-average-price "B" {:window 3}))
                        [(asset "B" nil)] [(asset "C" nil)])])])"""
    matrix = evaluate_all(compile_text(text), h)
    b, c, a = prices["B"], prices["C"], prices["A"]
    g2_holds_b = [i >= 2 and b[i] > np.mean(b[i - 2 : i + 1]) for i in range(n)]
    # group return on day t = its allocation decided at t-1 × that asset's t-1 → t return
    g2_ret = [math.nan] * n
    for t in range(3, n):
        held = b if g2_holds_b[t - 1] else c
        g2_ret[t] = held[t] / held[t - 1] - 1
    for t in range(7, n):
        g2_cum = (np.prod([1 + g2_ret[k] for k in range(t - 3, t + 1)]) - 1) * 100
        a_cum = (a[t] / a[t - 4] - 1) * 100
        held_today = {"B": 1.0} if g2_holds_b[t] else {"C": 1.0}
        expected = held_today if g2_cum > a_cum else {"A": 1.0}
        assert matrix.valid[t]
        assert matrix.row(t) == pytest.approx(expected), t
    # the group needs one day of its own allocation before it has a return: early days are undecidable
    assert not matrix.valid[:6].any()


def test_inverse_volatility_weights() -> None:
    rng = np.random.default_rng(5)
    a = 50 * np.exp(np.cumsum(rng.normal(0, 0.01, 30)))
    b = 50 * np.exp(np.cumsum(rng.normal(0, 0.03, 30)))
    h = history({"A": a, "B": b})
    weights = decide(compile_text('(weight-inverse-volatility 10 [(asset "A" nil) (asset "B" nil)])'), h).weights
    vol = {k: np.std(p[-11:][1:] / p[-11:][:-1] - 1) for k, p in (("A", a), ("B", b))}
    inv = {k: 1 / v for k, v in vol.items()}
    assert weights == pytest.approx({k: v / sum(inv.values()) for k, v in inv.items()})


def test_too_little_history_fails_closed_naming_the_indicator() -> None:
    h = history({"SPY": [10, 11, 12], "A": [1, 1, 1], "B": [1, 1, 1]})
    program = compile_text('(if (> (rsi "SPY" {:window 10}) 79) [(asset "A" nil)] [(asset "B" nil)])', "s.clj")
    with pytest.raises(StrategyError) as info:
        decide(program, h)
    message = str(info.value)
    assert "s.clj:1:8" in message and "rsi" in message and "window 10" in message and "SPY" in message


def test_missing_history_on_an_untaken_branch_does_not_matter() -> None:
    h = history({"SPY": [10.0] * 15, "NEW": [math.nan] * 13 + [5.0, 5.0], "B": [1.0] * 15})
    text = '(if (> (current-price "SPY") 100) [(if (> (rsi "NEW" {:window 10}) 50) [(asset "NEW" nil)] [(asset "B" nil)])] [(asset "B" nil)])'
    assert decide(compile_text(text), h).weights == {"B": 1.0}


def test_no_look_ahead_every_day_matches_a_decision_made_that_day() -> None:
    """The all-dates pass must equal deciding on history truncated to each day."""
    text = """(weight-equal [
      (if (> (rsi "SPY" {:window 10}) 60) [(asset "UVXY" nil)]
          [(filter (moving-average-return {:window 5}) (select-top 2)
             [(asset "QQQ" nil) (asset "TLT" nil) (asset "GLD" nil)
              (group "sw" [(if (< (cumulative-return "QQQ" {:window 7}) 0) [(asset "TLT" nil)] [(asset "QQQ" nil)])])])])
      (weight-inverse-volatility 6 [(asset "SPY" nil) (group "x" [(filter (stdev-return {:window 4}) (select-bottom 1) [(asset "GLD" nil) (asset "TLT" nil)])])])])"""
    program = compile_text(text)
    h = random_history(["SPY", "UVXY", "QQQ", "TLT", "GLD"], n=120)
    matrix = evaluate_all(program, h)
    checked = 0
    for t in range(len(h.dates)):
        past = h.until(h.dates[t].date())
        if not matrix.valid[t]:
            with pytest.raises(StrategyError):
                decide(program, past)
            continue
        assert decide(program, past).weights == pytest.approx(matrix.row(t)), t
        checked += 1
    assert checked > 100


def test_rsi_in_the_trace_is_the_indicator_value() -> None:
    h = random_history(["SPY", "A", "B"], n=60)
    decision = decide(compile_text('(if (> (rsi "SPY" {:window 14}) 50) [(asset "A" nil)] [(asset "B" nil)])'), h)
    value = rsi(h.closes["SPY"], 14)[-1]
    assert f"RSI(SPY,14) = {value:.2f}" in decision.trace[0].text
