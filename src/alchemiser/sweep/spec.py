"""The sweep spec: a TOML file read with tomllib and validated with pydantic, every error naming the file
and the key path (`spec.toml: vary[1].range.step: ...`, `spec.toml:3:7: ...` for bad TOML).

    [sweep]                       # how every backtest of the sweep runs
    name = "tecl-thresholds"      # names the run folder (default: the file's stem)
    rank_by = "sharpe"            # the metric the table ranks by
    start = 2006-01-03            # period (TOML dates); default: from when every strategy can decide
    end = 2025-06-30              # default: the last completed session
    rebalance = "daily"           # as `backtest --rebalance`; default: the symphonies' own setting
    slippage_bps = 0              # costs, as `backtest`
    samples = 200                 # random mode: this many draws …
    seed = 7                      # … from this seed
    combinations = [{overbought = 79, window = 10}]   # list mode: exactly these

    [[strategies]]                # a built-in name, a .clj path (relative to the spec) or a Composer .json
    source = "tecl"
    share = 1.0                   # shares are normalised to sum to 1

    [[vary]]                      # one varied thing: a symphony parameter, a setting, or a share
    name = "overbought"           # the column p.overbought
    param = "rsi_tqqq_gt"         # by stable name or line:col (`alchemiser params FILE` lists them)
    values = [75, 79, 83]         # or range = {start = 70, stop = 85, step = 1}
                                  # random mode also: uniform = [70, 85] or integers = [5, 20]

Grid mode (no `samples`, no `combinations`) tries every combination of every `vary`'s values.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from alchemiser.errors import AlchemiserError

SETTINGS = ("rebalance", "slippage_bps", "fee_bps", "start", "end", "fill", "decide", "capital")
LOWER_IS_BETTER = frozenset({"volatility", "max_drawdown"})
RANKABLE = (
    "sharpe", "sortino", "calmar", "cagr", "total_return", "volatility", "max_drawdown", "best_day", "worst_day",
    "exposure", "turnover", "final_equity", "alpha", "beta", "correlation", "trades",
)  # fmt: skip
MAX_RANGE_POINTS = 1_000_000


class SweepSpecError(AlchemiserError):
    """A spec file that cannot be read or makes no sense; the message names the file and the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Range(_Strict):
    """`{start, stop, step}`: start, start+step, … up to stop (included when a step lands on it)."""

    start: float
    stop: float
    step: float = Field(gt=0)

    @model_validator(mode="after")
    def _finite(self) -> Range:
        if not all(math.isfinite(v) for v in (self.start, self.stop, self.step)):
            raise ValueError("start, stop and step must be finite numbers")
        if self.stop < self.start:
            raise ValueError(f"stop {self.stop:g} is below start {self.start:g}")
        if self.points > MAX_RANGE_POINTS:
            raise ValueError(f"gives {self.points:,} values; more than {MAX_RANGE_POINTS:,}")
        return self

    @property
    def points(self) -> int:
        return math.floor((self.stop - self.start) / self.step + 1e-9) + 1

    def values(self) -> list[float]:
        return [round(self.start + i * self.step, 10) for i in range(self.points)]


class Vary(_Strict):
    """One varied thing and the values it takes."""

    name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.:-]*$", max_length=80)
    strategy: str | None = None  # which strategy's parameter; optional with a single strategy
    param: str | None = None
    setting: Literal["rebalance", "slippage_bps", "fee_bps", "start", "end", "fill", "decide", "capital"] | None = None
    share: str | None = None  # the strategy whose share varies
    values: list[int | float | str | dt.date] | None = None
    range: Range | None = None
    uniform: tuple[float, float] | None = None
    integers: tuple[int, int] | None = None

    @model_validator(mode="after")
    def _one_of_each(self) -> Vary:
        targets = [k for k in ("param", "setting", "share") if getattr(self, k) is not None]
        if len(targets) != 1:
            raise ValueError("give exactly one of param, setting or share (what varies)")
        given = [k for k in ("values", "range", "uniform", "integers") if getattr(self, k) is not None]
        if len(given) > 1:
            raise ValueError(f"give one of values, range, uniform or integers, not {' and '.join(given)}")
        if self.values is not None and not self.values:
            raise ValueError("values is empty: give at least one value")
        if self.uniform is not None and not (
            all(math.isfinite(v) for v in self.uniform) and self.uniform[0] < self.uniform[1]
        ):
            raise ValueError("uniform = [low, high] needs finite numbers with low < high")
        if self.integers is not None and self.integers[0] > self.integers[1]:
            raise ValueError("integers = [low, high] needs low <= high")
        return self

    @property
    def column(self) -> str:
        return self.name or self.param or self.setting or f"share.{self.share}"


