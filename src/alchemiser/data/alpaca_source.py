"""Daily bars from Alpaca's market-data API, adjusted for splits and dividends, into the local store.

Why adjusted (`adjustment=all`): strategies compare prices across years (moving averages, drawdowns,
cumulative returns); an unadjusted split or dividend would look like a crash. Why into the store rather
than read live each run: a run must not depend on a data API being up, and users should own their data.

The SDK follows `next_page_token` itself; symbols go in chunks so one request never grows unbounded.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import requests
from alpaca.common.exceptions import APIError
from alpaca.data.enums import Adjustment, DataFeed
from alpaca.data.historical.stock import StockHistoricalDataClient
from alpaca.data.models import BarSet
from alpaca.data.requests import StockBarsRequest
from alpaca.data.timeframe import TimeFrame

from alchemiser.data.base import BAR_COLUMNS
from alchemiser.data.store import BarCounts, LocalStore, clean_frame, normalize_symbol
from alchemiser.errors import DataError
from alchemiser.secrets import AlpacaCredentials, AlpacaEndpoints, redact

Progress = Callable[[str], None]
NEW_YORK = "America/New_York"
CHUNK = 50  # symbols per request: keeps URLs short and progress meaningful


def _frame(rows: list[tuple[pd.Timestamp, float, float, float, float, float]]) -> pd.DataFrame:
    """Alpaca daily bars are stamped at midnight New York (in UTC); the session date is that day."""
    stamps = pd.DatetimeIndex([r[0] for r in rows])
    stamps = stamps.tz_localize("UTC") if stamps.tz is None else stamps
    index = pd.DatetimeIndex(stamps.tz_convert(NEW_YORK).tz_localize(None).normalize(), name="date")
    values = [r[1:] for r in rows]
    return pd.DataFrame(values, index=index, columns=list(BAR_COLUMNS), dtype="float64")


def _rows(data: Any) -> dict[str, list[tuple[pd.Timestamp, float, float, float, float, float]]]:
    """(timestamp, o, h, l, c, v) per symbol from a `BarSet` or the SDK's raw dict."""
    out: dict[str, list[tuple[pd.Timestamp, float, float, float, float, float]]] = {}
    if isinstance(data, BarSet):
        for sym, bars in data.data.items():
            out[sym] = [(pd.Timestamp(b.timestamp), b.open, b.high, b.low, b.close, float(b.volume)) for b in bars]
    elif isinstance(data, dict):
        for sym, bars in data.items():
            out[sym] = [
                (pd.Timestamp(b["t"]), float(b["o"]), float(b["h"]), float(b["l"]), float(b["c"]), float(b["v"]))
                for b in bars or ()
            ]
    return out


def fetch_daily_bars(
    client: StockHistoricalDataClient,
    symbols: Iterable[str],
    start: dt.date,
    end: dt.date,
    feed: str = "iex",
    progress: Progress | None = None,
) -> dict[str, pd.DataFrame]:
    """Split- and dividend-adjusted daily bars for `symbols` over [start, end], as store-ready frames
    (tz-naive session-date index, float open/high/low/close/volume). Symbols without bars are left out.

    Raises `DataError` when the API refuses or cannot be reached (credentials are never in the message).
    """
    say = progress or (lambda _: None)
    syms = sorted({normalize_symbol(s) for s in symbols})
    if end < start:
        raise DataError(f"end {end} is before start {start}")
    try:
        data_feed = DataFeed(feed)
    except ValueError:
        raise DataError(f"unknown data feed {feed!r}") from None
    out: dict[str, pd.DataFrame] = {}
    lo, hi = pd.Timestamp(start), pd.Timestamp(end)
    for i in range(0, len(syms), CHUNK):
        chunk = syms[i : i + CHUNK]
        request = StockBarsRequest(
            symbol_or_symbols=chunk,
            timeframe=TimeFrame.Day,
            start=dt.datetime.combine(start, dt.time(0, 0), tzinfo=dt.UTC),
            # Daily bars are stamped 04:00/05:00 UTC of their day: the end of `end` in UTC includes it.
            end=dt.datetime.combine(end, dt.time(23, 59, 59), tzinfo=dt.UTC),
            adjustment=Adjustment.ALL,
            feed=data_feed,
        )
        say(f"fetching daily bars {i + 1}-{i + len(chunk)} of {len(syms)} ({', '.join(chunk[:3])}…)")
        try:
            data = client.get_stock_bars(request)
        except APIError as exc:
            raise DataError(f"Alpaca refused the bars request: {_clean(exc, client)}") from None
        except requests.RequestException as exc:
            raise DataError(f"cannot reach Alpaca market data: {exc.__class__.__name__}") from None
        for sym, rows in _rows(data).items():
            if not rows:
                continue
            frame = clean_frame(sym, _frame(rows))
            frame = frame.loc[lo:hi]
            if len(frame):
                out[sym.upper()] = frame
    say(f"fetched {sum(len(f) for f in out.values())} bars for {len(out)} of {len(syms)} symbols")
    return out


def _clean(exc: APIError, client: StockHistoricalDataClient) -> str:
    key, secret = client._api_key or "", client._secret_key or ""
    text = str(exc)[:300]
    for s in (secret, key):
        if s:
            text = text.replace(s, "***")
    return f"{text} (HTTP {exc.status_code})"


@dataclass
class FetchResult:
    """What a fetch did: rows written per symbol (with their span and what they changed in the store),
    and the requested symbols Alpaca had no bars for."""

    rows: dict[str, int] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    spans: dict[str, tuple[dt.date, dt.date]] = field(default_factory=dict)
    changes: dict[str, BarCounts] = field(default_factory=dict)


def fetch_into_store(
    store: LocalStore,
    creds: AlpacaCredentials,
    endpoints: AlpacaEndpoints,
    symbols: Iterable[str],
    start: dt.date,
    end: dt.date,
    progress: Progress | None = None,
) -> FetchResult:
    """Fetch adjusted daily bars and merge them into `store` in one atomic write (all symbols or none).

    Adjusted history changes retroactively after each split or dividend, so re-fetching a full range
    replaces the stored rows for those dates (the store's merge lets new rows win).
    """
    wanted = sorted({normalize_symbol(s) for s in symbols})
    client = StockHistoricalDataClient(
        creds.key_id.get_secret_value(), creds.secret_key.get_secret_value(), url_override=endpoints.data_url
    )
    try:
        frames = fetch_daily_bars(client, wanted, start, end, feed=endpoints.feed, progress=progress)
    except DataError as exc:
        raise DataError(redact(str(exc), creds)) from None
    changes = {s: store.diff(s, f).counts for s, f in frames.items()}
    store.write(frames)
    return FetchResult(
        {s: len(f) for s, f in frames.items()},
        [s for s in wanted if s not in frames],
        {s: (f.index[0].date(), f.index[-1].date()) for s, f in frames.items()},
        changes,
    )
