"""The symphony settings the engine honours: Composer's rebalance frequency and corridor.

Kept in one place so `alchemiser check` (the compiler) rejects exactly what a backtest could not honour: a
setting that passes `check` but silently ran daily would be a lie about what was backtested.

Composer's exports write the corridor as a fraction (`:rebalance-threshold 0.1` is a 10 % corridor, also
spelled `:rebalance-corridor-width`); the frequency is a keyword.
"""

from __future__ import annotations

import math

REBALANCE_FREQUENCIES = ("none", "daily", "weekly", "monthly", "quarterly", "yearly")
FREQUENCY_KEY = "rebalance-frequency"
CORRIDOR_KEYS = ("rebalance-threshold", "rebalance-corridor-width")


def setting_problem(name: str, value: object) -> str | None:
    """Why `:name value` cannot be honoured, or None when it can (settings the engine ignores pass)."""
    if name == FREQUENCY_KEY:
        if isinstance(value, str) and value in REBALANCE_FREQUENCIES:
            return None
        allowed = ", ".join(f":{f}" for f in REBALANCE_FREQUENCIES)
        return f":{name} must be one of {allowed} (got {_show(value)})"
    if name in CORRIDOR_KEYS:
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and 0 < value <= 1:
            return None
        return f":{name} must be a fraction above 0 and at most 1, such as 0.1 for a 10 % corridor (got {_show(value)})"
    return None


def rebalance_setting(settings: dict[str, object]) -> tuple[str | None, float | None]:
    """(frequency, corridor as a fraction) of valid settings; None for what the symphony does not set."""
    frequency = settings.get(FREQUENCY_KEY)
    corridor = next((settings[k] for k in CORRIDOR_KEYS if k in settings), None)
    return (
        frequency if isinstance(frequency, str) and setting_problem(FREQUENCY_KEY, frequency) is None else None,
        float(corridor)
        if isinstance(corridor, int | float) and setting_problem(CORRIDOR_KEYS[0], corridor) is None
        else None,
    )


def _show(value: object) -> str:
    return repr(value) if isinstance(value, str) else str(value)
