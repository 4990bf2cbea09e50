"""`--json` output has exactly the fields and types its result type declares, and the README says so.

The README's "JSON output" section is generated from the same types (`alchemiser.cli.json_docs`), so a
field added to an output without its type, or to the type without the README, fails here.
"""

from __future__ import annotations

import json
import types
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Literal, NotRequired, Union, get_args, get_origin, get_type_hints

from typing_extensions import is_typeddict

from alchemiser.account_status import AccountStatusJson
from alchemiser.backtest.schema import BacktestJson
from alchemiser.cli.json_docs import BEGIN, COMMANDS, END, render
from alchemiser.data.base import BarsJson
from alchemiser.data.coverage import CoverageJson
from alchemiser.formatting import JsonNumber
from alchemiser.ledger.controls import ActionJson
from alchemiser.ledger.views import LedgerShowJson, OrderJson, RunJson
from alchemiser.pausing import PauseJson, StrategyStateJson
from alchemiser.reporting.quality import ExecutionReportJson
from alchemiser.reporting.run_report import RunReportJson
from alchemiser.runner import PlanPreviewJson, TradeRunJson
from alchemiser.signals import SignalJson
from alchemiser.strategies.symphony.params import ParamsJson
from alchemiser.sweep.export import ExportedJson
from alchemiser.sweep.runner import SweepJson
from tests.helpers import run
from tests.sweep.conftest import write_spec as write_spec_of_one
from tests.sweep.wf_spec import write_spec

README = Path(__file__).resolve().parents[2] / "README.md"
NO_SAMPLE = {"ALCHEMISER_DATA__SAMPLE_FALLBACK": "false"}  # every ticker absent: the gap fields appear


def problems(value: Any, tp: Any, path: str = "$") -> list[str]:
    """Where `value` (parsed JSON) departs from `tp`: missing or extra keys, wrong types. [] when it conforms."""
    if tp is Any:
        return []
    origin, args = get_origin(tp), get_args(tp)
    if origin is NotRequired:
        return problems(value, args[0], path)
    if origin is Annotated:
        if any(isinstance(m, JsonNumber) for m in tp.__metadata__):  # exact text in Python, a number in JSON
            return problems(value, float, path)
        return problems(value, args[0], path)
    if isinstance(tp, type) and issubclass(tp, Enum):
        return [] if value in {m.value for m in tp} else [f"{path}: {value!r} is not a {tp.__name__}"]
    if is_typeddict(tp):
        if not isinstance(value, dict):
            return [f"{path}: expected an object, got {value!r}"]
        hints = get_type_hints(tp, include_extras=True)
        missing = set(tp.__required_keys__) - set(value)
        found = [f"{path}: missing keys {sorted(missing)}"] if missing else []
        found += [f"{path}: undeclared keys {sorted(set(value) - set(hints))}"] if set(value) - set(hints) else []
        for key in set(hints) & set(value):
            found += problems(value[key], hints[key], f"{path}.{key}")
        return found
    if origin in (Union, types.UnionType):
        options = [problems(value, arg, path) for arg in args]
        return [] if any(not p for p in options) else min(options, key=len)
    if origin is Literal:
        return [] if value in args else [f"{path}: {value!r} is not one of {args}"]
    if origin is list:
        if not isinstance(value, list):
            return [f"{path}: expected a list, got {value!r}"]
        return [p for i, item in enumerate(value) for p in problems(item, args[0], f"{path}[{i}]")]
    if origin is dict:
        if not isinstance(value, dict):
            return [f"{path}: expected an object, got {value!r}"]
        return [p for k, item in value.items() for p in problems(item, args[1], f"{path}.{k}")]
    ok = {
        str: isinstance(value, str),
        bool: isinstance(value, bool),
        int: isinstance(value, int) and not isinstance(value, bool),
        float: isinstance(value, int | float) and not isinstance(value, bool),
        type(None): value is None,
    }[tp]
    return [] if ok else [f"{path}: expected {tp.__name__}, got {value!r}"]


def json_of(args: list[str], home: Path, **env: str) -> Any:
    done = run([*args, "--json"], home, **env)
    assert done.stderr == "" or done.returncode != 0, done.stderr
    return json.loads(done.stdout)


