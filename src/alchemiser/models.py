"""Plain typed domain values shared by planning, execution, brokers and the ledger.

Money and quantities are `Decimal` here (the broker boundary and the ledger); indicator maths stays in
floats. Times are timezone-aware.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"


class OrderStatus(StrEnum):
    PENDING_NEW = "pending_new"
    ACCEPTED = "accepted"
    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    DONE_FOR_DAY = "done_for_day"
    CANCELED = "canceled"
    EXPIRED = "expired"
    REPLACED = "replaced"
    PENDING_CANCEL = "pending_cancel"
    PENDING_REPLACE = "pending_replace"
    REJECTED = "rejected"
    SUSPENDED = "suspended"
    STOPPED = "stopped"
    CALCULATED = "calculated"
    ACCEPTED_FOR_BIDDING = "accepted_for_bidding"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES

    def can_move_to(self, new: OrderStatus) -> bool:
        """Whether an order in this status may next be seen in `new` (see `moves_forward`)."""
        return moves_forward(self.is_final, Decimal(0), new.is_final, Decimal(0))


def moves_forward(was_final: bool, was_filled: Decimal, final: bool, filled: Decimal) -> bool:
    """The one order-state rule: an order state never moves backwards.

    A final status is never followed by an open one (a final one may still be corrected by another final
    one), and the filled quantity never shrinks. Updates from the stream, the poller and the submit call
    arrive in any order, so the tracker and the ledger keep only states that move forward; the simulated
    exchange only makes such moves (anything else there is a bug).
    """
    return (final or not was_final) and filled >= was_filled


FINAL_STATUSES = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.EXPIRED, OrderStatus.REJECTED, OrderStatus.REPLACED}
)


class OrderEvent(StrEnum):
    """Events of the order-update stream (Alpaca's trade_updates names)."""

    NEW = "new"
    PARTIAL_FILL = "partial_fill"
    FILL = "fill"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"
    REPLACED = "replaced"
    PENDING_NEW = "pending_new"
    PENDING_CANCEL = "pending_cancel"
    DONE_FOR_DAY = "done_for_day"


@dataclass(frozen=True)
class Quote:
    symbol: str
    bid: Decimal
    ask: Decimal
    timestamp: dt.datetime
    bid_size: Decimal = Decimal(0)
    ask_size: Decimal = Decimal(0)

    @property
    def mid(self) -> Decimal:
        return (self.bid + self.ask) / 2

    @property
    def spread(self) -> Decimal:
        return self.ask - self.bid


@dataclass(frozen=True)
class Account:
    account_id: str
    equity: Decimal
    cash: Decimal
    buying_power: Decimal
    currency: str = "USD"
    status: str = "ACTIVE"
    trading_blocked: bool = False


@dataclass(frozen=True)
class Position:
    symbol: str
    qty: Decimal
    avg_entry_price: Decimal
    current_price: Decimal
    market_value: Decimal

    @property
    def unrealized_pl(self) -> Decimal:
        return self.market_value - self.qty * self.avg_entry_price


FRACTIONAL_STEP = Decimal("0.000000001")  # brokers accept fractional quantities to 9 decimals


@dataclass(frozen=True)
class Asset:
    symbol: str
    tradable: bool
    fractionable: bool
    name: str = ""
    qty_increment: Decimal | None = None  # None: 9 decimals when fractionable, else whole shares

    @property
    def qty_step(self) -> Decimal:
        """The smallest quantity step an order in this asset may use."""
        if self.qty_increment is not None:
            return self.qty_increment
        return FRACTIONAL_STEP if self.fractionable else Decimal(1)


@dataclass(frozen=True)
class Clock:
    timestamp: dt.datetime
    is_open: bool
    next_open: dt.datetime
    next_close: dt.datetime


@dataclass(frozen=True)
class OrderRequest:
    """What we ask a broker for: exactly one of `qty` or `notional`; `limit_price` only for limits."""

    symbol: str
    side: Side
    type: OrderType
    client_order_id: str
    qty: Decimal | None = None
    notional: Decimal | None = None
    limit_price: Decimal | None = None
    time_in_force: str = "day"

    def __post_init__(self) -> None:
        if (self.qty is None) == (self.notional is None):
            raise ValueError("an order needs exactly one of qty or notional")
        if (self.type == OrderType.LIMIT) != (self.limit_price is not None):
            raise ValueError("limit orders need a limit price, and only limit orders take one")


@dataclass(frozen=True)
class Order:
    id: str
    client_order_id: str
    symbol: str
    side: Side
    type: OrderType
    status: OrderStatus
    qty: Decimal | None
    notional: Decimal | None
    limit_price: Decimal | None
    filled_qty: Decimal
    filled_avg_price: Decimal | None
    submitted_at: dt.datetime
    updated_at: dt.datetime

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    def can_become(self, new: Order) -> bool:
        """Whether `new` is a later state of this order than this one (the rule is `moves_forward`)."""
        return moves_forward(self.is_final, self.filled_qty, new.is_final, new.filled_qty)

    @property
    def filled_notional(self) -> Decimal:
        return self.filled_qty * (self.filled_avg_price or Decimal(0))

    def with_status(self, status: OrderStatus, **changes: object) -> Order:
        return replace(self, status=status, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class OrderUpdate:
    """One event of the order-update stream; `price`/`qty` describe this execution for fill events."""

    event: OrderEvent
    order: Order
    timestamp: dt.datetime
    price: Decimal | None = None
    qty: Decimal | None = None
    extra: dict[str, str] = field(default_factory=dict)
