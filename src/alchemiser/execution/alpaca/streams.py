"""Alpaca's two WebSocket streams, each on its own asyncio loop in a background thread.

Trade updates (`TradeStream`) start when the first order listener is added; quotes (`QuoteStream`, one
connection per key pair as Alpaca allows) start at the first subscription, with symbols added and removed
just in time. The SDK reconnects both after a dropped connection by itself (backoff from 1 s); events missed
meanwhile are recovered by the executor's polling, and quote subscriptions are restored from the desired set.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import logging
import threading
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, TypeVar

from alpaca.data.enums import DataFeed

from alchemiser.execution.alpaca.sdk import QuoteStream, TradeStream, run_forever
from alchemiser.execution.alpaca.wire import quote_from_wire, update_from_wire
from alchemiser.execution.broker import BrokerError, OrderListener, QuoteListener

log = logging.getLogger(__name__)

T = TypeVar("T")


class LoopThread:
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


class StreamHub:
    """Listeners and the two stream connections of one broker; safe to call from any thread."""

    def __init__(
        self,
        keys: tuple[str, str],
        *,
        paper: bool,
        trading_stream_url: str,
        data_stream_url: str,
        feed: DataFeed,
        redact: Callable[[str], str],
    ) -> None:
        self._keys = keys
        self._paper = paper
        self._trading_stream_url = trading_stream_url
        self._data_stream_url = data_stream_url
        self._feed = feed
        self._redact = redact
        self._lock = threading.RLock()
        self._closed = False
        self._order_listeners: list[OrderListener] = []
        self._quote_listeners: dict[str, list[QuoteListener]] = {}
        self._trade: tuple[LoopThread, TradeStream] | None = None
        self._quotes: tuple[LoopThread, QuoteStream] | None = None
        self._listening = threading.Condition()
        self._generation = 0  # times the trade-update stream has (re)started listening
        self.quote_frames: collections.Counter[str] = collections.Counter()  # streamed quotes received per symbol

    def _check_open(self) -> None:
        if self._closed:
            raise BrokerError("the Alpaca broker is closed")

    # ------------------------------------------------------------------------------------------- quotes

    def _on_quote(self, msg: dict[str, Any]) -> None:
        """Stream thread: a raw quote frame → our Quote → the symbol's listeners (if still subscribed)."""
        sym = str(msg.get("S", "")).upper()
        with self._lock:
            self.quote_frames[sym] += 1
            listeners = list(self._quote_listeners.get(sym, ()))
        if not listeners:
            return
        try:
            quote = quote_from_wire(sym, msg)
        except Exception:
            log.exception("unreadable quote for %s", sym)
            return
        for listener in listeners:
            try:
                listener(quote)
            except Exception:
                log.exception("quote listener failed")

    def subscribe_quotes(self, symbols: Iterable[str], listener: QuoteListener) -> None:
        with self._lock:
            self._check_open()
            for sym in symbols:
                registered = self._quote_listeners.setdefault(sym.upper(), [])
                if not any(existing is listener for existing in registered):
                    registered.append(listener)
            self._sync_quotes_locked()

    def unsubscribe_quotes(self, symbols: Iterable[str]) -> None:
        with self._lock:
            for sym in symbols:
                self._quote_listeners.pop(sym.upper(), None)
            self._sync_quotes_locked()

    @property
    def subscriptions(self) -> set[str]:
        with self._lock:
            return {s for s, ls in self._quote_listeners.items() if ls}

    def _sync_quotes_locked(self) -> None:
        wanted = {sym for sym, ls in self._quote_listeners.items() if ls}
        if self._quotes is None:
            if not wanted or self._closed:
                return
            key, secret = self._keys
            stream = QuoteStream(
                self._on_quote, api_key=key, secret_key=secret, feed=self._feed, url_override=self._data_stream_url
            )
            stream.seed(wanted)
            thread = LoopThread("alpaca-quotes")
            thread.start(run_forever(stream), stream.close)
            self._quotes = (thread, stream)
            return
        thread, stream = self._quotes
        future = thread.submit(stream.apply(wanted))
        if future is not None and not thread.on_loop:
            future.add_done_callback(_log_failure)

    # ------------------------------------------------------------------------------------ order updates

    def _on_listening(self) -> None:
        with self._listening:
            self._generation += 1
            self._listening.notify_all()
        log.info("trade-update stream listening (connection %d)", self._generation)

    async def _on_trade_update(self, msg: Any) -> None:
        """Stream thread: a raw trade_updates message → `OrderUpdate` → every order listener."""
        try:
            update = update_from_wire(msg.get("data") or {})
        except Exception as exc:
            log.warning("unreadable trade update skipped: %s", self._redact(str(exc)))
            return
        if update is None:
            return
        with self._lock:
            listeners = list(self._order_listeners)
        for listener in listeners:
            try:
                listener(update)
            except Exception:
                log.exception("order listener failed")

    def add_order_listener(self, listener: OrderListener) -> bool:
        """Register `listener`; True when this started the trade-update stream."""
        with self._lock:
            self._check_open()
            self._order_listeners.append(listener)
            if self._trade is not None:
                return False
            key, secret = self._keys
            stream = TradeStream(
                self._on_listening,
                api_key=key,
                secret_key=secret,
                paper=self._paper,
                raw_data=True,
                url_override=self._trading_stream_url,
            )
            stream.subscribe_trade_updates(self._on_trade_update)
            thread = LoopThread("alpaca-trade-updates")
            thread.start(run_forever(stream), stream.close)
            self._trade = (thread, stream)
            return True

    def remove_order_listener(self, listener: OrderListener) -> None:
        with self._lock:
            self._order_listeners = [existing for existing in self._order_listeners if existing is not listener]

    @property
    def generation(self) -> int:
        with self._listening:
            return self._generation

    def wait_listening(self, timeout_s: float, after: int = 0) -> bool:
        with self._listening:
            done = self._listening.wait_for(lambda: self._generation > after or self._closed, timeout_s)
            return done and not self._closed

    # ----------------------------------------------------------------------------------------- lifecycle

    def close(self) -> None:
        """Stop both stream threads; safe to call more than once."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            running = [pair for pair in (self._trade, self._quotes) if pair is not None]
            self._order_listeners.clear()
            self._quote_listeners.clear()
        with self._listening:
            self._listening.notify_all()
        for thread, stream in running:
            thread.stop(stream.stop_ws, timeout_s=5.0)


def _log_failure(future: concurrent.futures.Future[None]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("quote subscription update failed: %s", future.exception())
