"""Checks a symphony's s-expressions and compiles them into a `Program`.

Every problem found is collected with its file:line:col, so `alchemiser check` can list them all at once.
The walk uses an explicit stack: a file nested ten thousand levels deep compiles like a flat one.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Hashable
from pathlib import Path

from alchemiser.errors import SourceLocation, SymphonyError
from alchemiser.errors import SymphonyErrors as SymphonyErrors
from alchemiser.indicators import ALIASES, INDICATORS, IndicatorSpec, canonical_name
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
    ProgramNode,
)
from alchemiser.strategies.symphony.reader import Atom, Form, Node, head_symbol, read_forms
from alchemiser.strategies.symphony.settings import setting_problem

COMPARATORS = (">", "<", ">=", "<=", "=")
NODE_OPERATORS = (
    "asset",
    "group",
    "weight-equal",
    "weight-specified",
    "weight-inverse-volatility",
    "if",
    "filter",
    "empty",
)
_TICKER = re.compile(r"[A-Z0-9][A-Z0-9.\-/]{0,11}")
# newer exports qualify tickers: "EQUITIES::SPY//USD" is SPY
_QUALIFIED = re.compile(r"EQUITIES::([^:/]+)//USD")
MAX_WINDOW = 5000
_EXAMPLE_VALUES = {"window": 10, "short-window": 12, "long-window": 26, "smooth-window": 9, "num-std-dev": 2}


def params_example(spec: IndicatorSpec) -> str:
    """`{:window 10}` / `{:short-window 12 :long-window 26}`: what to write, for error messages."""
    return "{" + " ".join(f":{p.key} {_EXAMPLE_VALUES.get(p.key, 1)}" for p in spec.params) + "}"


class _Compiler:
    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.errors: list[SymphonyError] = []
        self.nodes: list[ProgramNode] = []
        self.interned: dict[Hashable, int] = {}
        self.symbols: dict[str, SourceLocation] = {}
        self._tickers: dict[str, str] = {}  # raw ticker text → validated symbol (exports repeat tickers a lot)
        self.compiled: dict[int, int] = {}  # shape of a subtree that compiled without errors → its node

    # -- reporting -------------------------------------------------------------------------------------
    def error(self, message: str, where: Node | SourceLocation) -> None:
        loc = where if isinstance(where, SourceLocation) else where.loc
        self.errors.append(SymphonyError(message, loc))

    def add(self, key: Hashable, make: Callable[[], ProgramNode]) -> int:
        """The node for `key`, made (and its location computed) only the first time it is seen."""
        index = self.interned.get(key)
        if index is None:
            index = len(self.nodes)
            self.nodes.append(make())
            self.interned[key] = index
        return index

    def ticker(self, atom: Node, what: str) -> str | None:
        if not (isinstance(atom, Atom) and atom.kind == "string"):
            self.error(f'{what} must be a ticker string such as "SPY", not {atom.describe()}', atom)
            return None
        raw = str(atom.value)
        symbol = self._tickers.get(raw)
        if symbol is None:
            symbol = raw.strip().upper()
            qualified = _QUALIFIED.fullmatch(symbol)
            if qualified:
                symbol = qualified.group(1)
            if not _TICKER.fullmatch(symbol):
                self.error(f"{what}: {raw!r} is not a valid ticker", atom)
                return None
            self._tickers[raw] = symbol
        if symbol not in self.symbols:
            self.symbols[symbol] = atom.loc
        return symbol

    # -- small argument readers ------------------------------------------------------------------------
    def positive_int(self, node: Node, what: str) -> int | None:
        if isinstance(node, Atom) and node.kind == "number":
            value = node.value
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if isinstance(value, int) and 0 < value <= MAX_WINDOW:
                return value
        self.error(f"{what} must be a whole number between 1 and {MAX_WINDOW}, not {node.describe()}", node)
        return None

    def window_arg(self, node: Node, op: str) -> int | None:
        """`{:window 10}` (the export form) or a bare number."""
        if isinstance(node, Form) and node.bracket == "{":
            items = node.items
            for i in range(0, len(items) - 1, 2):
                key = items[i]
                if isinstance(key, Atom) and key.kind == "keyword" and key.value == "window":
                    return self.positive_int(items[i + 1], f"`{op}` window")
            self.error(f"`{op}` needs a window, e.g. {{:window 10}}", node)
            return None
        return self.positive_int(node, f"`{op}` window")

    def number_param(self, node: Node, what: str) -> float | None:
        if isinstance(node, Atom) and node.kind == "number":
            value = float(node.value)  # type: ignore[arg-type]
            if 0 < value < math.inf:
                return value
        self.error(f"{what} must be a positive number, not {node.describe()}", node)
        return None

    def params_arg(self, node: Node, op: str, spec: IndicatorSpec) -> tuple[int | float, ...] | None:
        """The indicator's parameters from its map (`{:short-window 12 :long-window 26}`), in spec order.

        A bare number is the window of a one-window indicator (`(rsi "SPY" 10)`). Unknown, repeated or missing
        keys are errors: an export that says something we do not understand is never half-read.
        """
        example = params_example(spec)
        given: dict[str, Node] = {}
        if isinstance(node, Form) and node.bracket == "{":
            for key, given_value in zip(node.items[0::2], node.items[1::2], strict=True):
                name = str(key.value) if isinstance(key, Atom) and key.kind == "keyword" else None
                param = next((p for p in spec.params if name in (p.key, *p.aliases)), None)
                if param is None:
                    shown = f":{name}" if name is not None else key.describe()
                    if len(spec.params) == 1:
                        self.error(f"`{op}` needs a window, e.g. {example}, not {shown}", node)
                    else:
                        self.error(f"`{op}` has no parameter {shown}; it takes {example}", node)
                    return None
                if param.key in given:
                    self.error(f"`{op}` is given :{param.key} twice", key)
                    return None
                given[param.key] = given_value
        elif spec.params[0].key == "window" and all(p.default is not None for p in spec.params[1:]):
            given["window"] = node
        else:
            self.error(f"`{op}` takes a parameter map such as {example}, not {node.describe()}", node)
            return None
        values: list[int | float] = []
        for param in spec.params:
            raw = given.get(param.key)
            value: int | float | None
            if raw is None:
                if param.default is None:
                    self.error(f"`{op}` needs :{param.key}, e.g. {example}", node)
                    return None
                value = param.default
            elif param.integer:
                value = self.positive_int(raw, f"`{op}` {param.key}")
            else:
                value = self.number_param(raw, f"`{op}` {param.key}")
            if value is None:
                return None
            values.append(value)
        keys = [p.key for p in spec.params]
        if "short-window" in keys and values[keys.index("short-window")] >= values[keys.index("long-window")]:
            self.error(f"`{op}` needs :short-window below :long-window (got {values[0]:g} and {values[1]:g})", node)
            return None
        return tuple(values)

    def indicator(self, form: Node, in_filter: bool) -> IndicatorRef | None:
        raw_op = head_symbol(form)
        op = canonical_name(raw_op) if raw_op is not None else None
        if op is None:
            known = ", ".join([*INDICATORS, *ALIASES])
            what = f"`{raw_op}`" if raw_op else form.describe()
            self.error(f"unknown indicator {what}; known indicators: {known}", form)
            return None
        assert isinstance(form, Form)
        spec = INDICATORS[op]
        args = form.items[1:]
        symbol: str | None = None
        if not in_filter:
            if not args:
                example = f" {params_example(spec)}" if spec.params else ""
                self.error(f'`{raw_op}` needs a ticker, e.g. ({raw_op} "SPY"{example})', form)
                return None
            symbol = self.ticker(args[0], f"`{raw_op}` ticker")
            if symbol is None:
                return None
            args = args[1:]
        params: tuple[int | float, ...] = ()
        if spec.params:
            if len(args) != 1:
                what = "window" if len(spec.params) == 1 else "parameter map"
                self.error(
                    f"`{raw_op}` needs exactly one {what}, e.g. {params_example(spec)} (got {len(args)} arguments)",
                    form,
                )
                return None
            found = self.params_arg(args[0], str(raw_op), spec)
            if found is None:
                return None
            params = found
        elif len(args) > 1 or (args and not (isinstance(args[0], Form) and args[0].bracket == "{")):
            self.error(f"`{raw_op}` takes no window", form)
            return None
        return IndicatorRef(op, symbol, params, form.loc)

    def operand(self, node: Node) -> Operand | None:
        if isinstance(node, Atom) and node.kind == "number":
            value = float(node.value)  # type: ignore[arg-type]
            if not math.isfinite(value):
                self.error(f"{node.describe()} is too large to compare with", node)
                return None
            return Const(value, node.loc)
        return self.indicator(node, in_filter=False)

    def condition(self, node: Node) -> Condition | None:
        op = head_symbol(node)
        if op not in COMPARATORS:
            self.error(f"an `if` condition must be a comparison ({' '.join(COMPARATORS)}), not {node.describe()}", node)
            return None
        assert isinstance(node, Form)
        if len(node.items) != 3:
            self.error(f"`{op}` compares exactly two values (got {len(node.items) - 1})", node)
            return None
        lhs, rhs = self.operand(node.items[1]), self.operand(node.items[2])
        if lhs is None or rhs is None:
            return None
        if isinstance(lhs, Const) and isinstance(rhs, Const):
            self.error("a comparison of two constants is always the same; compare an indicator", node)
            return None
        return Condition(op, lhs, rhs, node.loc)

    def vector(self, node: Node, op: str, what: str) -> list[Node] | None:
        if not (isinstance(node, Form) and node.bracket == "["):
            self.error(f"`{op}` expects {what} in a vector [...], not {node.describe()}", node)
            return None
        if not node.items:
            self.error(f"`{op}` has an empty {what} vector", node)
            return None
        return node.items

    # -- structure -------------------------------------------------------------------------------------
    def expand(self, form: Node) -> list[Node] | None:
        """Validate `form`'s shape and return the forms of its child nodes (None when malformed)."""
        op = head_symbol(form)
        if op is None:
            self.error(f"expected a node such as (asset ...) or (weight-equal [...]), found {form.describe()}", form)
            return None
        assert isinstance(form, Form)
        args = form.items[1:]
        if op == "asset":
            if not 1 <= len(args) <= 2:
                self.error(f"`asset` takes a ticker and an optional name (got {len(args)} arguments)", form)
            return []
        if op == "empty":
            if args:
                self.error(f"`empty` takes no arguments (got {len(args)})", form)
                return None
            return []
        if op in ("weight-equal",):
            if len(args) != 1:
                self.error(f"`{op}` takes one vector of children (got {len(args)} arguments)", form)
                return None
            return self.vector(args[0], op, "children")
        if op == "group":
            if len(args) != 2 or not (isinstance(args[0], Atom) and args[0].kind == "string"):
                self.error("`group` takes a name string and a vector of children", form)
                return None
            return self.vector(args[1], op, "children")
        if op == "weight-specified":
            if len(args) == 2 and isinstance(args[1], Form) and args[1].bracket == "[":
                return self.vector(args[1], op, "children")
            if not args or len(args) % 2:
                self.error(
                    "`weight-specified` takes weight/child pairs: (weight-specified 0.6 (asset ...) 0.4 (asset ...))",
                    form,
                )
                return None
            return args[1::2]
        if op == "weight-inverse-volatility":
            if len(args) != 2:
                self.error("`weight-inverse-volatility` takes a window and a vector of children", form)
                return None
            return self.vector(args[1], op, "children")
        if op == "if":
            if len(args) != 3:
                missing = " (an `if` needs a condition, a then-branch and an else-branch)"
                self.error(f"`if` takes 3 arguments, got {len(args)}{missing}", form)
                return None
            then = self.vector(args[1], "if", "then-branch")
            otherwise = self.vector(args[2], "if", "else-branch")
            if then is None or otherwise is None:
                return None
            return [*then, *otherwise]
        if op == "filter":
            if len(args) != 3:
                self.error("`filter` takes a metric, a selector and a vector of children", form)
                return None
            return self.vector(args[2], op, "children")
        if canonical_name(op) is not None or op in COMPARATORS:
            self.error(f"`{op}` is not a node here; it belongs in an `if` condition or a `filter` metric", form)
            return None
        if op in ("select-top", "select-bottom"):
            self.error(f"`{op}` belongs in a `filter`", form)
            return None
        self.error(f"unknown operator `{op}`", form)
        return None

    def mix(self, kind: str, kids: list[int], weights: list[float], label: str | None, form: Node) -> int:
        total = sum(weights)
        if not math.isfinite(total):  # weights near the float limit: scale first so the sum cannot overflow
            top = max(weights)
            weights = [w / top for w in weights]
            total = sum(weights)
        norm = tuple(w / total for w in weights)
        key = ("mix", kind if kind != "group" else "group:" + (label or ""), tuple(kids), norm)
        return self.add(key, lambda: MixNode(kind, tuple(kids), norm, label, form.loc))

    def build(self, form: Form, kids: list[int]) -> int | None:
        """Make the node for a form whose children compiled to `kids`."""
        op = head_symbol(form)
        args = form.items[1:]
        if op == "asset":
            symbol = self.ticker(args[0], "`asset`") if args else None
            if symbol is None:
                return None
            name = args[1].value if len(args) > 1 and isinstance(args[1], Atom) else None
            return self.add(
                ("asset", symbol), lambda: AssetNode(symbol, str(name) if name is not None else None, form.loc)
            )
        if op == "empty":
            return self.add(("empty",), lambda: EmptyNode(form.loc))
        if op == "weight-equal":
            return self.mix("weight-equal", kids, [1.0] * len(kids), None, form)
        if op == "group":
            label = str(args[0].value) if isinstance(args[0], Atom) else None
            return self.mix("group", kids, [1.0] * len(kids), label, form)
        if op == "weight-specified":
            raw = args[0].items if isinstance(args[0], Form) and args[0].bracket == "[" else args[0::2]
            weights: list[float] = []
            for w in raw:
                value = float(w.value) if isinstance(w, Atom) and w.kind == "number" else -1.0  # type: ignore[arg-type]
                if not 0 <= value < math.inf:
                    self.error(f"`weight-specified` weight must be a finite non-negative number, not {w.describe()}", w)
                    return None
                weights.append(value)
            if len(weights) != len(kids):
                self.error(f"`weight-specified` has {len(weights)} weights for {len(kids)} children", form)
                return None
            if sum(weights) <= 0:
                self.error("`weight-specified` weights add up to zero", form)
                return None
            return self.mix("weight-specified", kids, weights, None, form)
        if op == "weight-inverse-volatility":
            window = self.window_arg(args[0], op)
            if window is None:
                return None
            return self.add(("ivol", window, tuple(kids)), lambda: InverseVolNode(window, tuple(kids), form.loc))
        if op == "if":
            cond = self.condition(args[0])
            if cond is None:
                return None
            n_then = len(args[1].items) if isinstance(args[1], Form) else 0
            then = self.branch(kids[:n_then], args[1])
            otherwise = self.branch(kids[n_then:], args[2])
            return self.add(("if", cond_key(cond), then, otherwise), lambda: IfNode(cond, then, otherwise, form.loc))
        if op == "filter":
            metric = self.indicator(args[0], in_filter=True)
            selector = self.selector(args[1])
            if metric is None or selector is None:
                return None
            select, count = selector
            key = ("filter", metric.indicator, metric.params, select, count, tuple(kids))
            return self.add(key, lambda: FilterNode(metric, select, count, tuple(kids), form.loc))
        raise AssertionError(op)  # pragma: no cover - expand() rejected anything else

    def branch(self, kids: list[int], vector: Node) -> int:
        if len(kids) == 1:
            return kids[0]
        return self.mix("branch", kids, [1.0] * len(kids), None, vector)

    def selector(self, node: Node) -> tuple[str, int] | None:
        op = head_symbol(node)
        if op not in ("select-top", "select-bottom"):
            self.error(f"`filter` needs (select-top N) or (select-bottom N), not {node.describe()}", node)
            return None
        assert isinstance(node, Form)
        if len(node.items) != 2:
            self.error(f"`{op}` takes one count", node)
            return None
        count = self.positive_int(node.items[1], f"`{op}` count")
        return None if count is None else (op.removeprefix("select-"), count)

    def compile_tree(self, top: Node) -> int | None:
        """Post-order walk with an explicit stack; returns the root node index.

        A subtree whose shape (see `reader`) already compiled without a single error is not walked again: the
        same tokens compile to the same node, and every ticker in it has already been seen, so the result is
        exactly what walking it would give. A subtree that had errors is walked at every place it occurs, so
        each copy reports its own location.
        """
        done: dict[int, int | None] = {}
        compiled = self.compiled
        errors = self.errors
        stack: list[tuple[Node, list[Node] | None, int]] = [(top, None, 0)]
        while stack:
            form, children, errors_before = stack.pop()
            if children is None:
                shape = form.shape if isinstance(form, Form) else None
                if shape is not None and shape in compiled:
                    done[id(form)] = compiled[shape]
                    continue
                errors_before = len(errors)
                kids = self.expand(form)
                if kids is None:
                    done[id(form)] = None
                    continue
                stack.append((form, kids, errors_before))
                stack.extend((child, None, 0) for child in reversed(kids))
                continue
            results = [done.pop(id(child)) for child in children]
            if any(r is None for r in results):
                done[id(form)] = None
                continue
            assert isinstance(form, Form)
            index = done[id(form)] = self.build(form, [r for r in results if r is not None])
            if index is not None and form.shape is not None and len(errors) == errors_before:
                compiled[form.shape] = index
        return done[id(top)]


