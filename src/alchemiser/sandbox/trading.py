"""Alpaca's trading REST surface (`/v2/account`, `/v2/orders`, `/v2/positions`, `/v2/clock`, …) over SimBroker.

Handlers validate the whole request against its model in `schemas` before anything touches the exchange
(422 naming the field; a rejected replace leaves the original working), translate it to SimBroker calls,
answer as Alpaca does (403 for buying power or quantity, 404 for unknown ids), and encode the answers with
every field alpaca-py's models require. SimBroker errors (`OrderRejected.code`, `NotFound`) are mapped to
HTTP by the server's middleware, so handlers simply let them propagate.

What SimBroker cannot do is built here: replace (cancel, wait for the cancel, submit the successor, link
them) and partial closes (a market sell for a quantity or percentage).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from aiohttp import web

from alchemiser import market_calendar
from alchemiser.data.base import MarketData
from alchemiser.errors import DataError
from alchemiser.execution.broker import BrokerError, NotFound, OrderRejected
from alchemiser.execution.sim import SimBroker
from alchemiser.execution.sim.matching import cents, floor9, floor_whole
from alchemiser.models import Order, OrderRequest, OrderStatus, OrderType, Position, Side
from alchemiser.sandbox import fields
from alchemiser.sandbox.common import (
    CODE_DUPLICATE_CLIENT_ID,
    ApiError,
    JSONDict,
    account_uuid,
    asset_id,
    json_response,
    not_found,
    num,
    rfc3339,
    unprocessable,
)
from alchemiser.sandbox.orders import MetaStore, OrderMeta, encode_order
from alchemiser.sandbox.schemas import (
    AssetsQuery,
    CalendarQuery,
    ClientOrderIdQuery,
    CloseAllQuery,
    ClosePositionQuery,
    OrderBody,
    OrdersQuery,
    ReplaceBody,
)
from alchemiser.sandbox.streams import TradeUpdates
from alchemiser.sandbox.validation import check_path, json_body, parse_body, parse_query

EXCHANGE = "ARCA"
_RATIO = Decimal("1e-6")
_FINAL_WAIT_S = 10.0


def _money(x: Decimal) -> str:
    return num(cents(x)) or "0"


def _ratio(x: Decimal) -> str:
    return num(x.quantize(_RATIO, rounding=ROUND_HALF_UP)) or "0"


def _price(x: Decimal) -> str:
    return num(x.quantize(Decimal("1e-10"), rounding=ROUND_HALF_UP)) or "0"


class TradingApi:
    """The trading endpoints; one instance per server, used only on the event-loop thread."""

    def __init__(
        self,
        broker: SimBroker,
        market: MarketData,
        meta: MetaStore,
        updates: TradeUpdates,
        created_at: dt.datetime,
    ) -> None:
        self._broker = broker
        self._market = market
        self._meta = meta
        self._updates = updates
        self._created_at = created_at
        self._lastday: dict[str, Decimal | None] = {}

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/v2/account", self.get_account),
            web.get("/v2/account/configurations", self.get_account_configurations),
            web.get("/v2/positions", self.list_positions),
            web.delete("/v2/positions", self.close_all_positions),
            web.get("/v2/positions/{symbol}", self.get_position),
            web.delete("/v2/positions/{symbol}", self.close_position),
            web.post("/v2/orders", self.submit_order),
            web.get("/v2/orders", self.list_orders),
            web.delete("/v2/orders", self.cancel_all_orders),
            web.get("/v2/orders:by_client_order_id", self.get_order_by_client_id),
            web.get("/v2/orders/{order_id}", self.get_order),
            web.patch("/v2/orders/{order_id}", self.replace_order),
            web.delete("/v2/orders/{order_id}", self.cancel_order),
            web.get("/v2/clock", self.get_clock),
            web.get("/v2/calendar", self.get_calendar),
            web.get("/v2/assets", self.list_assets),
            web.get("/v2/assets/{symbol}", self.get_asset),
        ]

    # ------------------------------------------------------------------ encoding

    def _order_json(self, order: Order) -> JSONDict:
        return encode_order(order, self._meta.get(order.id))

    def _lastday_price(self, symbol: str) -> Decimal | None:
        """The previous session's close (the day before the simulator's current bar), cached per symbol."""
        if symbol not in self._lastday:
            try:
                closes = self._market.bars(symbol)["close"]
            except DataError:
                closes = None
            if closes is None or len(closes) < 2:
                self._lastday[symbol] = None
            else:
                self._lastday[symbol] = Decimal(repr(float(closes.iloc[-2]))).quantize(Decimal("0.0001"))
        return self._lastday[symbol]

    def _held_for_orders(self) -> dict[str, Decimal]:
        held: dict[str, Decimal] = {}
        for o in self._broker.list_orders("open"):
            if o.side == Side.SELL and o.qty is not None:
                held[o.symbol] = held.get(o.symbol, Decimal(0)) + max(o.qty - o.filled_qty, Decimal(0))
        return held

    def _position_json(self, p: Position, held: Decimal) -> JSONDict:
        cost = p.qty * p.avg_entry_price
        upl = p.market_value - cost
        lastday = self._lastday_price(p.symbol) or p.current_price
        change = (p.current_price / lastday - 1) if lastday else Decimal(0)
        intraday = (p.current_price - lastday) * p.qty
        return {
            "asset_id": asset_id(p.symbol),
            "symbol": p.symbol,
            "exchange": EXCHANGE,
            "asset_class": "us_equity",
            "asset_marginable": False,
            "avg_entry_price": _price(p.avg_entry_price),
            "qty": num(p.qty),
            "side": "long",
            "market_value": _money(p.market_value),
            "cost_basis": _money(cost),
            "unrealized_pl": _money(upl),
            "unrealized_plpc": _ratio(upl / cost) if cost else "0",
            "unrealized_intraday_pl": _money(intraday),
            "unrealized_intraday_plpc": _ratio(change),
            "current_price": _price(p.current_price),
            "lastday_price": _price(lastday),
            "change_today": _ratio(change),
            "qty_available": num(max(p.qty - held, Decimal(0))),
        }

    def _find_position(self, request: web.Request) -> Position:
        """The position named by the path's `{symbol}` (a ticker or an asset id; 422 when it is neither)."""
        key = check_path(request.match_info["symbol"], "symbol", fields.symbol_or_asset_id)
        for p in self._broker.get_positions():
            if p.symbol == key or asset_id(p.symbol) == key:
                return p
        raise not_found("position does not exist")

    def _asset_json(self, symbol: str, fractionable: bool, name: str = "") -> JSONDict:
        return {
            "id": asset_id(symbol),
            "class": "us_equity",
            "exchange": EXCHANGE,
            "symbol": symbol,
            "name": name or symbol,
            "status": "active",
            "tradable": True,
            "marginable": False,
            "shortable": False,
            "easy_to_borrow": False,
            "fractionable": fractionable,
            "min_order_size": "1" if not fractionable else "0.000000001",
            "min_trade_increment": "1" if not fractionable else "0.000000001",
            "price_increment": "0.01",
            "maintenance_margin_requirement": 100,
            "attributes": ["fractional_eh_enabled"] if fractionable else [],
        }

    # ------------------------------------------------------------------ account

    async def get_account(self, _request: web.Request) -> web.StreamResponse:
        acct = self._broker.get_account()
        long_value = sum((p.market_value for p in self._broker.get_positions()), Decimal(0))
        uid = account_uuid(acct.account_id)
        return json_response(
            {
                "id": uid,
                "account_number": "PA" + uid[:8].upper(),
                "status": acct.status,
                "crypto_status": "INACTIVE",
                "currency": acct.currency,
                "buying_power": _money(acct.buying_power),
                "regt_buying_power": _money(acct.buying_power),
                "non_marginable_buying_power": _money(acct.buying_power),
                "options_buying_power": _money(acct.buying_power),
                "cash": _money(acct.cash),
                "accrued_fees": "0",
                "pending_transfer_in": "0",
                "pending_transfer_out": "0",
                "portfolio_value": _money(acct.equity),
                "equity": _money(acct.equity),
                "last_equity": _money(acct.equity),
                "long_market_value": _money(long_value),
                "short_market_value": "0",
                "initial_margin": "0",
                "maintenance_margin": "0",
                "last_maintenance_margin": "0",
                "sma": "0",
                "multiplier": "1",
                "shorting_enabled": False,
                "trading_blocked": acct.trading_blocked,
                "transfers_blocked": False,
                "account_blocked": False,
                "trade_suspended_by_user": False,
                "created_at": rfc3339(self._created_at),
                "options_approved_level": 0,
                "options_trading_level": 0,
            }
        )

    async def get_account_configurations(self, _request: web.Request) -> web.StreamResponse:
        return json_response(
            {
                "fractional_trading": True,
                "max_margin_multiplier": "1",
                "no_shorting": True,
                "suspend_trade": False,
                "trade_confirm_email": "none",
                "ptp_no_exception_entry": False,
                "max_options_trading_level": 0,
            }
        )

    # ------------------------------------------------------------------ positions

    async def list_positions(self, _request: web.Request) -> web.StreamResponse:
        held = self._held_for_orders()
        return json_response(
            [self._position_json(p, held.get(p.symbol, Decimal(0))) for p in self._broker.get_positions()]
        )

    async def get_position(self, request: web.Request) -> web.StreamResponse:
        p = self._find_position(request)
        return json_response(self._position_json(p, self._held_for_orders().get(p.symbol, Decimal(0))))

    async def close_position(self, request: web.Request) -> web.StreamResponse:
        """Close all (default) or part (`qty` or `percentage`) of a position with a market sell."""
        q = parse_query(ClosePositionQuery, request.query)
        p = self._find_position(request)
        qty, pct = q.qty, q.percentage
        amount = qty if qty is not None else (None if pct is None or pct == 100 else p.qty * pct / 100)
        if amount is None or amount >= p.qty:
            if amount is not None and amount > p.qty:
                raise ApiError(
                    403,
                    40310000,
                    f"insufficient qty available for order (requested: {num(amount)}, available: {num(p.qty)})",
                )
            order = self._broker.close_position(p.symbol)
        else:
            fractionable = self._broker.get_asset(p.symbol).fractionable
            amount = floor9(amount) if fractionable else floor_whole(amount)
            if amount <= 0:
                raise unprocessable("qty to close rounds to zero")
            order = self._broker.submit_order(OrderRequest(p.symbol, Side.SELL, OrderType.MARKET, "", qty=amount))
        self._meta.put(order.id, OrderMeta())
        return json_response(self._order_json(order))

    async def close_all_positions(self, request: web.Request) -> web.StreamResponse:
        """Alpaca's 207 list of {symbol, status, body}; with cancel_orders, cancels settle before selling."""
        if parse_query(CloseAllQuery, request.query).cancel_orders:
            await self._cancel_open_and_wait()
        results: list[JSONDict] = []
        held = self._held_for_orders()
        for p in self._broker.get_positions():
            try:
                order = self._broker.close_position(p.symbol)
            except OrderRejected as exc:
                status = exc.code or 422
                results.append(
                    {
                        "symbol": p.symbol,
                        "status": status,
                        "body": {
                            "code": status * 100000 + 10000,
                            "message": str(exc),
                            "symbol": p.symbol,
                            "available": float(max(p.qty - held.get(p.symbol, Decimal(0)), Decimal(0))),
                            "existing_qty": float(p.qty),
                            "held_for_orders": float(held.get(p.symbol, Decimal(0))),
                        },
                    }
                )
                continue
            self._meta.put(order.id, OrderMeta())
            results.append({"symbol": p.symbol, "status": 200, "order_id": order.id, "body": self._order_json(order)})
        return json_response(results, status=207)

    async def _cancel_open_and_wait(self) -> None:
        """Cancel every open order and wait until each is final, so held quantities are released."""
        futures = []
        for o in self._broker.list_orders("open"):
            fut = self._updates.watch(o.id)
            with contextlib.suppress(BrokerError):  # it became final meanwhile: its future resolves anyway
                self._broker.cancel_order(o.id)
            futures.append(fut)
        if futures:
            await asyncio.wait(futures, timeout=_FINAL_WAIT_S)

    # ------------------------------------------------------------------ orders

    async def submit_order(self, request: web.Request) -> web.StreamResponse:
        """Validate the whole body first (422 naming the field), then hand the order to the exchange."""
        body = parse_body(OrderBody, await json_body(request))
        tif = body.time_in_force
        sim_tif = "day" if tif in ("day", "gtc") else tif  # the simulator never expires orders: day == gtc
        order = self._broker.submit_order(
            OrderRequest(
                body.symbol,
                Side(body.side),
                OrderType(body.kind),
                body.client_order_id or "",
                body.qty,
                body.notional,
                body.limit_price,
                sim_tif,
            )
        )
        self._meta.put(order.id, OrderMeta(time_in_force=tif, extended_hours=body.extended_hours))
        return json_response(self._order_json(order))

    async def list_orders(self, request: web.Request) -> web.StreamResponse:
        q = parse_query(OrdersQuery, request.query)
        symbols = set(q.symbols)
        orders = self._broker.list_orders(q.status)
        selected = [
            o
            for o in orders
            if (not symbols or o.symbol in symbols)
            and (q.side is None or o.side.value == q.side)
            and (q.after is None or o.submitted_at > q.after)
            and (q.until is None or o.submitted_at < q.until)
        ]
        selected.sort(key=lambda o: (o.submitted_at, o.id), reverse=q.direction == "desc")
        return json_response([self._order_json(o) for o in selected[: q.limit]])

    async def get_order(self, request: web.Request) -> web.StreamResponse:
        return json_response(self._order_json(self._get(request)))

    async def get_order_by_client_id(self, request: web.Request) -> web.StreamResponse:
        q = parse_query(ClientOrderIdQuery, request.query)
        order = self._broker.get_order_by_client_id(q.client_order_id)
        if order is None:
            raise not_found("order not found")
        return json_response(self._order_json(order))

    def _get(self, request: web.Request) -> Order:
        """The order named by the path's `{order_id}` (422 when it is not a UUID, 404 when unknown)."""
        order_id = check_path(request.match_info["order_id"], "order_id", fields.order_id)
        try:
            return self._broker.get_order(order_id)
        except NotFound:
            raise not_found("order not found") from None

    async def cancel_order(self, request: web.Request) -> web.StreamResponse:
        order = self._get(request)
        if order.is_final:
            raise unprocessable(f"order is not cancelable (status: {order.status.value})")
        self._broker.cancel_order(order.id)
        return web.Response(status=204)

    async def cancel_all_orders(self, _request: web.Request) -> web.StreamResponse:
        results: list[JSONDict] = []
        for o in self._broker.list_orders("open"):
            try:
                self._broker.cancel_order(o.id)
                results.append({"id": o.id, "status": 200})
            except BrokerError as exc:
                results.append({"id": o.id, "status": 500, "body": {"code": 50010000, "message": str(exc)}})
        return json_response(results, status=207)

    async def replace_order(self, request: web.Request) -> web.StreamResponse:
        """Cancel the order, wait for the cancel, then submit its successor and link the two (status replaced).

        The successor keeps symbol, side and type; `qty` defaults to the unfilled remainder and `limit_price`
        to the old limit. If the old order fills before the cancel lands, the replace fails with 422.
        """
        old = self._get(request)
        body = parse_body(ReplaceBody, await json_body(request))  # all of it before the original is touched
        if old.is_final:
            raise unprocessable(f"order is not replaceable (status: {old.status.value})")
        if old.notional is not None:
            raise unprocessable("notional orders cannot be replaced")
        qty, limit_price = body.qty, body.limit_price
        if limit_price is not None and old.type != OrderType.LIMIT:
            raise unprocessable("limit_price is only allowed for limit orders")
        old_meta = self._meta.get(old.id)
        tif = body.time_in_force or old_meta.time_in_force
        if tif not in ("day", "gtc"):
            raise unprocessable(f"invalid time_in_force: {tif!r}")
        client_id = body.client_order_id or ""
        if client_id and self._broker.get_order_by_client_id(client_id) is not None:
            raise ApiError(422, CODE_DUPLICATE_CLIENT_ID, "client_order_id must be unique")

        final = await self._cancel_for_replace(old)
        assert final.qty is not None
        new_qty = qty if qty is not None else final.qty - final.filled_qty
        request_ = OrderRequest(
            old.symbol,
            old.side,
            old.type,
            client_id,
            qty=new_qty,
            limit_price=limit_price if limit_price is not None else old.limit_price,
        )
        try:
            new = self._broker.submit_order(request_)
        except BrokerError:
            self._updates.publish("canceled", final, final.updated_at)  # the old order is cancelled, not replaced
            raise
        now = dt.datetime.now(tz=dt.UTC)
        self._meta.put(
            new.id, OrderMeta(time_in_force=str(tif), extended_hours=old_meta.extended_hours, replaces=old.id)
        )
        self._meta.update(old.id, replaced_by=new.id, replaced_at=now)
        self._updates.publish("replaced", final, now)
        return json_response(self._order_json(new))

    async def _cancel_for_replace(self, old: Order) -> Order:
        fut = self._updates.watch(old.id)
        self._updates.suppress_cancel_event(old.id)
        try:
            self._broker.cancel_order(old.id)
            final = await asyncio.wait_for(fut, timeout=_FINAL_WAIT_S)
        except (OrderRejected, TimeoutError):
            self._updates.suppress_cancel_event(old.id, on=False)
            current = self._broker.get_order(old.id)
            raise unprocessable(f"order is not replaceable (status: {current.status.value})") from None
        if final.status != OrderStatus.CANCELED:
            self._updates.suppress_cancel_event(old.id, on=False)
            raise unprocessable(f"order is not replaceable (status: {final.status.value})")
        return final

    # ------------------------------------------------------------------ clock, calendar, assets

    async def get_clock(self, _request: web.Request) -> web.StreamResponse:
        c = self._broker.get_clock()
        ny = market_calendar.NY
        return json_response(
            {
                "timestamp": c.timestamp.astimezone(ny).isoformat(),
                "is_open": c.is_open,
                "next_open": c.next_open.astimezone(ny).isoformat(),
                "next_close": c.next_close.astimezone(ny).isoformat(),
            }
        )

    async def get_calendar(self, request: web.Request) -> web.StreamResponse:
        """Sessions in [start, end] (dates; default the whole supported calendar) with open/close in ET."""
        q = parse_query(CalendarQuery, request.query)
        start = q.start or market_calendar.CALENDAR_START
        end = q.end or market_calendar.CALENDAR_END
        cal = market_calendar.calendar()
        lo, hi = max(start, market_calendar.CALENDAR_START), min(end, market_calendar.CALENDAR_END)
        if lo > hi:
            return json_response([])
        opens = cal.opens.loc[str(lo) : str(hi)].dt.tz_convert(market_calendar.NY)
        closes = cal.closes.loc[str(lo) : str(hi)].dt.tz_convert(market_calendar.NY)
        out: list[JSONDict] = [
            {
                "date": day.strftime("%Y-%m-%d"),
                "open": o.strftime("%H:%M"),
                "close": c.strftime("%H:%M"),
                "session_open": "0400",
                "session_close": "2000",
            }
            for day, o, c in zip(opens.index, opens, closes, strict=True)
        ]
        return json_response(out)

    async def list_assets(self, request: web.Request) -> web.StreamResponse:
        q = parse_query(AssetsQuery, request.query)
        if q.status not in (None, "active") or q.asset_class not in (None, "us_equity"):
            return json_response([])
        if q.exchange not in (None, EXCHANGE):
            return json_response([])
        symbols = [info.symbol for info in self._market.available()]
        assets = self._broker.get_assets(symbols)
        return json_response([self._asset_json(a.symbol, a.fractionable, a.name) for a in assets.values()])

    async def get_asset(self, request: web.Request) -> web.StreamResponse:
        key = check_path(request.match_info["symbol"], "symbol", fields.symbol_or_asset_id)
        symbol = key
        if len(key) == 36 and key.count("-") == 4:  # an asset id: find the symbol it was derived from
            matches = [i.symbol for i in self._market.available() if asset_id(i.symbol) == key]
            if not matches:
                raise not_found(f"asset not found for {key}")
            symbol = matches[0]
        try:
            asset = self._broker.get_asset(symbol)
        except NotFound:
            raise not_found(f"asset not found for {symbol}") from None
        return json_response(self._asset_json(asset.symbol, asset.fractionable, asset.name))
