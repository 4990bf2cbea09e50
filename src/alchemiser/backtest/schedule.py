"""When a backtest rebalances: Composer's frequencies and its corridor (threshold rebalancing).

A frequency picks the sessions on which the book is brought back to target (the first session of each
week, month, quarter or year; every session for daily; only the initial purchase for none). A corridor
adds a condition: on those sessions, trade only when some weight is more than the corridor away from its
target. Composer's threshold rebalancing is frequency `none` with a corridor, checked every session.

The `--rebalance threshold:X` flag reads X in percentage points (`threshold:5` = 5 points, 0.05 as a
weight), one unit only; symphony files write the corridor as a fraction (`:rebalance-threshold 0.05`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from alchemiser.backtest.errors import BacktestError
from alchemiser.strategies.symphony.settings import REBALANCE_FREQUENCIES, rebalance_setting

_PERIODS = {"weekly": "W", "monthly": "M", "quarterly": "Q", "yearly": "Y"}
_FORMS = ", ".join(REBALANCE_FREQUENCIES) + ", threshold:X or FREQUENCY+threshold:X"


class ScheduleError(BacktestError):
    """A rebalance schedule that cannot be honoured."""


@dataclass(frozen=True)
class Schedule:
    """A rebalance frequency, optionally with a corridor in percentage points (0 < points ≤ 100)."""

    frequency: str = "daily"
    corridor_points: float | None = None

    def __post_init__(self) -> None:
        if self.frequency not in REBALANCE_FREQUENCIES:
            raise ScheduleError(f"--rebalance must be one of {_FORMS} (got {self.frequency!r})")
        points = self.corridor_points
        if points is not None and not (math.isfinite(points) and 0 < points <= 100):
            raise ScheduleError(
                f"--rebalance threshold is in percentage points, above 0 and at most 100 (got {points:g})"
            )

    @property
    def corridor(self) -> float | None:
        """The corridor as a weight (threshold:5 → 0.05), or None without one."""
        return None if self.corridor_points is None else self.corridor_points / 100

    @classmethod
    def parse(cls, text: str) -> Schedule:
        """`daily`, `quarterly`, `none`, `threshold:5` (= none + a 5-point corridor), `weekly+threshold:5`."""
        spec = text.strip().lower()
        frequency, _, corridor = spec.partition("+") if "+" in spec else ("", "", spec)
        if not corridor.startswith("threshold:"):
            return cls(spec)
        try:
            points = float(corridor.split(":", 1)[1])
        except ValueError:
            raise ScheduleError(f"--rebalance threshold:X needs a number of percentage points (got {text!r})") from None
        return cls(frequency or "none", points)

    @classmethod
    def from_symphony(cls, settings: dict[str, object]) -> Schedule | None:
        """The symphony's own setting (checked by the compiler), or None when it sets nothing."""
        frequency, corridor = rebalance_setting(settings)
        if frequency is None and corridor is None:
            return None
        return cls(frequency or "none", None if corridor is None else corridor * 100)

    def calendar_days(self, dates: pd.DatetimeIndex) -> np.ndarray:
        """Which sessions are checked for a rebalance (the engine always makes the initial purchase)."""
        if self.frequency == "daily" or (self.frequency == "none" and self.corridor is not None):
            return np.ones(len(dates), dtype=bool)
        if self.frequency == "none":
            return np.zeros(len(dates), dtype=bool)
        period = dates.to_period(_PERIODS[self.frequency]).asi8
        first = np.ones(len(dates), dtype=bool)
        first[1:] = period[1:] != period[:-1]
        return first

    def __str__(self) -> str:
        if self.corridor_points is None:
            return self.frequency
        corridor = f"threshold:{self.corridor_points:g}"
        return corridor if self.frequency == "none" else f"{self.frequency}+{corridor}"
