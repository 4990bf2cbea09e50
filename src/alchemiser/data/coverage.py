"""Which tickers the strategies need that the market data lacks: every gap at once, with the fix.

Why this exists: a run used to stop at the first missing ticker, so a 91-ticker symphony took 91 runs
to learn what it needs. Here every ticker of every strategy is checked in one pass and classified as
absent (no data at all), stale (its last bar is older than the session a run decides on) or short (fewer
bars than the strategy's longest indicator window on it needs), and the exact command that fills them is
spelled out. It lives in `data/` because only `data/` reads market data; of the strategies it reads
only what they declare (universes and indicator windows), never a decision.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Literal

from typing_extensions import TypedDict  # the TypedDict pydantic accepts on 3.11

from alchemiser.data.base import MarketData, Source
from alchemiser.errors import DataError
from alchemiser.strategies.base import Strategy
from alchemiser.strategies.symphony.program import (
    AssetNode,
    FilterNode,
    IfNode,
    IndicatorRef,
    InverseVolNode,
    children_of,
)

Status = Literal["absent", "stale", "short"]


class TickerGapJson(TypedDict):
    """One ticker the data cannot serve, as `--json` prints it."""

    symbol: str
    status: Annotated[Status, "absent (no data), stale (last bar before the session) or short (too few bars)"]
    detail: Annotated[str, "the reason in words"]
    strategies: Annotated[list[str], "the strategies that use the ticker"]
    last: Annotated[str | None, "date of the last bar (YYYY-MM-DD), null when absent"]
    bars: Annotated[int, "bars on or before the session"]
    needed: Annotated[int, "bars the longest indicator window on it needs"]


class StrategyCoverageJson(TypedDict):
    name: str
    tickers: Annotated[int, "how many tickers the strategy uses"]
    missing: Annotated[list[str], "its tickers that have a gap"]


class CoverageJson(TypedDict):
    """`data missing --json`."""

    as_of: Annotated[str, "the session checked (YYYY-MM-DD): its bar must exist"]
    ok: Annotated[bool, "true when no ticker has a gap"]
    gaps: list[TickerGapJson]
    strategies: list[StrategyCoverageJson]
    sample_symbols: Annotated[list[str], "tickers served by the synthetic sample market"]
    fill_command: Annotated[str | None, "the command that fetches every gap, null when there is none"]


@dataclass(frozen=True)
class TickerGap:
    """One ticker the data cannot serve well enough, and which strategies need it."""

    symbol: str
    status: Status
    detail: str
    strategies: tuple[str, ...]
    last: dt.date | None = None
    bars: int = 0
    needed: int = 0

    def to_json(self) -> TickerGapJson:
        return {
            "symbol": self.symbol,
            "status": self.status,
            "detail": self.detail,
            "strategies": list(self.strategies),
            "last": self.last.isoformat() if self.last else None,
            "bars": self.bars,
            "needed": self.needed,
        }


def fill_command(symbols: Iterable[str]) -> str:
    """The command that fetches exactly `symbols` from Alpaca into the local store."""
    return f"alchemiser data fetch --symbols {','.join(sorted(set(symbols)))}"


@dataclass(frozen=True)
class Coverage:
    """The outcome of checking strategies' universes against the market as of one session."""

    as_of: dt.date
    universes: tuple[tuple[str, frozenset[str]], ...]  # (strategy name, tickers), in the order given
    gaps: tuple[TickerGap, ...]  # sorted by symbol
    sources: dict[str, Source]  # where each ticker without a gap comes from

    @property
    def ok(self) -> bool:
        return not self.gaps

    def gaps_in(self, universe: Iterable[str]) -> list[TickerGap]:
        wanted = set(universe)
        return [g for g in self.gaps if g.symbol in wanted]

    @property
    def command(self) -> str | None:
        return fill_command(g.symbol for g in self.gaps) if self.gaps else None

    def to_json(self) -> CoverageJson:
        return {
            "as_of": self.as_of.isoformat(),
            "ok": self.ok,
            "gaps": [g.to_json() for g in self.gaps],
            "strategies": [
                {
                    "name": name,
                    "tickers": len(universe),
                    "missing": [g.symbol for g in self.gaps_in(universe)],
                }
                for name, universe in self.universes
            ],
            "sample_symbols": sorted(s for s, src in self.sources.items() if src == "sample"),
            "fill_command": self.command,
        }


