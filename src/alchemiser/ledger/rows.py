"""How the ledger stores values and reads them back: exact decimal text, UTC times, JSON, typed rows."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import numbers
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Any, Final

from typing_extensions import TypedDict  # the TypedDict pydantic accepts on 3.11

from alchemiser.account_status import AccountJson
from alchemiser.ledger.views import OrderJson, RunJson, SnapshotPositionJson
from alchemiser.models import (
    FINAL_STATUSES,
    RECORDED_RUN_STATUSES,
    OrderPhase,
    OrderType,
    RunStatus,
    Side,
    decimal_or_none,
)

MODES: Final = frozenset({"sim", "paper", "live", "backtest"})
RUN_STATUSES: Final = RECORDED_RUN_STATUSES
SNAPSHOT_KINDS: Final = frozenset({"before", "after"})

# Local order statuses that never reach the broker's vocabulary.
INTENT: Final = "intent"  # written before the broker call; the order may or may not exist at the broker
SUBMIT_FAILED: Final = "submit_failed"  # the broker call failed; nothing to reconcile
# An order in one of these states needs no more attention; everything else is a reconciliation candidate.
FINAL_ORDER_STATUSES: Final = frozenset({str(s) for s in FINAL_STATUSES} | {SUBMIT_FAILED})


def jsonable(value: Any) -> Any:
    """A JSON-safe copy of ledger output: Decimal → str, date/datetime → ISO text, enums → value."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date):  # datetime is a date too
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((jsonable(v) for v in value), key=str)
    return value


def _dumps(value: Any) -> str:
    # default=str: an odd object deep in a decision trace is kept as its text rather than losing the run's record.
    return json.dumps(jsonable(value), ensure_ascii=False, allow_nan=True, default=str)


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _num(value: object) -> str | None:
    """Numbers as exact decimal text; floats go through `str` so 0.1 is stored as "0.1", not its binary."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise TypeError("a bool is not a number for the ledger")
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real | str):  # numbers.Real covers numpy floats too
        return str(Decimal(str(value)))
    raise TypeError(f"cannot store {type(value).__name__} as a number")


def _ts(value: dt.datetime) -> str:
    """Aware datetimes as UTC ISO text, so text order is time order and every reader agrees on the zone."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: the ledger only stores timezone-aware times")
    return value.astimezone(dt.UTC).isoformat()


def _parse_ts(text: str | None) -> dt.datetime | None:
    return None if text is None else dt.datetime.fromisoformat(text)


def _parse_ts_req(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class RunRow:
    """One trading run as recorded; `status` is "running" until `finish_run` (or forever, if it crashed)."""

    run_id: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    mode: str
    broker: str
    trading_day: dt.date
    config_digest: str
    status: RunStatus
    message: str
    summary: dict[str, Any] | None
    timings: dict[str, float] | None  # phase → seconds

    def as_dict(self) -> RunJson:
        """JSON-safe form for `--json` output (numbers and times as text)."""
        result: RunJson = jsonable(self)
        return result


@dataclass(frozen=True)
class OrderRow:
    """One order as the ledger knows it: the request, where it stands, and the quote it was priced from."""

    client_order_id: str
    run_id: str
    broker_order_id: str | None
    symbol: str
    side: Side
    type: OrderType
    time_in_force: str
    qty: Decimal | None
    notional: Decimal | None
    limit_price: Decimal | None
    phase: OrderPhase
    attempt: int
    status: str
    filled_qty: Decimal
    filled_avg_price: Decimal | None
    intent_at: dt.datetime
    submitted_at: dt.datetime | None
    updated_at: dt.datetime
    error: str | None
    quote_bid: Decimal | None
    quote_ask: Decimal | None
    quote_at: dt.datetime | None

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_ORDER_STATUSES

    @property
    def filled_notional(self) -> Decimal:
        return self.filled_qty * (self.filled_avg_price or Decimal(0))

    def as_dict(self) -> OrderJson:
        """JSON-safe form for `--json` output (numbers and times as text)."""
        result: OrderJson = jsonable(self)
        return result


class SignalRecord(TypedDict):
    """One strategy's recorded decision; keys beyond these (source, price_mode, …) come back as recorded."""

    name: str
    share: Decimal | None
    ok: bool
    error: str | None
    weights: dict[str, float]
    trace: Any  # the decision path as recorded, None when there was none


class PlanRecord(TypedDict):
    """One recorded plan line; numbers exact, null where the plan had none."""

    symbol: str
    action: str
    current_weight: Decimal | None
    target_weight: Decimal | None
    current_value: Decimal | None
    target_value: Decimal | None
    trade_value: Decimal | None
    qty: Decimal | None
    reason: str


class EventRecord(TypedDict):
    """One broker event of an order, as recorded."""

    event: str
    status: str
    filled_qty: Decimal
    filled_avg_price: Decimal | None
    price: Decimal | None
    qty: Decimal | None
    at: dt.datetime
    extra: Any  # what else the broker said, stored as given


class FillRecord(TypedDict):
    """One execution, derived from the fill events."""

    client_order_id: str
    symbol: str
    side: str
    qty: Decimal
    price: Decimal
    at: dt.datetime


class SnapshotRecord(TypedDict):
    """Account and positions as snapshotted; their numbers are the exact text they were stored as."""

    run_id: str
    kind: str
    at: dt.datetime
    account: AccountJson
    positions: list[SnapshotPositionJson]


def _run_row(r: sqlite3.Row) -> RunRow:
    return RunRow(
        run_id=r["run_id"],
        started_at=_parse_ts_req(r["started_at"]),
        finished_at=_parse_ts(r["finished_at"]),
        mode=r["mode"],
        broker=r["broker"],
        trading_day=dt.date.fromisoformat(r["trading_day"]),
        config_digest=r["config_digest"],
        status=RunStatus(r["status"]),
        message=r["message"],
        summary=_loads(r["summary_json"]),
        timings=_loads(r["timings_json"]),
    )


def _order_row(r: sqlite3.Row) -> OrderRow:
    return OrderRow(
        client_order_id=r["client_order_id"],
        run_id=r["run_id"],
        broker_order_id=r["broker_order_id"],
        symbol=r["symbol"],
        side=Side(r["side"]),
        type=OrderType(r["type"]),
        time_in_force=r["time_in_force"],
        qty=decimal_or_none(r["qty"]),
        notional=decimal_or_none(r["notional"]),
        limit_price=decimal_or_none(r["limit_price"]),
        phase=OrderPhase(r["phase"]),
        attempt=int(r["attempt"]),
        status=r["status"],
        filled_qty=Decimal(r["filled_qty"]),
        filled_avg_price=decimal_or_none(r["filled_avg_price"]),
        intent_at=_parse_ts_req(r["intent_at"]),
        submitted_at=_parse_ts(r["submitted_at"]),
        updated_at=_parse_ts_req(r["updated_at"]),
        error=r["error"],
        quote_bid=decimal_or_none(r["quote_bid"]),
        quote_ask=decimal_or_none(r["quote_ask"]),
        quote_at=_parse_ts(r["quote_at"]),
    )
