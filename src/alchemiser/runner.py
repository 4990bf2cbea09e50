"""One trading run end to end: signals → plan → sell → wait → buy → record.

Everything that happens is written to the ledger as it happens. The run is safe to repeat: a second run
on the same day for the same targets finds nothing to trade, and client order ids are derived from the
day, so a retried step cannot place the same order twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Annotated, Any

from typing_extensions import TypedDict  # the TypedDict pydantic accepts on 3.11

from alchemiser.account_status import AccountStatus
from alchemiser.config import Settings
from alchemiser.data.base import MarketData
from alchemiser.data.live import LivePriceJson, PriceMode, feed_of
from alchemiser.errors import AlchemiserError, ConfigError
from alchemiser.execution.broker import Broker
from alchemiser.execution.crashpoints import maybe_wrap
from alchemiser.execution.executor import ExecutedOrderJson, ExecutionResult, Executor
from alchemiser.execution.rails import Rails
from alchemiser.formatting import Dollars
from alchemiser.ledger import Ledger, RunRow
from alchemiser.models import Account, Position, RunStatus
from alchemiser.portfolio.plan import TradePlan, TradePlanJson, plan_rebalance
from alchemiser.signals import SignalReport, StrategySignalJson, build_market, compute_signals

log = logging.getLogger(__name__)
Progress = Callable[[str], None]


def open_broker(
    settings: Settings, market: MarketData, as_of: dt.date, name: str | None = None, *, live: bool = False
) -> Broker:
    """The configured broker; the simulated one is the default and needs no account. Live trading only
    happens when the caller passes `live=True` (the CLI's confirmed `--live`)."""
    choice = name or settings.broker
    if choice == "sim":
        if live:
            raise ConfigError("--live applies to the alpaca broker only")
        from alchemiser.execution.sim import SimBroker

        return SimBroker(market, settings.home / "sim.sqlite", settings.sim, as_of=as_of)
    if choice == "alpaca":
        from alchemiser.execution.alpaca import AlpacaBroker, RetryPolicy
        from alchemiser.logs import register_secret

        credentials, endpoints = alpaca_access(settings, live)
        register_secret(credentials.key_id.get_secret_value())
        register_secret(credentials.secret_key.get_secret_value())
        timeout = settings.alpaca.request_timeout_s
        return AlpacaBroker(credentials, endpoints, paper=not live, retry=RetryPolicy(http_timeout_s=(5.0, timeout)))
    raise ConfigError(f"unknown broker {choice!r} (use 'sim' or 'alpaca')")


def alpaca_access(settings: Settings, live: bool = False) -> tuple[Any, Any]:
    """Credentials (environment or secrets file) and endpoints (environment, config, Alpaca's defaults)."""
    from alchemiser.secrets import load_credentials, resolve_endpoints

    cfg = settings.alpaca
    secrets_file = cfg.secrets_file or settings.home / "secrets.toml"
    overrides = {
        "trading_url": cfg.trading_url,
        "data_url": cfg.data_url,
        "trading_stream_url": cfg.trading_stream_url,
        "data_stream_url": cfg.data_stream_url,
        "feed": cfg.feed,
    }
    return load_credentials(secrets_file.expanduser()), resolve_endpoints(not live, overrides)


def config_digest(settings: Settings) -> str:
    payload = settings.model_dump(mode="json", exclude={"home"})
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:12]


def weights_of(account: Account, positions: list[Position]) -> dict[str, float]:
    if account.equity <= 0:
        return {}
    return {p.symbol: float(p.market_value / account.equity) for p in sorted(positions, key=lambda p: p.symbol)}


def last_closes(market: MarketData, symbols: set[str], as_of: dt.date) -> dict[str, Decimal]:
    """Planning prices for symbols not yet held (execution re-prices from live quotes)."""
    prices: dict[str, Decimal] = {}
    for symbol in symbols:
        bars = market.bars(symbol, None, as_of)
        if not bars.empty:
            prices[symbol] = Decimal(str(round(float(bars["close"].iloc[-1]), 4)))
    return prices


