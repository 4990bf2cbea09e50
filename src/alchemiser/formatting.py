"""How numbers look to people and to programs: the one place every renderer and every `--json` goes through.

Without one shared module each command grew its own rounding, so the same account showed
`$99982.9440547110629` in one place and `$99,982.94` in another, and JSON mixed `"59880.00"` strings with
numbers. The conventions, for the screen:

- money: cents with thousands separators, `$99,982.94` (`-$1.50` when negative, `+$1.50` where signed);
- prices: cents (`$101.28`), four decimals below one dollar (`$0.4512`), or a fixed number of places;
- percentages: two decimals, `12.34%`; weight differences in percentage points, `+0.12 pp`;
- quantities: whole shares as integers, fractional shares up to six decimals without trailing zeros;
- a missing or non-finite value is an em dash, never `nan` or `inf`.

and for `--json` (`json_ready`), applied by key name so every command agrees:

- every number is a JSON number, never a string and never NaN/Infinity (those become `null`);
- money (`MONEY_KEYS`, keys ending in `_value`, `_notional`, `_pl`, `_usd`, `_cash`, `_equity`) is dollars
  rounded to cents; trade and quote prices (`price`, `*_price`, `bid`/`ask`/`mid`, `*_bid`/`*_ask`/`*_mid`)
  are rounded to four decimals; daily bars (`open`/`high`/`low`/`close`) keep every digit; quantities
  (`qty`, `*_qty`, `qty_step`, `volume`) are rounded to nine decimals;
- weights and shares (`weight`, `*_weight`, `share`) and returns are fractions (0.1234 means 12.34 %), not
  rounded; basis points and other numbers are plain numbers;
- dates and times are ISO-8601 strings; identifiers are strings.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import math
from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation, localcontext
from enum import Enum
from typing import Annotated, Any, Final

__all__ = [
    "DASH",
    "Fraction",
    "dumps_json",
    "json_money",
    "json_price",
    "json_qty",
    "json_ready",
    "money",
    "number",
    "pct",
    "pp",
    "price",
    "qty",
    "to_decimal",
]

DASH: Final = "—"
CENT: Final = Decimal("0.01")

@dataclasses.dataclass(frozen=True)
class JsonNumber:
    """Type metadata: exact decimal text in Python that `json_ready` turns into a rounded JSON number.

    Result types (`to_json()`'s `TypedDict`s) keep money and quantities as exact text, and their key
    decides the rounding; this marker lets the README's schema and its test say "number" all the same.
    """

    unit: str


Dollars = Annotated[str, JsonNumber("dollars, to the cent")]
Price = Annotated[str, JsonNumber("dollars, four decimals")]
Shares = Annotated[str, JsonNumber("shares, up to nine decimals")]
Fraction = Annotated[str, JsonNumber("fraction, 0–1")]

MONEY_KEYS: Final = frozenset(
    {
        "cash", "equity", "buying_power", "portfolio_value", "market_value", "cost_basis", "notional", "buffer",
        "capital", "final_equity", "equity_after", "equity_before", "filled_notional", "day_pnl", "pnl",
        "unrealized_pl", "starting_cash", "traded", "amount",
    }
)  # fmt: skip
MONEY_SUFFIXES: Final = ("_value", "_notional", "_pl", "_usd", "_cash", "_equity")
PRICE_KEYS: Final = frozenset({"price", "bid", "ask", "mid", "bid_price", "ask_price", "fill_price"})
PRICE_SUFFIXES: Final = ("_price", "_mid", "_bid", "_ask")
QTY_KEYS: Final = frozenset({"qty", "qty_step", "volume", "shares"})
QTY_SUFFIXES: Final = ("_qty",)
FRACTION_KEYS: Final = frozenset({"weight", "share"})
FRACTION_SUFFIXES: Final = ("_weight",)


# -- parsing ------------------------------------------------------------------------------------------------
def to_decimal(value: Any) -> Decimal | None:
    """A finite Decimal from a Decimal, int, float or numeric string; None for anything else (incl. NaN/inf)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            return None
        result = Decimal(str(value))
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            return None
    else:
        try:
            result = Decimal(str(float(value)))  # numpy scalars
        except (TypeError, ValueError, InvalidOperation):
            return None
    return result if result.is_finite() else None


# -- the screen --------------------------------------------------------------------------------------------
def _quantize(value: Decimal, places: int) -> Decimal:
    """`value` rounded half-even to `places` decimals, however large (1E+308 needs more than 28 digits)."""
    with localcontext() as context:
        context.prec = max(28, value.adjusted() + places + 2)
        return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)


def _grouped(value: Decimal, places: int) -> str:
    return f"{abs(_quantize(value, places)):,.{places}f}"


def money(value: Any, *, signed: bool = False) -> str:
    """`$1,234.56` (`-$1,234.56`; `+$1,234.56` with `signed`); `—` when missing or not finite."""
    amount = to_decimal(value)
    if amount is None:
        return DASH
    text = _grouped(amount, 2)
    negative = amount < 0 and text.strip("0.,") != ""
    sign = "-" if negative else ("+" if signed else "")
    return f"{sign}${text}"


def price(value: Any, places: int | None = None) -> str:
    """A price in dollars: cents, or four decimals below $1 (sub-penny quotes), or `places` decimals."""
    amount = to_decimal(value)
    if amount is None:
        return DASH
    if places is None:
        places = 4 if abs(amount) < 1 and amount != 0 else 2
    return f"{'-' if amount < 0 else ''}${_grouped(amount, places)}"


