"""Import user bar files into the local store, validating everything first so a bad file changes nothing.

Accepted inputs:
* a long-format CSV or Parquet file with columns symbol,date,open,high,low,close,volume;
* a directory of `SYMBOL.csv` files with columns date,open,high,low,close,volume.

Headers are case-insensitive and extra columns are ignored. Checks are vectorised (files may hold
millions of rows) and every problem is reported with its file and line (CSV: header = line 1) so the
user can fix them all in one pass.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from alchemiser import market_calendar
from alchemiser.data.base import BAR_COLUMNS
from alchemiser.data.store import SYMBOL_PATTERN, BarCounts, LocalStore, clean_frame
from alchemiser.errors import DataError

MAX_PROBLEMS = 50
_PRICE_COLUMNS = ("open", "high", "low", "close")
_TOLERANCE = 1e-9  # relative slack for high/low checks, so float round-off in exports is not an error


@dataclass(frozen=True)
class ImportProblem:
    """One thing wrong with an import, located as precisely as the format allows."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        return (
            f"{self.file}:{self.line}: {self.message}"
            if self.line is not None
            else f"{self.file}: {self.message}"
        )


class ImportValidationError(DataError):
    """The import was rejected; `.problems` lists the first `MAX_PROBLEMS`, `.total` counts them all."""

    def __init__(self, problems: list[ImportProblem], total: int | None = None) -> None:
        self.problems = problems
        self.total = total if total is not None else len(problems)
        lines = [
            f"import rejected: {self.total} problem{'s' if self.total != 1 else ''}; nothing was written"
        ]
        lines += [f"  {p}" for p in problems]
        if self.total > len(problems):
            lines.append(f"  ... and {self.total - len(problems)} more")
        super().__init__("\n".join(lines))


class _Collector:
    """Gathers problems; keeps at most MAX_PROBLEMS per check (enough for the global first 50 by line)."""

    def __init__(self) -> None:
        self.problems: list[ImportProblem] = []
        self.total = 0

    def add(self, file: str, line: int | None, message: str) -> None:
        self.total += 1
        self.problems.append(ImportProblem(file, line, message))

    def add_rows(
        self, file: str, lines: pd.Series, mask: pd.Series, message: Callable[[pd.Index], pd.Series]
    ) -> None:
        """Record one problem per True in `mask`; `message(index)` builds texts only for the rows kept."""
        count = int(mask.sum())
        if not count:
            return
        self.total += count
        pos = np.flatnonzero(mask.to_numpy(dtype=bool))[:MAX_PROBLEMS]
        keep = mask.index[pos]
        texts = message(keep).loc[keep].tolist()
        for line, text in zip(lines.to_numpy()[pos].tolist(), texts, strict=True):
            self.problems.append(ImportProblem(file, int(line) if int(line) > 0 else None, str(text)))

    def raise_if_any(self) -> None:
        if self.total:
            ordered = sorted(self.problems, key=lambda p: (p.file, p.line if p.line is not None else -1))
            raise ImportValidationError(ordered[:MAX_PROBLEMS], self.total)


def _text(values: pd.Series) -> pd.Series:
    return values.astype("string").fillna("")


def _fmt(values: pd.Series) -> pd.Series:
    """Numbers as users wrote them (100 rather than 100.0)."""
    return values.map(lambda v: f"{v:g}")


def _parse_dates(raw: pd.Series) -> pd.Series:
    """Session dates from ISO-like text or datetime values; NaT where unparseable. Times are dropped."""
    if pd.api.types.is_datetime64_any_dtype(raw.dtype) and not isinstance(raw.dtype, pd.ArrowDtype):
        parsed = raw
    else:  # text, or Arrow date/timestamp columns from Parquet, whose text form is ISO 8601
        text = _text(raw).str.strip()
        try:
            parsed = pd.to_datetime(text, format="ISO8601", errors="coerce")
        except (ValueError, TypeError):  # mixed UTC offsets
            parsed = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True)
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_localize(None)
    days = parsed.dt.normalize()
    # text such as "/1" parses to year 0 at a coarser unit; out of the ns range it is NaT, not an overflow
    days = days.where(days.between(pd.Timestamp.min.ceil("D"), pd.Timestamp.max.floor("D")))
    result: pd.Series = days.astype("datetime64[ns]")
    return result


