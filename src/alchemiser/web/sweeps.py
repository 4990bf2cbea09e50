"""The dashboard's Sweeps page: recorded sweep runs, their ranked results, honesty figures and reports.

It only reads what `alchemiser sweep` recorded under `$ALCHEMISER_HOME/sweeps/<RUN>/`: the results
(Parquet), and the `report/` folder the sweep writes there (PNG charts, `curve.csv` — the stitched
out-of-sample curve under walk-forward, else the best configuration's — `folds.csv` and `summary.json`
with the deflated Sharpe ratio). A run without a summary still lists, with the DSR computed from its rows.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pandas as pd

from alchemiser.sweep.deflated import deflate_rows
from alchemiser.sweep.walkforward import OOS, rank
from alchemiser.sweep.wfrun import FULL
from alchemiser.web.queries import QueryError

SWEEPS = "sweeps"
REPORT = "report"
IMAGES = ("curve.png", "heatmap.png", "stability.png")
FILES = (*IMAGES, "report.html", "curve.csv", "folds.csv")
TOP = 50
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def sweeps_dir(home: Path) -> Path:
    return home / SWEEPS


def results_file(run: Path) -> Path | None:
    """The run's results: `results.parquet`, else its only Parquet file."""
    preferred = run / "results.parquet"
    if preferred.is_file():
        return preferred
    found = sorted(run.glob("*.parquet"))
    return found[0] if found else None


def run_folder(home: Path, name: str) -> Path:
    """The folder of sweep run `name`; a 404-style error for names that are not a run (or try to escape)."""
    if not _NAME.match(name):
        raise QueryError(f"run: no run {name!r} among the recorded sweeps")
    folder = sweeps_dir(home) / name
    if not folder.is_dir():
        raise QueryError(f"run: no run {name!r} among the recorded sweeps")
    return folder


def _summary(folder: Path) -> dict[str, Any] | None:
    path = folder / REPORT / "summary.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _rows(folder: Path) -> pd.DataFrame:
    path = results_file(folder)
    if path is None:
        return pd.DataFrame()
    try:
        return pd.read_parquet(path)
    except Exception:  # a file being written, or damaged: list the run as unreadable, never fail the page
        return pd.DataFrame()


def _main_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows that compare configurations: the whole-period ones (walk-forward adds fold rows)."""
    if "phase" in rows.columns:
        return rows.loc[rows["phase"] == FULL]
    return rows


def _figures(folder: Path, rows: pd.DataFrame, metric: str) -> dict[str, Any]:
    summary = _summary(folder)
    if summary is not None:
        return summary
    main = _main_rows(rows)
    if "sharpe" not in main.columns or main.empty:
        return {"trials": len(main), "metric": metric, "deflated": None, "walk_forward": None}
    return {"trials": len(main), "metric": metric, "deflated": deflate_rows(main).as_dict(), "walk_forward": None}


def list_runs(home: Path) -> list[dict[str, Any]]:
    """Every recorded run, newest first: name, rows, configurations tried, best raw Sharpe and its DSR."""
    base = sweeps_dir(home)
    if not base.is_dir():
        return []
    folders = [p for p in base.iterdir() if p.is_dir() and _NAME.match(p.name)]
    out = []
    for folder in sorted(folders, key=lambda p: (-p.stat().st_mtime, p.name)):
        rows = _rows(folder)
        figures = _figures(folder, rows, "sharpe")
        deflated = figures.get("deflated") or {}
        out.append(
            {
                "run": folder.name,
                "rows": len(rows),
                "trials": figures.get("trials"),
                "best_sharpe": deflated.get("best_sharpe"),
                "dsr": deflated.get("dsr"),
                "walk_forward": bool(figures.get("walk_forward")),
                "report": (folder / REPORT / "report.html").is_file(),
            }
        )
    return out


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):  # numpy scalars
        return _clean(value.item())
    return value


def run_detail(home: Path, name: str) -> dict[str, Any]:
    """One run: honesty figures, the walk-forward folds, the ranked table, the headline curve, report files."""
    folder = run_folder(home, name)
    rows = _rows(folder)
    summary = _figures(folder, rows, "sharpe")
    metric = str(summary.get("metric") or "sharpe")
    main = _main_rows(rows)
    table: dict[str, Any] = {"columns": [], "rows": []}
    if not main.empty and metric in main.columns:
        ranked = rank(main, metric).head(TOP)
        params = [c for c in ranked.columns if str(c).startswith("p.")]
        wanted = ["id", *params, metric, "cagr", "max_drawdown", "trades"]
        cols = [c for c in dict.fromkeys(wanted) if c in ranked.columns]
        table = {"columns": cols, "rows": [[_clean(v) for v in r] for r in ranked[cols].itertuples(index=False)]}
    report = folder / REPORT
    curve: dict[str, Any] | None = None
    if (report / "curve.csv").is_file():
        frame = pd.read_csv(report / "curve.csv")
        if {"date", "equity"} <= set(frame.columns):
            curve = {"dates": frame["date"].astype(str).tolist(), "equity": [_clean(v) for v in frame["equity"]]}
    folds = None
    if (report / "folds.csv").is_file():
        frame = pd.read_csv(report / "folds.csv")
        folds = {
            "columns": list(frame.columns),
            "rows": [[_clean(v) for v in r] for r in frame.itertuples(index=False)],
        }
    return {
        "run": name,
        "rows": len(rows),
        "oos_rows": int((rows["phase"] == OOS).sum()) if "phase" in rows.columns else 0,
        "summary": summary,
        "table": table,
        "curve": curve,
        "folds": folds,
        "files": [f for f in FILES if (report / f).is_file()],
    }


def report_file(home: Path, name: str, file: str) -> Path | None:
    """A file of the run's report, only from the known list (no path from the request reaches the disk)."""
    folder = run_folder(home, name)
    if file not in FILES or not (folder / REPORT / file).is_file():
        return None
    return folder / REPORT / file
