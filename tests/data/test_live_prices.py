"""`[signals] price = "live"`: today's latest trades as a provisional close, and backtests of both modes.

Nothing is mocked: the Alpaca path is alpaca-py over real HTTP against `SandboxServer` (whose simulated
exchange sets the latest trade), the CLI runs as a real subprocess, and the simulated broker's own quotes
feed the sim path. Expected indicator values are computed by hand from the stored closes plus one bar.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from alchemiser import market_calendar
from alchemiser.backtest.errors import BacktestError
from alchemiser.config import Settings, StrategyConfig, load_settings
from alchemiser.data.live import price_mode
from alchemiser.data.sample import SampleMarket
from alchemiser.errors import ConfigError
from alchemiser.execution.alpaca import AlpacaBroker
from alchemiser.execution.sim import SimBroker, SimConfig
from alchemiser.ledger import Ledger
from alchemiser.sandbox.server import SandboxConfig, SandboxServer
from alchemiser.secrets import AlpacaCredentials, resolve_endpoints
from alchemiser.signals import build_market, compute_signals
from tests.helpers import run

KEY, SECRET = "live-test-key-0123", "live-test-secret-s3cr3t"
PROBE = """(defsymphony "live probe" {:asset-class "EQUITIES" :rebalance-frequency :daily}
  (weight-equal
    [(if (> (current-price "SPY") (moving-average-price "SPY" {:window 20}))
       [(asset "SPY")]
       [(asset "BIL")])
     (if (> (rsi "SPY" {:window 10}) 50)
       [(asset "TQQQ")]
       [(asset "BIL")])]))
"""


# ------------------------------------------------------------------------------------------------ by hand


def wilder_rsi(closes: np.ndarray, window: int) -> float:
    """RSI of the last close: Wilder's smoothing (alpha = 1/window) seeded with the first change."""
    gains = losses = None
    alpha = 1.0 / window
    for a, b in itertools.pairwise(closes):
        gain, loss = max(b - a, 0.0), max(a - b, 0.0)
        if gains is None or losses is None:
            gains, losses = gain, loss
        else:
            gains, losses = alpha * gain + (1 - alpha) * gains, alpha * loss + (1 - alpha) * losses
    assert gains is not None and losses is not None
    return 100.0 if losses == 0 else 100.0 - 100.0 / (1.0 + gains / losses)


def trace_values(strategy: dict[str, object]) -> dict[str, float]:
    """price(SPY), SMA(SPY,20) and RSI(SPY,10) as the trace shows them (two decimals)."""
    text = " ".join(step["text"] for step in strategy["trace"])  # type: ignore[attr-defined, index]
    out = {}
    for key, pattern in (("price", r"price\(SPY\) = ([\d,.]+)"), ("sma", r"SMA\(SPY,20\) = ([\d,.]+)"),
                         ("rsi", r"RSI\(SPY,10\) = ([\d,.]+)")):
        found = re.search(pattern, text)
        assert found, (key, text)
        out[key] = float(found.group(1).replace(",", ""))
    return out


def expected(closes: np.ndarray) -> dict[str, float]:
    return {"price": float(closes[-1]), "sma": float(np.mean(closes[-20:])), "rsi": wilder_rsi(closes, 10)}


# ------------------------------------------------------------------------------------------------ fixtures


@pytest.fixture
def probe(tmp_path: Path) -> Path:
    path = tmp_path / "probe.clj"
    path.write_text(PROBE)
    return path


