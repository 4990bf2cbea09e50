"""`alchemiser sweep SPEC --report DIR` with a [walk_forward] table, as a real subprocess."""

from __future__ import annotations

import datetime as dt
import json
import re
import tomllib
from pathlib import Path

import pandas as pd
import pytest

from alchemiser.sweep.honesty import HonestyError, precheck
from tests.helpers import run
from tests.sweep.wf_spec import SPEC, write_spec


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:  # type: ignore[type-arg]
    folder = tmp_path_factory.mktemp("wf-cli")
    home = folder / "home"
    spec = write_spec(folder)
    result = run(["sweep", str(spec), "--workers", "2", "--report", str(folder / "report"), "--json"], home)
    assert result.returncode == 0, result.stderr
    return folder, home, json.loads(result.stdout)


def test_json_reports_trials_dsr_and_the_stitched_oos_result(swept: tuple[Path, Path, dict]) -> None:  # type: ignore[type-arg]
    _, _, data = swept
    honesty = data["honesty"]
    assert honesty["trials"] == 6 and data["configurations"] == 6
    deflated = honesty["deflated"]
    assert deflated["best_sharpe"] == pytest.approx(max(r["sharpe"] for r in data["top"]))
    assert 0 <= deflated["dsr"] <= 1
    walk = honesty["walk_forward"]
    assert walk["folds"] == 4 and walk["oos_start"] == "2021-01-04" and walk["oos_end"] == "2024-12-31"
    assert walk["rank_by"] == "sharpe"


def test_results_carry_fold_and_phase_and_the_report_is_written(swept: tuple[Path, Path, dict]) -> None:  # type: ignore[type-arg]
    folder, _, data = swept
    rows = pd.read_parquet(Path(data["out"]))
    assert rows.groupby("phase").size().to_dict() == {"full": 6, "is": 24, "oos": 4}
    assert set(rows.loc[rows["phase"] == "full", "fold"]) == {-1}
    assert sorted(rows.loc[rows["phase"] == "oos", "fold"]) == [0, 1, 2, 3]
    assert rows["id"].is_unique
    oos = rows.loc[rows["phase"] == "oos"].sort_values("fold")
    assert oos["start"].tolist() == ["2021-01-04", "2022-01-03", "2023-01-03", "2024-01-02"]
    report = folder / "report"
    assert {p.name for p in report.iterdir()} >= {"report.html", "heatmap.png", "curve.png", "stability.png"}
    page = (report / "report.html").read_text(encoding="utf-8")
    assert "Stitched out-of-sample equity" in page and "6</b> configurations tried" in page
    folds = pd.read_csv(report / "folds.csv")
    chosen = set(folds["chosen"])
    assert chosen <= set(rows.loc[rows["phase"] == "full", "id"])  # the chosen ids are exportable rows
    run_report = Path(data["folder"]) / "report"
    assert (run_report / "summary.json").is_file() and (run_report / "heatmap.png").is_file()


def test_rerun_resumes_and_gives_identical_rows(swept: tuple[Path, Path, dict]) -> None:  # type: ignore[type-arg]
    folder, home, data = swept
    first = pd.read_parquet(Path(data["out"])).drop(columns=["runtime_s"])
    again = run(["sweep", str(folder / "wf.toml"), "--workers", "1", "--json"], home)
    assert again.returncode == 0, again.stderr
    second = json.loads(again.stdout)
    assert second["computed"] == 0
    assert second["honesty"] == data["honesty"]
    pd.testing.assert_frame_equal(pd.read_parquet(Path(second["out"])).drop(columns=["runtime_s"]), first)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('in_sample = "5x"\nout_of_sample = "1y"', "walk_forward.in_sample: walk_forward.in_sample must be a size"),
        ('in_sample = "2y"\nout_of_sample = "1y"\nmode = "sideways"', "walk_forward.mode"),
        ('in_sample = "2y"\nout_of_sample = "1y"\nwindow = 3', "walk_forward.window: unknown key"),
        ('in_sample = "20y"\nout_of_sample = "1y"', "does not fit in the period"),
        ('in_sample = "2y"\nout_of_sample = "1y"\nstep = "6m"', "shorter than out_of_sample"),
        ('in_sample = "2y"\nout_of_sample = "1y"\nrank_by = "luck"', "walk_forward.rank_by"),
    ],
)
def test_bad_walk_forward_tables_are_refused_before_any_backtest(table: str, message: str) -> None:
    raw = tomllib.loads(table)
    with pytest.raises(HonestyError, match=re.escape(message)):
        precheck(raw, None, Path("wf.toml"), dt.date(2019, 1, 2), dt.date(2025, 6, 30))


@pytest.mark.parametrize(
    ("report", "message"),
    [({"heatmap": ["a"]}, "report.heatmap"), ({"heatmap": ["a", "a"]}, "two different"), ({"x": 1}, "unknown key")],
)
def test_bad_report_tables_are_refused(report: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(HonestyError, match=message):
        precheck(None, report, Path("wf.toml"), None, dt.date(2025, 6, 30))


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('in_sample = "2y"', 'in_sample = "5x"', "wf.toml: walk_forward.in_sample"),
        ('in_sample = "2y"', 'in_sample = "20y"', "does not fit in the period"),
        ('heatmap = ["share.tecl", "rebalance"]', 'heatmap = ["rebalance"]', "report.heatmap"),
    ],
)
def test_the_cli_names_a_bad_table_without_a_traceback(tmp_path: Path, old: str, new: str, message: str) -> None:
    spec = write_spec(tmp_path, SPEC.replace(old, new))
    result = run(["sweep", str(spec), "--workers", "1"], tmp_path / "home")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    assert message in result.stderr, result.stderr