def target_with_failures(report: SignalReport, account: Account, positions: list[Position]) -> dict[str, float]:
    """Blend the strategies that decided; a failed strategy's share stays in the current holdings."""
    current = weights_of(account, positions)
    target: dict[str, float] = {}
    for signal in report.strategies:
        source = signal.weights if signal.error is None else current
        for symbol, weight in (source or {}).items():
            target[symbol] = target.get(symbol, 0.0) + signal.share * weight
    return {s: w for s, w in sorted(target.items()) if w > 1e-12}


class TradeRunJson(TypedDict):
    """`trade --json`: one run, also the ledger's run summary and the notification's source."""

    run_id: str
    status: Annotated[RunStatus, "the run's outcome; it decides the exit code"]
    message: Annotated[str, "the outcome in words"]
    as_of: Annotated[str | None, "the session the signals decided on (YYYY-MM-DD), null if none were computed"]
    synthetic_sample_data: Annotated[bool, "true when any ticker came from the synthetic sample market"]
    price_mode: Annotated[PriceMode | None, "previous_close or live, null if no signals were computed"]
    live_prices: Annotated[dict[str, LivePriceJson], "symbol → live price read ({} with previous_close)"]
    price_notice: Annotated[str | None, "e.g. live was asked for but the market is closed"]
    targets: Annotated[dict[str, float], "symbol → target weight of equity (0–1)"]
    weights_before: Annotated[dict[str, float], "symbol → weight of equity before trading (0–1)"]
    weights_after: Annotated[dict[str, float], "symbol → weight of equity after trading (0–1)"]
    cash_after_weight: Annotated[float | None, "cash as a fraction of equity after trading"]
    equity_after: Annotated[Dollars | None, "equity after trading"]
    orders: list[ExecutedOrderJson]
    warnings: Annotated[list[str], "everything to look at: refused orders, undelivered notifications, …"]
    plan: TradePlanJson | None
    strategies: list[StrategySignalJson]
    timings: Annotated[dict[str, float], "phase → seconds"]
    day_pnl: Annotated[float | None, "dollars gained since the previous session's close, null if unknown"]


@dataclass
class TradeRun:
    run_id: str
    status: RunStatus
    message: str
    signals: SignalReport | None  # None when the run was refused before deciding anything (already_ran)
    plan: TradePlan | None = None
    execution: ExecutionResult | None = None
    targets: dict[str, float] = field(default_factory=dict)
    weights_before: dict[str, float] = field(default_factory=dict)
    weights_after: dict[str, float] = field(default_factory=dict)
    cash_after_weight: float | None = None
    equity_after: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    trading_day: dt.date | None = None
    day_pnl: float | None = None
    notices: list[str] = field(default_factory=list)  # run-level warnings, e.g. an undelivered notification

    @property
    def warnings(self) -> list[str]:
        """Everything the user should look at: the execution's warnings, then the run's own."""
        return [*(self.execution.warnings if self.execution else []), *self.notices]

    def to_json(self) -> TradeRunJson:
        return {
            "run_id": self.run_id,
            "status": self.status,
            "message": self.message,
            "as_of": self.signals.as_of.isoformat() if self.signals else None,
            "synthetic_sample_data": self.signals.uses_sample if self.signals else False,
            "price_mode": self.signals.price_mode if self.signals else None,
            "live_prices": (
                {s: p.to_json() for s, p in sorted(self.signals.live_prices.items())} if self.signals else {}
            ),
            "price_notice": self.signals.price_notice if self.signals else None,
            "targets": self.targets,
            "weights_before": self.weights_before,
            "weights_after": self.weights_after,
            "cash_after_weight": self.cash_after_weight,
            "equity_after": self.equity_after,
            "orders": [o.to_json() for o in self.execution.orders] if self.execution else [],
            "warnings": self.warnings,
            "plan": self.plan.to_json() if self.plan else None,
            "strategies": [s.to_json() for s in self.signals.strategies] if self.signals else [],
            "timings": self.timings,
            "day_pnl": self.day_pnl,
        }


