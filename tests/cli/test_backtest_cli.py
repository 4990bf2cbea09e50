"""`alchemiser backtest` and `check` as a user runs them: clear errors naming the flag, strict JSON, reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from matplotlib.colors import to_hex

from tests.helpers import run

BAD_FLAGS = [
    (["--slippage-bps", "-50"], "--slippage-bps must be between 0 and 1000 basis points (got -50)"),
    (["--slippage-bps", "20000"], "--slippage-bps must be between 0 and 1000"),
    (["--fee-bps", "1e6"], "--fee-bps must be between 0 and 1000"),
    (["--fee-bps", "-1"], "--fee-bps must be between 0 and 1000"),
    (["--fee-bps", "nan"], "--fee-bps must be between 0 and 1000"),
    (["--capital", "-5"], "--capital must be a dollar amount above 0"),
    (["--capital", "0"], "--capital must be a dollar amount above 0"),
    (["--capital", "inf"], "--capital must be a dollar amount above 0"),
    (["-s", "klm", "--weights", "nan,1"], "--weights must be finite numbers above 0 (got nan)"),
    (["-s", "klm", "--weights", "-1,2"], "--weights must be finite numbers above 0 (got -1)"),
    (["-s", "klm", "--weights", "1"], "--weights gives 1 shares for 2 strategies"),
    (["-s", "klm", "--weights", "a,b"], "--weights must be numbers separated by commas"),
    (["-s", "klm", "--weights", "1e308,1e308"], "--weights are too large to add up"),
    (["-s", "tecl"], "--strategy/-s: strategy names must be unique, but 'tecl' is given twice"),
    (["--rebalance", "threshold:0"], "--rebalance threshold is in percentage points, above 0 and at most 100"),
    (["--rebalance", "threshold:150"], "--rebalance threshold is in percentage points"),
    (["--rebalance", "hourly"], "--rebalance must be one of none, daily, weekly, monthly, quarterly, yearly"),
    (["--fill", "noon"], "--fill must be close or next-open (got 'noon')"),
    (["--start", "2024-05-01", "--end", "2024-01-01"], "--start 2024-05-01 is after --end 2024-01-01"),
    (["--start", "2039-01-03"], "--start 2039-01-03 is after the last completed trading session"),
    (["--start", "2024-01-06", "--end", "2024-01-07"], "no trading session between --start 2024-01-06 and --end"),
]


@pytest.mark.parametrize(("flags", "message"), BAD_FLAGS, ids=[" ".join(f) for f, _ in BAD_FLAGS])
def test_impossible_flags_are_refused_naming_the_flag(flags: list[str], message: str, tmp_path: Path) -> None:
    result = run(["backtest", "-s", "tecl", *flags, "--json"], tmp_path / "home")
    assert result.returncode == 2, result.stdout
    assert message in flat(result.stderr) and "Traceback" not in result.stderr + result.stdout
    assert result.stdout == ""


def test_report_onto_a_file_is_a_clear_error(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    target.write_text("mine")
    result = run(["backtest", "-s", "tecl", "--report", str(target)], tmp_path / "home")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"--report {target} is a file; give a folder" in flat(result.stderr)
    assert target.read_text() == "mine"


def flat(text: str) -> str:
    """Output with Rich's line wrapping undone."""
    return " ".join(text.split())


def strict(text: str) -> Any:
    def refuse(name: str) -> None:
        raise ValueError(f"bare {name} in JSON")

    return json.loads(text, parse_constant=refuse)


def test_forced_early_start_is_honoured_and_reported_everywhere(tmp_path: Path) -> None:
    out = tmp_path / "report"
    args = ["backtest", "-s", "klm", "-s", "tecl", "--start", "2004-01-01", "--end", "2006-06-30", "--benchmark", ""]
    result = run([*args, "--rebalance", "monthly", "--fee-bps", "3", "--report", str(out), "--json"], tmp_path / "h")
    assert result.returncode == 0, result.stderr
    data = strict(result.stdout)
    assert data["start"] == "2004-01-02" and data["first_decidable_day"] == "2004-10-18"
    assert data["start_note"].startswith("--start 2004-01-01 is earlier than 2004-10-18")
    undecided = {u["strategy"]: u for u in data["undecided"]}
    assert set(undecided) == {"klm", "tecl"}
    tecl = undecided["tecl"]
    assert tecl["days"] == tecl["held_cash_days"] + tecl["held_positions_days"] > 100
    assert "not enough history for moving-average-price window 200 on SPY" in tecl["reason"]
    assert len(data["warnings"]) == 2 and "tecl could not decide on" in data["warnings"][1]
    # contributions add up to the total return (JSON rounding aside) and money is a number
    assert sum(s["contribution"] for s in data["strategies"]) == pytest.approx(data["metrics"]["total_return"])
    assert isinstance(data["capital"], float) and isinstance(data["fee_bps"], float)
    assert data["rebalance"] == "monthly"
    html = (out / "report.html").read_text()
    assert "tecl could not decide on" in html and "is earlier than 2004-10-18" in html
    json.dumps(data, allow_nan=False)


