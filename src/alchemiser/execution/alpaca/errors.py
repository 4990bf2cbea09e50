"""Which failures are worth retrying, how long to wait, and what each one means to the executor.

`APIError`s and transport failures become `NotFound`, `OrderRejected`, `DuplicateClientOrderId` or
`BrokerError`, with the credentials redacted from every message. The retry policy is declared once, here:
bounded, jittered exponential backoff (tenacity) that honours a 429's Retry-After. Reads retry on 429, 5xx
and transport errors; order-creating calls use the same policy with a narrower predicate (see `placement`).
"""

from __future__ import annotations

import contextlib
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from alpaca.common.exceptions import APIError
from pydantic import ValidationError
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, stop_after_delay

from alchemiser.execution.broker import BrokerError, DuplicateClientOrderId, NotFound, OrderRejected
from alchemiser.secrets import AlpacaCredentials, redact

_TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})

# What a failed SDK call can raise: the API's answer, no answer, or an answer the SDK could not parse.
CALL_ERRORS: tuple[type[BaseException], ...] = (APIError, requests.RequestException, ValidationError)


def status_of(exc: BaseException) -> int | None:
    return exc.status_code if isinstance(exc, APIError) else None


def transient(exc: BaseException) -> bool:
    """Worth retrying an idempotent call: rate limited, server trouble, or the request never got an answer."""
    status = status_of(exc)
    if status is not None:
        return status in _TRANSIENT_STATUS
    return isinstance(exc, requests.ConnectionError | requests.Timeout)


def ambiguous(exc: BaseException) -> bool:
    """A failure after which a request that creates something may or may not have taken effect."""
    if isinstance(exc, APIError):
        return exc.status_code is None or exc.status_code >= 500
    return isinstance(exc, requests.RequestException | ValidationError)


@dataclass(frozen=True)
class RetryPolicy:
    """How calls are retried: exponential backoff with jitter, bounded by attempts and time.

    `Retry-After` on a 429 is honoured up to `max_wait_s`.
    """

    attempts: int = 4
    initial_s: float = 0.25
    max_wait_s: float = 4.0
    jitter_s: float = 0.25
    deadline_s: float = 20.0
    http_timeout_s: tuple[float, float] = (5.0, 20.0)  # (connect, read) per HTTP request

    def backoff_s(self, retry_number: int, exc: BaseException | None) -> float:
        """initial·2^(n−1) + U(0, jitter), capped at `max_wait_s`; a 429's Retry-After (seconds) raises it,
        still within `max_wait_s`."""
        wait = min(self.initial_s * 2.0 ** max(retry_number - 1, 0) + random.uniform(0, self.jitter_s),
                   self.max_wait_s)
        if isinstance(exc, APIError) and exc.status_code == 429 and exc.response is not None:
            with contextlib.suppress(TypeError, ValueError):
                wait = max(wait, min(float(exc.response.headers.get("Retry-After", 0)), self.max_wait_s))
        return wait

    def retrying(self, retry_on: Callable[[BaseException], bool], sleep: Callable[[float], None]) -> Retrying:
        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome is not None else None
            return self.backoff_s(state.attempt_number, exc)

        return Retrying(
            stop=stop_after_attempt(self.attempts) | stop_after_delay(self.deadline_s),
            wait=wait,
            retry=retry_if_exception(retry_on),
            sleep=sleep,
            reraise=True,
        )


def _api_error_parts(exc: APIError) -> tuple[int | None, str]:
    """Alpaca's `{"code", "message"}` body, or the raw text when the body is not that JSON."""
    text = str(exc)
    try:
        body = json.loads(text)
    except (TypeError, ValueError):
        return None, text.strip()[:300] or "no details"
    if isinstance(body, dict):
        code = body.get("code")
        message = body.get("message") or text
        return (code if isinstance(code, int) else None), str(message)
    return None, text[:300]


def _is_auth_failure(status: int | None, message: str) -> bool:
    """Refused credentials: 401, or a 403 whose message says so (403 also means "insufficient buying power")."""
    m = message.lower()
    return status == 401 or (status == 403 and any(w in m for w in ("not authorized", "unauthorized", "forbidden")))


def _is_duplicate(message: str) -> bool:
    m = message.lower()
    return "client_order_id" in m and any(w in m for w in ("unique", "duplicate", "already exist"))


@dataclass(frozen=True)
class ErrorMapper:
    """Turns a failed call into our error, naming the account's endpoint and never the keys."""

    credentials: AlpacaCredentials
    paper: bool
    trading_url: str

    def redact(self, text: str) -> str:
        return redact(text, self.credentials)

    def __call__(self, exc: BaseException, what: str, *, order: bool = False) -> BrokerError:
        """`order` marks calls that create or change orders, where a 4xx is the broker refusing the order
        (`OrderRejected`) rather than a broken request."""
        if isinstance(exc, BrokerError):
            return exc
        if isinstance(exc, APIError):
            status = exc.status_code
            code, message = _api_error_parts(exc)
            detail = self.redact(f"{what}: {message} (HTTP {status}{f', code {code}' if code else ''})")
            if status == 404:
                return NotFound(detail)
            if _is_auth_failure(status, message):
                return BrokerError(
                    f"{detail}. Alpaca refused the credentials from {self.credentials.source}: check the keys "
                    f"and that they are {'paper' if self.paper else 'live'} keys for {self.trading_url}"
                )
            if order and status is not None and 400 <= status < 500 and status != 429:
                if _is_duplicate(message):
                    return DuplicateClientOrderId(detail, status)
                return OrderRejected(detail, status)
            return BrokerError(detail)
        if isinstance(exc, requests.Timeout):
            return BrokerError(self.redact(f"{what}: no answer from Alpaca in time ({exc.__class__.__name__})"))
        if isinstance(exc, requests.RequestException):
            host = urlsplit(self.trading_url).netloc
            return BrokerError(self.redact(f"{what}: cannot reach Alpaca ({host}): {exc.__class__.__name__}"))
        if isinstance(exc, ValidationError):
            return BrokerError(self.redact(f"{what}: unexpected response from Alpaca: {exc}"))
        return BrokerError(self.redact(f"{what}: {exc.__class__.__name__}: {exc}"))
