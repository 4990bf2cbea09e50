"""Alpaca's market-data surface: `/v2/stocks/...` REST and the `/v2/{iex,sip,test}` streams.

Bars come from the `MarketData` source (daily, already split/dividend adjusted, so `adjustment` is accepted
and ignored); quotes and trades come from SimBroker, so what a client sees streamed is exactly what its
orders fill against. Daily bars are stamped at midnight New York time, as Alpaca stamps them.

Streams speak msgpack unless the client asks for JSON (`Content-Type: application/json`), allow one
authenticated connection per key pair (a second gets error 406), push the current quote on subscribe and
every quote change after that, and report our own fills as trades.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime as dt
import itertools
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgpack  # type: ignore[import-untyped]
import pandas as pd
from aiohttp import WSCloseCode, web

from alchemiser import market_calendar
from alchemiser.data.base import MarketData
from alchemiser.errors import DataError
from alchemiser.execution.broker import NotFound
from alchemiser.execution.sim import SimBroker
from alchemiser.models import OrderUpdate, Quote
from alchemiser.sandbox import fields
from alchemiser.sandbox.auth import KeyPair
from alchemiser.sandbox.common import JSONDict, bad_request, json_response, not_found
from alchemiser.sandbox.fields import MAX_SYMBOLS
from alchemiser.sandbox.schemas import BarsQuery, HistoryQuery, LatestQuery
from alchemiser.sandbox.streams import ConnectionRegistry, WsConnection
from alchemiser.sandbox.validation import (
    MAX_WS_MESSAGE_BYTES,
    ModelT,
    check_path,
    decode_message,
    parse_query,
)

log = logging.getLogger(__name__)

_DAILY = {"1Day", "1D", "1day"}
_CHANNELS = ("trades", "quotes", "bars", "updatedBars", "dailyBars", "statuses", "lulds", "corrections", "cancelErrors")
_EXCHANGE = "V"  # IEX
_TAPE = "B"


@dataclass(frozen=True)
class _Trade:
    price: float
    size: float
    timestamp: dt.datetime
    id: int


def _iso_ns(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _quote_fields(q: Quote) -> JSONDict:
    return {
        "ax": _EXCHANGE,
        "ap": float(q.ask),
        "as": int(q.ask_size),
        "bx": _EXCHANGE,
        "bp": float(q.bid),
        "bs": int(q.bid_size),
        "c": ["R"],
        "z": _TAPE,
    }


def _bars_frame(market: MarketData, symbol: str, start: dt.datetime, end: dt.datetime) -> pd.DataFrame:
    """Bars of `symbol` whose NY-midnight timestamp lies in [start, end], with a UTC `t` column."""
    lo = start.astimezone(market_calendar.NY).date() - dt.timedelta(days=1)
    hi = end.astimezone(market_calendar.NY).date() + dt.timedelta(days=1)
    try:
        frame = market.bars(symbol, lo, hi)
    except DataError:
        return pd.DataFrame()
    if len(frame) == 0:
        return frame
    stamps = pd.DatetimeIndex(frame.index).tz_localize(market_calendar.NY).tz_convert("UTC")
    mask = (stamps >= pd.Timestamp(start)) & (stamps <= pd.Timestamp(end))
    out = frame.loc[mask].copy()
    out["t"] = stamps[mask]
    return out


def _bar_json(row: Any) -> JSONDict:
    o, h, lo, c, v = float(row.open), float(row.high), float(row.low), float(row.close), float(row.volume)
    return {
        "t": row.t.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "o": o,
        "h": h,
        "l": lo,
        "c": c,
        "v": int(v),
        "n": max(int(v // 100), 1),
        "vw": round((h + lo + c) / 3, 4),
    }


def _encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _decode_token(token: str | None) -> int:
    """The offset a `next_page_token` we issued stands for; 400 for anything we did not issue."""
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
        prefix, _, value = text.partition(":")
        if prefix != "offset" or not value.isascii() or not value.isdigit() or len(value) > 12:
            raise ValueError(text)
        return int(value)
    except (ValueError, binascii.Error):
        raise bad_request("invalid page_token") from None


def _path_symbol(request: web.Request) -> str:
    """The `{symbol}` of a per-symbol data path, upper-cased (400 naming `symbol` when it is not a ticker)."""
    return str(check_path(request.match_info["symbol"], "symbol", fields.symbol, status=400))


def _query(model: type[ModelT], request: web.Request) -> ModelT:
    """Market-data parameters: Alpaca's data API answers bad ones with 400, not the trading API's 422."""
    return parse_query(model, request.query, status=400)


def _required(symbols: list[str]) -> list[str]:
    if not symbols:
        raise bad_request("invalid symbols: at least one symbol is required")
    return symbols


class DataApi:
    """The market-data REST endpoints (event-loop thread only)."""

    def __init__(self, broker: SimBroker, market: MarketData, max_page_size: int) -> None:
        self._broker = broker
        self._market = market
        self._max_page = max_page_size
        self._last_trade: dict[str, _Trade] = {}
        self._withheld: set[str] = set()
        self._trade_ids = itertools.count(1)

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/v2/stocks/bars", self.bars),
            web.get("/v2/stocks/bars/latest", self.latest_bars),
            web.get("/v2/stocks/quotes", self.empty_history("quotes")),
            web.get("/v2/stocks/quotes/latest", self.latest_quotes),
            web.get("/v2/stocks/trades", self.empty_history("trades")),
            web.get("/v2/stocks/trades/latest", self.latest_trades),
            web.get("/v2/stocks/snapshots", self.snapshots),
            web.get("/v2/stocks/{symbol}/bars", self.symbol_bars),
            web.get("/v2/stocks/{symbol}/bars/latest", self.symbol_latest_bar),
            web.get("/v2/stocks/{symbol}/quotes/latest", self.symbol_latest_quote),
            web.get("/v2/stocks/{symbol}/trades/latest", self.symbol_latest_trade),
            web.get("/v2/stocks/{symbol}/snapshot", self.symbol_snapshot),
        ]

    def record_fill(self, update: OrderUpdate) -> _Trade | None:
        """Remember our own execution as the symbol's latest trade (also what the trades stream reports)."""
        if update.price is None or update.qty is None:
            return None
        trade = _Trade(float(update.price), float(update.qty), update.timestamp, next(self._trade_ids))
        self._last_trade[update.order.symbol] = trade
        return trade

    def set_latest_trade(self, symbol: str, price: float, timestamp: dt.datetime) -> None:
        """Make `price` at `timestamp` the symbol's latest trade (tests: a stale print)."""
        self._last_trade[symbol.upper()] = _Trade(float(price), 100.0, timestamp, next(self._trade_ids))

    def withhold_trades(self, symbols: set[str]) -> None:
        """Report no latest trade for these symbols (tests: a ticker the feed has nothing for)."""
        self._withheld = {s.upper() for s in symbols}

    # ------------------------------------------------------------------ bars

    def _page(self, q: BarsQuery, symbols: list[str]) -> tuple[dict[str, list[JSONDict]], str | None]:
        if q.timeframe not in _DAILY:
            raise bad_request(f"invalid timeframe {q.timeframe!r}: the sandbox serves daily bars only (1Day)")
        now = dt.datetime.now(tz=dt.UTC)
        today = dt.datetime.combine(now.astimezone(market_calendar.NY).date(), dt.time(), tzinfo=market_calendar.NY)
        start = q.start or today  # Alpaca's default: the start of the current day
        end = q.end or now
        limit = min(q.limit, self._max_page)
        sort = q.sort
        offset = _decode_token(q.page_token)
        frames = []
        for sym in symbols:
            frame = _bars_frame(self._market, sym, start, end)
            if len(frame):
                frames.append((sym, frame.iloc[::-1] if sort == "desc" else frame))
        out: dict[str, list[JSONDict]] = {}
        position, taken = 0, 0
        for sym, frame in frames:
            n = len(frame)
            if position + n <= offset:
                position += n
                continue
            first = max(offset - position, 0)
            rows = frame.iloc[first : first + (limit - taken)]
            out[sym] = [_bar_json(r) for r in rows.itertuples()]
            taken += len(rows)
            position += n
            if taken >= limit:
                break
        total = sum(len(f) for _, f in frames)
        next_token = _encode_token(offset + taken) if offset + taken < total else None
        return out, next_token

    async def bars(self, request: web.Request) -> web.StreamResponse:
        q = _query(BarsQuery, request)
        bars, token = self._page(q, _required(q.symbols))
        return json_response({"bars": bars, "next_page_token": token, "currency": "USD"})

    async def symbol_bars(self, request: web.Request) -> web.StreamResponse:
        sym = _path_symbol(request)
        bars, token = self._page(_query(BarsQuery, request), [sym])
        return json_response({"symbol": sym, "bars": bars.get(sym, []), "next_page_token": token, "currency": "USD"})

    def _latest_bar(self, sym: str, previous: bool = False) -> JSONDict | None:
        try:
            frame = self._market.bars(sym)
        except DataError:
            return None
        need = 2 if previous else 1
        if len(frame) < need:
            return None
        tail = frame.iloc[[-need]].copy()
        tail["t"] = pd.DatetimeIndex(tail.index).tz_localize(market_calendar.NY).tz_convert("UTC")
        return _bar_json(next(tail.itertuples()))

    def _latest_of_many(self, request: web.Request, key: str, latest: Callable[[str], JSONDict | None]) -> web.Response:
        """`/v2/stocks/{kind}/latest?symbols=…`: `{key: {symbol: value}}`, symbols without one left out."""
        return json_response({key: {s: v for s in self._symbols(request) if (v := latest(s)) is not None}})

    def _latest_of_one(self, request: web.Request, key: str, latest: Callable[[str], JSONDict | None]) -> web.Response:
        """`/v2/stocks/{symbol}/{kind}/latest`: `{"symbol": …, key: value}`, or 404 naming what is missing."""
        sym = _path_symbol(request)
        value = latest(sym)
        if value is None:
            raise not_found(f"no {key} found for {sym}")
        return json_response({"symbol": sym, key: value})

    async def latest_bars(self, request: web.Request) -> web.StreamResponse:
        return self._latest_of_many(request, "bars", self._latest_bar)

    async def symbol_latest_bar(self, request: web.Request) -> web.StreamResponse:
        return self._latest_of_one(request, "bar", self._latest_bar)

    # ------------------------------------------------------------------ quotes, trades, snapshots

    @staticmethod
    def _symbols(request: web.Request) -> list[str]:
        return _query(LatestQuery, request).symbols

    def _quote(self, sym: str) -> JSONDict | None:
        try:
            q = self._broker.get_latest_quote(sym)
        except NotFound:
            return None
        return {"t": _iso_ns(q.timestamp), **_quote_fields(q)}

    def _trade(self, sym: str) -> JSONDict | None:
        if sym in self._withheld:
            return None
        trade = self._last_trade.get(sym)
        if trade is None:  # no execution yet: the last print is the mid (the bar's close)
            try:
                q = self._broker.get_latest_quote(sym)
            except NotFound:
                return None
            trade = _Trade(float(q.mid), 100.0, q.timestamp, 0)
        return {
            "t": _iso_ns(trade.timestamp),
            "x": _EXCHANGE,
            "p": trade.price,
            "s": trade.size,
            "c": ["@"],
            "i": trade.id,
            "z": _TAPE,
        }

    async def latest_quotes(self, request: web.Request) -> web.StreamResponse:
        return self._latest_of_many(request, "quotes", self._quote)

    async def symbol_latest_quote(self, request: web.Request) -> web.StreamResponse:
        return self._latest_of_one(request, "quote", self._quote)

    async def latest_trades(self, request: web.Request) -> web.StreamResponse:
        out = {s: t for s in self._symbols(request) if (t := self._trade(s)) is not None}
        return json_response({"trades": out})

    async def symbol_latest_trade(self, request: web.Request) -> web.StreamResponse:
        sym = _path_symbol(request)
        trade = self._trade(sym)
        if trade is None:
            raise not_found(f"no trade found for {sym}")
        return json_response({"symbol": sym, "trade": trade})

    def _snapshot(self, sym: str) -> JSONDict | None:
        quote = self._quote(sym)
        if quote is None:
            return None
        daily = self._latest_bar(sym)
        return {
            "latestTrade": self._trade(sym),
            "latestQuote": quote,
            "minuteBar": daily,
            "dailyBar": daily,
            "prevDailyBar": self._latest_bar(sym, previous=True),
        }

    async def snapshots(self, request: web.Request) -> web.StreamResponse:
        return json_response({s: snap for s in self._symbols(request) if (snap := self._snapshot(s)) is not None})

    async def symbol_snapshot(self, request: web.Request) -> web.StreamResponse:
        sym = _path_symbol(request)
        snap = self._snapshot(sym)
        if snap is None:
            raise not_found(f"no snapshot found for {sym}")
        return json_response({"symbol": sym, **snap})

    @staticmethod
    def empty_history(key: str) -> Callable[[web.Request], Any]:
        """Tick history does not exist in a daily simulation: answer with an empty, well-formed page."""

        async def handler(request: web.Request) -> web.StreamResponse:
            q = _query(HistoryQuery, request)  # validated like a real page request, answered with nothing
            _required(q.symbols)
            _decode_token(q.page_token)
            return json_response({key: {}, "next_page_token": None})

        return handler


