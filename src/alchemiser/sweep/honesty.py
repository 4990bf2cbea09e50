"""What a finished sweep says honestly: configurations tried, the best raw Sharpe next to its deflated
Sharpe ratio, and under walk-forward the stitched out-of-sample result as the headline.

`finish` runs after the sweep's ordinary rows are in: it runs the walk-forward (when the spec has a
`[walk_forward]` table) through the same engine and journal, computes the DSR of the best configuration
(with its returns' skew and kurtosis), and records `report/summary.json`, `report/curve.csv` and
`report/folds.csv` in the run folder — what the dashboard's Sweeps page reads. `write_run_report` draws
the charts and the HTML page (`sweep --report DIR`), and copies them into the run folder too.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import shutil
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from typing_extensions import TypedDict  # the TypedDict pydantic accepts on 3.11

from alchemiser import market_calendar
from alchemiser.errors import AlchemiserError
from alchemiser.sweep.deflated import Deflated, DeflatedJson, deflate_rows
from alchemiser.sweep.engines.base import Engine
from alchemiser.sweep.task import BacktestTask, SharedData
from alchemiser.sweep.walkforward import WalkForwardError, WalkForwardSpec, plan_folds, rank
from alchemiser.sweep.wfrun import FULL, WalkForwardJson, WalkForwardOutcome, best_returns
from alchemiser.sweep.wfrun import run as run_walk_forward

REPORT_DIR = "report"


class HonestyError(AlchemiserError):
    """The spec's `[walk_forward]` or `[report]` table is invalid; the message names the key."""


class ReportSpec(BaseModel):
    """The spec's `[report]` table: `heatmap = ["param_a", "param_b"]` picks the heat map's axes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    heatmap: tuple[str, str] | None = None

    @field_validator("heatmap")
    @classmethod
    def _distinct(cls, value: tuple[str, str] | None) -> tuple[str, str] | None:
        if value is not None and value[0] == value[1]:
            raise ValueError("name two different parameters")
        return value


def _validated(model: type[BaseModel], table: str, raw: Mapping[str, Any] | None, where: Path) -> Any:
    if raw is None:
        return None
    try:
        return model.model_validate(dict(raw))
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            message = f"unknown key (allowed here: {', '.join(model.model_fields)})"
        raise HonestyError(f"{where}: {table}.{key}: {message}") from None


def walk_forward_spec(raw: Mapping[str, Any] | None, where: Path) -> WalkForwardSpec | None:
    spec: WalkForwardSpec | None = _validated(WalkForwardSpec, "walk_forward", raw, where)
    return spec


def report_spec(raw: Mapping[str, Any] | None, where: Path) -> ReportSpec:
    spec: ReportSpec | None = _validated(ReportSpec, "report", raw, where)
    return spec or ReportSpec()


def precheck(
    walk_raw: Mapping[str, Any] | None,
    report_raw: Mapping[str, Any] | None,
    spec_path: Path,
    start: dt.date | None,
    end: dt.date,
) -> None:
    """Refuse invalid `[walk_forward]` / `[report]` tables before any backtest runs; with a known start, also
    windows that do not fit the period (planned on the exchange calendar; the real plan uses the data)."""
    walk = walk_forward_spec(walk_raw, spec_path)
    report_spec(report_raw, spec_path)
    if walk is None or start is None:
        return
    try:
        sessions = market_calendar.sessions(start, end)
    except AlchemiserError:  # outside the calendar's years: the real plan will say
        return
    try:
        plan_folds(sessions, walk)
    except WalkForwardError as exc:
        raise HonestyError(f"{spec_path}: {exc}") from None


class HonestyJson(TypedDict):
    """How far the best configuration's score can be trusted: DSR and, when configured, walk-forward."""

    metric: Annotated[str, "the ranking metric"]
    trials: Annotated[int, "configurations tried"]
    deflated: DeflatedJson
    walk_forward: Annotated[WalkForwardJson | None, "null when the spec has no walk-forward"]


@dataclass
class Honesty:
    """What `finish` found; `rows` are the configurations compared (the sweep's whole-period rows)."""

    rank_by: str
    rows: pd.DataFrame
    deflated: Deflated
    curve: pd.Series | None  # stitched OOS under walk-forward, else the best configuration's equity
    walk: WalkForwardOutcome | None
    report: ReportSpec
    title: str

    def summary(self) -> HonestyJson:
        out: HonestyJson = _finite(
            {
                "metric": self.rank_by,
                "trials": self.deflated.trials,
                "deflated": self.deflated.as_dict(),
                "walk_forward": self.walk.summary() if self.walk is not None else None,
            }
        )
        return out

    def sentence(self, width: int = 80) -> str:
        """The terminal's lines, wrapped at `width` (piped output is never wrapped by the console)."""
        return "\n".join(textwrap.fill(part, width) for part in self._sentence().split("\n"))

    def _sentence(self) -> str:
        d = self.deflated
        dsr = "—" if not math.isfinite(d.dsr) else f"{d.dsr:.1%}"
        text = (
            f"{d.trials:,} configurations tried · best raw Sharpe {_num(d.best_sharpe)} · deflated Sharpe ratio "
            f"{dsr}: the probability that its true Sharpe beats {_num(d.expected_max_sharpe)}, what the best of "
            f"{d.trials:,} configurations without any skill reaches by luck"
        )
        if self.walk is not None:
            w = self.walk.summary()
            text += (
                f"\nwalk-forward ({w['describe']}), {w['folds']} folds: stitched out-of-sample "
                f"{w['oos_start']} to {w['oos_end']}: total return {_pct(w['oos_total_return'])}, "
                f"Sharpe {_num(w['oos_sharpe'])}, max drawdown {_pct(w['oos_max_drawdown'])}"
            )
        return text


