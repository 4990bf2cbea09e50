"""The ledger's record of control actions and paused strategies, kept beside the runs they affect.

Why in the ledger: the dashboard, the CLI and `run-daily` already share this file (WAL lets them work at
once), so a pause set from the page is seen by the next scheduled run without any other shared state, and
"who did what, when" sits next to the runs it changed. The dashboard's earlier audit file
(`$ALCHEMISER_HOME/web/actions.jsonl`) is imported by the *reader*, `import_audit_file`, the first time
actions are read or written after the upgrade (a migration sees only the database, not the home); the file
is then renamed `actions.jsonl.imported`, so it is imported once.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Final

from typing_extensions import TypedDict  # the TypedDict pydantic accepts on 3.11

from alchemiser.ledger.rows import _dumps, _loads, _parse_ts_req, _ts
from alchemiser.ledger.store import Ledger

log = logging.getLogger(__name__)

SOURCES: Final = frozenset({"web", "cli"})
IMPORTED_KEY: Final = "imported_from"


class ActionJson(TypedDict):
    """One control action (`ledger actions --json` lists these, newest first)."""

    id: int
    at: Annotated[str, "when, ISO-8601 in UTC"]
    action: Annotated[str, "kill_switch, pause, resume, run_now, liquidate_requested or liquidate"]
    detail: Annotated[dict[str, Any], "what the action was given (strategy, broker, run id, …)"]
    source: Annotated[str, "web or cli"]
    outcome: Annotated[str, "what came of it, in words"]


@dataclass(frozen=True)
class ActionRow:
    id: int
    at: dt.datetime
    action: str
    detail: dict[str, Any]
    source: str
    outcome: str

    def as_dict(self) -> ActionJson:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "action": self.action,
            "detail": self.detail,
            "source": self.source,
            "outcome": self.outcome,
        }


@dataclass(frozen=True)
class HeldDecision:
    """A strategy's last decision that was traded: what a paused sleeve keeps holding."""

    run_id: str
    trading_day: dt.date
    broker: str
    weights: dict[str, float]
    equity: Decimal  # the account's equity right after that run
    prices: dict[str, Decimal]  # the prices of the positions right after that run


def _check_source(source: str) -> None:
    if source not in SOURCES:
        raise ValueError(f"source must be one of {sorted(SOURCES)}, not {source!r}")


def record_action(
    ledger: Ledger, action: str, detail: dict[str, Any], source: str, outcome: str, at: dt.datetime | None = None
) -> int:
    """Append one control action; returns its id."""
    _check_source(source)
    when = at or dt.datetime.now(dt.UTC)
    with ledger._write() as conn:
        cur = conn.execute(
            "INSERT INTO control_actions (at, action, detail_json, source, outcome) VALUES (?, ?, ?, ?, ?)",
            (_ts(when), action, _dumps(detail), source, outcome),
        )
        return int(cur.lastrowid or 0)


def actions(ledger: Ledger, limit: int = 50) -> list[ActionRow]:
    """The latest control actions, newest first."""
    rows = ledger._read("SELECT * FROM control_actions ORDER BY at DESC, id DESC LIMIT ?", (limit,))
    return [
        ActionRow(r["id"], _parse_ts_req(r["at"]), r["action"], _loads(r["detail_json"]), r["source"], r["outcome"])
        for r in rows
    ]


def pause(ledger: Ledger, strategy: str, source: str, at: dt.datetime | None = None) -> tuple[dt.datetime, bool]:
    """Pause `strategy`: (since when, whether this call paused it — False when it already was)."""
    _check_source(source)
    when = at or dt.datetime.now(dt.UTC)
    with ledger._write() as conn:
        row = conn.execute("SELECT since FROM strategy_pauses WHERE strategy = ?", (strategy,)).fetchone()
        if row is not None:
            return _parse_ts_req(row["since"]), False
        conn.execute(
            "INSERT INTO strategy_pauses (strategy, since, source) VALUES (?, ?, ?)", (strategy, _ts(when), source)
        )
    return when.astimezone(dt.UTC), True


