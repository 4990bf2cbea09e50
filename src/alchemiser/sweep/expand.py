"""A validated spec turned into its backtest tasks: deterministic order, deterministic ids.

The spec hash covers everything that shapes a backtest except the varied values — the strategies' text
and shares, the settings, the resolved period end, which things vary — so widening a grid keeps the ids
of the rows already computed. A row's id hashes the spec hash with the row's own values and window.
Grid order is the `vary` entries' product (the first entry varies slowest); random draws come from one
generator seeded by `seed`, axis by axis, sample by sample; list mode keeps the given order.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib
import itertools
import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from alchemiser.backtest.engine import BacktestConfig
from alchemiser.backtest.schedule import Schedule
from alchemiser.config import Settings
from alchemiser.errors import AlchemiserError
from alchemiser.strategies.registry import BUILTINS, builtin_path
from alchemiser.strategies.symphony_strategy import SymphonyStrategy
from alchemiser.sweep.spec import Spec, SweepSpecError, Vary
from alchemiser.sweep.task import BacktestTask, StrategyRef

DEFAULT_MAX_VARIANTS = 10_000
HASH_VERSION = 1


@dataclass
class LoadedStrategy:
    """A spec strategy: where its text lives, the text, and the compiled base (for tickers and settings)."""

    name: str
    path: Path
    text: str
    share: float
    base: SymphonyStrategy
    parameters: list[Any] = field(default_factory=list)  # params.Parameter, found when a vary needs them


@dataclass(frozen=True)
class Axis:
    """One `vary` entry, resolved: its column, what it changes, and its candidate values."""

    index: int
    column: str
    kind: str  # param | setting | share
    target: str  # strategy name (param, share) or setting name
    key: str  # the parameter's stable name; the setting's name; the strategy's name
    integer: bool
    entry: Vary
    parameter: Any = None  # params.Parameter for a param axis

    def grid(self, where: str) -> list[Any]:
        e = self.entry
        if e.values is not None:
            return list(e.values)
        if e.range is not None:
            return [int(v) for v in e.range.values()] if self.integer else e.range.values()
        if e.integers is not None:
            return list(range(e.integers[0], e.integers[1] + 1))
        if e.uniform is not None:
            raise SweepSpecError(f"{where}: uniform draws need random mode ([sweep] samples = N); use values or range")
        raise SweepSpecError(f"{where}: give values or range (or set [sweep] combinations or samples)")

    def size(self, where: str) -> int:
        """How many values `grid` gives, without building them (a wide `integers` span stays cheap)."""
        e = self.entry
        if e.integers is not None:
            return e.integers[1] - e.integers[0] + 1
        if e.range is not None:
            return e.range.points
        return len(self.grid(where))

    def draw(self, rng: np.random.Generator, where: str) -> Any:
        e = self.entry
        if e.uniform is not None:
            if self.integer:
                raise SweepSpecError(f"{where}: {self.key} takes whole numbers; draw with integers = [low, high]")
            return round(float(rng.uniform(e.uniform[0], e.uniform[1])), 6)
        if e.integers is not None:
            return int(rng.integers(e.integers[0], e.integers[1] + 1))
        choices = self.grid(where)
        return choices[int(rng.integers(0, len(choices)))]


@dataclass
class Plan:
    """Everything a sweep run needs: the tasks in expansion order and what identifies the run."""

    spec_path: Path
    spec: Spec
    spec_hash: str
    run_id: str
    axes: list[Axis]
    strategies: list[LoadedStrategy]
    tasks: list[BacktestTask]
    symbols: set[str]
    end: dt.date

    @property
    def columns(self) -> list[str]:
        return [f"p.{a.column}" for a in self.axes]


def _params_api() -> Any:
    try:
        params = importlib.import_module("alchemiser.strategies.symphony.params")
    except ImportError:  # pragma: no cover - until branch `params` lands
        raise SweepSpecError("varying symphony parameters needs `alchemiser params`, not in this version") from None
    return params


def load_strategies(spec: Spec, spec_path: Path) -> list[LoadedStrategy]:
    """Each spec strategy: built-in name, path relative to the spec's folder, or Composer JSON score."""
    out: list[LoadedStrategy] = []
    seen: set[str] = set()
    for i, entry in enumerate(spec.strategies):
        where = f"{spec_path}: strategies[{i}].source"
        if entry.source.strip().lower() in BUILTINS:
            path = builtin_path(entry.source.strip().lower())
            default = entry.source.strip().lower()
        else:
            path = (spec_path.parent / entry.source).expanduser()
            default = path.stem
            if not path.is_file():
                known = ", ".join(BUILTINS)
                raise SweepSpecError(f"{where}: no such file {path} (and not a built-in: {known})")
        name = entry.name or default
        if name in seen:
            raise SweepSpecError(f"{spec_path}: strategies[{i}]: the name {name!r} is used twice; give each a name")
        seen.add(name)
        try:
            text = path.read_text(encoding="utf-8")
            base = SymphonyStrategy.from_file(path, name)
        except (OSError, UnicodeDecodeError) as exc:
            raise SweepSpecError(f"{where}: cannot read {path}: {exc}") from None
        except AlchemiserError as exc:
            raise SweepSpecError(f"{where}: {path} does not compile: {exc}") from None
        out.append(LoadedStrategy(name, path, text, entry.share, base))
    return out


