"""Evaluates a compiled symphony on every date of a price history at once, with numpy arrays.

Each node yields, for every date, the weights it would hold (symbol → array) and a `bad` mask of dates on
which it cannot be decided (an indicator lacked history). Nodes run in post-order in one loop, so the whole
of twenty years costs about as much as a single day. A decision trace for one date is read off afterwards
from small per-node snapshots taken during the same pass.

Group metrics follow Composer: a group's return on day t is its allocation decided at t−1 times each
asset's t−1→t return, and price-like metrics use the equity curve compounded from that stream.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

import numpy as np
import numpy.typing as npt
from typing_extensions import TypedDict  # the TypedDict pydantic accepts on 3.11

from alchemiser.data.bars import as_date
from alchemiser.data.history import PriceHistory
from alchemiser.errors import DataError, InsufficientHistoryError, StrategyError
from alchemiser.indicators import INDICATORS, FloatArray
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
    children_of,
)

BoolArray = npt.NDArray[np.bool_]
_CMP = {
    ">": np.greater,
    "<": np.less,
    ">=": np.greater_equal,
    "<=": np.less_equal,
    "=": np.equal,
}


class IndicatorCache:
    """Indicator series keyed by (subject, indicator, parameters), shared by every strategy on one history."""

    def __init__(self, history: PriceHistory) -> None:
        self.history = history
        self._series: dict[tuple[str, str, tuple[int | float, ...]], FloatArray] = {}
        self._of_series: dict[tuple[bytes, str, tuple[int | float, ...]], FloatArray] = {}

    def of_series(self, values: FloatArray, indicator: str, params: tuple[int | float, ...]) -> FloatArray:
        """The indicator of a computed series (a group's equity curve), keyed by the series' own bytes.

        Different groups of an export often earn the very same curve (the same picks under other names, the
        `empty` branches' flat line); an indicator is a pure function of its input, so each distinct curve is
        computed once, whichever node it came from.
        """
        key = (values.tobytes(), indicator, params)
        series = self._of_series.get(key)
        if series is None:
            series = INDICATORS[indicator].fn(values, *params)
            self._of_series[key] = series
        return series

    def get(
        self, subject: str, indicator: str, params: tuple[int | float, ...], prices: FloatArray | None = None
    ) -> FloatArray:
        key = (subject, indicator, params)
        series = self._series.get(key)
        if series is None:
            if prices is None:
                if subject not in self.history.closes:
                    raise DataError(f"no market data loaded for {subject}")
                prices = self.history.closes[subject]
            series = INDICATORS[indicator].fn(prices, *params)
            self._series[key] = series
        return series


@dataclass
class _Result:
    weights: dict[str, FloatArray]
    bad: BoolArray


@dataclass
class _Snapshot:
    """One node's state on the traced date."""

    weights: dict[str, float]
    bad: bool
    detail: dict[str, Any] = field(default_factory=dict)


class TraceStepJson(TypedDict):
    """One line of a decision's path, as `--json` prints it."""

    depth: Annotated[int, "nesting level, 0 for the symphony itself"]
    kind: Annotated[str, "the node's kind (if, filter, asset, group, …), which the tree view colours by"]
    text: Annotated[str, "the line as the tree view prints it, with the values read"]
    location: Annotated[str, "file:line:col of the node in the symphony source"]
    share: Annotated[float, "fraction of the strategy this node carries (0–1)"]


@dataclass(frozen=True)
class TraceStep:
    depth: int
    kind: str
    text: str
    location: str
    share: float

    def to_json(self) -> TraceStepJson:
        return {
            "depth": self.depth,
            "kind": self.kind,
            "text": self.text,
            "location": self.location,
            "share": round(self.share, 10),
        }


@dataclass(frozen=True)
class Decision:
    """The allocation on one date and why: the path taken through the tree.

    `weights` sum to 1 unless `empty` branches were taken; what they leave is `cash`, which a blend and the
    planner simply do not invest.
    """

    weights: dict[str, float]
    trace: list[TraceStep]

    @property
    def cash(self) -> float:
        """The share held in cash (by `empty` branches)."""
        left = 1.0 - sum(self.weights.values())
        return left if left > 1e-9 else 0.0


@dataclass(frozen=True)
class AllocationMatrix:
    """Weights on every date: `weights[i, j]` for `dates[i]`, `symbols[j]`; `valid[i]` when decidable."""

    dates: Any
    symbols: list[str]
    weights: FloatArray
    valid: BoolArray

    def row(self, index: int) -> dict[str, float]:
        return {s: float(w) for s, w in zip(self.symbols, self.weights[index], strict=True) if w > 1e-12}


def _sum_into(weights: dict[str, FloatArray], parts: dict[str, FloatArray]) -> None:
    """Add each symbol's part to its running weight (a symbol met first takes its part as it is)."""
    for symbol, part in parts.items():
        weights[symbol] = weights[symbol] + part if symbol in weights else part


def _any_not_finite(columns: list[FloatArray]) -> BoolArray:
    """Days on which any of the columns is NaN or infinite.

    One pass per column instead of a reduction across a (days × few) matrix's short rows, which numpy does
    slowly row by row."""
    undecided = ~np.isfinite(columns[0])
    for column in columns[1:]:
        undecided |= ~np.isfinite(column)
    return undecided


def _equity_from_returns(returns: FloatArray) -> FloatArray:
    """Compound a return stream into an equity curve, restarting at 1 after every undefined stretch."""
    equity = np.full(len(returns), np.nan)
    finite = np.isfinite(returns)
    edges = np.flatnonzero(np.diff(np.concatenate(([False], finite, [False])).astype(np.int8)))
    for start, end in zip(edges[0::2], edges[1::2], strict=True):
        if start > 0:
            equity[start - 1] = 1.0
        with np.errstate(over="ignore"):  # a curve beyond 1e308 becomes inf: undefined, so it fails closed
            equity[start:end] = np.cumprod(1.0 + returns[start:end])
    return equity


class SymphonyEvaluator:
    """Runs one program over one history; `trace_index` chooses the date whose decision is explained."""

    def __init__(self, program: Program, history: PriceHistory, cache: IndicatorCache | None = None) -> None:
        self.program = program
        self.history = history
        self.cache = cache or IndicatorCache(history)
        self.n = len(history.days)
        self._equity: dict[int, FloatArray] = {}
        self._asset_returns: dict[str, FloatArray] = {}

    # -- helpers ---------------------------------------------------------------------------------------
    def _closes(self, symbol: str) -> FloatArray:
        try:
            return self.history.closes[symbol]
        except KeyError:
            loc = self.program.symbol_locations.get(symbol)
            raise StrategyError(
                f"{loc}: no market data loaded for {symbol}" if loc else f"no data for {symbol}"
            ) from None

    def _operand(self, operand: Operand) -> FloatArray:
        if isinstance(operand, Const):
            return np.full(self.n, operand.value)
        assert operand.symbol is not None
        self._closes(operand.symbol)
        return self.cache.get(operand.symbol, operand.indicator, operand.params)

    def _ret(self, symbol: str) -> FloatArray:
        r = self._asset_returns.get(symbol)
        if r is None:
            r = self.history.returns(symbol)
            self._asset_returns[symbol] = r
        return r

    def _equity_curve(self, index: int, result: _Result) -> FloatArray:
        """The equity a node's own picks would have earned (its allocation at t−1 × returns t−1→t)."""
        curve = self._equity.get(index)
        if curve is None:
            stream = np.zeros(self.n)
            # summed in symbol order, so identical picks give bit-identical curves (and ties stay ties)
            for symbol, w in sorted(result.weights.items()):
                contrib = np.zeros(self.n)
                contrib[1:] = w[:-1] * self._ret(symbol)[1:]
                # an asset not yet trading contributes nothing when it is not held (weight 0)
                contrib[1:][w[:-1] == 0.0] = 0.0
                stream += contrib
            stream[0] = np.nan
            stream[1:][result.bad[:-1]] = np.nan
            curve = _equity_from_returns(stream)
            self._equity[index] = curve
        return curve

    def _child_metric(
        self, child: int, results: dict[int, _Result], indicator: str, params: tuple[int | float, ...]
    ) -> FloatArray:
        node = self.program.nodes[child]
        # a single-child wrapper other than a named group (`weight-equal [x]`) is just its child, as `fmt`
        # prints it: an asset inside one is ranked by the asset's own prices, not by a re-based equity curve
        while isinstance(node, MixNode) and node.kind != "group" and len(node.children) == 1:
            node = self.program.nodes[node.children[0]]
        if isinstance(node, AssetNode):
            self._closes(node.symbol)
            return self.cache.get(node.symbol, indicator, params)
        curve = self._equity_curve(child, results[child])
        return self.cache.of_series(curve, indicator, params)

    # -- the pass --------------------------------------------------------------------------------------
    def run(self, trace_index: int | None = None) -> tuple[_Result, dict[int, _Snapshot]]:
        nodes = self.program.nodes
        consumers = [0] * len(nodes)
        for node in nodes:
            for c in children_of(node):
                consumers[c] += 1
        results: dict[int, _Result] = {}
        snaps: dict[int, _Snapshot] = {}
        n = self.n
        for index, node in enumerate(nodes):
            detail: dict[str, Any] = {}
            if isinstance(node, AssetNode):
                prices = self._closes(node.symbol)
                result = _Result({node.symbol: np.ones(n)}, ~np.isfinite(prices))
            elif isinstance(node, EmptyNode):
                result = _Result({}, np.zeros(n, dtype=bool))  # holds nothing: its share stays in cash
            elif isinstance(node, MixNode):
                # a block pasted many times is one node listed many times: add its shares up, mix it once
                shares: dict[int, float] = {}
                for c, w in zip(node.children, node.weights, strict=True):
                    shares[c] = shares.get(c, 0.0) + w
                result = self._mix([(results[c], w) for c, w in shares.items()])
            elif isinstance(node, IfNode):
                result = self._if(node.condition, results[node.then], results[node.otherwise], detail, trace_index)
            elif isinstance(node, FilterNode):
                result = self._filter(node, results, detail, trace_index)
            else:
                result = self._inverse_vol(node, results, detail, trace_index)
            results[index] = result
            if trace_index is not None:
                snaps[index] = _Snapshot(
                    {s: float(w[trace_index]) for s, w in result.weights.items() if w[trace_index] > 1e-12},
                    bool(result.bad[trace_index]),
                    detail,
                )
            for c in children_of(node):
                consumers[c] -= 1
                if consumers[c] == 0 and c != self.program.root:
                    results.pop(c, None)
                    self._equity.pop(c, None)
        return results[self.program.root], snaps

    def _mix(self, parts: list[tuple[_Result, float]]) -> _Result:
        weights: dict[str, FloatArray] = {}
        bad = np.zeros(self.n, dtype=bool)
        for result, share in parts:
            bad |= result.bad
            _sum_into(weights, {s: share * w for s, w in result.weights.items()})
        return _Result(weights, bad)

    def _if(self, cond: Condition, then: _Result, other: _Result, detail: dict[str, Any], at: int | None) -> _Result:
        lhs, rhs = self._operand(cond.lhs), self._operand(cond.rhs)
        undecided = ~(np.isfinite(lhs) & np.isfinite(rhs))
        with np.errstate(invalid="ignore"):
            take = _CMP[cond.op](lhs, rhs) & ~undecided
        weights: dict[str, FloatArray] = {}
        for symbol in sorted(then.weights.keys() | other.weights.keys()):  # sorted: same sums on every run
            a = then.weights.get(symbol)
            b = other.weights.get(symbol)
            if a is None:
                weights[symbol] = np.where(take, 0.0, b)  # type: ignore[arg-type]
            elif b is None:
                weights[symbol] = np.where(take, a, 0.0)
            else:
                weights[symbol] = np.where(take, a, b)
        bad = undecided | np.where(take, then.bad, other.bad)
        if at is not None:
            detail.update(lhs=float(lhs[at]), rhs=float(rhs[at]), take=bool(take[at]))
        return _Result(weights, bad)

    def _filter(self, node: FilterNode, results: dict[int, _Result], detail: dict[str, Any], at: int | None) -> _Result:
        metric = node.metric
        columns = [self._child_metric(c, results, metric.indicator, metric.params) for c in node.children]
        scores = np.column_stack(columns)
        undecided = _any_not_finite(columns)
        keyed = np.where(np.isfinite(scores), scores, np.inf)
        order = np.argsort(-keyed if node.select == "top" else keyed, axis=1, kind="stable")
        count = min(node.count, len(node.children))
        chosen = np.zeros(scores.shape, dtype=bool)
        np.put_along_axis(chosen, order[:, :count], True, axis=1)
        share = 1.0 / count
        weights: dict[str, FloatArray] = {}
        bad = undecided.copy()
        for k, child in enumerate(node.children):
            mask = chosen[:, k]
            bad |= mask & results[child].bad
            _sum_into(weights, {s: np.where(mask, share * w, 0.0) for s, w in results[child].weights.items()})
        if at is not None:
            detail.update(
                scores=[float(s) for s in scores[at]],
                chosen=[bool(c) for c in chosen[at]],
                last_bad=[_last_true(results[c].bad, at) for c in node.children],
            )
        return _Result(weights, bad)

    def _inverse_vol(
        self, node: InverseVolNode, results: dict[int, _Result], detail: dict[str, Any], at: int | None
    ) -> _Result:
        columns = [self._child_metric(c, results, "stdev-return", (node.window,)) for c in node.children]
        vols = np.column_stack(columns)
        undecided = _any_not_finite(columns)
        with np.errstate(divide="ignore", invalid="ignore"):
            inverse = 1.0 / vols
            zero = vols == 0.0
            riskless = np.zeros(self.n, dtype=bool)
            for column in columns:
                riskless |= column == 0.0
            # a riskless child takes everything (the limit of 1/vol), shared among such children
            inverse = np.where(riskless[:, None], zero.astype(float), inverse)
            shares = inverse / inverse.sum(axis=1, keepdims=True)
        shares = np.where(undecided[:, None], 0.0, shares)
        weights: dict[str, FloatArray] = {}
        bad = undecided.copy()
        for k, child in enumerate(node.children):
            bad |= results[child].bad
            _sum_into(weights, {s: shares[:, k] * w for s, w in results[child].weights.items()})
        if at is not None:
            detail.update(
                vols=[float(v) for v in vols[at]],
                shares=[float(s) for s in shares[at]],
                last_bad=[_last_true(results[c].bad, at) for c in node.children],
            )
        return _Result(weights, bad)


# -- reading the decision back ---------------------------------------------------------------------------
def _fmt(value: float) -> str:
    return "n/a" if not np.isfinite(value) else f"{value:.2f}"


def _missing(ref: IndicatorRef, subject: str | None = None) -> StrategyError:
    err = InsufficientHistoryError(
        subject or ref.symbol or "?", ref.indicator, ref.describe_params() or None, f"needs {ref.needed} closes"
    )
    return StrategyError(f"{ref.loc}: {err}")


class _Unscorable(Exception):
    """A filter or inverse-volatility node could not score a child because that child itself could not decide
    on day `day` (within the metric's window): the root cause lies inside the child, on that day."""

    def __init__(self, message: str, child: int, day: int) -> None:
        super().__init__(message)
        self.message = message
        self.child = child
        self.day = day


def _last_true(mask: BoolArray, at: int) -> int | None:
    hits = np.flatnonzero(mask[: at + 1])
    return int(hits[-1]) if hits.size else None


def _unscorable_child(
    program: Program, node: FilterNode | InverseVolNode, metric: IndicatorRef, snap: _Snapshot, values: list[float]
) -> None:
    """Raise for the first child without a score, blaming the child's own failure when that is the cause."""
    for k, (child, value) in enumerate(zip(node.children, values, strict=True)):
        if np.isfinite(value):
            continue
        bad_day = snap.detail["last_bad"][k]
        label = program.node_label(child)
        if bad_day is not None:  # the child could not decide within the window: find out why, on that day
            message = f"{node.loc}: cannot score {label} by {metric.indicator} {metric.describe_params()}"
            raise _Unscorable(message, child, bad_day)
        raise _missing(metric, label)


def explain(program: Program, snaps: dict[int, _Snapshot], root: int | None = None) -> list[TraceStep]:
    """Walk the taken path top-down (explicit stack) and describe each decision; raise if undecidable."""
    steps: list[TraceStep] = []
    stack: list[tuple[int, int, float]] = [(program.root if root is None else root, 0, 1.0)]
    while stack:
        index, depth, share = stack.pop()
        node = program.nodes[index]
        snap = snaps[index]
        loc = str(node.loc)
        pending: list[tuple[int, int, float]] = []
        if isinstance(node, AssetNode):
            if snap.bad:
                raise DataError(f"{loc}: no price for {node.symbol} on this date (not trading yet?)")
            named = f" ({node.name})" if node.name else ""
            steps.append(TraceStep(depth, "asset", f"{node.symbol}{named} → {share:.1%}", loc, share))
        elif isinstance(node, EmptyNode):
            steps.append(TraceStep(depth, "empty", f"empty → {share:.1%} stays in cash", loc, share))
        elif isinstance(node, MixNode):
            if node.kind == "group":
                steps.append(TraceStep(depth, "group", f"group '{node.label}'", loc, share))
            elif node.kind == "weight-specified":
                parts = ", ".join(
                    f"{program.node_label(c)} {w:.1%}" for c, w in zip(node.children, node.weights, strict=True)
                )
                steps.append(TraceStep(depth, "weight", f"weight-specified: {parts}", loc, share))
            elif len(node.children) > 1:
                steps.append(TraceStep(depth, "weight", f"weight-equal over {len(node.children)}", loc, share))
            inner = depth + (1 if node.kind == "group" or len(node.children) > 1 else 0)
            pending = [(c, inner, share * w) for c, w in zip(node.children, node.weights, strict=True)]
        elif isinstance(node, IfNode):
            cond = node.condition
            lhs, rhs, take = snap.detail["lhs"], snap.detail["rhs"], snap.detail["take"]
            for operand, value in ((cond.lhs, lhs), (cond.rhs, rhs)):
                if isinstance(operand, IndicatorRef) and not np.isfinite(value):
                    raise _missing(operand)
            text = (
                f"{cond.lhs.label()} = {_fmt(lhs)} {cond.op} "
                f"{cond.rhs.label()}{'' if isinstance(cond.rhs, Const) else ' = ' + _fmt(rhs)}"
                f" → {'true: then' if take else 'false: else'}"
            )
            steps.append(TraceStep(depth, "if", text, loc, share))
            pending = [(node.then if take else node.otherwise, depth + 1, share)]
        elif isinstance(node, FilterNode):
            scores, chosen = snap.detail["scores"], snap.detail["chosen"]
            _unscorable_child(program, node, node.metric, snap, scores)
            ranked = sorted(
                zip(node.children, scores, chosen, strict=True),
                key=lambda t: -t[1] if node.select == "top" else t[1],
            )
            listing = ", ".join(f"{program.node_label(c)} {_fmt(s)}{' ✓' if ok else ''}" for c, s, ok in ranked)
            text = f"filter {node.metric.label('·')} select-{node.select} {node.count}: {listing}"
            steps.append(TraceStep(depth, "filter", text, loc, share))
            picked = [c for c, ok in zip(node.children, chosen, strict=True) if ok]
            pending = [(c, depth + 1, share / len(picked)) for c in picked]
        else:
            vols, shares = snap.detail["vols"], snap.detail["shares"]
            _unscorable_child(program, node, IndicatorRef("stdev-return", None, (node.window,), node.loc), snap, vols)
            listing = ", ".join(
                f"{program.node_label(c)} vol {_fmt(v)}% → {s:.1%}"
                for c, v, s in zip(node.children, vols, shares, strict=True)
            )
            steps.append(
                TraceStep(depth, "inverse-volatility", f"inverse volatility ({node.window}d): {listing}", loc, share)
            )
            pending = [(c, depth + 1, share * s) for c, s in zip(node.children, shares, strict=True) if s > 0]
        stack.extend(reversed(pending))
    return steps


def decide(program: Program, history: PriceHistory, cache: IndicatorCache | None = None) -> Decision:
    """The allocation at the last date of `history`, with its trace; fails closed when undecidable."""
    evaluator = SymphonyEvaluator(program, history, cache)
    at = evaluator.n - 1
    root, snaps = evaluator.run(trace_index=at)
    try:
        trace = explain(program, snaps)
    except _Unscorable as exc:
        raise StrategyError(_root_cause(program, history, evaluator.cache, exc)) from None
    if snaps[program.root].bad:  # pragma: no cover - explain() raises on the first undecidable step
        raise StrategyError(f"{program.name}: cannot decide on {history.end}")
    # not renormalised: what `empty` branches leave unallocated is the decision's cash share
    weights = {s: float(w[at]) for s, w in sorted(root.weights.items()) if w[at] > 1e-12}
    return Decision(weights, trace)


def _root_cause(program: Program, history: PriceHistory, cache: IndicatorCache, exc: _Unscorable) -> str:
    """Follow an unscorable child down to the innermost failure (an indicator short of history, a missing
    price), re-running the pass with the trace on the day the child failed; a group inside a group inside a
    filter is followed all the way. Only runs when deciding has already failed."""
    parts = [exc.message]
    current = exc
    for _ in range(len(program.nodes)):  # each step goes strictly deeper into the tree
        _, snaps = SymphonyEvaluator(program, history, cache).run(trace_index=current.day)
        day = as_date(history.days[current.day])
        label = program.node_label(current.child)
        try:
            explain(program, snaps, root=current.child)
        except _Unscorable as inner:
            parts.append(f"{label} could not decide on {day}: {inner.message}")
            current = inner
            continue
        except (StrategyError, DataError) as inner:
            parts.append(f"{label} could not decide on {day}: {inner}")
        break
    return f"{' — because '.join(parts)} (strategy '{program.name}')"


def evaluate_all(program: Program, history: PriceHistory, cache: IndicatorCache | None = None) -> AllocationMatrix:
    """Weights on every date of `history` (each date using only data up to itself)."""
    evaluator = SymphonyEvaluator(program, history, cache)
    root, _ = evaluator.run()
    symbols = sorted(root.weights)
    matrix = np.column_stack([root.weights[s] for s in symbols]) if symbols else np.zeros((evaluator.n, 0))
    valid = ~root.bad
    matrix = np.where(valid[:, None], matrix, 0.0)
    return AllocationMatrix(history.dates, symbols, matrix, valid)
