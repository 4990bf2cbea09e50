"""`signal`, `check` and `fmt`: strategies and their decisions."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.text import Text

from alchemiser.cli.app import (
    JsonFlag,
    app,
    console,
    err_console,
    print_json,
    settings_of,
)
from alchemiser.cli.render import new_table, show, tree
from alchemiser.formatting import pct

if TYPE_CHECKING:  # command modules import heavy things (pandas, the calendar) inside functions
    from alchemiser.data.live import PriceMode
    from alchemiser.signals import SignalReport

PriceOption = Annotated[
    str | None,
    typer.Option(
        "--price",
        help="previous-close: decide on the last completed session's closes; live: on every ticker's latest "
        "trade as today's provisional close (default: [signals] price).",
    ),
]


def price_of(value: str | None) -> PriceMode | None:
    from alchemiser.data.live import price_mode

    return price_mode(value) if value is not None else None


def render_signals(report: SignalReport) -> None:
    """Each strategy's decision path and weights, then the blended target with each strategy's part."""
    from alchemiser.data.base import SAMPLE_NOTICE

    note = f"  [yellow]({SAMPLE_NOTICE})[/]" if report.uses_sample else ""
    if report.price_mode == "live":
        show(console, f"[bold]Signals on live prices, as the provisional close of {report.as_of}[/]{note}")
    else:
        show(console, f"[bold]Signals as of the close of {report.as_of}[/] (prices: previous close){note}")
    if report.price_notice:
        show(console, f"[yellow]notice:[/] {escape(report.price_notice)}")
    for signal in report.strategies:
        title = Text.assemble((signal.name, "bold cyan"), f" ({pct(signal.share, 0)} of the account) — {signal.source}")
        if signal.error:
            show(console, tree(console, title, [(0, Text(f"FAILED: {signal.error}", style="red"))]))
            continue
        if signal.paused_since is not None:
            held = f"holds run {signal.held_from_run}'s allocation" if signal.held_from_run else "holds what it has"
            note = f"PAUSED since {signal.paused_since:%Y-%m-%d %H:%M} UTC: not decided; {held}, drifting with prices"
            show(console, tree(console, title, [(0, Text(note, style="yellow"))]))
            continue
        colours = {"if": "white", "filter": "magenta", "asset": "green"}
        steps = [(step.depth, Text(step.text, style=colours.get(step.kind, "blue"))) for step in signal.trace]
        show(console, tree(console, title, steps))
        weights = ", ".join(f"{s} {pct(w, 1)}" for s, w in (signal.weights or {}).items())
        cash = 1.0 - sum((signal.weights or {}).values())
        if cash > 1e-9:  # `empty` branches: that share is not invested
            weights = f"{weights}, cash {pct(cash, 1)}" if weights else f"cash {pct(cash, 1)}"
        show(console, Text(f"  → {weights}"))
    if report.target is None:
        failed = ", ".join(s.name for s in report.strategies if s.error)
        show(console, f"[bold red]No target: {escape(failed)} failed; nothing would be traded (fail closed).[/]")
        return
    names = [s.name for s in report.strategies]
    table = new_table(console, "Blended target", ["symbol", "weight", *names], {"weight", *names})
    for symbol, weight in report.target.items():
        cells = [pct((s.weights or {}).get(symbol, 0.0) * s.share, 1) for s in report.strategies]
        table.add_row(symbol, pct(weight, 1), *cells)
    cash = 1.0 - sum(report.target.values())
    if cash > 1e-9:
        cells = [pct((1.0 - sum((s.weights or {}).values())) * s.share, 1) for s in report.strategies]
        table.add_row("(cash)", pct(cash, 1), *cells)
    show(console, table)
    if report.uses_sample:
        show(console, f"[yellow]Uses {SAMPLE_NOTICE} for: {', '.join(report.sample_symbols)}[/]")


# -- signal ------------------------------------------------------------------------------------------------
@app.command()
def signal(
    ctx: typer.Context,
    strategy: Annotated[
        list[str] | None,
        typer.Option("--strategy", "-s", help="Built-in, .clj/.json file or module:Class (repeatable; equal shares)."),
    ] = None,
    as_of: Annotated[
        dt.datetime | None, typer.Option("--as-of", formats=["%Y-%m-%d"], help="Decide at this day's close.")
    ] = None,
    price: PriceOption = None,
    json_out: JsonFlag = False,
) -> None:
    """Each strategy's allocation with its reasons, and the blended target."""
    from alchemiser.signals import signals_now

    report = signals_now(settings_of(ctx), strategy, as_of.date() if as_of else None, price_of(price))
    if json_out:
        print_json(report.to_json())
    else:
        render_signals(report)
    if not report.ok:
        raise typer.Exit(1)


# -- check -------------------------------------------------------------------------------------------------
@app.command()
def check(files: Annotated[list[Path], typer.Argument(help="Symphony files (.clj or .json) to validate.")]) -> None:
    """Validate symphony files without market data: syntax, operators, arity, arguments, windows."""
    from alchemiser.errors import SymphonyError
    from alchemiser.strategies.symphony.compiler import SymphonyErrors, compile_file

    problems = 0
    for path in files:
        try:
            program = compile_file(path)
        except SymphonyErrors as exc:
            for error in exc.errors:
                console.print(str(error), markup=False, highlight=False, soft_wrap=True)  # one line each
            problems += len(exc.errors)
        except SymphonyError as exc:  # pragma: no cover - compile_file raises SymphonyErrors
            console.print(str(exc), markup=False)
            problems += 1
        else:
            console.print(
                f"{path}: ok — '{program.name}', {len(program.nodes)} distinct nodes, {len(program.universe)} tickers",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
    if problems:
        err_console.print(f"{problems} problem(s) found")
        raise typer.Exit(1)


@app.command()
def fmt(
    file: Annotated[Path, typer.Argument(help="Symphony file to tidy or convert (.clj export or .json score).")],
    write: Annotated[
        bool, typer.Option("--write", "-w", help="Write the result: in place, or next to FILE when converting.")
    ] = False,
    to: Annotated[
        str | None, typer.Option("--to", help="Output format: clj or json (default: the input's format).")
    ] = None,
) -> None:
    """Print a symphony tidied (the same decision tree without the export's redundant wrappers), or converted
    between Composer's `.clj` export and its JSON score with `--to clj|json`."""
    from alchemiser.strategies.symphony.compiler import compile_file
    from alchemiser.strategies.symphony.printer import format_program
    from alchemiser.strategies.symphony.score_writer import format_score

    source_format = "json" if file.suffix.lower() == ".json" else "clj"
    target = (source_format if to is None else to).lower()
    if target not in ("clj", "json"):
        err_console.print(f"--to must be clj or json, not {to!r}")
        raise typer.Exit(2)
    program = compile_file(file)
    text = format_score(program) if target == "json" else format_program(program)
    if write:
        out = file if target == source_format else file.with_suffix(f".{target}")
        out.write_text(text, encoding="utf-8")
        console.print(f"Wrote {out}", markup=False, highlight=False)
    else:
        sys.stdout.write(text)