def _check(
    frame: pd.DataFrame,
    symbols: pd.Series,
    lines: pd.Series,
    file: str,
    out: _Collector,
    where: str,
    today: dt.date,
) -> pd.DataFrame:
    """Validate one table's rows (vectorised); return them as symbol, date + float bar columns, plus
    each row's `file`, `line` (CSV line or Parquet row) and `by_line`, to locate later conflicts.

    `where` is "line" for CSV (problems carry the line number) or "row" for Parquet (the row number goes
    into the message). Messages are only formatted for the few rows that get reported.
    """
    by_line = where == "line"
    line_label = lines if by_line else pd.Series(0, index=lines.index)

    def at(idx: pd.Index) -> pd.Series:
        return pd.Series("", index=idx) if by_line else "row " + lines.loc[idx].astype(str) + ": "

    valid_sym = symbols.str.fullmatch(SYMBOL_PATTERN.pattern).fillna(False).astype(bool)
    out.add_rows(
        file, line_label, ~valid_sym, lambda i: at(i) + "invalid symbol '" + _text(symbols.loc[i]) + "'"
    )

    dates = _parse_dates(frame["date"])
    bad_date = dates.isna()
    out.add_rows(
        file, line_label, bad_date, lambda i: at(i) + "unparseable date '" + _text(frame["date"].loc[i]) + "'"
    )
    _check_calendar(dates, ~bad_date, today, lambda mask, message: out.add_rows(file, line_label, mask, message), at)

    numbers: dict[str, pd.Series] = {}
    prices_ok = pd.Series(True, index=frame.index)
    for col in BAR_COLUMNS:
        raw = frame[col]
        num = pd.to_numeric(raw, errors="coerce").astype("float64")
        bad = ~pd.Series(np.isfinite(num.to_numpy()), index=num.index)

        def not_number(i: pd.Index, raw: pd.Series = raw, col: str = col) -> pd.Series:
            shown = _text(raw.loc[i]).str.slice(0, 30)
            text = at(i) + col + " is not a number: '" + shown + "'"
            return text.where(shown.str.strip() != "", at(i) + col + " is missing")

        out.add_rows(file, line_label, bad, not_number)
        numbers[col] = num
        if col in _PRICE_COLUMNS:
            nonpos = ~bad & (num <= 0)

            def not_positive(i: pd.Index, num: pd.Series = num, col: str = col) -> pd.Series:
                return at(i) + col + " must be positive, got " + _fmt(num.loc[i])

            out.add_rows(file, line_label, nonpos, not_positive)
            prices_ok &= ~bad & ~nonpos
    vol = numbers["volume"]
    out.add_rows(file, line_label, vol < 0, lambda i: at(i) + "volume is negative: " + _fmt(vol.loc[i]))

    o, h, low, c = (numbers[k] for k in _PRICE_COLUMNS)
    top = o.where(o >= c, c)
    bottom = o.where(o <= c, c)
    out.add_rows(
        file,
        line_label,
        prices_ok & (h < top * (1 - _TOLERANCE)),
        lambda i: at(i) + "high " + _fmt(h.loc[i]) + " is below max(open, close) " + _fmt(top.loc[i]),
    )
    out.add_rows(
        file,
        line_label,
        prices_ok & (low > bottom * (1 + _TOLERANCE)),
        lambda i: at(i) + "low " + _fmt(low.loc[i]) + " is above min(open, close) " + _fmt(bottom.loc[i]),
    )

    keyed = pd.DataFrame({"symbol": symbols, "date": dates})
    dup = keyed.duplicated(keep="first") & ~bad_date
    if dup.any():
        first = lines.groupby([keyed["symbol"], keyed["date"]], sort=False, dropna=False).transform("first")
        out.add_rows(
            file,
            line_label,
            dup,
            lambda i: (
                at(i)
                + "duplicate row for "
                + _text(symbols.loc[i])
                + " on "
                + dates.loc[i].dt.strftime("%Y-%m-%d")
                + f" (first at {where} "
                + first.loc[i].astype("int64").astype(str)
                + ")"
            ),
        )

    located = {"file": file, "line": lines, "by_line": by_line}
    return pd.DataFrame({"symbol": symbols, "date": dates, **numbers, **located})


