"""Backtest speed: Nuclear + TECL + KLM blended equally, daily rebalancing, 20+ years of sample data.

Measured inside the process after the data is loaded; signals, planning (the live `plan_rebalance`) and
accounting included. Targets on a 2-core machine: ≤ 1 s for the blend and ≤ 0.1 s for TECL alone.
Pass `--profile` to print where the time goes.
"""

from __future__ import annotations

import cProfile
import pstats
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alchemiser.backtest.engine import BacktestConfig, run_backtest
from alchemiser.data.history import load_history
from alchemiser.data.sample import SampleMarket
from alchemiser.strategies.registry import load_strategy
from alchemiser.strategies.symphony.evaluator import IndicatorCache


def main() -> None:
    strategies = [load_strategy(name) for name in ("nuclear", "tecl", "klm")]
    market = SampleMarket()
    history = load_history(market, set().union(*(s.universe() for s in strategies)), market.available()[0].last)
    print(f"{len(history.dates)} sessions, {history.dates[0].date()} … {history.dates[-1].date()}")
    cases = {
        "blend of 3, daily": [(s, 1 / 3) for s in strategies],
        "TECL alone, daily": [(strategies[1], 1.0)],
    }
    targets = {"blend of 3, daily": 1.0, "TECL alone, daily": 0.1}
    for label, parts in cases.items():
        times = []
        for _ in range(5):
            started = time.perf_counter()
            result = run_backtest(parts, history, BacktestConfig(), IndicatorCache(history))
            times.append(time.perf_counter() - started)
        print(
            f"{label:<20} best {min(times):.3f} s  median {statistics.median(times):.3f} s  "
            f"(target ≤ {targets[label]} s; {len(result.dates)} days, {len(result.trades)} trades)"
        )
    if "--profile" in sys.argv:
        profile = cProfile.Profile()
        profile.runcall(run_backtest, cases["blend of 3, daily"], history, BacktestConfig(), IndicatorCache(history))
        pstats.Stats(profile).sort_stats("tottime").print_stats(12)


if __name__ == "__main__":
    main()
