"""Deciding reads bars without pandas: the store's pyarrow-only path and the pandas path agree bit for bit.

The store's own files are read straight from Parquet buffers; any other form (another writer's types, a
time zone, intraday stamps, unsorted rows) must fall back to the validating pandas path and give what it
gives. Each case is checked against `clean_frame(pd.read_parquet(...))`, the path that existed before.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from alchemiser.data.bars import DailyBars
from alchemiser.data.history import load_history
from alchemiser.data.sample import SampleMarket
from alchemiser.data.store import LocalStore, _canonical_file, clean_frame
from alchemiser.errors import DataError


def _pandas_path(symbol: str, path: Path) -> DailyBars:
    return DailyBars.of_frame(clean_frame(symbol, pd.read_parquet(path)))


def _same(a: DailyBars, b: DailyBars) -> None:
    assert a.days.dtype == b.days.dtype == np.dtype("datetime64[D]")
    assert np.array_equal(a.days, b.days)
    assert np.array_equal(a.values, b.values)  # bit for bit, not close


@pytest.fixture(scope="module")
def spy(market: SampleMarket) -> pd.DataFrame:
    return market.bars("SPY", dt.date(2023, 1, 1), dt.date(2024, 12, 31))


def test_files_the_store_writes_take_the_pyarrow_path_and_equal_the_pandas_path(
    tmp_path: Path, spy: pd.DataFrame
) -> None:
    store = LocalStore(tmp_path)
    store.write({"SPY": spy})
    path = tmp_path / "bars" / "SPY.parquet"
    fast = _canonical_file(path)
    assert fast is not None
    _same(fast, _pandas_path("SPY", path))
    _same(store.daily("SPY"), DailyBars.of_frame(spy))
    pd.testing.assert_frame_equal(store.bars("SPY"), clean_frame("SPY", spy))
    clipped = store.daily("SPY", dt.date(2024, 3, 1), dt.date(2024, 3, 31))
    assert (clipped.first, clipped.last) == (dt.date(2024, 3, 1), dt.date(2024, 3, 28))
    with pytest.raises(ValueError, match="read-only"):
        store.daily("SPY").values[0, 0] = 1.0  # the cached series is shared: no caller may change it


def test_many_row_groups_are_read_at_their_offsets(tmp_path: Path, spy: pd.DataFrame) -> None:
    path = tmp_path / "bars" / "SPY.parquet"
    path.parent.mkdir()
    table = pa.Table.from_pandas(clean_frame("SPY", spy))
    pq.write_table(table, path, row_group_size=37)  # several chunks per column
    assert pq.ParquetFile(path).num_row_groups > 1
    fast = _canonical_file(path)
    assert fast is not None
    _same(fast, _pandas_path("SPY", path))


def _other_writers(spy: pd.DataFrame) -> dict[str, pd.DataFrame]:
    clean = clean_frame("SPY", spy)
    utc = clean.tz_localize("UTC")
    intraday = clean.set_axis(clean.index + pd.Timedelta(hours=16))
    return {
        "float32 columns": clean.astype("float32"),
        "integer volume": clean.astype({"volume": "int64"}),
        "time zone": utc,
        "intraday stamps": intraday,
        "unsorted": clean.iloc[::-1],
        "microsecond unit": clean.set_axis(clean.index.as_unit("us")),
    }


@pytest.mark.parametrize(
    "form", ["float32 columns", "integer volume", "time zone", "intraday stamps", "unsorted", "microsecond unit"]
)
def test_other_forms_fall_back_to_the_validating_path(tmp_path: Path, spy: pd.DataFrame, form: str) -> None:
    frame = _other_writers(spy)[form]
    path = tmp_path / "bars" / "SPY.parquet"
    path.parent.mkdir()
    frame.rename_axis("date").to_parquet(path)
    expected = _pandas_path("SPY", path)
    fast = _canonical_file(path)
    if form == "microsecond unit":  # midnight stamps in another unit are still the canonical form
        assert fast is not None
        _same(fast, expected)
    else:
        assert fast is None
    served = LocalStore(tmp_path).daily("SPY")
    _same(served, expected)
    assert not served.values.flags.writeable  # cached and shared on this path too


def test_a_file_with_a_missing_value_is_refused_naming_it(tmp_path: Path, spy: pd.DataFrame) -> None:
    frame = clean_frame("SPY", spy)
    frame.iloc[5, 3] = np.nan
    path = tmp_path / "bars" / "SPY.parquet"
    path.parent.mkdir()
    frame.to_parquet(path)
    assert _canonical_file(path) is None
    with pytest.raises(DataError, match=r"SPY\.parquet: SPY: bars contain NaN"):
        LocalStore(tmp_path).daily("SPY")


def test_history_from_numpy_bars_equals_the_frames(market: SampleMarket) -> None:
    history = load_history(market, ["SPY", "OKLO"], dt.date(2025, 6, 30))
    frame = pd.DataFrame({s: market.bars(s)["close"] for s in ["SPY", "OKLO"]})
    assert history.dates.equals(pd.DatetimeIndex(frame.index))
    for symbol in ("SPY", "OKLO"):  # OKLO lists later: NaN before its first bar, like the frame
        np.testing.assert_array_equal(history.closes[symbol], frame[symbol].to_numpy())
    assert history.until(dt.date(2025, 6, 27)).end == dt.date(2025, 6, 27)
    assert history.close_on("SPY", dt.date(2025, 6, 30)) == frame["SPY"].iloc[-1]
