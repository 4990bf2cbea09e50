"""Ray engine speed: examples/sweeps/tecl_thresholds.toml on Ray, and what that means for a cluster of N cores.

Runs the whole example sweep (about 1,000 TECL variants, 20 years) in a throw-away ALCHEMISER_HOME on a Ray
started for it on this machine (or on the cluster at --address), then prints the wall time, the cost of one
backtest in a worker, Ray's overhead against the embedded engine's figure for the same work, and the
on-paper sizing the README quotes: backtests per hour for clusters of 8 to 512 cores.

    .venv/bin/python bench/bench_ray.py [--address auto|HOST:PORT|ray://HOST:PORT] [--spec FILE]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

SPEC = Path(__file__).resolve().parents[1] / "examples" / "sweeps" / "tecl_thresholds.toml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", default=None, help="a Ray cluster (default: a local Ray started for the run)")
    parser.add_argument("--spec", type=Path, default=SPEC, help="the sweep spec (default: the TECL example)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-ray-") as home:
        os.environ["ALCHEMISER_HOME"] = home
        from alchemiser.config import load_settings
        from alchemiser.sweep.engines.ray_engine import RayEngine
        from alchemiser.sweep.runner import run_sweep

        settings = load_settings(None)
        started = time.perf_counter()
        outcome = run_sweep(settings, args.spec, RayEngine(args.address))
        wall = time.perf_counter() - started
    n = outcome.computed
    cores = (os.cpu_count() or 1) if args.address is None else None
    worker = sum(float(r["runtime_s"]) for r in outcome.rows) / max(1, n)
    print(f"ray sweep: {n} backtests in {wall:.1f} s wall (Ray start-up and data loading included)")
    print(
        f"  {n / wall:.1f} backtests/s; per backtest {worker * 1000:.0f} ms in a worker, {wall / n * 1000:.0f} ms wall"
    )
    if cores:
        print(f"  efficiency on {cores} cores: {n * worker / (wall * cores):.0%} of the wall time spent in backtests")
    per_core_hour = 3600 / worker
    print(f"sizing at {worker * 1000:.0f} ms per backtest: {per_core_hour:,.0f} backtests/hour per core")
    for size in (8, 32, 128, 512):
        print(f"  {size:4d} cores: {per_core_hour * size:>12,.0f} backtests/hour")


if __name__ == "__main__":
    main()
