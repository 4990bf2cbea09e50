"""`sweep export RUN ROW`: one sweep row back as a runnable strategy, with the command that re-checks it.

The file is the source strategy with the row's parameter values substituted, in the source's format
(.clj, or a Composer JSON score). Settings the row varied or the spec fixed (period, rebalance, costs)
are not part of a symphony file, so the export also gives the `backtest` command whose metrics equal the
row's.
"""

from __future__ import annotations

import datetime as dt
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from typing_extensions import TypedDict  # the TypedDict pydantic accepts on 3.11

from alchemiser.config import Settings
from alchemiser.errors import AlchemiserError
from alchemiser.sweep.expand import _params_api, load_strategies, resolve_axes, spec_hash
from alchemiser.sweep.runner import ranked
from alchemiser.sweep.spec import load_spec
from alchemiser.sweep.store import Journal, read_run, run_dir, sweeps_dir


class SweepExportError(AlchemiserError):
    """A run or row that cannot be exported."""


class ExportedJson(TypedDict):
    """`sweep export RUN ROW --json`: the row written as a strategy."""

    run: Annotated[str, "the sweep run id"]
    row: Annotated[str, "the row's id"]
    rank: Annotated[int, "its rank by the sweep's metric (1 is the best)"]
    params: Annotated[dict[str, Any], "parameter name → the value substituted"]
    files: Annotated[list[str], "the files written ([] when printed)"]
    backtest_command: Annotated[str, "the `alchemiser backtest` command that checks it"]
    text: Annotated[str | None, "the strategy's text when no file was written, else null"]


@dataclass
class Exported:
    run_id: str
    row_id: str
    rank: int
    text: str  # the (first) strategy's text
    files: list[Path] = field(default_factory=list)
    backtest_command: str = ""
    params: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> ExportedJson:
        return {
            "run": self.run_id,
            "row": self.row_id,
            "rank": self.rank,
            "params": self.params,
            "files": [str(f) for f in self.files],
            "backtest_command": self.backtest_command,
            "text": None if self.files else self.text,
        }


def find_run(settings: Settings, run_id: str) -> Path:
    if not run_id.strip() or not re.fullmatch(r"[A-Za-z0-9._-]+", run_id) or run_id.startswith("."):
        raise SweepExportError(f"RUN {run_id!r} is not a sweep run id (like tecl-thresholds-1a2b3c4d5e)")
    folder = run_dir(settings.home, run_id)
    if not (folder / "run.json").is_file():
        root = sweeps_dir(settings.home)
        known = sorted(p.name for p in root.iterdir() if (p / "run.json").is_file()) if root.is_dir() else []
        hint = f"; runs here: {', '.join(known[:10])}" if known else "; no sweep has run in this home yet"
        raise SweepExportError(f"RUN {run_id!r}: no such sweep run in {root}{hint}")
    return folder


def check_row(row: str) -> str:
    """ROW as a rank (a number below 10,000,000: 1 is the best) or as an id or a unique id prefix (4+ chars)."""
    text = row.strip().lower()
    if not (re.fullmatch(r"\d{1,7}", text) or re.fullmatch(r"[0-9a-f]{4,16}", text)):
        raise SweepExportError(f"ROW {row!r} is neither a rank (1 = best) nor a row id (hex, 4 to 16 characters)")
    return text


def pick_row(rows: list[dict[str, Any]], row: str, rank_by: str) -> tuple[dict[str, Any], int]:
    """The row that ROW names (see `check_row`), and its rank."""
    order = ranked(rows, rank_by)
    text = check_row(row)
    if re.fullmatch(r"\d{1,7}", text):
        rank = int(text)
        if not 1 <= rank <= len(order):
            raise SweepExportError(f"ROW {text}: ranks of this run go from 1 to {len(order)}")
        return order[rank - 1], rank
    matches = [(r, i + 1) for i, r in enumerate(order) if str(r["id"]).startswith(text)]
    if len(matches) != 1:
        raise SweepExportError(f"ROW {text}: {'no row' if not matches else 'several rows'} of this run start so")
    return matches[0]


