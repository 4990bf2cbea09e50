"""Each strategy's virtual sleeve: its share of the account following only its own decisions.

The account holds a blend, so "how is nuclear doing?" has no broker answer. We replay the ledger's
recorded allocations instead: at each run a sleeve gets its share × the account's equity before that run,
buys the weights of its decision at that close and then HOLDS them — each holding's value moves with its
own close (split/dividend adjusted, the same closes the strategies read), so weights drift between
decisions exactly as a real position would, and are only reset by the next decision. Returns and
drawdowns are time-weighted (chained across runs); P&L and contribution add up what the market did to
each sleeve's holdings. Summing the sleeves and comparing with the account marked at the same close
shows what the blend did differently since the last run: its trading costs (recorded fills vs arrival
mid) and the rest (the account's own drift from its targets, the cash buffer, whole-share rounding).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import numpy as np
import pandas as pd

from alchemiser import market_calendar
from alchemiser.errors import AlchemiserError
from alchemiser.ledger import Ledger
from alchemiser.web import cache
from alchemiser.web.context import WebContext
from alchemiser.web.queries import _conn
from alchemiser.web.readonly import open_readonly

TRADED = ("ok", "nothing_to_do", "partial")


def _allocations(ledger: Ledger) -> list[tuple[dt.date, float, dict[str, tuple[float, dict[str, float]]]]]:
    """(decision day, account equity before, {strategy: (share, weights)}) per traded run, oldest first;
    when several runs decided the same day, the last one counts."""
    conn = _conn(ledger)
    rows = conn.execute(
        "SELECT r.run_id, r.trading_day, json_extract(r.summary_json, '$.as_of') AS as_of, s.account_json"
        " FROM runs r JOIN snapshots s ON s.run_id = r.run_id AND s.kind = 'before'"
        f" WHERE r.status IN ({', '.join('?' * len(TRADED))}) ORDER BY r.started_at",
        TRADED,
    ).fetchall()
    signals: dict[str, dict[str, tuple[float, dict[str, float]]]] = {}
    ids = [r["run_id"] for r in rows]
    for k in range(0, len(ids), 500):
        chunk = ids[k : k + 500]
        for s in conn.execute(
            "SELECT run_id, strategy, share, ok, weights_json FROM signals"
            f" WHERE run_id IN ({', '.join('?' * len(chunk))})",
            chunk,
        ):
            if s["ok"]:
                weights = {str(a): float(w) for a, w in (json.loads(s["weights_json"]) or {}).items()}
                signals.setdefault(s["run_id"], {})[s["strategy"]] = (float(s["share"] or 0), weights)
    by_day: dict[dt.date, tuple[dt.date, float, dict[str, tuple[float, dict[str, float]]]]] = {}
    for r in rows:
        if r["run_id"] not in signals:
            continue
        day = dt.date.fromisoformat(r["as_of"] or r["trading_day"])
        equity = float(json.loads(r["account_json"])["equity"])
        if day in by_day:  # the day's first equity (before any of its trading costs), its last decision
            equity = by_day[day][1]
        by_day[day] = (day, equity, signals[r["run_id"]])
    return [by_day[d] for d in sorted(by_day)]


def closes_frame(ctx: WebContext, symbols: set[str], start: dt.date, end: dt.date) -> pd.DataFrame:
    """Adjusted closes, one column per symbol the market data knows (the same source the strategies read)."""
    market = cache.market(ctx.settings)
    frames = {}
    for symbol in sorted(symbols):
        try:
            frames[symbol] = market.bars(symbol, start, end)["close"]
        except AlchemiserError:
            continue  # an unknown symbol earns nothing (reported as missing)
    return pd.DataFrame(frames)


def _current_weights(st: dict[str, Any]) -> dict[str, float]:
    """The sleeve's weights today: its decision's weights after they drifted with prices since."""
    value = float(st["value"])
    return {a: v / value for a, v in st["holdings"].items()} if value > 0 else {}


def replay(
    allocations: list[tuple[dt.date, float, dict[str, tuple[float, dict[str, float]]]]],
    days: list[dt.date],
    returns: pd.DataFrame,
) -> dict[str, dict[str, Any]]:
    """Each strategy's sleeve through `days`.

    At each decision the sleeve is re-based to its share of the account's equity before that run (what
    the run actually gave it) and buys its decision's weights at that close; between decisions it holds,
    so each holding moves with its own close and the weights drift. Its return is time-weighted (chained
    across decisions, so re-basing is not counted as gain or loss) and its P&L sums what the market did to
    its holdings, so the sleeves add up to the account up to costs and the account's own drift.
    """
    schedule = {day: (equity, sigs) for day, equity, sigs in allocations}
    state: dict[str, dict[str, Any]] = {}
    row = {d.date(): i for i, d in enumerate(pd.DatetimeIndex(returns.index))}
    columns = {str(c): returns[c].to_numpy(dtype=float) for c in returns.columns}
    for day in days:
        i = row.get(day)
        for st in state.values():  # each holding moves with its own close: weights drift until the next decision
            before = st["value"]
            holdings: dict[str, float] = st["holdings"]
            for asset, held in holdings.items():
                if i is not None and asset in columns:
                    holdings[asset] = held * (1.0 + float(columns[asset][i]))
            st["value"] = st["cash"] + sum(holdings.values())
            st["pnl"] += st["value"] - before
            st["index"] *= st["value"] / before if before > 0 else 1.0
            st["series"].append((day.isoformat(), st["value"]))
            st["growth"].append(st["index"])
        if day in schedule:
            equity, sigs = schedule[day]
            for name, (share, weights) in sigs.items():
                value = share * equity
                if name not in state:
                    state[name] = {"start": value, "started": day.isoformat(), "pnl": 0.0, "index": 1.0}
                    state[name].update(series=[(day.isoformat(), value)], growth=[1.0])
                st = state[name]
                st["series"][-1] = (day.isoformat(), value)  # re-based to what this run gave it
                st["value"], st["decided"], st["target"], st["share"] = value, day.isoformat(), weights, share
                st["holdings"] = {a: value * w for a, w in weights.items()}
                st["cash"] = value * (1.0 - sum(weights.values()))
    return state


def trading_costs(ledger: Ledger, day: dt.date) -> float:
    """Dollars the fills of the runs that decided `day` cost against the quote's mid at decision time
    (positive = paid): the part of the account-vs-sleeves gap since the sleeves were re-based that is
    execution, not drift. Earlier runs' costs are already in the equity the sleeves were re-based to."""
    decided = "coalesce(json_extract(r.summary_json, '$.as_of'), r.trading_day)"
    row = (
        _conn(ledger)
        .execute(
            "SELECT sum((CASE o.side WHEN 'buy' THEN 1.0 ELSE -1.0 END)"
            " * (CAST(o.filled_avg_price AS REAL) - (CAST(o.quote_bid AS REAL) + CAST(o.quote_ask AS REAL)) / 2)"
            " * CAST(o.filled_qty AS REAL)) FROM orders o JOIN runs r USING (run_id)"
            f" WHERE r.started_at >= (SELECT min(r.started_at) FROM runs r WHERE {decided} = ?)"
            " AND o.filled_avg_price IS NOT NULL AND o.quote_bid IS NOT NULL"
            " AND o.quote_ask IS NOT NULL AND CAST(o.quote_bid AS REAL) > 0",
            (day.isoformat(),),
        )
        .fetchone()
    )
    return float(row[0] or 0.0)


