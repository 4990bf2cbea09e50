"""The `alchemiser` command line: parses options, calls the library, renders with Rich. No business logic."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table
from rich.tree import Tree

from alchemiser import __version__
from alchemiser.config import EXAMPLE_CONFIG, Settings, default_config_path, load_settings
from alchemiser.data.base import SAMPLE_NOTICE
from alchemiser.errors import AlchemiserError, SymphonyError
from alchemiser.signals import SignalReport, build_market, compute_signals
from alchemiser.strategies.symphony.compiler import SymphonyErrors, compile_file

app = typer.Typer(
    help="The Alchemiser: rule-based ETF/stock strategies (Composer-style symphonies) from data to trades.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
data_app = typer.Typer(help="Market data: the local store, imports and the synthetic sample market.")
config_app = typer.Typer(help="Show or create the configuration file.")
ledger_app = typer.Typer(help="What happened: runs, orders and fills recorded in the SQLite ledger.")
sim_app = typer.Typer(help="The built-in simulated broker's account.")
app.add_typer(data_app, name="data")
app.add_typer(config_app, name="config")
app.add_typer(ledger_app, name="ledger")
app.add_typer(sim_app, name="sim")

console = Console()
err_console = Console(stderr=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON only.")]


def _print_json(payload: Any) -> None:
    sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")


def _settings(ctx: typer.Context) -> Settings:
    obj = ctx.find_root().obj or {}
    settings = obj.get("settings")
    if settings is None:
        settings = load_settings(obj.get("config"))
        obj["settings"] = settings
        from alchemiser.logs import setup_logging

        setup_logging(settings.home, obj.get("verbosity", 0))
    return settings  # type: ignore[no-any-return]


def _version(value: bool) -> None:
    if value:
        console.print(f"alchemiser {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="Config file (default: $ALCHEMISER_HOME/config.toml).", dir_okay=False),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, help="More log output (-vv: debug).")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors on the console.")] = False,
) -> None:
    ctx.obj = {"config": config, "verbosity": -1 if quiet else verbose}


# -- signal ------------------------------------------------------------------------------------------------
def _render_signals(report: SignalReport) -> None:
    note = f"  [yellow]({SAMPLE_NOTICE})[/]" if report.uses_sample else ""
    console.print(f"[bold]Signals as of the close of {report.as_of}[/]{note}")
    for signal in report.strategies:
        title = f"[bold cyan]{signal.name}[/] ({signal.share:.0%} of the account) — {signal.source}"
        tree = Tree(title)
        if signal.error:
            tree.add(f"[red]FAILED: {signal.error}[/]")
            console.print(tree)
            continue
        nodes = {-1: tree}
        for step in signal.trace:
            parent = nodes.get(step.depth - 1, tree)
            colour = {"if": "white", "filter": "magenta", "asset": "green"}.get(step.kind, "blue")
            nodes[step.depth] = parent.add(f"[{colour}]{step.text}[/]")
            for deeper in [d for d in nodes if d > step.depth]:
                del nodes[deeper]
        console.print(tree)
        weights = ", ".join(f"{s} {w:.1%}" for s, w in (signal.weights or {}).items())
        console.print(f"  → {weights}")
    table = Table(title="Blended target", show_lines=False)
    table.add_column("symbol")
    table.add_column("weight", justify="right")
    for signal in report.strategies:
        table.add_column(signal.name, justify="right")
    if report.target is None:
        failed = ", ".join(s.name for s in report.strategies if s.error)
        console.print(f"[bold red]No target: {failed} failed; nothing would be traded (fail closed).[/]")
        return
    for symbol, weight in report.target.items():
        cells = [f"{(s.weights or {}).get(symbol, 0.0) * s.share:.1%}" for s in report.strategies]
        table.add_row(symbol, f"{weight:.1%}", *cells)
    console.print(table)
    if report.uses_sample:
        console.print(f"[yellow]Uses {SAMPLE_NOTICE} for: {', '.join(report.sample_symbols)}[/]")


@app.command()
def signal(
    ctx: typer.Context,
    strategy: Annotated[
        list[str] | None,
        typer.Option("--strategy", "-s", help="Built-in name, .clj file or module:Class (repeatable; equal shares)."),
    ] = None,
    as_of: Annotated[
        dt.datetime | None, typer.Option("--as-of", formats=["%Y-%m-%d"], help="Decide at this day's close.")
    ] = None,
    json_out: JsonFlag = False,
) -> None:
    """Each strategy's allocation with its reasons, and the blended target."""
    report = compute_signals(_settings(ctx), strategy, as_of.date() if as_of else None)
    if json_out:
        _print_json(report.as_dict())
    else:
        _render_signals(report)
    if not report.ok:
        raise typer.Exit(1)


