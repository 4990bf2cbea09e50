"""The ledger's schema and its migrations: the tables, and how an older file is brought up to date.

The schema version is SQLite's `PRAGMA user_version`; a file newer than this program is refused rather
than misread.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

from alchemiser.ledger.errors import LedgerError

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "Migration", "migrate"]

Migration = Callable[[sqlite3.Connection], None]


def _v1_initial(conn: sqlite3.Connection) -> None:
    """Create the first schema. Statements run one by one because `executescript` would commit early."""
    for statement in (
        """CREATE TABLE runs (
            run_id TEXT PRIMARY KEY,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            mode TEXT NOT NULL,
            broker TEXT NOT NULL,
            trading_day TEXT NOT NULL,
            config_digest TEXT NOT NULL,
            status TEXT NOT NULL,
            message TEXT NOT NULL DEFAULT '',
            summary_json TEXT,
            timings_json TEXT
        )""",
        "CREATE INDEX runs_day_broker ON runs (trading_day, broker)",
        "CREATE INDEX runs_status ON runs (status)",
        """CREATE TABLE signals (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT NOT NULL REFERENCES runs (run_id),
            strategy TEXT NOT NULL,
            share TEXT,
            ok INTEGER NOT NULL,
            error TEXT,
            weights_json TEXT NOT NULL,
            trace_json TEXT,
            extra_json TEXT NOT NULL DEFAULT '{}'
        )""",
        "CREATE INDEX signals_run ON signals (run_id)",
        """CREATE TABLE plan (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT NOT NULL REFERENCES runs (run_id),
            symbol TEXT NOT NULL,
            action TEXT NOT NULL,
            current_weight TEXT,
            target_weight TEXT,
            current_value TEXT,
            target_value TEXT,
            trade_value TEXT,
            qty TEXT,
            reason TEXT NOT NULL DEFAULT ''
        )""",
        "CREATE INDEX plan_run ON plan (run_id)",
        """CREATE TABLE orders (
            client_order_id TEXT PRIMARY KEY,
            run_id TEXT NOT NULL REFERENCES runs (run_id),
            broker_order_id TEXT,
            symbol TEXT NOT NULL,
            side TEXT NOT NULL,
            type TEXT NOT NULL,
            time_in_force TEXT NOT NULL,
            qty TEXT,
            notional TEXT,
            limit_price TEXT,
            phase TEXT NOT NULL,
            attempt INTEGER NOT NULL,
            status TEXT NOT NULL,
            filled_qty TEXT NOT NULL DEFAULT '0',
            filled_avg_price TEXT,
            intent_at TEXT NOT NULL,
            submitted_at TEXT,
            updated_at TEXT NOT NULL,
            error TEXT,
            quote_bid TEXT,
            quote_ask TEXT,
            quote_at TEXT
        )""",
        "CREATE INDEX orders_run ON orders (run_id)",
        "CREATE INDEX orders_status ON orders (status)",
        """CREATE TABLE order_events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            client_order_id TEXT NOT NULL REFERENCES orders (client_order_id),
            event TEXT NOT NULL,
            status TEXT NOT NULL,
            filled_qty TEXT NOT NULL,
            filled_avg_price TEXT,
            price TEXT,
            qty TEXT,
            at TEXT NOT NULL,
            extra_json TEXT NOT NULL DEFAULT '{}'
        )""",
        # A stream that replays after a reconnect must not double-count fills.
        "CREATE UNIQUE INDEX order_events_once ON order_events (client_order_id, event, at, filled_qty)",
        """CREATE TABLE snapshots (
            run_id TEXT NOT NULL REFERENCES runs (run_id),
            kind TEXT NOT NULL,
            at TEXT NOT NULL,
            account_json TEXT NOT NULL,
            positions_json TEXT NOT NULL,
            PRIMARY KEY (run_id, kind)
        )""",
    ):
        conn.execute(statement)


def _v2_controls(conn: sqlite3.Connection) -> None:
    """Control actions (kill switch, run now, pause/resume, liquidate) and which strategies are paused.

    The dashboard's earlier audit file (`web/actions.jsonl`) is not imported here — a migration sees only
    the database, not the home — but by `alchemiser.ledger.controls.import_audit_file` the first time the
    actions are read or written (see there)."""
    for statement in (
        """CREATE TABLE control_actions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,
            action TEXT NOT NULL,
            detail_json TEXT NOT NULL DEFAULT '{}',
            source TEXT NOT NULL CHECK (source IN ('web', 'cli')),
            outcome TEXT NOT NULL DEFAULT ''
        )""",
        "CREATE INDEX control_actions_at ON control_actions (at)",
        """CREATE TABLE strategy_pauses (
            strategy TEXT PRIMARY KEY,
            since TEXT NOT NULL,
            source TEXT NOT NULL CHECK (source IN ('web', 'cli'))
        )""",
    ):
        conn.execute(statement)


# Migration i (0-based) takes the schema from user_version i to i + 1. Append, never edit or reorder.
MIGRATIONS: tuple[Migration, ...] = (_v1_initial, _v2_controls)
SCHEMA_VERSION: Final = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection, path: Path, migrations: Sequence[Migration]) -> None:
    """Bring the file at `path` up to `len(migrations)`; the version is re-read under a write lock so two
    processes opening a fresh file at once do not both create the tables."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version > len(migrations):
            raise LedgerError(
                f"{path} has ledger schema version {version}, newer than this program's "
                f"{len(migrations)}; upgrade The Alchemiser to read it"
            )
        for index in range(version, len(migrations)):
            migrations[index](conn)
        if version != len(migrations):
            conn.execute(f"PRAGMA user_version = {len(migrations)}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
