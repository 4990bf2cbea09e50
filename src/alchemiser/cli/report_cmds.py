"""`ledger …` and `report`: what happened, read back from the ledger."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.text import Text

from alchemiser.cli.app import (
    NUMERIC,
    JsonFlag,
    app,
    console,
    err_console,
    ledger_app,
    open_ledger,
    print_json,
    weights_table,
)
from alchemiser.cli.render import new_table, show, tree
from alchemiser.formatting import money, number, pct, price, qty

if TYPE_CHECKING:
    from alchemiser.ledger.views import FillJson, PlanLineJson, RecordedSignalJson, SnapshotJson
    from alchemiser.reporting.quality import ExecutionReportJson


def _run_id(value: str | None) -> str | None:
    """An empty run id is a mistake (a shell variable that was never set), not "the latest run"."""
    if value is not None and not value.strip():
        raise typer.BadParameter("must be a run id from `alchemiser ledger runs`, not an empty string")
    return value


LimitOption = Annotated[int, typer.Option(min=1, max=1_000_000, help="How many of the latest.")]


@ledger_app.command("runs")
def ledger_runs(
    ctx: typer.Context,
    limit: LimitOption = 20,
    json_out: JsonFlag = False,
) -> None:
    """The latest runs."""
    with open_ledger(ctx) as ledger:
        runs = ledger.runs(limit)
    if json_out:
        print_json([r.as_dict() for r in runs])
        return
    table = new_table(console, "Runs", ("run id", "started", "mode", "broker", "status", "message"))
    for r in runs:
        table.add_row(r.run_id, str(r.started_at)[:19], r.mode, r.broker, r.status, r.message)
    show(console, table)


@ledger_app.command("show")
def ledger_show(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="A run id from `ledger runs`.", callback=_run_id)],
    json_out: JsonFlag = False,
) -> None:
    """Everything recorded about one run: signals, plan, orders with their events, snapshots."""
    from alchemiser.reporting.run_report import ledger_record

    with open_ledger(ctx) as ledger:
        run = ledger.run(run_id)
        if run is None:
            err_console.print(f"no run {run_id!r} in the ledger (see `alchemiser ledger runs`)", markup=False)
            raise typer.Exit(1)
        orders = ledger.orders(run_id)
        record = ledger_record(ledger, run)
    if json_out:
        print_json(record)
        return
    show(console, f"[bold]run {run.run_id}[/] {run.mode}/{run.broker} {run.status}: {escape(run.message)}")
    show(console, f"trading day {run.trading_day}, started {run.started_at}, config {run.config_digest}")
    _signals_section(record["signals"])
    _plan_section(record["plan"])
    orders_table(orders)
    _fills_section(record["fills"])
    _snapshot_section("before", record["before"])
    _snapshot_section("after", record["after"])


def _signals_section(signals: list[RecordedSignalJson]) -> None:
    """One line per strategy: its share and weights, or why it failed."""
    show(console, "[bold]Signals[/]")
    for signal in signals:
        outcome = (
            f"FAILED: {signal['error']}"
            if signal.get("error")
            else ", ".join(f"{s} {pct(w, 1)}" for s, w in (signal.get("weights") or {}).items()) or "nothing"
        )
        show(console, Text(f"  {signal['name']} ({pct(signal.get('share'), 0)}): {outcome}"))


def _plan_section(plan: list[PlanLineJson]) -> None:
    if not plan:
        show(console, "no plan recorded")
        return
    columns = ("symbol", "current", "target", "trade $", "action", "reason")
    table = new_table(console, "Plan", columns, NUMERIC)
    for p in plan:
        table.add_row(
            p["symbol"],
            pct(p.get("current_weight")),
            pct(p.get("target_weight")),
            money(p.get("trade_value"), signed=True),
            str(p.get("action")),
            str(p.get("reason") or ""),
        )
    show(console, table)


def _fills_section(fills: list[FillJson]) -> None:
    if not fills:
        return
    table = new_table(console, "Fills", ("at", "client order id", "side", "symbol", "qty", "price"), NUMERIC)
    for f in fills:
        table.add_row(
            f["at"][:23].replace("T", " "),
            f["client_order_id"],
            str(f["side"]),
            f["symbol"],
            qty(f["qty"]),
            price(f["price"]),
        )
    show(console, table)


def _snapshot_section(kind: str, snapshot: SnapshotJson | None) -> None:
    if not snapshot:
        return
    account = snapshot["account"]
    title = f"Account {kind}: equity {money(account.get('equity'))}, cash {money(account.get('cash'))}"
    if not snapshot.get("positions"):
        show(console, f"{title}; no positions")
        return
    table = new_table(console, title, ("symbol", "qty", "price", "value"), NUMERIC)
    for p in snapshot["positions"]:
        table.add_row(p["symbol"], qty(p.get("qty")), price(p.get("current_price")), money(p.get("market_value")))
    show(console, table)


def orders_table(orders: list[Any]) -> None:
    columns = ("client order id", "phase", "side", "symbol", "type", "qty / $", "limit", "status", "filled", "avg")
    table = new_table(console, "Orders", columns, NUMERIC)
    for o in orders:
        amount = qty(o.qty) if o.qty is not None else money(o.notional)
        table.add_row(
            o.client_order_id,
            o.phase,
            str(o.side),
            o.symbol,
            str(o.type),
            amount,
            price(o.limit_price),
            o.status,
            qty(o.filled_qty),
            price(o.filled_avg_price),
        )
    show(console, table)


@ledger_app.command("orders")
def ledger_orders(
    ctx: typer.Context,
    run_id: Annotated[str | None, typer.Option("--run", help="Only this run's orders.", callback=_run_id)] = None,
    limit: LimitOption = 50,
    json_out: JsonFlag = False,
) -> None:
    """Orders across runs, latest last."""
    with open_ledger(ctx) as ledger:
        if run_id is not None and ledger.run(run_id) is None:
            err_console.print(f"--run: no run {run_id!r} in the ledger (see `alchemiser ledger runs`)", markup=False)
            raise typer.Exit(1)
        orders = ledger.orders(run_id, limit)
    if json_out:
        print_json([o.as_dict() for o in orders])
    else:
        orders_table(orders)


# -- reports and operations ------------------------------------------------------------------------------
@app.command()
def report(
    ctx: typer.Context,
    run_id: Annotated[str | None, typer.Argument(help="A run id (default: the latest run).", callback=_run_id)] = None,
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
    from alchemiser.reporting.quality import execution_report
    from alchemiser.reporting.run_report import build_run_report, render_html, require_run

    if since is not None and not execution:
        err_console.print("--since applies to --execution only")
        raise typer.Exit(2)
    if html_file is not None:
        _check_html_target(html_file)
    with open_ledger(ctx) as ledger:
        if execution:
            if run_id is not None:
                require_run(ledger, run_id)
            quality = execution_report(ledger, run_id, since.date() if since else None)
            if json_out:
                print_json(quality)
            else:
                _render_execution(quality)
            return
        data = build_run_report(ledger, run_id)
    if html_file is not None:
        _write_html(html_file, render_html(data))
    if json_out:
        print_json(data)
        return
    run = data["run"]
    show(
        console, f"[bold]run {run['run_id']}[/] {run['mode']}/{run['broker']} {run['status']}: {escape(run['message'])}"
    )
    for strategy in data["strategies"]:
        steps: list[tuple[int, str | Text]] = [(int(t["depth"]), t["text"]) for t in strategy.get("trace") or []]
        if strategy.get("error"):
            steps.append((0, Text(f"FAILED: {strategy['error']}", style="red")))
        show(console, tree(console, Text(strategy["name"], style="bold cyan"), steps))
    columns = ("client order id", "side", "symbol", "type", "status", "filled", "avg", "events")
    table = new_table(console, "Orders", columns, NUMERIC)
    for o in data["orders"]:
        events = " → ".join(e["event"] for e in o["events"])
        table.add_row(
            o["client_order_id"],
            o["side"],
            o["symbol"],
            o["type"],
            o["status"],
            qty(o["filled_qty"]),
            price(o.get("filled_avg_price")),
            events,
        )
    show(console, table)
    show(console, weights_table("Portfolio", data["targets"], data["weights_before"], data["weights_after"]))
    if html_file is not None:
        show(console, Text(f"HTML report written to {html_file}"))


def _html_refused(path: Path, why: str) -> typer.Exit:
    err_console.print(f"--html {path}: cannot write the report: {why}", markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(2)


def _check_html_target(path: Path) -> None:
    """Refuse an unusable `--html` before any work, so the message is about the flag, not the ledger."""
    if path.is_dir():
        raise _html_refused(path, "it is a folder")
    if not path.parent.is_dir():
        raise _html_refused(path, f"folder {path.parent} does not exist")


def _write_html(path: Path, html: str) -> None:
    """A missing folder or a directory given as the file is the user's to fix: say so on one line."""
    try:
        path.write_text(html, encoding="utf-8")
    except OSError as exc:
        raise _html_refused(path, exc.strerror or str(exc)) from None


def _render_execution(data: ExecutionReportJson) -> None:
    summary = data["summary"]
    columns = ("order", "side", "symbol", "type", "fill", "mid", "cost bps", "of spread", "market bps", "secs")
    table = new_table(console, "Execution quality (vs arrival mid)", columns, NUMERIC)
    for o in data["orders"]:
        table.add_row(
            o["client_order_id"],
            o["side"],
            o["symbol"],
            o["type"],
            price(o["fill_price"], 4),
            price(o["arrival_mid"], 4),
            number(o["cost_bps"]),
            number(o["spread_fraction"]),
            number(o["market_cost_bps"]),
            number(o["seconds_to_fill"]),
        )
    show(console, table)
    show(
        console,
        f"{summary['orders']} orders, {money(summary['filled_notional'])} filled; average cost "
        f"{number(summary['avg_cost_bps'])} bps vs {number(summary['avg_market_cost_bps'])} bps for market "
        f"orders; {summary['limit_fallbacks']} of {summary['limit_orders']} limit orders fell back to market",
    )
