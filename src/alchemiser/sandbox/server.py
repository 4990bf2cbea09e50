"""The sandbox server: one aiohttp app on one port serving Alpaca's trading REST, market-data REST, the
trade-updates stream and the market-data streams, all over one `SimBroker`.

It runs on its own event loop in a daemon thread, so tests and the CLI can start it in-process and drive it
with the unmodified alpaca-py clients. Every REST request passes one middleware that does what Alpaca's
edge does — key check (401/403), per-key sliding-window rate limit with `X-Ratelimit-*` headers (429) — plus
the sandbox's own injected latency and faults, and maps SimBroker errors to Alpaca's JSON error bodies.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType

from aiohttp import WSCloseCode, web

from alchemiser.data.base import MarketData
from alchemiser.errors import DataError
from alchemiser.execution.broker import DuplicateClientOrderId, NotFound, OrderRejected
from alchemiser.execution.sim import SimBroker, SimConfig
from alchemiser.sandbox.auth import FaultInjector, KeyPair, RateLimiter, rate_limited
from alchemiser.sandbox.common import (
    CODE_DUPLICATE_CLIENT_ID,
    CODE_INTERNAL,
    CODE_NOT_FOUND,
    CODE_UNPROCESSABLE,
    ApiError,
    json_response,
)
from alchemiser.sandbox.config import SandboxConfig, resolve_keys
from alchemiser.sandbox.marketdata import DataApi, MarketDataStream
from alchemiser.sandbox.orders import MetaStore
from alchemiser.sandbox.streams import ConnectionRegistry, TradeUpdates
from alchemiser.sandbox.trading import TradingApi

log = logging.getLogger(__name__)

_WS_PATHS = frozenset({"/stream", "/v2/iex", "/v2/sip", "/v2/test", "/v2/delayed_sip"})
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _sim_config(config: SandboxConfig, sim_config: SimConfig | None) -> SimConfig:
    """SimConfig with the sandbox's overrides applied (only the ones that are set)."""
    base = sim_config if sim_config is not None else SimConfig()
    data = base.model_dump()
    if config.starting_cash is not None:
        data["starting_cash"] = config.starting_cash
    if config.seed is not None:
        data["seed"] = config.seed
    if config.follow_calendar:
        data["always_open"] = False
    if config.faults.fill_latency_ms is not None:
        data["fill_latency_ms"] = config.faults.fill_latency_ms
    if config.faults.partial_fill_probability is not None:
        data["partial_fill_probability"] = config.faults.partial_fill_probability
    return SimConfig.model_validate(data)


def _error_response(exc: Exception) -> web.Response:
    """Alpaca's `{"code", "message"}` answer for anything a handler raised."""
    if isinstance(exc, ApiError):
        return json_response(exc.body(), exc.status)
    if isinstance(exc, DuplicateClientOrderId):
        return json_response({"code": CODE_DUPLICATE_CLIENT_ID, "message": str(exc)}, 422)
    if isinstance(exc, OrderRejected):
        status = exc.code if exc.code in (400, 403, 404, 422) else 422
        return json_response({"code": status * 100000 + 10000, "message": str(exc)}, status)
    if isinstance(exc, NotFound):
        return json_response({"code": CODE_NOT_FOUND, "message": str(exc)}, 404)
    if isinstance(exc, DataError):
        return json_response({"code": CODE_UNPROCESSABLE, "message": str(exc)}, 422)
    if isinstance(exc, web.HTTPException):
        return json_response({"code": exc.status * 100000 + 10000, "message": exc.reason.lower()}, exc.status)
    log.exception("sandbox handler failed", exc_info=exc)
    return json_response({"code": CODE_INTERNAL, "message": "internal server error"}, 500)


