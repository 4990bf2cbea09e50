"""AlpacaBroker: the `Broker` protocol on the official alpaca-py SDK.

What this adapter adds to the SDK, and why:

* **Exact numbers.** Alpaca sends money and quantities as JSON strings; they become `Decimal` straight from
  those strings. Outgoing quantities go through the SDK's float fields, so each is checked to survive the
  float round trip exactly (anything with at most 15 significant digits does) instead of being rounded
  silently.
* **Errors the executor can act on.** `APIError`s and transport failures become `NotFound`, `OrderRejected`,
  `DuplicateClientOrderId` or `BrokerError`, with the credentials redacted from every message.
* **Safe retries.** Idempotent reads are retried on 429, 5xx and transport errors with bounded, jittered
  exponential backoff (tenacity). The SDK's own fixed 3-second 429 retry is switched off so there is one
  policy, and every HTTP request gets a timeout (the SDK sets none). An order is never re-sent blindly: after
  an ambiguous failure (5xx, timeout, dropped connection) the order is looked up by its client_order_id
  first, and Alpaca's uniqueness of client_order_id turns any re-send of an order that did get through into
  a harmless 422 that resolves to the existing order.
* **Streams run in background threads**, each on its own asyncio loop: trade updates (`TradingStream`,
  started when the first order listener is added) and quotes (`StockDataStream`, one connection per key
  pair as Alpaca allows, started at the first subscription, symbols added and removed just in time). The
  SDK reconnects both after a dropped connection by itself (backoff from 1 s); events missed meanwhile are
  recovered by the executor's polling, and quote subscriptions are restored from the desired set.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import datetime as dt
import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import urlsplit

import requests
from alpaca.common.enums import Sort
from alpaca.common.exceptions import APIError
from alpaca.data.enums import DataFeed
from alpaca.data.historical.stock import StockHistoricalDataClient
from alpaca.data.live.stock import StockDataStream
from alpaca.data.requests import StockLatestQuoteRequest
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import AssetClass, AssetStatus, OrderSide, QueryOrderStatus, TimeInForce
from alpaca.trading.models import Asset as AlpacaAsset
from alpaca.trading.models import Order as AlpacaOrder
from alpaca.trading.requests import GetAssetsRequest, GetOrdersRequest, LimitOrderRequest, MarketOrderRequest
from alpaca.trading.stream import TradingStream
from pydantic import ValidationError
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, stop_after_delay

from alchemiser.execution.broker import (
    Broker,
    BrokerError,
    DuplicateClientOrderId,
    NotFound,
    OrderListener,
    OrderRejected,
    QuoteListener,
)
from alchemiser.models import (
    Account,
    Asset,
    Clock,
    Order,
    OrderEvent,
    OrderRequest,
    OrderStatus,
    OrderType,
    OrderUpdate,
    Position,
    Quote,
    Side,
)
from alchemiser.secrets import AlpacaCredentials, AlpacaEndpoints, redact

log = logging.getLogger(__name__)

T = TypeVar("T")

_TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})
_UUID_SEGMENT = re.compile(r"/[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_ORDER_PAGE = 500  # Alpaca's maximum page size for GET /orders

# Alpaca statuses our model lacks, mapped to the nearest state the executor understands.
_STATUS_FALLBACK = {"held": OrderStatus.NEW, "pending_review": OrderStatus.PENDING_NEW}
# trade_updates events our model lacks; the rest (order_cancel_rejected, restated, …) change nothing we track.
_EVENT_FALLBACK = {"accepted": OrderEvent.PENDING_NEW}


@dataclass(frozen=True)
class RetryPolicy:
    """How idempotent calls are retried: exponential backoff with jitter, bounded by attempts and time.

    `Retry-After` on a 429 is honoured up to `max_wait_s`. Order submission uses the same attempts and
    waits, but only re-sends after checking that the order does not exist (see `AlpacaBroker.submit_order`).
    """

    attempts: int = 4
    initial_s: float = 0.25
    max_wait_s: float = 4.0
    jitter_s: float = 0.25
    deadline_s: float = 20.0
    http_timeout_s: tuple[float, float] = (5.0, 20.0)  # (connect, read) per HTTP request


def _status(exc: BaseException) -> int | None:
    return exc.status_code if isinstance(exc, APIError) else None


def _transient(exc: BaseException) -> bool:
    """Worth retrying an idempotent call: rate limited, server trouble, or the request never got an answer."""
    status = _status(exc)
    if status is not None:
        return status in _TRANSIENT_STATUS
    return isinstance(exc, requests.ConnectionError | requests.Timeout)


def _api_error_parts(exc: APIError) -> tuple[int | None, str]:
    """Alpaca's `{"code", "message"}` body, or the raw text when the body is not that JSON."""
    text = str(exc)
    try:
        body = json.loads(text)
    except (TypeError, ValueError):
        return None, text.strip()[:300] or "no details"
    if isinstance(body, dict):
        code = body.get("code")
        message = body.get("message") or text
        return (code if isinstance(code, int) else None), str(message)
    return None, text[:300]


