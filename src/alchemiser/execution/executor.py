"""The sell-then-buy executor: the heart of a trading run.

reconcile (cancel our stale orders) → sells, concurrently (full exits through the broker's close-position
call, trims as market sells capped at what is held) → wait for every sell on the order-update stream →
size buys from the cash actually there → buys, concurrently (marketable limits from a just-in-time quote,
the unfilled remainder only finished at market or re-priced; or dollar orders) → unsubscribe.

Every order is written to the ledger before and after each broker call and carries a deterministic
client_order_id `alc-<day>-<symbol>-<side>-<attempt>`, so a re-run can never place the same order twice.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from decimal import ROUND_DOWN, Decimal
from typing import Annotated, Any

from typing_extensions import TypedDict  # the TypedDict pydantic accepts on 3.11

from alchemiser.execution.broker import Broker, BrokerError, DuplicateClientOrderId, OrderRejected
from alchemiser.execution.pricing import buy_limit_price
from alchemiser.execution.rails import Rails, RailTripped
from alchemiser.execution.rules import ExecutionRules
from alchemiser.execution.tracker import OrderTracker
from alchemiser.formatting import Dollars, Price, Shares, money
from alchemiser.formatting import price as fmt_price
from alchemiser.formatting import qty as fmt_qty
from alchemiser.ledger import Ledger
from alchemiser.models import (
    ExecutionStatus,
    Order,
    OrderPhase,
    OrderRequest,
    OrderStatus,
    OrderType,
    OrderUpdate,
    Position,
    Quote,
    Side,
)
from alchemiser.portfolio.plan import CENT, PlanItem, TradePlan, floor_qty, size_buys

CLIENT_ID_PREFIX = "alc-"
MIN_NOTIONAL = Decimal(1)
Progress = Callable[[str], None]


class ExecutedOrderJson(TypedDict):
    """One order the run sent, with what became of it."""

    client_order_id: Annotated[str, "our id, stable across retries of one intent"]
    symbol: str
    side: Annotated[str, "buy or sell"]
    phase: Annotated[str, "sell or buy: which half of the rebalance"]
    type: Annotated[str, "market or limit"]
    status: Annotated[str, "the broker's last status (filled, partially_filled, canceled, rejected, …)"]
    requested_qty: Annotated[Shares | None, "shares asked for, null for a dollar order"]
    requested_notional: Annotated[Dollars | None, "dollars asked for, null for a share order"]
    limit_price: Annotated[Price | None, "null for a market order"]
    filled_qty: Annotated[Shares, "shares filled"]
    filled_avg_price: Annotated[Price | None, "average fill price, null when nothing filled"]
    order_id: Annotated[str | None, "the broker's id, null when it never accepted the order"]
    error: Annotated[str | None, "why it failed, null when it did not"]


@dataclass
class ExecutedOrder:
    client_order_id: str
    symbol: str
    side: str
    phase: str
    type: str
    status: str
    requested_qty: str | None
    requested_notional: str | None
    limit_price: str | None
    filled_qty: str
    filled_avg_price: str | None
    order_id: str | None
    error: str | None = None

    @classmethod
    def of(
        cls, cid: str, phase: str, order: Order | None, request: OrderRequest | None, error: str | None = None
    ) -> ExecutedOrder:
        source_qty = request.qty if request else (order.qty if order else None)
        return cls(
            client_order_id=cid,
            symbol=(order.symbol if order else request.symbol if request else "?"),
            side=str(order.side if order else request.side if request else "?"),
            phase=phase,
            type=str(order.type if order else request.type if request else "?"),
            status=str(order.status) if order else "rejected",
            requested_qty=str(source_qty) if source_qty is not None else None,
            requested_notional=str(request.notional) if request and request.notional is not None else None,
            limit_price=str(request.limit_price) if request and request.limit_price is not None else None,
            filled_qty=str(order.filled_qty) if order else "0",
            filled_avg_price=str(order.filled_avg_price) if order and order.filled_avg_price is not None else None,
            order_id=order.id if order else None,
            error=error,
        )

    def to_json(self) -> ExecutedOrderJson:
        return {
            "client_order_id": self.client_order_id,
            "symbol": self.symbol,
            "side": self.side,
            "phase": self.phase,
            "type": self.type,
            "status": self.status,
            "requested_qty": self.requested_qty,
            "requested_notional": self.requested_notional,
            "limit_price": self.limit_price,
            "filled_qty": self.filled_qty,
            "filled_avg_price": self.filled_avg_price,
            "order_id": self.order_id,
            "error": self.error,
        }


@dataclass
class ExecutionResult:
    status: ExecutionStatus = ExecutionStatus.OK
    orders: list[ExecutedOrder] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    cancelled_stale: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    limit_fallbacks: int = 0

    @property
    def warnings_refused(self) -> bool:
        return any(w.startswith("order refused") for w in self.warnings)

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "orders": [o.to_json() for o in self.orders],
            "warnings": self.warnings,
            "cancelled_stale": self.cancelled_stale,
            "timings": self.timings,
            "limit_fallbacks": self.limit_fallbacks,
        }


class Executor:
    def __init__(
        self,
        broker: Broker,
        ledger: Ledger,
        run_id: str,
        day_key: str,
        rules: ExecutionRules | None = None,
        progress: Progress | None = None,
        rails: Rails | None = None,
    ) -> None:
        self.broker = broker
        self.rails = rails
        self.halted: str | None = None
        self.ledger = ledger
        self.run_id = run_id
        self.day_key = day_key
        self.rules = rules or ExecutionRules()
        self.progress = progress or (lambda _: None)
        self.result = ExecutionResult()
        self._lock = threading.Lock()
        self._used_ids: set[str] = set()
        self._alias: dict[str, str] = {}  # broker order id → our client id (close-position orders)
        self.tracker = OrderTracker(broker, self.rules.poll_interval_s, sink=self._record_update)

    # -- bookkeeping -----------------------------------------------------------------------------------
    def close(self) -> None:
        self.tracker.close()

    def _record_update(self, update: OrderUpdate) -> None:
        cid = self._alias.get(update.order.id)
        if cid is not None and update.order.client_order_id != cid:
            update = replace(update, order=replace(update.order, client_order_id=cid))
        self.ledger.record_event(update)

    def _record_state(self, order: Order) -> None:
        cid = self._alias.get(order.id)
        self.ledger.record_order_state(replace(order, client_order_id=cid) if cid else order)

    def next_client_id(self, symbol: str, side: str) -> str:
        """`alc-<day>-<symbol>-<side>-<n>` with n one past any id this day already used (ledger or here)."""
        prefix = f"{CLIENT_ID_PREFIX}{self.day_key}-{symbol}-{side}-"
        with self._lock:
            used = self.ledger.used_client_order_ids(prefix) | {i for i in self._used_ids if i.startswith(prefix)}
            attempt = 1 + max((int(i.rsplit("-", 1)[1]) for i in used if i.rsplit("-", 1)[1].isdigit()), default=0)
            cid = f"{prefix}{attempt}"
            self._used_ids.add(cid)
            return cid

    def _note(self, cid: str, order: Order | None, request: OrderRequest | None, error: str | None = None) -> None:
        """Update the run result's view of an order. Its phase is read from the ledger row written with the
        intent, so the run result and the ledger can never disagree about it (one source of truth)."""
        row = self.ledger.order(cid)
        phase = row.phase if row is not None else "?"
        with self._lock:
            self.result.orders = [o for o in self.result.orders if o.client_order_id != cid]
            self.result.orders.append(ExecutedOrder.of(cid, phase, order, request, error))

    def _warn(self, message: str) -> None:
        with self._lock:
            self.result.warnings.append(message)
        self.progress(f"[yellow]warning:[/] {message}")

    def _allowed(self, symbol: str, estimate: Decimal) -> bool:
        """Safety rails before every order: a tripped kill switch or daily cap halts the rest of the run."""
        if self.halted:
            return False
        if self.rails is None:
            return True
        try:
            self.rails.check(symbol, estimate)
        except RailTripped as exc:
            if exc.halt:
                self.halted = str(exc)
            self._warn(f"order refused: {exc}")
            return False
        return True

    def _submit(
        self, request: OrderRequest, phase: OrderPhase, quote: Quote | None = None, estimate: Decimal | None = None
    ) -> Order | None:
        """Rails → ledger intent → broker → ledger result. A duplicate id means the order exists: adopt it."""
        cid = request.client_order_id
        if estimate is None:
            price = request.limit_price or (quote.ask if quote else Decimal(0))
            estimate = request.notional if request.notional is not None else (request.qty or Decimal(0)) * price
        if not self._allowed(request.symbol, estimate):
            return None
        self.ledger.record_intent(self.run_id, request, phase=phase, attempt=int(cid.rsplit("-", 1)[1]), quote=quote)
        try:
            order = self.broker.submit_order(request)
        except DuplicateClientOrderId:
            existing = self.broker.get_order_by_client_id(cid)
            if existing is None:
                raise
            order = existing
        except OrderRejected as exc:
            self.ledger.record_submit_failed(cid, str(exc))
            self._note(cid, None, request, str(exc))
            self._warn(f"{request.side} {request.symbol} rejected: {exc}")
            return None
        order = self.tracker.observe(order)
        self.ledger.record_submitted(cid, order)
        self._note(cid, order, request)
        return order

    def _finish(self, order: Order, request: OrderRequest | None) -> None:
        cid = self._alias.get(order.id, order.client_order_id)
        self._record_state(order)
        self._note(cid, order, request)

    def _cancel_and_settle(self, order: Order) -> Order:
        """Cancel an open order and wait for its final state (it may fill meanwhile; the final state tells)."""
        with contextlib.suppress(BrokerError):
            self.broker.cancel_order(order.id)
        return self.tracker.wait_final([order], self.rules.sell_timeout_s)[order.id]

    # -- reconcile -------------------------------------------------------------------------------------
    def reconcile(self) -> list[str]:
        """Settle what a previous (possibly crashed) run left: unknown outcomes, then our stale open orders."""
        recent: list[Order] | None = None
        for row in self.ledger.open_intents():
            try:
                order = (
                    self.broker.get_order(row.broker_order_id)
                    if row.broker_order_id
                    else self.broker.get_order_by_client_id(row.client_order_id)
                )
                if order is None and row.phase == OrderPhase.EXIT:
                    # close-position orders carry the broker's own client id: find the one this intent made
                    recent = recent if recent is not None else self.broker.list_orders("all")
                    order = self._adoptable_close(row.symbol, row.intent_at, recent)
            except BrokerError:
                continue  # unknown still: the next run asks again
            if order is None:
                self.ledger.record_submit_failed(row.client_order_id, "never reached the broker (found on reconcile)")
            else:
                if order.client_order_id != row.client_order_id:
                    self._alias[order.id] = row.client_order_id
                    self.ledger.record_submitted(
                        row.client_order_id, replace(order, client_order_id=row.client_order_id)
                    )
                self._record_state(order)
        known = {row.broker_order_id for row in self.ledger.orders() if row.broker_order_id}
        stale = [
            o
            for o in self.broker.list_orders("open")
            if o.client_order_id.startswith(CLIENT_ID_PREFIX) or o.id in known
        ]
        for order in stale:
            try:
                self.broker.cancel_order(order.id)
            except BrokerError as exc:
                self._warn(f"could not cancel stale order {order.client_order_id}: {exc}")
        if stale:
            self.progress(f"cancelling {len(stale)} stale order(s) from an earlier run")
            for order in self.tracker.wait_final(stale, self.rules.sell_timeout_s).values():
                self._record_state(order)
        self.result.cancelled_stale = [o.client_order_id for o in stale]
        return self.result.cancelled_stale

    def _adoptable_close(self, symbol: str, since: dt.datetime, orders: list[Order]) -> Order | None:
        """A sell of `symbol` placed around `since` that no ledger row claims yet: the lost close order."""
        known = {row.broker_order_id for row in self.ledger.orders() if row.broker_order_id}
        window = since - dt.timedelta(seconds=60)
        for order in sorted(orders, key=lambda o: o.submitted_at):
            if (
                order.symbol == symbol
                and order.side == Side.SELL
                and order.submitted_at >= window
                and order.id not in known
                and not order.client_order_id.startswith(CLIENT_ID_PREFIX)
            ):
                return order
        return None

    # -- sells -----------------------------------------------------------------------------------------
    def _sell(
        self, item: PlanItem, held: Position | None, quote: Quote | None
    ) -> tuple[Order | None, OrderRequest | None, PlanItem]:
        if held is None or held.qty <= 0:
            self._warn(f"not selling {item.symbol}: no position is held")
            return None, None, item
        if item.action == "exit":
            if not self._allowed(item.symbol, held.market_value):
                return None, None, item
            cid = self.next_client_id(item.symbol, "sell")
            request = OrderRequest(item.symbol, Side.SELL, OrderType.MARKET, cid, qty=held.qty)
            self.ledger.record_intent(
                self.run_id, request, phase=OrderPhase.EXIT, attempt=int(cid.rsplit("-", 1)[1]), quote=quote
            )
            try:
                order = self.broker.close_position(item.symbol)
            except BrokerError as exc:
                self.ledger.record_submit_failed(cid, str(exc))
                self._note(cid, None, request, str(exc))
                self._warn(f"close {item.symbol} failed: {exc}")
                return None, request, item
            self._alias[order.id] = cid
            order = self.tracker.observe(order)
            self.ledger.record_submitted(cid, replace(order, client_order_id=cid))
            self._note(cid, order, request)
            self.progress(f"exit {item.symbol}: closing {fmt_qty(held.qty)} shares")
            return order, request, item
        qty = min(item.qty or Decimal(0), held.qty)
        if qty <= 0:
            return None, None, item
        request = OrderRequest(
            item.symbol, Side.SELL, OrderType.MARKET, self.next_client_id(item.symbol, "sell"), qty=qty
        )
        self.progress(f"sell {fmt_qty(qty)} {item.symbol} (trim)")
        return self._submit(request, OrderPhase.SELL, quote, qty * item.price), request, item

    def sell_phase(self, plan: TradePlan, positions: list[Position]) -> Decimal:
        """Place every sell concurrently, wait for all; returns the dollar value of sells that failed."""
        held = {p.symbol: p for p in positions}
        sells = plan.sells
        if not sells:
            return Decimal(0)
        symbols = [item.symbol for item in sells]
        quotes = self._arrival_quotes(symbols)
        try:
            with ThreadPoolExecutor(max_workers=min(8, len(sells))) as pool:
                placed = list(
                    pool.map(lambda item: self._sell(item, held.get(item.symbol), quotes.get(item.symbol)), sells)
                )
        finally:
            self.broker.unsubscribe_quotes(symbols)
        orders = [order for order, _, _ in placed if order is not None]
        final = self.tracker.wait_final(orders, self.rules.sell_timeout_s)
        failed = Decimal(0)
        for order, request, item in placed:
            if order is None:
                failed += -item.trade_value if request is not None else Decimal(0)
                continue
            state = final[order.id]
            if not state.is_final:
                self._warn(f"sell {item.symbol} not final after {self.rules.sell_timeout_s:g}s; cancelling")
                state = self._cancel_and_settle(state)
            self._finish(state, request)
            wanted = request.qty if request is not None and request.qty else state.qty or Decimal(0)
            missing = wanted - state.filled_qty
            if missing > 0:
                failed += missing * item.price
        return failed.quantize(CENT)

    def _arrival_quotes(self, symbols: list[str]) -> dict[str, Quote]:
        """Quotes at decision time for execution-quality reports, from the stream (no extra requests).

        Waits briefly; a sell never waits long for a quote it does not need to be priced.
        """
        quotes: dict[str, Quote] = {}
        done = threading.Event()
        lock = threading.Lock()

        def on_quote(quote: Quote) -> None:
            with lock:
                quotes.setdefault(quote.symbol, quote)
                if len(quotes) >= len(symbols):
                    done.set()

        self.broker.subscribe_quotes(symbols, on_quote)
        done.wait(min(self.rules.quote_timeout_s, 1.0))
        with lock:
            return dict(quotes)

    # -- buys ------------------------------------------------------------------------------------------
    def _fresh_quote(self, symbol: str) -> Quote:
        """Subscribe just in time and take the first streamed quote; fall back to the REST quote."""
        got = threading.Event()
        box: list[Quote] = []

        def on_quote(quote: Quote) -> None:
            if quote.symbol == symbol and not got.is_set():
                box.append(quote)
                got.set()

        self.broker.subscribe_quotes([symbol], on_quote)
        if got.wait(self.rules.quote_timeout_s) and self._is_fresh(box[0]):
            return box[0]
        return self.broker.get_latest_quote(symbol)

    def _is_fresh(self, quote: Quote) -> bool:
        age = time.time() - quote.timestamp.timestamp()
        return age <= self.rules.max_quote_age_s and quote.bid > 0 and quote.ask >= quote.bid

    def _buy(self, item: PlanItem, dollars: Decimal) -> None:
        symbol = item.symbol
        try:
            quote = self._fresh_quote(symbol)
            if self.rules.buy_mode == "notional" and item.fractionable:
                self._notional_buy(symbol, dollars, OrderPhase.BUY, quote)  # the quote is kept for execution reports
                return
            if not self._is_fresh(quote):
                self._warn(f"no fresh quote for {symbol}; not buying")
                return
            fractional = item.fractionable and self.rules.fractional_limit_orders
            limit = buy_limit_price(quote, self.rules.limit_spread_fraction)
            qty = floor_qty(dollars / limit, item.qty_step if fractional else Decimal(1))
            if qty <= 0:
                if item.fractionable:
                    self._notional_buy(symbol, dollars, OrderPhase.BUY, quote)
                else:
                    self._warn(f"${dollars} buys less than one share of {symbol} (not fractionable)")
                return
            spent = self._limit_then_fallback(symbol, qty, quote, fractional)
            leftover = (dollars - spent).quantize(CENT, rounding=ROUND_DOWN)
            if item.fractionable and not fractional and leftover >= max(MIN_NOTIONAL, Decimal("0.5") * limit):
                self._notional_buy(symbol, leftover, OrderPhase.TOP_UP, quote)
        finally:
            self.broker.unsubscribe_quotes([symbol])

    def _notional_buy(self, symbol: str, dollars: Decimal, phase: OrderPhase, quote: Quote | None) -> None:
        dollars = dollars.quantize(CENT, rounding=ROUND_DOWN)
        if dollars < MIN_NOTIONAL:
            return
        request = OrderRequest(symbol, Side.BUY, OrderType.MARKET, self.next_client_id(symbol, "buy"), notional=dollars)
        self.progress(f"buy {money(dollars)} of {symbol} (notional)")
        order = self._submit(request, phase, quote)
        if order is not None:
            self._finish(self.tracker.wait_final([order], self.rules.sell_timeout_s)[order.id], request)

    def _limit_then_fallback(self, symbol: str, qty: Decimal, quote: Quote, fractional: bool) -> Decimal:
        """Marketable limit; on timeout cancel and finish only the unfilled remainder. Returns dollars spent."""
        spent = Decimal(0)
        remaining = qty
        reprices = 0
        while remaining > 0:
            limit = buy_limit_price(quote, self.rules.limit_spread_fraction)
            request = OrderRequest(
                symbol, Side.BUY, OrderType.LIMIT, self.next_client_id(symbol, "buy"), qty=remaining, limit_price=limit
            )
            self.progress(
                f"buy {fmt_qty(remaining)} {symbol} limit {fmt_price(limit)}"
                f" (bid {fmt_price(quote.bid)} / ask {fmt_price(quote.ask)})"
            )
            order = self._submit(
                request, OrderPhase.BUY if reprices == 0 and remaining == qty else OrderPhase.REPRICE, quote
            )
            if order is None:
                return spent
            state = self.tracker.wait_final([order], self.rules.limit_timeout_s)[order.id]
            if not state.is_final:
                state = self._cancel_and_settle(state)
            self._finish(state, request)
            spent += state.filled_notional
            remaining = remaining - state.filled_qty
            if state.status == OrderStatus.REJECTED or remaining <= 0:
                break
            with self._lock:
                self.result.limit_fallbacks += 1
            if self.rules.on_limit_timeout == "reprice" and reprices < self.rules.max_reprices:
                reprices += 1
                quote = self.broker.get_latest_quote(symbol)
                continue
            request = OrderRequest(
                symbol, Side.BUY, OrderType.MARKET, self.next_client_id(symbol, "buy"), qty=remaining
            )
            self.progress(f"buy {fmt_qty(remaining)} {symbol} at market (unfilled remainder)")
            order = self._submit(request, OrderPhase.REMAINDER, quote)
            if order is not None:
                final = self.tracker.wait_final([order], self.rules.sell_timeout_s)[order.id]
                self._finish(final, request)
                spent += final.filled_notional
            break
        return spent

    def buy_phase(self, plan: TradePlan, cash: Decimal) -> None:
        if not plan.buys:
            return
        sized, scale = size_buys(plan, cash)
        if scale < Decimal("0.999"):
            wanted = sum((i.trade_value for i in plan.buys), Decimal(0))
            self._warn(f"cash covers {scale:.1%} of the planned ${wanted:,.2f} of buys; scaling down")
        with ThreadPoolExecutor(max_workers=min(8, len(sized))) as pool:
            list(pool.map(lambda pair: self._buy(*pair), sized))

    # -- the whole thing -------------------------------------------------------------------------------
    def execute(self, plan: TradePlan, positions: list[Position]) -> ExecutionResult:
        started = time.monotonic()
        failed = self.sell_phase(plan, positions)
        self.result.timings["sells_s"] = round(time.monotonic() - started, 3)
        if self.halted:
            self.result.status = ExecutionStatus.HALTED
            return self.result
        if failed > self.rules.block_buys_on_failed_sells_usd:
            self._warn(f"sells worth ${failed:,.2f} failed: buys are blocked this run")
            self.result.status = ExecutionStatus.BLOCKED
            return self.result
        if plan.buys:
            account = self.broker.get_account()
            buys_started = time.monotonic()
            self.buy_phase(plan, min(account.cash, account.buying_power))
            self.result.timings["buys_s"] = round(time.monotonic() - buys_started, 3)
        if self.halted:
            self.result.status = ExecutionStatus.HALTED
        elif failed > 0 or any(o.error for o in self.result.orders) or self.result.warnings_refused:
            self.result.status = ExecutionStatus.PARTIAL
        return self.result
