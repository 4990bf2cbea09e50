"""`data …` and `config …`: market data and configuration."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

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
from alchemiser.errors import DataError

if TYPE_CHECKING:  # command modules import heavy things (pandas, the calendar) inside functions
    from alchemiser.data.sample import SampleMarket

# -- data ---------------------------------------------------------------------------------------------------
MAX_TAIL = 10_000  # more rows than any daily history since 1993; a table beyond this is never what was meant


@data_app.command("import")
def data_import(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="CSV/Parquet file or a folder of SYMBOL.csv.")],
    replace: Annotated[
        bool, typer.Option("--replace", help="Overwrite stored bars whose values differ (refused otherwise).")
    ] = False,
) -> None:
    """Import daily bars (symbol,date,open,high,low,close,volume); all rows are validated before writing."""
    from alchemiser.data.importer import import_into
    from alchemiser.data.store import LocalStore

    settings = settings_of(ctx)
    counts = import_into(LocalStore(settings.data_dir), path, replace=replace)
    for symbol, count in sorted(counts.items()):
        console.print(f"{symbol}: {count}")
    total = sum(c.rows for c in counts.values())
    console.print(f"[green]Imported {total} rows for {len(counts)} symbols into {settings.data_dir}[/]")


@data_app.command("delete")
def data_delete(
    ctx: typer.Context,
    symbol: Annotated[str, typer.Argument(help="Ticker whose stored bars to delete, e.g. SPY.")],
    first: Annotated[
        dt.datetime | None, typer.Option("--from", formats=["%Y-%m-%d"], help="First day to delete (default: all).")
    ] = None,
    last: Annotated[
        dt.datetime | None, typer.Option("--to", formats=["%Y-%m-%d"], help="Last day to delete (default: all).")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a symbol's bars from the local store (all of them, or those in --from … --to)."""
    from alchemiser.data.store import LocalStore, normalize_symbol

    store = LocalStore(settings_of(ctx).data_dir)
    sym = normalize_symbol(symbol)
    lo, hi = (first.date() if first else None), (last.date() if last else None)
    if lo is not None and hi is not None and lo > hi:
        raise DataError(f"--from {lo} is after --to {hi}")
    if sym not in store.symbols():
        raise DataError(f"no stored bars for {sym} in {store.bars_dir}; nothing deleted")
    stored = store.bars(sym)
    hit = store.bars(sym, lo, hi)
    span = f"{stored.index[0].date()} … {stored.index[-1].date()}" if len(stored) else "no bars"
    if hit.empty:
        between = f"between {lo or 'its start'} and {hi or 'its end'}"
        raise DataError(f"{sym} has no stored bars {between} (it has {span}); nothing deleted")
    what = f"{len(hit)} of {len(stored)} bars of {sym} ({hit.index[0].date()} … {hit.index[-1].date()})"
    if not yes:
        try:
            agreed = typer.confirm(f"Delete {what}?", default=False)
        except typer.Abort:  # no answer (stdin closed): never a yes
            agreed = False
        if not agreed:
            err_console.print("Nothing deleted (confirm, or add --yes).")
            raise typer.Exit(1)
    removed = store.delete(sym, lo, hi)
    console.print(f"[green]Deleted {removed} bars of {sym} ({hit.index[0].date()} … {hit.index[-1].date()})[/]")
    if stored.index[0] < hit.index[0] and hit.index[-1] < stored.index[-1]:
        console.print(
            f"[yellow]{sym} now has a gap inside its history; runs refuse it until those bars are imported again.[/]"
        )


@data_app.command("show")
def data_show(
    ctx: typer.Context,
    symbol: Annotated[str, typer.Argument(help="Ticker, e.g. SPY.")],
    tail: Annotated[
        int, typer.Option("--tail", min=1, max=MAX_TAIL, help=f"How many of the latest bars to show (1–{MAX_TAIL}).")
    ] = 10,
    json_out: JsonFlag = False,
) -> None:
    """The latest daily bars of one symbol."""
    from alchemiser.data.base import BAR_COLUMNS, SAMPLE_NOTICE, ShownBars
    from alchemiser.signals import build_market

    market = build_market(settings_of(ctx))
    symbol = symbol.upper()
    bars = market.daily(symbol)
    source = market.source_of(symbol)
    if bars.empty:
        raise DataError(f"{symbol} has no bars in the {'sample market' if source == 'sample' else 'local store'}")
    view = ShownBars.of(symbol, source, bars, tail)
    if json_out:
        print_json(view.to_json())
        return
    label = SAMPLE_NOTICE if source == "sample" else "local store"
    table = Table(title=f"{symbol} — {label} ({view.total} bars, {view.first} … {view.last})")
    table.add_column("date")
    for column in BAR_COLUMNS:
        table.add_column(column, justify="right")
    for row in view.rows:
        prices = (f"{row[c]:,.4f}" for c in ("open", "high", "low", "close"))  # type: ignore[literal-required]
        table.add_row(row["date"], *prices, f"{row['volume']:,.0f}")
    console.print(table)


@data_app.command("sample")
def data_sample(
    ctx: typer.Context,
    export: Annotated[
        Path | None, typer.Option(help="Write every sample symbol as SYMBOL.csv into this folder.")
    ] = None,
    json_out: JsonFlag = False,
) -> None:
    """Describe the deterministic synthetic sample market (optionally export it as CSV)."""
    from alchemiser.data.base import SAMPLE_NOTICE
    from alchemiser.data.sample import SampleMarket, describe_sample

    settings = settings_of(ctx)
    market = SampleMarket(seed=settings.data.sample_seed)
    rows = []
    infos = {i.symbol: i for i in market.available()}
    for symbol, description in describe_sample():
        info = infos[symbol]
        rows.append({"symbol": symbol, "model": description, "first": info.first, "last": info.last, "rows": info.rows})
    if export is not None:
        export_sample(market, [str(r["symbol"]) for r in rows], export)
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
    from alchemiser.data.base import SAMPLE_NOTICE
    from alchemiser.signals import build_market

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


def export_sample(market: SampleMarket, symbols: list[str], folder: Path) -> None:
    """Write each symbol as `folder/SYMBOL.csv`; any file-system refusal becomes one line naming --export."""
    if folder.exists() and not folder.is_dir():
        raise DataError(f"--export {folder}: exists and is not a folder; give a folder to write SYMBOL.csv files into")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for symbol in symbols:
            market.bars(symbol).rename_axis("date").to_csv(folder / f"{symbol}.csv", float_format="%.6f")
    except OSError as exc:
        where = exc.filename or folder
        raise DataError(f"--export {folder}: cannot write {where}: {exc.strerror or exc}") from None


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
    from alchemiser.config import default_config_path, example_config

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
