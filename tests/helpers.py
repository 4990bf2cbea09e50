"""Small builders shared by tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from alchemiser.data.history import PriceHistory


def history(closes: Mapping[str, Sequence[float]], start: str = "2024-01-02") -> PriceHistory:
    n = len(next(iter(closes.values())))
    dates = pd.bdate_range(start, periods=n)
    return PriceHistory(
        pd.DatetimeIndex(dates),
        {s: np.asarray(v, dtype=np.float64) for s, v in closes.items()},
        {s: "store" for s in closes},
    )


def random_history(symbols: Sequence[str], n: int = 400, seed: int = 1) -> PriceHistory:
    rng = np.random.default_rng(seed)
    return history({s: 50 * np.exp(np.cumsum(rng.normal(0.0003, 0.02, n))) for s in symbols})