def build_plan(
    settings: Settings,
    broker: Broker,
    market: MarketData,
    report: SignalReport,
    account: Account,
    positions: list[Position],
) -> tuple[dict[str, float] | None, TradePlan | None]:
    """The target (None when a failed strategy withholds it) and the rebalance plan toward it."""
    if report.target is not None:
        target = report.target
    elif settings.on_strategy_failure == "keep_holdings" and any(s.error is None for s in report.strategies):
        target = target_with_failures(report, account, positions)
    else:
        return None, None
    prices = last_closes(market, set(target) - {p.symbol for p in positions}, report.as_of)
    if any(s.paused_since is not None for s in report.strategies):
        from alchemiser.pausing import hold_paused

        held = {sym for sig in report.strategies if sig.paused_since is not None for sym in (sig.weights or {})}
        prices = {**prices, **last_closes(market, held - set(prices) - {p.symbol for p in positions}, report.as_of)}
        target = hold_paused(settings, report.strategies, broker.name, account, positions, prices)
    symbols = set(target) | {p.symbol for p in positions}
    assets = broker.get_assets(sorted(symbols))
    return target, plan_rebalance(target, account, positions, prices, assets, settings.rebalance)


def already_ran(settings: Settings, broker: str, day: dt.date) -> RunRow | None:
    """The run that already traded this session (so another one is refused unless forced)."""
    with Ledger(settings.ledger_file) as ledger:
        done = [r for r in ledger.runs_for_day(day, broker) if r.status.took_the_session]
    return done[-1] if done else None


def refused_again(previous: RunRow) -> str:
    """Why a second run was refused, saying which run traded, when, and how to override."""
    from alchemiser.market_calendar import NY  # imported when used: the calendar is slow to load

    started = previous.started_at.astimezone(NY)
    return (
        f"this market session ({previous.trading_day}) already traded in run {previous.run_id} "
        f"({previous.status}, started {started:%H:%M} New York time); nothing was done. "
        "`trade --force` runs again anyway."
    )


def notify(settings: Settings, summary: Mapping[str, Any], pnl: float | None = None) -> str | None:
    """Send the run's notification. A notification problem never fails the run; it comes back as a warning
    for the run to show (console, --json, ledger), not only as a line in the log file."""
    from alchemiser.reporting.notify import Notifier

    targets = len(settings.notify.urls)
    try:
        delivery = Notifier(settings.notify, settings.home / "notify_state.json").notify_run(summary, pnl)
    except Exception as exc:
        log.exception("sending the notification failed")
        return f"the notification could not be sent: {type(exc).__name__}: {exc}"
    if delivery == "failed":
        return f"the notification could not be delivered to (some of) the {targets} [notify] url(s); see the log"
    return None


def run_trade(
    settings: Settings,
    broker_name: str | None = None,
    progress: Progress | None = None,
    *,
    force: bool = False,
    live: bool = False,
    price: PriceMode | None = None,
) -> TradeRun:
    """Set up a run (the once-a-session guard, market data, signals, broker, ledger) and run the session."""
    from alchemiser.market_calendar import NY

    started = time.monotonic()
    now = dt.datetime.now(NY)
    broker_label = broker_name or settings.broker
    previous = None if force else already_ran(settings, broker_label, now.date())
    if previous is not None:
        log.info("refusing a second run this session", extra={"previous_run": previous.run_id})
        return TradeRun("", RunStatus.ALREADY_RAN, refused_again(previous), None)
    market = build_market(settings)
    signals, broker = _decide(settings, market, broker_name, live, price, wrap=True)
    timings = {"signals_s": round(time.monotonic() - started, 3)}
    mode = "sim" if broker_label == "sim" else "live" if live else "paper"
    with Ledger(settings.ledger_file) as ledger:
        try:
            return run_session(
                broker,
                ledger,
                progress or (lambda _: None),
                settings,
                now,
                Decided(market, signals, timings),
                mode=mode,
                started=started,
            )
        finally:
            broker.close()


@dataclass(frozen=True)
class Decided:
    """What a session trades on: the market data it planned from, the signals, and how long deciding took."""

    market: MarketData
    signals: SignalReport
    timings: dict[str, float] = field(default_factory=dict)


