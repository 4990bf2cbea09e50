"""Trade against a running Alchemiser sandbox with plain alpaca-py (no alchemiser imports).

Start a sandbox first (`alchemiser sandbox serve`, or `SandboxServer(...).start()` in Python), then:

    SANDBOX_URL=http://127.0.0.1:8765 ALPACA_API_KEY=sandbox-key ALPACA_SECRET_KEY=sandbox-secret \
        python examples/sandbox_client.py

It places a resting limit order, lists orders, replaces the limit and cancels it; then it buys a few dollars
of the symbol with a notional market order sized from the account's buying power, and sells exactly what it
bought. It prints every trade update the stream delivers meanwhile. Because it sizes from buying power and
hands back what it buys, it works on a fresh sandbox and equally right after `alchemiser trade --broker
alpaca` has invested (almost) all the cash, and it leaves the bot's positions as it found them. The same
code runs against Alpaca paper trading when the `url_override` arguments are dropped.
"""

from __future__ import annotations

import os
import sys
import threading
import uuid
from decimal import ROUND_DOWN, Decimal

from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, QueryOrderStatus, TimeInForce
from alpaca.trading.models import Order, Position, TradeUpdate
from alpaca.trading.requests import (
    ClosePositionRequest,
    GetOrdersRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    ReplaceOrderRequest,
)
from alpaca.trading.stream import TradingStream

URL = os.environ.get("SANDBOX_URL", "http://127.0.0.1:8765")
KEY = os.environ.get("ALPACA_API_KEY", "sandbox-key")
SECRET = os.environ.get("ALPACA_SECRET_KEY", "sandbox-secret")
SYMBOL = os.environ.get("SANDBOX_SYMBOL", "SPY")
MAX_DOLLARS = Decimal(100)  # the demo buy: at most this, and at most half the buying power
LIMIT_PRICE, REPLACED_PRICE = 1.00, 1.01  # far below the market: the limit order rests until cancelled
WAIT_S = 10.0
_OUTPUT = threading.Lock()


def say(line: str) -> None:
    """One whole line at a time: stream callbacks print from another thread."""
    with _OUTPUT:
        print(line, flush=True)


class Events:
    """Trade updates by order id, so the script waits for the event it needs instead of sleeping."""

    def __init__(self) -> None:
        self._seen: dict[str, set[str]] = {}
        self._changed = threading.Condition()

    def add(self, update: TradeUpdate) -> None:
        with self._changed:
            self._seen.setdefault(str(update.order.id), set()).add(str(update.event))
            self._changed.notify_all()

    def wait(self, order_id: object, event: str, timeout: float = WAIT_S) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: event in self._seen.get(str(order_id), set()), timeout)

    def any_event(self, timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: bool(self._seen), timeout)


def show(update: TradeUpdate) -> None:
    o = update.order
    say(f"  [stream] {update.event:<9} {o.side and o.side.value} {o.qty or o.notional} {o.symbol} "
          f"status={o.status.value} filled={o.filled_qty}@{o.filled_avg_price} ({o.client_order_id})")


def place_resting_limit(trading: TradingClient, events: Events, run_id: str) -> Order:
    """Events sent before the stream listens are not replayed: place the resting limit until its `new`
    event arrives, which proves the stream is listening (a handshake by event, no sleeping)."""
    for attempt in range(1, 6):
        limit = trading.submit_order(
            LimitOrderRequest(symbol=SYMBOL, qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY,
                              limit_price=LIMIT_PRICE, client_order_id=f"{run_id}-limit-{attempt}")
        )
        assert isinstance(limit, Order)
        say(f"placed resting limit {limit.id} at {limit.limit_price}")
        if events.any_event(2):
            return limit
        trading.cancel_order_by_id(limit.id)
    raise SystemExit("the trade-updates stream never started listening")


def buy_and_sell_back(trading: TradingClient, events: Events, run_id: str, buying_power: Decimal) -> None:
    """A notional market buy sized from buying power, then a sell of exactly the quantity it filled."""
    dollars = min(MAX_DOLLARS, buying_power / 2).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
    if dollars < 1:
        say(f"buying power {buying_power} is below $2: skipping the market order")
        return
    market = trading.submit_order(
        MarketOrderRequest(symbol=SYMBOL, notional=float(dollars), side=OrderSide.BUY,
                           time_in_force=TimeInForce.DAY, client_order_id=f"{run_id}-market")
    )
    assert isinstance(market, Order)
    say(f"placed market order {market.id} for ${dollars} of {SYMBOL} ({market.status.value})")
    if not events.wait(market.id, "fill"):
        say("no fill event within 10 s")
        return
    bought = trading.get_order_by_id(market.id)
    assert isinstance(bought, Order)
    sell = trading.close_position(SYMBOL, ClosePositionRequest(qty=str(bought.filled_qty)))
    assert isinstance(sell, Order)
    say(f"selling back the {bought.filled_qty} {SYMBOL} it bought: order {sell.id}")
    if not events.wait(sell.id, "fill"):
        say("no fill event for the sell within 10 s")


def main() -> None:
    trading = TradingClient(KEY, SECRET, paper=True, url_override=URL)  # the SDK appends /v2 itself
    stream = TradingStream(KEY, SECRET, paper=True, url_override=URL.replace("http", "ws", 1) + "/stream")
    run_id = uuid.uuid4().hex[:8]
    events = Events()

    async def on_update(update: TradeUpdate) -> None:
        show(update)
        events.add(update)

    stream.subscribe_trade_updates(on_update)
    thread = threading.Thread(target=stream.run, daemon=True)
    thread.start()  # it connects within a moment; events from before it listens are not replayed
    try:
        account = trading.get_account()
        assert not isinstance(account, dict)
        buying_power = Decimal(str(account.buying_power))
        say(f"account {account.account_number}: cash={account.cash} equity={account.equity} "
              f"buying_power={buying_power}")
        if buying_power < REPLACED_PRICE * 2:
            sys.exit(f"buying power {buying_power} is too small even for the $1 demo orders")

        limit = place_resting_limit(trading, events, run_id)
        for o in trading.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, limit=10)):
            assert isinstance(o, Order)
            kind = o.type.value if o.type else "?"
            say(f"  [list] {o.client_order_id:<20} {kind:<6} {o.status.value:<16} qty={o.qty}")

        replacement = trading.replace_order_by_id(
            limit.id, ReplaceOrderRequest(qty=2, limit_price=REPLACED_PRICE, client_order_id=f"{run_id}-replacement")
        )
        assert isinstance(replacement, Order)
        say(f"replaced {limit.id} -> {replacement.id} (qty {replacement.qty} @ {replacement.limit_price})")
        old = trading.get_order_by_id(limit.id)
        assert isinstance(old, Order)
        say(f"old order now: {old.status.value}")

        trading.cancel_order_by_id(replacement.id)
        say(f"cancel requested for {replacement.id}")
        if not events.wait(replacement.id, "canceled"):
            say("no cancel event within 10 s (is the stream connected?)")

        buy_and_sell_back(trading, events, run_id, buying_power)
        positions = trading.get_all_positions()
        say(f"positions: {[(p.symbol, p.qty) for p in positions if isinstance(p, Position)]}")
    finally:
        stream.stop()  # the SDK notices the stop between receives (at most ~5 s)
        thread.join(6)


if __name__ == "__main__":
    main()