def resolve_axes(spec: Spec, spec_path: Path, strategies: list[LoadedStrategy]) -> list[Axis]:
    by_name = {s.name: s for s in strategies}
    axes: list[Axis] = []
    for i, entry in enumerate(spec.vary):
        where = f"{spec_path}: vary[{i}]"
        if entry.param is not None:
            strategy = _which(entry.strategy, by_name, f"{where}.strategy")
            params = _params_api()
            if not strategy.parameters:
                strategy.parameters = list(params.find_parameters(strategy.path))
            try:
                found = params.resolve(strategy.parameters, entry.param)
            except AlchemiserError as exc:
                names = ", ".join(p.name for p in strategy.parameters[:40])
                hint = "" if names in str(exc) else f" (parameters of {strategy.name}: {names})"
                raise SweepSpecError(f"{where}.param: {exc}{hint}") from None
            column = entry.name or found.name
            axes.append(Axis(i, column, "param", strategy.name, found.name, bool(found.integer), entry, found))
        elif entry.share is not None:
            strategy = _which(entry.share, by_name, f"{where}.share")
            axes.append(Axis(i, entry.column, "share", strategy.name, strategy.name, False, entry))
        else:
            assert entry.setting is not None
            axes.append(Axis(i, entry.column, "setting", entry.setting, entry.setting, False, entry))
    return axes


def _which(name: str | None, by_name: Mapping[str, LoadedStrategy], where: str) -> LoadedStrategy:
    if name is None:
        if len(by_name) == 1:
            return next(iter(by_name.values()))
        raise SweepSpecError(f"{where}: the spec has several strategies; name one of {', '.join(by_name)}")
    if name not in by_name:
        raise SweepSpecError(f"{where}: no strategy named {name!r}; the spec's strategies: {', '.join(by_name)}")
    return by_name[name]


def count_variants(spec: Spec, axes: Sequence[Axis], spec_path: Path) -> int:
    if spec.sweep.samples is not None:
        return spec.sweep.samples
    if spec.sweep.combinations is not None:
        return len(spec.sweep.combinations)
    return math.prod(a.size(f"{spec_path}: vary[{a.index}]") for a in axes)


