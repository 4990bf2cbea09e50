"""What the key commands print, at 80 columns in a real terminal and through a pipe (cron mail, logs).

Each command runs as a real subprocess twice: under a pseudo-terminal 80 columns wide, and with stdout a
pipe. The numbers on screen are compared with the same command's `--json`, formatted by the shared
conventions, so a number cut to `9998…` or wrapped mid-token is caught; piped output must carry no box
drawing and no colour codes.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from alchemiser.formatting import money, pct, price, qty
from tests.helpers import run

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
BOX = re.compile(r"[\u2500-\u259f]")  # box drawing and block elements


def _env(home: Path, columns: int = 80) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("ALCHEMISER_", "TTY_", "FORCE_COLOR"))}
    environment.update(ALCHEMISER_HOME=str(home), COLUMNS=str(columns), TERM="xterm-256color")
    return environment


def _terminal(columns: int) -> tuple[int, int]:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    return master, slave


def _read_all(master: int) -> bytes:
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            return out
        if not chunk:
            return out
        out += chunk


def run_tty(args: list[str], home: Path, columns: int = 80) -> tuple[int, str]:
    """Run the CLI with stdout and stderr on a real pseudo-terminal `columns` wide; (exit status, text)."""
    master, slave = _terminal(columns)
    process = subprocess.Popen(
        [sys.executable, "-m", "alchemiser.cli", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=_env(home, columns),
    )
    os.close(slave)
    try:
        output = _read_all(master)
        status = process.wait(timeout=120)
    finally:
        os.close(master)
    return status, ANSI.sub("", output.decode("utf-8", "replace")).replace("\r\n", "\n")


def run_piped(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    return run(args, home, COLUMNS="80")


def assert_plain(text: str) -> None:
    assert not BOX.search(text), text
    assert "\x1b[" not in text, text
    assert "…" not in text, text


def assert_shown(screen: str, expected: list[str]) -> None:
    missing = [value for value in expected if value not in screen]
    assert not missing, f"{missing} not on screen:\n{screen}"


@pytest.fixture(scope="module")
def traded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, Any]]]:
    """A home with one simulated trading run, and that run's --json."""
    home = tmp_path_factory.mktemp("output") / "home"
    result = run(["trade", "--json"], home)
    assert result.returncode == 0, result.stderr
    yield home, json.loads(result.stdout)


def _status_numbers(home: Path) -> list[str]:
    info = json.loads(run(["status", "--json"], home).stdout)
    assert all(isinstance(info["account"][k], float | int) for k in ("equity", "cash"))
    assert info["account"]["trading_blocked"] is False  # a boolean, not the text "False"
    numbers = [money(info["account"]["equity"]), money(info["account"]["cash"])]
    for p in info["positions"]:
        numbers += [qty(p["qty"]), price(p["current_price"]), money(p["market_value"]), pct(p["weight"])]
    return numbers


def _plan_numbers(home: Path) -> list[str]:
    data = json.loads(run(["plan", "--json"], home).stdout)
    numbers = [money(data["plan"]["equity"])]
    for item in data["plan"]["items"]:
        assert isinstance(item["target_value"], float | int) and isinstance(item["current_qty"], float | int)
        numbers += [money(item["current_value"]), money(item["target_value"]), pct(item["target_weight"])]
    return numbers


def _ledger_numbers(home: Path, run_id: str) -> list[str]:
    shown = json.loads(run(["ledger", "show", run_id, "--json"], home).stdout)
    numbers = [money(shown["after"]["account"]["equity"]), money(shown["before"]["account"]["cash"])]
    for order in shown["orders"]:
        numbers += [qty(order["filled_qty"]), price(order["filled_avg_price"])]
    for p in shown["after"]["positions"]:
        numbers += [qty(p["qty"]), money(p["market_value"])]
    return numbers


def _trace_tokens(home: Path) -> list[str]:
    data = json.loads(run(["signal", "--json"], home).stdout)
    texts = [step["text"] for s in data["strategies"] for step in s["trace"]]
    return [token for text in texts for token in text.split() if re.search(r"\d", token)]


@pytest.fixture(scope="module")
def expected(traded: tuple[Path, dict[str, Any]]) -> dict[tuple[str, ...], list[str]]:
    """Per command, the numbers (and tokens) its screen must show whole, from the `--json` outputs."""
    home, result = traded
    run_id = str(result["run_id"])
    return {
        ("status",): _status_numbers(home),
        ("plan",): _plan_numbers(home),
        ("ledger", "show", run_id): _ledger_numbers(home, run_id),
        ("signal",): _trace_tokens(home),
        ("ledger", "runs"): [run_id],
        ("report",): [run_id, *(pct(w) for w in result["weights_after"].values())],
    }


