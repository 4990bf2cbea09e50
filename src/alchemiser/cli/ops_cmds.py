"""`sandbox serve`, `run-daily` and `schedule`: running the bot and its offline Alpaca."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from alchemiser.cli.app import (
    BrokerOption,
    app,
    config_file_of,
    console,
    err_console,
    number_in,
    open_ledger,
    sandbox_app,
    settings_of,
)
from alchemiser.cli.render import show
from alchemiser.errors import AlchemiserError


def _host(value: str) -> str:
    """An empty host would bind every interface; the sandbox only does that when told so explicitly."""
    if not value.strip():
        raise typer.BadParameter("must be an interface address such as 127.0.0.1 (0.0.0.0 for all)")
    return value


def _new_file(value: Path | None) -> Path | None:
    """A file the command may create: its folder must exist and it must not be a folder itself."""
    if value is not None and not value.parent.is_dir():
        raise typer.BadParameter(f"folder {value.parent} does not exist")
    return value


@sandbox_app.command("serve")
def sandbox_serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to bind (loopback by default).", callback=_host)] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0 picks a free one).")] = 8765,
    latency_ms: Annotated[
        float, typer.Option(help="Extra latency per REST request.", callback=number_in(0, 60_000))
    ] = 0.0,
    seed: Annotated[int | None, typer.Option(min=0, max=2**32 - 1, help="Seed for fills and injected faults.")] = None,
    cash: Annotated[
        float | None, typer.Option(help="Starting cash of a fresh account.", callback=number_in(0.01, 1e12))
    ] = None,
    follow_calendar: Annotated[bool, typer.Option(help="Clock follows NYSE hours instead of always open.")] = False,
    error_rate: Annotated[
        float, typer.Option(help="Fault injection: fraction of requests answered 429/500.", callback=number_in(0, 1))
    ] = 0.0,
    state: Annotated[
        Path | None,
        typer.Option(
            help="SQLite state file (default $ALCHEMISER_HOME/sandbox.sqlite).", dir_okay=False, callback=_new_file
        ),
    ] = None,
) -> None:
    """Serve Alpaca's REST + WebSocket protocol on one port; point any alpaca-py program at it."""
    from decimal import Decimal

    from alchemiser.sandbox.config import FaultConfig, SandboxConfig
    from alchemiser.sandbox.server import SandboxServer, serve_forever
    from alchemiser.signals import build_market

    settings = settings_of(ctx)
    config = SandboxConfig(
        host=host,
        port=port,
        latency_ms=latency_ms,
        seed=seed,
        starting_cash=Decimal(str(cash)) if cash is not None else None,
        follow_calendar=follow_calendar,
        faults=FaultConfig(error_rate=error_rate),
    )

    def ready(server: SandboxServer) -> None:
        # Whole lines, never wrapped: the URLs and the `export` line are meant to be copied.
        show(
            console,
            f"Alpaca sandbox on {server.url}  (streams {server.stream_url}/stream, {server.stream_url}/v2/iex)",
            escape(f"accepting key id {server.key_id!r} (secret from the same source); Ctrl-C to stop"),
            f"  export ALPACA_BASE_URL={server.url} ALPACA_DATA_URL={server.url}",
            wrap=False,
        )
        console.file.flush()

    try:
        serve_forever(
            build_market(settings), state or settings.home / "sandbox.sqlite", config, settings.sim, on_ready=ready
        )
    except OSError as exc:  # the address cannot be bound: in use, not ours, not an address at all
        raise AlchemiserError(f"sandbox: cannot listen on --host {host} --port {port}: {exc}") from None


@app.command("run-daily")
def run_daily(ctx: typer.Context, broker: BrokerOption = None) -> None:
    """Keep running: one trading run per NYSE session, minutes before the close (settings: schedule)."""
    import logging

    from alchemiser.runner import run_trade
    from alchemiser.scheduling import make_scheduler

    settings = settings_of(ctx)
    with open_ledger(ctx):  # a home that cannot hold the ledger is reported now, not at the first close
        pass
    log = logging.getLogger("alchemiser.daily")

    def job() -> None:
        run = run_trade(settings, broker)
        log.warning("daily run %s: %s — %s", run.run_id or "—", run.status, run.message)

    scheduler = make_scheduler(job, settings.schedule)
    job_ = scheduler.get_job("daily-trade")
    trigger = job_.trigger if job_ is not None else None
    console.print(f"run-daily: {trigger}; Ctrl-C to stop")
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        scheduler.shutdown(wait=False)


@app.command()
def schedule(
    ctx: typer.Context,
    print_format: Annotated[str, typer.Option("--print", help="cron or systemd.")] = "cron",
) -> None:
    """Print a cron entry or systemd timer/unit that runs `trade --when-due` around each NYSE close."""
    from alchemiser.scheduling import cron_entry, systemd_units

    settings = settings_of(ctx)
    if print_format not in ("cron", "systemd"):
        err_console.print("--print must be cron or systemd")
        raise typer.Exit(2)
    entries = cron_entry if print_format == "cron" else systemd_units
    text = entries(settings.schedule, settings.home, config_file_of(ctx))
    sys.stdout.write(text)
