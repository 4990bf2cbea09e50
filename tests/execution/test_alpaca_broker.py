"""AlpacaBroker (the real alpaca-py SDK underneath) against the local Alpaca sandbox on loopback.

Nothing is mocked: the SDK speaks HTTP and WebSockets to `SandboxServer`, which runs SimBroker behind
Alpaca's wire protocol. Waiting is always on a condition (an event queue, the stream's listening state,
the simulator going idle) with a timeout, never a fixed sleep.
"""

from __future__ import annotations

import datetime as dt
import os
import queue
import threading
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
import pytest
from alpaca.data.historical.stock import StockHistoricalDataClient

from alchemiser.data.alpaca_source import fetch_daily_bars, fetch_into_store
from alchemiser.data.sample import SampleMarket
from alchemiser.data.store import LocalStore
from alchemiser.errors import ConfigError
from alchemiser.execution.alpaca import AlpacaBroker, RetryPolicy
from alchemiser.execution.broker import BrokerError, DuplicateClientOrderId, NotFound, OrderRejected
from alchemiser.execution.executor import Executor
from alchemiser.execution.rules import ExecutionRules
from alchemiser.execution.sim import SimConfig
from alchemiser.ledger import Ledger
from alchemiser.models import OrderEvent, OrderRequest, OrderStatus, OrderType, OrderUpdate, Quote, Side
from alchemiser.portfolio.plan import plan_rebalance
from alchemiser.sandbox.config import FaultConfig
from alchemiser.sandbox.server import SandboxConfig, SandboxServer
from alchemiser.secrets import (
    DATA_STREAM_URL,
    LIVE_TRADING_URL,
    PAPER_TRADING_URL,
    AlpacaCredentials,
    AlpacaEndpoints,
    load_credentials,
    redact,
    resolve_endpoints,
)

D = Decimal
END = dt.date(2025, 6, 30)
KEY, SECRET = "test-key-id-0123", "test-secret-s3cr3t-value"
WAIT = 15.0  # generous upper bound for anything asynchronous; tests end as soon as the condition holds
FAST_RETRY = RetryPolicy(attempts=6, initial_s=0.01, max_wait_s=0.2, jitter_s=0.01, deadline_s=20)
FAST = ExecutionRules(limit_timeout_s=2, sell_timeout_s=WAIT, poll_interval_s=1.0, quote_timeout_s=5)

T = TypeVar("T")


# ------------------------------------------------------------------------------------------------ fixtures


def start_sandbox(market: SampleMarket, tmp_path: Path, **config: Any) -> SandboxServer:
    cfg = SandboxConfig(port=0, key_id=KEY, secret_key=SECRET, **config)
    server = SandboxServer(market, tmp_path / "sandbox.sqlite", cfg, SimConfig(non_fractionable=["UVXY"]))
    server.start()
    return server


@pytest.fixture
def server(market: SampleMarket, tmp_path: Path) -> Iterator[SandboxServer]:
    srv = start_sandbox(market, tmp_path)
    try:
        yield srv
    finally:
        srv.stop()


def endpoints_for(server: SandboxServer) -> AlpacaEndpoints:
    """Derived exactly as a user's config would be: only the REST bases are given."""
    return resolve_endpoints(True, {"trading_url": server.url, "data_url": server.url}, env={})


def make_broker(server: SandboxServer, key: str = KEY, secret: str = SECRET, **kwargs: Any) -> AlpacaBroker:
    kwargs.setdefault("retry", FAST_RETRY)
    return AlpacaBroker(AlpacaCredentials.of(key, secret), endpoints_for(server), paper=True, **kwargs)


@pytest.fixture
def broker(server: SandboxServer) -> Iterator[AlpacaBroker]:
    b = make_broker(server)
    try:
        yield b
    finally:
        b.close()


