"""The ledger against real SQLite files: what is written reads back exactly, and survives crashes,
reopening, a second connection and concurrent writers."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from decimal import Decimal
from itertools import count
from pathlib import Path

import pytest

from alchemiser import ledger as ledger_module
from alchemiser.ledger import DuplicateOrderError, Ledger, LedgerError
from alchemiser.models import (
    Account,
    Order,
    OrderEvent,
    OrderRequest,
    OrderStatus,
    OrderType,
    OrderUpdate,
    Position,
    Quote,
    Side,
)

T0 = dt.datetime(2024, 3, 1, 14, 30, tzinfo=dt.UTC)
DAY = dt.date(2024, 3, 1)
NY = dt.timezone(dt.timedelta(hours=-5))


def ticking_clock(start: dt.datetime = T0) -> object:
    """A deterministic clock: each call is one second after the previous one."""
    seconds = count()
    return lambda: start + dt.timedelta(seconds=next(seconds))


def open_ledger(path: Path) -> Ledger:
    return Ledger(path, clock=ticking_clock())  # type: ignore[arg-type]


def request(cid: str, *, symbol: str = "SPY", side: Side = Side.BUY, qty: str = "3.5") -> OrderRequest:
    return OrderRequest(
        symbol=symbol,
        side=side,
        type=OrderType.LIMIT,
        client_order_id=cid,
        qty=Decimal(qty),
        limit_price=Decimal("501.1275"),
    )


def broker_order(
    cid: str,
    status: OrderStatus,
    *,
    filled: str = "0",
    avg: str | None = None,
    at: dt.datetime = T0,
    symbol: str = "SPY",
    side: Side = Side.BUY,
) -> Order:
    return Order(
        id=f"broker-{cid}",
        client_order_id=cid,
        symbol=symbol,
        side=side,
        type=OrderType.LIMIT,
        status=status,
        qty=Decimal("3.5"),
        notional=None,
        limit_price=Decimal("501.1275"),
        filled_qty=Decimal(filled),
        filled_avg_price=None if avg is None else Decimal(avg),
        submitted_at=at,
        updated_at=at,
    )


def start(led: Ledger, run_id: str = "r1", *, broker: str = "sim") -> None:
    led.start_run(run_id, mode="paper", broker=broker, trading_day=DAY, config_digest="sha256:abc")


def test_full_run_reads_back_exactly(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "ledger.sqlite"
    with open_ledger(path) as led:
        assert led.journal_mode == "wal"
        assert led.schema_version == ledger_module.SCHEMA_VERSION
        start(led)

        led.record_signals(
            "r1",
            [
                {
                    "name": "tqqq-ftlt",
                    "source": "builtin:tqqq-ftlt.clj",
                    "share": Decimal("0.6"),
                    "ok": True,
                    "error": None,
                    "weights": {"SPY": 0.25, "TQQQ": 0.75},
                    "trace": [{"node": "if", "line": 3, "value": Decimal("71.25"), "took": True}],
                },
                {"name": "broken", "share": 0.4, "ok": False, "error": "not enough history for rsi", "weights": {}},
            ],
        )
        led.record_plan(
            "r1",
            [
                {
                    "symbol": "QQQ",
                    "action": "exit",
                    "current_weight": 0.1,
                    "target_weight": 0,
                    "current_value": Decimal("1000.55"),
                    "target_value": Decimal("0"),
                    "trade_value": Decimal("-1000.55"),
                    "qty": Decimal("2.0001"),
                    "reason": "no longer wanted",
                },
                {"symbol": "SPY", "action": "buy", "target_weight": Decimal("0.25"), "trade_value": Decimal("1750")},
            ],
        )
        account = Account("acct-1", Decimal("10000.01"), Decimal("2500.10"), Decimal("5000.20"))
        positions = [Position("QQQ", Decimal("2.0001"), Decimal("430.5"), Decimal("440.25"), Decimal("880.544025"))]
        led.record_snapshot("r1", "before", account, positions)

        quote = Quote("SPY", Decimal("501.10"), Decimal("501.14"), T0.astimezone(NY))
        led.record_intent("r1", request("r1-SPY-buy-1"), phase="buy", attempt=1, quote=quote)
        intent = led.order("r1-SPY-buy-1")
        assert intent is not None
        assert intent.status == "intent" and intent.broker_order_id is None and intent.submitted_at is None

        led.record_submitted("r1-SPY-buy-1", broker_order("r1-SPY-buy-1", OrderStatus.NEW, at=T0))
        t1, t2 = T0 + dt.timedelta(seconds=5), T0 + dt.timedelta(seconds=9)
        partial = broker_order("r1-SPY-buy-1", OrderStatus.PARTIALLY_FILLED, filled="1.5", avg="501.12", at=t1)
        assert led.record_event(
            OrderUpdate(OrderEvent.PARTIAL_FILL, partial, t1, price=Decimal("501.12"), qty=Decimal("1.5"))
        )
        filled = broker_order("r1-SPY-buy-1", OrderStatus.FILLED, filled="3.5", avg="501.1257142857", at=t2)
        assert led.record_event(OrderUpdate(OrderEvent.FILL, filled, t2, price=Decimal("501.13"), qty=Decimal("2.0")))
        led.record_snapshot("r1", "after", account, [])
        led.finish_run("r1", "ok", message="2 orders", summary={"bought": Decimal("1753.94")}, timings={"total": 1.25})

    # Read everything back through a fresh connection: nothing may depend on in-memory state.
    with Ledger(path) as led:
        run = led.run("r1")
        assert run is not None
        assert run.status == "ok" and run.message == "2 orders" and run.mode == "paper" and run.broker == "sim"
        assert run.trading_day == DAY and run.config_digest == "sha256:abc"
        assert run.started_at == T0 and run.started_at.tzinfo is not None
        assert run.finished_at is not None and run.finished_at > run.started_at
        assert run.summary == {"bought": "1753.94"} and run.timings == {"total": 1.25}
        assert json.loads(json.dumps(run.as_dict()))["trading_day"] == "2024-03-01"

        signals = led.signals("r1")
        assert [s["name"] for s in signals] == ["tqqq-ftlt", "broken"]
        assert signals[0]["share"] == Decimal("0.6") and signals[1]["share"] == Decimal("0.4")
        assert signals[0]["weights"] == {"SPY": 0.25, "TQQQ": 0.75}
        assert signals[0]["trace"] == [{"node": "if", "line": 3, "value": "71.25", "took": True}]
        assert signals[1]["ok"] is False and signals[1]["error"] == "not enough history for rsi"
        assert signals[1]["trace"] is None
        assert signals[0]["source"] == "builtin:tqqq-ftlt.clj" and "source" not in signals[1]

        plan = led.plan("r1")
        assert plan[0]["current_weight"] == Decimal("0.1") and plan[0]["target_weight"] == Decimal(0)
        assert plan[0]["trade_value"] == Decimal("-1000.55") and plan[0]["qty"] == Decimal("2.0001")
        assert plan[0]["reason"] == "no longer wanted"
        assert plan[1]["action"] == "buy" and plan[1]["current_value"] is None and plan[1]["reason"] == ""

        order = led.order("r1-SPY-buy-1")
        assert order is not None
        assert order.status == "filled" and order.is_final
        assert order.broker_order_id == "broker-r1-SPY-buy-1"
        assert order.side is Side.BUY and order.type is OrderType.LIMIT and order.time_in_force == "day"
        assert order.qty == Decimal("3.5") and order.notional is None and order.limit_price == Decimal("501.1275")
        assert order.filled_qty == Decimal("3.5") and order.filled_avg_price == Decimal("501.1257142857")
        assert order.phase == "buy" and order.attempt == 1
        assert order.quote_bid == Decimal("501.10") and str(order.quote_bid) == "501.10"
        assert order.quote_ask == Decimal("501.14") and order.quote_at == T0
        assert order.submitted_at == T0 and order.updated_at == t2 and order.updated_at.tzinfo is not None
        assert led.orders("r1") == [order]
        assert json.loads(json.dumps(order.as_dict()))["filled_avg_price"] == "501.1257142857"

        events = led.events("r1-SPY-buy-1")
        assert [(e["event"], e["status"], e["filled_qty"]) for e in events] == [
            ("partial_fill", "partially_filled", Decimal("1.5")),
            ("fill", "filled", Decimal("3.5")),
        ]
        assert events[1]["at"] == t2 and events[1]["price"] == Decimal("501.13")

        assert led.fills("r1") == [
            {
                "client_order_id": "r1-SPY-buy-1",
                "symbol": "SPY",
                "side": "buy",
                "qty": Decimal("1.5"),
                "price": Decimal("501.12"),
                "at": t1,
            },
            {
                "client_order_id": "r1-SPY-buy-1",
                "symbol": "SPY",
                "side": "buy",
                "qty": Decimal("2.0"),
                "price": Decimal("501.13"),
                "at": t2,
            },
        ]

        before = led.snapshot("r1", "before")
        assert before is not None
        assert before["account"]["equity"] == "10000.01" and before["account"]["trading_blocked"] is False
        assert before["positions"] == [
            {
                "symbol": "QQQ",
                "qty": "2.0001",
                "avg_entry_price": "430.5",
                "current_price": "440.25",
                "market_value": "880.544025",
            }
        ]
        after = led.snapshot("r1", "after")
        assert after is not None and after["positions"] == []
        assert led.snapshot("r1", "missing") is None
        assert led.open_intents() == []
        assert led.unfinished_runs() == []


def test_pragmas_wal_durability_and_foreign_keys(tmp_path: Path) -> None:
    with open_ledger(tmp_path / "l.db") as led:
        conn = led._db
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        with pytest.raises(LedgerError, match="unknown run"):
            led.record_intent("nope", request("x"), phase="buy", attempt=1)
    with Ledger(tmp_path / "fast.db", synchronous="NORMAL") as fast:
        assert fast._db.execute("PRAGMA synchronous").fetchone()[0] == 1


def test_survives_reopen_without_close(tmp_path: Path) -> None:
    """Every write is committed on return: a process that dies without close() loses nothing."""
    path = tmp_path / "l.db"
    led = open_ledger(path)
    start(led)
    led.record_intent("r1", request("r1-a"), phase="buy", attempt=1)
    # Simulate a crash: the connection is simply abandoned, never closed or committed explicitly.
    other = sqlite3.connect(path)
    try:
        assert other.execute("SELECT status FROM orders WHERE client_order_id = 'r1-a'").fetchone() == ("intent",)
    finally:
        other.close()
    led.close()
    with Ledger(path) as again:
        assert [r.run_id for r in again.unfinished_runs()] == ["r1"]
        assert [o.client_order_id for o in again.open_intents()] == ["r1-a"]


def test_second_ledger_on_same_file_sees_committed_rows(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    with open_ledger(path) as writer, Ledger(path) as reader:
        start(writer)
        assert reader.run("r1") is not None
        reader.record_intent("r1", request("r1-b"), phase="sell", attempt=2)
        row = writer.order("r1-b")
        assert row is not None and row.phase == "sell" and row.attempt == 2


def test_concurrent_writes_from_threads(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.db") as led:
        start(led)
        errors: list[BaseException] = []
        barrier = threading.Barrier(8)

        def work(n: int) -> None:
            try:
                barrier.wait()
                for i in range(20):
                    cid = f"r1-t{n}-{i}"
                    led.record_intent("r1", request(cid), phase="buy", attempt=1)
                    led.record_submitted(cid, broker_order(cid, OrderStatus.NEW))
                    done = broker_order(cid, OrderStatus.FILLED, filled="3.5", avg="10")
                    led.record_event(OrderUpdate(OrderEvent.FILL, done, T0, price=Decimal("10"), qty=Decimal("3.5")))
                    led.orders("r1", limit=5)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert len(led.orders("r1")) == 160
        assert len(led.fills("r1")) == 160
        assert led.open_intents() == []


def test_open_intents_lists_only_unsettled_orders(tmp_path: Path) -> None:
    with open_ledger(tmp_path / "l.db") as led:
        start(led)
        led.record_intent("r1", request("never-sent"), phase="sell", attempt=1)
        led.record_intent("r1", request("working"), phase="buy", attempt=1)
        led.record_submitted("working", broker_order("working", OrderStatus.ACCEPTED))
        led.record_intent("r1", request("done"), phase="buy", attempt=1)
        led.record_submitted("done", broker_order("done", OrderStatus.NEW))
        assert led.record_order_state(broker_order("done", OrderStatus.FILLED, filled="3.5", avg="1"))
        led.record_intent("r1", request("canceled"), phase="buy", attempt=1)
        led.record_submitted("canceled", broker_order("canceled", OrderStatus.CANCELED))
        led.record_intent("r1", request("failed"), phase="buy", attempt=1)
        led.record_submit_failed("failed", "insufficient buying power")

        assert [o.client_order_id for o in led.open_intents()] == ["never-sent", "working"]
        failed = led.order("failed")
        assert failed is not None and failed.status == "submit_failed" and failed.error == "insufficient buying power"
        assert not led.record_order_state(broker_order("someone-elses", OrderStatus.NEW))
        assert led.order("someone-elses") is None


def test_state_never_moves_backwards(tmp_path: Path) -> None:
    """The stream may report the fill before the submit call returns; the late "new" must not undo it."""
    with open_ledger(tmp_path / "l.db") as led:
        start(led)
        led.record_intent("r1", request("fast"), phase="buy", attempt=1)
        fill = broker_order("fast", OrderStatus.FILLED, filled="3.5", avg="500")
        assert led.record_event(OrderUpdate(OrderEvent.FILL, fill, T0, qty=Decimal("3.5"), price=Decimal("500")))
        led.record_submitted("fast", broker_order("fast", OrderStatus.NEW))
        led.record_order_state(broker_order("fast", OrderStatus.PARTIALLY_FILLED, filled="1", avg="500"))
        row = led.order("fast")
        assert row is not None and row.status == "filled" and row.filled_qty == Decimal("3.5")
        assert row.broker_order_id == "broker-fast" and row.submitted_at == T0


def test_events_are_idempotent_and_fills_derive_missing_qty(tmp_path: Path) -> None:
    with open_ledger(tmp_path / "l.db") as led:
        start(led)
        led.record_intent("r1", request("o", side=Side.SELL, qty="5"), phase="sell", attempt=1)
        part = broker_order("o", OrderStatus.PARTIALLY_FILLED, filled="2", avg="100", side=Side.SELL)
        full = broker_order("o", OrderStatus.FILLED, filled="5", avg="101.2", side=Side.SELL)
        t1 = T0 + dt.timedelta(seconds=1)
        led.record_event(OrderUpdate(OrderEvent.NEW, broker_order("o", OrderStatus.NEW, side=Side.SELL), T0))
        led.record_event(OrderUpdate(OrderEvent.PARTIAL_FILL, part, T0))
        led.record_event(OrderUpdate(OrderEvent.PARTIAL_FILL, part, T0))  # replayed after a reconnect
        led.record_event(OrderUpdate(OrderEvent.FILL, full, t1, price=Decimal("102")))
        assert [e["event"] for e in led.events("o")] == ["new", "partial_fill", "fill"]
        assert [(f["side"], f["qty"], f["price"]) for f in led.fills("r1")] == [
            ("sell", Decimal("2"), Decimal("100")),
            ("sell", Decimal("3"), Decimal("102")),
        ]
        assert not led.record_event(OrderUpdate(OrderEvent.NEW, broker_order("stranger", OrderStatus.NEW), T0))
        assert led.events("stranger") == []


def test_duplicate_intent_is_refused(tmp_path: Path) -> None:
    with open_ledger(tmp_path / "l.db") as led:
        start(led)
        led.record_intent("r1", request("r1-SPY-buy-1"), phase="buy", attempt=1)
        with pytest.raises(DuplicateOrderError):
            led.record_intent("r1", request("r1-SPY-buy-1"), phase="buy", attempt=1)
        assert len(led.orders()) == 1


def test_used_client_order_ids_is_a_literal_prefix(tmp_path: Path) -> None:
    with open_ledger(tmp_path / "l.db") as led:
        start(led)
        for cid in ("r1_SPY_buy_1", "r1_SPY_buy_2", "r1_QQQ_sell_1", "r1XSPY_buy_1", "r2_SPY_buy_1"):
            led.record_intent("r1", request(cid), phase="buy", attempt=1)
        assert led.used_client_order_ids("r1_SPY_") == {"r1_SPY_buy_1", "r1_SPY_buy_2"}
        assert led.used_client_order_ids("r1_") == {"r1_SPY_buy_1", "r1_SPY_buy_2", "r1_QQQ_sell_1"}
        assert led.used_client_order_ids("zz") == set()


def test_run_queries_and_validation(tmp_path: Path) -> None:
    with open_ledger(tmp_path / "l.db") as led:
        start(led, "a", broker="alpaca")
        start(led, "b", broker="sim")
        start(led, "c", broker="alpaca")
        led.finish_run("a", "failed", message="boom")
        assert [r.run_id for r in led.runs()] == ["c", "b", "a"]
        assert [r.run_id for r in led.runs(limit=1)] == ["c"]
        assert [r.run_id for r in led.runs_for_day(DAY, "alpaca")] == ["a", "c"]
        assert led.runs_for_day(DAY + dt.timedelta(days=1), "alpaca") == []
        assert [r.run_id for r in led.unfinished_runs()] == ["b", "c"]
        assert led.run("zzz") is None
        with pytest.raises(LedgerError, match="already"):
            start(led, "a")
        with pytest.raises(LedgerError, match="unknown run"):
            led.finish_run("zzz", "ok")
        with pytest.raises(ValueError):
            led.finish_run("b", "great")
        with pytest.raises(ValueError):
            led.start_run("d", mode="yolo", broker="sim", trading_day=DAY, config_digest="")
        with pytest.raises(ValueError, match="naive"):
            led.record_intent(
                "b",
                request("q"),
                phase="buy",
                attempt=1,
                quote=Quote("SPY", Decimal(1), Decimal(2), dt.datetime(2024, 1, 1)),
            )
        assert led.order("q") is None  # the failed write left nothing behind


def test_orders_limit_returns_latest_in_order(tmp_path: Path) -> None:
    with open_ledger(tmp_path / "l.db") as led:
        start(led)
        for i in range(5):
            led.record_intent("r1", request(f"o{i}"), phase="buy", attempt=1)
        assert [o.client_order_id for o in led.orders(limit=2)] == ["o3", "o4"]
        assert [o.client_order_id for o in led.orders("other")] == []


def test_schema_migrations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "l.db"
    with open_ledger(path) as led:
        start(led)
        assert led.schema_version == ledger_module.SCHEMA_VERSION

    def v_next(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE runs ADD COLUMN session TEXT")

    monkeypatch.setattr(ledger_module, "MIGRATIONS", (*ledger_module.MIGRATIONS, v_next))
    with Ledger(path) as led:
        assert led.schema_version == ledger_module.SCHEMA_VERSION + 1
        assert led.run("r1") is not None
        cols = {r[1] for r in led._db.execute("PRAGMA table_info(runs)")}
        assert "session" in cols

    monkeypatch.undo()
    with pytest.raises(LedgerError, match="newer"):
        Ledger(path)


def test_closed_ledger_says_so(tmp_path: Path) -> None:
    led = open_ledger(tmp_path / "l.db")
    led.close()
    led.close()
    with pytest.raises(LedgerError, match="closed"):
        led.runs()


def test_lenient_inputs_from_numeric_code(tmp_path: Path) -> None:
    """Plans and traces come from numpy-flavoured maths; they must be stored, not crash the run's record."""
    import numpy as np

    from alchemiser.errors import SourceLocation

    with open_ledger(tmp_path / "l.db") as led:
        start(led)
        led.record_plan(
            "r1", [{"symbol": "SPY", "action": "hold", "current_weight": np.float64(0.25), "qty": np.int64(3)}]
        )
        led.record_signals(
            "r1", [{"name": "s", "share": 1, "ok": True, "weights": {}, "trace": [SourceLocation("a.clj", 1, 2)]}]
        )
        assert led.plan("r1")[0]["current_weight"] == Decimal("0.25")
        assert led.plan("r1")[0]["qty"] == Decimal(3)
        assert led.signals("r1")[0]["trace"] == ["a.clj:1:2"]
        led.finish_run("r1", "market_closed")
        with pytest.raises(TypeError):
            led.record_plan("r1", [{"symbol": "SPY", "action": "hold", "qty": True}])
        assert len(led.plan("r1")) == 1