def sleeves(ctx: WebContext) -> dict[str, Any]:
    """Every strategy's sleeve and the reconciliation; recomputed only when a run starts or finishes, the
    data store changes, or another session closes."""
    from alchemiser.web.queries import ledger_marker

    with open_readonly(ctx.ledger) as ledger:
        if ledger is None:
            return {"empty": True, "strategies": [], "reconciliation": None}
        stamp = (ledger_marker(ledger), cache.store_stamp(ctx.settings), market_calendar.last_completed_session())
        return cache.memo(("sleeves", id(ctx.settings)), stamp, lambda: _sleeves(ctx, ledger))


def _sleeves(ctx: WebContext, ledger: Ledger) -> dict[str, Any]:
    from alchemiser.web.marks import cached_marks

    allocations = _allocations(ledger)
    latest = (
        _conn(ledger)
        .execute(
            "SELECT s.account_json, s.at, r.trading_day FROM snapshots s JOIN runs r USING (run_id)"
            " ORDER BY s.at DESC, s.kind ASC LIMIT 1"
        )
        .fetchone()
    )
    if not allocations or latest is None:
        return {"empty": True, "strategies": [], "reconciliation": None}
    costs = trading_costs(ledger, allocations[-1][0])
    try:
        marks = cached_marks(ctx, ledger)
    except AlchemiserError:
        marks = []
    first_day = allocations[0][0]
    end = max(first_day, market_calendar.last_completed_session())
    symbols = {a for _, _, sigs in allocations for _, w in sigs.values() for a in w}
    closes = closes_frame(ctx, symbols, first_day, end)
    days = [d.date() for d in market_calendar.sessions(first_day, end)]
    days = sorted(set(days) | {first_day})
    if not closes.empty:
        closes = closes.reindex(pd.DatetimeIndex(days)).ffill()
    returns = closes.pct_change().fillna(0.0) if not closes.empty else pd.DataFrame(index=pd.DatetimeIndex(days))
    start_equity = allocations[0][1]
    state = replay(allocations, days, returns)
    rows = []
    for name, st in state.items():
        growth = np.array(st["growth"])
        drawdown = float((growth / np.maximum.accumulate(growth) - 1.0).min()) if len(growth) else 0.0
        rows.append(
            {
                "name": name,
                "share": st["share"],
                "started": st["started"],
                "start_value": st["start"],
                "value": st["value"],
                "return": st["index"] - 1.0,
                "max_drawdown": drawdown,
                "pnl": st["pnl"],
                "contribution": st["pnl"] / start_equity,
                "weights": _current_weights(st),
                "target": st["target"],
                "decided": st["decided"],
                "series": st["series"],
            }
        )
    total = sum(r["value"] for r in rows)
    as_of = days[-1].isoformat()
    # compare like with like: the account marked at the same close as the sleeves — unless a run traded
    # after that close (today's run, deciding on it), whose snapshot then is the account the sleeves match
    mark = next((m for m in reversed(marks) if m["day"] == as_of), None)
    if mark is not None and str(latest["trading_day"]) <= as_of:
        account_equity, account_as_of = float(mark["equity"]), f"close of {as_of}"
    else:
        account_equity, account_as_of = float(json.loads(latest["account_json"])["equity"]), f"snapshot {latest['at']}"
    difference = account_equity - total
    return {
        "empty": False,
        "as_of": as_of,
        "start_equity": start_equity,
        "strategies": rows,
        "missing_symbols": sorted(symbols - set(closes.columns)),
        "reconciliation": {
            "sleeves_total": total,
            "account_equity": account_equity,
            "account_as_of": account_as_of,
            "difference": difference,
            "trading_costs": -costs,
            "drift": difference + costs,
            "since": allocations[-1][0].isoformat(),
            "explained_by": "since the last run, when the sleeves were re-based to the account: trading costs are "
            "that run's fills against the quote's mid when it was decided; the rest is the account drifting from "
            "its targets, its cash buffer and whole-share rounding",
        },
    }
