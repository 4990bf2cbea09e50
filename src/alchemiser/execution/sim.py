"""SimBroker: an in-process simulated exchange and cash account behind the `Broker` protocol.

Why it exists: the bot must run, be tested and be benchmarked offline, and the executor's hard parts
(asynchronous acks and fills, partial fills, stalls, rejections, missing average prices) must be
reproducible on demand. So this broker behaves like Alpaca where it matters to the executor:

* orders are acknowledged and filled **asynchronously**, as `OrderUpdate` events delivered on one
  background dispatcher thread, in order, after configurable latencies (a time-ordered heap and a
  `threading.Condition`; nothing sleeps);
* prices come from a `MarketData` source (the last close on or before `as_of`) with a symmetric
  bid/ask spread; market orders fill at the touch, limits rest until a price move makes them marketable;
* validation mirrors Alpaca's messages and HTTP codes (422 invalid, 403 buying power / quantity);
* with a `state_path` the account lives in SQLite (WAL), so consecutive processes share one account.

Randomness comes only from `random.Random(config.seed)`, so a run can be replayed exactly.
"""

from __future__ import annotations

import collections
import datetime as dt
import heapq
import itertools
import logging
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from alchemiser import market_calendar
from alchemiser.data.base import MarketData
from alchemiser.data.live import LivePrice
from alchemiser.errors import DataError, cannot_open
from alchemiser.execution.broker import (
    Broker,
    BrokerError,
    DuplicateClientOrderId,
    NotFound,
    OrderListener,
    OrderRejected,
    QuoteListener,
)
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

log = logging.getLogger(__name__)

_NANO = Decimal("1e-9")
_CENT = Decimal("0.01")
_ZERO = Decimal(0)
_QUOTE_SIZE = Decimal(100)


def _floor9(x: Decimal) -> Decimal:
    """Round a quantity down to Alpaca's 9 decimals: never buy more than the dollars allow."""
    return x.quantize(_NANO, rounding=ROUND_DOWN)


def _floor_whole(x: Decimal) -> Decimal:
    return x.quantize(Decimal(1), rounding=ROUND_DOWN)


def _tidy(x: Decimal) -> Decimal:
    """Drop trailing zeros (3.000000000 → 3) so quantities read like Alpaca's, without exponent notation."""
    return x.quantize(Decimal(1)) if x == x.to_integral_value() else x.normalize()


def _cents(x: Decimal) -> Decimal:
    return x.quantize(_CENT, rounding=ROUND_HALF_UP)


