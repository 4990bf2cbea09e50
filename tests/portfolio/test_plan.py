"""plan_rebalance: a pure function, checked case by case."""

from __future__ import annotations

from decimal import Decimal

import pytest

from alchemiser.models import Account, Asset, Position
from alchemiser.portfolio.plan import RebalanceRules, plan_rebalance

D = Decimal


def account(equity: str, cash: str) -> Account:
    return Account("acc", D(equity), D(cash), D(cash))


def pos(symbol: str, qty: str, price: str) -> Position:
    return Position(symbol, D(qty), D(price), D(price), D(qty) * D(price))


ASSETS = {s: Asset(s, True, s != "WHOLE") for s in ("SPY", "QQQ", "BIL", "WHOLE", "OLD")}
NO_BUFFER = RebalanceRules(cash_buffer_pct=0, min_trade_usd=D(10))


def by_symbol(plan):  # type: ignore[no-untyped-def]
    return {i.symbol: i for i in plan.items}


def test_rotation_exits_what_is_no_longer_wanted_and_buys_in_dollars() -> None:
    plan = plan_rebalance({"QQQ": 0.6, "BIL": 0.4}, account("10000", "0"), [pos("SPY", "20", "500")], {"QQQ": D(400), "BIL": D(90)}, ASSETS, NO_BUFFER)
    items = by_symbol(plan)
    assert items["SPY"].action == "exit" and items["SPY"].qty == D(20)
    assert items["QQQ"].action == "buy" and items["QQQ"].trade_value == D("6000.00") and items["QQQ"].qty is None
    assert items["BIL"].trade_value == D("4000.00")
    assert [i.symbol for i in plan.sells] == ["SPY"] and [i.symbol for i in plan.buys] == ["BIL", "QQQ"]


def test_trim_is_capped_and_a_near_total_trim_becomes_a_full_exit() -> None:
    plan = plan_rebalance({"SPY": 0.5, "BIL": 0.5}, account("10000", "0"), [pos("SPY", "20", "500")], {"BIL": D(90)}, ASSETS, NO_BUFFER)
    spy = by_symbol(plan)["SPY"]
    assert spy.action == "sell" and spy.qty == D(10) and spy.trade_value == D("-5000.00")
    plan = plan_rebalance({"SPY": 0.005, "BIL": 0.995}, account("10000", "0"), [pos("SPY", "20", "500")], {"BIL": D(90)}, ASSETS, NO_BUFFER)
    assert by_symbol(plan)["SPY"].action == "exit"


def test_minimum_trade_and_drift_band_hold() -> None:
    positions = [pos("SPY", "10", "500"), pos("BIL", "55.5", "90")]
    acc = account("10000", "5")
    plan = plan_rebalance({"SPY": 0.5, "BIL": 0.5}, acc, positions, {}, ASSETS, NO_BUFFER)
    items = by_symbol(plan)
    assert items["SPY"].action == "hold" and "minimum" in items["SPY"].reason
    banded = RebalanceRules(cash_buffer_pct=0, min_trade_usd=D(0), drift_band_pct=1.0)
    plan = plan_rebalance({"SPY": 0.505, "BIL": 0.495}, acc, positions, {}, ASSETS, banded)
    assert all(i.action == "hold" for i in plan.items)
    assert plan.is_empty


def test_cash_buffer_is_kept() -> None:
    plan = plan_rebalance({"SPY": 1.0}, account("10000", "10000"), [], {"SPY": D(500)}, ASSETS, RebalanceRules(cash_buffer_pct=0.5))
    assert plan.buffer == D("50.00")
    assert by_symbol(plan)["SPY"].trade_value == D("9950.00")


def test_non_fractionable_buys_whole_shares() -> None:
    plan = plan_rebalance({"WHOLE": 1.0}, account("1000", "1000"), [], {"WHOLE": D(300)}, ASSETS, NO_BUFFER)
    item = by_symbol(plan)["WHOLE"]
    assert item.action == "buy" and item.qty == D(3) and item.trade_value == D("900.00")
    plan = plan_rebalance({"WHOLE": 1.0}, account("200", "200"), [], {"WHOLE": D(300)}, ASSETS, NO_BUFFER)
    assert by_symbol(plan)["WHOLE"].action == "hold"


def test_untradable_and_short_positions_are_left_alone() -> None:
    assets = {**ASSETS, "OLD": Asset("OLD", False, True)}
    plan = plan_rebalance({"SPY": 1.0}, account("10000", "0"), [pos("OLD", "10", "1000")], {"SPY": D(500)}, assets, NO_BUFFER)
    assert by_symbol(plan)["OLD"].action == "hold" and "not tradable" in by_symbol(plan)["OLD"].reason


def test_deterministic() -> None:
    args = ({"QQQ": 0.3, "SPY": 0.3, "BIL": 0.4}, account("10000", "10000"), [], {"QQQ": D(400), "SPY": D(500), "BIL": D(90)}, ASSETS)
    assert plan_rebalance(*args) == plan_rebalance(*args)


@pytest.mark.parametrize("weight", [0.0, 0.25, 0.5, 1.0])
def test_after_the_plan_the_weights_would_match(weight: float) -> None:
    plan = plan_rebalance({"SPY": weight, "BIL": 1 - weight}, account("10000", "10000"), [], {"SPY": D(500), "BIL": D(90)}, ASSETS, NO_BUFFER)
    spent = sum((i.trade_value for i in plan.buys), D(0))
    assert spent <= D(10000)
    for item in plan.buys:
        assert float(item.trade_value) / 10000 == pytest.approx(item.target_weight, abs=1e-4)
