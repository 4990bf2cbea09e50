"""Hostile input against every sandbox endpoint: real HTTP and WebSocket traffic against a real server.

Each REST case sends one bad request and asserts what Alpaca's edge would answer: never a 500, the
documented 4xx (422 for trading fields, 400 for malformed bodies and for market-data parameters, 413 for
oversized bodies), Alpaca's `{"code", "message"}` body with the message naming the offending field — and,
compared on the simulated exchange itself, no order, fill, position or cash change.

The WebSocket cases send garbage, wrong actions, deep nesting and oversized frames to `/stream` and the
market-data streams and assert an error message comes back and the server keeps serving.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import msgpack  # type: ignore[import-untyped]
import pytest
import requests

from alchemiser.data.sample import SampleMarket
from alchemiser.sandbox import SandboxConfig, SandboxServer

KEY, SECRET = "hostile-key", "hostile-secret"
HEADERS = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}
WAIT = 10.0
ORDER = "{order}"  # replaced by the id of a real resting order
VALID_LIMIT = {"symbol": "SPY", "side": "buy", "type": "limit", "time_in_force": "day", "qty": "1", "limit_price": "1.00"}
VALID_MARKET = {"symbol": "SPY", "side": "buy", "type": "market", "time_in_force": "day", "qty": "1"}
BARS = {"symbols": "SPY", "timeframe": "1Day", "start": "2025-06-01"}


@dataclass(frozen=True)
class Case:
    """One bad request and the answer Alpaca gives it (`field` must appear in the message)."""

    method: str
    path: str
    status: int
    field: str
    params: dict[str, str] = field(default_factory=dict)
    body: Any = None  # a dict is sent as JSON, bytes/str as they are
    name: str = ""

    def __str__(self) -> str:
        return self.name or f"{self.method} {self.path} {self.field}"


def order(field_name: str, value: Any, base: dict[str, Any] = VALID_LIMIT, status: int = 422) -> Case:
    return Case("POST", "/v2/orders", status, field_name, body={**base, field_name: value},
                name=f"POST order {field_name}={str(value)[:24]!r}")


def replace(field_name: str, value: Any, status: int = 422) -> Case:
    return Case("PATCH", f"/v2/orders/{ORDER}", status, field_name, body={field_name: value},
                name=f"PATCH order {field_name}={str(value)[:24]!r}")


def query(
    method: str, path: str, expect: int, field_name: str, base: dict[str, str] | None = None, /, **params: str
) -> Case:
    shown = ",".join(f"{k}={v[:16]}" for k, v in params.items())
    return Case(method, path[:60], expect, field_name, params={**(base or {}), **params}, name=f"{method} {path}?{shown}")


def body(path: str, raw: bytes | str, status: int, field_name: str, name: str, method: str = "POST") -> Case:
    return Case(method, path, status, field_name, body=raw, name=f"{method} {path} {name}")


def deep(n: int) -> str:
    return '{"a":' * n + "1" + "}" * n


THIRTY_DIGITS = "1" * 30
CASES: list[Case] = [
    # --- POST /v2/orders: every field, wrong type, out of range, too precise
    *(order("qty", v) for v in (THIRTY_DIGITS, 1e300, "1e300", -1, 0, "abc", "NaN", "Infinity", True, [1], {"a": 1},
                                "1.0000000001", "1e-10", "1" * 60)),
    *(order("limit_price", v) for v in (1e300, "1e300", THIRTY_DIGITS, -5, 0, "10.001", "0.00001", "nan", [], False)),
    *(order("notional", v, VALID_MARKET | {"qty": None}) for v in (THIRTY_DIGITS, 1e300, 0.5, "10.123", -10, "x")),
    order("notional", "10", VALID_MARKET),  # both qty and notional: the message names them
    order("side", "hold"), order("side", 1), order("side", None), order("side", ["buy"]),
    order("type", "stop"), order("type", 5), order("type", None),
    order("time_in_force", "forever"), order("time_in_force", 1), order("time_in_force", "gtc", VALID_MARKET | {"qty": "0.5"}),
    order("symbol", ""), order("symbol", "SP Y"), order("symbol", "X" * 100), order("symbol", 123),
    order("symbol", "<script>"), order("symbol", "SPY\u0000"), order("symbol", {"$ne": None}),
    order("client_order_id", "x" * 129), order("client_order_id", 12345), order("client_order_id", "a\u0000b"),
    order("extended_hours", "maybe"), order("extended_hours", True, VALID_MARKET),
    order("order_class", "bracket"), order("stop_price", 5), order("legs", [{"side": "buy"}]),
    order("limit_price", "2.00", VALID_MARKET),  # a limit price on a market order
    order("limit_price", None),  # a limit order without one
    # --- malformed bodies
    body("/v2/orders", "{", 400, "body", "truncated JSON"),
    body("/v2/orders", "[]", 400, "body", "an array"),
    body("/v2/orders", '"SPY"', 400, "body", "a string"),
    body("/v2/orders", "null", 400, "body", "null"),
    body("/v2/orders", "1", 400, "body", "a number"),
    body("/v2/orders", b"\xff\xfe\x00{", 400, "body", "invalid UTF-8"),
    body("/v2/orders", '{"symbol":"SPY","side":"buy","type":"market","time_in_force":"day","qty":NaN}', 400, "body", "NaN literal"),
    body("/v2/orders", '{"qty":' + "9" * 5000 + "}", 400, "body", "a 5000-digit integer"),
    body("/v2/orders", deep(5_000), 400, "body", "5k-deep object"),
    body("/v2/orders", "[" * 20_000, 400, "body", "20k-deep array"),
    body("/v2/orders", "[" * 100_000, 413, "body", "100k-deep array (too large)"),
    body("/v2/orders", json.dumps({**VALID_LIMIT, "pad": "x" * (1 << 20)}), 413, "body", "1 MiB body"),
    # --- PATCH /v2/orders/{id}: validated before the original is cancelled
    *(replace("qty", v) for v in (THIRTY_DIGITS, 1e300, -1, 0, "abc", "1.0000000001", True)),
    *(replace("limit_price", v) for v in (1e300, "1.001", 0, -1, "0.00001", "inf")),
    replace("time_in_force", "ioc"), replace("time_in_force", 7),
    replace("client_order_id", "x" * 129), replace("client_order_id", ["a"]),
    replace("stop_price", 1), replace("trail", 1),
    body(f"/v2/orders/{ORDER}", "[]", 400, "body", "an array", method="PATCH"),
    body(f"/v2/orders/{ORDER}", deep(5_000), 400, "body", "5k-deep object", method="PATCH"),
    body(f"/v2/orders/{ORDER}", "[" * 100_000, 413, "body", "100k-deep array", method="PATCH"),
    Case("PATCH", "/v2/orders/not-a-uuid", 422, "order_id", body={"qty": "1"}),
    # --- order ids and client order ids in paths and queries
    Case("GET", "/v2/orders/not-a-uuid", 422, "order_id"),
    Case("GET", "/v2/orders/" + "a" * 1000, 422, "order_id"),
    Case("DELETE", "/v2/orders/not-a-uuid", 422, "order_id"),
    Case("DELETE", "/v2/orders/%00", 422, "order_id"),
    query("GET", "/v2/orders:by_client_order_id", 422, "client_order_id"),
    query("GET", "/v2/orders:by_client_order_id", 422, "client_order_id", client_order_id="x" * 129),
    # --- GET /v2/orders filters
    *(query("GET", "/v2/orders", 422, "status", status=v) for v in ("bogus", "OPEN;DROP")),
    *(query("GET", "/v2/orders", 422, "limit", limit=v) for v in ("0", "501", "abc", "1e3", "-1", "9" * 5000, "1.5")),
    *(query("GET", "/v2/orders", 422, "after", after=v) for v in ("garbage", "0001-01-01", "2025-13-45", "x" * 500)),
    *(query("GET", "/v2/orders", 422, "until", until=v) for v in ("9999-12-31", "9999-12-31T23:59:59Z", "yesterday")),
    *(query("GET", "/v2/orders", 422, "direction", direction=v) for v in ("sideways", "ASCENDING")),
    *(query("GET", "/v2/orders", 422, "symbols", symbols=v) for v in ("SP Y,QQQ", "X" * 100, ",".join(["A"] * 1) + ",<b>")),
    query("GET", "/v2/orders", 422, "side", side="hold"),
    query("GET", "/v2/orders", 422, "nested", nested="maybe"),
    # --- positions
    *(query("DELETE", "/v2/positions/SPY", 422, "qty", qty=v) for v in ("1e300", THIRTY_DIGITS, "-1", "0", "abc", "nan",
                                                                       "1.0000000001", "inf")),
    *(query("DELETE", "/v2/positions/SPY", 422, "percentage", percentage=v) for v in ("101", "0", "-5", "nan", "1e300",
                                                                                      "1e-300", "abc")),
    query("DELETE", "/v2/positions/SPY", 422, "qty or percentage", qty="1", percentage="50"),
    query("DELETE", "/v2/positions/SP%20Y", 422, "symbol"),
    query("DELETE", "/v2/positions/" + "X" * 100, 422, "symbol"),
    query("DELETE", "/v2/positions", 422, "cancel_orders", cancel_orders="maybe"),
    query("GET", "/v2/positions/" + "X" * 100, 422, "symbol"),
    query("GET", "/v2/positions/%3Cscript%3E", 422, "symbol"),
    # --- calendar, assets
    *(query("GET", "/v2/calendar", 422, "start", start=v) for v in ("garbage", "0001-01-01", "2025-02-30", "x" * 100)),
    *(query("GET", "/v2/calendar", 422, "end", end=v) for v in ("9999-12-31", "2025-13-01")),
    query("GET", "/v2/assets/SP%20Y", 422, "symbol"),
    query("GET", "/v2/assets/" + "A" * 50, 422, "symbol"),
    query("GET", "/v2/assets/%00", 422, "symbol"),
    query("GET", "/v2/assets", 422, "status", status="bogus"),
    query("GET", "/v2/assets", 422, "asset_class", asset_class="beanie_babies"),
    # --- account and clock take no input: junk is ignored, a wrong method is refused
    Case("GET", "/v2/account", 200, "", params={"qty": "1e300", "x": "[" * 1000}),
    Case("POST", "/v2/account", 405, "method", body={"cash": "1e300"}),
    Case("GET", "/v2/clock", 200, "", params={"timestamp": "9999-12-31"}),
    Case("PUT", "/v2/clock", 405, "method", body="[" * 5000),
    # --- market data: bars
    *(query("GET", "/v2/stocks/bars", 400, "timeframe", BARS, timeframe=v) for v in ("", "1Hour", "x" * 100, "1Day;")),
    *(query("GET", "/v2/stocks/bars", 400, "start", BARS, start=v) for v in ("garbage", "0001-01-01", "1969-12-31")),
    *(query("GET", "/v2/stocks/bars", 400, "end", BARS, end=v) for v in ("9999-12-31", "9999-12-31T23:59:59Z", "x")),
    *(query("GET", "/v2/stocks/bars", 400, "limit", BARS, limit=v) for v in ("0", "-1", "abc", "10001", "9" * 5000)),
    *(query("GET", "/v2/stocks/bars", 400, "page_token", BARS, page_token=v) for v in (
        "garbage!", base64.urlsafe_b64encode(b"offset:-5").decode(), base64.urlsafe_b64encode(b"nope:1").decode(),
        "A" * 1000)),
    *(query("GET", "/v2/stocks/bars", 400, "symbols", BARS, symbols=v) for v in ("", "SP Y", ",".join(["AA"] * 1) + ",$$",
                                                                                 ",".join(f"S{i}" for i in range(1001)))),
    query("GET", "/v2/stocks/bars", 400, "invalid end: year must be between 1970 and 2200", BARS, end="2201-01-01"),
    query("GET", "/v2/orders", 422, "invalid after: year must be between 1970 and 2200", after="1969-12-31T23:59:59Z"),
    query("GET", "/v2/stocks/bars", 400, "sort", BARS, sort="sideways"),
    query("GET", "/v2/stocks/bars", 400, "feed", BARS, feed="bogus"),
    query("GET", "/v2/stocks/bars", 400, "adjustment", BARS, adjustment="bogus"),
    query("GET", "/v2/stocks/SPY/bars", 400, "start", {"timeframe": "1Day"}, start="0001-01-01"),
    query("GET", "/v2/stocks/SPY/bars", 400, "limit", {"timeframe": "1Day"}, limit="0"),
    query("GET", "/v2/stocks/SP%20Y/bars", 400, "symbol", {"timeframe": "1Day"}),
    # --- market data: quote and trade history, latest values, snapshots
    *(query("GET", f"/v2/stocks/{kind}", 400, name, {"symbols": "SPY"}, **{name: v})
      for kind in ("quotes", "trades")
      for name, v in (("start", "garbage"), ("end", "9999-12-31"), ("limit", "0"), ("page_token", "!!"), ("sort", "up"))),
    *(query("GET", f"/v2/stocks/{kind}", 400, "symbols", symbols=v) for kind in ("quotes", "trades") for v in ("", "SP Y")),
    *(query("GET", f"/v2/stocks/{kind}/latest", 400, "symbols", symbols=v)
      for kind in ("quotes", "trades", "bars") for v in ("", "SP Y", "X" * 100)),
    query("GET", "/v2/stocks/quotes/latest", 400, "feed", {"symbols": "SPY"}, feed="bogus"),
    query("GET", "/v2/stocks/snapshots", 400, "symbols", symbols="<SPY>"),
    query("GET", "/v2/stocks/snapshots", 400, "symbols"),
    *(query("GET", f"/v2/stocks/SP%20Y/{tail}", 400, "symbol") for tail in ("quotes/latest", "trades/latest", "bars/latest",
                                                                          "snapshot")),
]


@dataclass
class Sandbox:
    server: SandboxServer
    order_id: str
    http: requests.Session

    def state(self) -> tuple[Any, ...]:
        """Everything a bad request must leave alone: orders (status, fills), positions, cash."""
        broker = self.server.broker
        assert broker.wait_idle(WAIT)
        orders = sorted(
            (o.id, o.status.value, str(o.filled_qty), str(o.qty), str(o.limit_price), o.client_order_id)
            for o in broker.list_orders("all")
        )
        positions = sorted((p.symbol, str(p.qty)) for p in broker.get_positions())
        return orders, positions, str(broker.get_account().cash)


@pytest.fixture(scope="module")
def sandbox(market: SampleMarket) -> Iterator[Sandbox]:
    server = SandboxServer(market, config=SandboxConfig(key_id=KEY, secret_key=SECRET, rate_limit_per_minute=100_000))
    server.start()
    http = requests.Session()
    http.headers.update(HEADERS)
    try:
        bought = http.post(f"{server.url}/v2/orders", json=VALID_MARKET | {"qty": "2"}, timeout=WAIT)
        assert bought.status_code == 200, bought.text
        resting = http.post(f"{server.url}/v2/orders", json=VALID_LIMIT | {"symbol": "QQQ"}, timeout=WAIT)
        assert resting.status_code == 200, resting.text
        assert server.broker.wait_idle(WAIT)
        yield Sandbox(server, resting.json()["id"], http)
    finally:
        http.close()
        server.stop()


def send(sandbox: Sandbox, case: Case) -> requests.Response:
    path = case.path.replace(ORDER, sandbox.order_id)
    kwargs: dict[str, Any] = {"params": case.params, "timeout": WAIT}
    if isinstance(case.body, dict):
        kwargs["json"] = case.body
    elif case.body is not None:
        kwargs["data"] = case.body.encode() if isinstance(case.body, str) else case.body
        kwargs["headers"] = {"Content-Type": "application/json"}
    return sandbox.http.request(case.method, sandbox.server.url + path, **kwargs)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_hostile_request_is_refused_by_name_without_any_state_change(sandbox: Sandbox, case: Case) -> None:
    before = sandbox.state()
    response = send(sandbox, case)
    assert response.status_code != 500, response.text
    assert response.status_code == case.status, response.text
    if case.status >= 400:
        answer = response.json()
        assert set(answer) >= {"code", "message"} and isinstance(answer["code"], int)
        assert answer["code"] // 100000 == case.status
        assert case.field in answer["message"], answer["message"]
        assert len(answer["message"]) < 200  # the input is never echoed back whole
    assert sandbox.state() == before


# Routes that take no input at all (no query, no body, no path parameter): nothing hostile to send them.
NO_INPUT = {("GET", "/v2/positions"), ("GET", "/v2/account/configurations"), ("DELETE", "/v2/orders")}


def test_the_matrix_covers_every_route(sandbox: Sandbox) -> None:
    """Every route the server registers has hostile cases, so a route added later cannot be forgotten."""
    server = sandbox.server
    routes = {(r.method, r.path) for r in [*server._trading.routes(), *server._data.routes()]}  # type: ignore[attr-defined]

    def pattern(path: str) -> re.Pattern[str]:
        parts = re.split(r"(\{[^}]+\})", path)
        return re.compile("".join("[^/]+" if part.startswith("{") else re.escape(part) for part in parts))

    patterns = {route: pattern(route[1]) for route in routes}
    covered = set()
    for case in CASES:
        path = case.path.replace(ORDER, sandbox.order_id)
        matching = [r for r, rx in patterns.items() if r[0] == case.method and rx.fullmatch(path)]
        if matching:  # the most specific route wins, as in the server's router
            covered.add(min(matching, key=lambda r: r[1].count("{")))
    assert routes - NO_INPUT <= covered, sorted(routes - NO_INPUT - covered)
    assert len(CASES) >= 200


def test_valid_requests_still_work_after_the_matrix(sandbox: Sandbox) -> None:
    """The same server, after every hostile request: a correct order, replace and close still go through."""
    url, http = sandbox.server.url, sandbox.http
    placed = http.post(f"{url}/v2/orders", json=VALID_LIMIT | {"limit_price": "0.5", "qty": "0.000000001"}, timeout=WAIT)
    assert placed.status_code == 200, placed.text
    replaced = http.patch(f"{url}/v2/orders/{placed.json()['id']}", json={"limit_price": "0.9999"}, timeout=WAIT)
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["limit_price"] == "0.9999"
    closed = http.delete(f"{url}/v2/positions/SPY", params={"percentage": "50"}, timeout=WAIT)
    assert closed.status_code == 200 and closed.json()["qty"] == "1", closed.text


def test_bodies_arriving_in_pieces_are_read_whole_and_limited_as_they_arrive(sandbox: Sandbox) -> None:
    """A chunked body (no Content-Length) sent in 100-byte pieces: a valid one is placed, an endless one
    is cut off at the limit with 413 instead of being buffered."""
    url, http = sandbox.server.url, sandbox.http
    body = json.dumps(VALID_LIMIT | {"symbol": "QQQ", "client_order_id": "in-pieces", "note": "x" * 5000}).encode()
    placed = http.post(f"{url}/v2/orders", data=(body[i : i + 100] for i in range(0, len(body), 100)), timeout=WAIT)
    assert placed.status_code == 200, placed.text
    assert placed.json()["client_order_id"] == "in-pieces"
    before = sandbox.state()
    endless = (b"[" if i == 0 else b" " * 1000 for i in range(1000))  # 1 MB of whitespace after a bracket
    refused = http.post(f"{url}/v2/orders", data=endless, timeout=WAIT)
    assert refused.status_code == 413 and "body" in refused.json()["message"]
    assert sandbox.state() == before


# ---------------------------------------------------------------------------------------------- WebSockets


async def _receive(ws: aiohttp.ClientWebSocketResponse, packed: bool = False) -> Any:
    """The next message decoded (market data is msgpack; trade updates are JSON, sent as binary frames)."""
    msg = await asyncio.wait_for(ws.receive(), WAIT)
    if msg.type == aiohttp.WSMsgType.BINARY:
        return msgpack.unpackb(msg.data, timestamp=3) if packed else json.loads(msg.data)
    if msg.type == aiohttp.WSMsgType.TEXT:
        return json.loads(msg.data)
    return msg  # a close


async def _trade_stream(url: str) -> list[str]:
    """Send garbage to /stream; every frame must get an error answer and the connection must stay usable."""
    errors: list[str] = []
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url + "/stream", max_msg_size=0) as ws:
            for frame in ("{", "[" * 100_000, '"just a string"', "[1, 2]", json.dumps({"action": "dance"}),
                          json.dumps({"action": ["listen"]}),
                          json.dumps({"action": "x" * 200_000}), b"\xff\xfe", msgpack.packb({"action": "auth"})):
                if isinstance(frame, bytes):
                    await ws.send_bytes(frame)
                else:
                    await ws.send_str(frame)
                answer = await _receive(ws)
                assert isinstance(answer, dict), answer
                assert answer["stream"] in ("error", "authorization", "listening"), answer
                if answer["stream"] == "error":
                    errors.append(answer["data"]["error_message"])
                    assert len(json.dumps(answer)) < 1000  # no echo of a huge frame
            await ws.send_str(json.dumps({"action": "authenticate", "data": {"key_id": KEY, "secret_key": SECRET}}))
            assert (await _receive(ws))["data"]["status"] == "authorized"
            await ws.send_str(json.dumps({"action": "listen", "data": {"streams": ["trade_updates"]}}))
            assert (await _receive(ws))["data"]["streams"] == ["trade_updates"]
        async with session.ws_connect(url + "/stream", max_msg_size=0) as ws:
            # beyond the frame limit: closed with 1009, the server stays up
            await _refused(ws, ws.send_str("x" * (2 << 20)), packed=False)
        async with session.ws_connect(url + "/stream", max_msg_size=0) as ws:
            await ws.send_str(json.dumps({"action": "authenticate", "data": {"key_id": KEY, "secret_key": SECRET}}))
            assert (await _receive(ws))["data"]["status"] == "authorized"
    return errors


async def _refused(ws: aiohttp.ClientWebSocketResponse, sending: Awaitable[None], *, packed: bool) -> None:
    """An oversized frame is refused: the server closes with 1009. When it closes while the client is still
    sending the 2 MiB, the client sees the connection drop instead (a reset during the send, or 1006)."""
    try:
        await sending
    except ConnectionError:  # aiohttp's ClientConnectionResetError is one
        return
    closed = await _receive(ws, packed=packed)
    assert closed.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), closed
    assert ws.close_code in (aiohttp.WSCloseCode.MESSAGE_TOO_BIG, aiohttp.WSCloseCode.ABNORMAL_CLOSURE)


def _eventually(condition: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    """True once `condition` holds; the server notices a closed socket on its own loop, a moment later."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


