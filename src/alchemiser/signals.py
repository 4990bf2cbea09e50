"""Today's (or any past day's) signals: load the configured strategies and data, decide, blend.

This is the "market data → strategies → target weights → blend" half of a run, shared by `signal`, the
trading run and anything else that needs a target. A strategy that cannot decide fails closed: the blend
is withheld and the report says which strategy failed and why.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from typing_extensions import TypedDict  # the TypedDict pydantic accepts on 3.11

from alchemiser import market_calendar
from alchemiser.config import Settings, StrategyConfig
from alchemiser.data.base import MarketData
from alchemiser.data.composite import FallbackMarketData
from alchemiser.data.coverage import TickerGap, TickerGapJson, check_coverage, describe_gaps, fill_command
from alchemiser.data.history import PriceHistory, load_history
from alchemiser.data.live import (
    LivePrice,
    LivePriceFeed,
    LivePriceJson,
    PriceMode,
    feed_of,
    live_problems,
    with_provisional_bar,
)
from alchemiser.data.sample import SampleMarket
from alchemiser.data.store import LocalStore
from alchemiser.errors import AlchemiserError, ConfigError, DataError
from alchemiser.portfolio.blend import blend
from alchemiser.strategies.base import Strategy
from alchemiser.strategies.registry import load_strategy
from alchemiser.strategies.symphony.evaluator import IndicatorCache, TraceStep, TraceStepJson

PRICES_STEP = "prices"  # the kind of the trace step that names the live prices a decision read


class StrategySignalJson(TypedDict):
    """One strategy's decision, as `--json` prints it."""

    name: Annotated[str, "the strategy's name in the config (or derived from -s)"]
    paused_since: Annotated[str | None, "when it was paused (ISO 8601), null when it is not paused"]
    held_from_run: Annotated[str | None, "the run whose decision a paused strategy holds, null otherwise"]
    source: Annotated[str, "built-in name, symphony file or module:Class"]
    share: Annotated[float, "its share of the account (0–1)"]
    ok: Annotated[bool, "false when it failed to decide"]
    error: Annotated[str | None, "why it failed, null when ok"]
    weights: Annotated[dict[str, float] | None, "symbol → weight within the strategy (0–1), null when failed"]
    trace: Annotated[list[TraceStepJson], "the decision path, top to bottom"]
    price_mode: Annotated[PriceMode, "previous_close or live"]
    live_prices: Annotated[dict[str, LivePriceJson], "symbol → the live price this strategy read ({} if none)"]


class SignalDataJson(TypedDict):
    synthetic_sample_data: Annotated[bool, "true when any ticker came from the synthetic sample market"]
    sample_symbols: Annotated[list[str], "the tickers that did"]
    missing: Annotated[list[TickerGapJson], "tickers the data could not serve"]
    fill_command: Annotated[str | None, "the command that fetches them, null when none is missing"]


class SignalJson(TypedDict):
    """`signal --json`."""

    as_of: Annotated[str, "the session whose close the decision uses (YYYY-MM-DD)"]
    ok: Annotated[bool, "false when no target could be formed (a strategy failed: fail closed)"]
    target: Annotated[dict[str, float] | None, "symbol → blended weight of the account (0–1); null when not ok"]
    price_mode: Annotated[PriceMode, "previous_close or live: the prices every ticker used"]
    live_prices: Annotated[dict[str, LivePriceJson], "symbol → live price read ({} with previous_close)"]
    price_notice: Annotated[str | None, "e.g. live was asked for but the market is closed"]
    strategies: list[StrategySignalJson]
    data: SignalDataJson


@dataclass
class StrategySignal:
    name: str
    source: str
    share: float
    weights: dict[str, float] | None = None
    trace: list[TraceStep] = field(default_factory=list)
    error: str | None = None
    price_mode: PriceMode = "previous_close"
    live_prices: dict[str, LivePrice] = field(default_factory=dict)  # the live prices this strategy read
    paused_since: dt.datetime | None = None  # paused: not decided; `weights` are those it holds
    held_from_run: str | None = None  # the run whose decision a paused strategy holds

    def to_json(self) -> StrategySignalJson:
        return {
            "name": self.name,
            "paused_since": self.paused_since.isoformat() if self.paused_since else None,
            "held_from_run": self.held_from_run,
            "source": self.source,
            "share": self.share,
            "ok": self.error is None,
            "error": self.error,
            "weights": self.weights,
            "trace": [step.to_json() for step in self.trace],
            "price_mode": self.price_mode,
            "live_prices": {s: p.to_json() for s, p in sorted(self.live_prices.items())},
        }


