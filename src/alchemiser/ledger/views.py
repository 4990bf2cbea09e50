"""The JSON form of what the ledger recorded: the types `ledger …` and `report` print with `--json`.

The ledger returns Decimals and datetimes; its JSON form keeps numbers as exact text (rounded by key when
printed) and times as ISO text. These `TypedDict`s declare that form, so the README's "JSON output"
section and its shape test cover the ledger commands too. Payloads the ledger stores as given (a run's
summary, a decision trace, an event's broker extras) are typed `Any`: their shape is that of the version
that recorded them. This module imports no heavy library, so `ledger runs` starts quickly.
"""

from __future__ import annotations

from typing import Annotated, Any, NotRequired

from typing_extensions import TypedDict  # the TypedDict pydantic accepts on 3.11

from alchemiser.account_status import AccountJson
from alchemiser.formatting import Dollars, Fraction, Price, Shares
from alchemiser.models import OrderPhase, RunStatus

Timestamp = Annotated[str, "ISO-8601 time in UTC"]


class RunJson(TypedDict):
    """One recorded run (`ledger runs --json` lists these)."""

    run_id: str
    started_at: Timestamp
    finished_at: Annotated[str | None, "ISO-8601 time in UTC, null while running (or if it crashed)"]
    mode: Annotated[str, "sim, paper, live or backtest"]
    broker: Annotated[str, "sim or alpaca"]
    trading_day: Annotated[str, "the session it traded for (YYYY-MM-DD)"]
    config_digest: Annotated[str, "short hash of the configuration it ran with"]
    status: Annotated[RunStatus, "the run's outcome (running until it finishes)"]
    message: Annotated[str, "the outcome in words"]
    summary: Annotated[Any, "the run's `trade --json` as recorded, null while running"]
    timings: Annotated[dict[str, float] | None, "phase → seconds, null while running"]


class OrderJson(TypedDict):
    """One order as the ledger knows it (`ledger orders --json` lists these)."""

    client_order_id: Annotated[str, "our id, stable across retries of one intent"]
    run_id: str
    broker_order_id: Annotated[str | None, "the broker's id, null when it never accepted the order"]
    symbol: str
    side: Annotated[str, "buy or sell"]
    type: Annotated[str, "market or limit"]
    time_in_force: Annotated[str, "e.g. day"]
    qty: Annotated[Shares | None, "shares asked for, null for a dollar order"]
    notional: Annotated[Dollars | None, "dollars asked for, null for a share order"]
    limit_price: Annotated[Price | None, "null for a market order"]
    phase: Annotated[OrderPhase, "which step of the run placed it"]
    attempt: Annotated[int, "1 for the first try of this intent"]
    status: Annotated[str, "intent, submit_failed, or the broker's last status"]
    filled_qty: Shares
    filled_avg_price: Annotated[Price | None, "null when nothing filled"]
    intent_at: Annotated[str, "when the intent was recorded (before the broker call), UTC"]
    submitted_at: Annotated[str | None, "when the broker accepted it, UTC"]
    updated_at: Annotated[str, "the last change, UTC"]
    error: Annotated[str | None, "why it failed, null when it did not"]
    quote_bid: Annotated[Price | None, "the bid it was priced from"]
    quote_ask: Annotated[Price | None, "the ask it was priced from"]
    quote_at: Annotated[str | None, "when that quote was read, UTC"]


class OrderEventJson(TypedDict):
    """One broker event of an order, in arrival order."""

    event: Annotated[str, "new, fill, partial_fill, canceled, …"]
    status: Annotated[str, "the order's status after the event"]
    filled_qty: Annotated[Shares, "cumulative shares filled"]
    filled_avg_price: Price | None
    price: Annotated[Price | None, "this execution's price, when the broker gave one"]
    qty: Annotated[Shares | None, "this execution's shares, when the broker gave them"]
    at: Timestamp
    extra: Annotated[Any, "what else the broker said, as recorded"]


class OrderTimelineJson(OrderJson):
    """An order with its events."""

    events: list[OrderEventJson]


class FillJson(TypedDict):
    """One execution, from the fill events."""

    client_order_id: str
    symbol: str
    side: Annotated[str, "buy or sell"]
    qty: Shares
    price: Price
    at: Timestamp


class SnapshotPositionJson(TypedDict):
    """A position as snapshotted."""

    symbol: str
    qty: Shares
    avg_entry_price: Price
    current_price: Price
    market_value: Dollars


class SnapshotJson(TypedDict):
    """The account and positions just before or after trading."""

    run_id: str
    kind: Annotated[str, "before or after"]
    at: Timestamp
    account: AccountJson
    positions: list[SnapshotPositionJson]


class RecordedSignalJson(TypedDict):
    """One strategy's recorded decision (older runs lack the optional fields)."""

    name: str
    share: Annotated[Fraction | None, "its share of the account"]
    ok: Annotated[bool, "false when it failed to decide"]
    error: Annotated[str | None, "why it failed, null when ok"]
    weights: Annotated[dict[str, float], "symbol → weight within the strategy (0–1); {} when failed"]
    trace: Annotated[Any, "the decision path as `signal --json` gave it, null when none was recorded"]
    source: NotRequired[Annotated[str, "built-in name, symphony file, module:Class, or liquidate"]]
    paused_since: NotRequired[Annotated[str | None, "when it was paused, null when it decided"]]
    held_from_run: NotRequired[Annotated[str | None, "the run whose decision a paused strategy held"]]
    price_mode: NotRequired[Annotated[str, "previous_close or live"]]
    live_prices: NotRequired[Annotated[Any, "symbol → the live price it read"]]


class PlanLineJson(TypedDict):
    """One recorded line of the rebalance plan."""

    symbol: str
    action: Annotated[str, "exit (sell all), sell (trim), buy, or hold"]
    current_weight: Fraction | None
    target_weight: Fraction | None
    current_value: Dollars | None
    target_value: Dollars | None
    trade_value: Annotated[Dollars | None, "target minus current"]
    qty: Annotated[Shares | None, "shares to sell, or whole shares to buy; null: by dollars"]
    reason: str


class LedgerShowJson(TypedDict):
    """`ledger show RUN --json`: everything recorded about one run."""

    run: RunJson
    signals: list[RecordedSignalJson]
    plan: list[PlanLineJson]
    orders: list[OrderTimelineJson]
    fills: list[FillJson]
    before: Annotated[SnapshotJson | None, "null when the run stopped before reading the account"]
    after: Annotated[SnapshotJson | None, "null when the run did not get to trade"]
