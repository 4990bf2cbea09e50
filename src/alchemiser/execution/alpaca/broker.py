"""AlpacaBroker: the `Broker` protocol on the official alpaca-py SDK (REST, trade updates, quotes).

The pieces it wires: `wire` (exact conversions), `errors` (error mapping and the one retry policy),
`placement` (order-creating calls sent exactly once), `streams` (the two WebSocket streams on their own
threads) and `sdk` (the few SDK internals needed, in one place).
"""

from __future__ import annotations

import collections
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from alpaca.common.enums import Sort
from alpaca.data.enums import DataFeed
from alpaca.data.historical.stock import StockHistoricalDataClient
from alpaca.data.requests import StockLatestQuoteRequest, StockLatestTradeRequest
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import AssetClass, AssetStatus, OrderSide, QueryOrderStatus, TimeInForce
from alpaca.trading.models import Order as AlpacaOrder
from alpaca.trading.requests import GetAssetsRequest, GetOrdersRequest, LimitOrderRequest, MarketOrderRequest
from pydantic import ValidationError

from alchemiser.data.live import LivePrice
from alchemiser.execution.alpaca.errors import CALL_ERRORS, ErrorMapper, RetryPolicy, transient
from alchemiser.execution.alpaca.placement import send_once
from alchemiser.execution.alpaca.sdk import TimedSession, close_session, install_session
from alchemiser.execution.alpaca.streams import StreamHub
from alchemiser.execution.alpaca.wire import (
    asset_from_alpaca,
    aware,
    dec,
    dec0,
    exact_float,
    order_from_alpaca,
    quote_from_wire,
)
from alchemiser.execution.broker import (
    Broker,
    BrokerError,
    BrokerLifecycle,
    NotFound,
    OrderListener,
    OrderRejected,
    QuoteListener,
)
from alchemiser.models import Account, Asset, Clock, Order, OrderRequest, OrderType, Position, Quote, Side
from alchemiser.secrets import AlpacaCredentials, AlpacaEndpoints

log = logging.getLogger(__name__)

T = TypeVar("T")

_ORDER_PAGE = 500  # Alpaca's maximum page size for GET /orders
# Besides CALL_ERRORS, what a read can raise when Alpaca's answer is not what the SDK expects.
_READ_ERRORS: tuple[type[BaseException], ...] = (*CALL_ERRORS, ValueError, KeyError, TypeError)