def run_session(
    broker: Broker,
    ledger: Ledger,
    progress: Progress,
    settings: Settings,
    now: dt.datetime,
    decided: Decided,
    *,
    mode: str,
    started: float | None = None,
) -> TradeRun:
    """One trading session on an open broker and ledger: close runs a crash left open, record the run and
    its signals, check the clock, reconcile, rails, plan, sell then buy, snapshot, finish and notify.

    `now` is aware and fixes the trading day and the run id; `progress` receives the run's progress lines;
    `mode` is what the ledger records (sim, paper, live). The caller owns (and closes) broker and ledger.
    Never refuses a second run of the session: that guard is the caller's (`already_ran`).
    """
    started = time.monotonic() if started is None else started
    report, day = decided.signals, now.date()
    run_id = f"{now:%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"
    for stale in ledger.unfinished_runs():
        ledger.finish_run(
            stale.run_id, RunStatus.FAILED, message=f"interrupted (the process died); resumed by run {run_id}"
        )
    ledger.start_run(run_id, mode=mode, broker=broker.name, trading_day=day, config_digest=config_digest(settings))
    ledger.record_signals(run_id, [s.to_json() for s in report.strategies])
    run = TradeRun(run_id, RunStatus.RUNNING, "", report, timings=dict(decided.timings), trading_day=day)
    rails = Rails(settings.rails, settings.home / "KILL")
    executor: Executor | None = None
    try:
        if report.target is None and settings.on_strategy_failure == "trade_nothing":
            failed = "; ".join(f"{s.name}: {s.error}" for s in report.strategies if s.error)
            return _finish(settings, ledger, run, RunStatus.FAILED, f"no trades: a strategy failed ({failed})")
        clock = broker.get_clock()
        if not clock.is_open:
            message = f"the market is closed; next open {clock.next_open}"
            return _finish(settings, ledger, run, RunStatus.MARKET_CLOSED, message)
        executor = Executor(broker, ledger, run_id, now.strftime("%Y%m%d"), settings.execution, progress, rails)
        account, positions, halt = open_day(executor, broker, ledger, rails, run, day)
        if halt:
            return _finish(settings, ledger, run, RunStatus.HALTED, halt)
        target, plan = build_plan(settings, broker, decided.market, report, account, positions)
        if target is None or plan is None:
            return _finish(settings, ledger, run, RunStatus.FAILED, "no target: every strategy failed")
        run.targets, run.plan = target, plan
        ledger.record_plan(run_id, [i.to_json() for i in plan.items])
        if plan.is_empty:
            status, message = RunStatus.NOTHING_TO_DO, "portfolio already matches the target"
        else:
            run.execution = executor.execute(plan, positions)
            status = run.execution.status.run_status
            message = f"{len(run.execution.orders)} order(s)"  # `_finish` adds the warning count
            run.timings.update(run.execution.timings)
        close_day(broker, ledger, run, started)
        return _finish(settings, ledger, run, status, message)
    except AlchemiserError as exc:
        return _finish(settings, ledger, run, RunStatus.FAILED, str(exc))
    except BaseException as exc:
        _finish(settings, ledger, run, RunStatus.FAILED, f"crashed: {type(exc).__name__}: {exc}")
        raise
    finally:
        if executor is not None:
            executor.close()


def open_day(
    executor: Executor, broker: Broker, ledger: Ledger, rails: Rails, run: TradeRun, day: dt.date
) -> tuple[Account, list[Position], str | None]:
    """What every run that may trade does first, in this order: reconcile our stale orders, read the account,
    open the rails' day, and — unless the rails halt it (the reason is returned) — record the "before"
    snapshot. Shared by `run_session` and `liquidate` so both obey the same rails the same way."""
    executor.reconcile()
    account, positions = broker.get_account(), broker.get_positions()
    rails.open_day(account.equity, ledger.traded_on(day))
    halt = rails.killed()
    if not halt:
        ledger.record_snapshot(run.run_id, "before", account, positions)
        run.weights_before = weights_of(account, positions)
    return account, positions, halt


def close_day(broker: Broker, ledger: Ledger, run: TradeRun, started: float) -> None:
    """The "after" snapshot and the run's closing figures, once its orders are done."""
    account, positions = broker.get_account(), broker.get_positions()
    ledger.record_snapshot(run.run_id, "after", account, positions)
    run.weights_after = weights_of(account, positions)
    run.cash_after_weight = float(account.cash / account.equity) if account.equity > 0 else None
    run.equity_after = str(account.equity)
    run.timings["total_s"] = round(time.monotonic() - started, 3)


def _with_warnings(message: str, run: TradeRun) -> str:
    count = len(run.warnings)
    return f"{message}; {count} warning(s)" if count or run.execution is not None else message


