"""The `Strategy` protocol: what the rest of the bot needs from any strategy, symphony or Python."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from alchemiser.data.history import PriceHistory
from alchemiser.errors import StrategyError
from alchemiser.strategies.symphony.evaluator import AllocationMatrix, Decision, IndicatorCache, TraceStep


@runtime_checkable
class Strategy(Protocol):
    """`decide` sees history only up to the decision date; it returns weights summing to 1 and a trace."""

    name: str

    def universe(self) -> set[str]:
        """Every symbol the strategy reads or may hold (the data to load)."""
        ...

    def decide(self, history: PriceHistory, cache: IndicatorCache | None = None) -> Decision: ...

    def evaluate_all(self, history: PriceHistory, cache: IndicatorCache | None = None) -> AllocationMatrix: ...


class PythonStrategy:
    """Convenience base for strategies written in Python: implement `universe` and `allocate`.

    `allocate(history)` returns symbol → weight (normalised here) and optionally a list of reasons.
    `evaluate_all` walks the dates one by one, each on history truncated to that date, so a Python
    strategy cannot look ahead.
    """

    name = "python"
    warmup = 1

    def universe(self) -> set[str]:
        raise NotImplementedError

    def allocate(self, history: PriceHistory) -> dict[str, float] | tuple[dict[str, float], list[str]]:
        raise NotImplementedError

    def decide(self, history: PriceHistory, cache: IndicatorCache | None = None) -> Decision:
        try:
            out = self.allocate(history)
        except StrategyError:
            raise
        except Exception as exc:  # a bug in user code fails this strategy closed, with its reason
            raise StrategyError(f"{self.name}: {type(exc).__name__}: {exc}") from exc
        weights, reasons = out if isinstance(out, tuple) else (out, [])
        total = sum(w for w in weights.values() if w > 0)
        if not weights or total <= 0 or any(not np.isfinite(w) or w < 0 for w in weights.values()):
            raise StrategyError(f"{self.name}: allocate() must return non-negative weights with a positive sum")
        clean = {s.upper(): w / total for s, w in sorted(weights.items()) if w > 0}
        trace = [TraceStep(0, "reason", r, self.name, 1.0) for r in reasons]
        trace += [TraceStep(0, "asset", f"{s} → {w:.1%}", self.name, w) for s, w in clean.items()]
        return Decision(clean, trace)

    def evaluate_all(self, history: PriceHistory, cache: IndicatorCache | None = None) -> AllocationMatrix:
        rows: list[dict[str, float]] = []
        valid = np.zeros(len(history.dates), dtype=bool)
        for i, day in enumerate(history.dates):
            try:
                rows.append(self.decide(history.until(day.date())).weights)
                valid[i] = True
            except StrategyError:
                rows.append({})
        symbols = sorted({s for row in rows for s in row})
        matrix = np.array([[row.get(s, 0.0) for s in symbols] for row in rows]).reshape(len(rows), len(symbols))
        return AllocationMatrix(history.dates, symbols, matrix, valid)
