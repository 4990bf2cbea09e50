"""Crash injection for the crash-safety harness: SIGKILL this process at the N-th broker interaction.

With `ALCHEMISER_CRASH_AT=N` set, the broker is wrapped so that point N — counting "before" and "after"
each request in turn — kills the process outright (no cleanup, no finally blocks), exactly like a power
cut or an OOM kill. Tests then run the bot again and check that it finishes the job without duplicate
orders. Without the variable nothing is wrapped and nothing is counted.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterable
from typing import Literal, ParamSpec, TypeVar

from alchemiser.execution.broker import Broker, OrderListener, QuoteListener
from alchemiser.models import Account, Asset, Clock, Order, OrderRequest, Position, Quote

CRASH_ENV = "ALCHEMISER_CRASH_AT"
COUNT_FILE_ENV = "ALCHEMISER_CRASH_COUNT_FILE"  # where a run that did not crash reports how many points it had

P = ParamSpec("P")
T = TypeVar("T")


class CrashingBroker:
    """A `Broker` delegating to `inner`; every request (a call that reaches the broker) passes two numbered
    kill points, one before and one after; listeners and subscriptions pass none."""

    def __init__(self, inner: Broker, crash_at: int) -> None:
        self._inner = inner
        self._crash_at = crash_at
        self._count = 0
        self._lock = threading.Lock()
        self.name = inner.name

    def _point(self) -> None:
        with self._lock:
            self._count += 1
            hit = self._count == self._crash_at
        if hit:
            os.kill(os.getpid(), signal.SIGKILL)

    def _request(self, call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        self._point()
        result = call(*args, **kwargs)
        self._point()
        return result

    # -- requests: two kill points each ------------------------------------------------------------------
    def get_account(self) -> Account:
        return self._request(self._inner.get_account)

    def get_positions(self) -> list[Position]:
        return self._request(self._inner.get_positions)

    def get_asset(self, symbol: str) -> Asset:
        return self._request(self._inner.get_asset, symbol)

    def get_assets(self, symbols: Iterable[str]) -> dict[str, Asset]:
        return self._request(self._inner.get_assets, symbols)

    def get_clock(self) -> Clock:
        return self._request(self._inner.get_clock)

    def submit_order(self, request: OrderRequest) -> Order:
        return self._request(self._inner.submit_order, request)

    def cancel_order(self, order_id: str) -> None:
        self._request(self._inner.cancel_order, order_id)

    def get_order(self, order_id: str) -> Order:
        return self._request(self._inner.get_order, order_id)

    def get_order_by_client_id(self, client_order_id: str) -> Order | None:
        return self._request(self._inner.get_order_by_client_id, client_order_id)

    def list_orders(self, status: Literal["open", "closed", "all"] = "open") -> list[Order]:
        return self._request(self._inner.list_orders, status)

    def close_position(self, symbol: str) -> Order:
        return self._request(self._inner.close_position, symbol)

    def get_latest_quote(self, symbol: str) -> Quote:
        return self._request(self._inner.get_latest_quote, symbol)

    # -- listeners and subscriptions: passed through -----------------------------------------------------
    def subscribe_quotes(self, symbols: Iterable[str], listener: QuoteListener) -> None:
        self._inner.subscribe_quotes(symbols, listener)

    def unsubscribe_quotes(self, symbols: Iterable[str]) -> None:
        self._inner.unsubscribe_quotes(symbols)

    def add_order_listener(self, listener: OrderListener) -> None:
        self._inner.add_order_listener(listener)

    def remove_order_listener(self, listener: OrderListener) -> None:
        self._inner.remove_order_listener(listener)

    def __enter__(self) -> CrashingBroker:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._inner.close()
        path = os.environ.get(COUNT_FILE_ENV)
        if path:
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(str(self._count))


def maybe_wrap(broker: Broker) -> Broker:
    value = os.environ.get(CRASH_ENV, "").strip()
    return CrashingBroker(broker, int(value)) if value.isdigit() else broker
