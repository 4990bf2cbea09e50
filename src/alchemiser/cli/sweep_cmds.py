"""`sweep`: many backtests of one spec's variants, ranked; `sweep export` turns a row back into a strategy.

`alchemiser sweep SPEC.toml` is short for `alchemiser sweep run SPEC.toml`: the group reads a first word
that is not one of its subcommands as the spec. Heavy modules are imported inside the commands so
`alchemiser --help` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer._click.core import Context as ClickContext
from typer.core import TyperGroup

from alchemiser.cli.app import JsonFlag, app, console, err_console, print_json, settings_of
from alchemiser.errors import AlchemiserError

if TYPE_CHECKING:
    from alchemiser.sweep.runner import SweepOutcome

MAX_TOP = 1000
MAX_VARIANTS = 10_000_000  # beyond it the plan alone would not fit in memory


class SpecOrCommand(TyperGroup):
    """`sweep SPEC …` means `sweep run SPEC …`; `sweep export …` stays the export subcommand."""

    def parse_args(self, ctx: ClickContext, args: list[str]) -> list[str]:
        first = next((a for a in args if not a.startswith("-")), None)
        if first is not None and first not in self.commands and "--help" not in args[: args.index(first)]:
            args = ["run", *args]
        return super().parse_args(ctx, args)


sweep_app = typer.Typer(
    cls=SpecOrCommand,
    no_args_is_help=True,
    help=(
        "Parameter sweeps: `alchemiser sweep SPEC.toml [options]` (short for `sweep run`) runs every variant "
        "of the spec and ranks them; `alchemiser sweep export RUN ROW` writes one variant as a strategy file."
    ),
)
app.add_typer(sweep_app, name="sweep")


class SweepCliError(AlchemiserError):
    """A sweep flag with an impossible value."""


@sweep_app.command("run", short_help="Run a sweep spec (resuming) and rank its variants.")
def sweep_run(
    ctx: typer.Context,
    spec: Annotated[Path, typer.Argument(help="The sweep spec (TOML); see the README's Sweeps section.")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Also write the results here (Parquet; default: the run folder).")
    ] = None,
    engine: Annotated[str, typer.Option(help="embedded (a local process pool) or ray.")] = "embedded",
    address: Annotated[
        str | None, typer.Option(help="Ray cluster: auto, HOST:PORT or ray://HOST:PORT (with --engine ray).")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Processes of the embedded engine (default: the usable CPUs).")
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option(
            help="Write the report into this folder: heat map, walk-forward OOS (or best) curve, parameter "
            "stability; PNG + report.html."
        ),
    ] = None,
    top: Annotated[int, typer.Option(help="Rows in the ranked table (and in --json's top).")] = 10,
    max_variants: Annotated[
        int | None, typer.Option(help="Refuse specs that expand to more backtests than this (default 10,000).")
    ] = None,
    json_out: JsonFlag = False,
) -> None:
    """Run every variant of SPEC not already in its run folder (reruns resume), then rank them."""
    from alchemiser.sweep.engines import make_engine
    from alchemiser.sweep.expand import DEFAULT_MAX_VARIANTS
    from alchemiser.sweep.runner import run_sweep

    if not 1 <= top <= MAX_TOP:
        raise SweepCliError(f"--top must be between 1 and {MAX_TOP} (got {top})")
    if max_variants is not None and not 1 <= max_variants <= MAX_VARIANTS:
        raise SweepCliError(f"--max-variants must be between 1 and {MAX_VARIANTS:,} (got {max_variants})")
    if out is not None and (out.is_dir() or not out.name):
        raise SweepCliError(f"--out {out} is a folder; give a file name such as results.parquet")
    if report is not None and report.exists() and not report.is_dir():
        raise SweepCliError(f"--report {report} is a file; give a folder (it is created when missing)")
    if address is not None and not address.strip():
        raise SweepCliError("--address is empty; give auto, HOST:PORT or ray://HOST:PORT")
    if not spec.is_file():
        raise SweepCliError(
            f"SPEC {spec}: {'is a folder' if spec.is_dir() else 'no such file'}; give a .toml sweep spec"
        )
    write_report = _report_writer() if report is not None else None
    runner = make_engine(engine, workers=workers, address=address)
    settings = settings_of(ctx)
    outcome = _run_with_progress(
        lambda **hooks: run_sweep(
            settings, spec, runner, out=out, max_variants=max_variants or DEFAULT_MAX_VARIANTS, **hooks
        ),
        quiet=json_out,
    )
    written = write_report(outcome, report) if write_report is not None and report is not None else None
    if json_out:
        payload = outcome.summary(top)
        if written is not None:
            payload["report"] = {k: str(v) for k, v in dict(written).items()}
        print_json(payload)
        return
    _render(outcome, top)
    if written is not None:
        console.print(f"report written to {report}")


def _report_writer() -> Any:
    """sweep/honesty.py's `write_run_report(outcome, folder)` (branch sweepwf)."""
    from alchemiser.sweep.honesty import write_run_report

    return write_run_report