def _dec(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _txt(x: Decimal | None) -> str | None:
    return None if x is None else str(x)


def _open_state(path: Path) -> sqlite3.Connection:
    """The simulated account's SQLite file; a home that cannot hold it is a clear error, not a traceback."""
    db: sqlite3.Connection | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(_SCHEMA)
    except (OSError, sqlite3.OperationalError) as exc:
        if db is not None:
            db.close()
        raise BrokerError(cannot_open("the simulated account", path, exc)) from None
    return db


MAX_STARTING_CASH = Decimal(10) ** 12


def valid_starting_cash(value: Decimal) -> Decimal:
    """A simulated account's opening cash: finite, positive and at most $1e12.

    NaN, infinity, zero, negative or absurd amounts would be accepted by SQLite and the arithmetic, and then
    break every later `status` or `trade` far from the cause; refusing them here names the cause instead.
    """
    if not value.is_finite() or value < _CENT or value > MAX_STARTING_CASH:
        raise ValueError(f"must be a finite amount of at least 0.01 and at most {MAX_STARTING_CASH:,}")
    return value


class SimConfig(BaseModel):
    """How the simulated exchange behaves; embedded in the app config, so it validates its own values."""

    model_config = ConfigDict(extra="forbid")

    starting_cash: Decimal = Field(
        default=Decimal(100000), description="cash of a fresh (or reset) simulated account, in dollars"
    )
    spread_bps: float = Field(default=5.0, ge=0, description="full bid-ask spread in bps of the mid")
    ack_latency_ms: float = Field(default=0.0, ge=0, description="how long an order takes to be acknowledged")
    fill_latency_ms: tuple[float, float] = Field(
        default=(0.0, 0.0), description="fills arrive this long after acknowledgement (uniform between the two)"
    )
    partial_fill_probability: float = Field(
        default=0.0, ge=0, le=1, description="chance that an order fills in several pieces"
    )
    seed: int = Field(default=7, description="seed of the simulated exchange's randomness (latency, partial fills)")
    non_fractionable: list[str] = Field(
        default_factory=list, description="symbols traded in whole shares only, e.g. [\"BRK.A\"]"
    )
    always_open: bool = Field(default=True, description="the market is always open (else it follows NYSE hours)")
    inside_spread_fills: bool = Field(
        default=True,
        description="a limit at or beyond the mid (inside the spread) meets hidden liquidity and fills at its price",
    )

    @field_validator("starting_cash")
    @classmethod
    def _sane_cash(cls, v: Decimal) -> Decimal:
        return valid_starting_cash(v)

    @field_validator("non_fractionable")
    @classmethod
    def _upper(cls, v: list[str]) -> list[str]:
        return [s.upper() for s in v]

    @model_validator(mode="after")
    def _latency_range(self) -> SimConfig:
        lo, hi = self.fill_latency_ms
        if lo < 0 or hi < lo:
            raise ValueError("fill_latency_ms must be (low, high) with 0 <= low <= high")
        return self


@dataclass
class _Script:
    """Behaviour forced on the next order of a symbol (see `SimBroker.script`)."""

    fill_fraction: float | None = None
    stall: bool = False
    reject: str | None = None
    missing_avg_price: bool = False


@dataclass
class _Rec:
    """An order plus the exchange-side bookkeeping that Alpaca keeps but does not show."""

    order: Order
    seq: int
    filled_cost: Decimal = _ZERO
    reserve_price: Decimal | None = None  # ask (buy) / bid (notional sell) at submit, to hold buying power
    stall: bool = False
    fraction: Decimal | None = None
    missing_avg: bool = False
    n_pieces: int = 1
    pieces: list[Decimal] | None = None
    full_qty: Decimal | None = None  # qty that completes the order (known for notional at first execution)
    cancel_requested: bool = False
    scheduled: bool = False


@dataclass
class _Pos:
    qty: Decimal
    avg: Decimal


class _Dispatcher:
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


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS positions (symbol TEXT PRIMARY KEY, qty TEXT NOT NULL, avg_entry_price TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    client_order_id TEXT NOT NULL UNIQUE,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    type TEXT NOT NULL,
    status TEXT NOT NULL,
    qty TEXT,
    notional TEXT,
    limit_price TEXT,
    filled_qty TEXT NOT NULL,
    filled_avg_price TEXT,
    filled_cost TEXT NOT NULL,
    reserve_price TEXT,
    submitted_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
"""


class SimBroker:
    """The built-in simulated broker (see the module docstring); implements `Broker`."""

    name = "sim"

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
        self._market = market
        self._as_of = as_of
        self._now = now if now is not None else (lambda: dt.datetime.now(tz=dt.UTC))
        self._rng = random.Random(self.config.seed)
        # Account ids come from their own stream so whether a state file exists never shifts fill draws.
        self._id_rng = random.Random(f"sim-account:{self.config.seed}")
        self._lock = threading.RLock()
        self._mids: dict[str, Decimal | None] = {}
        self._orders: dict[str, _Rec] = {}  # in submission order (seq ascending)
        self._open: dict[str, _Rec] = {}  # the non-final subset: reservations stay O(open), not O(history)
        self._by_client: dict[str, str] = {}
        self._positions: dict[str, _Pos] = {}
        self._scripts: dict[str, collections.deque[_Script]] = {}
        self._order_listeners: list[OrderListener] = []
        self._quote_listeners: dict[str, list[QuoteListener]] = {}
        self._cash = self.config.starting_cash
        self._seq = 0
        self._account_id = ""
        self._closed = False
        self._db: sqlite3.Connection | None = None
        if state_path is not None:
            self._db = _open_state(state_path)
        self._dispatcher = _Dispatcher()
        with self._lock:
            if not self._load():
                self._fresh_account(self.config.starting_cash)
            self._recover()

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Stop the dispatcher and release the state file; safe to call more than once."""
        self._count("close")
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._dispatcher.stop()
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def __enter__(self) -> SimBroker:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Block until no event is queued or being delivered (resting orders do not count); False on timeout.

        Not part of `Broker`: for tests, scenarios and benchmarks that need "everything settled" without sleeping.
        """
        return self._dispatcher.wait_idle(timeout)

    def reset(self, starting_cash: Decimal | None = None) -> None:
        """Wipe orders and positions and start a fresh account (new id) with `starting_cash`."""
        with self._lock:
            self._orders.clear()
            self._open.clear()
            self._by_client.clear()
            self._positions.clear()
            self._scripts.clear()
            if self._db is not None:
                with self._db:
                    self._db.execute("BEGIN")
                    self._db.execute("DELETE FROM orders")
                    self._db.execute("DELETE FROM positions")
                    self._db.execute("DELETE FROM meta")
            cash = self.config.starting_cash if starting_cash is None else valid_starting_cash(Decimal(starting_cash))
            self._fresh_account(cash)

    # ------------------------------------------------------------------ prices and quotes

    def set_price(self, symbol: str, mid: Decimal | float | str) -> None:
        """Move a symbol's mid (it need not have market data), push quotes and re-check resting limits."""
        sym = symbol.upper()
        value = Decimal(str(mid))
        if value <= 0:
            raise ValueError(f"price of {sym} must be > 0, got {value}")
        with self._lock:
            self._mids[sym] = value
            quote = self._quote(sym)
            listeners = list(self._quote_listeners.get(sym, ()))
            resting = [
                r
                for r in self._open.values()
                if r.order.symbol == sym and r.order.type == OrderType.LIMIT and self._can_execute(r)
            ]
            for rec in resting:
                self._schedule_execution(rec, 0.0)
        for listener in listeners:
            self._dispatcher.schedule(0.0, self._quote_job(sym, listener, quote))

    def _mid(self, sym: str) -> Decimal | None:
        if sym not in self._mids:
            try:
                frame = self._market.bars(sym, end=self._as_of)
            except DataError:
                frame = None
            if frame is None or len(frame) == 0:
                self._mids[sym] = None
            else:
                close = float(frame["close"].iloc[-1])
                self._mids[sym] = Decimal(repr(close)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
        return self._mids[sym]

    def _quote(self, sym: str) -> Quote:
        mid = self._mid(sym)
        if mid is None:
            raise NotFound(f'asset "{sym}" not found')
        half = Decimal(str(self.config.spread_bps)) / Decimal(20000)
        bid = max(_cents(mid * (1 - half)), _CENT)
        ask = max(_cents(mid * (1 + half)), bid + _CENT)
        return Quote(sym, bid, ask, self._now(), _QUOTE_SIZE, _QUOTE_SIZE)

    def get_latest_quote(self, symbol: str) -> Quote:
        self._count("get_latest_quote")
        with self._lock:
            return self._quote(symbol.upper())

    def latest_prices(self, symbols: Iterable[str]) -> dict[str, LivePrice]:
        """Each symbol's last price for live decisions: the simulated exchange has no tape, so its last
        trade is its mid (as the sandbox reports it), stamped now. Unknown symbols are left out."""
        self._count("latest_prices")
        out: dict[str, LivePrice] = {}
        with self._lock:
            for sym in sorted({s.upper() for s in symbols}):
                mid = self._mid(sym)
                if mid is not None:
                    out[sym] = LivePrice(sym, float(mid), self._now())
        return out

    def subscribe_quotes(self, symbols: Iterable[str], listener: QuoteListener) -> None:
        """Register `listener` for each symbol and push its current quote right away (on the dispatcher)."""
        self._count("subscribe_quotes")
        syms = [s.upper() for s in symbols]
        with self._lock:
            quotes = [self._quote(s) for s in syms]  # NotFound before anything is registered
            for sym in syms:
                registered = self._quote_listeners.setdefault(sym, [])
                if not any(existing is listener for existing in registered):
                    registered.append(listener)
        for sym, quote in zip(syms, quotes, strict=True):
            self._dispatcher.schedule(0.0, self._quote_job(sym, listener, quote))

    def unsubscribe_quotes(self, symbols: Iterable[str]) -> None:
        self._count("unsubscribe_quotes")
        with self._lock:
            for sym in symbols:
                self._quote_listeners.pop(sym.upper(), None)

    @property
    def subscriptions(self) -> set[str]:
        """Symbols with at least one quote listener: lets tests prove nothing was left subscribed."""
        with self._lock:
            return {s for s, ls in self._quote_listeners.items() if ls}

    def _quote_job(self, sym: str, listener: QuoteListener, quote: Quote) -> Callable[[], None]:
        def job() -> None:
            with self._lock:
                still = any(existing is listener for existing in self._quote_listeners.get(sym, ()))
            if still:
                try:
                    listener(quote)
                except Exception:
                    log.exception("quote listener failed")

        return job

    # ------------------------------------------------------------------ account, positions, assets, clock

    def get_account(self) -> Account:
        self._count("get_account")
        with self._lock:
            equity = self._cash
            for sym, pos in self._positions.items():
                mid = self._mid(sym)
                equity += pos.qty * (mid if mid is not None else pos.avg)
            return Account(self._account_id, equity, self._cash, self._buying_power())

    def get_positions(self) -> list[Position]:
        self._count("get_positions")
        with self._lock:
            return [self._position(sym) for sym in sorted(self._positions)]

    def _position(self, sym: str) -> Position:
        pos = self._positions[sym]
        mid = self._mid(sym)
        price = mid if mid is not None else pos.avg
        return Position(sym, pos.qty, pos.avg, price, pos.qty * price)

    def get_asset(self, symbol: str) -> Asset:
        self._count("get_asset")
        sym = symbol.upper()
        with self._lock:
            if self._mid(sym) is None:
                raise NotFound(f'asset "{sym}" not found')
        return Asset(sym, tradable=True, fractionable=self._fractionable(sym))

    def get_assets(self, symbols: Iterable[str]) -> dict[str, Asset]:
        """Several assets in one call (what a rebalance needs at once); unknown symbols are left out."""
        self._count("get_assets")
        out: dict[str, Asset] = {}
        with self._lock:
            for symbol in symbols:
                sym = symbol.upper()
                if self._mid(sym) is not None:
                    out[sym] = Asset(sym, tradable=True, fractionable=self._fractionable(sym))
        return out

    def _fractionable(self, sym: str) -> bool:
        return sym not in self.config.non_fractionable

    def get_clock(self) -> Clock:
        """Open always (`always_open`) or per the XNYS calendar; next open/close always from the calendar."""
        self._count("get_clock")
        now = self._now()
        day = now.astimezone(market_calendar.NY).date()
        is_open = False
        if market_calendar.is_session(day) and now < market_calendar.session_close(day):
            opens = market_calendar.session_open(day)
            if now < opens:
                next_open, next_close = opens, market_calendar.session_close(day)
            else:
                is_open = True
                next_close = market_calendar.session_close(day)
                next_open = market_calendar.session_open(market_calendar.next_session(day))
        else:
            nxt = market_calendar.next_session(day)
            next_open, next_close = market_calendar.session_open(nxt), market_calendar.session_close(nxt)
        return Clock(now, True if self.config.always_open else is_open, next_open, next_close)

    def _buying_power(self) -> Decimal:
        return self._cash - sum((self._reserved_cash(r) for r in self._open.values()), _ZERO)

    def _reserved_cash(self, rec: _Rec) -> Decimal:
        """Cash an open buy holds back, like Alpaca's buying-power hold (no margin in the simulator)."""
        o = rec.order
        if o.side != Side.BUY or o.is_final:
            return _ZERO
        if o.notional is not None:
            return max(o.notional - rec.filled_cost, _ZERO)
        assert o.qty is not None
        price = o.limit_price if o.limit_price is not None else rec.reserve_price
        return max(o.qty - o.filled_qty, _ZERO) * (price or _ZERO)

    def _reserved_qty(self, sym: str) -> Decimal:
        """Shares that open sells of `sym` already claim, so two sells cannot sell the same share."""
        total = _ZERO
        for rec in self._open.values():
            o = rec.order
            if o.symbol != sym or o.side != Side.SELL or o.is_final:
                continue
            if o.qty is not None:
                want = o.qty
            elif rec.full_qty is not None:
                want = rec.full_qty
            else:
                assert o.notional is not None and rec.reserve_price is not None
                want = _floor9(o.notional / rec.reserve_price)
            total += max(want - o.filled_qty, _ZERO)
        return total

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
                _Script(fill_fraction, stall, reject, missing_avg_price)
            )

    def submit_order(self, request: OrderRequest) -> Order:
        """Validate like Alpaca, store the order as `pending_new` and schedule its ack and execution."""
        self._count("submit_order")
        return self._submit(request, closing=False)

    def _submit(self, request: OrderRequest, *, closing: bool) -> Order:
        sym = request.symbol.upper()
        with self._lock:
            self._check_open()
            client_id = request.client_order_id or self._next_id()
            if len(client_id) > 128:
                raise OrderRejected("client_order_id must be no more than 128 characters", 422)
            if client_id in self._by_client:
                raise DuplicateClientOrderId("client_order_id must be unique", 422)
            mid = self._mid(sym)
            if mid is None:
                raise OrderRejected(f'asset "{sym}" not found', 422)
            queue = self._scripts.get(sym)
            script = queue[0] if queue else None
            if script is not None and script.reject is not None:
                assert queue is not None
                queue.popleft()
                raise OrderRejected(script.reject, 422)
            quote = self._quote(sym)
            reserve_price = self._validate(request, sym, quote, closing=closing)
            if queue:
                queue.popleft()
            self._seq += 1
            now = self._now()
            order = Order(
                id=self._order_id(self._seq),
                client_order_id=client_id,
                symbol=sym,
                side=request.side,
                type=request.type,
                status=OrderStatus.PENDING_NEW,
                qty=request.qty,
                notional=request.notional,
                limit_price=request.limit_price,
                filled_qty=_ZERO,
                filled_avg_price=None,
                submitted_at=now,
                updated_at=now,
            )
            rec = _Rec(order, self._seq, reserve_price=reserve_price)
            if request.qty is not None:
                rec.full_qty = request.qty
            if script is not None:
                rec.stall = script.stall
                rec.missing_avg = script.missing_avg_price
                rec.fraction = None if script.fill_fraction is None else Decimal(str(script.fill_fraction))
            self._orders[order.id] = rec
            self._by_client[client_id] = order.id
            self._save(rec)
            self._dispatcher.schedule(self.config.ack_latency_ms / 1000, lambda: self._ack(order.id))
            return order

    def _validate(self, req: OrderRequest, sym: str, quote: Quote, *, closing: bool) -> Decimal | None:
        """Alpaca-like checks; returns the price that holds buying power (or sizes a notional sell)."""
        if req.time_in_force != "day":
            raise OrderRejected(f'time_in_force "{req.time_in_force}" is not supported by the simulator', 422)
        if req.qty is not None and req.qty <= 0:
            raise OrderRejected("qty must be > 0", 422)
        fractionable = self._fractionable(sym) or closing
        if not fractionable and (req.notional is not None or (req.qty is not None and req.qty % 1 != 0)):
            raise OrderRejected(f'asset "{sym}" is not fractionable', 422)
        if req.notional is not None:
            if req.type != OrderType.MARKET:
                raise OrderRejected("notional orders are only supported for market orders", 422)
            if req.notional < 1:
                raise OrderRejected("cost basis must be >= 1", 422)
        if req.limit_price is not None:
            if req.limit_price <= 0:
                raise OrderRejected("limit price must be > 0", 422)
            tick = _CENT if req.limit_price >= 1 else Decimal("0.0001")
            if req.limit_price % tick != 0:
                raise OrderRejected(
                    f"invalid limit_price {req.limit_price}. sub-penny increment does not fulfill minimum "
                    "pricing criteria",
                    422,
                )
        if req.side == Side.BUY:
            if req.notional is not None:
                cost = req.notional
            else:
                assert req.qty is not None
                cost = req.qty * (req.limit_price if req.limit_price is not None else quote.ask)
            if cost > self._buying_power():
                raise OrderRejected("insufficient buying power", 403)
            return quote.ask if req.limit_price is None and req.notional is None else None
        held = self._positions[sym].qty if sym in self._positions else _ZERO
        available = held - self._reserved_qty(sym)
        wanted = req.qty if req.qty is not None else _floor9((req.notional or _ZERO) / quote.bid)
        if wanted > available:
            raise OrderRejected(
                f"insufficient qty available for order (requested: {wanted}, available: {available})", 403
            )
        return quote.bid if req.notional is not None else None

    def cancel_order(self, order_id: str) -> None:
        """Request cancellation; the CANCELED event follows after the ack latency (filled quantity stays)."""
        self._count("cancel_order")
        with self._lock:
            self._check_open()
            rec = self._orders.get(order_id)
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
            rec = self._orders.get(order_id)
            if rec is None:
                raise NotFound(f"order {order_id} not found")
            return rec.order

    def get_order_by_client_id(self, client_order_id: str) -> Order | None:
        self._count("get_order_by_client_id")
        with self._lock:
            oid = self._by_client.get(client_order_id)
            return None if oid is None else self._orders[oid].order

    def list_orders(self, status: Literal["open", "closed", "all"] = "open") -> list[Order]:
        """Orders newest first; "open" = not final, "closed" = final."""
        self._count("list_orders")
        with self._lock:
            recs = list(reversed(self._orders.values()))
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
            pos = self._positions.get(sym)
            if pos is None:
                raise NotFound("position does not exist")
            request = OrderRequest(
                symbol=sym,
                side=Side.SELL,
                type=OrderType.MARKET,
                client_order_id=f"close-{self._next_id()}",
                qty=pos.qty,
            )
            return self._submit(request, closing=True)

    def add_order_listener(self, listener: OrderListener) -> None:
        self._count("add_order_listener")
        with self._lock:
            self._order_listeners.append(listener)

    def remove_order_listener(self, listener: OrderListener) -> None:
        self._count("remove_order_listener")
        with self._lock:
            self._order_listeners = [existing for existing in self._order_listeners if existing is not listener]

    # ------------------------------------------------------------------ the exchange (dispatcher jobs)

    def _ack(self, order_id: str) -> None:
        with self._lock:
            rec = self._orders.get(order_id)
            if rec is None or rec.order.status != OrderStatus.PENDING_NEW:
                return
            rec.order = replace(rec.order, status=OrderStatus.NEW, updated_at=self._now())
            self._save(rec)
            events = [OrderUpdate(OrderEvent.NEW, rec.order, rec.order.updated_at)]
            p = self.config.partial_fill_probability
            if p > 0 and self._rng.random() < p:
                rec.n_pieces = self._rng.choice((2, 3))
            if self._can_execute(rec):
                self._schedule_execution(rec, self._fill_delay())
        self._emit(events)

    def _fill_delay(self) -> float:
        lo, hi = self.config.fill_latency_ms
        return (self._rng.uniform(lo, hi) if hi > lo else lo) / 1000

    def _can_execute(self, rec: _Rec) -> bool:
        """Whether the order may still trade (ignores the price: a limit may still have to wait)."""
        o = rec.order
        if o.is_final or o.status == OrderStatus.PENDING_NEW or rec.cancel_requested or rec.stall:
            return False
        return not (rec.fraction is not None and rec.pieces is not None and not rec.pieces)

    def _schedule_execution(self, rec: _Rec, delay_s: float) -> None:
        if rec.scheduled:
            return
        rec.scheduled = True
        oid = rec.order.id
        self._dispatcher.schedule(delay_s, lambda: self._execute(oid))

    def _execute(self, order_id: str) -> None:
        """Fill the next piece at the touch if the order can trade now; limits that cannot, rest."""
        with self._lock:
            rec = self._orders.get(order_id)
            if rec is None:
                return
            rec.scheduled = False
            if not self._can_execute(rec):
                return
            o = rec.order
            quote = self._quote(o.symbol)
            price = quote.ask if o.side == Side.BUY else quote.bid
            if o.limit_price is not None:
                buy = o.side == Side.BUY
                marketable = o.limit_price >= quote.ask if buy else o.limit_price <= quote.bid
                inside = self.config.inside_spread_fills and (
                    o.limit_price >= quote.mid if buy else o.limit_price <= quote.mid
                )
                if not (marketable or inside):
                    return  # rests until set_price makes it marketable
                if not marketable:
                    price = o.limit_price  # met by liquidity inside the spread, at the limit
            if rec.pieces is None:
                rec.pieces = self._plan(rec, price)
            if not rec.pieces:
                return
            piece = rec.pieces.pop(0)
            events = [self._fill(rec, piece, price)]
            if rec.pieces and not rec.order.is_final:
                self._schedule_execution(rec, self._fill_delay())
        self._emit(events)

    def _plan(self, rec: _Rec, price: Decimal) -> list[Decimal]:
        """Split what this order will fill (all, or its scripted fraction) into 1–3 executions."""
        o = rec.order
        whole = not self._fractionable(o.symbol)
        if rec.full_qty is None:
            assert o.notional is not None
            rec.full_qty = _floor9(o.notional / price)
        if rec.fraction is None:
            target = rec.full_qty
        elif o.notional is not None:
            target = _floor9(o.notional * rec.fraction / price)
        else:
            target = (_floor_whole if whole else _floor9)(rec.full_qty * rec.fraction)
        remaining = max(target - o.filled_qty, _ZERO)
        n = rec.n_pieces
        if n == 1:
            return [_tidy(remaining)] if remaining > 0 else []
        each = (_floor_whole if whole else _floor9)(remaining / n)
        pieces = [each] * (n - 1) + [remaining - each * (n - 1)]
        return [_tidy(p) for p in pieces if p > 0]

    def _fill(self, rec: _Rec, qty: Decimal, price: Decimal) -> OrderUpdate:
        """Book one execution into cash, the position and the order; return its event."""
        o = rec.order
        sym = o.symbol
        pos = self._positions.get(sym)
        if o.side == Side.SELL:
            qty = min(qty, pos.qty if pos is not None else _ZERO)
        value = qty * price
        if o.side == Side.BUY:
            self._cash -= value
            if pos is None:
                self._positions[sym] = _Pos(qty, price)
            else:
                new_qty = pos.qty + qty
                pos.avg = (pos.qty * pos.avg + value) / new_qty
                pos.qty = new_qty
        else:
            self._cash += value
            if pos is not None:
                pos.qty -= qty
                if pos.qty <= 0:
                    del self._positions[sym]
        rec.filled_cost += value
        filled = o.filled_qty + qty
        done = rec.full_qty is not None and filled >= rec.full_qty
        if o.side == Side.SELL and sym not in self._positions:
            done = True  # nothing left to sell: the order cannot trade further
        now = self._now()
        rec.order = replace(
            o,
            status=OrderStatus.FILLED if done else OrderStatus.PARTIALLY_FILLED,
            filled_qty=filled,
            filled_avg_price=(rec.filled_cost / filled) if filled > 0 else None,
            updated_at=now,
        )
        self._save(rec, sym)
        shown = rec.order
        if done and rec.missing_avg:
            shown = replace(shown, filled_avg_price=None)
        held = self._positions[sym].qty if sym in self._positions else _ZERO
        return OrderUpdate(
            OrderEvent.FILL if done else OrderEvent.PARTIAL_FILL,
            shown,
            now,
            price=price,
            qty=qty,
            extra={"position_qty": str(held)},
        )

    def _cancel(self, order_id: str) -> None:
        with self._lock:
            rec = self._orders.get(order_id)
            if rec is None or rec.order.is_final:
                return
            rec.order = replace(rec.order, status=OrderStatus.CANCELED, updated_at=self._now())
            self._save(rec)
            events = [OrderUpdate(OrderEvent.CANCELED, rec.order, rec.order.updated_at)]
        self._emit(events)

    def _emit(self, events: list[OrderUpdate]) -> None:
        with self._lock:
            listeners = list(self._order_listeners)
        for event in events:
            for listener in listeners:
                try:
                    listener(event)
                except Exception:
                    log.exception("order listener failed")

    # ------------------------------------------------------------------ identity and persistence

    def _count(self, method: str) -> None:
        """Count a public call (benchmarks compare call budgets); under the lock as callers may be threads."""
        with self._lock:
            self.calls[method] += 1

    def _check_open(self) -> None:
        if self._closed:
            raise OrderRejected("the simulated broker is closed")

    def _order_id(self, seq: int) -> str:
        """UUID-shaped (alpaca-py parses order ids as UUIDs), unique per account and ordered by sequence."""
        return f"{self._account_id.removeprefix('sim-')}-0000-4000-8000-{seq:012x}"

    def _next_id(self) -> str:
        """The id the next accepted order will get (also a unique default for generated client ids)."""
        return self._order_id(self._seq + 1)

    def _fresh_account(self, cash: Decimal) -> None:
        previous = self._account_id
        while self._account_id == previous:
            self._account_id = f"sim-{self._id_rng.getrandbits(32):08x}"
        self._cash = cash
        self._seq = 0
        self._save()

    def _save(self, rec: _Rec | None = None, symbol: str | None = None) -> None:
        """Record a change: keep the open-order index, and write the changed state in one transaction, so a
        crash never leaves cash and orders disagreeing."""
        if rec is not None:
            if rec.order.is_final:
                self._open.pop(rec.order.id, None)
            else:
                self._open[rec.order.id] = rec
        db = self._db
        if db is None:
            return
        with db:
            db.execute("BEGIN")
            db.executemany(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                [("account_id", self._account_id), ("cash", str(self._cash)), ("seq", str(self._seq))],
            )
            if rec is not None:
                o = rec.order
                db.execute(
                    "INSERT OR REPLACE INTO orders VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        rec.seq,
                        o.id,
                        o.client_order_id,
                        o.symbol,
                        o.side.value,
                        o.type.value,
                        o.status.value,
                        _txt(o.qty),
                        _txt(o.notional),
                        _txt(o.limit_price),
                        str(o.filled_qty),
                        _txt(o.filled_avg_price),
                        str(rec.filled_cost),
                        _txt(rec.reserve_price),
                        o.submitted_at.isoformat(),
                        o.updated_at.isoformat(),
                    ),
                )
            if symbol is not None:
                pos = self._positions.get(symbol)
                if pos is None:
                    db.execute("DELETE FROM positions WHERE symbol = ?", (symbol,))
                else:
                    db.execute(
                        "INSERT OR REPLACE INTO positions VALUES (?, ?, ?)", (symbol, str(pos.qty), str(pos.avg))
                    )

    def _load(self) -> bool:
        """Read a previous process's account; False when there is no state file or it is empty."""
        db = self._db
        if db is None:
            return False
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        if "account_id" not in meta:
            return False
        self._account_id = meta["account_id"]
        self._cash = Decimal(meta["cash"])
        self._seq = int(meta["seq"])
        for sym, qty, avg in db.execute("SELECT symbol, qty, avg_entry_price FROM positions"):
            self._positions[sym] = _Pos(Decimal(qty), Decimal(avg))
        rows = db.execute(
            "SELECT seq, id, client_order_id, symbol, side, type, status, qty, notional, limit_price, filled_qty, "
            "filled_avg_price, filled_cost, reserve_price, submitted_at, updated_at FROM orders ORDER BY seq"
        ).fetchall()
        for row in rows:
            order = Order(
                id=row[1],
                client_order_id=row[2],
                symbol=row[3],
                side=Side(row[4]),
                type=OrderType(row[5]),
                status=OrderStatus(row[6]),
                qty=_dec(row[7]),
                notional=_dec(row[8]),
                limit_price=_dec(row[9]),
                filled_qty=Decimal(row[10]),
                filled_avg_price=_dec(row[11]),
                submitted_at=dt.datetime.fromisoformat(row[14]),
                updated_at=dt.datetime.fromisoformat(row[15]),
            )
            rec = _Rec(order, row[0], filled_cost=Decimal(row[12]), reserve_price=_dec(row[13]), full_qty=order.qty)
            self._orders[order.id] = rec
            self._by_client[order.client_order_id] = order.id
            if not order.is_final:
                self._open[order.id] = rec
        return True

    def _recover(self) -> None:
        """Finish what a previous process left: open market orders execute now at the current quote
        (synchronously, before any listener exists); open limits are acknowledged and re-checked."""
        for rec in list(self._open.values()):
            o = rec.order
            if o.is_final:
                continue
            if o.status == OrderStatus.PENDING_NEW:
                rec.order = o = replace(o, status=OrderStatus.NEW, updated_at=self._now())
                self._save(rec)
            if self._mid(o.symbol) is None:
                continue
            quote = self._quote(o.symbol)
            if o.type == OrderType.LIMIT:
                self._schedule_execution(rec, 0.0)
                continue
            price = quote.ask if o.side == Side.BUY else quote.bid
            if o.notional is not None:
                rec.full_qty = o.filled_qty + _floor9(max(o.notional - rec.filled_cost, _ZERO) / price)
            assert rec.full_qty is not None
            remaining = rec.full_qty - o.filled_qty
            if remaining > 0:
                self._fill(rec, remaining, price)
            if not rec.order.is_final:  # nothing more could trade: the order ends as it stands
                status = OrderStatus.FILLED if rec.order.filled_qty > 0 else OrderStatus.CANCELED
                rec.order = replace(rec.order, status=status, updated_at=self._now())
                self._save(rec)


if TYPE_CHECKING:

    def _is_a_broker(sim: SimBroker) -> Broker:
        """Never called: mypy proves here that `SimBroker` satisfies the `Broker` protocol exactly."""
        return sim
