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
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import numbers
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Literal

from alchemiser.errors import AlchemiserError, cannot_open
from alchemiser.models import (
    FINAL_STATUSES,
    Account,
    Order,
    OrderRequest,
    OrderType,
    OrderUpdate,
    Position,
    Quote,
    Side,
    moves_forward,
)

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

MODES: Final = frozenset({"sim", "paper", "live", "backtest"})
RUN_STATUSES: Final = frozenset(
    {"running", "ok", "nothing_to_do", "failed", "blocked", "partial", "market_closed", "halted"}
)
SNAPSHOT_KINDS: Final = frozenset({"before", "after"})

# Local order statuses that never reach the broker's vocabulary.
INTENT: Final = "intent"  # written before the broker call; the order may or may not exist at the broker
SUBMIT_FAILED: Final = "submit_failed"  # the broker call failed; nothing to reconcile
# An order in one of these states needs no more attention; everything else is a reconciliation candidate.
FINAL_ORDER_STATUSES: Final = frozenset({str(s) for s in FINAL_STATUSES} | {SUBMIT_FAILED})

_FILL_EVENTS: Final = ("partial_fill", "fill")


class LedgerError(AlchemiserError):
    """The ledger file cannot be used as asked (unknown run, newer schema, closed ledger...)."""


class DuplicateOrderError(LedgerError):
    """A client_order_id was already recorded: placing it again could trade twice, so we refuse."""

    def __init__(self, client_order_id: str) -> None:
        self.client_order_id = client_order_id
        super().__init__(f"order {client_order_id!r} is already in the ledger; refusing to record it twice")


# --------------------------------------------------------------------------------------------- schema

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


# Migration i (0-based) takes the schema from user_version i to i + 1. Append, never edit or reorder.
MIGRATIONS: tuple[Migration, ...] = (_v1_initial,)
SCHEMA_VERSION: Final = len(MIGRATIONS)


# --------------------------------------------------------------------------------------------- coding


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


