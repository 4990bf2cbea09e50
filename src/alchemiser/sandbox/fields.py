"""Field types for sandbox requests: pydantic `Annotated` types that carry Alpaca's rules for each value.

Why: the simulated exchange does Decimal arithmetic and pandas does timestamp arithmetic on whatever they
are given, and both raise on values no real client sends (a 30-digit quantity, a price of 1e300, the year 1).
Each type here bounds its value the way Alpaca does — prices > 0 with at most 2 decimals from $1 and 4
below, quantities > 0 with at most 9 decimals, notional of at least $1 in cents, ticker-shaped symbols,
client order ids of at most 128 characters, UUID order ids, years 1970–2200 — so `schemas` can state a
request declaratively and nothing unbounded reaches the exchange. Validators raise ValueError with a short
reason; `validation` adds the field's name.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator

from alchemiser import market_calendar
from alchemiser.money import CENT, on_tick, tick
from alchemiser.sandbox.common import short

MAX_NUMBER_CHARS = 40  # a numeric string longer than this is not a price or a quantity
MAX_QTY = Decimal(1_000_000_000)  # shares per order: far above any real order, far below Decimal's precision
MAX_PRICE = Decimal(1_000_000)  # BRK.A trades below this
MAX_NOTIONAL = Decimal(1_000_000_000)
MAX_SYMBOLS = 1000  # symbols per request or subscription (query strings are capped at 8 KiB anyway)
# Times outside these years cannot be daily bars and overflow date arithmetic or pandas' timestamps.
MIN_YEAR, MAX_YEAR = 1970, 2200

_SYMBOL = re.compile(r"[A-Z0-9][A-Z0-9.\-/]{0,19}")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValueError("must be a number or a numeric string")
    text = str(value).strip()
    if len(text) > MAX_NUMBER_CHARS:
        raise ValueError(f"has more than {MAX_NUMBER_CHARS} characters")
    try:
        out = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{short(text, 40)!r} is not a number") from None
    if not out.is_finite():
        raise ValueError("must be finite")
    return out


def _decimals(x: Decimal) -> int:
    exponent = x.normalize().as_tuple().exponent
    assert isinstance(exponent, int)  # finite, checked by _decimal
    return max(0, -exponent)


def _in_range(x: Decimal, high: Decimal) -> Decimal:
    if x <= 0:
        raise ValueError("must be greater than 0")
    if x > high:
        raise ValueError(f"must be at most {high}")
    return x


def _quantity(x: Decimal) -> Decimal:
    _in_range(x, MAX_QTY)
    if _decimals(x) > 9:
        raise ValueError("must have at most 9 decimal places")
    return x


def _limit_price(x: Decimal) -> Decimal:
    _in_range(x, MAX_PRICE)
    if not on_tick(x):
        places, above = (2, "from") if tick(x) == CENT else (4, "below")
        raise ValueError(f"sub-penny increment: at most {places} decimal places for a price {above} $1")
    return x


def _notional(x: Decimal) -> Decimal:
    _in_range(x, MAX_NOTIONAL)
    if x < 1:
        raise ValueError("must be at least 1")
    if _decimals(x) > 2:
        raise ValueError("must have at most 2 decimal places")
    return x


def _percentage(x: Decimal) -> Decimal:
    _in_range(x, Decimal(100))
    if _decimals(x) > 9:
        raise ValueError("must have at most 9 decimal places")
    return x


def symbol(value: Any) -> str:
    """A ticker: letters, digits, `.`, `-`, `/`; at most 20 characters; upper-cased."""
    if not isinstance(value, str):
        raise ValueError("must be a string")
    out = value.strip().upper()
    if not _SYMBOL.fullmatch(out):
        raise ValueError(f"{short(value, 24)!r} is not a symbol")
    return out


def symbol_or_asset_id(value: str) -> str:
    """A path's `{symbol}`: a ticker, or an asset's UUID (kept as given, lower-cased)."""
    if _UUID.fullmatch(value):
        return value.lower()
    return symbol(value)


def order_id(value: str) -> str:
    """Order ids are UUIDs on Alpaca; anything else cannot name an order."""
    if not _UUID.fullmatch(value):
        raise ValueError("must be a UUID")
    return value.lower()


def _symbols(value: Any) -> list[str]:
    """A comma-separated list of tickers (blanks and repeats dropped, order kept)."""
    if not isinstance(value, str):
        raise ValueError("must be a comma-separated string")
    seen: dict[str, None] = {}
    for part in value.split(","):
        if part.strip():
            seen[symbol(part)] = None
            if len(seen) > MAX_SYMBOLS:
                raise ValueError(f"at most {MAX_SYMBOLS} symbols per request")
    return list(seen)


def _client_order_id(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    if len(value) > 128:
        raise ValueError("must be no more than 128 characters")
    if any(not ch.isprintable() for ch in value):
        raise ValueError("must be printable")
    return value


def _bounded(t: dt.datetime) -> dt.datetime:
    if not MIN_YEAR <= t.year <= MAX_YEAR:
        raise ValueError(f"year must be between {MIN_YEAR} and {MAX_YEAR}")
    return t


def _time(value: Any) -> dt.datetime:
    """RFC3339 (naive means UTC) or a plain date (market midnight); the year bounded."""
    if not isinstance(value, str) or len(value) > 40:
        raise ValueError("must be an RFC3339 time or a date")
    text = value.strip().replace(" ", "+")  # a raw '+' in a query string arrives as a space
    try:
        if len(text) == 10:
            parsed = dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), tzinfo=market_calendar.NY)
        else:
            parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{short(value, 40)!r} is not an RFC3339 time or a date") from None
    return _bounded(parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC))


def _date(value: Any) -> dt.date:
    if not isinstance(value, str) or len(value) > 40:
        raise ValueError("must be a date (YYYY-MM-DD)")
    try:
        day = dt.date.fromisoformat(value.strip()[:10])
    except ValueError:
        raise ValueError(f"{short(value, 40)!r} is not a date (YYYY-MM-DD)") from None
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        raise ValueError(f"year must be between {MIN_YEAR} and {MAX_YEAR}")
    return day


def _strict_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    raise ValueError("must be true or false")


def _int_text(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError("must be an integer")
    if isinstance(value, str):
        if not value.strip().isascii() or not value.strip().lstrip("-").isdigit() or len(value) > 12:
            raise ValueError(f"{short(value, 20)!r} is not an integer")
        return int(value)
    return value


Quantity = Annotated[Decimal, BeforeValidator(_decimal), AfterValidator(_quantity)]
LimitPrice = Annotated[Decimal, BeforeValidator(_decimal), AfterValidator(_limit_price)]
Notional = Annotated[Decimal, BeforeValidator(_decimal), AfterValidator(_notional)]
Percentage = Annotated[Decimal, BeforeValidator(_decimal), AfterValidator(_percentage)]
Symbol = Annotated[str, BeforeValidator(symbol)]
Symbols = Annotated[list[str], BeforeValidator(_symbols)]
ClientOrderId = Annotated[str, BeforeValidator(_client_order_id)]
QueryTime = Annotated[dt.datetime, BeforeValidator(_time)]
QueryDate = Annotated[dt.date, BeforeValidator(_date)]
Flag = Annotated[bool, BeforeValidator(_strict_bool)]
Integer = Annotated[int, BeforeValidator(_int_text)]
