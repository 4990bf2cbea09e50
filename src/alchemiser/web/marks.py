"""A daily mark-to-market of the account, so the equity curve has a point per session, not only per run.

Between runs the account holds what the last run left; valuing those positions at each session's close
(plus the cash) gives the curve a user expects from a broker statement, with no broker call.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from alchemiser import market_calendar
from alchemiser.formatting import json_money
from alchemiser.ledger import Ledger
from alchemiser.web import cache
from alchemiser.web.context import WebContext
from alchemiser.web.queries import _conn
from alchemiser.web.sleeves import closes_frame

MAX_DAYS = 3_000  # about twelve years of sessions; older marks are not drawn


def daily_marks(ctx: WebContext, ledger: Ledger) -> list[dict[str, Any]]:
    """One point per session close since the first run: the last after-snapshot's holdings × closes + cash."""
    query = (
        "SELECT r.trading_day, s.at, json_extract(s.account_json, '$.cash') AS cash,"
        " json_extract(p.value, '$.symbol') AS symbol, json_extract(p.value, '$.qty') AS qty"
        " FROM snapshots s JOIN runs r USING (run_id) LEFT JOIN json_each(s.positions_json) p"
        " WHERE s.kind = 'after' ORDER BY s.at, p.key"
    )
    rows = _conn(ledger).execute(query).fetchall()
    if not rows:
        return []
    holdings: dict[dt.date, tuple[float, dict[str, float]]] = {}
    last_at: dict[dt.date, str] = {}
    for r in rows:  # the day's last snapshot wins
        day = dt.date.fromisoformat(r["trading_day"])
        if last_at.get(day) != r["at"]:
            last_at[day] = r["at"]
            holdings[day] = (float(r["cash"]), {})
        if r["symbol"] is not None:
            holdings[day][1][str(r["symbol"])] = float(r["qty"])
    first = min(holdings)
    end = market_calendar.last_completed_session()
    sessions = [d.date() for d in market_calendar.sessions(first, end)][-MAX_DAYS:]
    if not sessions:
        return []
    symbols = sorted({s for _, positions in holdings.values() for s in positions})
    closes = closes_frame(ctx, set(symbols), sessions[0], sessions[-1])
    index = pd.DatetimeIndex(sessions)
    closes = closes.reindex(index=index, columns=symbols).ffill()
    # holdings as of each session: the latest snapshot on or before it (vectorised, one row per change)
    changes = sorted(holdings)
    qty = pd.DataFrame([holdings[d][1] for d in changes], index=pd.DatetimeIndex(changes), columns=symbols)
    cash = pd.Series([holdings[d][0] for d in changes], index=pd.DatetimeIndex(changes))
    both = index.union(pd.DatetimeIndex(changes))
    qty = qty.fillna(0.0).reindex(both).ffill().reindex(index)
    cash = cash.reindex(both).ffill().reindex(index)
    held_value = (qty * closes).where(qty != 0, 0.0)
    priced = ~(closes.isna() & (qty != 0)).any(axis=1) & cash.notna()
    equity = cash + held_value.sum(axis=1, min_count=0)
    kept = equity[priced]
    days = pd.DatetimeIndex(kept.index)
    # rounded to cents once here (the API would round every point on every request otherwise)
    return [{"day": d.date().isoformat(), "equity": json_money(v)} for d, v in zip(days, kept.to_numpy(), strict=True)]


def cached_marks(ctx: WebContext, ledger: Ledger) -> list[dict[str, Any]]:
    """`daily_marks`, recomputed only when a run starts or finishes, the data store changes or a session
    closes: the overview and the sleeves page both read it, and it is the slowest part of either."""
    from alchemiser.web.queries import ledger_marker

    stamp = (ledger_marker(ledger), cache.store_stamp(ctx.settings), market_calendar.last_completed_session())
    return cache.memo(("marks", id(ctx.settings)), stamp, lambda: daily_marks(ctx, ledger))
