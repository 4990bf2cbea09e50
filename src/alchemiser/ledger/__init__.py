"""The SQLite ledger: the durable record of what each run decided and what the broker did.

Reports, the dashboard and crash recovery all read from here, so the ledger favours durability over
speed: WAL journal with `synchronous=FULL`, and every write is its own committed transaction, so a
crash (or a kill -9) loses nothing a method already returned from. Order intents are written *before*
the broker call and results after it; after a crash, `open_intents()` lists exactly the orders whose
fate must be reconciled with the broker before anything new is placed.

Conventions of the stored data:
- money, quantities, weights and prices are `TEXT` holding `str(Decimal)` and come back as `Decimal`
  (exact: `Decimal("1.50")` reads back as `Decimal("1.50")`);
- times are ISO-8601 text in UTC and come back as timezone-aware `datetime`s; naive times are refused;
- free-form payloads (signal weights and traces, run summaries, snapshots) are JSON; `Decimal`s inside
  them are written as strings, so readers get strings back there.

The ledger stores only what it is given; no method accepts credentials, so none can leak into the file.

One `sqlite3` connection is shared by all threads of a process and guarded by a lock; several processes
may open the same file (WAL lets readers run beside a writer, and writers wait on `busy_timeout`).

Layout: `schema` (tables and migrations), `rows` (how values are stored and read back as typed rows),
`store` (the `Ledger` itself: recording and queries), `errors`.
"""

from __future__ import annotations

from alchemiser.ledger.errors import DuplicateOrderError, LedgerError
from alchemiser.ledger.rows import (
    FINAL_ORDER_STATUSES,
    MODES,
    RUN_STATUSES,
    SNAPSHOT_KINDS,
    OrderRow,
    RunRow,
    jsonable,
)
from alchemiser.ledger.schema import MIGRATIONS, SCHEMA_VERSION
from alchemiser.ledger.store import Ledger

__all__ = [
    "FINAL_ORDER_STATUSES",
    "MIGRATIONS",
    "MODES",
    "RUN_STATUSES",
    "SCHEMA_VERSION",
    "SNAPSHOT_KINDS",
    "DuplicateOrderError",
    "Ledger",
    "LedgerError",
    "OrderRow",
    "RunRow",
    "jsonable",
]
