"""Console output that survives narrow terminals and pipes: tables, trees and single long lines.

Output is read in two places. In a terminal, Rich draws tables and trees, wrapping text columns to the
window; numeric columns never wrap, and when even the narrowest layout is wider than the window the
table is drawn at its natural width (the terminal wraps the physical line) rather than cutting a number
to `9998…`. Piped into cron mail, a log file or `grep`, there is no window: output is plain text with no
wrapping, no box drawing and no colour codes, one record per line.

Whether stdout is a terminal is decided by `isatty()`, and can be forced with Rich's own environment
variable `TTY_COMPATIBLE=1` (terminal) or `TTY_COMPATIBLE=0` (plain), e.g. to get plain text in a
terminal; `COLUMNS` sets the width.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Collection, Sequence
from typing import Any, TextIO

from rich import box
from rich.console import Console, RenderableType
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

__all__ = ["is_terminal", "make_console", "new_table", "show", "tree"]

PLAIN_WIDTH = 1_000_000  # no wrapping when piped: a line is as long as its content


def is_terminal(stream: TextIO) -> bool:
    """A terminal, unless Rich's `TTY_COMPATIBLE` says otherwise."""
    forced = os.environ.get("TTY_COMPATIBLE", "")
    if forced in ("0", "1"):
        return forced == "1"
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def make_console(stderr: bool = False) -> Console:
    """Rich in a terminal; plain text (no colour, no wrapping, no box drawing) otherwise."""
    stream = sys.stderr if stderr else sys.stdout
    if is_terminal(stream):
        return Console(stderr=stderr, force_terminal=True)
    return Console(
        stderr=stderr,
        force_terminal=False,
        no_color=True,
        color_system=None,
        width=PLAIN_WIDTH,
        soft_wrap=True,
        highlight=False,
        emoji=False,
    )


def _plain(console: Console) -> bool:
    return not console.is_terminal


# Free-text columns: the only ones that may wrap (at spaces). Everything else (numbers, symbols, ids, dates)
# is a token a reader copies or compares, so it is never wrapped, folded or cut.
WRAPPABLE = frozenset({"reason", "message", "events", "error"})


def new_table(console: Console, title: str, columns: Sequence[str], numeric: Collection[str] = ()) -> Table:
    """A table whose `numeric` columns are right-aligned; only `WRAPPABLE` free-text columns wrap.

    Piped, it has no borders or rules at all: columns separated by two spaces, one row per line.
    """
    plain = _plain(console)
    table = Table(
        title=title,
        box=None if plain else box.SIMPLE_HEAD,
        show_edge=False,
        collapse_padding=not plain,
        pad_edge=False,
        padding=(0, 2 if plain else 1),
        title_justify="left",
        header_style="" if plain else "bold",
        title_style="" if plain else "bold",
    )
    for name in columns:
        if name in WRAPPABLE:
            table.add_column(name, overflow="fold")
        else:
            table.add_column(name, justify="right" if name in numeric else "left", no_wrap=True, min_width=len(name))
    return table


def tree(console: Console, title: str | Text, steps: Sequence[tuple[int, str | Text]]) -> RenderableType:
    """Indented steps (depth, text) under a title: a Rich tree in a terminal, indented lines when piped."""
    if _plain(console):
        lines = [Text(title) if isinstance(title, str) else title]
        lines += [Text("  " * (depth + 1)) + (Text(text) if isinstance(text, str) else text) for depth, text in steps]
        return Text("\n").join(lines)
    root = Tree(title)
    nodes: dict[int, Tree] = {-1: root}
    for depth, text in steps:
        parent = nodes.get(depth - 1) or nodes[max(d for d in nodes if d < depth)]
        nodes[depth] = parent.add(text)
        for deeper in [d for d in nodes if d > depth]:
            del nodes[deeper]
    return root


def _pin_unwrappable(console: Console, table: Table) -> None:
    """Give every no-wrap column its widest cell as minimum width, so no layout can ever cut one.

    Rich measures a column's minimum as its longest *word*, even for no-wrap columns, and then shrinks
    such columns with an ellipsis when the window is narrow; a pinned minimum makes the table report its
    true narrowest width instead.
    """
    options = console.options.update_width(PLAIN_WIDTH)
    for column in table.columns:
        if column.no_wrap:
            widths = [Measurement.get(console, options, cell).maximum for cell in column.cells]
            column.min_width = max([column.min_width or 0, *widths])


def show(console: Console, *renderables: Any, wrap: bool = True) -> None:
    """Print without ever cutting a token: wider than the window only when the narrowest layout must be.

    Strings are Rich markup; `wrap=False` keeps a line whole even in a terminal (a command to copy). A
    table's title is printed as its own line, wrapping at spaces, rather than squeezed to the table's width.
    """
    for renderable in renderables:
        if isinstance(renderable, str | Text):
            console.print(renderable, highlight=False, soft_wrap=_plain(console) or not wrap)
            continue
        if isinstance(renderable, Table):
            if renderable.title is not None:
                show(console, renderable.title, wrap=wrap)
                renderable.title = None
            _pin_unwrappable(console, renderable)
        if not console.is_terminal:
            console.print(renderable, highlight=False)
            continue
        minimum = Measurement.get(console, console.options.update_width(PLAIN_WIDTH), renderable).minimum
        if minimum <= console.width:
            console.print(renderable, highlight=False)
            continue
        saved = console._width  # Console.print never renders wider than the console; widen it for this one
        console.width = minimum
        try:
            console.print(renderable, highlight=False)
        finally:
            console._width = saved
