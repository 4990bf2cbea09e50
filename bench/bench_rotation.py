"""A 10-symbol full rotation on the simulated broker, with realistic latency.

50 ms acknowledgement latency, fills 100–500 ms after that. Measures the rotation's wall time (sells,
waiting for fills, buys) and the number of broker request calls, following the runner's exact sequence.
Targets: ≤ 3 s and ≤ 4 + 1.5 × orders calls. Quote stream subscribe/unsubscribe messages and listener
registration are not requests and are reported separately.

Run with `.venv/bin/python bench/bench_rotation.py`.
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alchemiser.data.sample import SampleMarket
from alchemiser.execution.executor import Executor
from alchemiser.execution.rules import ExecutionRules
from alchemiser.execution.sim import SimBroker, SimConfig
from alchemiser.ledger import Ledger
from alchemiser.portfolio.plan import plan_rebalance
from alchemiser.runner import last_closes

END = dt.date(2025, 6, 30)
FIRST = ["SPY", "QQQ", "IWM", "DIA", "XLK", "XLF", "XLE", "XLP", "XLY", "VTV"]
SECOND = ["TLT", "IEF", "AGG", "BND", "GLD", "SLV", "BIL", "SHY", "LQD", "UUP"]
STREAM_METHODS = {"subscribe_quotes", "unsubscribe_quotes", "add_order_listener", "remove_order_listener", "close"}


def rebalance(
    broker: SimBroker, ledger: Ledger, market: SampleMarket, run_id: str, symbols: list[str]
) -> tuple[int, float]:
    """The runner's sequence: clock, reconcile, account + positions, assets, plan, execute, after-snapshot."""
    target = {s: 1 / len(symbols) for s in symbols}
    ledger.start_run(run_id, mode="sim", broker="sim", trading_day=END, config_digest="bench")
    started = time.perf_counter()
    broker.get_clock()
    executor = Executor(broker, ledger, run_id, run_id, ExecutionRules())
    executor.reconcile()
    account, positions = broker.get_account(), broker.get_positions()
    held = {p.symbol for p in positions}
    assets = broker.get_assets(sorted(set(target) | held))
    plan = plan_rebalance(target, account, positions, last_closes(market, set(target) - held, END), assets)
    result = executor.execute(plan, positions)
    broker.get_account(), broker.get_positions()
    elapsed = time.perf_counter() - started
    executor.close()
    assert result.status == "ok", result.warnings
    return len(result.orders), elapsed


def sandbox_rotation(market: SampleMarket) -> None:
    """The same rotation through alpaca-py (AlpacaBroker) against the sandbox with 50 ms latency per request."""
    from alchemiser.execution.alpaca import AlpacaBroker
    from alchemiser.sandbox import SandboxConfig, SandboxServer
    from alchemiser.secrets import AlpacaCredentials, resolve_endpoints

    config = SandboxConfig(
        port=0, key_id="bench-key", secret_key="bench-secret", latency_ms=50, rate_limit_per_minute=10_000
    )
    sim = SimConfig(ack_latency_ms=50, fill_latency_ms=(100, 500))
    with (
        tempfile.TemporaryDirectory() as tmp,
        SandboxServer(market, Path(tmp) / "sandbox.sqlite", config, sim) as server,
    ):
        endpoints = resolve_endpoints(True, {"trading_url": server.url, "data_url": server.url}, env={})
        broker = AlpacaBroker(AlpacaCredentials.of("bench-key", "bench-secret"), endpoints)
        try:
            with Ledger(Path(tmp) / "ledger.sqlite") as ledger:
                rebalance(broker, ledger, market, "setup", FIRST)
                server.broker.wait_idle()
                before = server.request_count
                orders, elapsed = rebalance(broker, ledger, market, "rotation", SECOND)
                requests = server.request_count - before
        finally:
            broker.close()
    print(
        f"against the sandbox (alpaca-py, 50 ms per request): {orders} orders in {elapsed:.2f} s, "
        f"{requests} HTTP requests (target ≤ {4 + 1.5 * orders:g})"
    )


def main() -> None:
    market = SampleMarket(end=END)
    config = SimConfig(ack_latency_ms=50, fill_latency_ms=(100, 500))
    with (
        tempfile.TemporaryDirectory() as tmp,
        Ledger(Path(tmp) / "ledger.sqlite") as ledger,
        SimBroker(market, Path(tmp) / "sim.sqlite", config, as_of=END) as broker,
    ):
        rebalance(broker, ledger, market, "setup", FIRST)
        broker.wait_idle()
        broker.calls.clear()
        orders, elapsed = rebalance(broker, ledger, market, "rotation", SECOND)
        requests = sum(n for name, n in broker.calls.items() if name not in STREAM_METHODS)
        stream = sum(n for name, n in broker.calls.items() if name in STREAM_METHODS)
        budget = 4 + 1.5 * orders
        print(f"10-symbol full rotation: {orders} orders in {elapsed:.2f} s (target ≤ 3 s)")
        print(f"broker requests: {requests} (target ≤ 4 + 1.5 × {orders} = {budget:g}); stream messages: {stream}")
        print("  " + ", ".join(f"{name} {n}" for name, n in sorted(broker.calls.items())))
    sandbox_rotation(market)


if __name__ == "__main__":
    main()
