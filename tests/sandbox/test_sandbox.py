"""The Alpaca sandbox, driven only through the unmodified alpaca-py clients (offline, on loopback).

Waiting is done on conditions (SimBroker.wait_idle, threading.Event set by stream handlers, the server's
listener count), never on sleeps.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from alpaca.common.exceptions import APIError
from alpaca.data.historical.stock import StockHistoricalDataClient
from alpaca.data.live.stock import StockDataStream
from alpaca.data.requests import StockBarsRequest, StockLatestQuoteRequest, StockSnapshotRequest
from alpaca.data.timeframe import TimeFrame
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import AssetStatus, OrderSide, OrderStatus, QueryOrderStatus, TimeInForce
from alpaca.trading.models import TradeUpdate
from alpaca.trading.requests import (
    ClosePositionRequest,
    GetAssetsRequest,
    GetCalendarRequest,
    GetOrdersRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    ReplaceOrderRequest,
)
from alpaca.trading.stream import TradingStream

from alchemiser.data.sample import SampleMarket
from alchemiser.execution.sim import SimConfig
from alchemiser.sandbox import DEFAULT_KEY_ID, DEFAULT_SECRET_KEY, FaultConfig, SandboxConfig, SandboxServer
from alchemiser.sandbox.auth import FaultInjector
from alchemiser.sandbox.config import resolve_keys

KEY, SECRET = "test-key", "test-secret"
WAIT = 10.0


@pytest.fixture
def make_server(market: SampleMarket) -> Iterator[Callable[..., SandboxServer]]:
    servers: list[SandboxServer] = []

    def make(state_path: Path | None = None, sim_config: SimConfig | None = None, **config: Any) -> SandboxServer:
        cfg = SandboxConfig(key_id=KEY, secret_key=SECRET, **config)
        server = SandboxServer(market, state_path, cfg, sim_config).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def server(make_server: Callable[..., SandboxServer]) -> SandboxServer:
    return make_server()


def trading(server: SandboxServer, key: str = KEY, secret: str = SECRET) -> TradingClient:
    client = TradingClient(key, secret, paper=True, url_override=server.url)
    client._retry = 0  # the SDK retries 429 three times with 3 s waits; tests want the first answer
    return client


def market_buy(client: TradingClient, symbol: str, qty: float, cid: str | None = None) -> Any:
    return client.submit_order(
        MarketOrderRequest(symbol=symbol, qty=qty, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, client_order_id=cid)
    )


def resting_limit(client: TradingClient, symbol: str, qty: float, side: OrderSide = OrderSide.BUY, **kw: Any) -> Any:
    price = 1.0 if side == OrderSide.BUY else 100000.0  # far from the market: it rests
    return client.submit_order(
        LimitOrderRequest(symbol=symbol, qty=qty, side=side, time_in_force=TimeInForce.DAY, limit_price=price, **kw)
    )


def api_error(fn: Callable[[], Any]) -> APIError:
    with pytest.raises(APIError) as info:
        fn()
    return info.value


# ---------------------------------------------------------------------------------------------- trading REST


def test_account_clock_calendar_and_assets(make_server: Callable[..., SandboxServer]) -> None:
    server = make_server(starting_cash=Decimal(50000), sim_config=SimConfig(non_fractionable=["BRK"]))
    client = trading(server)
    account = client.get_account()
    assert account.cash == "50000" and account.equity == "50000" and account.buying_power == "50000"
    assert account.status == "ACTIVE" and account.trading_blocked is False

    clock = client.get_clock()
    assert clock.is_open is True and clock.next_close > clock.timestamp

    days = client.get_calendar(GetCalendarRequest(start=dt.date(2025, 7, 1), end=dt.date(2025, 7, 7)))
    assert [d.date for d in days] == [dt.date(2025, 7, 1), dt.date(2025, 7, 2), dt.date(2025, 7, 3), dt.date(2025, 7, 7)]
    assert days[2].close.hour == 13 and days[0].open.strftime("%H:%M") == "09:30"

    spy = client.get_asset("SPY")
    assert spy.symbol == "SPY" and spy.tradable and spy.fractionable
    assert client.get_asset(spy.id).symbol == "SPY"
    assets = client.get_all_assets(GetAssetsRequest(status=AssetStatus.ACTIVE))
    assert {"SPY", "QQQ", "TQQQ"} <= {a.symbol for a in assets}
    assert api_error(lambda: client.get_asset("NOPE")).status_code == 404


def test_follow_calendar_makes_the_clock_follow_xnys(make_server: Callable[..., SandboxServer]) -> None:
    server = make_server(follow_calendar=True)
    assert server.broker.config.always_open is False
    clock = trading(server).get_clock()
    assert clock.is_open == server.broker.get_clock().is_open


def test_market_notional_and_limit_orders_by_id_client_id_and_filters(server: SandboxServer) -> None:
    client = trading(server)
    spy = market_buy(client, "SPY", 3, cid="run1-SPY-buy-0")
    assert spy.status == OrderStatus.PENDING_NEW and spy.client_order_id == "run1-SPY-buy-0"
    qqq = client.submit_order(
        MarketOrderRequest(symbol="QQQ", notional=1000, side=OrderSide.BUY, time_in_force=TimeInForce.DAY)
    )
    assert qqq.notional == "1000" and qqq.qty is None
    limit = resting_limit(client, "IWM", 2, client_order_id="run1-IWM-buy-0")
    assert server.broker.wait_idle(WAIT)

    filled = client.get_order_by_id(spy.id)
    ask = server.broker.get_latest_quote("SPY").ask
    assert filled.status == OrderStatus.FILLED and filled.filled_qty == "3"
    assert Decimal(str(filled.filled_avg_price)) == ask and filled.filled_at is not None
    assert client.get_order_by_client_id("run1-SPY-buy-0").id == spy.id
    notional = client.get_order_by_id(qqq.id)
    assert notional.status == OrderStatus.FILLED
    assert Decimal(str(notional.filled_qty)) * Decimal(str(notional.filled_avg_price)) <= 1000

    open_orders = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.OPEN))
    assert [o.id for o in open_orders] == [limit.id] and open_orders[0].status == OrderStatus.NEW
    closed = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.CLOSED))
    assert {o.id for o in closed} == {spy.id, qqq.id}
    everything = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, direction="asc"))
    assert [o.id for o in everything] == [spy.id, qqq.id, limit.id]
    assert [o.id for o in client.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, limit=1))] == [limit.id]
    only_spy = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, symbols=["SPY"]))
    assert [o.id for o in only_spy] == [spy.id]
    later = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, after=everything[0].submitted_at))
    assert spy.id not in {o.id for o in later}

    positions = {p.symbol: p for p in client.get_all_positions()}
    assert set(positions) == {"SPY", "QQQ"} and positions["SPY"].qty == "3"
    assert client.get_open_position("SPY").avg_entry_price == str(ask)
    account = client.get_account()
    assert Decimal(account.cash) < 100000 and Decimal(account.buying_power) < Decimal(account.cash)


def test_replace_cancel_one_and_cancel_all(server: SandboxServer) -> None:
    client = trading(server)
    original = resting_limit(client, "SPY", 2, client_order_id="lim-1")
    assert server.broker.wait_idle(WAIT)
    new = client.replace_order_by_id(original.id, ReplaceOrderRequest(qty=5, limit_price=2.5, client_order_id="lim-2"))
    assert new.replaces == original.id and new.qty == "5" and new.limit_price == "2.5"
    assert new.client_order_id == "lim-2"
    old = client.get_order_by_id(original.id)
    assert old.status == OrderStatus.REPLACED and old.replaced_by == new.id and old.replaced_at is not None
    assert api_error(lambda: client.replace_order_by_id(original.id, ReplaceOrderRequest(qty=1))).status_code == 422

    client.cancel_order_by_id(new.id)
    assert server.broker.wait_idle(WAIT)
    assert client.get_order_by_id(new.id).status == OrderStatus.CANCELED
    assert api_error(lambda: client.cancel_order_by_id(new.id)).status_code == 422

    a, b = resting_limit(client, "SPY", 1), resting_limit(client, "QQQ", 1)
    responses = client.cancel_orders()
    assert {r.id for r in responses} == {a.id, b.id} and {r.status for r in responses} == {200}
    assert server.broker.wait_idle(WAIT)
    assert client.get_orders() == []


def test_close_positions_partially_and_all(server: SandboxServer) -> None:
    client = trading(server)
    market_buy(client, "SPY", 10)
    market_buy(client, "QQQ", 5)
    assert server.broker.wait_idle(WAIT)

    by_qty = client.close_position("SPY", ClosePositionRequest(qty="4"))
    assert by_qty.side == OrderSide.SELL and by_qty.qty == "4"
    assert server.broker.wait_idle(WAIT)
    assert client.get_open_position("SPY").qty == "6"
    by_pct = client.close_position("SPY", ClosePositionRequest(percentage="50"))
    assert by_pct.qty == "3"
    assert server.broker.wait_idle(WAIT)
    assert client.get_open_position("SPY").qty == "3"

    resting_limit(client, "QQQ", 5, side=OrderSide.SELL)  # holds all of QQQ until cancelled
    assert server.broker.wait_idle(WAIT)
    assert client.get_open_position("QQQ").qty_available == "0"
    results = client.close_all_positions(cancel_orders=True)
    assert {r.symbol for r in results} == {"SPY", "QQQ"} and {r.status for r in results} == {200}
    assert server.broker.wait_idle(WAIT)
    assert client.get_all_positions() == []
    assert api_error(lambda: client.get_open_position("SPY")).status_code == 404
    assert api_error(lambda: client.close_position("SPY")).status_code == 404


def test_alpaca_like_errors(make_server: Callable[..., SandboxServer]) -> None:
    server = make_server(sim_config=SimConfig(non_fractionable=["TQQQ"]))
    client = trading(server)
    market_buy(client, "SPY", 1, cid="same")
    duplicate = api_error(lambda: market_buy(client, "SPY", 1, cid="same"))
    assert duplicate.status_code == 422 and duplicate.code == 40010001

    notional_limit = api_error(
        lambda: client.submit_order(
            LimitOrderRequest(
                symbol="SPY", notional=100, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, limit_price=10
            )
        )
    )
    assert notional_limit.status_code == 422 and notional_limit.code == 42210000
    assert api_error(lambda: market_buy(client, "TQQQ", 1.5)).status_code == 422
    sub_penny = api_error(
        lambda: client.submit_order(
            LimitOrderRequest(symbol="SPY", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, limit_price=10.001)
        )
    )
    assert sub_penny.status_code == 422 and "sub-penny" in sub_penny.message
    too_big = api_error(lambda: market_buy(client, "SPY", 10_000))
    assert too_big.status_code == 403 and too_big.message == "insufficient buying power"
    oversell = api_error(
        lambda: client.submit_order(
            MarketOrderRequest(symbol="QQQ", qty=1, side=OrderSide.SELL, time_in_force=TimeInForce.DAY)
        )
    )
    assert oversell.status_code == 403
    missing = api_error(lambda: client.get_order_by_id("00000000-0000-4000-8000-000000000000"))
    assert missing.status_code == 404 and missing.code == 40410000 and missing.message == "order not found"
    assert api_error(lambda: client.get_order_by_client_id("nope")).status_code == 404


def test_auth_missing_and_wrong_keys(server: SandboxServer) -> None:
    wrong = api_error(lambda: trading(server, secret="wrong").get_account())
    assert wrong.status_code == 403 and wrong.message == "request is not authorized"
    no_keys = TradingClient(oauth_token="not-an-alpaca-key", url_override=server.url)  # sends no APCA headers
    missing = api_error(no_keys.get_account)
    assert missing.status_code == 401 and missing.code == 40110000
    assert missing.response is not None and missing.response.headers["X-Ratelimit-Limit"] == "200"


def test_default_keys_come_from_the_environment_then_a_fixed_pair() -> None:
    config = SandboxConfig()
    assert resolve_keys(config, {}) == (DEFAULT_KEY_ID, DEFAULT_SECRET_KEY)
    assert resolve_keys(config, {"APCA_API_KEY_ID": "a", "APCA_API_SECRET_KEY": "b"}) == ("a", "b")
    env = {"ALPACA_API_KEY": "c", "ALPACA_SECRET_KEY": "d", "APCA_API_KEY_ID": "a", "APCA_API_SECRET_KEY": "b"}
    assert resolve_keys(config, env) == ("c", "d")
    assert resolve_keys(SandboxConfig(key_id="x", secret_key="y"), env) == ("x", "y")


def test_rate_limit_answers_429_with_headers(make_server: Callable[..., SandboxServer]) -> None:
    server = make_server(rate_limit_per_minute=5)
    client = trading(server)
    for _ in range(5):
        client.get_clock()
    limited = api_error(client.get_clock)
    assert limited.status_code == 429 and limited.code == 42910000
    headers = limited.response.headers
    assert headers["X-Ratelimit-Limit"] == "5" and headers["X-Ratelimit-Remaining"] == "0"
    assert int(headers["X-Ratelimit-Reset"]) >= int(dt.datetime.now(tz=dt.UTC).timestamp())
    # market data has its own budget, as on Alpaca
    data = StockHistoricalDataClient(KEY, SECRET, url_override=server.url)
    assert "SPY" in data.get_stock_latest_quote(StockLatestQuoteRequest(symbol_or_symbols="SPY"))
    assert server.request_count == 7


def test_injected_errors_and_sim_pass_through(make_server: Callable[..., SandboxServer]) -> None:
    faults = FaultConfig(error_rate=1.0, fill_latency_ms=(5.0, 10.0), partial_fill_probability=1.0)
    server = make_server(faults=faults, seed=3)
    assert server.broker.config.partial_fill_probability == 1.0 and server.broker.config.fill_latency_ms == (5, 10)
    statuses = {api_error(trading(server).get_account).status_code for _ in range(12)}
    assert statuses == {429, 500}


def test_overlapping_requests_get_the_faults_their_count_gives(make_server: Callable[..., SandboxServer]) -> None:
    """Each request's fate is drawn whole on arrival, so requests that overlap a delayed one (a client
    retrying past its timeout, a busy machine) get exactly the faults a replay of the seed gives for that
    many requests; drawing the error only after the delay let the overlap reorder the draws."""
    faults = FaultConfig(error_rate=0.3, delay_rate=0.5, delay_s=0.3)
    server = make_server(faults=faults, seed=7)
    requests = 24

    def status() -> int:
        try:
            trading(server).get_clock()
        except APIError as err:
            return int(err.status_code)
        return 200

    with ThreadPoolExecutor(max_workers=requests) as pool:  # all at once: most overlap a delayed one
        statuses = sorted(pool.map(lambda _: status(), range(requests)))
    replay = FaultInjector(faults, 7)
    fates = [replay.decide() for _ in range(requests)]
    assert statuses == sorted(200 if f.error is None else f.error.status for f in fates)
    assert server.faults_injected == {"errors": replay.errors, "delays": replay.delays}
    assert replay.errors and replay.delays  # the seed does inject both


def test_replaced_orders_survive_a_restart(make_server: Callable[..., SandboxServer], tmp_path: Path) -> None:
    state = tmp_path / "sandbox.sqlite"
    first = make_server(state_path=state)
    client = trading(first)
    original = resting_limit(client, "SPY", 1)
    assert first.broker.wait_idle(WAIT)
    new = client.replace_order_by_id(original.id, ReplaceOrderRequest(limit_price=1.5))
    first.stop()
    again = trading(make_server(state_path=state))
    assert again.get_order_by_id(original.id).status == OrderStatus.REPLACED
    assert again.get_order_by_id(new.id).replaces == original.id


# ---------------------------------------------------------------------------------------------- streams


class StreamThread:
    """Runs an SDK stream's blocking `run()` in a thread and stops it cleanly.

    `stop()` only queues a stop that the SDK checks between receives (up to 5 s apart), so after it the server
    drops the sockets: the SDK sees the close, notices it should not run, and returns at once.
    """

    def __init__(self, stream: Any, server: SandboxServer) -> None:
        self.stream = stream
        self.server = server
        self.thread = threading.Thread(target=stream.run, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        if self.stream._loop is not None:
            self.stream.stop()
        self.server.drop_streams()
        self.thread.join(WAIT)
        assert not self.thread.is_alive()


def test_trade_updates_stream_reports_fills_and_survives_a_drop(server: SandboxServer) -> None:
    updates: list[TradeUpdate] = []
    seen: dict[str, threading.Event] = {}

    async def on_update(update: TradeUpdate) -> None:
        updates.append(update)
        key = f"{update.order.client_order_id}:{update.event}"
        seen.setdefault(key, threading.Event()).set()

    def wait_for(key: str) -> None:
        assert seen.setdefault(key, threading.Event()).wait(WAIT), f"no {key} event"

    stream = TradingStream(KEY, SECRET, paper=True, url_override=server.stream_url + "/stream")
    stream.subscribe_trade_updates(on_update)
    runner = StreamThread(stream, server)
    try:
        assert server.wait_for_trade_listeners(1, WAIT)
        client = trading(server)
        order = market_buy(client, "SPY", 2, cid="stream-1")
        wait_for("stream-1:new")
        wait_for("stream-1:fill")
        fill = next(u for u in updates if u.event == "fill")
        assert str(fill.order.id) == str(order.id) and fill.order.status == OrderStatus.FILLED
        assert fill.qty == 2 and fill.position_qty == 2 and fill.price == float(server.broker.get_latest_quote("SPY").ask)

        limit = resting_limit(client, "SPY", 1, client_order_id="stream-2")
        wait_for("stream-2:new")
        client.replace_order_by_id(limit.id, ReplaceOrderRequest(limit_price=2, client_order_id="stream-3"))
        wait_for("stream-2:replaced")
        wait_for("stream-3:new")
        assert not seen.get("stream-2:canceled"), "a replaced order is announced as replaced, not canceled"

        server.drop_streams()  # the SDK reconnects by itself (after its backoff of about a second)
        assert server.wait_for_trade_listeners(1, WAIT)
        client.cancel_order_by_id(client.get_order_by_client_id("stream-3").id)
        wait_for("stream-3:canceled")
    finally:
        runner.stop()


def test_market_data_stream_pushes_quotes_and_refuses_a_second_connection(server: SandboxServer) -> None:
    quotes: list[Any] = []
    first_quote, moved = threading.Event(), threading.Event()

    async def on_quote(quote: Any) -> None:
        quotes.append(quote)
        first_quote.set()
        if quote.bid_price > 600:
            moved.set()

    stream = StockDataStream(KEY, SECRET, url_override=server.stream_url + "/v2/iex")
    stream.subscribe_quotes(on_quote, "SPY")
    runner = StreamThread(stream, server)
    refused = RecordingHandler("connection limit exceeded")
    failed_auth = RecordingHandler("auth failed")
    sdk_log = logging.getLogger("alpaca.data.live.websocket")
    sdk_log.addHandler(refused)
    sdk_log.addHandler(failed_auth)
    second = bad = None
    try:
        assert first_quote.wait(WAIT)
        current = server.broker.get_latest_quote("SPY")
        assert quotes[0].symbol == "SPY" and quotes[0].bid_price == float(current.bid)
        assert quotes[0].ask_price == float(current.ask)
        server.broker.set_price("SPY", 650)
        assert moved.wait(WAIT)
        assert quotes[-1].ask_price == float(server.broker.get_latest_quote("SPY").ask)

        second = StreamThread(StockDataStream(KEY, SECRET, url_override=server.stream_url + "/v2/iex"), server)
        second.stream.subscribe_quotes(on_quote, "QQQ")
        assert refused.seen.wait(WAIT)
        assert server.refused_data_connections >= 1

        bad = StreamThread(StockDataStream(KEY, "wrong", url_override=server.stream_url + "/v2/sip"), server)
        bad.stream.subscribe_quotes(on_quote, "QQQ")
        assert failed_auth.seen.wait(WAIT)
    finally:
        sdk_log.removeHandler(refused)
        sdk_log.removeHandler(failed_auth)
        for s in (second, bad):
            if s is not None:
                s.stop()
        runner.stop()
    assert all(q.symbol == "SPY" for q in quotes)


class RecordingHandler(logging.Handler):
    """Sets `seen` when the SDK logs a message containing `needle` (its only report of a refused stream)."""

    def __init__(self, needle: str) -> None:
        super().__init__(logging.DEBUG)
        self.needle = needle
        self.seen = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.needle in record.getMessage():
            self.seen.set()


# ---------------------------------------------------------------------------------------------- market data REST


def test_bars_paginate_and_match_the_market(make_server: Callable[..., SandboxServer], market: SampleMarket) -> None:
    server = make_server(max_page_size=100)
    data = StockHistoricalDataClient(KEY, SECRET, url_override=server.url)
    request = StockBarsRequest(
        symbol_or_symbols=["SPY", "QQQ"],
        timeframe=TimeFrame.Day,
        start=dt.datetime(2024, 1, 1),
        end=dt.datetime(2025, 1, 1),
        adjustment="all",
        feed="iex",
    )
    before = server.request_count
    bars = data.get_stock_bars(request)
    assert server.request_count - before == 6  # 2 x 252 bars in pages of 100
    for symbol in ("SPY", "QQQ"):
        expected = market.bars(symbol, dt.date(2024, 1, 1), dt.date(2024, 12, 31))
        got = bars[symbol]
        assert len(got) == len(expected) == 252
        assert [b.close for b in got] == list(expected["close"])
        assert got[0].timestamp == dt.datetime(2024, 1, 2, 5, tzinfo=dt.UTC)  # midnight New York
    limited = data.get_stock_bars(
        StockBarsRequest(symbol_or_symbols="SPY", timeframe=TimeFrame.Day, start=dt.datetime(2024, 1, 1), limit=150)
    )
    assert len(limited["SPY"]) == 150


def test_latest_quote_and_snapshot_come_from_the_simulated_exchange(server: SandboxServer) -> None:
    data = StockHistoricalDataClient(KEY, SECRET, url_override=server.url)
    server.broker.set_price("SPY", "500")
    quote = data.get_stock_latest_quote(StockLatestQuoteRequest(symbol_or_symbols=["SPY", "NOPE"]))
    assert set(quote) == {"SPY"}
    assert quote["SPY"].bid_price == 499.88 and quote["SPY"].ask_price == 500.13
    snap = data.get_stock_snapshot(StockSnapshotRequest(symbol_or_symbols="SPY"))["SPY"]
    assert snap.latest_quote is not None and snap.latest_quote.bid_price == 499.88
    assert snap.daily_bar is not None and snap.daily_bar.timestamp.date() == dt.date(2025, 6, 30)


def test_server_lifecycle_urls_and_bad_routes(market: SampleMarket) -> None:
    with SandboxServer(market, config=SandboxConfig(key_id=KEY, secret_key=SECRET)) as server:
        assert server.url.startswith("http://127.0.0.1:") and server.stream_url == server.url.replace("http", "ws")
        client = trading(server)
        missing = api_error(lambda: client.get("/nothing-here"))
        assert missing.status_code == 404 and missing.code == 40410000
    with pytest.raises(RuntimeError):
        _ = server.url
