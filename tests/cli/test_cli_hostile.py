"""Every command and sub-command against hostile arguments: no traceback, a non-zero exit, and a message
that names what was wrong.

The commands are enumerated from the Typer app, so a new command or option is covered the day it is
added. Each option gets the hostile values of its type (empty text, NaN, ±inf, negative, 1e308, dates in
the wrong format, missing files, folders where files are expected, existing files where new ones are
expected), plus values specific to its meaning (unknown strategies, brokers, run ids). Global hazards
(bad `--config` files, junk environment variables) run against a cheap command.

Breadth runs in-process through Typer's CliRunner; an `AlchemiserError` escaping the app counts as handled
because the real entry point (`alchemiser.cli.main`) turns it into `error: …` and exit 2, which the
subprocess cases below check end to end. Commands that would run forever when given a value they accept
(`sandbox serve`, `run-daily`) run in a watched thread, so an accepted value fails the test instead of
hanging it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from alchemiser.cli import app
from alchemiser.errors import AlchemiserError

BLOCKING = {("sandbox", "serve"), ("run-daily",), ("web",)}
FLOATS = ["nan", "inf", "-inf", "-1", "1e308", "", "abc"]
INTS = ["-1", "1e3", "", "99999999999999999999"]
DATES = ["", "2024-13-45", "15/03/2024"]
# Hostile values that are legitimate for one parameter: (command, parameter) -> values it may accept.
ALLOWED: dict[tuple[str, str], set[str]] = {
    ("backtest", "benchmark"): {""},  # '' means no benchmark
    ("sandbox serve", "latency_ms"): set(),
}
# Appended to a command's arguments when not under test, so an accepted hostile value fails fast, not slowly.
BOUNDS: dict[str, dict[str, list[str]]] = {
    "backtest": {"start": ["--start", "2024-01-02"], "end": ["--end", "2024-02-01"]}
}
VALID_CLJ = '(defsymphony "ok" {} (weight-equal [(asset "SPY" nil)]))\n'


@dataclass(frozen=True)
class Case:
    """One hostile invocation and the words of which its message must contain at least one."""

    command: tuple[str, ...]
    args: tuple[str, ...]
    names: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = field(default=())

    @property
    def id(self) -> str:
        env = " ".join(f"{k}={v!r}" for k, v in self.env)
        return " ".join(repr(a) if a == "" or " " in a else a for a in (*self.args,)) + (f" [{env}]" if env else "")


def _commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    children = getattr(command, "commands", None)
    if children:
        for name, sub in children.items():
            yield from _commands(sub, (*path, name))
    else:
        yield path, command


class Fixtures:
    """Files and folders the hostile values point at, under one temporary folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.missing = str(root / "missing" / "nothing.clj")
        self.folder = root / "a-folder"
        self.folder.mkdir()
        self.existing = root / "existing.txt"
        self.existing.write_text("already here\n")
        self.strategy = root / "ok.clj"
        self.strategy.write_text(VALID_CLJ)
        self.spec = root / "ok.toml"
        self.spec.write_text('[sweep]\nstart = 2024-01-02\nend = 2024-02-01\n[[strategies]]\nsource = "ok.clj"\n')
        self.config_dir = root / "configs"
        self.config_dir.mkdir()


