"""The reader and compiler: structure, locations of every problem, and scale."""

from __future__ import annotations

import time

import pytest

from alchemiser.errors import SymphonyError
from alchemiser.strategies.symphony.compiler import SymphonyErrors, compile_text
from alchemiser.strategies.symphony.program import AssetNode, FilterNode, IfNode, MixNode
from alchemiser.strategies.symphony.reader import read_forms

GOOD = """; a comment
(defsymphony "Demo" {:asset-class "EQUITIES", :rebalance-frequency :daily}
 (weight-equal
  [(if (> (rsi "SPY" {:window 10}) 79)
     [(asset "UVXY" "ProShares Ultra VIX")]
     [(filter (cumulative-return {:window 5}) (select-top 1)
        [(asset "QQQ" nil) (asset "SPY" nil)])])]))
"""


def test_good_file_compiles_with_settings_and_universe() -> None:
    program = compile_text(GOOD, "demo.clj")
    assert program.name == "Demo"
    assert program.settings == {"asset-class": "EQUITIES", "rebalance-frequency": "daily"}
    assert program.universe == {"SPY", "UVXY", "QQQ"}
    root = program.nodes[program.root]
    assert isinstance(root, MixNode) and root.kind == "weight-equal" and root.weights == (1.0,)
    branch = program.nodes[root.children[0]]
    assert isinstance(branch, IfNode)
    assert (branch.loc.line, branch.loc.col) == (4, 4)
    kinds = {type(n) for n in program.nodes}
    assert {AssetNode, FilterNode, IfNode} <= kinds


def test_reader_tracks_line_and_column() -> None:
    forms = read_forms('(a\n  "b"  :c\n 1.5)', "x.clj")
    form = forms[0]
    assert (form.loc.line, form.loc.col) == (1, 1)
    items = form.items  # type: ignore[union-attr]
    assert [(i.loc.line, i.loc.col) for i in items] == [(1, 2), (2, 3), (2, 8), (3, 2)]
    assert [i.value for i in items] == ["a", "b", "c", 1.5]  # type: ignore[union-attr]


def test_identical_subtrees_are_shared() -> None:
    text = '(weight-equal [(group "g" [(asset "A" nil)]) (group "g" [(asset "A" nil)]) (asset "A" nil)])'
    program = compile_text(text)
    assert sum(isinstance(n, AssetNode) for n in program.nodes) == 1
    assert sum(isinstance(n, MixNode) and n.kind == "group" for n in program.nodes) == 1


def _errors(text: str) -> list[SymphonyError]:
    with pytest.raises(SymphonyErrors) as info:
        compile_text(text, "bad.clj")
    return info.value.errors


MALFORMED = [
    ("unbalanced", '(weight-equal [(asset "SPY" nil)]', 1, 1, "never closed"),
    ("mismatched", '(weight-equal [(asset "SPY" nil)))', 1, 33, "does not match"),
    ("stray closer", '(asset "SPY" nil))', 1, 18, "nothing open"),
    (
        "unknown operator",
        '(weight-equal\n  [(weight-magic [(asset "SPY" nil)])])',
        2,
        4,
        "unknown operator `weight-magic`",
    ),
    (
        "unknown indicator",
        '(if (> (rsx "SPY" {:window 3}) 1) [(asset "A" nil)] [(asset "B" nil)])',
        1,
        8,
        "unknown indicator `rsx`",
    ),
    (
        "wrong arity",
        '(if (> (rsi "SPY" {:window 3}) 1 2) [(asset "A" nil)] [(asset "B" nil)])',
        1,
        5,
        "exactly two values",
    ),
    ("missing window", '(if (> (rsi "SPY") 50) [(asset "A" nil)] [(asset "B" nil)])', 1, 8, "needs exactly one window"),
    (
        "window map without window",
        '(if (> (rsi "SPY" {:span 3}) 50) [(asset "A" nil)] [(asset "B" nil)])',
        1,
        19,
        "needs a window",
    ),
    ("zero window", '(if (> (rsi "SPY" {:window 0}) 50) [(asset "A" nil)] [(asset "B" nil)])', 1, 28, "whole number"),
    (
        "non-numeric weight",
        '(weight-specified "half" (asset "A" nil) 0.5 (asset "B" nil))',
        1,
        19,
        "non-negative number",
    ),
    ("if missing a branch", '(if (> (rsi "SPY" {:window 3}) 50) [(asset "A" nil)])', 1, 1, "3 arguments"),
    ("empty weight-equal", "(weight-equal [])", 1, 15, "empty"),
    ("bad selector", '(filter (rsi {:window 3}) (select-some 1) [(asset "A" nil)])', 1, 27, "select-top"),
    ("selector count", '(filter (rsi {:window 3}) (select-top 0) [(asset "A" nil)])', 1, 39, "whole number"),
    ("ticker not a string", "(asset SPY nil)", 1, 8, "ticker string"),
    ("unclosed string", '(asset "SPY nil)', 1, 8, "never closed"),
    ("constant comparison", '(if (> 1 2) [(asset "A" nil)] [(asset "B" nil)])', 1, 5, "two constants"),
]


@pytest.mark.parametrize(("label", "text", "line", "col", "message"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_files_are_rejected_with_location(label: str, text: str, line: int, col: int, message: str) -> None:
    errors = _errors(text)
    first = errors[0]
    assert first.location is not None
    assert (first.location.file, first.location.line, first.location.col) == ("bad.clj", line, col), str(first)
    assert message in str(first)
    assert str(first).startswith(f"bad.clj:{line}:{col}: ")


def test_every_problem_is_reported_not_just_the_first() -> None:
    text = "(weight-equal [(foo) (asset 1 nil) (weight-equal [])])"
    errors = _errors(text)
    assert [(e.location.line, e.location.col) for e in errors if e.location] == [(1, 16), (1, 29), (1, 50)]


def test_deep_nesting_has_no_recursion_limit() -> None:
    depth = 20_000
    text = '(group "g" [' * depth + '(asset "SPY" nil)' + "])" * depth
    program = compile_text(text)
    assert program.universe == {"SPY"}
    assert len(program.nodes) == depth + 1


def _big_symphony(target_bytes: int) -> str:
    block = (
        '(if (> (rsi "T{i}" {{:window {w}}}) {v})\n'
        '  [(asset "T{i}" "Ticker {i}")]\n'
        "  [(filter (cumulative-return {{:window {w}}}) (select-top 2)\n"
        '     [(asset "U{i}" nil) (asset "V{i}" nil) (asset "W{i}" nil)])])\n'
    )
    parts, size, i = [], 0, 0
    while size < target_bytes:
        chunk = block.format(i=i % 300, w=5 + i % 50, v=30 + i % 40)
        parts.append(chunk)
        size += len(chunk)
        i += 1
    return '(defsymphony "Big" {} (weight-equal [' + "".join(parts) + "]))"


def test_large_export_parses_quickly_enough_to_be_usable() -> None:
    text = _big_symphony(2_000_000)
    started = time.perf_counter()
    program = compile_text(text, "big.clj")
    elapsed = time.perf_counter() - started
    assert len(program.universe) == 1200
    assert elapsed < 10  # generous bound against pathologies; bench/ measures the real figure
