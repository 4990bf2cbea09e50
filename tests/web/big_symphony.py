"""A symphony of several thousand nodes (a balanced tree of distinct `if`s), for the large-tree tests and
the benchmark. Every comparison differs, so the compiler's de-duplication cannot shrink it."""

from __future__ import annotations

SYMBOLS = ("SPY", "QQQ", "TLT", "BIL", "TQQQ", "SQQQ", "UVXY", "TECL")


def big_symphony(depth: int = 11) -> str:
    """2**depth − 1 `if` nodes and 2**depth assets; built with a stack (no recursion)."""
    counter = 0

    def leaf(i: int) -> str:
        return f'(asset "{SYMBOLS[i % len(SYMBOLS)]}")'

    # Build bottom-up: level `depth` holds leaves, each level above pairs the one below.
    level = [leaf(i) for i in range(2**depth)]
    while len(level) > 1:
        paired = []
        for k in range(0, len(level), 2):
            counter += 1
            symbol = SYMBOLS[counter % len(SYMBOLS)]
            threshold = 20 + (counter * 7919) % 6000 / 100
            paired.append(f'(if (> (rsi "{symbol}" {{:window 10}}) {threshold:.2f}) [{level[k]}] [{level[k + 1]}])')
        level = paired
    return f'(defsymphony "big" {{:rebalance-frequency :daily}} {level[0]})\n'