def _check_calendar(
    dates: pd.Series,
    parsed: pd.Series,
    today: dt.date,
    report: Callable[[pd.Series, Callable[[pd.Index], pd.Series]], None],
    at: Callable[[pd.Index], pd.Series],
) -> None:
    """Refuse bars dated after the market's today and bars on days the NYSE did not trade.

    A bar on a weekend or holiday is a sign of a shifted or mislabelled export (e.g. UTC timestamps of
    the previous evening); stored, it would add a phantom session that shifts every window.
    """
    day = dates.dt.strftime("%Y-%m-%d")
    future = parsed & (dates > pd.Timestamp(today))
    report(future, lambda i: at(i) + day.loc[i] + f" is after today ({today} in New York): no bar exists yet")
    closed = parsed & ~future & pd.Series(market_calendar.non_sessions(pd.DatetimeIndex(dates)), index=dates.index)

    def why(i: pd.Index) -> pd.Series:
        reasons = dates.loc[i].map(lambda d: market_calendar.why_closed(d.date()))
        text: pd.Series = at(i) + day.loc[i] + " is " + reasons + ", not a trading session"
        return text

    report(closed, why)


def _read_csv(path: Path, out: _Collector) -> tuple[pd.DataFrame, pd.Series] | None:
    """A CSV (lower-cased headers) plus each row's 1-based line number.

    Symbol and date are read as text; bar columns are left to the C parser, which yields float columns
    for clean data (fast) and text columns only when some cell is not a number (then checked cell by cell).
    Blank lines are kept while reading so line numbers match the file, then dropped.
    """
    try:
        header = pd.read_csv(path, nrows=0, encoding="utf-8-sig")
        text_cols = {c: str for c in header.columns if str(c).strip().lower() in ("symbol", "date")}
        frame = pd.read_csv(
            path,
            dtype=text_cols,
            keep_default_na=False,
            skip_blank_lines=False,
            low_memory=False,
            encoding="utf-8-sig",  # a byte-order mark (Excel's "CSV UTF-8") is not part of the first header
        )
    except pd.errors.EmptyDataError:
        out.add(str(path), None, "file is empty (expected a header line)")
        return None
    except UnicodeDecodeError as exc:
        out.add(str(path), *_undecodable(path, exc))
        return None
    except (pd.errors.ParserError, OSError) as exc:
        out.add(str(path), None, f"cannot read CSV: {exc}")
        return None
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    lines = pd.Series(np.arange(2, len(frame) + 2), index=frame.index)
    blank = (frame.isna() | (frame == "")).all(axis=1)
    return frame[~blank], lines[~blank]


def _undecodable(path: Path, exc: UnicodeDecodeError) -> tuple[int | None, str]:
    """The line of the first byte that is not UTF-8 (pandas' own offset is relative to a buffer)."""
    try:
        data = path.read_bytes()
        data.decode("utf-8")
    except UnicodeDecodeError as found:
        byte = data[found.start : found.start + 1].hex()
        return data.count(b"\n", 0, found.start) + 1, f"not UTF-8 text (byte 0x{byte}); save the file as UTF-8"
    except OSError:
        pass
    return None, f"cannot read CSV: {exc}"


def _missing(
    frame: pd.DataFrame, needed: tuple[str, ...], file: str, line: int | None, out: _Collector
) -> bool:
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        out.add(
            file,
            line,
            f"missing column(s): {', '.join(missing)} (found: {', '.join(map(str, frame.columns))})",
        )
    return bool(missing)


