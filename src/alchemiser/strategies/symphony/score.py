"""Reads Composer's JSON score (the format its editor and API use) into the forms the `.clj` reader makes.

The score is a tree of nodes, each with a `step`: `root` → `wt-cash-equal` / `wt-cash-specified` /
`wt-inverse-vol` / `group` → `if` (a list of `if-child`: conditions in order, then the one
`is-else-condition?` child) / `filter` → `asset` / `empty`. Rather than a second compiler, each node becomes
the s-expression an export would hold (`wt-cash-equal` → `(weight-equal [...])`, an `if-child` chain →
nested `(if ...)`), so the compiler, evaluator and printer see exactly what they see for a `.clj` file, and
every error points at a JSON path (`children[0].children[1].lhs-fn`) instead of a line and column.

Each node is checked by a small pydantic model of its step: unknown fields are refused (they could change
what the symphony holds), so are bad values. Descriptive fields Composer attaches (ids, names, display
flags) are accepted and ignored. Nodes are visited with an explicit stack, never recursion.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from alchemiser.errors import JsonLocation, SourceLocation, SymphonyError, SymphonyErrors
from alchemiser.indicators import ALIASES, INDICATORS, canonical_name
from alchemiser.strategies.symphony.reader import Atom, Form, Node

COMPARATORS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "eq": "="}
# Descriptive fields Composer's editor and API attach to nodes (labels, display settings, bookkeeping): they
# never change what a symphony holds, so they are dropped before a node is checked; any other unknown field
# is refused.
DESCRIPTIVE = frozenset(
    {
        "color",
        "version-id",
        "created-at",
        "updated-at",
        "last-updated-at",
        "last-backtest-at",
        "symphony-id",
        "tags",
        "hashtag",
        "hashtags",
        "benchmarks",
        "share-with-everyone?",
        "copied-from",
        "suppress-description?",
        "window-days-label",
        "asset_classes",
        "asset-classes",
    }
)
REBALANCE = ("none", "daily", "weekly", "monthly", "quarterly", "yearly")
Number = int | float


class Weight(BaseModel):
    """A share as Composer writes it: `{"num": 60, "den": 100}` (numbers or numeric strings)."""

    model_config = ConfigDict(extra="forbid")
    num: float = Field(ge=0, allow_inf_nan=False)
    den: float = Field(gt=0, allow_inf_nan=False)


class _Step(BaseModel):
    """Fields any node may carry; none of them changes what the symphony holds."""

    model_config = ConfigDict(extra="forbid", populate_by_name=False)
    step: str
    id: str | int | None = None
    description: str | None = None
    collapsed: bool | None = Field(None, alias="collapsed?")
    collapsed_weight: bool | None = Field(None, alias="collapsed-specified-weight?")
    suppress_warnings: bool | None = Field(None, alias="suppress-incomplete-warnings?")
    children_count: int | None = Field(None, alias="children-count")
    weight: Weight | None = None  # read by a `wt-cash-specified` parent; carried (and ignored) elsewhere
    children: list[dict[str, Any]] = Field(default_factory=list)


class Root(_Step):
    name: str | None = None
    rebalance: Literal["none", "daily", "weekly", "monthly", "quarterly", "yearly"] | None = None
    corridor: float | None = Field(None, alias="rebalance-corridor-width", gt=0, allow_inf_nan=False)
    asset_class: str | None = None
    asset_class_dash: str | None = Field(None, alias="asset-class")


class Mix(_Step):
    """`wt-cash-equal`, `wt-cash-specified` and `group`."""

    name: str | None = None


class InverseVol(_Step):
    window_days: int = Field(alias="window-days")


class If(_Step):
    pass


class IfChild(_Step):
    is_else: bool = Field(False, alias="is-else-condition?")
    lhs_fn: str | None = Field(None, alias="lhs-fn")
    lhs_val: str | None = Field(None, alias="lhs-val")
    lhs_params: dict[str, float] | None = Field(None, alias="lhs-fn-params")
    lhs_window: int | None = Field(None, alias="lhs-window-days")
    comparator: Literal["gt", "gte", "lt", "lte", "eq"] | None = None
    rhs_val: str | Number | None = Field(None, alias="rhs-val")
    rhs_fixed: bool | None = Field(None, alias="rhs-fixed-value?")
    rhs_fn: str | None = Field(None, alias="rhs-fn")
    rhs_params: dict[str, float] | None = Field(None, alias="rhs-fn-params")
    rhs_window: int | None = Field(None, alias="rhs-window-days")


class Filter(_Step):
    sort_fn: str = Field(alias="sort-by-fn")
    sort_params: dict[str, float] | None = Field(None, alias="sort-by-fn-params")
    sort_window: int | None = Field(None, alias="sort-by-window-days")
    select_fn: Literal["top", "bottom"] = Field(alias="select-fn")
    select_n: int = Field(alias="select-n")


class Asset(_Step):
    ticker: str
    name: str | None = None
    exchange: str | None = None
    price: float | None = None
    dollar_volume: float | None = Field(None, alias="dollar-volume")
    has_marketcap: bool | None = Field(None, alias="has-marketcap")


class Empty(_Step):
    pass


STEPS: dict[str, type[_Step]] = {
    "root": Root,
    "wt-cash-equal": Mix,
    "wt-cash-specified": Mix,
    "group": Mix,
    "wt-inverse-vol": InverseVol,
    "if": If,
    "if-child": IfChild,
    "filter": Filter,
    "asset": Asset,
    "empty": Empty,
}


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


class _Paths:
    """The `Locator` of a score: token number → JSON path."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.paths: list[str] = []

    def at(self, token: int) -> SourceLocation:
        return JsonLocation(self.filename, self.paths[token])


