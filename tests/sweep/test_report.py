"""The sweep report: heat map axes, stability verdicts, and a self-contained HTML page with its PNGs."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alchemiser.sweep.deflated import deflate_rows
from alchemiser.sweep.report import ReportError, heatmap_axes, stability, write_report

PNG = b"\x89PNG\r\n\x1a\n"


def grid(peak: tuple[float, float], spike: bool = False) -> pd.DataFrame:
    """Sharpe over a × b (× a constant c): a smooth hill around `peak`, or a flat field with one spike."""
    records = []
    for i, (a, b) in enumerate(itertools.product([10, 20, 30, 40, 50], [1, 2, 3])):
        smooth = 1.5 - ((a - peak[0]) / 20) ** 2 - ((b - peak[1]) / 2) ** 2
        value = (3.0 if (a, b) == peak else 0.2 + 0.01 * i) if spike else smooth
        records.append({"id": f"r{i:02d}", "p.a": a, "p.b": b, "p.c": 7, "sharpe": value, "days": 1000,
                        "cagr": value / 10, "max_drawdown": 0.2, "trades": 10 + i})  # fmt: skip
    return pd.DataFrame(records)


def test_heatmap_axes_default_to_the_two_most_varied_parameters() -> None:
    rows = grid((30, 2))
    assert heatmap_axes(rows, None) == ("p.a", "p.b")
    assert heatmap_axes(rows, ["b", "p.a"]) == ("p.b", "p.a")
    assert heatmap_axes(rows.drop(columns=["p.b"]), None) is None  # one varied parameter: no heat map
    with pytest.raises(ReportError, match=r"report\.heatmap: p\.z is not a swept parameter"):
        heatmap_axes(rows, ["a", "z"])
    with pytest.raises(ReportError, match="two different parameters"):
        heatmap_axes(rows, ["a"])
    with pytest.raises(ReportError, match="two different parameters"):
        heatmap_axes(rows, ["a", "a"])


def test_stability_tells_a_plateau_from_a_spike() -> None:
    plateau = stability(grid((30, 2)), "sharpe")
    assert plateau is not None and not plateau.isolated
    assert sorted((p, v) for p, v, _ in plateau.neighbours) == [("p.a", 20), ("p.a", 40), ("p.b", 1), ("p.b", 3)]
    spike = stability(grid((30, 2), spike=True), "sharpe")
    assert spike is not None and spike.isolated
    assert spike.best == 3.0
    edge = stability(grid((10, 1)), "sharpe")  # the best on a corner has one neighbour per parameter
    assert edge is not None and len(edge.neighbours) == 2


def test_write_report_gives_pngs_and_one_self_contained_page(tmp_path: Path) -> None:
    rows = grid((30, 2), spike=True)
    curve = pd.Series(100_000 * np.cumprod(np.full(300, 1.001)), index=pd.bdate_range("2020-01-01", periods=300))
    folds = pd.DataFrame([{"fold": 0, "is_start": "2019-01-02", "is_end": "2019-12-31", "oos_start": "2020-01-01",
                           "oos_end": "2021-02-23", "p.a": 30.0, "is_sharpe": 3.0, "oos_sharpe": 0.4}])  # fmt: skip
    out = tmp_path / "deep" / "report"
    paths = write_report(out, rows, curve=curve, curve_title="Stitched out-of-sample equity", folds=folds,
                         deflated=deflate_rows(rows), title="TECL thresholds", notes={"spec": "x.toml"})  # fmt: skip
    assert set(paths) == {"curve", "heatmap", "stability", "html"}
    for name in ("curve", "heatmap", "stability"):
        assert paths[name].read_bytes().startswith(PNG)
    page = paths["html"].read_text(encoding="utf-8")
    assert page.count('src="data:image/png;base64,') == 3
    assert not re.search(r'(src|href)="(https?:)?//', page)  # nothing fetched from the network
    assert "15</b> configurations tried" in page and "deflated Sharpe ratio" in page
    assert "isolated spike" in page
    assert "Walk-forward folds" in page and "2020-01-01" in page
    assert (out / "curve.csv").read_text().startswith("date,equity")
    assert pd.read_csv(out / "folds.csv")["oos_sharpe"].tolist() == [0.4]
    top = page.index("Top 15 by sharpe")
    assert page.index("r07", top) < page.index("r00", top)  # the spike (a=30, b=2 is row 7) ranks first


def test_report_without_parameters_or_curve_still_writes_the_page(tmp_path: Path) -> None:
    rows = pd.DataFrame({"id": ["x"], "sharpe": [1.0], "days": [500]})
    paths = write_report(tmp_path / "r", rows)
    assert set(paths) == {"html"}
    assert "No neighbours" in paths["html"].read_text(encoding="utf-8")


def test_report_refuses_a_file_and_an_unknown_metric(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ReportError, match="is a file"):
        write_report(blocker, grid((30, 2)))
    with pytest.raises(ReportError, match="'luck' is not a result column"):
        write_report(tmp_path / "r", grid((30, 2)), metric="luck")
