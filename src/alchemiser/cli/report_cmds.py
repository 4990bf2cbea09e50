"""`ledger …` and `report`: what happened, read back from the ledger."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.tree import Tree

from alchemiser.cli.app import (
    JsonFlag,
    app,
    console,
    err_console,
    ledger_app,
    open_ledger,
    print_json,
    weights_table,
)


@ledger_app.command("runs")
def ledger_runs(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, help="How many of the latest runs.")] = 20,
    json_out: JsonFlag = False,
) -> None:
    """The latest runs."""
    from alchemiser.ledger import jsonable

    with open_ledger(ctx) as ledger:
        runs = ledger.runs(limit)
    if json_out:
        print_json([jsonable(r.as_dict()) for r in runs])
        return
    table = Table(title="Runs")
    for column in ("run id", "started", "mode", "broker", "status", "message"):
        table.add_column(column)
    for r in runs:
        table.add_row(r.run_id, str(r.started_at)[:19], r.mode, r.broker, r.status, r.message)
    console.print(table)


@ledger_app.command("show")
def ledger_show(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="A run id from `ledger runs`.")],
    json_out: JsonFlag = False,
) -> None:
    """Everything recorded about one run: signals, plan, orders with their events, snapshots."""
    from alchemiser.ledger import jsonable

    with open_ledger(ctx) as ledger:
        run = ledger.run(run_id)
        if run is None:
            err_console.print(f"no run {run_id!r}")
            raise typer.Exit(1)
        orders = ledger.orders(run_id)
        payload = {
            "run": run.as_dict(),
            "signals": ledger.signals(run_id),
            "plan": ledger.plan(run_id),
            "orders": [{**o.as_dict(), "events": ledger.events(o.client_order_id)} for o in orders],
            "fills": ledger.fills(run_id),
            "before": ledger.snapshot(run_id, "before"),
            "after": ledger.snapshot(run_id, "after"),
        }
    if json_out:
        print_json(jsonable(payload))
        return
    console.print(f"[bold]run {run.run_id}[/] {run.mode}/{run.broker} {run.status}: {run.message}")
    for signal in payload["signals"]:
        console.print(f"  {signal['name']}: {signal.get('weights') or signal.get('error')}")
    orders_table(orders)


def orders_table(orders: list[Any]) -> None:
    table = Table(title="Orders")
    for column in ("client order id", "phase", "side", "symbol", "type", "qty / $", "limit", "status", "filled", "avg"):
        table.add_column(column)
    for o in orders:
        amount = str(o.qty) if o.qty is not None else f"${o.notional}"
        table.add_row(
            o.client_order_id,
            o.phase,
            str(o.side),
            o.symbol,
            str(o.type),
            amount,
            str(o.limit_price or "—"),
            o.status,
            str(o.filled_qty),
            str(o.filled_avg_price or "—"),
        )
    console.print(table)


@ledger_app.command("orders")
def ledger_orders(
    ctx: typer.Context,
    run_id: Annotated[str | None, typer.Option("--run", help="Only this run's orders.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="How many of the latest orders.")] = 50,
    json_out: JsonFlag = False,
) -> None:
    """Orders across runs, latest last."""
    from alchemiser.ledger import jsonable
    from alchemiser.reporting.run_report import require_run

    with open_ledger(ctx) as ledger:
        if run_id is not None:
            require_run(ledger, run_id)
        orders = ledger.orders(run_id, limit)
    if json_out:
        print_json([jsonable(o.as_dict()) for o in orders])
    else:
        orders_table(orders)


# -- reports and operations ------------------------------------------------------------------------------
@app.command()
def report(
    ctx: typer.Context,
    run_id: Annotated[str | None, typer.Argument(help="A run id (default: the latest run).")] = None,
    html_file: Annotated[Path | None, typer.Option("--html", help="Also write a self-contained HTML report.")] = None,
    execution: Annotated[
        bool, typer.Option("--execution", help="Execution quality: fills vs arrival mid, across runs or for RUN_ID.")
    ] = False,
    since: Annotated[
        dt.datetime | None, typer.Option(formats=["%Y-%m-%d"], help="With --execution: runs on or after this day.")
    ] = None,
    json_out: JsonFlag = False,
) -> None:
    """Render a run from the ledger (strategies, traces, plan, order timelines, fills, portfolio)."""
    from alchemiser.ledger import jsonable
    from alchemiser.reporting.quality import execution_report
    from alchemiser.reporting.run_report import build_run_report, render_html, require_run

    if since is not None and not execution:
        err_console.print("--since applies to --execution only")
        raise typer.Exit(2)
    with open_ledger(ctx) as ledger:
        if execution:
            if run_id is not None:
                require_run(ledger, run_id)
            data = execution_report(ledger, run_id, since.date() if since else None)
            if json_out:
                print_json(jsonable(data))
            else:
                _render_execution(data)
            return
        data = build_run_report(ledger, run_id)
    if html_file is not None:
        _write_html(html_file, render_html(data))
    if json_out:
        print_json(data)
        return
    run = data["run"]
    console.print(f"[bold]run {run['run_id']}[/] {run['mode']}/{run['broker']} {run['status']}: {run['message']}")
    for strategy in data["strategies"]:
        tree = Tree(f"[bold cyan]{strategy['name']}[/]")
        for step in strategy.get("trace") or []:
            tree.add(("  " * int(step["depth"])) + step["text"])
        if strategy.get("error"):
            tree.add(f"[red]FAILED: {strategy['error']}[/]")
        console.print(tree)
    table = Table(title="Orders")
    for column in ("client order id", "side", "symbol", "type", "status", "filled", "avg", "events"):
        table.add_column(column)
    for o in data["orders"]:
        events = " → ".join(e["event"] for e in o["events"])
        table.add_row(
            o["client_order_id"],
            o["side"],
            o["symbol"],
            o["type"],
            o["status"],
            o["filled_qty"],
            o.get("filled_avg_price") or "—",
            events,
        )
    console.print(table)
    console.print(weights_table("Portfolio", data["targets"], data["weights_before"], data["weights_after"]))
    if html_file is not None:
        console.print(f"HTML report written to {html_file}")


def _write_html(path: Path, html: str) -> None:
    """A missing folder or a directory given as the file is the user's to fix: say so on one line."""
    try:
        path.write_text(html, encoding="utf-8")
    except OSError as exc:
        message = f"--html {path}: cannot write the report: {exc.strerror or exc}"
        err_console.print(message, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


def _render_execution(data: dict[str, Any]) -> None:
    summary = data["summary"]
    table = Table(title="Execution quality (vs arrival mid)")
    for column in ("order", "side", "symbol", "type", "fill", "mid", "cost bps", "of spread", "market bps", "secs"):
        table.add_column(column)

    def num(value: Any, fmt: str) -> str:
        return "—" if value is None else format(value, fmt)

    for o in data["orders"]:
        table.add_row(
            o["client_order_id"],
            o["side"],
            o["symbol"],
            o["type"],
            num(o["fill_price"], ".4f"),
            num(o["arrival_mid"], ".4f"),
            num(o["cost_bps"], ".2f"),
            num(o["spread_fraction"], ".2f"),
            num(o["market_cost_bps"], ".2f"),
            num(o["seconds_to_fill"], ".2f"),
        )
    console.print(table)
    console.print(
        f"{summary['orders']} orders, ${summary['filled_notional']:,.2f} filled; average cost "
        f"{num(summary['avg_cost_bps'], '.2f')} bps vs {num(summary['avg_market_cost_bps'], '.2f')} bps for market "
        f"orders; {summary['limit_fallbacks']} of {summary['limit_orders']} limit orders fell back to market"
    )
