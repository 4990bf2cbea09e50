"""SimBroker: the simulated exchange behind the `Broker` protocol, a facade wiring the package's parts.

Orders are validated (`validation`), matched and booked (`matching`) against quotes (`prices`), kept in the
account (`account`, persisted by `store` when there is a `state_path`) and announced asynchronously
(`dispatch`). The package docstring says why the simulator behaves as it does.
"""

from __future__ import annotations

import collections
import datetime as dt
import random
import threading
from collections.abc import Callable, Iterable
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from alchemiser.data.base import MarketData
from alchemiser.data.live import LivePrice
from alchemiser.execution.broker import (
    Broker,
    BrokerLifecycle,
    DuplicateClientOrderId,
    NotFound,
    OrderListener,
    OrderRejected,
    QuoteListener,
)
from alchemiser.execution.sim.account import SimAccount
from alchemiser.execution.sim.clock import market_clock
from alchemiser.execution.sim.config import SimConfig, valid_starting_cash
from alchemiser.execution.sim.dispatch import Dispatcher, Listeners
from alchemiser.execution.sim.matching import (
    ZERO,
    OrderRec,
    Script,
    book_fill,
    buying_power,
    execution_price,
    finish_market_order,
    plan_pieces,
    reserved_qty,
)
from alchemiser.execution.sim.prices import Prices
from alchemiser.execution.sim.store import SimStore
from alchemiser.execution.sim.validation import validate
from alchemiser.models import (
    Account,
    Asset,
    Clock,
    Order,
    OrderEvent,
    OrderRequest,
    OrderStatus,
    OrderType,
    OrderUpdate,
    Position,
    Quote,
    Side,
)


