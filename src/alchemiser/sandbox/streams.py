"""WebSocket plumbing and the trade-updates stream (`/stream`).

Every connection gets one writer task fed by a queue, so frames leave in the order they were produced
(SimBroker events arrive on its dispatcher thread and are handed to the event loop with
`call_soon_threadsafe`, which keeps their order). A close is queued like a frame, so an error message is
always delivered before the socket closes.

`TradeUpdates` turns SimBroker's order events into Alpaca `trade_updates` messages and also lets REST
handlers wait for an order to reach a final state (cancel-all before close-all, cancel before replace)
without sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from alchemiser.execution.broker import NotFound
from alchemiser.execution.sim import SimBroker
from alchemiser.models import Order, OrderEvent, OrderUpdate
from alchemiser.sandbox.auth import KeyPair
from alchemiser.sandbox.common import JSONDict, num, rfc3339
from alchemiser.sandbox.orders import MetaStore, encode_order
from alchemiser.sandbox.validation import MAX_WS_FRAME_BYTES, decode_message

log = logging.getLogger(__name__)

Frame = bytes | str


class _Close:
    """A queued request to close the socket once every earlier frame has been sent."""

    def __init__(self, code: int, message: bytes) -> None:
        self.code = code
        self.message = message


class WsConnection:
    """One accepted WebSocket with its ordered outbound queue and per-connection protocol state."""

    def __init__(self, ws: web.WebSocketResponse, kind: str) -> None:
        self.ws = ws
        self.kind = kind
        self.authorized_key: str | None = None
        self.closing = False
        self._queue: asyncio.Queue[Frame | _Close | None] = asyncio.Queue()
        self._writer = asyncio.get_running_loop().create_task(self._write())

    def send(self, frame: Frame) -> None:
        if not self.closing:
            self._queue.put_nowait(frame)

    def close_after_flush(self, code: int = WSCloseCode.OK, message: bytes = b"") -> None:
        if not self.closing:
            self.closing = True
            self._queue.put_nowait(_Close(code, message))

    async def _write(self) -> None:
        while True:
            item = await self._queue.get()
            if item is None:
                return
            try:
                if isinstance(item, _Close):
                    await self.ws.close(code=item.code, message=item.message)
                    return
                if isinstance(item, bytes):
                    await self.ws.send_bytes(item)
                else:
                    await self.ws.send_str(item)
            except (ConnectionError, RuntimeError):  # the peer went away: nothing more to deliver
                self.closing = True
                return

    async def finish(self) -> None:
        """Stop the writer after the read loop ended (the socket is closed by then)."""
        self.closing = True
        self._queue.put_nowait(None)
        with contextlib.suppress(asyncio.CancelledError, ConnectionError, RuntimeError):
            await asyncio.wait_for(self._writer, timeout=5)


class ConnectionRegistry:
    """All open WebSockets, so `drop_streams()` and shutdown can close them and the drop fault can time them."""

    def __init__(self, drop_after_s: float | None) -> None:
        self.drop_after_s = drop_after_s
        self._conns: set[WsConnection] = set()

    def __len__(self) -> int:
        return len(self._conns)

    async def serve(
        self,
        request: web.Request,
        kind: str,
        on_open: Callable[[WsConnection], None],
        on_message: Callable[[WsConnection, Any, bool], Awaitable[None]],
        on_close: Callable[[WsConnection], None],
    ) -> web.WebSocketResponse:
        """Accept, run the read loop (decoded by the caller), and always unregister on the way out."""
        ws = web.WebSocketResponse(autoping=True, max_msg_size=MAX_WS_FRAME_BYTES)  # beyond: closed with 1009
        await ws.prepare(request)
        conn = WsConnection(ws, kind)
        self._conns.add(conn)
        timer = None
        if self.drop_after_s is not None:
            loop = asyncio.get_running_loop()
            timer = loop.call_later(self.drop_after_s, conn.close_after_flush, WSCloseCode.SERVICE_RESTART, b"dropped")
        try:
            on_open(conn)
            async for msg in ws:
                if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    continue
                try:
                    await on_message(conn, msg.data, msg.type == WSMsgType.BINARY)
                except Exception:  # a handler bug must not end the connection (or leak to aiohttp's log as a crash)
                    log.exception("sandbox %s stream handler failed", kind)
        finally:
            if timer is not None:
                timer.cancel()
            self._conns.discard(conn)
            on_close(conn)
            await conn.finish()
        return ws

    async def drop_all(self, code: int = WSCloseCode.SERVICE_RESTART, message: bytes = b"dropped") -> None:
        """Close every connection and wait (bounded) for the close handshakes to finish."""
        conns = list(self._conns)
        for conn in conns:
            conn.close_after_flush(code, message)
        writers = [c._writer for c in conns]
        if writers:
            await asyncio.wait(writers, timeout=5)


class TradeUpdates:
    """The `/stream` endpoint plus the bridge from SimBroker order events to the event loop."""

    def __init__(self, broker: SimBroker, meta: MetaStore, keys: KeyPair, registry: ConnectionRegistry) -> None:
        self._broker = broker
        self._meta = meta
        self._keys = keys
        self._registry = registry
        self._loop: asyncio.AbstractEventLoop | None = None
        self._listening: set[WsConnection] = set()
        self._waiters: dict[str, list[asyncio.Future[Order]]] = {}
        self._suppressed: set[str] = set()
        self.fill_observers: list[Callable[[OrderUpdate], None]] = []
        self._listeners_changed = threading.Condition()
        self._listener_count = 0

    # ------------------------------------------------------------------ the broker side

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._broker.add_order_listener(self._on_update)

    def detach(self) -> None:
        self._broker.remove_order_listener(self._on_update)
        self._loop = None

    def _on_update(self, update: OrderUpdate) -> None:
        """SimBroker's dispatcher thread: hand the event to the loop (FIFO, so order is kept)."""
        loop = self._loop
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):  # loop closing during shutdown
            loop.call_soon_threadsafe(self._deliver, update)

    def _deliver(self, update: OrderUpdate) -> None:
        order = update.order
        if order.is_final:
            for fut in self._waiters.pop(order.id, []):
                if not fut.done():
                    fut.set_result(order)
        if update.event in (OrderEvent.FILL, OrderEvent.PARTIAL_FILL):
            for observer in self.fill_observers:
                try:
                    observer(update)
                except Exception:
                    log.exception("fill observer failed")
        if update.event == OrderEvent.CANCELED and order.id in self._suppressed:
            self._suppressed.discard(order.id)  # a replace announces this itself, as `replaced`
            return
        extra: JSONDict = {}
        if update.event in (OrderEvent.FILL, OrderEvent.PARTIAL_FILL):
            extra["execution_id"] = str(uuid.uuid4())
            extra["price"] = num(update.price)
            extra["qty"] = num(update.qty)
            extra["position_qty"] = update.extra.get("position_qty")
        self.publish(update.event.value, order, update.timestamp, extra)

    def publish(self, event: str, order: Order, timestamp: Any, extra: JSONDict | None = None) -> None:
        """Send one trade update (event name, the full order, fields) to every listening connection."""
        data: JSONDict = {"event": event, "timestamp": rfc3339(timestamp), **(extra or {})}
        data["order"] = encode_order(order, self._meta.get(order.id))
        frame = json.dumps({"stream": "trade_updates", "data": data}, separators=(",", ":")).encode()
        for conn in list(self._listening):
            conn.send(frame)

    # ------------------------------------------------------------------ waiting for final states

    def watch(self, order_id: str) -> asyncio.Future[Order]:
        """A future resolved when `order_id` is final; register it *before* the action that finalises it."""
        fut: asyncio.Future[Order] = asyncio.get_running_loop().create_future()
        try:
            current = self._broker.get_order(order_id)
        except NotFound:
            fut.cancel()
            return fut
        if current.is_final:
            fut.set_result(current)
        else:
            self._waiters.setdefault(order_id, []).append(fut)
        return fut

    def suppress_cancel_event(self, order_id: str, on: bool = True) -> None:
        if on:
            self._suppressed.add(order_id)
        else:
            self._suppressed.discard(order_id)

    # ------------------------------------------------------------------ the WebSocket side

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        return await self._registry.serve(request, "trading", lambda _c: None, self._on_message, self._on_close)

    def _on_close(self, conn: WsConnection) -> None:
        self._listening.discard(conn)
        self._count_listeners()

    def _count_listeners(self) -> None:
        with self._listeners_changed:
            self._listener_count = len(self._listening)
            self._listeners_changed.notify_all()

    def wait_for_listeners(self, count: int, timeout: float) -> bool:
        """Block (any thread but the loop's) until `count` connections listen to trade_updates.

        Events are not replayed, so a client must be listening before the order it wants to hear about is
        placed; this lets tests and scripts know that without guessing a delay.
        """
        with self._listeners_changed:
            return self._listeners_changed.wait_for(lambda: self._listener_count >= count, timeout)

    @staticmethod
    def _reply(conn: WsConnection, stream: str, data: JSONDict) -> None:
        conn.send(json.dumps({"stream": stream, "data": data}, separators=(",", ":")).encode())

    async def _on_message(self, conn: WsConnection, raw: Any, _binary: bool) -> None:
        try:
            msg = decode_message(raw)
        except ValueError as exc:
            self._reply(conn, "error", {"error_message": f"invalid message: {str(exc)[:80]}"})
            return
        action = msg.get("action")
        raw_data = msg.get("data")
        data: JSONDict = raw_data if isinstance(raw_data, dict) else {}
        if action in ("authenticate", "auth"):
            key = data.get("key_id", msg.get("key"))
            secret = data.get("secret_key", msg.get("secret"))
            if self._keys.matches(key, secret):
                conn.authorized_key = str(key)
                self._reply(conn, "authorization", {"action": "authenticate", "status": "authorized"})
            else:
                self._reply(conn, "authorization", {"action": "authenticate", "status": "unauthorized"})
                conn.close_after_flush(WSCloseCode.POLICY_VIOLATION, b"unauthorized")
        elif action == "listen":
            if conn.authorized_key is None:
                self._reply(conn, "authorization", {"action": "listen", "status": "unauthorized"})
                conn.close_after_flush(WSCloseCode.POLICY_VIOLATION, b"unauthorized")
                return
            streams = data.get("streams")
            wanted = [s for s in streams if isinstance(s, str)] if isinstance(streams, list) else []
            if "trade_updates" in wanted:
                self._listening.add(conn)
            else:
                self._listening.discard(conn)
            self._count_listeners()
            self._reply(conn, "listening", {"streams": ["trade_updates"] if "trade_updates" in wanted else []})
        else:
            self._reply(conn, "error", {"error_message": f"unrecognized action: {repr(action)[:40]}"})