@dataclass
class _Builder:
    """Makes reader nodes that remember the JSON path they came from."""

    paths: _Paths
    errors: list[SymphonyError] = field(default_factory=list)

    def _token(self, path: str) -> int:
        self.paths.paths.append(path)
        return len(self.paths.paths) - 1

    def atom(self, kind: str, value: object, path: str) -> Atom:
        return Atom(kind, value, self._token(path), self.paths)

    def form(self, bracket: str, path: str, items: list[Node] | None = None) -> Form:
        made = Form(bracket, self._token(path), self.paths)
        made.items = items if items is not None else []
        return made

    def call(self, head: str, path: str, *args: Node) -> Form:
        return self.form("(", path, [self.atom("symbol", head, path), *args])

    def error(self, message: str, path: str) -> None:
        self.errors.append(SymphonyError(message, self.paths.at(self._token(path))))

    def params(self, raw: dict[str, float] | None, window: int | None, path: str, window_path: str) -> Form | None:
        """`{"window": 10}` or the older `"window-days": "10"` as the map `{:window 10}`."""
        if raw:
            items: list[Node] = []
            for key, value in raw.items():
                items += [self.atom("keyword", key, _join(path, key)), self.atom("number", value, _join(path, key))]
            return self.form("{", path, items)
        if window is not None:
            return self.form(
                "{",
                window_path,
                [self.atom("keyword", "window", window_path), self.atom("number", window, window_path)],
            )
        return None

    def function(self, fn: str, ticker: str | None, params: Form | None, path: str) -> Form | None:
        if canonical_name(fn) is None:
            known = ", ".join([*INDICATORS, *ALIASES])
            self.error(f"unknown function {json.dumps(fn)}; known functions: {known}", path)
            return None
        args: list[Node] = []
        if ticker is not None:
            args.append(self.atom("string", ticker, path.rsplit("-fn", 1)[0] + "-val"))
        if params is not None:
            args.append(params)
        return self.call(fn, path, *args)

    def condition(self, child: IfChild, path: str) -> Form | None:
        if child.lhs_fn is None or child.lhs_val is None or child.comparator is None:
            missing = [
                k
                for k, v in (("lhs-fn", child.lhs_fn), ("lhs-val", child.lhs_val), ("comparator", child.comparator))
                if v is None
            ]
            self.error(f"a condition needs {', '.join(missing)}", path)
            return None
        lhs = self.function(
            child.lhs_fn,
            child.lhs_val,
            self.params(
                child.lhs_params, child.lhs_window, _join(path, "lhs-fn-params"), _join(path, "lhs-window-days")
            ),
            _join(path, "lhs-fn"),
        )
        rhs_path = _join(path, "rhs-val")
        fixed = child.rhs_fixed
        if fixed is None:  # older nodes leave the flag out: a number is a fixed value, a ticker is not
            fixed = isinstance(child.rhs_val, int | float) or _is_number(child.rhs_val)
        rhs: Node | None
        if child.rhs_val is None:
            self.error("a condition needs rhs-val", path)
            return None
        if fixed:
            if not _is_number(child.rhs_val):
                self.error(
                    f"rhs-val must be a number when rhs-fixed-value? is true, not {json.dumps(child.rhs_val)}", rhs_path
                )
                return None
            rhs = self.atom("number", float(child.rhs_val), rhs_path)
        elif child.rhs_fn is None:
            self.error("rhs-fn is needed when the right-hand side is another ticker (rhs-fixed-value? false)", path)
            return None
        else:
            rhs = self.function(
                child.rhs_fn,
                str(child.rhs_val),
                self.params(
                    child.rhs_params, child.rhs_window, _join(path, "rhs-fn-params"), _join(path, "rhs-window-days")
                ),
                _join(path, "rhs-fn"),
            )
        if lhs is None or rhs is None:
            return None
        return self.call(COMPARATORS[child.comparator], _join(path, "comparator"), lhs, rhs)