def bars_needed(strategy: Strategy) -> dict[str, int]:
    """Per ticker, the fewest bars the symphony's indicators on it need (a lower bound; {} if unknown).

    Cheap to know for symphonies: each indicator names its ticker and window; a filter's metric and an
    inverse-volatility window apply to every asset under them. A filter over groups reads the groups'
    return streams, which need more than this bound, so "short" here means certainly too short.
    """
    program = getattr(strategy, "program", None)
    if program is None:
        return {}
    need: dict[str, int] = {}

    def require(symbols: Iterable[str], bars: int) -> None:
        for symbol in symbols:
            need[symbol] = max(need.get(symbol, 1), bars)

    under: list[set[str]] = []  # assets under each node; nodes are in post-order, children first
    for node in program.nodes:
        assets: set[str] = set().union(*(under[i] for i in children_of(node)))
        if isinstance(node, AssetNode):
            assets = {node.symbol}
        under.append(assets)
        if isinstance(node, IfNode):
            for side in (node.condition.lhs, node.condition.rhs):
                if isinstance(side, IndicatorRef) and side.symbol is not None:
                    require([side.symbol], side.needed)
        elif isinstance(node, FilterNode):
            require(assets, node.metric.needed)
        elif isinstance(node, InverseVolNode):
            require(assets, node.window + 1)  # stdev of `window` daily returns
    return need


def check_coverage(
    market: MarketData,
    strategies: Sequence[tuple[str, Strategy]],
    as_of: dt.date,
    *,
    check_length: bool = True,
) -> Coverage:
    """Check every ticker of every strategy against `market` for a decision at the close of `as_of`.

    `as_of` is the session whose bar must exist (a run's decision session). Bars after it are ignored.
    With `check_length`, a ticker with fewer bars than its longest known window is reported as short.
    """
    universes = tuple((name, frozenset(s.universe())) for name, s in strategies)
    needed: dict[str, int] = {}
    for _, strategy in strategies:
        for symbol, bars in bars_needed(strategy).items():
            needed[symbol] = max(needed.get(symbol, 1), bars)
    gaps: list[TickerGap] = []
    sources: dict[str, Source] = {}
    for symbol in sorted(set().union(*(u for _, u in universes))):
        users = tuple(name for name, universe in universes if symbol in universe)
        gap = _check_one(market, symbol, as_of, needed.get(symbol, 1) if check_length else 1, users)
        if gap is None:
            sources[symbol] = market.source_of(symbol)
        else:
            gaps.append(gap)
    return Coverage(as_of, universes, tuple(gaps), sources)


def _check_one(
    market: MarketData, symbol: str, as_of: dt.date, needed: int, users: tuple[str, ...]
) -> TickerGap | None:
    try:
        market.source_of(symbol)
        bars = market.daily(symbol, None, as_of)
    except DataError as exc:
        detail = "no market data" if "no market data" in str(exc) or "no stored bars" in str(exc) else str(exc)
        return TickerGap(symbol, "absent", detail, users, needed=needed)
    if bars.empty:
        return TickerGap(symbol, "absent", f"no bars on or before {as_of}", users, needed=needed)
    last = bars.last
    if last < as_of:
        return TickerGap(
            symbol, "stale", f"last bar {last}, expected {as_of}", users, last=last, bars=len(bars), needed=needed
        )
    if len(bars) < needed:
        detail = f"{len(bars)} bars, needs at least {needed}"
        return TickerGap(symbol, "short", detail, users, last=last, bars=len(bars), needed=needed)
    return None


def where_used(strategy: Strategy, symbol: str) -> str | None:
    """`file:line:col` of the first mention of `symbol` in a symphony (None for other strategies)."""
    program = getattr(strategy, "program", None)
    loc = program.symbol_locations.get(symbol) if program is not None else None
    return str(loc) if loc else None


def describe_gaps(strategy: Strategy, gaps: Sequence[TickerGap], as_of: dt.date) -> str:
    """One message naming every ticker `strategy` lacks (with where it is used) and the fix."""
    absent = [g for g in gaps if g.status == "absent"]
    stale = [g for g in gaps if g.status == "stale"]
    parts: list[str] = []
    if len(absent) == 1:
        loc = where_used(strategy, absent[0].symbol)
        parts.append(f"{loc + ': ' if loc else ''}no market data for {absent[0].symbol}")
    elif absent:
        named = ", ".join(_located(strategy, g.symbol) for g in absent)
        parts.append(f"no market data for {len(absent)} tickers: {named}")
    if stale:
        named = ", ".join(f"{g.symbol} (last bar {g.last})" for g in stale)
        parts.append(f"stale market data (no bar for {as_of}): {named}")
    them = "it" if len(gaps) == 1 else "them"
    return (
        "; ".join(parts)
        + f"; fetch {them} with `{fill_command(g.symbol for g in gaps)}` (or import {them} with"
        " `alchemiser data import FILE`)"
    )


def _located(strategy: Strategy, symbol: str) -> str:
    loc = where_used(strategy, symbol)
    return f"{symbol} ({loc})" if loc else symbol
