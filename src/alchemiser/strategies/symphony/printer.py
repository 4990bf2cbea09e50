"""Writes a compiled `Program` back as tidy symphony text (`alchemiser fmt`).

The output expresses the same decision tree with the export's noise removed: single-child `weight-equal`
wrappers disappear and names are kept. It is built bottom-up over the post-order node list, so it needs no
recursion either.
"""

from __future__ import annotations

import json
import textwrap

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
    Operand,
    Program,
)

_INDENT = "  "


def _q(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _indicator(ref: IndicatorRef) -> str:
    parts = [ref.indicator]
    if ref.symbol is not None:
        parts.append(_q(ref.symbol))
    if ref.params:
        pairs = (f":{p.key} {_num(v)}" for p, v in zip(ref.spec.params, ref.params, strict=True))
        parts.append("{" + " ".join(pairs) + "}")
    return "(" + " ".join(parts) + ")"


def _operand(operand: Operand) -> str:
    return _num(operand.value) if isinstance(operand, Const) else _indicator(operand)


def _condition(cond: Condition) -> str:
    return f"({cond.op} {_operand(cond.lhs)} {_operand(cond.rhs)})"


def _block(head: str, children: list[str]) -> str:
    body = "\n".join(textwrap.indent(c, _INDENT * 2) for c in children)
    return f"({head}\n{_INDENT}[\n{body}])".replace(f"\n{_INDENT}[\n{_INDENT * 2}", f"\n{_INDENT}[")


KEYWORD_SETTINGS = ("rebalance-frequency",)


def _setting(key: str, value: str | float) -> str:
    if isinstance(value, str):
        return f":{key} :{value}" if key in KEYWORD_SETTINGS else f":{key} {_q(value)}"
    return f":{key} {_num(value)}"


def format_program(program: Program) -> str:
    texts: list[str] = []
    for node in program.nodes:
        if isinstance(node, AssetNode):
            name = _q(node.name) if node.name else "nil"
            texts.append(f"(asset {_q(node.symbol)} {name})")
        elif isinstance(node, EmptyNode):
            texts.append("(empty)")
        elif isinstance(node, MixNode):
            kids = [texts[c] for c in node.children]
            if node.kind == "group":
                texts.append(_block(f"group {_q(node.label or '')}", kids))
            elif node.kind == "weight-specified":
                pairs = "\n".join(
                    textwrap.indent(f"{_num(round(w, 10))}\n{t}", _INDENT)
                    for w, t in zip(node.weights, kids, strict=True)
                )
                texts.append(f"(weight-specified\n{pairs})")
            elif len(kids) == 1:
                texts.append(kids[0])
            else:
                texts.append(_block("weight-equal", kids))
        elif isinstance(node, IfNode):
            then = textwrap.indent(f"[{texts[node.then]}]", _INDENT)
            other = textwrap.indent(f"[{texts[node.otherwise]}]", _INDENT)
            texts.append(f"(if {_condition(node.condition)}\n{then}\n{other})")
        elif isinstance(node, FilterNode):
            metric = _indicator(node.metric)
            head = f"filter {metric} (select-{node.select} {node.count})"
            texts.append(_block(head, [texts[c] for c in node.children]))
        elif isinstance(node, InverseVolNode):
            texts.append(_block(f"weight-inverse-volatility {node.window}", [texts[c] for c in node.children]))
    settings = " ".join(_setting(k, v) for k, v in program.settings.items() if isinstance(v, str | int | float))
    body = textwrap.indent(texts[program.root], _INDENT)
    return f"(defsymphony\n{_INDENT}{_q(program.name)}\n{_INDENT}{{{settings}}}\n{body})\n"