@dataclass
class SignalReport:
    as_of: dt.date
    strategies: list[StrategySignal]
    target: dict[str, float] | None
    sample_symbols: list[str]
    data_gaps: list[TickerGap] = field(default_factory=list)
    price_mode: PriceMode = "previous_close"  # the mode every ticker of this decision used
    live_prices: dict[str, LivePrice] = field(default_factory=dict)
    price_notice: str | None = None  # e.g. live asked for, the market closed: the last close was used

    @property
    def ok(self) -> bool:
        return self.target is not None

    @property
    def uses_sample(self) -> bool:
        return bool(self.sample_symbols)

    def to_json(self) -> SignalJson:
        return {
            "as_of": self.as_of.isoformat(),
            "ok": self.ok,
            "target": self.target,
            "price_mode": self.price_mode,
            "live_prices": {s: p.to_json() for s, p in sorted(self.live_prices.items())},
            "price_notice": self.price_notice,
            "strategies": [s.to_json() for s in self.strategies],
            "data": {
                "synthetic_sample_data": self.uses_sample,
                "sample_symbols": self.sample_symbols,
                "missing": [gap.to_json() for gap in self.data_gaps],
                "fill_command": fill_command(g.symbol for g in self.data_gaps) if self.data_gaps else None,
            },
        }


def build_market(settings: Settings) -> MarketData:
    """The local store, falling back to the synthetic sample market for missing symbols (configurable)."""
    store = LocalStore(settings.data_dir)
    fallback = (
        SampleMarket(seed=settings.data.sample_seed, cache_dir=settings.cache_dir / "sample")
        if settings.data.sample_fallback
        else None
    )
    return FallbackMarketData(store, fallback)


def resolve_as_of(as_of: dt.date | None, now: dt.datetime | None = None) -> dt.date:
    """The session whose close the signal uses: the last completed one, or the last on/before `as_of`."""
    latest = market_calendar.last_completed_session(now)
    if as_of is None:
        return latest
    if as_of > latest:
        raise DataError(f"--as-of {as_of} is after the last completed session ({latest})")
    return as_of if market_calendar.is_session(as_of) else market_calendar.previous_session(as_of)


def strategy_configs(settings: Settings, refs: list[str] | None) -> list[StrategyConfig]:
    """The configured strategies, or the given ones (`-s`) with equal shares.

    The given ones obey the config's rules: a blank value names nothing, and each strategy appears once
    (two shares of one strategy would silently double its weight).
    """
    if not refs:
        return list(settings.strategies)
    _check_refs(refs)
    configured = {s.name: s for s in settings.strategies}
    share = 1.0 / len(refs)
    return [
        StrategyConfig(name=_short_name(ref), source=configured[ref].source if ref in configured else ref, weight=share)
        for ref in refs
    ]


def _check_refs(refs: list[str]) -> None:
    seen: dict[str, str] = {}
    for ref in refs:
        if not ref.strip():
            raise ConfigError("--strategy/-s: an empty value names no strategy")
        name = _short_name(ref)
        if name in seen:
            again = "is given twice" if seen[name] == ref else f"is the name of both {seen[name]!r} and {ref!r}"
            raise ConfigError(f"--strategy/-s: strategy names must be unique, but {name!r} {again}")
        seen[name] = ref


def _short_name(ref: str) -> str:
    """`exports/My Symphony.clj` → `My Symphony`; `pkg.mod:Class` → `Class`; names stay as they are."""
    if ref.endswith((".clj", ".edn", ".json")):
        return Path(ref).stem
    return ref.rpartition(":")[2] if ":" in ref else ref


