"""The `alchemiser` command line: parses options, calls the library, renders with Rich. No business logic.

Each module registers one family of commands on the shared Typer app.
"""

from __future__ import annotations

import sys

from rich.markup import escape

# importing registers the commands, in the order `--help` lists them
from alchemiser.cli import strategy_cmds, trading_cmds, report_cmds, backtest_cmds, data_cmds, data_needs_cmds, ops_cmds  # noqa: F401
from alchemiser.cli import web_cmds  # noqa: F401
from alchemiser.cli import sweep_cmds  # noqa: F401
from alchemiser.cli.app import app, err_console
from alchemiser.cli import params_cmds  # noqa: F401  (registers `params`)
from alchemiser.cli.render import is_terminal
from alchemiser.errors import AlchemiserError
from alchemiser.logs import route_warnings

__all__ = ["app", "main"]


def main() -> None:
    route_warnings()
    if not is_terminal(sys.stderr):
        app.rich_markup_mode = None  # usage errors and --help as plain text, not boxed panels, in pipes and logs
    try:
        app()
    except AlchemiserError as exc:
        # `[sim]` in a message is text, not markup; soft_wrap keeps each error on one line
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(2)
