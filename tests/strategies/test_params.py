"""Symphony parameters: discovery, stable names, addressing, checked substitution and cheap variants.

The central promise is tested against the compiler itself: substituting values and reading the text back
gives exactly the program `load_variant` builds from the cached tree, and exactly the program of the same
edit made by hand.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import re
import tempfile
from collections.abc import Hashable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from alchemiser.errors import StrategyError, SymphonyErrors
from alchemiser.strategies.registry import BUILTINS, builtin_path, load_strategy
from alchemiser.strategies.symphony.compiler import compile_file, compile_text
from alchemiser.strategies.symphony.evaluator import evaluate_all
from alchemiser.strategies.symphony.json_spans import value_spans
from alchemiser.strategies.symphony.params import (
    KINDS,
    Parameter,
    ParameterError,
    find_parameters,
    load_variant,
    parameters_of_text,
    resolve,
    substitute_text,
    symphony_path,
    variant_of_text,
    variant_program,
)
from alchemiser.strategies.symphony.program import (
    AssetNode,
    Const,
    EmptyNode,
    FilterNode,
    IfNode,
    InverseVolNode,
    MixNode,
    Operand,
    Program,
)
from alchemiser.strategies.symphony.reader import _NUMBER, _TOKEN
from alchemiser.strategies.symphony.score_writer import format_score
from tests.helpers import random_history
from tests.strategies.test_fuzz_symphony import symphony

TECL = builtin_path("tecl")


def canonical(program: Program) -> Hashable:
    """Everything a program decides with, without source locations or node numbering.

    Each node becomes a digest of its own fields and its children's digests: flat, so a tree thousands of
    levels deep compares without recursion.
    """

    def operand(o: Operand) -> Hashable:
        return ("c", o.value) if isinstance(o, Const) else ("i", o.indicator, o.symbol, o.params)

    made: list[str] = []
    for node in program.nodes:  # post-order: children are made first
        kids = tuple(made[c] for c in getattr(node, "children", ()))
        fields: tuple[object, ...]
        if isinstance(node, AssetNode):
            fields = ("asset", node.symbol, node.name)
        elif isinstance(node, EmptyNode):
            fields = ("empty",)
        elif isinstance(node, MixNode):
            fields = ("mix", node.kind, node.label, node.weights, kids)
        elif isinstance(node, InverseVolNode):
            fields = ("ivol", node.window, kids)
        elif isinstance(node, FilterNode):
            m = node.metric
            fields = ("filter", m.indicator, m.params, node.select, node.count, kids)
        else:
            assert isinstance(node, IfNode)
            c = node.condition
            fields = ("if", c.op, operand(c.lhs), operand(c.rhs), made[node.then], made[node.otherwise])
        made.append(hashlib.sha256(repr(fields).encode()).hexdigest())
    settings_items = tuple(sorted((k, str(v)) for k, v in program.settings.items()))
    return (program.name, settings_items, made[program.root], tuple(sorted(program.universe)))


def by_name(path: Path) -> dict[str, Parameter]:
    return {p.name: p for p in find_parameters(path)}


def write(tmp_path: Path, text: str, name: str = "s.clj") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# -- discovery and names -----------------------------------------------------------------------------------
def test_tecl_parameters_have_readable_names_kinds_values_and_places() -> None:
    params = by_name(TECL)
    assert len(params) == 33
    assert {p.kind for p in params.values()} <= set(KINDS)
    gt = params["rsi_tqqq_gt"]
    assert (gt.kind, gt.value, gt.integer, gt.context) == ("threshold", 79, False, '(> (rsi "TQQQ" {:window 10}) 79)')
    assert gt.location == f"{TECL}:7:39"
    window = params["rsi_tqqq_window"]
    assert (window.kind, window.value, window.integer, window.line_col) == ("window", 10, True, "7:34")
    assert params["rsi_tqqq_lt"].value == 31
    assert params["sma_spy_window"].value == 200
    assert (params["weight_uvxy"].value, params["weight_bil"].value) == (0.25, 0.75)
    assert (params["weight_uvxy_3"].value, params["weight_bil_3"].value) == (0.15, 0.85)
    assert (params["filter_rsi_window"].value, params["filter_rsi_top"].kind) == (9, "count")
    # a literal seen again gets a suffix in file order; the first keeps the plain name
    assert [params[n].value for n in ("rsi_uvxy_gt", "rsi_uvxy_gt_2")] == [74, 84]
    assert all(re.fullmatch(r"[a-z0-9_]+", name) for name in params)


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_every_number_of_a_builtin_is_a_parameter_and_every_location_points_at_its_literal(name: str) -> None:
    path = builtin_path(name)
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    params = find_parameters(path)
    assert len({p.name for p in params}) == len(params)
    places = set()
    for p in params:
        line, col = map(int, p.line_col.split(":"))
        literal = re.match(r"[-+.\d][^\s,;()\[\]{}\"]*", lines[line - 1][col - 1 :])
        assert literal is not None and float(literal.group()) == p.value, p
        places.add((line, col))
    starts = [0, *(m.end() for m in re.finditer("\n", text))]
    numbers = set()
    for token in _TOKEN.finditer(text):  # the reader's own tokens: comments and strings are single tokens
        if _NUMBER.fullmatch(token.group()):
            line = bisect.bisect_right(starts, token.start())
            numbers.add((line, token.start() - starts[line - 1] + 1))
    assert numbers
    assert numbers == places


def test_names_survive_unrelated_edits_elsewhere_in_the_file(tmp_path: Path) -> None:
    before = by_name(TECL)
    text = TECL.read_text(encoding="utf-8")
    edited = ";; my notes\n" + text.replace(
        '(> (rsi "SPY" {:window 10}) 80)', '(> (rsi "SPY" {:window 14})\n   85)'
    ).replace("0.15", "0.2").replace('(asset "SPXL" nil)', '(asset "SPXL" "Direxion Daily S&P 500 Bull 3x")')
    after = by_name(write(tmp_path, edited))
    assert list(after) == list(before)
    assert (after["rsi_spy_window"].value, after["rsi_spy_gt"].value, after["weight_uvxy_3"].value) == (14, 85, 0.2)
    unchanged = set(before) - {"rsi_spy_window", "rsi_spy_gt", "weight_uvxy_3"}
    assert all(after[n].value == before[n].value and after[n].kind == before[n].kind for n in unchanged)


KINDS_FILE = """;; every kind of parameter
(defsymphony "kinds" {:rebalance-frequency :daily :rebalance-threshold 0.05}
  (weight-specified
    60% (if (< 30 (rsi "SPY" 14))
          [(filter (moving-average-return {:window 20}) (select-bottom 2)
             [(asset "TLT" nil) (asset "BIL" nil) (asset "QQQ" nil)])]
          [(weight-inverse-volatility {:window 30} [(asset "SPY" nil) (asset "TLT" nil)])])
    40% (group "Bands | PPO"
          [(if (> (current-price "QQQ") (upper-bollinger "QQQ" {:window 20 :num-std-dev 2.5}))
             [(asset "BIL" nil)]
             [(if (>= (percentage-price-oscillator "QQQ" {:short-window 12 :long-window 26}) -0.5)
                [(weight-specified [0.7 0.3] [(asset "QQQ" nil) (empty)])]
                [(weight-inverse-volatility 10 [(asset "QQQ" nil) (asset "TLT" nil)])])])])))
