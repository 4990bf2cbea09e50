"""Reading and validating client input the way Alpaca's edge does: bounded, typed, never a 500.

Why a module of its own: every byte a client sends (JSON bodies, query strings, path segments) reaches
SimBroker's Decimal arithmetic and pandas' timestamps, which raise on values no real client sends (a
30-digit quantity, a price of 1e300, the year 1) — errors that used to escape as 500s. Here each input is
checked once, declaratively, with pydantic field types that carry Alpaca's own rules (prices > 0 with at
most 2 decimals from $1 and 4 below, quantities with at most 9 decimals, symbols of ticker characters,
client order ids of at most 128 characters), and the first failure becomes Alpaca's
`{"code", "message"}` answer naming the field.

JSON bodies are size-limited and their nesting depth is measured by a linear scan *before* parsing, so a
100k-deep body is refused without recursing at all.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, TypeVar

from aiohttp import web
from pydantic import AfterValidator, BaseModel, BeforeValidator, ValidationError

from alchemiser import market_calendar
from alchemiser.sandbox.common import CODE_BAD_REQUEST, CODE_UNPROCESSABLE, ApiError, JSONDict, bad_request

MAX_BODY_BYTES = 64 * 1024  # an order is a few hundred bytes; Alpaca's edge refuses far smaller bodies than 1 MiB
MAX_WS_MESSAGE_BYTES = 64 * 1024  # a larger WebSocket message is answered with an error (the socket stays open)
MAX_WS_FRAME_BYTES = 1 << 20  # a larger one is not even buffered: the socket is closed with 1009
MAX_JSON_DEPTH = 16  # the deepest legitimate body (a bracket order's legs) nests 3 levels
MAX_NUMBER_CHARS = 40  # a numeric string longer than this is not a price or a quantity
MAX_QTY = Decimal(1_000_000_000)  # shares per order: far above any real order, far below Decimal's precision
MAX_PRICE = Decimal(1_000_000)  # BRK.A trades below this
MAX_NOTIONAL = Decimal(1_000_000_000)
MAX_SYMBOLS = 1000  # symbols per request (query strings are capped at 8 KiB by the HTTP parser anyway)
# Times outside these years cannot be daily bars and overflow date arithmetic or pandas' timestamps.
MIN_YEAR, MAX_YEAR = 1970, 2200

_SYMBOL = re.compile(r"[A-Z0-9][A-Z0-9.\-/]{0,19}")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

ModelT = TypeVar("ModelT", bound=BaseModel)


# ---------------------------------------------------------------------------------------------- JSON bodies


def json_depth_exceeds(text: str, limit: int) -> bool:
    """Whether `text` nests arrays/objects deeper than `limit`, found by one loop (no recursion, no parse)."""
    depth = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                return True
        elif ch in "]}":
            depth -= 1
    return False


def decode_message(raw: str | bytes) -> JSONDict:
    """A WebSocket JSON message as an object; ValueError (with a short reason) for anything else."""
    if len(raw) > MAX_WS_MESSAGE_BYTES:
        raise ValueError(f"message too large (at most {MAX_WS_MESSAGE_BYTES} bytes)")
    try:
        return loads_object(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def loads_object(text: str) -> JSONDict:
    """A JSON object from untrusted text (ValueError otherwise); floats stay exact Decimals, NaN is refused."""
    if json_depth_exceeds(text, MAX_JSON_DEPTH):
        raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels")
    data = json.loads(text, parse_float=Decimal, parse_constant=_no_constants)
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    return data


async def json_body(request: web.Request) -> JSONDict:
    """The request's JSON object, or Alpaca's 400 when the body is not one (413 when it is too large)."""
    if not request.can_read_body:
        return {}
    too_large = ApiError(413, 41310000, f"request body is too large (at most {MAX_BODY_BYTES} bytes)")
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.readany():  # as it arrives (chunked bodies have no length)
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise too_large
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        return {}
    try:
        return loads_object(raw.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise bad_request(f"request body format is invalid: {_short(str(exc))}") from None


# ---------------------------------------------------------------------------------------------- errors


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _field_name(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc)


def validation_error(exc: ValidationError, status: int) -> ApiError:
    """The first problem as Alpaca's error body: `invalid <field>: <why>` (status 422, or 400 for data)."""
    first = exc.errors(include_url=False, include_input=False)[0]
    why = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    code = CODE_UNPROCESSABLE if status == 422 else CODE_BAD_REQUEST
    loc = tuple(first.get("loc", ()))
    # a rule tying fields together (a model validator) has no location: its message names the fields itself
    return ApiError(status, code, f"invalid {_field_name(loc)}: {_short(why, 160)}" if loc else _short(why, 160))


def parse_body(model: type[ModelT], data: JSONDict) -> ModelT:
    """Validate a decoded JSON body (422 naming the field on failure)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, 422) from None


def parse_query(model: type[ModelT], query: Mapping[str, str], *, status: int = 422) -> ModelT:
    """Validate query parameters (the first value of a repeated one); trading answers 422, data 400."""
    try:
        return model.model_validate({key: query[key] for key in query})
    except ValidationError as exc:
        raise validation_error(exc, status) from None


def check_path(value: str, field: str, validator: Any, *, status: int = 422) -> Any:
    """A path segment through one of the field validators below (422, or 400 for data, naming the field)."""
    try:
        return validator(value)
    except ValueError as exc:
        code = CODE_UNPROCESSABLE if status == 422 else CODE_BAD_REQUEST
        raise ApiError(status, code, f"invalid {field}: {_short(str(exc), 160)}") from None


# ---------------------------------------------------------------------------------------------- field types


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValueError("must be a number or a numeric string")
    text = str(value).strip()
    if len(text) > MAX_NUMBER_CHARS:
        raise ValueError(f"has more than {MAX_NUMBER_CHARS} characters")
    try:
        out = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{_short(text, 40)!r} is not a number") from None
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
    places = 2 if x >= 1 else 4
    if _decimals(x) > places:
        above = "from" if places == 2 else "below"
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
        raise ValueError(f"{_short(value, 24)!r} is not a symbol")
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
            return _bounded(dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), tzinfo=market_calendar.NY))
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{_short(value, 40)!r} is not an RFC3339 time or a date") from None
    return _bounded(parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC))


def _date(value: Any) -> dt.date:
    if not isinstance(value, str) or len(value) > 40:
        raise ValueError("must be a date (YYYY-MM-DD)")
    try:
        day = dt.date.fromisoformat(value.strip()[:10])
    except ValueError:
        raise ValueError(f"{_short(value, 40)!r} is not a date (YYYY-MM-DD)") from None
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
            raise ValueError(f"{_short(value, 20)!r} is not an integer")
        return int(value)
    return value


Number = Annotated[Decimal, BeforeValidator(_decimal)]
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
