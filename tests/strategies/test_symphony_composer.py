"""The whole Composer language: the six newer functions in every position, aliases, `empty`, export shapes."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from alchemiser import indicators as ind
from alchemiser.backtest.engine import BacktestConfig, run_backtest
from alchemiser.errors import StrategyError
from alchemiser.models import Account, Asset
from alchemiser.portfolio.blend import blend
from alchemiser.portfolio.plan import RebalanceRules, plan_rebalance
from alchemiser.strategies.symphony.compiler import SymphonyErrors, compile_text
from alchemiser.strategies.symphony.evaluator import decide, evaluate_all
from alchemiser.strategies.symphony.printer import format_program
from alchemiser.strategies.symphony_strategy import SymphonyStrategy
from tests.helpers import history, random_history

NEW = {
    "percentage-price-oscillator": ("{:short-window 5 :long-window 20}", (5, 20)),
    "percentage-price-oscillator-signal": ("{:smooth-window 4 :short-window 5 :long-window 20}", (5, 20, 4)),
    "moving-average-convergence-divergence": ("{:long-window 20 :short-window 5}", (5, 20)),
    "moving-average-convergence-divergence-signal": ("{:short-window 5 :long-window 20 :smooth-window 4}", (5, 20, 4)),
    "upper-bollinger": ("{:window 10}", (10, 2.0)),
    "lower-bollinger": ("{:num-std-dev 1.5 :window 10}", (10, 1.5)),
}


def _fn(name: str, params: tuple[float, ...], closes: np.ndarray) -> np.ndarray:
    return ind.INDICATORS[name].fn(closes, *params)


@pytest.mark.parametrize("name", sorted(NEW))
def test_new_function_on_both_sides_of_a_comparison_decides_every_day(name: str) -> None:
    h = random_history(["SPY", "QQQ", "A", "B"], n=120, seed=5)
    text_map, params = NEW[name]
    text = f'(if (> ({name} "SPY" {text_map}) ({name} "QQQ" {text_map})) [(asset "A" nil)] [(asset "B" nil)])'
    matrix = evaluate_all(compile_text(text), h)
    lhs, rhs = _fn(name, params, h.closes["SPY"]), _fn(name, params, h.closes["QQQ"])
    defined = np.isfinite(lhs) & np.isfinite(rhs)
    np.testing.assert_array_equal(matrix.valid, defined)
    a = matrix.weights[:, matrix.symbols.index("A")]
    np.testing.assert_array_equal(a[defined] == 1.0, (lhs > rhs)[defined])
    decision = decide(compile_text(text), h)
    label = ind.INDICATORS[name].label
    assert decision.trace[0].text.startswith(f"{label}(SPY,")
    assert f"= {lhs[-1]:.2f} > {label}(QQQ," in decision.trace[0].text


@pytest.mark.parametrize("name", sorted(NEW))
def test_new_function_as_a_constant_comparison_and_a_filter_metric(name: str) -> None:
    h = random_history(["SPY", "QQQ", "TLT"], n=120, seed=9)
    text_map, params = NEW[name]
    assets = '[(asset "SPY") (asset "QQQ") (asset "TLT")]'
    program = compile_text(f"(filter ({name} {text_map}) (select-top 1) {assets})")
    scores = {s: _fn(name, params, h.closes[s])[-1] for s in ("SPY", "QQQ", "TLT")}
    assert decide(program, h).weights == {max(scores, key=lambda s: scores[s]): 1.0}
    program = compile_text(f'(if (< ({name} "SPY" {text_map}) 0) [(asset "QQQ")] [(asset "TLT")])')
    expected = "QQQ" if _fn(name, params, h.closes["SPY"])[-1] < 0 else "TLT"
    assert decide(program, h).weights == {expected: 1.0}


def test_new_function_ranks_groups_by_their_own_equity_curves() -> None:
    h = random_history(["SPY", "QQQ", "TLT", "BIL"], n=200, seed=2)
    text = """(filter (moving-average-convergence-divergence {:short-window 3 :long-window 10}) (select-bottom 1)
      [(group "G1" [(weight-equal [(asset "SPY") (asset "QQQ")])])
       (group "G2" [(if (> (lower-bollinger "TLT" {:window 5}) (current-price "TLT")) [(asset "TLT")] [(asset "BIL")])])])"""
    decision = decide(compile_text(text), h)
    assert decision.trace[0].text.startswith("filter MACD(·,3,10) select-bottom 1: group")
    assert sum(decision.weights.values()) == pytest.approx(1.0)


def test_aliases_compile_to_the_same_program_as_the_short_names() -> None:
    long_names = """(weight-equal [
      (if (> (relative-strength-index "SPY" {:window 10}) 70) [(asset "A")] [(asset "B")])
      (filter (standard-deviation-return {:window 5}) (select-top 1) [(asset "A") (asset "B")])
      (if (< (standard-deviation-price "SPY" {:window 5}) 2) [(asset "A")] [(asset "B")])])"""
    short = long_names.replace("relative-strength-index", "rsi").replace("standard-deviation-", "stdev-")
    h = random_history(["SPY", "A", "B"], n=60)
    assert format_program(compile_text(long_names)) == format_program(compile_text(short))
    assert decide(compile_text(long_names), h).weights == decide(compile_text(short), h).weights


BAD_PARAMS = [
    ("{:short-window 26 :long-window 12}", "below :long-window"),
    ("{:short-window 12 :long-window 12}", "below :long-window"),
    ("{:short-window 0 :long-window 12}", "whole number"),
    ("{:short-window 12}", "needs :long-window"),
    ("{:short-window 12 :long-window 26 :smooth 9}", "no parameter :smooth"),
    ("{:short-window 12 :short-window 13 :long-window 26}", "twice"),
    ("26", "parameter map"),
]


@pytest.mark.parametrize(("params", "message"), BAD_PARAMS)
def test_bad_oscillator_parameters_are_located_errors(params: str, message: str) -> None:
    text = f'(if (> (percentage-price-oscillator "SPY" {params}) 0) [(asset "A")] [(asset "B")])'
    with pytest.raises(SymphonyErrors) as info:
        compile_text(text, "bad.clj")
    [err] = info.value.errors
    assert message in err.message
    assert err.location is not None and err.location.line == 1 and err.location.col > 1


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ("{:window 10 :num-std-dev 0}", "positive number"),
        ("{:num-std-dev 2}", "needs :window"),
        ("{:window 0}", "whole"),
    ],
)
def test_bad_bollinger_parameters_are_located_errors(params: str, message: str) -> None:
    with pytest.raises(SymphonyErrors) as info:
        compile_text(f'(if (> (upper-bollinger "SPY" {params}) 0) [(asset "A")] [(asset "B")])', "bad.clj")
    assert message in info.value.errors[0].message


def test_bollinger_takes_a_bare_window_and_the_std_dev_spelling() -> None:
    h = random_history(["SPY", "A", "B"], n=40)
    a = compile_text('(if (> (upper-bollinger "SPY" 10) 50) [(asset "A")] [(asset "B")])')
    b = compile_text('(if (> (upper-bollinger "SPY" {:window 10 :std-dev 2}) 50) [(asset "A")] [(asset "B")])')
    assert format_program(a) == format_program(b)
    assert decide(a, h).weights == decide(b, h).weights


@pytest.mark.parametrize(
    ("name", "params", "needed"),
    [
        ("moving-average-convergence-divergence", "{:short-window 3 :long-window 30}", 30),
        ("percentage-price-oscillator-signal", "{:short-window 3 :long-window 30 :smooth-window 5}", 34),
        ("lower-bollinger", "{:window 30}", 30),
    ],
)
def test_too_little_history_fails_closed_naming_the_function(name: str, params: str, needed: int) -> None:
    text = f'(if (> ({name} "SPY" {params}) 0) [(asset "A")] [(asset "B")])'
    enough = random_history(["SPY", "A", "B"], n=needed)
    decide(compile_text(text), enough)
    short = random_history(["SPY", "A", "B"], n=needed - 1)
    with pytest.raises(StrategyError) as info:
        decide(compile_text(text, "s.clj"), short)
    message = str(info.value)
    assert message.startswith("s.clj:1:8: not enough history for " + name)
    assert f"needs {needed} closes" in message and "on SPY" in message


# -- empty: its share is cash ----------------------------------------------------------------------------------
EMPTY_SOMETIMES = '(weight-equal [(asset "A") (if (> (current-price "SPY") 100) [(asset "B")] [(empty)])])'


def _empty_history() -> object:
    spy = [90.0, 110.0, 90.0, 110.0, 120.0, 80.0, 130.0, 140.0]
    return history({"SPY": spy, "A": [10.0 + i for i in range(8)], "B": [20.0] * 8})


def test_empty_leaves_its_share_in_cash_and_says_so() -> None:
    h = _empty_history()
    decision = decide(compile_text(EMPTY_SOMETIMES, "e.clj"), h)  # type: ignore[arg-type]
    assert decision.weights == {"A": 0.5, "B": 0.5}
    assert decision.cash == 0.0
    on_a_cash_day = h.until(h.dates[5].date())  # type: ignore[attr-defined]
    decision = decide(compile_text(EMPTY_SOMETIMES, "e.clj"), on_a_cash_day)
    assert decision.weights == {"A": 0.5}
    assert decision.cash == pytest.approx(0.5)
    assert any(step.kind == "empty" and "50.0% stays in cash" in step.text for step in decision.trace)
    only_empty = decide(compile_text("(empty)"), h)  # type: ignore[arg-type]
    assert only_empty.weights == {} and only_empty.cash == 1.0


def test_empty_cash_is_kept_by_blend_and_plan() -> None:
    target = blend([({"A": 0.5}, 0.5), ({"B": 1.0}, 0.5)])
    assert target == {"A": 0.25, "B": 0.5}  # 25% of the account stays in cash, not spread over A and B
    account = Account("acc", Decimal(10000), Decimal(10000), Decimal(10000))
    assets = {s: Asset(s, True, True) for s in ("A", "B")}
    prices = {"A": Decimal(10), "B": Decimal(20)}
    plan = plan_rebalance(target, account, [], prices, assets, RebalanceRules(cash_buffer_pct=0))
    buys = {item.symbol: item.trade_value for item in plan.items}
    assert buys == {"A": Decimal(2500), "B": Decimal(5000)}


def test_a_symphony_that_is_empty_on_some_days_holds_cash_in_a_backtest() -> None:
    h = _empty_history()
    strategy = SymphonyStrategy(compile_text(EMPTY_SOMETIMES))
    result = run_backtest([(strategy, 1.0)], h, BacktestConfig(capital=Decimal(1000)))  # type: ignore[arg-type]
    spy = h.closes["SPY"]  # type: ignore[attr-defined]
    for day, price in enumerate(spy):
        cash_share = result.cash[day] / result.equity[day]
        assert cash_share == pytest.approx(0.5 if price <= 100 else 0.0, abs=0.01), day
    matrix = strategy.evaluate_all(h)  # type: ignore[arg-type]
    np.testing.assert_allclose(matrix.weights.sum(axis=1), np.where(spy > 100, 1.0, 0.5))


def test_empty_in_a_filter_and_in_inverse_volatility() -> None:
    h = random_history(["SPY", "QQQ"], n=60, seed=4)
    # an empty child earns nothing: a flat curve, ranked like any child; chosen, its share is cash
    program = compile_text(
        '(filter (cumulative-return {:window 5}) (select-top 2) [(asset "SPY") (empty) (asset "QQQ")])'
    )
    decision = decide(program, h)
    assert sum(decision.weights.values()) + decision.cash == pytest.approx(1.0)
    assert format_program(compile_text(format_program(program))) == format_program(program)
    # inverse volatility: an empty child has zero volatility, so like any riskless child it takes everything
    ivol = decide(compile_text('(weight-inverse-volatility 5 [(asset "SPY") (empty)])'), h)
    assert ivol.weights == {} and ivol.cash == 1.0


# -- the shapes real exports take -------------------------------------------------------------------------------
EXPORT = """\ufeff;; exported from Composer
(defsymphony
 "Real export"
 {:rebalance-corridor-width 0.05, :asset-class "EQUITIES", :rebalance-frequency :none}
 (weight-equal
  [(weight-specified
    1
    (if
     (> (relative-strength-index "EQUITIES::SPY//USD" {:window 10}) 80)
     [(asset "QID" nil)]
     [(group "Safe" [(weight-equal [(asset "EQUITIES::BIL//USD" "SPDR Bloomberg 1-3 Month T-Bill ETF")])])]))]))"""
EXPORT += "   \n  \t\n;; trailing comment\n"


def test_real_export_shapes_are_accepted() -> None:
    program = compile_text(EXPORT, "real.clj")
    assert program.name == "Real export"
    assert program.universe == {"SPY", "QID", "BIL"}
    assert program.settings["rebalance-corridor-width"] == 0.05
    assert program.settings["rebalance-frequency"] == "none"
    h = random_history(["SPY", "QID", "BIL"], n=30)
    assert sum(decide(program, h).weights.values()) == pytest.approx(1.0)


def test_a_byte_order_mark_is_not_an_error_and_locations_stay_right() -> None:
    with pytest.raises(SymphonyErrors) as info:
        compile_text("\ufeff(weight-equal [(bogus)])", "bom.clj")
    [err] = info.value.errors
    assert "\ufeff" not in str(err)
    assert err.location is not None and (err.location.line, err.location.col) == (1, 16)


# -- hardening: a filter that cannot score a group names the innermost cause -----------------------------------
DEEP = """(defsymphony "Deep" {}
 (filter (cumulative-return {:window 10}) (select-top 1)
  [(group "Safe" [(asset "BIL")])
   (group "Risky" [(weight-equal [(if (> (current-price "SPY") (moving-average-price "SPY" {:window 500}))
                                     [(asset "QQQ")] [(asset "TLT")])])])]))"""


def test_an_unscorable_group_names_the_innermost_cause_and_the_strategy() -> None:
    h = random_history(["SPY", "QQQ", "TLT", "BIL"], n=505)
    with pytest.raises(StrategyError) as info:
        decide(compile_text(DEEP, "deep.clj"), h)
    message = str(info.value)
    assert message.startswith("deep.clj:2:2: cannot score group 'Risky' by cumulative-return window 10")
    # the group last failed on day 498 (the 500-day average needs 500 closes): that day is named
    assert f"group 'Risky' could not decide on {h.dates[498].date()}" in message
    assert "deep.clj:4:64: not enough history for moving-average-price window 500 on SPY (needs 500 closes)" in message
    assert message.endswith("(strategy 'Deep')")
    assert decide(compile_text(DEEP, "deep.clj"), random_history(["SPY", "QQQ", "TLT", "BIL"], n=520)).weights


def test_the_cause_is_followed_through_nested_filters_and_inverse_volatility() -> None:
    inner = DEEP.split("\n", 1)[1].rstrip(")") + ")"  # the filter, without defsymphony
    text = f"""(defsymphony "Nested" {{}}
 (weight-inverse-volatility 5 [(asset "BIL") (group "Outer" [{inner}])]))"""
    h = random_history(["SPY", "QQQ", "TLT", "BIL"], n=505)
    with pytest.raises(StrategyError) as info:
        decide(compile_text(text, "n.clj"), h)
    message = str(info.value)
    assert message.startswith("n.clj:2:2: cannot score group 'Outer' by stdev-return window 5")
    assert "cannot score group 'Risky' by cumulative-return window 10" in message
    assert "not enough history for moving-average-price window 500 on SPY" in message
    assert message.endswith("(strategy 'Nested')")


def test_the_benchmark_export_uses_every_function_and_evaluates() -> None:
    from alchemiser.strategies.symphony.program import FilterNode, IfNode
    from tests.strategies.big_export import big_export

    tickers = ["SPY", "QQQ", "TLT", "BIL", "GLD", "UUP", "XLE", "XLK", "SOXL"]
    program = compile_text(big_export(60_000, tickers, variants=20), "big.clj")
    used = set()
    for node in program.nodes:
        if isinstance(node, IfNode):
            used |= {o.indicator for o in (node.condition.lhs, node.condition.rhs) if not hasattr(o, "value")}
        elif isinstance(node, FilterNode):
            used.add(node.metric.indicator)
    assert used == set(ind.INDICATORS)
    matrix = evaluate_all(program, random_history(tickers, n=300, seed=8))
    assert matrix.valid[-1]
    assert np.all(matrix.weights.sum(axis=1)[matrix.valid] <= 1.0 + 1e-9)
