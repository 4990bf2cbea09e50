"""The local bar store: one Parquet file per symbol, so users own their data and imports are atomic.

Layout: `root/bars/SYMBOL.parquet` (a "/" in a symbol such as BRK/B is stored as "_", which no valid
symbol contains). A write validates everything, writes every file under a temporary name, and only then
`os.replace`s them into place: a bad frame or a crash before that point leaves the store as it was.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from alchemiser.data.bars import BAR_COLUMNS, DailyBars
from alchemiser.data.base import Source, SymbolInfo
from alchemiser.errors import DataError

if TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd
    import pyarrow as pa

# Same shape as tickers in symphony files; also keeps every symbol a safe single path component.
SYMBOL_PATTERN = re.compile(r"[A-Z0-9][A-Z0-9.\-/]{0,11}")
_SUFFIX = ".parquet"
_SAME = 1e-9  # relative tolerance under which a re-imported bar counts as identical


class StoreWriteError(DataError, OSError):
    """The file system refused a write (full disk, read-only, a file where the folder should be).

    A `DataError`, so the CLI shows one line instead of a traceback; still an `OSError` for callers that
    handle file-system failures as such.
    """


@dataclass(frozen=True)
class BarDiff:
    """Dates of an incoming frame, split by what writing it would do to the stored bars."""

    new: pd.DatetimeIndex
    replaced: pd.DatetimeIndex
    unchanged: pd.DatetimeIndex

    @property
    def counts(self) -> BarCounts:
        return BarCounts(len(self.new), len(self.replaced), len(self.unchanged))


@dataclass(frozen=True)
class BarCounts:
    """What a write did to one symbol's stored bars, for reports ("12 new, 0 replaced, 300 unchanged")."""

    new: int
    replaced: int
    unchanged: int

    @property
    def rows(self) -> int:
        return self.new + self.replaced + self.unchanged

    def __str__(self) -> str:
        return f"{self.new} new, {self.replaced} replaced, {self.unchanged} unchanged"


def normalize_symbol(symbol: str) -> str:
    """Upper-case and validate a symbol; raise `DataError` for anything that is not a plain ticker."""
    sym = symbol.strip().upper()
    if not SYMBOL_PATTERN.fullmatch(sym):
        raise DataError(f"invalid symbol {symbol!r}: use 1–12 characters A-Z, 0-9, '.', '-' or '/'")
    return sym


def _file_name(symbol: str) -> str:
    return symbol.replace("/", "_") + _SUFFIX


def _symbol_of(path: Path) -> str | None:
    sym = path.name[: -len(_SUFFIX)].replace("_", "/")
    return sym if SYMBOL_PATTERN.fullmatch(sym) else None


def clean_frame(symbol: str, frame: pd.DataFrame) -> pd.DataFrame:
    """The canonical bar frame: tz-naive midnight `date` index (ns), sorted, float64 bar columns.

    Raises `DataError` when the frame cannot be bars (missing columns, bad dates, NaN, duplicates).
    """
    import pandas as pd

    missing = [c for c in BAR_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"{symbol}: bars are missing column(s) {', '.join(missing)}")
    if not isinstance(frame.index, pd.DatetimeIndex):
        raise DataError(f"{symbol}: bars need a DatetimeIndex of session dates")
    index = frame.index
    if index.tz is not None:
        index = index.tz_localize(None)
    index = pd.DatetimeIndex(index.normalize().as_unit("ns"), name="date")
    if index.hasnans:
        raise DataError(f"{symbol}: bars have missing dates")
    if index.has_duplicates:
        raise DataError(f"{symbol}: bars have duplicate dates")
    try:
        values = frame.loc[:, list(BAR_COLUMNS)].to_numpy(dtype="float64")
    except (TypeError, ValueError) as exc:
        raise DataError(f"{symbol}: bar columns must be numeric ({exc})") from None
    if not np.isfinite(values).all():
        raise DataError(f"{symbol}: bars contain NaN or infinite values")
    out = pd.DataFrame(values, index=index, columns=list(BAR_COLUMNS))
    return out.sort_index()