async def _data_stream(url: str, feed: str) -> list[tuple[int, str]]:
    """Send garbage to a market-data stream (msgpack and JSON frames); expect Alpaca's `{"T":"error"}` and a live stream."""
    errors: list[tuple[int, str]] = []
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(f"{url}/v2/{feed}", max_msg_size=0) as ws:
            assert (await _receive(ws, packed=True))[0]["msg"] == "connected"

            async def expect_error(frame: bytes | str) -> None:
                await (ws.send_bytes(frame) if isinstance(frame, bytes) else ws.send_str(frame))
                answer = await _receive(ws, packed=True)
                assert isinstance(answer, list) and answer[0]["T"] == "error", answer
                assert len(answer[0]["msg"]) < 200
                errors.append((answer[0]["code"], answer[0]["msg"]))

            for frame in (b"\xc1\xc1", b"\x91" * 100_000, "[" * 100_000, "{", msgpack.packb([1, 2]),
                          msgpack.packb({"action": "subscribe", "quotes": ["SPY"]}), msgpack.packb({"action": 7}),
                          b"\x80",
                          msgpack.packb({"action": "x" * 200_000})):
                await expect_error(frame)
            await ws.send_bytes(msgpack.packb({"action": "auth", "key": KEY, "secret": SECRET}))
            assert (await _receive(ws, packed=True))[0]["msg"] == "authenticated"
            for frame in (msgpack.packb({"action": "subscribe", "quotes": ["SP Y"]}),
                          msgpack.packb({"action": "subscribe", "quotes": ["X" * 10_000]}),
                          msgpack.packb({"action": "subscribe", "quotes": "SPY"}),
                          msgpack.packb({"action": "subscribe", "quotes": [f"S{i}" for i in range(5000)]}),
                          msgpack.packb({"action": "subscribe", "trades": [{"a": 1}]}),
                          msgpack.packb({"action": "dance"})):
                await expect_error(frame)
            await ws.send_bytes(msgpack.packb({"action": "subscribe", "quotes": ["SPY"]}))
            subscribed = await _receive(ws, packed=True)
            assert subscribed[0]["T"] == "subscription" and subscribed[0]["quotes"] == ["SPY"], subscribed
            quote = await _receive(ws, packed=True)
            assert quote[0]["T"] == "q" and quote[0]["S"] == "SPY"
        async with session.ws_connect(f"{url}/v2/{feed}", max_msg_size=0) as ws:
            await _receive(ws, packed=True)
            await _refused(ws, ws.send_bytes(b"\x00" * (2 << 20)), packed=True)
        async with session.ws_connect(f"{url}/v2/{feed}", max_msg_size=0) as ws:
            assert (await _receive(ws, packed=True))[0]["msg"] == "connected"
    return errors


