"""A compiled symphony: a flat, de-duplicated list of typed nodes in post-order (children first).

Post-order lets the evaluator run the whole tree as one loop over arrays, with no recursion, and
de-duplication (identical subtrees share one node) means a block repeated twenty times in an export is
computed once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from alchemiser.errors import SourceLocation
from alchemiser.indicators import INDICATORS, IndicatorSpec


@dataclass(frozen=True, slots=True)
class IndicatorRef:
    """`(rsi "SPY" {:window 10})`; `symbol` is None for a filter's metric, which applies to each child.

    `params` holds the values of the indicator's parameters in the order its spec lists them (`(10,)` for a
    window, `(12, 26, 9)` for a MACD signal), so two references to the same series compare equal.
    """

    indicator: str
    symbol: str | None
    params: tuple[int | float, ...]
    loc: SourceLocation

    @property
    def spec(self) -> IndicatorSpec:
        return INDICATORS[self.indicator]

    @property
    def needed(self) -> int:
        """Closes needed before the indicator has a value."""
        return self.spec.min_closes(*self.params)

    def describe_params(self) -> str:
        """`window 10` or `short-window 12, long-window 26` for messages."""
        return ", ".join(f"{p.key} {v:g}" for p, v in zip(self.spec.params, self.params, strict=True))

    def label(self, subject: str | None = None) -> str:
        subject = subject or self.symbol or "?"
        return f"{self.spec.label}({','.join([subject, *(f'{v:g}' for v in self.params)])})"


@dataclass(frozen=True, slots=True)
class Const:
    value: float
    loc: SourceLocation

    def label(self) -> str:
        return f"{self.value:g}"


Operand = IndicatorRef | Const


@dataclass(frozen=True, slots=True)
class Condition:
    op: str  # ">", "<", ">=", "<=", "="
    lhs: Operand
    rhs: Operand
    loc: SourceLocation


@dataclass(frozen=True, slots=True)
class AssetNode:
    symbol: str
    name: str | None
    loc: SourceLocation


@dataclass(frozen=True, slots=True)
class MixNode:
    """`weight-equal`, `weight-specified`, `group`, or the implicit equal mix of a multi-item branch."""

    kind: str  # "weight-equal" | "weight-specified" | "group" | "branch"
    children: tuple[int, ...]
    weights: tuple[float, ...]  # normalised, one per child
    label: str | None
    loc: SourceLocation


@dataclass(frozen=True, slots=True)
class InverseVolNode:
    window: int
    children: tuple[int, ...]
    loc: SourceLocation


@dataclass(frozen=True, slots=True)
class IfNode:
    condition: Condition
    then: int
    otherwise: int
    loc: SourceLocation


@dataclass(frozen=True, slots=True)
class FilterNode:
    metric: IndicatorRef
    select: str  # "top" | "bottom"
    count: int
    children: tuple[int, ...]
    loc: SourceLocation


@dataclass(frozen=True, slots=True)
class EmptyNode:
    """Composer's `empty`: holds nothing, so its share of the symphony stays in cash."""

    loc: SourceLocation


ProgramNode = AssetNode | MixNode | InverseVolNode | IfNode | FilterNode | EmptyNode


def children_of(node: ProgramNode) -> tuple[int, ...]:
    if isinstance(node, AssetNode | EmptyNode):
        return ()
    if isinstance(node, IfNode):
        return (node.then, node.otherwise)
    return node.children


@dataclass
class Program:
    """What a symphony file compiles to."""

    name: str
    filename: str
    nodes: list[ProgramNode]
    root: int
    settings: dict[str, object] = field(default_factory=dict)
    symbol_locations: dict[str, SourceLocation] = field(default_factory=dict)

    @property
    def universe(self) -> set[str]:
        """Every ticker the symphony may hold or reads an indicator of."""
        return set(self.symbol_locations)

    def node_label(self, index: int) -> str:
        node = self.nodes[index]
        if isinstance(node, AssetNode):
            return node.symbol
        if isinstance(node, MixNode) and node.label:
            return f"group '{node.label}'"
        if isinstance(node, EmptyNode):
            return "empty (cash)"
        kind = {
            MixNode: "weight",
            InverseVolNode: "weight-inverse-volatility",
            IfNode: "if",
            FilterNode: "filter",
        }[type(node)]
        return f"{kind}@{node.loc.line}:{node.loc.col}"
