"""Local store, imports and the store-then-sample fallback: atomic writes and precise error reports."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alchemiser import market_calendar
from alchemiser.data.composite import FallbackMarketData
from alchemiser.data.importer import (
    MAX_PROBLEMS,
    ImportProblem,
    ImportValidationError,
    import_into,
    load_import,
)
from alchemiser.data.sample import SampleMarket
from alchemiser.data.store import BarCounts, LocalStore, normalize_symbol
from alchemiser.errors import DataError

GOOD_LONG = """Symbol,DATE,Open,High,Low,Close,Volume,adj_note
spy,2024-01-02,470.0,473.5,468.0,472.65,1000
SPY,2024-01-03,471.0,472.0,466.5,468.79,2000
QQQ,2024-01-02,405.0,406.0,400.0,402.56,3000,x
QQQ,2024-01-03,401.0,402.0,398.0,399.12,4000
"""


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _snapshot(root: Path) -> dict[str, str]:
    """Every file under `root` (temporary ones included) with its content hash."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _frame(dates: list[str], closes: list[float]) -> pd.DataFrame:
    c = np.array(closes)
    return pd.DataFrame(
        {"open": c, "high": c * 1.01, "low": c * 0.99, "close": c, "volume": np.full(len(c), 100.0)},
        index=pd.DatetimeIndex(dates),
    )


@pytest.fixture
def seeded_store(tmp_path: Path) -> LocalStore:
    """A store already holding SPY and QQQ, so failed imports have something to leave untouched."""
    store = LocalStore(tmp_path / "store")
    import_into(store, _write(tmp_path / "seed.csv", GOOD_LONG))
    return store


# --- imports that succeed -------------------------------------------------------------------------


def test_good_long_csv(tmp_path: Path) -> None:
    frames = load_import(_write(tmp_path / "bars.csv", GOOD_LONG))
    assert sorted(frames) == ["QQQ", "SPY"]
    spy = frames["SPY"]
    assert list(spy.columns) == ["open", "high", "low", "close", "volume"]
    assert list(spy.index) == [pd.Timestamp("2024-01-02"), pd.Timestamp("2024-01-03")]
    assert spy.loc["2024-01-03", "close"] == pytest.approx(468.79)
    assert (spy.dtypes == "float64").all()


