"""State-changing actions — kill switch, run now, pause/resume, liquidate — each recorded in the ledger.

The kill switch is the same `KILL` file `trade` checks before every order, so turning it on here stops a
`run-daily` process too. Pause/resume writes the ledger's pause table, which the next run reads. Every
action is a row of the ledger's `control_actions` (source `web`), shown on the overview and by
`alchemiser ledger actions`.

"Run now" and "liquidate" start `alchemiser trade` / `alchemiser liquidate` as their own process rather
than calling `runner.run_session` in a worker thread of this server. We weighed the thread and kept the
process, because it is the one that keeps the server both responsive and crash-safe:
- deciding a run is CPU-bound Python (indicator maths, symphony evaluation) that holds the GIL for
  seconds, so a thread would stall the event loop — page loads and the event stream — while it decides;
- a run that crashes hard (a native library fault, memory exhaustion, `os._exit` in the crash-point
  tests) would take the whole dashboard down with it; as a child process it only ends that run, which the
  next run's recovery then closes in the ledger like any interrupted run;
- a run leaves process-wide state behind (logging set-up with its secret filter, the broker's streams and
  threads, the once-a-session guard and `--when-due` logic of the CLI); a fresh process starts clean and
  behaves exactly as `alchemiser trade` does from cron, which is the behaviour users and tests rely on;
- a process can be observed (pid, exit code, output) and outlives a dashboard restart.
Neither is ever live: live trading and live liquidation stay on the command line with its confirmation.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from alchemiser.web.context import WebContext
from alchemiser.web.queries import QueryError

if TYPE_CHECKING:
    from alchemiser.ledger.controls import ActionJson
    from alchemiser.pausing import PauseJson

OUTPUT_CHARS = 256_000  # the end of the run's output kept for the page (a full `trade --json` fits)
RECENT_ACTIONS = 15
LIVE_REFUSED = (
    "broker: must be 'sim' or 'paper'; the live account is only liquidated from the command line: "
    "alchemiser liquidate --broker alpaca --live"
)


def audit(ctx: WebContext, action: str, detail: dict[str, Any], outcome: str) -> None:
    """Record one dashboard action in the ledger (who: the web; what, when, and how it ended)."""
    from alchemiser.pausing import audit as record

    record(ctx.settings, action, detail, "web", outcome)


def set_kill(ctx: WebContext, on: bool) -> dict[str, Any]:
    if on:
        ctx.kill_file.parent.mkdir(parents=True, exist_ok=True)
        ctx.kill_file.write_text("set from the web dashboard\n", encoding="utf-8")
    else:
        ctx.kill_file.unlink(missing_ok=True)
    reason = ctx.kill_reason()
    audit(ctx, "kill_switch", {"on": on}, "on: " + reason if reason else "off")
    return {"kill_switch": reason}


def set_paused(ctx: WebContext, strategy: str, paused: bool) -> PauseJson:
    """Pause or resume a configured strategy (recorded by `pausing.set_paused` with source web)."""
    from alchemiser.errors import ConfigError
    from alchemiser.pausing import set_paused as change

    if not strategy.strip():
        raise QueryError("strategy: must name a configured strategy")
    try:
        return change(ctx.settings, strategy, paused, "web")
    except ConfigError as exc:
        raise QueryError(str(exc)) from None


def state(ctx: WebContext) -> dict[str, Any]:
    """What the controls section shows: kill switch, each strategy paused or not, the recent actions."""
    paused, recent = _recorded(ctx)
    strategies = [
        {
            "name": s.name,
            "share": s.weight,
            "paused_since": paused[s.name].isoformat() if s.name in paused else None,
        }
        for s in ctx.settings.strategies
    ]
    return {"kill_switch": ctx.kill_reason(), "strategies": strategies, "actions": recent}


def _recorded(ctx: WebContext) -> tuple[dict[str, dt.datetime], list[ActionJson]]:
    """Paused strategies and recent actions, read-only (views never write) — except once, to import the
    old `web/actions.jsonl` when it is still there."""
    from alchemiser.ledger import controls as records
    from alchemiser.pausing import open_controls
    from alchemiser.web.readonly import open_readonly

    if ctx.actions_log.exists():
        with open_controls(ctx.settings) as ledger:
            return records.paused(ledger), [a.as_dict() for a in records.actions(ledger, RECENT_ACTIONS)]
    with open_readonly(ctx.ledger) as ro:
        if ro is None or ro.schema_version < 2:  # before schema v2 (control tables): nothing recorded
            return {}, []
        return records.paused(ro), [a.as_dict() for a in records.actions(ro, RECENT_ACTIONS)]


@dataclass
class RunJob:
    """One `alchemiser trade` or `alchemiser liquidate` process started from the dashboard."""

    kind: str  # run | liquidate
    broker: str
    started_at: str
    process: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)
    finished: threading.Event = field(default_factory=threading.Event)  # set once all output is read

    def state(self) -> dict[str, Any]:
        done = self.finished.is_set()
        return {
            "kind": self.kind,
            "broker": self.broker,
            "started_at": self.started_at,
            "pid": self.process.pid,
            "running": not done,
            "exit_code": self.process.returncode if done else None,
            "output": "".join(self.output)[-OUTPUT_CHARS:],
        }


class Runner:
    """At most one dashboard-started process (run or liquidation) at a time; its output is kept for the page."""

    def __init__(self, ctx: WebContext) -> None:
        self.ctx = ctx
        self.job: RunJob | None = None
        self._lock = threading.Lock()

    def start(self, broker: str) -> dict[str, Any]:
        if broker not in ("sim", "paper"):
            raise QueryError("broker: must be 'sim' or 'paper' (live trading is only started from the CLI)")
        return self._spawn("run", broker, ["trade", "--json"])

    def liquidate(self, broker: str) -> dict[str, Any]:
        if broker not in ("sim", "paper"):
            raise QueryError(LIVE_REFUSED)
        # --yes: the page asked for the confirmation; the process records the action (source web) itself
        return self._spawn("liquidate", broker, ["liquidate", "--json", "--yes"])

    def _spawn(self, kind: str, broker: str, args: list[str]) -> dict[str, Any]:
        with self._lock:
            if self.job is not None and not self.job.finished.is_set():
                raise QueryError(f"a {self.job.kind} started from the dashboard is still in progress")
            cmd = [sys.executable, "-m", "alchemiser.cli"]
            if self.ctx.config_path is not None:
                cmd += ["--config", str(self.ctx.config_path)]
            cmd += [*args, "--broker", "sim" if broker == "sim" else "alpaca"]
            env = {**os.environ, "ALCHEMISER_CONTROL_SOURCE": "web"}
            process = subprocess.Popen(
                cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL, env=env
            )
            job = RunJob(kind, broker, dt.datetime.now(dt.UTC).isoformat(), process)
            self.job = job
        threading.Thread(target=self._collect, args=(job,), daemon=True).start()
        # the liquidation process records its own outcome as a second action when it has finished
        action = "run_now" if kind == "run" else "liquidate_requested"
        audit(self.ctx, action, {"broker": broker, "pid": process.pid}, f"started (pid {process.pid})")
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
