"""A run, rendered from the ledger alone: strategies and traces, plan, order timelines, fills, portfolio.

Everything comes from what the ledger recorded, so a report can be produced long after the run, on another
machine, and it shows what happened rather than what the code would do today.
"""

from __future__ import annotations

import html
from typing import Annotated, Any

from typing_extensions import TypedDict  # the TypedDict pydantic accepts on 3.11

from alchemiser.errors import AlchemiserError
from alchemiser.formatting import money, pct, price, qty
from alchemiser.ledger import Ledger, RunRow, jsonable
from alchemiser.ledger.views import (
    FillJson,
    LedgerShowJson,
    OrderJson,
    OrderTimelineJson,
    PlanLineJson,
    RecordedSignalJson,
    RunJson,
    SnapshotJson,
)
from alchemiser.reporting.quality import ExecutionSummaryJson, order_quality, summarise


def _weights(snapshot: SnapshotJson | None) -> dict[str, float]:
    if not snapshot:
        return {}
    equity = float(snapshot["account"]["equity"])
    if equity <= 0:
        return {}
    return {p["symbol"]: float(p["market_value"]) / equity for p in snapshot["positions"]}


def require_run(ledger: Ledger, run_id: str) -> RunRow:
    """The recorded run, or an error naming it: an unknown id must not look like a run with no orders."""
    run = ledger.run(run_id)
    if run is None:
        raise AlchemiserError(f"no run {run_id!r} in the ledger (see `alchemiser ledger runs`)")
    return run


class RunReportJson(TypedDict):
    """`report [RUN] --json`: one run as the ledger recorded it, with weights and execution quality."""

    run: RunJson
    strategies: list[RecordedSignalJson]
    targets: Annotated[dict[str, float], "symbol → target weight (0–1), from the run's summary"]
    plan: list[PlanLineJson]
    orders: list[OrderTimelineJson]
    fills: list[FillJson]
    before: Annotated[SnapshotJson | None, "null when the run stopped before reading the account"]
    after: Annotated[SnapshotJson | None, "null when the run did not get to trade"]
    weights_before: Annotated[dict[str, float], "symbol → weight of equity before trading (0–1)"]
    weights_after: Annotated[dict[str, float], "symbol → weight of equity after trading (0–1)"]
    execution: ExecutionSummaryJson
    warnings: Annotated[list[str], "the run's warnings, from its summary"]


def ledger_record(ledger: Ledger, run: RunRow) -> LedgerShowJson:
    """`ledger show`: everything recorded about one run, in its JSON form."""
    run_id = run.run_id
    record: LedgerShowJson = jsonable(
        {
            "run": run,
            "signals": ledger.signals(run_id),
            "plan": ledger.plan(run_id),
            "orders": [{**o.as_dict(), "events": ledger.events(o.client_order_id)} for o in ledger.orders(run_id)],
            "fills": ledger.fills(run_id),
            "before": ledger.snapshot(run_id, "before"),
            "after": ledger.snapshot(run_id, "after"),
        }
    )
    return record


def build_run_report(ledger: Ledger, run_id: str | None = None) -> RunReportJson:
    """The latest run when `run_id` is None."""
    if run_id is None:
        latest = ledger.runs(1)
        if not latest:
            raise AlchemiserError("the ledger has no runs yet; run `alchemiser trade` first")
        run_id = latest[0].run_id
    run = require_run(ledger, run_id)
    orders = ledger.orders(run_id)
    record = ledger_record(ledger, run)
    summary = run.summary or {}
    return {
        "run": record["run"],
        "strategies": record["signals"],
        "targets": summary.get("targets", {}),
        "plan": record["plan"],
        "orders": record["orders"],
        "fills": record["fills"],
        "before": record["before"],
        "after": record["after"],
        "weights_before": _weights(record["before"]),
        "weights_after": _weights(record["after"]),
        "execution": summarise(order_quality(ledger, orders)),
        "warnings": summary.get("warnings", []),
    }


def _esc(value: Any) -> str:
    return html.escape("—" if value is None else str(value))


