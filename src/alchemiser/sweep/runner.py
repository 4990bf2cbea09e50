"""A sweep run from spec to results: plan, skip what the journal holds, run the rest, write Parquet.

The CLI renders what `run_sweep` returns; the engine only ever sees picklable tasks and the shared
history. Resuming is the default: rows whose id is already in the run's journal are reused, not rerun.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, NotRequired

from typing_extensions import TypedDict  # the TypedDict pydantic accepts on 3.11

from alchemiser import market_calendar
from alchemiser.config import Settings
from alchemiser.errors import AlchemiserError
from alchemiser.sweep.engines.base import Engine
from alchemiser.sweep.expand import DEFAULT_MAX_VARIANTS, Plan, build_plan
from alchemiser.sweep.honesty import Honesty, HonestyJson
from alchemiser.sweep.spec import LOWER_IS_BETTER, SweepSpecError, load_spec
from alchemiser.sweep.store import RESULTS, Journal, record_run, run_dir, write_parquet
from alchemiser.sweep.task import SharedData, run_task

log = logging.getLogger(__name__)


class SweepRunError(AlchemiserError):
    """A sweep that stopped before every backtest ran (its finished rows are kept)."""


class SweepJson(TypedDict):
    """`sweep run SPEC --json`: the run, its counts and its best rows."""

    run: Annotated[str, "the sweep run id (`sweep export` takes it)"]
    folder: Annotated[str, "the run folder under $ALCHEMISER_HOME/sweeps"]
    spec: Annotated[str, "the spec file"]
    configurations: Annotated[int, "rows of the spec (every variant × period)"]
    computed: Annotated[int, "backtests run this time"]
    reused: Annotated[int, "rows taken from an earlier run of the same spec"]
    failed: Annotated[int, "rows without a result (their `error` says why)"]
    out: Annotated[str, "the results file (Parquet)"]
    rank_by: Annotated[str, "the metric the rows are ranked by"]
    elapsed_s: Annotated[float, "seconds"]
    top: Annotated[
        list[dict[str, Any]],
        "the best rows, best first: `rank`, `id`, `p.<name>` per swept parameter, the metrics, `error`",
    ]
    honesty: NotRequired[HonestyJson]
    report: NotRequired[Annotated[dict[str, str], "what `--report` wrote: name → file"]]


@dataclass
class SweepOutcome:
    run_id: str
    folder: Path
    spec_path: Path
    total: int
    reused: int
    computed: int
    failed: int
    out: Path
    rank_by: str
    params: list[str]  # the p.<name> columns
    rows: list[dict[str, Any]]  # every row of the spec, sorted by id
    elapsed_s: float
    honesty: Honesty | None = None  # DSR and walk-forward

    def summary(self, top: int) -> SweepJson:
        """The `--json` shape (strict JSON through `dumps_json`)."""
        result: SweepJson = {
            "run": self.run_id,
            "folder": str(self.folder),
            "spec": str(self.spec_path),
            "configurations": self.total,
            "computed": self.computed,
            "reused": self.reused,
            "failed": self.failed,
            "out": str(self.out),
            "rank_by": self.rank_by,
            "elapsed_s": round(self.elapsed_s, 3),
            "top": [{"rank": i + 1, **row} for i, row in enumerate(ranked(self.rows, self.rank_by)[:top])],
        }
        if self.honesty is not None:
            result["honesty"] = self.honesty.summary()
        return result


def resolve_end(end: dt.date | None) -> dt.date:
    last = market_calendar.last_completed_session()
    return min(end or last, last)


def plan_sweep(settings: Settings, spec_path: Path, max_variants: int = DEFAULT_MAX_VARIANTS) -> Plan:
    spec = load_spec(spec_path)
    return build_plan(spec, spec_path, settings, resolve_end(spec.sweep.end), max_variants)


def run_sweep(
    settings: Settings,
    spec_path: Path,
    engine: Engine,
    *,
    out: Path | None = None,
    max_variants: int = DEFAULT_MAX_VARIANTS,
    on_start: Callable[[Plan, int], None] | None = None,
    on_row: Callable[[dict[str, Any]], None] | None = None,
    on_phase: Callable[[str, int], None] | None = None,
) -> SweepOutcome:
    """Run every task of the spec that the run's journal does not hold yet; rows are journaled as they come."""
    began = time.perf_counter()
    plan = plan_sweep(settings, spec_path, max_variants)
    from alchemiser.sweep.honesty import precheck  # branch sweepwf: [walk_forward] and [report] tables

    precheck(plan.spec.walk_forward, plan.spec.report, spec_path, plan.spec.sweep.start, plan.end)
    folder = run_dir(settings.home, plan.run_id)
    record_run(
        folder,
        spec_path,
        {
            "run": plan.run_id,
            "spec": str(spec_path.resolve()),
            "spec_hash": plan.spec_hash,
            "params": plan.columns,
            "rank_by": plan.spec.sweep.rank_by,
            "configurations": len(plan.tasks),
            "end": plan.end.isoformat(),
        },
    )
    journal = Journal(folder)
    try:
        done = journal.ids()
        missing = [t for t in plan.tasks if t.id not in done]
        reused = len(plan.tasks) - len(missing)
        if on_start is not None:
            on_start(plan, reused)
        loaded: list[SharedData] = []

        def shared() -> SharedData:
            if not loaded:
                loaded.append(SharedData(_history(settings, plan, plan.symbols)))
            return loaded[0]

        if missing:
            try:
                for row in engine.map_unordered(run_task, shared(), missing):
                    journal.add(row)
                    if on_row is not None:
                        on_row(row)
            except AlchemiserError:
                raise
            except Exception as exc:  # a bug or a dead worker: say so, keep what finished, never a traceback
                log.exception("sweep %s stopped", plan.run_id)
                raise SweepRunError(
                    f"sweep {plan.run_id} stopped: {type(exc).__name__}: {exc} (details in the log); "
                    f"{journal.count():,} finished backtests are saved, and running it again computes the rest"
                ) from None
        rows = journal.rows(t.id for t in plan.tasks)
        honesty, written = _honesty(plan, rows, engine, shared, journal, on_row, folder, on_phase)
    finally:
        journal.close()
    write_parquet(written, folder / RESULTS)
    target = out if out is not None else folder / RESULTS
    if out is not None:
        write_parquet(written, out)
    record_run(folder, spec_path, {"finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")})
    return SweepOutcome(
        plan.run_id,
        folder,
        spec_path,
        len(plan.tasks),
        reused,
        len(missing),
        sum(1 for r in rows if r.get("error")),
        target,
        plan.spec.sweep.rank_by,
        plan.columns,
        rows,
        time.perf_counter() - began,
        honesty,
    )


