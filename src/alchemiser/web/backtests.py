"""Backtests started from the dashboard: validated requests, one worker thread, progress, and results.

The work is `backtest.service.run` and `backtest.report.write_report` — the same code and files as
`alchemiser backtest --report DIR` — so a backtest run here and one run on the CLI agree. Jobs run one at
a time in a single worker thread (a backtest is CPU-bound and the machine is shared). Each job and its
outputs are kept under `$ALCHEMISER_HOME/web/backtests/<id>/` (see `jobstore`), so after a restart the
list still shows finished jobs with their charts and downloads, and a job the old process was running
shows as interrupted, with a re-run.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import numpy as np

from alchemiser.errors import AlchemiserError
from alchemiser.strategies.registry import BUILTINS
from alchemiser.web import jobstore
from alchemiser.web.context import WebContext
from alchemiser.web.queries import QueryError

log = logging.getLogger(__name__)

FILES = ("report.html", "equity.csv", "weights.csv", "trades.csv", "equity.png", "drawdown.png", "weights.png")
_TICKER = re.compile(r"^[A-Z][A-Z0-9.]{0,9}$")
MAX_JOBS = 20
FIELDS = {"strategies", "weights", "start", "end", "rebalance", "fill", "slippage_bps", "fee_bps", "benchmark"}


@dataclass(frozen=True)
class BacktestRequest:
    strategies: list[str]
    weights: list[float] | None
    start: dt.date | None
    end: dt.date | None
    rebalance: str | None
    fill: Literal["close", "next-open"]
    slippage_bps: float
    fee_bps: float
    benchmark: str | None

    @classmethod
    def parse(cls, body: dict[str, Any], ctx: WebContext) -> BacktestRequest:
        """Check every field; each problem names its field. Unknown fields are refused."""
        unknown = sorted(set(body) - FIELDS)
        if unknown:
            raise QueryError(f"body: unknown field(s): {', '.join(unknown)}")
        known = {s.name for s in ctx.settings.strategies} | set(BUILTINS)
        strategies = body.get("strategies")
        if not isinstance(strategies, list) or not strategies or not all(isinstance(s, str) for s in strategies):
            raise QueryError("strategies: a non-empty list of strategy names")
        if len(strategies) > 10 or len(set(strategies)) != len(strategies):
            raise QueryError("strategies: at most 10, each once")
        for name in strategies:
            if name not in known:
                raise QueryError(f"strategies: unknown strategy {name!r} (known: {', '.join(sorted(known))})")
        weights = body.get("weights")
        if weights is not None:
            if not isinstance(weights, list) or len(weights) != len(strategies):
                raise QueryError("weights: one number per strategy, or null for equal shares")
            if not all(_number(w) and 0 <= w <= 1000 for w in weights) or sum(weights) <= 0:
                raise QueryError("weights: non-negative numbers with a positive sum")
        start, end = _date(body, "start"), _date(body, "end")
        if start and end and start >= end:
            raise QueryError("end: must be after start")
        rebalance = body.get("rebalance")
        if rebalance is not None:
            if not isinstance(rebalance, str) or len(rebalance) > 40:
                raise QueryError("rebalance: daily, weekly, monthly or threshold:X")
            from alchemiser.backtest.schedule import Schedule

            try:
                Schedule.parse(rebalance)
            except AlchemiserError as exc:
                raise QueryError(f"rebalance: {exc}") from None
        fill = body.get("fill", "close")
        if fill not in ("close", "next-open"):
            raise QueryError("fill: 'close' or 'next-open'")
        costs = {}
        for name in ("slippage_bps", "fee_bps"):
            value = body.get(name, 0)
            if not _number(value) or not 0 <= value <= 1000:
                raise QueryError(f"{name}: a number from 0 to 1000")
            costs[name] = float(value)
        benchmark = body.get("benchmark", "SPY")
        if benchmark is not None and (not isinstance(benchmark, str) or not _TICKER.match(benchmark)):
            raise QueryError("benchmark: a ticker like SPY, or null")
        return cls(
            strategies,
            [float(w) for w in weights] if weights else None,
            start,
            end,
            rebalance,
            fill,
            costs["slippage_bps"],
            costs["fee_bps"],
            benchmark,
        )

    def as_body(self) -> dict[str, Any]:
        """The request as the JSON body that `parse` accepts: what is stored, and what a re-run submits."""
        return {
            "strategies": list(self.strategies),
            "weights": self.weights,
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "rebalance": self.rebalance,
            "fill": self.fill,
            "slippage_bps": self.slippage_bps,
            "fee_bps": self.fee_bps,
            "benchmark": self.benchmark,
        }


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and np.isfinite(value)


def _date(body: dict[str, Any], name: str) -> dt.date | None:
    value = body.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise QueryError(f"{name}: a date like 2015-01-02, or null")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise QueryError(f"{name}: a date like 2015-01-02, not {value!r}") from None


@dataclass
class Job:
    id: str
    body: dict[str, Any]  # the request as submitted (validated), kept to show and to re-run
    folder: Path
    status: str = "queued"  # queued | running | done | failed | interrupted
    done: int = 0
    total: int = 0
    error: str | None = None
    result: dict[str, Any] | None = None
    charts: dict[str, Any] | None = None
    created: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat())
    pid: int = field(default_factory=os.getpid)

    def state(self, with_charts: bool = True) -> dict[str, Any]:
        charts = None
        if with_charts and self.status == "done":
            if self.charts is None:  # a job loaded from disk reads its charts on first view
                self.charts = jobstore.read_json(self.folder / jobstore.CHARTS_FILE)
            charts = self.charts
        return {
            "id": self.id,
            "status": self.status,
            "progress": {"done": self.done, "total": self.total},
            "error": self.error,
            "request": self.body,
            "result": self.result,
            "charts": charts,
            "files": [f for f in FILES if (self.folder / f).exists()] if self.status == "done" else [],
            "created": self.created,
            "rerunnable": self.status in ("failed", "interrupted", "done"),
        }

    def save(self, status: str | None = None) -> None:
        """Write job.json (and the results once done) with `status` (default: the current one).

        The worker saves a final status before it shows it: a client told "done" may rely on the job
        surviving a crash of the dashboard the next instant.
        """
        meta = {k: getattr(self, k) for k in ("id", "status", "done", "total", "error", "created", "pid")}
        meta["status"] = status = status or self.status
        if status == "done":
            jobstore.write_json(self.folder / jobstore.RESULT_FILE, self.result)
            jobstore.write_json(self.folder / jobstore.CHARTS_FILE, self.charts)
        jobstore.write_json(self.folder / jobstore.JOB_FILE, {**meta, "request": self.body})

    @classmethod
    def load(cls, folder: Path, meta: dict[str, Any]) -> Job:
        """A stored job; one a dead process left queued or running becomes `interrupted` (and is saved so)."""
        stored = meta.get("request")
        body: dict[str, Any] = stored if isinstance(stored, dict) else {}
        job = cls(str(meta["id"]), body, folder, str(meta.get("status", "interrupted")))
        job.created = str(meta.get("created", ""))
        job.error = meta.get("error") if isinstance(meta.get("error"), str) else None
        job.done, job.total = (int(v) if isinstance(v, int) else 0 for v in (meta.get("done"), meta.get("total")))
        job.pid = meta["pid"] if isinstance(meta.get("pid"), int) else 0
        if job.status == "done":
            result = jobstore.read_json(folder / jobstore.RESULT_FILE)
            if isinstance(result, dict):
                job.result = result
            else:
                job.status, job.error = "failed", f"its results are missing from {folder}; re-run it"
        elif job.status in jobstore.UNFINISHED and (job.pid == os.getpid() or not jobstore.alive(job.pid)):
            # (our own id: this process just started, so the id was reused and the job's process is gone)
            job.status = "interrupted"
            job.error = f"the dashboard stopped while this backtest was {meta.get('status')}; re-run it"
            job.save()
        elif job.status not in ("failed", "interrupted", *jobstore.UNFINISHED):
            job.status, job.error = "failed", f"unknown status {job.status!r} in {folder / jobstore.JOB_FILE}"
        return job


def _series(values: Any) -> list[float | None]:
    return [None if not np.isfinite(v) else round(float(v), 6) for v in values]


def chart_data(outcome: Any) -> dict[str, Any]:
    """What the page draws: equity per curve, drawdown, weights over time (JSON-safe, NaN as null)."""
    from alchemiser.backtest.metrics import drawdown_series
    from alchemiser.backtest.report import weights_frame

    r = outcome.result
    dates = [d.date().isoformat() for d in r.dates]
    curves = {"blend" if len(outcome.strategies) > 1 else outcome.strategies[0].name: _series(r.equity)}
    if len(outcome.strategies) > 1:
        for s in outcome.strategies:
            curves[s.name] = _series(s.result.equity[s.result.dates.get_indexer(r.dates)])
    if outcome.benchmark_equity is not None:
        curves[f"benchmark {outcome.benchmark}"] = _series(outcome.benchmark_equity)
    weights = weights_frame(outcome)
    return {
        "dates": dates,
        "equity": curves,
        "drawdown": _series(drawdown_series(r.equity)),
        "weights": {str(c): _series(weights[c].to_numpy()) for c in weights.columns},
    }


def metrics_table(data: dict[str, Any]) -> dict[str, Any]:
    """The CLI's metrics table (blend, each strategy, benchmark), formatted the way the CLI prints it."""
    from alchemiser.backtest.metrics import METRIC_ROWS, format_metric, metric_columns

    columns = metric_columns(data)
    return {
        "columns": [name for name, _ in columns],
        "rows": [[key, *(format_metric(key, m.get(key)) for _, m in columns)] for key in METRIC_ROWS],
    }