def combinations(spec: Spec, axes: Sequence[Axis], spec_path: Path) -> Iterator[list[Any]]:
    """Each variant's raw values, one per axis, in the deterministic expansion order."""
    if spec.sweep.samples is not None:
        rng = np.random.default_rng(spec.sweep.seed)
        for _ in range(spec.sweep.samples):
            yield [a.draw(rng, f"{spec_path}: vary[{a.index}]") for a in axes]
    elif spec.sweep.combinations is not None:
        columns = [a.column for a in axes]
        for i, combo in enumerate(spec.sweep.combinations):
            where = f"{spec_path}: sweep.combinations[{i}]"
            unknown = sorted(set(combo) - set(columns))
            missing = [c for c in columns if c not in combo]
            if unknown or missing:
                problem = f"unknown {', '.join(unknown)}" if unknown else f"missing {', '.join(missing)}"
                raise SweepSpecError(f"{where}: {problem} (its keys are the vary columns: {', '.join(columns)})")
            yield [combo[c] for c in columns]
    else:
        yield from (list(c) for c in itertools.product(*(a.grid(f"{spec_path}: vary[{a.index}]") for a in axes)))


def check_value(axis: Axis, value: Any, where: str) -> Any:
    """A varied value in its column's type, or an error naming the vary entry and the value."""
    what = f"{where} ({axis.column} = {value!r})"
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    if axis.kind in ("param", "share") or axis.key in ("slippage_bps", "fee_bps", "capital"):
        if not numeric or not math.isfinite(float(value)):
            raise SweepSpecError(f"{what}: must be a finite number")
        if axis.kind == "param":
            try:
                checked: int | float = _params_api().check_value(axis.parameter, value)
            except AlchemiserError as exc:
                raise SweepSpecError(f"{what}: {exc}") from None
            return checked
        if axis.kind == "share" and not float(value) > 0:
            raise SweepSpecError(f"{what}: a share must be above 0")
        return float(value)
    if axis.key in ("start", "end"):
        if isinstance(value, dt.date):
            return value.isoformat()
        if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            try:
                return dt.date.fromisoformat(value).isoformat()
            except ValueError:
                pass
        raise SweepSpecError(f"{what}: must be a date such as 2015-01-02")
    if not isinstance(value, str):
        raise SweepSpecError(f'{what}: must be text such as "daily"')
    return value


def spec_hash(spec: Spec, strategies: Sequence[LoadedStrategy], axes: Sequence[Axis], end: dt.date) -> str:
    """What shapes every backtest of the spec except the varied values (see the module docstring)."""
    settings = spec.sweep.model_dump(mode="json", exclude={"name", "rank_by", "samples", "seed", "combinations"})
    canonical = {
        "version": HASH_VERSION,
        "strategies": [
            {"name": s.name, "share": s.share, "json": s.path.suffix.lower() == ".json",
             "text": hashlib.sha256(s.text.encode()).hexdigest()}
            for s in strategies
        ],
        "settings": settings,
        "end": end.isoformat(),
        "axes": [[a.column, a.kind, a.target, a.key] for a in axes],
    }  # fmt: skip
    return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()


def row_id(base: str, params: Sequence[tuple[str, Any]], window: tuple[dt.date | None, dt.date | None]) -> str:
    text = json.dumps([base, [[k, v] for k, v in params], [str(w) if w else None for w in window]])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "sweep"


def build_plan(
    spec: Spec, spec_path: Path, settings: Settings, end: dt.date, max_variants: int = DEFAULT_MAX_VARIANTS
) -> Plan:
    """The spec's tasks, each with its substituted strategies, config and id."""
    strategies = load_strategies(spec, spec_path)
    axes = resolve_axes(spec, spec_path, strategies)
    total = count_variants(spec, axes, spec_path)
    if total > max_variants:
        raise SweepSpecError(
            f"{spec_path}: the spec expands to {total:,} backtests, more than the cap of {max_variants:,}; "
            "narrow it, or raise the cap with --max-variants"
        )
    base = spec_hash(spec, strategies, axes, end)
    run_id = f"{slug(spec.sweep.name or spec_path.stem)}-{base[:10]}"
    tasks: list[BacktestTask] = []
    seen: set[str] = set()
    for raw in combinations(spec, axes, spec_path):
        values = [check_value(a, v, f"{spec_path}: vary[{a.index}]") for a, v in zip(axes, raw, strict=True)]
        params = tuple((a.column, v) for a, v in zip(axes, values, strict=True))
        task = _task(spec, spec_path, settings, strategies, axes, values, params, base, end, len(tasks))
        if task.id not in seen:  # random draws may repeat a variant: it is one row
            seen.add(task.id)
            tasks.append(task)
    symbols = set().union(*(s.base.universe() for s in strategies))
    if spec.sweep.benchmark.strip():
        symbols.add(spec.sweep.benchmark.strip().upper())
    return Plan(spec_path, spec, base, run_id, axes, strategies, tasks, symbols, end)


