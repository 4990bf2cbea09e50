"""Execution quality from the ledger: what each fill cost against the quote at decision time.

Per order: fill price vs the arrival mid in basis points (positive = paid more than mid when buying, or got
less than mid when selling), the same as a fraction of the arrival spread, time from decision to the last
fill, and whether a limit had to fall back to market. Per run and across runs: the notional-weighted
averages, next to what pure market orders would have paid (the far side of the same arrival quotes).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated

from typing_extensions import TypedDict  # the TypedDict pydantic accepts on 3.11

from alchemiser.ledger import Ledger, OrderRow
from alchemiser.models import OrderPhase, Side


class OrderQualityJson(TypedDict):
    """One order's execution against the quote at decision time."""

    client_order_id: str
    run_id: str
    symbol: str
    side: Annotated[str, "buy or sell"]
    type: Annotated[str, "market or limit"]
    phase: Annotated[OrderPhase, "which step of the run placed it"]
    filled_qty: Annotated[float, "shares filled"]
    fill_price: Annotated[float | None, "average fill price, null when nothing filled"]
    arrival_mid: Annotated[float | None, "the quote's mid when the order was priced, null without a quote"]
    spread: Annotated[float | None, "ask minus bid of that quote"]
    cost_bps: Annotated[float | None, "fill vs arrival mid in basis points; positive is worse for us"]
    spread_fraction: Annotated[float | None, "that cost as a fraction of the spread (0.5 = paid the far side)"]
    market_cost_bps: Annotated[float | None, "what a market order at the arrival quote would have cost, bps"]
    seconds_to_fill: Annotated[float | None, "decision to last fill"]
    fell_back: Annotated[bool, "a limit buy whose remainder went to market"]


class ExecutionSummaryJson(TypedDict):
    """Notional-weighted averages over the orders that had an arrival quote."""

    orders: Annotated[int, "orders with a fill or a fallback"]
    orders_with_quote: int
    filled_notional: Annotated[float, "dollars filled over the quoted orders"]
    avg_cost_bps: Annotated[float | None, "null without quoted fills"]
    avg_market_cost_bps: float | None
    avg_spread_fraction: float | None
    avg_seconds_to_fill: float | None
    limit_orders: Annotated[int, "limit buys"]
    limit_fallbacks: Annotated[int, "limit buys that fell back to market"]


class ExecutionReportJson(TypedDict):
    """`report --execution [RUN] --json`: per-order execution quality plus the summary."""

    run_id: Annotated[str | None, "the run asked for, null across runs"]
    since: Annotated[str | None, "--since (YYYY-MM-DD), null without it"]
    summary: ExecutionSummaryJson
    orders: list[OrderQualityJson]


@dataclass(frozen=True)
class OrderQuality:
    client_order_id: str
    run_id: str
    symbol: str
    side: str
    type: str
    phase: OrderPhase
    filled_qty: float
    fill_price: float | None
    arrival_mid: float | None
    spread: float | None
    cost_bps: float | None  # against the arrival mid, signed so that positive is worse for us
    spread_fraction: float | None  # cost as a fraction of the arrival spread (0.5 = paid the far side)
    market_cost_bps: float | None  # what a market order at the arrival quote would have cost
    seconds_to_fill: float | None
    fell_back: bool

    def to_json(self) -> OrderQualityJson:
        return {
            "client_order_id": self.client_order_id,
            "run_id": self.run_id,
            "symbol": self.symbol,
            "side": self.side,
            "type": self.type,
            "phase": self.phase,
            "filled_qty": self.filled_qty,
            "fill_price": self.fill_price,
            "arrival_mid": self.arrival_mid,
            "spread": self.spread,
            "cost_bps": self.cost_bps,
            "spread_fraction": self.spread_fraction,
            "market_cost_bps": self.market_cost_bps,
            "seconds_to_fill": self.seconds_to_fill,
            "fell_back": self.fell_back,
        }


