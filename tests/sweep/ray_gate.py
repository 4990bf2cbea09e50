"""A Ray worker setup hook for the node-loss test: every sweep backtest that starts on the node to be killed
is held there, so the kill provably lands while that node has unfinished tasks.

The test hands it to the sweep's workers through the product's own ALCHEMISER_RAY_RUNTIME_ENV
(`worker_process_setup_hook`), so the sweep, the Ray engine and `run_task` run unchanged; only the worker
processes of the held node wrap `run_task` in a wait that nothing ends but the kill. Workers of the
other node (and the retries the kill causes there) run the real `run_task` untouched.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

HOLD_SESSION = "SWEEP_TEST_HOLD_SESSION"  # the session id of the node whose tasks are held
HELD_DIR = "SWEEP_TEST_HELD_DIR"  # each held backtest leaves a file here, named after its task id
HOOK = f"{__name__}.hold_on_one_node"


def hold_on_one_node() -> None:
    """Run once per Ray worker process: on the held node, make `run_task` wait forever once announced."""
    if os.getsid(0) != int(os.environ[HOLD_SESSION]):
        return
    import alchemiser.sweep.task as task_module

    held_dir = Path(os.environ[HELD_DIR])

    def held(shared: Any, task: Any) -> Any:
        (held_dir / task.id).touch()
        threading.Event().wait()  # never set: the node is killed with this task unfinished
        raise AssertionError("unreachable")

    # the engine pickles run_task by reference, so this worker's tasks resolve to `held`
    task_module.run_task = held
