"""Backtests started from the dashboard: validated requests, one worker thread, progress, and results.

The work is `backtest.service.run` and `backtest.report.write_report` — the same code and files as
`alchemiser backtest --report DIR` — so a backtest run here and one run on the CLI agree. Jobs run one at
a time in a single worker thread (a backtest is CPU-bound and the machine is shared) and live in memory;
their files are written under `$ALCHEMISER_HOME/web/backtests/<id>/`.
"""

from __future__ import annotations

import datetime as dt
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
from alchemiser.web.context import WebContext
from alchemiser.web.queries import QueryError

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
    request: BacktestRequest
    folder: Path
    status: str = "queued"  # queued | running | done | failed
    done: int = 0
    total: int = 0
    error: str | None = None
    result: dict[str, Any] | None = None
    charts: dict[str, Any] | None = None
    created: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat())

    def state(self, with_charts: bool = True) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "progress": {"done": self.done, "total": self.total},
            "error": self.error,
            "result": self.result,
            "charts": self.charts if with_charts else None,
            "files": [f for f in FILES if (self.folder / f).exists()] if self.status == "done" else [],
            "created": self.created,
        }


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
    """The dashboard's backtest jobs: one worker, the latest `MAX_JOBS` kept."""

    def __init__(self, ctx: WebContext) -> None:
        self.ctx = ctx
        self.jobs: dict[str, Job] = {}
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="backtest")
        self._lock = threading.Lock()

    def submit(self, request: BacktestRequest) -> Job:
        job_id = uuid.uuid4().hex[:12]
        job = Job(job_id, request, self.ctx.home / "web" / "backtests" / job_id)
        with self._lock:
            self.jobs[job_id] = job
            while len(self.jobs) > MAX_JOBS:
                self.jobs.pop(next(iter(self.jobs)))
        self._pool.submit(self._run, job)
        return job

    def get(self, job_id: str) -> Job:
        job = self.jobs.get(job_id)
        if job is None:
            raise QueryError(f"id: no backtest {job_id!r} (jobs live until the server stops)")
        return job

    def _run(self, job: Job) -> None:
        from alchemiser.backtest import service
        from alchemiser.backtest.report import write_report

        job.status = "running"

        def progress(done: int, total: int) -> None:
            job.done, job.total = done, total

        req = job.request
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
            job.status = "done"
        except AlchemiserError as exc:
            job.error, job.status = str(exc), "failed"
        except Exception as exc:  # a backtest bug must not kill the worker; the log has the details
            import logging

            logging.getLogger(__name__).exception("backtest %s failed", job.id)
            job.error, job.status = f"internal error ({type(exc).__name__}); see the log", "failed"

    def stop(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
