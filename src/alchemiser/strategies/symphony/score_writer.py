"""Writes a compiled `Program` as a Composer JSON score (`alchemiser fmt --to json`).

The inverse of `score.py`: reading the output back gives a program with the same decisions on every day.
Built bottom-up over the post-order node list, like the `.clj` printer, so it needs no recursion.
"""

from __future__ import annotations

import json
from fractions import Fraction
from typing import Any

from alchemiser.errors import SourceLocation, SymphonyError, SymphonyErrors
from alchemiser.strategies.symphony.program import (
    AssetNode,
    Condition,
    Const,
    EmptyNode,
    FilterNode,
    IfNode,
    IndicatorRef,
    InverseVolNode,
    MixNode,
    Program,
)

_COMPARATORS = {">": "gt", ">=": "gte", "<": "lt", "<=": "lte", "=": "eq"}
_FLIPPED = {">": "<", ">=": "<=", "<": ">", "<=": ">=", "=": "="}
# settings the score can carry (`.clj` key → score field); anything else would be lost, so it is refused.
# `:rebalance-threshold X` is written as Composer writes threshold rebalancing: rebalance "none" with a corridor.
_SETTINGS = {"rebalance-frequency": "rebalance", "rebalance-corridor-width": "rebalance-corridor-width"}
_DESCRIPTIVE = {"asset-class": "asset_class"}

Json = dict[str, Any]


def _params(ref: IndicatorRef) -> dict[str, int | float]:
    return {p.key: v for p, v in zip(ref.spec.params, ref.params, strict=True)}


def _weight(share: float) -> dict[str, int]:
    """`{num, den}` that divides back to exactly `share`: a short fraction when one does, else the exact one."""
    fraction = Fraction(share).limit_denominator(10**6)
    if fraction.numerator / fraction.denominator != share:
        fraction = Fraction(share)
    return {"num": fraction.numerator, "den": fraction.denominator}


def _condition(cond: Condition) -> Json:
    """The if-child fields of a comparison; a constant on the left is moved right (`1 < x` is `x > 1`)."""
    op, lhs, rhs = cond.op, cond.lhs, cond.rhs
    if isinstance(lhs, Const):
        op, lhs, rhs = _FLIPPED[op], rhs, lhs
    assert isinstance(lhs, IndicatorRef)  # the compiler refuses a comparison of two constants
    fields: Json = {"lhs-fn": lhs.indicator, "lhs-val": lhs.symbol, "comparator": _COMPARATORS[op]}
    if lhs.params:
        fields["lhs-fn-params"] = _params(lhs)
    if isinstance(rhs, Const):
        fields.update({"rhs-fixed-value?": True, "rhs-val": rhs.value})
    else:
        fields.update({"rhs-fixed-value?": False, "rhs-fn": rhs.indicator, "rhs-val": rhs.symbol})
        if rhs.params:
            fields["rhs-fn-params"] = _params(rhs)
    return fields


def program_to_score(program: Program) -> Json:
    """The score as a JSON-ready dict."""
    made: list[Json] = []
    for node in program.nodes:
        if isinstance(node, AssetNode):
            asset: Json = {"step": "asset", "ticker": node.symbol}
            if node.name:
                asset["name"] = node.name
            made.append(asset)
        elif isinstance(node, EmptyNode):
            made.append({"step": "empty"})
        elif isinstance(node, MixNode):
            kids = [made[c] for c in node.children]
            if node.kind == "group":
                made.append({"step": "group", "name": node.label or "", "children": kids})
            elif node.kind == "weight-specified":
                weighted = [{**kid, "weight": _weight(w)} for kid, w in zip(kids, node.weights, strict=True)]
                made.append({"step": "wt-cash-specified", "children": weighted})
            elif len(kids) == 1:
                made.append(kids[0])
            else:
                made.append({"step": "wt-cash-equal", "children": kids})
        elif isinstance(node, IfNode):
            then = {"step": "if-child", "is-else-condition?": False, **_condition(node.condition)}
            then["children"] = [made[node.then]]
            otherwise = {"step": "if-child", "is-else-condition?": True, "children": [made[node.otherwise]]}
            made.append({"step": "if", "children": [then, otherwise]})
        elif isinstance(node, FilterNode):
            filtered: Json = {"step": "filter", "sort-by-fn": node.metric.indicator}
            if node.metric.params:
                filtered["sort-by-fn-params"] = _params(node.metric)
            filtered.update({"select-fn": node.select, "select-n": node.count})
            filtered["children"] = [made[c] for c in node.children]
            made.append(filtered)
        else:
            assert isinstance(node, InverseVolNode)
            children = [made[c] for c in node.children]
            made.append({"step": "wt-inverse-vol", "window-days": node.window, "children": children})
    root: Json = {"step": "root", "name": program.name}
    for key, value in program.settings.items():
        if key in _SETTINGS:
            root[_SETTINGS[key]] = value
        elif key == "rebalance-threshold":
            # Composer's threshold rebalancing: no calendar, trade when a weight drifts past the corridor
            root.setdefault("rebalance", "none")
            root["rebalance-corridor-width"] = value
        elif key in _DESCRIPTIVE:
            root[_DESCRIPTIVE[key]] = value
        else:
            where = SourceLocation(program.filename, 1, 1)
            raise SymphonyErrors([SymphonyError(f"the JSON score has no place for the setting :{key}", where)])
    root["children"] = [made[program.root]]
    return root


def format_score(program: Program) -> str:
    """The score as JSON text (the tree is written out in full: shared subtrees appear once per use)."""
    return json.dumps(program_to_score(program), indent=2, ensure_ascii=False) + "\n"
