"""Walk-forward speed: examples/sweeps/walk_forward.toml (TECL thresholds, rolling 5y IS / 1y OOS, 20 years
of the sample market) on the embedded engine, in a throw-away ALCHEMISER_HOME (nothing reused).

Prints the wall time of the whole run (the whole-period sweep, every fold's in-sample backtests, the
out-of-sample winners, the DSR and the report), the backtests it ran and the cost of one. Target: < 2 min
on 2 cores.

    .venv/bin/python bench/bench_walk_forward.py [--workers N] [--no-report]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

SPEC = Path(__file__).resolve().parents[1] / "examples" / "sweeps" / "walk_forward.toml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=None, help="embedded engine processes (default: the CPUs)")
    parser.add_argument("--no-report", action="store_true", help="skip drawing the PNG/HTML report")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-wf-") as home:
        os.environ["ALCHEMISER_HOME"] = home
        from alchemiser.config import load_settings
        from alchemiser.sweep.engines import make_engine
        from alchemiser.sweep.honesty import write_run_report
        from alchemiser.sweep.runner import run_sweep

        settings = load_settings(None)
        began = time.perf_counter()
        outcome = run_sweep(settings, SPEC, make_engine("embedded", workers=args.workers, address=None))
        swept = time.perf_counter() - began
        if not args.no_report:
            write_run_report(outcome, Path(home) / "report")
        total = time.perf_counter() - began
        walk = outcome.honesty.walk
        backtests = outcome.total + len(walk.rows) if walk is not None else outcome.total
        print(f"spec: {SPEC.name} — {outcome.total} configurations, {len(walk.folds) if walk else 0} folds")
        print(f"backtests: {backtests} ({outcome.total} whole-period + {len(walk.rows) if walk else 0} fold)")
        print(f"sweep + walk-forward: {swept:.1f} s wall; with the report: {total:.1f} s")
        print(f"per backtest: {swept / backtests * 1000:.0f} ms wall on {os.cpu_count()} CPUs")
        print(outcome.honesty.sentence())


if __name__ == "__main__":
    main()