def number(value: Any, places: int = 2, *, signed: bool = False) -> str:
    """A plain number with thousands separators and `places` decimals; `—` when missing or not finite."""
    amount = to_decimal(value)
    if amount is None:
        return DASH
    text = _grouped(amount, places)
    sign = "-" if amount < 0 and text.strip("0.,") != "" else ("+" if signed else "")
    return f"{sign}{text}"


def pct(fraction: Any, places: int = 2, *, signed: bool = False) -> str:
    """A fraction as a percentage, `0.1234` → `12.34%`; `—` when missing or not finite."""
    amount = to_decimal(fraction)
    return DASH if amount is None else number(amount * 100, places, signed=signed) + "%"


def pp(difference: Any) -> str:
    """A difference of two fractions in percentage points, always signed: `+0.12 pp`."""
    amount = to_decimal(difference)
    return DASH if amount is None else number(amount * 100, 2, signed=True) + " pp"


def qty(value: Any, places: int = 6) -> str:
    """Shares: `12` when whole, else up to `places` decimals without trailing zeros (`591.1154`)."""
    amount = to_decimal(value)
    if amount is None:
        return DASH
    text = number(amount, places)
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("0", "-0") and amount != 0 and places < 9:
        return qty(amount, 9)  # a dust position is not "0"
    return "0" if text == "-0" else text


# -- JSON -------------------------------------------------------------------------------------------------
def _rounded(value: Any, places: int) -> float | int | None:
    amount = to_decimal(value)
    if amount is None:
        return None
    result = float(_quantize(amount, places))
    return result if math.isfinite(result) else None


def json_money(value: Any) -> float | None:
    """Money for `--json`: a number of dollars rounded to cents, or null. The convention of every command."""
    result = _rounded(value, 2)
    return None if result is None else float(result)


def json_price(value: Any) -> float | None:
    """A price for `--json`: a number rounded to four decimals (sub-penny quotes survive), or null."""
    result = _rounded(value, 4)
    return None if result is None else float(result)


def json_qty(value: Any) -> float | int | None:
    """A quantity for `--json`: a number with up to nine decimals (Alpaca's fractional precision), or null."""
    result = _rounded(value, 9)
    if result is None:
        return None
    return int(result) if float(result).is_integer() and abs(result) < 2**53 else float(result)


@functools.lru_cache(maxsize=4096)
def _kind(key: str) -> str | None:
    """Which convention a key's value follows (memoised: the same few keys repeat thousands of times)."""
    key = key.lower()
    if key in MONEY_KEYS or key.endswith(MONEY_SUFFIXES):
        return "money"
    if key in PRICE_KEYS or key.endswith(PRICE_SUFFIXES):
        return "price"
    if key in QTY_KEYS or key.endswith(QTY_SUFFIXES):
        return "qty"
    if key in FRACTION_KEYS or key.endswith(FRACTION_SUFFIXES):
        return "fraction"
    return None


def _number(value: Any) -> Any:
    """Any other number: Decimal → int or float, non-finite → null; other values unchanged."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, Decimal):
        if not value.is_finite():
            return None
        return int(value) if value == value.to_integral_value() and abs(value) < 2**53 else float(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, int | str):
        return value
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        return _number(value.item())
    return value


def _convert(kind: str, value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str) and to_decimal(value) is None:
        return value  # not a number after all (a label, an id): keep the text
    if kind == "money":
        return json_money(value)
    if kind == "price":
        return json_price(value)
    if kind == "qty":
        return json_qty(value)
    amount = to_decimal(value)
    return None if amount is None else float(amount)


_PLAIN = (str, int, bool)  # exact types that no convention changes (floats may be NaN, so they are checked)


def json_ready(payload: Any, key: str = "") -> Any:
    """A copy of `payload` that follows the JSON conventions above and that `json.dumps(allow_nan=False)` accepts.

    Decimals (and numeric strings under money, price and quantity keys) become rounded numbers, dates
    become ISO text, enums their value, dataclasses dicts, sets sorted lists, NaN/Infinity null.
    """
    kind = _kind(key) if key else None
    if kind is None and (payload is None or type(payload) in _PLAIN):  # the common case, decided fast
        return payload
    if (
        type(payload) is float
        and math.isfinite(payload)
        and (kind is None or (kind == "money" and round(payload, 2) == payload))  # already whole cents
    ):
        return payload
    if isinstance(payload, Mapping):
        return {str(k): json_ready(v, str(k)) for k, v in payload.items()}
    if isinstance(payload, list | tuple):
        return [json_ready(v, key) for v in payload]
    if isinstance(payload, set | frozenset):
        return sorted((json_ready(v, key) for v in payload), key=str)
    if dataclasses.is_dataclass(payload) and not isinstance(payload, type):
        return json_ready({f.name: getattr(payload, f.name) for f in dataclasses.fields(payload)}, key)
    if isinstance(payload, dt.date | dt.time):  # datetime is a date too
        return payload.isoformat()
    if isinstance(payload, Enum):
        return json_ready(payload.value, key)
    if kind is not None:
        return _convert(kind, payload)
    converted = _number(payload)
    if converted is payload and not isinstance(payload, str | int | float | type(None)):
        return str(payload)  # an odd object: its text rather than a crash
    return converted


def dumps_json(payload: Any) -> str:
    """Strict JSON text (no NaN/Infinity) of `payload` after `json_ready`, indented for people and `jq`."""
    return json.dumps(json_ready(payload), indent=2, ensure_ascii=False, allow_nan=False)
