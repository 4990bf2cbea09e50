"""`strategy pause|resume|list`, `liquidate` and `ledger actions`: the controls, from the command line.

Each is recorded in the ledger's control actions with source `cli` (or `web` when the dashboard started
the process, which it says in `ALCHEMISER_CONTROL_SOURCE`).
"""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer
from rich.markup import escape

from alchemiser.cli.app import (
    BrokerOption,
    JsonFlag,
    LiveOption,
    app,
    console,
    err_console,
    ledger_app,
    print_json,
    require_alpaca_for_live,
    run_progress,
    settings_of,
)
from alchemiser.cli.render import new_table, show
from alchemiser.cli.trading_cmds import STATUS_COLOURS, render_plan
from alchemiser.formatting import money, pct

SOURCE_ENV = "ALCHEMISER_CONTROL_SOURCE"
strategy_app = typer.Typer(help="Pause or resume a configured strategy (a paused one keeps its sleeve as held).")
app.add_typer(strategy_app, name="strategy")

NameArgument = Annotated[str, typer.Argument(help="A configured strategy's name (see `alchemiser config show`).")]


def _source() -> str:
    return "web" if os.environ.get(SOURCE_ENV) == "web" else "cli"


def _set(ctx: typer.Context, name: str, on: bool, json_out: bool) -> None:
    from alchemiser.pausing import set_paused

    if not name.strip():
        raise typer.BadParameter("NAME: must be a configured strategy's name, not an empty string")
    result = set_paused(settings_of(ctx), name, on, _source())
    if json_out:
        print_json(result)
    else:
        show(console, escape(result["message"]))


@strategy_app.command("pause")
def strategy_pause(ctx: typer.Context, name: NameArgument, json_out: JsonFlag = False) -> None:
    """Pause a strategy: runs stop deciding it and hold its sleeve as it is (drifting with prices)."""
    _set(ctx, name, True, json_out)


@strategy_app.command("resume")
def strategy_resume(ctx: typer.Context, name: NameArgument, json_out: JsonFlag = False) -> None:
    """Resume a paused strategy: the next run decides it again."""
    _set(ctx, name, False, json_out)


@strategy_app.command("list")
def strategy_list(ctx: typer.Context, json_out: JsonFlag = False) -> None:
    """The configured strategies, their shares, and which are paused since when."""
    from alchemiser.pausing import strategy_states

    rows = strategy_states(settings_of(ctx))
    if json_out:
        print_json(rows)
        return
    table = new_table(console, "Strategies", ("name", "share", "state", "source"), {"share"})
    for r in rows:
        state = f"paused since {r['paused_since'][:16]} UTC" if r["paused_since"] else "active"
        table.add_row(r["name"], pct(r["share"], 0), state, r["source"])
    show(console, table)


@app.command()
def liquidate(
    ctx: typer.Context,
    broker: BrokerOption = None,
    live: LiveOption = False,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm without the interactive prompt.")] = False,
    json_out: JsonFlag = False,
) -> None:
    """Sell every position (close-position for each, waiting for the fills), recorded as a run.

    The kill switch is left as it is: while it is on nothing is sold, and when it is off the next scheduled
    run buys back in (pause the strategies or turn the kill switch on to stay in cash)."""
    from alchemiser.liquidation import liquidate as sell_everything
    from alchemiser.pausing import audit

    settings = settings_of(ctx)
    label = broker or settings.broker
    require_alpaca_for_live(live, label)
    where = (
        "your LIVE Alpaca account (REAL MONEY)" if live else f"the {'simulated' if label == 'sim' else 'paper'} account"
    )
    if not yes and not _confirmed(f"Sell EVERY position on {where}?"):
        err_console.print("liquidation not confirmed; nothing was done")
        raise typer.Exit(1)
    progress = run_progress(ctx, json_out)
    run = sell_everything(settings, broker, progress, live=live)
    mode = "live" if live else "sim" if label == "sim" else "paper"
    audit(settings, "liquidate", {"broker": mode, "run_id": run.run_id}, _source(), f"{run.status}: {run.message}")
    if json_out:
        print_json(run.to_json())
    else:
        if run.plan is not None:
            render_plan(run.plan)
        if run.equity_after is not None:
            show(console, f"cash {pct(run.cash_after_weight)} of equity {money(run.equity_after)}")
        colour = STATUS_COLOURS.get(run.status, "red")
        show(console, f"[bold {colour}]run {escape(run.run_id)}: {run.status}[/] — {escape(run.message)}")
    if run.status.exit_code:
        raise typer.Exit(run.status.exit_code)


def _confirmed(question: str) -> bool:
    """The interactive yes/no; no terminal to answer it (end of input) counts as no."""
    try:
        return typer.confirm(question, default=False)
    except typer.Abort:
        return False


@ledger_app.command("actions")
def ledger_actions(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, max=1_000_000, help="How many of the latest.")] = 50,
    json_out: JsonFlag = False,
) -> None:
    """Control actions (kill switch, run now, pause/resume, liquidate), newest first, from web and CLI."""
    from alchemiser.ledger import controls
    from alchemiser.pausing import open_controls

    with open_controls(settings_of(ctx)) as ledger:
        rows = controls.actions(ledger, limit)
    if json_out:
        print_json([r.as_dict() for r in rows])
        return
    table = new_table(console, "Control actions", ("when (UTC)", "source", "action", "detail", "outcome"))
    for r in rows:
        table.add_row(r.at.strftime("%Y-%m-%d %H:%M:%S"), r.source, r.action, _detail(r.detail), r.outcome)
    show(console, table)


def _detail(detail: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in detail.items())
