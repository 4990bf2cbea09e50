"""`trade`, `plan`, `status` and `sim reset`: one run against the configured broker."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import typer
from rich.markup import escape

from alchemiser.cli.app import (
    NUMERIC,
    BrokerOption,
    JsonFlag,
    LiveOption,
    app,
    console,
    err_console,
    print_json,
    require_alpaca_for_live,
    run_progress,
    settings_of,
    sim_app,
    weights_table,
)
from alchemiser.cli.render import new_table, show
from alchemiser.cli.strategy_cmds import PriceOption, price_of, render_signals
from alchemiser.formatting import CENT, money, pct, price, qty
from alchemiser.models import RunStatus

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
    price_flag: PriceOption = None,
    json_out: JsonFlag = False,
) -> None:
    """One full run: signals, plan, sells, wait for fills, buys, and the resulting weights."""
    from alchemiser.runner import run_trade
    from alchemiser.scheduling import due_session

    settings = settings_of(ctx)
    mode = price_of(price_flag)
    require_alpaca_for_live(live, broker or settings.broker)
    if live and not yes and not typer.confirm("Trade with REAL MONEY on your live Alpaca account?", default=False):
        err_console.print("live trading not confirmed; nothing was done")
        raise typer.Exit(1)
    if when_due and due_session(dt.datetime.now(dt.UTC), settings.schedule) is None:
        if not json_out:
            console.print("not due: outside the run window before an NYSE close")
        return
    progress = run_progress(ctx, json_out)
    run = run_trade(settings, broker, progress, force=force, live=live, price=mode)
    if json_out:
        print_json(run.to_json())
    else:
        if run.signals is not None:
            render_signals(run.signals)
        if run.plan is not None:
            render_plan(run.plan)
        if run.execution is not None:
            columns = ("client order id", "side", "symbol", "type", "status", "filled", "avg price")
            table = new_table(console, "Orders", columns, NUMERIC)
            for o in run.execution.orders:
                table.add_row(
                    o.client_order_id, o.side, o.symbol, o.type, o.status, qty(o.filled_qty), price(o.filled_avg_price)
                )
            show(console, table)
        if run.weights_after:
            show(console, weights_table("Target vs actual", run.targets, run.weights_before, run.weights_after))
            show(console, f"cash {pct(run.cash_after_weight)} of equity {money(run.equity_after)}")
        colour = STATUS_COLOURS.get(run.status, "red")
        for notice in run.notices:  # execution warnings were shown as they happened; these come after the run
            show(console, f"[yellow]warning:[/] {escape(notice)}")
        label = f"run {run.run_id}: {run.status}" if run.run_id else run.status
        show(console, f"[bold {colour}]{escape(label)}[/] — {escape(run.message)}")
    if run.status.exit_code:
        raise typer.Exit(run.status.exit_code)


def render_plan(plan: Any) -> None:
    title = f"Rebalance plan (equity {money(plan.equity)}, cash {money(plan.cash)}, buffer {money(plan.buffer)})"
    columns = ("symbol", "current", "target", "current $", "target $", "trade $", "action", "reason")
    table = new_table(console, title, columns, NUMERIC)
    for i in plan.items:
        table.add_row(
            i.symbol,
            pct(i.current_weight),
            pct(i.target_weight),
            money(i.current_value),
            money(i.target_value),
            money(i.trade_value, signed=True),
            i.action,
            i.reason,
        )
    show(console, table)


@app.command()
def plan(
    ctx: typer.Context,
    broker: BrokerOption = None,
    live: LiveOption = False,
    price: PriceOption = None,
    json_out: JsonFlag = False,
) -> None:
    """The rebalance plan against the configured broker, without trading."""
    from alchemiser.runner import plan_only

    preview = plan_only(settings_of(ctx), broker, live, price_of(price))
    if json_out:
        print_json(preview.to_json())
    else:
        render_signals(preview.report)
        if preview.plan is not None:
            render_plan(preview.plan)
    if preview.plan is None:
        raise typer.Exit(1)


@app.command()
def status(
    ctx: typer.Context, broker: BrokerOption = None, live: LiveOption = False, json_out: JsonFlag = False
) -> None:
    """Account, positions with weights and P&L, and open orders."""
    from alchemiser.runner import account_status

    info = account_status(settings_of(ctx), broker, live)
    if json_out:
        print_json(info.to_json())
        return
    acct = info.account
    show(
        console,
        f"[bold]{info.broker}[/] account {acct.account_id}: equity {money(acct.equity)}, cash {money(acct.cash)}",
    )
    table = new_table(console, "Positions", ("symbol", "qty", "price", "value", "weight", "P&L"), NUMERIC)
    for p in info.positions:
        table.add_row(
            p.symbol,
            qty(p.qty),
            price(p.current_price),
            money(p.market_value.quantize(CENT)),
            pct(info.weights.get(p.symbol, 0.0)),
            money(p.unrealized_pl.quantize(CENT), signed=True),
        )
    show(console, table)
    if info.open_orders:
        columns = ("client order id", "side", "symbol", "type", "qty / $", "status")
        orders = new_table(console, "Open orders", columns, NUMERIC)
        for o in info.open_orders:
            amount = qty(o.qty) if o.qty is not None else money(o.notional)
            orders.add_row(o.client_order_id, str(o.side), o.symbol, str(o.type), amount, str(o.status))
        show(console, orders)
    else:
        show(console, "no open orders")


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
    from alchemiser.signals import build_market

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
    show(console, f"simulated account reset: cash {money(account.cash)}")
