"""What each symphony needs from the data (bars per ticker), checked against a real store."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from alchemiser.data.composite import FallbackMarketData
from alchemiser.data.coverage import bars_needed, check_coverage, fill_command
from alchemiser.data.sample import SampleMarket
from alchemiser.data.store import LocalStore
from alchemiser.strategies.symphony_strategy import SymphonyStrategy

NEEDY = """(defsymphony "needy" {}
  (if (> (rsi "SPY" {:window 10}) (moving-average-price "SPY" {:window 50}))
      [(filter (cumulative-return {:window 60}) (select-top 1) [(asset "QQQ" nil) (asset "TLT" nil)])]
      [(weight-inverse-volatility 90 [(asset "GLD" nil) (asset "BIL" nil)])]))
"""


def test_bars_needed_reads_every_window_that_touches_a_ticker() -> None:
    strategy = SymphonyStrategy.from_text(NEEDY, "needy.clj")
    assert bars_needed(strategy) == {"SPY": 50, "QQQ": 61, "TLT": 61, "GLD": 91, "BIL": 91}


def test_check_coverage_short_stale_absent_and_fine(tmp_path: Path, market: SampleMarket) -> None:
    strategy = SymphonyStrategy.from_text(NEEDY, "needy.clj")
    store = LocalStore(tmp_path)
    store.write(
        {
            "SPY": market.bars("SPY"),
            "QQQ": market.bars("QQQ").iloc[-60:],  # one short of cumulative-return 60
            "TLT": market.bars("TLT").iloc[-61:],
            "GLD": market.bars("GLD").iloc[:-1],
        }
    )
    as_of = dt.date(2025, 6, 30)
    coverage = check_coverage(FallbackMarketData(store, None), [("needy", strategy)], as_of)
    assert [(g.symbol, g.status, g.detail) for g in coverage.gaps] == [
        ("BIL", "absent", "no market data"),
        ("GLD", "stale", "last bar 2025-06-27, expected 2025-06-30"),
        ("QQQ", "short", "60 bars, needs at least 61"),
    ]
    assert coverage.command == fill_command(["QQQ", "BIL", "GLD"]) == "alchemiser data fetch --symbols BIL,GLD,QQQ"
    assert coverage.sources == {"SPY": "store", "TLT": "store"}
    # With the sample fallback, BIL comes from the sample and is not missing; bars after as_of are ignored.
    earlier = check_coverage(FallbackMarketData(store, market), [("needy", strategy)], dt.date(2025, 6, 27))
    assert [(g.symbol, g.status) for g in earlier.gaps] == [("QQQ", "short"), ("TLT", "short")]  # one bar fewer
    assert earlier.sources["BIL"] == "sample"