def _task(
    spec: Spec,
    spec_path: Path,
    settings: Settings,
    strategies: Sequence[LoadedStrategy],
    axes: Sequence[Axis],
    values: Sequence[Any],
    params: tuple[tuple[str, Any], ...],
    base: str,
    end: dt.date,
    index: int,
) -> BacktestTask:
    s = spec.sweep
    chosen: dict[str, Any] = {k: getattr(s, k) for k in ("rebalance", "slippage_bps", "fee_bps", "fill", "decide")}
    chosen.update({"capital": s.capital, "start": s.start, "end": s.end})
    shares = {st.name: st.share for st in strategies}
    substitutions: dict[str, dict[str, float]] = {}
    for axis, value in zip(axes, values, strict=True):
        if axis.kind == "param":
            substitutions.setdefault(axis.target, {})[axis.key] = value
        elif axis.kind == "share":
            shares[axis.target] = value
        else:
            chosen[axis.key] = dt.date.fromisoformat(value) if axis.key in ("start", "end") else value
    where = f"{spec_path}: variant {index + 1} ({', '.join(f'{k} = {v}' for k, v in params)})"
    try:
        total = sum(shares.values())
        refs = tuple(
            StrategyRef(st.name, st.text, str(st.path), shares[st.name] / total, _values(substitutions.get(st.name)))
            for st in strategies
        )
        config = _config(chosen, strategies, settings)
    except AlchemiserError as exc:
        raise SweepSpecError(f"{where}: {exc}") from None
    window_end = min(chosen["end"] or end, end)
    window = (chosen["start"], window_end)
    if window[0] and window[0] > window_end:
        raise SweepSpecError(f"{where}: start {window[0]} is after the end {window_end}")
    benchmark = s.benchmark.strip().upper() or None
    return BacktestTask(row_id(base, params, window), index, params, refs, config, window, benchmark)


def _values(values: dict[str, float] | None) -> tuple[tuple[str, int | float], ...]:
    """The parameter values a worker substitutes (each already checked; together they are checked there)."""
    return tuple(values.items()) if values else ()


def _config(chosen: Mapping[str, Any], strategies: Sequence[LoadedStrategy], settings: Settings) -> BacktestConfig:
    """The backtest settings as `backtest` builds them from the same flags."""
    from alchemiser.backtest import options as flags

    rebalance = chosen["rebalance"]
    if rebalance is not None:
        schedule = Schedule.parse(rebalance)
    else:
        found = {str(Schedule.from_symphony(s.base.settings) or Schedule("daily")) for s in strategies}
        schedule = Schedule.parse(found.pop()) if len(found) == 1 else Schedule("daily")
    return BacktestConfig(
        capital=flags.capital(float(chosen["capital"])),
        schedule=schedule,
        fill=flags.fill(chosen["fill"]),
        decide=flags.decide(chosen["decide"]),
        slippage_bps=flags.bps("slippage_bps", float(chosen["slippage_bps"])),
        fee_bps=flags.bps("fee_bps", float(chosen["fee_bps"])),
        rules=settings.rebalance.model_copy(update={"cash_buffer_pct": 0.0, "min_trade_usd": Decimal(1)}),
        non_fractionable=frozenset(settings.sim.non_fractionable),
    )
