"""Reading a running sweep's journal from the outside, as the tests that interrupt sweeps must."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def journal_rows(home: Path) -> int:
    """Backtests committed so far to the (single) sweep run under `home` (the runner commits one per
    finished backtest); 0 before the journal or its table exists."""
    journals = list((home / "sweeps").glob("*/journal.sqlite"))
    if not journals:
        return 0
    try:
        with sqlite3.connect(f"file:{journals[0]}?mode=ro", uri=True, timeout=5) as db:
            return int(db.execute("SELECT COUNT(*) FROM rows").fetchone()[0])
    except sqlite3.Error:  # created but the table not yet
        return 0