class Events:
    """Collects order updates from the stream; `wait` blocks on the queue until a matching one arrives."""

    def __init__(self) -> None:
        self.q: queue.Queue[OrderUpdate] = queue.Queue()
        self.seen: list[OrderUpdate] = []

    def __call__(self, update: OrderUpdate) -> None:
        self.q.put(update)

    def wait(self, match: Callable[[OrderUpdate], bool], timeout: float = WAIT) -> OrderUpdate:
        deadline = dt.datetime.now().timestamp() + timeout
        while True:
            remaining = deadline - dt.datetime.now().timestamp()
            try:
                update = self.q.get(timeout=max(remaining, 0.001))
            except queue.Empty:
                raise AssertionError(f"no matching order update within {timeout}s; saw {self.seen}") from None
            self.seen.append(update)
            if match(update):
                return update


class Quotes:
    def __init__(self) -> None:
        self.q: queue.Queue[Quote] = queue.Queue()

    def __call__(self, quote: Quote) -> None:
        self.q.put(quote)

    def wait(self, match: Callable[[Quote], bool], timeout: float = WAIT) -> tuple[Quote, list[Quote]]:
        seen: list[Quote] = []
        deadline = dt.datetime.now().timestamp() + timeout
        while True:
            try:
                quote = self.q.get(timeout=max(deadline - dt.datetime.now().timestamp(), 0.001))
            except queue.Empty:
                raise AssertionError(f"no matching quote within {timeout}s; saw {seen}") from None
            seen.append(quote)
            if match(quote):
                return quote, seen


def cid(tag: str = "t") -> str:
    return f"{tag}-{uuid.uuid4().hex[:12]}"


def market_buy(symbol: str, qty: str = "2", client_id: str | None = None) -> OrderRequest:
    return OrderRequest(symbol, Side.BUY, OrderType.MARKET, client_id or cid(), qty=D(qty))


def final_event(order_id: str) -> Callable[[OrderUpdate], bool]:
    return lambda u: u.order.id == order_id and u.order.is_final


# ------------------------------------------------------------------------------------------------ reads


def test_account_positions_assets_and_clock(server: SandboxServer, broker: AlpacaBroker) -> None:
    sim = server.broker
    account = broker.get_account()
    expected = sim.get_account()
    assert isinstance(account.cash, Decimal) and account.cash == expected.cash == D(100000)
    assert account.buying_power == expected.buying_power and account.equity == expected.equity
    assert account.status == "ACTIVE" and not account.trading_blocked
    assert broker.get_positions() == []

    spy = broker.get_asset("spy")
    assert (spy.symbol, spy.tradable, spy.fractionable) == ("SPY", True, True)
    assert broker.get_asset("UVXY").fractionable is False
    with pytest.raises(NotFound):
        broker.get_asset("NOSUCH")

    before = sum(broker.http_requests.values())
    assets = broker.get_assets(["SPY", "UVXY", "NOSUCH", "qqq"])
    assert set(assets) == {"SPY", "UVXY", "QQQ"} and not assets["UVXY"].fractionable
    assert sum(broker.http_requests.values()) - before == 1, "get_assets must be one request"
    assert broker.calls["get_assets"] == 1

    clock = broker.get_clock()
    assert clock.is_open and clock.timestamp.tzinfo is not None and clock.next_open.tzinfo is not None


def test_market_order_streams_events_and_every_lookup_agrees(server: SandboxServer, broker: AlpacaBroker) -> None:
    events = Events()
    broker.add_order_listener(events)
    request = market_buy("SPY", "3")
    placed = broker.submit_order(request)
    assert placed.client_order_id == request.client_order_id and placed.qty == D(3)
    assert placed.submitted_at.tzinfo is not None

    filled = events.wait(final_event(placed.id))
    assert filled.event == OrderEvent.FILL and filled.order.status == OrderStatus.FILLED
    assert filled.order.filled_qty == D(3) and isinstance(filled.price, Decimal) and filled.qty == D(3)
    assert OrderEvent.NEW in {u.event for u in events.seen if u.order.id == placed.id}
    sim_order = server.broker.get_order(placed.id)
    assert filled.order.filled_avg_price == sim_order.filled_avg_price  # exact, from strings

    got = broker.get_order(placed.id)
    assert got.status == OrderStatus.FILLED and got.filled_qty == D(3) and got.updated_at.tzinfo is not None
    by_client = broker.get_order_by_client_id(request.client_order_id)
    assert by_client is not None and by_client.id == placed.id
    assert broker.get_order_by_client_id("never-placed") is None

    second = broker.submit_order(market_buy("QQQ", "1"))
    events.wait(final_event(second.id))
    closed = broker.list_orders("closed")
    assert [o.id for o in closed[:2]] == [second.id, placed.id], "newest first"
    assert broker.list_orders("open") == []
    assert {o.id for o in broker.list_orders("all")} == {placed.id, second.id}

    positions = {p.symbol: p for p in broker.get_positions()}
    assert positions["SPY"].qty == D(3) and positions["QQQ"].qty == D(1)
    assert positions["SPY"].avg_entry_price == sim_order.filled_avg_price
    broker.remove_order_listener(events)