# -- trading ---------------------------------------------------------------------------------------------
BrokerOption = Annotated[
    str | None,
    typer.Option("--broker", help="sim (the built-in simulated broker, default) or alpaca (paper unless --live)."),
]
LiveOption = Annotated[bool, typer.Option("--live", help="Use Alpaca's LIVE account (real money).")]


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.2%}"


def _weights_table(title: str, targets: dict[str, float], before: dict[str, float], after: dict[str, float]) -> Table:
    table = Table(title=title)
    for column in ("symbol", "before", "target", "after", "off by"):
        table.add_column(column, justify="right" if column != "symbol" else "left")
    for symbol in sorted(set(targets) | set(before) | set(after)):
        t, a = targets.get(symbol, 0.0), after.get(symbol, 0.0)
        table.add_row(symbol, _pct(before.get(symbol, 0.0)), _pct(t), _pct(a), f"{(a - t) * 100:+.2f} pp")
    return table


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

    settings = _settings(ctx)
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
    progress = None if json_out or _quiet(ctx) else (lambda message: console.print(f"  {message}", highlight=False))
    run = run_trade(settings, broker, progress, force=force, live=live)
    if json_out:
        _print_json(run.as_dict())
    else:
        _render_signals(run.signals)
        if run.plan is not None:
            _render_plan(run.plan)
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
            console.print(_weights_table("Target vs actual", run.targets, run.weights_before, run.weights_after))
            console.print(f"cash {_pct(run.cash_after_weight)} of equity ${run.equity_after}")
        colour = {"ok": "green", "nothing_to_do": "green", "already_ran": "yellow"}.get(run.status, "red")
        console.print(f"[bold {colour}]run {run.run_id or '—'}: {run.status}[/] — {run.message}")
    if run.status not in ("ok", "nothing_to_do", "already_ran"):
        raise typer.Exit(1)


def _quiet(ctx: typer.Context) -> bool:
    return bool((ctx.find_root().obj or {}).get("verbosity", 0) < 0)


