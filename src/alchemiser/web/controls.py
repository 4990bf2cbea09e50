"""State-changing actions: the kill switch and "run now", each written to an audit trail in the home.

The kill switch is the same `KILL` file `trade` checks before every order, so turning it on here stops a
`run-daily` process too. "Run now" starts `alchemiser trade` as its own process with the same config —
the web server never trades in-process, and never live: live trading stays on the command line.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from typing import Any

from alchemiser.web.context import WebContext
from alchemiser.web.queries import QueryError

OUTPUT_CHARS = 256_000  # the end of the run's output kept for the page (a full `trade --json` fits)


def audit(ctx: WebContext, action: str, detail: dict[str, Any]) -> None:
    """Append one line per action to `$ALCHEMISER_HOME/web/actions.jsonl` (who did what, when)."""
    ctx.actions_log.parent.mkdir(parents=True, exist_ok=True)
    line = {"at": dt.datetime.now(dt.UTC).isoformat(), "action": action, **detail}
    with ctx.actions_log.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(line) + "\n")


def set_kill(ctx: WebContext, on: bool) -> dict[str, Any]:
    if on:
        ctx.kill_file.parent.mkdir(parents=True, exist_ok=True)
        ctx.kill_file.write_text("set from the web dashboard\n", encoding="utf-8")
    else:
        ctx.kill_file.unlink(missing_ok=True)
    audit(ctx, "kill_switch", {"on": on})
    return {"kill_switch": ctx.kill_reason()}


@dataclass
class RunJob:
    """One `alchemiser trade` process started from the dashboard."""

    broker: str
    started_at: str
    process: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)
    finished: threading.Event = field(default_factory=threading.Event)  # set once all output is read

    def state(self) -> dict[str, Any]:
        done = self.finished.is_set()
        return {
            "broker": self.broker,
            "started_at": self.started_at,
            "pid": self.process.pid,
            "running": not done,
            "exit_code": self.process.returncode if done else None,
            "output": "".join(self.output)[-OUTPUT_CHARS:],
        }


class Runner:
    """At most one dashboard-started run at a time; its output is kept for the page to show."""

    def __init__(self, ctx: WebContext) -> None:
        self.ctx = ctx
        self.job: RunJob | None = None
        self._lock = threading.Lock()

    def start(self, broker: str) -> dict[str, Any]:
        if broker not in ("sim", "paper"):
            raise QueryError("broker: must be 'sim' or 'paper' (live trading is only started from the CLI)")
        with self._lock:
            if self.job is not None and not self.job.finished.is_set():
                raise QueryError("a run started from the dashboard is still in progress")
            cmd = [sys.executable, "-m", "alchemiser.cli"]
            if self.ctx.config_path is not None:
                cmd += ["--config", str(self.ctx.config_path)]
            cmd += ["trade", "--json", "--broker", "sim" if broker == "sim" else "alpaca"]
            process = subprocess.Popen(
                cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL
            )
            job = RunJob(broker, dt.datetime.now(dt.UTC).isoformat(), process)
            self.job = job
        threading.Thread(target=self._collect, args=(job,), daemon=True).start()
        audit(self.ctx, "run_now", {"broker": broker, "pid": process.pid})
        return job.state()

    @staticmethod
    def _collect(job: RunJob) -> None:
        assert job.process.stdout is not None
        try:
            for line in job.process.stdout:
                job.output.append(line)
            job.process.wait()
        finally:
            job.finished.set()

    def state(self) -> dict[str, Any] | None:
        return None if self.job is None else self.job.state()

    def stop(self) -> None:
        """On shutdown: a run in progress is left to finish (it is crash-safe), but we stop waiting."""
        if self.job is not None and self.job.process.stdout is not None and self.job.process.poll() is not None:
            self.job.process.stdout.close()
