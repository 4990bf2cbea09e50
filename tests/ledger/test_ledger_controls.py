"""Schema v2 — control actions and paused strategies — on a ledger made by the previous schema, the one-time
import of the dashboard's old audit file, and the decision a paused strategy holds."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from decimal import Decimal
from pathlib import Path

import pytest

from alchemiser import ledger as ledger_module
from alchemiser.ledger import Ledger, controls
from alchemiser.models import Account, Position
from tests.ledger.test_ledger import open_ledger, start

T0 = dt.datetime(2025, 6, 30, 19, 50, tzinfo=dt.UTC)


def _v1_ledger(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A ledger file exactly as the previous release (schema 1) left it, with one run."""
    monkeypatch.setattr(ledger_module, "MIGRATIONS", ledger_module.MIGRATIONS[:1])
    with open_ledger(path) as led:
        start(led)
        assert led.schema_version == 1
    monkeypatch.undo()


def test_v2_migrates_a_v1_ledger_and_keeps_its_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "ledger.sqlite"
    _v1_ledger(path, monkeypatch)
    with sqlite3.connect(path) as raw:
        assert "control_actions" not in {r[0] for r in raw.execute("SELECT name FROM sqlite_master")}
    with Ledger(path) as led:
        assert led.schema_version == 2 and led.run("r1") is not None
        assert controls.actions(led) == [] and controls.paused(led) == {}
        controls.record_action(led, "kill_switch", {"on": True}, "web", "on", at=T0)
        with pytest.raises(ValueError, match="source"):
            controls.record_action(led, "kill_switch", {}, "cron", "x")
        # the table refuses an unknown source by itself too
        with pytest.raises(sqlite3.IntegrityError), led._write() as conn:
            conn.execute("INSERT INTO control_actions (at, action, source) VALUES ('x', 'y', 'cron')")
        [row] = controls.actions(led)
        assert (row.at, row.action, row.detail, row.source, row.outcome) == (
            T0,
            "kill_switch",
            {"on": True},
            "web",
            "on",
        )


def test_pause_resume_and_listing(tmp_path: Path) -> None:
    with open_ledger(tmp_path / "l.db") as led:
        assert controls.pause(led, "nuclear", "cli", at=T0) == (T0, True)
        assert controls.pause(led, "nuclear", "web", at=T0 + dt.timedelta(days=1)) == (T0, False)  # since stays
        controls.pause(led, "klm", "web", at=T0)
        assert controls.paused(led) == {"klm": T0, "nuclear": T0}
        assert controls.resume(led, "nuclear") == T0
        assert controls.resume(led, "nuclear") is None
        assert controls.paused(led) == {"klm": T0}


def test_two_processes_pausing_at_once_keep_one_row(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    open_ledger(path).close()
    results: list[bool] = []

    def pause() -> None:
        with Ledger(path) as led:
            results.append(controls.pause(led, "nuclear", "cli")[1])

    threads = [threading.Thread(target=pause) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False, False, False, True]


def test_the_old_audit_file_is_imported_once(tmp_path: Path) -> None:
    audit = tmp_path / "web" / "actions.jsonl"
    audit.parent.mkdir()
    lines = [
        {"at": "2025-06-30T19:00:00+00:00", "action": "kill_switch", "on": True},
        "not json at all",
        {"at": "2025-06-30T19:05:00+00:00", "action": "run_now", "broker": "sim", "pid": 42},
        {"action": "no time"},
        {"at": "2025-06-30T19:06:00", "action": "naive time"},
    ]
    audit.write_text("\n".join(json.dumps(x) if isinstance(x, dict) else x for x in lines) + "\n")
    with open_ledger(tmp_path / "l.db") as led:
        assert controls.import_audit_file(led, audit) == 2
        assert not audit.exists() and audit.with_name("actions.jsonl.imported").exists()
        assert controls.import_audit_file(led, audit) == 0
        rows = controls.actions(led)
        assert [(r.action, r.source, r.detail) for r in rows] == [
            ("run_now", "web", {"broker": "sim", "pid": 42, "imported_from": "actions.jsonl:3"}),
            ("kill_switch", "web", {"on": True, "imported_from": "actions.jsonl:1"}),
        ]
        # a crash after the commit but before the last rename leaves the claimed file: not imported twice
        audit.with_name("actions.jsonl.imported").rename(audit.with_name("actions.jsonl.importing"))
        assert controls.import_audit_file(led, audit) == 0
        assert len(controls.actions(led)) == 2 and audit.with_name("actions.jsonl.imported").exists()


def _snapshot(led: Ledger, run_id: str, equity: str, prices: dict[str, str]) -> None:
    positions = [Position(s, Decimal(1), Decimal(p), Decimal(p), Decimal(p)) for s, p in prices.items()]
    led.record_snapshot(run_id, "after", Account("acc", Decimal(equity), Decimal(0), Decimal(equity)), positions)


def test_the_held_decision_is_the_last_traded_one_not_a_paused_one(tmp_path: Path) -> None:
    with open_ledger(tmp_path / "l.db") as led:
        for run_id in ("r1", "r2", "r3", "r4"):
            start(led, run_id, broker="sim")
        led.record_signals("r1", [{"name": "nuclear", "ok": True, "weights": {"SMR": 1.0}}])
        _snapshot(led, "r1", "1000", {"SMR": "10"})
        led.record_signals("r2", [{"name": "nuclear", "ok": True, "weights": {"LEU": 0.5, "OKLO": 0.5}}])
        _snapshot(led, "r2", "2000", {"LEU": "20", "OKLO": "40"})
        led.record_signals("r3", [{"name": "nuclear", "ok": True, "weights": {"BIL": 1.0}}])  # never traded
        led.record_signals(
            "r4", [{"name": "nuclear", "ok": True, "weights": {"LEU": 1.0}, "paused_since": T0.isoformat()}]
        )
        _snapshot(led, "r4", "3000", {"LEU": "30"})
        held = controls.last_decision(led, "nuclear")
        assert held is not None and held.run_id == "r2"
        assert held.weights == {"LEU": 0.5, "OKLO": 0.5} and held.equity == Decimal(2000)
        assert held.prices == {"LEU": Decimal(20), "OKLO": Decimal(40)}
        assert controls.last_decision(led, "nuclear", broker="alpaca") is None
        assert controls.last_decision(led, "tecl") is None
        # a liquidation records every strategy as all cash: from then on that is what a paused one holds
        start(led, "liquidation", broker="sim")
        led.record_signals("liquidation", [{"name": "nuclear", "ok": True, "weights": {}, "source": "liquidate"}])
        _snapshot(led, "liquidation", "2990", {})
        held = controls.last_decision(led, "nuclear")
        assert held is not None and held.run_id == "liquidation" and held.weights == {}
