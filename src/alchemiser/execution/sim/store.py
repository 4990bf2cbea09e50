"""SQLite persistence of a simulated account (WAL), so consecutive processes share one account.

Each change is written in one transaction, so a crash never leaves cash and orders disagreeing.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from alchemiser.errors import cannot_open
from alchemiser.execution.broker import BrokerError
from alchemiser.execution.sim.matching import Holding, OrderRec
from alchemiser.models import Order, OrderStatus, OrderType, Side
from alchemiser.money import dec, dec_text

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


@dataclass
class StoredAccount:
    """What a previous process left: the account's identity, cash, order sequence, positions and orders."""

    account_id: str
    cash: Decimal
    seq: int
    positions: dict[str, Holding] = field(default_factory=dict)
    orders: list[OrderRec] = field(default_factory=list)  # in submission order


class SimStore:
    """The simulated account's SQLite file; a home that cannot hold it is a clear error, not a traceback."""

    def __init__(self, path: Path) -> None:
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
        self._db = db

    def close(self) -> None:
        self._db.close()

    def wipe(self) -> None:
        """Delete the account: orders, positions and its identity."""
        with self._db:
            self._db.execute("BEGIN")
            self._db.execute("DELETE FROM orders")
            self._db.execute("DELETE FROM positions")
            self._db.execute("DELETE FROM meta")

    def save(
        self,
        account_id: str,
        cash: Decimal,
        seq: int,
        rec: OrderRec | None = None,
        symbol: str | None = None,
        position: Holding | None = None,
    ) -> None:
        """Write the account's cash and sequence, and the changed order and `symbol`'s position (None: gone)."""
        db = self._db
        with db:
            db.execute("BEGIN")
            db.executemany(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                [("account_id", account_id), ("cash", str(cash)), ("seq", str(seq))],
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
                        dec_text(o.qty),
                        dec_text(o.notional),
                        dec_text(o.limit_price),
                        str(o.filled_qty),
                        dec_text(o.filled_avg_price),
                        str(rec.filled_cost),
                        dec_text(rec.reserve_price),
                        o.submitted_at.isoformat(),
                        o.updated_at.isoformat(),
                    ),
                )
            if symbol is not None:
                if position is None:
                    db.execute("DELETE FROM positions WHERE symbol = ?", (symbol,))
                else:
                    db.execute(
                        "INSERT OR REPLACE INTO positions VALUES (?, ?, ?)",
                        (symbol, str(position.qty), str(position.avg)),
                    )

    def load(self) -> StoredAccount | None:
        """Read a previous process's account; None when the file holds none."""
        db = self._db
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        if "account_id" not in meta:
            return None
        account = StoredAccount(meta["account_id"], Decimal(meta["cash"]), int(meta["seq"]))
        for sym, qty, avg in db.execute("SELECT symbol, qty, avg_entry_price FROM positions"):
            account.positions[sym] = Holding(Decimal(qty), Decimal(avg))
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
                qty=dec(row[7]),
                notional=dec(row[8]),
                limit_price=dec(row[9]),
                filled_qty=Decimal(row[10]),
                filled_avg_price=dec(row[11]),
                submitted_at=dt.datetime.fromisoformat(row[14]),
                updated_at=dt.datetime.fromisoformat(row[15]),
            )
            account.orders.append(
                OrderRec(order, row[0], filled_cost=Decimal(row[12]), reserve_price=dec(row[13]), full_qty=order.qty)
            )
        return account
