"""Pure matching of the simulated exchange: quotes, execution prices, fill pieces, bookings and holds.

No I/O, no clock, no randomness: every function takes what it needs, so each rule is unit-tested directly.
`SimBroker` decides when to call these (on its dispatcher) and persists what they change.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from alchemiser.models import Order, OrderEvent, OrderStatus, OrderUpdate, Quote, Side
from alchemiser.money import CENT

ZERO = Decimal(0)
QUOTE_SIZE = Decimal(100)
_NANO = Decimal("1e-9")


def floor9(x: Decimal) -> Decimal:
    """Round a quantity down to Alpaca's 9 decimals: never buy more than the dollars allow."""
    return x.quantize(_NANO, rounding=ROUND_DOWN)


def floor_whole(x: Decimal) -> Decimal:
    return x.quantize(Decimal(1), rounding=ROUND_DOWN)


def tidy(x: Decimal) -> Decimal:
    """Drop trailing zeros (3.000000000 → 3) so quantities read like Alpaca's, without exponent notation."""
    return x.quantize(Decimal(1)) if x == x.to_integral_value() else x.normalize()


def cents(x: Decimal) -> Decimal:
    return x.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass
class Script:
    """Behaviour forced on the next order of a symbol (see `SimBroker.script`)."""

    fill_fraction: float | None = None
    stall: bool = False
    reject: str | None = None
    missing_avg_price: bool = False


@dataclass
class OrderRec:
    """An order plus the exchange-side bookkeeping that Alpaca keeps but does not show."""

    order: Order
    seq: int
    filled_cost: Decimal = ZERO
    reserve_price: Decimal | None = None  # ask (buy) / bid (notional sell) at submit, to hold buying power
    stall: bool = False
    fraction: Decimal | None = None
    missing_avg: bool = False
    n_pieces: int = 1
    pieces: list[Decimal] | None = None
    full_qty: Decimal | None = None  # qty that completes the order (known for notional at first execution)
    cancel_requested: bool = False
    scheduled: bool = False

    def move(self, order: Order) -> None:
        """Replace the order by its next state; a backwards move (`Order.can_become`) is a simulator bug."""
        if not self.order.can_become(order):
            raise RuntimeError(
                f"simulator bug: order {order.id} cannot move from {self.order.status} "
                f"(filled {self.order.filled_qty}) to {order.status} (filled {order.filled_qty})"
            )
        self.order = order

    def can_execute(self) -> bool:
        """Whether the order may still trade (ignores the price: a limit may still have to wait)."""
        o = self.order
        if o.is_final or o.status == OrderStatus.PENDING_NEW or self.cancel_requested or self.stall:
            return False
        return not (self.fraction is not None and self.pieces is not None and not self.pieces)


@dataclass
class Holding:
    qty: Decimal
    avg: Decimal


@dataclass
class Book:
    """The account's cash and positions, as the exchange books them."""

    cash: Decimal
    positions: dict[str, Holding] = field(default_factory=dict)

    def held(self, sym: str) -> Decimal:
        return self.positions[sym].qty if sym in self.positions else ZERO


def quote_for(sym: str, mid: Decimal, spread_bps: float, now: dt.datetime) -> Quote:
    """A symmetric quote around `mid` on the cent grid: bid at least a cent, ask at least a cent above it."""
    half = Decimal(str(spread_bps)) / Decimal(20000)
    bid = max(cents(mid * (1 - half)), CENT)
    ask = max(cents(mid * (1 + half)), bid + CENT)
    return Quote(sym, bid, ask, now, QUOTE_SIZE, QUOTE_SIZE)


def execution_price(order: Order, quote: Quote, inside_spread_fills: bool) -> Decimal | None:
    """Where `order` trades against `quote` now: at the touch, or at its limit when it meets liquidity
    inside the spread; None when a limit cannot trade yet (it rests)."""
    buy = order.side == Side.BUY
    touch = quote.ask if buy else quote.bid
    limit = order.limit_price
    if limit is None:
        return touch
    marketable = limit >= quote.ask if buy else limit <= quote.bid
    if marketable:
        return touch
    inside = inside_spread_fills and (limit >= quote.mid if buy else limit <= quote.mid)
    return limit if inside else None


