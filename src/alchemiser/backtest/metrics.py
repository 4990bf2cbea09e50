"""Performance metrics of a daily equity curve, optionally against a benchmark.

Conventions: 252 trading days a year; Sharpe and Sortino use a zero risk-free rate on daily returns and
are annualised by √252; CAGR uses calendar time between the first and last date; max drawdown is a
positive fraction with its peak, trough and recovery dates.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, cast

import numpy as np
import pandas as pd

from alchemiser.backtest.schema import MetricsJson
from alchemiser.indicators import FloatArray

TRADING_DAYS = 252
METRIC_ROWS = (
    "total_return", "cagr", "volatility", "sharpe", "sortino", "max_drawdown", "calmar", "best_day", "worst_day",
    "exposure", "turnover",
)  # fmt: skip
RATIOS = ("sharpe", "sortino", "calmar", "beta", "correlation")


def format_metric(key: str, value: Any) -> str:
    """One metric as people read it: ratios to two decimals, turnover per year, everything else in percent."""
    if value is None:
        return "—"
    if key in RATIOS:
        return f"{value:.2f}"
    if key == "turnover":
        return f"{value:.1f}×/yr"
    return f"{value:.2%}"


def metric_columns(data: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(name, metrics) for the blend (or the single strategy), each strategy alone, and the benchmark."""
    strategies = data["strategies"]
    columns = [("blend" if len(strategies) > 1 else strategies[0]["name"], data["metrics"])]
    if len(strategies) > 1:
        columns += [(s["name"], s["metrics"]) for s in strategies]
    if data["benchmark"]:
        columns.append((data["benchmark"]["symbol"], data["benchmark"]["metrics"]))
    return columns


@dataclass(frozen=True)
class Drawdown:
    depth: float
    peak: dt.date | None
    trough: dt.date | None
    recovery: dt.date | None


@dataclass(frozen=True)
class Metrics:
    total_return: float
    cagr: float
    volatility: float
    sharpe: float
    sortino: float
    max_drawdown: float
    drawdown: Drawdown
    calmar: float
    best_day: float
    worst_day: float
    exposure: float
    turnover: float
    days: int

    def to_json(self) -> MetricsJson:
        out = asdict(self)
        out["drawdown"] = {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in out["drawdown"].items()}
        return cast(MetricsJson, {k: _clean(v) for k, v in out.items()})


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def daily_returns(equity: FloatArray) -> FloatArray:
    return np.asarray(equity[1:] / equity[:-1] - 1.0, dtype=np.float64)


def drawdown_series(equity: FloatArray) -> FloatArray:
    peaks = np.maximum.accumulate(equity)
    return np.asarray(equity / peaks - 1.0, dtype=np.float64)


def max_drawdown(equity: FloatArray, dates: pd.DatetimeIndex) -> Drawdown:
    if len(equity) == 0:
        return Drawdown(0.0, None, None, None)
    dd = drawdown_series(equity)
    trough = int(np.argmin(dd))
    if dd[trough] == 0:
        return Drawdown(0.0, None, None, None)
    peak = int(np.argmax(equity[: trough + 1]))
    after = np.flatnonzero(equity[trough:] >= equity[peak])
    recovery = dates[trough + int(after[0])].date() if after.size else None
    return Drawdown(float(-dd[trough]), dates[peak].date(), dates[trough].date(), recovery)


def compute_metrics(
    equity: FloatArray,
    dates: pd.DatetimeIndex,
    *,
    invested: FloatArray | None = None,
    turnover: FloatArray | None = None,
) -> Metrics:
    """Metrics of one curve; `invested` is the invested fraction per day, `turnover` traded/equity per day."""
    returns = daily_returns(equity)
    total = float(equity[-1] / equity[0] - 1.0) if len(equity) else 0.0
    years = max((dates[-1] - dates[0]).days / 365.25, 1e-9) if len(dates) > 1 else 1e-9
    cagr = float((equity[-1] / equity[0]) ** (1 / years) - 1.0) if len(equity) > 1 and equity[-1] > 0 else -1.0
    std = float(np.std(returns, ddof=1)) if len(returns) > 1 else 0.0
    mean = float(np.mean(returns)) if len(returns) else 0.0
    downside = returns[returns < 0]
    down_dev = float(np.sqrt(np.mean(np.minimum(returns, 0.0) ** 2))) if len(returns) else 0.0
    drawdown = max_drawdown(equity, dates)
    return Metrics(
        total_return=total,
        cagr=cagr,
        volatility=std * math.sqrt(TRADING_DAYS),
        sharpe=mean / std * math.sqrt(TRADING_DAYS) if std > 0 else math.nan,
        sortino=mean / down_dev * math.sqrt(TRADING_DAYS) if down_dev > 0 and downside.size else math.nan,
        max_drawdown=drawdown.depth,
        drawdown=drawdown,
        calmar=cagr / drawdown.depth if drawdown.depth > 0 else math.nan,
        best_day=float(returns.max()) if len(returns) else 0.0,
        worst_day=float(returns.min()) if len(returns) else 0.0,
        exposure=float(np.mean(invested)) if invested is not None and len(invested) else math.nan,
        turnover=float(np.sum(turnover) / years) if turnover is not None else math.nan,
        days=len(equity),
    )


def relative(equity: FloatArray, benchmark: FloatArray) -> dict[str, float | None]:
    """Beta, correlation and annualised alpha of the strategy's daily returns against the benchmark's."""
    r, b = daily_returns(equity), daily_returns(benchmark)
    if len(r) < 2 or float(np.var(b)) == 0:
        return {"beta": None, "correlation": None, "alpha": None}
    beta = float(np.cov(r, b, ddof=1)[0, 1] / np.var(b, ddof=1))
    alpha = float((np.mean(r) - beta * np.mean(b)) * TRADING_DAYS)
    # A flat strategy (no variance) has no correlation; asking numpy anyway divides 0 by 0 and warns.
    correlation = float(np.corrcoef(r, b)[0, 1]) if float(np.var(r)) > 0 else None
    return {"beta": beta, "correlation": correlation, "alpha": alpha}