def test_limit_order_rests_and_cancels_through_the_stream(server: SandboxServer, broker: AlpacaBroker) -> None:
    events = Events()
    broker.add_order_listener(events)
    server.broker.script("QQQ", stall=True)
    quote = broker.get_latest_quote("QQQ")
    request = OrderRequest("QQQ", Side.BUY, OrderType.LIMIT, cid(), qty=D(2), limit_price=quote.bid)
    order = broker.submit_order(request)
    assert order.type == OrderType.LIMIT and order.limit_price == quote.bid
    events.wait(lambda u: u.order.id == order.id and u.event == OrderEvent.NEW)
    assert [o.id for o in broker.list_orders("open")] == [order.id]

    broker.cancel_order(order.id)
    cancelled = events.wait(final_event(order.id))
    assert cancelled.event == OrderEvent.CANCELED and cancelled.order.filled_qty == 0
    with pytest.raises(OrderRejected):
        broker.cancel_order(order.id)  # no longer cancelable
    with pytest.raises(NotFound):
        broker.cancel_order(str(uuid.uuid4()))
    with pytest.raises(NotFound):
        broker.get_order(str(uuid.uuid4()))
    with pytest.raises(NotFound):
        broker.get_order("not-an-order-id")


def test_notional_buy_and_close_position(server: SandboxServer, broker: AlpacaBroker) -> None:
    events = Events()
    broker.add_order_listener(events)
    order = broker.submit_order(OrderRequest("SPY", Side.BUY, OrderType.MARKET, cid(), notional=D("1234.56")))
    assert order.notional == D("1234.56") and order.qty is None
    filled = events.wait(final_event(order.id)).order
    assert filled.filled_qty != filled.filled_qty.to_integral_value(), "a notional buy holds fractional shares"

    closing = broker.close_position("SPY")
    assert closing.side == Side.SELL and closing.symbol == "SPY"
    events.wait(final_event(closing.id))
    assert broker.get_positions() == []
    with pytest.raises(NotFound):
        broker.close_position("SPY")


# ------------------------------------------------------------------------------------------------ errors


def test_refusals_map_to_our_errors(server: SandboxServer, broker: AlpacaBroker) -> None:
    request = market_buy("SPY", "1")
    broker.submit_order(request)
    with pytest.raises(DuplicateClientOrderId) as dup:
        broker.submit_order(request)
    assert dup.value.code == 422
    with pytest.raises(OrderRejected) as notional_limit:
        broker.submit_order(
            OrderRequest("SPY", Side.BUY, OrderType.LIMIT, cid(), notional=D(100), limit_price=D("500.00"))
        )
    assert not isinstance(notional_limit.value, DuplicateClientOrderId) and notional_limit.value.code == 422
    with pytest.raises(OrderRejected) as too_small:
        broker.submit_order(OrderRequest("SPY", Side.BUY, OrderType.MARKET, cid(), notional=D("0.50")))
    assert too_small.value.code == 422
    with pytest.raises(OrderRejected) as power:
        broker.submit_order(market_buy("SPY", "100000"))
    assert power.value.code == 403 and "buying power" in str(power.value)
    with pytest.raises(OrderRejected):
        broker.submit_order(OrderRequest("QQQ", Side.SELL, OrderType.MARKET, cid(), qty=D(5)))  # not held
    with pytest.raises(OrderRejected):
        broker.submit_order(market_buy("UVXY", "0.5"))  # not fractionable
    with pytest.raises(OrderRejected, match="exactly"):
        broker.submit_order(market_buy("SPY", "1.0000000000000001"))  # a float would change it
    with pytest.raises(NotFound):
        broker.get_latest_quote("NOSUCH")