def export_row(settings: Settings, run_id: str, row: str, output: Path | None) -> Exported:
    check_row(row)
    folder = find_run(settings, run_id)
    info = read_run(folder)
    journal = Journal(folder)
    try:
        rows = journal.rows()
    finally:
        journal.close()
    if not rows:
        raise SweepExportError(f"RUN {run_id}: no finished row yet")
    chosen, rank = pick_row(rows, row, str(info.get("rank_by", "sharpe")))
    spec_path = Path(str(info["spec"]))
    spec = load_spec(folder / "spec.toml")
    strategies = load_strategies(spec, spec_path)
    axes = resolve_axes(spec, spec_path, strategies)
    if spec_hash(spec, strategies, axes, dt.date.fromisoformat(str(info["end"]))) != info.get("spec_hash"):
        raise SweepExportError(
            f"RUN {run_id}: a strategy file of {spec_path} changed since the sweep ran, so its rows no longer "
            "describe it; run the sweep again (a new run) and export from that"
        )
    values = {a.column: chosen.get(f"p.{a.column}") for a in axes}
    texts: list[tuple[str, Path, str]] = []
    for strategy in strategies:
        substitutions = {a.key: values[a.column] for a in axes if a.kind == "param" and a.target == strategy.name}
        text = _params_api().substitute_text(strategy.path, substitutions) if substitutions else strategy.text
        texts.append((strategy.name, strategy.path, str(text)))
    files: list[Path] = []
    if output is not None:
        for name, source, text in texts:
            target = output if len(texts) == 1 else output.with_name(f"{output.stem}-{name}{source.suffix}")
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
            except OSError as exc:
                raise SweepExportError(f"--output {target}: cannot write: {exc.strerror or exc}") from None
            files.append(target)
    elif len(texts) > 1:
        raise SweepExportError(
            f"RUN {run_id} blends {len(texts)} strategies: give --output FILE to write one file each"
        )
    command = _backtest_command(spec, info, chosen, values, axes, files, strategies)
    return Exported(run_id, str(chosen["id"]), rank, texts[0][2], files, command, values)


def _backtest_command(
    spec: Any,
    info: dict[str, Any],
    row: dict[str, Any],
    values: dict[str, Any],
    axes: Any,
    files: list[Path],
    strategies: Any,
) -> str:
    """The `alchemiser backtest` invocation whose metrics equal the row's."""
    s = spec.sweep
    chosen: dict[str, Any] = {
        "start": s.start.isoformat() if s.start else None,
        "end": str(info["end"]) if s.end is None else s.end.isoformat(),
        "rebalance": s.rebalance, "fill": s.fill, "decide": s.decide, "slippage_bps": s.slippage_bps,
        "fee_bps": s.fee_bps, "capital": s.capital,
    }  # fmt: skip
    shares = {st.name: st.share for st in strategies}
    for axis in axes:
        if axis.kind == "setting":
            chosen[axis.key] = values[axis.column]
        elif axis.kind == "share":
            shares[axis.target] = values[axis.column]
    end = min(str(chosen["end"]), str(info["end"]))
    args = ["alchemiser", "backtest"]
    for path in [str(f) for f in files] or ["FILE"]:
        args += ["-s", str(path)]
    if len(shares) > 1:
        args += ["--weights", ",".join(repr(float(v)) for v in shares.values())]
    if chosen["start"]:
        args += ["--start", str(chosen["start"])]
    args += ["--end", end]
    if chosen["rebalance"]:
        args += ["--rebalance", str(chosen["rebalance"])]
    args += ["--fill", str(chosen["fill"]), "--decide", str(chosen["decide"])]
    args += ["--slippage-bps", f"{float(chosen['slippage_bps']):g}", "--fee-bps", f"{float(chosen['fee_bps']):g}"]
    args += ["--capital", f"{float(chosen['capital']):g}", "--benchmark", s.benchmark]
    return shlex.join(args)