class SandboxServer:
    """An Alpaca-compatible server over a SimBroker (see the module docstring); start(), use, stop().

    `url` serves both TradingClient and StockHistoricalDataClient (`url_override=server.url`; the SDK adds
    `/v2`); `stream_url + "/stream"` is the TradingStream endpoint and `stream_url + "/v2/iex"` (or `/sip`,
    `/test`) the StockDataStream one.
    """

    def __init__(
        self,
        market: MarketData,
        state_path: Path | None = None,
        config: SandboxConfig | None = None,
        sim_config: SimConfig | None = None,
        now: Callable[[], dt.datetime] | None = None,
    ) -> None:
        """`now` replaces the wall clock of the simulated exchange (tests: a weekend, the market closed)."""
        self.config = config if config is not None else SandboxConfig()
        self.key_id, self.secret_key = resolve_keys(self.config)
        self.market = market
        self._broker = SimBroker(market, state_path, _sim_config(self.config, sim_config), now=now)
        self._meta = MetaStore(state_path)
        keys = KeyPair(self.key_id, self.secret_key)
        self._keys = keys
        self._registry = ConnectionRegistry(self.config.faults.drop_streams_after_s)
        self._updates = TradeUpdates(self._broker, self._meta, keys, self._registry)
        self._trading = TradingApi(self._broker, market, self._meta, self._updates, dt.datetime.now(tz=dt.UTC))
        self._data = DataApi(self._broker, market, self.config.max_page_size)
        self._data_stream = MarketDataStream(self._broker, keys, self._registry, self._data)
        self._limiter = RateLimiter(self.config.rate_limit_per_minute, self.config.rate_limit_window_s)
        self._faults = FaultInjector(self.config.faults, self.config.seed if self.config.seed is not None else 0)
        self._request_count = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._stopped = False

    # ------------------------------------------------------------------ public surface

    @property
    def broker(self) -> SimBroker:
        """The simulated exchange behind the server (tests move prices and script fills with it)."""
        return self._broker

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the sandbox server is not running; call start() first")
        return self._port

    @property
    def _host_for_urls(self) -> str:
        host = self.config.host
        if host in ("", "0.0.0.0"):
            return "127.0.0.1"
        if host == "::":
            return "[::1]"
        return f"[{host}]" if ":" in host else host

    @property
    def url(self) -> str:
        """Base URL for TradingClient / StockHistoricalDataClient `url_override` (no `/v2`: the SDK adds it)."""
        return f"http://{self._host_for_urls}:{self.port}"

    @property
    def stream_url(self) -> str:
        """WebSocket base: append `/stream` for TradingStream, `/v2/iex` (`/v2/sip`, `/v2/test`) for data."""
        return f"ws://{self._host_for_urls}:{self.port}"

    @property
    def request_count(self) -> int:
        """REST requests received so far (every status, including refused and injected failures)."""
        return self._request_count

    @property
    def faults_injected(self) -> dict[str, int]:
        """How many requests were failed (429/500) or delayed by fault injection so far."""
        return {"errors": self._faults.errors, "delays": self._faults.delays}

    @property
    def stream_connections(self) -> int:
        """Open WebSocket connections (trade updates and market data)."""
        return len(self._registry)

    @property
    def refused_data_connections(self) -> int:
        """Market-data connections refused with 406 (a second connection for the key pair)."""
        return self._data_stream.refused

    def set_latest_trade(self, symbol: str, price: float, timestamp: dt.datetime) -> None:
        """Make `price` at `timestamp` the symbol's latest trade on the data API (tests: a stale print)."""
        self._data.set_latest_trade(symbol, price, timestamp)

    def withhold_trades(self, *symbols: str) -> None:
        """The data API reports no latest trade for these symbols (tests: a missing live price)."""
        self._data.withhold_trades(set(symbols))

    def wait_for_trade_listeners(self, count: int = 1, timeout: float = 5.0) -> bool:
        """Block until `count` TradingStream connections listen to trade_updates; False on timeout."""
        return self._updates.wait_for_listeners(count, timeout)

    def start(self) -> SandboxServer:
        """Start the app on its own loop in a daemon thread; return once it is listening."""
        if self._thread is not None:
            raise RuntimeError("the sandbox server was started already")
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._startup(loop))
            except BaseException as exc:  # report to start() instead of dying silently
                failure.append(exc)
                ready.set()
                loop.close()
                return
            self._loop = loop
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=run, name="alpaca-sandbox", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._broker.close()
            self._meta.close()
            raise failure[0]
        return self

    def drop_streams(self) -> None:
        """Close every WebSocket connection now (clients are expected to reconnect)."""
        loop = self._loop
        if loop is None:
            return
        asyncio.run_coroutine_threadsafe(self._registry.drop_all(), loop).result(timeout=15)

    def stop(self) -> None:
        """Close streams, stop listening, stop the loop, then close the broker; safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None:
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=20)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
        self._loop = None
        self._port = None
        self._broker.close()
        self._meta.close()

    def __enter__(self) -> SandboxServer:
        if self._thread is None:
            self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ the app

    async def _startup(self, loop: asyncio.AbstractEventLoop) -> None:
        app = web.Application(middlewares=[self._middleware])
        app.add_routes(self._trading.routes())
        app.add_routes(self._data.routes())
        app.add_routes([web.get("/stream", self._updates.handle)])
        app.add_routes(self._data_stream.routes())
        self._updates.attach(loop)
        self._data_stream.attach(loop)
        self._updates.fill_observers.append(self._data_stream.on_fill)
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.config.host, self.config.port)
        await site.start()
        self._runner = runner
        self._port = int(runner.addresses[0][1])

    async def _shutdown(self) -> None:
        self._updates.detach()
        self._data_stream.detach()
        await self._registry.drop_all(WSCloseCode.GOING_AWAY, b"server shutdown")
        if self._runner is not None:
            await self._runner.cleanup()

    @web.middleware
    async def _middleware(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        if request.path in _WS_PATHS:
            return await handler(request)
        self._request_count += 1
        api = "data" if request.path.startswith("/v2/stocks") else "trading"
        headers: dict[str, str] = {}
        response: web.StreamResponse
        try:
            try:
                key = self._keys.check_headers(request.headers)
            except ApiError:
                headers = self._limiter.peek(f"{api}:").headers()
                raise
            accepted, state = self._limiter.hit(f"{api}:{key}")
            headers = state.headers()
            if not accepted:
                raise rate_limited()
            fate = self._faults.decide()  # before any await: the n-th request gets the n-th fate
            delay = self.config.latency_ms / 1000 + fate.delay_s
            if delay > 0:
                await asyncio.sleep(delay)  # the injected latency itself, not a wait for something
            if fate.error is not None:
                raise fate.error
            response = await handler(request)
        except Exception as exc:
            response = _error_response(exc)
        response.headers.update(headers)
        return response


def serve_forever(
    market: MarketData,
    state_path: Path | None = None,
    config: SandboxConfig | None = None,
    sim_config: SimConfig | None = None,
    on_ready: Callable[[SandboxServer], None] | None = None,
) -> None:
    """Run a sandbox until Ctrl-C (for the CLI); `on_ready` gets the running server (to print its URL/keys)."""
    server = SandboxServer(market, state_path, config, sim_config).start()
    done = threading.Event()
    try:
        if on_ready is not None:
            on_ready(server)
        while not done.wait(0.5):  # a timed wait keeps Ctrl-C responsive on every platform
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
