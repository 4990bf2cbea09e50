"""The one interface every sweep engine implements, so the runner never knows where tasks run."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Protocol, TypeVar

S = TypeVar("S")
T = TypeVar("T")
R = TypeVar("R")


class Engine(Protocol):
    """Runs `fn(shared, task)` for every task and yields results as they complete (any order).

    `fn` is a top-level picklable function. `shared` (the market history and the like) reaches each worker
    once — a process-pool initializer, `ray.put` — never once per task: a thousand tasks must not ship
    twenty years of prices a thousand times.
    """

    def map_unordered(self, fn: Callable[[S, T], R], shared: S, tasks: Sequence[T]) -> Iterator[R]: ...
