"""Live prices as today's provisional close: the `[signals] price = "live"` mode.

Why the latest *trade* and not the quote mid: a close is a trade price, and that is what Composer's live
rebalances read as today's value; near the close a quote on the free IEX feed can be one-sided or wide for
a thin leveraged ETF, so its mid can sit far from any price anyone paid. (The simulated broker has no tape:
its last trade is its mid, exactly as the sandbox reports it.)

A provisional bar is appended to the history for the session in progress, so every indicator — group return
streams included — reads it as the day's close and nothing downstream changes. Fail closed: a ticker with
no live price, or one older than the allowed age, stops the strategies that read it; tickers are never
mixed between live prices and old closes within one decision.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Literal, Protocol, cast

import numpy as np
from typing_extensions import TypedDict  # the TypedDict pydantic accepts on 3.11

from alchemiser import market_calendar
from alchemiser.data.history import PriceHistory
from alchemiser.errors import ConfigError, DataError
from alchemiser.models import Clock

PriceMode = Literal["previous_close", "live"]
PRICE_MODES: tuple[str, ...] = ("previous_close", "live")


def price_mode(value: str, flag: str = "--price") -> PriceMode:
    """`previous-close`/`previous_close` or `live`; anything else is an error naming the flag."""
    text = value.strip().lower().replace("-", "_")
    if text == "previous_close":
        return "previous_close"
    if text == "live":
        return "live"
    raise ConfigError(f"{flag} must be previous-close or live (got {value!r})")


class LivePriceJson(TypedDict):
    """A live price a decision read, as `--json` prints it."""

    price: Annotated[float, "the latest trade's price, dollars"]
    time: Annotated[str, "when it printed, ISO 8601 with offset"]


@dataclass(frozen=True)
class LivePrice:
    """The latest trade of one symbol: its price and when it printed (timezone-aware)."""

    symbol: str
    price: float
    timestamp: dt.datetime

    def to_json(self) -> LivePriceJson:
        return {"price": self.price, "time": self.timestamp.isoformat()}

    def label(self) -> str:
        """`SPY 512.31 (live 15:50:02)`, the time in New York."""
        return f"{self.symbol} {self.price:,.2f} (live {self.timestamp.astimezone(market_calendar.NY):%H:%M:%S})"


class LivePriceFeed(Protocol):
    """What a broker offers for live decisions: its clock and the latest trade of many symbols at once."""

    def get_clock(self) -> Clock:
        ...

    def latest_prices(self, symbols: Iterable[str]) -> dict[str, LivePrice]:
        """The latest trade of every symbol it knows, in one request; unknown symbols are left out."""
        ...


def age_text(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def live_problems(
    prices: Mapping[str, LivePrice], symbols: Iterable[str], now: dt.datetime, max_age_s: float
) -> dict[str, str]:
    """Per ticker, why its live price cannot be used (absent, not positive, or older than `max_age_s`)."""
    problems: dict[str, str] = {}
    for symbol in sorted(set(symbols)):
        live = prices.get(symbol)
        if live is None:
            problems[symbol] = f"{symbol} has no live price"
            continue
        if not (np.isfinite(live.price) and live.price > 0):
            problems[symbol] = f"{symbol}'s live price {live.price} is not a positive number"
            continue
        age = (now - live.timestamp).total_seconds()
        if age > max_age_s:
            at = live.timestamp.astimezone(market_calendar.NY)
            problems[symbol] = (
                f"{symbol}'s live price is {age_text(age)} old (last trade {at:%Y-%m-%d %H:%M:%S} ET; "
                f"the limit is {age_text(max_age_s)}, [signals] max_live_age_s)"
            )
    return problems


def with_provisional_bar(history: PriceHistory, day: dt.date, prices: Mapping[str, float]) -> PriceHistory:
    """`history` (only the symbols in `prices`) with one more session, `day`, closing at `prices`.

    The provisional bar's open is the same price: nothing reads it in a decision.
    """
    if day <= history.end:
        raise DataError(f"the provisional bar for {day} is not after the history's last bar ({history.end})")
    days = np.append(history.days, np.datetime64(day, "D"))
    closes = {s: np.append(history.closes[s], float(p)) for s, p in prices.items()}
    opens = {s: np.append(history.opens[s], float(p)) for s, p in prices.items()} if history.opens is not None else None
    sources = {s: history.sources[s] for s in prices}
    return PriceHistory(days, closes, sources, opens)


def feed_of(broker: object) -> LivePriceFeed:
    """`broker` as a live-price feed (every broker we ship is one); anything else is a clear error."""
    if not (callable(getattr(broker, "latest_prices", None)) and callable(getattr(broker, "get_clock", None))):
        raise ConfigError(f"the {getattr(broker, 'name', 'configured')} broker offers no live prices for price = live")
    return cast(LivePriceFeed, broker)