def cond_key(cond: Condition) -> Hashable:
    def operand_key(o: Operand) -> Hashable:
        return ("c", o.value) if isinstance(o, Const) else ("i", o.indicator, o.symbol, o.params)

    return (cond.op, operand_key(cond.lhs), operand_key(cond.rhs))


def _settings(form: Node, compiler: _Compiler) -> dict[str, object]:
    if not (isinstance(form, Form) and form.bracket == "{"):
        compiler.error("symphony settings must be a map such as {:rebalance-frequency :daily}", form)
        return {}
    settings: dict[str, object] = {}
    for key, value in zip(form.items[0::2], form.items[1::2], strict=True):
        name = str(key.value) if isinstance(key, Atom) else key.describe()
        settings[name] = value.value if isinstance(value, Atom) else value.describe()
        problem = setting_problem(name, value.value if isinstance(value, Atom) else value.describe())
        if problem:  # a rebalance setting the engine could not honour must not pass `check`
            compiler.error(problem, value)
    return settings


def compile_text(text: str, filename: str = "<input>") -> Program:
    """Parse and compile symphony text; raises `SymphonyErrors` listing every problem found."""
    try:
        forms = read_forms(text, filename)
    except SymphonyError as exc:
        raise SymphonyErrors([exc]) from None
    return compile_forms(forms, filename)