def _dec(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _ts(value: dt.datetime) -> str:
    """Aware datetimes as UTC ISO text, so text order is time order and every reader agrees on the zone."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: the ledger only stores timezone-aware times")
    return value.astimezone(dt.UTC).isoformat()


def _opt_ts(value: dt.datetime | None) -> str | None:
    return None if value is None else _ts(value)


def _parse_ts(text: str | None) -> dt.datetime | None:
    return None if text is None else dt.datetime.fromisoformat(text)


def _parse_ts_req(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# --------------------------------------------------------------------------------------------- rows


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
    status: str
    message: str
    summary: dict[str, Any] | None
    timings: dict[str, Any] | None

    @property
    def finished(self) -> bool:
        return self.status != "running"

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe form for `--json` output."""
        result: dict[str, Any] = jsonable(self)
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
    phase: str
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

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe form for `--json` output."""
        result: dict[str, Any] = jsonable(self)
        return result


def _run_row(r: sqlite3.Row) -> RunRow:
    return RunRow(
        run_id=r["run_id"],
        started_at=_parse_ts_req(r["started_at"]),
        finished_at=_parse_ts(r["finished_at"]),
        mode=r["mode"],
        broker=r["broker"],
        trading_day=dt.date.fromisoformat(r["trading_day"]),
        config_digest=r["config_digest"],
        status=r["status"],
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
        qty=_dec(r["qty"]),
        notional=_dec(r["notional"]),
        limit_price=_dec(r["limit_price"]),
        phase=r["phase"],
        attempt=int(r["attempt"]),
        status=r["status"],
        filled_qty=Decimal(r["filled_qty"]),
        filled_avg_price=_dec(r["filled_avg_price"]),
        intent_at=_parse_ts_req(r["intent_at"]),
        submitted_at=_parse_ts(r["submitted_at"]),
        updated_at=_parse_ts_req(r["updated_at"]),
        error=r["error"],
        quote_bid=_dec(r["quote_bid"]),
        quote_ask=_dec(r["quote_ask"]),
        quote_at=_parse_ts(r["quote_at"]),
    )


# --------------------------------------------------------------------------------------------- ledger


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
        """Bring the file up to `SCHEMA_VERSION`; the version is re-read under a write lock so two
        processes opening a fresh file at once do not both create the tables."""
        migrations = MIGRATIONS
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version > len(migrations):
                raise LedgerError(
                    f"{self.path} has ledger schema version {version}, newer than this program's "
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
                    " VALUES (?, ?, ?, ?, ?, ?, 'running')",
                    (run_id, _ts(self._clock()), mode, broker, trading_day.isoformat(), config_digest),
                )
        except sqlite3.IntegrityError as exc:
            raise LedgerError(f"run {run_id!r} is already in the ledger") from exc

    def finish_run(
        self,
        run_id: str,
        status: str,
        *,
        message: str = "",
        summary: Mapping[str, Any] | None = None,
        timings: Mapping[str, Any] | None = None,
    ) -> None:
        """Close a run with its outcome. Allowed again later (crash recovery may re-mark a run)."""
        if status not in RUN_STATUSES or status == "running":
            raise ValueError(
                f"unknown final run status {status!r}; expected one of {sorted(RUN_STATUSES - {'running'})}"
            )
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE runs SET finished_at = ?, status = ?, message = ?, summary_json = ?, timings_json = ?"
                " WHERE run_id = ?",
                (
                    _ts(self._clock()),
                    status,
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
        rows = self._read("SELECT * FROM runs WHERE status = 'running' ORDER BY started_at, rowid")
        return [_run_row(r) for r in rows]

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

    def signals(self, run_id: str) -> list[dict[str, Any]]:
        """Strategy outcomes as recorded; `share` comes back as Decimal, weights/trace as parsed JSON."""
        rows = self._read("SELECT * FROM signals WHERE run_id = ? ORDER BY id", (run_id,))
        return [
            {
                **_loads(r["extra_json"]),
                "name": r["strategy"],
                "share": _dec(r["share"]),
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

    def plan(self, run_id: str) -> list[dict[str, Any]]:
        rows = self._read("SELECT * FROM plan WHERE run_id = ? ORDER BY id", (run_id,))
        return [
            {
                "symbol": r["symbol"],
                "action": r["action"],
                **{k: _dec(r[k]) for k in self._PLAN_NUMBERS},
                "reason": r["reason"],
            }
            for r in rows
        ]

    # ----------------------------------------------------------------------------------- orders

    def record_intent(
        self, run_id: str, request: OrderRequest, *, phase: str, attempt: int, quote: Quote | None = None
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
                    phase,
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

    def events(self, client_order_id: str) -> list[dict[str, Any]]:
        """The order's events in arrival order, numbers as Decimal and `at` as an aware datetime."""
        rows = self._read("SELECT * FROM order_events WHERE client_order_id = ? ORDER BY id", (client_order_id,))
        return [
            {
                "event": r["event"],
                "status": r["status"],
                "filled_qty": Decimal(r["filled_qty"]),
                "filled_avg_price": _dec(r["filled_avg_price"]),
                "price": _dec(r["price"]),
                "qty": _dec(r["qty"]),
                "at": _parse_ts_req(r["at"]),
                "extra": _loads(r["extra_json"]),
            }
            for r in rows
        ]

    def fills(self, run_id: str) -> list[dict[str, Any]]:
        """Executions of a run's orders, from fill events. When an event lacks the execution's own qty or
        price, they are derived from the change in cumulative filled quantity and the average price."""
        rows = self._read(
            "SELECT e.*, o.symbol, o.side FROM order_events e JOIN orders o USING (client_order_id)"
            " WHERE o.run_id = ? ORDER BY e.id",
            (run_id,),
        )
        previous: dict[str, Decimal] = {}
        result: list[dict[str, Any]] = []
        for r in rows:
            cid = r["client_order_id"]
            cumulative = Decimal(r["filled_qty"])
            before = previous.get(cid, Decimal(0))
            previous[cid] = max(before, cumulative)
            if r["event"] not in _FILL_EVENTS:
                continue
            qty = _dec(r["qty"])
            if qty is None:
                qty = cumulative - before
            price = _dec(r["price"]) or _dec(r["filled_avg_price"])
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

    def snapshot(self, run_id: str, kind: str) -> dict[str, Any] | None:
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