def resume(ledger: Ledger, strategy: str) -> dt.datetime | None:
    """Resume `strategy`; returns since when it had been paused (None when it was not)."""
    with ledger._write() as conn:
        row = conn.execute("SELECT since FROM strategy_pauses WHERE strategy = ?", (strategy,)).fetchone()
        if row is None:
            return None
        conn.execute("DELETE FROM strategy_pauses WHERE strategy = ?", (strategy,))
        return _parse_ts_req(row["since"])


def paused(ledger: Ledger) -> dict[str, dt.datetime]:
    """Every paused strategy and since when."""
    rows = ledger._read("SELECT strategy, since FROM strategy_pauses ORDER BY strategy")
    return {r["strategy"]: _parse_ts_req(r["since"]) for r in rows}


def last_decision(ledger: Ledger, strategy: str, broker: str | None = None) -> HeldDecision | None:
    """The latest run where `strategy` decided (not held while paused) and the run traded to an "after"
    snapshot — optionally on one broker, since a sim and a paper account hold different things."""
    sql = (
        "SELECT s.weights_json, r.run_id, r.trading_day, r.broker, p.account_json, p.positions_json"
        " FROM signals s JOIN runs r USING (run_id) JOIN snapshots p ON p.run_id = r.run_id AND p.kind = 'after'"
        " WHERE s.strategy = ? AND s.ok = 1 AND json_extract(s.extra_json, '$.paused_since') IS NULL"
    )
    params: list[object] = [strategy]
    if broker is not None:
        sql += " AND r.broker = ?"
        params.append(broker)
    rows = ledger._read(sql + " ORDER BY r.started_at DESC, r.rowid DESC LIMIT 1", params)
    if not rows:
        return None
    r = rows[0]
    account, positions = _loads(r["account_json"]), _loads(r["positions_json"])
    return HeldDecision(
        r["run_id"],
        dt.date.fromisoformat(r["trading_day"]),
        r["broker"],
        {str(k): float(v) for k, v in (_loads(r["weights_json"]) or {}).items()},
        Decimal(str(account["equity"])),
        {str(p["symbol"]): Decimal(str(p["current_price"])) for p in positions if p.get("current_price") is not None},
    )


def import_audit_file(ledger: Ledger, path: Path) -> int:
    """Import the dashboard's old `actions.jsonl` once; returns how many actions were imported.

    The file is first renamed (atomic: of two processes, one wins), imported in one transaction, then
    renamed `.imported`. Each imported row names its line, so a crash between the commit and the last
    rename cannot import the file twice. Lines that are not JSON objects with `at` and `action` are skipped
    (and logged), never fatal: an old audit line must not stop the dashboard or a run.
    """
    claimed = path.with_name(path.name + ".importing")
    done = path.with_name(path.name + ".imported")
    if path.exists():
        try:
            os.replace(path, claimed)
        except FileNotFoundError:  # another process claimed it first
            return 0
    if not claimed.exists():
        return 0
    lines = claimed.read_text(encoding="utf-8", errors="replace").splitlines()
    rows: list[tuple[str, str, str, str, str]] = []
    for number, line in enumerate(lines, start=1):
        try:
            entry = json.loads(line)
            at = dt.datetime.fromisoformat(str(entry.pop("at")))
            action = str(entry.pop("action"))
            if at.tzinfo is None:
                raise ValueError("naive time")
        except (ValueError, KeyError, TypeError, AttributeError):
            if line.strip():
                log.warning("skipped line %d of %s: not an action record", number, claimed)
            continue
        detail = {**entry, IMPORTED_KEY: f"{path.name}:{number}"}
        rows.append((_ts(at), action, _dumps(detail), "web", "recorded by the dashboard"))
    with ledger._write() as conn:
        seen = conn.execute(
            "SELECT 1 FROM control_actions WHERE json_extract(detail_json, ?) IS NOT NULL LIMIT 1",
            (f"$.{IMPORTED_KEY}",),
        ).fetchone()
        if seen is None:
            conn.executemany(
                "INSERT INTO control_actions (at, action, detail_json, source, outcome) VALUES (?, ?, ?, ?, ?)", rows
            )
    os.replace(claimed, done)
    return 0 if seen is not None else len(rows)
