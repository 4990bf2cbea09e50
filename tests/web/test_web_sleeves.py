"""Strategy sleeves replayed from a ledger spanning several sessions, checked against the closes directly."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from alchemiser.config import Settings, load_settings
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
    # a: SPY bought with half of 100,000 at D1's close; at D2 re-based to half of that run's 101,000 (what
    # the run gave it) and TLT bought; its return chains the two periods, its P&L adds what each earned
    a1, a2 = close("SPY", D2) / close("SPY", D1), close("TLT", end) / close("TLT", D2)
    assert got["a"]["value"] == pytest.approx(50_500 * a2, rel=1e-9)
    assert got["a"]["return"] == pytest.approx(a1 * a2 - 1, rel=1e-9)
    assert got["a"]["pnl"] == pytest.approx(50_000 * (a1 - 1) + 50_500 * (a2 - 1), rel=1e-9)
    assert got["a"]["contribution"] == pytest.approx(got["a"]["pnl"] / 100_000)
    assert got["a"]["start_value"] == 50_000 and got["a"]["started"] == D1.isoformat()
    assert got["a"]["weights"] == {"TLT": 1.0}

    # b holds 50/50 bought at each decision's close and then drifts with prices (no daily rebalancing)
    def hold(start: dt.date, stop: dt.date) -> float:
        return 0.5 * close("TLT", stop) / close("TLT", start) + 0.5 * close("BIL", stop) / close("BIL", start)

    assert got["b"]["value"] == pytest.approx(50_500 * hold(D2, end), rel=1e-9)
    assert got["b"]["return"] == pytest.approx(hold(D1, D2) * hold(D2, end) - 1, rel=1e-9)
    tlt_now = 0.5 * close("TLT", end) / close("TLT", D2)
    assert got["b"]["weights"]["TLT"] == pytest.approx(tlt_now / (tlt_now + 0.5 * close("BIL", end) / close("BIL", D2)))
    assert got["b"]["target"] == {"TLT": 0.5, "BIL": 0.5} and got["b"]["decided"] == D2.isoformat()
    total = got["a"]["value"] + got["b"]["value"]
    rec = data["reconciliation"]
    assert rec["sleeves_total"] == pytest.approx(total)
    # the account is marked at the same close as the sleeves: its last holdings (1 SPY + $5 cash) × the close
    assert rec["account_equity"] == pytest.approx(5.0 + close("SPY", end), abs=0.005)  # marks are in cents
    assert rec["account_as_of"] == f"close of {end}"
    assert rec["difference"] == pytest.approx(rec["account_equity"] - total)
    assert rec["trading_costs"] == 0.0  # these runs placed no orders
    assert rec["trading_costs"] + rec["drift"] == pytest.approx(rec["difference"])


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
    assert [m["equity"] for m in marks] == pytest.approx([5.0 + 1.0 * c for c in closes], abs=0.005)  # cents


SESSIONS = (dt.date(2025, 4, 1), dt.date(2025, 4, 15), dt.date(2025, 5, 1), dt.date(2025, 5, 15))
PAIR = '(defsymphony "pair" {} (weight-specified 0.6 (asset "SPY") 0.4 (asset "TLT")))\n'


def _trade_session(settings: Settings, day: dt.date) -> str:
    """One real trading session at `day`'s close: the runner's own seam (signals, plan, orders on the
    simulated broker, snapshots, ledger), with the trading day set to `day`."""
    from alchemiser.execution.sim.broker import SimBroker
    from alchemiser.market_calendar import NY
    from alchemiser.runner import Decided, run_session
    from alchemiser.signals import compute_signals

    market = build_market(settings)
    report = compute_signals(settings, as_of=day, market=market)
    now = dt.datetime.combine(day, dt.time(15, 50), NY)
    # the broker prices at `day`'s close but quotes on the real clock (the executor checks quote freshness)
    broker = SimBroker(market, settings.home / "sim.sqlite", settings.sim, as_of=report.as_of)
    try:
        with Ledger(settings.ledger_file) as ledger:
            run = run_session(broker, ledger, lambda _: None, settings, now, Decided(market, report), mode="sim")
    finally:
        broker.close()
    assert str(run.status) in ("ok", "nothing_to_do"), (run.status, run.message)
    return run.run_id


def test_sleeves_drift_between_real_sessions_and_reconcile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Four real sessions two weeks apart: each sleeve is bought at its decision's close and then held, so
    its weights drift with prices; the reconciliation splits account − sleeves into the recorded trading
    costs and the rest."""
    (tmp_path / "pair.clj").write_text(PAIR)
    (tmp_path / "config.toml").write_text(
        '[[strategies]]\nname = "pair"\nsource = "pair.clj"\nweight = 0.5\n'
        '[[strategies]]\nname = "nuclear"\nsource = "nuclear"\nweight = 0.5\n'
    )
    monkeypatch.setenv("ALCHEMISER_HOME", str(tmp_path))
    settings = load_settings()
    run_ids = [_trade_session(settings, day) for day in SESSIONS]
    ctx = WebContext.load(None, True)
    data = sleeves(ctx)
    end = dt.date.fromisoformat(data["as_of"])
    market = build_market(settings)

    def close(symbol: str, day: dt.date) -> float:
        return float(market.bars(symbol, SESSIONS[0], day)["close"].iloc[-1])

    with Ledger(ctx.ledger) as ledger:
        equities = [float(ledger.snapshot(r, "before")["account"]["equity"]) for r in run_ids]
        decided = [{s["name"]: s["weights"] for s in ledger.signals(r)} for r in run_ids]
        last_orders = ledger.orders(run_ids[-1])
    first_equity = equities[0]
    assert all(d["pair"] == {"SPY": 0.6, "TLT": 0.4} for d in decided)
    got = {r["name"]: r for r in data["strategies"]}
    # pair: at each run, half the account's equity before it; 60/40 bought at that close, held (drifting)
    growth = 1.0
    for start, stop in zip(SESSIONS, [*SESSIONS[1:], end], strict=True):
        spy, tlt = 0.6 * close("SPY", stop) / close("SPY", start), 0.4 * close("TLT", stop) / close("TLT", start)
        growth *= spy + tlt
    assert got["pair"]["value"] == pytest.approx(0.5 * equities[-1] * (spy + tlt), rel=1e-9)
    assert got["pair"]["return"] == pytest.approx(growth - 1, rel=1e-9)
    assert got["pair"]["weights"]["SPY"] == pytest.approx(spy / (spy + tlt))
    assert got["pair"]["weights"]["SPY"] != pytest.approx(0.6, abs=1e-6)  # drifted, not reset daily
    series = dict(got["pair"]["series"])
    mid = dt.date(2025, 4, 8)  # between the first two decisions: the first 60/40 held since April 1
    held = (
        0.5
        * first_equity
        * (0.6 * close("SPY", mid) / close("SPY", SESSIONS[0]) + 0.4 * close("TLT", mid) / close("TLT", SESSIONS[0]))
    )
    assert series[mid.isoformat()] == pytest.approx(held, rel=1e-9)
    # the reconciliation: sleeves vs the account marked at the same close, costs of the last run's fills
    # (earlier runs' costs are already in the equity the sleeves were re-based to)
    rec = data["reconciliation"]
    assert rec["since"] == SESSIONS[-1].isoformat()
    assert rec["account_as_of"] == f"close of {end}"
    assert rec["sleeves_total"] == pytest.approx(sum(r["value"] for r in data["strategies"]))
    assert rec["difference"] == pytest.approx(rec["account_equity"] - rec["sleeves_total"])
    paid = 0.0
    for o in last_orders:
        if o.filled_avg_price is not None and o.quote_bid is not None and o.quote_ask is not None:
            mid_quote = (float(o.quote_bid) + float(o.quote_ask)) / 2
            sign = 1.0 if str(o.side) == "buy" else -1.0
            paid += sign * (float(o.filled_avg_price) - mid_quote) * float(o.filled_qty)
    assert last_orders and paid > 0  # the simulated broker fills at the spread: costs are real and recorded
    assert rec["trading_costs"] == pytest.approx(-paid)
    assert rec["trading_costs"] + rec["drift"] == pytest.approx(rec["difference"])


