"""Faults: with the sandbox failing 10 % of requests, delaying some past the client timeout, dropping
WebSockets and splitting and delaying fills, repeated runs converge or stop with a clear status — and
never place an order twice."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from alchemiser.config import load_settings
from alchemiser.data.sample import SampleMarket
from alchemiser.models import OrderRequest, OrderType, Side
from alchemiser.runner import run_trade
from alchemiser.sandbox import SandboxConfig, SandboxServer
from alchemiser.sandbox.auth import FaultInjector
from alchemiser.sandbox.config import FaultConfig

KEY, SECRET = "fault-key-1234", "fault-secret-5678"
KNOWN = {"ok", "nothing_to_do", "partial", "blocked", "failed"}
# The sandbox draws the n-th request's fate from the seed and n alone, however busy the machine. With this
# seed requests 1, 9, 18 and 27 fail (429, 429, 500, 500) and 15, 17 and 29 are held past the client's
# timeout: a run that trades makes 21 requests even without faults and the check that nothing is left
# to do 7 more, so every sequence of runs that converges meets at least three errors and a delay.
SEED = 4


def test_repeated_runs_converge_through_injected_faults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    faults = FaultConfig(
        error_rate=0.10,
        delay_rate=0.10,
        delay_s=1.5,
        drop_streams_after_s=1.0,
        fill_latency_ms=(50, 400),
        partial_fill_probability=0.5,
    )
    config = SandboxConfig(port=0, key_id=KEY, secret_key=SECRET, seed=SEED, faults=faults)
    with SandboxServer(SampleMarket(), tmp_path / "sandbox.sqlite", config) as server:
        for symbol, qty in (("SPY", "40"), ("QQQ", "30"), ("IWM", "20")):
            server.broker.submit_order(OrderRequest(symbol, Side.BUY, OrderType.MARKET, f"setup-{symbol}", qty=Decimal(qty)))
        server.broker.wait_idle()
        home = tmp_path / "home"
        home.mkdir()
        (home / "config.toml").write_text(
            'broker = "alpaca"\n[[strategies]]\nname = "t"\nsource = "tecl"\nweight = 0.5\n'
            '[[strategies]]\nname = "n"\nsource = "nuclear"\nweight = 0.5\n'
            "[alpaca]\nrequest_timeout_s = 1.0\n"
            "[execution]\nlimit_timeout_s = 2\npoll_interval_s = 0.5\nsell_timeout_s = 15\nquote_timeout_s = 1\n"
        )
        for name, value in (("ALCHEMISER_HOME", str(home)), ("ALPACA_API_KEY", KEY), ("ALPACA_SECRET_KEY", SECRET),
                            ("ALPACA_BASE_URL", server.url), ("ALPACA_DATA_URL", server.url)):
            monkeypatch.setenv(name, value)
        settings = load_settings(home / "config.toml")
        statuses = []
        for _ in range(6):
            run = run_trade(settings, force=True)
            assert run.status in KNOWN, run.status
            assert run.message  # a clear status, never a silent stop
            statuses.append(run.status)
            if run.status == "nothing_to_do":
                break
        assert statuses[-1] == "nothing_to_do", statuses
        server.broker.wait_idle()
        account = server.broker.get_account()
        held = {p.symbol: float(p.market_value / account.equity) for p in server.broker.get_positions()}
        for symbol, weight in run.targets.items():
            assert abs(held.get(symbol, 0.0) - weight) <= 0.0025, (symbol, held, run.targets)
        orders = server.broker.list_orders("all")
        ids = [o.client_order_id for o in orders]
        assert len(ids) == len(set(ids))
        for symbol, weight in run.targets.items():
            bought = sum(float(o.filled_qty * (o.filled_avg_price or 0)) for o in orders if o.symbol == symbol and o.side == Side.BUY)
            assert bought <= weight * float(account.equity) * 1.02, (symbol, bought)
        injected = server.faults_injected
        assert injected["errors"] >= 3 and injected["delays"] >= 1, injected  # the faults really happened
        replay = FaultInjector(faults, SEED)  # ... and exactly as the seed says for that many requests
        for _ in range(server.request_count):
            replay.decide()
        assert injected == {"errors": replay.errors, "delays": replay.delays}, (server.request_count, injected)
        print(f"\nfaults: {server.request_count} requests, {injected}, runs: {statuses}")
