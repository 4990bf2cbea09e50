"""Dashboard figures: server time of each page on a ledger of 1,000 runs and 20,000 orders.

The ledger is generated in the real schema (created by `Ledger`), with realistic rows: each run has two
strategies' signals and traces, a plan, 20 orders with three events each, and before/after snapshots.
`alchemiser web` then runs as a real process and each page is fetched several times; the figure is the
server's own handler time from the `Server-Timing` header (target ≤ 300 ms), next to the wall time.

The decision view is measured the way a user browses it: after one warm-up request per strategy, every
fetch asks for a date not asked before (decided afresh, on the server's cached market data and compiled
strategy), for the built-ins and for a symphony of 4,095 nodes.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import select
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from alchemiser import market_calendar
from alchemiser.data.sample import SampleMarket
from alchemiser.ledger import Ledger

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository root, for tests.web
from tests.web.big_symphony import big_symphony

RUNS = 1_000
ORDERS_PER_RUN = 20
SYMBOLS = sorted(i.symbol for i in SampleMarket().available())[:25]  # real symbols: the daily marks price them
REPEATS = 7


def generate(path: Path) -> None:
    Ledger(path).close()  # the real schema
    conn = sqlite3.connect(path)
    start = dt.datetime(2022, 1, 3, 20, 50, tzinfo=dt.UTC)
    trace = [
        {
            "depth": d,
            "kind": "if",
            "text": f"RSI(SPY,10) = {50 + d:.2f} > 79 → false: else",
            "location": f"nuclear.clj:{10 + d}:5",
            "share": 1.0,
        }
        for d in range(12)
    ]
    runs, signals, plans, orders, events, snaps = [], [], [], [], [], []
    equity = 100_000.0
    for r in range(RUNS):
        at = start + dt.timedelta(days=r)
        run_id = f"{at:%Y%m%d-%H%M%S}-{r:06x}"
        targets = {s: 1 / 5 for s in SYMBOLS[r % 20 : r % 20 + 5]}
        summary = {
            "run_id": run_id,
            "status": "ok",
            "targets": targets,
            "warnings": [],
            "as_of": at.date().isoformat(),
            "synthetic_sample_data": False,
        }
        runs.append(
            (
                run_id,
                at.isoformat(),
                (at + dt.timedelta(seconds=3)).isoformat(),
                "sim",
                "sim",
                at.date().isoformat(),
                "digest",
                "ok",
                "20 order(s)",
                json.dumps(summary),
                "{}",
            )
        )
        for name in ("nuclear", "tecl"):
            signals.append((run_id, name, "0.5", 1, None, json.dumps(targets), json.dumps(trace)))
        for k in range(ORDERS_PER_RUN):
            symbol = SYMBOLS[(r + k) % len(SYMBOLS)]
            side = "sell" if k < ORDERS_PER_RUN // 2 else "buy"
            cid = f"alc-{at:%Y%m%d}-{symbol}-{side}-{k}"
            plans.append((run_id, symbol, side, "0.1", "0.2", "10000", "20000", "10000", None, "rebalance"))
            t0 = at + dt.timedelta(seconds=1, milliseconds=k)
            orders.append(
                (
                    cid,
                    run_id,
                    f"b-{r}-{k}",
                    symbol,
                    side,
                    "limit" if side == "buy" else "market",
                    "day",
                    "10",
                    None,
                    "100.05",
                    side,
                    1,
                    "filled",
                    "10",
                    "100.02",
                    t0.isoformat(),
                    t0.isoformat(),
                    (t0 + dt.timedelta(milliseconds=300)).isoformat(),
                    None,
                    "99.98",
                    "100.02",
                    t0.isoformat(),
                )
            )
            for e, (event, status, qty) in enumerate(
                (("new", "new", "0"), ("partial_fill", "partially_filled", "4"), ("fill", "filled", "10"))
            ):
                events.append(
                    (
                        cid,
                        event,
                        status,
                        qty,
                        "100.02" if qty != "0" else None,
                        "100.02",
                        None,
                        (t0 + dt.timedelta(milliseconds=100 * (e + 1))).isoformat(),
                        "{}",
                    )
                )
        equity *= 1.0003
        positions = [
            {
                "symbol": s,
                "qty": "10",
                "avg_entry_price": "100",
                "current_price": "101",
                "market_value": f"{equity / 5:.2f}",
            }
            for s in targets
        ]
        for kind, offset in (("before", 0), ("after", 2)):
            account = {"account_id": "sim", "equity": f"{equity:.2f}", "cash": "50.00", "buying_power": "50.00"}
            snaps.append(
                (
                    run_id,
                    kind,
                    (at + dt.timedelta(seconds=offset)).isoformat(),
                    json.dumps(account),
                    json.dumps(positions),
                )
            )
    with conn:
        conn.executemany("INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?)", runs)
        conn.executemany(
            "INSERT INTO signals (run_id, strategy, share, ok, error, weights_json, trace_json) VALUES (?,?,?,?,?,?,?)",
            signals,
        )
        conn.executemany(
            "INSERT INTO plan (run_id, symbol, action, current_weight, target_weight, current_value,"
            " target_value, trade_value, qty, reason) VALUES (?,?,?,?,?,?,?,?,?,?)",
            plans,
        )
        conn.executemany("INSERT INTO orders VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", orders)
        conn.executemany(
            "INSERT INTO order_events (client_order_id, event, status, filled_qty, filled_avg_price,"
            " price, qty, at, extra_json) VALUES (?,?,?,?,?,?,?,?,?)",
            events,
        )
        conn.executemany("INSERT INTO snapshots VALUES (?,?,?,?,?)", snaps)
    conn.close()


def fetch(url: str) -> tuple[float, float]:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as response:
        response.read()
        timing = response.headers.get("Server-Timing", "")
    wall = (time.perf_counter() - started) * 1000
    match = re.search(r"dur=([\d.]+)", timing)
    return (float(match.group(1)) if match else float("nan")), wall


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="alchemiser-bench-web-"))
    started = time.perf_counter()
    generate(home / "ledger.sqlite")
    (home / "big.clj").write_text(big_symphony(11))
    (home / "config.toml").write_text(
        "".join(
            f'[[strategies]]\nname = "{n}"\nsource = "{src}"\nweight = {w}\n'
            for n, src, w in (("nuclear", "nuclear", 0.4), ("tecl", "tecl", 0.5), ("big", "big.clj", 0.1))
        )
    )
    print(
        f"ledger: {RUNS} runs, {RUNS * ORDERS_PER_RUN} orders, {RUNS * ORDERS_PER_RUN * 3} events, "
        f"{(home / 'ledger.sqlite').stat().st_size / 1e6:.1f} MB, generated in {time.perf_counter() - started:.1f} s"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALCHEMISER_", "ALPACA_", "APCA_"))}
    env["ALCHEMISER_HOME"] = str(home)
    process = subprocess.Popen(
        [sys.executable, "-m", "alchemiser.cli", "web", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 60)
        line = process.stdout.readline() if ready else ""
        match = re.search(r"(http://\S+?:\d+/)", line)
        if not match:
            raise SystemExit(f"alchemiser web did not start: {line}")
        base = match.group(1)
        last_run = json.loads(urllib.request.urlopen(base + "api/runs?limit=1").read())["runs"][0]["run_id"]
        pages = {
            "overview /": "",
            "runs /runs": "runs",
            "runs filtered": "runs?status=ok&since=2023-01-01&limit=100",
            "run page (20 orders)": f"runs/{last_run}",
            "api/overview": "api/overview",
            "api/runs (500)": "api/runs?limit=500",
            "api/runs/{id}": f"api/runs/{last_run}",
            "strategies (sleeves)": "strategies",
            "api/strategies": "api/strategies",
            "backtests": "backtests",
        }
        print(
            f"{'page':<32} {'server median':>14} {'server max':>11} {'wall median':>12} {'first':>9}"
            "   target ≤ 300 ms server"
        )
        for label, path in pages.items():
            first = fetch(base + path)  # cold: imports, first data load, caches filled
            figures = [fetch(base + path) for _ in range(REPEATS)]
            server = [f[0] for f in figures]
            wall = [f[1] for f in figures]
            print(
                f"{label:<32} {statistics.median(server):11.1f} ms {max(server):8.1f} ms "
                f"{statistics.median(wall):9.1f} ms {first[0]:6.0f} ms"
            )
        sessions = [d.date() for d in market_calendar.sessions(dt.date(2024, 1, 2), dt.date(2025, 6, 27))]
        fresh = iter(reversed(sessions))  # every fetch below asks for a date never asked before
        print(f"{'decision, a fresh date each':<32} {'server median':>14} {'server max':>11} {'wall median':>12}")
        for name in ("nuclear", "tecl", "big"):
            cold = fetch(base + f"decision?strategy={name}&as_of={next(fresh)}")
            figures = [fetch(base + f"decision?strategy={name}&as_of={next(fresh)}") for _ in range(REPEATS)]
            server = [f[0] for f in figures]
            wall = [f[1] for f in figures]
            print(
                f"{name + ' (first: ' + format(cold[0], '.0f') + ' ms)':<32} {statistics.median(server):11.1f} ms "
                f"{max(server):8.1f} ms {statistics.median(wall):9.1f} ms"
            )
    finally:
        process.terminate()
        process.wait(timeout=10)


if __name__ == "__main__":
    main()