def _is_auth_failure(status: int | None, message: str) -> bool:
    """Refused credentials: 401, or a 403 whose message says so (403 also means "insufficient buying power")."""
    m = message.lower()
    return status == 401 or (status == 403 and any(w in m for w in ("not authorized", "unauthorized", "forbidden")))


def _is_duplicate(message: str) -> bool:
    m = message.lower()
    return "client_order_id" in m and any(w in m for w in ("unique", "duplicate", "already exist"))


def _dec(value: object) -> Decimal | None:
    """Decimal from Alpaca's string numbers (floats, from JSON or msgpack, via their shortest repr)."""
    if value is None or value == "":
        return None
    try:
        return Decimal(repr(value) if isinstance(value, float) else str(value))
    except InvalidOperation:
        raise BrokerError(f"unexpected number from Alpaca: {value!r}") from None


def _dec0(value: object) -> Decimal:
    found = _dec(value)
    return found if found is not None else Decimal(0)


def _aware(when: dt.datetime) -> dt.datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


def _timestamp(value: object) -> dt.datetime:
    """A wire timestamp (msgpack Timestamp, RFC 3339 text, epoch ns, datetime) as an aware datetime."""
    to_datetime = getattr(value, "to_datetime", None)  # msgpack.Timestamp
    if callable(to_datetime):
        return _aware(to_datetime())
    if isinstance(value, dt.datetime):
        return _aware(value)
    if isinstance(value, int):
        return dt.datetime.fromtimestamp(value / 1e9, tz=dt.UTC)
    if isinstance(value, str):
        text = value.strip().replace("Z", "+00:00")
        # Python < 3.11 style parsers choke on nanoseconds; keep at most microseconds.
        text = re.sub(r"(\.\d{6})\d+", r"\1", text)
        return _aware(dt.datetime.fromisoformat(text))
    return dt.datetime.now(tz=dt.UTC)


def _exact_float(value: Decimal, what: str) -> float:
    """The float alpaca-py's request models want, refusing values a float would change."""
    out = float(value)
    if Decimal(repr(out)) != value:
        raise OrderRejected(f"{what} {value} cannot be sent exactly (too many significant digits)", 422)
    return out


def order_from_alpaca(o: AlpacaOrder) -> Order:
    """Our `Order` from alpaca-py's model: exact decimals, our enums, aware times.

    Order types we never place (stop, trailing stop…) read as limit when they carry a limit price, else as
    market, so foreign orders on the account still list. A zero average price means "not known yet".
    """
    raw_type = o.type or o.order_type
    type_value = raw_type.value if raw_type is not None else "market"
    if type_value not in (OrderType.MARKET.value, OrderType.LIMIT.value):
        type_value = OrderType.LIMIT.value if o.limit_price else OrderType.MARKET.value
    status_value = o.status.value
    status = _STATUS_FALLBACK.get(status_value) or OrderStatus(status_value)
    avg = _dec(o.filled_avg_price)
    return Order(
        id=str(o.id),
        client_order_id=o.client_order_id,
        symbol=o.symbol or "",
        side=Side.BUY if o.side == OrderSide.BUY else Side.SELL,
        type=OrderType(type_value),
        status=status,
        qty=_dec(o.qty),
        notional=_dec(o.notional),
        limit_price=_dec(o.limit_price),
        filled_qty=_dec0(o.filled_qty),
        filled_avg_price=avg if avg else None,
        submitted_at=_aware(o.submitted_at or o.created_at),
        updated_at=_aware(o.updated_at or o.submitted_at or o.created_at),
    )


def _asset(a: AlpacaAsset) -> Asset:
    return Asset(
        a.symbol,
        tradable=bool(a.tradable) and a.status == AssetStatus.ACTIVE,
        fractionable=bool(a.fractionable),
        name=a.name or "",
    )


