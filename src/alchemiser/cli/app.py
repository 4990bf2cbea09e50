"""The Typer application, its sub-command groups and the helpers every command shares."""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from typer._click.core import Context as ClickContext  # typer vendors click; this is its Context
from typer.core import TyperGroup

from alchemiser import __version__
from alchemiser.cli.render import make_console, new_table
from alchemiser.formatting import dumps_json, pct, pp

if TYPE_CHECKING:  # config pulls in pydantic and every component's settings: loaded when a command runs
    from alchemiser.config import Settings

GLOBAL_FLAG = re.compile(r"-v+|--verbose|-q|--quiet")


def hoist_global_flags(args: list[str]) -> list[str]:
    """Move `-v`/`-vv`/`-q` (and their long forms) in front of the subcommand.

    They are options of the root command, but users type them where they type everything else
    (`alchemiser trade -v`); hoisting makes both places work for every command. Nothing after `--` moves.
    """
    cut = args.index("--") if "--" in args else len(args)
    head = args[:cut]
    flags = [a for a in head if GLOBAL_FLAG.fullmatch(a)]
    return flags + [a for a in head if not GLOBAL_FLAG.fullmatch(a)] + args[cut:]


class RootGroup(TyperGroup):
    """The root command: accepts the global verbosity flags before or after the subcommand."""

    def parse_args(self, ctx: ClickContext, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist_global_flags(args))


app = typer.Typer(
    cls=RootGroup,
    help="The Alchemiser: rule-based ETF/stock strategies (Composer-style symphonies) from data to trades.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
data_app = typer.Typer(help="Market data: the local store, imports and the synthetic sample market.")
config_app = typer.Typer(help="Show or create the configuration file.")
ledger_app = typer.Typer(help="What happened: runs, orders and fills recorded in the SQLite ledger.")
sim_app = typer.Typer(help="The built-in simulated broker's account.")
app.add_typer(data_app, name="data")
app.add_typer(config_app, name="config")
app.add_typer(ledger_app, name="ledger")
app.add_typer(sim_app, name="sim")
sandbox_app = typer.Typer(help="A local Alpaca-compatible server over the simulated exchange.")
app.add_typer(sandbox_app, name="sandbox")


console = make_console()
err_console = make_console(stderr=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON only.")]


def print_json(payload: Any) -> None:
    """Every `--json` output: strict JSON following the conventions of `alchemiser.formatting`."""
    sys.stdout.write(dumps_json(payload) + "\n")


def settings_of(ctx: typer.Context) -> Settings:
    obj = ctx.find_root().obj or {}
    settings = obj.get("settings")
    if settings is None:
        from alchemiser.config import load_settings

        settings = load_settings(obj.get("config"))
        obj["settings"] = settings
        from alchemiser.logs import setup_logging

        setup_logging(settings.home, obj.get("verbosity", 0))
    return settings  # type: ignore[no-any-return]


def config_file_of(ctx: typer.Context) -> Path | None:
    """The config file this invocation reads: `--config`, else the default one if it exists, else None."""
    explicit = (ctx.find_root().obj or {}).get("config")
    if explicit is not None:
        return Path(explicit)
    from alchemiser.config import default_config_path

    default = default_config_path()
    return default if default.exists() else None


def _version(value: bool) -> None:
    if value:
        console.print(f"alchemiser {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="Config file (default: $ALCHEMISER_HOME/config.toml).", dir_okay=False),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, help="More log output (-vv: debug).")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors on the console.")] = False,
) -> None:
    ctx.obj = {"config": config, "verbosity": -1 if quiet else verbose}


BROKERS = ("sim", "alpaca")


def _check_broker(value: str | None) -> str | None:
    """`--broker ''` must not silently mean the default broker: only the known names are accepted."""
    if value is not None and value not in BROKERS:
        raise typer.BadParameter(f"must be one of {', '.join(BROKERS)}, not {value!r}")
    return value


def number_in(low: float | None = None, high: float | None = None) -> Callable[[float | None], float | None]:
    """An option callback refusing NaN, infinities and values outside [low, high], naming the bounds.

    Click's own `min`/`max` let NaN through (every comparison with NaN is false), so numeric options that
    reach money, sizes or timing use this instead.
    """

    def check(value: float | None) -> float | None:
        if value is None:
            return None
        if not math.isfinite(value):
            raise typer.BadParameter(f"must be a finite number, not {value}")
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = (
                f"between {low:g} and {high:g}"
                if low is not None and high is not None
                else (f"at least {low:g}" if low is not None else f"at most {high:g}")
            )
            raise typer.BadParameter(f"must be {bounds}, not {value:g}")
        return value

    return check


BrokerOption = Annotated[
    str | None,
    typer.Option(
        "--broker",
        help="sim (the built-in simulated broker, default) or alpaca (paper unless --live).",
        callback=_check_broker,
    ),
]
LiveOption = Annotated[bool, typer.Option("--live", help="Use Alpaca's LIVE account (real money).")]


# Column names that hold numbers, in every table of every command: right-aligned and never wrapped or cut.
NUMERIC = frozenset(
    {
        "before", "target", "after", "off by", "current", "current $", "target $", "trade $", "qty", "price",
        "value", "weight", "P&L", "filled", "avg price", "avg", "limit", "qty / $", "fill", "mid", "cost bps",
        "of spread", "market bps", "secs", "equity", "cash",
    }
)  # fmt: skip


def weights_table(title: str, targets: dict[str, float], before: dict[str, float], after: dict[str, float]) -> Table:
    table = new_table(console, title, ("symbol", "before", "target", "after", "off by"), NUMERIC)
    for symbol in sorted(set(targets) | set(before) | set(after)):
        t, a = targets.get(symbol, 0.0), after.get(symbol, 0.0)
        table.add_row(symbol, pct(before.get(symbol, 0.0)), pct(t), pct(a), pp(a - t))
    return table


def is_quiet(ctx: typer.Context) -> bool:
    return bool((ctx.find_root().obj or {}).get("verbosity", 0) < 0)


def run_progress(ctx: typer.Context, json_out: bool) -> Callable[[str], None] | None:
    """Where a trading run's progress lines go: indented on the console, or nowhere with --json or -q."""
    if json_out or is_quiet(ctx):
        return None
    return lambda message: console.print(f"  {message}", highlight=False)


def require_alpaca_for_live(live: bool, broker: str) -> None:
    """--live is only meaningful with the alpaca broker: refuse it (exit 2) before anything is asked."""
    if live and broker != "alpaca":
        err_console.print("--live needs the alpaca broker (--broker alpaca)")
        raise typer.Exit(2)


def open_ledger(ctx: typer.Context) -> Any:
    from alchemiser.ledger import Ledger

    return Ledger(settings_of(ctx).ledger_file)
