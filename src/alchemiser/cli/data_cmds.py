"""`data …` and `config …`: market data and configuration."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table

from alchemiser.cli.app import (
    JsonFlag,
    config_app,
    console,
    data_app,
    err_console,
    print_json,
    settings_of,
)
from alchemiser.config import default_config_path, example_config
from alchemiser.data.base import SAMPLE_NOTICE
from alchemiser.signals import build_market


# -- data --------------------------------------------------------------------------------------------------
@data_app.command("import")
def data_import(
    ctx: typer.Context, path: Annotated[Path, typer.Argument(help="CSV/Parquet file or a folder of SYMBOL.csv.")]
) -> None:
    """Import daily bars (symbol,date,open,high,low,close,volume); all rows are validated before writing."""
    from alchemiser.data.importer import import_into
    from alchemiser.data.store import LocalStore

    settings = settings_of(ctx)
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
    settings = settings_of(ctx)
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

    settings = settings_of(ctx)
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
        print_json({"seed": settings.data.sample_seed, "notice": SAMPLE_NOTICE, "symbols": rows})
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
    infos = build_market(settings_of(ctx)).available()
    if json_out:
        print_json([{**i.__dict__, "first": i.first.isoformat(), "last": i.last.isoformat()} for i in infos])
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
    market = build_market(settings_of(ctx))
    symbol = symbol.upper()
    bars = market.bars(symbol)
    source = market.source_of(symbol)
    shown = bars.tail(tail)
    if json_out:
        records = [
            {"date": day.isoformat(), **{str(c): float(v) for c, v in row.items()}}
            for day, row in zip(pd.DatetimeIndex(shown.index).date, shown.to_dict("records"), strict=True)
        ]
        print_json({"symbol": symbol, "source": source, "synthetic_sample_data": source == "sample", "bars": records})
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
    settings = settings_of(ctx)
    payload = settings.model_dump(mode="json")
    payload["data_dir"] = str(settings.data_dir)
    if json_out:
        print_json(payload)
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
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(example_config(), encoding="utf-8")
    except OSError as exc:
        where = "PATH" if path is not None else "ALCHEMISER_HOME"
        err_console.print(f"cannot write {target} ({where}): {exc.strerror or exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    console.print(f"Wrote {target}")