@pytest.fixture
def settings(tmp_path: Path, probe: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("ALCHEMISER_HOME", str(tmp_path / "home"))
    return load_settings().model_copy(update={"strategies": [StrategyConfig(name="probe", source=str(probe), weight=1)]})


def sandbox(settings: Settings, tmp_path: Path, **kwargs: object) -> SandboxServer:
    cfg = SandboxConfig(port=0, key_id=KEY, secret_key=SECRET)
    server = SandboxServer(build_market(settings), tmp_path / "sandbox.sqlite", cfg, SimConfig(), **kwargs)  # type: ignore[arg-type]
    return server.start()


@pytest.fixture
def server(settings: Settings, tmp_path: Path) -> Iterator[SandboxServer]:
    srv = sandbox(settings, tmp_path)
    try:
        yield srv
    finally:
        srv.stop()


def alpaca(server: SandboxServer) -> AlpacaBroker:
    endpoints = resolve_endpoints(True, {"trading_url": server.url, "data_url": server.url}, env={})
    return AlpacaBroker(AlpacaCredentials.of(KEY, SECRET), endpoints)


def spy_closes(settings: Settings) -> tuple[dt.date, np.ndarray]:
    day = market_calendar.last_completed_session()
    bars = build_market(settings).bars("SPY", None, day)
    return day, bars["close"].to_numpy(dtype=np.float64)


def sandbox_env(server: SandboxServer, probe: Path) -> dict[str, str]:
    return {
        "ALCHEMISER_BROKER": "alpaca",
        "ALCHEMISER_STRATEGIES": json.dumps([{"name": "probe", "source": str(probe), "weight": 1}]),
        "ALPACA_BASE_URL": server.url,
        "ALPACA_DATA_URL": server.url,
        "ALPACA_API_KEY": KEY,
        "ALPACA_SECRET_KEY": SECRET,
    }


# ------------------------------------------------------------------------------------------------ Alpaca (sandbox)


def test_live_signal_reads_one_batch_of_latest_trades_and_decides_on_an_appended_bar(
    settings: Settings, server: SandboxServer
) -> None:
    day, closes = spy_closes(settings)
    live = round(float(closes[-1]) * 1.07, 2)  # a big up day: the price and the RSI jump
    server.broker.set_price("SPY", live)
    broker = alpaca(server)
    try:
        before = server.request_count
        report = compute_signals(settings, price="live", feed=broker)
        requests = dict(broker.http_requests)
    finally:
        broker.close()
    assert server.request_count - before == 2  # the clock, then ONE batch of latest trades
    assert requests == {"GET /v2/clock": 1, "GET /v2/stocks/trades/latest": 1}
    assert report.ok and report.price_mode == "live" and report.price_notice is None
    assert report.as_of == market_calendar.next_session(day)  # the provisional bar's session
    assert set(report.live_prices) == {"SPY", "BIL", "TQQQ"}
    assert report.live_prices["SPY"].price == pytest.approx(live)

    previous = compute_signals(settings, price="previous_close")
    assert previous.price_mode == "previous_close" and previous.as_of == day and not previous.live_prices
    got_previous = trace_values(previous.strategies[0].to_json())
    got_live = trace_values(report.strategies[0].to_json())
    want_previous, want_live = expected(closes), expected(np.append(closes, live))
    for key in ("price", "sma", "rsi"):
        assert got_previous[key] == pytest.approx(want_previous[key], abs=0.006), key
        assert got_live[key] == pytest.approx(want_live[key], abs=0.006), key
        assert got_live[key] != got_previous[key], key  # exactly the appended bar's effect
    # the trace names the live prices and their time; every ticker of the decision is live
    first = report.strategies[0].trace[0]
    assert first.kind == "prices"
    assert re.search(r"SPY [\d,.]+ \(live \d\d:\d\d:\d\d\)", first.text), first.text
    payload = report.to_json()
    assert payload["price_mode"] == "live" and payload["live_prices"]["SPY"]["price"] == pytest.approx(live)
    assert payload["strategies"][0]["price_mode"] == "live"


def test_cli_signal_live_versus_previous_close_over_http(
    settings: Settings, server: SandboxServer, probe: Path, tmp_path: Path
) -> None:
    _, closes = spy_closes(settings)
    live = round(float(closes[-1]) * 0.93, 2)
    server.broker.set_price("SPY", live)
    env = sandbox_env(server, probe)
    before = server.request_count
    result = run(["signal", "--price", "live", "--json"], tmp_path / "home", **env)
    assert result.returncode == 0, result.stderr
    assert server.request_count - before == 2  # clock + one batch of latest trades, nothing else
    data = json.loads(result.stdout)
    assert data["price_mode"] == "live" and set(data["live_prices"]) == {"SPY", "BIL", "TQQQ"}
    got = trace_values(data["strategies"][0])
    want = expected(np.append(closes, live))
    assert got == {k: pytest.approx(v, abs=0.006) for k, v in want.items()}

    result = run(["signal", "--price", "previous-close", "--json"], tmp_path / "home", **env)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["price_mode"] == "previous_close" and data["live_prices"] == {}
    assert trace_values(data["strategies"][0]) == {k: pytest.approx(v, abs=0.006) for k, v in expected(closes).items()}

    text = run(["signal", "--price", "live"], tmp_path / "home", **env)
    assert text.returncode == 0, text.stderr
    assert "Signals on live prices" in text.stdout and re.search(r"SPY [\d,.]+ \(live \d\d:\d\d:\d\d\)", text.stdout)


def test_a_stale_live_price_fails_the_strategy_closed_naming_ticker_and_age(
    settings: Settings, server: SandboxServer
) -> None:
    server.set_latest_trade("SPY", 500.0, dt.datetime.now(dt.UTC) - dt.timedelta(minutes=7, seconds=30))
    broker = alpaca(server)
    try:
        report = compute_signals(settings, price="live", feed=broker)
    finally:
        broker.close()
    assert not report.ok and report.target is None
    error = report.strategies[0].error or ""
    assert "SPY's live price is 7m3" in error and "old" in error and "max_live_age_s" in error, error
    assert report.strategies[0].weights is None  # no ticker fell back to an old close

    # a looser limit accepts the same print
    loose = settings.model_copy(update={"signals": settings.signals.model_copy(update={"max_live_age_s": 600})})
    broker = alpaca(server)
    try:
        assert compute_signals(loose, price="live", feed=broker).ok
    finally:
        broker.close()


def test_a_missing_live_price_fails_the_strategy_closed(
    settings: Settings, server: SandboxServer, probe: Path, tmp_path: Path
) -> None:
    server.withhold_trades("TQQQ")
    result = run(["signal", "--price", "live", "--json"], tmp_path / "home", **sandbox_env(server, probe))
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert data["ok"] is False and data["target"] is None
    assert "TQQQ has no live price" in data["strategies"][0]["error"]


def test_market_closed_falls_back_to_the_last_close_with_a_notice(settings: Settings, tmp_path: Path) -> None:
    saturday = dt.datetime(2025, 6, 28, 15, 50, tzinfo=market_calendar.NY)
    closed = SandboxConfig(port=0, key_id=KEY, secret_key=SECRET, follow_calendar=True)  # NYSE hours
    server = SandboxServer(
        build_market(settings), tmp_path / "closed.sqlite", closed, SimConfig(), now=lambda: saturday
    ).start()
    broker = alpaca(server)
    try:
        before = server.request_count
        report = compute_signals(settings, price="live", feed=broker)
        assert server.request_count - before == 1  # the clock only: no prices are read
    finally:
        broker.close()
        server.stop()
    assert report.ok and report.price_mode == "previous_close" and not report.live_prices
    assert report.price_notice and "market is closed" in report.price_notice
    assert report.target == compute_signals(settings, price="previous_close").target


# ------------------------------------------------------------------------------------------------ simulated broker


def test_sim_broker_live_prices_come_from_its_own_quotes(settings: Settings, tmp_path: Path) -> None:
    day, closes = spy_closes(settings)
    with SimBroker(build_market(settings), tmp_path / "sim.sqlite", SimConfig(), as_of=day) as broker:
        broker.set_price("SPY", 432.1)
        report = compute_signals(settings, price="live", feed=broker)
        assert broker.calls["latest_prices"] == 1
    assert report.ok and report.live_prices["SPY"].price == pytest.approx(432.1)
    got = trace_values(report.strategies[0].to_json())
    assert got == {k: pytest.approx(v, abs=0.006) for k, v in expected(np.append(closes, 432.1)).items()}


def test_trade_live_on_sim_records_mode_and_prices_in_json_ledger_and_notification(
    probe: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    env = {"ALCHEMISER_STRATEGIES": json.dumps([{"name": "probe", "source": str(probe), "weight": 1}])}
    result = run(["trade", "--price", "live", "--json"], home, **env)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["price_mode"] == "live" and set(data["live_prices"]) == {"SPY", "BIL", "TQQQ"}
    with Ledger(home / "ledger.sqlite") as ledger:
        recorded = ledger.signals(data["run_id"])
        summary = ledger.run(data["run_id"])
    assert recorded[0]["price_mode"] == "live" and set(recorded[0]["live_prices"]) == {"SPY", "BIL", "TQQQ"}
    assert summary is not None
    from alchemiser.reporting.notify import compose

    _, body = compose(data)
    assert "Prices: live" in body and "(live " in body

    plan = run(["plan", "--price", "previous-close", "--json"], home, **env)
    assert plan.returncode == 0, plan.stderr
    assert json.loads(plan.stdout)["price_mode"] == "previous_close"


# ------------------------------------------------------------------------------------------------ settings and flags


def test_price_settings_and_flags_are_validated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALCHEMISER_HOME", str(tmp_path / "home"))
    config = tmp_path / "elsewhere.toml"
    config.write_text('[signals]\nprice = "live"\nmax_live_age_s = 120\n')
    loaded = load_settings(config)
    assert loaded.signals.price == "live" and loaded.signals.max_live_age_s == 120
    assert load_settings().signals.price == "previous_close" and load_settings().signals.max_live_age_s == 300
    for text, named in (('price = "realtime"', "price"), ("max_live_age_s = 0", "max_live_age_s"),
                        ("max_live_age_s = -5", "max_live_age_s"), ('pricee = "live"', "pricee")):
        config.write_text(f"[signals]\n{text}\n")
        with pytest.raises(ConfigError, match=named):
            load_settings(config)
    assert price_mode("previous-close") == "previous_close" and price_mode("live") == "live"
    with pytest.raises(ConfigError, match="--price must be previous-close or live"):
        price_mode("close")
    result = run(["signal", "--price", "tomorrow"], tmp_path / "home")
    assert result.returncode == 2 and "--price must be previous-close or live" in result.stderr
    with pytest.raises(ConfigError, match="--as-of"):
        compute_signals(load_settings(), as_of=dt.date(2024, 3, 15), price="live")


# ------------------------------------------------------------------------------------------------ backtests


def test_backtest_decide_modes_differ_and_match_the_signal_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALCHEMISER_HOME", str(tmp_path))
    settings = load_settings()
    end = dt.date(2025, 6, 30)
    market = SampleMarket(end=end)
    from alchemiser.backtest.service import run as run_service

    monkeypatch.setattr("alchemiser.backtest.service.build_market", lambda _settings: market)
    refs = ["nuclear", "tecl", "klm"]
    close = run_service(settings, refs, start=dt.date(2024, 1, 1), end=end)
    previous = run_service(settings, refs, start=dt.date(2024, 1, 1), end=end, decide="previous-close")
    assert close.to_json()["live_price_mode"] == "live" and previous.to_json()["live_price_mode"] == "previous_close"
    assert "previous_close" in previous.to_json()["corresponds_to"]
    assert close.result.equity[-1] != pytest.approx(previous.result.equity[-1], rel=1e-6)
    changed = sum(
        close.result.target_on(d.date()) != pytest.approx(previous.result.target_on(d.date()))
        for d in previous.result.dates
    )
    assert changed > 5  # the built-ins' decisions really move from one day to the next
    for day in (dt.date(2024, 3, 15), dt.date(2024, 11, 29), dt.date(2025, 6, 27)):
        report = compute_signals(settings, refs, as_of=day, market=market, price="previous_close")
        assert report.target is not None
        # `signal --as-of D --price previous-close` is the decision made with D's close; live with
        # previous_close trades it on the next session, which is what `--decide previous-close` books there
        traded = market_calendar.next_session(day)
        assert previous.result.target_on(traded) == pytest.approx(report.target), day
        assert close.result.target_on(day) == pytest.approx(report.target), day
    with pytest.raises(BacktestError, match="--fill next-open"):
        run_service(settings, ["tecl"], start=dt.date(2024, 1, 1), end=end, decide="previous-close", fill="next-open")


def test_backtest_cli_states_the_live_mode(tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = run(["backtest", "-s", "tecl", "--start", "2024-01-01", "--end", "2024-12-31", "--decide",
                  "previous-close", "--report", str(out), "--json"], tmp_path / "home")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["decide"] == "previous-close" and data["live_price_mode"] == "previous_close"
    assert 'price = &quot;previous_close&quot;' in (out / "report.html").read_text()
    text = run(["backtest", "-s", "tecl", "--start", "2024-01-01", "--end", "2024-12-31"], tmp_path / "home")
    assert text.returncode == 0, text.stderr
    assert 'decides with day t\'s close and fills at day t\'s close' in text.stdout
    assert '[signals] price = "live"' in text.stdout
    bad = run(["backtest", "-s", "tecl", "--decide", "tomorrow"], tmp_path / "home")
    assert bad.returncode == 2 and "--decide must be close or previous-close" in bad.stderr