def test_stale_store_warns_with_the_tickers_and_the_fetch_command(tmp_path: Path) -> None:
    """A home whose store stops at 2025-06-30 (sample data off): the overview says which tickers lack data
    for the last session and the exact command, as `alchemiser data missing` does."""
    import json as _json

    from alchemiser.data.sample import SampleMarket
    from alchemiser.data.store import LocalStore
    from tests.web.conftest import cli, start_web, stop_web
    from tests.web.http import get_json, request

    (tmp_path / "pair.clj").write_text(PAIR)
    (tmp_path / "config.toml").write_text(
        '[data]\nsample_fallback = false\n[[strategies]]\nname = "pair"\nsource = "pair.clj"\nweight = 1\n'
    )
    stale_end = dt.date(2025, 6, 30)
    LocalStore(tmp_path / "data").write({"SPY": SampleMarket().bars("SPY", None, stale_end)})  # TLT: absent
    missing = cli(tmp_path, "data", "missing", "--json", check=False)
    assert missing.returncode == 1
    expected = _json.loads(missing.stdout)
    assert expected["fill_command"] == "alchemiser data fetch --symbols SPY,TLT"
    server = start_web(tmp_path)
    try:
        status, o = get_json(server.url + "api/overview")
        assert status == 200 and o["empty"] is True
        gaps = o["data_gaps"]
        assert gaps["command"] == expected["fill_command"] and gaps["as_of"] == expected["as_of"]
        assert {g["symbol"]: g["status"] for g in gaps["gaps"]} == {"SPY": "stale", "TLT": "absent"}
        assert any("SPY (stale), TLT (absent)" in w and expected["fill_command"] in w for w in o["warnings"])
        page = request(server.url)[1]
        assert f'<pre id="fill-command">{expected["fill_command"]}</pre>' in page
        assert f"last bar {stale_end}" in page
        # a `data fetch` while the dashboard runs: the warning goes (the cache notices the rewritten files)
        latest = dt.date.fromisoformat(expected["as_of"])
        market = SampleMarket()
        LocalStore(tmp_path / "data").write({s: market.bars(s, None, latest) for s in ("SPY", "TLT")})
        status, o = get_json(server.url + "api/overview")
        assert o["data_gaps"] is None and not any("data missing" in w for w in o["warnings"])
    finally:
        stop_web(server)
