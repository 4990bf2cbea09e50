"""Finds the numbers a user would sweep in a compiled symphony's forms, and names each one readably.

The walk runs over the reader's forms (the same for a `.clj` export and a JSON score), only after the file
compiled, so every form has the shape the compiler accepted. It records, for each literal, what it means
(`kind`), where it sits in the tree (`tree_path`: item indices from the top-level form, which is how
`symphony.variant` replaces it without re-reading text) and a short piece of the surrounding form as
context. Names are built from meaning, never from values or positions (see `symphony.params` for the
scheme), so editing one number never renames another; explicit stacks keep deep files recursion-free.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from alchemiser.indicators import INDICATORS, canonical_name
from alchemiser.strategies.symphony.reader import Atom, Form, Node, head_symbol
from alchemiser.strategies.symphony.settings import CORRIDOR_KEYS

KINDS = ("threshold", "window", "count", "weight", "factor", "corridor")
"""Every kind of parameter: comparison thresholds; indicator and inverse-volatility windows (whole days);
`select-top`/`select-bottom` counts; `weight-specified` weights; non-integer indicator factors
(Bollinger's `:num-std-dev`); the rebalance corridor setting."""

_OP_WORDS = {">": "gt", ">=": "gte", "<": "lt", "<=": "lte", "=": "eq"}
_FLIPPED = {">": "<", ">=": "<=", "<": ">", "<=": ">=", "=": "="}
_QUALIFIED = re.compile(r"EQUITIES::([^:/]+)//USD")
_NOT_WORD = re.compile(r"[^a-z0-9]+")
CONTEXT_WIDTH = 72


@dataclass(frozen=True)
class Site:
    """One sweepable literal as found in the forms, before it is named."""

    kind: str
    base: str  # the name before a collision suffix
    atom: Atom
    tree_path: tuple[int, ...]
    context: str
    integer: bool


def slug(text: str, limit: int = 24) -> str:
    """`"UVXY+75%BIL"` → `uvxy_75_bil`: lower-case words joined by `_`, cut at a word boundary."""
    words = [w for w in _NOT_WORD.split(text.lower()) if w]
    out = ""
    for word in words:
        candidate = f"{out}_{word}" if out else word
        if len(candidate) > limit and out:
            break
        out = candidate[:limit]
    return out or "x"


def _ticker(node: Node) -> str:
    raw = str(node.value).strip().upper() if isinstance(node, Atom) else "x"
    qualified = _QUALIFIED.fullmatch(raw)
    return slug(qualified.group(1) if qualified else raw)


def _number(node: Node) -> bool:
    return isinstance(node, Atom) and node.kind == "number"


def _num_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)


def show(node: Node, width: int = CONTEXT_WIDTH) -> str:
    """A node as one compact line of symphony text: child vectors as `[…]`, asset names left out."""
    parts: list[str] = []
    size = 0
    # a node to print, or literal text (a space, a closing bracket); an explicit stack, like every walk here
    stack: list[Node | str] = [node]
    while stack and size <= width:
        item = stack.pop()
        if parts:
            size += len(parts[-1])
        if isinstance(item, str):
            parts.append(item)
            continue
        if isinstance(item, Atom):
            if item.kind == "string":
                parts.append(json.dumps(str(item.value), ensure_ascii=False))
            elif item.kind == "keyword":
                parts.append(f":{item.value}")
            elif item.kind == "nil":
                parts.append("nil")
            elif item.kind == "bool":
                parts.append("true" if item.value else "false")
            else:
                parts.append(_num_text(item.value))
            continue
        if item.bracket == "[" and item is not node and any(isinstance(i, Form) for i in item.items):
            parts.append("[…]")
            continue
        close = {"(": ")", "[": "]", "{": "}"}[item.bracket]
        items = item.items[:2] if head_symbol(item) == "asset" else item.items
        parts.append(item.bracket)
        stack.append(close)
        for index in reversed(range(len(items))):
            stack.append(items[index])
            if index:
                stack.append(" ")
    text = "".join(parts)
    return text if len(text) <= width and not stack else text[: width - 1].rstrip() + "…"