def _group_key(row: OrderRow) -> tuple[str, str, str]:
    return (row.run_id, row.symbol, str(row.side))


def order_quality(ledger: Ledger, rows: list[OrderRow]) -> list[OrderQuality]:
    """Quality of every order that filled or fell back to market (no arrival quote: no cost reported)."""
    fell_back = {_group_key(r) for r in rows if r.phase == OrderPhase.REMAINDER}
    out: list[OrderQuality] = []
    for row in rows:
        limit_fell_back = row.phase == OrderPhase.BUY and str(row.type) == "limit" and _group_key(row) in fell_back
        if (row.filled_qty <= 0 or row.filled_avg_price is None) and not limit_fell_back:
            continue
        filled = row.filled_avg_price is not None and row.filled_qty > 0
        price = float(row.filled_avg_price) if filled and row.filled_avg_price is not None else None
        sign = 1.0 if row.side == Side.BUY else -1.0
        mid = spread = cost = fraction = market = None
        if price is not None and row.quote_bid is not None and row.quote_ask is not None and row.quote_bid > 0:
            bid, ask = float(row.quote_bid), float(row.quote_ask)
            mid, spread = (bid + ask) / 2, ask - bid
            cost = sign * (price - mid) / mid * 1e4
            fraction = sign * (price - mid) / spread if spread > 0 else None
            market = (spread / 2) / mid * 1e4
        fills = (
            [e["at"] for e in ledger.events(row.client_order_id) if e["event"] in ("fill", "partial_fill")]
            if filled
            else []
        )
        seconds = (max(fills) - row.intent_at).total_seconds() if fills else None
        out.append(
            OrderQuality(
                row.client_order_id,
                row.run_id,
                row.symbol,
                str(row.side),
                str(row.type),
                row.phase,
                float(row.filled_qty),
                price,
                mid,
                spread,
                cost,
                fraction,
                market,
                seconds,
                row.phase == OrderPhase.BUY and str(row.type) == "limit" and _group_key(row) in fell_back,
            )
        )
    return out


def summarise(orders: list[OrderQuality]) -> ExecutionSummaryJson:
    """Notional-weighted averages over orders that had an arrival quote."""
    quoted = [o for o in orders if o.cost_bps is not None and o.fill_price is not None]
    notional = sum(o.filled_qty * (o.fill_price or 0.0) for o in quoted)

    def weighted(attr: str) -> float | None:
        if not quoted or notional <= 0:
            return None
        total: float = sum(getattr(o, attr) * o.filled_qty * (o.fill_price or 0.0) for o in quoted)
        return total / notional

    times = [o.seconds_to_fill for o in orders if o.seconds_to_fill is not None]
    limits = [o for o in orders if o.type == "limit" and o.phase == OrderPhase.BUY]
    return {
        "orders": len(orders),
        "orders_with_quote": len(quoted),
        "filled_notional": round(notional, 2),
        "avg_cost_bps": weighted("cost_bps"),
        "avg_market_cost_bps": weighted("market_cost_bps"),
        "avg_spread_fraction": (
            sum(o.spread_fraction for o in quoted if o.spread_fraction is not None) / len(quoted) if quoted else None
        ),
        "avg_seconds_to_fill": sum(times) / len(times) if times else None,
        "limit_orders": len(limits),
        "limit_fallbacks": sum(1 for o in limits if o.fell_back),
    }


def execution_report(ledger: Ledger, run_id: str | None = None, since: dt.date | None = None) -> ExecutionReportJson:
    """One run's orders, or every run since a date: per-order rows plus the summary."""
    if run_id is not None:
        rows = ledger.orders(run_id)
    else:
        runs = [r.run_id for r in ledger.runs(10_000) if since is None or r.trading_day >= since]
        rows = [row for rid in reversed(runs) for row in ledger.orders(rid)]
    quality = order_quality(ledger, rows)
    return {
        "run_id": run_id,
        "since": since.isoformat() if since else None,
        "summary": summarise(quality),
        "orders": [q.to_json() for q in quality],
    }