def test_good_folder_of_symbol_csvs(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    _write(
        folder / "spy.csv",
        "date,open,high,low,close,volume\n2024-01-03,2,3,1,2.5,10\n2024-01-02,1,2,1,1.5,10\n",
    )
    _write(folder / "BRK.B.csv", "Date,Open,High,Low,Close,Volume\n2024-01-02,400,401,399,400.5,7\n")
    _write(folder / "notes.txt", "ignored")
    frames = load_import(folder)
    assert sorted(frames) == ["BRK.B", "SPY"]
    assert list(frames["SPY"]["close"]) == [1.5, 2.5]  # sorted by date


def test_good_parquet_and_import_into_store(tmp_path: Path) -> None:
    table = pd.read_csv(_write(tmp_path / "x.csv", GOOD_LONG))
    table.columns = [c.upper() for c in table.columns]
    table["DATE"] = pd.to_datetime(table["DATE"])
    path = tmp_path / "bars.parquet"
    table.to_parquet(path)
    store = LocalStore(tmp_path / "store")
    assert import_into(store, path) == {"QQQ": BarCounts(2, 0, 0), "SPY": BarCounts(2, 0, 0)}
    assert store.symbols() == ["QQQ", "SPY"]
    assert store.bars("qqq")["close"].tolist() == [402.56, 399.12]


# --- the store ------------------------------------------------------------------------------------


def test_store_merge_new_rows_win(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.write({"spy": _frame(["2024-01-02", "2024-01-03"], [1.0, 2.0])})
    store.write({"SPY": _frame(["2024-01-03", "2024-01-04"], [20.0, 30.0])})
    bars = store.bars("SPY")
    assert bars["close"].tolist() == [1.0, 20.0, 30.0]
    assert (tmp_path / "bars" / "SPY.parquet").is_file()
    info = store.available()
    assert [(i.symbol, i.source, i.first, i.last, i.rows) for i in info] == [
        ("SPY", "store", dt.date(2024, 1, 2), dt.date(2024, 1, 4), 3)
    ]
    clipped = store.bars("SPY", start=dt.date(2024, 1, 3), end=dt.date(2024, 1, 3))
    assert clipped["close"].tolist() == [20.0]
    assert store.source_of("spy") == "store"


def test_store_unknown_and_unsafe_symbols(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    assert store.symbols() == [] and store.available() == []
    with pytest.raises(DataError, match="no stored bars for SPY"):
        store.bars("spy")
    for bad in ("../etc", "", "A" * 13, "SP Y", "..", "x\\y"):
        with pytest.raises(DataError, match="invalid symbol"):
            normalize_symbol(bad)
    assert normalize_symbol(" brk/b ") == "BRK/B"
    store.write({"BRK/B": _frame(["2024-01-02"], [400.0])})
    assert store.symbols() == ["BRK/B"]
    assert [p.name for p in (tmp_path / "bars").iterdir()] == ["BRK_B.parquet"]


def test_store_write_is_all_or_nothing(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.write({"SPY": _frame(["2024-01-02"], [1.0])})
    before = _snapshot(tmp_path)
    bad = _frame(["2024-01-02"], [1.0])
    bad.loc[:, "close"] = np.nan
    with pytest.raises(DataError, match="NaN"):
        store.write({"AAA": _frame(["2024-01-02"], [5.0]), "BBB": bad})
    assert _snapshot(tmp_path) == before


def test_store_crash_before_replace_leaves_store_unchanged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = LocalStore(tmp_path)
    store.write({"SPY": _frame(["2024-01-02"], [1.0])})
    before = _snapshot(tmp_path)
    real = pd.DataFrame.to_parquet
    calls = []

    def failing(self: pd.DataFrame, path: Path, *args: object, **kwargs: object) -> None:
        calls.append(path)
        if len(calls) == 2:
            raise OSError("disk full")
        real(self, path, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(pd.DataFrame, "to_parquet", failing)
    with pytest.raises(OSError, match="disk full"):
        store.write({"SPY": _frame(["2024-01-03"], [2.0]), "QQQ": _frame(["2024-01-03"], [3.0])})
    assert _snapshot(tmp_path) == before  # first temp file cleaned up, SPY not replaced
    monkeypatch.undo()
    assert store.bars("SPY")["close"].tolist() == [1.0]


# --- imports that fail: every problem reported, nothing written -------------------------------------

BAD_CASES = [
    ("unparseable date", "SPY,2024-13-03,1,2,0.5,1.5,10", "unparseable date '2024-13-03'"),
    ("non-numeric", "SPY,2024-01-05,abc,2,0.5,1.5,10", "open is not a number: 'abc'"),
    ("missing value", "SPY,2024-01-05,1,2,0.5,,10", "close is missing"),
    ("NaN value", "SPY,2024-01-05,1,2,0.5,NaN,10", "close is not a number: 'NaN'"),
    ("non-positive price", "SPY,2024-01-05,0,2,0.5,1.5,10", "open must be positive, got 0"),
    ("high below body", "SPY,2024-01-05,1,1.2,0.5,1.5,10", "high 1.2 is below max(open, close) 1.5"),
    ("low above body", "SPY,2024-01-05,1,2,1.1,1.5,10", "low 1.1 is above min(open, close) 1"),
    ("negative volume", "SPY,2024-01-05,1,2,0.5,1.5,-3", "volume is negative: -3"),
    ("duplicate", "spy,2024-01-02,1,2,0.5,1.5,10", "duplicate row for SPY on 2024-01-02 (first at line 2)"),
    ("invalid symbol", "../X,2024-01-05,1,2,0.5,1.5,10", "invalid symbol '../X'"),
]


@pytest.mark.parametrize(("case", "row", "message"), BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_bad_row_reported_with_line_and_store_untouched(
    seeded_store: LocalStore, tmp_path: Path, case: str, row: str, message: str
) -> None:
    text = "symbol,date,open,high,low,close,volume\nSPY,2024-01-02,1,2,0.5,1.5,10\n\nSPY,2024-01-04,1,2,0.5,1.5,10\n"
    path = _write(tmp_path / "bad.csv", text + row + "\n")
    before = _snapshot(seeded_store.root)
    with pytest.raises(ImportValidationError) as info:
        import_into(seeded_store, path)
    # The blank line 3 still counts: the bad row is line 5 of the file.
    assert info.value.problems == [ImportProblem(str(path), 5, message)]
    assert f"{path}:5: {message}" in str(info.value)
    assert _snapshot(seeded_store.root) == before


def test_all_problems_collected_and_capped(tmp_path: Path) -> None:
    days = market_calendar.sessions(dt.date(2023, 1, 3), dt.date(2023, 12, 29))
    rows = [f"SPY,{d.date()},1,2,0.5,1.5,10" for d in days[:28]]
    rows += [f"SPY,{d.date()},-1,2,0.5,1.5,-1" for d in days[100:128]]  # 2 problems each
    rows.append("QQQ,2024-01-02,1,0.1,0.5,1.5,10")
    path = _write(tmp_path / "many.csv", "symbol,date,open,high,low,close,volume\n" + "\n".join(rows) + "\n")
    with pytest.raises(ImportValidationError) as info:
        load_import(path)
    err = info.value
    assert err.total == 28 * 2 + 1
    assert len(err.problems) == MAX_PROBLEMS
    lines = [p.line or 0 for p in err.problems]
    assert lines == sorted(lines) and lines[0] == 30 and lines[1] == 30
    assert f"and {err.total - MAX_PROBLEMS} more" in str(err)


def test_missing_columns_and_unreadable_inputs(tmp_path: Path) -> None:
    path = _write(tmp_path / "cols.csv", "Symbol,Date,Open,Close\nSPY,2024-01-02,1,2\n")
    with pytest.raises(ImportValidationError) as info:
        load_import(path)
    (problem,) = info.value.problems
    assert problem.line == 1 and "missing column(s): high, low, volume" in problem.message
    with pytest.raises(ImportValidationError, match="empty"):
        load_import(_write(tmp_path / "empty.csv", ""))
    with pytest.raises(ImportValidationError, match="unsupported file type"):
        load_import(_write(tmp_path / "bars.xlsx", "x"))
    with pytest.raises(ImportValidationError, match="no such file"):
        load_import(tmp_path / "nope.csv")


def test_folder_problems_name_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    good = "date,open,high,low,close,volume\n2024-01-02,1,2,0.5,1.5,10\n"
    _write(folder / "SPY.csv", good)
    _write(folder / "QQQ.csv", good + "2024-01-03,1,2,0.5,1.5,-10\n")
    _write(folder / "bad name!.csv", good)
    with pytest.raises(ImportValidationError) as info:
        load_import(folder)
    got = [(Path(p.file).name, p.line) for p in info.value.problems]
    assert got == [("QQQ.csv", 3), ("bad name!.csv", None)]


def test_parquet_problems_name_the_row(tmp_path: Path) -> None:
    table = pd.DataFrame(
        {
            "symbol": ["SPY", "SPY"],
            "date": ["2024-01-02", "2024-01-03"],
            "open": [1.0, 1.0],
            "high": [2.0, 2.0],
            "low": [0.5, 0.5],
            "close": [1.5, -1.5],
            "volume": [10.0, 10.0],
        }
    )
    path = tmp_path / "bars.parquet"
    table.to_parquet(path, index=False)
    with pytest.raises(ImportValidationError) as info:
        load_import(path)
    assert [str(p) for p in info.value.problems] == [f"{path}: row 2: close must be positive, got -1.5"]


# --- the fallback -------------------------------------------------------------------------------


def test_fallback_prefers_store_per_whole_symbol(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.write({"SPY": _frame(["2024-01-02", "2024-01-03"], [1.0, 2.0])})
    sample = SampleMarket(end=dt.date(2024, 6, 28))
    data = FallbackMarketData(store, sample)
    assert data.source_of("spy") == "store"
    assert data.bars("SPY")["close"].tolist() == [1.0, 2.0]  # no sample rows spliced in
    assert data.source_of("QQQ") == "sample"
    pd.testing.assert_frame_equal(data.bars("QQQ", start=dt.date(2024, 1, 1)), sample.bars("QQQ", dt.date(2024, 1, 1)))
    listing = {i.symbol: i.source for i in data.available()}
    assert listing["SPY"] == "store" and listing["QQQ"] == "sample"
    assert [i.symbol for i in data.available()] == sorted(listing)
    with pytest.raises(DataError, match=r"no market data for ZZZZ.*`alchemiser data fetch --symbols ZZZZ`.*data import"):
        data.bars("zzzz")


def test_without_fallback_only_the_store_serves(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.write({"SPY": _frame(["2024-01-02"], [1.0])})
    data = FallbackMarketData(store, None)
    assert [i.symbol for i in data.available()] == ["SPY"]
    with pytest.raises(DataError, match="no market data for QQQ"):
        data.source_of("QQQ")


def test_parquet_with_arrow_date_column(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "SYMBOL": ["spy", "spy"],
            "Date": pa.array([dt.date(2024, 1, 3), dt.date(2024, 1, 2)], pa.date32()),
            "open": [1.0, 1.0],
            "high": [2.0, 2.0],
            "low": [0.5, 0.5],
            "close": [1.5, 1.25],
            "volume": [3, 4],
        }
    )
    pq.write_table(table, tmp_path / "d.parquet")
    frames = load_import(tmp_path / "d.parquet")
    assert list(frames) == ["SPY"]
    assert frames["SPY"]["close"].tolist() == [1.25, 1.5]
    assert frames["SPY"].index[0] == pd.Timestamp("2024-01-02")


# --- the market calendar and what is already stored ---------------------------------------------------

HEADER = "symbol,date,open,high,low,close,volume\n"


@pytest.mark.parametrize(
    ("day", "message"),
    [
        ("2024-01-06", "2024-01-06 is a Saturday (weekend), not a trading session"),
        ("2024-01-07", "2024-01-07 is a Sunday (weekend), not a trading session"),
        ("2024-12-25", "2024-12-25 is an NYSE holiday (Christmas), not a trading session"),
        ("2024-03-29", "2024-03-29 is an NYSE holiday (Good Friday), not a trading session"),
        ("2025-01-09", "2025-01-09 is an NYSE holiday (the market was closed), not a trading session"),
        ("1995-01-07", "1995-01-07 is a Saturday (weekend), not a trading session"),
        ("2025-07-01", "2025-07-01 is after today (2025-06-30 in New York): no bar exists yet"),
    ],
)
def test_rows_on_non_sessions_or_after_today_are_refused(
    seeded_store: LocalStore, tmp_path: Path, day: str, message: str
) -> None:
    path = _write(tmp_path / "days.csv", HEADER + "SPY,2024-01-05,1,2,0.5,1.5,10\n" + f"SPY,{day},1,2,0.5,1.5,10\n")
    before = _snapshot(seeded_store.root)
    with pytest.raises(ImportValidationError) as info:
        import_into(seeded_store, path, today=dt.date(2025, 6, 30))
    assert [str(p) for p in info.value.problems] == [f"{path}:3: {message}"]
    assert _snapshot(seeded_store.root) == before


def test_today_and_weekdays_before_the_calendar_are_accepted(tmp_path: Path) -> None:
    text = HEADER + "SPY,1995-01-06,1,2,0.5,1.5,10\nSPY,2024-06-28,1,2,0.5,1.5,10\n"
    frames = load_import(_write(tmp_path / "ok.csv", text), today=dt.date(2024, 6, 28))
    assert [d.date() for d in frames["SPY"].index] == [dt.date(1995, 1, 6), dt.date(2024, 6, 28)]


def test_reimport_counts_new_replaced_unchanged_and_refuses_silent_overwrites(
    seeded_store: LocalStore, tmp_path: Path
) -> None:
    assert import_into(seeded_store, _write(tmp_path / "same.csv", GOOD_LONG)) == {
        "QQQ": BarCounts(0, 0, 2),
        "SPY": BarCounts(0, 0, 2),
    }
    changed = HEADER + "SPY,2024-01-03,471.0,472.0,466.5,470.00,2000\nSPY,2024-01-04,470,471,469,470.5,10\n"
    path = _write(tmp_path / "changed.csv", changed)
    before = _snapshot(seeded_store.root)
    with pytest.raises(ImportValidationError) as info:
        import_into(seeded_store, path)
    assert [str(p) for p in info.value.problems] == [
        f"{path}:2: SPY 2024-01-03 is already stored with different values (close 468.79 stored, 470 here); "
        "add --replace to overwrite"
    ]
    assert _snapshot(seeded_store.root) == before
    assert import_into(seeded_store, path, replace=True) == {"SPY": BarCounts(1, 1, 0)}
    assert seeded_store.bars("SPY")["close"].tolist() == [472.65, 470.0, 470.5]


def test_overwrite_conflicts_in_parquet_name_the_row(seeded_store: LocalStore, tmp_path: Path) -> None:
    table = pd.DataFrame(
        {
            "symbol": ["QQQ"],
            "date": ["2024-01-02"],
            "open": [405.0],
            "high": [406.0],
            "low": [400.0],
            "close": [403.0],
            "volume": [3000.0],
        }
    )
    path = tmp_path / "q.parquet"
    table.to_parquet(path, index=False)
    with pytest.raises(ImportValidationError) as info:
        import_into(seeded_store, path)
    assert [str(p) for p in info.value.problems] == [
        f"{path}: row 1: QQQ 2024-01-02 is already stored with different values (close 402.56 stored, 403 here); "
        "add --replace to overwrite"
    ]


def test_csv_with_byte_order_mark_and_crlf_imports(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbfSymbol,Date,Open,High,Low,Close,Volume\r\nSPY,2024-01-02,1,2,0.5,1.5,10\r\n")
    frames = load_import(path)
    assert frames["SPY"]["close"].tolist() == [1.5]


def test_folder_that_cannot_be_listed_is_reported(tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0)
    try:
        if os.access(folder, os.R_OK):
            pytest.skip("running as a user that can read any folder (root)")
        with pytest.raises(ImportValidationError, match="cannot read this directory"):
            load_import(folder)
    finally:
        folder.chmod(0o755)


def test_delete_a_range_or_everything_keeps_the_store_consistent(seeded_store: LocalStore) -> None:
    assert seeded_store.delete("SPY", dt.date(2024, 1, 5), dt.date(2024, 1, 9)) == 0
    assert seeded_store.delete("spy", dt.date(2024, 1, 3)) == 1
    assert seeded_store.bars("SPY")["close"].tolist() == [472.65]
    assert not [p for p in seeded_store.bars_dir.iterdir() if p.name.endswith(".tmp")]
    assert seeded_store.delete("SPY") == 1
    assert seeded_store.symbols() == ["QQQ"]
    assert [i.symbol for i in seeded_store.available()] == ["QQQ"]
    with pytest.raises(DataError, match="no stored bars for SPY"):
        seeded_store.delete("SPY")
