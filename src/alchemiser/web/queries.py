"""The numbers behind the overview and runs pages, read from the ledger (read-only) in few queries.

Pages must render in well under 300 ms for a ledger of a thousand runs and tens of thousands of orders,
so lists are one SQL query each with the filtering done by SQLite, and per-run detail is only loaded for
the run being shown.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from alchemiser import market_calendar
from alchemiser.errors import AlchemiserError
from alchemiser.ledger import MODES, RUN_STATUSES, Ledger, jsonable
from alchemiser.ledger.rows import SnapshotRecord
from alchemiser.ledger.views import SnapshotPositionJson
from alchemiser.scheduling import next_fire_time
from alchemiser.web.context import WebContext
from alchemiser.web.readonly import open_readonly

MAX_PAGE = 500


class QueryError(AlchemiserError):
    """A request asked for something invalid (a bad filter, an unknown run); the message names the field."""


def _conn(ledger: Ledger) -> sqlite3.Connection:
    conn = ledger._conn
    if conn is None:  # pragma: no cover - open_readonly always sets it
        raise QueryError("the ledger is closed")
    return conn


def equity_points(ledger: Ledger) -> list[dict[str, Any]]:
    """Every before/after snapshot's equity and cash, oldest first (one query; SQLite extracts the two
    numbers, so thousands of snapshots are not decoded in Python)."""
    rows = (
        _conn(ledger)
        .execute(
            "SELECT s.run_id, s.kind, s.at, r.trading_day, json_extract(s.account_json, '$.equity') AS equity,"
            " json_extract(s.account_json, '$.cash') AS cash FROM snapshots s JOIN runs r USING (run_id)"
            " ORDER BY s.at, s.kind DESC"
        )
        .fetchall()
    )
    return [
        {
            "run_id": r["run_id"],
            "kind": r["kind"],
            "at": r["at"],
            "trading_day": r["trading_day"],
            "equity": float(r["equity"]),
            "cash": float(r["cash"]),
        }
        for r in rows
    ]


def latest_snapshot(ledger: Ledger) -> SnapshotRecord | None:
    row = (
        _conn(ledger)
        .execute(
            "SELECT run_id, kind FROM snapshots ORDER BY at DESC, kind ASC LIMIT 1"  # 'after' sorts first on ties
        )
        .fetchone()
    )
    return None if row is None else ledger.snapshot(row["run_id"], row["kind"])


def _latest_targets(ledger: Ledger) -> tuple[str | None, dict[str, float]]:
    row = (
        _conn(ledger)
        .execute(
            "SELECT run_id, summary_json FROM runs WHERE summary_json IS NOT NULL"
            " AND json_extract(summary_json, '$.targets') IS NOT NULL"
            " AND json_extract(summary_json, '$.targets') != '{}' ORDER BY started_at DESC LIMIT 1"
        )
        .fetchone()
    )
    if row is None:
        return None, {}
    targets = json.loads(row["summary_json"]).get("targets") or {}
    return row["run_id"], {str(k): float(v) for k, v in targets.items()}


def day_pnl(points: list[dict[str, Any]]) -> float | None:
    """Latest equity minus the last equity recorded on an earlier trading day (as `trade` reports it)."""
    if not points:
        return None
    last = points[-1]
    for p in reversed(points):
        if p["trading_day"] < last["trading_day"]:
            return float(last["equity"] - p["equity"])
    return None


def positions_view(snapshot: SnapshotRecord | None, targets: dict[str, float]) -> list[dict[str, Any]]:
    """Each held or targeted symbol: value, weight, target and drift (weight − target), in fractions."""
    held: dict[str, SnapshotPositionJson] = {}
    equity = 0.0
    if snapshot is not None:
        equity = float(snapshot["account"]["equity"])
        held = {p["symbol"]: p for p in snapshot["positions"]}
    rows = []
    for symbol in sorted(set(held) | set(targets)):
        p = held.get(symbol)
        value = float(p["market_value"]) if p else 0.0
        weight = value / equity if equity > 0 else 0.0
        target = targets.get(symbol, 0.0)
        rows.append(
            {
                "symbol": symbol,
                "qty": p["qty"] if p else "0",
                "market_value": value,
                "unrealized_pl": (
                    value - float(p["qty"]) * float(p["avg_entry_price"]) if p and p.get("avg_entry_price") else None
                ),
                "weight": weight,
                "target": target,
                "drift": weight - target,
            }
        )
    return rows


def next_run(ctx: WebContext, now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now(dt.UTC)
    return next_fire_time(now, ctx.settings.schedule.minutes_before_close).isoformat()


NOTIFY_FAILURES = ("sending the notification failed", "notification could not be delivered")
LOG_TAIL_BYTES = 256 * 1024


def notification_failure(ctx: WebContext, since: str) -> str | None:
    """The runner only logs a failed notification (it never fails a run), so read the log's tail for one
    logged at or after `since` (ISO time of the last run's start)."""
    path = ctx.home / "logs" / "alchemiser.log"
    try:
        with path.open("rb") as handle:
            handle.seek(max(0, path.stat().st_size - LOG_TAIL_BYTES))
            lines = handle.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if not isinstance(entry, dict) or str(entry.get("time", "")) < since:
            break
        if any(text in str(entry.get("message", "")) for text in NOTIFY_FAILURES):
            return f"the last run's notification failed: {entry.get('message')} (see {path})"
    return None


def warnings(ctx: WebContext, last_run: dict[str, Any] | None) -> list[str]:
    found = []
    kill = ctx.kill_reason()
    if kill:
        found.append(f"{kill}: trading is halted")
    if last_run is not None:
        if last_run["status"] in ("failed", "blocked", "partial", "halted"):
            found.append(f"the last run {last_run['run_id']} ended {last_run['status']}: {last_run['message']}")
        summary = last_run.get("summary") or {}
        if summary.get("synthetic_sample_data"):
            found.append("the last run used synthetic sample data, not real market data")
        recorded = [str(w) for w in summary.get("warnings") or []]
        found.extend(recorded)
        # runs record an undelivered notification as a warning; the log is read only for runs that did not
        failed = (
            None
            if any("notification" in w for w in recorded)
            else notification_failure(ctx, str(last_run["started_at"]))
        )
        if failed:
            found.append(failed)
        day = dt.date.fromisoformat(str(last_run["trading_day"]))
        latest = market_calendar.last_completed_session()
        if day < latest:
            found.append(f"stale: the last run was for {day}, but session {latest} has closed since")
    return found


def overview(ctx: WebContext) -> dict[str, Any]:
    """Everything the overview page shows; `empty` when the home has no runs yet."""
    gaps = data_gaps(ctx)
    base: dict[str, Any] = {
        "home": str(ctx.home),
        "data_gaps": gaps,
        "strategies": [{"name": s.name, "source": s.source, "weight": s.weight} for s in ctx.settings.strategies],
        "next_run": next_run(ctx),
        "kill_switch": ctx.kill_reason(),
        "broker": ctx.settings.broker,
    }
    with open_readonly(ctx.ledger) as ledger:
        if ledger is None or ledger.runs(1) == []:
            found = warnings(ctx, None) + ([data_warning(gaps)] if gaps else [])
            return {**base, "empty": True, "warnings": found, "equity": [], "positions": []}
        last = ledger.runs(1)[0]
        last_run = jsonable(last.as_dict())
        points = equity_points(ledger)
        snapshot = latest_snapshot(ledger)
        target_run, targets = _latest_targets(ledger)
        account = snapshot["account"] if snapshot else None
        run_count = int(_conn(ledger).execute("SELECT count(*) FROM runs").fetchone()[0])
        from alchemiser.web.marks import cached_marks

        mark_problem: str | None = None
        try:
            marks = cached_marks(ctx, ledger)
        except AlchemiserError as exc:  # no market data for a holding: the run snapshots still draw
            marks, mark_problem = [], f"daily marks unavailable: {exc}"
    return {
        **base,
        "empty": False,
        "last_run": {
            k: last_run[k]
            for k in ("run_id", "status", "message", "mode", "broker", "started_at", "finished_at", "trading_day")
        },
        "run_count": run_count,
        "equity": points,
        "daily_marks": marks,
        "account": (
            {"equity": float(account["equity"]), "cash": float(account["cash"]), "as_of": snapshot["at"].isoformat()}
            if account and snapshot
            else None
        ),
        "day_pnl": day_pnl(points),
        "targets_from_run": target_run,
        "positions": positions_view(snapshot, targets),
        "warnings": warnings(ctx, last_run)
        + ([data_warning(gaps)] if gaps else [])
        + ([mark_problem] if mark_problem else []),
    }


@dataclass(frozen=True)
class RunFilter:
    status: str | None = None
    mode: str | None = None
    since: dt.date | None = None
    until: dt.date | None = None
    limit: int = 50
    offset: int = 0

    @classmethod
    def parse(cls, query: dict[str, str]) -> RunFilter:
        """Validate query parameters; each problem names its parameter."""
        unknown = sorted(set(query) - {"status", "mode", "since", "until", "limit", "offset"})
        if unknown:
            raise QueryError(f"unknown query parameter(s): {', '.join(unknown)}")
        status = query.get("status") or None
        if status is not None and status not in RUN_STATUSES:
            raise QueryError(f"status: must be one of {', '.join(sorted(RUN_STATUSES))}, not {status!r}")
        mode = query.get("mode") or None
        if mode is not None and mode not in MODES:
            raise QueryError(f"mode: must be one of {', '.join(sorted(MODES))}, not {mode!r}")
        return cls(
            status,
            mode,
            _date(query, "since"),
            _date(query, "until"),
            _int(query, "limit", 50, 1, MAX_PAGE),
            _int(query, "offset", 0, 0, 10**9),
        )


def _date(query: dict[str, str], name: str) -> dt.date | None:
    text = query.get(name) or None
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise QueryError(f"{name}: expected a date like 2024-03-15, not {text!r}") from None


def _int(query: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    text = query.get(name)
    if text is None or text == "":
        return default
    if not text.isdigit() or not low <= int(text) <= high:
        raise QueryError(f"{name}: expected a whole number from {low} to {high}, not {text!r}")
    return int(text)


def runs(ctx: WebContext, flt: RunFilter) -> dict[str, Any]:
    """One page of runs, newest first, with order counts, in one query."""
    where, params = [], []
    for column, value in (("status", flt.status), ("mode", flt.mode)):
        if value is not None:
            where.append(f"r.{column} = ?")
            params.append(value)
    if flt.since is not None:
        where.append("r.trading_day >= ?")
        params.append(flt.since.isoformat())
    if flt.until is not None:
        where.append("r.trading_day <= ?")
        params.append(flt.until.isoformat())
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    with open_readonly(ctx.ledger) as ledger:
        if ledger is None:
            return {"runs": [], "total": 0, "limit": flt.limit, "offset": flt.offset}
        conn = _conn(ledger)
        total = int(conn.execute(f"SELECT count(*) FROM runs r {clause}", params).fetchone()[0])
        rows = conn.execute(
            "SELECT r.run_id, r.started_at, r.finished_at, r.mode, r.broker, r.trading_day, r.status, r.message,"
            " (SELECT count(*) FROM orders o WHERE o.run_id = r.run_id) AS orders"
            f" FROM runs r {clause} ORDER BY r.started_at DESC, r.rowid DESC LIMIT ? OFFSET ?",
            [*params, flt.limit, flt.offset],
        ).fetchall()
    return {"runs": [dict(r) for r in rows], "total": total, "limit": flt.limit, "offset": flt.offset}


def run_detail(ctx: WebContext, run_id: str) -> dict[str, Any]:
    """The run report the CLI's `report --json` prints, from the read-only ledger."""
    import dataclasses

    from alchemiser.reporting.quality import order_quality
    from alchemiser.reporting.run_report import build_run_report

    with open_readonly(ctx.ledger) as ledger:
        if ledger is None or ledger.run(run_id) is None:
            raise QueryError(f"run_id: no run {run_id!r} in the ledger")
        report = build_run_report(ledger, run_id)
        quality = [dataclasses.asdict(q) for q in order_quality(ledger, ledger.orders(run_id))]
    return {**report, "quality": {q["client_order_id"]: q for q in quality}}


def ledger_marker(ledger: Ledger) -> str:
    """A cheap fingerprint of the ledger's runs: it changes when a run starts or finishes (and a run's
    snapshots are written before it finishes), so values derived from runs can be kept until it changes."""
    row = (
        _conn(ledger)
        .execute("SELECT count(*), max(started_at), max(finished_at), sum(finished_at IS NULL) FROM runs")
        .fetchone()
    )
    return "|".join(str(v) for v in tuple(row))


def change_marker(ctx: WebContext) -> str:
    """`ledger_marker` of the home's ledger, for the event stream ("empty" before the first run)."""
    with open_readonly(ctx.ledger) as ledger:
        return "empty" if ledger is None else ledger_marker(ledger)


def data_gaps(ctx: WebContext) -> dict[str, Any] | None:
    """What `alchemiser data missing` reports for the configured strategies at the last completed session
    — absent, stale or too-short tickers and the exact `data fetch` command — or None when all is covered."""
    from alchemiser.web import cache

    day = market_calendar.last_completed_session()
    coverage = cache.coverage_all(ctx.settings, day)
    if coverage.ok:
        return None
    return {
        "as_of": day.isoformat(),
        "gaps": [g.to_json() for g in coverage.gaps],
        "command": coverage.command,
    }


def data_warning(gaps: dict[str, Any]) -> str:
    """One line for the warnings list, naming every ticker and the command (the full table is below it)."""
    named = ", ".join(f"{g['symbol']} ({g['status']})" for g in gaps["gaps"])
    count = len(gaps["gaps"])
    return (
        f"data missing or stale for a run at the close of {gaps['as_of']}: {count} ticker{'s' if count != 1 else ''} "
        f"— {named}; fill them with: {gaps['command']}"
    )
