"""The shape of `backtest --json` as types: what `BacktestOutcome.to_json()` returns, field by field.

Kept apart from the engine and the service so the README's JSON section, the dashboard and the tests
can name the fields without importing the engine. No `from __future__ import annotations` here: a
`TypedDict` sees `NotRequired` only in evaluated annotations. Every float that can be undefined (a Sharpe ratio
with no volatility, a drawdown that never recovered) is `null` rather than NaN.
"""

from typing import (
    Annotated,
    Literal,
    NotRequired,  # the TypedDict pydantic accepts on 3.11
)

from typing_extensions import TypedDict


class DrawdownJson(TypedDict):
    depth: Annotated[float, "the deepest fall from a peak, a fraction (−0.25 is −25 %)"]
    peak: Annotated[str | None, "the peak's date (YYYY-MM-DD)"]
    trough: Annotated[str | None, "the trough's date"]
    recovery: Annotated[str | None, "when equity regained the peak, null if it never did"]


class MetricsJson(TypedDict):
    """Performance of one equity curve; returns and ratios as fractions, null when undefined."""

    total_return: Annotated[float | None, "fraction over the whole span"]
    cagr: Annotated[float | None, "compound annual growth rate, fraction"]
    volatility: Annotated[float | None, "annualised standard deviation of daily returns, fraction"]
    sharpe: Annotated[float | None, "annualised, risk-free rate 0"]
    sortino: Annotated[float | None, "annualised, downside deviation"]
    max_drawdown: Annotated[float | None, "deepest fall from a peak, fraction (negative)"]
    drawdown: DrawdownJson
    calmar: Annotated[float | None, "CAGR over the absolute max drawdown"]
    best_day: Annotated[float | None, "best daily return, fraction"]
    worst_day: Annotated[float | None, "worst daily return, fraction"]
    exposure: Annotated[float | None, "average fraction of equity invested"]
    turnover: Annotated[float | None, "average traded value over equity per year"]
    days: Annotated[int, "trading days in the curve"]


class BenchmarkJson(TypedDict):
    symbol: Annotated[str, "the benchmark ticker (--benchmark)"]
    metrics: MetricsJson
    beta: Annotated[float | None, "of the strategy's daily returns against the benchmark's"]
    correlation: Annotated[float | None, "of daily returns"]
    alpha: Annotated[float | None, "annualised, fraction"]


class StrategyPartJson(TypedDict):
    name: str
    share: Annotated[float, "its share of the blend (0–1)"]
    contribution: Annotated[float | None, "its part of the blend's total return, fraction"]
    metrics: Annotated[MetricsJson, "the strategy backtested alone"]


class UndecidedJson(TypedDict):
    """A strategy that could not decide on some days (its history was too short), and what the book did."""

    strategy: str
    days: Annotated[int, "days it could not decide"]
    first: Annotated[str, "the first such day (YYYY-MM-DD)"]
    last: Annotated[str, "the last such day"]
    held_cash_days: Annotated[int, "of those, days the book stayed in cash"]
    held_positions_days: Annotated[int, "days it kept its positions"]
    reason: Annotated[str, "why, on the last such day"]


class BacktestJson(TypedDict):
    """`backtest --json`."""

    start: Annotated[str, "the first day simulated (YYYY-MM-DD)"]
    end: Annotated[str, "the last day simulated"]
    days: Annotated[int, "trading days simulated"]
    start_note: Annotated[str | None, "why the backtest starts later than asked (the limiting strategy)"]
    first_decidable_day: Annotated[str, "the first day every strategy could decide"]
    capital: Annotated[float, "starting dollars, to the cent"]
    final_equity: Annotated[float | None, "dollars at the end, to the cent"]
    rebalance: Annotated[str, "the rebalance schedule (daily, weekly, monthly, …)"]
    fill: Annotated[Literal["close", "next-open"], "when trades fill"]
    decide: Annotated[Literal["close", "previous-close"], "which close the decisions read"]
    live_price_mode: Annotated[
        Literal["previous_close", "live"] | None, "the live `--price` mode these settings correspond to"
    ]
    corresponds_to: Annotated[str, "the same correspondence in words"]
    slippage_bps: Annotated[float, "basis points paid on every trade"]
    fee_bps: Annotated[float, "basis points of fees on every trade"]
    metrics: Annotated[MetricsJson, "of the blended book"]
    benchmark: BenchmarkJson | None
    strategies: list[StrategyPartJson]
    trades: Annotated[int, "orders simulated"]
    rebalances: Annotated[int, "days on which the book traded"]
    undecided: list[UndecidedJson]
    warnings: Annotated[list[str], "the undecided stretches in words"]
    synthetic_sample_data: Annotated[bool, "true when any ticker came from the synthetic sample market"]
    sample_symbols: Annotated[list[str], "the tickers that did"]
    report: NotRequired[Annotated[dict[str, str], "only with --report: each file written (html, …) → its path"]]
