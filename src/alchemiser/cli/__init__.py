"""The `alchemiser` command line: parses options, calls the library, renders with Rich. No business logic.

Each module registers one family of commands on the shared Typer app.
"""

from __future__ import annotations

import sys

# importing registers the commands, in the order `--help` lists them
from alchemiser.cli import strategy_cmds, trading_cmds, report_cmds, backtest_cmds, data_cmds, ops_cmds  # noqa: F401
from alchemiser.cli import web_cmds  # noqa: F401
from alchemiser.cli.app import app, err_console
from alchemiser.errors import AlchemiserError

__all__ = ["app", "main"]


def main() -> None:
    try:
        app()
    except AlchemiserError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(2)
