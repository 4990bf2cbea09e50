"""Trade against a running Alchemiser sandbox with plain alpaca-py (no alchemiser imports).

Start a sandbox first (e.g. `alchemiser sandbox`, or `SandboxServer(...).start()` in Python), then:

    SANDBOX_URL=http://127.0.0.1:8765 ALPACA_API_KEY=sandbox-key ALPACA_SECRET_KEY=sandbox-secret \
        python examples/sandbox_client.py

It places a resting limit order, lists orders, replaces the limit, cancels it, then places a market order,
and prints every trade update the stream delivers meanwhile. The same code runs against Alpaca paper trading
when the `url_override` arguments are dropped.
"""

from __future__ import annotations

import os
import threading
import uuid

from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, QueryOrderStatus, TimeInForce
from alpaca.trading.models import TradeUpdate
from alpaca.trading.requests import GetOrdersRequest, LimitOrderRequest, MarketOrderRequest, ReplaceOrderRequest
from alpaca.trading.stream import TradingStream

URL = os.environ.get("SANDBOX_URL", "http://127.0.0.1:8765")
KEY = os.environ.get("ALPACA_API_KEY", "sandbox-key")
SECRET = os.environ.get("ALPACA_SECRET_KEY", "sandbox-secret")
SYMBOL = os.environ.get("SANDBOX_SYMBOL", "SPY")


def main() -> None:
    trading = TradingClient(KEY, SECRET, paper=True, url_override=URL)  # the SDK appends /v2 itself
    stream = TradingStream(KEY, SECRET, paper=True, url_override=URL.replace("http", "ws", 1) + "/stream")
    run_id = uuid.uuid4().hex[:8]
    listening = threading.Event()
    canceled = threading.Event()
    filled = threading.Event()

    async def on_update(update: TradeUpdate) -> None:
        o = update.order
        print(f"  [stream] {update.event:<9} {o.side.value} {o.qty or o.notional} {o.symbol} "
              f"status={o.status.value} filled={o.filled_qty}@{o.filled_avg_price} ({o.client_order_id})")
        listening.set()
        if update.event == "canceled" and o.client_order_id == f"{run_id}-replacement":
            canceled.set()
        if update.event == "fill" and o.client_order_id == f"{run_id}-market":
            filled.set()

    stream.subscribe_trade_updates(on_update)
    thread = threading.Thread(target=stream.run, daemon=True)
    thread.start()  # it connects within a moment; events from before it listens are not replayed

    account = trading.get_account()
    print(f"account {account.account_number}: cash={account.cash} equity={account.equity}")

    # events sent before the stream listens are not replayed: place the resting limit until its "new" event
    # arrives, which proves the stream is listening (a handshake by event, no sleeping)
    for attempt in range(1, 6):
        limit = trading.submit_order(
            LimitOrderRequest(symbol=SYMBOL, qty=2, side=OrderSide.BUY, time_in_force=TimeInForce.DAY,
                              limit_price=1.00, client_order_id=f"{run_id}-limit-{attempt}")
        )
        print(f"placed resting limit {limit.id} at {limit.limit_price}")
        if listening.wait(2):
            break
        trading.cancel_order_by_id(limit.id)

    for o in trading.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, limit=10)):
        print(f"  [list] {o.client_order_id:<20} {o.type.value:<6} {o.status.value:<16} qty={o.qty}")

    replacement = trading.replace_order_by_id(
        limit.id, ReplaceOrderRequest(qty=3, limit_price=1.05, client_order_id=f"{run_id}-replacement")
    )
    print(f"replaced {limit.id} -> {replacement.id} (qty {replacement.qty} @ {replacement.limit_price})")
    print(f"old order now: {trading.get_order_by_id(limit.id).status.value}")

    trading.cancel_order_by_id(replacement.id)
    print(f"cancel requested for {replacement.id}")
    if not canceled.wait(10):
        print("no cancel event within 10 s (is the stream connected?)")
    market = trading.submit_order(
        MarketOrderRequest(symbol=SYMBOL, qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY,
                           client_order_id=f"{run_id}-market")
    )
    print(f"placed market order {market.id} ({market.status.value})")
    if not filled.wait(10):
        print("no fill event within 10 s")
    print(f"positions: {[(p.symbol, p.qty) for p in trading.get_all_positions()]}")

    stream.stop()  # the SDK notices the stop between receives (at most ~5 s)
    thread.join(6)


if __name__ == "__main__":
    main()
