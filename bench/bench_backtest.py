"""Backtest speed against vectorbt on the same data in the same run, the blend, and a sweep's per-variant cost.

Cases, all on the sample market's 20+ years, daily rebalancing, the live planner's rules, no costs:
- TECL alone: `simulate` on TECL's evaluated target weights against vectorbt's `Portfolio.from_orders` with
  target-percent sizing on the very same weights (cash shared, sells first, same capital, same costs);
  both timed after a warm-up (numba compilation excluded on both sides). Also the full `run_backtest`
  (signal evaluation included) and the reference engine (the Decimal loop, today's rules' definition).
- The 3-strategy blend (Nuclear + TECL + KLM equally), `run_backtest` end to end with a fresh cache.
- A sweep: 50 variants of TECL's RSI thresholds, each compiled, evaluated with one shared IndicatorCache and
  simulated; the per-variant cost and what it makes of 1,000 variants on 2 cores.

Targets (2-core machine): TECL `simulate` ≤ vectorbt's time; blend ≤ 0.2 s; ≤ 0.1 s per sweep variant
(1,000 variants ≤ 60 s on 2 cores). Before this fast path (reference engine): blend ~0.9 s, TECL ~0.17 s.

vectorbt is a bench-only dependency: `.venv/bin/pip install -e '.[bench]'`. Without it, its line is
skipped. Pass `--profile` to print where the blend's time goes.
"""

from __future__ import annotations

import cProfile
import pstats
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alchemiser.backtest import fast
from alchemiser.backtest.engine import BacktestConfig, run_backtest, simulate
from alchemiser.data.history import PriceHistory, load_history
from alchemiser.data.sample import SampleMarket
from alchemiser.strategies.registry import builtin_path, load_strategy
from alchemiser.strategies.symphony.evaluator import AllocationMatrix, IndicatorCache
from alchemiser.strategies.symphony_strategy import SymphonyStrategy

REPEAT = 7


def best(fn: Callable[[], Any], repeat: int = REPEAT) -> tuple[float, float, float]:
    """(best wall, median wall, best CPU) seconds of `repeat` calls after one warm-up call.

    The machine is shared: wall time includes waiting for a core, CPU time does not."""
    fn()
    walls, cpus = [], []
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - started_cpu)
    return min(walls), statistics.median(walls), min(cpus)


def line(label: str, figures: tuple[float, float, float], note: str = "") -> None:
    wall, median, cpu = (f * 1000 for f in figures)
    print(f"{label:<46} best {wall:7.1f} ms  median {median:7.1f} ms  CPU {cpu:7.1f} ms  {note}")


def vectorbt_case(matrix: AllocationMatrix, history: PriceHistory) -> Callable[[], Any] | None:
    """vectorbt on TECL's weights: target-percent orders on each session (NaN before the first decision)."""
    try:
        import vectorbt as vbt
    except ImportError:
        print("vectorbt is not installed: pip install -e '.[bench]' to print its reference line")
        return None
    first = int(np.argmax(matrix.valid))
    close = pd.DataFrame({s: history.closes[s][first:] for s in matrix.symbols}, index=history.dates[first:])
    size = pd.DataFrame(matrix.weights[first:], index=close.index, columns=matrix.symbols)

    def run() -> Any:
        return vbt.Portfolio.from_orders(
            close,
            size,
            size_type="targetpercent",
            init_cash=100_000.0,
            fees=0.0,
            slippage=0.0,
            cash_sharing=True,
            group_by=True,
            call_seq="auto",  # sells before buys, as the live executor does
            freq="1D",
        ).value()

    return run


def variants(count: int) -> list[str]:
    """TECL's symphony with its RSI thresholds moved: the sweep's typical grid."""
    text = builtin_path("tecl").read_text()
    out = []
    rng = np.random.default_rng(0)
    for _ in range(count):
        shifts = iter(int(v) for v in rng.integers(-6, 7, size=16))

        def moved(match: re.Match[str], shifts: Iterator[int] = shifts) -> str:
            return f") {int(match.group(1)) + next(shifts)})"

        out.append(re.sub(r"\) (\d\d)\)", moved, text))
    return out


def main() -> None:
    strategies = [load_strategy(name) for name in ("nuclear", "tecl", "klm")]
    market = SampleMarket()
    history = load_history(market, set().union(*(s.universe() for s in strategies)), market.available()[0].last)
    print(f"{len(history.dates)} sessions, {history.dates[0].date()} … {history.dates[-1].date()}")
    config = BacktestConfig()

    started = time.perf_counter()
    fast.compiled_kernel()
    tecl = strategies[1]
    matrix = tecl.evaluate_all(history, IndicatorCache(history))
    simulate([(matrix, 1.0)], history, config)
    print(f"first call (numba import + compiled loop from its disk cache): {time.perf_counter() - started:.2f} s")

    print("\nTECL alone, daily, 20 years, the same target weights:")
    ours = best(lambda: simulate([(matrix, 1.0)], history, config))
    line("alchemiser simulate (live planner rules)", ours, "target ≤ vectorbt")
    vbt_run = vectorbt_case(matrix, history)
    if vbt_run is not None:
        theirs = best(vbt_run)
        line("vectorbt Portfolio.from_orders (targetpercent)", theirs, f"ours/vectorbt = {ours[0] / theirs[0]:.2f}")
    line("alchemiser run_backtest (signals included)", best(lambda: run_backtest([(tecl, 1.0)], history, config)))
    reference = best(lambda: simulate([(matrix, 1.0)], history, config, engine="reference"), 2)
    line("reference engine simulate (Decimal loop)", reference, f"fast path is {reference[0] / ours[0]:.0f}× faster")

    print("\nBlend of 3 (Nuclear + TECL + KLM), daily, run_backtest with a fresh cache:")
    blend = [(s, 1 / 3) for s in strategies]
    result = run_backtest(blend, history, config)
    line("alchemiser run_backtest", best(lambda: run_backtest(blend, history, config)), "target ≤ 200 ms")
    cache = IndicatorCache(history)
    signals = [(s.evaluate_all(history, cache), share) for s, share in blend]
    line("  of which simulate (incl. attribution)", best(lambda: simulate(signals, history, config)))
    reference = best(lambda: simulate(signals, history, config, engine="reference"), 2)
    line("reference engine simulate (Decimal loop)", reference, f"{len(result.trades)} trades")

    print("\nSweep: 50 variants of TECL's thresholds, one shared IndicatorCache:")
    texts = variants(50)
    shared = IndicatorCache(history)
    before = fast.fallbacks
    started = time.perf_counter()
    started_cpu = time.process_time()
    for i, text in enumerate(texts):
        variant = SymphonyStrategy.from_text(text, name=f"tecl_{i}")
        run_backtest([(variant, 1.0)], history, config, shared)
    wall, cpu = time.perf_counter() - started, time.process_time() - started_cpu
    per = wall / len(texts)
    print(
        f"per variant (compile + signals + simulate): {per * 1000:.1f} ms wall, {cpu / len(texts) * 1000:.1f} ms CPU; "
        f"1,000 variants on 2 cores ≈ {per * 1000 / 2:.0f} s (target ≤ 60 s); "
        f"reference fallbacks (near-ties): {fast.fallbacks - before}"
    )

    if "--profile" in sys.argv:
        profile = cProfile.Profile()
        profile.runcall(run_backtest, blend, history, config, IndicatorCache(history))
        pstats.Stats(profile).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