def _to_frames(table: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Clean rows → {symbol: bar frame indexed by date}, sorted by date."""
    if table.empty:
        return {}
    frames: dict[str, pd.DataFrame] = {}
    for sym, group in table.groupby("symbol", sort=True):
        frame = group.set_index("date")[list(BAR_COLUMNS)]
        frames[str(sym)] = clean_frame(str(sym), frame)
    return frames


def _long_table(path: Path, out: _Collector, today: dt.date) -> pd.DataFrame | None:
    """A long-format CSV or Parquet file, validated; None if it had problems."""
    file = str(path)
    is_csv = path.suffix.lower() == ".csv"
    where = "line"
    if is_csv:
        read = _read_csv(path, out)
        if read is None:
            return None
        frame, lines = read
        header_line: int | None = 1
    else:
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises many types for a bad file
            out.add(file, None, f"cannot read Parquet: {exc}")
            return None
        frame = frame.reset_index(drop=not isinstance(frame.index, pd.DatetimeIndex))
        frame.columns = [str(c).strip().lower() for c in frame.columns]
        frame = frame.reset_index(drop=True)
        lines = pd.Series(np.arange(1, len(frame) + 1), index=frame.index)
        header_line, where = None, "row"
    if _missing(frame, ("symbol", "date", *BAR_COLUMNS), file, header_line, out):
        return None
    if frame.empty:
        out.add(file, header_line, "no data rows")
        return None
    symbols = _text(frame["symbol"]).str.strip().str.upper()
    return _check(frame, symbols, lines, file, out, where, today)


def _folder_tables(path: Path, out: _Collector, today: dt.date) -> list[pd.DataFrame]:
    try:
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() == ".csv")
    except OSError as exc:
        out.add(str(path), None, f"cannot read this directory: {exc.strerror or exc}")
        return []
    if not files:
        out.add(str(path), None, "no SYMBOL.csv files in this directory")
        return []
    tables: list[pd.DataFrame] = []
    owner: dict[str, str] = {}
    for csv in files:
        file = str(csv)
        sym = csv.stem.strip().upper()
        if not SYMBOL_PATTERN.fullmatch(sym):
            out.add(file, None, f"file name {csv.name!r} is not a valid symbol (expected e.g. SPY.csv)")
            continue
        if sym in owner:
            out.add(file, None, f"symbol {sym} already comes from {owner[sym]}")
            continue
        owner[sym] = file
        read = _read_csv(csv, out)
        if read is None:
            continue
        frame, lines = read
        if _missing(frame, ("date", *BAR_COLUMNS), file, 1, out):
            continue
        if frame.empty:
            out.add(file, 1, "no data rows")
            continue
        symbols = pd.Series(sym, index=frame.index, dtype="string")
        tables.append(_check(frame, symbols, lines, file, out, "line", today))
    return tables


def _load(path: Path, today: dt.date | None) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """Validated frames per symbol, and every row's symbol/date/file/line (to locate conflicts)."""
    path = Path(path).expanduser()
    today = today or market_calendar.market_today()
    out = _Collector()
    tables: list[pd.DataFrame] = []
    if path.is_dir():
        tables = _folder_tables(path, out, today)
    elif not path.exists():
        out.add(str(path), None, "no such file or directory")
    elif path.suffix.lower() in (".csv", ".parquet", ".pq"):
        table = _long_table(path, out, today)
        if table is not None:
            tables.append(table)
    else:
        out.add(str(path), None, "unsupported file type (use .csv, .parquet, or a directory of SYMBOL.csv)")
    out.raise_if_any()
    rows = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    return _to_frames(rows), rows


def load_import(path: Path, today: dt.date | None = None) -> dict[str, pd.DataFrame]:
    """Read and validate an import: {SYMBOL: bars}, or `ImportValidationError` listing every problem.

    `today` (default: the market's today in New York) is the last date a bar may carry.
    """
    return _load(path, today)[0]


def import_into(
    store: LocalStore, path: Path, *, replace: bool = False, today: dt.date | None = None
) -> dict[str, BarCounts]:
    """Validate `path` completely, then merge it into `store`; returns new/replaced/unchanged per symbol.

    A row whose date the store already holds with different values is refused (with its file:line)
    unless `replace`: re-importing a differently adjusted export must not rewrite history unnoticed.
    Identical rows are fine and counted as unchanged.
    """
    frames, rows = _load(path, today)
    if not frames:
        raise DataError(f"{path}: nothing to import")
    out = _Collector()
    counts: dict[str, BarCounts] = {}
    for sym, frame in frames.items():
        diff = store.diff(sym, frame)
        counts[sym] = diff.counts
        if len(diff.replaced) and not replace:
            _report_conflicts(store, sym, frame, diff.replaced, rows, out)
    out.raise_if_any()
    store.write(frames)
    return counts


def _report_conflicts(
    store: LocalStore,
    symbol: str,
    frame: pd.DataFrame,
    dates: pd.DatetimeIndex,
    rows: pd.DataFrame,
    out: _Collector,
) -> None:
    """One problem per incoming row that would overwrite a different stored bar (messages for ≤ 50 only)."""
    hit = rows[(rows["symbol"] == symbol) & rows["date"].isin(dates)]
    stored = store.bars(symbol)
    for _, row in hit.sort_values("line").head(MAX_PROBLEMS).iterrows():
        day = row["date"]
        old, new = stored.loc[day], frame.loc[day]
        changed = next(c for c in BAR_COLUMNS if not np.isclose(new[c], old[c], rtol=1e-9, atol=0.0))
        where = "" if row["by_line"] else f"row {row['line']}: "
        out.add(
            str(row["file"]),
            int(row["line"]) if row["by_line"] else None,
            f"{where}{symbol} {day:%Y-%m-%d} is already stored with different values ({changed} "
            f"{old[changed]:g} stored, {new[changed]:g} here); add --replace to overwrite",
        )
    out.total += max(len(hit) - MAX_PROBLEMS, 0)
