"""The command line, run as a real subprocess the way a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import run

MALFORMED = {
    "unbalanced.clj": ('(defsymphony "x" {}\n  (weight-equal [(asset "SPY" nil)])', "unbalanced.clj:1:1:"),
    "unknown_op.clj": ('(defsymphony "x" {}\n  (weight-magic [(asset "SPY" nil)]))', "unknown_op.clj:2:3:"),
    "arity.clj": ('(defsymphony "x" {}\n  (if (> (rsi "SPY" {:window 10}) 50 1) [(asset "A" nil)] [(asset "B" nil)]))', "arity.clj:2:7:"),
    "no_window.clj": ('(defsymphony "x" {}\n  (if (> (rsi "SPY") 50) [(asset "A" nil)] [(asset "B" nil)]))', "no_window.clj:2:10:"),
    "weight.clj": ('(defsymphony "x" {}\n (weight-specified x (asset "A" nil) 0.5 (asset "B" nil)))', "weight.clj:2:20:"),
    "if_branch.clj": ('(defsymphony "x" {}\n  (if (> (rsi "SPY" {:window 10}) 50) [(asset "A" nil)]))', "if_branch.clj:2:3:"),
    "empty.clj": ('(defsymphony "x" {}\n  (weight-equal []))', "empty.clj:2:17:"),
}




def test_check_reports_every_malformed_file_with_its_location(tmp_path: Path, home: Path) -> None:
    paths = []
    for name, (text, _) in MALFORMED.items():
        (tmp_path / name).write_text(text)
        paths.append(str(tmp_path / name))
    result = run(["check", *paths], home)
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    for name, (_, where) in MALFORMED.items():
        assert str(tmp_path / where) in result.stdout, (name, result.stdout)


def test_check_accepts_the_reference_exports(home: Path) -> None:
    reference = Path(__file__).resolve().parents[3] / "shared" / "strategies"
    files = sorted(str(p) for p in reference.glob("*.clj")) if reference.is_dir() else []
    result = run(["check", *files, str(Path("src/alchemiser/strategies/builtin/klm.clj").resolve())], home)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(": ok") == len(files) + 1


def test_signal_json_on_the_sample_market(home: Path) -> None:
    result = run(["signal", "--json", "--as-of", "2024-03-15"], home)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["as_of"] == "2024-03-15"
    assert payload["data"]["synthetic_sample_data"] is True
    assert sum(payload["target"].values()) == pytest.approx(1.0)
    names = [s["name"] for s in payload["strategies"]]
    assert names == ["nuclear", "tecl"]
    assert [s["share"] for s in payload["strategies"]] == [0.4, 0.6]
    assert all(s["trace"] for s in payload["strategies"])


def test_signal_human_output_says_synthetic_and_gives_reasons(home: Path) -> None:
    result = run(["signal", "-s", "tecl"], home)
    assert result.returncode == 0, result.stderr
    assert "synthetic sample data" in result.stdout
    assert "SMA(SPY,200)" in result.stdout and "Blended target" in result.stdout


def test_a_ticker_with_no_data_fails_closed_with_its_location(tmp_path: Path, home: Path) -> None:
    strategy = tmp_path / "mine.clj"
    strategy.write_text('(defsymphony "mine" {}\n  (weight-equal [(asset "SPY" nil)\n                 (asset "NODATA" nil)]))')
    result = run(["signal", "-s", str(strategy), "--json"], home)
    assert result.returncode == 1
    payload = json.loads(result.stdout)
    assert payload["target"] is None
    assert f"{strategy}:3:25: no market data for NODATA" in payload["strategies"][0]["error"]


def test_invalid_config_is_a_clear_error(tmp_path: Path, home: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[[strategies]]\nname = "nuclear"\nweight = 0.5\n[[strategies]]\nname = "tecl"\nweight = 0.6\n')
    result = run(["--config", str(config), "signal"], home)
    assert result.returncode == 2
    assert "weights must add up to 1" in result.stderr and "1.1" in result.stderr
    assert "Traceback" not in result.stderr


def test_import_validates_then_serves_from_the_store(tmp_path: Path, home: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("symbol,date,open,high,low,close,volume\nSPY,2024-01-02,10,11,9,10.5,100\nSPY,2024-01-03,10,11,9,-1,100\n")
    result = run(["data", "import", str(bad)], home)
    assert result.returncode == 2
    assert f"{bad}:3" in result.stderr
    assert not (home / "data").exists() or not any((home / "data").rglob("*.parquet"))
    good = tmp_path / "good.csv"
    good.write_text("symbol,date,open,high,low,close,volume\nSPY,2024-01-02,10,11,9,10.5,100\nSPY,2024-01-03,10.5,11,10,10.8,120\n")
    assert run(["data", "import", str(good)], home).returncode == 0
    shown = json.loads(run(["data", "show", "SPY", "--json"], home).stdout)
    assert shown["source"] == "store" and shown["synthetic_sample_data"] is False
    assert [b["close"] for b in shown["bars"]] == [10.5, 10.8]
    listed = {row["symbol"]: row["source"] for row in json.loads(run(["data", "list", "--json"], home).stdout)}
    assert listed["SPY"] == "store" and listed["QQQ"] == "sample"
