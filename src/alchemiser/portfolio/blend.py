"""Blend several strategies' allocations by their configured shares into one target."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from alchemiser.errors import StrategyError


def blend(parts: Iterable[tuple[Mapping[str, float], float]]) -> dict[str, float]:
    """Σ share × weight per symbol; overlapping symbols net. Shares must add up to 1.

    Nothing is renormalised: a strategy whose weights sum below 1 (its `empty` branches hold cash) leaves that
    part of its share in cash, and the target then sums below 1, which the planner simply does not invest.
    """
    target: dict[str, float] = {}
    total_share = 0.0
    for weights, share in parts:
        total_share += share
        for symbol, weight in weights.items():
            target[symbol] = target.get(symbol, 0.0) + share * weight
    if abs(total_share - 1.0) > 1e-6:
        raise StrategyError(f"strategy shares add up to {total_share:g}, not 1")
    return {s: w for s, w in sorted(target.items()) if w > 1e-12}
