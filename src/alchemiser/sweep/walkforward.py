"""Walk-forward testing: choose on in-sample windows, judge on the out-of-sample windows that follow.

A sweep's best configuration over the whole period is the one that fitted that period best; its figures
say little about the next year. Walk-forward splits the session calendar into folds: each fold's
in-sample (IS) window picks the best configuration by the spec's rank metric, and that one configuration
is then scored on the fold's out-of-sample (OOS) window, which no choice has seen. The OOS windows,
chained end to end (each fold starting from the previous fold's final value), form the headline curve.

Windows are sized in sessions (`252`, `"252s"`) or calendar months/years (`"18m"`, `"5y"`):
- rolling:  IS = a window of fixed size that slides by `step`; OOS = the window right after it;
- anchored: IS always starts at the period's first session and grows by `step`.
`step` defaults to the OOS size, so the OOS windows tile the period without gaps or overlap (overlap is
refused: the stitched curve would count days twice). Only whole OOS windows are scored; sessions after the
last whole one are listed as not scored.

An OOS backtest is an ordinary backtest whose `--start` is the OOS window's first session: indicators see
the full history before it (their warm-up), but trades happen only inside the window, exactly like
`alchemiser backtest --start OOS_START --end OOS_END`.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, field_validator

from alchemiser.backtest.metrics import METRIC_ROWS
from alchemiser.errors import AlchemiserError

LOWER_IS_BETTER = frozenset({"max_drawdown", "volatility", "turnover", "runtime_s"})
RANKABLE = frozenset({*METRIC_ROWS, "alpha", "beta", "correlation", "final_equity", "trades"})
_SIZE = re.compile(r"^\s*(\d+)\s*(s|sessions?|m|months?|y|years?)?\s*$", re.IGNORECASE)
IS, OOS = "is", "oos"


class WalkForwardError(AlchemiserError):
    """A walk-forward setting or result cannot be used; the message names the setting."""


SLACK = pd.Timedelta(days=7)  # a calendar window ends on a session: holidays and weekends blur its edge


@dataclass(frozen=True)
class Size:
    """A window length: `count` sessions, months or years."""

    count: int
    unit: Literal["sessions", "months", "years"]

    def __str__(self) -> str:
        return f"{self.count} {self.unit}" if self.count != 1 else f"1 {self.unit[:-1]}"

    @property
    def months(self) -> int:
        return self.count * 12 if self.unit == "years" else self.count


@dataclass(frozen=True)
class _Mark:
    """A boundary: the index of the first session on or after it, and its nominal date (calendar sizes are
    measured from nominal dates, so boundaries do not drift with weekends). `whole` is False past the data."""

    index: int
    nominal: pd.Timestamp
    whole: bool = True


def _advance(sessions: pd.DatetimeIndex, mark: _Mark, size: Size, times: int = 1) -> _Mark:
    n = len(sessions)
    if size.unit == "sessions":
        j = mark.index + size.count * times
        return _Mark(j, sessions[j] if j < n else sessions[-1], j <= n)
    nominal = mark.nominal + pd.DateOffset(months=size.months * times)
    return _Mark(int(sessions.searchsorted(nominal)), nominal, nominal <= sessions[-1] + SLACK)


def parse_size(field: str, value: object) -> Size:
    """`252`, `"252s"`, `"18m"`, `"5y"` → Size; anything else is an error naming the field."""
    if isinstance(value, bool):
        raise WalkForwardError(f'walk_forward.{field} must be a size such as 252 (sessions), "18m" or "5y"')
    if isinstance(value, int):
        text = str(value)
    elif isinstance(value, str):
        text = value
    else:
        raise WalkForwardError(
            f'walk_forward.{field} must be a size such as 252 (sessions), "18m" or "5y" (got {value!r})'
        )
    match = _SIZE.match(text)
    if not match:
        raise WalkForwardError(
            f'walk_forward.{field} must be a size such as 252 (sessions), "18m" or "5y" (got {value!r})'
        )
    count, unit = int(match.group(1)), (match.group(2) or "s").lower()
    if count <= 0 or count > 100_000:
        raise WalkForwardError(f"walk_forward.{field} must be at least 1 and at most 100000 (got {value!r})")
    kind: Literal["sessions", "months", "years"] = (
        "sessions" if unit.startswith("s") else "months" if unit.startswith("m") else "years"
    )
    if kind == "sessions" and count < 2:
        raise WalkForwardError(f"walk_forward.{field} must span at least 2 sessions (got {value!r})")
    return Size(count, kind)


class WalkForwardSpec(BaseModel):
    """The spec's `[walk_forward]` table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Literal["rolling", "anchored"] = "rolling"
    in_sample: int | str
    out_of_sample: int | str
    step: int | str | None = None  # default: the OOS size
    rank_by: str | None = None  # default: the spec's rank metric

    @field_validator("in_sample", "out_of_sample", "step")
    @classmethod
    def _size(cls, value: int | str | None, info: Any) -> int | str | None:
        if value is not None:
            try:
                parse_size(info.field_name, value)
            except WalkForwardError as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("rank_by")
    @classmethod
    def _rank(cls, value: str | None) -> str | None:
        if value is not None and value not in RANKABLE:
            raise ValueError(f"walk_forward.rank_by must be one of {', '.join(sorted(RANKABLE))} (got {value!r})")
        return value

    @property
    def sizes(self) -> tuple[Size, Size, Size]:
        """(in-sample, out-of-sample, step)."""
        oos = parse_size("out_of_sample", self.out_of_sample)
        step = parse_size("step", self.step) if self.step is not None else oos
        return parse_size("in_sample", self.in_sample), oos, step

    def describe(self) -> str:
        ins, oos, step = self.sizes
        return f"{self.mode}: in-sample {ins}, out-of-sample {oos}, step {step}"