class Backtests:
    """The dashboard's backtest jobs: one worker, the latest `MAX_JOBS` listed, all kept on disk."""

    def __init__(self, ctx: WebContext) -> None:
        self.ctx = ctx
        self.root = ctx.home / "web" / "backtests"
        self.jobs: dict[str, Job] = {}
        for folder, meta in jobstore.stored_jobs(self.root)[-MAX_JOBS:]:
            try:
                job = Job.load(folder, meta)
            except OSError as exc:  # an unwritable folder: list the job as it is rather than refuse to start
                log.warning("backtest job %s: %s", folder.name, exc)
                continue
            self.jobs[job.id] = job
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="backtest")
        self._lock = threading.Lock()

    def submit(self, request: BacktestRequest) -> Job:
        job_id = uuid.uuid4().hex[:12]
        job = Job(job_id, request.as_body(), self.root / job_id)
        job.save()
        with self._lock:
            self.jobs[job_id] = job
            while len(self.jobs) > MAX_JOBS:
                self.jobs.pop(next(iter(self.jobs)))
        self._pool.submit(self._run, job, request)
        return job

    def rerun(self, job_id: str) -> Job:
        """A new job with the same request (checked again: the configuration may have changed since)."""
        old = self.get(job_id)
        return self.submit(BacktestRequest.parse(dict(old.body), self.ctx))

    def get(self, job_id: str) -> Job:
        job = self.jobs.get(job_id)
        if job is None:
            raise QueryError(f"id: no backtest {job_id!r} (the latest {MAX_JOBS} are kept)")
        return job

    def listing(self) -> list[dict[str, Any]]:
        """The kept jobs, newest first, without their charts."""
        return [job.state(with_charts=False) for job in reversed(list(self.jobs.values()))]

    def _run(self, job: Job, req: BacktestRequest) -> None:
        from alchemiser.backtest import service
        from alchemiser.backtest.report import write_report

        job.status = "running"
        job.save()

        def progress(done: int, total: int) -> None:
            job.done, job.total = done, total

        try:
            outcome = service.run(
                self.ctx.settings,
                req.strategies,
                req.weights,
                start=req.start,
                end=req.end,
                rebalance=req.rebalance,
                fill=req.fill,
                slippage_bps=Decimal(str(req.slippage_bps)),
                fee_bps=Decimal(str(req.fee_bps)),
                benchmark=req.benchmark,
                progress=progress,
            )
            write_report(outcome, job.folder)
            job.charts = chart_data(outcome)
            job.result = dict[str, Any](outcome.to_json())  # the page adds its table
            job.result["table"] = metrics_table(job.result)
            final = "done"
        except AlchemiserError as exc:
            job.error, final = str(exc), "failed"
        except Exception as exc:  # a backtest bug must not kill the worker; the log has the details
            log.exception("backtest %s failed", job.id)
            job.error, final = f"internal error ({type(exc).__name__}); see the log", "failed"
        try:
            job.save(final)
        except OSError as exc:
            log.warning("backtest %s: could not save its state: %s", job.id, exc)
        job.status = final

    def stop(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
