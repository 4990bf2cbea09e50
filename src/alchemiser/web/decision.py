"""A strategy's decision on one day, as a tree: the whole symphony, the path taken, and the values seen.

The compiled `Program` gives the full tree (every branch, taken or not) with source locations; the
evaluator's trace gives the path taken with each comparison's values, filter scores and shares, keyed
by the same locations. Joining the two here lets the page draw untaken branches collapsed and the taken
path highlighted, without a second evaluator that could disagree with the one that traded.

The program is a DAG (identical subtrees are shared); it is unfolded into a tree with an explicit stack
(no recursion, so any depth works) and capped at `MAX_NODES` so a pathological export cannot exhaust
memory; the page renders children lazily, so thousands of nodes stay interactive.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from alchemiser import market_calendar
from alchemiser.data.coverage import describe_gaps
from alchemiser.errors import AlchemiserError
from alchemiser.signals import resolve_as_of
from alchemiser.strategies.symphony.program import (
    AssetNode,
    EmptyNode,
    FilterNode,
    IfNode,
    InverseVolNode,
    MixNode,
    Operand,
    Program,
    ProgramNode,
)
from alchemiser.strategies.symphony_strategy import SymphonyStrategy
from alchemiser.web import cache
from alchemiser.web.context import WebContext
from alchemiser.web.queries import QueryError
from alchemiser.web.readonly import open_readonly

MAX_NODES = 50_000


def _operand(op: Operand) -> str:
    return op.label()


def _label(node: ProgramNode) -> tuple[str, str]:
    """(kind, label) of one node, in the vocabulary of the symphony file."""
    if isinstance(node, AssetNode):
        return "asset", node.symbol + (f" ({node.name})" if node.name else "")
    if isinstance(node, IfNode):
        c = node.condition
        return "if", f"if {_operand(c.lhs)} {c.op} {_operand(c.rhs)}"
    if isinstance(node, FilterNode):
        return "filter", f"filter {node.metric.label('·')} select-{node.select} {node.count}"
    if isinstance(node, InverseVolNode):
        return "inverse-volatility", f"weight-inverse-volatility {node.window}d"
    if isinstance(node, EmptyNode):
        return "empty", "empty (its share stays in cash)"
    if node.kind == "group":
        return "group", f"group '{node.label}'"
    return "weight", node.kind


def _silent(node: ProgramNode) -> bool:
    """Nodes the evaluator passes through without a trace step (single-child mixes)."""
    return isinstance(node, MixNode) and node.kind != "group" and len(node.children) <= 1


def build_tree(program: Program, trace: list[dict[str, Any]]) -> dict[str, Any]:
    """The unfolded tree as nested dicts: kind, label, loc, edge (then/else/weight), steps, taken."""
    steps: dict[str, list[dict[str, Any]]] = {}
    for step in trace:
        steps.setdefault(str(step.get("location")), []).append(step)
    count = 0
    truncated = False

    def make(index: int, edge: str | None) -> dict[str, Any]:
        nonlocal count
        count += 1
        node = program.nodes[index]
        kind, label = _label(node)
        loc = str(node.loc)
        return {
            "kind": kind,
            "label": label,
            "loc": f"{node.loc.line}:{node.loc.col}",
            "edge": edge,
            "steps": [{"text": s["text"], "share": s.get("share")} for s in steps.get(loc, [])],
            "taken": False,
            "children": [],
            "_i": index,
            "_key": loc,
        }

    root = make(program.root, None)
    stack = [root]
    while stack:
        item = stack.pop()
        node = program.nodes[item["_i"]]
        edges: list[tuple[int, str | None]]
        if isinstance(node, IfNode):
            edges = [(node.then, "then"), (node.otherwise, "else")]
        elif isinstance(node, MixNode):
            many = len(node.children) > 1
            edges = [(c, f"{w:.1%}" if many else None) for c, w in zip(node.children, node.weights, strict=True)]
        elif isinstance(node, AssetNode):
            edges = []
        else:
            edges = [(c, None) for c in node.children]
        for child, edge in edges:
            if count >= MAX_NODES:
                truncated = True
                break
            made = make(child, edge)
            item["children"].append(made)
            stack.append(made)
    _mark_taken(program, root)
    _assign_steps(root)
    _strip(root)
    return {"root": root, "nodes": count, "truncated": truncated}


def _mark_taken(program: Program, root: dict[str, Any]) -> None:
    """Highlight the path: a node is taken when its parent is and the trace mentions it (or, for a silent
    pass-through node, one of its children); for an `if`, only the branch its own step chose."""
    has_step: dict[int, bool] = {}
    order: list[dict[str, Any]] = []
    stack = [root]
    while stack:
        item = stack.pop()
        order.append(item)
        stack.extend(item["children"])
    for item in reversed(order):  # children before parents
        node = program.nodes[item["_i"]]
        below = any(has_step[id(c)] for c in item["children"])
        has_step[id(item)] = bool(item["steps"]) or (_silent(node) and below)
    root["taken"] = has_step[id(root)] or bool(root["steps"]) or _silent(program.nodes[root["_i"]])
    stack = [root]
    while stack:
        item = stack.pop()
        if not item["taken"]:
            continue
        node = program.nodes[item["_i"]]
        if isinstance(node, IfNode) and item["steps"]:
            chose_then = "true: then" in item["steps"][0]["text"]
            for child in item["children"]:
                child["taken"] = (child["edge"] == "then") == chose_then
        else:
            for child in item["children"]:
                child["taken"] = has_step[id(child)]
        stack.extend(item["children"])


def _assign_steps(root: dict[str, Any]) -> None:
    """Shared subtrees carry the same location in several places; give each trace step to exactly one
    taken node, walking in the evaluator's order (pre-order), and none to untaken nodes."""
    pending: dict[str, list[dict[str, Any]]] = {}
    stack = [root]
    while stack:
        item = stack.pop()
        if item["taken"] and item["_key"] not in pending:
            pending[item["_key"]] = list(item["steps"])
        stack.extend(reversed(item["children"]))
    stack = [root]
    while stack:
        item = stack.pop()
        if not item["taken"]:
            item["steps"] = []
        else:
            queue = pending.get(item["_key"], [])
            item["steps"] = [queue.pop(0)] if queue else []
        stack.extend(reversed(item["children"]))