@dataclass(frozen=True)
class Fold:
    """One fold: IS sessions [is_first, is_last] and OOS sessions [oos_first, oos_last] (inclusive dates)."""

    index: int
    is_first: dt.date
    is_last: dt.date
    oos_first: dt.date
    oos_last: dt.date
    is_sessions: int
    oos_sessions: int

    def window(self, phase: str) -> tuple[dt.date, dt.date]:
        """The (start, end) a backtest of this phase runs with, as `--start`/`--end`."""
        return (self.is_first, self.is_last) if phase == IS else (self.oos_first, self.oos_last)

    def as_dict(self) -> dict[str, Any]:
        return {
            "fold": self.index,
            "is_start": self.is_first.isoformat(),
            "is_end": self.is_last.isoformat(),
            "oos_start": self.oos_first.isoformat(),
            "oos_end": self.oos_last.isoformat(),
            "is_sessions": self.is_sessions,
            "oos_sessions": self.oos_sessions,
        }


MAX_FOLDS = 500


def plan_folds(sessions: pd.DatetimeIndex, spec: WalkForwardSpec) -> list[Fold]:
    """The folds over `sessions` (the period's trading days, ascending); an error when none fits.

    Fold k's OOS window starts at anchor + in_sample + k × step and lasts out_of_sample; calendar sizes count
    from the first session's date. A calendar window counts as whole when the data reaches within a week of
    its nominal end (it ends on a session, so holidays and weekends blur the edge by a few days)."""
    if len(sessions) < 2:
        raise WalkForwardError("walk_forward: the period holds fewer than two sessions")
    ins, oos, step = spec.sizes
    n = len(sessions)
    anchor = _Mark(0, sessions[0])
    first_boundary = _advance(sessions, anchor, ins)
    folds: list[Fold] = []
    while len(folds) <= MAX_FOLDS:
        k = len(folds)
        start = _advance(sessions, first_boundary, step, k) if k else first_boundary
        stop = _advance(sessions, start, oos)
        if not (start.whole and stop.whole) or start.index >= n:
            break
        stop_index = min(stop.index, n)
        is_first = 0 if spec.mode == "anchored" else (_advance(sessions, anchor, step, k).index if k else 0)
        if folds and sessions[start.index].date() <= folds[-1].oos_last:
            raise WalkForwardError(
                f"walk_forward.step ({step}) is shorter than out_of_sample ({oos}): out-of-sample windows would "
                "overlap and the stitched curve would count days twice"
            )
        if stop_index <= start.index or start.index <= is_first:
            break
        folds.append(
            Fold(
                k,
                sessions[is_first].date(),
                sessions[start.index - 1].date(),
                sessions[start.index].date(),
                sessions[stop_index - 1].date(),
                start.index - is_first,
                stop_index - start.index,
            )
        )
    if len(folds) > MAX_FOLDS:
        raise WalkForwardError(f"walk_forward gives more than {MAX_FOLDS} folds; use a longer step")
    if not folds:
        span = f"{sessions[0].date()} to {sessions[-1].date()} ({n} sessions)"
        raise WalkForwardError(
            f"walk_forward: in_sample {ins} followed by out_of_sample {oos} does not fit in the period {span}; "
            "shorten the windows or lengthen the period"
        )
    return folds