def _render_plan(plan: Any) -> None:
    table = Table(
        title=f"Rebalance plan (equity ${plan.equity:,.2f}, cash ${plan.cash:,.2f}, buffer ${plan.buffer:,.2f})"
    )
    for column in ("symbol", "current", "target", "current $", "target $", "trade $", "action", "reason"):
        table.add_column(column, justify="right" if "$" in column or column in ("current", "target") else "left")
    for i in plan.items:
        table.add_row(
            i.symbol,
            _pct(i.current_weight),
            _pct(i.target_weight),
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

    report, target, trade_plan, _account = plan_only(_settings(ctx), broker, live)
    if json_out:
        _print_json(
            {
                "as_of": report.as_of.isoformat(),
                "target": target,
                "plan": trade_plan.as_dict() if trade_plan else None,
                "strategies": [s.as_dict() for s in report.strategies],
            }
        )
    else:
        _render_signals(report)
        if trade_plan is not None:
            _render_plan(trade_plan)
    if trade_plan is None:
        raise typer.Exit(1)


@app.command()
def status(
    ctx: typer.Context, broker: BrokerOption = None, live: LiveOption = False, json_out: JsonFlag = False
) -> None:
    """Account, positions with weights and P&L, and open orders."""
    from alchemiser.runner import account_status

    info = account_status(_settings(ctx), broker, live)
    if json_out:
        _print_json(info)
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
            p["symbol"], p["qty"], p["current_price"], p["market_value"], _pct(p["weight"]), p["unrealized_pl"]
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


# -- sandbox ---------------------------------------------------------------------------------------------
sandbox_app = typer.Typer(help="A local Alpaca-compatible server over the simulated exchange.")
app.add_typer(sandbox_app, name="sandbox")


@sandbox_app.command("serve")
def sandbox_serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to bind (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0 picks a free one).")] = 8765,
    latency_ms: Annotated[float, typer.Option(help="Extra latency per REST request.")] = 0.0,
    seed: Annotated[int | None, typer.Option(help="Seed for fills and injected faults.")] = None,
    cash: Annotated[float | None, typer.Option(help="Starting cash of a fresh account.")] = None,
    follow_calendar: Annotated[bool, typer.Option(help="Clock follows NYSE hours instead of always open.")] = False,
    error_rate: Annotated[float, typer.Option(help="Fault injection: fraction of requests answered 429/500.")] = 0.0,
    state: Annotated[
        Path | None, typer.Option(help="SQLite state file (default $ALCHEMISER_HOME/sandbox.sqlite).")
    ] = None,
) -> None:
    """Serve Alpaca's REST + WebSocket protocol on one port; point any alpaca-py program at it."""
    from decimal import Decimal

    from alchemiser.sandbox.config import FaultConfig, SandboxConfig
    from alchemiser.sandbox.server import SandboxServer, serve_forever

    settings = _settings(ctx)
    config = SandboxConfig(
        host=host,
        port=port,
        latency_ms=latency_ms,
        seed=seed,
        starting_cash=Decimal(str(cash)) if cash is not None else None,
        follow_calendar=follow_calendar,
        faults=FaultConfig(error_rate=error_rate),
    )

    def ready(server: SandboxServer) -> None:
        console.print(
            f"Alpaca sandbox on {server.url}  (streams {server.stream_url}/stream, {server.stream_url}/v2/iex)"
        )
        console.print(f"accepting key id {server.key_id!r} (secret from the same source); Ctrl-C to stop")
        console.print(f"  export ALPACA_BASE_URL={server.url} ALPACA_DATA_URL={server.url}")

    serve_forever(
        build_market(settings), state or settings.home / "sandbox.sqlite", config, settings.sim, on_ready=ready
    )


# -- ledger ------------------------------------------------------------------------------------------------
def _ledger(ctx: typer.Context) -> Any:
    from alchemiser.ledger import Ledger
    from alchemiser.runner import ledger_path

    return Ledger(ledger_path(_settings(ctx)))


@ledger_app.command("runs")
def ledger_runs(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(help="How many of the latest runs.")] = 20,
    json_out: JsonFlag = False,
) -> None:
    """The latest runs."""
    from alchemiser.ledger import jsonable

    with _ledger(ctx) as ledger:
        runs = ledger.runs(limit)
    if json_out:
        _print_json([jsonable(r.as_dict()) for r in runs])
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

    with _ledger(ctx) as ledger:
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
        _print_json(jsonable(payload))
        return
    console.print(f"[bold]run {run.run_id}[/] {run.mode}/{run.broker} {run.status}: {run.message}")
    for signal in payload["signals"]:
        console.print(f"  {signal['name']}: {signal.get('weights') or signal.get('error')}")
    _orders_table(orders)


def _orders_table(orders: list[Any]) -> None:
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
    limit: Annotated[int, typer.Option(help="How many of the latest orders.")] = 50,
    json_out: JsonFlag = False,
) -> None:
    """Orders across runs, latest last."""
    from alchemiser.ledger import jsonable

    with _ledger(ctx) as ledger:
        orders = ledger.orders(run_id, limit)
    if json_out:
        _print_json([jsonable(o.as_dict()) for o in orders])
    else:
        _orders_table(orders)