def test_bad_keys_fail_clearly_without_revealing_them(server: SandboxServer) -> None:
    wrong = "definitely-wrong-secret-9f8e"
    bad = make_broker(server, KEY, wrong)
    try:
        with pytest.raises(BrokerError) as exc:
            bad.get_account()
        assert not isinstance(exc.value, OrderRejected | NotFound)
        text = str(exc.value)
        assert wrong not in text and KEY not in text and "credentials" in text
        with pytest.raises(BrokerError) as order_exc:
            bad.submit_order(market_buy("SPY"))
        assert not isinstance(order_exc.value, OrderRejected), "bad keys are not an order refusal"
        assert wrong not in str(order_exc.value)
    finally:
        bad.close()


# ------------------------------------------------------------------------------------------------ quotes


def test_quotes_stream_after_subscribe_and_stop_after_unsubscribe(server: SandboxServer, broker: AlpacaBroker) -> None:
    quotes = Quotes()
    rest = broker.get_latest_quote("SPY")
    assert isinstance(rest.bid, Decimal) and rest.bid < rest.ask and rest.timestamp.tzinfo is not None

    broker.subscribe_quotes(["SPY"], quotes)
    first, _ = quotes.wait(lambda q: q.symbol == "SPY")
    assert (first.bid, first.ask) == (rest.bid, rest.ask) and first.timestamp.tzinfo is not None
    server.broker.set_price("SPY", D("600.00"))
    moved, _ = quotes.wait(lambda q: q.symbol == "SPY" and q.bid != first.bid)
    assert moved.bid < D(600) < moved.ask
    assert broker.subscriptions == {"SPY"}

    broker.unsubscribe_quotes(["SPY"])
    # The server handles messages of one connection in order: once QQQ's first quote arrives, it has
    # processed the SPY unsubscription, so no SPY frame may come after that.
    broker.subscribe_quotes(["QQQ"], quotes)
    quotes.wait(lambda q: q.symbol == "QQQ")
    spy_frames = broker.quote_frames["SPY"]
    server.broker.set_price("SPY", D("610.00"))
    server.broker.set_price("QQQ", D("500.00"))
    _, seen = quotes.wait(lambda q: q.symbol == "QQQ" and q.bid < D(500) < q.ask)
    assert all(q.symbol == "QQQ" for q in seen)
    assert broker.quote_frames["SPY"] == spy_frames, "the server kept streaming an unsubscribed symbol"
    assert server.refused_data_connections == 0, "one market-data connection per key pair"
    broker.unsubscribe_quotes(["QQQ"])
    assert broker.subscriptions == set()


# ------------------------------------------------------------------------------------------------ resilience


def test_streams_reconnect_after_a_drop(server: SandboxServer, broker: AlpacaBroker) -> None:
    events = Events()
    broker.add_order_listener(events)
    quotes = Quotes()
    broker.subscribe_quotes(["SPY"], quotes)
    quotes.wait(lambda q: q.symbol == "SPY")
    generation = broker.order_stream_generation
    assert generation >= 1

    server.drop_streams()
    assert broker.wait_order_stream(WAIT, after=generation), "the trade-update stream did not come back"
    order = broker.submit_order(market_buy("SPY", "1"))
    assert events.wait(final_event(order.id)).event == OrderEvent.FILL
    # quotes resubscribe on the new market-data connection by themselves
    server.broker.set_price("SPY", D("620.00"))
    quotes.wait(lambda q: q.symbol == "SPY" and q.bid < D(620) < q.ask)