def _option_values(command: str, name: str, kind: str, fx: Fixtures) -> list[str]:
    """The hostile values for one parameter, by its meaning first and its type second."""
    by_name: dict[str, list[str]] = {
        "strategy": ["", "no-such-strategy", fx.missing, str(fx.folder)],
        "broker": ["", "bogus"],
        "run_id": ["", "no-such-run"],
        "symbol": ["", "NO SUCH"],
        "symbols": ["", "BAD SYMBOL!"],
        "weights": ["", "a,b", "nan,inf", "-1,2"],
        "rebalance": ["", "hourly", "threshold:-5", "threshold:nan"],
        "fill": ["", "bogus"],
        "benchmark": ["NOSUCH"],
        "host": ["", "256.1.1.1"],
        "print_format": ["", "bogus"],
        "to": ["", "yaml"],
        "price_flag": ["", "bogus"],
        "price": ["", "bogus"],
        "decide": ["", "bogus"],
        "source": ["", "bogus"],
        "files": [fx.missing, str(fx.folder)],
        "file": [fx.missing, str(fx.folder)],
        "path": [fx.missing, str(fx.folder)],  # data import: an empty folder has nothing to import
        "html_file": [str(fx.folder), str(fx.root / "missing" / "report.html")],
        "report": [str(fx.existing)],
        "export": [str(fx.existing)],
        "state": [str(fx.folder), str(fx.root / "missing" / "state.sqlite")],
        "seed": ["-1", "", "99999999999999999999"],
        "port": ["-1", "", "70000"],
        "spec": [fx.missing, str(fx.folder), str(fx.existing)],
        "out": [str(fx.folder)],
        "engine": ["", "bogus"],
        "address": ["", "ray:/x", "localhost", "127.0.0.1:99999"],
        "workers": ["-1", "0", "", "1e3", "99999999999999999999"],
        "top": ["-1", "0", "", "1e3", "99999999999999999999"],
        "max_variants": ["-1", "0", "", "1e3", "99999999999999999999"],
        "run": ["", "no-such-run", "../escape"],
        "row": ["", "not-a-row!", "12345678901234567890"],
        "output": [str(fx.folder)],
    }
    if command == "config init" and name == "path":
        return [str(fx.folder), str(fx.existing)]
    if command == "params" and name == "file":  # a built-in name or a symphony file
        return ["", " ", "no-such-builtin", "pkg.mod:Class", fx.missing, str(fx.folder), str(fx.existing)]
    if name in by_name:
        return by_name[name]
    if kind == "float":
        return FLOATS + (["0"] if name in ("cash", "capital") else [])
    if kind == "int":
        return INTS + (["0"] if name in ("limit", "tail") else [])
    if kind == "datetime":
        return DATES
    raise AssertionError(f"no hostile values for {command} {name} ({kind}): add them")


def _words(param: Any) -> tuple[str, ...]:
    names = [param.name, param.name.replace("_", "-"), *getattr(param, "opts", [])]
    return tuple(dict.fromkeys(n for n in names if n))


def option_cases(fx: Fixtures) -> list[Case]:
    """One case per (command, parameter, hostile value), enumerated from the app."""
    cases = []
    for path, command in _commands(typer.main.get_command(app)):
        label = " ".join(path)
        fillers = {
            "symbol": "SPY",
            "files": str(fx.strategy),
            "file": str(fx.strategy),
            "run_id": "no-such-run",
            "spec": str(fx.spec),
            "run": "no-such-run",
            "row": "1",
        }
        for param in command.params:
            kind = str(param.bare_type())
            if kind == "bool":
                continue
            allowed = ALLOWED.get((label, param.name), set())
            for value in _option_values(label, param.name, kind, fx):
                if value in allowed:
                    continue
                args: list[str] = list(path)
                for other in command.params:  # arguments in their order; the others get a fine value
                    if other is param and param.param_type_name == "argument":
                        args.append(value)
                    elif other.param_type_name == "argument" and other.required:
                        args.append(fillers[other.name])
                for bounded, extra in BOUNDS.get(label, {}).items():
                    if bounded != param.name:
                        args += extra
                if param.param_type_name != "argument":
                    args += [param.opts[0], value]
                words = _words(param) + ((value,) if len(value) > 2 else ())
                cases.append(Case(path, tuple(args), words))
    return cases


def global_cases(fx: Fixtures) -> list[Case]:
    """Bad configuration files and junk environment variables, against `config show` and `status`."""
    configs = {
        "bad-toml.toml": "[[strategies\nname = ",
        "wrong-type.toml": '[sim]\nstarting_cash = "lots"\n',
        "unknown-key.toml": "no_such_setting = 1\n",
        "nan-cash.toml": "[sim]\nstarting_cash = nan\n",
        "binary.toml": "\x00\x01\x02\xff",
        "bad-weights.toml": '[[strategies]]\nname = "klm"\nweight = -1\n',
    }
    cases = []
    for name, text in configs.items():
        path = fx.config_dir / name
        path.write_text(text, encoding="latin-1")
        cases.append(Case(("config", "show"), ("--config", str(path), "config", "show"), ("--config", name)))
    for value in (fx.missing, str(fx.folder)):
        cases.append(Case(("config", "show"), ("--config", value, "config", "show"), ("--config", value)))
    junk = {
        "ALCHEMISER_STRATEGIES": "not json",
        "ALCHEMISER_SIM__STARTING_CASH": "nan",
        "ALCHEMISER_REBALANCE__MIN_TRADE_USD": "abc",
        "ALCHEMISER_BROKER": "bogus",
        "ALCHEMISER_DATA__SAMPLE_FALLBACK": "maybe",
        "ALCHEMISER_EXECUTION__LIMIT_TIMEOUT_S": "-inf",
    }
    for variable, value in junk.items():
        field_name = variable.removeprefix("ALCHEMISER_").split("__")[-1].lower()
        cases.append(Case(("status",), ("status",), (variable, field_name), ((variable, value),)))
    return cases


