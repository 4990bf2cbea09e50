"""The reference engine: each rebalance runs the live `plan_rebalance` and `size_buys` on a Decimal book.

This is the definition of a backtest's rules: the live planner, the simulated exchange's fills (market
orders at the reference price moved by the slippage, sells first, buys sized from the cash the sells left)
and the costs. The fast path (`fast.py`) re-states the same rules in floats for speed; a test runs both on
every built-in and on generated symphonies and asserts they agree, so this loop stays the one to read and
to change first. Run it with `simulate(..., engine="reference")`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

import numpy as np

from alchemiser.backtest.simulation import Inputs, Outputs, Trade
from alchemiser.indicators import FloatArray
from alchemiser.models import Account, Asset, Position
from alchemiser.portfolio.plan import RebalanceRules, floor_qty, plan_rebalance, size_buys

FINE_STEP = Decimal("1e-18")
ZERO = Decimal(0)


class _Book:
    """The simulated account: Decimal cash and quantities, as the broker boundary keeps them."""

    def __init__(self, capital: Decimal, non_fractionable: frozenset[str]) -> None:
        self.cash = capital
        self.qty: dict[str, Decimal] = {}
        self.cost: dict[str, Decimal] = {}
        self.non_fractionable = non_fractionable
        self.version = 0  # bumped by every fill
        self.settled: tuple[str, int] | None = None  # (sole target symbol, version) whose plan came out empty

    def is_settled(self, target: dict[str, float], rules: RebalanceRules) -> bool:
        """Whether today's plan is certainly empty without running it.

        A book holding only the sole symbol of a 100 % target cannot drift: with no cash buffer and no drift
        band, the plan's only possible trade is the idle cash, which does not change without a fill. So once
        such a plan came out empty, it stays empty until the target or the book changes.
        """
        if self.settled is None or rules.cash_buffer_pct or rules.drift_band_pct or len(target) != 1:
            return False
        (symbol,) = target
        return self.settled == (symbol, self.version) and self.qty.keys() == {symbol}

    def positions(self, prices: dict[str, Decimal]) -> list[Position]:
        return [Position(s, q, self.cost[s], prices[s], q * prices[s]) for s, q in sorted(self.qty.items()) if q > 0]

    def equity(self, prices: dict[str, Decimal]) -> Decimal:
        return self.cash + sum((q * prices[s] for s, q in self.qty.items()), ZERO)

    def trade(self, day: dt.date, symbol: str, qty: Decimal, price: Decimal, fee_rate: Decimal) -> Trade:
        """Book a fill: qty > 0 buys, qty < 0 sells (never more than held)."""
        held = self.qty.get(symbol, ZERO)
        if qty < 0:
            qty = -min(-qty, held)
        value = abs(qty) * price
        fee = value * fee_rate
        self.cash += -qty * price - fee
        self.version += 1
        new = held + qty
        if qty > 0:
            self.cost[symbol] = (self.cost.get(symbol, ZERO) * held + value) / new
        if new <= 0:
            self.qty.pop(symbol, None)
            self.cost.pop(symbol, None)
        else:
            self.qty[symbol] = new
        return Trade(day, symbol, "buy" if qty > 0 else "sell", abs(qty), price, value, fee)


def _dec(value: float) -> Decimal:
    return Decimal(repr(float(value)))


def run_reference(run: Inputs, progress: Callable[[int, int], None] | None = None) -> Outputs:
    """Trade the blended targets day by day through the live planner on a Decimal book."""
    symbols, targets, valid, closes, opens = run.symbols, run.targets, run.valid, run.closes, run.opens
    first, last, corridor, rules = run.first, run.last, run.corridor, run.rules
    book = _Book(run.capital, run.non_fractionable)
    # a simulation needs no broker's 9-decimal limit: adjusted histories of decaying products reach prices
    # where 9 decimals would round whole positions away
    assets = {
        s: Asset(s, True, s not in run.non_fractionable, qty_increment=None if s in run.non_fractionable else FINE_STEP)
        for s in symbols
    }
    slip, fee_rate = run.slippage, run.fee_rate
    n = last - first
    out = Outputs.empty(n, len(symbols), bool(slip or fee_rate))
    sleeves, trades = out.sleeves, []
    costly = sleeves.costs is not None
    pending: int | None = None  # next-open: the index of the day whose decision executes at today's open
    invested = False  # the initial purchase happens on the first decided day, whatever the schedule
    column = {s: j for j, s in enumerate(symbols)}
    days = run.days

    def execute(decision_day: int, at: int, reference: FloatArray) -> bool:
        """Plan toward `decision_day`'s target with the live planner; fill at `reference` prices of day `at`.

        Returns whether the book was brought to that target (False: inside the corridor, left to drift).
        """
        row = targets[decision_day]
        target = {symbols[j]: float(row[j]) for j in np.flatnonzero(row > 1e-12)}
        if run.skip_settled_days and book.is_settled(target, rules):
            sleeves.planned[at - first] = decision_day
            return True
        needed = set(target) | set(book.qty)
        if not all(np.isfinite(reference[column[s]]) for s in needed):
            return False  # no price to trade a symbol at (delisted, or not listed yet): the book holds
        prices = {s: _dec(reference[column[s]]) for s in needed}
        positions = book.positions(prices)
        worth = book.equity(prices)
        if corridor is not None and invested and not _drifted(positions, worth, target, corridor):
            return False
        sleeves.planned[at - first] = decision_day
        account = Account("backtest", worth, book.cash, book.cash)
        plan = plan_rebalance(target, account, positions, prices, assets, rules)
        if plan.is_empty:
            book.settled = (next(iter(target)), book.version) if len(target) == 1 else None
            return True
        day = days[at]
        traded = ZERO
        for item in plan.sells:
            sell = item.current_qty if item.action == "exit" else (item.qty or ZERO)
            done = book.trade(day, item.symbol, -sell, prices[item.symbol] * (1 - slip), fee_rate)
            trades.append(done)
            traded += done.value
            if costly:
                sleeves.record(at - first, column[item.symbol], -done.qty, done.price, prices[item.symbol], done.fee)
        sized, _ = size_buys(plan, book.cash / (1 + fee_rate))
        for item, dollars in sized:
            price = prices[item.symbol] * (1 + slip)
            qty = floor_qty(dollars / price, item.qty_step)
            if qty > 0:
                done = book.trade(day, item.symbol, qty, price, fee_rate)
                trades.append(done)
                traded += done.value
                if costly:
                    sleeves.record(at - first, column[item.symbol], done.qty, done.price, prices[item.symbol], done.fee)
        out.turnover[at - first] = float(traded / worth) if worth > 0 else 0.0
        out.rebalanced[at - first] = True
        return True

    for at in range(first, last):
        if pending is not None:
            invested = execute(pending, at, opens[at]) or invested
            pending = None
        if (run.scheduled[at] or not invested) and valid[at]:
            if not run.next_open:
                invested = execute(at, at, closes[at]) or invested
            elif at + 1 < len(days):
                pending = at
        # daily valuation in floats (exact to far below a cent); the book itself stays in Decimal
        values = {s: float(q) * closes[at][column[s]] for s, q in book.qty.items()}
        worth = float(book.cash) + sum(values.values())
        out.equity[at - first] = worth
        out.cash[at - first] = float(book.cash)
        if worth > 0:
            for s, v in values.items():
                out.weights[at - first, column[s]] = v / worth
        if progress is not None and (at - first) % 250 == 0:
            progress(at - first, n)
    out.trades = trades
    return out


def _drifted(positions: list[Position], equity: Decimal, target: dict[str, float], threshold: float) -> bool:
    """Threshold rebalancing: trade only when some weight is more than `threshold` away from target."""
    if equity <= 0:
        return True
    current = {p.symbol: float(p.market_value / equity) for p in positions}
    return any(abs(current.get(s, 0.0) - target.get(s, 0.0)) > threshold for s in set(current) | set(target))
