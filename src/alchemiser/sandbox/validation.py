"""Reading untrusted client input and turning validation failures into Alpaca's error answers.

Why a module of its own: every byte a client sends (JSON bodies, query strings, path segments, stream
messages) used to reach json's recursive parser and SimBroker's Decimal arithmetic unchecked, and what they
raised escaped as 500s. Here bodies and messages are size-limited and their nesting depth is measured by a
linear scan *before* parsing (a 100k-deep body is refused without recursing at all), and the models in
`schemas` (over the field types in `fields`) are applied with one error shape: Alpaca's
`{"code", "message"}` naming the first offending field — 422 on the trading API, 400 on market data.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from alchemiser.sandbox.common import (
    CODE_BAD_REQUEST,
    CODE_TOO_LARGE,
    CODE_UNPROCESSABLE,
    ApiError,
    JSONDict,
    bad_request,
    short,
)

MAX_BODY_BYTES = 64 * 1024  # an order is a few hundred bytes: room for any legitimate body, none for abuse
MAX_WS_MESSAGE_BYTES = 64 * 1024  # a larger WebSocket message is answered with an error (the socket stays open)
MAX_WS_FRAME_BYTES = 1 << 20  # a larger one is not even buffered: the socket is closed with 1009
MAX_JSON_DEPTH = 16  # the deepest legitimate body (a bracket order's legs) nests 3 levels


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
    too_large = ApiError(413, CODE_TOO_LARGE, f"request body is too large (at most {MAX_BODY_BYTES} bytes)")
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
        raise bad_request(f"request body format is invalid: {short(str(exc))}") from None


# ---------------------------------------------------------------------------------------------- errors


def _field_name(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc)


def validation_error(exc: ValidationError, status: int) -> ApiError:
    """The first problem as Alpaca's error body: `invalid <field>: <why>` (status 422, or 400 for data)."""
    first = exc.errors(include_url=False, include_input=False)[0]
    why = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    code = CODE_UNPROCESSABLE if status == 422 else CODE_BAD_REQUEST
    loc = tuple(first.get("loc", ()))
    # a rule tying fields together (a model validator) has no location: its message names the fields itself
    return ApiError(status, code, f"invalid {_field_name(loc)}: {short(why, 160)}" if loc else short(why, 160))


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
    """A path segment through one of the validators in `fields` (422, or 400 for data, naming the field)."""
    try:
        return validator(value)
    except ValueError as exc:
        code = CODE_UNPROCESSABLE if status == 422 else CODE_BAD_REQUEST
        raise ApiError(status, code, f"invalid {field}: {short(str(exc), 160)}") from None
