"""Command-line start-up figures: wall time of `--help`, `--version` and `signal`, and the import offenders.

Targets (issue 15): `alchemiser --help` ≤ 0.3 s and `alchemiser signal` on the built-ins ≤ 1 s wall.
Each command runs as a real `python -m alchemiser.cli` process in a home without data or config (so
`signal` decides on the synthetic sample market), REPEATS times after one untimed run; "signal, new
home" runs each time in a new empty home, so it also generates the sample bars a home caches. The
figures are the median and the best run, of wall time and of the process's CPU time (user + system),
which says more when other work shares the cores. The last tables are `python -X importtime` of each
command: the largest cumulative imports.

    .venv/bin/python bench/bench_startup.py [REPEATS] [SRC]

With SRC (another checkout's `src` folder, e.g. from `git archive main src`), that code is measured
instead: the way to get before/after figures in one run on a shared machine.
"""

from __future__ import annotations

import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPEATS = int(sys.argv[1]) if len(sys.argv) > 1 else 9
SRC = sys.argv[2] if len(sys.argv) > 2 else None
COMMANDS = {"--help": ["--help"], "--version": ["--version"], "signal": ["signal"], "signal, new home": ["signal"]}
TARGETS = {"--help": 0.3, "signal": 1.0}
IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def environment(home: Path) -> dict[str, str]:
    # A user's Python keeps compiled bytecode; a shell with PYTHONDONTWRITEBYTECODE would recompile all of
    # our modules on every start (~0.1 s) and measure something no user runs.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ALCHEMISER_", "ALPACA_", "APCA_")) and k != "PYTHONDONTWRITEBYTECODE"
    }
    if SRC is not None:
        env["PYTHONPATH"] = SRC
    return {**env, "ALCHEMISER_HOME": str(home), "COLUMNS": "100"}


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_runs(args: list[str], home: Path, *, fresh: bool = False) -> tuple[list[float], list[float]]:
    """(wall seconds, CPU seconds) of each of REPEATS runs; `fresh`: each in a new, empty home."""
    walls, cpus = [], []
    for i in range(REPEATS):
        where = home.with_name(f"fresh-{i}") if fresh else home
        start, cpu = time.perf_counter(), cpu_seconds()
        subprocess.run([sys.executable, "-m", "alchemiser.cli", *args], env=environment(where), capture_output=True)
        walls.append(time.perf_counter() - start)
        cpus.append(cpu_seconds() - cpu)
    return walls, cpus


def top_imports(args: list[str], home: Path, count: int = 8) -> list[tuple[str, float]]:
    """The packages, and the project's own modules, with the largest cumulative import time, in seconds.

    Third-party packages count at their top level; `alchemiser.x` modules count by themselves, since
    which of ours drags a heavy package in is the useful part.
    """
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "alchemiser.cli", *args],
        env=environment(home),
        capture_output=True,
        text=True,
    )
    roots: dict[str, float] = {}
    for line in done.stderr.splitlines():
        match = IMPORT_LINE.match(line)
        name = match.group(4) if match else ""
        if match and ("." not in name or name.startswith("alchemiser.")) and name != "alchemiser.cli":
            roots[name] = max(roots.get(name, 0.0), int(match.group(2)) / 1e6)
    return sorted(roots.items(), key=lambda item: -item[1])[:count]


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="alchemiser-bench-") as tmp:
        home = Path(tmp) / "home"
        subprocess.run([sys.executable, "-m", "alchemiser.cli", "signal"], env=environment(home), capture_output=True)
        print(f"CLI start-up, {REPEATS} runs each (load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} cores)")
        print(f"{'command':<18}{'wall median':>12}{'wall best':>10}{'CPU median':>11}{'CPU best':>9}{'target':>8}")
        for name, args in COMMANDS.items():
            walls, cpus = timed_runs(args, home, fresh=name.endswith("new home"))
            target = f"{TARGETS[name]:.1f}" if name in TARGETS else "-"
            print(
                f"{name:<18}{statistics.median(walls):>12.3f}{min(walls):>10.3f}"
                f"{statistics.median(cpus):>11.3f}{min(cpus):>9.3f}{target:>8}"
            )
        for args in {tuple(a): a for a in COMMANDS.values()}.values():
            print(f"\nimporttime of `alchemiser {' '.join(args)}`: largest cumulative imports")
            for package, seconds in top_imports(args, home):
                print(f"  {package:<40}{seconds:>8.3f} s")


if __name__ == "__main__":
    main()
