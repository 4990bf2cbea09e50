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
    """`(rsi "SPY" {:window 10})`; `symbol` is None for a filter's metric, which applies to each child."""

    indicator: str
    symbol: str | None
    window: int | None
    loc: SourceLocation

    @property
    def spec(self) -> IndicatorSpec:
        return INDICATORS[self.indicator]

    def label(self, subject: str | None = None) -> str:
        subject = subject or self.symbol or "?"
        args = f"{subject},{self.window}" if self.window is not None else subject
        return f"{self.spec.label}({args})"


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


ProgramNode = AssetNode | MixNode | InverseVolNode | IfNode | FilterNode


def children_of(node: ProgramNode) -> tuple[int, ...]:
    if isinstance(node, AssetNode):
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
        kind = {
            MixNode: "weight",
            InverseVolNode: "weight-inverse-volatility",
            IfNode: "if",
            FilterNode: "filter",
        }[type(node)]
        return f"{kind}@{node.loc.line}:{node.loc.col}"
