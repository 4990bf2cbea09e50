"""Composer's JSON score: read into the same program as the `.clj` export, errors at JSON paths, both ways."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from alchemiser.cli.app import app
from alchemiser.data.history import load_history
from alchemiser.data.sample import SampleMarket
from alchemiser.strategies.registry import BUILTINS, builtin_path, load_strategy
from alchemiser.strategies.symphony.compiler import SymphonyErrors, compile_file, compile_text
from alchemiser.strategies.symphony.evaluator import IndicatorCache, decide, evaluate_all
from alchemiser.strategies.symphony.printer import format_program
from alchemiser.strategies.symphony.score_writer import format_score
from tests.helpers import random_history


def asset(ticker: str, **extra: Any) -> dict[str, Any]:
    return {"step": "asset", "ticker": ticker, "id": f"id-{ticker}", "children-count": 0, **extra}


# a score in the shape Composer's editor writes (ids, display flags, weights carried under equal parents …)
SCORE: dict[str, Any] = {
    "id": "new",
    "step": "root",
    "name": "Score test",
    "description": "",
    "rebalance": "none",
    "rebalance-corridor-width": 0.05,
    "asset_class": "EQUITIES",
    "asset_classes": ["EQUITIES"],
    "version-id": "v7",
    "created-at": "2024-05-01T12:00:00Z",
    "children": [
        {
            "id": "w1",
            "step": "wt-cash-equal",
            "suppress-incomplete-warnings?": True,
            "children": [
                {
                    "weight": {"num": 100, "den": 100},
                    "id": "if1",
                    "step": "if",
                    "children": [
                        {
                            "step": "if-child",
                            "is-else-condition?": False,
                            "lhs-fn": "cumulative-return",
                            "lhs-fn-params": {"window": 10},
                            "lhs-val": "QQQ",
                            "comparator": "gt",
                            "rhs-fn": "cumulative-return",
                            "rhs-fn-params": {"window": 10},
                            "rhs-val": "SPY",
                            "children": [asset("TQQQ", exchange="XNAS", name="ProShares UltraPro QQQ")],
                        },
                        {
                            "step": "if-child",
                            "is-else-condition?": False,
                            "lhs-fn": "relative-strength-index",
                            "lhs-window-days": "14",
                            "lhs-val": "SPY",
                            "comparator": "lt",
                            "rhs-val": "30",
                            "rhs-fixed-value?": True,
                            "children": [{"step": "empty", "id": "e1"}],
                        },
                        {
                            "step": "if-child",
                            "is-else-condition?": True,
                            "children": [
                                {
                                    "step": "wt-cash-specified",
                                    "children": [
                                        {**asset("BIL"), "weight": {"num": "60", "den": "100"}},
                                        {
                                            "step": "filter",
                                            "weight": {"num": 40, "den": 100},
                                            "sort-by-fn": "moving-average-convergence-divergence",
                                            "sort-by-fn-params": {"short-window": 12, "long-window": 26},
                                            "select-fn": "bottom",
                                            "select-n": "1",
                                            "children": [
                                                asset("SPY"),
                                                {
                                                    "step": "group",
                                                    "name": "G",
                                                    "children": [
                                                        {
                                                            "step": "wt-inverse-vol",
                                                            "window-days": "10",
                                                            "children": [asset("TLT"), asset("QQQ")],
                                                        }
                                                    ],
                                                },
                                            ],
                                        },
                                    ],
                                }
                            ],
                        },
                    ],
                }
            ],
        }
    ],
}

SAME_AS_CLJ = """(defsymphony "Score test" {:rebalance-frequency :none :rebalance-corridor-width 0.05 :asset-class "EQUITIES"}
  (weight-equal [
    (if (> (cumulative-return "QQQ" {:window 10}) (cumulative-return "SPY" {:window 10}))
      [(asset "TQQQ" "ProShares UltraPro QQQ")]
      [(if (< (rsi "SPY" {:window 14}) 30)
         [(empty)]
         [(weight-specified 0.6 (asset "BIL" nil)
                            0.4 (filter (moving-average-convergence-divergence {:short-window 12 :long-window 26})
                                        (select-bottom 1)
                                        [(asset "SPY" nil)
                                         (group "G" [(weight-inverse-volatility 10 [(asset "TLT" nil) (asset "QQQ" nil)])])]))])])]))"""


def write(tmp_path: Path, score: object, name: str = "s.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(score), encoding="utf-8")
    return path


def test_a_score_compiles_to_the_same_program_as_its_clj_export(tmp_path: Path) -> None:
    from_json = compile_file(write(tmp_path, SCORE))
    from_clj = compile_text(SAME_AS_CLJ, "s.clj")
    assert format_program(from_json) == format_program(from_clj)
    assert from_json.settings == {
        "rebalance-frequency": "none",
        "rebalance-corridor-width": 0.05,
        "asset-class": "EQUITIES",
    }
    h = random_history(["QQQ", "SPY", "TQQQ", "BIL", "TLT"], n=120, seed=3)
    a, b = evaluate_all(from_json, h), evaluate_all(from_clj, h)
    np.testing.assert_array_equal(a.weights, b.weights)
    np.testing.assert_array_equal(a.valid, b.valid)
    # traces point into the JSON
    trace = decide(from_json, h).trace
    assert trace[0].location == f"{tmp_path / 's.json'}: children[0].children[0]"  # the `if` node


def _broken(mutate: Any) -> dict[str, Any]:
    score = copy.deepcopy(SCORE)
    mutate(score)
    return score


def _if(score: dict[str, Any]) -> dict[str, Any]:
    node: dict[str, Any] = score["children"][0]["children"][0]
    return node


BAD = [
    (
        lambda s: _if(s)["children"][1].update({"lhs-fn": "foo"}),
        'children[0].children[0].children[1].lhs-fn: unknown function "foo"',
    ),
    (
        lambda s: _if(s)["children"][0].update({"comparator": "gtx"}),
        "children[0].children[0].children[0].comparator: Input should be",
    ),
    (
        lambda s: _if(s)["children"][0].update({"leverage": 3}),
        "children[0].children[0].children[0].leverage: unknown field",
    ),
    (
        lambda s: _if(s)["children"][0].update({"lhs-fn-params": {"span": 3}}),
        "children[0].children[0].children[0].lhs-fn-params: `cumulative-return` needs a window",
    ),
    (
        lambda s: _if(s)["children"][0].update({"lhs-fn-params": {"window": "ten"}}),
        "children[0].children[0].children[0].lhs-fn-params.window: Input should be",
    ),
    (
        lambda s: _if(s)["children"][0].update({"rhs-fixed-value?": True}),
        "children[0].children[0].children[0].rhs-val: rhs-val must be a number",
    ),
    (
        lambda s: _if(s)["children"].pop(),
        "children[0].children[0]: an if node needs at least one condition and exactly one else",
    ),
    (
        lambda s: _if(s)["children"][0]["children"][0].update({"ticker": "not a ticker"}),
        "children[0].children[0].children[0].children[0].ticker: `asset`: 'not a ticker' is not a valid ticker",
    ),
    (
        lambda s: _if(s)["children"][0]["children"][0].update({"step": "asset-x"}),
        'children[0].children[0].children[0].children[0].step: unknown step "asset-x"',
    ),
    (
        lambda s: _if(s)["children"][2]["children"][0]["children"][0].pop("weight"),
        "children[0].children[0].children[2].children[0].children[0].weight: each child of wt-cash-specified needs a weight",
    ),
    (
        lambda s: _if(s)["children"][2]["children"][0]["children"][1].update({"select-fn": "middle"}),
        "children[0].children[0].children[2].children[0].children[1].select-fn: Input should be 'top' or 'bottom'",
    ),
    (
        lambda s: _if(s)["children"][2]["children"][0]["children"][1].update(
            {"sort-by-fn-params": {"short-window": 30, "long-window": 26}}
        ),
        "children[0].children[0].children[2].children[0].children[1].sort-by-fn-params: `moving-average-convergence-divergence` needs :short-window below :long-window",
    ),
    (lambda s: s.update({"rebalance": "hourly"}), "rebalance: Input should be"),
    (lambda s: [s.clear(), s.update({"step": "wt-cash-equal", "children": []})], "step: a score starts with a root"),
]


@pytest.mark.parametrize(("mutate", "expected"), BAD, ids=[b[1].split(":")[0] + str(i) for i, b in enumerate(BAD)])
def test_bad_scores_name_the_json_path(tmp_path: Path, mutate: Any, expected: str) -> None:
    path = write(tmp_path, _broken(mutate))
    with pytest.raises(SymphonyErrors) as info:
        compile_file(path)
    assert f"{path}: {expected}" in str(info.value), str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{not json", "s.json:1:2: not valid JSON"),
        ("[]", "s.json: expected a node"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ],
)
def test_unreadable_json_is_a_located_error(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "s.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SymphonyErrors) as info:
        compile_file(path)
    assert expected in str(info.value)


@pytest.fixture(scope="module")
def builtin_history(market: SampleMarket) -> Any:
    symbols = set().union(*(compile_file(builtin_path(n)).universe for n in BUILTINS))
    return load_history(market, symbols, dt.date(2025, 6, 30))


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_builtins_round_trip_clj_json_clj_with_identical_decisions_every_day(
    name: str, tmp_path: Path, builtin_history: Any
) -> None:
    program = compile_file(builtin_path(name))
    as_json = write(tmp_path, json.loads(format_score(program)), f"{name}.json")
    back = tmp_path / f"{name}.clj"
    back.write_text(format_program(compile_file(as_json)), encoding="utf-8")
    again = compile_file(back)
    assert again.universe == program.universe
    cache = IndicatorCache(builtin_history)
    a, b = evaluate_all(program, builtin_history, cache), evaluate_all(again, builtin_history, cache)
    assert a.symbols == b.symbols
    np.testing.assert_array_equal(a.valid, b.valid)
    np.testing.assert_allclose(a.weights, b.weights, rtol=0, atol=1e-12)


def test_cli_check_signal_and_fmt_accept_a_score(tmp_path: Path) -> None:
    runner = CliRunner()
    path = write(tmp_path, SCORE)
    result = runner.invoke(app, ["check", str(path)])
    assert result.exit_code == 0, result.output
    assert "ok — 'Score test'" in " ".join(result.output.split())
    result = runner.invoke(app, ["fmt", "--to", "clj", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output == format_program(compile_text(SAME_AS_CLJ, "x.clj"))
    clj = tmp_path / "s2.clj"
    clj.write_text(SAME_AS_CLJ, encoding="utf-8")
    result = runner.invoke(app, ["fmt", "--to", "json", "--write", str(clj)])
    assert result.exit_code == 0, result.output
    written = tmp_path / "s2.json"
    assert format_program(compile_file(written)) == format_program(compile_file(path))
    bad = write(tmp_path, _broken(BAD[0][0]), "bad.json")
    result = runner.invoke(app, ["check", str(bad)])
    assert result.exit_code == 1
    assert f'{bad}: children[0].children[0].children[1].lhs-fn: unknown function "foo"' in result.output
    assert load_strategy(str(path)).name == "s"


def test_fmt_to_json_refuses_settings_the_score_cannot_hold(tmp_path: Path) -> None:
    clj = tmp_path / "x.clj"
    clj.write_text('(defsymphony "x" {:custom-thing 1} (asset "SPY"))', encoding="utf-8")
    result = CliRunner().invoke(app, ["fmt", "--to", "json", str(clj)])
    assert result.exit_code != 0


def test_signal_reads_a_score_and_shows_the_cash_share_of_empty(tmp_path: Path) -> None:
    score = {
        "step": "root",
        "name": "half cash",
        "rebalance": "daily",
        "children": [{"step": "wt-cash-equal", "children": [asset("SPY"), {"step": "empty"}]}],
    }
    path = write(tmp_path, score)
    result = CliRunner().invoke(app, ["signal", "-s", str(path), "--as-of", "2025-06-30"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "SPY 50.0%, cash 50.0%" in result.output
    assert "(cash)" in result.output
    assert "empty → 50.0% stays in cash" in result.output
    result = CliRunner().invoke(app, ["signal", "-s", str(path), "--as-of", "2025-06-30", "--json"])
    assert json.loads(result.output)["target"] == {"SPY": 0.5}
