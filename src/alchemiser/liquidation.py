"""Liquidate to cash: sell every position through the executor's sell path, recorded as a run.

A liquidation is a run like `trade`'s: it is started and finished in the ledger (with before/after
snapshots, its plan and every order), reconciles our stale orders first, and obeys the safety rails — so
while the kill switch is on, it places nothing (the kill switch is never changed here; the next scheduled
run buys back in unless the kill switch is on or the strategies are paused). Full exits go through the
broker's close-position and each sell is waited on until it fills, as in a normal run's sell phase. It is
not subject to the once-a-session guard, but it does count as the session's run for `trade`. It records
each configured strategy's allocation as all cash, so a paused strategy holds cash afterwards (not the
positions it held before) and the per-strategy sleeves follow the sale.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from decimal import Decimal

from alchemiser.config import Settings
from alchemiser.errors import AlchemiserError
from alchemiser.execution.executor import Executor
from alchemiser.execution.rails import Rails
from alchemiser.ledger import Ledger
from alchemiser.models import RunStatus
from alchemiser.portfolio.plan import plan_rebalance
from alchemiser.runner import (
    Progress,
    TradeRun,
    _finish,
    _latest_session,
    close_day,
    config_digest,
    open_broker,
    open_day,
)
from alchemiser.signals import build_market


def liquidate(
    settings: Settings, broker_name: str | None = None, progress: Progress | None = None, *, live: bool = False
) -> TradeRun:
    """Sell everything on the configured (or given) broker and record it as a run; returns the run."""
    from alchemiser.market_calendar import NY

    started = time.monotonic()
    now = dt.datetime.now(NY)
    label = broker_name or settings.broker
    mode = "sim" if label == "sim" else "live" if live else "paper"
    market = build_market(settings)
    broker = open_broker(settings, market, _latest_session(), broker_name, live=live)
    say = progress or (lambda _: None)
    try:
        with Ledger(settings.ledger_file) as ledger:
            run_id = f"{now:%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"
            day = now.date()
            ledger.start_run(
                run_id, mode=mode, broker=broker.name, trading_day=day, config_digest=config_digest(settings)
            )
            # every sleeve's allocation is now cash: what a paused strategy holds from here on, and what the
            # dashboard's per-strategy sleeves follow
            cash = [
                {"name": s.name, "source": "liquidate", "share": s.weight, "ok": True, "weights": {}}
                for s in settings.strategies
            ]
            ledger.record_signals(run_id, cash)
            run = TradeRun(run_id, RunStatus.RUNNING, "", None, trading_day=day)
            rails = Rails(settings.rails, settings.home / "KILL")
            executor: Executor | None = None
            try:
                clock = broker.get_clock()
                if not clock.is_open:
                    message = f"the market is closed; nothing was sold (next open {clock.next_open})"
                    return _finish(settings, ledger, run, RunStatus.MARKET_CLOSED, message)
                executor = Executor(broker, ledger, run_id, now.strftime("%Y%m%d"), settings.execution, say, rails)
                account, positions, halt = open_day(executor, broker, ledger, rails, run, day)
                if halt:
                    return _finish(settings, ledger, run, RunStatus.HALTED, f"{halt}; nothing was sold")
                # every position is an exit, however small: no minimum trade, no drift band
                rules = settings.rebalance.model_copy(update={"min_trade_usd": Decimal(0), "drift_band_pct": 0.0})
                assets = broker.get_assets(sorted({p.symbol for p in positions}))
                run.plan = plan_rebalance({}, account, positions, {}, assets, rules)
                ledger.record_plan(run_id, [i.to_json() for i in run.plan.items])
                if run.plan.is_empty:
                    status, message = RunStatus.NOTHING_TO_DO, "liquidate: no positions; already all cash"
                else:
                    say(f"liquidating {len(run.plan.sells)} position(s)")
                    run.execution = executor.execute(run.plan, positions)
                    status = run.execution.status.run_status
                    message = f"liquidate: {len(run.execution.orders)} order(s)"
                    run.timings.update(run.execution.timings)
                close_day(broker, ledger, run, started)
                return _finish(settings, ledger, run, status, message)
            except AlchemiserError as exc:
                return _finish(settings, ledger, run, RunStatus.FAILED, f"liquidate: {exc}")
            except BaseException as exc:
                _finish(settings, ledger, run, RunStatus.FAILED, f"liquidate crashed: {type(exc).__name__}: {exc}")
                raise
            finally:
                if executor is not None:
                    executor.close()
    finally:
        broker.close()
