"""`alchemiser params FILE [--json]` through the real entry point, as a user runs it."""

from __future__ import annotations

import json
import re
from pathlib import Path

from alchemiser.strategies.registry import builtin_path
from alchemiser.strategies.symphony.compiler import compile_file
from alchemiser.strategies.symphony.score_writer import format_score
from tests.helpers import run

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _strict(text: str) -> object:
    def refuse(constant: str) -> object:
        raise AssertionError(f"not strict JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def test_params_of_a_builtin_piped_is_one_row_per_parameter(home: Path) -> None:
    done = run(["params", "tecl"], home)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "33 parameters of tecl"
    assert lines[1].split() == ["name", "kind", "value", "at", "context"]
    rows = [line.split(None, 4) for line in lines[2:]]
    assert len(rows) == 33
    assert rows[2][:4] == ["rsi_tqqq_gt", "threshold", "79", "7:39"]
    assert rows[2][4].strip() == '(> (rsi "TQQQ" {:window 10}) 79)'
    assert not re.search(r"[\u2500-\u259f]|\x1b", done.stdout)  # no box drawing or colour in a pipe


def test_params_fit_80_columns_in_a_terminal(home: Path) -> None:
    done = run(["params", "tecl"], home, TTY_COMPATIBLE="1", COLUMNS="80")
    assert done.returncode == 0, done.stderr
    lines = [ANSI.sub("", line) for line in done.stdout.splitlines()]
    assert max(len(line) for line in lines) <= 80
    assert any(line.startswith("rsi_tqqq_gt ") for line in lines)


def test_params_json_is_strict_and_complete(home: Path, tmp_path: Path) -> None:
    done = run(["params", "tecl", "--json"], home)
    assert done.returncode == 0, done.stderr
    payload = _strict(done.stdout)
    assert isinstance(payload, dict)
    assert payload["file"] == str(builtin_path("tecl"))
    params = payload["parameters"]
    assert len(params) == 33
    gt = next(p for p in params if p["name"] == "rsi_tqqq_gt")
    assert gt == {
        "name": "rsi_tqqq_gt",
        "kind": "threshold",
        "value": 79,
        "integer": False,
        "location": f"{builtin_path('tecl')}:7:39",
        "line": 7,
        "col": 39,
        "context": '(> (rsi "TQQQ" {:window 10}) 79)',
    }
    assert all(type(p["value"]) is int for p in params if p["integer"])
    score = tmp_path / "tecl.json"
    score.write_text(format_score(compile_file(builtin_path("tecl"))), encoding="utf-8")
    from_score = _strict(run(["params", str(score), "--json"], home).stdout)
    assert isinstance(from_score, dict)
    assert [p["name"] for p in from_score["parameters"]] == [p["name"] for p in params]


def test_a_bad_file_is_one_line_naming_its_place(home: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.clj"
    bad.write_text('(defsymphony "x" {}\n  (if (> (rsi "SPY" {:window 10}) 5) [(asset "no pe")] [(asset "nope!")]))\n')
    done = run(["params", str(bad)], home)
    assert done.returncode != 0 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr
    assert lines[0].startswith(f"error: {bad}:2:46: `asset`: 'no pe' is not a valid ticker")
    assert lines[0].endswith(f"(and 1 more problem(s): alchemiser check {bad})")
    missing = run(["params", str(tmp_path / "none.clj")], home)
    assert missing.returncode != 0 and f"symphony file not found: {tmp_path / 'none.clj'}" in missing.stderr
