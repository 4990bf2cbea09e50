"""Who may call the sandbox, how often, and which requests fail on purpose.

* `KeyPair.check_headers` answers like Alpaca: 401 when the key headers are missing, 403 when they are wrong.
* `RateLimiter` is a sliding window per (key, API) — Alpaca counts trading and data requests separately —
  and produces the `X-Ratelimit-*` headers clients read to pace themselves.
* `FaultInjector` draws from a seeded RNG, each request's whole fate on arrival, so an injected failure
  sequence replays exactly, even when requests overlap.
"""

from __future__ import annotations

import collections
import hmac
import math
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass

from alchemiser.sandbox.common import CODE_FORBIDDEN, CODE_INTERNAL, CODE_RATE_LIMITED, CODE_UNAUTHORIZED, ApiError
from alchemiser.sandbox.config import FaultConfig

KEY_HEADER = "APCA-API-KEY-ID"
SECRET_HEADER = "APCA-API-SECRET-KEY"


@dataclass(frozen=True)
class KeyPair:
    key_id: str
    secret_key: str

    def matches(self, key_id: object, secret_key: object) -> bool:
        """Constant-time comparison, so the sandbox does not teach bad habits about secrets."""
        if not isinstance(key_id, str) or not isinstance(secret_key, str):
            return False
        ok_key = hmac.compare_digest(key_id.encode(), self.key_id.encode())
        ok_secret = hmac.compare_digest(secret_key.encode(), self.secret_key.encode())
        return ok_key and ok_secret

    def check_headers(self, headers: Mapping[str, str]) -> str:
        """The caller's key id when the headers carry our pair; otherwise raise Alpaca's 401/403."""
        key, secret = headers.get(KEY_HEADER), headers.get(SECRET_HEADER)
        if not key or not secret:
            raise ApiError(401, CODE_UNAUTHORIZED, "request is not authorized")
        if not self.matches(key, secret):
            raise ApiError(403, CODE_FORBIDDEN, "request is not authorized")
        return key


@dataclass(frozen=True)
class RateState:
    limit: int
    remaining: int
    reset_epoch: int

    def headers(self) -> dict[str, str]:
        return {
            "X-Ratelimit-Limit": str(self.limit),
            "X-Ratelimit-Remaining": str(self.remaining),
            "X-Ratelimit-Reset": str(self.reset_epoch),
        }


class RateLimiter:
    """A sliding-window limit: at most `limit` accepted requests per `window_s` per bucket.

    Refused requests are not counted, so a client that backs off recovers once the window slides.
    Used only on the event-loop thread, so it needs no lock.
    """

    def __init__(self, limit: int, window_s: float = 60.0) -> None:
        self.limit = limit
        self.window_s = window_s
        self._hits: dict[str, collections.deque[float]] = {}

    def _window(self, bucket: str, now: float) -> collections.deque[float]:
        hits = self._hits.setdefault(bucket, collections.deque())
        while hits and hits[0] <= now - self.window_s:
            hits.popleft()
        return hits

    def _state(self, hits: collections.deque[float], now: float) -> RateState:
        wall = time.time()
        reset = wall + (hits[0] + self.window_s - now if hits else self.window_s)
        return RateState(self.limit, max(self.limit - len(hits), 0), math.ceil(reset))

    def peek(self, bucket: str) -> RateState:
        now = time.monotonic()
        return self._state(self._window(bucket, now), now)

    def hit(self, bucket: str) -> tuple[bool, RateState]:
        """Count one request; (False, state) when the bucket is full (the caller answers 429)."""
        now = time.monotonic()
        hits = self._window(bucket, now)
        if len(hits) >= self.limit:
            return False, self._state(hits, now)
        hits.append(now)
        return True, self._state(hits, now)


def rate_limited() -> ApiError:
    return ApiError(429, CODE_RATE_LIMITED, "rate limit exceeded")


@dataclass(frozen=True)
class Fate:
    """What fault injection does to one request: hold it `delay_s`, then answer `error` (None: serve it)."""

    delay_s: float
    error: ApiError | None


class FaultInjector:
    """Decides each request's fate (delay, then 429/500 or not) from a seeded RNG, all at once on arrival.

    Deciding both at arrival, before a delayed request sleeps, makes the n-th request's fate a function of
    the seed and n alone: concurrent requests (a client retrying while its timed-out request is still
    held) cannot reorder the draws, so a run makes the same faults for the same number of requests
    however busy the machine is.
    """

    def __init__(self, config: FaultConfig, seed: int) -> None:
        self.config = config
        self._rng = random.Random(f"sandbox-faults:{seed}")
        self.delays = 0  # how many requests were held back / failed, for tests and reports
        self.errors = 0

    def decide(self) -> Fate:
        """The next request's fate (the draws of the RNG are the same as ever: delay, error, its kind)."""
        return Fate(self._delay_s(), self._error())

    def _delay_s(self) -> float:
        c = self.config
        if c.delay_rate > 0 and c.delay_s > 0 and self._rng.random() < c.delay_rate:
            self.delays += 1
            return c.delay_s
        return 0.0

    def _error(self) -> ApiError | None:
        c = self.config
        if c.error_rate <= 0 or self._rng.random() >= c.error_rate:
            return None
        self.errors += 1
        if self._rng.random() < 0.5:
            return rate_limited()
        return ApiError(500, CODE_INTERNAL, "internal server error (injected by the sandbox)")