def _strip(root: dict[str, Any]) -> None:
    stack = [root]
    while stack:
        item = stack.pop()
        item.pop("_i", None)
        item.pop("_key", None)
        stack.extend(item["children"])


def _strategy_source(ctx: WebContext, name: str) -> str:
    for s in ctx.settings.strategies:
        if s.name == name:
            return s.source
    names = ", ".join(s.name for s in ctx.settings.strategies)
    raise QueryError(f"strategy: {name!r} is not configured (configured: {names})")


def decide_fresh(
    ctx: WebContext, name: str, source: str, as_of: dt.date | None
) -> tuple[list[dict[str, Any]], dict[str, float] | None, str | None, dt.date]:
    """(trace, weights, error, session) of deciding `name` at `as_of`'s close, as `signal --as-of` does:
    the same coverage check, history validation and evaluator, on the server's cached inputs."""
    day = resolve_as_of(as_of)
    try:
        loaded = cache.strategy(source, name)
    except AlchemiserError as exc:
        return [], None, str(exc), day
    symbols = frozenset(loaded.universe())
    latest = market_calendar.last_completed_session()
    # fast path: everything is covered at the latest session and has a close on `day`, so the history at
    # `day` is a view of the cached full history; otherwise check and load for `day` exactly, as `signal` does
    fast = None
    if cache.coverage(ctx.settings, name, loaded, latest, check_length=False).ok:
        fast = cache.history_at(ctx.settings, symbols, day, latest)
    if fast is None:
        gaps = cache.coverage(ctx.settings, name, loaded, day, check_length=False).gaps_in(symbols)
        if gaps:
            return [], None, describe_gaps(loaded, gaps, day), day
        try:
            fast = cache.history(ctx.settings, symbols, day)
        except AlchemiserError as exc:
            return [], None, f"market data: {exc}", day
    history, indicators = fast
    try:
        with cache.locked():  # the indicator cache fills as the evaluator reads it
            made = loaded.decide(history, indicators)
    except AlchemiserError as exc:
        return [], None, str(exc), day
    return [dict(t.to_json()) for t in made.trace], made.weights, None, day


def decision(ctx: WebContext, strategy: str, as_of: dt.date | None, run_id: str | None) -> dict[str, Any]:
    """The tree for `strategy`, from a recorded run's trace (`run_id`) or decided afresh at `as_of`.

    A fresh decision is kept until the data store, the strategy file or the last session changes, so going
    back to a date already viewed costs nothing (a large symphony's evaluation is the slow part)."""
    source = _strategy_source(ctx, strategy)
    if run_id is None:
        day = resolve_as_of(as_of)
        try:
            loaded = cache.strategy(source, strategy)
        except AlchemiserError:
            return _decision(ctx, strategy, source, day, None)  # reports the load error
        stamp = (cache.store_stamp(ctx.settings), id(loaded), market_calendar.last_completed_session())
        key = ("decision", id(ctx.settings), strategy, day)
        return cache.memo(key, stamp, lambda: _decision(ctx, strategy, source, day, None))
    return _decision(ctx, strategy, source, as_of, run_id)


def _decision(ctx: WebContext, strategy: str, source: str, as_of: dt.date | None, run_id: str | None) -> dict[str, Any]:
    weights: dict[str, float] | None
    if run_id is not None:
        with open_readonly(ctx.ledger) as ledger:
            run = ledger.run(run_id) if ledger is not None else None
            if ledger is None or run is None:
                raise QueryError(f"run_id: no run {run_id!r} in the ledger")
            recorded = [s for s in ledger.signals(run_id) if s["name"] == strategy]
        if not recorded:
            raise QueryError(f"strategy: run {run_id} has no signal for {strategy!r}")
        signal = recorded[0]
        day = run.summary.get("as_of") if run.summary else None
        trace, weights, error = signal["trace"] or [], signal["weights"], signal["error"]
        when = str(day or run.trading_day)
    else:
        trace, weights, error, day = decide_fresh(ctx, strategy, source, as_of)
        when = day.isoformat()
    try:
        loaded = cache.strategy(source, strategy)
    except AlchemiserError as exc:
        raise QueryError(f"strategy: {strategy!r} cannot be loaded: {exc}") from None
    tree = build_tree(loaded.program, trace) if isinstance(loaded, SymphonyStrategy) else None
    return {
        "strategy": strategy,
        "source": source,
        "as_of": when,
        "run_id": run_id,
        "weights": weights,
        "error": error,
        "trace": trace,
        "tree": tree,
    }