def test_rate_limited_reads_are_retried_with_backoff(market: SampleMarket, tmp_path: Path) -> None:
    srv = start_sandbox(market, tmp_path, rate_limit_per_minute=3, rate_limit_window_s=0.3)
    waits: list[float] = []
    policy = RetryPolicy(attempts=8, initial_s=0.05, max_wait_s=0.5, jitter_s=0.02, deadline_s=30)

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        threading.Event().wait(seconds)  # the backoff itself: the server's window must pass

    b = make_broker(srv, retry=policy, sleep=sleep)
    try:
        for _ in range(8):
            assert b.get_clock().is_open
        assert b.calls["get_clock"] == 8
        assert b.http_requests["GET /v2/clock"] > 8, "no request was rate limited"
        assert waits and all(0 < w <= policy.max_wait_s for w in waits)
    finally:
        b.close()
        srv.stop()


def test_injected_failures_and_timeouts_never_duplicate_orders(market: SampleMarket, tmp_path: Path) -> None:
    """Half the requests fail (429 or 500) and some outlive the client's read timeout, so the server may
    place an order after the client gave up: each submit must still end as exactly one order, found by
    its client_order_id rather than re-sent blindly."""
    faults = FaultConfig(error_rate=0.5, delay_rate=0.2, delay_s=0.4)
    srv = start_sandbox(market, tmp_path, seed=11, faults=faults)
    policy = RetryPolicy(attempts=10, initial_s=0.001, max_wait_s=0.01, jitter_s=0.001, http_timeout_s=(2.0, 0.15))
    b = make_broker(srv, retry=policy)
    try:
        placed = {}
        for client_id in [cid("f") for _ in range(12)]:
            try:
                placed[client_id] = b.submit_order(market_buy("SPY", "1", client_id))
            except BrokerError as exc:  # only ever "outcome unknown" after every attempt failed
                assert not isinstance(exc, OrderRejected), exc
        assert len(placed) >= 10
        assert b.calls["get_order_by_client_id"] > 0, "no ambiguous failure was resolved by lookup"
        assert sum(b.http_requests.values()) > sum(b.calls.values()), "no fault was injected"
        srv.broker.wait_idle()
        on_server = {o.client_order_id: o.id for o in srv.broker.list_orders("all")}
        assert len(on_server) == len(srv.broker.list_orders("all")), "an order was placed twice"
        for client_id, order in placed.items():
            assert on_server[client_id] == order.id
    finally:
        b.close()
        srv.stop()


def test_close_is_idempotent_and_stops_stream_threads(server: SandboxServer) -> None:
    b = make_broker(server)
    b.add_order_listener(Events())
    b.subscribe_quotes(["SPY"], Quotes())
    names = {t.name for t in threading.enumerate()}
    assert {"alpaca-trade-updates", "alpaca-quotes"} <= names
    b.close()
    b.close()
    alive = [t for t in threading.enumerate() if t.name in ("alpaca-trade-updates", "alpaca-quotes")]
    assert alive == []
    with pytest.raises(OrderRejected):
        b.submit_order(market_buy("SPY"))


# ------------------------------------------------------------------------------------------------ bars


def test_fetch_daily_bars_matches_the_sample_market(market: SampleMarket, tmp_path: Path) -> None:
    srv = start_sandbox(market, tmp_path, max_page_size=100)  # forces the SDK through many pages
    try:
        client = StockHistoricalDataClient(KEY, SECRET, url_override=srv.url)
        start = dt.date(2024, 1, 1)
        messages: list[str] = []
        frames = fetch_daily_bars(client, ["SPY", "qqq", "NOSUCH"], start, END, progress=messages.append)
        assert set(frames) == {"SPY", "QQQ"} and messages
        assert srv.request_count > 4, "~370 bars in pages of 100 take several requests"
        for sym, frame in frames.items():
            expected = market.bars(sym, start, END)
            assert frame.index.tz is None and list(frame.columns) == ["open", "high", "low", "close", "volume"]
            pd.testing.assert_frame_equal(frame, expected, check_names=False, check_freq=False, rtol=1e-12)

        store = LocalStore(tmp_path / "store")
        creds = AlpacaCredentials.of(KEY, SECRET)
        result = fetch_into_store(store, creds, endpoints_for(srv), ["SPY", "NOSUCH"], start, END)
        assert result.missing == ["NOSUCH"] and result.rows["SPY"] == len(frames["SPY"])
        pd.testing.assert_frame_equal(store.bars("SPY"), frames["SPY"], check_freq=False)
    finally:
        srv.stop()