class AlpacaBroker(BrokerLifecycle):
    """The `Broker` protocol over Alpaca's trading API, trade-update stream and market data."""

    name = "alpaca"
    label = "Alpaca broker"

    def __init__(
        self,
        credentials: AlpacaCredentials,
        endpoints: AlpacaEndpoints,
        paper: bool = True,
        *,
        retry: RetryPolicy | None = None,
        stream_connect_timeout_s: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.credentials = credentials
        self.endpoints = endpoints
        self.paper = paper
        self.retry = retry or RetryPolicy()
        self.stream_connect_timeout_s = stream_connect_timeout_s
        self.calls: collections.Counter[str] = collections.Counter()
        self.http_requests: collections.Counter[str] = collections.Counter()  # real requests, retries included
        self._sleep = sleep
        self._lock = threading.Lock()
        self._closed = False
        self._errors = ErrorMapper(credentials, paper, endpoints.trading_url)
        keys = credentials.key_id.get_secret_value(), credentials.secret_key.get_secret_value()
        self._trading = TradingClient(*keys, paper=paper, url_override=endpoints.trading_url)
        self._data = StockHistoricalDataClient(*keys, url_override=endpoints.data_url)
        for client in (self._trading, self._data):
            install_session(client, TimedSession(self.retry.http_timeout_s, self._count_http))
        try:
            self._feed = DataFeed(endpoints.feed)
        except ValueError:
            self._feed = DataFeed.IEX
        self._streams = StreamHub(
            keys,
            paper=paper,
            trading_stream_url=endpoints.trading_stream_url,
            data_stream_url=endpoints.data_stream_url,
            feed=self._feed,
            redact=self._errors.redact,
        )

    # ---------------------------------------------------------------------------------- plumbing

    def _count_http(self, key: str) -> None:
        with self._lock:
            self.http_requests[key] += 1

    def _read(self, what: str, fn: Callable[[], T]) -> T:
        """An idempotent call with retries; failures become our errors."""
        try:
            return self.retry.retrying(transient, self._sleep)(fn)
        except _READ_ERRORS as exc:
            raise self._errors(exc, what) from None

    @property
    def quote_frames(self) -> collections.Counter[str]:
        """Streamed quotes received per symbol (lets tests prove an unsubscribed symbol stopped streaming)."""
        return self._streams.quote_frames

    # ---------------------------------------------------------------------------------- account, assets, clock

    def get_account(self) -> Account:
        self._count("get_account")
        a = self._read("get account", self._trading.get_account)
        assert not isinstance(a, dict)
        equity = dec(a.equity) if a.equity is not None else dec(a.portfolio_value)
        return Account(
            account_id=str(a.id),
            equity=equity if equity is not None else Decimal(0),
            cash=dec0(a.cash),
            buying_power=dec0(a.buying_power),
            currency=a.currency or "USD",
            status=a.status.value if a.status is not None else "",
            trading_blocked=bool(a.trading_blocked or a.account_blocked or a.trade_suspended_by_user),
        )

    def get_positions(self) -> list[Position]:
        self._count("get_positions")
        raw = self._read("get positions", self._trading.get_all_positions)
        out: list[Position] = []
        for p in raw:
            assert not isinstance(p, dict | str)
            qty = dec0(p.qty)
            avg = dec0(p.avg_entry_price)
            price = dec(p.current_price) or avg
            value = dec(p.market_value)
            out.append(Position(p.symbol, qty, avg, price, value if value is not None else qty * price))
        return sorted(out, key=lambda p: p.symbol)

    def get_asset(self, symbol: str) -> Asset:
        self._count("get_asset")
        sym = symbol.upper()
        a = self._read(f"get asset {sym}", lambda: self._trading.get_asset(sym))
        assert not isinstance(a, dict)
        return asset_from_alpaca(a)

    def get_assets(self, symbols: Iterable[str]) -> dict[str, Asset]:
        """One `GET /assets` for all active US equities, filtered to `symbols` (unknown ones left out):
        one request however many symbols a rebalance needs, instead of one each."""
        self._count("get_assets")
        wanted = {s.upper() for s in symbols}
        if not wanted:
            return {}
        query = GetAssetsRequest(status=AssetStatus.ACTIVE, asset_class=AssetClass.US_EQUITY)
        raw = self._read("get assets", lambda: self._trading.get_all_assets(query))
        out: dict[str, Asset] = {}
        for a in raw:
            assert not isinstance(a, dict | str)
            if a.symbol.upper() in wanted:
                out[a.symbol.upper()] = asset_from_alpaca(a)
        return out

    def get_clock(self) -> Clock:
        self._count("get_clock")
        c = self._read("get clock", self._trading.get_clock)
        assert not isinstance(c, dict)
        return Clock(aware(c.timestamp), bool(c.is_open), aware(c.next_open), aware(c.next_close))

    # ---------------------------------------------------------------------------------- orders

    def _order_request(self, request: OrderRequest) -> MarketOrderRequest | LimitOrderRequest:
        try:
            tif = TimeInForce(request.time_in_force)
        except ValueError:
            raise OrderRejected(f'time_in_force "{request.time_in_force}" is not supported', 422) from None
        common: dict[str, Any] = {
            "symbol": request.symbol.upper(),
            "side": OrderSide.BUY if request.side == Side.BUY else OrderSide.SELL,
            "time_in_force": tif,
            "client_order_id": request.client_order_id,
        }
        if request.qty is not None:
            common["qty"] = exact_float(request.qty, "qty")
        if request.notional is not None:
            common["notional"] = exact_float(request.notional, "notional")
        try:
            if request.type == OrderType.LIMIT:
                assert request.limit_price is not None
                return LimitOrderRequest(limit_price=exact_float(request.limit_price, "limit_price"), **common)
            return MarketOrderRequest(**common)
        except ValidationError as exc:
            raise OrderRejected(f"invalid order: {exc.errors()[0].get('msg', exc)}", 422) from None

    def _send_once(
        self, what: str, send: Callable[[], object], find: Callable[[], Order | None], *, resend_safe: bool,
        unknown_outcome: str,
    ) -> Order:
        return send_once(
            what, send, find, resend_safe=resend_safe, unknown_outcome=unknown_outcome, policy=self.retry,
            errors=self._errors, sleep=self._sleep,
        )

    def submit_order(self, request: OrderRequest) -> Order:
        """Place an order, never twice (see `placement`); `OrderRejected`/`DuplicateClientOrderId` when refused."""
        self._count("submit_order")
        self._check_open()
        payload = self._order_request(request)
        cid = request.client_order_id

        def find() -> Order | None:
            try:
                return self.get_order_by_client_id(cid)
            except BrokerError:
                return None  # cannot tell: rely on client_order_id uniqueness

        return self._send_once(
            f"{request.side} {request.symbol} ({cid})",
            lambda: self._trading.submit_order(payload),
            find,
            resend_safe=True,
            unknown_outcome=f"the order {cid} may exist; the next run reconciles it",
        )

    def close_position(self, symbol: str) -> Order:
        """Alpaca's own `DELETE /positions/{symbol}` (sells fractional shares too); returns the closing order.

        It carries no client id, so after an ambiguous failure the newest sell of the symbol placed since
        the call started is taken as the closing order; if there is none, nothing is re-sent.
        """
        self._count("close_position")
        self._check_open()
        sym = symbol.upper()
        started = dt.datetime.now(tz=dt.UTC) - dt.timedelta(seconds=5)

        def find() -> Order | None:
            try:
                orders = self.list_orders("all")
            except BrokerError:
                return None
            recent = [o for o in orders if o.symbol == sym and o.side == Side.SELL and o.submitted_at >= started]
            return recent[0] if recent else None

        return self._send_once(
            f"close position {sym}",
            lambda: self._trading.close_position(sym),
            find,
            resend_safe=False,
            unknown_outcome="the position may still be closing — check open orders",
        )

    def cancel_order(self, order_id: str) -> None:
        """Request cancellation (idempotent on Alpaca, so retried like a read); the final state follows as
        an order update. `NotFound` for unknown ids, `OrderRejected` when no longer cancelable."""
        self._count("cancel_order")
        self._check_open()
        try:
            self.retry.retrying(transient, self._sleep)(lambda: self._trading.cancel_order_by_id(order_id))
        except ValueError:
            raise NotFound(f"order {order_id} not found (not an Alpaca order id)") from None
        except CALL_ERRORS as exc:
            raise self._errors(exc, f"cancel order {order_id}", order=True) from None

    def get_order(self, order_id: str) -> Order:
        self._count("get_order")
        try:
            raw = self.retry.retrying(transient, self._sleep)(lambda: self._trading.get_order_by_id(order_id))
        except ValueError:
            raise NotFound(f"order {order_id} not found (not an Alpaca order id)") from None
        except CALL_ERRORS as exc:
            raise self._errors(exc, f"get order {order_id}") from None
        assert isinstance(raw, AlpacaOrder)
        return order_from_alpaca(raw)

    def get_order_by_client_id(self, client_order_id: str) -> Order | None:
        """The order with this client id, or None when Alpaca has none (404)."""
        self._count("get_order_by_client_id")
        try:
            raw = self._read(
                f"get order by client id {client_order_id}",
                lambda: self._trading.get_order_by_client_id(client_order_id),
            )
        except NotFound:
            return None
        assert isinstance(raw, AlpacaOrder)
        return order_from_alpaca(raw)

    def list_orders(self, status: Literal["open", "closed", "all"] = "open") -> list[Order]:
        """Orders newest first. Alpaca pages by time, so full pages are followed with `until` = the oldest
        submission seen (ids de-duplicated), up to 20 pages."""
        self._count("list_orders")
        out: list[Order] = []
        seen: set[str] = set()
        until: dt.datetime | None = None
        for _ in range(20):
            query = GetOrdersRequest(
                status=QueryOrderStatus(status), limit=_ORDER_PAGE, direction=Sort.DESC, nested=False, until=until
            )
            page = self._read(f"list {status} orders", lambda q=query: self._trading.get_orders(q))  # type: ignore[misc]
            fresh = 0
            for raw in page:
                assert isinstance(raw, AlpacaOrder)
                order = order_from_alpaca(raw)
                if order.id not in seen:
                    seen.add(order.id)
                    out.append(order)
                    fresh += 1
            if len(page) < _ORDER_PAGE or fresh == 0:
                break
            until = min(o.submitted_at for o in out) + dt.timedelta(microseconds=1)  # `until` is exclusive
        out.sort(key=lambda o: o.submitted_at, reverse=True)
        return out

    # ---------------------------------------------------------------------------------- quotes

    def get_latest_quote(self, symbol: str) -> Quote:
        """The latest quote over REST (the fallback when no streamed quote arrives in time)."""
        self._count("get_latest_quote")
        sym = symbol.upper()
        query = StockLatestQuoteRequest(symbol_or_symbols=sym, feed=self._feed)
        quotes = self._read(f"latest quote {sym}", lambda: self._data.get_stock_latest_quote(query))
        q = quotes.get(sym) if isinstance(quotes, dict) else None
        if q is None:
            raise NotFound(f'no quote for "{sym}"')
        if isinstance(q, dict):  # raw data
            return quote_from_wire(sym, q)
        return Quote(sym, dec0(q.bid_price), dec0(q.ask_price), aware(q.timestamp), dec0(q.bid_size),
                     dec0(q.ask_size))

    def latest_prices(self, symbols: Iterable[str]) -> dict[str, LivePrice]:
        """The latest trade of every symbol in ONE request (`[signals] price = "live"`); symbols without a
        trade are left out."""
        self._count("latest_prices")
        syms = sorted({s.upper() for s in symbols})
        if not syms:
            return {}
        query = StockLatestTradeRequest(symbol_or_symbols=syms, feed=self._feed)
        trades = self._read("latest trades", lambda: self._data.get_stock_latest_trade(query))
        out: dict[str, LivePrice] = {}
        for sym, t in (trades.items() if isinstance(trades, dict) else ()):
            if isinstance(t, dict):  # raw data
                price, stamp = float(t["p"]), dt.datetime.fromisoformat(str(t["t"]).replace("Z", "+00:00"))
            else:
                price, stamp = float(t.price), t.timestamp
            out[str(sym)] = LivePrice(str(sym), price, aware(stamp))
        return out

    def subscribe_quotes(self, symbols: Iterable[str], listener: QuoteListener) -> None:
        """Stream quotes of `symbols` to `listener`. The one market-data connection starts on first use;
        later symbols are added to it."""
        self._count("subscribe_quotes")
        self._streams.subscribe_quotes(symbols, listener)

    def unsubscribe_quotes(self, symbols: Iterable[str]) -> None:
        self._count("unsubscribe_quotes")
        self._streams.unsubscribe_quotes(symbols)

    @property
    def subscriptions(self) -> set[str]:
        """Symbols with at least one quote listener (lets tests prove nothing was left subscribed)."""
        return self._streams.subscriptions

    # ---------------------------------------------------------------------------------- order updates

    def add_order_listener(self, listener: OrderListener) -> None:
        """Register `listener`; the first one starts the trade-update stream and waits (up to
        `stream_connect_timeout_s`) until it listens, so the first orders' events are not missed.
        If it cannot connect in time, polling covers until it does."""
        self._count("add_order_listener")
        started = self._streams.add_order_listener(listener)
        if started and not self.wait_order_stream(self.stream_connect_timeout_s):
            log.warning(
                "trade-update stream not listening after %.0fs; order states come from polling until it is",
                self.stream_connect_timeout_s,
            )

    def remove_order_listener(self, listener: OrderListener) -> None:
        self._count("remove_order_listener")
        self._streams.remove_order_listener(listener)

    @property
    def order_stream_generation(self) -> int:
        """How many times the trade-update stream has started listening (1 after connecting, +1 per reconnect)."""
        return self._streams.generation

    def wait_order_stream(self, timeout_s: float, after: int = 0) -> bool:
        """Block until the trade-update stream listens on a connection newer than generation `after`.

        Not part of `Broker`: for callers (and tests) that need to know that events are flowing again,
        e.g. after a reconnection, without guessing a duration. False on timeout.
        """
        return self._streams.wait_listening(timeout_s, after)

    # ---------------------------------------------------------------------------------- lifecycle

    def _release(self) -> None:
        """Stop both stream threads and release the HTTP sessions."""
        self._streams.close()
        for client in (self._trading, self._data):
            close_session(client)


if TYPE_CHECKING:

    def _is_a_broker(broker: AlpacaBroker) -> Broker:
        """Never called: mypy proves here that `AlpacaBroker` satisfies the `Broker` protocol exactly."""
        return broker
