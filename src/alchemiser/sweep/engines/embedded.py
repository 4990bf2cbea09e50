"""The default engine: a local process pool sized to the machine, nothing to install or start.

Each worker process receives `shared` once through the pool's initializer and keeps it in a module
global for all its tasks; `fn` may keep per-process state beside it (the sweep keeps one indicator cache
per worker, so variants that share a (ticker, indicator, window) compute it once per process).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from alchemiser.errors import AlchemiserError

S = TypeVar("S")
T = TypeVar("T")
R = TypeVar("R")

_SHARED: Any = None  # this worker's copy of `shared`, set once by `_initialise`
MAX_WORKERS = 512
MAX_CHUNK = 8  # tasks per submission: small, so a killed sweep loses little and rows keep streaming


def _initialise(shared: Any) -> None:
    global _SHARED
    _SHARED = shared


def _call_many(fn: Callable[[Any, Any], Any], tasks: list[Any]) -> list[Any]:
    return [fn(_SHARED, task) for task in tasks]


def machine_workers() -> int:
    """The CPUs this process may use (its affinity mask, not the whole machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _context() -> multiprocessing.context.BaseContext:
    """forkserver where there is one: no fork of a process running threads (Rich's progress bar), and the
    server imports the backtest modules once so each worker starts as a cheap fork of it."""
    if "forkserver" not in multiprocessing.get_all_start_methods():  # pragma: no cover - not Linux
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["alchemiser.sweep.task"])
    return context


class EmbeddedEngine:
    """A process pool of `workers` processes (default: the usable CPUs); one worker runs in this process."""

    def __init__(self, workers: int | None = None) -> None:
        if workers is not None and not 1 <= workers <= MAX_WORKERS:
            raise AlchemiserError(f"--workers must be between 1 and {MAX_WORKERS} (got {workers})")
        self.workers = workers or machine_workers()

    def map_unordered(self, fn: Callable[[S, T], R], shared: S, tasks: Sequence[T]) -> Iterator[R]:
        if not tasks:
            return
        workers = min(self.workers, len(tasks))
        if workers == 1:  # no pool: no start-up cost, and Ctrl-C stops at once
            for task in tasks:
                yield fn(shared, task)
            return
        context = _context()
        pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_initialise, initargs=(shared,))
        # neighbouring tasks travel together: variants next to each other in a grid often share indicator
        # series and even whole simulations, which a worker reuses only for the tasks it runs itself
        size = max(1, min(MAX_CHUNK, len(tasks) // (workers * 8)))
        chunks = (list(tasks[i : i + size]) for i in range(0, len(tasks), size))
        try:
            # a bounded window of submitted chunks: results stream back while memory stays flat
            pending: set[Future[list[R]]] = set()
            window = workers * 3
            for chunk in chunks:
                pending.add(pool.submit(_call_many, fn, chunk))
                if len(pending) >= window:
                    break
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    try:
                        results = future.result()
                    except BrokenProcessPool:
                        raise AlchemiserError(
                            "a sweep worker process died (out of memory, or killed); the backtests that finished "
                            "are kept, and running the sweep again computes the rest"
                        ) from None
                    yield from results
                for chunk in chunks:
                    pending.add(pool.submit(_call_many, fn, chunk))
                    if len(pending) >= window:
                        break
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
