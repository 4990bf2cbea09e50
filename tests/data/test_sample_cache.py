"""The sample market's on-disk cache: served when present, never trusted when damaged, never required."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

from alchemiser.data.sample import SampleMarket

END = dt.date(2025, 6, 30)
SYMBOLS = ("SPY", "TQQQ", "BIL")


def _files(root: Path) -> dict[str, Path]:
    return {p.stem: p for p in root.glob("*/*/*.npy")}


def test_cached_bars_equal_generated_ones_and_are_what_the_next_process_reads(tmp_path: Path) -> None:
    plain = SampleMarket(end=END)
    cached = SampleMarket(end=END, cache_dir=tmp_path)
    for symbol in SYMBOLS:
        np.testing.assert_array_equal(cached.daily(symbol).values, plain.daily(symbol).values)
    files = _files(tmp_path)
    assert set(files) == set(SYMBOLS)  # only what was asked for is built and stored
    assert all(p.parent.name == f"{cached.seed}-2025-12-31" for p in files.values())
    # a later market reads the file rather than generating: prove it by planting different bars there
    planted = np.load(files["SPY"]) * 2.0
    np.save(files["SPY"], planted)
    later = SampleMarket(end=END, cache_dir=tmp_path)
    np.testing.assert_array_equal(later.daily("SPY").values, planted[: len(plain.daily("SPY"))])


def test_a_damaged_or_misshapen_file_is_regenerated_and_repaired(tmp_path: Path) -> None:
    truth = SampleMarket(end=END).daily("SPY").values
    SampleMarket(end=END, cache_dir=tmp_path).daily("SPY")
    path = _files(tmp_path)["SPY"]
    good = path.read_bytes()
    for damage in (good[: len(good) // 2], b"not numpy at all", b""):
        path.write_bytes(damage)
        np.testing.assert_array_equal(SampleMarket(end=END, cache_dir=tmp_path).daily("SPY").values, truth)
        assert path.read_bytes() == good
    np.save(path, np.ones((10, 5)))  # a valid array of the wrong shape
    np.testing.assert_array_equal(SampleMarket(end=END, cache_dir=tmp_path).daily("SPY").values, truth)
    assert path.read_bytes() == good
    assert not list(path.parent.glob(".*.tmp"))  # no half-written file left behind


def test_a_cache_that_cannot_be_written_is_skipped(tmp_path: Path) -> None:
    blocked = tmp_path / "cache"
    blocked.write_text("a file where the folder should be", encoding="utf-8")
    market = SampleMarket(end=END, cache_dir=blocked)
    np.testing.assert_array_equal(market.daily("SPY").values, SampleMarket(end=END).daily("SPY").values)
    assert blocked.read_text(encoding="utf-8") == "a file where the folder should be"