def test_default_start_names_the_limiting_strategy_indicator_and_ticker(tmp_path: Path) -> None:
    result = run(["backtest", "-s", "tecl", "--end", "2005-12-30", "--rebalance", "threshold:1"], tmp_path / "h")
    assert result.returncode == 0, result.stderr
    out = flat(result.stdout)
    assert "rebalance threshold:1," in out
    assert "starts 2004-10-18, the first day from which every strategy can decide every day: tecl could not on" in out
    assert "moving-average-price window 200 on SPY (needs 200 closes); SPY's history begins 2004-01-02" in out
    assert "warning" not in out


SETTINGS = {  # file: (text, the offending value, reported at its line:col)
    "freq.clj": ('(defsymphony "x" {:rebalance-frequency :hourly}\n (asset "SPY" nil))', ":hourly"),
    "neg.clj": ('(defsymphony "x"\n {:rebalance-threshold -5}\n (asset "SPY" nil))', "-5"),
    "text.clj": ('(defsymphony "x" {:rebalance-corridor-width "x"} (asset "SPY" nil))', '"x"}'),
    "big.clj": ('(defsymphony "x" {:rebalance-threshold 5} (asset "SPY" nil))', "5}"),
}


def location(text: str, token: str) -> str:
    offset = text.index(token)
    line = text.count("\n", 0, offset) + 1
    return f"{line}:{offset - (text.rfind(chr(10), 0, offset) + 1) + 1}"


def test_check_rejects_rebalance_settings_the_engine_cannot_honour(tmp_path: Path) -> None:
    paths = []
    for name, (text, _) in SETTINGS.items():
        (tmp_path / name).write_text(text)
        paths.append(str(tmp_path / name))
    good = tmp_path / "good.clj"
    good.write_text(
        '(defsymphony "x" {:rebalance-frequency :quarterly :rebalance-corridor-width 0.05} (asset "A" nil))'
    )
    result = run(["check", *paths, str(good)], tmp_path / "home")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    out = flat(result.stdout)
    for name, (text, token) in SETTINGS.items():
        assert f"{tmp_path / name}:{location(text, token)}: " in out, (name, out)
    assert ":rebalance-frequency must be one of :none, :daily, :weekly, :monthly, :quarterly, :yearly" in out
    assert ":rebalance-threshold must be a fraction above 0 and at most 1" in out
    assert f"{good}: ok" in out


def test_weights_chart_keeps_every_series_colour_distinct() -> None:
    import numpy as np
    import pandas as pd

    from alchemiser.backtest.report import MAX_STACKED, weights_figure

    dates = pd.bdate_range("2024-01-01", periods=5)
    for count in (11, 20, 40):
        rng = np.random.default_rng(count)
        frame = pd.DataFrame(
            rng.random((5, count)) + np.arange(count), index=dates, columns=[f"S{i}" for i in range(count)]
        )
        figure = weights_figure(frame / frame.sum(axis=1).to_numpy()[:, None])
        areas = figure.axes[0].collections
        colours = [to_hex(area.get_facecolor()[0]) for area in areas]
        assert len(areas) == min(count, MAX_STACKED)
        assert len(set(colours)) == len(colours), colours  # the default cycle repeated after 10
        labels = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
        if count > MAX_STACKED:
            assert labels[-1] == "other" and "S0" not in labels  # the smallest holdings are grouped
            assert f"S{count - 1}" in labels
        else:
            assert labels == list(frame.columns)


def test_a_symphonys_own_corridor_is_honoured_by_default(tmp_path: Path) -> None:
    path = tmp_path / "corridor.clj"
    path.write_text(
        '(defsymphony "c" {:rebalance-frequency :none :rebalance-corridor-width 0.05}\n'
        ' (weight-equal [(asset "SPY" nil) (asset "TLT" nil)]))'
    )
    args = ["backtest", "-s", str(path), "--start", "2010-01-04", "--end", "2012-12-31", "--json"]
    result = run(args, tmp_path / "home")
    assert result.returncode == 0, result.stderr
    data = strict(result.stdout)
    assert data["rebalance"] == "threshold:5"
    # a 50/50 book rebalanced only when a weight drifts more than 5 points: a handful of times in 3 years
    assert 1 < data["rebalances"] < 60 and data["start_note"] is None and data["undecided"] == []
