"""The sell-then-buy executor against the real SimBroker and a real SQLite ledger (no mocks)."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from alchemiser.data.sample import SampleMarket
from alchemiser.execution.executor import ExecutionResult, Executor
from alchemiser.execution.rules import ExecutionRules
from alchemiser.execution.sim import SimBroker, SimConfig
from alchemiser.ledger import Ledger
from alchemiser.models import OrderRequest, OrderStatus, OrderType, OrderUpdate, Side
from alchemiser.portfolio.plan import RebalanceRules, TradePlan, plan_rebalance

D = Decimal
END = dt.date(2025, 6, 30)
FAST = ExecutionRules(limit_timeout_s=0.5, sell_timeout_s=5, poll_interval_s=0.5, quote_timeout_s=1)


@pytest.fixture
def broker(market: SampleMarket, tmp_path: Path) -> Iterator[SimBroker]:
    with SimBroker(market, tmp_path / "sim.sqlite", SimConfig(non_fractionable=["UVXY"]), as_of=END) as b:
        yield b


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger(tmp_path / "ledger.sqlite") as led:
        yield led


class Run:
    """One rebalance toward `target`, exactly as the runner does it (reconcile, plan, execute)."""

    count = 0

    def __init__(self, broker: SimBroker, ledger: Ledger, rules: ExecutionRules = FAST, day: str = "20250630") -> None:
        Run.count += 1
        self.run_id = f"test-{Run.count}"
        self.broker, self.ledger = broker, ledger
        ledger.start_run(self.run_id, mode="sim", broker="sim", trading_day=END, config_digest="t")
        self.executor = Executor(broker, ledger, self.run_id, day, rules)

    def __call__(self, target: dict[str, float], rebalance: RebalanceRules | None = None) -> tuple[TradePlan, ExecutionResult]:
        try:
            self.executor.reconcile()
            account, positions = self.broker.get_account(), self.broker.get_positions()
            symbols = set(target) | {p.symbol for p in positions}
            prices = {s: self.broker.get_latest_quote(s).mid for s in symbols}
            plan = plan_rebalance(target, account, positions, prices, self.broker.get_assets(symbols), rebalance)
            result = self.executor.execute(plan, positions)
        finally:
            self.executor.close()
        self.broker.wait_idle()
        return plan, result


def weights(broker: SimBroker) -> tuple[dict[str, float], float]:
    account = broker.get_account()
    held = {p.symbol: float(p.market_value / account.equity) for p in broker.get_positions()}
    return held, float(account.cash / account.equity)


def test_rotation_sells_before_it_buys_and_lands_on_target(broker: SimBroker, ledger: Ledger) -> None:
    Run(broker, ledger)({"SPY": 1.0})
    held, _ = weights(broker)
    assert held.keys() == {"SPY"}
    target = {"QQQ": 0.5, "BIL": 0.3, "UVXY": 0.2}
    run = Run(broker, ledger)
    plan, result = run(target)
    assert [i.symbol for i in plan.sells] == ["SPY"] and plan.sells[0].action == "exit"
    assert result.status == "ok", result.warnings
    orders = ledger.orders(run.run_id)
    sells = [o for o in orders if o.side == Side.SELL]
    buys = [o for o in orders if o.side == Side.BUY]
    assert len(sells) == 1 and sells[0].status == "filled"
    last_sell_event = max(e["at"] for o in sells for e in ledger.events(o.client_order_id))
    assert all(o.intent_at > last_sell_event for o in buys), "a buy was sent before the sell had filled"
    held, cash = weights(broker)
    assert held.keys() == set(target)
    for symbol, weight in target.items():
        assert abs(held[symbol] - weight) <= 0.0025, (symbol, held[symbol])
    assert cash <= 0.005
    uvxy = next(p for p in broker.get_positions() if p.symbol == "UVXY")
    assert uvxy.qty == uvxy.qty.to_integral_value(), "a non-fractionable asset must be bought in whole shares"


def test_a_second_run_the_same_day_places_no_orders(broker: SimBroker, ledger: Ledger) -> None:
    target = {"QQQ": 0.6, "TLT": 0.4}
    Run(broker, ledger)(target)
    before = len(broker.list_orders("all"))
    plan, result = Run(broker, ledger)(target)
    assert plan.is_empty and result.orders == []
    assert len(broker.list_orders("all")) == before


def test_partial_fill_then_timeout_buys_only_the_remainder(broker: SimBroker, ledger: Ledger) -> None:
    broker.script("QQQ", fill_fraction=0.4)
    run = Run(broker, ledger)
    _, result = run({"QQQ": 1.0})
    qqq = [o for o in ledger.orders(run.run_id) if o.symbol == "QQQ"]
    assert [o.type for o in qqq] == [OrderType.LIMIT, OrderType.MARKET]
    limit, market_order = qqq
    assert limit.status == "canceled" and limit.filled_qty > 0
    assert market_order.qty == limit.qty - limit.filled_qty  # only the unfilled remainder
    assert market_order.status == "filled"
    position = next(p for p in broker.get_positions() if p.symbol == "QQQ")
    assert position.qty == limit.qty  # bought once in total, never the full amount again
    assert result.limit_fallbacks == 1


def test_reprice_mode_re_prices_the_remainder(broker: SimBroker, ledger: Ledger) -> None:
    broker.script("QQQ", stall=True)
    run = Run(broker, ledger, FAST.model_copy(update={"on_limit_timeout": "reprice"}))
    run({"QQQ": 1.0})
    qqq = [o for o in ledger.orders(run.run_id) if o.symbol == "QQQ"]
    assert [(o.type, o.status) for o in qqq] == [(OrderType.LIMIT, "canceled"), (OrderType.LIMIT, "filled")]
    assert qqq[1].qty == qqq[0].qty


def test_a_stale_open_order_is_cancelled_at_start(broker: SimBroker, ledger: Ledger) -> None:
    broker.script("SPY", stall=True)
    stale = broker.submit_order(OrderRequest("SPY", Side.BUY, OrderType.LIMIT, "alc-20250629-SPY-buy-1", qty=D(1), limit_price=D(1)))
    other = broker.submit_order(OrderRequest("TLT", Side.BUY, OrderType.LIMIT, "manual-1", qty=D(1), limit_price=D(1)))
    broker.wait_idle()
    run = Run(broker, ledger)
    _, result = run({"BIL": 1.0})
    assert broker.get_order(stale.id).status == OrderStatus.CANCELED
    assert broker.get_order(other.id).status == OrderStatus.NEW  # not ours: left alone
    assert result.status == "ok"


def test_selling_more_than_held_is_capped(broker: SimBroker, ledger: Ledger) -> None:
    Run(broker, ledger)({"SPY": 1.0})
    positions = broker.get_positions()
    account = broker.get_account()
    plan = plan_rebalance({"SPY": 0.5, "BIL": 0.5}, account, positions, {"BIL": broker.get_latest_quote("BIL").mid}, broker.get_assets(["SPY", "BIL"]))
    (trim,) = plan.sells
    inflated = [p.__class__(p.symbol, p.qty * 3, p.avg_entry_price, p.current_price, p.market_value * 3) for p in positions]
    bigger = TradePlan(plan.equity, plan.cash, plan.buffer, [replace(trim, qty=trim.current_qty * 2), *plan.buys])
    run = Run(broker, ledger)
    executor = run.executor
    executor.execute(bigger, positions)
    executor.close()
    broker.wait_idle()
    sell = next(o for o in ledger.orders(run.run_id) if o.side == Side.SELL)
    assert sell.qty == positions[0].qty  # capped at what is held, though the plan asked for twice that
    assert inflated[0].qty > sell.qty


def test_nothing_is_sold_that_is_not_held(broker: SimBroker, ledger: Ledger) -> None:
    account = broker.get_account()
    plan = plan_rebalance({"BIL": 1.0}, account, [], {"BIL": D(90)}, broker.get_assets(["BIL"]))
    ghost = replace(plan.items[0], symbol="SPY", action="exit")
    run = Run(broker, ledger)
    result = run.executor.execute(TradePlan(plan.equity, plan.cash, plan.buffer, [ghost]), [])
    run.executor.close()
    assert result.orders == [] and any("no position" in w for w in result.warnings)


def test_filled_without_average_price_is_re_read(broker: SimBroker, ledger: Ledger) -> None:
    broker.script("TLT", missing_avg_price=True)
    run = Run(broker, ledger, FAST.model_copy(update={"buy_mode": "notional"}))
    _, result = run({"TLT": 1.0})
    (order,) = result.orders
    assert order.status == "filled" and order.filled_avg_price is not None
    assert ledger.order(order.client_order_id).filled_avg_price is not None  # type: ignore[union-attr]


def test_client_ids_are_deterministic_and_never_reused(broker: SimBroker, ledger: Ledger) -> None:
    run = Run(broker, ledger)
    run({"SPY": 1.0})
    ids = [o.client_order_id for o in ledger.orders(run.run_id)]
    assert ids == ["alc-20250630-SPY-buy-1"]
    second = Run(broker, ledger)
    second({"SPY": 0.5, "BIL": 0.5})
    new_ids = sorted(o.client_order_id for o in ledger.orders(second.run_id))
    assert new_ids == ["alc-20250630-BIL-buy-1", "alc-20250630-SPY-sell-1"]


def test_a_resubmitted_client_id_adopts_the_existing_order(broker: SimBroker, ledger: Ledger) -> None:
    first = broker.submit_order(OrderRequest("BIL", Side.BUY, OrderType.MARKET, "alc-20250630-BIL-buy-1", qty=D(2)))
    broker.wait_idle()
    run = Run(broker, ledger)
    order = run.executor._submit(OrderRequest("BIL", Side.BUY, OrderType.MARKET, "alc-20250630-BIL-buy-1", qty=D(2)), "buy")
    run.executor.close()
    assert order is not None and order.id == first.id
    assert len(broker.list_orders("all")) == 1


def test_failed_sells_block_the_buys(broker: SimBroker, ledger: Ledger) -> None:
    Run(broker, ledger)({"SPY": 1.0})
    broker.script("SPY", reject="simulated outage")
    _, result = Run(broker, ledger)({"SPY": 0.5, "BIL": 0.5})
    assert result.status == "blocked"
    assert not any(p.symbol == "BIL" for p in broker.get_positions())


def test_sells_wait_on_events_with_latency(market: SampleMarket, tmp_path: Path, ledger: Ledger) -> None:
    config = SimConfig(ack_latency_ms=30, fill_latency_ms=(50, 150), partial_fill_probability=0.5)
    with SimBroker(market, tmp_path / "slow.sqlite", config, as_of=END) as slow:
        events: list[OrderUpdate] = []
        lock = threading.Lock()

        def listen(update: OrderUpdate) -> None:
            with lock:
                events.append(update)

        slow.add_order_listener(listen)
        Run(slow, ledger)({"SPY": 0.5, "QQQ": 0.5})
        _, result = Run(slow, ledger)({"TLT": 0.5, "GLD": 0.5})
        assert result.status == "ok"
        kinds = {str(e.event) for e in events}
        assert {"new", "partial_fill", "fill"} <= kinds  # the executor really waited through partial fills
        held, cash = weights(slow)
        assert held.keys() == {"TLT", "GLD"} and cash <= 0.005
        assert slow.subscriptions == set()  # every quote subscription was released
