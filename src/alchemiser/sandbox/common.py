"""Small helpers every sandbox module shares: Alpaca-shaped errors, numbers, times and ids.

Why one place: alpaca-py parses what we send with pydantic models, so every number must be a JSON string
without exponent notation, every time RFC3339 and every id UUID-shaped, the same way in REST bodies and in
stream events.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal
from typing import Any

from aiohttp import web

JSONDict = dict[str, Any]

_ASSET_NS = uuid.UUID("6f1d3c2e-7a51-4b7e-9a8e-3c0f5b2a9d10")

# Alpaca's error codes are the HTTP status followed by four digits.
CODE_BAD_REQUEST = 40010000
CODE_DUPLICATE_CLIENT_ID = 40010001
CODE_UNAUTHORIZED = 40110000
CODE_FORBIDDEN = 40310000
CODE_NOT_FOUND = 40410000
CODE_TOO_LARGE = 41310000
CODE_UNPROCESSABLE = 42210000
CODE_RATE_LIMITED = 42910000
CODE_INTERNAL = 50010000


class ApiError(Exception):
    """An error answer: HTTP status plus Alpaca's `{"code", "message"}` body (and optional extra fields)."""

    def __init__(self, status: int, code: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra

    def body(self) -> JSONDict:
        return {"code": self.code, "message": self.message, **self.extra}


def bad_request(message: str) -> ApiError:
    return ApiError(400, CODE_BAD_REQUEST, message)


def unprocessable(message: str) -> ApiError:
    return ApiError(422, CODE_UNPROCESSABLE, message)


def not_found(message: str) -> ApiError:
    return ApiError(404, CODE_NOT_FOUND, message)


def short(text: str, limit: int = 80) -> str:
    """Client-supplied text cut to a length fit for an error message (never echo a megabyte back)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def json_response(data: Any, status: int = 200) -> web.Response:
    """A JSON response; compact, since clients parse it and never read it."""
    return web.json_response(data, status=status, dumps=lambda v: json.dumps(v, separators=(",", ":")))


def num(x: Decimal | None) -> str | None:
    """A Decimal as Alpaca prints numbers: a plain string, no exponent, no trailing zeros (None stays None)."""
    if x is None:
        return None
    if x == x.to_integral_value():
        return str(x.quantize(Decimal(1)))
    return format(x.normalize(), "f")


def rfc3339(t: dt.datetime) -> str:
    """UTC with microseconds and a `Z`, the form Alpaca uses for order and account timestamps."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def rfc3339_opt(t: dt.datetime | None) -> str | None:
    return None if t is None else rfc3339(t)


def asset_id(symbol: str) -> str:
    """A stable UUID per symbol, so asset ids agree across restarts and between positions and orders."""
    return str(uuid.uuid5(_ASSET_NS, symbol.upper()))


def account_uuid(account_id: str) -> str:
    """SimBroker's `sim-xxxxxxxx` account id as a UUID (alpaca-py requires one); orders share its prefix."""
    return f"{account_id.removeprefix('sim-')}-0000-4000-8000-000000000000"