# ------------------------------------------------------------------------------------------------ the executor


def test_executor_rebalances_on_alpaca_like_on_the_simulator(
    server: SandboxServer, broker: AlpacaBroker, tmp_path: Path
) -> None:
    """The acceptance test: the real Executor, unchanged, gives the same guarantees through alpaca-py."""
    sim = server.broker
    with Ledger(tmp_path / "ledger.sqlite") as ledger:

        def run(run_id: str, target: dict[str, float]) -> tuple[Any, Any]:
            ledger.start_run(run_id, mode="paper", broker=broker.name, trading_day=END, config_digest="t")
            executor = Executor(broker, ledger, run_id, "20250630", FAST)
            try:
                executor.reconcile()
                account, positions = broker.get_account(), broker.get_positions()
                symbols = set(target) | {p.symbol for p in positions}
                prices = {s: broker.get_latest_quote(s).mid for s in symbols}
                plan = plan_rebalance(target, account, positions, prices, broker.get_assets(symbols))
                return plan, executor.execute(plan, positions)
            finally:
                executor.close()
                sim.wait_idle()

        run("alpaca-1", {"SPY": 1.0})
        assert [p.symbol for p in broker.get_positions()] == ["SPY"]

        target = {"QQQ": 0.5, "BIL": 0.3, "UVXY": 0.2}
        plan, result = run("alpaca-2", target)
        assert [i.symbol for i in plan.sells] == ["SPY"] and plan.sells[0].action == "exit"
        assert result.status == "ok", result.warnings
        orders = ledger.orders("alpaca-2")
        sells = [o for o in orders if o.side == Side.SELL]
        buys = [o for o in orders if o.side == Side.BUY]
        assert len(sells) == 1 and sells[0].status == "filled"
        last_sell_event = max(e["at"] for o in sells for e in ledger.events(o.client_order_id))
        assert all(o.intent_at > last_sell_event for o in buys), "a buy was sent before the sell had filled"
        assert all(ledger.events(o.client_order_id) for o in orders), "events must arrive through the stream"

        account = broker.get_account()
        held = {p.symbol: float(p.market_value / account.equity) for p in broker.get_positions()}
        assert held.keys() == set(target)
        for symbol, weight in target.items():
            assert abs(held[symbol] - weight) <= 0.0025, (symbol, held[symbol])
        assert float(account.cash / account.equity) <= 0.005
        uvxy = next(p for p in broker.get_positions() if p.symbol == "UVXY")
        assert uvxy.qty == uvxy.qty.to_integral_value()
        assert broker.subscriptions == set(), "quotes must be unsubscribed once orders are done"

        before = len(broker.list_orders("all"))
        plan, result = run("alpaca-3", target)
        assert plan.is_empty and result.orders == []
        assert len(broker.list_orders("all")) == before, "a re-run the same day must place nothing"


# ------------------------------------------------------------------------------------------------ secrets


