"""What each sandbox endpoint accepts, as pydantic models over the field types in `fields`.

Why declarative: one model per request shape states every field's type, bounds and allowed values in one
place, so no handler can forget a check and every refusal names its field the same way. Unknown fields and
parameters are ignored, as Alpaca ignores them; rules that tie fields together (qty *or* notional, a limit
price only on limit orders) are model validators, so they too run before anything touches the exchange.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from alchemiser.sandbox.fields import (
    ClientOrderId,
    Flag,
    Integer,
    LimitPrice,
    Notional,
    Percentage,
    Quantity,
    QueryDate,
    QueryTime,
    Symbol,
    Symbols,
)

TimeInForce = Literal["day", "gtc", "opg", "cls", "ioc", "fok"]
Feed = Literal["iex", "sip", "otc", "delayed_sip", "boats", "overnight", "test"]
Sort = Literal["asc", "desc"]
# Fields of order types the sandbox does not simulate: refused by name rather than silently ignored.
UNSUPPORTED_ORDER_FIELDS = ("stop_price", "trail_price", "trail_percent", "take_profit", "stop_loss", "legs")


def _blank_is_absent(data: Any) -> Any:
    """Alpaca treats an empty value like a missing one; so do we (before any field is validated)."""
    if isinstance(data, dict):
        return {k: v for k, v in data.items() if v is not None and v != ""}
    return data


class _Request(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _drop_blanks(cls, data: Any) -> Any:
        return _blank_is_absent(data)


class OrderBody(_Request):
    """`POST /v2/orders`: a simple market or limit order for a quantity or (market, day) a dollar amount."""

    symbol: Symbol
    side: Literal["buy", "sell"]
    type: Literal["market", "limit"] | None = None
    order_type: Literal["market", "limit"] | None = None
    time_in_force: TimeInForce
    qty: Quantity | None = None
    notional: Notional | None = None
    limit_price: LimitPrice | None = None
    client_order_id: ClientOrderId | None = None
    extended_hours: Flag = False
    order_class: Literal["simple"] | None = None
    stop_price: Any = None
    trail_price: Any = None
    trail_percent: Any = None
    take_profit: Any = None
    stop_loss: Any = None
    legs: Any = None

    @property
    def kind(self) -> Literal["market", "limit"]:
        kind = self.type or self.order_type
        assert kind is not None  # checked by _consistent
        return kind

    @model_validator(mode="after")
    def _consistent(self) -> OrderBody:
        if self.type is None and self.order_type is None:
            raise ValueError("type is required (market or limit)")
        for name in UNSUPPORTED_ORDER_FIELDS:
            if getattr(self, name) not in (None, {}, []):
                raise ValueError(f"{name} is not supported for {self.kind} orders")
        if self.qty is None and self.notional is None:
            raise ValueError("qty or notional is required")
        if self.qty is not None and self.notional is not None:
            raise ValueError("only one of qty or notional may be given")
        if self.kind == "limit" and self.limit_price is None:
            raise ValueError("limit_price is required for limit orders")
        if self.kind == "market" and self.limit_price is not None:
            raise ValueError("limit_price is not allowed for market orders")
        fractional = self.notional is not None or (self.qty is not None and self.qty % 1 != 0)
        if fractional and self.time_in_force != "day":
            raise ValueError("time_in_force: fractional orders must be DAY orders")
        if self.extended_hours and not (self.kind == "limit" and self.time_in_force == "day"):
            raise ValueError("extended_hours: extended hours orders must be DAY limit orders")
        return self


class ReplaceBody(_Request):
    """`PATCH /v2/orders/{id}`: a new quantity, limit price, time in force or client order id."""

    qty: Quantity | None = None
    limit_price: LimitPrice | None = None
    time_in_force: Literal["day", "gtc"] | None = None
    client_order_id: ClientOrderId | None = None
    stop_price: Any = None
    trail: Any = None

    @model_validator(mode="after")
    def _supported(self) -> ReplaceBody:
        for name in ("stop_price", "trail"):
            if getattr(self, name) is not None:
                raise ValueError(f"{name} is not supported by the sandbox")
        return self


class ClosePositionQuery(_Request):
    """`DELETE /v2/positions/{symbol}`: all of it, or `qty` shares, or `percentage` percent."""

    qty: Quantity | None = None
    percentage: Percentage | None = None

    @model_validator(mode="after")
    def _one(self) -> ClosePositionQuery:
        if self.qty is not None and self.percentage is not None:
            raise ValueError("only one of qty or percentage may be given")
        return self


class CloseAllQuery(_Request):
    cancel_orders: Flag = False


class OrdersQuery(_Request):
    """`GET /v2/orders` filters."""

    status: Literal["open", "closed", "all"] = "open"
    limit: Integer = Field(default=50, ge=1, le=500)
    after: QueryTime | None = None
    until: QueryTime | None = None
    direction: Sort = "desc"
    symbols: Symbols = Field(default_factory=list)
    side: Literal["buy", "sell"] | None = None
    nested: Flag = False


class ClientOrderIdQuery(_Request):
    client_order_id: ClientOrderId


class CalendarQuery(_Request):
    start: QueryDate | None = None
    end: QueryDate | None = None
    date_type: Literal["TRADING", "SETTLEMENT"] | None = None


class AssetsQuery(_Request):
    status: Literal["active", "inactive"] | None = None
    asset_class: Literal["us_equity", "us_option", "crypto"] | None = None
    exchange: str | None = Field(default=None, max_length=20)
    attributes: str | None = Field(default=None, max_length=200)


class _DataQuery(_Request):
    feed: Feed | None = None
    currency: Literal["USD"] | None = None


class LatestQuery(_DataQuery):
    """`/v2/stocks/{quotes,trades,bars}/latest` and snapshots."""

    symbols: Symbols


class HistoryQuery(_DataQuery):
    """Paged history (bars, quotes, trades) for the symbols in the query or the path."""

    symbols: Symbols = Field(default_factory=list)
    start: QueryTime | None = None
    end: QueryTime | None = None
    limit: Integer = Field(default=1000, ge=1, le=10_000)
    page_token: str | None = Field(default=None, max_length=200)
    sort: Sort = "asc"
    asof: QueryDate | None = None


_ADJUSTMENT = r"(raw|split|dividend|spin-off|all)"


class BarsQuery(HistoryQuery):
    timeframe: str = Field(max_length=20)
    adjustment: str | None = Field(default=None, pattern=rf"^{_ADJUSTMENT}(,{_ADJUSTMENT})*$")

