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
app.add_typer(data_app, name="data")
app.add_typer(config_app, name="config")

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
) -> None:
    ctx.obj = {"config": config}


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
