"""The dashboard's cached decision inputs decide exactly as `signal --as-of` does, and notice changed files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from alchemiser.config import load_settings
from alchemiser.data.store import LocalStore
from alchemiser.signals import build_market, compute_signals
from alchemiser.web import cache
from alchemiser.web.context import WebContext
from alchemiser.web.decision import decide_fresh

DAYS = (dt.date(2025, 6, 27), dt.date(2025, 3, 14), dt.date(2024, 11, 1), dt.date(2021, 5, 5))


@pytest.fixture
def ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> WebContext:
    monkeypatch.setenv("ALCHEMISER_HOME", str(tmp_path))
    cache.clear()
    return WebContext.load(None, True)


def test_cached_decisions_equal_compute_signals_on_any_date(ctx: WebContext) -> None:
    for day in DAYS:  # each date decided afresh (a view of the cached history), then once more (cached)
        expected = {s.name: s for s in compute_signals(ctx.settings, as_of=day).strategies}
        for name in ("nuclear", "tecl"):
            for _ in range(2):
                trace, weights, error, when = decide_fresh(ctx, name, name, day)
                assert error is None and when == day
                assert weights == pytest.approx(expected[name].weights)
                assert trace == [t.to_json() for t in expected[name].trace]


def test_an_edited_symphony_is_recompiled(ctx: WebContext, tmp_path: Path) -> None:
    path = tmp_path / "mine.clj"
    path.write_text('(defsymphony "m" {} (asset "SPY"))\n')
    assert decide_fresh(ctx, "mine", str(path), DAYS[0])[1] == {"SPY": 1.0}
    path.write_text('(defsymphony "m" {} (weight-equal [(asset "TLT") (asset "BIL")]))\n')
    assert decide_fresh(ctx, "mine", str(path), DAYS[0])[1] == {"BIL": 0.5, "TLT": 0.5}


def test_new_bars_in_the_store_are_read(ctx: WebContext) -> None:
    """A `data fetch`/`import` rewrites bar files: the next decision must use them, not the cached history."""
    path = ctx.home / "mine.clj"
    path.write_text('(defsymphony "m" {} (if (> (current-price "SPY") 1000) [(asset "TLT")] [(asset "BIL")]))\n')
    day = DAYS[0]
    before = cache.store_stamp(ctx.settings)
    assert decide_fresh(ctx, "mine", str(path), day)[1] == {"BIL": 1.0}  # the sample SPY is far below 1000
    bars = build_market(load_settings()).bars("SPY", None, day).copy()
    bars[["open", "high", "low", "close"]] *= 10  # the store now says SPY closed above 1000
    LocalStore(ctx.settings.data_dir).write({"SPY": bars})
    assert cache.store_stamp(ctx.settings) != before
    assert decide_fresh(ctx, "mine", str(path), day)[1] == {"TLT": 1.0}
