"""The trading session called directly (as the dashboard and sweeps do), the ledger queries it relies on,
the status enums and the crash-point wrapper."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from alchemiser.config import load_settings
from alchemiser.execution.crashpoints import CrashingBroker
from alchemiser.execution.sim import SimBroker
from alchemiser.ledger import Ledger
from alchemiser.market_calendar import NY
from alchemiser.models import Account, ExecutionStatus, OrderStatus, RunStatus
from alchemiser.runner import Decided, run_session
from alchemiser.signals import build_market, compute_signals
from tests.ledger.test_ledger import broker_order, open_ledger, request

NOW = dt.datetime(2025, 6, 30, 15, 50, tzinfo=NY)


def test_run_session_trades_then_finds_nothing_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALCHEMISER_HOME", str(tmp_path))
    settings = load_settings()
    market = build_market(settings)
    signals = compute_signals(settings, market=market)
    lines: list[str] = []
    with SimBroker(market, tmp_path / "sim.sqlite", settings.sim, as_of=signals.as_of) as broker, Ledger(
        tmp_path / "session.sqlite"
    ) as ledger:
        first = run_session(broker, ledger, lines.append, settings, NOW, Decided(market, signals), mode="sim")
        assert first.status == RunStatus.OK, first.message
        assert first.execution is not None and first.execution.orders
        assert first.run_id.startswith("20250630-155000-") and first.trading_day == NOW.date()
        recorded = ledger.run(first.run_id)
        assert recorded is not None and recorded.status == RunStatus.OK and recorded.mode == "sim"
        assert recorded.trading_day == NOW.date() and recorded.broker == broker.name
        assert ledger.snapshot(first.run_id, "after") is not None
        assert ledger.traded_on(NOW.date()) > 0
        assert lines  # progress went to the given collector

        again = run_session(broker, ledger, lines.append, settings, NOW, Decided(market, signals), mode="sim")
        assert again.status == RunStatus.NOTHING_TO_DO and again.execution is None
        assert [r.status for r in ledger.runs()] == [RunStatus.NOTHING_TO_DO, RunStatus.OK]
        assert not ledger.unfinished_runs()


def test_run_session_closes_a_run_left_running_by_a_crash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALCHEMISER_HOME", str(tmp_path))
    settings = load_settings()
    market = build_market(settings)
    signals = compute_signals(settings, market=market)
    with SimBroker(market, tmp_path / "sim.sqlite", settings.sim, as_of=signals.as_of) as broker, Ledger(
        tmp_path / "session.sqlite"
    ) as ledger:
        ledger.start_run("crashed", mode="sim", broker="sim", trading_day=NOW.date(), config_digest="x")
        run = run_session(broker, ledger, lambda _: None, settings, NOW, Decided(market, signals), mode="sim")
        crashed = ledger.run("crashed")
        assert crashed is not None and crashed.status == RunStatus.FAILED
        assert f"resumed by run {run.run_id}" in crashed.message


def _filled(ledger: Ledger, run_id: str, cid: str, qty: str, price: str) -> None:
    ledger.record_intent(run_id, request(cid, qty=qty), phase="buy", attempt=1)  # type: ignore[arg-type]
    ledger.record_order_state(broker_order(cid, OrderStatus.FILLED, filled=qty, avg=price))


def test_traded_on_sums_every_run_of_that_day_exactly(tmp_path: Path) -> None:
    day, before = dt.date(2024, 3, 1), dt.date(2024, 2, 29)
    with open_ledger(tmp_path / "l.db") as ledger:
        assert ledger.traded_on(day) == 0
        for run_id, trading_day in (("a", day), ("b", day), ("old", before)):
            ledger.start_run(run_id, mode="sim", broker="sim", trading_day=trading_day, config_digest="x")
        _filled(ledger, "a", "a1", "1.5", "100.10")
        _filled(ledger, "b", "b1", "2", "0.1")
        _filled(ledger, "old", "o1", "10", "10")
        ledger.record_intent("b", request("b2"), phase="buy", attempt=2)  # type: ignore[arg-type]  # no fill
        assert ledger.traded_on(day) == Decimal("150.15") + Decimal("0.2")
        assert ledger.traded_on(before) == Decimal(100)


def test_equity_before_is_the_latest_earlier_day_after_snapshot(tmp_path: Path) -> None:
    def account(equity: str) -> Account:
        return Account("acc", Decimal(equity), Decimal(0), Decimal(0))

    with open_ledger(tmp_path / "l.db") as ledger:
        assert ledger.equity_before(dt.date(2024, 3, 4)) is None
        for run_id, day, equity in (("d1", 1, "1000.5"), ("d2", 2, "1010.25"), ("d2-none", 2, None), ("d4", 4, "990")):
            ledger.start_run(run_id, mode="sim", broker="sim", trading_day=dt.date(2024, 3, day), config_digest="x")
            if equity is not None:
                ledger.record_snapshot(run_id, "after", account(equity), [])
        ledger.record_snapshot("d1", "before", account("1"), [])  # a before snapshot never counts
        assert ledger.equity_before(dt.date(2024, 3, 4)) == Decimal("1010.25")
        assert ledger.equity_before(dt.date(2024, 3, 2)) == Decimal("1000.5")
        assert ledger.equity_before(dt.date(2024, 3, 1)) is None


def test_statuses_keep_their_values_and_one_rule_decides_the_exit_code() -> None:
    assert {s.value for s in RunStatus} == {
        "running", "ok", "nothing_to_do", "partial", "blocked", "halted", "failed", "market_closed", "already_ran"
    }
    assert {s for s in RunStatus if s.exit_code == 0} == {RunStatus.OK, RunStatus.NOTHING_TO_DO, RunStatus.ALREADY_RAN}
    assert {s for s in RunStatus if s.took_the_session} == {
        RunStatus.OK, RunStatus.NOTHING_TO_DO, RunStatus.PARTIAL, RunStatus.BLOCKED
    }
    assert all(s.run_status == s.value for s in ExecutionStatus)
    assert f"{RunStatus.MARKET_CLOSED}" == "market_closed"


def test_crashing_broker_counts_two_points_per_request_and_none_for_listeners(tmp_path: Path) -> None:
    from alchemiser.data.sample import SampleMarket
    from tests.execution.test_executor import END

    with SimBroker(SampleMarket(end=END), tmp_path / "sim.sqlite", as_of=END) as inner:
        wrapped = CrashingBroker(inner, crash_at=0)  # 0 never fires
        assert wrapped.name == inner.name
        wrapped.get_clock()
        wrapped.get_account()
        wrapped.add_order_listener(lambda _: None)
        assert wrapped._count == 4
        assert wrapped.list_orders("all") == [] and wrapped._count == 6
