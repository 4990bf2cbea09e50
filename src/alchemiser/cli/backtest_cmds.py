"""`backtest`: the live pipeline over history, with metrics and reports."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from alchemiser.backtest import options as flags
from alchemiser.backtest.errors import BacktestError
from alchemiser.cli.app import (
    JsonFlag,
    app,
    console,
    print_json,
    settings_of,
)
from alchemiser.cli.render import new_table, show

if TYPE_CHECKING:  # command modules import heavy things inside functions
    from alchemiser.backtest.schema import BacktestJson


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
        typer.Option(
            help="none | daily | weekly | monthly | quarterly | yearly | threshold:X (X in percentage points; "
            "FREQUENCY+threshold:X checks the corridor on that frequency). Default: the symphony's own setting."
        ),
    ] = None,
    fill: Annotated[str, typer.Option(help="close (Composer's convention) or next-open.")] = "close",
    decide: Annotated[
        str,
        typer.Option(
            help="close: decide with day t's close (live price = live); previous-close: with day t-1's data, "
            "filled at day t's close (live price = previous_close, the default)."
        ),
    ] = "close",
    slippage_bps: Annotated[float, typer.Option(help="Fill price moved against us by this many bps.")] = 0.0,
    fee_bps: Annotated[float, typer.Option(help="Fees as bps of traded value.")] = 0.0,
    benchmark: Annotated[str, typer.Option(help="Benchmark symbol ('' for none).")] = "SPY",
    report: Annotated[Path | None, typer.Option(help="Write charts, HTML and CSV files into this folder.")] = None,
    json_out: JsonFlag = False,
) -> None:
    """Run strategies over history with the live pipeline; metrics vs a benchmark, optional report."""
    from rich.progress import Progress

    from alchemiser.backtest import service

    options: dict[str, Any] = {
        "start": start.date() if start else None,
        "end": end.date() if end else None,
        "capital": flags.capital(capital),
        "rebalance": rebalance,
        "fill": flags.fill(fill),
        "decide": flags.decide(decide),
        "slippage_bps": flags.bps("--slippage-bps", slippage_bps),
        "fee_bps": flags.bps("--fee-bps", fee_bps),
        "benchmark": benchmark.strip() or None,
    }
    shares = flags.weights(weights)
    if report is not None and report.exists() and not report.is_dir():
        raise BacktestError(f"--report {report} is a file; give a folder (it is created when missing)")
    settings = settings_of(ctx)
    if json_out:
        outcome = service.run(settings, strategy, shares, **options)
    else:
        with Progress(console=console, transient=True, disable=not console.is_terminal) as bar:
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
    payload = outcome.to_json()
    if json_out:
        if written:
            payload["report"] = {k: str(v) for k, v in written.items()}
        print_json(payload)
        return
    _render_backtest(payload)
    if written:
        console.print(f"report written to {written['html']}")


def _render_backtest(data: BacktestJson) -> None:
    from alchemiser.data.base import SAMPLE_NOTICE

    note = f"  [yellow]({SAMPLE_NOTICE})[/]" if data["synthetic_sample_data"] else ""
    console.print(
        f"[bold]Backtest {data['start']} – {data['end']}[/] ({data['days']} days, rebalance {data['rebalance']}, "
        f"fills at {data['fill']}){note}"
    )
    console.print(f"decisions: {data['corresponds_to']}", highlight=False, markup=False)
    if data["start_note"]:
        console.print(data["start_note"], highlight=False)
    for warning in data["warnings"]:
        console.print(f"[bold yellow]warning:[/] {warning}", highlight=False)
    from alchemiser.backtest.metrics import METRIC_ROWS, format_metric, metric_columns

    columns = metric_columns(data)
    names = [name for name, _ in columns]
    table = new_table(console, "Metrics", ["metric", *names], set(names))
    for key in METRIC_ROWS:
        cells = [format_metric(key, metrics.get(key)) for _, metrics in columns]
        table.add_row(key.replace("_", " "), *cells)
    show(console, table)
    dd = data["metrics"]["drawdown"]
    console.print(f"max drawdown {dd['peak']} → {dd['trough']}, recovered {dd['recovery'] or 'not yet'}")
    if len(data["strategies"]) > 1:
        console.print("contribution: " + ", ".join(f"{s['name']} {s['contribution']:+.2%}" for s in data["strategies"]))
    console.print(f"${data['capital']:,.2f} → ${data['final_equity']:,.2f}, {data['trades']} trades")