def ascending(rank_by: str) -> bool:
    """Whether a smaller value of the metric is better (drawdown, volatility, turnover)."""
    return rank_by in LOWER_IS_BETTER


def rank(rows: pd.DataFrame, rank_by: str) -> pd.DataFrame:
    """Rows best first by `rank_by` (missing values last, ties broken by id so the order is deterministic)."""
    if rank_by not in rows.columns:
        raise WalkForwardError(
            f"rank_by {rank_by!r} is not a result column (have: {', '.join(map(str, rows.columns))})"
        )
    keys = [rank_by, "id"] if "id" in rows.columns else [rank_by]
    return rows.sort_values(keys, ascending=[ascending(rank_by)] + [True] * (len(keys) - 1), na_position="last")


def best_in_sample(rows: pd.DataFrame, fold: int, rank_by: str) -> pd.Series:
    """The best IS row of `fold`; an error when every configuration's metric is missing there."""
    mask = (rows["fold"] == fold) & (rows["phase"] == IS)
    chosen = rank(rows.loc[mask], rank_by)
    if chosen.empty:
        raise WalkForwardError(f"walk-forward fold {fold} has no in-sample result")
    top: pd.Series = chosen.iloc[0]
    if pd.isna(top[rank_by]):
        raise WalkForwardError(
            f"walk-forward fold {fold}: no configuration has a {rank_by} in its in-sample window "
            "(flat or too short); choose another rank_by or longer windows"
        )
    return top


def parameters(row: Mapping[str, Any] | pd.Series) -> dict[str, Any]:
    """The `p.<name>` columns of a result row, as {name: value} (numbers, or text such as a rebalance)."""
    return {str(k)[2:]: v for k, v in row.items() if str(k).startswith("p.")}


def stitch(curves: Sequence[tuple[pd.DatetimeIndex, np.ndarray[Any, Any]]], capital: float) -> pd.Series:
    """The chained OOS equity: fold k's curve (which starts from `capital` in cash) rescaled to begin at fold
    k-1's final value, so entry costs at each fold's start stay in the curve."""
    if not curves:
        raise WalkForwardError("walk-forward has no out-of-sample curve to stitch")
    level = capital
    parts: list[pd.Series] = []
    for dates, equity in curves:
        scaled = np.asarray(equity, dtype=np.float64) / capital * level
        parts.append(pd.Series(scaled, index=dates))
        level = float(scaled[-1])
    index = pd.DatetimeIndex(np.concatenate([p.index.to_numpy() for p in parts]), name="date")
    if not index.is_monotonic_increasing or index.has_duplicates:
        raise WalkForwardError("walk-forward out-of-sample windows overlap; they cannot be stitched")
    return pd.Series(np.concatenate([p.to_numpy() for p in parts]), index=index, name="equity")


def fold_table(rows: pd.DataFrame, folds: Sequence[Fold], rank_by: str) -> pd.DataFrame:
    """Per fold: windows, the chosen parameters, its IS metric and its OOS metric."""
    records = []
    for fold in folds:
        best = best_in_sample(rows, fold.index, rank_by)
        oos = rows.loc[(rows["fold"] == fold.index) & (rows["phase"] == OOS)]
        oos_value = oos.iloc[0][rank_by] if len(oos) else math.nan
        params = parameters(best)
        records.append(
            {
                **fold.as_dict(),
                "chosen": str(best["id"]) if "id" in best else "",
                **{f"p.{k}": v for k, v in params.items()},
                f"is_{rank_by}": float(best[rank_by]),
                f"oos_{rank_by}": float(oos_value) if pd.notna(oos_value) else math.nan,
            }
        )
    return pd.DataFrame.from_records(records)


def run_walk_forward(
    folds: Sequence[Fold],
    configs: Sequence[Mapping[str, Any]],
    rank_by: str,
    evaluate: Callable[[list[tuple[int, str, Mapping[str, Any]]]], pd.DataFrame],
) -> pd.DataFrame:
    """Both phases through one `evaluate` (the sweep's engine): every config on every IS window, then each
    fold's IS winner on its OOS window. `evaluate` receives (fold, phase, params) triples and returns one
    row per triple with `fold`, `phase`, the `p.` columns and the metrics; the result holds all rows."""
    is_rows = evaluate([(f.index, IS, c) for f in folds for c in configs])
    chosen = [(f.index, OOS, parameters(best_in_sample(is_rows, f.index, rank_by))) for f in folds]
    oos_rows = evaluate(list(chosen))
    return pd.concat([is_rows, oos_rows], ignore_index=True)