@sim_app.command("reset")
def sim_reset(
    ctx: typer.Context,
    cash: Annotated[
        float | None, typer.Option(help="Starting cash (default: the configured sim.starting_cash).")
    ] = None,
) -> None:
    """Wipe the simulated account back to its starting cash (positions and orders are removed)."""
    from decimal import Decimal

    from alchemiser.execution.sim import SimBroker

    settings = _settings(ctx)
    with SimBroker(build_market(settings), settings.home / "sim.sqlite", settings.sim) as broker:
        broker.reset(Decimal(str(cash)) if cash is not None else None)
        account = broker.get_account()
    console.print(f"simulated account reset: cash ${account.cash:,.2f}")


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
    from alchemiser.reporting.run_report import build_run_report, render_html

    with _ledger(ctx) as ledger:
        if execution:
            data = execution_report(ledger, run_id, since.date() if since else None)
            if json_out:
                _print_json(jsonable(data))
            else:
                _render_execution(data)
            return
        data = build_run_report(ledger, run_id)
    if html_file is not None:
        html_file.write_text(render_html(data), encoding="utf-8")
    if json_out:
        _print_json(data)
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
    console.print(_weights_table("Portfolio", data["targets"], data["weights_before"], data["weights_after"]))
    if html_file is not None:
        console.print(f"HTML report written to {html_file}")


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


@app.command("run-daily")
def run_daily(ctx: typer.Context, broker: BrokerOption = None) -> None:
    """Keep running: one trading run per NYSE session, minutes before the close (see [schedule])."""
    import logging

    from alchemiser.runner import run_trade
    from alchemiser.scheduling import make_scheduler

    settings = _settings(ctx)
    log = logging.getLogger("alchemiser.daily")

    def job() -> None:
        try:
            run = run_trade(settings, broker)
            log.warning("daily run %s: %s — %s", run.run_id or "—", run.status, run.message)
        except Exception:
            log.exception("the daily run failed; waiting for the next session")

    scheduler = make_scheduler(job, settings.schedule)
    job_ = scheduler.get_job("daily-trade")
    trigger = job_.trigger if job_ is not None else None
    console.print(f"run-daily: {trigger}; Ctrl-C to stop")
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        scheduler.shutdown(wait=False)


@app.command()
def schedule(
    ctx: typer.Context,
    print_format: Annotated[str, typer.Option("--print", help="cron or systemd.")] = "cron",
) -> None:
    """Print a cron entry or systemd timer/unit that runs `trade --when-due` around each NYSE close."""
    from alchemiser.scheduling import cron_entry, systemd_units

    settings = _settings(ctx)
    if print_format not in ("cron", "systemd"):
        err_console.print("--print must be cron or systemd")
        raise typer.Exit(2)
    text = cron_entry(settings.schedule) if print_format == "cron" else systemd_units(settings.schedule)
    sys.stdout.write(text)