def _num(value: Any) -> str:
    return "—" if value is None or not math.isfinite(float(value)) else f"{float(value):.2f}"


def _pct(value: Any) -> str:
    return "—" if value is None or not math.isfinite(float(value)) else f"{float(value):.1%}"


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def finish(
    *,
    spec_path: Path,
    walk_raw: Mapping[str, Any] | None,
    report_raw: Mapping[str, Any] | None,
    rank_by: str,
    title: str,
    tasks: list[BacktestTask],
    rows: list[dict[str, Any]],
    engine: Engine,
    shared: Callable[[], SharedData],
    done: Mapping[str, dict[str, Any]],
    on_row: Callable[[dict[str, Any]], None] | None,
    folder: Path,
    on_phase: Callable[[str, int], None] | None = None,
) -> tuple[Honesty, list[dict[str, Any]]]:
    """Walk-forward (if asked), DSR and the run folder's summary files; returns (honesty, the fold rows)."""
    walk_spec = walk_forward_spec(walk_raw, spec_path)
    report = report_spec(report_raw, spec_path)
    frame = pd.DataFrame(rows)
    data = shared()
    walk = None
    extra: list[dict[str, Any]] = []
    if walk_spec is not None:
        walk = run_walk_forward(engine, data, tasks, walk_spec, rank_by, done=done, on_row=on_row, on_phase=on_phase)
        extra = [
            {str(k): (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
            for r in walk.rows.to_dict("records")
        ]
    usable = frame.loc[frame["sharpe"].notna()] if "sharpe" in frame.columns else frame.iloc[0:0]
    curve = None
    returns = None
    if not usable.empty:
        best_id = str(rank(usable, "sharpe").iloc[0]["id"])
        best_task = next(t for t in tasks if t.id == best_id)
        try:
            best_curve, returns = best_returns(data, best_task)
        except AlchemiserError:  # its row has metrics, so this cannot fail; if it did, normal moments are used
            best_curve, returns = None, None
        curve = walk.curve if walk is not None else best_curve
    deflated = deflate_rows(frame if "sharpe" in frame.columns else pd.DataFrame({"sharpe": []}), returns=returns)
    honesty = Honesty(rank_by, frame, deflated, curve, walk, report, title)
    record(folder, honesty)
    return honesty, extra


def with_phase(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The sweep's whole-period rows marked as such, so they share columns with the fold rows."""
    return [{**r, "fold": -1, "phase": FULL} for r in rows]


def record(folder: Path, honesty: Honesty) -> None:
    """summary.json, curve.csv and folds.csv into the run folder's report/ (for the dashboard)."""
    target = folder / REPORT_DIR
    try:
        target.mkdir(parents=True, exist_ok=True)
        (target / "summary.json").write_text(json.dumps(honesty.summary(), indent=2) + "\n", encoding="utf-8")
        if honesty.curve is not None:
            honesty.curve.rename("equity").rename_axis("date").to_csv(target / "curve.csv", float_format="%.6f")
        if honesty.walk is not None:
            honesty.walk.table.to_csv(target / "folds.csv", index=False)
    except OSError as exc:
        raise HonestyError(f"cannot write {target}: {exc.strerror or exc}") from None


def write_run_report(outcome: Any, folder: Path) -> dict[str, Path]:
    """`sweep --report DIR`: the charts and report.html of a finished sweep, also copied to the run folder."""
    from alchemiser.sweep.report import write_report

    honesty: Honesty | None = getattr(outcome, "honesty", None)
    if honesty is None:
        raise HonestyError("this sweep has no results to report on")
    walk = honesty.walk
    paths = write_report(
        folder,
        honesty.rows,
        metric=honesty.rank_by,
        heatmap=honesty.report.heatmap,
        curve=honesty.curve,
        curve_title="Stitched out-of-sample equity (walk-forward)" if walk else "Best configuration's equity",
        folds=walk.table if walk is not None else None,
        deflated=honesty.deflated,
        title=honesty.title,
        notes={"walk-forward": walk.spec.describe()} if walk is not None else None,
    )
    run_report = Path(outcome.folder) / REPORT_DIR
    if run_report.resolve() != folder.resolve():
        try:
            run_report.mkdir(parents=True, exist_ok=True)
            for path in paths.values():
                shutil.copyfile(path, run_report / path.name)
        except OSError as exc:
            raise HonestyError(f"cannot copy the report into {run_report}: {exc.strerror or exc}") from None
    return paths
