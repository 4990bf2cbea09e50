"""The fast path: the reference engine's rules (live planner, sizing, fills, costs) in one compiled loop.

`reference.py` is the definition; this module re-states it over float64 arrays so the per-day loop can be
compiled with numba (`_kernel` is plain Python that numba compiles once and caches on disk; without numba
it runs as Python, slowly but with the same results). Every rule of `plan_rebalance`, `size_buys` and the
simulated book appears here in the same order: targets above 1e-12, exits of unwanted holdings, the
minimum trade, the drift band, trims that become full exits, whole shares for non-fractionable assets,
cent rounding of planned dollars (half-even) and of sized buys (down), sells before buys, buys scaled to
the cash the sells left, and the settled-day skip. Floats instead of Decimals change results by far less
than a cent; `tests/backtest/test_fast_engine.py` holds both engines to 1e-9 relative on every built-in and
on generated symphonies, across schedules, fills, costs and fractionability.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import numpy as np

from alchemiser.backtest.reference import run_reference
from alchemiser.backtest.simulation import Inputs, Outputs, TradeLog

_compiled: Callable[..., int] | None = None
# Near-ties: where a rounding, a floor or a comparison is this close to its boundary, floats cannot promise
# the Decimal outcome (a cent one way or the other), so the kernel gives up and the reference runs instead.
TIE = 1e-13  # relative: far above the floats' drift from the Decimal book (~1e-14 over 20 years)
TINY = 1e-9  # absolute, in the unit compared (cents, shares, weights)
EXACT = 1e-15  # relative, for values computed from exact cents and a price (a few float roundings)
MATTERS = 1e9  # a quantity of more steps than this moves by < 1e-9 when floored one step the other way
fallbacks = 0  # how many runs the reference engine took over (see `run_fast`)


def _kernel(  # one loop on purpose: numba compiles it as a single function
    targets: Any,
    valid: Any,
    closes: Any,
    opens: Any,
    scheduled: Any,
    fractional: Any,
    first: int,
    last: int,
    sessions: int,
    next_open: bool,
    corridor: float,
    capital: float,
    slip: float,
    fee_rate: float,
    min_trade: float,
    drift_band: float,
    buffer_pct: float,
    full_exit: float,
    skip_settled: bool,
    costly: bool,
    equity: Any,
    cash_out: Any,
    weights: Any,
    turnover: Any,
    rebalanced: Any,
    planned: Any,
    costs: Any,
    flows: Any,
    fills: Any,
) -> int:
    """Run days [first, last); fill the output arrays and return the number of fills written to `fills`,
    or -1 when a near-tie makes the float result uncertain (then the outputs are incomplete)."""
    m = targets.shape[1]
    # quantities are floored to the asset's step, as `floor_qty` does: whole shares, or 1e-18 (which
    # matters: adjusted histories of decaying products reach prices where a position is 1e-12 shares)
    units = np.where(fractional, 1e18, 1.0)  # steps per share
    qty = np.zeros(m)
    action = np.zeros(m, dtype=np.int64)  # 0 hold, 1 exit, 2 trim, 3 buy
    amount = np.zeros(m)  # shares to sell (exit/trim) or planned buy in cents
    cash = capital
    version = 0
    settled_symbol = -1
    settled_version = -1
    pending = -1
    invested = False
    count = 0
    for at in range(first, last):
        r = at - first
        for step in range(2):
            if step == 0:
                if pending < 0:
                    continue
                decision = pending
                pending = -1
                ref = opens[at]
            else:
                if not ((scheduled[at] or not invested) and valid[at]):
                    continue
                if next_open:
                    if at + 1 < sessions:
                        pending = at
                    continue
                decision = at
                ref = closes[at]
            row = targets[decision]
            wanted_count = 0
            sole = -1
            held_count = 0
            worth = cash
            priced = True
            for j in range(m):
                if row[j] > 1e-12:
                    wanted_count += 1
                    sole = j
                    priced = priced and np.isfinite(ref[j])
                if qty[j] > 0:
                    held_count += 1
                    worth += qty[j] * ref[j]
                    priced = priced and np.isfinite(ref[j])
            if (
                skip_settled
                and settled_symbol >= 0
                and buffer_pct == 0.0
                and drift_band == 0.0
                and wanted_count == 1
                and settled_symbol == sole
                and settled_version == version
                and held_count == 1
                and qty[sole] > 0
            ):
                planned[r] = decision
                invested = True
                continue
            if not priced:
                continue  # no price to trade a symbol at (delisted, or not listed yet): the book holds
            if corridor >= 0.0 and invested:
                drifted = worth <= 0.0
                for j in range(m):
                    if drifted:
                        break
                    target = row[j] if row[j] > 1e-12 else 0.0
                    if qty[j] > 0 or target > 0.0:
                        current = qty[j] * ref[j] / worth if qty[j] > 0 else 0.0
                        drift = abs(current - target)
                        if abs(drift - corridor) <= TINY:
                            return -1
                        drifted = drift > corridor
                if not drifted:
                    continue
            planned[r] = decision
            invested = True
            x = worth * buffer_pct  # the buffer in cents
            if abs(x - np.floor(x) - 0.5) <= TIE * x + TINY:
                return -1
            buffer = np.rint(x) / 100.0
            investable = max(worth - buffer, 0.0)
            trading = False
            for j in range(m):
                action[j] = 0
                held = qty[j]
                weight = row[j] if row[j] > 1e-12 else 0.0
                if held <= 0 and weight <= 0.0:
                    continue
                price = ref[j]
                value = held * price if held > 0 else 0.0
                current = value / worth if worth > 0 else 0.0
                x = investable * weight * 100.0  # the target value in cents
                if abs(x - np.floor(x) - 0.5) <= TIE * x + TINY:
                    return -1
                trade = np.rint(x) / 100.0 - value
                if abs(abs(trade) - min_trade) <= TIE * min_trade + TINY:
                    return -1
                if drift_band > 0.0 and abs(abs(current - weight) - drift_band / 100.0) <= TINY:
                    return -1
                if weight <= 0.0 and held > 0:
                    action[j] = 1
                    amount[j] = held
                elif (
                    abs(trade) < min_trade  # below the minimum trade
                    or (drift_band > 0.0 and abs(current - weight) < drift_band / 100.0)  # inside the drift band
                    or price <= 0  # no price to size the trade
                ):
                    pass  # hold
                elif trade < 0:
                    y = -trade / price * units[j]
                    if y < MATTERS and abs(y - np.rint(y)) <= TIE * y + TINY:
                        return -1
                    shares = np.floor(y) / units[j]
                    shares = min(held, shares) if shares > 0 else 0.0
                    if abs(shares - held * full_exit) <= TIE * held:
                        return -1
                    if shares >= held * full_exit:
                        action[j] = 1
                        amount[j] = held
                    elif shares > 0:
                        action[j] = 2
                        amount[j] = shares
                elif not fractional[j]:
                    y = trade / price
                    x = np.floor(y) * price * 100.0
                    if abs(y - np.rint(y)) <= TIE * y + TINY or abs(x - np.floor(x) - 0.5) <= TIE * x + TINY:
                        return -1
                    if y >= 1.0:
                        action[j] = 3
                        amount[j] = np.rint(x)
                else:
                    x = trade * 100.0
                    if abs(x - np.floor(x) - 0.5) <= TIE * x + TINY:
                        return -1
                    action[j] = 3
                    amount[j] = np.rint(x)
                trading = trading or action[j] != 0
            if not trading:
                settled_symbol = sole if wanted_count == 1 else -1
                settled_version = version
                continue
            traded = 0.0
            for j in range(m):
                if action[j] == 1 or action[j] == 2:
                    price = ref[j] * (1.0 - slip)
                    sold = min(amount[j], qty[j])
                    value = sold * price
                    fee = value * fee_rate
                    cash += value - fee
                    version += 1
                    qty[j] -= sold
                    if qty[j] <= 0:
                        qty[j] = 0.0
                    fills[count, 0] = at
                    fills[count, 1] = j
                    fills[count, 2] = -sold
                    fills[count, 3] = price
                    fills[count, 4] = value
                    fills[count, 5] = fee
                    count += 1
                    traded += value
                    if costly:
                        costs[r, j] += sold * abs(price - ref[j]) + fee
                        flows[r, j] -= sold * ref[j]
            available = max(cash / (1.0 + fee_rate) - buffer, 0.0) * 100.0
            wanted = 0.0
            for j in range(m):
                if action[j] == 3:
                    wanted += amount[j]
            if available != wanted and abs(available - wanted) <= TIE * wanted + TINY:
                return -1  # equal in exact arithmetic decides whether every buy loses a cent
            scale = min(1.0, available / wanted) if wanted > 0 else 0.0
            for j in range(m):
                if action[j] != 3:
                    continue
                x = amount[j] * scale
                if scale < 1.0 and abs(x - np.rint(x)) <= TIE * x + TINY:
                    return -1
                dollars = (amount[j] if scale == 1.0 else np.floor(x)) / 100.0
                price = ref[j] * (1.0 + slip)
                y = dollars / price * units[j]
                if y < MATTERS and abs(y - np.rint(y)) <= EXACT * y + TINY:
                    return -1
                bought = np.floor(y) / units[j]
                if bought > 0:
                    value = bought * price
                    fee = value * fee_rate
                    cash -= value + fee
                    version += 1
                    qty[j] += bought
                    fills[count, 0] = at
                    fills[count, 1] = j
                    fills[count, 2] = bought
                    fills[count, 3] = price
                    fills[count, 4] = value
                    fills[count, 5] = fee
                    count += 1
                    traded += value
                    if costly:
                        costs[r, j] += bought * abs(price - ref[j]) + fee
                        flows[r, j] += bought * ref[j]
            turnover[r] = traded / worth if worth > 0 else 0.0
            rebalanced[r] = True
        worth = cash
        for j in range(m):
            if qty[j] > 0:
                worth += qty[j] * closes[at, j]
        equity[r] = worth
        cash_out[r] = cash
        if worth > 0:
            for j in range(m):
                if qty[j] > 0:
                    weights[r, j] = qty[j] * closes[at, j] / worth
    return count


def compiled_kernel() -> Callable[..., int]:
    """The loop compiled by numba (imported here, not at start-up: it takes a moment), cached on disk."""
    global _compiled
    if _compiled is None:
        try:
            import numba
        except ImportError:  # pragma: no cover - numba is a declared dependency; this keeps odd installs working
            _compiled = _kernel
        else:
            _compiled = cast(Callable[..., int], numba.njit(cache=True, nogil=True)(_kernel))
    return _compiled


def run_fast(run: Inputs, compiled: bool = True) -> Outputs:
    """The reference engine's results, from the compiled loop (`compiled=False`: the same loop in Python)."""
    symbols = run.symbols
    n, m = run.last - run.first, len(symbols)
    out = Outputs.empty(n, m, bool(run.slippage or run.fee_rate))
    sleeves = out.sleeves
    costly = sleeves.costs is not None and sleeves.flows is not None
    dummy = np.zeros((1, 1))
    fills = np.empty((max(n, 1) * max(m, 1), 6))
    kernel = compiled_kernel() if compiled else _kernel
    count = kernel(
        run.targets,
        run.valid,
        run.closes,
        run.opens,
        run.scheduled,
        np.array([s not in run.non_fractionable for s in symbols], dtype=np.bool_),
        run.first,
        run.last,
        len(run.days),
        run.next_open,
        -1.0 if run.corridor is None else float(run.corridor),
        float(run.capital),
        float(run.slippage),
        float(run.fee_rate),
        float(run.rules.min_trade_usd),
        float(run.rules.drift_band_pct),
        float(run.rules.cash_buffer_pct),
        float(run.rules.full_exit_fraction),
        run.skip_settled_days,
        costly,
        out.equity,
        out.cash,
        out.weights,
        out.turnover,
        out.rebalanced,
        sleeves.planned,
        sleeves.costs if sleeves.costs is not None else dummy,
        sleeves.flows if sleeves.flows is not None else dummy,
        fills,
    )
    if count < 0:
        global fallbacks
        fallbacks += 1
        return run_reference(run)
    out.trades = TradeLog(run.days, symbols, fills[:count].copy())
    return out