@pytest.fixture(scope="module")
def fx(tmp_path_factory: pytest.TempPathFactory) -> Fixtures:
    return Fixtures(tmp_path_factory.mktemp("hostile"))


def _verdict(case: Case, code: int, output: str) -> str | None:
    """Why the outcome is wrong, or None when it is a clean, named refusal."""
    if "Traceback" in output:
        return "traceback"
    if code == 0:
        return "exit status 0"
    if not any(word.lower() in output.lower() for word in case.names):
        return f"message names none of {case.names}"
    return None


def _in_process(case: Case, home: Path) -> tuple[int, str]:
    env = {"ALCHEMISER_HOME": str(home), "COLUMNS": "200", **dict(case.env)}
    result = CliRunner().invoke(app, list(case.args), env=env, catch_exceptions=True)
    output = result.stdout + (result.stderr or "")
    exc = result.exception
    if exc is None or isinstance(exc, SystemExit):
        return result.exit_code, output
    if isinstance(exc, AlchemiserError):  # main() prints `error: {exc}` and exits 2
        return 2, f"{output}error: {exc}"
    import traceback

    return 1, output + "Traceback (in process):\n" + "".join(traceback.format_exception(exc))


def _subprocess(case: Case, home: Path) -> tuple[int, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ALCHEMISER_")}
    environment.update({"ALCHEMISER_HOME": str(home), "COLUMNS": "200", **dict(case.env)})
    try:
        done = subprocess.run(
            [sys.executable, "-m", "alchemiser.cli", *case.args],
            capture_output=True,
            text=True,
            env=environment,
            timeout=60,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return 0, "still running after 60 s: the hostile value was accepted"
    return done.returncode, done.stdout + done.stderr


def _watched(case: Case, home: Path, timeout: float = 60) -> tuple[int, str]:
    """`_in_process` in a daemon thread: a command that accepted its hostile value and serves forever is
    reported as a failure instead of hanging the suite."""
    outcome: list[tuple[int, str]] = []
    worker = threading.Thread(target=lambda: outcome.append(_in_process(case, home)), daemon=True)
    worker.start()
    worker.join(timeout)
    return outcome[0] if outcome else (0, f"still running after {timeout:g} s: the hostile value was accepted")


def test_every_command_refuses_hostile_arguments_by_name(fx: Fixtures, tmp_path: Path) -> None:
    cases = option_cases(fx) + global_cases(fx)
    assert len({c.command for c in cases}) >= 20, "the enumeration lost commands"
    failures: list[str] = []
    for i, case in enumerate(cases):
        code, output = (
            _watched(case, tmp_path / f"home-{i}")
            if case.command in BLOCKING
            else _in_process(case, tmp_path / f"home-{i}")
        )
        why = _verdict(case, code, output)
        if why:
            failures.append(f"{case.id}: {why}\n    {output.strip()[-400:]}")
    assert not failures, f"{len(failures)} of {len(cases)} hostile cases failed:\n" + "\n".join(failures)


SUBPROCESS_CASES = [
    (["signal", "--as-of", "2024-13-45"], "--as-of"),
    (["ledger", "show", "no-such-run"], "no-such-run"),
    (["report", "no-such-run"], "no-such-run"),
    (["report", "[sim]"], "[sim]"),  # square brackets in an error are text, not Rich markup
    (["check", "/no/such/file.clj"], "/no/such/file.clj"),
    (["params", "/no/such/file.clj"], "/no/such/file.clj"),
    (["status", "--broker", "bogus"], "bogus"),
    (["sandbox", "serve", "--port", "70000"], "--port"),
    (["sandbox", "serve", "--error-rate", "nan"], "--error-rate"),
    (["sandbox", "serve", "--host", "256.1.1.1", "--port", "0"], "--host"),
    (["run-daily", "--broker", ""], "--broker"),
    (["sweep", "/no/such/spec.toml"], "/no/such/spec.toml"),  # the shorthand for `sweep run SPEC`
    (["sweep", "/no/such/spec.toml", "--top", "0"], "--top"),
    (["sweep", "export", "no-such-run", "1"], "no-such-run"),
]


@pytest.mark.parametrize(("args", "name"), SUBPROCESS_CASES, ids=[" ".join(a) for a, _ in SUBPROCESS_CASES])
def test_hostile_arguments_through_the_real_entry_point(args: list[str], name: str, tmp_path: Path) -> None:
    code, output = _subprocess(Case(tuple(args), tuple(args), (name,)), tmp_path / "home")
    assert "Traceback" not in output and code != 0 and name in output, output
    assert not re.search(r"[\u2500-\u259f]", output), f"box drawing in piped output: {output}"