def _finish(settings: Settings, ledger: Ledger, run: TradeRun, status: RunStatus, message: str) -> TradeRun:
    """Record the outcome first (a crash while notifying must not lose it), then notify; an undelivered
    notification becomes a run warning and the record is updated to say so."""
    run.status, run.message = status, _with_warnings(message, run)
    ledger.finish_run(run.run_id, status, message=run.message, summary=run.to_json(), timings=run.timings)
    log.info("run finished", extra={"run_id": run.run_id, "status": str(status), "detail": run.message})
    if run.equity_after is not None and run.trading_day is not None:
        before = ledger.equity_before(run.trading_day)
        run.day_pnl = None if before is None else float(Decimal(run.equity_after) - before)
    problem = notify(settings, run.to_json(), run.day_pnl)
    if problem is not None:
        run.notices.append(problem)
        run.message = _with_warnings(message, run)
        ledger.finish_run(run.run_id, status, message=run.message, summary=run.to_json(), timings=run.timings)
    return run


def account_status(settings: Settings, broker_name: str | None = None, live: bool = False) -> AccountStatus:
    """Account, positions (with weight and P&L) and open orders, read once from the broker."""
    market = build_market(settings)
    broker = open_broker(settings, market, _latest_session(), broker_name, live=live)
    try:
        account, positions, orders = broker.get_account(), broker.get_positions(), broker.list_orders("open")
    finally:
        broker.close()
    return AccountStatus(broker.name, account, positions, orders, weights_of(account, positions))


def _decide(
    settings: Settings,
    market: MarketData,
    broker_name: str | None,
    live: bool,
    price: PriceMode | None,
    *,
    wrap: bool = False,
) -> tuple[SignalReport, Broker]:
    """The signals and the open broker. With live prices the broker comes first (it supplies them)."""
    if (price or settings.signals.price) == "live":
        broker = open_broker(settings, market, _latest_session(), broker_name, live=live)
        broker = maybe_wrap(broker) if wrap else broker
        try:
            return compute_signals(settings, market=market, price="live", feed=feed_of(broker)), broker
        except BaseException:
            broker.close()
            raise
    report = compute_signals(settings, market=market, price="previous_close")
    broker = open_broker(settings, market, report.as_of, broker_name, live=live)
    return report, (maybe_wrap(broker) if wrap else broker)


def _latest_session() -> dt.date:
    from alchemiser import market_calendar

    return market_calendar.last_completed_session()


class PlanPreviewJson(TypedDict):
    """`plan --json`: the plan a run would execute now, without trading."""

    as_of: Annotated[str, "the session the signals decided on (YYYY-MM-DD)"]
    price_mode: Annotated[PriceMode, "previous_close or live"]
    live_prices: Annotated[dict[str, LivePriceJson], "symbol → live price read ({} with previous_close)"]
    price_notice: Annotated[str | None, "e.g. live was asked for but the market is closed"]
    target: Annotated[dict[str, float] | None, "symbol → target weight (0–1), null when a failed strategy withholds it"]
    plan: TradePlanJson | None
    strategies: list[StrategySignalJson]


@dataclass(frozen=True)
class PlanPreview:
    """What `plan` shows: the signals, the blended target and the rebalance plan toward it."""

    report: SignalReport
    target: dict[str, float] | None
    plan: TradePlan | None  # None when no plan can be made (a failed strategy, missing data)
    account: Account

    def to_json(self) -> PlanPreviewJson:
        return {
            "as_of": self.report.as_of.isoformat(),
            "price_mode": self.report.price_mode,
            "live_prices": {s: p.to_json() for s, p in sorted(self.report.live_prices.items())},
            "price_notice": self.report.price_notice,
            "target": self.target,
            "plan": self.plan.to_json() if self.plan else None,
            "strategies": [s.to_json() for s in self.report.strategies],
        }


def plan_only(
    settings: Settings, broker_name: str | None = None, live: bool = False, price: PriceMode | None = None
) -> PlanPreview:
    """The plan a run would execute now, without trading (read-only broker calls)."""
    market = build_market(settings)
    report, broker = _decide(settings, market, broker_name, live, price)
    try:
        account, positions = broker.get_account(), broker.get_positions()
        target, plan = build_plan(settings, broker, market, report, account, positions)
        return PlanPreview(report, target, plan, account)
    finally:
        broker.close()