def plan_pieces(rec: OrderRec, price: Decimal, whole_shares: bool) -> list[Decimal]:
    """Split what this order will fill (all, or its scripted fraction) into `rec.n_pieces` executions.

    Sets `rec.full_qty` for a notional order (what completes it at `price`).
    """
    o = rec.order
    if rec.full_qty is None:
        assert o.notional is not None
        rec.full_qty = floor9(o.notional / price)
    floor = floor_whole if whole_shares else floor9
    if rec.fraction is None:
        target = rec.full_qty
    elif o.notional is not None:
        target = floor9(o.notional * rec.fraction / price)
    else:
        target = floor(rec.full_qty * rec.fraction)
    remaining = max(target - o.filled_qty, ZERO)
    n = rec.n_pieces
    if n == 1:
        return [tidy(remaining)] if remaining > 0 else []
    each = floor(remaining / n)
    pieces = [each] * (n - 1) + [remaining - each * (n - 1)]
    return [tidy(p) for p in pieces if p > 0]


def book_fill(book: Book, rec: OrderRec, qty: Decimal, price: Decimal, now: dt.datetime) -> OrderUpdate:
    """Book one execution into cash, the position and the order; return its event.

    A sell never sells more than is held, and ends the order once nothing is left to sell.
    """
    o = rec.order
    sym = o.symbol
    pos = book.positions.get(sym)
    if o.side == Side.SELL:
        qty = min(qty, pos.qty if pos is not None else ZERO)
    value = qty * price
    if o.side == Side.BUY:
        book.cash -= value
        if pos is None:
            book.positions[sym] = Holding(qty, price)
        else:
            new_qty = pos.qty + qty
            pos.avg = (pos.qty * pos.avg + value) / new_qty
            pos.qty = new_qty
    else:
        book.cash += value
        if pos is not None:
            pos.qty -= qty
            if pos.qty <= 0:
                del book.positions[sym]
    rec.filled_cost += value
    filled = o.filled_qty + qty
    done = rec.full_qty is not None and filled >= rec.full_qty
    if o.side == Side.SELL and sym not in book.positions:
        done = True  # nothing left to sell: the order cannot trade further
    rec.move(
        replace(
            o,
            status=OrderStatus.FILLED if done else OrderStatus.PARTIALLY_FILLED,
            filled_qty=filled,
            filled_avg_price=(rec.filled_cost / filled) if filled > 0 else None,
            updated_at=now,
        )
    )
    shown = rec.order
    if done and rec.missing_avg:
        shown = replace(shown, filled_avg_price=None)
    return OrderUpdate(
        OrderEvent.FILL if done else OrderEvent.PARTIAL_FILL,
        shown,
        now,
        price=price,
        qty=qty,
        extra={"position_qty": str(book.held(sym))},
    )


def finish_market_order(book: Book, rec: OrderRec, quote: Quote, now: dt.datetime) -> None:
    """End an open market order at once (recovery of a previous process's order): fill what remains at
    the touch of `quote`, then, if it could not complete, end it as it stands (filled if anything traded,
    else canceled). No events: recovery runs before any listener exists."""
    o = rec.order
    price = quote.ask if o.side == Side.BUY else quote.bid
    if o.notional is not None:
        rec.full_qty = o.filled_qty + floor9(max(o.notional - rec.filled_cost, ZERO) / price)
    assert rec.full_qty is not None
    remaining = rec.full_qty - o.filled_qty
    if remaining > 0:
        book_fill(book, rec, remaining, price, now)
    if not rec.order.is_final:  # nothing more could trade: the order ends as it stands
        status = OrderStatus.FILLED if rec.order.filled_qty > 0 else OrderStatus.CANCELED
        rec.move(replace(rec.order, status=status, updated_at=now))


def reserved_cash(rec: OrderRec) -> Decimal:
    """Cash an open buy holds back, like Alpaca's buying-power hold (no margin in the simulator)."""
    o = rec.order
    if o.side != Side.BUY or o.is_final:
        return ZERO
    if o.notional is not None:
        return max(o.notional - rec.filled_cost, ZERO)
    assert o.qty is not None
    price = o.limit_price if o.limit_price is not None else rec.reserve_price
    return max(o.qty - o.filled_qty, ZERO) * (price or ZERO)


def buying_power(cash: Decimal, open_orders: list[OrderRec]) -> Decimal:
    return cash - sum((reserved_cash(r) for r in open_orders), ZERO)


def reserved_qty(sym: str, open_orders: list[OrderRec]) -> Decimal:
    """Shares that open sells of `sym` already claim, so two sells cannot sell the same share."""
    total = ZERO
    for rec in open_orders:
        o = rec.order
        if o.symbol != sym or o.side != Side.SELL or o.is_final:
            continue
        if o.qty is not None:
            want = o.qty
        elif rec.full_qty is not None:
            want = rec.full_qty
        else:
            assert o.notional is not None and rec.reserve_price is not None
            want = floor9(o.notional / rec.reserve_price)
        total += max(want - o.filled_qty, ZERO)
    return total
