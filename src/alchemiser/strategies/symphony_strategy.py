"""A symphony file as a `Strategy`."""

from __future__ import annotations

from pathlib import Path

from alchemiser.data.history import PriceHistory
from alchemiser.strategies.symphony.compiler import compile_file, compile_text
from alchemiser.strategies.symphony.evaluator import (
    AllocationMatrix,
    Decision,
    IndicatorCache,
    decide,
    evaluate_all,
)
from alchemiser.strategies.symphony.program import Program


class SymphonyStrategy:
    def __init__(self, program: Program, name: str | None = None) -> None:
        self.program = program
        self.name = name or program.name

    @classmethod
    def from_file(cls, path: Path, name: str | None = None) -> SymphonyStrategy:
        return cls(compile_file(path), name)

    @classmethod
    def from_text(cls, text: str, filename: str = "<input>", name: str | None = None) -> SymphonyStrategy:
        return cls(compile_text(text, filename), name)

    @property
    def settings(self) -> dict[str, object]:
        return self.program.settings

    def universe(self) -> set[str]:
        return self.program.universe

    def decide(self, history: PriceHistory, cache: IndicatorCache | None = None) -> Decision:
        return decide(self.program, history, cache)

    def evaluate_all(self, history: PriceHistory, cache: IndicatorCache | None = None) -> AllocationMatrix:
        return evaluate_all(self.program, history, cache)
