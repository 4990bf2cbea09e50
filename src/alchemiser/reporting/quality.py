"""Execution quality from the ledger: what each fill cost against the quote at decision time.

Per order: fill price vs the arrival mid in basis points (positive = paid more than mid when buying, or got
less than mid when selling), the same as a fraction of the arrival spread, time from decision to the last
fill, and whether a limit had to fall back to market. Per run and across runs: the notional-weighted
averages, next to what pure market orders would have paid (the far side of the same arrival quotes).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from alchemiser.ledger import Ledger, OrderRow
from alchemiser.models import OrderPhase, Side


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


def summarise(orders: list[OrderQuality]) -> dict[str, Any]:
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


def execution_report(ledger: Ledger, run_id: str | None = None, since: dt.date | None = None) -> dict[str, Any]:
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
        "orders": [asdict(q) for q in quality],
    }
