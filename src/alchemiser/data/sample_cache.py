"""The synthetic sample market's bars kept on disk, so each command does not regenerate them.

Generating the two dozen tickers a decision reads takes ~0.1 s (a sequential volatility recursion and
thousands of random draws), an eighth of `signal`'s one-second budget, and the result never changes for a
given seed and span. Files live under `$ALCHEMISER_HOME/cache/sample/`, one `.npy` per symbol, in a folder
named by a fingerprint of the generator's code and numpy's version: a change to either starts a new
folder instead of serving stale bars. The cache is an optimisation only: a file that is missing, damaged
or of the wrong shape is regenerated, and a home that cannot be written to just skips it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import os
import uuid
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

Array = npt.NDArray[np.float64]


@lru_cache(maxsize=1)
def fingerprint() -> str:
    """What the bars depend on besides seed and span: the generator's source and numpy's version."""
    from alchemiser import indicators
    from alchemiser.data import sample

    digest = hashlib.sha256(np.__version__.encode())
    for module in (sample, indicators):  # indicators: the EWM the bars' ranges are built with
        digest.update(Path(str(module.__file__)).read_bytes())
    return digest.hexdigest()[:16]


class SampleCache:
    """Per-symbol bar arrays of one generation (seed and span) in `root`."""

    def __init__(self, root: Path, seed: int, through: dt.date) -> None:
        self.folder = Path(root).expanduser() / fingerprint() / f"{seed}-{through.isoformat()}"

    def bars(self, symbol: str, rows: int, build: Callable[[], Array]) -> Array:
        """The cached (rows × 5) bars of `symbol`, or `build()`'s, which are then stored."""
        path = self.folder / f"{symbol}.npy"
        try:
            values: Array = np.load(path, allow_pickle=False)
            if values.shape == (rows, 5) and values.dtype == np.float64 and np.isfinite(values).all():
                return values
        except (OSError, ValueError, EOFError):
            pass  # missing or damaged: built again below
        values = build()
        self._store(path, values)
        return values

    def _store(self, path: Path, values: Array) -> None:
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with tmp.open("wb") as out:
                np.save(out, values, allow_pickle=False)
            os.replace(tmp, path)  # readers see the old file or the whole new one, never a part
        except OSError as exc:
            log.debug("sample market: not caching %s (%s)", path, exc)
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
