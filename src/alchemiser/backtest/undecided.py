"""Why a backtest starts where it does, and what happened on days a strategy could not decide.

A strategy that cannot decide (an indicator of a young ticker lacks history) leaves the book holding what it
held: acceptable for a day, misleading when silent. So the default start is explained by naming the
strategy, indicator and ticker that set it, and when a user forces an earlier `--start` every undecided day
is counted per strategy, with what the book did on them, in the terminal, `--json` and report.html.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from alchemiser.backtest.engine import BacktestResult
from alchemiser.backtest.schema import UndecidedJson
from alchemiser.data.history import PriceHistory
from alchemiser.errors import AlchemiserError
from alchemiser.strategies.base import Strategy
from alchemiser.strategies.symphony.evaluator import AllocationMatrix


def reason(strategy: Strategy, history: PriceHistory, day: dt.date) -> str:
    """The strategy's own explanation of why it cannot decide on `day` (its decision path, located)."""
    try:
        strategy.decide(history.until(day))
    except AlchemiserError as exc:
        text = str(exc)
        young = _young_ticker(text, history)
        return f"{text}; {young}'s history begins {_first_day(history, young)}" if young else text
    return "it could not decide"


def _first_day(history: PriceHistory, symbol: str) -> dt.date:
    return history.dates[int(np.argmax(np.isfinite(history.closes[symbol])))].date()


def _young_ticker(text: str, history: PriceHistory) -> str | None:
    """The ticker named in `text` whose history begins last (the one that limits the start)."""
    unquoted = re.sub(r"'[^']*'", "", text)  # group names are labels, not tickers
    named = [w for w in re.findall(r"[A-Z0-9][A-Z0-9.\-/]*", unquoted) if w in history.closes]
    return max(named, key=lambda s: _first_day(history, s), default=None)


Entry = tuple[str, Strategy, AllocationMatrix]  # name, strategy, its evaluated weights on every date


def start_note(
    strategies: Sequence[Entry], result: BacktestResult, history: PriceHistory, asked: dt.date | None
) -> str | None:
    """Why the backtest starts where it does when that is not the data's (or the asked) first day.

    Names the strategy whose warm-up ends last, with its own reason on its last undecided day.
    """
    begin, settled = result.dates[0].date(), result.settled
    floor = max(asked, history.dates[0].date()) if asked else history.dates[0].date()
    if settled <= floor:
        return None
    limit = _limiting(strategies, history, settled)
    if asked is not None and begin < settled:
        return (
            f"--start {asked} is earlier than {settled}, the first day from which every strategy can decide every "
            f"day ({limit}); the days on which a strategy could not decide are counted below"
        )
    return f"starts {begin}, the first day from which every strategy can decide every day: {limit}"


def _limiting(strategies: Sequence[Entry], history: PriceHistory, settled: dt.date) -> str:
    at = int(history.dates.searchsorted(pd.Timestamp(settled)))
    latest: tuple[int, str, Strategy] | None = None
    for name, strategy, matrix in strategies:
        misses = np.flatnonzero(~matrix.valid[:at])
        if misses.size and (latest is None or misses[-1] > latest[0]):
            latest = (int(misses[-1]), name, strategy)
    if latest is None:  # pragma: no cover - a later start always has an undecided day before it
        return "a strategy could not decide before it"
    index, name, strategy = latest
    day = history.dates[index].date()
    return f"{name} could not on {day} ({reason(strategy, history, day)})"


def summary(strategies: Sequence[Entry], result: BacktestResult, history: PriceHistory) -> list[UndecidedJson]:
    """Per strategy with undecided days: how many, when, why (the first), and what the book did."""
    invested = (result.equity - result.cash) > 1e-9 * np.abs(result.equity)
    out: list[UndecidedJson] = []
    for k, (name, strategy, _) in enumerate(strategies):
        days = np.flatnonzero(result.undecided[:, k])
        if not days.size:
            continue
        last = result.dates[days[-1]].date()
        held = int(invested[days].sum())
        out.append(
            {
                "strategy": name,
                "days": int(days.size),
                "first": result.dates[days[0]].date().isoformat(),
                "last": last.isoformat(),
                "held_cash_days": int(days.size - held),
                "held_positions_days": held,
                "reason": reason(strategy, history, last),  # the last: what ended the undecided stretch
            }
        )
    return out


def warning(entry: UndecidedJson, total: int) -> str:
    """One line for the terminal and report: the count, the span, what the book did, and why."""
    return (
        f"{entry['strategy']} could not decide on {entry['days']} of {total} days ({entry['first']} … "
        f"{entry['last']}); the book made no trade on them (stayed in cash on {entry['held_cash_days']}, "
        f"held its positions on {entry['held_positions_days']}). On {entry['last']}: {entry['reason']}"
    )
