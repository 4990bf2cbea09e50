"""Small builders shared by tests."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

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


def run(args: list[str], home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI as a real subprocess the way a user does, with only this home's settings."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ALCHEMISER_")}
    environment.update({"ALCHEMISER_HOME": str(home), "COLUMNS": "200", **env})
    return subprocess.run(
        [sys.executable, "-m", "alchemiser.cli", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        check=False,
    )
