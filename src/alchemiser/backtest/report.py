"""Backtest reports: PNG charts, a self-contained HTML page and CSV files.

Charts are drawn with matplotlib's non-interactive Agg backend (no display needed); the HTML embeds them as
base64 so the one file can be mailed or archived.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from alchemiser.backtest.errors import BacktestError
from alchemiser.backtest.metrics import METRIC_ROWS, drawdown_series, format_metric, metric_columns
from alchemiser.backtest.service import BacktestOutcome
from alchemiser.data.base import SAMPLE_NOTICE

MAX_STACKED = 15  # more symbols than this: the smallest are drawn together as "other"
OTHER_COLOUR = "#9e9e9e"  # grey: not one of tab20's colours, so "other" never looks like a symbol


def equity_frame(outcome: BacktestOutcome) -> pd.DataFrame:
    r = outcome.result
    frame = pd.DataFrame({"equity": r.equity, "cash": r.cash, "turnover": r.turnover}, index=r.dates.rename("date"))
    if outcome.benchmark_equity is not None:
        frame[f"benchmark_{outcome.benchmark}"] = outcome.benchmark_equity
    if len(outcome.strategies) > 1:
        for s in outcome.strategies:
            frame[f"strategy_{s.name}"] = s.result.equity[s.result.dates.get_indexer(r.dates)]
    return frame


def weights_frame(outcome: BacktestOutcome) -> pd.DataFrame:
    r = outcome.result
    frame = pd.DataFrame(r.weights, index=r.dates.rename("date"), columns=r.symbols)
    return frame.loc[:, (frame != 0).any(axis=0)]


def _save(fig: Any, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_charts(outcome: BacktestOutcome, folder: Path) -> dict[str, Path]:
    r = outcome.result
    paths = {"equity": folder / "equity.png", "drawdown": folder / "drawdown.png", "weights": folder / "weights.png"}
    fig, ax = plt.subplots(figsize=(10, 5))
    ax.plot(r.dates, r.equity, label="blend" if len(outcome.strategies) > 1 else outcome.strategies[0].name, lw=1.6)
    if len(outcome.strategies) > 1:
        for s in outcome.strategies:
            ax.plot(s.result.dates, s.result.equity, label=s.name, lw=0.9, alpha=0.8)
    if outcome.benchmark_equity is not None:
        ax.plot(r.dates, outcome.benchmark_equity, label=outcome.benchmark, lw=1.0, color="grey")
    ax.set_yscale("log")
    ax.set_title("Equity (log scale)" + (f" — {SAMPLE_NOTICE}" if outcome.sample_symbols else ""))
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    _save(fig, paths["equity"])

    fig, ax = plt.subplots(figsize=(10, 3))
    ax.fill_between(r.dates, drawdown_series(r.equity) * 100, 0, color="firebrick", alpha=0.6, label="strategy")
    if outcome.benchmark_equity is not None:
        ax.plot(r.dates, drawdown_series(outcome.benchmark_equity) * 100, color="grey", lw=0.8, label=outcome.benchmark)
    ax.set_ylabel("drawdown %")
    ax.legend(loc="lower left")
    ax.grid(alpha=0.3)
    _save(fig, paths["drawdown"])

    _save(weights_figure(weights_frame(outcome)), paths["weights"])
    return paths


def weights_figure(weights: pd.DataFrame) -> Figure:
    """Stacked held weights, every series in its own colour.

    matplotlib's default cycle has ten colours, so an eleventh symbol looked like the first. tab20 has
    twenty; beyond MAX_STACKED series the smallest holdings (by average weight) are summed into a grey
    "other", which keeps the legend readable and every colour unique.
    """
    if weights.shape[1] > MAX_STACKED:
        keep = weights.mean().sort_values(ascending=False).index[: MAX_STACKED - 1]
        weights = weights[keep].assign(other=weights.drop(columns=keep).sum(axis=1))
    palette = list(matplotlib.colormaps["tab20"].colors)  # type: ignore[attr-defined]
    colours = [OTHER_COLOUR if name == "other" else palette[i % len(palette)] for i, name in enumerate(weights.columns)]
    fig, ax = plt.subplots(figsize=(10, 4))
    if weights.shape[1]:
        ax.stackplot(weights.index, weights.T.to_numpy() * 100, labels=list(weights.columns), colors=colours)
        ax.legend(loc="upper left", fontsize=7, ncol=4)
    ax.set_ylim(0, 100)
    ax.set_ylabel("weight %")
    return fig


def write_html(outcome: BacktestOutcome, charts: dict[str, Path], path: Path) -> None:
    data = outcome.to_json()
    columns = metric_columns(data)
    head = "".join(f"<th>{html.escape(name)}</th>" for name, _ in columns)
    rows = "".join(
        f"<tr><td>{key.replace('_', ' ')}</td>"
        + "".join(f"<td>{html.escape(format_metric(key, m.get(key)))}</td>" for _, m in columns)
        + "</tr>"
        for key in METRIC_ROWS
    )
    dd = data["metrics"]["drawdown"]
    images = "".join(
        f'<h2>{name}</h2><img alt="{name}" src="data:image/png;base64,{base64.b64encode(p.read_bytes()).decode()}">'
        for name, p in charts.items()
    )
    contributions = "".join(
        f"<li>{html.escape(s['name'])} ({s['share']:.0%}): {s['contribution']:+.2%}</li>" for s in data["strategies"]
    )
    notice = f'<p class="warn">Uses {SAMPLE_NOTICE}.</p>' if data["synthetic_sample_data"] else ""
    if data["start_note"]:
        notice += f"<p>{html.escape(data['start_note'])}</p>"
    notice += "".join(f'<p class="warn"><b>Warning:</b> {html.escape(w)}</p>' for w in data["warnings"])
    path.write_text(
        f"""<!doctype html><html><head><meta charset="utf-8"><title>Backtest {data["start"]} – {data["end"]}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 10px;text-align:right}}td:first-child{{text-align:left}}
