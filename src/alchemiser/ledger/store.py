"""The `Ledger`: records each step of a run as it happens, and answers what happened.

Every write is its own committed transaction (see the package docstring for the durability rules).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Literal

from alchemiser.errors import cannot_open
from alchemiser.ledger.errors import DuplicateOrderError, LedgerError
from alchemiser.ledger.rows import (
    FINAL_ORDER_STATUSES,
    INTENT,
    MODES,
    RUN_STATUSES,
    SNAPSHOT_KINDS,
    SUBMIT_FAILED,
    EventRecord,
    FillRecord,
    OrderRow,
    PlanRecord,
    RunRow,
    SignalRecord,
    SnapshotRecord,
    _dumps,
    _loads,
    _num,
    _order_row,
    _parse_ts_req,
    _run_row,
    _ts,
    _utc_now,
)
from alchemiser.ledger.schema import migrate
from alchemiser.models import (
    Account,
    Order,
    OrderPhase,
    OrderRequest,
    OrderUpdate,
    Position,
    Quote,
    RunStatus,
    decimal_or_none,
    moves_forward,
)

_FILL_EVENTS: Final = ("partial_fill", "fill")


class Ledger:
    """The SQLite record of runs, signals, plans, orders, order events and account snapshots.

    Thread-safe within a process (one connection behind a lock). Use as a context manager or call
    `close()`; a closed ledger raises `LedgerError` rather than failing obscurely.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        clock: Callable[[], dt.datetime] = _utc_now,
        synchronous: Literal["FULL", "NORMAL"] = "FULL",
    ) -> None:
        """Open (creating if needed) the ledger at `path`. `synchronous="NORMAL"` trades power-loss safety
        of the last commits for speed (still crash-safe in WAL); meant for backtests, not live trading."""
        self.path = Path(path)
        self._clock = clock
        self._lock = threading.RLock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: autocommit; multi-statement writes open their own BEGIN IMMEDIATE.
            conn = sqlite3.connect(self.path, timeout=10.0, isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise LedgerError(cannot_open("the ledger", self.path, exc)) from None
        try:
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA busy_timeout = 10000")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise LedgerError(f"{self.path}: SQLite refused WAL mode (got {mode!r}); use a local disk")
            # FULL: a committed run/order survives power loss too, not only a process crash.
            if synchronous not in ("FULL", "NORMAL"):
                raise ValueError(f"synchronous must be FULL or NORMAL, not {synchronous!r}")
            conn.execute(f"PRAGMA synchronous = {synchronous}")
            conn.execute("PRAGMA foreign_keys = ON")
            self._migrate(conn)
        except sqlite3.OperationalError as exc:  # e.g. "unable to open database file": not a writable place
            conn.close()
            raise LedgerError(cannot_open("the ledger", self.path, exc)) from None
        except BaseException:
            conn.close()
            raise
        self._conn: sqlite3.Connection | None = conn

    # ----------------------------------------------------------------------------------- lifecycle

    def _migrate(self, conn: sqlite3.Connection) -> None:
        """Bring the file up to date with the package's `MIGRATIONS`, read when the file is opened (so the
        list in force is the one `alchemiser.ledger` exposes)."""
        from alchemiser import ledger as package

        migrate(conn, self.path, package.MIGRATIONS)

    @property
    def schema_version(self) -> int:
        with self._lock:
            return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    @property
    def journal_mode(self) -> str:
        with self._lock:
            return str(self._db.execute("PRAGMA journal_mode").fetchone()[0])

    @property
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise LedgerError(f"the ledger {self.path} is closed")
        return self._conn

    def close(self) -> None:
        """Close the connection; safe to call twice. Committed data is already on disk."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> Ledger:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One committed transaction; `BEGIN IMMEDIATE` takes the write lock up front so a read-then-write
        (e.g. the no-regress check on order state) cannot race another process."""
        with self._lock:
            conn = self._db
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _read(self, sql: str, params: Sequence[object] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    # ----------------------------------------------------------------------------------- runs

    def start_run(self, run_id: str, *, mode: str, broker: str, trading_day: dt.date, config_digest: str) -> None:
        """Record that a run began; a run id can start only once, so a re-run must pick a new id."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; expected one of {sorted(MODES)}")
        if isinstance(trading_day, dt.datetime) or not isinstance(trading_day, dt.date):
            raise ValueError(f"trading_day must be a date, not {trading_day!r}")
        try:
            with self._write() as conn:
                conn.execute(
                    "INSERT INTO runs (run_id, started_at, mode, broker, trading_day, config_digest, status)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        run_id,
                        _ts(self._clock()),
                        mode,
                        broker,
                        trading_day.isoformat(),
                        config_digest,
                        str(RunStatus.RUNNING),
                    ),
                )
        except sqlite3.IntegrityError as exc:
            raise LedgerError(f"run {run_id!r} is already in the ledger") from exc

    def finish_run(
        self,
        run_id: str,
        status: RunStatus,
        *,
        message: str = "",
        summary: Mapping[str, Any] | None = None,
        timings: Mapping[str, Any] | None = None,
    ) -> None:
        """Close a run with its outcome. Allowed again later (crash recovery may re-mark a run)."""
        if status not in RUN_STATUSES or status == RunStatus.RUNNING:
            final = sorted(str(s) for s in RUN_STATUSES - {RunStatus.RUNNING})
            raise ValueError(f"unknown final run status {str(status)!r}; expected one of {final}")
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE runs SET finished_at = ?, status = ?, message = ?, summary_json = ?, timings_json = ?"
                " WHERE run_id = ?",
                (
                    _ts(self._clock()),
                    str(status),
                    message,
                    None if summary is None else _dumps(summary),
                    None if timings is None else _dumps(timings),
                    run_id,
                ),
            )
            if cur.rowcount == 0:
                raise LedgerError(f"cannot finish unknown run {run_id!r}")

    def runs(self, limit: int = 20) -> list[RunRow]:
        """The most recent runs, newest first."""
        rows = self._read("SELECT * FROM runs ORDER BY started_at DESC, rowid DESC LIMIT ?", (limit,))
        return [_run_row(r) for r in rows]

    def run(self, run_id: str) -> RunRow | None:
        rows = self._read("SELECT * FROM runs WHERE run_id = ?", (run_id,))
        return _run_row(rows[0]) if rows else None

    def runs_for_day(self, trading_day: dt.date, broker: str) -> list[RunRow]:
        """Every run for one (trading day, broker), oldest first: what makes a re-run idempotent."""
        rows = self._read(
            "SELECT * FROM runs WHERE trading_day = ? AND broker = ? ORDER BY started_at, rowid",
            (trading_day.isoformat(), broker),
        )
        return [_run_row(r) for r in rows]

    def unfinished_runs(self) -> list[RunRow]:
        """Runs still marked "running": after a crash these are the ones to reconcile and close."""
        rows = self._read("SELECT * FROM runs WHERE status = ? ORDER BY started_at, rowid", (str(RunStatus.RUNNING),))
        return [_run_row(r) for r in rows]

    def traded_on(self, trading_day: dt.date) -> Decimal:
        """Dollars filled on `trading_day` by the orders of every run of that day (the daily cap's "so far")."""
        rows = self._read(
            "SELECT o.filled_qty, o.filled_avg_price FROM orders o JOIN runs r USING (run_id) WHERE r.trading_day = ?",
            (trading_day.isoformat(),),
        )
        # Summed as Decimal here, not by SQL, whose SUM over text would go through floats.
        return sum((Decimal(r["filled_qty"]) * Decimal(r["filled_avg_price"] or 0) for r in rows), Decimal(0))

    def equity_before(self, trading_day: dt.date) -> Decimal | None:
        """The equity in the "after" snapshot of the latest run of an earlier trading day (None if no earlier
        run recorded one): the base of the day's P&L."""
        rows = self._read(
            "SELECT s.account_json FROM snapshots s JOIN runs r USING (run_id)"
            " WHERE s.kind = 'after' AND r.trading_day < ? ORDER BY r.started_at DESC, r.rowid DESC LIMIT 1",
            (trading_day.isoformat(),),
        )
        return Decimal(str(_loads(rows[0]["account_json"])["equity"])) if rows else None

    # ----------------------------------------------------------------------------------- signals and plan

    _SIGNAL_KEYS: Final = frozenset({"name", "share", "ok", "error", "weights", "trace"})

    def record_signals(self, run_id: str, strategies: Sequence[Mapping[str, Any]]) -> None:
        """Store each strategy's outcome (name, share, ok, error, weights, trace) in the given order;
        any other keys (e.g. `source`) are kept as JSON and returned with the rest."""
        with self._write() as conn:
            conn.executemany(
                "INSERT INTO signals (run_id, strategy, share, ok, error, weights_json, trace_json, extra_json)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        run_id,
                        str(s["name"]),
                        _num(s.get("share")),
                        1 if s.get("ok", True) else 0,
                        s.get("error"),
                        _dumps(s.get("weights") or {}),
                        None if s.get("trace") is None else _dumps(s.get("trace")),
                        _dumps({k: v for k, v in s.items() if k not in self._SIGNAL_KEYS}),
                    )
                    for s in strategies
                ],
            )

    def signals(self, run_id: str) -> list[SignalRecord]:
        """Strategy outcomes as recorded; `share` comes back as Decimal, weights/trace as parsed JSON."""
        rows = self._read("SELECT * FROM signals WHERE run_id = ? ORDER BY id", (run_id,))
        return [
            {
                **_loads(r["extra_json"]),
                "name": r["strategy"],
                "share": decimal_or_none(r["share"]),
                "ok": bool(r["ok"]),
                "error": r["error"],
                "weights": _loads(r["weights_json"]),
                "trace": _loads(r["trace_json"]),
            }
            for r in rows
        ]

    _PLAN_NUMBERS: Final = ("current_weight", "target_weight", "current_value", "target_value", "trade_value", "qty")

    def record_plan(self, run_id: str, items: Sequence[Mapping[str, Any]]) -> None:
        """Store the trade plan line by line; numbers become exact decimal text, missing ones NULL."""
        with self._write() as conn:
            conn.executemany(
                "INSERT INTO plan (run_id, symbol, action, current_weight, target_weight, current_value,"
                " target_value, trade_value, qty, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        run_id,
                        str(item["symbol"]),
                        str(item["action"]),
                        *(_num(item.get(k)) for k in self._PLAN_NUMBERS),
                        str(item.get("reason") or ""),
                    )
                    for item in items
                ],
            )

    def plan(self, run_id: str) -> list[PlanRecord]:
        rows = self._read("SELECT * FROM plan WHERE run_id = ? ORDER BY id", (run_id,))
        return [
            {
                "symbol": r["symbol"],
                "action": r["action"],
                "current_weight": decimal_or_none(r["current_weight"]),
                "target_weight": decimal_or_none(r["target_weight"]),
                "current_value": decimal_or_none(r["current_value"]),
                "target_value": decimal_or_none(r["target_value"]),
                "trade_value": decimal_or_none(r["trade_value"]),
                "qty": decimal_or_none(r["qty"]),
                "reason": r["reason"],
            }
            for r in rows
        ]

    # ----------------------------------------------------------------------------------- orders

    def record_intent(
        self, run_id: str, request: OrderRequest, *, phase: OrderPhase, attempt: int, quote: Quote | None = None
    ) -> None:
        """Write the order BEFORE the broker sees it, so a crash mid-call leaves a trace to reconcile.

        Raises `DuplicateOrderError` if the client_order_id is already recorded: the caller must not send
        it again, and `LedgerError` if the run is unknown.
        """
        now = _ts(self._clock())
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM orders WHERE client_order_id = ?", (request.client_order_id,)).fetchone():
                raise DuplicateOrderError(request.client_order_id)
            if not conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone():
                raise LedgerError(f"cannot record an order for unknown run {run_id!r}")
            conn.execute(
                "INSERT INTO orders (client_order_id, run_id, symbol, side, type, time_in_force, qty, notional,"
                " limit_price, phase, attempt, status, intent_at, updated_at, quote_bid, quote_ask, quote_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    request.client_order_id,
                    run_id,
                    request.symbol,
                    str(request.side),
                    str(request.type),
                    request.time_in_force,
                    _num(request.qty),
                    _num(request.notional),
                    _num(request.limit_price),
                    str(phase),
                    int(attempt),
                    INTENT,
                    now,
                    now,
                    None if quote is None else _num(quote.bid),
                    None if quote is None else _num(quote.ask),
                    None if quote is None else _ts(quote.timestamp),
                ),
            )

    def record_submitted(self, client_order_id: str, order: Order) -> None:
        """The broker accepted the order: remember its id and state (never regressing a newer state
        that a fast trade-update thread may already have written)."""
        if order.client_order_id != client_order_id:
            raise ValueError(f"broker returned order {order.client_order_id!r} for {client_order_id!r}")
        with self._write() as conn:
            if not self._apply_state(conn, order):
                raise LedgerError(f"order {client_order_id!r} was submitted without a recorded intent")

    def record_submit_failed(self, client_order_id: str, error: str) -> None:
        """The broker call failed; the order is final locally. (If the failure was ambiguous, e.g. a
        timeout, leave it as an intent instead, so reconciliation asks the broker.)"""
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE orders SET status = ?, error = ?, updated_at = ? WHERE client_order_id = ?",
                (SUBMIT_FAILED, error, _ts(self._clock()), client_order_id),
            )
            if cur.rowcount == 0:
                raise LedgerError(f"cannot mark unknown order {client_order_id!r} as failed")

    def record_order_state(self, order: Order) -> bool:
        """Update an order from the broker's view (polling or reconciliation). Returns False, writing
        nothing, for a client id we never recorded (someone else's order on the same account)."""
        with self._write() as conn:
            return self._apply_state(conn, order)

    @staticmethod
    def _apply_state(conn: sqlite3.Connection, order: Order) -> bool:
        """Apply `order` to its row inside the caller's transaction, refusing to move backwards (`moves_forward`):
        a final status is never replaced by a non-final one and the filled quantity never shrinks,
        because updates from the stream, the poller and the submit call can arrive in any order."""
        row = conn.execute(
            "SELECT status, filled_qty FROM orders WHERE client_order_id = ?", (order.client_order_id,)
        ).fetchone()
        if row is None:
            return False
        was_final = row["status"] in FINAL_ORDER_STATUSES
        stale = not moves_forward(was_final, Decimal(row["filled_qty"]), order.is_final, order.filled_qty)
        # Identity and first submission time are facts worth keeping even from a stale update.
        conn.execute(
            "UPDATE orders SET broker_order_id = COALESCE(broker_order_id, ?),"
            " submitted_at = COALESCE(submitted_at, ?) WHERE client_order_id = ?",
            (order.id or None, _ts(order.submitted_at), order.client_order_id),
        )
        if not stale:
            conn.execute(
                "UPDATE orders SET status = ?, filled_qty = ?, filled_avg_price = ?, updated_at = ?"
                " WHERE client_order_id = ?",
                (
                    str(order.status),
                    _num(order.filled_qty),
                    _num(order.filled_avg_price),
                    _ts(order.updated_at),
                    order.client_order_id,
                ),
            )
        return True

    def orders(self, run_id: str | None = None, limit: int | None = None) -> list[OrderRow]:
        """Orders oldest first; with `limit`, only the most recent `limit` of them (still oldest first)."""
        params: list[object] = [] if run_id is None else [run_id]
        where = "" if run_id is None else "WHERE run_id = ?"
        sql = f"SELECT * FROM orders {where} ORDER BY intent_at DESC, rowid DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [_order_row(r) for r in reversed(self._read(sql, params))]

    def order(self, client_order_id: str) -> OrderRow | None:
        rows = self._read("SELECT * FROM orders WHERE client_order_id = ?", (client_order_id,))
        return _order_row(rows[0]) if rows else None

    def open_intents(self) -> list[OrderRow]:
        """Orders whose fate is not known to be settled: never-confirmed intents and submitted orders not
        yet final. After a crash, each must be looked up at the broker before placing anything new."""
        marks = ", ".join("?" * len(FINAL_ORDER_STATUSES))
        rows = self._read(
            f"SELECT * FROM orders WHERE status NOT IN ({marks}) ORDER BY intent_at, rowid",
            sorted(FINAL_ORDER_STATUSES),
        )
        return [_order_row(r) for r in rows]

    def used_client_order_ids(self, prefix: str) -> set[str]:
        """Every recorded client id starting with `prefix` (a literal match: `_` and `%` are not wildcards)."""
        rows = self._read(
            "SELECT client_order_id FROM orders WHERE substr(client_order_id, 1, ?) = ?", (len(prefix), prefix)
        )
        return {r["client_order_id"] for r in rows}

    # ----------------------------------------------------------------------------------- events and fills

    def record_event(self, update: OrderUpdate) -> bool:
        """Append a trade-update event and apply its order state, atomically. Replayed duplicates are
        ignored. Returns False, writing nothing, for orders that are not ours."""
        order = update.order
        with self._write() as conn:
            if not conn.execute("SELECT 1 FROM orders WHERE client_order_id = ?", (order.client_order_id,)).fetchone():
                return False
            conn.execute(
                "INSERT OR IGNORE INTO order_events (client_order_id, event, status, filled_qty, filled_avg_price,"
                " price, qty, at, extra_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    order.client_order_id,
                    str(update.event),
                    str(order.status),
                    _num(order.filled_qty),
                    _num(order.filled_avg_price),
                    _num(update.price),
                    _num(update.qty),
                    _ts(update.timestamp),
                    _dumps(update.extra),
                ),
            )
            self._apply_state(conn, order)
            return True

    def events(self, client_order_id: str) -> list[EventRecord]:
        """The order's events in arrival order, numbers as Decimal and `at` as an aware datetime."""
        rows = self._read("SELECT * FROM order_events WHERE client_order_id = ? ORDER BY id", (client_order_id,))
        return [
            {
                "event": r["event"],
                "status": r["status"],
                "filled_qty": Decimal(r["filled_qty"]),
                "filled_avg_price": decimal_or_none(r["filled_avg_price"]),
                "price": decimal_or_none(r["price"]),
                "qty": decimal_or_none(r["qty"]),
                "at": _parse_ts_req(r["at"]),
                "extra": _loads(r["extra_json"]),
            }
            for r in rows
        ]

    def fills(self, run_id: str) -> list[FillRecord]:
        """Executions of a run's orders, from fill events. When an event lacks the execution's own qty or
        price, they are derived from the change in cumulative filled quantity and the average price."""
        rows = self._read(
            "SELECT e.*, o.symbol, o.side FROM order_events e JOIN orders o USING (client_order_id)"
            " WHERE o.run_id = ? ORDER BY e.id",
            (run_id,),
        )
        previous: dict[str, Decimal] = {}
        result: list[FillRecord] = []
        for r in rows:
            cid = r["client_order_id"]
            cumulative = Decimal(r["filled_qty"])
            before = previous.get(cid, Decimal(0))
            previous[cid] = max(before, cumulative)
            if r["event"] not in _FILL_EVENTS:
                continue
            qty = decimal_or_none(r["qty"])
            if qty is None:
                qty = cumulative - before
            price = decimal_or_none(r["price"]) or decimal_or_none(r["filled_avg_price"])
            if qty <= 0 or price is None:
                continue
            result.append(
                {
                    "client_order_id": cid,
                    "symbol": r["symbol"],
                    "side": r["side"],
                    "qty": qty,
                    "price": price,
                    "at": _parse_ts_req(r["at"]),
                }
            )
        return result

    # ----------------------------------------------------------------------------------- snapshots

    def record_snapshot(self, run_id: str, kind: str, account: Account, positions: Sequence[Position]) -> None:
        """Account and positions before or after trading; recording the same kind again replaces it."""
        if kind not in SNAPSHOT_KINDS:
            raise ValueError(f"unknown snapshot kind {kind!r}; expected one of {sorted(SNAPSHOT_KINDS)}")
        with self._write() as conn:
            conn.execute(
                "INSERT INTO snapshots (run_id, kind, at, account_json, positions_json) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (run_id, kind) DO UPDATE SET at = excluded.at, account_json = excluded.account_json,"
                " positions_json = excluded.positions_json",
                (run_id, kind, _ts(self._clock()), _dumps(account), _dumps(list(positions))),
            )

    def snapshot(self, run_id: str, kind: str) -> SnapshotRecord | None:
        """The snapshot as JSON-shaped data (Decimals as strings), with `at` as an aware datetime."""
        rows = self._read("SELECT * FROM snapshots WHERE run_id = ? AND kind = ?", (run_id, kind))
        if not rows:
            return None
        r = rows[0]
        return {
            "run_id": r["run_id"],
            "kind": r["kind"],
            "at": _parse_ts_req(r["at"]),
            "account": _loads(r["account_json"]),
            "positions": _loads(r["positions_json"]),
        }
