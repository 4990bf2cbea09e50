"""Engines: every task runs once, results stream back, `shared` reaches each worker once."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import pytest

from alchemiser.errors import AlchemiserError
from alchemiser.sweep.engines import make_engine
from alchemiser.sweep.engines.embedded import EmbeddedEngine


def square_with_origin(shared: dict[str, Any], task: int) -> tuple[int, int, int, int]:
    """The task's square, the worker's pid, the identity of its `shared` and how often it was unpickled."""
    shared["calls"] = shared.get("calls", 0) + 1  # per-process state survives between tasks
    return task * task, os.getpid(), id(shared), shared["calls"]


@pytest.mark.parametrize("workers", [1, 2])
def test_every_task_runs_once_and_shared_is_sent_once_per_worker(workers: int) -> None:
    tasks = list(range(40))
    results = list(EmbeddedEngine(workers).map_unordered(square_with_origin, {"payload": "x" * 1000}, tasks))
    assert sorted(r[0] for r in results) == [t * t for t in tasks]
    by_worker: dict[int, set[int]] = {}
    for _, pid, identity, _ in results:
        by_worker.setdefault(pid, set()).add(identity)
    assert all(len(ids) == 1 for ids in by_worker.values()), "a worker received `shared` more than once"
    # one `shared` per worker, mutated in place across its tasks: its call counter reaches its task count
    for pid in by_worker:
        counts = sorted(r[3] for r in results if r[1] == pid)
        assert counts == list(range(1, len(counts) + 1))
    if workers == 1:
        assert set(by_worker) == {os.getpid()}  # one worker runs in this process, no pool
    else:
        assert os.getpid() not in by_worker


def test_no_tasks_yields_nothing() -> None:
    assert list(EmbeddedEngine(2).map_unordered(square_with_origin, {}, [])) == []


def test_make_engine_refuses_unknown_names_and_misplaced_flags() -> None:
    with pytest.raises(AlchemiserError, match="--engine must be one of embedded, ray"):
        make_engine("spark", workers=None, address=None)
    with pytest.raises(AlchemiserError, match="--address names a Ray cluster; it needs --engine ray"):
        make_engine("embedded", workers=None, address="auto")
    with pytest.raises(AlchemiserError, match="--workers sizes the embedded engine's process pool"):
        make_engine("ray", workers=2, address=None)  # would otherwise be silently ignored
    with pytest.raises(AlchemiserError, match="--workers must be between 1 and 512"):
        make_engine("embedded", workers=0, address=None)
    assert isinstance(make_engine("embedded", workers=2, address=None), EmbeddedEngine)


def die_on_seven(shared: object, task: int) -> int:
    """A worker that dies mid-sweep, as an out-of-memory kill would end it."""
    if task == 7:
        os._exit(1)
    return task


def test_a_dead_worker_is_a_named_error_not_a_traceback() -> None:
    seen: list[int] = []
    with pytest.raises(AlchemiserError, match=r"a sweep worker process died .* running the sweep again computes"):
        seen.extend(EmbeddedEngine(2).map_unordered(die_on_seven, None, list(range(12))))
    assert 7 not in seen


def test_ray_log_lines_go_to_our_log_file_not_the_console(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """Ray's own warnings ("Task failed… retries remaining") belong in the log file, never on the console
    where the progress bar and --json are."""
    pytest.importorskip("ray")
    import ray._private.worker as ray_worker

    from alchemiser.logs import WARNINGS_LOGGER, setup_logging
    from alchemiser.sweep.engines.ray_engine import _route_ray_logs

    ray_logger = logging.getLogger("ray")
    ours, warnings_logger = logging.getLogger("alchemiser"), logging.getLogger(WARNINGS_LOGGER)
    monkeypatch.setattr(ray_worker, "print_to_stdstream", ray_worker.print_to_stdstream)  # restored afterwards
    for logger in (ray_logger, ours, warnings_logger):  # setup_logging rewires them in place: work on copies
        monkeypatch.setattr(logger, "handlers", list(logger.handlers))
        monkeypatch.setattr(logger, "propagate", logger.propagate)
        monkeypatch.setattr(logger, "level", logger.level)
    log_file = setup_logging(tmp_path)
    _route_ray_logs()
    ray_logger.warning("Task _run failed. There are 5 retries remaining")
    for handler in ray_logger.handlers:
        handler.flush()
    assert "There are 5 retries remaining" in log_file.read_text(encoding="utf-8")
    out, err = capfd.readouterr()
    assert "retries remaining" not in out + err
    for handler in ours.handlers:
        handler.close()