def test_hostile_trade_stream_messages_get_errors_and_the_server_stays_up(market: SampleMarket) -> None:
    with SandboxServer(market, config=SandboxConfig(key_id=KEY, secret_key=SECRET)) as server:
        errors = asyncio.run(_trade_stream(server.stream_url))
        assert len(errors) == 9 and any("too large" in e for e in errors), errors
        assert _eventually(lambda: server.stream_connections == 0), server.stream_connections
        assert requests.get(server.url + "/v2/clock", headers=HEADERS, timeout=WAIT).status_code == 200


@pytest.mark.parametrize("feed", ["iex", "sip", "test"])
def test_hostile_market_data_messages_get_errors_and_the_server_stays_up(market: SampleMarket, feed: str) -> None:
    with SandboxServer(market, config=SandboxConfig(key_id=KEY, secret_key=SECRET)) as server:
        errors = asyncio.run(_data_stream(server.stream_url, feed))
        assert {code for code, _ in errors} <= {400, 401, 405}, errors
        assert any("symbol" in msg for _, msg in errors) and any("too large" in msg for _, msg in errors), errors
        assert _eventually(lambda: server.stream_connections == 0), server.stream_connections
        assert requests.get(server.url + "/v2/clock", headers=HEADERS, timeout=WAIT).status_code == 200
