"""The Sweeps page's reader on run folders made by hand: a plain sweep, a damaged one, hostile names."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from alchemiser.web import sweeps
from alchemiser.web.queries import QueryError


def plain_run(home: Path, name: str = "plain-1") -> Path:
    folder = home / "sweeps" / name
    folder.mkdir(parents=True)
    rows = pd.DataFrame(
        {"id": [f"r{i}" for i in range(5)], "p.window": [5, 10, 15, 20, 25], "sharpe": [0.2, 0.9, 0.5, None, 0.1],
         "days": [2000] * 5, "cagr": [0.01] * 5, "max_drawdown": [0.3] * 5, "trades": [10] * 5}
    )  # fmt: skip
    rows.to_parquet(folder / "results.parquet")
    return folder


def test_a_sweep_without_walk_forward_or_report(tmp_path: Path) -> None:
    plain_run(tmp_path)
    [entry] = sweeps.list_runs(tmp_path)
    assert entry["run"] == "plain-1" and entry["rows"] == 5 and entry["trials"] == 5
    assert entry["best_sharpe"] == pytest.approx(0.9) and 0 < entry["dsr"] < 1
    assert not entry["walk_forward"] and not entry["report"]
    detail = sweeps.run_detail(tmp_path, "plain-1")
    assert detail["curve"] is None and detail["folds"] is None and detail["files"] == []
    ids = [r[0] for r in detail["table"]["rows"]]
    assert ids == ["r1", "r2", "r0", "r4", "r3"]  # best first, the missing Sharpe last


def test_damaged_results_list_as_empty_and_names_are_checked(tmp_path: Path) -> None:
    folder = plain_run(tmp_path, "broken")
    (folder / "results.parquet").write_bytes(b"not parquet")
    (folder / "report").mkdir()
    (folder / "report" / "summary.json").write_text("{not json")
    [entry] = sweeps.list_runs(tmp_path)
    assert entry["rows"] == 0 and entry["dsr"] is None
    for name in ("..", "../x", "nope", "", "a/b", ".hidden"):
        with pytest.raises(QueryError, match="no run"):
            sweeps.run_folder(tmp_path, name)
    assert sweeps.report_file(tmp_path, "broken", "../run.json") is None
    assert sweeps.report_file(tmp_path, "broken", "summary.json") is None  # not a served file
    assert sweeps.list_runs(tmp_path / "elsewhere") == []