def _run_with_progress(call: Any, quiet: bool) -> SweepOutcome:
    """A progress bar with ETA on stderr while rows arrive; nothing when piped or with --json."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
        disable=quiet or not err_console.is_terminal,
    ) as bar:
        task = bar.add_task("sweeping", total=None)
        seen: dict[str, Any] = {"run": None, "saved": 0, "reused": 0}

        def on_start(plan: Any, reused: int) -> None:
            seen.update(run=plan.run_id, reused=reused)
            bar.update(task, total=len(plan.tasks) - reused, description=f"sweep {plan.run_id}")

        def on_row(row: dict[str, Any]) -> None:
            seen["saved"] += 1
            bar.advance(task)

        def on_phase(description: str, total: int) -> None:  # walk-forward's folds (sweep/honesty.py)
            bar.reset(task, total=total, description=description)

        try:
            outcome: SweepOutcome = call(on_start=on_start, on_row=on_row, on_phase=on_phase)
        except KeyboardInterrupt:
            bar.stop()
            if seen["run"] is None:
                err_console.print("interrupted before any backtest ran", highlight=False)
            else:
                err_console.print(
                    f"interrupted: {seen['saved'] + seen['reused']:,} finished backtests are saved in run "
                    f"{seen['run']}; run the same command again to compute only the missing ones",
                    highlight=False,
                    soft_wrap=True,
                )
            raise typer.Exit(130) from None
    return outcome


def _render(outcome: SweepOutcome, top: int) -> None:
    from alchemiser.backtest.metrics import format_metric
    from alchemiser.cli.render import new_table, show
    from alchemiser.sweep.runner import ranked

    reused = f", {outcome.reused:,} reused from earlier runs" if outcome.reused else ""
    failed = f", {outcome.failed:,} without result (see the error column)" if outcome.failed else ""
    show(
        console,
        f"[bold]Sweep {outcome.run_id}[/]: {outcome.total:,} configurations tried "
        f"({outcome.computed:,} computed{reused}{failed}) in {outcome.elapsed_s:.1f} s",
    )
    params = [c.removeprefix("p.") for c in outcome.params]
    metrics = list(dict.fromkeys([outcome.rank_by, "cagr", "max_drawdown"]))
    columns = ["#", *params, *(m.replace("max_drawdown", "max dd") for m in metrics), "trades"]
    numeric = {"#", *params, *columns[1 + len(params) :]}
    best = ranked(outcome.rows, outcome.rank_by)[:top]
    table = new_table(console, f"Top {len(best)} by {outcome.rank_by}", columns, numeric)
    for rank, row in enumerate(best, 1):
        cells = [_value(row.get(f"p.{p}")) for p in params]
        scores = [format_metric(m, row.get(m)) if m != "trades" else str(row.get(m)) for m in metrics]
        table.add_row(str(rank), *cells, *scores, "—" if row.get("trades") is None else str(row["trades"]))
    show(console, table)
    if outcome.honesty is not None:
        show(console, outcome.honesty.sentence())
    show(console, f"results: {outcome.out}", wrap=False)
    if best:
        show(console, f"export the best: alchemiser sweep export {outcome.run_id} 1 -o best.clj", wrap=False)


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return "—" if value is None else str(value)


@sweep_app.command("export", short_help="Write one row as a strategy file (.clj or JSON).")
def sweep_export(
    ctx: typer.Context,
    run: Annotated[
        str, typer.Argument(help="The sweep run id (as `sweep` prints it; a folder in $ALCHEMISER_HOME/sweeps).")
    ],
    row: Annotated[str, typer.Argument(help="A row id (or its first characters), or a rank: 1 is the best.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here (default: print the strategy to stdout).")
    ] = None,
    json_out: JsonFlag = False,
) -> None:
    """Write one row's strategy with its parameters substituted (.clj, or a JSON score like the source)."""
    from alchemiser.sweep.export import export_row

    if output is not None and output.is_dir():
        raise SweepCliError(f"--output {output} is a folder; give a file name such as best.clj")
    exported = export_row(settings_of(ctx), run, row, output)
    if json_out:
        print_json(exported.as_dict())
        return
    if output is None:
        typer.echo(exported.text, nl=False)
        return
    console.print(f"wrote {output} (row {exported.row_id}, rank {exported.rank})", highlight=False)
    console.print(f"check it: {exported.backtest_command}", highlight=False, soft_wrap=True)
