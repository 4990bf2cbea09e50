"""`alchemiser web`: serve the local dashboard (the work is in `alchemiser.web`)."""

from __future__ import annotations

from typing import Annotated

import typer

from alchemiser.cli.app import app, console, err_console, settings_of


@app.command("web")
def web(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to bind; beyond loopback a token is required.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0 picks a free one and prints it).")] = 8000,
) -> None:
    """A local dashboard: equity, positions vs target, runs, decision trees and controls."""
    from alchemiser.web.context import WebContext
    from alchemiser.web.security import is_loopback
    from alchemiser.web.server import serve

    if not 0 <= port <= 65535:
        err_console.print(f"[bold red]error:[/] --port: must be 0 to 65535, not {port}")
        raise typer.Exit(2)
    if not host.strip():
        err_console.print("[bold red]error:[/] --host: must not be empty")
        raise typer.Exit(2)
    settings_of(ctx)  # validates the configuration first, with the CLI's own messages
    config = (ctx.find_root().obj or {}).get("config")
    web_ctx = WebContext.load(config, is_loopback(host))
    try:
        serve(web_ctx, host, port, lambda line: console.print(line, highlight=False, soft_wrap=True))
    except OSError as exc:
        err_console.print(f"[bold red]error:[/] cannot serve on {host}:{port}: {exc.strerror or exc}")
        raise typer.Exit(2) from None
