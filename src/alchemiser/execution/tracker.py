"""Waits for orders to reach a final state by listening to order updates, with polling as a safety net.

Events may arrive before `submit_order` has even returned, out of order, or not at all (a dropped stream).
The tracker keeps the most advanced state seen per order id (`Order.can_become`), wakes waiters on every
update, and only polls the broker for orders that stay silent longer than the poll interval. There is no
fixed sleep anywhere.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

from alchemiser.execution.broker import Broker, BrokerError
from alchemiser.models import Order, OrderStatus, OrderUpdate

UpdateSink = Callable[[OrderUpdate], None]


class OrderTracker:
    def __init__(self, broker: Broker, poll_interval_s: float = 2.0, sink: UpdateSink | None = None) -> None:
        self.broker = broker
        self.poll_interval_s = poll_interval_s
        self.sink = sink
        self._cond = threading.Condition()
        self._latest: dict[str, Order] = {}
        broker.add_order_listener(self._on_update)

    def close(self) -> None:
        self.broker.remove_order_listener(self._on_update)

    def __enter__(self) -> OrderTracker:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _on_update(self, update: OrderUpdate) -> None:
        self.observe(update.order)
        if self.sink is not None:
            self.sink(update)

    def observe(self, order: Order) -> Order:
        """Remember `order` unless a more advanced state is already known; returns the state kept."""
        with self._cond:
            known = self._latest.get(order.id)
            if known is None or known.can_become(order):
                self._latest[order.id] = order
                self._cond.notify_all()
                return order
            return known

    def latest(self, order_id: str) -> Order | None:
        with self._cond:
            return self._latest.get(order_id)

    def wait_final(self, orders: Iterable[Order], timeout_s: float) -> dict[str, Order]:
        """Latest state of each order once all are final or `timeout_s` has passed (whichever first)."""
        ids = [self.observe(order).id for order in orders]
        deadline = time.monotonic() + timeout_s
        next_poll = time.monotonic() + self.poll_interval_s
        while True:
            with self._cond:
                pending = [i for i in ids if not self._latest[i].is_final]
                if not pending:
                    break
                now = time.monotonic()
                if now >= deadline:
                    break
                if now < next_poll:
                    self._cond.wait(min(deadline, next_poll) - now)
                    continue
            self._poll(pending)
            next_poll = time.monotonic() + self.poll_interval_s
        self._reread_missing_prices(ids)
        with self._cond:
            return {i: self._latest[i] for i in ids}

    def _poll(self, order_ids: list[str]) -> None:
        for order_id in order_ids:
            try:
                self.observe(self.broker.get_order(order_id))
            except BrokerError:
                continue  # the stream or the next poll will tell us

    def _reread_missing_prices(self, order_ids: list[str]) -> None:
        """A `filled` order without an average price is re-read, not treated as a failure."""
        for order_id in order_ids:
            order = self.latest(order_id)
            if order is not None and order.status == OrderStatus.FILLED and order.filled_avg_price is None:
                try:
                    fresh = self.broker.get_order(order_id)
                except BrokerError:
                    continue
                with self._cond:
                    self._latest[order_id] = fresh
