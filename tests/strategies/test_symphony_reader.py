"""The hash-consing reader: shared subtrees keep exact per-place locations, in big files, CRLF files, files with
comments and `#_` inside repeated blocks; and the compiler's compile-each-shape-once never hides an error."""

from __future__ import annotations

import pytest

from alchemiser.data.sample import SAMPLE_SYMBOLS
from alchemiser.errors import SymphonyError
from alchemiser.strategies.symphony.compiler import SymphonyErrors, compile_text
from alchemiser.strategies.symphony.program import IfNode, IndicatorRef, MixNode
from alchemiser.strategies.symphony.reader import _TOKEN, Atom, Form, Node, read_forms
from tests.strategies.big_export import big_export


def _line_col(text: str, offset: int) -> tuple[int, int]:
    """The reference answer, worked out the slow obvious way."""
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _errors(text: str, filename: str = "bad.clj") -> list[SymphonyError]:
    with pytest.raises(SymphonyErrors) as info:
        compile_text(text, filename)
    return info.value.errors


def _walk(forms: list[Node]) -> list[Node]:
    out: list[Node] = []
    stack = list(reversed(forms))
    while stack:
        node = stack.pop()
        out.append(node)
        if isinstance(node, Form):
            stack.extend(reversed(node.items))
    return out


def test_every_node_of_a_file_with_repeats_comments_and_discards_is_located_exactly() -> None:
    block = '(if (> (rsi "SPY" {:window 10}) 50) [(asset "A" nil)] [(asset "B" nil)])'
    commented = '(if (> (rsi "SPY" ; why\n {:window 10}) 50) [(asset "A" nil)] #_ (dropped x) [(asset "B" nil)])'
    text = "\ufeff(weight-equal\r\n [" + "\r\n  ".join([block, commented, block, commented, block]) + "])\r\n"
    body = text.removeprefix("\ufeff")
    offsets = [m.start() for m in _TOKEN.finditer(body) if body[m.start()] not in ";#)]}"]
    offsets = [o for o in offsets if not body.startswith(("(dropped", "dropped", "x)"), o)]
    nodes = _walk(read_forms(text, "f.clj"))
    assert len(nodes) == len(offsets)
    for node, offset in zip(nodes, offsets, strict=True):
        assert (node.loc.line, node.loc.col) == _line_col(body, offset), node.describe()


def test_repeated_blocks_share_a_shape_but_not_a_location() -> None:
    forms = read_forms("(x (a b) (a  b)\n (a ; c\n b))", "f.clj")
    outer = forms[0]
    assert isinstance(outer, Form)
    first, second, third = outer.items[1:]
    assert isinstance(first, Form) and isinstance(second, Form) and isinstance(third, Form)
    assert first.shape == second.shape  # whitespace is not part of a shape
    assert third.shape != first.shape  # a comment inside moves the items after it: another layout
    assert [(n.loc.line, n.loc.col) for n in (*first.items, *second.items, *third.items)] == [
        (1, 5),
        (1, 7),
        (1, 11),
        (1, 14),
        (2, 3),
        (3, 2),
    ]


def test_locations_stay_exact_at_the_end_of_a_multi_megabyte_file() -> None:
    text = big_export(3_000_000, list(SAMPLE_SYMBOLS), variants=60)
    at = text.rindex("(empty)")
    broken = text[:at] + "(emptyy)" + text[at + len("(empty)") :]
    errors = _errors(broken, "big.clj")
    assert len(errors) == 1
    assert "unknown operator `emptyy`" in errors[0].message
    assert (errors[0].location.line, errors[0].location.col) == _line_col(broken, at)  # type: ignore[union-attr]
    # and a structural error at the very end
    errors = _errors(text.rstrip() + "\n  (asset", "big.clj")
    assert "never closed" in errors[0].message
    end = len(text.rstrip()) + 3
    assert (errors[0].location.line, errors[0].location.col) == _line_col(text.rstrip() + "\n  (asset", end)  # type: ignore[union-attr]


def test_last_form_of_a_multi_megabyte_file_is_located_exactly() -> None:
    text = big_export(2_000_000, list(SAMPLE_SYMBOLS), variants=60)
    forms = read_forms(text, "big.clj")
    last = forms[-1]
    while isinstance(last, Form) and last.items:
        last = last.items[-1]
    assert isinstance(last, Atom) and last.value == "empty"
    at = text.rindex("(empty)") + 1
    assert (last.loc.line, last.loc.col) == _line_col(text, at)