def test_readme_json_section_is_generated_from_the_types() -> None:
    text = README.read_text(encoding="utf-8")
    assert BEGIN in text and END in text, "README lost its generated JSON output block"
    block = text[text.index(BEGIN) : text.index(END) + len(END)]
    assert block == render(), "README's JSON output section is stale: paste `python -m alchemiser.cli.json_docs`"


def test_every_documented_command_is_checked_below() -> None:
    assert set(COMMANDS) == {
        "signal --json",
        "data missing --json",
        "trade --json",
        "data show SYMBOL --json",
        "backtest --json",
        "status --json",
        "plan --json",
        "report [RUN] --json",
        "report --execution [RUN] --json",
        "ledger show RUN --json",
        "ledger runs --json",
        "ledger orders --json",
        "ledger actions --json",
        "liquidate --yes --json",
        "params FILE --json",
        "strategy list --json",
        "strategy pause|resume NAME --json",
        "sweep run SPEC --json",
        "sweep export RUN ROW --json",
    }


def test_signal_json_has_exactly_the_declared_fields(home: Path) -> None:
    payload = json_of(["signal"], home)
    assert problems(payload, SignalJson) == []
    assert payload["ok"] is True and payload["strategies"][0]["trace"], "the trace and weights were exercised"


def test_failed_signal_json_has_the_gap_fields_too(home: Path) -> None:
    payload = json_of(["signal"], home, **NO_SAMPLE)
    assert problems(payload, SignalJson) == []
    assert payload["ok"] is False and payload["data"]["missing"] and payload["target"] is None


def test_data_missing_json_has_exactly_the_declared_fields(home: Path) -> None:
    complete = json_of(["data", "missing"], home)
    absent = json_of(["data", "missing"], home, **NO_SAMPLE)
    for payload in (complete, absent):
        assert problems(payload, CoverageJson) == []
    assert complete["ok"] is True and absent["gaps"] and absent["fill_command"]


def test_trade_json_has_exactly_the_declared_fields(home: Path) -> None:
    traded = json_of(["trade"], home)
    assert problems(traded, TradeRunJson) == []
    assert traded["orders"] and traded["plan"]["items"], "orders and plan lines were exercised"
    again = json_of(["trade"], home)  # refused before deciding: the nulls of a run without signals
    assert problems(again, TradeRunJson) == []
    assert again["status"] == "already_ran" and again["plan"] is None


def test_data_show_json_has_exactly_the_declared_fields(home: Path) -> None:
    payload = json_of(["data", "show", "spy", "--tail", "3"], home)
    assert problems(payload, BarsJson) == []
    assert payload["symbol"] == "SPY" and len(payload["bars"]) == 3 and payload["source"] == "sample"


def test_backtest_json_has_exactly_the_declared_fields(home: Path, tmp_path: Path) -> None:
    args = ["backtest", "-s", "klm", "-s", "tecl", "--start", "2004-01-01", "--end", "2005-06-30"]
    payload = json_of([*args, "--report", str(tmp_path / "report")], home)
    assert problems(payload, BacktestJson) == []
    assert payload["benchmark"] and payload["undecided"] and payload["report"], "the optional parts were exercised"
    assert problems({k: v for k, v in payload.items() if k != "report"}, BacktestJson) == []


def test_status_json_has_exactly_the_declared_fields(home: Path) -> None:
    fresh = json_of(["status"], home)
    assert problems(fresh, AccountStatusJson) == []
    assert fresh["positions"] == [] and fresh["account"]["equity"] == fresh["account"]["cash"]
    run(["trade"], home)
    held = json_of(["status"], home)
    assert problems(held, AccountStatusJson) == []
    assert held["positions"] and held["broker"] == "sim", "positions were exercised"


def test_plan_json_has_exactly_the_declared_fields(home: Path) -> None:
    payload = json_of(["plan"], home)
    assert problems(payload, PlanPreviewJson) == []
    assert payload["target"] and payload["plan"]["items"] and payload["strategies"], "plan lines were exercised"
    withheld = json_of(["plan"], home, **NO_SAMPLE)  # no data: no target, no plan (exit 1)
    assert problems(withheld, PlanPreviewJson) == []
    assert withheld["plan"] is None


