"""The synthetic sample market: deterministic, prefix-stable, complete, and shaped like a real market."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from alchemiser.data.base import BAR_COLUMNS
from alchemiser.data.sample import SAMPLE_SYMBOLS, START, SampleMarket, describe_sample
from alchemiser.errors import DataError
from alchemiser.market_calendar import sessions

END = dt.date(2025, 6, 30)
REQUIRED = [
    "AAPL",
    "AGG",
    "AMZN",
    "BIL",
    "BND",
    "BSV",
    "BTAL",
    "BWXT",
    "ERX",
    "EXC",
    "FAS",
    "FNGO",
    "FNGU",
    "FTLS",
    "GLD",
    "GOOGL",
    "IEF",
    "IOO",
    "KMLM",
    "LABD",
    "LABU",
    "LEU",
    "MSFT",
    "NLR",
    "NVDA",
    "OKLO",
    "PDBC",
    "PSQ",
    "QID",
    "QQQ",
    "QQQE",
    "RETL",
    "SLV",
    "SMR",
    "SOXL",
    "SPLV",
    "SPXL",
    "SPXU",
    "SPY",
    "SQQQ",
    "SVIX",
    "SVXY",
    "TECL",
    "TLT",
    "TMF",
    "TMV",
    "TQQQ",
    "TSLA",
    "TZA",
    "UPRO",
    "UUP",
    "UVIX",
    "UVXY",
    "VIXM",
    "VIXY",
    "VOOG",
    "VOOV",
    "VOX",
    "VTV",
    "VXX",
    "XLE",
    "XLF",
    "XLK",
    "XLP",
    "XLY",
]


@pytest.fixture(scope="module")
def closes(market: SampleMarket) -> pd.DataFrame:
    return pd.DataFrame({s: market.bars(s)["close"] for s in SAMPLE_SYMBOLS})


def test_every_required_ticker_is_present(market: SampleMarket) -> None:
    held = {info.symbol for info in market.available()}
    assert set(REQUIRED) <= held == set(SAMPLE_SYMBOLS)
    assert {s for s, _ in describe_sample()} == set(SAMPLE_SYMBOLS)
    assert dict(describe_sample())["TQQQ"] == "3x daily QQQ, 0.84%/yr fee"


def test_sessions_span_twenty_years_on_the_nyse_calendar(market: SampleMarket) -> None:
    bars = market.bars("SPY")
    assert bars.index[0].date() == START
    assert bars.index[-1].date() == END
    assert bars.index.equals(sessions(START, END))
    assert len(bars) >= 20 * 250
    assert list(bars.columns) == list(BAR_COLUMNS)
    assert market.source_of("spy") == "sample"


def test_deterministic_across_instances(market: SampleMarket) -> None:
    other = SampleMarket(end=END)
    for sym in ("SPY", "UVXY", "KMLM", "BIL"):
        pd.testing.assert_frame_equal(market.bars(sym), other.bars(sym))
    different = SampleMarket(seed=7, end=END)
    assert not np.allclose(different.bars("SPY")["close"], market.bars("SPY")["close"])


def test_prefix_stable_when_end_moves_later() -> None:
    short = SampleMarket(end=dt.date(2020, 6, 30))
    long = SampleMarket(end=dt.date(2026, 3, 31))
    for sym in SAMPLE_SYMBOLS:
        a = short.bars(sym)
        b = long.bars(sym, end=dt.date(2020, 6, 30))
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert long.bars("SPY").index[-1] > short.bars("SPY").index[-1]


def test_clipping_and_unknown_symbols(market: SampleMarket) -> None:
    part = market.bars("QQQ", start=dt.date(2010, 1, 1), end=dt.date(2010, 1, 31))
    assert part.index[0] == pd.Timestamp("2010-01-04")
    assert part.index[-1] == pd.Timestamp("2010-01-29")
    part.loc[:, "close"] = -1.0  # callers get a copy
    assert (market.bars("QQQ", start=dt.date(2010, 1, 1), end=dt.date(2010, 1, 31))["close"] > 0).all()
    with pytest.raises(DataError, match="NOPE"):
        market.bars("NOPE")
    with pytest.raises(DataError):
        market.source_of("NOPE")
    with pytest.raises(DataError):
        SampleMarket(end=dt.date(2003, 12, 31))


def test_bars_are_finite_positive_and_consistent(market: SampleMarket) -> None:
    for sym in SAMPLE_SYMBOLS:
        b = market.bars(sym)
        values = b.to_numpy()
        assert np.isfinite(values).all(), sym
        assert (values[:, :4] > 0).all(), sym
        assert (b["high"] >= b[["open", "close"]].max(axis=1)).all(), sym
        assert (b["low"] <= b[["open", "close"]].min(axis=1)).all(), sym
        assert (b["volume"] > 0).all() and (b["volume"] == b["volume"].round()).all(), sym


def test_leveraged_funds_track_daily_multiples(closes: pd.DataFrame) -> None:
    r = closes.pct_change().iloc[1:]
    fee = 0.0084 / 252
    np.testing.assert_allclose(r["TQQQ"], 3 * r["QQQ"] - fee, rtol=0, atol=1e-10)
    np.testing.assert_allclose(r["SQQQ"], -3 * r["QQQ"] - 0.0095 / 252, rtol=0, atol=1e-10)
    np.testing.assert_allclose(r["UPRO"], 3 * r["SPY"] - 0.0091 / 252, rtol=0, atol=1e-10)
    np.testing.assert_allclose(r["TMF"], 3 * r["TLT"] - 0.0091 / 252, rtol=0, atol=1e-10)
    np.testing.assert_allclose(r["SVXY"], -0.5 * r["VIXY"] + 0.5 * (-0.0085 / 252) - 0.0095 / 252, atol=1e-10)


def test_bills_accrue_with_tiny_volatility(closes: pd.DataFrame) -> None:
    bil = closes["BIL"]
    r = bil.pct_change().iloc[1:]
    assert r.std() * np.sqrt(252) < 0.002
    assert (bil / bil.cummax() - 1).min() > -0.005
    assert bil.iloc[-1] > bil.iloc[0]


def test_volatility_funds_decay_but_spike(closes: pd.DataFrame) -> None:
    uvxy = closes["UVXY"]
    years = len(uvxy) / 252
    assert (uvxy.iloc[-1] / uvxy.iloc[0]) ** (1 / years) - 1 < -0.3
    r = uvxy.pct_change().iloc[1:]
    assert r.max() > 0.25
    assert (uvxy.rolling(21).max() / uvxy.shift(21) - 1).max() > 1.0  # doubled within a month at least once
    spy_r = closes["SPY"].pct_change().iloc[1:]
    assert r.corr(spy_r) < -0.3


def test_cross_asset_structure(closes: pd.DataFrame) -> None:
    r = closes.pct_change().iloc[1:]
    assert r["SPY"].corr(r["QQQ"]) > 0.85
    assert r["SPY"].corr(r["TLT"]) < 0.0
    assert r["SPY"].corr(r["BTAL"]) < -0.4
    spy_vol = r["SPY"].std() * np.sqrt(252)
    assert 0.12 < spy_vol < 0.30
    assert r["SHY"].std() < r["IEF"].std() < r["TLT"].std()
    drawdown = (closes["SPY"] / closes["SPY"].cummax() - 1).min()
    assert drawdown < -0.25  # at least one real bear market in twenty years