def _amount(order: OrderJson) -> str:
    """An order's size: shares, or dollars for a notional order."""
    return qty(order["qty"]) if order.get("qty") is not None else money(order.get("notional"))


def render_html(report: RunReportJson) -> str:
    run = report["run"]
    strategies = "".join(
        f"<h3>{_esc(s['name'])} ({pct(s.get('share'))})</h3>"
        + (f"<p class='bad'>failed: {_esc(s.get('error'))}</p>" if s.get("error") else "")
        + "<pre>"
        + "\n".join("  " * int(t["depth"]) + _esc(t["text"]) for t in s.get("trace") or [])
        + "</pre>"
        for s in report["strategies"]
    )
    plan = "".join(
        f"<tr><td>{_esc(p['symbol'])}</td><td>{pct(p.get('current_weight'))}</td><td>{pct(p.get('target_weight'))}</td>"
        f"<td>{money(p.get('trade_value'), signed=True)}</td><td>{_esc(p.get('action'))}</td>"
        f"<td>{_esc(p.get('reason'))}</td></tr>"
        for p in report["plan"]
    )
    orders = "".join(
        f"<tr><td>{_esc(o['client_order_id'])}</td><td>{_esc(o['phase'])}</td><td>{_esc(o['side'])}</td>"
        f"<td>{_esc(o['symbol'])}</td><td>{_esc(o['type'])}</td><td>{_amount(o)}</td>"
        f"<td>{price(o.get('limit_price'))}</td><td>{_esc(o['status'])}</td><td>{qty(o['filled_qty'])}</td>"
        f"<td>{price(o.get('filled_avg_price'))}</td><td>"
        + "<br>".join(f"{_esc(e['at'])[11:23]} {_esc(e['event'])} {_esc(e.get('qty') or '')}" for e in o["events"])
        + "</td></tr>"
        for o in report["orders"]
    )
    symbols = sorted(set(report["weights_before"]) | set(report["weights_after"]) | set(report["targets"]))
    portfolio = "".join(
        f"<tr><td>{_esc(s)}</td><td>{pct(report['weights_before'].get(s, 0))}</td>"
        f"<td>{pct(report['targets'].get(s, 0))}</td><td>{pct(report['weights_after'].get(s, 0))}</td></tr>"
        for s in symbols
    )
    execution = report["execution"]
    cost = execution.get("avg_cost_bps")
    market = execution.get("avg_market_cost_bps")
    warnings = "".join(f"<li>{_esc(w)}</li>" for w in report["warnings"])
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Run {_esc(run["run_id"])}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:3px 8px;font-size:90%;vertical-align:top}}.bad{{color:#b00}}</style></head><body>
<h1>Run {_esc(run["run_id"])}: {_esc(run["status"])}</h1>
<p>{_esc(run["mode"])} / {_esc(run["broker"])} · trading day {_esc(run["trading_day"])}
· started {_esc(run["started_at"])} · {_esc(run["message"])}</p>
<h2>Strategies</h2>{strategies}
<h2>Plan</h2><table><tr><th>symbol</th><th>current</th><th>target</th><th>trade $</th><th>action</th>
<th>reason</th></tr>{plan}</table>
<h2>Orders</h2><table><tr><th>client order id</th><th>phase</th><th>side</th><th>symbol</th><th>type</th>
<th>qty / $</th><th>limit</th><th>status</th><th>filled</th><th>avg</th><th>timeline (UTC)</th></tr>{orders}</table>
<h2>Execution quality</h2><p>average cost vs arrival mid: {"—" if cost is None else f"{cost:.2f} bps"}
(market orders would have paid {"—" if market is None else f"{market:.2f} bps"});
limit fallbacks to market: {execution.get("limit_fallbacks")}</p>
<h2>Portfolio</h2><table><tr><th>symbol</th><th>before</th><th>target</th><th>after</th></tr>{portfolio}</table>
{f"<h2>Warnings</h2><ul>{warnings}</ul>" if warnings else ""}
</body></html>"""
