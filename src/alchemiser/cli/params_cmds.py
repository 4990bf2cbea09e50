"""`params`: the numbers of a symphony a sweep can vary, with their stable names and places."""

from __future__ import annotations

from typing import Annotated

import typer

from alchemiser.cli.app import JsonFlag, app, console, err_console, print_json
from alchemiser.cli.render import new_table, show


@app.command()
def params(
    file: Annotated[
        str, typer.Argument(help="A built-in name (nuclear, tecl, klm), a .clj export or a Composer .json score.")
    ],
    json_out: JsonFlag = False,
) -> None:
    """List the numbers a sweep can vary: thresholds, windows, counts, weights and the rebalance corridor,
    each with its stable name (or address it as FILE:LINE:COL), kind, value, location and context."""
    from alchemiser.errors import SymphonyErrors
    from alchemiser.strategies.symphony.params import ParamsJson, find_parameters, symphony_path

    path = symphony_path(file)
    try:
        found = find_parameters(path)
    except SymphonyErrors as exc:  # one line: the first problem; `check` lists them all
        more = len(exc.errors) - 1
        tail = f" (and {more} more problem(s): alchemiser check {path})" if more > 0 else ""
        err_console.print(f"error: {exc.errors[0]}{tail}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    if json_out:
        listing: ParamsJson = {"file": str(path), "parameters": [p.to_json() for p in found]}
        print_json(listing)
        return
    table = new_table(console, f"{len(found)} parameters of {file.strip()}", ("name", "kind", "value", "at"), {"value"})
    table.add_column("context", overflow="fold")  # free text: the one column that wraps
    for p in found:
        shown = str(int(p.value)) if p.value.is_integer() and abs(p.value) < 1e15 else repr(p.value)
        table.add_row(p.name, p.kind, shown, p.line_col, p.context)
    show(console, table)