def _honesty(
    plan: Plan,
    rows: list[dict[str, Any]],
    engine: Engine,
    shared: Callable[[], SharedData],
    journal: Journal,
    on_row: Callable[[dict[str, Any]], None] | None,
    folder: Path,
    on_phase: Callable[[str, int], None] | None = None,
) -> tuple[Any, list[dict[str, Any]]]:
    """sweep/honesty.py (branch sweepwf): walk-forward through this engine and journal, the DSR, and the
    run folder's summary; returns it with the rows to write (fold rows added under walk-forward)."""
    from alchemiser.sweep.honesty import finish, with_phase

    if not rows:
        return None, rows

    def journaled(row: dict[str, Any]) -> None:
        journal.add(row)
        if on_row is not None:
            on_row(row)

    honesty, fold_rows = finish(
        spec_path=plan.spec_path,
        walk_raw=plan.spec.walk_forward,
        report_raw=plan.spec.report,
        rank_by=plan.spec.sweep.rank_by,
        title=f"Sweep {plan.run_id}",
        tasks=plan.tasks,
        rows=rows,
        engine=engine,
        shared=shared,
        done={r["id"]: r for r in journal.rows()},
        on_row=journaled,
        on_phase=on_phase,
        folder=folder,
    )
    return honesty, (with_phase(rows) + fold_rows) if fold_rows else rows


def _history(settings: Settings, plan: Plan, symbols: set[str]) -> Any:
    from alchemiser.data.history import load_history
    from alchemiser.signals import build_market

    start = plan.spec.sweep.start
    last = market_calendar.last_completed_session()
    if start and start > last:
        raise SweepSpecError(f"{plan.spec_path}: sweep.start {start} is after the last completed session ({last})")
    return load_history(build_market(settings), symbols, plan.end)


def ranked(rows: Sequence[dict[str, Any]], rank_by: str) -> list[dict[str, Any]]:
    """Best first by `rank_by` (lower first for volatility and drawdown); rows without it last; ties by id."""
    sign = 1.0 if rank_by in LOWER_IS_BETTER else -1.0

    def key(row: dict[str, Any]) -> tuple[int, float, str]:
        value = row.get(rank_by)
        return (1, 0.0, row["id"]) if value is None else (0, sign * float(value), row["id"])

    return sorted(rows, key=key)