class LocalStore:
    """`MarketData` over a directory of per-symbol Parquet files (source "store")."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).expanduser()
        self.bars_dir = self.root / "bars"
        self._cache: dict[str, tuple[tuple[int, int], DailyBars]] = {}

    def symbols(self) -> list[str]:
        """Every symbol with a bar file, sorted."""
        if not self.bars_dir.is_dir():
            return []
        found = (_symbol_of(p) for p in self.bars_dir.glob(f"*{_SUFFIX}") if p.is_file())
        return sorted(s for s in found if s is not None)

    def _read_daily(self, symbol: str) -> DailyBars:
        """The full series for `symbol`, re-read only when the file changed on disk."""
        sym = normalize_symbol(symbol)
        path = self.bars_dir / _file_name(sym)
        try:
            st = path.stat()
        except FileNotFoundError:
            raise DataError(
                f"no stored bars for {sym} in {self.bars_dir}; import them with `alchemiser data import`"
            ) from None
        stamp = (st.st_mtime_ns, st.st_size)
        cached = self._cache.get(sym)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        try:
            bars = _canonical_file(path)
            if bars is None:
                bars = DailyBars.of_frame(clean_frame(sym, _read_frame(path)))
        except DataError as exc:
            raise DataError(f"{path}: {exc}") from None
        except Exception as exc:  # pyarrow raises many types for a damaged file
            raise DataError(f"cannot read {path}: {exc}") from None
        self._cache[sym] = (stamp, bars)
        return bars

    def _read(self, symbol: str) -> pd.DataFrame:
        return self._read_daily(symbol).frame()

    def daily(self, symbol: str, start: dt.date | None = None, end: dt.date | None = None) -> DailyBars:
        """Stored bars for `symbol` clipped to [start, end], as read-only views."""
        return self._read_daily(symbol).clip(start, end)

    def bars(self, symbol: str, start: dt.date | None = None, end: dt.date | None = None) -> pd.DataFrame:
        """Stored bars for `symbol` clipped to [start, end]; a copy the caller may modify."""
        return self.daily(symbol, start, end).frame()

    def source_of(self, symbol: str) -> Source:
        sym = normalize_symbol(symbol)
        if not (self.bars_dir / _file_name(sym)).is_file():
            raise DataError(f"no stored bars for {sym}")
        return "store"

    def available(self) -> list[SymbolInfo]:
        out: list[SymbolInfo] = []
        for sym in self.symbols():
            bars = self._read_daily(sym)
            if len(bars):
                out.append(SymbolInfo(sym, "store", bars.first, bars.last, len(bars)))
        return out

    def write(self, frames: dict[str, pd.DataFrame]) -> None:
        """Merge `frames` into the store (new rows win on the same date), all files or none.

        Everything is validated and merged in memory first; then each file is written to a temporary
        name in the same directory, and only when all are written are they renamed into place.
        """
        import pandas as pd

        merged: dict[str, pd.DataFrame] = {}
        for symbol, frame in frames.items():
            sym = normalize_symbol(symbol)
            if sym in merged:
                raise DataError(f"{sym} appears twice in one write (symbols are case-insensitive)")
            new = clean_frame(sym, frame)
            path = self.bars_dir / _file_name(sym)
            if path.exists():
                old = self._read(sym)
                new = pd.concat([old[~old.index.isin(new.index)], new]).sort_index()
            merged[sym] = new
        self._commit(merged)

    def _commit(self, frames: dict[str, pd.DataFrame]) -> None:
        """Write whole files atomically: all staged under temporary names first, then renamed into place."""
        if not frames:
            return
        staged: list[tuple[Path, Path]] = []
        try:
            self.bars_dir.mkdir(parents=True, exist_ok=True)
            for sym, frame in frames.items():
                final = self.bars_dir / _file_name(sym)
                tmp = self.bars_dir / f".{final.name}.{uuid.uuid4().hex}.tmp"
                staged.append((tmp, final))
                frame.to_parquet(tmp, engine="pyarrow")
            for tmp, final in staged:
                os.replace(tmp, final)
        except OSError as exc:
            raise StoreWriteError(f"cannot write to the store {self.bars_dir}: {exc.strerror or exc}") from None
        finally:
            for tmp, _ in staged:
                with contextlib.suppress(OSError):  # cleanup must not mask the error being raised
                    tmp.unlink(missing_ok=True)
        for sym in frames:
            self._cache.pop(sym, None)

    def diff(self, symbol: str, frame: pd.DataFrame) -> BarDiff:
        """How writing `frame` would change `symbol`'s stored bars, so callers can refuse silent overwrites.

        A bar is "unchanged" when every value matches the stored one within a relative 1e-9 (float
        round-off in exports is not a change); otherwise "replaced"; dates the store lacks are "new".
        """
        import pandas as pd

        sym = normalize_symbol(symbol)
        new = clean_frame(sym, frame)
        dates = pd.DatetimeIndex(new.index)
        if not (self.bars_dir / _file_name(sym)).is_file():
            return BarDiff(dates, dates[:0], dates[:0])
        old = self._read(sym)
        stored = pd.DatetimeIndex(old.index)
        common = dates.intersection(stored)
        a = new.loc[common].to_numpy()
        b = old.loc[common, list(BAR_COLUMNS)].to_numpy()
        same = np.isclose(a, b, rtol=_SAME, atol=0.0).all(axis=1)
        return BarDiff(dates.difference(stored), common[~same], common[same])

    def delete(self, symbol: str, start: dt.date | None = None, end: dt.date | None = None) -> int:
        """Remove `symbol`'s bars in [start, end] (all of them by default); returns how many were removed.

        The file is rewritten atomically, or removed when no bar is left, so the store never holds an
        empty series that would list a symbol without dates.
        """
        import pandas as pd

        sym = normalize_symbol(symbol)
        frame = self._read(sym)
        lo = pd.Timestamp(start) if start is not None else frame.index.min()
        hi = pd.Timestamp(end) if end is not None else frame.index.max()
        hit = (frame.index >= lo) & (frame.index <= hi)
        removed = int(hit.sum())
        if not removed:
            return 0
        if removed == len(frame):
            path = self.bars_dir / _file_name(sym)
            try:
                path.unlink()
            except OSError as exc:
                raise StoreWriteError(f"cannot delete {path}: {exc.strerror or exc}") from None
            self._cache.pop(sym, None)
        else:
            self._commit({sym: frame.loc[~hit]})
        return removed


def _read_frame(path: Path) -> pd.DataFrame:
    import pandas as pd

    return pd.read_parquet(path)


def _canonical_file(path: Path) -> DailyBars | None:
    """The bars of a file in the form the store writes, read with pyarrow alone; None for any other form.

    The store's own files (a tz-naive midnight `date` timestamp column, ascending, and finite float64 bar
    columns) are what `clean_frame` would return unchanged, so they skip pandas, whose import costs more
    than deciding; anything else (another writer's file, a damaged one) takes the validating pandas path.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    with pq.ParquetFile(path) as file:  # not `read_table`: its dataset layer imports pandas
        table = file.read()
    names = set(table.column_names)
    if "date" not in names or not names.issuperset(BAR_COLUMNS):
        return None
    date_type = table.schema.field("date").type
    if not pa.types.is_timestamp(date_type) or date_type.tz is not None:
        return None
    if any(table.schema.field(c).type != pa.float64() for c in BAR_COLUMNS):
        return None
    if any(table.column(c).null_count for c in ("date", *BAR_COLUMNS)):
        return None
    stamps = _plain_numpy(table.column("date"), np.dtype(f"datetime64[{date_type.unit}]"))
    columns = [_plain_numpy(table.column(c), np.dtype(np.float64)) for c in BAR_COLUMNS]
    days = stamps.astype("datetime64[D]")
    values = np.column_stack(columns) if len(days) else np.empty((0, len(BAR_COLUMNS)))
    if not ((days == stamps).all() and (np.diff(days) > np.timedelta64(0, "D")).all() and np.isfinite(values).all()):
        return None
    values.flags.writeable = False  # cached and shared: a caller's view must not change it
    return DailyBars(days, values)


def _plain_numpy(column: pa.ChunkedArray, dtype: np.dtype[Any]) -> npt.NDArray[Any]:
    """A null-free fixed-width column as numpy, straight from its buffers.

    pyarrow's own `to_numpy` imports pandas, which is exactly the cost this path exists to avoid.
    """
    parts = [
        np.frombuffer(chunk.buffers()[1], dtype=dtype, count=len(chunk), offset=chunk.offset * dtype.itemsize)
        for chunk in column.chunks
    ]
    return np.concatenate(parts) if parts else np.empty(0, dtype=dtype)