@dataclass
class _StreamState:
    use_json: bool
    subs: dict[str, set[str]] = field(default_factory=lambda: {c: set() for c in _CHANNELS})


def _decode(raw: str | bytes, binary: bool) -> JSONDict:
    """A client message (msgpack when binary, else JSON) as an object; ValueError saying why otherwise."""
    if not binary:
        return decode_message(raw)
    if len(raw) > MAX_WS_MESSAGE_BYTES:
        raise ValueError(f"message too large (at most {MAX_WS_MESSAGE_BYTES} bytes)")
    try:
        msg = msgpack.unpackb(raw, raw=False, strict_map_key=True)
    except (ValueError, TypeError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError):
        raise ValueError("not a msgpack message") from None
    if not isinstance(msg, dict):
        raise ValueError("not a map")
    return msg


def _channel_symbols(msg: JSONDict) -> dict[str, list[str]]:
    """The symbols per channel in a (un)subscribe message: lists of tickers or `*`, else ValueError."""
    out: dict[str, list[str]] = {}
    for channel in _CHANNELS:
        values = msg.get(channel)
        if values is None:
            continue
        if not isinstance(values, list) or len(values) > MAX_SYMBOLS:
            raise ValueError(f"{channel} must be a list of at most {MAX_SYMBOLS} symbols")
        out[channel] = [v if v == "*" else fields.symbol(v) for v in values]
    return out