def test_ledger_and_report_json_have_exactly_the_declared_fields(home: Path) -> None:
    run(["trade"], home, **NO_SAMPLE)  # no data: a recorded run without a plan, orders or an after snapshot
    run(["trade"], home)
    runs = json_of(["ledger", "runs"], home)
    assert problems(runs, list[RunJson]) == [] and len(runs) == 2
    traded, failed = runs[0]["run_id"], runs[1]["run_id"]
    assert problems(json_of(["ledger", "orders"], home), list[OrderJson]) == []
    for run_id in (traded, failed):
        shown = json_of(["ledger", "show", run_id], home)
        assert problems(shown, LedgerShowJson) == []
        report = json_of(["report", run_id], home)
        assert problems(report, RunReportJson) == []
        quality = json_of(["report", "--execution", run_id], home)
        assert problems(quality, ExecutionReportJson) == []
    shown = json_of(["ledger", "show", traded], home)
    assert shown["orders"][0]["events"] and shown["fills"] and shown["after"]["positions"], "the parts were exercised"
    assert shown["signals"][0]["trace"] and shown["plan"]
    assert json_of(["report", "--execution"], home)["orders"], "quality rows were exercised"


def test_liquidate_and_actions_json_have_exactly_the_declared_fields(home: Path) -> None:
    run(["trade"], home)
    paused = json_of(["strategy", "pause", "nuclear"], home)
    assert problems(paused, PauseJson) == [] and paused["paused_since"] and paused["changed"]
    states = json_of(["strategy", "list"], home)
    assert problems(states, list[StrategyStateJson]) == []
    assert [s["paused_since"] is not None for s in states].count(True) == 1, "active and paused were exercised"
    sold = json_of(["liquidate", "--yes"], home)
    assert problems(sold, TradeRunJson) == []
    assert sold["orders"] and all(o["side"] == "sell" for o in sold["orders"]), "the sells were exercised"
    actions = json_of(["ledger", "actions"], home)
    assert problems(actions, list[ActionJson]) == []
    assert [a["action"] for a in actions] == ["liquidate", "pause"]
    resumed = json_of(["strategy", "resume", "nuclear"], home)
    assert problems(resumed, PauseJson) == [] and resumed["paused_since"] is None


def test_params_json_has_exactly_the_declared_fields(home: Path) -> None:
    payload = json_of(["params", "tecl"], home)
    assert problems(payload, ParamsJson) == []
    kinds = {p["kind"] for p in payload["parameters"]}
    assert {"threshold", "window"} <= kinds, "both float and integer parameters were exercised"


def test_sweep_and_export_json_have_exactly_the_declared_fields(home: Path, tmp_path: Path) -> None:
    spec = write_spec(tmp_path)  # walk-forward and a report: every optional part of the summary
    swept = json_of(["sweep", str(spec), "--workers", "2", "--report", str(tmp_path / "report")], home)
    assert problems(swept, SweepJson) == []
    assert swept["honesty"]["walk_forward"] and swept["report"] and swept["top"], "the optional parts were exercised"
    written = json_of(["sweep", "export", swept["run"], "1", "-o", str(tmp_path / "best.clj")], home)
    assert problems(written, ExportedJson) == []
    assert written["text"] is None and len(written["files"]) == 2, "a blend writes one file per strategy"
    single = write_spec_of_one(tmp_path / "one", "")  # one strategy: printed when no file is given
    one = json_of(["sweep", str(single)], home)
    printed = json_of(["sweep", "export", one["run"], "1"], home)
    assert problems(printed, ExportedJson) == []
    assert printed["text"] and printed["files"] == [] and printed["params"]


def test_the_checker_catches_an_extra_a_missing_and_a_mistyped_field() -> None:
    good = {"price": 1.5, "time": "2025-06-30T15:59:00-04:00"}
    from alchemiser.data.live import LivePriceJson

    assert problems(good, LivePriceJson) == []
    assert problems({**good, "extra": 1}, LivePriceJson) == ["$: undeclared keys ['extra']"]
    assert problems({"price": 1.5}, LivePriceJson) == ["$: missing keys ['time']"]
    assert problems({**good, "price": "1.5"}, LivePriceJson) == ["$.price: expected float, got '1.5'"]