class _Session(requests.Session):
    """A requests session that always sets a timeout (the SDK sets none) and counts real HTTP requests."""

    def __init__(self, timeout: tuple[float, float], count: Callable[[str], None]) -> None:
        super().__init__()
        self._timeout = timeout
        self._count = count

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self._timeout)
        path = urlsplit(url if isinstance(url, str) else url.decode()).path
        verb = (method if isinstance(method, str) else method.decode()).upper()
        self._count(f"{verb} {_UUID_SEGMENT.sub('/{id}', path)}")
        return super().request(verb, url, *args, **kwargs)


# ------------------------------------------------------------------------------------------- stream threads


class _LoopThread:
    """One daemon thread running one asyncio loop for one SDK stream.

    The loop exists before the thread starts, so work can be handed to it at any time. `stop` tells the
    stream not to reconnect and cancels its run loop; the socket is then closed by `cleanup` after the SDK's
    loop is gone (closing it first would make the SDK log a spurious "restarting connection").
    """

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._main: Callable[[], Coroutine[Any, Any, None]] | None = None
        self._cleanup: Callable[[], Coroutine[Any, Any, None]] | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopped = False

    @property
    def on_loop(self) -> bool:
        return threading.current_thread() is self._thread

    def start(
        self, main: Callable[[], Coroutine[Any, Any, None]], cleanup: Callable[[], Coroutine[Any, Any, None]]
    ) -> None:
        self._main, self._cleanup = main, cleanup
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        assert self._main is not None and self._cleanup is not None
        self._task = self.loop.create_task(self._main())
        try:
            self.loop.run_until_complete(self._task)
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("%s stopped with an error", self._thread.name)
        try:
            self.loop.run_until_complete(asyncio.wait_for(self._cleanup(), 5.0))
        except Exception:
            log.debug("%s cleanup failed", self._thread.name, exc_info=True)
        finally:
            pending = [t for t in asyncio.all_tasks(self.loop) if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self.loop.close()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T] | None:
        """Run `coro` on the loop; None (and the coroutine closed) when the loop is gone."""
        if self.loop.is_closed() or self._stopped:
            coro.close()
            return None
        try:
            return asyncio.run_coroutine_threadsafe(coro, self.loop)
        except RuntimeError:
            coro.close()
            return None

    def stop(self, signal_stop: Callable[[], Coroutine[Any, Any, None]], timeout_s: float) -> None:
        """Stop the stream and join the thread (bounded); safe to call more than once."""
        if self._stopped:
            return
        if not self._thread.is_alive():
            self._stopped = True
            if not self.loop.is_closed() and not self.loop.is_running():
                self.loop.close()
            return

        async def _stop() -> None:
            with contextlib.suppress(Exception):
                await signal_stop()  # no reconnection from here on
            if self._task is not None:
                self._task.cancel()

        future = self.submit(_stop())
        self._stopped = True
        if self.on_loop:
            return
        if future is not None:
            try:
                future.result(timeout_s)
            except Exception:
                log.debug("stream stop did not complete cleanly", exc_info=True)
        self._thread.join(timeout_s)


