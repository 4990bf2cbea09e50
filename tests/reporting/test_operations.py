"""Operations: the calendar scheduler, notifications to a real HTTP receiver, run and execution reports."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from alchemiser.config import load_settings
from alchemiser.ledger import Ledger
from alchemiser.market_calendar import NY
from alchemiser.reporting.quality import execution_report
from alchemiser.runner import run_trade
from alchemiser.scheduling import (
    ScheduleConfig,
    SessionCloseTrigger,
    cron_entry,
    due_session,
    next_fire_time,
    systemd_units,
)
from tests.execution.test_executor import Run
from tests.helpers import run


def ny(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=NY)  # type: ignore[misc]


def test_fires_ten_minutes_before_close_on_a_normal_day() -> None:
    assert next_fire_time(ny(2025, 11, 26, 9, 0), 10) == ny(2025, 11, 26, 15, 50)
    assert next_fire_time(ny(2025, 11, 26, 15, 51), 10) == ny(2025, 11, 28, 12, 50)  # Thanksgiving skipped


def test_early_close_and_holiday() -> None:
    assert next_fire_time(ny(2025, 11, 28, 8, 0), 10) == ny(2025, 11, 28, 12, 50)  # Black Friday closes at 13:00
    assert next_fire_time(ny(2025, 12, 24, 13, 0), 10) == ny(2025, 12, 26, 15, 50)  # Christmas Day skipped


def test_trigger_fires_once_per_session_over_a_holiday_week() -> None:
    trigger = SessionCloseTrigger(10)
    fires = []
    now = ny(2025, 12, 22, 0, 0)
    previous = None
    while True:
        fire = trigger.get_next_fire_time(previous, now)
        if fire > ny(2025, 12, 31, 0, 0):
            break
        fires.append(fire)
        previous, now = fire, fire  # the scheduler asks again right after firing
    assert fires == [
        ny(2025, 12, 22, 15, 50), ny(2025, 12, 23, 15, 50), ny(2025, 12, 24, 12, 50),
        ny(2025, 12, 26, 15, 50), ny(2025, 12, 29, 15, 50), ny(2025, 12, 30, 15, 50),
    ]


def test_due_window_for_cron() -> None:
    config = ScheduleConfig(minutes_before_close=10, grace_minutes=5)
    assert due_session(ny(2025, 11, 26, 15, 52), config) == dt.date(2025, 11, 26)
    assert due_session(ny(2025, 11, 26, 15, 49), config) is None
    assert due_session(ny(2025, 11, 26, 15, 56), config) is None
    assert due_session(ny(2025, 11, 28, 12, 50), config) == dt.date(2025, 11, 28)
    assert due_session(ny(2025, 11, 27, 15, 50), config) is None  # Thanksgiving
    cron = cron_entry(config, Path("/h"), None)
    assert "50 12 * * 1-5" in cron and "50 15 * * 1-5" in cron
    assert "OnCalendar=Mon..Fri 15:50 America/New_York" in systemd_units(config, Path("/h"), None)


class Receiver:
    """A real local HTTP endpoint for apprise's json:// target, answering every POST with `status`."""

    def __init__(self, status: int = 200) -> None:
        self.messages: list[dict[str, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.messages.append(json.loads(body))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"json://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def test_a_run_notifies_with_orders_and_reasons(tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALCHEMISER_HOME", str(tmp_path))
    config = tmp_path / "config.toml"
    config.write_text(f'[notify]\nurls = ["{receiver.url}"]\n')
    result = run_trade(load_settings(config))
    assert result.status == "ok"
    (message,) = receiver.messages
    assert result.run_id in message["title"] and "ok" in message["title"]
    body = message["message"]
    assert "RSI(" in body and "price(SPY)" in body  # the reasons
    for order in result.execution.orders:  # type: ignore[union-attr]
        assert order.client_order_id in body
    assert "Portfolio vs target" in body


def test_repeated_identical_failures_are_sent_once(tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALCHEMISER_HOME", str(tmp_path))
    bad = tmp_path / "bad.clj"
    bad.write_text('(defsymphony "b" {} (asset "NODATA" nil))')
    config = tmp_path / "config.toml"
    config.write_text(
        f'[notify]\nurls = ["{receiver.url}"]\nrepeat_failure_window_minutes = 60\n'
        f'[[strategies]]\nname = "b"\nsource = "{bad}"\nweight = 1\n'
    )
    settings = load_settings(config)
    assert run_trade(settings).status == "failed"
    assert run_trade(settings).status == "failed"
    assert len(receiver.messages) == 1
    assert "FAILED" in receiver.messages[0]["message"] and "NODATA" in receiver.messages[0]["message"]


def test_second_run_in_a_session_is_refused_unless_forced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALCHEMISER_HOME", str(tmp_path))
    settings = load_settings()
    assert run_trade(settings).status == "ok"
    again = run_trade(settings)
    assert again.status == "already_ran" and again.execution is None
    forced = run_trade(settings, force=True)
    assert forced.status == "nothing_to_do"
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        assert [r.status for r in ledger.runs()] == ["nothing_to_do", "ok"]


def test_execution_quality_beats_market_orders(tmp_path: Path) -> None:
    from alchemiser.data.sample import SampleMarket
    from alchemiser.execution.sim import SimBroker, SimConfig
    from tests.execution.test_executor import END, FAST

    market = SampleMarket(end=END)
    with SimBroker(market, tmp_path / "sim.sqlite", SimConfig(spread_bps=20), as_of=END) as broker, Ledger(
        tmp_path / "ledger.sqlite"
    ) as ledger:
        for target in ({"SPY": 0.5, "QQQ": 0.5}, {"TLT": 0.6, "GLD": 0.4}, {"SPY": 0.3, "IEF": 0.7}):
            Run(broker, ledger, FAST)(target)
        broker.script("XLK", stall=True)
        Run(broker, ledger, FAST)({"IEF": 0.5, "XLK": 0.5})  # one limit falls back to market
        report = execution_report(ledger)
    summary = report["summary"]
    assert summary["orders_with_quote"] >= 8
    assert summary["avg_cost_bps"] < summary["avg_market_cost_bps"]
    assert summary["limit_fallbacks"] >= 1
    buys = [o for o in report["orders"] if o["side"] == "buy" and o["type"] == "limit" and o["cost_bps"] is not None]
    # bid + 75 % of the spread = mid + 25 % of it, give or take the cent the limit is rounded to
    assert buys and all(o["spread_fraction"] <= 0.25 + 0.005 / o["spread"] + 1e-9 for o in buys)
    assert all(o["seconds_to_fill"] is not None for o in report["orders"] if o["fill_price"] is not None)


def test_report_command_renders_a_run(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert run(["trade", "--json"], home).returncode == 0
    html = tmp_path / "run.html"
    result = run(["report", "--html", str(html), "--json"], home)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["run"]["status"] == "ok" and data["orders"] and all(o["events"] for o in data["orders"])
    assert data["strategies"][0]["trace"] and data["weights_after"]
    page = html.read_text()
    assert data["run"]["run_id"] in page and "Execution quality" in page
    quality = json.loads(run(["report", "--execution", "--json"], home).stdout)
    assert quality["summary"]["orders"] == len(data["orders"])
    logs = (home / "logs" / "alchemiser.log").read_text().splitlines()
    assert any(json.loads(line)["message"] == "run finished" for line in logs)


def test_the_daily_scheduler_survives_a_failed_run_and_fires_at_the_next_close() -> None:
    from alchemiser.scheduling import make_scheduler

    calls: list[int] = []

    def failing_run() -> None:
        calls.append(1)
        raise RuntimeError("broker outage")

    scheduler = make_scheduler(failing_run, ScheduleConfig(minutes_before_close=10))
    job = scheduler.get_job("daily-trade")
    assert job is not None and job.max_instances == 1 and job.coalesce
    now = dt.datetime.now(NY)
    assert job.trigger.get_next_fire_time(None, now) == next_fire_time(now, 10)
    job.func()  # a failed run is reported, not raised: the scheduler lives on for the next session
    job.func()
    assert len(calls) == 2


def test_notional_buys_record_their_arrival_quote(tmp_path: Path) -> None:
    from alchemiser.data.sample import SampleMarket
    from alchemiser.execution.sim import SimBroker, SimConfig
    from tests.execution.test_executor import END, FAST

    with SimBroker(SampleMarket(end=END), tmp_path / "sim.sqlite", SimConfig(), as_of=END) as broker, Ledger(
        tmp_path / "ledger.sqlite"
    ) as ledger:
        Run(broker, ledger, FAST.model_copy(update={"buy_mode": "notional"}))({"SPY": 0.5, "TLT": 0.5})
        report = execution_report(ledger)
    assert {o["type"] for o in report["orders"]} == {"market"}
    assert all(o["arrival_mid"] is not None and o["cost_bps"] is not None for o in report["orders"])
    assert report["summary"]["avg_cost_bps"] == pytest.approx(report["summary"]["avg_market_cost_bps"], rel=0.05)
