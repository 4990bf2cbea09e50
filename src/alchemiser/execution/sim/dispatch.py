"""Event delivery of the simulated exchange: one dispatcher thread (latency scheduling) and the listeners.

Every acknowledgement, fill, cancellation and quote reaches listeners from the one `Dispatcher` thread, in
due-time order, so listeners see one sequence of events just as from Alpaca's stream.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable

from alchemiser.execution.broker import OrderListener, QuoteListener
from alchemiser.models import OrderUpdate, Quote

log = logging.getLogger(__name__)


class Dispatcher:
    """One thread that runs jobs in due-time order, so every event reaches listeners in one sequence.

    Jobs wait on a `Condition` with a timeout until due (no sleeps); `wait_idle` lets callers block until
    nothing is queued or running, which is how tests and benchmarks wait without guessing durations.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stopped = False
        self._running = False
        self._thread = threading.Thread(target=self._run, name="sim-broker-dispatcher", daemon=True)
        self._thread.start()

    def schedule(self, delay_s: float, job: Callable[[], None]) -> None:
        with self._cond:
            if self._stopped:
                return
            heapq.heappush(self._heap, (time.monotonic() + max(delay_s, 0.0), next(self._seq), job))
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._stopped:
                        return
                    if self._heap:
                        wait = self._heap[0][0] - time.monotonic()
                        if wait <= 0:
                            break
                        self._cond.wait(wait)
                    else:
                        self._cond.wait()
                _, _, job = heapq.heappop(self._heap)
                self._running = True
            try:
                job()
            except Exception:  # a broken job must not kill the exchange
                log.exception("sim broker job failed")
            finally:
                with self._cond:
                    self._running = False
                    self._cond.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._stopped or (not self._heap and not self._running), timeout)

    @property
    def on_thread(self) -> bool:
        return threading.current_thread() is self._thread

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._heap.clear()
            self._cond.notify_all()
        if not self.on_thread:
            self._thread.join(timeout=5)


class Listeners:
    """Who hears the exchange: order listeners and per-symbol quote listeners, delivered via a `Dispatcher`.

    A failing listener is logged and never stops delivery to the others.
    """

    def __init__(self, dispatcher: Dispatcher) -> None:
        self._dispatcher = dispatcher
        self._lock = threading.Lock()
        self._order: list[OrderListener] = []
        self._quote: dict[str, list[QuoteListener]] = {}

    def add_order_listener(self, listener: OrderListener) -> None:
        with self._lock:
            self._order.append(listener)

    def remove_order_listener(self, listener: OrderListener) -> None:
        with self._lock:
            self._order = [existing for existing in self._order if existing is not listener]

    def emit(self, events: list[OrderUpdate]) -> None:
        """Deliver order events now, to every order listener (called on the dispatcher thread)."""
        with self._lock:
            listeners = list(self._order)
        for event in events:
            for listener in listeners:
                try:
                    listener(event)
                except Exception:
                    log.exception("order listener failed")

    def subscribe_quotes(self, quotes: list[Quote], listener: QuoteListener) -> None:
        """Register `listener` for each quote's symbol and push that quote to it."""
        with self._lock:
            for quote in quotes:
                registered = self._quote.setdefault(quote.symbol, [])
                if not any(existing is listener for existing in registered):
                    registered.append(listener)
        for quote in quotes:
            self._push(listener, quote)

    def unsubscribe_quotes(self, symbols: list[str]) -> None:
        with self._lock:
            for sym in symbols:
                self._quote.pop(sym, None)

    @property
    def subscriptions(self) -> set[str]:
        with self._lock:
            return {s for s, ls in self._quote.items() if ls}

    def publish_quote(self, quote: Quote) -> None:
        """Push a new quote to the symbol's current listeners."""
        with self._lock:
            listeners = list(self._quote.get(quote.symbol, ()))
        for listener in listeners:
            self._push(listener, quote)

    def _push(self, listener: QuoteListener, quote: Quote) -> None:
        def job() -> None:
            with self._lock:
                still = any(existing is listener for existing in self._quote.get(quote.symbol, ()))
            if still:
                try:
                    listener(quote)
                except Exception:
                    log.exception("quote listener failed")

        self._dispatcher.schedule(0.0, job)