class StrategySpec(_Strict):
    source: str = Field(min_length=1)
    name: str | None = Field(default=None, min_length=1, max_length=80)
    share: float = Field(default=1.0, gt=0)

    @field_validator("share")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be a finite number above 0")
        return value


class SweepSettings(_Strict):
    name: str | None = Field(default=None, min_length=1, max_length=60)
    rank_by: str = "sharpe"
    start: dt.date | None = None
    end: dt.date | None = None
    capital: float = Field(default=100000.0, gt=0, le=1e12)
    benchmark: str = "SPY"
    rebalance: str | None = None
    fill: Literal["close", "next-open"] = "close"
    decide: Literal["close", "previous-close"] = "close"
    slippage_bps: float = Field(default=0.0, ge=0, le=1000)
    fee_bps: float = Field(default=0.0, ge=0, le=1000)
    samples: int | None = Field(default=None, ge=1)
    seed: int = Field(default=0, ge=0)
    combinations: list[dict[str, int | float | str | dt.date]] | None = None

    @field_validator("rank_by")
    @classmethod
    def _rankable(cls, value: str) -> str:
        if value not in RANKABLE:
            raise ValueError(f"{value!r} is not a metric; choose one of {', '.join(RANKABLE)}")
        return value

    @model_validator(mode="after")
    def _modes(self) -> SweepSettings:
        if self.samples is not None and self.combinations is not None:
            raise ValueError("give samples (random mode) or combinations (list mode), not both")
        if self.combinations is not None and not self.combinations:
            raise ValueError("combinations is empty: give at least one")
        if self.start and self.end and self.start > self.end:
            raise ValueError(f"start {self.start} is after end {self.end}")
        return self


class Spec(_Strict):
    sweep: SweepSettings = Field(default_factory=SweepSettings)
    strategies: list[StrategySpec] = Field(min_length=1)
    vary: list[Vary] = Field(default_factory=list)
    walk_forward: dict[str, Any] | None = None  # read by sweep/walkforward.py (branch sweepwf)
    report: dict[str, Any] | None = None  # read by sweep/honesty.py (branch sweepwf): heatmap = ["a", "b"]

    @model_validator(mode="after")
    def _names(self) -> Spec:
        columns = [v.column for v in self.vary]
        repeated = sorted({c for c in columns if columns.count(c) > 1})
        if repeated:
            raise ValueError(f"two vary entries make the column p.{repeated[0]}; give them distinct names")
        return self


def load_spec(path: Path) -> Spec:
    """Read and validate `path`; every problem is a `SweepSpecError` naming the file and the key path."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SweepSpecError(f"cannot read sweep spec {path}: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise SweepSpecError(f"{path}: not a UTF-8 text file") from None
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        where = f"{path}:{match.group(1)}:{match.group(2)}" if match else str(path)
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc)) if match else str(exc)
        raise SweepSpecError(f"{where}: invalid TOML: {message}") from None
    try:
        return Spec.model_validate(data)
    except ValidationError as exc:
        raise SweepSpecError(describe(path, exc)) from None


def describe(path: Path, exc: ValidationError) -> str:
    """The first problems of a validation error as `file: key.path: message` lines."""
    lines = []
    for error in exc.errors()[:5]:
        key = _key_path(error["loc"])
        if error["type"] == "extra_forbidden":
            message = f"unknown key (allowed here: {', '.join(_allowed(error['loc']))})"
        elif error["type"] == "missing":
            message = "required key is missing"
        else:
            message = str(error["msg"]).removeprefix("Value error, ")
        lines.append(f"{path}: {key or '(top level)'}: {message}")
    more = len(exc.errors()) - 5
    if more > 0:
        lines.append(f"… and {more} more")
    return "\n".join(lines)


def _key_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("function-after", "tagged-union") or str(part).startswith(("list[", "tuple[", "dict[")):
            continue
        else:
            out += f".{part}" if out else str(part)
    return out


def _allowed(loc: tuple[int | str, ...]) -> list[str]:
    """The keys a table may hold, from where the unknown key sits."""
    names = [p for p in loc[:-1] if isinstance(p, str)]
    model: type[BaseModel] = Spec
    for name in names:
        tables: dict[str, type[BaseModel]] = {
            "sweep": SweepSettings, "strategies": StrategySpec, "vary": Vary, "range": Range,
        }  # fmt: skip
        sub = tables.get(name)
        if sub is None:
            break
        model = sub
    return list(model.model_fields)
