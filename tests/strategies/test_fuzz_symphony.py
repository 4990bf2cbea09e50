"""Property-based fuzzing of the symphony reader, compiler, evaluator and printer.

Whatever text goes in, the only failure is `SymphonyErrors` whose every error points at a real place in the
file; whatever valid tree goes in, the evaluator either returns a proper allocation or fails closed with the
project's own `StrategyError` / `DataError`.
"""

from __future__ import annotations

import json
import math
import os
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from alchemiser.data.history import PriceHistory
from alchemiser.errors import DataError, JsonLocation, StrategyError
from alchemiser.indicators import ALIASES, INDICATORS
from alchemiser.strategies.symphony.compiler import COMPARATORS, SymphonyErrors, compile_forms, compile_text
from alchemiser.strategies.symphony.evaluator import Decision, decide, evaluate_all
from alchemiser.strategies.symphony.printer import format_program
from alchemiser.strategies.symphony.program import EmptyNode, Program
from alchemiser.strategies.symphony.reader import _TOKEN
from alchemiser.strategies.symphony.score import read_score
from alchemiser.strategies.symphony.score_writer import format_score, program_to_score
from tests.helpers import random_history

BUILTIN_DIR = Path(__file__).resolve().parents[2] / "src" / "alchemiser" / "strategies" / "builtin"
BUILTINS = {p.name: p.read_text(encoding="utf-8") for p in sorted(BUILTIN_DIR.glob("*.clj"))}
TICKERS = ("SPY", "QQQ", "TLT", "BIL", "UVXY", "TQQQ")
# ALCHEMISER_FUZZ_SCALE=20 runs a long fuzzing session; the default keeps the suite fast.
SCALE = int(os.environ.get("ALCHEMISER_FUZZ_SCALE", "1"))
FUZZ = settings(max_examples=300 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TREES = settings(max_examples=250 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def compile_or_located_errors(text: str) -> Program | None:
    """Compile `text`; on failure check every error is a located, non-empty `SymphonyError`."""
    try:
        program = compile_text(text, "f.clj")
    except SymphonyErrors as exc:
        assert exc.errors, "SymphonyErrors with no errors"
        lines = text.split("\n")
        for err in exc.errors:
            loc = err.location
            assert loc is not None, f"error without a location: {err.message!r}"
            assert loc.file == "f.clj"
            assert 1 <= loc.line <= len(lines), (loc, len(lines))
            assert 1 <= loc.col <= len(lines[loc.line - 1]) + 1, (loc, lines[loc.line - 1][:80])
            assert err.message.strip(), "empty error message"
            assert str(loc) in str(exc)
        return None
    assert isinstance(program, Program)
    assert 0 <= program.root < len(program.nodes)
    return program


# -- 1. arbitrary and mutated text ---------------------------------------------------------------------------
SEXPR_ALPHABET = st.sampled_from(list('()[]{}"\\;#_:%.,+-eE0123456789 \n\tabcdefghijklmnopqrstuvwxyzASPYQ<>=\r'))
VOCAB = (
    *"()[]{}",
    '"',
    "\\",
    "#_",
    ";",
    "nil",
    "true",
    ":window",
    "{:window 10}",
    '"SPY"',
    '"spy"',
    '"not a ticker!"',
    '""',
    *INDICATORS,
    *ALIASES,
    "{:short-window 12 :long-window 26}",
    "{:short-window 26 :long-window 12 :smooth-window 9}",
    "{:window 20 :num-std-dev 2.5}",
    "{:window 20 :num-std-dev 0}",
    "(empty)",
    "empty",
    *COMPARATORS,
    "asset",
    "group",
    "weight-equal",
    "weight-specified",
    "weight-inverse-volatility",
    "if",
    "filter",
    "select-top",
    "select-bottom",
    "defsymphony",
    "0",
    "-1",
    "2.5",
    "50%",
    "1e999",
    "-1e999",
    "9" * 40,
    "9" * 5000,
    "1e-400",
    "0.0000001",
    "5001",
    "+.5",
    "٣",
)


@st.composite
def mutated_builtin(draw: st.DrawFn) -> str:
    text = BUILTINS[draw(st.sampled_from(sorted(BUILTINS)))]
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(
            st.sampled_from(
                ["del_char", "ins_char", "dup_char", "del_token", "dup_token", "ins_token", "swap", "truncate"]
            )
        )
        if kind == "truncate":
            text = text[: draw(st.integers(0, len(text)))]
            continue
        if kind in ("del_token", "dup_token", "swap"):
            spans = [m.span() for m in _TOKEN.finditer(text)]
            if kind == "swap":
                spans = [s for s in spans if text[s[0]] in "()[]{}"]
            if not spans:
                continue
            a, b = spans[draw(st.integers(0, len(spans) - 1))]
            if kind == "del_token":
                text = text[:a] + text[b:]
            elif kind == "dup_token":
                text = text[:b] + " " + text[a:b] + text[b:]
            else:
                text = text[:a] + draw(st.sampled_from("()[]{}")) + text[b:]
            continue
        at = draw(st.integers(0, len(text)))
        if kind == "del_char":
            text = text[:at] + text[at + 1 :]
        elif kind == "dup_char":
            text = text[: at + 1] + text[at:]
        elif kind == "ins_char":
            text = text[:at] + draw(st.one_of(SEXPR_ALPHABET, st.characters())) + text[at:]
        else:
            text = text[:at] + " " + draw(st.sampled_from(VOCAB)) + " " + text[at:]
    return text


def test_builtins_compile() -> None:
    for name, text in BUILTINS.items():
        assert compile_or_located_errors(text) is not None, name


@FUZZ
@given(st.text(max_size=300))
def test_arbitrary_text_fails_only_with_located_symphony_errors(text: str) -> None:
    compile_or_located_errors(text)


@FUZZ
@given(st.text(alphabet=SEXPR_ALPHABET, max_size=400))
def test_sexpr_like_text_fails_only_with_located_symphony_errors(text: str) -> None:
    compile_or_located_errors(text)


@FUZZ
@given(st.lists(st.sampled_from(VOCAB), max_size=40).map(" ".join))
def test_token_soup_fails_only_with_located_symphony_errors(text: str) -> None:
    compile_or_located_errors(text)


@settings(max_examples=250 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_builtin())
def test_mutated_builtins_fail_only_with_located_symphony_errors(text: str) -> None:
    compile_or_located_errors(text)


@pytest.mark.parametrize(
    "text",
    [
        '(if (> (rsi "SPY" {:window 10}) 1e999) [(asset "A" nil)] [(asset "B" nil)])',
        f'(if (> (rsi "SPY" {{:window 10}}) {"9" * 400}) [(asset "A" nil)] [(asset "B" nil)])',
        f'(if (> (rsi "SPY" {{:window 10}}) {"9" * 5000}) [(asset "A" nil)] [(asset "B" nil)])',
        '(weight-specified 1e999 (asset "A" nil) 1 (asset "B" nil))',
        f'(weight-specified {"9" * 400} (asset "A" nil) 1 (asset "B" nil))',
        '(weight-specified 1e-400 (asset "A" nil) 0 (asset "B" nil))',
        f'(filter (rsi {{:window {"9" * 400}}}) (select-top 1) [(asset "A" nil)])',
    ],
)
def test_out_of_range_numbers_are_located_errors(text: str) -> None:
    assert compile_or_located_errors(text) is None


# -- 2. generated valid symphonies ------------------------------------------------------------------------
WINDOWS = st.one_of(st.integers(1, 30), st.integers(1, 300))
TICKER = st.sampled_from(TICKERS)
WINDOWED = sorted(name for name, spec in INDICATORS.items() if spec.needs_window)
UNWINDOWED = sorted(name for name, spec in INDICATORS.items() if not spec.needs_window)


def _str(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


@st.composite
def indicator(draw: st.DrawFn, with_symbol: bool = True) -> str:
    """Every function (and Composer's long-name aliases) with its parameter map, keys in any order."""
    name = draw(st.sampled_from(sorted([*INDICATORS, *ALIASES])))
    spec = INDICATORS[ALIASES.get(name, name)]
    parts = [name]
    if with_symbol:
        parts.append(_str(draw(TICKER)))
    keys = [p.key for p in spec.params]
    if keys == ["window"]:
        parts.append(draw(st.sampled_from(["{{:window {}}}", "{}"])).format(draw(WINDOWS)))
    elif keys:
        values: dict[str, str] = {}
        if "short-window" in keys:
            short = draw(st.integers(1, 40))
            values["short-window"] = str(short)
            values["long-window"] = str(draw(st.integers(short + 1, short + 120)))
            if "smooth-window" in keys:
                values["smooth-window"] = str(draw(st.integers(1, 30)))
        else:
            values["window"] = str(draw(WINDOWS))
            k = draw(st.one_of(st.none(), st.sampled_from(["1", "2", "2.5", "0.5"])))
            if k is not None:
                values[draw(st.sampled_from(["num-std-dev", "std-dev"]))] = k
        pairs = [f":{k} {v}" for k, v in values.items()]
        parts.append("{" + " ".join(draw(st.permutations(pairs))) + "}")
    return "(" + " ".join(parts) + ")"


CONSTANT = st.one_of(
    st.integers(-100, 200).map(str),
    st.floats(-100, 200, allow_nan=False).map(repr),
    st.integers(0, 100).map(lambda v: f"{v}%"),
)


@st.composite
def condition(draw: st.DrawFn) -> str:
    lhs = draw(indicator())
    rhs = draw(st.one_of(CONSTANT, indicator()))
    if draw(st.booleans()):
        lhs, rhs = rhs, lhs
    return f"({draw(st.sampled_from(COMPARATORS))} {lhs} {rhs})"


NAME = st.text(max_size=12)
ASSET = st.builds(
    lambda sym, name: f"(asset {_str(sym)}{name})",
    TICKER,
    st.one_of(st.just(""), st.just(" nil"), NAME.map(lambda n: " " + _str(n))),
)
WEIGHT = st.one_of(
    st.integers(0, 10_000).map(lambda v: f"{v / 10_000}"),
    st.integers(0, 100).map(str),
    st.integers(0, 100).map(lambda v: f"{v}%"),
)


def _vector(items: list[str]) -> str:
    return "[" + "\n".join(items) + "]"


def extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    kids = st.lists(children, min_size=1, max_size=4)

    @st.composite
    def weight_specified(draw: st.DrawFn) -> str:
        items = draw(kids)
        weights = [draw(WEIGHT) for _ in items]
        if all(float(w.rstrip("%")) == 0 for w in weights):
            weights[0] = "1"
        if draw(st.booleans()):
            return f"(weight-specified {_vector(weights)} {_vector(items)})"
        return "(weight-specified " + " ".join(f"{w} {c}" for w, c in zip(weights, items, strict=True)) + ")"

    @st.composite
    def inverse_vol(draw: st.DrawFn) -> str:
        window = draw(WINDOWS)
        arg = f"{{:window {window}}}" if draw(st.booleans()) else str(window)
        return f"(weight-inverse-volatility {arg} {_vector(draw(kids))})"

    @st.composite
    def if_node(draw: st.DrawFn) -> str:
        return f"(if {draw(condition())}\n{_vector(draw(kids))}\n{_vector(draw(kids))})"

    @st.composite
    def filter_node(draw: st.DrawFn) -> str:
        select = draw(st.sampled_from(["select-top", "select-bottom"]))
        count = draw(st.integers(1, 5))
        return f"(filter {draw(indicator(with_symbol=False))} ({select} {count}) {_vector(draw(kids))})"

    return st.one_of(
        kids.map(lambda k: f"(weight-equal {_vector(k)})"),
        st.builds(lambda name, k: f"(group {_str(name)} {_vector(k)})", NAME, kids),
        weight_specified(),
        inverse_vol(),
        if_node(),
        filter_node(),
    )


LEAF = st.one_of(ASSET, ASSET, ASSET, st.just("(empty)"))
TREE = st.recursive(LEAF, extend, max_leaves=16)


@st.composite
def symphony(draw: st.DrawFn) -> str:
    body = draw(TREE)
    if draw(st.booleans()):
        return body
    return f'(defsymphony {_str(draw(NAME))} {{:asset-class "EQUITIES" :rebalance-frequency :daily}}\n{body})'


@lru_cache(maxsize=32)
def _history(seed: int, n: int, variant: str = "random") -> PriceHistory:
    """A random market; "late": one symbol lists part-way (NaN before);
    "gone": one symbol has no price on the last days; "flat": one symbol never moves."""
    base = random_history(TICKERS, n=n, seed=seed)
    closes = dict(base.closes)
    symbol = TICKERS[seed % len(TICKERS)]
    if variant == "late":
        closes[symbol] = closes[symbol].copy()
        closes[symbol][: n // 2] = np.nan
    elif variant == "gone":
        closes[symbol] = closes[symbol].copy()
        closes[symbol][-3:] = np.nan
    elif variant == "flat":
        closes[symbol] = np.full(n, 25.0)
    return PriceHistory(base.dates, closes, base.sources)


HISTORY = st.builds(
    _history, st.integers(0, 7), st.sampled_from([30, 400]), st.sampled_from(["random", "late", "gone", "flat"])
)


def decide_or_fail_closed(program: Program, history: PriceHistory) -> Decision | None:
    try:
        decision = decide(program, history)
    except (StrategyError, DataError) as exc:
        assert str(exc).strip()
        event(f"failed closed: {type(exc).__name__}")
        return None
    event("decided")
    weights = np.array(list(decision.weights.values()))
    assert np.isfinite(weights).all() and (weights >= 0).all(), decision.weights
    # weights sum to 1; only `empty` branches leave a share in cash
    assert abs(weights.sum() + decision.cash - 1.0) <= 1e-9, decision.weights
    assert decision.cash == 0.0 or any(isinstance(n, EmptyNode) for n in program.nodes)
    assert set(decision.weights) <= program.universe
    assert decision.trace, "a decision always explains itself"
    return decision


def _close(a: dict[str, float], b: dict[str, float], tol: float = 1e-9) -> bool:
    return all(abs(a.get(s, 0.0) - b.get(s, 0.0)) <= tol for s in a.keys() | b.keys())


@TREES
@given(symphony(), HISTORY)
def test_generated_symphonies_compile_and_decide_or_fail_closed(text: str, history: PriceHistory) -> None:
    program = compile_text(text, "gen.clj")
    decision = decide_or_fail_closed(program, history)
    try:
        matrix = evaluate_all(program, history)
    except (StrategyError, DataError):
        assert decision is None, "evaluate_all failed where decide succeeded"
        return
    assert matrix.weights.shape == (len(history.dates), len(matrix.symbols))
    assert np.isfinite(matrix.weights).all() and (matrix.weights >= 0).all()
    sums = matrix.weights.sum(axis=1)
    assert np.all(sums[matrix.valid] <= 1.0 + 1e-9)
    if not any(isinstance(n, EmptyNode) for n in program.nodes):
        assert np.all(np.abs(sums[matrix.valid] - 1.0) <= 1e-9)
    assert np.all(sums[~matrix.valid] == 0.0)
    assert bool(matrix.valid[-1]) == (decision is not None)
    if decision is not None:
        assert _close(matrix.row(len(history.dates) - 1), decision.weights)


@TREES
@given(symphony(), HISTORY)
def test_formatted_program_round_trips_to_the_same_decisions(text: str, history: PriceHistory) -> None:
    program = compile_text(text, "gen.clj")
    printed = format_program(program)
    again = compile_text(printed, "fmt.clj")
    assert again.universe == program.universe
    first = decide_or_fail_closed(program, history)
    second = decide_or_fail_closed(again, history)
    assert (first is None) == (second is None)
    if first is not None and second is not None:
        assert _close(first.weights, second.weights)
        assert [(s.kind, s.depth) for s in first.trace] == [(s.kind, s.depth) for s in second.trace]
    a, b = evaluate_all(program, history) if first else None, evaluate_all(again, history) if second else None
    if a is not None and b is not None:
        assert np.array_equal(a.valid, b.valid)


# -- 2b. the JSON score -------------------------------------------------------------------------------------
def compile_score(text: str) -> Program:
    return compile_forms(read_score(text, "gen.json"), "gen.json")


@settings(max_examples=100 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(symphony(), HISTORY)
def test_generated_symphonies_round_trip_through_the_json_score(text: str, history: PriceHistory) -> None:
    """clj → json → program decides exactly like the clj on every day (same validity, same weights)."""
    program = compile_text(text, "gen.clj")
    again = compile_score(format_score(program))
    assert again.universe == program.universe
    assert format_program(compile_score(format_score(again))) == format_program(again)
    try:
        a = evaluate_all(program, history)
    except (StrategyError, DataError):
        with pytest.raises((StrategyError, DataError)):
            evaluate_all(again, history)
        return
    b = evaluate_all(again, history)
    assert np.array_equal(a.valid, b.valid)
    for symbol in set(a.symbols) | set(b.symbols):
        wa = a.weights[:, a.symbols.index(symbol)] if symbol in a.symbols else 0.0
        wb = b.weights[:, b.symbols.index(symbol)] if symbol in b.symbols else 0.0
        assert np.allclose(wa, wb, rtol=0, atol=1e-9), symbol


def _json_mutations(value: object, draw: st.DrawFn) -> object:
    """One random change somewhere in a score: drop, retype or rename a field, or break a value."""
    nodes: list[dict[str, object]] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            nodes.append(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    node = nodes[draw(st.integers(0, len(nodes) - 1))]
    keys = sorted(node)
    key = keys[draw(st.integers(0, len(keys) - 1))] if keys else "step"
    kind = draw(st.sampled_from(["drop", "retype", "rename", "value", "empty-children"]))
    if kind == "drop":
        node.pop(key, None)
    elif kind == "rename":
        node[key + "x"] = node.pop(key, None)
    elif kind == "empty-children":
        node["children"] = []
    else:
        node[key] = draw(
            st.sampled_from([None, 0, -1, 1.5, "", "foo", "rsi", [], {}, True, 1e308, "9" * 30, {"window": 0}])
        )
    return value


@settings(max_examples=100 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(symphony(), st.data())
def test_mutated_scores_fail_only_with_errors_naming_a_json_path(text: str, data: st.DataObject) -> None:
    score = program_to_score(compile_text(text, "gen.clj"))
    for _ in range(data.draw(st.integers(1, 3))):
        score = _json_mutations(score, data.draw)  # type: ignore[assignment]
    try:
        compile_score(json.dumps(score))
    except SymphonyErrors as exc:
        assert exc.errors
        for err in exc.errors:
            assert err.message.strip()
            assert isinstance(err.location, JsonLocation), (err.location, err.message)
            assert err.location.file == "gen.json"
            assert str(err.location) in str(exc)


# -- 3. deep nesting ------------------------------------------------------------------------------------------
DEPTH = 3000


def _deep_if(depth: int) -> str:
    head = '(if (> (rsi "SPY" {:window 5}) 50) [(asset "QQQ" nil)] ['
    return head * depth + '(asset "TLT" nil)' + "])" * depth


def _deep_groups(depth: int) -> str:
    return '(group "g" [(weight-equal [' * depth + '(asset "SPY" nil) (asset "BIL" nil)' + "])])" * depth


@pytest.mark.parametrize("make", [_deep_if, _deep_groups])
def test_deep_nesting_compiles_and_decides_without_recursion(make: object) -> None:
    assert callable(make)
    text = make(DEPTH)
    history = _history(0, 400)
    program = compile_text(text, "deep.clj")
    decision = decide(program, history)
    assert math.isclose(sum(decision.weights.values()), 1.0)
    matrix = evaluate_all(program, history)
    assert matrix.valid[-1] and _close(matrix.row(len(history.dates) - 1), decision.weights)


def test_deep_nesting_with_an_error_at_the_bottom_is_located() -> None:
    text = _deep_if(DEPTH).replace('(asset "TLT" nil)', '(asset "not a ticker" nil)')
    with pytest.raises(SymphonyErrors) as info:
        compile_text(text, "deep.clj")
    [err] = info.value.errors
    assert err.location is not None and err.location.line == 1
    assert err.location.col == text.index('"not a ticker"') + 1


def test_deep_unclosed_nesting_is_located() -> None:
    text = "(weight-equal [" * DEPTH
    with pytest.raises(SymphonyErrors) as info:
        compile_text(text, "deep.clj")
    [err] = info.value.errors
    assert err.location is not None and (err.location.line, err.location.col) == (1, len(text))


def test_a_single_child_wrapper_in_a_filter_ranks_like_its_child() -> None:
    """Found by the round-trip property: `fmt` drops `weight-equal [x]`, so the evaluator must treat it as x."""
    wrapped = '(filter (current-price) (select-top 1) [(weight-equal [(asset "SPY")]) (group "" [(asset "QQQ")])])'
    bare = '(filter (current-price) (select-top 1) [(asset "SPY") (group "" [(asset "QQQ")])])'
    history = _history(0, 30)
    assert decide(compile_text(wrapped), history).weights == decide(compile_text(bare), history).weights
    deep = '(filter (rsi {:window 3}) (select-top 1) [(weight-equal [(if (> (rsi "SPY" 2) 50) [(asset "SPY")] [(asset "QQQ")])]) (asset "TLT")])'
    decide(compile_text(deep), history)  # a wrapped subtree is still ranked by its own equity curve


def test_a_dangling_discard_is_reported_where_it_is_not_later() -> None:
    """`#_` right before a closer used to swallow the next form at that depth (here the whole else-branch)."""
    text = '(if (> (rsi "SPY" 10) 5) [(asset "A") #_] [(asset "B")])'
    with pytest.raises(SymphonyErrors) as info:
        compile_text(text, "f.clj")
    [err] = info.value.errors
    assert err.location is not None and err.location.col == text.index("#_") + 1
    assert "#_" in err.message
    assert compile_text('(weight-equal [#_ (asset "A") (asset "B")])').universe == {"B"}


def test_symphony_errors_text_prefixes_each_location_once() -> None:
    with pytest.raises(SymphonyErrors) as info:
        compile_text('(weight-equal [(asset "not a ticker") (bogus)])', "f.clj")
    lines = str(info.value).split("\n")
    assert len(lines) == 2 and all(line.count("f.clj:") == 1 for line in lines), lines