def _is_number(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    try:
        float(str(value))
    except ValueError:
        return False
    return True


def _validate(raw: object, path: str, builder: _Builder) -> _Step | None:
    if not isinstance(raw, dict):
        builder.error(f"expected a node (a JSON object), not {type(raw).__name__}", path)
        return None
    step = raw.get("step")
    model = STEPS.get(step) if isinstance(step, str) else None
    if model is None:
        known = ", ".join(STEPS)
        builder.error(f"unknown step {json.dumps(step)}; known steps: {known}", _join(path, "step"))
        return None
    try:
        return model.model_validate({k: v for k, v in raw.items() if k not in DESCRIPTIVE})
    except ValidationError as exc:
        for err in exc.errors():
            where = path
            for key in err["loc"]:
                where = _join(where, key)
            if err["type"] == "extra_forbidden":
                builder.error(f"unknown field for a {step} node (it could change what the symphony holds)", where)
            else:
                shown = "" if err["type"] == "missing" else f" (got {json.dumps(err.get('input'), default=str)[:60]})"
                builder.error(f"{err['msg']}{shown}", where)
        return None


def read_score(text: str, filename: str = "<input>") -> list[Node]:
    """The forms of a Composer JSON score; raises `SymphonyErrors` naming the JSON path of every problem."""
    paths = _Paths(filename)
    builder = _Builder(paths)
    try:
        data = json.loads(text.removeprefix("\ufeff"))
    except json.JSONDecodeError as exc:
        raise SymphonyErrors(
            [SymphonyError(f"not valid JSON: {exc}", SourceLocation(filename, exc.lineno, exc.colno))]
        ) from None
    except RecursionError:
        raise SymphonyErrors(
            [SymphonyError("the JSON is nested too deeply to read", SourceLocation(filename, 1, 1))]
        ) from None
    root = _validate(data, "", builder)
    if root is None:
        raise SymphonyErrors(builder.errors)
    if not isinstance(root, Root):
        builder.error(f"a score starts with a root node, not {root.step}", "step")
        raise SymphonyErrors(builder.errors)
    if len(root.children) != 1:
        builder.error(f"the root holds exactly one node (found {len(root.children)})", "children")
        raise SymphonyErrors(builder.errors)
    # the defsymphony settings a `.clj` export would hold, in the score's own field order
    found: dict[str, tuple[str, str, object]] = {}  # score field → (setting, atom kind, value)
    if root.rebalance is not None:
        found["rebalance"] = ("rebalance-frequency", "keyword", root.rebalance)
    if root.corridor is not None:
        found["rebalance-corridor-width"] = ("rebalance-corridor-width", "number", root.corridor)
    for field_name, label in (("asset_class", root.asset_class), ("asset-class", root.asset_class_dash)):
        if label is not None:
            found[field_name] = ("asset-class", "string", label)
    settings: list[Node] = []
    for field_name in sorted(found, key=list(data).index):
        setting, kind, value = found[field_name]
        settings += [builder.atom("keyword", setting, field_name), builder.atom(kind, value, field_name)]
    body: list[Node] = []
    # (raw node, its path, where its form goes): parents are made before their children fill them in
    stack: list[tuple[object, str, list[Node]]] = [(root.children[0], "children[0]", body)]
    while stack:
        raw, path, into = stack.pop()
        node = _validate(raw, path, builder)
        if node is None:
            continue
        made = _node(node, path, builder, stack)
        if made is not None:
            into.append(made)
    if builder.errors:
        raise SymphonyErrors(builder.errors)
    name = builder.atom("string", root.name or PurePath(filename).stem, "name")  # unnamed: the file's name
    return [builder.call("defsymphony", "", name, builder.form("{", "", settings), body[0])]


def _children(node: _Step, path: str, builder: _Builder, stack: list[tuple[object, str, list[Node]]]) -> Form:
    """A vector that the node's children fill in as the stack reaches them (pushed in reverse: file order)."""
    vector = builder.form("[", _join(path, "children"))
    for index in reversed(range(len(node.children))):
        stack.append((node.children[index], _join(_join(path, "children"), index), vector.items))
    return vector


def _node(node: _Step, path: str, builder: _Builder, stack: list[tuple[object, str, list[Node]]]) -> Form | None:
    if isinstance(node, Asset):
        name: Node = (
            builder.atom("string", node.name, _join(path, "name")) if node.name else builder.atom("nil", None, path)
        )
        return builder.call("asset", path, builder.atom("string", node.ticker, _join(path, "ticker")), name)
    if isinstance(node, Empty):
        if node.children:
            builder.error("an empty node holds no children", _join(path, "children"))
            return None
        return builder.call("empty", path)
    if isinstance(node, Root):
        builder.error("a root node can only be the top of the score", _join(path, "step"))
        return None
    if isinstance(node, IfChild):
        builder.error("an if-child belongs directly inside an if node", _join(path, "step"))
        return None
    if isinstance(node, If):
        return _if(node, path, builder, stack)
    if isinstance(node, Filter):
        metric = builder.function(
            node.sort_fn,
            None,
            builder.params(
                node.sort_params, node.sort_window, _join(path, "sort-by-fn-params"), _join(path, "sort-by-window-days")
            ),
            _join(path, "sort-by-fn"),
        )
        if metric is None:
            return None
        select = builder.call(
            f"select-{node.select_fn}",
            _join(path, "select-fn"),
            builder.atom("number", node.select_n, _join(path, "select-n")),
        )
        return builder.call("filter", path, metric, select, _children(node, path, builder, stack))
    if isinstance(node, InverseVol):
        window = builder.atom("number", node.window_days, _join(path, "window-days"))
        return builder.call("weight-inverse-volatility", path, window, _children(node, path, builder, stack))
    assert isinstance(node, Mix)
    if node.step == "group":
        label = builder.atom("string", node.name or "", _join(path, "name"))
        return builder.call("group", path, label, _children(node, path, builder, stack))
    if node.step == "wt-cash-specified":
        weights: list[Node] = []
        for index, child in enumerate(node.children):
            where = _join(_join(_join(path, "children"), index), "weight")
            raw = child.get("weight") if isinstance(child, dict) else None
            try:
                weight = Weight.model_validate(raw)
            except ValidationError:
                builder.error('each child of wt-cash-specified needs a weight such as {"num": 60, "den": 100}', where)
                return None
            weights.append(builder.atom("number", weight.num / weight.den, where))
        return builder.call(
            "weight-specified",
            path,
            builder.form("[", _join(path, "children"), weights),
            _children(node, path, builder, stack),
        )
    return builder.call("weight-equal", path, _children(node, path, builder, stack))


def _if(node: If, path: str, builder: _Builder, stack: list[tuple[object, str, list[Node]]]) -> Form | None:
    """`if` with if-children [c1, c2, …, else] → (if c1 [..] [(if c2 [..] [else ..])])."""
    kids: list[tuple[IfChild, str]] = []
    for index, raw in enumerate(node.children):
        where = _join(_join(path, "children"), index)
        child = _validate(raw, where, builder)
        if child is None:
            return None
        if not isinstance(child, IfChild):
            builder.error(f"an if node holds if-child nodes, not {child.step}", _join(where, "step"))
            return None
        kids.append((child, where))
    conditions = [(c, w) for c, w in kids if not c.is_else]
    otherwise = [(c, w) for c, w in kids if c.is_else]
    if len(otherwise) != 1 or not conditions:
        builder.error(
            f"an if node needs at least one condition and exactly one else (is-else-condition? true); "
            f"found {len(conditions)} and {len(otherwise)}",
            path,
        )
        return None
    else_child, else_path = otherwise[0]
    tail = _children(else_child, else_path, builder, stack)
    for index in reversed(range(len(conditions))):
        child, where = conditions[index]
        cond = builder.condition(child, where)
        if cond is None:
            return None
        made = builder.call("if", where if index else path, cond, _children(child, where, builder, stack), tail)
        tail = builder.form("[", where, [made])
    result = tail.items[0]
    assert isinstance(result, Form)
    return result