class _Walker:
    def __init__(self) -> None:
        self.sites: list[Site] = []

    def add(self, kind: str, base: str, node: Node, path: tuple[int, ...], context: str, integer: bool) -> None:
        assert isinstance(node, Atom)
        self.sites.append(Site(kind, base, node, path, context, integer))

    def indicator(self, form: Node, path: tuple[int, ...], prefix: str, context: str, in_filter: bool = False) -> None:
        """The parameters of `(rsi "SPY" {:window 10})` (or, in a filter, `(rsi {:window 10})`)."""
        if not isinstance(form, Form):
            return
        op = canonical_name(head_symbol(form) or "")
        if op is None:
            return
        spec = INDICATORS[op]
        first = 1 if in_filter else 2  # a filter's metric has no ticker
        if len(form.items) <= first or not spec.params:
            return
        arg, arg_path = form.items[first], (*path, first)
        if _number(arg):  # a bare window: (rsi "SPY" 10)
            self.add("window", f"{prefix}_window", arg, arg_path, context, True)
            return
        if not isinstance(arg, Form):
            return
        for index in range(0, len(arg.items) - 1, 2):
            key, value = arg.items[index], arg.items[index + 1]
            param = next((p for p in spec.params if isinstance(key, Atom) and key.value in (p.key, *p.aliases)), None)
            if param is None or not _number(value):
                continue
            kind = "window" if param.integer else "factor"
            self.add(kind, f"{prefix}_{slug(param.key)}", value, (*arg_path, index + 1), context, param.integer)

    def label(self, form: Node) -> str:
        """Short readable label of an indicator call: `rsi_spy`, or `rsi` in a filter."""
        assert isinstance(form, Form)
        op = canonical_name(head_symbol(form) or "")
        short = slug(INDICATORS[op].label) if op else "x"
        if len(form.items) > 1 and isinstance(form.items[1], Atom) and form.items[1].kind == "string":
            return f"{short}_{_ticker(form.items[1])}"
        return short

    def condition(self, form: Node, path: tuple[int, ...]) -> None:
        if not isinstance(form, Form) or len(form.items) != 3:
            return
        op = str(form.items[0].value) if isinstance(form.items[0], Atom) else ""
        context = show(form)
        for side in (1, 2):
            node, other = form.items[side], form.items[3 - side]
            if _number(node) and isinstance(other, Form):
                word = _OP_WORDS.get(op if side == 2 else _FLIPPED.get(op, op), "cmp")
                self.add("threshold", f"{self.label(other)}_{word}", node, (*path, side), context, False)
            elif isinstance(node, Form):
                self.indicator(node, (*path, side), self.label(node), context)

    def child_label(self, node: Node) -> str:
        op = head_symbol(node)
        assert isinstance(node, Form)
        if op == "asset" and len(node.items) > 1:
            return _ticker(node.items[1])
        if op == "group" and len(node.items) > 1 and isinstance(node.items[1], Atom):
            return slug(str(node.items[1].value))
        return slug(op or "x")

    def node(self, form: Node, path: tuple[int, ...], stack: list[tuple[Node, tuple[int, ...]]]) -> None:
        """Record the literals of one node form and push its child nodes."""
        op = head_symbol(form)
        if op is None or not isinstance(form, Form):
            return
        items = form.items
        children: list[tuple[Node, tuple[int, ...]]] = []

        def vector(index: int) -> None:
            if index < len(items) and isinstance(items[index], Form):
                vec = items[index]
                assert isinstance(vec, Form)
                children.extend((kid, (*path, index, k)) for k, kid in enumerate(vec.items))

        if op == "if" and len(items) == 4:
            self.condition(items[1], (*path, 1))
            vector(2)
            vector(3)
        elif op == "filter" and len(items) == 4:
            metric = items[1]
            prefix = f"filter_{self.label(metric)}"
            context = show(form)
            self.indicator(metric, (*path, 1), prefix, context, in_filter=True)
            selector = items[2]
            if isinstance(selector, Form) and len(selector.items) == 2 and _number(selector.items[1]):
                which = str(head_symbol(selector)).removeprefix("select-")
                self.add("count", f"{prefix}_{which}", selector.items[1], (*path, 2, 1), context, True)
            vector(3)
        elif op == "weight-specified":
            context = show(form)
            vectors = len(items) == 3 and all(isinstance(i, Form) and i.bracket == "[" for i in items[1:])
            if vectors and isinstance(items[1], Form) and isinstance(items[2], Form):
                weights = [(w, (*path, 1, k)) for k, w in enumerate(items[1].items)]
                kids = items[2].items
                vector(2)
            else:
                weights = [(items[k], (*path, k)) for k in range(1, len(items), 2)]
                kids = items[2::2]
                children.extend((items[k], (*path, k)) for k in range(2, len(items), 2))
            for (weight, where), kid in zip(weights, kids, strict=False):
                if _number(weight):
                    self.add("weight", f"weight_{self.child_label(kid)}", weight, where, context, False)
        elif op == "weight-inverse-volatility" and len(items) == 3:
            context = show(form)
            window = items[1]
            if _number(window):
                self.add("window", "ivol_window", window, (*path, 1), context, True)
            elif isinstance(window, Form):
                for index in range(0, len(window.items) - 1, 2):
                    if _number(window.items[index + 1]):
                        self.add("window", "ivol_window", window.items[index + 1], (*path, 1, index + 1), context, True)
            vector(2)
        elif op == "group":
            vector(2)
        elif op == "weight-equal":
            vector(1)
        stack.extend(reversed(children))

    def settings(self, form: Node, path: tuple[int, ...]) -> None:
        if not isinstance(form, Form) or form.bracket != "{":
            return
        for index in range(0, len(form.items) - 1, 2):
            key, value = form.items[index], form.items[index + 1]
            if isinstance(key, Atom) and key.value in CORRIDOR_KEYS and _number(value):
                context = f"{{:{key.value} {_num_text(value.value) if isinstance(value, Atom) else ''}}}"
                # one name for both spellings: the JSON score writes `:rebalance-threshold` as the corridor width
                self.add("corridor", "rebalance_corridor", value, (*path, index + 1), context, False)


def find_sites(forms: list[Node]) -> list[Site]:
    """Every sweepable literal of a compiled file's top-level forms, in walk order (parents first)."""
    walker = _Walker()
    if not forms:
        return []
    top = forms[0]
    body: tuple[Node, tuple[int, ...]] = (top, (0,))
    if head_symbol(top) == "defsymphony" and isinstance(top, Form) and len(top.items) == 4:
        walker.settings(top.items[2], (0, 2))
        body = (top.items[3], (0, 3))
    stack = [body]
    while stack:
        form, path = stack.pop()
        walker.node(form, path, stack)
    return walker.sites


def assign_names(bases: list[str]) -> list[str]:
    """Each base name as is when it is unique, else `base`, `base_2`, `base_3`… in file order."""
    taken = set(bases)
    seen: dict[str, int] = {}
    names: list[str] = []
    for base in bases:
        count = seen.get(base, 0) + 1
        seen[base] = count
        name = base if count == 1 else f"{base}_{count}"
        while count > 1 and name in taken:  # `weight_x_2` might be a base of its own: skip past it
            count += 1
            seen[base] = count
            name = f"{base}_{count}"
        taken.add(name)
        names.append(name)
    return names