def test_credentials_precedence_and_secrecy(tmp_path: Path) -> None:
    secrets_file = tmp_path / "secrets.toml"
    secrets_file.write_text('[alpaca]\nkey_id = "file-key"\nsecret_key = "file-secret"\n')
    secrets_file.chmod(0o600)
    both = {
        "ALPACA_API_KEY": "a-key",
        "ALPACA_SECRET_KEY": "a-secret",
        "APCA_API_KEY_ID": "b-key",
        "APCA_API_SECRET_KEY": "b-secret",
    }
    creds = load_credentials(secrets_file, both)
    assert creds.key_id.get_secret_value() == "a-key" and creds.secret_key.get_secret_value() == "a-secret"
    apca = {k: v for k, v in both.items() if k.startswith("APCA")}
    assert load_credentials(secrets_file, apca).key_id.get_secret_value() == "b-key"
    from_file = load_credentials(secrets_file, {})
    assert from_file.secret_key.get_secret_value() == "file-secret" and str(secrets_file) in from_file.source

    for shown in (repr(creds), str(creds), f"{creds}", repr([creds]), creds.model_dump_json()):
        assert "a-secret" not in shown and "a-key" not in shown
    assert redact("GET failed for a-key with a-secret", creds) == "GET failed for *** with ***"

    with pytest.raises(ConfigError, match="ALPACA_SECRET_KEY"):
        load_credentials(None, {"ALPACA_API_KEY": "half"})
    with pytest.raises(ConfigError, match="ALPACA_API_KEY"):
        load_credentials(None, {})
    with pytest.raises(ConfigError, match="does not exist"):
        load_credentials(tmp_path / "missing.toml", {})
    if os.name == "posix":
        secrets_file.chmod(0o644)
        with pytest.raises(ConfigError, match="chmod 600"):
            load_credentials(secrets_file, {})
    private = tmp_path / "other.toml"
    private.write_text('[broker]\nkey = "x"\n')
    private.chmod(0o600)
    with pytest.raises(ConfigError, match=r"\[alpaca\]"):
        load_credentials(private, {})


def test_endpoints_are_derived_the_way_alpaca_py_expects() -> None:
    paper = resolve_endpoints(True, env={})
    assert paper.trading_url == PAPER_TRADING_URL
    assert paper.trading_stream_url == "wss://paper-api.alpaca.markets/stream"
    assert paper.data_url == "https://data.alpaca.markets"
    assert paper.data_stream_url == f"{DATA_STREAM_URL}/v2/iex" and paper.feed == "iex"
    live = resolve_endpoints(False, env={})
    assert live.trading_url == LIVE_TRADING_URL and live.trading_stream_url == "wss://api.alpaca.markets/stream"

    local = resolve_endpoints(
        True, {"trading_url": "http://127.0.0.1:8080/v2/", "data_url": "http://127.0.0.1:8080"}, env={}
    )
    assert local.trading_url == "http://127.0.0.1:8080"  # alpaca-py appends /v2 itself
    assert local.trading_stream_url == "ws://127.0.0.1:8080/stream"
    assert local.data_stream_url == "ws://127.0.0.1:8080/v2/iex" and local.is_local

    env = {
        "APCA_API_BASE_URL": "https://proxy.example/v2",
        "ALPACA_DATA_URL": "https://data.example",
        "ALPACA_DATA_STREAM_URL": "wss://quotes.example/v2/sip",
        "ALPACA_DATA_FEED": "sip",
    }
    custom = resolve_endpoints(True, {"trading_url": "http://ignored.example"}, env=env)
    assert custom.trading_url == "https://proxy.example" and custom.trading_stream_url == "wss://proxy.example/stream"
    assert custom.data_url == "https://data.example" and custom.data_stream_url == "wss://quotes.example/v2/sip"
    assert custom.feed == "sip"
    assert (
        resolve_endpoints(True, env={"ALPACA_BASE_URL": "http://a", "APCA_API_BASE_URL": "http://b"}).trading_url
        == "http://a"
    )

    with pytest.raises(ConfigError, match="live API"):
        resolve_endpoints(True, {"trading_url": LIVE_TRADING_URL}, env={})
    with pytest.raises(ConfigError, match="paper API"):
        resolve_endpoints(False, env={"ALPACA_BASE_URL": PAPER_TRADING_URL})
    with pytest.raises(ConfigError, match="feed"):
        resolve_endpoints(True, {"feed": "nasdaq"}, env={})
    with pytest.raises(ConfigError, match="http"):
        resolve_endpoints(True, {"trading_url": "paper-api.alpaca.markets"}, env={})
    with pytest.raises(ConfigError):
        resolve_endpoints(True, {"trading_ulr": "http://typo"}, env={})
