"""What the dashboard keeps between requests: market data, compiled strategies and loaded price history.

Deciding a date afresh used to rebuild all three per request (generate the sample market, compile the
symphony, read and validate every ticker's history), which cost more than the 300 ms a page may take.
Each cached value is keyed by what it was built from, including a stamp of the files behind it (the
data store's bar files, the strategy file: modification time and size), so a `data fetch` or an edited
symphony is picked up on the next request without a restart. Requests run on executor threads, so every
cache is guarded by one lock; values handed out are never mutated by their users.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd

from alchemiser.config import Settings
from alchemiser.data.base import MarketData
from alchemiser.data.coverage import Coverage, check_coverage
from alchemiser.data.history import PriceHistory, load_history
from alchemiser.errors import AlchemiserError
from alchemiser.signals import build_market
from alchemiser.strategies.base import Strategy
from alchemiser.strategies.registry import BUILTINS, builtin_path, load_strategy
from alchemiser.strategies.symphony.evaluator import IndicatorCache

T = TypeVar("T")
Stamp = tuple[int, int, int]
MAX_ENTRIES = 64  # full histories, per-date views and decisions, marks, sleeves; each a few MB at most

_lock = threading.RLock()
_markets: dict[tuple[int, Path], MarketData] = {}
_entries: OrderedDict[Hashable, tuple[Hashable, object]] = OrderedDict()


def _stamp(path: Path) -> Stamp:
    try:
        st = path.stat()
    except OSError:
        return (0, 0, 0)
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def store_stamp(settings: Settings) -> Stamp:
    """Changes whenever a bar file of the local store is written, added or removed (one directory scan)."""
    bars = settings.data_dir / "bars"
    newest, count, size = 0, 0, 0
    try:
        with os.scandir(bars) as entries:
            for entry in entries:
                st = entry.stat()
                newest, count, size = max(newest, st.st_mtime_ns), count + 1, size + st.st_size
    except OSError:
        return (0, 0, 0)
    return (newest, count, size)


def source_path(source: str) -> Path | None:
    """The file a strategy reference is read from (None for a Python class)."""
    key = source.strip()
    if key.lower() in BUILTINS:
        return builtin_path(key.lower())
    path = Path(key).expanduser()
    return path if path.suffix or path.is_file() else None


def _cached(key: Hashable, stamp: Hashable, build: Callable[[], T]) -> T:
    """The value built for `key` while `stamp` is unchanged; rebuilt (and the oldest evicted) otherwise."""
    with _lock:
        hit = _entries.get(key)
        if hit is not None and hit[0] == stamp:
            _entries.move_to_end(key)
            return hit[1]  # type: ignore[return-value]
        value = build()
        _entries[key] = (stamp, value)
        _entries.move_to_end(key)
        while len(_entries) > MAX_ENTRIES:
            _entries.popitem(last=False)
        return value


def market(settings: Settings) -> MarketData:
    """One market-data object per configuration for the server's life: the synthetic sample market is
    generated once, and the local store re-reads a bar file only when it changed (its own stamp check)."""
    key = (id(settings), settings.data_dir)
    with _lock:
        if key not in _markets:
            _markets[key] = build_market(settings)
        return _markets[key]


def strategy(source: str, name: str) -> Strategy:
    """The compiled strategy, recompiled when its file changes."""
    path = source_path(source)
    return _cached(("strategy", source, name), _stamp(path) if path else None, lambda: load_strategy(source, name))


def coverage(settings: Settings, name: str, loaded: Strategy, day: dt.date, *, check_length: bool) -> Coverage:
    """`check_coverage` of one strategy for a decision at `day`'s close, until the store or strategy changes."""
    stamp = (store_stamp(settings), id(loaded))
    key = ("coverage", id(settings), name, day, check_length)
    return _cached(
        key, stamp, lambda: check_coverage(market(settings), [(name, loaded)], day, check_length=check_length)
    )


def full_history(settings: Settings, symbols: frozenset[str], latest: dt.date) -> PriceHistory | None:
    """Validated closes of `symbols` through the latest session, loaded once per data-store change; None
    when they do not validate (the caller then takes the exact per-day path, which names the problem)."""

    def build() -> PriceHistory | None:
        try:
            return load_history(market(settings), symbols, latest)
        except AlchemiserError:
            return None

    return _cached(("full", id(settings), symbols), (store_stamp(settings), latest), build)


def history_at(
    settings: Settings, symbols: frozenset[str], day: dt.date, latest: dt.date
) -> tuple[PriceHistory, IndicatorCache] | None:
    """The history as known at `day`'s close — a view of the full history, so deciding another date costs
    no reading or validation — with an indicator cache over it (kept for the next request on this date).

    Identical to `load_history(market, symbols, day, expected_last=day)` whenever the full history is valid
    and every symbol has a close on `day` (then nothing is absent or stale at `day`); otherwise None.
    """
    full = full_history(settings, symbols, latest)
    if full is None:
        return None
    at = int(full.dates.searchsorted(pd.Timestamp(day)))
    if at >= len(full.dates) or full.dates[at].date() != day:
        return None
    if not all(np.isfinite(closes[at]) for closes in full.closes.values()):
        return None

    def build() -> tuple[PriceHistory, IndicatorCache]:
        view = full.until(day)
        return view, IndicatorCache(view)

    return _cached(("at", id(settings), symbols, day), (store_stamp(settings), latest, id(full)), build)


def history(settings: Settings, symbols: frozenset[str], day: dt.date) -> tuple[PriceHistory, IndicatorCache]:
    """`load_history` for `day` exactly as `signal --as-of` runs it (the slow, exact path), cached."""
    key = ("history", id(settings), symbols, day)

    def build() -> tuple[PriceHistory, IndicatorCache]:
        loaded = load_history(market(settings), symbols, day, expected_last=day)
        return loaded, IndicatorCache(loaded)

    return _cached(key, store_stamp(settings), build)


def memo(key: Hashable, stamp: Hashable, build: Callable[[], T]) -> T:
    """Any derived value (daily marks, sleeves) kept while `stamp` — what it was computed from — holds."""
    return _cached(("memo", key), stamp, build)


def configured(settings: Settings) -> list[tuple[str, Strategy]]:
    """The configured strategies, compiled (each recompiled when its file changes); a strategy that cannot
    load is left out here: the run and the decision view report its error themselves."""
    found = []
    for cfg in settings.strategies:
        try:
            found.append((cfg.name, strategy(cfg.source, cfg.name)))
        except AlchemiserError:
            continue
    return found


def coverage_all(settings: Settings, day: dt.date) -> Coverage:
    """`alchemiser data missing` for the configured strategies at `day`: every gap at once, with the fix."""
    strategies = configured(settings)
    stamp = (store_stamp(settings), tuple(id(s) for _, s in strategies))
    return _cached(
        ("coverage-all", id(settings), day), stamp, lambda: check_coverage(market(settings), strategies, day)
    )


def locked() -> threading.RLock:
    """The lock to hold while evaluating on a cached history (its indicator cache fills as it is read)."""
    return _lock


def clear() -> None:
    """Forget everything (tests; a changed configuration)."""
    with _lock:
        _entries.clear()
        _markets.clear()
