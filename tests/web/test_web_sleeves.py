"""Strategy sleeves replayed from a ledger spanning several sessions, checked against the closes directly."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from alchemiser.config import load_settings
from alchemiser.ledger import Ledger
from alchemiser.models import Account, Position
from alchemiser.signals import build_market
from alchemiser.web.context import WebContext
from alchemiser.web.sleeves import sleeves

D1, D2 = dt.date(2025, 6, 2), dt.date(2025, 6, 16)


def _run(ledger: Ledger, day: dt.date, equity: str, a: dict[str, float], b: dict[str, float]) -> None:
    run_id = f"run-{day}"
    ledger.start_run(run_id, mode="sim", broker="sim", trading_day=day, config_digest="x")
    ledger.record_signals(
        run_id,
        [
            {"name": "a", "share": 0.5, "weights": a, "trace": []},
            {"name": "b", "share": 0.5, "weights": b, "trace": []},
        ],
    )
    account = Account("sim", Decimal(equity), Decimal(equity), Decimal(equity))
    ledger.record_snapshot(run_id, "before", account, [])
    after = Account("sim", Decimal(equity) - 10, Decimal(5), Decimal(5))
    ledger.record_snapshot(run_id, "after", after, [Position("SPY", Decimal(1), Decimal(1), Decimal(1), Decimal(1))])
    ledger.finish_run(run_id, "ok", summary={"as_of": day.isoformat(), "targets": {}})


def test_sleeves_compound_each_strategys_own_decisions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALCHEMISER_HOME", str(tmp_path))
    ctx = WebContext.load(None, True)
    clock = iter(dt.datetime(2025, 6, 2, 20, tzinfo=dt.UTC) + dt.timedelta(minutes=k) for k in range(100))
    with Ledger(ctx.ledger, clock=lambda: next(clock)) as ledger:
        _run(ledger, D1, "100000", {"SPY": 1.0}, {"TLT": 0.5, "BIL": 0.5})
        _run(ledger, D2, "101000", {"TLT": 1.0}, {"TLT": 0.5, "BIL": 0.5})
    data = sleeves(ctx)
    end = dt.date.fromisoformat(data["as_of"])
    market = build_market(load_settings())

    def close(symbol: str, day: dt.date) -> float:
        return float(market.bars(symbol, D1, day)["close"].iloc[-1])

    got = {r["name"]: r for r in data["strategies"]}
    expected_a = 50_000 * close("SPY", D2) / close("SPY", D1) * close("TLT", end) / close("TLT", D2)
    assert got["a"]["value"] == pytest.approx(expected_a, rel=1e-9)
    assert got["a"]["start_value"] == 50_000 and got["a"]["started"] == D1.isoformat()
    assert got["a"]["weights"] == {"TLT": 1.0}
    # b rebalances daily to 50/50 between decisions, as its sleeve is defined (share × its weights each day)
    assert got["b"]["return"] is not None and got["b"]["max_drawdown"] <= 0
    total = got["a"]["value"] + got["b"]["value"]
    rec = data["reconciliation"]
    assert rec["sleeves_total"] == pytest.approx(total)
    assert rec["account_equity"] == 100_990.0
    assert rec["difference"] == pytest.approx(100_990.0 - total)
    assert got["a"]["contribution"] == pytest.approx((got["a"]["value"] - 50_000) / 100_000)


def test_no_ledger_means_no_sleeves(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALCHEMISER_HOME", str(tmp_path))
    assert sleeves(WebContext.load(None, True)) == {"empty": True, "strategies": [], "reconciliation": None}


def test_daily_marks_value_the_last_holdings_at_each_close(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from alchemiser.web.marks import daily_marks
    from alchemiser.web.readonly import open_readonly

    monkeypatch.setenv("ALCHEMISER_HOME", str(tmp_path))
    ctx = WebContext.load(None, True)
    clock = iter(dt.datetime(2025, 6, 2, 20, tzinfo=dt.UTC) + dt.timedelta(minutes=k) for k in range(100))
    with Ledger(ctx.ledger, clock=lambda: next(clock)) as ledger:
        _run(ledger, D1, "100000", {"SPY": 1.0}, {"TLT": 1.0})
    with open_readonly(ctx.ledger) as ro:
        assert ro is not None
        marks = daily_marks(ctx, ro)
    market = build_market(load_settings())
    closes = market.bars("SPY", D1, dt.date.fromisoformat(marks[-1]["day"]))["close"]
    assert [m["day"] for m in marks] == [d.date().isoformat() for d in closes.index]
    assert [m["equity"] for m in marks] == pytest.approx([5.0 + 1.0 * c for c in closes])


def test_a_failed_notification_is_a_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`trade` with an undeliverable notification URL logs the failure; the overview shows it."""
    import json as _json

    from alchemiser.web.queries import overview
    from tests.web.conftest import cli

    (tmp_path / "config.toml").write_text('[notify]\nurls = ["json://127.0.0.1:9/nowhere"]\n')
    cli(tmp_path, "trade", "--json")
    monkeypatch.setenv("ALCHEMISER_HOME", str(tmp_path))
    found = overview(WebContext.load(None, True))["warnings"]
    assert any("notification failed" in w for w in found), (found, _json.dumps(found))