# -- backtest --------------------------------------------------------------------------------------------
@app.command()
def backtest(
    ctx: typer.Context,
    strategy: Annotated[
        list[str] | None, typer.Option("--strategy", "-s", help="Built-in, .clj file or module:Class (repeatable).")
    ] = None,
    weights: Annotated[
        str | None, typer.Option("--weights", help="Comma-separated shares for the strategies, e.g. 0.4,0.6.")
    ] = None,
    start: Annotated[dt.datetime | None, typer.Option(formats=["%Y-%m-%d"], help="First day.")] = None,
    end: Annotated[dt.datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Last day.")] = None,
    capital: Annotated[float, typer.Option(help="Starting capital in dollars.")] = 100000.0,
    rebalance: Annotated[
        str | None,
        typer.Option(help="daily | weekly | monthly | threshold:X (default: the symphony's own setting, else daily)."),
    ] = None,
    fill: Annotated[str, typer.Option(help="close (Composer's convention) or next-open.")] = "close",
    slippage_bps: Annotated[float, typer.Option(help="Fill price moved against us by this many bps.")] = 0.0,
    fee_bps: Annotated[float, typer.Option(help="Fees as bps of traded value.")] = 0.0,
    benchmark: Annotated[str, typer.Option(help="Benchmark symbol ('' for none).")] = "SPY",
    report: Annotated[Path | None, typer.Option(help="Write charts, HTML and CSV files into this folder.")] = None,
    json_out: JsonFlag = False,
) -> None:
    """Run strategies over history with the live pipeline; metrics vs a benchmark, optional report."""
    from decimal import Decimal

    from rich.progress import Progress

    from alchemiser.backtest import service
    from alchemiser.backtest.engine import BacktestError

    if fill not in ("close", "next-open"):
        raise BacktestError("--fill must be close or next-open")
    try:
        shares = [float(w) for w in weights.split(",")] if weights else None
    except ValueError:
        raise BacktestError(f"--weights must be numbers separated by commas (got {weights!r})") from None
    options: dict[str, Any] = {
        "start": start.date() if start else None,
        "end": end.date() if end else None,
        "capital": Decimal(str(capital)),
        "rebalance": rebalance,
        "fill": fill,
        "slippage_bps": Decimal(str(slippage_bps)),
        "fee_bps": Decimal(str(fee_bps)),
        "benchmark": benchmark or None,
    }
    settings = _settings(ctx)
    if json_out:
        outcome = service.run(settings, strategy, shares, **options)
    else:
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task("backtesting", total=1)
            outcome = service.run(
                settings,
                strategy,
                shares,
                **options,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    written = None
    if report is not None:
        from alchemiser.backtest.report import write_report

        written = write_report(outcome, report)
    payload = outcome.as_dict()
    if json_out:
        if written:
            payload["report"] = {k: str(v) for k, v in written.items()}
        _print_json(payload)
        return
    _render_backtest(payload)
    if written:
        console.print(f"report written to {written['html']}")


def _render_backtest(data: dict[str, Any]) -> None:
    note = f"  [yellow]({SAMPLE_NOTICE})[/]" if data["synthetic_sample_data"] else ""
    console.print(
        f"[bold]Backtest {data['start']} – {data['end']}[/] ({data['days']} days, rebalance {data['rebalance']}, "
        f"fills at {data['fill']}){note}"
    )
    from alchemiser.backtest.metrics import METRIC_ROWS, format_metric, metric_columns

    columns = metric_columns(data)
    table = Table(title="Metrics")
    table.add_column("metric")
    for name, _ in columns:
        table.add_column(name, justify="right")
    for key in METRIC_ROWS:
        cells = [format_metric(key, metrics.get(key)) for _, metrics in columns]
        table.add_row(key.replace("_", " "), *cells)
    console.print(table)
    dd = data["metrics"]["drawdown"]
    console.print(f"max drawdown {dd['peak']} → {dd['trough']}, recovered {dd['recovery'] or 'not yet'}")
    if len(data["strategies"]) > 1:
        console.print("contribution: " + ", ".join(f"{s['name']} {s['contribution']:+.2%}" for s in data["strategies"]))
    console.print(f"${float(data['capital']):,.0f} → ${data['final_equity']:,.2f}, {data['trades']} trades")


# -- check -------------------------------------------------------------------------------------------------
@app.command()
def check(files: Annotated[list[Path], typer.Argument(help="Symphony files to validate.")]) -> None:
    """Validate symphony files without market data: syntax, operators, arity, arguments, windows."""
    problems = 0
    for path in files:
        try:
            program = compile_file(path)
        except SymphonyErrors as exc:
            for error in exc.errors:
                console.print(str(error), markup=False, highlight=False)
            problems += len(exc.errors)
        except SymphonyError as exc:  # pragma: no cover - compile_file raises SymphonyErrors
            console.print(str(exc), markup=False)
            problems += 1
        else:
            console.print(
                f"{path}: ok — '{program.name}', {len(program.nodes)} distinct nodes, {len(program.universe)} tickers",
                markup=False,
                highlight=False,
            )
    if problems:
        err_console.print(f"{problems} problem(s) found")
        raise typer.Exit(1)


@app.command()
def fmt(
    file: Annotated[Path, typer.Argument(help="Symphony file to tidy.")],
    write: Annotated[bool, typer.Option("--write", "-w", help="Rewrite the file in place.")] = False,
) -> None:
    """Print a symphony tidied: the same decision tree without the export's redundant wrappers."""
    from alchemiser.strategies.symphony.printer import format_program

    text = format_program(compile_file(file))
    if write:
        file.write_text(text, encoding="utf-8")
        console.print(f"Rewrote {file}")
    else:
        sys.stdout.write(text)


# -- data --------------------------------------------------------------------------------------------------
@data_app.command("import")
def data_import(
    ctx: typer.Context, path: Annotated[Path, typer.Argument(help="CSV/Parquet file or a folder of SYMBOL.csv.")]
) -> None:
    """Import daily bars (symbol,date,open,high,low,close,volume); all rows are validated before writing."""
    from alchemiser.data.importer import import_into
    from alchemiser.data.store import LocalStore

    settings = _settings(ctx)
    counts = import_into(LocalStore(settings.data_dir), path)
    for symbol, rows in sorted(counts.items()):
        console.print(f"{symbol}: {rows} rows")
    console.print(f"[green]Imported {sum(counts.values())} rows for {len(counts)} symbols into {settings.data_dir}[/]")


@data_app.command("fetch")
def data_fetch(
    ctx: typer.Context,
    symbols: Annotated[
        list[str] | None, typer.Option("--symbols", help="Symbols (repeatable; default: all the strategies need).")
    ] = None,
    start: Annotated[
        dt.datetime | None, typer.Option(formats=["%Y-%m-%d"], help="First day (default 2004-01-01).")
    ] = None,
    end: Annotated[dt.datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Last day (default: today).")] = None,
    source: Annotated[str, typer.Option("--source", help="alpaca (the only source so far).")] = "alpaca",
) -> None:
    """Fill the local store with split- and dividend-adjusted daily bars from Alpaca."""
    from rich.progress import Progress

    from alchemiser.data.alpaca_source import fetch_into_store
    from alchemiser.data.store import LocalStore
    from alchemiser.runner import alpaca_access
    from alchemiser.signals import strategy_configs
    from alchemiser.strategies.registry import load_strategy

    if source != "alpaca":
        err_console.print("--source must be alpaca")
        raise typer.Exit(2)
    settings = _settings(ctx)
    wanted = symbols or sorted(
        set().union(*(load_strategy(c.source, c.name).universe() for c in strategy_configs(settings, None)))
    )
    credentials, endpoints = alpaca_access(settings)
    first = start.date() if start else dt.date(2004, 1, 1)
    last = end.date() if end else dt.date.today()
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("fetching bars", total=len(wanted))

        def advance(*_: object) -> None:
            bar.advance(task)

        result = fetch_into_store(LocalStore(settings.data_dir), credentials, endpoints, wanted, first, last, advance)
    console.print(f"[green]Stored {sum(result.rows.values())} bars for {len(result.rows)} symbols[/]")
    if result.missing:
        console.print(f"[yellow]No bars for: {', '.join(result.missing)}[/]")


@data_app.command("sample")
def data_sample(
    ctx: typer.Context,
    export: Annotated[
        Path | None, typer.Option(help="Write every sample symbol as SYMBOL.csv into this folder.")
    ] = None,
    json_out: JsonFlag = False,
) -> None:
    """Describe the deterministic synthetic sample market (optionally export it as CSV)."""
    from alchemiser.data.sample import SampleMarket, describe_sample

    settings = _settings(ctx)
    market = SampleMarket(seed=settings.data.sample_seed)
    rows = []
    for symbol, description in describe_sample():
        info = next(i for i in market.available() if i.symbol == symbol)
        rows.append({"symbol": symbol, "model": description, "first": info.first, "last": info.last, "rows": info.rows})
        if export is not None:
            export.mkdir(parents=True, exist_ok=True)
            bars = market.bars(symbol)
            bars.rename_axis("date").to_csv(export / f"{symbol}.csv", float_format="%.6f")
    if json_out:
        _print_json({"seed": settings.data.sample_seed, "notice": SAMPLE_NOTICE, "symbols": rows})
        return
    table = Table(title=f"Synthetic sample market (seed {settings.data.sample_seed}) — {SAMPLE_NOTICE}")
    for column in ("symbol", "model", "first", "last", "rows"):
        table.add_column(column)
    for row in rows:
        table.add_row(*(str(row[c]) for c in ("symbol", "model", "first", "last", "rows")))
    console.print(table)
    if export is not None:
        console.print(f"[green]Exported {len(rows)} symbols to {export}[/]")


@data_app.command("list")
def data_list(ctx: typer.Context, json_out: JsonFlag = False) -> None:
    """Every symbol available, from the local store or the sample market."""
    infos = build_market(_settings(ctx)).available()
    if json_out:
        _print_json([{**i.__dict__, "first": i.first.isoformat(), "last": i.last.isoformat()} for i in infos])
        return
    table = Table(title="Market data")
    for column in ("symbol", "source", "first", "last", "rows"):
        table.add_column(column)
    for i in infos:
        source = SAMPLE_NOTICE if i.source == "sample" else "local store"
        table.add_row(i.symbol, source, str(i.first), str(i.last), str(i.rows))
    console.print(table)


@data_app.command("show")
def data_show(
    ctx: typer.Context,
    symbol: Annotated[str, typer.Argument(help="Ticker, e.g. SPY.")],
    tail: Annotated[int, typer.Option(help="How many of the latest bars to show.")] = 10,
    json_out: JsonFlag = False,
) -> None:
    """The latest daily bars of one symbol."""
    market = build_market(_settings(ctx))
    symbol = symbol.upper()
    bars = market.bars(symbol)
    source = market.source_of(symbol)
    shown = bars.tail(tail)
    if json_out:
        records = [
            {"date": day.isoformat(), **{str(c): float(v) for c, v in row.items()}}
            for day, row in zip(pd.DatetimeIndex(shown.index).date, shown.to_dict("records"), strict=True)
        ]
        _print_json({"symbol": symbol, "source": source, "synthetic_sample_data": source == "sample", "bars": records})
        return
    label = SAMPLE_NOTICE if source == "sample" else "local store"
    table = Table(title=f"{symbol} — {label} ({len(bars)} bars, {bars.index[0].date()} … {bars.index[-1].date()})")
    table.add_column("date")
    for column in bars.columns:
        table.add_column(str(column), justify="right")
    for day, row in zip(pd.DatetimeIndex(shown.index).date, shown.to_dict("records"), strict=True):
        table.add_row(str(day), *(f"{v:,.4f}" if c != "volume" else f"{v:,.0f}" for c, v in row.items()))
    console.print(table)


# -- config ------------------------------------------------------------------------------------------------
@config_app.command("show")
def config_show(ctx: typer.Context, json_out: JsonFlag = False) -> None:
    """The effective configuration (file + environment + defaults)."""
    settings = _settings(ctx)
    payload = settings.model_dump(mode="json")
    payload["data_dir"] = str(settings.data_dir)
    if json_out:
        _print_json(payload)
    else:
        console.print_json(json.dumps(payload))


@config_app.command("init")
def config_init(
    path: Annotated[Path | None, typer.Argument(help="Where to write (default: $ALCHEMISER_HOME/config.toml).")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented example configuration."""
    target = path or default_config_path()
    if target.exists() and not force:
        err_console.print(f"{target} exists; use --force to overwrite")
        raise typer.Exit(1)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(EXAMPLE_CONFIG, encoding="utf-8")
    console.print(f"Wrote {target}")


def main() -> None:
    try:
        app()
    except AlchemiserError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(2)


if __name__ == "__main__":
    main()
