"""Sandbox settings: where it listens, which key pair it accepts, and which faults it injects.

Validated pydantic models so the CLI and the app config can embed them and reject bad values early.
Key resolution order (documented for users): explicit `key_id`/`secret_key`, else the environment's
`ALPACA_API_KEY`/`ALPACA_SECRET_KEY`, else `APCA_API_KEY_ID`/`APCA_API_SECRET_KEY`, else the fixed pair
`sandbox-key`/`sandbox-secret` — so a bot configured for Alpaca works against the sandbox unchanged.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, model_validator

DEFAULT_KEY_ID = "sandbox-key"
DEFAULT_SECRET_KEY = "sandbox-secret"


class FaultConfig(BaseModel):
    """Failures to inject (all off by default), so the bot's retry and reconnect paths can be exercised."""

    model_config = ConfigDict(extra="forbid")

    error_rate: float = Field(default=0.0, ge=0, le=1, description="fraction of REST requests answered 429 or 500")
    delay_rate: float = Field(default=0.0, ge=0, le=1, description="fraction of REST requests delayed by delay_s")
    delay_s: float = Field(default=0.0, ge=0, description="how long a delayed request is held (exceed client timeouts)")
    drop_streams_after_s: float | None = Field(
        default=None, gt=0, description="close every WebSocket this long after it connects (clients must reconnect)"
    )
    fill_latency_ms: tuple[float, float] | None = Field(
        default=None, description="passed to SimConfig.fill_latency_ms: fills arrive late"
    )
    partial_fill_probability: float | None = Field(
        default=None, ge=0, le=1, description="passed to SimConfig: orders fill in 2-3 pieces"
    )


class SandboxConfig(BaseModel):
    """How the sandbox server runs; `None` fields fall back to the SimConfig / environment defaults."""

    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535, description="0 picks any free port")
    key_id: str | None = None
    secret_key: str | None = None
    latency_ms: float = Field(default=0.0, ge=0, description="extra latency added to every REST request")
    seed: int | None = Field(default=None, description="seeds the fault RNG and (when set) SimConfig.seed")
    starting_cash: Decimal | None = Field(default=None, ge=0, description="overrides SimConfig.starting_cash")
    follow_calendar: bool = Field(default=False, description="clock follows XNYS hours instead of always open")
    rate_limit_per_minute: int = Field(default=200, ge=1)
    rate_limit_window_s: float = Field(default=60.0, gt=0, description="sliding window for the rate limit")
    max_page_size: int = Field(default=10_000, ge=1, le=10_000, description="cap on market-data items per page")
    faults: FaultConfig = Field(default_factory=FaultConfig)

    @model_validator(mode="after")
    def _keys_in_pairs(self) -> SandboxConfig:
        if (self.key_id is None) != (self.secret_key is None):
            raise ValueError("key_id and secret_key must be given together")
        return self


def resolve_keys(config: SandboxConfig, env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """The one key pair the sandbox accepts (see the module docstring for the order)."""
    if config.key_id is not None and config.secret_key is not None:
        return config.key_id, config.secret_key
    environ = os.environ if env is None else env
    for key_var, secret_var in (("ALPACA_API_KEY", "ALPACA_SECRET_KEY"), ("APCA_API_KEY_ID", "APCA_API_SECRET_KEY")):
        key, secret = environ.get(key_var), environ.get(secret_var)
        if key and secret:
            return key, secret
    return DEFAULT_KEY_ID, DEFAULT_SECRET_KEY
