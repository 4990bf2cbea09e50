"""`data fetch` and `data missing`: the data the strategies need, checked all at once and filled from Alpaca."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from alchemiser.cli.app import JsonFlag, console, data_app, err_console, print_json, settings_of
from alchemiser.errors import DataError

if TYPE_CHECKING:  # command modules import heavy things (pandas, the calendar) inside functions
    from alchemiser.config import Settings
    from alchemiser.strategies.base import Strategy

FIRST_DAY = dt.date(2004, 1, 1)

StrategyRefs = Annotated[
    list[str] | None,
    typer.Option(
        "--strategy",
        "-s",
        help="Built-in name, configured name, .clj file or module:Class (repeatable; default: the configured ones).",
    ),
]


def _strategies(settings: Settings, refs: list[str] | None) -> list[tuple[str, Strategy]]:
    """The named strategies (or every configured one), loaded: a bad reference is an error, not skipped."""
    from alchemiser.signals import strategy_configs
    from alchemiser.strategies.registry import load_strategy

    return [(c.name, load_strategy(c.source, c.name)) for c in strategy_configs(settings, refs)]


def _symbols(values: list[str]) -> list[str]:
    """`--symbols SPY,QQQ --symbols TLT` → ["QQQ", "SPY", "TLT"], each validated."""
    from alchemiser.data.store import normalize_symbol

    parts = [p for v in values for p in v.replace(" ", ",").split(",") if p.strip()]
    if not parts:
        raise DataError("--symbols: no symbols given")
    try:
        return sorted({normalize_symbol(p) for p in parts})
    except DataError as exc:
        raise DataError(f"--symbols: {exc}") from None


@data_app.command("fetch")
def data_fetch(
    ctx: typer.Context,
    symbols: Annotated[
        list[str] | None,
        typer.Option("--symbols", help="Symbols, comma-separated or repeated (default: what the strategies use)."),
    ] = None,
    strategy: StrategyRefs = None,
    start: Annotated[
        dt.datetime | None, typer.Option(formats=["%Y-%m-%d"], help=f"First day (default {FIRST_DAY}).")
    ] = None,
    end: Annotated[
        dt.datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Last day (default: today in New York).")
    ] = None,
    source: Annotated[str, typer.Option("--source", help="alpaca (the only source so far).")] = "alpaca",
) -> None:
    """Fill the local store with split- and dividend-adjusted daily bars from Alpaca.

    Fetches --symbols, plus every ticker of each -s strategy; with neither, every configured strategy's.
    A symbol Alpaca has no bars for is an error (exit 1) naming it; the others are still stored.
    """
    from rich.progress import Progress

    from alchemiser.data.alpaca_source import fetch_into_store
    from alchemiser.data.store import LocalStore
    from alchemiser.market_calendar import market_today
    from alchemiser.runner import alpaca_access

    if source != "alpaca":
        raise DataError(f"--source {source}: unknown source (only alpaca is supported)")
    first = start.date() if start else FIRST_DAY
    last = end.date() if end else market_today()
    if first > last:
        raise DataError(f"--start {first} is after --end {last}")
    settings = settings_of(ctx)
    wanted = set(_symbols(symbols)) if symbols else set()
    if strategy or not symbols:
        wanted |= set().union(*(s.universe() for _, s in _strategies(settings, strategy)))
    credentials, endpoints = alpaca_access(settings)
    with Progress(console=err_console, transient=True) as bar:
        task = bar.add_task("fetching bars", total=None)
        store, ordered = LocalStore(settings.data_dir), sorted(wanted)
        result = fetch_into_store(store, credentials, endpoints, ordered, first, last, lambda _: bar.advance(task))
    if result.rows:
        table = Table(title=f"Fetched from Alpaca into {settings.data_dir} ({first} … {last})")
        for column in ("symbol", "bars", "first", "last", "new", "replaced", "unchanged"):
            table.add_column(column, justify="left" if column == "symbol" else "right")
        for sym in sorted(result.rows):
            lo, hi = result.spans[sym]
            change = result.changes[sym]
            counts = (change.new, change.replaced, change.unchanged)
            table.add_row(sym, str(result.rows[sym]), str(lo), str(hi), *(str(n) for n in counts))
        console.print(table)
    console.print(f"Stored {sum(result.rows.values())} bars for {len(result.rows)} of {len(wanted)} symbols")
    if result.missing:
        err_console.print(
            f"[bold red]error:[/] Alpaca has no bars between {first} and {last} for {len(result.missing)} "
            f"symbol{'s' if len(result.missing) != 1 else ''}: {', '.join(result.missing)} "
            "(check the ticker, or the dates of its listing)",
            highlight=False,
        )
        raise typer.Exit(1)


@data_app.command("missing")
def data_missing(
    ctx: typer.Context,
    strategy: StrategyRefs = None,
    as_of: Annotated[
        dt.datetime | None,
        typer.Option("--as-of", formats=["%Y-%m-%d"], help="Check for a run at this day's close (default: the last)."),
    ] = None,
    json_out: JsonFlag = False,
) -> None:
    """Every ticker the strategies need that the data lacks: absent, stale or too short. Exit 1 if any."""
    from alchemiser.data.base import SAMPLE_NOTICE
    from alchemiser.data.coverage import check_coverage
    from alchemiser.signals import build_market, resolve_as_of

    settings = settings_of(ctx)
    day = resolve_as_of(as_of.date() if as_of else None)
    coverage = check_coverage(build_market(settings), _strategies(settings, strategy), day)
    if json_out:
        print_json(coverage.to_json())
        raise typer.Exit(0 if coverage.ok else 1)
    tickers = len(set().union(*(u for _, u in coverage.universes)))
    sample = sorted(s for s, src in coverage.sources.items() if src == "sample")
    if sample:
        console.print(f"[yellow]{len(sample)} tickers come from {SAMPLE_NOTICE}: {', '.join(sample)}[/]")
    if coverage.ok:
        names = ", ".join(name for name, _ in coverage.universes)
        console.print(f"[green]All {tickers} tickers of {names} have data for a run at the close of {day}.[/]")
        return
    table = Table(title=f"Data missing for a run at the close of {day} ({len(coverage.gaps)} of {tickers} tickers)")
    for column in ("symbol", "problem", "detail", "needed by"):
        table.add_column(column)
    for gap in coverage.gaps:
        table.add_row(gap.symbol, gap.status, gap.detail, ", ".join(gap.strategies))
    console.print(table)
    for name, universe in coverage.universes:
        lacking = [g.symbol for g in coverage.gaps_in(universe)]
        if lacking:
            console.print(f"{name}: {len(lacking)} of {len(universe)} tickers missing: {', '.join(lacking)}")
    console.print(f"Fill them with: [bold]{coverage.command}[/]", soft_wrap=True)
    raise typer.Exit(1)
