"""Sweep speed: examples/sweeps/tecl_thresholds.toml (1,000 TECL variants, 20 years) on the embedded engine.

Runs the whole sweep in a throw-away ALCHEMISER_HOME (nothing reused) and prints the wall time, backtests
per second and the cost of one backtest; then, in this process on a sample of the variants, where a
backtest's time goes (compiling the variant, evaluating its signals, simulating) and what sharing saves:
one indicator cache per worker against a fresh one per variant, and variants whose daily targets equal an
earlier variant's (their simulation is reused). Target: ≤ 60 s on 2 cores.

    .venv/bin/python bench/bench_sweep.py [--workers N] [--sample N]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

SPEC = Path(__file__).resolve().parents[1] / "examples" / "sweeps" / "tecl_thresholds.toml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=None, help="embedded engine processes (default: the CPUs)")
    parser.add_argument("--sample", type=int, default=60, help="variants timed step by step in this process")
    parser.add_argument("--skip-sweep", action="store_true", help="only the in-process breakdown")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as home:
        os.environ["ALCHEMISER_HOME"] = home
        from alchemiser.config import load_settings

        settings = load_settings(None)
        if not args.skip_sweep:
            whole_sweep(settings, args.workers)
        breakdown(settings, args.sample)


def whole_sweep(settings: object, workers: int | None) -> None:
    from alchemiser.sweep.engines.embedded import EmbeddedEngine
    from alchemiser.sweep.runner import run_sweep

    engine = EmbeddedEngine(workers)
    started = time.perf_counter()
    outcome = run_sweep(settings, SPEC, engine)  # type: ignore[arg-type]
    wall = time.perf_counter() - started
    cpu = sum(float(r["runtime_s"]) for r in outcome.rows)
    n = outcome.computed
    print(f"sweep: {n} backtests on {engine.workers} workers in {wall:.1f} s wall  (target ≤ 60 s on 2 cores)")
    print(
        f"  {n / wall:.1f} backtests/s; per backtest {cpu / n * 1000:.0f} ms in a worker, {wall / n * 1000:.0f} ms wall"
    )
    print(f"  failed rows: {outcome.failed}")


def breakdown(settings: object, sample: int) -> None:
    from alchemiser.backtest.engine import simulate
    from alchemiser.strategies.symphony.evaluator import IndicatorCache
    from alchemiser.sweep import task as tasks
    from alchemiser.sweep.runner import _history, plan_sweep

    started = time.perf_counter()
    plan = plan_sweep(settings, SPEC)  # type: ignore[arg-type]
    planned = time.perf_counter() - started
    started = time.perf_counter()
    history = _history(settings, plan, plan.symbols)  # type: ignore[arg-type]
    loaded = time.perf_counter() - started
    print(f"plan {len(plan.tasks)} tasks: {planned:.2f} s; load {len(plan.symbols)} symbols' history: {loaded:.2f} s")
    step = max(1, len(plan.tasks) // sample)
    chosen = plan.tasks[::step][:sample]
    timings = {"compile": 0.0, "signals (shared cache)": 0.0, "signals (fresh cache)": 0.0, "simulate": 0.0}
    shared = IndicatorCache(history)
    for task in chosen:
        t0 = time.perf_counter()
        strategy = tasks._strategy(task.strategies[0])
        t1 = time.perf_counter()
        matrix = strategy.evaluate_all(history, shared)
        t2 = time.perf_counter()
        strategy.evaluate_all(history, IndicatorCache(history))
        t3 = time.perf_counter()
        simulate([(matrix, 1.0)], history, replace(task.config, start=task.window[0], end=task.window[1]))
        t4 = time.perf_counter()
        timings["compile"] += t1 - t0
        timings["signals (shared cache)"] += t2 - t1
        timings["signals (fresh cache)"] += t3 - t2
        timings["simulate"] += t4 - t3
    print(f"per backtest, mean of {len(chosen)} variants (one process):")
    for label, total in timings.items():
        print(f"  {label:24} {total / len(chosen) * 1000:8.1f} ms")
    every: set[str] = set()
    for task in plan.tasks:
        matrix = tasks._strategy(task.strategies[0]).evaluate_all(history, shared)
        every.add(hashlib.sha256(matrix.weights.tobytes() + matrix.valid.tobytes()).hexdigest())
    print(
        f"  distinct daily targets over the whole sweep: {len(every)} of {len(plan.tasks)} "
        "(the other variants reuse a simulation of their worker)"
    )


if __name__ == "__main__":
    main()
