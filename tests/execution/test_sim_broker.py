"""SimBroker: the simulated exchange must behave like Alpaca where the executor depends on it.

Everything runs against the real SimBroker on the offline sample market. Waiting is done on events and
conditions with timeouts (never sleeps), because fills arrive asynchronously on the dispatcher thread.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from decimal import ROUND_DOWN, Decimal
from pathlib import Path

import pytest

from alchemiser.data.sample import SampleMarket
from alchemiser.execution.broker import DuplicateClientOrderId, NotFound, OrderRejected
from alchemiser.execution.sim import SimBroker, SimConfig
from alchemiser.market_calendar import NY
from alchemiser.models import (
    FINAL_STATUSES,
    Order,
    OrderEvent,
    OrderRequest,
    OrderStatus,
    OrderType,
    OrderUpdate,
    Quote,
    Side,
)

TIMEOUT = 5.0
D = Decimal


class Recorder:
    """An order listener that lets a test wait until a condition over the events holds."""

    def __init__(self) -> None:
        self.events: list[OrderUpdate] = []
        self.threads: set[str] = set()
        self._cond = threading.Condition()

    def __call__(self, update: OrderUpdate) -> None:
        with self._cond:
            self.events.append(update)
            self.threads.add(threading.current_thread().name)
            self._cond.notify_all()

    def of(self, order_id: str) -> list[OrderUpdate]:
        with self._cond:
            return [e for e in self.events if e.order.id == order_id]

    def wait(self, predicate: Callable[[], bool]) -> None:
        with self._cond:
            assert self._cond.wait_for(predicate, TIMEOUT), f"timed out; events so far: {self.events}"

    def wait_event(self, order_id: str, *events: OrderEvent) -> list[OrderUpdate]:
        self.wait(lambda: any(e.order.id == order_id and e.event in events for e in self.events))
        return self.of(order_id)

    def wait_final(self, order_id: str) -> list[OrderUpdate]:
        self.wait(lambda: any(e.order.id == order_id and e.order.status in FINAL_STATUSES for e in self.events))
        return self.of(order_id)


def make(market: SampleMarket, tmp_path: Path | None = None, **config: object) -> tuple[SimBroker, Recorder]:
    broker = SimBroker(
        market,
        state_path=None if tmp_path is None else tmp_path / "sim.sqlite",
        config=SimConfig.model_validate(config),
    )
    recorder = Recorder()
    broker.add_order_listener(recorder)
    return broker, recorder


@pytest.fixture
def sim(market: SampleMarket, tmp_path: Path) -> Iterator[tuple[SimBroker, Recorder]]:
    broker, recorder = make(market, tmp_path)
    yield broker, recorder
    broker.close()


def market_buy(cid: str, symbol: str = "SPY", qty: str | None = "2", notional: str | None = None) -> OrderRequest:
    return OrderRequest(
        symbol,
        Side.BUY,
        OrderType.MARKET,
        cid,
        qty=None if qty is None or notional is not None else D(qty),
        notional=None if notional is None else D(notional),
    )


def limit(cid: str, side: Side, qty: str, price: str, symbol: str = "SPY") -> OrderRequest:
    return OrderRequest(symbol, side, OrderType.LIMIT, cid, qty=D(qty), limit_price=D(price))


def kinds(events: list[OrderUpdate]) -> list[OrderEvent]:
    return [e.event for e in events]


def buy_and_wait(broker: SimBroker, rec: Recorder, request: OrderRequest) -> Order:
    order = broker.submit_order(request)
    rec.wait_final(order.id)
    return broker.get_order(order.id)


# ----------------------------------------------------------------------------- quotes and reference prices


def test_quote_is_mid_plus_minus_half_spread_in_cents(sim: tuple[SimBroker, Recorder], market: SampleMarket) -> None:
    broker, _ = sim
    close = float(market.bars("SPY")["close"].iloc[-1])
    q = broker.get_latest_quote("spy")
    assert q.symbol == "SPY"
    assert abs(float(q.mid) - close) < 0.01
    assert q.bid == q.bid.quantize(D("0.01")) and q.ask == q.ask.quantize(D("0.01"))
    assert abs(float(q.spread) / close * 1e4 - 5.0) < 0.5

    broker.set_price("SPY", 100)
    q = broker.get_latest_quote("SPY")
    assert (q.bid, q.ask) == (D("99.98"), D("100.03"))  # 100 × (1 ∓ 0.00025), half-up to cents

    broker.set_price("SPY", D("0.02"))  # a spread narrower than a cent still leaves ask ≥ bid + 0.01
    q = broker.get_latest_quote("SPY")
    assert q.ask - q.bid >= D("0.01")


def test_as_of_picks_the_last_close_on_or_before_that_date(market: SampleMarket) -> None:
    as_of = dt.date(2025, 6, 28)  # a Saturday: the Friday close applies
    with SimBroker(market, as_of=as_of) as broker:
        friday = float(market.bars("QQQ", end=dt.date(2025, 6, 27))["close"].iloc[-1])
        assert abs(float(broker.get_latest_quote("QQQ").mid) - friday) < 0.01


def test_unknown_symbol_is_not_found_and_its_orders_are_rejected(sim: tuple[SimBroker, Recorder]) -> None:
    broker, _ = sim
    with pytest.raises(NotFound):
        broker.get_latest_quote("NOPE")
    with pytest.raises(NotFound):
        broker.get_asset("NOPE")
    assert broker.get_assets(["NOPE", "SPY"]).keys() == {"SPY"}
    with pytest.raises(OrderRejected) as err:
        broker.submit_order(market_buy("x", "NOPE"))
    assert err.value.code == 422
    assert broker.list_orders("all") == []


def test_assets_report_fractionability(market: SampleMarket) -> None:
    with SimBroker(market, config=SimConfig(non_fractionable=["tqqq"])) as broker:
        assert broker.get_asset("TQQQ").fractionable is False
        assert broker.get_asset("TQQQ").tradable is True
        assert broker.get_asset("SPY").fractionable is True


# ----------------------------------------------------------------------------- lifecycles


def test_market_buy_lifecycle_fills_at_the_ask_and_books_cash_and_position(
    sim: tuple[SimBroker, Recorder],
) -> None:
    broker, rec = sim
    broker.set_price("SPY", 400)
    ask = broker.get_latest_quote("SPY").ask
    order = broker.submit_order(market_buy("b1", qty="3"))
    assert order.status == OrderStatus.PENDING_NEW
    events = rec.wait_final(order.id)
    assert kinds(events) == [OrderEvent.NEW, OrderEvent.FILL]
    fill = events[-1]
    assert (fill.price, fill.qty) == (ask, D(3))
    assert fill.order.status == OrderStatus.FILLED
    assert (fill.order.filled_qty, fill.order.filled_avg_price) == (D(3), ask)
    assert rec.threads == {"sim-broker-dispatcher"}

    account = broker.get_account()
    assert account.cash == D(100000) - 3 * ask
    assert account.equity == account.cash + 3 * D(400)
    [pos] = broker.get_positions()
    assert (pos.symbol, pos.qty, pos.avg_entry_price, pos.current_price) == ("SPY", D(3), ask, D(400))
    assert pos.market_value == D(1200)


def test_market_sell_fills_at_the_bid_and_average_entry_survives(sim: tuple[SimBroker, Recorder]) -> None:
    broker, rec = sim
    broker.set_price("SPY", 400)
    first_ask = broker.get_latest_quote("SPY").ask
    buy_and_wait(broker, rec, market_buy("b1", qty="2"))
    broker.set_price("SPY", 410)
    second_ask = broker.get_latest_quote("SPY").ask
    buy_and_wait(broker, rec, market_buy("b2", qty="2"))
    [pos] = broker.get_positions()
    assert pos.avg_entry_price == (first_ask + second_ask) / 2

    bid = broker.get_latest_quote("SPY").bid
    cash_before = broker.get_account().cash
    sell = broker.submit_order(OrderRequest("SPY", Side.SELL, OrderType.MARKET, "s1", qty=D(3)))
    events = rec.wait_final(sell.id)
    assert kinds(events) == [OrderEvent.NEW, OrderEvent.FILL]
    assert events[-1].price == bid
    assert events[-1].extra["position_qty"] == "1"
    assert broker.get_account().cash == cash_before + 3 * bid
    [pos] = broker.get_positions()
    assert pos.qty == D(1) and pos.avg_entry_price == (first_ask + second_ask) / 2


def test_notional_buy_gets_qty_rounded_down_to_nine_decimals(sim: tuple[SimBroker, Recorder]) -> None:
    broker, rec = sim
    broker.set_price("SPY", 333)
    ask = broker.get_latest_quote("SPY").ask
    order = broker.submit_order(market_buy("n1", notional="1000"))
    assert order.qty is None and order.notional == D(1000)
    events = rec.wait_final(order.id)
    assert kinds(events) == [OrderEvent.NEW, OrderEvent.FILL]
    expected = (D(1000) / ask).quantize(D("1e-9"), rounding=ROUND_DOWN)
    assert events[-1].qty == expected
    assert events[-1].order.filled_qty == expected
    assert expected * ask <= D(1000)
    assert broker.get_account().cash == D(100000) - expected * ask


def test_marketable_limits_fill_at_the_touch_not_at_the_limit(sim: tuple[SimBroker, Recorder]) -> None:
    broker, rec = sim
    broker.set_price("SPY", 200)
    q = broker.get_latest_quote("SPY")
    buy = broker.submit_order(limit("l1", Side.BUY, "5", "210.00"))
    events = rec.wait_final(buy.id)
    assert kinds(events) == [OrderEvent.NEW, OrderEvent.FILL]
    assert events[-1].price == q.ask
    assert broker.get_account().cash == D(100000) - 5 * q.ask

    sell = broker.submit_order(limit("l2", Side.SELL, "5", "190.00"))
    events = rec.wait_final(sell.id)
    assert kinds(events) == [OrderEvent.NEW, OrderEvent.FILL]
    assert events[-1].price == q.bid
    assert broker.get_positions() == []


def test_resting_limit_waits_holds_buying_power_and_fills_when_price_crosses(
    sim: tuple[SimBroker, Recorder],
) -> None:
    broker, rec = sim
    broker.set_price("SPY", 500)
    order = broker.submit_order(limit("r1", Side.BUY, "10", "480.00"))
    rec.wait_event(order.id, OrderEvent.NEW)
    assert broker.wait_idle(TIMEOUT)
    assert kinds(rec.of(order.id)) == [OrderEvent.NEW]
    assert broker.get_order(order.id).status == OrderStatus.NEW
    assert [o.id for o in broker.list_orders("open")] == [order.id]
    account = broker.get_account()
    assert account.cash == D(100000)
    assert account.buying_power == D(100000) - 10 * D(480)

    broker.set_price("SPY", 485)  # ask 485.12: still above the limit
    assert broker.wait_idle(TIMEOUT)
    assert kinds(rec.of(order.id)) == [OrderEvent.NEW]

    broker.set_price("SPY", 470)
    ask = broker.get_latest_quote("SPY").ask
    events = rec.wait_final(order.id)
    assert kinds(events) == [OrderEvent.NEW, OrderEvent.FILL]
    assert events[-1].price == ask and ask <= D(480)
    account = broker.get_account()
    assert account.buying_power == account.cash == D(100000) - 10 * ask


def test_resting_sell_limit_fills_when_price_rises(sim: tuple[SimBroker, Recorder]) -> None:
    broker, rec = sim
    broker.set_price("QQQ", 100)
    buy_and_wait(broker, rec, market_buy("b", "QQQ", qty="4"))
    sell = broker.submit_order(limit("s", Side.SELL, "4", "110.00", "QQQ"))
    rec.wait_event(sell.id, OrderEvent.NEW)
    assert broker.wait_idle(TIMEOUT)
    assert broker.get_order(sell.id).status == OrderStatus.NEW
    broker.set_price("QQQ", 111)
    events = rec.wait_final(sell.id)
    assert events[-1].price == broker.get_latest_quote("QQQ").bid >= D(110)
    assert broker.get_positions() == []


def test_partial_fills_report_each_execution_and_cumulative_average(market: SampleMarket, tmp_path: Path) -> None:
    broker, rec = make(market, tmp_path, partial_fill_probability=1.0)
    with broker:
        broker.set_price("SPY", 100)
        ask = broker.get_latest_quote("SPY").ask
        order = broker.submit_order(market_buy("p1", qty="10"))
        events = rec.wait_final(order.id)
        fills = events[1:]
        assert events[0].event == OrderEvent.NEW
        assert 2 <= len(fills) <= 3
        assert all(e.event == OrderEvent.PARTIAL_FILL for e in fills[:-1])
        assert all(e.order.status == OrderStatus.PARTIALLY_FILLED for e in fills[:-1])
        assert fills[-1].event == OrderEvent.FILL and fills[-1].order.status == OrderStatus.FILLED
        running = D(0)
        for e in fills:
            assert e.qty is not None and e.qty > 0
            running += e.qty
            assert e.order.filled_qty == running
        assert running == D(10)
        assert fills[-1].order.filled_avg_price == ask

        # Executions at different prices: the order's average is the quantity-weighted one.
        limit_order = broker.submit_order(limit("p2", Side.BUY, "9", "95.00"))
        rec.wait_event(limit_order.id, OrderEvent.NEW)
        broker.set_price("SPY", 90)
        rec.wait_event(limit_order.id, OrderEvent.PARTIAL_FILL)
        broker.set_price("SPY", 92)  # still marketable against 95: the remaining pieces fill at this ask
        events = rec.wait_final(limit_order.id)
        fills = [e for e in events if e.event in (OrderEvent.PARTIAL_FILL, OrderEvent.FILL)]
        assert sum((e.qty or D(0)) for e in fills) == D(9)
        cost = sum((e.qty or D(0)) * (e.price or D(0)) for e in fills)
        final = broker.get_order(limit_order.id)
        assert final.filled_avg_price == cost / D(9)
        assert final.filled_qty == D(9)
        [pos] = broker.get_positions()
        assert pos.qty == D(19)


def test_partial_fills_of_a_non_fractionable_asset_are_whole_shares(market: SampleMarket) -> None:
    broker, rec = make(market, partial_fill_probability=1.0, non_fractionable=["TQQQ"])
    with broker:
        order = broker.submit_order(market_buy("w", "TQQQ", qty="7"))
        events = rec.wait_final(order.id)
        qtys = [e.qty for e in events[1:]]
        assert len(qtys) >= 2 and sum(q or D(0) for q in qtys) == D(7)
        assert all(q is not None and q == q.to_integral_value() for q in qtys)


# ----------------------------------------------------------------------------- rejections


@pytest.mark.parametrize(
    ("request_", "code", "message"),
    [
        (market_buy("r", "TQQQ", qty="1.5"), 422, "not fractionable"),
        (market_buy("r", "TQQQ", notional="100"), 422, "not fractionable"),
        (OrderRequest("SPY", Side.BUY, OrderType.LIMIT, "r", notional=D(100), limit_price=D(100)), 422, "market"),
        (market_buy("r", notional="0.99"), 422, "cost basis must be >= 1"),
        (market_buy("r", qty="0"), 422, "qty must be > 0"),
        (market_buy("r", qty="-1"), 422, "qty must be > 0"),
        (limit("r", Side.BUY, "1", "100.001"), 422, "sub-penny"),
        (market_buy("r", qty="1000"), 403, "insufficient buying power"),
        (market_buy("r", notional="100001"), 403, "insufficient buying power"),
        (limit("r", Side.BUY, "1001", "100.00"), 403, "insufficient buying power"),
        (OrderRequest("SPY", Side.SELL, OrderType.MARKET, "r", qty=D(1)), 403, "insufficient qty available"),
    ],
)
def test_invalid_orders_are_rejected_with_alpaca_codes_and_not_stored(
    market: SampleMarket, request_: OrderRequest, code: int, message: str
) -> None:
    broker, rec = make(market, non_fractionable=["TQQQ"])
    with broker:
        broker.set_price("SPY", 100)  # 1000 shares = 100 030 > 100 000 of cash
        with pytest.raises(OrderRejected) as err:
            broker.submit_order(request_)
        assert err.value.code == code
        assert message in str(err.value)
        assert not isinstance(err.value, DuplicateClientOrderId)
        assert broker.list_orders("all") == []
        assert broker.get_order_by_client_id("r") is None
        assert broker.wait_idle(TIMEOUT) and rec.events == []
        # the client id stays usable: a valid order with it is accepted
        assert broker.submit_order(market_buy("r", qty="1")).client_order_id == "r"


def test_open_orders_reserve_cash_and_shares(sim: tuple[SimBroker, Recorder]) -> None:
    broker, rec = sim
    broker.set_price("SPY", 100)
    buy_and_wait(broker, rec, market_buy("b", qty="10"))
    resting_sell = broker.submit_order(limit("s1", Side.SELL, "6", "150.00"))
    with pytest.raises(OrderRejected, match=r"insufficient qty available for order \(requested: 5, available: 4\)"):
        broker.submit_order(OrderRequest("SPY", Side.SELL, OrderType.MARKET, "s2", qty=D(5)))
    with pytest.raises(OrderRejected) as err:
        broker.close_position("SPY")  # Alpaca refuses too while open orders hold shares
    assert err.value.code == 403

    cash = broker.get_account().cash
    broker.submit_order(limit("b2", Side.BUY, "900", "99.00"))  # rests; holds 89 100
    assert broker.get_account().buying_power == cash - 900 * D(99)
    with pytest.raises(OrderRejected, match="insufficient buying power") as err2:
        broker.submit_order(market_buy("b3", qty=str(int((cash - 900 * D(99)) / D("100.03")) + 1)))
    assert err2.value.code == 403
    broker.cancel_order(resting_sell.id)
    rec.wait_final(resting_sell.id)
    sell = broker.submit_order(OrderRequest("SPY", Side.SELL, OrderType.MARKET, "s3", qty=D(10)))
    assert rec.wait_final(sell.id)[-1].event == OrderEvent.FILL


def test_scripted_reject_uses_the_given_message(sim: tuple[SimBroker, Recorder]) -> None:
    broker, rec = sim
    broker.script("SPY", reject="trading halted")
    with pytest.raises(OrderRejected, match="trading halted"):
        broker.submit_order(market_buy("x1"))
    assert broker.list_orders("all") == []
    order = broker.submit_order(market_buy("x2"))  # the script applied to one order only
    assert rec.wait_final(order.id)[-1].event == OrderEvent.FILL


def test_duplicate_client_order_id_is_rejected_even_after_the_order_is_final(
    sim: tuple[SimBroker, Recorder],
) -> None:
    broker, rec = sim
    first = buy_and_wait(broker, rec, market_buy("dup"))
    assert first.status == OrderStatus.FILLED
    with pytest.raises(DuplicateClientOrderId) as err:
        broker.submit_order(market_buy("dup", qty="1"))
    assert err.value.code == 422
    assert len(broker.list_orders("all")) == 1
    assert broker.get_order_by_client_id("dup") == first
    assert broker.get_order_by_client_id("never") is None


# ----------------------------------------------------------------------------- cancel, close, listing


def test_cancel_open_final_and_unknown_orders(sim: tuple[SimBroker, Recorder]) -> None:
    broker, rec = sim
    broker.set_price("SPY", 100)
    resting = broker.submit_order(limit("c1", Side.BUY, "3", "90.00"))
    rec.wait_event(resting.id, OrderEvent.NEW)
    broker.cancel_order(resting.id)
    events = rec.wait_final(resting.id)
    assert kinds(events) == [OrderEvent.NEW, OrderEvent.CANCELED]
    assert events[-1].order.status == OrderStatus.CANCELED
    assert broker.get_account().buying_power == D(100000)

    with pytest.raises(OrderRejected, match="order is not cancelable") as err:
        broker.cancel_order(resting.id)
    assert err.value.code == 422
    with pytest.raises(NotFound):
        broker.cancel_order("no-such-order")
    with pytest.raises(NotFound):
        broker.get_order("no-such-order")

    broker.set_price("SPY", 80)  # a cancelled limit never fills later
    assert broker.wait_idle(TIMEOUT)
    assert kinds(rec.of(resting.id)) == [OrderEvent.NEW, OrderEvent.CANCELED]


def test_list_orders_filters_by_state_newest_first(sim: tuple[SimBroker, Recorder]) -> None:
    broker, rec = sim
    broker.set_price("SPY", 100)
    filled = buy_and_wait(broker, rec, market_buy("o1"))
    open1 = broker.submit_order(limit("o2", Side.BUY, "1", "50.00"))
    open2 = broker.submit_order(limit("o3", Side.BUY, "1", "60.00"))
    assert [o.id for o in broker.list_orders()] == [open2.id, open1.id]
    assert [o.id for o in broker.list_orders("closed")] == [filled.id]
    assert [o.id for o in broker.list_orders("all")] == [open2.id, open1.id, filled.id]
    assert len({filled.id, open1.id, open2.id}) == 3


def test_close_position_sells_a_fractional_position_entirely(sim: tuple[SimBroker, Recorder]) -> None:
    broker, rec = sim
    buy_and_wait(broker, rec, market_buy("n", notional="1234.56"))
    [pos] = broker.get_positions()
    assert pos.qty != pos.qty.to_integral_value()
    bid = broker.get_latest_quote("SPY").bid
    cash = broker.get_account().cash
    order = broker.close_position("spy")
    assert order.side == Side.SELL and order.type == OrderType.MARKET and order.qty == pos.qty
    assert order.client_order_id and broker.get_order_by_client_id(order.client_order_id) == order
    events = rec.wait_final(order.id)
    assert kinds(events) == [OrderEvent.NEW, OrderEvent.FILL]
    assert events[-1].qty == pos.qty and events[-1].extra["position_qty"] == "0"
    assert broker.get_positions() == []
    assert broker.get_account().cash == cash + pos.qty * bid
    with pytest.raises(NotFound, match="position does not exist"):
        broker.close_position("SPY")


# ----------------------------------------------------------------------------- scripts


def test_script_fill_fraction_fills_part_and_rests_until_cancelled(sim: tuple[SimBroker, Recorder]) -> None:
    broker, rec = sim
    broker.set_price("SPY", 100)
    ask = broker.get_latest_quote("SPY").ask
    broker.script("SPY", fill_fraction=0.4)
    order = broker.submit_order(market_buy("f1", qty="10"))
    events = rec.wait_event(order.id, OrderEvent.PARTIAL_FILL)
    assert kinds(events) == [OrderEvent.NEW, OrderEvent.PARTIAL_FILL]
    assert events[-1].qty == D(4)
    assert broker.wait_idle(TIMEOUT)
    broker.set_price("SPY", 99)  # a price move does not fill the scripted remainder
    assert broker.wait_idle(TIMEOUT)
    current = broker.get_order(order.id)
    assert current.status == OrderStatus.PARTIALLY_FILLED and current.filled_qty == D(4)
    assert broker.get_account().buying_power == broker.get_account().cash - 6 * ask

    broker.cancel_order(order.id)
    events = rec.wait_final(order.id)
    assert kinds(events) == [OrderEvent.NEW, OrderEvent.PARTIAL_FILL, OrderEvent.CANCELED]
    final = broker.get_order(order.id)
    assert final.status == OrderStatus.CANCELED and final.filled_qty == D(4) and final.filled_avg_price == ask
    assert broker.get_positions()[0].qty == D(4)
    assert broker.get_account().buying_power == broker.get_account().cash


def test_script_fill_fraction_of_a_notional_order_is_that_share_of_the_dollars(
    sim: tuple[SimBroker, Recorder],
) -> None:
    broker, rec = sim
    broker.set_price("SPY", 100)
    ask = broker.get_latest_quote("SPY").ask
    broker.script("SPY", fill_fraction=0.4)
    order = broker.submit_order(market_buy("f2", notional="1000"))
    events = rec.wait_event(order.id, OrderEvent.PARTIAL_FILL)
    assert events[-1].qty == (D(400) / ask).quantize(D("1e-9"), rounding=ROUND_DOWN)
    assert broker.get_order(order.id).status == OrderStatus.PARTIALLY_FILLED


def test_script_stall_leaves_a_marketable_order_unfilled(sim: tuple[SimBroker, Recorder]) -> None:
    broker, rec = sim
    broker.script("SPY", stall=True)
    order = broker.submit_order(market_buy("st"))
    rec.wait_event(order.id, OrderEvent.NEW)
    assert broker.wait_idle(TIMEOUT)
    assert broker.get_order(order.id).status == OrderStatus.NEW
    assert broker.get_positions() == []
    broker.cancel_order(order.id)
    assert kinds(rec.wait_final(order.id)) == [OrderEvent.NEW, OrderEvent.CANCELED]
    follow_up = broker.submit_order(market_buy("st2"))  # next order is not stalled
    assert rec.wait_final(follow_up.id)[-1].event == OrderEvent.FILL


def test_script_missing_avg_price_hides_it_only_in_the_fill_event(sim: tuple[SimBroker, Recorder]) -> None:
    broker, rec = sim
    ask = broker.get_latest_quote("SPY").ask
    broker.script("SPY", missing_avg_price=True)
    order = broker.submit_order(market_buy("m"))
    fill = rec.wait_final(order.id)[-1]
    assert fill.event == OrderEvent.FILL and fill.order.status == OrderStatus.FILLED
    assert fill.order.filled_avg_price is None and fill.price == ask
    assert broker.get_order(order.id).filled_avg_price == ask


# ----------------------------------------------------------------------------- quotes streaming


def test_quote_subscription_pushes_now_and_on_every_price_move(sim: tuple[SimBroker, Recorder]) -> None:
    broker, _ = sim
    got: list[Quote] = []
    cond = threading.Condition()

    def listener(q: Quote) -> None:
        with cond:
            got.append(q)
            cond.notify_all()

    broker.subscribe_quotes(["SPY", "qqq"], listener)
    assert broker.subscriptions == {"SPY", "QQQ"}
    with cond:
        assert cond.wait_for(lambda: len(got) == 2, TIMEOUT)
    assert {q.symbol for q in got} == {"SPY", "QQQ"}

    broker.set_price("SPY", 250)
    with cond:
        assert cond.wait_for(lambda: len(got) == 3, TIMEOUT)
    assert got[-1].symbol == "SPY" and got[-1].mid == broker.get_latest_quote("SPY").mid

    broker.unsubscribe_quotes(["SPY", "QQQ"])
    assert broker.subscriptions == set()
    broker.set_price("SPY", 260)
    assert broker.wait_idle(TIMEOUT)
    assert len(got) == 3
    with pytest.raises(NotFound):
        broker.subscribe_quotes(["NOPE"], listener)
    assert broker.subscriptions == set()


# ----------------------------------------------------------------------------- persistence


def test_state_persists_across_instances_and_reset_wipes_it(market: SampleMarket, tmp_path: Path) -> None:
    first, rec = make(market, tmp_path)
    with first:
        first.set_price("SPY", 100)
        bought = buy_and_wait(first, rec, market_buy("p1", notional="500"))
        resting = first.submit_order(limit("p2", Side.BUY, "2", "50.00"))
        first.script("QQQ", stall=True)
        stalled = first.submit_order(market_buy("p3", "QQQ", qty="1"))
        rec.wait_event(stalled.id, OrderEvent.NEW)
        account = first.get_account()
        positions = first.get_positions()

    second, rec2 = make(market, tmp_path)
    with second:
        assert second.get_account().account_id == account.account_id
        assert account.account_id.startswith("sim-") and len(account.account_id) == 12
        assert second.get_order(bought.id) == bought
        assert second.get_order(resting.id).status == OrderStatus.NEW  # resting limits stay open
        # the market order the previous process left open executed on open, at the current quote
        recovered = second.get_order(stalled.id)
        qqq_ask = second.get_latest_quote("QQQ").ask
        assert recovered.status == OrderStatus.FILLED and recovered.filled_avg_price == qqq_ask
        spy = next(p for p in second.get_positions() if p.symbol == "SPY")
        assert spy.qty == positions[0].qty and spy.avg_entry_price == positions[0].avg_entry_price
        assert second.get_account().cash == account.cash - qqq_ask
        with pytest.raises(DuplicateClientOrderId):
            second.submit_order(market_buy("p1"))
        newer = second.submit_order(market_buy("p4", qty="1"))
        assert newer.id not in {bought.id, resting.id, stalled.id}
        assert second.list_orders("all")[0].id == newer.id
        rec2.wait_final(newer.id)

        second.reset(starting_cash=D(5000))
        assert second.get_positions() == [] and second.list_orders("all") == []
        fresh = second.get_account()
        assert fresh.cash == fresh.equity == fresh.buying_power == D(5000)
        assert fresh.account_id != account.account_id
        assert second.get_order_by_client_id("p1") is None

    third, _ = make(market, tmp_path)
    with third:
        assert third.get_account() == fresh
        assert third.list_orders("all") == []


# ----------------------------------------------------------------------------- latency, clock, instrumentation


def test_latency_still_reaches_the_right_final_state(market: SampleMarket) -> None:
    broker = SimBroker(
        market, config=SimConfig(ack_latency_ms=50, fill_latency_ms=(100, 300), partial_fill_probability=0.5)
    )
    finals: dict[str, Order] = {}
    lock = threading.Lock()
    done = threading.Event()
    symbols = ["SPY", "QQQ", "TLT", "GLD"]

    def listener(update: OrderUpdate) -> None:
        if update.order.is_final:
            with lock:
                finals[update.order.id] = update.order
                if len(finals) == len(symbols):
                    done.set()

    with broker:
        broker.add_order_listener(listener)
        asks = {s: broker.get_latest_quote(s).ask for s in symbols}
        orders = [broker.submit_order(market_buy(f"lat-{s}", s, qty="3")) for s in symbols]
        assert all(broker.get_order(o.id).status == OrderStatus.PENDING_NEW for o in orders)
        assert done.wait(TIMEOUT)
        for o in orders:
            final = broker.get_order(o.id)
            assert final.status == OrderStatus.FILLED and final.filled_qty == D(3)
            assert final.filled_avg_price == asks[o.symbol]
        assert {p.symbol: p.qty for p in broker.get_positions()} == dict.fromkeys(symbols, D(3))
        assert broker.get_account().cash == D(100000) - sum(3 * a for a in asks.values())


def test_same_seed_gives_the_same_fill_sequence(market: SampleMarket) -> None:
    def run() -> list[tuple[str, Decimal | None]]:
        broker, rec = make(market, partial_fill_probability=0.5, seed=11)
        with broker:
            for i in range(6):
                order = broker.submit_order(market_buy(f"s{i}", notional="777"))
                rec.wait_final(order.id)
            return [(e.event.value, e.qty) for e in rec.events]

    assert run() == run()


def test_clock_follows_the_calendar_unless_always_open(market: SampleMarket) -> None:
    saturday = dt.datetime(2025, 6, 28, 12, 0, tzinfo=NY)
    tuesday = dt.datetime(2025, 7, 1, 10, 0, tzinfo=NY)
    now = [saturday]
    with SimBroker(market, config=SimConfig(always_open=False), now=lambda: now[0]) as broker:
        clock = broker.get_clock()
        assert not clock.is_open
        assert clock.next_open == dt.datetime(2025, 6, 30, 9, 30, tzinfo=NY)
        assert clock.next_close == dt.datetime(2025, 6, 30, 16, 0, tzinfo=NY)
        now[0] = tuesday
        clock = broker.get_clock()
        assert clock.is_open and clock.timestamp == tuesday
        assert clock.next_close == dt.datetime(2025, 7, 1, 16, 0, tzinfo=NY)
        assert clock.next_open == dt.datetime(2025, 7, 2, 9, 30, tzinfo=NY)
        order = broker.submit_order(market_buy("t"))
        assert order.submitted_at == tuesday
    with SimBroker(market, now=lambda: saturday) as broker:
        assert broker.get_clock().is_open


def test_calls_are_counted_per_public_method(sim: tuple[SimBroker, Recorder]) -> None:
    broker, rec = sim
    order = broker.submit_order(market_buy("c"))
    rec.wait_final(order.id)
    broker.get_order(order.id)
    broker.get_order(order.id)
    broker.get_account()
    broker.close_position("SPY")
    assert broker.calls["submit_order"] == 1  # close_position does not count as a submit
    assert broker.calls["get_order"] == 2
    assert broker.calls["get_account"] == 1
    assert broker.calls["close_position"] == 1
    assert broker.calls["add_order_listener"] == 1


def test_close_is_idempotent_and_stops_the_dispatcher(market: SampleMarket) -> None:
    broker = SimBroker(market)
    before = {t.name for t in threading.enumerate()}
    assert "sim-broker-dispatcher" in before
    broker.close()
    broker.close()
    assert broker._dispatcher._thread.is_alive() is False
    with pytest.raises(OrderRejected):
        broker.submit_order(market_buy("late"))
