"""Read-only access to the ledger, so the dashboard can never write to it or block the trading process.

The ledger's read methods (runs, orders, events, fills, snapshots) and the reports built on them are the
definition of "what happened"; re-implementing their decoding here would let the dashboard and the CLI
disagree. So we reuse `Ledger`'s readers, but give them a connection opened with SQLite's `mode=ro` URI
instead of the read-write one `Ledger.__init__` opens (which also migrates and sets WAL): any write
attempted through it fails inside SQLite. A missing ledger file means an empty home, not an error.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from alchemiser.ledger import SCHEMA_VERSION, Ledger, LedgerError


def connect_ro(path: Path) -> sqlite3.Connection:
    """A read-only connection; readers in WAL mode never block the writer, nor it them."""
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, timeout=10.0, check_same_thread=False, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout = 10000")
    conn.execute("PRAGMA query_only = ON")
    return conn


def _check_schema(conn: sqlite3.Connection, path: Path) -> None:
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise LedgerError(f"{path} has ledger schema {version}, newer than this program's {SCHEMA_VERSION}")
    if version == 0:
        raise LedgerError(f"{path} is not an initialised ledger yet")


@contextmanager
def open_readonly(path: Path) -> Iterator[Ledger | None]:
    """Yield a `Ledger` whose connection is read-only, or None when the home has no ledger yet."""
    if not path.exists():
        yield None
        return
    conn = connect_ro(path)
    try:
        try:
            _check_schema(conn, path)
        except LedgerError:
            if int(conn.execute("PRAGMA user_version").fetchone()[0]) == 0:
                yield None
                return
            raise
        ledger = Ledger.__new__(Ledger)
        ledger.path = path
        ledger._lock = threading.RLock()
        ledger._conn = conn
        yield ledger
    finally:
        conn.close()
