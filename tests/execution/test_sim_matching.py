"""The simulated exchange's pure pieces, without a broker: quotes, matching, fills, holds, validation, money."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from alchemiser.execution.broker import OrderRejected
from alchemiser.execution.sim.clock import market_clock
from alchemiser.execution.sim.matching import (
    Book,
    Holding,
    OrderRec,
    book_fill,
    buying_power,
    execution_price,
    finish_market_order,
    floor9,
    plan_pieces,
    quote_for,
    reserved_cash,
    reserved_qty,
    tidy,
)
from alchemiser.execution.sim.validation import validate
from alchemiser.models import Order, OrderEvent, OrderRequest, OrderStatus, OrderType, Quote, Side
from alchemiser.money import dec, dec_text, on_tick, tick

D = Decimal
T0 = dt.datetime(2025, 6, 30, 14, 0, tzinfo=dt.UTC)
QUOTE = Quote("SPY", D("99.95"), D("100.05"), T0)


def _order(
    side: Side = Side.BUY,
    *,
    qty: str | None = "10",
    notional: str | None = None,
    limit: str | None = None,
    status: OrderStatus = OrderStatus.NEW,
    filled: str = "0",
) -> Order:
    return Order(
        id="o-1",
        client_order_id="c-1",
        symbol="SPY",
        side=side,
        type=OrderType.LIMIT if limit is not None else OrderType.MARKET,
        status=status,
        qty=dec(qty),
        notional=dec(notional),
        limit_price=dec(limit),
        filled_qty=D(filled),
        filled_avg_price=None,
        submitted_at=T0,
        updated_at=T0,
    )


def _request(side: Side = Side.BUY, **kwargs: object) -> OrderRequest:
    typ = OrderType.LIMIT if kwargs.get("limit_price") is not None else OrderType.MARKET
    return OrderRequest("SPY", side, typ, "c-1", **kwargs)  # type: ignore[arg-type]


# ------------------------------------------------------------------ money


def test_tick_and_on_tick_follow_the_penny_rule() -> None:
    assert tick(D(1)) == D("0.01") and tick(D("0.9999")) == D("0.0001")
    assert on_tick(D("1.23")) and not on_tick(D("1.234"))
    assert on_tick(D("0.1234")) and not on_tick(D("0.12345"))
    assert dec(None) is None and dec("1.50") == D("1.50") and dec_text(D("1.50")) == "1.50" and dec_text(None) is None


def test_quantities_round_down_to_nine_decimals_and_read_tidily() -> None:
    assert floor9(D("1.9999999999")) == D("1.999999999")
    assert str(tidy(D("3.000000000"))) == "3" and str(tidy(D("0.500"))) == "0.5"


# ------------------------------------------------------------------ quotes and prices


def test_quote_is_symmetric_on_cents_and_never_crossed() -> None:
    q = quote_for("SPY", D(100), 10.0, T0)
    assert (q.bid, q.ask, q.symbol) == (D("99.95"), D("100.05"), "SPY")
    tiny = quote_for("X", D("0.001"), 0.0, T0)
    assert tiny.bid == D("0.01") and tiny.ask == D("0.02")


def test_market_orders_trade_at_the_touch() -> None:
    assert execution_price(_order(Side.BUY), QUOTE, True) == QUOTE.ask
    assert execution_price(_order(Side.SELL), QUOTE, True) == QUOTE.bid


@pytest.mark.parametrize(
    ("side", "limit", "inside", "expected"),
    [
        (Side.BUY, "100.10", True, "100.05"),  # marketable: the touch
        (Side.BUY, "100.02", True, "100.02"),  # inside the spread, at or beyond the mid: its limit
        (Side.BUY, "100.02", False, None),  # no hidden liquidity: rests
        (Side.BUY, "99.99", True, None),  # below the mid: rests
        (Side.SELL, "99.90", True, "99.95"),
        (Side.SELL, "99.98", True, "99.98"),
        (Side.SELL, "100.01", True, None),
    ],
)
def test_limit_orders_trade_only_when_marketable_or_inside_the_spread(
    side: Side, limit: str, inside: bool, expected: str | None
) -> None:
    assert execution_price(_order(side, limit=limit), QUOTE, inside) == dec(expected)


# ------------------------------------------------------------------ pieces and fills


def test_pieces_split_the_order_and_add_up() -> None:
    rec = OrderRec(_order(qty="10"), 1, full_qty=D(10), n_pieces=3)
    pieces = plan_pieces(rec, D(100), whole_shares=True)
    assert pieces == [D(3), D(3), D(4)]
    rec = OrderRec(_order(qty="1"), 1, full_qty=D(1), n_pieces=3)
    assert sum(plan_pieces(rec, D(100), whole_shares=False)) == D(1)


def test_a_notional_order_learns_its_quantity_from_the_price() -> None:
    rec = OrderRec(_order(qty=None, notional="1000"), 1)
    assert plan_pieces(rec, D(300), whole_shares=False) == [D("3.333333333")]
    assert rec.full_qty == D("3.333333333")


def test_a_scripted_fraction_fills_only_that_share() -> None:
    rec = OrderRec(_order(qty="10"), 1, full_qty=D(10), fraction=D("0.35"))
    assert plan_pieces(rec, D(100), whole_shares=True) == [D(3)]


def test_fills_book_cash_position_and_order_then_the_order_is_done() -> None:
    book = Book(D(10000))
    rec = OrderRec(_order(qty="10"), 1, full_qty=D(10))
    first = book_fill(book, rec, D(4), D(100), T0)
    assert first.event == OrderEvent.PARTIAL_FILL and first.extra == {"position_qty": "4"}
    second = book_fill(book, rec, D(6), D(110), T0)
    assert second.event == OrderEvent.FILL and rec.order.status == OrderStatus.FILLED
    assert book.cash == D(10000) - D(400) - D(660)
    assert book.positions["SPY"].qty == D(10) and book.positions["SPY"].avg == D("106")
    assert rec.order.filled_avg_price == D("106")


def test_a_sell_never_sells_more_than_is_held_and_ends_when_flat() -> None:
    book = Book(D(0), {"SPY": Holding(D(2), D(50))})
    rec = OrderRec(_order(Side.SELL, qty="5"), 1, full_qty=D(5))
    event = book_fill(book, rec, D(5), D(60), T0)
    assert event.qty == D(2) and event.event == OrderEvent.FILL and "SPY" not in book.positions
    assert book.cash == D(120)


def test_a_missing_average_price_is_hidden_only_in_the_fill_event() -> None:
    rec = OrderRec(_order(qty="1"), 1, full_qty=D(1), missing_avg=True)
    event = book_fill(Book(D(1000)), rec, D(1), D(100), T0)
    assert event.order.filled_avg_price is None and rec.order.filled_avg_price == D(100)


# ------------------------------------------------------------------ holds


def test_open_buys_hold_cash_and_open_sells_hold_shares() -> None:
    market_buy = OrderRec(_order(qty="10", filled="4"), 1, reserve_price=D(100))
    limit_buy = OrderRec(_order(qty="2", limit="50"), 2)
    notional_buy = OrderRec(_order(qty=None, notional="300"), 3, filled_cost=D(100))
    done = OrderRec(_order(qty="10", status=OrderStatus.FILLED), 4, reserve_price=D(100))
    assert [reserved_cash(r) for r in (market_buy, limit_buy, notional_buy, done)] == [D(600), D(100), D(200), 0]
    assert buying_power(D(1000), [market_buy, limit_buy]) == D(300)
    sells = [
        OrderRec(_order(Side.SELL, qty="3", filled="1"), 5),
        OrderRec(_order(Side.SELL, qty=None, notional="100"), 6, reserve_price=D(50)),
        OrderRec(_order(Side.BUY, qty="7"), 7),
    ]
    assert reserved_qty("SPY", sells) == D(4)
    assert reserved_qty("QQQ", sells) == 0


# ------------------------------------------------------------------ validation


def _validate(req: OrderRequest, *, fractionable: bool = True, bp: str = "1000", avail: str = "5") -> D | None:
    return validate(req, QUOTE, fractionable=fractionable, buying_power=D(bp), available_qty=D(avail))


def test_valid_orders_return_the_price_that_holds_buying_power() -> None:
    assert _validate(_request(qty=D(1))) == QUOTE.ask
    assert _validate(_request(qty=D(1), limit_price=D("99.00"))) is None
    assert _validate(_request(notional=D(100))) is None
    assert _validate(_request(Side.SELL, notional=D(100))) == QUOTE.bid
    assert _validate(_request(Side.SELL, qty=D(5))) is None


@pytest.mark.parametrize(
    ("request_", "kwargs", "message", "code"),
    [
        (_request(qty=D(1), time_in_force="gtc"), {}, 'time_in_force "gtc"', 422),
        (_request(qty=D(-1)), {}, "qty must be > 0", 422),
        (_request(qty=D("0.5")), {"fractionable": False}, "not fractionable", 422),
        (_request(notional=D(5)), {"fractionable": False}, "not fractionable", 422),
        (_request(notional=D(5), limit_price=D(1)), {}, "only supported for market orders", 422),
        (_request(notional=D("0.5")), {}, "cost basis must be >= 1", 422),
        (_request(qty=D(1), limit_price=D("-1")), {}, "limit price must be > 0", 422),
        (_request(qty=D(1), limit_price=D("99.001")), {}, "sub-penny increment", 422),
        (_request(qty=D(1), limit_price=D("0.12345")), {}, "sub-penny increment", 422),
        (_request(qty=D(20)), {}, "insufficient buying power", 403),
        (_request(notional=D(2000)), {}, "insufficient buying power", 403),
        (_request(Side.SELL, qty=D(6)), {}, "requested: 6, available: 5", 403),
        (_request(Side.SELL, notional=D(1000)), {}, "insufficient qty available", 403),
    ],
)
def test_invalid_orders_are_refused_like_alpaca(
    request_: OrderRequest, kwargs: dict[str, bool], message: str, code: int
) -> None:
    with pytest.raises(OrderRejected, match=message) as info:
        _validate(request_, **kwargs)  # type: ignore[arg-type]
    assert info.value.code == code


# ------------------------------------------------------------------ clock


def test_the_clock_follows_the_xnys_calendar_unless_always_open() -> None:
    monday_noon = dt.datetime(2025, 6, 30, 16, 0, tzinfo=dt.UTC)  # 12:00 in New York
    saturday = dt.datetime(2025, 6, 28, 16, 0, tzinfo=dt.UTC)
    assert market_clock(monday_noon, always_open=False).is_open
    closed = market_clock(saturday, always_open=False)
    assert not closed.is_open and closed.next_open == dt.datetime(2025, 6, 30, 13, 30, tzinfo=dt.UTC)
    assert market_clock(saturday, always_open=True).is_open
    early = market_clock(dt.datetime(2025, 6, 30, 12, 0, tzinfo=dt.UTC), always_open=False)
    assert not early.is_open and early.next_open == dt.datetime(2025, 6, 30, 13, 30, tzinfo=dt.UTC)


def test_recovery_finishes_a_market_order_at_the_touch() -> None:
    book = Book(D(1000))
    rec = OrderRec(_order(qty=None, notional="500", filled="1"), 1, filled_cost=D(100))
    book.positions["SPY"] = Holding(D(1), D(100))
    finish_market_order(book, rec, QUOTE, T0)
    assert rec.order.status == OrderStatus.FILLED
    assert rec.order.filled_qty == D(1) + floor9(D(400) / QUOTE.ask)
    unsellable = OrderRec(_order(Side.SELL, qty="3"), 2, full_qty=D(3))
    finish_market_order(Book(D(0)), unsellable, QUOTE, T0)
    assert unsellable.order.status == OrderStatus.FILLED and unsellable.order.filled_qty == 0


def test_recovery_cancels_a_market_order_that_cannot_trade_at_all() -> None:
    rec = OrderRec(_order(qty=None, notional="1", filled="0"), 1, filled_cost=D(1))  # nothing left to spend
    finish_market_order(Book(D(0)), rec, QUOTE, T0)
    assert rec.order.status == OrderStatus.CANCELED and rec.order.filled_qty == 0
