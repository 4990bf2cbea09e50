"""Execution rules: how orders are priced, how long we wait, and what to do when they do not fill."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ExecutionRules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    buy_mode: Literal["limit", "notional"] = Field(
        default="limit",
        description="limit: marketable limit from a live quote; notional: dollar market orders where fractionable",
    )
    limit_spread_fraction: float = Field(
        default=0.75, ge=0, le=1, description="limit price = bid + this fraction of the spread"
    )
    limit_timeout_s: float = Field(default=15.0, gt=0, description="how long a buy limit may rest before fallback")
    on_limit_timeout: Literal["market", "reprice"] = Field(
        default="market", description="finish the unfilled remainder at market, or re-price from a fresh quote"
    )
    max_reprices: int = Field(default=2, ge=0, description="re-pricing rounds before the remainder goes to market")
    fractional_limit_orders: bool = Field(
        default=True, description="send fractional quantities on limit orders (else whole shares + a notional top-up)"
    )
    sell_timeout_s: float = Field(default=60.0, gt=0, description="how long to wait for sells to reach a final state")
    poll_interval_s: float = Field(default=2.0, gt=0, description="safety-net polling while waiting for order events")
    quote_timeout_s: float = Field(default=3.0, gt=0, description="wait this long for a streamed quote, then ask REST")
    max_quote_age_s: float = Field(default=30.0, gt=0, description="older quotes are not used to price an order")
    block_buys_on_failed_sells_usd: Decimal = Field(
        default=Decimal(100), ge=0, description="failed sells worth more than this block the buy phase"
    )