.warn{{color:#a60}}img{{max-width:100%}}</style></head><body>
<h1>Backtest {data["start"]} – {data["end"]}</h1>{notice}
<p>{data["days"]} trading days · capital ${data["capital"]:,.2f} → ${data["final_equity"]:,.2f} ·
rebalance {html.escape(data["rebalance"])} · fills at {data["fill"]} · slippage {data["slippage_bps"]} bps ·
fees {data["fee_bps"]} bps · {data["trades"]} trades</p>
<p>Decisions: {html.escape(data["corresponds_to"])}.</p>
<table><tr><th>metric</th>{head}</tr>{rows}</table>
<p>Max drawdown from {dd["peak"]} to {dd["trough"]}, recovered {dd["recovery"] or "not yet"}.</p>
<h2>Contribution to the total return</h2><ul>{contributions}</ul>
<p>Each strategy's sleeve: its share of the book at each rebalance, holding its own target and drifting with
prices until the next one, paying the costs of the trades it asked for. The contributions add up to the total
return.</p>
{images}</body></html>""",
        encoding="utf-8",
    )


def write_report(outcome: BacktestOutcome, folder: Path) -> dict[str, Path]:
    """Everything into `folder`: equity.csv, weights.csv, trades.csv, three PNGs and report.html."""
    try:
        return _write_report(outcome, folder)
    except OSError as exc:  # a file in the way, no permission, a full disk: say so, no traceback
        raise BacktestError(f"--report {folder}: cannot write the report ({exc.strerror or exc})") from None


def _write_report(outcome: BacktestOutcome, folder: Path) -> dict[str, Path]:
    if folder.exists() and not folder.is_dir():
        raise BacktestError(f"--report {folder} is a file; give a folder (it is created when missing)")
    folder.mkdir(parents=True, exist_ok=True)
    equity_frame(outcome).to_csv(folder / "equity.csv", float_format="%.6f")
    weights_frame(outcome).to_csv(folder / "weights.csv", float_format="%.6f")
    trades = pd.DataFrame(
        [(t.date, t.symbol, t.side, str(t.qty), str(t.price), str(t.value), str(t.fee)) for t in outcome.result.trades],
        columns=["date", "symbol", "side", "qty", "price", "value", "fee"],
    )
    trades.to_csv(folder / "trades.csv", index=False)
    charts = write_charts(outcome, folder)
    write_html(outcome, charts, folder / "report.html")
    return {
        **charts,
        "html": folder / "report.html",
        "equity_csv": folder / "equity.csv",
        "weights_csv": folder / "weights.csv",
    }
