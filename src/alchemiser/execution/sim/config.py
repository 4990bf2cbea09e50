"""How the simulated exchange behaves: `SimConfig` and the rule for a simulated account's opening cash."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from alchemiser.money import CENT

MAX_STARTING_CASH = Decimal(10) ** 12


def valid_starting_cash(value: Decimal) -> Decimal:
    """A simulated account's opening cash: finite, positive and at most $1e12.

    NaN, infinity, zero, negative or absurd amounts would be accepted by SQLite and the arithmetic, and then
    break every later `status` or `trade` far from the cause; refusing them here names the cause instead.
    """
    if not value.is_finite() or value < CENT or value > MAX_STARTING_CASH:
        raise ValueError(f"must be a finite amount of at least 0.01 and at most {MAX_STARTING_CASH:,}")
    return value


class SimConfig(BaseModel):
    """How the simulated exchange behaves; embedded in the app config, so it validates its own values."""

    model_config = ConfigDict(extra="forbid")

    starting_cash: Decimal = Field(
        default=Decimal(100000), description="cash of a fresh (or reset) simulated account, in dollars"
    )
    spread_bps: float = Field(default=5.0, ge=0, description="full bid-ask spread in bps of the mid")
    ack_latency_ms: float = Field(default=0.0, ge=0, description="how long an order takes to be acknowledged")
    fill_latency_ms: tuple[float, float] = Field(
        default=(0.0, 0.0), description="fills arrive this long after acknowledgement (uniform between the two)"
    )
    partial_fill_probability: float = Field(
        default=0.0, ge=0, le=1, description="chance that an order fills in several pieces"
    )
    seed: int = Field(default=7, description="seed of the simulated exchange's randomness (latency, partial fills)")
    non_fractionable: list[str] = Field(
        default_factory=list, description="symbols traded in whole shares only, e.g. [\"BRK.A\"]"
    )
    always_open: bool = Field(default=True, description="the market is always open (else it follows NYSE hours)")
    inside_spread_fills: bool = Field(
        default=True,
        description="a limit at or beyond the mid (inside the spread) meets hidden liquidity and fills at its price",
    )

    @field_validator("starting_cash")
    @classmethod
    def _sane_cash(cls, v: Decimal) -> Decimal:
        return valid_starting_cash(v)

    @field_validator("non_fractionable")
    @classmethod
    def _upper(cls, v: list[str]) -> list[str]:
        return [s.upper() for s in v]

    @model_validator(mode="after")
    def _latency_range(self) -> SimConfig:
        lo, hi = self.fill_latency_ms
        if lo < 0 or hi < lo:
            raise ValueError("fill_latency_ms must be (low, high) with 0 <= low <= high")
        return self