def compile_forms(forms: list[Node], filename: str, compiler: _Compiler | None = None) -> Program:
    """Compile read forms, from a `.clj` file or from a JSON score (which reads into the same forms).

    `compiler` may carry what an earlier compile of the same file learnt (`symphony.variant` compiles
    parameter variants that way, walking only the subtrees whose numbers changed).
    """
    compiler = compiler if compiler is not None else _Compiler(filename)
    name = Path(filename).stem
    settings: dict[str, object] = {}
    body: Node | None = None
    if not forms:
        raise SymphonyErrors([SymphonyError("the file holds no symphony", SourceLocation(filename, 1, 1))])
    first = forms[0]
    if len(forms) > 1:
        compiler.error("a symphony file holds one top-level form; found more after this one", forms[1])
    if head_symbol(first) == "defsymphony":
        assert isinstance(first, Form)
        args = first.items[1:]
        if len(args) != 3 or not (isinstance(args[0], Atom) and args[0].kind == "string"):
            compiler.error("`defsymphony` takes a name string, a settings map and one body node", first)
        else:
            name = str(args[0].value)
            settings = _settings(args[1], compiler)
            body = args[2]
    else:
        body = first
    root = compiler.compile_tree(body) if body is not None else None
    if compiler.errors or root is None:
        if not compiler.errors:  # pragma: no cover - a failed node always reports why
            compiler.error("the symphony did not compile", first)
        compiler.errors.sort(key=lambda e: (e.location.line, e.location.col) if e.location else (0, 0))
        raise SymphonyErrors(compiler.errors)
    return Program(name, filename, compiler.nodes, root, settings, compiler.symbols)


def compile_file(path: Path) -> Program:
    """A `.clj` export, or a Composer JSON score when the file name ends in `.json`."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SymphonyErrors([SymphonyError(f"cannot read file: {exc}", SourceLocation(str(path), 1, 1))]) from None
    if path.suffix.lower() == ".json":
        from alchemiser.strategies.symphony.score import read_score  # pydantic models: only for JSON scores

        return compile_forms(read_score(text, str(path)), str(path))
    return compile_text(text, str(path))
