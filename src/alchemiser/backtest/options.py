"""The backtest command's numeric flags, validated before any data is loaded.

Every flag is checked with a message naming it: a negative slippage once printed a four-million percent
return, 20000 bps of slippage a negative equity, and `--weights nan,1` bare NaN in `--json`. Kept free of
numpy and pandas so the command line starts fast.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Literal

from alchemiser.backtest.errors import BacktestError

Fill = Literal["close", "next-open"]
Decide = Literal["close", "previous-close"]
MAX_COST_BPS = Decimal(1000)  # 10 %: beyond it a "cost" is a typo, and 10000 bps would give the book away
MAX_CAPITAL = 1e12  # beyond a trillion dollars the figures stop meaning anything


def capital(value: float) -> Decimal:
    """`--capital`: finite, above 0."""
    if not (math.isfinite(value) and 0 < value <= MAX_CAPITAL):
        raise BacktestError(f"--capital must be a dollar amount above 0 and at most {MAX_CAPITAL:,.0f} (got {value:g})")
    return Decimal(str(value))


def bps(flag: str, value: float) -> Decimal:
    """`--slippage-bps` / `--fee-bps`: 0 to 1000 basis points."""
    if not (math.isfinite(value) and 0 <= value <= float(MAX_COST_BPS)):
        raise BacktestError(f"{flag} must be between 0 and {MAX_COST_BPS} basis points (got {value:g})")
    return Decimal(str(value))


def fill(value: str) -> Fill:
    """`--fill`: close (Composer's convention) or next-open."""
    if value == "close":
        return "close"
    if value == "next-open":
        return "next-open"
    raise BacktestError(f"--fill must be close or next-open (got {value!r})")


def decide(value: str) -> Decide:
    """`--decide`: close (decide with day t's close; live `price = "live"`) or previous-close (decide with
    day t-1's data, fill on day t; live `price = "previous_close"`)."""
    if value == "close":
        return "close"
    if value == "previous-close":
        return "previous-close"
    raise BacktestError(f"--decide must be close or previous-close (got {value!r})")


def live_mode(decide_on: Decide, fill_at: Fill) -> str:
    """Which live setting a backtest with these conventions corresponds to, in words."""
    if decide_on == "previous-close":
        return (
            'decides with day t-1\'s closes and fills at day t\'s close: what the live bot does with [signals] '
            'price = "previous_close" (the default)'
        )
    if fill_at == "next-open":
        return "decides with day t's close and fills at day t+1's open: no live price mode trades this way"
    return (
        "decides with day t's close and fills at day t's close: the ideal of the live bot with [signals] "
        'price = "live" (it decides on prices ten minutes before the close)'
    )


def weights(text: str | None) -> list[float] | None:
    """`--weights 0.6,0.4`: numbers only; their range is checked against the strategies (`check_weights`)."""
    if text is None:
        return None
    try:
        return [float(w) for w in text.split(",")]
    except ValueError:
        raise BacktestError(f"--weights must be numbers separated by commas, such as 0.6,0.4 (got {text!r})") from None


def check_weights(shares: list[float], strategies: int) -> None:
    """One finite, positive share per strategy (they are normalised to sum to 1)."""
    if len(shares) != strategies:
        raise BacktestError(f"--weights gives {len(shares)} shares for {strategies} strategies")
    bad = [w for w in shares if not (math.isfinite(w) and w > 0)]
    if bad:
        raise BacktestError(f"--weights must be finite numbers above 0 (got {bad[0]:g})")
    if not math.isfinite(sum(shares)):  # 1e308,1e308 sums to infinity and would normalise to nothing
        raise BacktestError("--weights are too large to add up; give shares such as 0.6,0.4")
