"""`trade`, `plan`, `status` and `sim reset`: one run against the configured broker."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import typer
from rich.table import Table

from alchemiser.cli.app import (
    BrokerOption,
    JsonFlag,
    LiveOption,
    app,
    console,
    err_console,
    is_quiet,
    pct,
    print_json,
    settings_of,
    sim_app,
    weights_table,
)
from alchemiser.cli.strategy_cmds import render_signals
from alchemiser.models import RunStatus
from alchemiser.signals import build_market

STATUS_COLOURS = {RunStatus.OK: "green", RunStatus.NOTHING_TO_DO: "green", RunStatus.ALREADY_RAN: "yellow"}


@app.command()
def trade(
    ctx: typer.Context,
    broker: BrokerOption = None,
    force: Annotated[bool, typer.Option("--force", help="Run even if this session already had a run.")] = False,
    when_due: Annotated[
        bool, typer.Option("--when-due", help="Only trade inside the scheduled window before today's close (cron).")
    ] = False,
    live: LiveOption = False,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm --live without the interactive prompt.")] = False,
    json_out: JsonFlag = False,
) -> None:
    """One full run: signals, plan, sells, wait for fills, buys, and the resulting weights."""
    from alchemiser.runner import run_trade
    from alchemiser.scheduling import due_session

    settings = settings_of(ctx)
    if live:
        if (broker or settings.broker) != "alpaca":
            err_console.print("--live needs the alpaca broker (--broker alpaca)")
            raise typer.Exit(2)
        if not yes and not typer.confirm("Trade with REAL MONEY on your live Alpaca account?", default=False):
            err_console.print("live trading not confirmed; nothing was done")
            raise typer.Exit(1)
    if when_due and due_session(dt.datetime.now(dt.UTC), settings.schedule) is None:
        if not json_out:
            console.print("not due: outside the run window before an NYSE close")
        return
    progress = None if json_out or is_quiet(ctx) else (lambda message: console.print(f"  {message}", highlight=False))
    run = run_trade(settings, broker, progress, force=force, live=live)
    if json_out:
        print_json(run.as_dict())
    else:
        if run.signals is not None:
            render_signals(run.signals)
        if run.plan is not None:
            render_plan(run.plan)
        if run.execution is not None:
            table = Table(title="Orders")
            for column in ("client order id", "side", "symbol", "type", "status", "filled", "avg price"):
                table.add_column(column)
            for o in run.execution.orders:
                table.add_row(
                    o.client_order_id, o.side, o.symbol, o.type, o.status, o.filled_qty, o.filled_avg_price or "—"
                )
            console.print(table)
        if run.weights_after:
            console.print(weights_table("Target vs actual", run.targets, run.weights_before, run.weights_after))
            console.print(f"cash {pct(run.cash_after_weight)} of equity ${float(run.equity_after or 0):,.2f}")
        colour = STATUS_COLOURS.get(run.status, "red")
        for notice in run.notices:  # execution warnings were shown as they happened; these come after the run
            console.print(f"[yellow]warning:[/] {notice}", highlight=False)
        label = f"run {run.run_id}: {run.status}" if run.run_id else run.status
        console.print(f"[bold {colour}]{label}[/] — {run.message}", highlight=False)
    if run.status.exit_code:
        raise typer.Exit(run.status.exit_code)


def render_plan(plan: Any) -> None:
    table = Table(
        title=f"Rebalance plan (equity ${plan.equity:,.2f}, cash ${plan.cash:,.2f}, buffer ${plan.buffer:,.2f})"
    )
    for column in ("symbol", "current", "target", "current $", "target $", "trade $", "action", "reason"):
        table.add_column(column, justify="right" if "$" in column or column in ("current", "target") else "left")
    for i in plan.items:
        table.add_row(
            i.symbol,
            pct(i.current_weight),
            pct(i.target_weight),
            f"{i.current_value:,.2f}",
            f"{i.target_value:,.2f}",
            f"{i.trade_value:+,.2f}",
            i.action,
            i.reason,
        )
    console.print(table)


@app.command()
def plan(ctx: typer.Context, broker: BrokerOption = None, live: LiveOption = False, json_out: JsonFlag = False) -> None:
    """The rebalance plan against the configured broker, without trading."""
    from alchemiser.runner import plan_only

    report, target, trade_plan, _account = plan_only(settings_of(ctx), broker, live)
    if json_out:
        print_json(
            {
                "as_of": report.as_of.isoformat(),
                "target": target,
                "plan": trade_plan.as_dict() if trade_plan else None,
                "strategies": [s.as_dict() for s in report.strategies],
            }
        )
    else:
        render_signals(report)
        if trade_plan is not None:
            render_plan(trade_plan)
    if trade_plan is None:
        raise typer.Exit(1)


@app.command()
def status(
    ctx: typer.Context, broker: BrokerOption = None, live: LiveOption = False, json_out: JsonFlag = False
) -> None:
    """Account, positions with weights and P&L, and open orders."""
    from alchemiser.runner import account_status

    info = account_status(settings_of(ctx), broker, live)
    if json_out:
        print_json(info)
        return
    acct = info["account"]
    console.print(
        f"[bold]{info['broker']}[/] account {acct['account_id']}: equity ${acct['equity']}, cash ${acct['cash']}"
    )
    table = Table(title="Positions")
    for column in ("symbol", "qty", "price", "value", "weight", "P&L"):
        table.add_column(column, justify="right" if column != "symbol" else "left")
    for p in info["positions"]:
        table.add_row(
            p["symbol"], p["qty"], p["current_price"], p["market_value"], pct(p["weight"]), p["unrealized_pl"]
        )
    console.print(table)
    if info["open_orders"]:
        orders = Table(title="Open orders")
        for column in ("client order id", "side", "symbol", "type", "qty", "status"):
            orders.add_column(column)
        for o in info["open_orders"]:
            orders.add_row(o["client_order_id"], o["side"], o["symbol"], o["type"], str(o["qty"]), o["status"])
        console.print(orders)
    else:
        console.print("no open orders")


@sim_app.command("reset")
def sim_reset(
    ctx: typer.Context,
    cash: Annotated[
        float | None, typer.Option(help="Starting cash (default: the configured sim.starting_cash).")
    ] = None,
) -> None:
    """Wipe the simulated account back to its starting cash (positions and orders are removed)."""
    from decimal import Decimal

    from alchemiser.execution.sim import SimBroker, valid_starting_cash

    starting = None
    if cash is not None:
        try:
            starting = valid_starting_cash(Decimal(str(cash)))
        except ValueError as exc:
            err_console.print(f"--cash: {exc} (got {cash})", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
    settings = settings_of(ctx)
    with SimBroker(build_market(settings), settings.home / "sim.sqlite", settings.sim) as broker:
        broker.reset(starting)
        account = broker.get_account()
    console.print(f"simulated account reset: cash ${account.cash:,.2f}")
