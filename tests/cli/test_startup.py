"""Start-up stays light: building the app and printing any `--help` imports none of the heavy libraries.

A regression guard, not a timing test (the figures are in `bench/bench_startup.py`): the rule is that
command modules import pandas, numpy, alpaca-py, the exchange calendar, matplotlib and aiohttp inside
the functions that use them, so `alchemiser --help` and `--version` start in a fraction of a second.
Each check runs in a fresh interpreter, because this test process has imported everything already.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("pandas", "numpy", "alpaca", "exchange_calendars", "matplotlib", "aiohttp", "apscheduler", "apprise")

# Runs `alchemiser ARGS` in-process, once per ARGS list, the way `python -m alchemiser.cli` does, then prints
# each exit code and output and which heavy top-level packages ended up in sys.modules, as JSON.
PROBE = """
import io, json, sys, contextlib
from alchemiser.cli import main
runs = []
for args in json.loads(sys.argv[1]):
    sys.argv = ["alchemiser", *args]
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            main()
    except SystemExit as exc:
        runs.append({{"code": exc.code, "out": out.getvalue()}})
    else:
        runs.append({{"code": 0, "out": out.getvalue()}})
loaded = sorted({{name.split(".")[0] for name in sys.modules}} & set({heavy!r}))
print(json.dumps({{"runs": runs, "loaded": loaded}}))
"""


def probe(invocations: list[list[str]], home: Path) -> tuple[list[dict[str, object]], list[str]]:
    """(each invocation's exit code and stdout, the heavy packages imported by all of them)."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), json.dumps(invocations)],
        capture_output=True,
        text=True,
        env={"ALCHEMISER_HOME": str(home), "COLUMNS": "100", "PATH": "/usr/bin:/bin"},
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["runs"], result["loaded"]


def test_building_the_app_imports_nothing_heavy(home: Path) -> None:
    code = (
        "import sys, typer.main\n"
        "import alchemiser.cli.app\n"
        "from alchemiser.cli import app\n"
        "typer.main.get_command(app)\n"
        f"print(sorted({{n.split('.')[0] for n in sys.modules}} & set({HEAVY!r})))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("args", [["--help"], ["--version"], []], ids=["help", "version", "no-args"])
def test_root_help_and_version_import_nothing_heavy(home: Path, args: list[str]) -> None:
    runs, loaded = probe([args], home)
    assert loaded == []
    if args:  # with no arguments the help goes to stderr
        assert runs[0]["code"] == 0
        assert "alchemiser" in str(runs[0]["out"]).lower()


def _command_paths() -> list[list[str]]:
    """Every command and sub-command, as the words a user types before `--help`."""
    import typer.main

    from alchemiser.cli import app

    root = typer.main.get_command(app)
    paths: list[list[str]] = []

    def walk(command: object, prefix: list[str]) -> None:
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            paths.append([*prefix, name])
            walk(sub, [*prefix, name])

    walk(root, [])
    return paths


def test_every_command_help_imports_nothing_heavy(home: Path) -> None:
    paths = _command_paths()
    assert ["signal"] in paths and ["data", "show"] in paths  # the walk found the tree
    runs, loaded = probe([[*path, "--help"] for path in paths], home)
    for path, run in zip(paths, runs, strict=True):
        assert run["code"] == 0, path
        assert "Usage" in str(run["out"]), path
    assert loaded == [], f"printing every command's --help imported {loaded}"


def test_signal_on_the_built_ins_needs_only_numpy(home: Path) -> None:
    """Deciding reads numpy columns, not pandas (half a second to import), and not the exchange calendar
    library (its facts are a shipped table), the broker SDK, the web server, the scheduler or the
    notifier; the first run generates the sample bars and caches them, the second reads the cache."""
    for attempt in ("generates", "reads the cache"):
        runs, loaded = probe([["signal"]], home)
        assert runs[0]["code"] == 0, attempt
        assert "Blended target" in str(runs[0]["out"]), attempt
        assert loaded == ["numpy"], attempt
    assert list((home / "cache" / "sample").glob("*/*/SPY.npy"))


def test_signal_on_stored_data_needs_no_pandas(home: Path) -> None:
    """Bars the store wrote are read with pyarrow alone: pandas stays out of deciding on real data too."""
    from alchemiser.data.sample import SampleMarket
    from alchemiser.data.store import LocalStore
    from alchemiser.strategies.registry import load_strategy

    sample = SampleMarket()
    symbols = load_strategy("tecl", "tecl").universe()
    LocalStore(home / "data").write({s: sample.bars(s) for s in symbols})
    runs, loaded = probe([["signal", "-s", "tecl"]], home)
    assert runs[0]["code"] == 0
    assert "synthetic sample" not in str(runs[0]["out"])
    assert "pandas" not in loaded
