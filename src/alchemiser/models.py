"""Plain typed domain values shared by planning, execution, brokers and the ledger.

Money and quantities are `Decimal` here (the broker boundary and the ledger); indicator maths stays in
floats. Times are timezone-aware.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
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


class RunStatus(StrEnum):
    """How a trading run ended (or `RUNNING` while it is in progress); the values are what the ledger and
    `--json` hold."""

    RUNNING = "running"
    OK = "ok"
    NOTHING_TO_DO = "nothing_to_do"
    PARTIAL = "partial"
    BLOCKED = "blocked"
    HALTED = "halted"
    FAILED = "failed"
    MARKET_CLOSED = "market_closed"
    ALREADY_RAN = "already_ran"  # refused before doing anything; never recorded in the ledger

    @property
    def exit_code(self) -> int:
        """The process exit code for a run ending this way: 0 for success and for the once-a-session guard
        doing its job (a cron job firing twice is not an error), 1 for everything else."""
        return 0 if self in _SUCCESS_RUN_STATUSES else 1

    @property
    def took_the_session(self) -> bool:
        """Whether a run ending this way was this session's run (so another one is refused unless forced);
        a failed, halted or closed-market run lets a later run try again."""
        return self in _SESSION_RUN_STATUSES


_SUCCESS_RUN_STATUSES = frozenset({RunStatus.OK, RunStatus.NOTHING_TO_DO, RunStatus.ALREADY_RAN})
_SESSION_RUN_STATUSES = frozenset({RunStatus.OK, RunStatus.NOTHING_TO_DO, RunStatus.PARTIAL, RunStatus.BLOCKED})
# What the ledger may record: every status but ALREADY_RAN (a refused run leaves no record).
RECORDED_RUN_STATUSES = frozenset(RunStatus) - {RunStatus.ALREADY_RAN}


class ExecutionStatus(StrEnum):
    """How the executor's sell-then-buy pass ended; each value is also the run status it gives."""

    OK = "ok"
    PARTIAL = "partial"
    BLOCKED = "blocked"
    HALTED = "halted"

    @property
    def run_status(self) -> RunStatus:
        return RunStatus(self.value)


class OrderPhase(StrEnum):
    """Why an order was placed, recorded with it: a close-position exit, a trim, a first buy, a re-priced
    limit, the market order finishing a limit's unfilled remainder, or a dollar top-up."""

    EXIT = "exit"
    SELL = "sell"
    BUY = "buy"
    REPRICE = "reprice"
    REMAINDER = "remainder"
    TOP_UP = "top-up"


def decimal_or_none(text: str | None) -> Decimal | None:
    """Exact decimal text (as the ledger and the simulated broker store numbers) back to a `Decimal`."""
    return None if text is None else Decimal(text)


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


@dataclass(frozen=True)
class OrderUpdate:
    """One event of the order-update stream; `price`/`qty` describe this execution for fill events."""

    event: OrderEvent
    order: Order
    timestamp: dt.datetime
    price: Decimal | None = None
    qty: Decimal | None = None
    extra: dict[str, str] = field(default_factory=dict)