"""


def test_each_kind_of_number_is_found_and_named_by_what_it_means(tmp_path: Path) -> None:
    params = find_parameters(write(tmp_path, KINDS_FILE))
    got = [(p.name, p.kind, p.value, p.integer) for p in params]
    assert got == [
        ("rebalance_corridor", "corridor", 0.05, False),
        ("weight_if", "weight", 0.6, False),
        ("rsi_spy_gt", "threshold", 30, False),  # `(< 30 x)` is `x > 30`
        ("rsi_spy_window", "window", 14, True),  # a bare window
        ("filter_maret_window", "window", 20, True),
        ("filter_maret_bottom", "count", 2, True),
        ("ivol_window", "window", 30, True),
        ("weight_bands_ppo", "weight", 0.4, False),
        ("bbup_qqq_window", "window", 20, True),
        ("bbup_qqq_num_std_dev", "factor", 2.5, False),
        ("ppo_qqq_short_window", "window", 12, True),
        ("ppo_qqq_long_window", "window", 26, True),
        ("ppo_qqq_gte", "threshold", -0.5, False),
        ("weight_qqq", "weight", 0.7, False),
        ("weight_empty", "weight", 0.3, False),
        ("ivol_window_2", "window", 10, True),
    ]
    assert params[0].context == "{:rebalance-threshold 0.05}"
    assert params[4].context == "(filter (moving-average-return {:window 20}) (select-bottom 2) […])"


# -- addressing --------------------------------------------------------------------------------------------
def test_resolve_by_name_location_or_line_col_and_refuse_the_rest_by_name() -> None:
    params = find_parameters(TECL)
    gt = resolve(params, "rsi_tqqq_gt")
    assert resolve(params, "7:39") == gt
    assert resolve(params, f"{TECL}:7:39") == gt
    assert resolve(params, " RSI_TQQQ_GT ") == gt
    with pytest.raises(ParameterError, match=r"no parameter 'rsi_tqq_gt' .*did you mean rsi_tqqq_gt"):
        resolve(params, "rsi_tqq_gt")
    with pytest.raises(ParameterError, match=r"7:1: no parameter starts there"):
        resolve(params, "7:1")
    with pytest.raises(ParameterError, match="no parameter starts there"):
        resolve(params, "/elsewhere/tecl.clj:7:39")
    with pytest.raises(ParameterError, match="has no numbers"):
        resolve([], "x")


def test_symphony_path_resolves_builtins_and_refuses_what_is_not_a_file(tmp_path: Path) -> None:
    assert symphony_path(" TECL ") == TECL
    with pytest.raises(ParameterError, match="empty value"):
        symphony_path(" ")
    with pytest.raises(ParameterError, match=r"not found: .*nope\.clj"):
        symphony_path(str(tmp_path / "nope.clj"))
    with pytest.raises(ParameterError, match="is a folder"):
        symphony_path(str(tmp_path))


# -- substitution ------------------------------------------------------------------------------------------
def test_substitution_touches_only_the_literals_and_matches_the_same_edit_made_by_hand(tmp_path: Path) -> None:
    text = TECL.read_text(encoding="utf-8")
    values = {"rsi_tqqq_gt": 75.5, "7:34": 12, "filter_rsi_top": 2, "weight_bil": 0.7}
    out = substitute_text(TECL, values)
    by_hand = (
        text.replace('(> (rsi "TQQQ" {:window 10}) 79)', '(> (rsi "TQQQ" {:window 12}) 75.5)', 1)
        .replace("(select-top 1)", "(select-top 2)")
        .replace("0.75\n            (asset", "0.7\n            (asset", 1)
    )
    assert out == by_hand  # comments, layout and every other character kept
    assert canonical(compile_text(out, str(TECL))) == canonical(variant_program(TECL, values))
    assert canonical(load_variant(TECL, values).program) == canonical(compile_text(by_hand, str(TECL)))
    assert canonical(variant_program(TECL, values)) != canonical(compile_file(TECL))
    assert substitute_text(TECL, {}) == text
    assert canonical(load_variant(TECL, {}).program) == canonical(compile_file(TECL))


def test_percent_literals_stay_percents_when_exact(tmp_path: Path) -> None:
    path = write(tmp_path, KINDS_FILE)
    out = substitute_text(path, {"weight_if": 0.3, "weight_bands_ppo": 0.123456789012345678})
    assert "    30% (if" in out
    weight = re.search(r"\n    (\S+) \(group", out)
    assert weight is not None
    literal = weight.group(1)
    read_back = float(literal[:-1]) / 100 if literal.endswith("%") else float(literal)
    assert read_back == 0.123456789012345678
    assert canonical(compile_text(out, str(path))) == canonical(
        variant_program(path, {"weight_if": 0.3, "weight_bands_ppo": 0.123456789012345678})
    )


def test_a_byte_order_mark_and_crlf_line_ends_are_kept(tmp_path: Path) -> None:
    text = "\ufeff" + KINDS_FILE.replace("\n", "\r\n")
    path = tmp_path / "bom.clj"
    path.write_bytes(text.encode("utf-8"))
    params = by_name(path)
    assert params["rsi_spy_window"].line_col == "4:30"
    out = substitute_text(path, {"rsi_spy_window": 21})
    assert out == text.replace('(rsi "SPY" 14)', '(rsi "SPY" 21)')


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("rsi_tqqq_window", 10.5, r"rsi_tqqq_window \(.*tecl.clj:7:34\): a window must be a whole number .*10\.5"),
        ("rsi_tqqq_window", 0, "whole number from 1 to 5000, not 0"),
        ("rsi_tqqq_window", 5001, "not 5001"),
        ("filter_rsi_top", -1, "a count must be a whole number"),
        ("rsi_tqqq_gt", float("nan"), "rsi_tqqq_gt .*must be a finite number, not nan"),
        ("rsi_tqqq_gt", float("inf"), "finite"),
        ("rsi_tqqq_gt", 10**400, "finite"),
        ("rsi_tqqq_gt", "79", "must be a number, not '79'"),
        ("rsi_tqqq_gt", True, "must be a number, not True"),
        ("weight_uvxy", -0.1, "weight_uvxy .*a weight must be 0 or more"),
        ("no_such", 1, "no parameter 'no_such'"),
    ],
)
def test_values_are_checked_with_messages_naming_the_parameter(name: str, value: object, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        substitute_text(TECL, {name: value})
    with pytest.raises(ParameterError, match=message):
        load_variant(TECL, {name: value})


def test_values_that_only_fail_together_are_refused_naming_them(tmp_path: Path) -> None:
    path = write(tmp_path, KINDS_FILE)
    with pytest.raises(ParameterError, match=r"weight_if=0, weight_bands_ppo=0 do not make a valid symphony: .*zero"):
        substitute_text(path, {"weight_if": 0, "weight_bands_ppo": 0})
    with pytest.raises(ParameterError, match=r"ppo_qqq_short_window=30 do not make .*short-window below"):
        load_variant(path, {"ppo_qqq_short_window": 30})
    with pytest.raises(ParameterError, match="factor must be above 0"):
        load_variant(path, {"bbup_qqq_num_std_dev": 0})
    for bad in (0, 1.5):
        with pytest.raises(ParameterError, match="corridor must be above 0 and at most 1"):
            load_variant(path, {"rebalance_corridor": bad})
    with pytest.raises(ParameterError, match="given twice with different values"):
        load_variant(TECL, {"rsi_tqqq_gt": 70, "7:39": 71})
    assert load_variant(TECL, {"rsi_tqqq_gt": 70, "7:39": 70.0}).program is not None


def test_a_file_that_does_not_compile_is_reported_at_its_place(tmp_path: Path) -> None:
    path = write(tmp_path, '(defsymphony "x" {}\n  (if (> (rsi "SPY" {:window 0}) 5) [(asset "SPY")] [(asset "BIL")]))')
    with pytest.raises(SymphonyErrors, match=r"s.clj:2:30: `rsi` window"):
        find_parameters(path)
    with pytest.raises(SymphonyErrors, match="cannot read file"):
        find_parameters(tmp_path / "missing.clj")


def test_a_rewritten_file_is_read_again(tmp_path: Path) -> None:
    path = write(tmp_path, KINDS_FILE)
    assert by_name(path)["rsi_spy_window"].value == 14
    path.write_text(KINDS_FILE.replace('(rsi "SPY" 14)', '(rsi "SPY" 15)'), encoding="utf-8")  # same size
    assert by_name(path)["rsi_spy_window"].value == 15
    assert load_variant(path, {}).program.nodes != compile_text(KINDS_FILE, str(path)).nodes


def test_deep_nesting_needs_no_recursion(tmp_path: Path) -> None:
    depth = 3000
    text = '(defsymphony "deep" {} ' + "(weight-equal [" * depth + '(if (> (rsi "SPY" {:window 10}) 70)'
    text += ' [(asset "SPY" nil)] [(asset "BIL" nil)])' + "])" * depth + ")"
    path = write(tmp_path, text)
    params = find_parameters(path)
    assert [p.name for p in params] == ["rsi_spy_window", "rsi_spy_gt"]
    out = substitute_text(path, {"rsi_spy_gt": 60})
    assert canonical(compile_text(out, str(path))) == canonical(load_variant(path, {"rsi_spy_gt": 60}).program)


# -- JSON scores -------------------------------------------------------------------------------------------
def test_json_scores_have_the_same_names_with_line_col_of_each_number(tmp_path: Path) -> None:
    path = write(tmp_path, format_score(compile_file(TECL)), "tecl.json")
    clj, score = find_parameters(TECL), find_parameters(path)
    assert [(p.name, p.kind, p.value) for p in score] == [(p.name, p.kind, p.value) for p in clj]
    lines = path.read_text(encoding="utf-8").splitlines()
    for p in score:
        line, col = map(int, p.line_col.split(":"))
        number = re.match(r'"?(-?[\d.eE+-]+)', lines[line - 1][col - 1 :])
        assert number is not None, p
        assert float(number.group(1)) in (p.value, p.value * 4, p.value * 20, p.value * 100), p  # weights: num


def test_json_substitution_keeps_layout_and_string_numbers(tmp_path: Path) -> None:
    score = json.loads(format_score(compile_file(TECL)))
    stack = [score]
    while stack:  # Composer writes some numbers as strings: make the `> 79` one a string
        node = stack.pop()
        if node.get("rhs-val") == 79:
            node["rhs-val"] = "79"
        stack.extend(node.get("children", []))
    text = json.dumps(score, indent=3)
    path = write(tmp_path, text, "tecl.json")
    values = {"rsi_tqqq_window": 12, "sma_spy_window": 150.0, "weight_uvxy": 0.3, "weight_bil": 1 / 3}
    out = substitute_text(path, values)
    assert json.loads(out) != json.loads(text)
    changed = [(a, b) for a, b in zip(text.splitlines(), out.splitlines(), strict=True) if a != b]
    assert len(changed) == 4  # one line per number; weights keep their denominator: 0.3 is 1.2 / 4
    assert '"num": 1.2,' in out
    assert ('"rhs-val": "79"' in out) and len(out.splitlines()) == len(text.splitlines())
    out_path = write(tmp_path, out, "out.json")
    assert canonical(compile_file(out_path)) == canonical(variant_program(path, values))
    threshold = by_name(path)["rsi_tqqq_gt"]
    assert '"rhs-val": "70.5"' in substitute_text(path, {threshold.name: 70.5})


def test_a_json_weight_with_no_exact_numerator_is_written_over_1(tmp_path: Path) -> None:
    def leaf(ticker: str, num: int) -> dict[str, object]:
        return {"step": "asset", "ticker": ticker, "weight": {"num": num, "den": "3"}}

    score = {
        "step": "root",
        "name": "w",
        "children": [{"step": "wt-cash-specified", "children": [leaf("SPY", 1), leaf("TLT", 2)]}],
    }
    path = write(tmp_path, json.dumps(score, indent=1), "w.json")
    assert [(p.name, p.value) for p in find_parameters(path)] == [("weight_spy", 1 / 3), ("weight_tlt", 2 / 3)]
    out = substitute_text(path, {"weight_spy": 0.1, "weight_tlt": 0.2})
    weights = [child["weight"] for child in json.loads(out)["children"][0]["children"]]
    assert weights == [{"num": 0.1, "den": "1"}, {"num": 0.2, "den": "1"}]  # 0.3 / 3 is not exactly 0.1
    assert canonical(compile_file(write(tmp_path, out, "w2.json"))) == canonical(
        variant_program(path, {"weight_spy": 0.1, "weight_tlt": 0.2})
    )


def test_json_value_spans_follow_the_score_paths() -> None:
    text = '{"a": [1, {"b": "x\\"y", "c": [true, null, -2.5e3]}], "a2": {}, "d": {"e": 1, "e": 2}}'
    spans = value_spans(text)
    assert {path: text[s:e] for path, (s, e) in spans.items()} == {
        "a[0]": "1",
        "a[1].b": '"x\\"y"',
        "a[1].c[0]": "true",
        "a[1].c[1]": "null",
        "a[1].c[2]": "-2.5e3",
        "d.e": "2",  # the last of a repeated key, as json.loads keeps it
    }


# -- variants behave like the edited file -----------------------------------------------------------------
def test_a_variant_decides_like_the_edited_file() -> None:
    strategy = load_strategy("tecl")
    history = random_history(sorted(strategy.universe()), n=400, seed=3)
    values = {"rsi_tqqq_gt": 60, "rsi_xlk_gt": 55, "filter_rsi_window": 5, "sma_spy_window": 50}
    variant = load_variant(TECL, values)
    edited = compile_text(substitute_text(TECL, values), str(TECL))
    a, b = evaluate_all(variant.program, history), evaluate_all(edited, history)
    assert a.symbols == b.symbols
    assert np.array_equal(a.weights, b.weights, equal_nan=True)
    base = evaluate_all(strategy.program, history)  # type: ignore[attr-defined]
    assert not np.array_equal(a.weights, base.weights, equal_nan=True)
    assert variant.name == "tecl"


VALUE_OF_KIND = {
    "threshold": st.one_of(st.integers(-50, 150), st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)),
    "window": st.integers(1, 400),
    "count": st.integers(1, 4),
    "weight": st.one_of(st.integers(1, 5), st.floats(1e-6, 10)),
    "factor": st.floats(0.1, 4),
    "corridor": st.floats(1e-3, 1),
}
PARAMS = {name: find_parameters(builtin_path(name)) for name in sorted(BUILTINS)}
Choice = tuple[int, bool, float]  # parameter number, addressed by its place (else by name), value


@st.composite
def variants(draw: st.DrawFn) -> tuple[str, str, list[Choice]]:
    """A built-in, its format (the `.clj` or the same symphony as a JSON score) and values for some numbers."""
    name = draw(st.sampled_from(sorted(PARAMS)))
    indices = draw(st.lists(st.integers(0, len(PARAMS[name]) - 1), min_size=1, max_size=8, unique=True))
    choices = [(i, draw(st.booleans()), draw(VALUE_OF_KIND[PARAMS[name][i].kind])) for i in indices]
    return name, draw(st.sampled_from(["clj", "json"])), choices


@pytest.fixture(scope="module")
def scores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("scores")
    made = {}
    for name in BUILTINS:
        made[name] = folder / f"{name}.json"
        made[name].write_text(format_score(compile_file(builtin_path(name))), encoding="utf-8")
    return made


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=variants())
def test_property_substituted_text_reads_back_to_exactly_the_variant(
    case: tuple[str, str, list[Choice]], scores: dict[str, Path]
) -> None:
    name, form, choices = case
    path = builtin_path(name) if form == "clj" else scores[name]
    params = find_parameters(path)
    assert [(p.name, p.kind) for p in params] == [(p.name, p.kind) for p in PARAMS[name]]
    values = {(params[i].line_col if by_place else params[i].name): value for i, by_place, value in choices}
    try:
        text = substitute_text(path, values)
    except ParameterError as exc:  # only combinations can fail, e.g. every weight of a node at zero
        assume("do not make a valid symphony" not in str(exc))
        raise
    with tempfile.TemporaryDirectory() as folder:  # read back: the same names, holding the new values
        copy = Path(folder) / path.name
        copy.write_text(text, encoding="utf-8")
        assert canonical(compile_file(copy)) == canonical(load_variant(path, values).program)
        after = find_parameters(copy)
    assert [p.name for p in after] == [p.name for p in params]
    assert [after[i].value for i, _, _ in choices] == [value for _, _, value in choices]  # exactly, also num/den


def test_variants_do_not_leak_into_each_other_or_into_the_base() -> None:
    base = canonical(compile_file(TECL))
    one = canonical(variant_program(TECL, {"rsi_tqqq_gt": 50}))
    two = canonical(variant_program(TECL, {"rsi_tqqq_lt": 20}))
    assert one != two != base
    assert canonical(variant_program(TECL, {})) == base
    assert canonical(variant_program(TECL, {"rsi_tqqq_gt": 50})) == one
    program = variant_program(TECL, {"rsi_tqqq_gt": 50, "rsi_tqqq_lt": 20})
    reached = {program.root}
    for index in range(len(program.nodes) - 1, -1, -1):
        if index in reached:
            node = program.nodes[index]
            reached.update(getattr(node, "children", ()))
            if isinstance(node, IfNode):
                reached.update((node.then, node.otherwise))
    assert reached == set(range(len(program.nodes)))  # no node of the base left behind


def test_a_file_that_is_no_symphony_is_refused_not_half_read() -> None:
    with pytest.raises(StrategyError, match=r"test_params.py:\d+:\d+"):
        find_parameters(Path(__file__))


OLDER_SCORE = {
    "step": "root",
    "name": "older",
    "rebalance": "none",
    "rebalance-corridor-width": 0.1,
    "children": [
        {
            "step": "wt-inverse-vol",
            "window-days": "20",
            "children": [
                {
                    "step": "filter",
                    "sort-by-fn": "cumulative-return",
                    "sort-by-window-days": 5,
                    "select-fn": "bottom",
                    "select-n": "1",
                    "children": [{"step": "asset", "ticker": "SPY"}, {"step": "asset", "ticker": "TLT"}],
                },
                {
                    "step": "if",
                    "children": [
                        {
                            "step": "if-child",
                            "lhs-fn": "relative-strength-index",
                            "lhs-val": "QQQ",
                            "lhs-window-days": 14,
                            "comparator": "lte",
                            "rhs-val": "30.5",
                            "children": [{"step": "asset", "ticker": "QQQ"}],
                        },
                        {"step": "if-child", "is-else-condition?": True, "children": [{"step": "empty"}]},
                    ],
                },
            ],
        }
    ],
}


def test_older_score_fields_and_string_numbers_are_parameters_too(tmp_path: Path) -> None:
    path = write(tmp_path, json.dumps(OLDER_SCORE, indent=2), "older.json")
    got = [(p.name, p.kind, p.value) for p in find_parameters(path)]
    assert got == [
        ("rebalance_corridor", "corridor", 0.1),
        ("ivol_window", "window", 20),
        ("filter_cumret_window", "window", 5),
        ("filter_cumret_bottom", "count", 1),
        ("rsi_qqq_window", "window", 14),
        ("rsi_qqq_lte", "threshold", 30.5),
    ]
    values = {"rebalance_corridor": 0.2, "ivol_window": 30, "filter_cumret_bottom": 2, "rsi_qqq_lte": 25}
    out = substitute_text(path, values)
    assert json.loads(out) == {
        **OLDER_SCORE,
        "rebalance-corridor-width": 0.2,
        "children": [
            {
                **OLDER_SCORE["children"][0],  # type: ignore[index]
                "window-days": "30",
                "children": [
                    {**OLDER_SCORE["children"][0]["children"][0], "select-n": "2"},  # type: ignore[index]
                    json.loads(json.dumps(OLDER_SCORE["children"][0]["children"][1]).replace('"30.5"', '"25"')),  # type: ignore[index]
                ],
            }
        ],
    }
    program = compile_file(write(tmp_path, out, "older2.json"))
    assert canonical(program) == canonical(variant_program(path, values))
    assert program.settings["rebalance-corridor-width"] == 0.2


def test_a_symphony_held_as_text_needs_no_file(tmp_path: Path) -> None:
    text = TECL.read_text(encoding="utf-8")
    ghost = str(tmp_path / "elsewhere" / "tecl.clj")  # a worker on another machine: no such file
    params = parameters_of_text(text, ghost)
    assert [(p.name, p.line_col) for p in params] == [(p.name, p.line_col) for p in find_parameters(TECL)]
    assert params[0].location.startswith(ghost)
    values = {"rsi_tqqq_gt": 70, "filter_rsi_window": 12}
    assert canonical(variant_of_text(text, ghost, values)) == canonical(variant_program(TECL, values))
    score = format_score(compile_file(TECL))
    assert canonical(variant_of_text(score, "tecl.json", values)) == canonical(variant_program(TECL, values))
    with pytest.raises(ParameterError, match="no parameter 'nope'"):
        variant_of_text(text, ghost, {"nope": 1})


@st.composite
def generated_variant(draw: st.DrawFn) -> tuple[str, list[tuple[int, float]]]:
    """A generated symphony using every Composer function, and new values for some of its numbers."""
    text = draw(symphony())
    params = parameters_of_text(text, "generated.clj")
    if not params:
        return text, []
    indices = draw(st.lists(st.integers(0, len(params) - 1), max_size=6, unique=True))
    return text, [(i, draw(VALUE_OF_KIND[params[i].kind])) for i in indices]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=generated_variant())
def test_property_every_number_of_any_symphony_is_a_parameter_and_substitutes_exactly(
    case: tuple[str, list[tuple[int, float]]],
) -> None:
    text, choices = case
    params = parameters_of_text(text, "generated.clj")
    numbers = [token.start() for token in _TOKEN.finditer(text) if _NUMBER.fullmatch(token.group())]
    assert len(params) == len(numbers)  # every number of every function is one, and none is counted twice
    assert len({p.name for p in params}) == len(params)
    base = canonical(compile_text(text, "generated.clj"))
    same = {p.name: p.value for p in params}  # every number rewritten with its own value: the same program
    assert canonical(variant_of_text(text, "generated.clj", same)) == base
    values = {params[i].name: value for i, value in choices}
    try:
        variant = variant_of_text(text, "generated.clj", values)
    except ParameterError as exc:  # only combinations fail: all weights of a node at zero, short ≥ long window
        assert "do not make a valid symphony" in str(exc)
        return
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "generated.clj"
        path.write_text(text, encoding="utf-8")
        written = substitute_text(path, values)
    assert canonical(compile_text(written, "generated.clj")) == canonical(variant)