@pytest.mark.parametrize("mode", ["tty", "piped"])
def test_status_plan_ledger_and_signal_never_cut_a_number(
    mode: str, traded: tuple[Path, dict[str, Any]], expected: dict[tuple[str, ...], list[str]]
) -> None:
    home, _ = traded

    def screen_of(args: tuple[str, ...]) -> tuple[int, str]:
        if mode == "tty":
            return run_tty(list(args), home)
        piped = run_piped(list(args), home)
        assert_plain(piped.stdout + piped.stderr)
        return piped.returncode, piped.stdout

    with ThreadPoolExecutor(max_workers=3) as pool:  # independent read-only commands: run side by side
        screens = dict(zip(expected, pool.map(screen_of, expected), strict=True))
    for args, numbers in expected.items():
        status, screen = screens[args]
        assert "…" not in screen, screen
        assert status == 0, screen
        assert "Traceback" not in screen
        assert_shown(screen, numbers)


def test_ledger_show_prints_sections_not_python_dicts(traded: tuple[Path, dict[str, Any]]) -> None:
    home, result = traded
    screen = run_piped(["ledger", "show", str(result["run_id"])], home).stdout
    assert "{'" not in screen and "Decimal(" not in screen
    for section in ("Signals", "Plan", "Orders", "Fills", "Account before", "Account after"):
        assert section in screen


@pytest.mark.parametrize("mode", ["tty", "piped"])
def test_a_trade_shows_its_orders_and_equity_in_full(mode: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    if mode == "tty":
        status, screen = run_tty(["trade"], home)
    else:
        piped = run_piped(["trade"], home)
        status, screen = piped.returncode, piped.stdout
        assert_plain(screen + piped.stderr)
    assert status == 0, screen
    assert "…" not in screen
    shown = json.loads(
        run(
            ["ledger", "show", json.loads(run(["ledger", "runs", "--json"], home).stdout)[0]["run_id"], "--json"], home
        ).stdout
    )
    expected = [money(shown["after"]["account"]["equity"])]
    expected += [qty(o["filled_qty"]) for o in shown["orders"]] + [
        price(o["filled_avg_price"]) for o in shown["orders"]
    ]
    assert_shown(screen, expected)


BACKTEST = ["backtest", "-s", "tecl", "-s", "klm", "--start", "2023-01-01", "--end", "2024-06-30"]


@pytest.fixture(scope="module")
def backtest_json(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    home = tmp_path_factory.mktemp("backtest") / "home"
    data: dict[str, Any] = json.loads(run([*BACKTEST, "--json"], home).stdout)
    return data


@pytest.mark.parametrize("mode", ["tty", "piped"])
def test_backtest_table_is_whole(mode: str, tmp_path: Path, backtest_json: dict[str, Any]) -> None:
    home = tmp_path / "home"
    if mode == "tty":
        status, screen = run_tty(BACKTEST, home)
    else:
        piped = run_piped(BACKTEST, home)
        status, screen = piped.returncode, piped.stdout
        assert_plain(screen + piped.stderr)
    assert status == 0, screen
    assert "…" not in screen
    metrics = backtest_json["metrics"]
    assert_shown(
        screen, [pct(metrics["total_return"]), pct(metrics["max_drawdown"]), money(backtest_json["final_equity"])]
    )


def _sandbox_banner(master: int, deadline_bytes: int = 1 << 16) -> str:
    """Everything the sandbox prints up to and including its `export` line."""
    out = b""
    while b"ALPACA_DATA_URL" not in out or not out.rstrip(b" ").endswith(b"\n"):
        ready, _, _ = select.select([master], [], [], 60)
        assert ready, f"no banner: {out!r}"
        out += os.read(master, 4096)
        assert len(out) < deadline_bytes
    return ANSI.sub("", out.decode()).replace("\r\n", "\n")


@pytest.mark.parametrize("mode", ["tty", "piped"])
def test_the_sandbox_export_line_stays_on_one_line(mode: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    master, slave = _terminal(80) if mode == "tty" else os.pipe()
    process = subprocess.Popen(
        [sys.executable, "-m", "alchemiser.cli", "sandbox", "serve", "--port", "0"],
        stdout=slave,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        env=_env(home),
    )
    os.close(slave)
    try:
        banner = _sandbox_banner(master)
    finally:
        process.terminate()
        process.wait(timeout=30)
        os.close(master)
    export = [line for line in banner.splitlines() if "export" in line]
    assert len(export) == 1 and re.search(r"export ALPACA_BASE_URL=\S+ ALPACA_DATA_URL=\S+$", export[0]), banner
    if mode == "piped":
        assert_plain(banner)
