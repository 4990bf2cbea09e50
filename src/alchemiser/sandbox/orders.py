"""Orders as Alpaca shows them: SimBroker's `Order` plus what only the wire protocol knows.

SimBroker keeps the exchange-side facts (status, fills, prices). Alpaca orders also carry a time in force,
`extended_hours` and the replace links (`replaces`, `replaced_by`, `replaced_at`, status `replaced`), which
the simulator has no notion of; `MetaStore` keeps them beside it (in the same SQLite file when the account
is persistent, so a restarted sandbox still shows replaced orders as such).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from dataclasses import dataclass, replace
from pathlib import Path

from alchemiser.models import Order, OrderStatus, Side
from alchemiser.sandbox.common import JSONDict, asset_id, num, rfc3339, rfc3339_opt

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sandbox_order_meta (
    id TEXT PRIMARY KEY,
    time_in_force TEXT NOT NULL,
    extended_hours INTEGER NOT NULL,
    replaces TEXT,
    replaced_by TEXT,
    replaced_at TEXT
);
"""


@dataclass(frozen=True)
class OrderMeta:
    time_in_force: str = "day"
    extended_hours: bool = False
    replaces: str | None = None
    replaced_by: str | None = None
    replaced_at: dt.datetime | None = None


class MetaStore:
    """Per-order wire metadata, in memory and (optionally) in a table of the sandbox's state file."""

    def __init__(self, state_path: Path | None) -> None:
        self._lock = threading.Lock()
        self._meta: dict[str, OrderMeta] = {}
        self._db: sqlite3.Connection | None = None
        if state_path is not None:
            state_path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(state_path), check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.executescript(_SCHEMA)
            for row in self._db.execute(
                "SELECT id, time_in_force, extended_hours, replaces, replaced_by, replaced_at FROM sandbox_order_meta"
            ):
                at = dt.datetime.fromisoformat(row[5]) if row[5] else None
                self._meta[row[0]] = OrderMeta(row[1], bool(row[2]), row[3], row[4], at)

    def get(self, order_id: str) -> OrderMeta:
        with self._lock:
            return self._meta.get(order_id, OrderMeta())

    def put(self, order_id: str, meta: OrderMeta) -> None:
        with self._lock:
            self._meta[order_id] = meta
            if self._db is not None:
                self._db.execute(
                    "INSERT OR REPLACE INTO sandbox_order_meta VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        order_id,
                        meta.time_in_force,
                        int(meta.extended_hours),
                        meta.replaces,
                        meta.replaced_by,
                        meta.replaced_at.isoformat() if meta.replaced_at else None,
                    ),
                )

    def update(self, order_id: str, **changes: object) -> OrderMeta:
        meta = replace(self.get(order_id), **changes)  # type: ignore[arg-type]
        self.put(order_id, meta)
        return meta

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


def shown_status(order: Order, meta: OrderMeta) -> str:
    """A cancelled order that a replace superseded reads `replaced`, as on Alpaca."""
    if order.status == OrderStatus.CANCELED and meta.replaced_by is not None:
        return OrderStatus.REPLACED.value
    return order.status.value


def encode_order(order: Order, meta: OrderMeta) -> JSONDict:
    """The full order object alpaca-py's `Order` model requires (numbers as strings, RFC3339 times)."""
    status = shown_status(order, meta)
    final_at = rfc3339(order.updated_at)
    return {
        "id": order.id,
        "client_order_id": order.client_order_id,
        "created_at": rfc3339(order.submitted_at),
        "updated_at": rfc3339(order.updated_at),
        "submitted_at": rfc3339(order.submitted_at),
        "filled_at": final_at if status == OrderStatus.FILLED.value else None,
        "expired_at": final_at if status == OrderStatus.EXPIRED.value else None,
        "expires_at": None,
        "canceled_at": final_at if status in (OrderStatus.CANCELED.value, OrderStatus.REPLACED.value) else None,
        "failed_at": final_at if status == OrderStatus.REJECTED.value else None,
        "replaced_at": rfc3339_opt(meta.replaced_at),
        "replaced_by": meta.replaced_by,
        "replaces": meta.replaces,
        "asset_id": asset_id(order.symbol),
        "symbol": order.symbol,
        "asset_class": "us_equity",
        "notional": num(order.notional),
        "qty": num(order.qty),
        "filled_qty": num(order.filled_qty),
        "filled_avg_price": num(order.filled_avg_price),
        "order_class": "simple",
        "order_type": order.type.value,
        "type": order.type.value,
        "side": order.side.value,
        "position_intent": "buy_to_open" if order.side == Side.BUY else "sell_to_close",
        "time_in_force": meta.time_in_force,
        "limit_price": num(order.limit_price),
        "stop_price": None,
        "status": status,
        "extended_hours": meta.extended_hours,
        "legs": None,
        "trail_percent": None,
        "trail_price": None,
        "hwm": None,
        "subtag": None,
        "source": None,
    }
