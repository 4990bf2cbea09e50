"""Symphony parameter figures: how long a sweep waits to get each variant compiled and ready to backtest.

Run with `.venv/bin/python bench/bench_params.py` (also part of `make bench`). For each built-in it prints
the one-off cost of finding the parameters (read, compile, walk), then the cost per variant of
`load_variant` over 1,000 variants (thresholds × windows, two to four numbers changed each), next to what
re-compiling the substituted text would cost. Target: well under 10 ms per variant. The machine is shared,
so wall and CPU time are both printed and the verdict is judged on CPU time.
"""

from __future__ import annotations

import itertools
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alchemiser.strategies.registry import BUILTINS, builtin_path
from alchemiser.strategies.symphony.compiler import compile_text
from alchemiser.strategies.symphony.params import _CACHE, find_parameters, load_variant, substitute_text

VARIANTS = 1000
TARGET_MS = 10.0


def grid(name: str) -> list[dict[str, float]]:
    """1,000 variants: the first two thresholds and the first window of the file, on a grid."""
    params = find_parameters(builtin_path(name))
    thresholds = [p for p in params if p.kind == "threshold"][:2]
    window = next(p for p in params if p.kind == "window")
    values = itertools.product(range(-5, 5), range(-5, 5), range(10))
    return [
        {thresholds[0].name: thresholds[0].value + a, thresholds[1].name: thresholds[1].value + b,
         window.name: window.value + w}
        for a, b, w in itertools.islice(values, VARIANTS)
    ]  # fmt: skip


def main() -> None:
    print(f"symphony parameters: {VARIANTS} variants per built-in; target ≤ {TARGET_MS:g} ms per variant (CPU)")
    print(f"  {'strategy':<9} {'params':>6} {'find (ms)':>10} {'variant wall':>13} {'variant CPU':>12} "
          f"{'text recompile':>15}")  # fmt: skip
    for name in sorted(BUILTINS):
        path = builtin_path(name)
        _CACHE.clear()
        started = time.perf_counter()
        count = len(find_parameters(path))
        find_ms = (time.perf_counter() - started) * 1000
        variants = grid(name)
        wall, cpu = time.perf_counter(), time.process_time()
        for values in variants:
            load_variant(path, values)
        wall_ms = (time.perf_counter() - wall) * 1000 / len(variants)
        cpu_ms = (time.process_time() - cpu) * 1000 / len(variants)
        sample = variants[:50]  # the text way, for comparison: substitute, then read and compile the whole file
        started = time.process_time()
        for values in sample:
            compile_text(substitute_text(path, values), str(path))
        text_ms = (time.process_time() - started) * 1000 / len(sample)
        verdict = "PASS" if cpu_ms <= TARGET_MS else "MISS"
        figures = f"{find_ms:>10.1f} {wall_ms:>10.2f} ms {cpu_ms:>9.2f} ms {text_ms:>12.2f} ms"
        print(f"  {name:<9} {count:>6} {figures}  {verdict}")


if __name__ == "__main__":
    main()