def test_crlf_file_reports_the_same_places_as_its_lf_twin() -> None:
    lf = '(defsymphony "X" {}\n (weight-equal\n  [(asset "SPY" nil)\n   (frobnicate 1)\n   (if (> 1 2) [(asset "A")] [(asset "B")])]))\n'
    crlf = lf.replace("\n", "\r\n")
    got = [(e.message, e.location.line, e.location.col) for e in _errors(crlf)]  # type: ignore[union-attr]
    want = [(e.message, e.location.line, e.location.col) for e in _errors(lf)]  # type: ignore[union-attr]
    assert got == want
    assert [(line, col) for _, line, col in got] == [(4, 4), (5, 8)]
    assert [(e.location.line, e.location.col) for e in _errors("\ufeff" + crlf)] == [(4, 4), (5, 8)]  # type: ignore[union-attr]


def test_an_error_in_a_pasted_block_is_reported_at_every_copy() -> None:
    block = '(group "g" [(asset "A" nil) (rsi "SPY" 10)])'
    text = f"(weight-equal [{block}\n {block}\n {block}])"
    errors = _errors(text)
    assert [(e.location.line, e.location.col) for e in errors] == [(1, 44), (2, 30), (3, 30)]  # type: ignore[union-attr]
    assert all("is not a node here" in e.message for e in errors)


def test_a_compiled_shape_keeps_the_location_of_its_first_copy_and_each_if_its_own_condition() -> None:
    text = (
        '(weight-equal [(group "g" [(asset "A" nil)])\n'
        ' (if (> (rsi "SPY" {:window 10}) 50) [(asset "A" nil)] [(asset "B" nil)])\n'
        ' (group "g" [(asset "A" nil)])\n'
        ' (if (> (rsi "SPY" {:window 10}) 50) [(asset "B" nil)] [(asset "A" nil)])])'
    )
    program = compile_text(text, "f.clj")
    groups = [n for n in program.nodes if isinstance(n, MixNode) and n.kind == "group"]
    assert len(groups) == 1 and (groups[0].loc.line, groups[0].loc.col) == (1, 16)
    ifs = [n for n in program.nodes if isinstance(n, IfNode)]
    lhs = [n.condition.lhs for n in ifs]
    assert all(isinstance(ref, IndicatorRef) for ref in lhs)
    assert [(ref.loc.line, ref.loc.col) for ref in lhs] == [(2, 9), (4, 9)]
    assert (program.symbol_locations["A"].line, program.symbol_locations["A"].col) == (1, 35)


def test_big_export_compiles_each_distinct_block_once() -> None:
    small = compile_text(big_export(50_000, list(SAMPLE_SYMBOLS), variants=60), "a.clj")
    large = compile_text(big_export(1_000_000, list(SAMPLE_SYMBOLS), variants=60), "b.clj")
    assert len(large.nodes) == len(small.nodes)
    assert large.universe == small.universe


def test_the_fast_scanner_finds_exactly_the_tokens_of_the_definition() -> None:
    import random

    from alchemiser.strategies.symphony.reader import _SCAN

    pieces = ["(", ")", "[", "]", "{", "}", " ", "\n", "\r\n", "\t", ",", "; c\n", "#_", '"s p"', '"a\\"b"', '"']
    pieces += ["x", ":k", "1", "2.5", "50%", "nil", "#x", "\ufeff", "é", "\\", "#_(a)"]
    rng = random.Random(7)
    for _ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 40)))
        assert _SCAN.findall(text) == _TOKEN.findall(text), text


def test_a_file_with_discards_or_a_mistake_reads_the_same_as_the_careful_way() -> None:
    block = '(asset "A" nil) #_ (asset "B" nil) (asset "C" nil)'
    forms = read_forms(f"(weight-equal [{block}\n {block}])", "f.clj")
    nodes = _walk(forms)
    places = [(n.loc.line, n.loc.col) for n in nodes if isinstance(n, Atom) and n.kind == "string"]
    assert places == [(1, 23), (1, 58), (2, 9), (2, 44)]
    with pytest.raises(SymphonyError, match=r"`\]` does not match the `\(` opened at 2:2"):
        read_forms(f"(weight-equal [{block}\n ({block}]))", "f.clj")