class MarketDataStream:
    """The `/v2/<feed>` WebSocket endpoints (event-loop thread, except `_on_quote` which hops onto it)."""

    def __init__(self, broker: SimBroker, keys: KeyPair, registry: ConnectionRegistry, data: DataApi) -> None:
        self._broker = broker
        self._keys = keys
        self._registry = registry
        self._data = data
        self._loop: Any = None
        self._states: dict[WsConnection, _StreamState] = {}
        self._active: dict[str, WsConnection] = {}
        self._registered: set[str] = set()
        self.refused = 0

    def attach(self, loop: Any) -> None:
        self._loop = loop

    def detach(self) -> None:
        self._loop = None

    def routes(self) -> list[web.RouteDef]:
        return [web.get(f"/v2/{feed}", self.handle) for feed in ("iex", "sip", "test", "delayed_sip")]

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        use_json = request.headers.get("Content-Type", "").lower().startswith("application/json")

        def on_open(conn: WsConnection) -> None:
            self._states[conn] = _StreamState(use_json)
            self._send(conn, [{"T": "success", "msg": "connected"}])

        return await self._registry.serve(request, "data", on_open, self._on_message, self._on_close)

    def _on_close(self, conn: WsConnection) -> None:
        self._states.pop(conn, None)
        if conn.authorized_key is not None and self._active.get(conn.authorized_key) is conn:
            del self._active[conn.authorized_key]

    def _send(self, conn: WsConnection, msgs: list[JSONDict]) -> None:
        state = self._states.get(conn)
        if state is None:
            return
        if state.use_json:
            conn.send(json.dumps([{**m, "t": _iso_ns(m["t"])} if "t" in m else m for m in msgs]))
        else:
            packed = [{**m, "t": msgpack.Timestamp.from_datetime(m["t"])} if "t" in m else m for m in msgs]
            conn.send(msgpack.packb(packed, use_bin_type=True))

    def _error(self, conn: WsConnection, code: int, msg: str, *, close: bool = False) -> None:
        self._send(conn, [{"T": "error", "code": code, "msg": msg}])
        if close:
            conn.close_after_flush(WSCloseCode.POLICY_VIOLATION, msg.encode())

    async def _on_message(self, conn: WsConnection, raw: Any, binary: bool) -> None:
        try:
            msg = _decode(raw, binary)
        except ValueError as exc:
            self._error(conn, 400, f"invalid syntax: {str(exc)[:80]}")
            return
        action = msg.get("action")
        if action == "auth":
            self._auth(conn, msg)
        elif conn.authorized_key is None:
            self._error(conn, 401, "not authenticated")
        elif action in ("subscribe", "unsubscribe"):
            self._subscribe(conn, msg, add=action == "subscribe")
        else:
            self._error(conn, 400, "invalid syntax")

    def _auth(self, conn: WsConnection, msg: JSONDict) -> None:
        if conn.authorized_key is not None:
            self._error(conn, 403, "already authenticated")
            return
        key, secret = msg.get("key"), msg.get("secret")
        if not self._keys.matches(key, secret):
            self._error(conn, 402, "auth failed", close=True)
            return
        assert isinstance(key, str)
        if key in self._active:
            self.refused += 1
            self._error(conn, 406, "connection limit exceeded", close=True)
            return
        conn.authorized_key = key
        self._active[key] = conn
        self._send(conn, [{"T": "success", "msg": "authenticated"}])

    def _subscribe(self, conn: WsConnection, msg: JSONDict, *, add: bool) -> None:
        """Apply a (un)subscribe message, all of it or — when any list is malformed — none of it."""
        state = self._states[conn]
        try:
            wanted = _channel_symbols(msg)
        except ValueError as exc:
            self._error(conn, 400, f"invalid syntax: {str(exc)[:80]}")
            return
        if add and any(len(state.subs[c] | set(syms)) > MAX_SYMBOLS for c, syms in wanted.items()):
            self._error(conn, 405, "symbol limit exceeded")
            return
        new_quotes: list[str] = []
        for channel, symbols in wanted.items():
            for sym in symbols:
                if add:
                    if channel == "quotes" and sym not in state.subs[channel]:
                        new_quotes.append(sym)
                    state.subs[channel].add(sym)
                else:
                    state.subs[channel].discard(sym)
        if "trades" in msg:  # Alpaca ties corrections and cancel errors to trades
            for derived in ("corrections", "cancelErrors"):
                state.subs[derived] = set(state.subs["trades"])
        reply: JSONDict = {"T": "subscription", **{c: sorted(state.subs[c]) for c in _CHANNELS}}
        self._send(conn, [reply])
        for sym in new_quotes:
            self._start_quotes(conn, sym)

    def _start_quotes(self, conn: WsConnection, sym: str) -> None:
        """Push the current quote now; register one broker listener per symbol for later changes."""
        if sym == "*":
            return
        if sym in self._registered:
            with contextlib.suppress(NotFound):
                self._push_quote(conn, self._broker.get_latest_quote(sym))
            return
        try:
            self._broker.subscribe_quotes([sym], self._on_quote)  # SimBroker pushes the current quote itself
        except NotFound:
            return
        self._registered.add(sym)

    def _on_quote(self, quote: Quote) -> None:
        """SimBroker's dispatcher thread: move to the loop, keeping order."""
        loop = self._loop
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._fan_quote, quote)

    def _fan_quote(self, quote: Quote) -> None:
        for conn, state in list(self._states.items()):
            subs = state.subs["quotes"]
            if quote.symbol in subs or "*" in subs:
                self._push_quote(conn, quote)

    def _push_quote(self, conn: WsConnection, quote: Quote) -> None:
        self._send(conn, [{"T": "q", "S": quote.symbol, "t": quote.timestamp, **_quote_fields(quote)}])

    def on_fill(self, update: OrderUpdate) -> None:
        """A fill observer (loop thread): record the trade and stream it to `trades` subscribers."""
        trade = self._data.record_fill(update)
        if trade is None:
            return
        sym = update.order.symbol
        msg: JSONDict = {
            "T": "t",
            "S": sym,
            "i": trade.id,
            "x": _EXCHANGE,
            "p": trade.price,
            "s": trade.size,
            "c": ["@"],
            "z": _TAPE,
            "t": trade.timestamp,
        }
        for conn, state in list(self._states.items()):
            subs = state.subs["trades"]
            if sym in subs or "*" in subs:
                self._send(conn, [msg])
