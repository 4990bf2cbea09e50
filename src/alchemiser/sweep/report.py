"""Sweep reports: a heat map over two parameters, the headline equity curve, parameter stability.

The three views answer the questions a sweep's ranked table cannot: does the metric change smoothly over
the parameters (heat map), what would trading the choice have earned out of sample (the stitched
walk-forward curve, or the best configuration's curve without walk-forward), and is the best
configuration a plateau or an isolated spike that luck put there (stability: the metric against each
parameter's value, and the best's neighbours). Drawn like the backtest report (matplotlib Agg, PNG files
and one self-contained HTML page with the images embedded, so it opens offline and can be archived).
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from alchemiser.backtest.metrics import format_metric
from alchemiser.errors import AlchemiserError
from alchemiser.sweep.deflated import Deflated
from alchemiser.sweep.walkforward import ascending, rank

TOP_ROWS = 20  # the ranked table in the HTML page
HTML_NAME = "report.html"


class ReportError(AlchemiserError):
    """The report cannot be written or its settings do not fit the results; the message names which."""


def label(value: Any) -> str:
    """A parameter value as people read it: numbers without trailing zeros, anything else as text."""
    if isinstance(value, float | int | np.floating | np.integer) and not isinstance(value, bool):
        return f"{float(value):g}"
    return str(value)


def param_columns(rows: pd.DataFrame) -> list[str]:
    return [str(c) for c in rows.columns if str(c).startswith("p.")]


def heatmap_axes(rows: pd.DataFrame, chosen: Sequence[str] | None) -> tuple[str, str] | None:
    """The two parameters of the heat map: `chosen` (validated), else the two with most distinct values."""
    params = param_columns(rows)
    if chosen is not None:
        names = [c if c.startswith("p.") else f"p.{c}" for c in chosen]
        if len(names) != 2 or names[0] == names[1]:
            raise ReportError(f"report.heatmap must name two different parameters (got {list(chosen)!r})")
        missing = [n for n in names if n not in params]
        if missing:
            raise ReportError(
                f"report.heatmap: {missing[0]} is not a swept parameter (swept: {', '.join(params) or 'none'})"
            )
        return names[0], names[1]
    varied = sorted((p for p in params if rows[p].nunique() > 1), key=lambda p: (-rows[p].nunique(), p))
    return (varied[0], varied[1]) if len(varied) >= 2 else None


def _best_by(frame: pd.DataFrame, keys: list[str], metric: str) -> pd.Series:
    """Per value of `keys`, the best metric over the other parameters (what choosing there could reach)."""
    grouped = frame.groupby(keys)[metric]
    return grouped.min() if ascending(metric) else grouped.max()


def heatmap_figure(rows: pd.DataFrame, axes: tuple[str, str], metric: str) -> Figure:
    grid = _best_by(rows, list(axes), metric).unstack(axes[0])  # rows: axes[1], columns: axes[0]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.5 * grid.shape[1] + 3), max(4.0, 0.4 * grid.shape[0] + 2)))
    values = grid.to_numpy(dtype=np.float64)
    cmap = "RdYlGn_r" if ascending(metric) else "RdYlGn"
    image = ax.imshow(values, origin="lower", aspect="auto", cmap=cmap)
    ax.set_xticks(range(grid.shape[1]), [label(v) for v in grid.columns], rotation=45, fontsize=8)
    ax.set_yticks(range(grid.shape[0]), [label(v) for v in grid.index], fontsize=8)
    ax.set_xlabel(axes[0][2:])
    ax.set_ylabel(axes[1][2:])
    ax.set_title(f"{metric} (best over the other parameters)")
    fig.colorbar(image, ax=ax, label=metric)
    if values.size <= 400:  # numbers in the cells while they still fit
        for (y, x), v in np.ndenumerate(values):
            if math.isfinite(v):
                ax.text(x, y, f"{v:.2f}", ha="center", va="center", fontsize=6)
    return fig


def curve_figure(curve: pd.Series, title: str, folds: pd.DataFrame | None) -> Figure:
    fig, ax = plt.subplots(figsize=(10, 4.5))
    ax.plot(curve.index, curve.to_numpy(), lw=1.4, color="tab:blue")
    if folds is not None:
        for start in folds["oos_start"].iloc[1:]:
            ax.axvline(pd.Timestamp(start), color="grey", lw=0.6, ls=":")  # type: ignore[arg-type]
    if (curve > 0).all():
        ax.set_yscale("log")
    ax.set_title(title)
    ax.set_ylabel("equity $")
    ax.grid(alpha=0.3)
    return fig


@dataclass(frozen=True)
class Stability:
    """The best configuration against its neighbours (one grid step away in one parameter)."""

    best: float
    neighbours: list[tuple[str, Any, float]]  # (parameter, its value, the metric there)
    spread: float  # interquartile range of the metric over every configuration

    @property
    def median(self) -> float:
        values = [m for _, _, m in self.neighbours if math.isfinite(m)]
        return float(np.median(values)) if values else math.nan

    @property
    def isolated(self) -> bool:
        """True when the neighbours fall further below the best than the middle half of all configurations
        spans: a spike rather than a plateau."""
        if not (math.isfinite(self.median) and math.isfinite(self.best) and self.spread > 0):
            return False
        return abs(self.best - self.median) > self.spread


def stability(rows: pd.DataFrame, metric: str) -> Stability | None:
    """Neighbours of the best row: same values everywhere but one parameter, which is one step away."""
    params = [p for p in param_columns(rows) if rows[p].nunique() > 1]
    ranked = rank(rows, metric)
    if ranked.empty or not params or pd.isna(ranked.iloc[0][metric]):
        return None
    best = ranked.iloc[0]
    found: list[tuple[str, Any, float]] = []
    for p in params:
        others = [q for q in params if q != p]
        same = rows
        for q in others:
            same = same.loc[same[q] == best[q]]
        values = sorted(same[p].unique())
        at = values.index(best[p])
        for k in (at - 1, at + 1):
            if 0 <= k < len(values):
                found.append((p, values[k], float(same.loc[same[p] == values[k], metric].iloc[0])))
    metric_values = rows[metric].to_numpy(dtype=np.float64)
    finite = metric_values[np.isfinite(metric_values)]
    spread = float(np.subtract(*np.percentile(finite, [75, 25]))) if finite.size else math.nan
    return Stability(float(best[metric]), found, spread)


def stability_figure(rows: pd.DataFrame, metric: str) -> Figure:
    params = [p for p in param_columns(rows) if rows[p].nunique() > 1] or param_columns(rows)[:1]
    count = max(len(params), 1)
    fig, axes = plt.subplots(1, count, figsize=(min(4.0 * count, 16), 3.6), squeeze=False)
    best = rank(rows, metric).iloc[0] if len(rows) else None
    for ax, p in zip(axes[0], params, strict=False):
        line = _best_by(rows, [p], metric)
        numeric = pd.api.types.is_numeric_dtype(rows[p])
        # text values (a rebalance schedule) are drawn as categories at 0, 1, 2, … in sorted order
        where = {v: (float(v) if numeric else float(i)) for i, v in enumerate(line.index)}
        ax.scatter(
            [where[v] for v in rows[p]], rows[metric], s=8, color="grey", alpha=0.35, label="every configuration"
        )
        ax.plot(
            list(where.values()),
            line.to_numpy(),
            color="tab:blue",
            lw=1.4,
            marker="o",
            ms=3,
            label="best at this value",
        )
        if not numeric:
            ax.set_xticks(list(where.values()), [label(v) for v in where], fontsize=8)
        if best is not None:
            ax.axvline(where[best[p]], color="tab:red", lw=0.9, ls="--", label="overall best")
        ax.set_xlabel(p[2:])
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
    axes[0][0].legend(loc="best", fontsize=7)
    fig.suptitle(f"Parameter stability: {metric} against each parameter")
    return fig


def _save(fig: Figure, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _cell(key: str, value: Any) -> str:
    if isinstance(value, float | int | np.floating | np.integer) and not isinstance(value, bool):
        number = float(value)
        if not math.isfinite(number):
            return "—"
        if key.startswith("p."):
            return label(number)
        if key in ("trades", "fold", "is_sessions", "oos_sessions"):
            return f"{number:.0f}"
        base = key.removeprefix("is_").removeprefix("oos_")
        return html.escape(format_metric(base, number)) if base in _FORMATTED else f"{number:.4g}"
    return html.escape(str(value))


_FORMATTED = frozenset(
    {"total_return", "cagr", "volatility", "sharpe", "sortino", "max_drawdown", "calmar", "best_day", "worst_day",
     "exposure", "turnover", "beta", "correlation"}
)  # fmt: skip


def _table(frame: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_cell(str(c), v)}</td>" for c, v in row.items()) + "</tr>"
        for _, row in frame.iterrows()
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _honesty(deflated: Deflated | None) -> str:
    if deflated is None:
        return ""
    dsr = "—" if not math.isfinite(deflated.dsr) else f"{deflated.dsr:.1%}"
    verdict = (
        "cannot be computed (too few results with a Sharpe)"
        if not math.isfinite(deflated.dsr)
        else "likely more than selection luck"
        if deflated.dsr >= 0.95
        else "not distinguishable from the luck of picking the best of many"
    )
    return (
        f'<p class="honesty"><b>{deflated.trials}</b> configurations tried · best raw Sharpe '
        f"<b>{deflated.best_sharpe:.2f}</b> · expected best Sharpe of {deflated.trials} skill-less trials "
        f"{deflated.expected_max_sharpe:.2f} · <b>deflated Sharpe ratio {dsr}</b>: {verdict}.</p>"
    )


def _stability_html(found: Stability | None, metric: str) -> str:
    if found is None or not found.neighbours:
        return "<p>No neighbours to compare the best with (fewer than two values per parameter).</p>"
    rows = "".join(
        f"<tr><td>{html.escape(p[2:])} = {html.escape(label(v))}</td><td>{_cell(metric, m)}</td></tr>"
        for p, v, m in found.neighbours
    )
    verdict = (
        '<p class="warn">The best configuration is an isolated spike: its neighbours score far lower. '
        "Prefer a configuration inside a plateau.</p>"
        if found.isolated
        else "<p>The best configuration sits on a plateau: its neighbours score close to it.</p>"
    )
    return (
        f"<p>Best {html.escape(metric)} {_cell(metric, found.best)}; neighbours' median "
        f"{_cell(metric, found.median)}; middle half of all configurations spans {found.spread:.3g}.</p>"
        f"<table><tr><th>neighbour</th><th>{html.escape(metric)}</th></tr>{rows}</table>{verdict}"
    )


def write_report(
    folder: Path,
    rows: pd.DataFrame,
    *,
    metric: str = "sharpe",
    heatmap: Sequence[str] | None = None,
    curve: pd.Series | None = None,
    curve_title: str = "Best configuration",
    folds: pd.DataFrame | None = None,
    deflated: Deflated | None = None,
    title: str = "Sweep",
    notes: Mapping[str, str] | None = None,
) -> dict[str, Path]:
    """PNG charts and `report.html` into `folder` (created when missing); returns {name: path}.

    `rows` are the configurations to compare (one row each, `p.` columns and metrics); `curve` the headline
    equity (the stitched OOS curve under walk-forward); `folds` the walk-forward per-fold table.
    """
    if metric not in rows.columns:
        raise ReportError(f"the report's metric {metric!r} is not a result column")
    axes = heatmap_axes(rows, heatmap)
    try:
        if folder.exists() and not folder.is_dir():
            raise ReportError(f"--report {folder} is a file; give a folder (it is created when missing)")
        folder.mkdir(parents=True, exist_ok=True)
        return _write(folder, rows, metric, axes, curve, curve_title, folds, deflated, title, notes or {})
    except OSError as exc:
        raise ReportError(f"--report {folder}: cannot write the report ({exc.strerror or exc})") from None


def _write(
    folder: Path,
    rows: pd.DataFrame,
    metric: str,
    axes: tuple[str, str] | None,
    curve: pd.Series | None,
    curve_title: str,
    folds: pd.DataFrame | None,
    deflated: Deflated | None,
    title: str,
    notes: Mapping[str, str],
) -> dict[str, Path]:
    charts: dict[str, Path] = {}
    if curve is not None and len(curve):
        charts["curve"] = folder / "curve.png"
        _save(curve_figure(curve, curve_title, folds), charts["curve"])
        curve.rename("equity").rename_axis("date").to_csv(folder / "curve.csv", float_format="%.6f", header=True)
    if axes is not None and len(rows):
        charts["heatmap"] = folder / "heatmap.png"
        _save(heatmap_figure(rows, axes, metric), charts["heatmap"])
    if param_columns(rows) and len(rows):
        charts["stability"] = folder / "stability.png"
        _save(stability_figure(rows, metric), charts["stability"])
    if folds is not None:
        folds.to_csv(folder / "folds.csv", index=False)
    ranked = rank(rows, metric).head(TOP_ROWS)
    shown = [c for c in ("id", *param_columns(rows), metric, "cagr", "max_drawdown", "trades") if c in ranked.columns]
    ranked = ranked.loc[:, list(dict.fromkeys(shown))]
    captions = {
        "curve": curve_title,
        "heatmap": f"Heat map: {metric} over {axes[0][2:]} × {axes[1][2:]}" if axes else "",
        "stability": "Parameter stability",
    }
    images = "".join(
        f'<h2>{html.escape(captions[name])}</h2><img alt="{name}" '
        f'src="data:image/png;base64,{base64.b64encode(path.read_bytes()).decode()}">'
        for name, path in charts.items()
    )
    fold_html = f"<h2>Walk-forward folds</h2>{_table(folds)}" if folds is not None and len(folds) else ""
    note_html = "".join(f"<p><b>{html.escape(k)}:</b> {html.escape(v)}</p>" for k, v in notes.items())
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 10px;text-align:right}}td:first-child{{text-align:left}}
.warn{{color:#a60}}.honesty{{background:#f4f4f8;padding:.6em}}img{{max-width:100%}}</style></head><body>
<h1>{html.escape(title)}</h1>{note_html}{_honesty(deflated)}{images}{fold_html}
<h2>Stability of the best configuration</h2>{_stability_html(stability(rows, metric), metric)}
<h2>Top {len(ranked)} by {html.escape(metric)}</h2>{_table(ranked)}
</body></html>"""
    (folder / HTML_NAME).write_text(page, encoding="utf-8")
    return {**charts, "html": folder / HTML_NAME}