class _TradeStream(TradingStream):
    """`TradingStream` that reports when the server confirms `listen`, so callers can know from which point
    on no event is missed (first connection and every reconnection)."""

    def __init__(self, on_listening: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._on_listening = on_listening

    async def _dispatch(self, msg: dict[str, Any]) -> None:
        if msg.get("stream") == "listening":
            self._on_listening()
            return
        await super()._dispatch(msg)


class _QuoteStream(StockDataStream):
    """`StockDataStream` whose quote subscriptions converge on a desired set.

    The SDK mutates its handler table from the caller's thread and can lose a subscription made while it is
    connecting; here every change runs on the stream's own loop, and each subscription acknowledgement
    from the server is compared with the desired set and corrected (a bounded number of times per symbol,
    so a refused symbol cannot cause a loop).
    """

    def __init__(self, on_quote: Callable[[dict[str, Any]], None], **kwargs: Any) -> None:
        super().__init__(raw_data=True, **kwargs)
        self._on_quote = on_quote
        self._resends: collections.Counter[str] = collections.Counter()
        self.acknowledged: set[str] = set()
        self.last_error: str | None = None

    async def _handle(self, msg: Any) -> None:
        if isinstance(msg, dict):
            self._on_quote(msg)

    def seed(self, symbols: Iterable[str]) -> None:
        """Register symbols before the loop runs (the SDK only connects once something is subscribed)."""
        for sym in symbols:
            self._handlers["quotes"][sym] = self._handle

    async def apply(self, wanted: set[str]) -> None:
        """Make the subscribed quote symbols equal `wanted` (runs on the stream's loop)."""
        table: dict[str, Any] = self._handlers["quotes"]
        add = sorted(wanted - table.keys())
        remove = sorted(table.keys() - wanted)
        for sym in add:
            table[sym] = self._handle
            self._resends.pop(sym, None)
        for sym in remove:
            del table[sym]
        if not (self._running and self._ws is not None):
            return  # the (re)connection subscribes the whole table
        try:
            if add:
                await self._send_subscribe_msg()
            if remove:
                await self._send_unsubscribe_msg("quotes", remove)
        except Exception as exc:  # a dropped socket: the reconnection resubscribes from the table
            log.debug("quote (un)subscribe not sent now: %s", exc)

    async def _dispatch(self, msg: dict[str, Any]) -> None:
        kind = msg.get("T")
        if kind == "subscription":
            self.acknowledged = set(msg.get("quotes") or ())
            missing = [s for s in self._handlers["quotes"] if s not in self.acknowledged and self._resends[s] < 2]
            if missing and "quotes" in msg and self._running:
                for sym in missing:
                    self._resends[sym] += 1
                await self._send_subscribe_msg()
            return
        if kind == "error":
            self.last_error = f"{msg.get('msg')} ({msg.get('code')})"
        await super()._dispatch(msg)


# ------------------------------------------------------------------------------------------------- broker


@dataclass
class _Streams:
    """Stream state shared between the caller's threads and the stream threads (guarded by the lock)."""

    order_listeners: list[OrderListener] = field(default_factory=list)
    quote_listeners: dict[str, list[QuoteListener]] = field(default_factory=dict)
    trade_thread: _LoopThread | None = None
    trade_stream: _TradeStream | None = None
    quote_thread: _LoopThread | None = None
    quote_stream: _QuoteStream | None = None
    listening: threading.Condition = field(default_factory=threading.Condition)
    generation: int = 0  # times the trade-update stream has (re)started listening


class AlpacaBroker:
    """The `Broker` protocol over Alpaca's trading API, trade-update stream and market data (see module doc)."""

    name = "alpaca"

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
        self.quote_frames: collections.Counter[str] = collections.Counter()  # streamed quotes received per symbol
        self._sleep = sleep
        self._lock = threading.RLock()
        self._closed = False
        self._streams = _Streams()
        key, secret = credentials.key_id.get_secret_value(), credentials.secret_key.get_secret_value()
        self._trading = TradingClient(key, secret, paper=paper, url_override=endpoints.trading_url)
        self._data = StockHistoricalDataClient(key, secret, url_override=endpoints.data_url)
        for client in (self._trading, self._data):
            # One retry policy (ours): the SDK would otherwise sleep a fixed 3 s per 429 on every call.
            client._retry = 0
            client._session = _Session(self.retry.http_timeout_s, self._count_http)
        self._feed = DataFeed(endpoints.feed) if endpoints.feed in DataFeed._value2member_map_ else DataFeed.IEX

    # ---------------------------------------------------------------------------------- plumbing

    def _count(self, method: str) -> None:
        with self._lock:
            self.calls[method] += 1

    def _count_http(self, key: str) -> None:
        with self._lock:
            self.http_requests[key] += 1

    def _backoff_s(self, retry_number: int, exc: BaseException | None) -> float:
        """Exponential backoff with full jitter on top: initial·2^(n−1) + U(0, jitter), capped at `max_wait_s`;
        a 429's Retry-After (seconds) raises it, still within `max_wait_s`."""
        p = self.retry
        wait = min(p.initial_s * 2.0 ** max(retry_number - 1, 0) + random.uniform(0, p.jitter_s), p.max_wait_s)
        if isinstance(exc, APIError) and exc.status_code == 429 and exc.response is not None:
            with contextlib.suppress(TypeError, ValueError):
                wait = max(wait, min(float(exc.response.headers.get("Retry-After", 0)), p.max_wait_s))
        return wait

    def _tenacity_wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        return self._backoff_s(state.attempt_number, exc)

    def _retrying(self) -> Retrying:
        p = self.retry
        return Retrying(
            stop=stop_after_attempt(p.attempts) | stop_after_delay(p.deadline_s),
            wait=self._tenacity_wait,
            retry=retry_if_exception(_transient),
            sleep=self._sleep,
            reraise=True,
        )

    def _redact(self, text: str) -> str:
        return redact(text, self.credentials)

    def _error(self, exc: BaseException, what: str, *, order: bool = False) -> BrokerError:
        """Our error for a failed call. `order` marks calls that create or change orders, where a 4xx is the
        broker refusing the order (`OrderRejected`) rather than a broken request."""
        if isinstance(exc, BrokerError):
            return exc
        if isinstance(exc, APIError):
            status = exc.status_code
            code, message = _api_error_parts(exc)
            detail = self._redact(f"{what}: {message} (HTTP {status}{f', code {code}' if code else ''})")
            if status == 404:
                return NotFound(detail)
            if _is_auth_failure(status, message):
                return BrokerError(
                    f"{detail}. Alpaca refused the credentials from {self.credentials.source}: check the keys "
                    f"and that they are {'paper' if self.paper else 'live'} keys for {self.endpoints.trading_url}"
                )
            if order and status is not None and 400 <= status < 500 and status != 429:
                if _is_duplicate(message):
                    return DuplicateClientOrderId(detail, status)
                return OrderRejected(detail, status)
            return BrokerError(detail)
        if isinstance(exc, requests.Timeout):
            return BrokerError(self._redact(f"{what}: no answer from Alpaca in time ({exc.__class__.__name__})"))
        if isinstance(exc, requests.RequestException):
            host = urlsplit(self.endpoints.trading_url).netloc
            return BrokerError(self._redact(f"{what}: cannot reach Alpaca ({host}): {exc.__class__.__name__}"))
        if isinstance(exc, ValidationError):
            return BrokerError(self._redact(f"{what}: unexpected response from Alpaca: {exc}"))
        return BrokerError(self._redact(f"{what}: {exc.__class__.__name__}: {exc}"))

    def _read(self, what: str, fn: Callable[[], T]) -> T:
        """An idempotent call with retries; failures become our errors."""
        try:
            return self._retrying()(fn)
        except (APIError, requests.RequestException, ValidationError, ValueError, KeyError, TypeError) as exc:
            raise self._error(exc, what) from None

    def _check_open(self) -> None:
        if self._closed:
            raise OrderRejected("the Alpaca broker is closed")

    # ---------------------------------------------------------------------------------- account, assets, clock

    def get_account(self) -> Account:
        self._count("get_account")
        a = self._read("get account", self._trading.get_account)
        assert not isinstance(a, dict)
        equity = _dec(a.equity) if a.equity is not None else _dec(a.portfolio_value)
        return Account(
            account_id=str(a.id),
            equity=equity if equity is not None else Decimal(0),
            cash=_dec0(a.cash),
            buying_power=_dec0(a.buying_power),
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
            qty = _dec0(p.qty)
            avg = _dec0(p.avg_entry_price)
            price = _dec(p.current_price) or avg
            value = _dec(p.market_value)
            out.append(Position(p.symbol, qty, avg, price, value if value is not None else qty * price))
        return sorted(out, key=lambda p: p.symbol)

    def get_asset(self, symbol: str) -> Asset:
        self._count("get_asset")
        sym = symbol.upper()
        a = self._read(f"get asset {sym}", lambda: self._trading.get_asset(sym))
        assert not isinstance(a, dict)
        return _asset(a)

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
                out[a.symbol.upper()] = _asset(a)
        return out

    def get_clock(self) -> Clock:
        self._count("get_clock")
        c = self._read("get clock", self._trading.get_clock)
        assert not isinstance(c, dict)
        return Clock(_aware(c.timestamp), bool(c.is_open), _aware(c.next_open), _aware(c.next_close))

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
            common["qty"] = _exact_float(request.qty, "qty")
        if request.notional is not None:
            common["notional"] = _exact_float(request.notional, "notional")
        try:
            if request.type == OrderType.LIMIT:
                assert request.limit_price is not None
                return LimitOrderRequest(limit_price=_exact_float(request.limit_price, "limit_price"), **common)
            return MarketOrderRequest(**common)
        except ValidationError as exc:
            raise OrderRejected(f"invalid order: {exc.errors()[0].get('msg', exc)}", 422) from None

    def _lookup_quietly(self, client_order_id: str) -> Order | None:
        """The order with this client id if the broker confirms it exists; None when it does not or the
        broker cannot say (callers then rely on client_order_id uniqueness)."""
        try:
            return self.get_order_by_client_id(client_order_id)
        except BrokerError:
            return None

    def _place(self, client_order_id: str, what: str, send: Callable[[], object]) -> Order:
        """Send an order-creating request without ever creating it twice.

        429 means not processed: wait and re-send. 5xx, timeouts and dropped connections are ambiguous: look
        the order up by client id before re-sending; a re-send of an order that got through after all is
        refused by Alpaca as a duplicate client id, which then resolves to the existing order.
        """
        p = self.retry
        ambiguous = False
        last: BaseException | None = None
        started = time.monotonic()
        for attempt in range(1, p.attempts + 1):
            if attempt > 1:
                self._sleep(self._backoff_s(attempt - 1, last))
                if ambiguous:
                    found = self._lookup_quietly(client_order_id)
                    if found is not None:
                        log.warning("%s: outcome was unknown; found the order by client_order_id", what)
                        return found
            try:
                raw = send()
                assert isinstance(raw, AlpacaOrder)
                return order_from_alpaca(raw)
            except APIError as exc:
                status = exc.status_code
                if status == 429:
                    last = exc
                elif status is not None and status < 500:
                    err = self._error(exc, what, order=True)
                    if isinstance(err, DuplicateClientOrderId) and ambiguous:
                        found = self._lookup_quietly(client_order_id)
                        if found is not None:
                            return found  # our own earlier attempt got through
                    raise err from None
                else:
                    ambiguous, last = True, exc
            except (requests.RequestException, ValidationError) as exc:
                # No (usable) answer: the order may or may not exist.
                ambiguous, last = True, exc
            if time.monotonic() - started > p.deadline_s:
                break
        if ambiguous:
            found = self._lookup_quietly(client_order_id)
            if found is not None:
                return found
        reason = self._error(last, what) if last is not None else BrokerError(what)
        raise BrokerError(
            f"{reason}; gave up after {p.attempts} attempts"
            + (f" — the order {client_order_id} may exist; the next run reconciles it" if ambiguous else "")
        )

    def submit_order(self, request: OrderRequest) -> Order:
        """Place an order (never twice, see `_place`); `OrderRejected`/`DuplicateClientOrderId` when refused."""
        self._count("submit_order")
        self._check_open()
        payload = self._order_request(request)
        what = f"{request.side} {request.symbol} ({request.client_order_id})"
        return self._place(request.client_order_id, what, lambda: self._trading.submit_order(payload))

    def cancel_order(self, order_id: str) -> None:
        """Request cancellation (idempotent on Alpaca, so retried like a read); the final state follows as
        an order update. `NotFound` for unknown ids, `OrderRejected` when no longer cancelable."""
        self._count("cancel_order")
        self._check_open()
        try:
            self._retrying()(lambda: self._trading.cancel_order_by_id(order_id))
        except ValueError:
            raise NotFound(f"order {order_id} not found (not an Alpaca order id)") from None
        except (APIError, requests.RequestException) as exc:
            raise self._error(exc, f"cancel order {order_id}", order=True) from None

    def get_order(self, order_id: str) -> Order:
        self._count("get_order")
        try:
            raw = self._retrying()(lambda: self._trading.get_order_by_id(order_id))
        except ValueError:
            raise NotFound(f"order {order_id} not found (not an Alpaca order id)") from None
        except (APIError, requests.RequestException, ValidationError) as exc:
            raise self._error(exc, f"get order {order_id}") from None
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

    def close_position(self, symbol: str) -> Order:
        """Alpaca's own `DELETE /positions/{symbol}` (sells fractional shares too); returns the closing order.

        Not idempotent, so never re-sent blindly: on an ambiguous failure the newest sell of the symbol
        placed since the call started is taken as the closing order, if there is one.
        """
        self._count("close_position")
        self._check_open()
        sym = symbol.upper()
        started = dt.datetime.now(tz=dt.UTC) - dt.timedelta(seconds=5)
        p = self.retry
        last: BaseException | None = None
        for attempt in range(1, p.attempts + 1):
            if attempt > 1:
                self._sleep(self._backoff_s(attempt - 1, last))
            try:
                raw = self._trading.close_position(sym)
                assert isinstance(raw, AlpacaOrder)
                return order_from_alpaca(raw)
            except APIError as exc:
                if exc.status_code == 429:
                    last = exc
                    continue
                if exc.status_code is not None and exc.status_code < 500:
                    raise self._error(exc, f"close position {sym}", order=True) from None
                last = exc
            except (requests.RequestException, ValidationError) as exc:
                last = exc
            try:
                recent = [
                    o
                    for o in self.list_orders("all")
                    if o.symbol == sym and o.side == Side.SELL and o.submitted_at >= started
                ]
            except BrokerError:
                recent = []
            if recent:
                return recent[0]
            break  # the close may still be in flight: do not send another
        reason = self._error(last, f"close position {sym}") if last is not None else BrokerError(sym)
        raise BrokerError(f"{reason}; the position may still be closing — check open orders")

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
            return self._quote_from_wire(sym, q)
        return Quote(
            sym,
            _dec0(q.bid_price),
            _dec0(q.ask_price),
            _aware(q.timestamp),
            _dec0(q.bid_size),
            _dec0(q.ask_size),
        )

    @staticmethod
    def _quote_from_wire(sym: str, msg: dict[str, Any]) -> Quote:
        return Quote(
            sym,
            _dec0(msg.get("bp")),
            _dec0(msg.get("ap")),
            _timestamp(msg.get("t")),
            _dec0(msg.get("bs")),
            _dec0(msg.get("as")),
        )

    def _on_quote(self, msg: dict[str, Any]) -> None:
        """Stream thread: a raw quote frame → our Quote → the symbol's listeners (if still subscribed)."""
        sym = str(msg.get("S", "")).upper()
        with self._lock:
            self.quote_frames[sym] += 1
            listeners = list(self._streams.quote_listeners.get(sym, ()))
        if not listeners:
            return
        try:
            quote = self._quote_from_wire(sym, msg)
        except Exception:
            log.exception("unreadable quote for %s", sym)
            return
        for listener in listeners:
            try:
                listener(quote)
            except Exception:
                log.exception("quote listener failed")

    def subscribe_quotes(self, symbols: Iterable[str], listener: QuoteListener) -> None:
        """Stream quotes of `symbols` to `listener`. The one market-data connection starts on first use;
        later symbols are added to it."""
        self._count("subscribe_quotes")
        syms = [s.upper() for s in symbols]
        with self._lock:
            if self._closed:
                raise BrokerError("the Alpaca broker is closed")
            for sym in syms:
                registered = self._streams.quote_listeners.setdefault(sym, [])
                if not any(existing is listener for existing in registered):
                    registered.append(listener)
            self._sync_quotes_locked()

    def unsubscribe_quotes(self, symbols: Iterable[str]) -> None:
        self._count("unsubscribe_quotes")
        with self._lock:
            for sym in symbols:
                self._streams.quote_listeners.pop(sym.upper(), None)
            self._sync_quotes_locked()

    @property
    def subscriptions(self) -> set[str]:
        """Symbols with at least one quote listener (lets tests prove nothing was left subscribed)."""
        with self._lock:
            return {s for s, ls in self._streams.quote_listeners.items() if ls}

    def _sync_quotes_locked(self) -> None:
        s = self._streams
        wanted = {sym for sym, ls in s.quote_listeners.items() if ls}
        if s.quote_thread is None:
            if not wanted or self._closed:
                return
            key, secret = self._keys()
            s.quote_stream = _QuoteStream(
                self._on_quote,
                api_key=key,
                secret_key=secret,
                feed=self._feed,
                url_override=self.endpoints.data_stream_url,
            )
            s.quote_stream.seed(wanted)
            s.quote_thread = _LoopThread("alpaca-quotes")
            s.quote_thread.start(s.quote_stream._run_forever, s.quote_stream.close)
            return
        assert s.quote_stream is not None
        future = s.quote_thread.submit(s.quote_stream.apply(wanted))
        if future is not None and not s.quote_thread.on_loop:
            future.add_done_callback(_log_failure)

    # ---------------------------------------------------------------------------------- order updates

    def _keys(self) -> tuple[str, str]:
        return self.credentials.key_id.get_secret_value(), self.credentials.secret_key.get_secret_value()

    def _on_listening(self) -> None:
        s = self._streams
        with s.listening:
            s.generation += 1
            s.listening.notify_all()
        log.info("trade-update stream listening (connection %d)", s.generation)

    async def _on_trade_update(self, msg: Any) -> None:
        """Stream thread: a raw trade_updates message → `OrderUpdate` → every order listener."""
        try:
            update = self._update_from_wire(msg.get("data") or {})
        except Exception as exc:
            log.warning("unreadable trade update skipped: %s", self._redact(str(exc)))
            return
        if update is None:
            return
        with self._lock:
            listeners = list(self._streams.order_listeners)
        for listener in listeners:
            try:
                listener(update)
            except Exception:
                log.exception("order listener failed")

    def _update_from_wire(self, data: dict[str, Any]) -> OrderUpdate | None:
        name = str(data.get("event", ""))
        event = _EVENT_FALLBACK.get(name)
        if event is None:
            try:
                event = OrderEvent(name)
            except ValueError:
                log.debug("trade update %r carries nothing we track", name)
                return None
        order = order_from_alpaca(AlpacaOrder(**data["order"]))
        extra = {"alpaca_event": name}
        for key in ("position_qty", "execution_id"):
            if data.get(key) is not None:
                extra[key] = str(data[key])
        stamp = data.get("timestamp") or data.get("at")
        return OrderUpdate(
            event,
            order,
            _timestamp(stamp) if stamp is not None else order.updated_at,
            price=_dec(data.get("price")),
            qty=_dec(data.get("qty")),
            extra=extra,
        )

    def add_order_listener(self, listener: OrderListener) -> None:
        """Register `listener`; the first one starts the trade-update stream and waits (up to
        `stream_connect_timeout_s`) until it listens, so the first orders' events are not missed.
        If it cannot connect in time, polling covers until it does."""
        self._count("add_order_listener")
        with self._lock:
            if self._closed:
                raise BrokerError("the Alpaca broker is closed")
            self._streams.order_listeners.append(listener)
            starting = self._streams.trade_thread is None
            if starting:
                key, secret = self._keys()
                stream = _TradeStream(
                    self._on_listening,
                    api_key=key,
                    secret_key=secret,
                    paper=self.paper,
                    raw_data=True,
                    url_override=self.endpoints.trading_stream_url,
                )
                stream.subscribe_trade_updates(self._on_trade_update)
                self._streams.trade_stream = stream
                self._streams.trade_thread = _LoopThread("alpaca-trade-updates")
                self._streams.trade_thread.start(stream._run_forever, stream.close)  # type: ignore[arg-type]
        if starting and not self.wait_order_stream(self.stream_connect_timeout_s):
            log.warning(
                "trade-update stream not listening after %.0fs; order states come from polling until it is",
                self.stream_connect_timeout_s,
            )

    def remove_order_listener(self, listener: OrderListener) -> None:
        self._count("remove_order_listener")
        with self._lock:
            s = self._streams
            s.order_listeners = [existing for existing in s.order_listeners if existing is not listener]

    @property
    def order_stream_generation(self) -> int:
        """How many times the trade-update stream has started listening (1 after connecting, +1 per reconnect)."""
        with self._streams.listening:
            return self._streams.generation

    def wait_order_stream(self, timeout_s: float, after: int = 0) -> bool:
        """Block until the trade-update stream listens on a connection newer than generation `after`.

        Not part of `Broker`: for callers (and tests) that need to know that events are flowing again,
        e.g. after a reconnection, without guessing a duration. False on timeout.
        """
        s = self._streams
        with s.listening:
            return s.listening.wait_for(lambda: s.generation > after or self._closed, timeout_s) and not self._closed

    # ---------------------------------------------------------------------------------- lifecycle

    def close(self) -> None:
        """Stop both stream threads and release HTTP sessions; safe to call more than once."""
        self._count("close")
        with self._lock:
            if self._closed:
                return
            self._closed = True
            s = self._streams
            threads = [
                (s.trade_thread, s.trade_stream),
                (s.quote_thread, s.quote_stream),
            ]
            s.order_listeners.clear()
            s.quote_listeners.clear()
        with s.listening:
            s.listening.notify_all()
        for thread, stream in threads:
            if thread is not None and stream is not None:
                thread.stop(stream.stop_ws, timeout_s=5.0)
        for client in (self._trading, self._data):
            client._session.close()

    def __enter__(self) -> AlpacaBroker:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _log_failure(future: concurrent.futures.Future[None]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("quote subscription update failed: %s", future.exception())


if TYPE_CHECKING:

    def _is_a_broker(broker: AlpacaBroker) -> Broker:
        """Never called: mypy proves here that `AlpacaBroker` satisfies the `Broker` protocol exactly."""
        return broker