def compute_signals(
    settings: Settings,
    refs: list[str] | None = None,
    as_of: dt.date | None = None,
    market: MarketData | None = None,
    *,
    price: PriceMode | None = None,
    feed: LivePriceFeed | None = None,
    now: dt.datetime | None = None,
    paused: Mapping[str, dt.datetime] | None = None,
) -> SignalReport:
    """Decide and blend. A paused strategy (`paused`; by default the ledger's pauses, for the configured
    strategies deciding today) is not decided: it keeps the weights of its last traded decision.

    `price` (default `[signals] price`): `previous_close` decides on the last completed session's closes;
    `live` reads every ticker's latest trade from `feed` (the broker) in one request and appends it as today's
    provisional bar — or, when `feed`'s clock says the market is closed, decides on the last close and says so
    in `price_notice`."""
    mode: PriceMode = price or settings.signals.price
    if mode == "live" and as_of is not None:
        raise ConfigError("--price live decides on today's live prices; it cannot be combined with --as-of")
    day = resolve_as_of(as_of)
    notice: str | None = None
    clock_read: tuple[dt.datetime, float] | None = None
    if mode == "live":
        if feed is None:
            raise ConfigError("--price live needs a broker to read live prices from")
        try:
            clock = feed.get_clock()
        except AlchemiserError as exc:
            raise DataError(f"live prices: cannot read the market clock: {exc}") from exc
        # ages are measured on the broker's clock (the one its trade times come from), not the local one
        clock_read = (clock.timestamp, time.monotonic())
        if not clock.is_open:
            mode = "previous_close"
            notice = (
                f"price = live, but the market is closed: decided on the last close ({day}) instead; "
                f"next open {clock.next_open:%Y-%m-%d %H:%M %Z}"
            )
    market = market or build_market(settings)
    configs = strategy_configs(settings, refs)
    signals: list[StrategySignal] = []
    loaded: list[tuple[StrategySignal, Strategy]] = []
    if paused is None:
        from alchemiser.pausing import paused_now

        paused = paused_now(settings) if not refs and as_of is None else {}
    for cfg in configs:
        signal = StrategySignal(cfg.name, cfg.source, cfg.weight)
        signals.append(signal)
        if cfg.name in paused:
            from alchemiser.pausing import held_weights

            signal.paused_since = paused[cfg.name]
            signal.weights, signal.held_from_run = held_weights(settings, cfg.name)
            continue
        try:
            loaded.append((signal, load_strategy(cfg.source, cfg.name)))
        except AlchemiserError as exc:
            signal.error = str(exc)
    sample_symbols: set[str] = set()
    history: PriceHistory | None = None
    cache: IndicatorCache | None = None
    symbols = set().union(*(strategy.universe() for _, strategy in loaded)) if loaded else set()
    # Every absent or stale ticker of every strategy at once (not one per run), each with its fix.
    coverage = check_coverage(market, [(s.name, strategy) for s, strategy in loaded], day, check_length=False)
    for signal, strategy in loaded:
        gaps = coverage.gaps_in(strategy.universe())
        if gaps:
            signal.error = describe_gaps(strategy, gaps, day)
    symbols -= {gap.symbol for gap in coverage.gaps}
    if symbols:
        try:
            history = load_history(market, symbols, day, expected_last=day)
            cache = IndicatorCache(history)
            sample_symbols = {s for s, src in history.sources.items() if src == "sample"}
        except AlchemiserError as exc:
            for signal, _ in loaded:
                signal.error = f"market data: {exc}"
    live: dict[str, LivePrice] = {}
    live_day: dt.date | None = None
    if history is not None and mode == "live" and feed is not None:
        if now is None and clock_read is not None:
            now = clock_read[0] + dt.timedelta(seconds=time.monotonic() - clock_read[1])
        history, live, live_day = _go_live(settings, history, loaded, feed, now)
    if history is not None:
        cache = IndicatorCache(history) if live_day is not None else cache
        for signal, strategy in loaded:
            if signal.error:
                continue
            try:
                decision = strategy.decide(history, cache)
            except AlchemiserError as exc:
                signal.error = str(exc)
                continue
            signal.weights = decision.weights
            signal.trace = decision.trace
            if live_day is not None:
                used = {s: live[s] for s in sorted(strategy.universe()) if s in live}
                signal.live_prices = used
                text = f"prices: live, as the provisional close of {live_day}: " + ", ".join(
                    p.label() for p in used.values()
                )
                signal.trace = [TraceStep(0, PRICES_STEP, text, "", 1.0), *signal.trace]
    for signal in signals:
        signal.price_mode = mode
    target = None
    if signals and all(s.error is None for s in signals):
        target = blend((s.weights or {}, s.share) for s in signals)
    return SignalReport(
        live_day or day,
        signals,
        target,
        sorted(sample_symbols),
        list(coverage.gaps),
        price_mode=mode,
        live_prices=live,
        price_notice=notice,
    )


def _go_live(
    settings: Settings,
    history: PriceHistory,
    loaded: list[tuple[StrategySignal, Strategy]],
    feed: LivePriceFeed,
    now: dt.datetime | None,
) -> tuple[PriceHistory | None, dict[str, LivePrice], dt.date | None]:
    """Read every ticker's latest trade in one request, fail the strategies whose tickers have none (or a
    stale one), and append the live prices as the provisional bar of the session in progress."""
    deciding = [(s, strategy) for s, strategy in loaded if s.error is None]
    symbols = sorted(set().union(*(strategy.universe() for _, strategy in deciding))) if deciding else []
    if not symbols:
        return history, {}, None
    try:
        fetched = feed.latest_prices(symbols)
    except AlchemiserError as exc:
        for signal, _ in deciding:
            signal.error = f"live prices: {exc}"
        return None, {}, None
    moment = now or dt.datetime.now(dt.UTC)
    problems = live_problems(fetched, symbols, moment, settings.signals.max_live_age_s)
    for signal, strategy in deciding:
        bad = [problems[s] for s in sorted(strategy.universe()) if s in problems]
        if bad:
            signal.error = "live prices (fail closed, no ticker falls back to an old close): " + "; ".join(bad)
    good = {s: fetched[s] for s in symbols if s not in problems}
    if not good:
        return None, {}, None
    live_day = market_calendar.next_session(history.end)
    extended = with_provisional_bar(history, live_day, {s: p.price for s, p in good.items()})
    return extended, good, live_day


def signals_now(
    settings: Settings,
    refs: list[str] | None = None,
    as_of: dt.date | None = None,
    price: PriceMode | None = None,
) -> SignalReport:
    """`compute_signals` for the `signal` command: with `live` prices, the configured broker supplies them."""
    mode: PriceMode = price or settings.signals.price
    if mode != "live" or as_of is not None:
        return compute_signals(settings, refs, as_of, price=mode)
    from alchemiser.runner import open_broker

    market = build_market(settings)
    broker = open_broker(settings, market, resolve_as_of(None))
    try:
        return compute_signals(settings, refs, None, market, price=mode, feed=feed_of(broker))
    finally:
        broker.close()
