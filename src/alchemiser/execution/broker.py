"""The `Broker` protocol: everything execution needs from a broker, and nothing more.

Implementations: `SimBroker` (the built-in simulated exchange, the default) and `AlpacaBroker`. Errors are
raised as `BrokerError` subclasses so the executor can tell a rejection from a transport failure.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Iterable
from typing import Literal, Protocol, Self

from alchemiser.errors import AlchemiserError
from alchemiser.models import Account, Asset, Clock, Order, OrderRequest, OrderUpdate, Position, Quote

OrderListener = Callable[[OrderUpdate], None]
QuoteListener = Callable[[Quote], None]


class BrokerError(AlchemiserError):
    """A broker call failed."""


class OrderRejected(BrokerError):
    """The broker refused an order (invalid, insufficient buying power, more than held…)."""

    def __init__(self, message: str, code: int | None = None) -> None:
        self.code = code
        super().__init__(message)


class DuplicateClientOrderId(OrderRejected):
    """An order with this client_order_id exists already: the step ran before, do not place it again."""


class NotFound(BrokerError):
    """No such order or position."""


class Broker(Protocol):
    name: str

    def get_account(self) -> Account: ...

    def get_positions(self) -> list[Position]: ...

    def get_asset(self, symbol: str) -> Asset: ...

    def get_assets(self, symbols: Iterable[str]) -> dict[str, Asset]:
        """Several assets in one request (unknown symbols are left out)."""
        ...

    def get_clock(self) -> Clock: ...

    def submit_order(self, request: OrderRequest) -> Order:
        """Raises `OrderRejected` (or `DuplicateClientOrderId`) when refused."""
        ...

    def cancel_order(self, order_id: str) -> None:
        """Request cancellation; the final state arrives as an order update (raises `NotFound`)."""
        ...

    def get_order(self, order_id: str) -> Order: ...

    def get_order_by_client_id(self, client_order_id: str) -> Order | None: ...

    def list_orders(self, status: Literal["open", "closed", "all"] = "open") -> list[Order]: ...

    def close_position(self, symbol: str) -> Order:
        """Sell the whole position (fractional shares included) with the broker's own call."""
        ...

    def get_latest_quote(self, symbol: str) -> Quote: ...

    def subscribe_quotes(self, symbols: Iterable[str], listener: QuoteListener) -> None: ...

    def unsubscribe_quotes(self, symbols: Iterable[str]) -> None: ...

    def add_order_listener(self, listener: OrderListener) -> None: ...

    def remove_order_listener(self, listener: OrderListener) -> None: ...

    def close(self) -> None:
        """Stop the broker's threads and release its connections and state.

        Idempotent (a second call does nothing) and final: afterwards orders are refused with
        `OrderRejected`. `with broker:` closes on the way out. Both brokers get this from `BrokerLifecycle`.
        """
        ...

    def __enter__(self) -> Self: ...

    def __exit__(self, *_: object) -> None: ...


class BrokerLifecycle:
    """The lifecycle both brokers share: counted calls, one idempotent and final `close()`, and `with`.

    A broker sets `calls`, `_lock` and `_closed = False` in `__init__`, names itself in `label`, and
    releases what it holds in `_release()`, which runs once, outside the lock.
    """

    label = "broker"
    calls: collections.Counter[str]
    _lock: threading.Lock | threading.RLock
    _closed: bool

    def close(self) -> None:
        """Release the broker's threads, connections and state; safe to call more than once."""
        self._count("close")
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._release()

    def _release(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _count(self, method: str) -> None:
        """Count a public call (benchmarks compare call budgets); under the lock as callers may be threads."""
        with self._lock:
            self.calls[method] += 1

    def _check_open(self) -> None:
        if self._closed:
            raise OrderRejected(f"the {self.label} is closed")