class SimBroker(BrokerLifecycle):
    """The built-in simulated broker (see the package docstring); implements `Broker`."""

    name = "sim"
    label = "simulated broker"

    def __init__(
        self,
        market: MarketData,
        state_path: Path | None = None,
        config: SimConfig | None = None,
        as_of: dt.date | None = None,
        now: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.config = config if config is not None else SimConfig()
        self.calls: collections.Counter[str] = collections.Counter()
        self._now = now if now is not None else (lambda: dt.datetime.now(tz=dt.UTC))
        self._rng = random.Random(self.config.seed)
        self._lock = threading.RLock()
        self._prices = Prices(market, as_of, self.config.spread_bps, self._now)
        self._scripts: dict[str, collections.deque[Script]] = {}
        self._closed = False
        store = SimStore(state_path) if state_path is not None else None
        self._dispatcher = Dispatcher()
        self._listeners = Listeners(self._dispatcher)
        with self._lock:
            self._account = SimAccount(store, self.config.seed, self.config.starting_cash)
            self._recover()

    # ------------------------------------------------------------------ lifecycle

    def _release(self) -> None:
        """Stop the dispatcher and release the state file."""
        self._dispatcher.stop()
        with self._lock:
            self._account.close()

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Block until no event is queued or being delivered (resting orders do not count); False on timeout.

        Not part of `Broker`: for tests, scenarios and benchmarks that need "everything settled" without sleeping.
        """
        return self._dispatcher.wait_idle(timeout)

    def reset(self, starting_cash: Decimal | None = None) -> None:
        """Wipe orders and positions and start a fresh account (new id) with `starting_cash`."""
        with self._lock:
            self._account.wipe()
            self._scripts.clear()
            cash = self.config.starting_cash if starting_cash is None else valid_starting_cash(Decimal(starting_cash))
            self._account.fresh(cash)

    # ------------------------------------------------------------------ prices and quotes

    def set_price(self, symbol: str, mid: Decimal | float | str) -> None:
        """Move a symbol's mid (it need not have market data), push quotes and re-check resting limits."""
        sym = symbol.upper()
        value = Decimal(str(mid))
        if value <= 0:
            raise ValueError(f"price of {sym} must be > 0, got {value}")
        with self._lock:
            self._prices.set(sym, value)
            quote = self._prices.quote(sym)
            resting = [
                r
                for r in self._account.open.values()
                if r.order.symbol == sym and r.order.type == OrderType.LIMIT and r.can_execute()
            ]
            for rec in resting:
                self._schedule_execution(rec, 0.0)
        self._listeners.publish_quote(quote)

    def get_latest_quote(self, symbol: str) -> Quote:
        self._count("get_latest_quote")
        with self._lock:
            return self._prices.quote(symbol.upper())


    def latest_prices(self, symbols: Iterable[str]) -> dict[str, LivePrice]:
        """Each symbol's last price for live decisions: the simulated exchange has no tape, so its last
        trade is its mid (as the sandbox reports it), stamped now. Unknown symbols are left out."""
        self._count("latest_prices")
        out: dict[str, LivePrice] = {}
        with self._lock:
            for sym in sorted({s.upper() for s in symbols}):
                mid = self._prices.mid(sym)
                if mid is not None:
                    out[sym] = LivePrice(sym, float(mid), self._now())
        return out
    def subscribe_quotes(self, symbols: Iterable[str], listener: QuoteListener) -> None:
        """Register `listener` for each symbol and push its current quote right away (on the dispatcher)."""
        self._count("subscribe_quotes")
        syms = [s.upper() for s in symbols]
        with self._lock:
            quotes = [self._prices.quote(s) for s in syms]  # NotFound before anything is registered
        self._listeners.subscribe_quotes(quotes, listener)

    def unsubscribe_quotes(self, symbols: Iterable[str]) -> None:
        self._count("unsubscribe_quotes")
        self._listeners.unsubscribe_quotes([s.upper() for s in symbols])

    @property
    def subscriptions(self) -> set[str]:
        """Symbols with at least one quote listener: lets tests prove nothing was left subscribed."""
        return self._listeners.subscriptions

    # ------------------------------------------------------------------ account, positions, assets, clock

    def get_account(self) -> Account:
        self._count("get_account")
        with self._lock:
            equity = self._account.book.cash
            for sym, pos in self._account.book.positions.items():
                mid = self._prices.mid(sym)
                equity += pos.qty * (mid if mid is not None else pos.avg)
            return Account(self._account.account_id, equity, self._account.book.cash, self._buying_power())

    def get_positions(self) -> list[Position]:
        self._count("get_positions")
        with self._lock:
            return [self._position(sym) for sym in sorted(self._account.book.positions)]

    def _position(self, sym: str) -> Position:
        pos = self._account.book.positions[sym]
        mid = self._prices.mid(sym)
        price = mid if mid is not None else pos.avg
        return Position(sym, pos.qty, pos.avg, price, pos.qty * price)

    def get_asset(self, symbol: str) -> Asset:
        self._count("get_asset")
        sym = symbol.upper()
        with self._lock:
            if self._prices.mid(sym) is None:
                raise NotFound(f'asset "{sym}" not found')
        return Asset(sym, tradable=True, fractionable=self._fractionable(sym))

    def get_assets(self, symbols: Iterable[str]) -> dict[str, Asset]:
        """Several assets in one call (what a rebalance needs at once); unknown symbols are left out."""
        self._count("get_assets")
        out: dict[str, Asset] = {}
        with self._lock:
            for symbol in symbols:
                sym = symbol.upper()
                if self._prices.mid(sym) is not None:
                    out[sym] = Asset(sym, tradable=True, fractionable=self._fractionable(sym))
        return out

    def _fractionable(self, sym: str) -> bool:
        return sym not in self.config.non_fractionable

    def get_clock(self) -> Clock:
        """Open always (`always_open`) or per the XNYS calendar; next open/close always from the calendar."""
        self._count("get_clock")
        return market_clock(self._now(), self.config.always_open)

    def _buying_power(self) -> Decimal:
        return buying_power(self._account.book.cash, self._account.open_orders())

    # ------------------------------------------------------------------ orders

    def script(
        self,
        symbol: str,
        *,
        fill_fraction: float | None = None,
        stall: bool = False,
        reject: str | None = None,
        missing_avg_price: bool = False,
    ) -> None:
        """Force behaviour on the next accepted order of `symbol` (queued: each call scripts one order).

        `fill_fraction` fills that share of the order and leaves the rest resting until cancelled; `stall`
        leaves it unfilled; `reject` refuses the submit with that message; `missing_avg_price` sends the
        FILL event without `filled_avg_price` (as Alpaca sometimes does) while `get_order` has it.
        """
        if fill_fraction is not None and not 0 <= fill_fraction <= 1:
            raise ValueError("fill_fraction must be within [0, 1]")
        with self._lock:
            self._scripts.setdefault(symbol.upper(), collections.deque()).append(
                Script(fill_fraction, stall, reject, missing_avg_price)
            )

    def submit_order(self, request: OrderRequest) -> Order:
        """Validate like Alpaca, store the order as `pending_new` and schedule its ack and execution."""
        self._count("submit_order")
        return self._submit(request, closing=False)

    def _submit(self, request: OrderRequest, *, closing: bool) -> Order:
        sym = request.symbol.upper()
        with self._lock:
            self._check_open()
            client_id = request.client_order_id or self._account.next_id()
            if len(client_id) > 128:
                raise OrderRejected("client_order_id must be no more than 128 characters", 422)
            if client_id in self._account.by_client:
                raise DuplicateClientOrderId("client_order_id must be unique", 422)
            mid = self._prices.mid(sym)
            if mid is None:
                raise OrderRejected(f'asset "{sym}" not found', 422)
            queue = self._scripts.get(sym)
            script = queue[0] if queue else None
            if script is not None and script.reject is not None:
                assert queue is not None
                queue.popleft()
                raise OrderRejected(script.reject, 422)
            open_orders = self._account.open_orders()
            reserve_price = validate(
                request,
                self._prices.quote(sym),
                fractionable=self._fractionable(sym) or closing,
                buying_power=buying_power(self._account.book.cash, open_orders),
                available_qty=self._account.book.held(sym) - reserved_qty(sym, open_orders),
            )
            if queue:
                queue.popleft()
            self._account.seq += 1
            seq = self._account.seq
            now = self._now()
            order = Order(
                id=self._account.order_id(seq),
                client_order_id=client_id,
                symbol=sym,
                side=request.side,
                type=request.type,
                status=OrderStatus.PENDING_NEW,
                qty=request.qty,
                notional=request.notional,
                limit_price=request.limit_price,
                filled_qty=ZERO,
                filled_avg_price=None,
                submitted_at=now,
                updated_at=now,
            )
            rec = OrderRec(order, seq, reserve_price=reserve_price)
            if request.qty is not None:
                rec.full_qty = request.qty
            if script is not None:
                rec.stall = script.stall
                rec.missing_avg = script.missing_avg_price
                rec.fraction = None if script.fill_fraction is None else Decimal(str(script.fill_fraction))
            self._account.add(rec)
            self._dispatcher.schedule(self.config.ack_latency_ms / 1000, lambda: self._ack(order.id))
            return order

    def cancel_order(self, order_id: str) -> None:
        """Request cancellation; the CANCELED event follows after the ack latency (filled quantity stays)."""
        self._count("cancel_order")
        with self._lock:
            self._check_open()
            rec = self._account.orders.get(order_id)
            if rec is None:
                raise NotFound(f"order {order_id} not found")
            if rec.order.is_final:
                raise OrderRejected("order is not cancelable", 422)
            if rec.cancel_requested:
                return
            rec.cancel_requested = True
        self._dispatcher.schedule(self.config.ack_latency_ms / 1000, lambda: self._cancel(order_id))

    def get_order(self, order_id: str) -> Order:
        self._count("get_order")
        with self._lock:
            rec = self._account.orders.get(order_id)
            if rec is None:
                raise NotFound(f"order {order_id} not found")
            return rec.order

    def get_order_by_client_id(self, client_order_id: str) -> Order | None:
        self._count("get_order_by_client_id")
        with self._lock:
            oid = self._account.by_client.get(client_order_id)
            return None if oid is None else self._account.orders[oid].order

    def list_orders(self, status: Literal["open", "closed", "all"] = "open") -> list[Order]:
        """Orders newest first; "open" = not final, "closed" = final."""
        self._count("list_orders")
        with self._lock:
            recs = list(reversed(self._account.orders.values()))
        if status == "open":
            return [r.order for r in recs if not r.order.is_final]
        if status == "closed":
            return [r.order for r in recs if r.order.is_final]
        return [r.order for r in recs]

    def close_position(self, symbol: str) -> Order:
        """Market-sell the whole position, fractional shares included, like Alpaca's DELETE /positions/{symbol}."""
        self._count("close_position")
        sym = symbol.upper()
        with self._lock:
            pos = self._account.book.positions.get(sym)
            if pos is None:
                raise NotFound("position does not exist")
            request = OrderRequest(
                symbol=sym,
                side=Side.SELL,
                type=OrderType.MARKET,
                client_order_id=f"close-{self._account.next_id()}",
                qty=pos.qty,
            )
            return self._submit(request, closing=True)

    def add_order_listener(self, listener: OrderListener) -> None:
        self._count("add_order_listener")
        self._listeners.add_order_listener(listener)

    def remove_order_listener(self, listener: OrderListener) -> None:
        self._count("remove_order_listener")
        self._listeners.remove_order_listener(listener)

    # ------------------------------------------------------------------ the exchange (dispatcher jobs)

    def _ack(self, order_id: str) -> None:
        with self._lock:
            rec = self._account.orders.get(order_id)
            if rec is None or rec.order.status != OrderStatus.PENDING_NEW:
                return
            rec.move(replace(rec.order, status=OrderStatus.NEW, updated_at=self._now()))
            self._account.save(rec)
            events = [OrderUpdate(OrderEvent.NEW, rec.order, rec.order.updated_at)]
            p = self.config.partial_fill_probability
            if p > 0 and self._rng.random() < p:
                rec.n_pieces = self._rng.choice((2, 3))
            if rec.can_execute():
                self._schedule_execution(rec, self._fill_delay())
        self._listeners.emit(events)

    def _fill_delay(self) -> float:
        lo, hi = self.config.fill_latency_ms
        return (self._rng.uniform(lo, hi) if hi > lo else lo) / 1000

    def _schedule_execution(self, rec: OrderRec, delay_s: float) -> None:
        if rec.scheduled:
            return
        rec.scheduled = True
        oid = rec.order.id
        self._dispatcher.schedule(delay_s, lambda: self._execute(oid))

    def _execute(self, order_id: str) -> None:
        """Fill the next piece at the touch if the order can trade now; limits that cannot, rest."""
        with self._lock:
            rec = self._account.orders.get(order_id)
            if rec is None:
                return
            rec.scheduled = False
            if not rec.can_execute():
                return
            o = rec.order
            price = execution_price(o, self._prices.quote(o.symbol), self.config.inside_spread_fills)
            if price is None:
                return  # rests until set_price makes it marketable
            if rec.pieces is None:
                rec.pieces = plan_pieces(rec, price, whole_shares=not self._fractionable(o.symbol))
            if not rec.pieces:
                return
            piece = rec.pieces.pop(0)
            events = [self._fill(rec, piece, price)]
            if rec.pieces and not rec.order.is_final:
                self._schedule_execution(rec, self._fill_delay())
        self._listeners.emit(events)

    def _fill(self, rec: OrderRec, qty: Decimal, price: Decimal) -> OrderUpdate:
        event = book_fill(self._account.book, rec, qty, price, self._now())
        self._account.save(rec, rec.order.symbol)
        return event

    def _cancel(self, order_id: str) -> None:
        with self._lock:
            rec = self._account.orders.get(order_id)
            if rec is None or rec.order.is_final:
                return
            rec.move(replace(rec.order, status=OrderStatus.CANCELED, updated_at=self._now()))
            self._account.save(rec)
            events = [OrderUpdate(OrderEvent.CANCELED, rec.order, rec.order.updated_at)]
        self._listeners.emit(events)

    # ------------------------------------------------------------------ identity and persistence

    def _recover(self) -> None:
        """Finish what a previous process left: open market orders execute now at the current quote
        (synchronously, before any listener exists); open limits are acknowledged and re-checked."""
        for rec in list(self._account.open.values()):
            o = rec.order
            if o.is_final:
                continue
            if o.status == OrderStatus.PENDING_NEW:
                rec.move(replace(o, status=OrderStatus.NEW, updated_at=self._now()))
                o = rec.order
                self._account.save(rec)
            if self._prices.mid(o.symbol) is None:
                continue
            quote = self._prices.quote(o.symbol)
            if o.type == OrderType.LIMIT:
                self._schedule_execution(rec, 0.0)
                continue
            finish_market_order(self._account.book, rec, quote, self._now())
            self._account.save(rec, o.symbol)


if TYPE_CHECKING:

    def _is_a_broker(sim: SimBroker) -> Broker:
        """Never called: mypy proves here that `SimBroker` satisfies the `Broker` protocol exactly."""
        return sim
