"""The alpaca-py internals this adapter relies on, all in one place, so an SDK upgrade has one file to check.

alpaca-py 0.44 offers no public way to: set an HTTP timeout or turn off its fixed 3-second 429 retry
(`RESTClient._session`, `RESTClient._retry`); learn when the trade-update stream has confirmed `listen`
(`TradingStream._dispatch`); or change quote subscriptions from another thread without racing its
reconnection (`StockDataStream._handlers`, `_running`, `_ws`, `_send_subscribe_msg`,
`_send_unsubscribe_msg`, `_dispatch`); and both streams are driven through `_run_forever` so they can run on
a loop we own. Everything else in `execution/alpaca/` uses the SDK's public API only. The adapter's tests run
the real SDK against the sandbox, so drift in any of these shows up there; `pyproject.toml` pins the series.
"""

from __future__ import annotations

import collections
import logging
import re
from collections.abc import Callable, Coroutine, Iterable
from typing import Any
from urllib.parse import urlsplit

import requests
from alpaca.common.rest import RESTClient
from alpaca.data.live.stock import StockDataStream
from alpaca.trading.stream import TradingStream

log = logging.getLogger(__name__)

_UUID_SEGMENT = re.compile(r"/[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


class TimedSession(requests.Session):
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


def install_session(client: RESTClient, session: TimedSession) -> None:
    """Route a REST client through `session` and switch its own retry off, so ours is the only policy."""
    client._retry = 0
    client._session = session


def close_session(client: RESTClient) -> None:
    client._session.close()


def run_forever(stream: TradingStream | StockDataStream) -> Callable[[], Coroutine[Any, Any, None]]:
    """The coroutine that connects, reconnects (backoff from 1 s) and dispatches, for a loop we own."""
    return stream._run_forever  # type: ignore[return-value]


class TradeStream(TradingStream):
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


class QuoteStream(StockDataStream):
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
        if msg.get("T") == "subscription":
            self.acknowledged = set(msg.get("quotes") or ())
            missing = [s for s in self._handlers["quotes"] if s not in self.acknowledged and self._resends[s] < 2]
            if missing and "quotes" in msg and self._running:
                for sym in missing:
                    self._resends[sym] += 1
                await self._send_subscribe_msg()
            return
        await super()._dispatch(msg)
